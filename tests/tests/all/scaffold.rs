//! `atsbridge plugin new` scaffolds a crate that builds with one command
//! and installs.

use std::process::Command;

use crate::support;

#[tokio::test(flavor = "multi_thread")]
async fn a_scaffolded_connector_builds_and_installs() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(support::atsbridge_bin())
        .args(["plugin", "new", "acme-ats", "--dir", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let root = dir.path().join("acme-ats");
    for file in ["Cargo.toml", "src/lib.rs", "atsbridge-plugin.toml", "rust-toolchain.toml", "README.md"] {
        assert!(root.join(file).is_file(), "{file} missing");
    }

    // The documented build command, with a target directory shared across
    // test runs so only the first run compiles the SDK's dependencies.
    let target = support::atsbridge_bin().parent().unwrap().parent().unwrap().join("scaffold");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let build = Command::new(cargo)
        .args(["build", "--target", "wasm32-wasip2", "--profile", "wasm"])
        .current_dir(&root)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .unwrap();
    assert!(build.status.success(), "{}", String::from_utf8_lossy(&build.stderr));

    let (data, rt) = support::runtime();
    let wasm = target.join("wasm32-wasip2/wasm/acme_ats.wasm");
    let source = atsbridge::plugin::install::PluginSource::locate(&root, Some(&wasm)).unwrap();
    let installed = atsbridge::plugin::install::install_from(&rt, source).await.unwrap();
    assert_eq!((installed.id(), installed.record.info.name.as_str()), ("acme-ats", "Acme Ats"));
    let plugin = rt.plugin("acme-ats").await.unwrap();
    assert!(plugin.info().await.unwrap().config_schema.iter().any(|s| s.key == "api-key"));
    drop(data);
}
