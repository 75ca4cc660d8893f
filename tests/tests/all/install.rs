//! Install refuses anything that is not a connector for a supported
//! contract, with a message naming the problem.

use atsbridge::plugin::InstallError;
use atsbridge::plugin::install::{PluginSource, install_from};
use atsbridge_tests::guests;

use crate::support;

async fn try_install(wasm: &str, manifest_extra: &str, version: &str) -> Result<(), InstallError> {
    let (dir, rt) = support::runtime();
    let src = support::plugin_dir(dir.path(), "candidate", version, wasm, manifest_extra);
    install_from(&rt, PluginSource::locate(&src, None)?).await.map(drop)
}

#[tokio::test(flavor = "multi_thread")]
async fn another_contract_version_is_refused() {
    let err = try_install(guests::WRONG_VERSION, "", "0.1.0").await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, InstallError::Contract { .. }), "{msg}");
    assert!(msg.contains("atsbridge:connector@0.9.0") && msg.contains("0.1.x"), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn another_world_is_refused() {
    let err = try_install(guests::WRONG_WORLD, "", "0.1.0").await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("does not export `atsbridge:connector/plugin@<version>`"), "{msg}");
    assert!(msg.contains("hello"), "the message should list what it does export: {msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn not_a_component_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    // The smallest valid core module: magic and version 1.
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let err = try_install(core.to_str().unwrap(), "", "0.1.0").await.unwrap_err();
    assert!(matches!(err, InstallError::CoreModule { .. }), "{err}");
    assert!(err.to_string().contains("not a component"), "{err}");

    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"#!/bin/sh\necho hi\n").unwrap();
    let err = try_install(junk.to_str().unwrap(), "", "0.1.0").await.unwrap_err();
    assert!(matches!(err, InstallError::NotWasm { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manifest_that_disagrees_or_is_malformed_is_refused() {
    // info() says 1.2.3; the manifest says 2.0.0.
    let err = try_install(guests::WELL_BEHAVED, "", "2.0.0").await.unwrap_err();
    assert!(matches!(err, InstallError::VersionMismatch { .. }), "{err}");
    assert!(err.to_string().contains("1.2.3") && err.to_string().contains("2.0.0"), "{err}");

    let err = try_install(guests::WELL_BEHAVED, "[network]\nallowed-hosts = [\"harvest.greenhouse.io\"]\n", "1.2.3")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("allowed-hosts"), "{err}");

    let err = try_install(guests::WELL_BEHAVED, "[limits]\ncpu = 3\n", "1.2.3").await.unwrap_err();
    assert!(err.to_string().contains("cpu"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn compiled_artifacts_are_cached_by_content_hash() {
    let (dir, rt) = support::runtime();
    let installed = support::install(&rt, dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "").await;
    assert!(rt.artifacts().contains(&installed.record.sha256));
    let artifact = std::fs::read_dir(dir.path().join("artifacts")).unwrap().next().unwrap().unwrap().path();
    let written = std::fs::metadata(&artifact).unwrap().modified().unwrap();
    // A second runtime over the same data dir loads the artifact rather
    // than compiling again (which would rewrite it).
    drop(rt);
    let rt2 = atsbridge::runtime::Runtime::open(dir.path(), Default::default()).unwrap();
    let plugin = rt2.plugin("well-behaved").await.unwrap();
    assert_eq!(plugin.info().await.unwrap().version, "1.2.3");
    assert_eq!(std::fs::metadata(&artifact).unwrap().modified().unwrap(), written);
}
