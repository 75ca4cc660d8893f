//! `atsbridge plugin new <name>`: scaffolds a connector crate that builds
//! with one command and installs with `atsbridge plugin install`.
//!
//! The project must build on a machine that has only this binary and a Rust
//! toolchain, so the binary carries the SDK's source ([`SDK_FILES`]) and
//! writes it into the project as `vendor/atsbridge-sdk`. The dependency
//! names both a version and that path: once `atsbridge-sdk` is on crates.io,
//! deleting the `path` (and the vendor directory) switches to it.
//!
//! Nothing is written outside the new project (no data directory either:
//! the CLI dispatches this command before opening one).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

const LIB: &str = include_str!("plugin_template/lib.rs.tmpl");
const CARGO: &str = include_str!("plugin_template/Cargo.toml.tmpl");
const MANIFEST: &str = include_str!("plugin_template/atsbridge-plugin.toml.tmpl");
const TOOLCHAIN: &str = include_str!("plugin_template/rust-toolchain.toml.tmpl");
const README: &str = include_str!("plugin_template/README.md.tmpl");

/// Where the SDK's source goes inside a new project.
const VENDOR_DIR: &str = "vendor/atsbridge-sdk";

/// The files of the `atsbridge-sdk` crate as `cargo package` packs them
/// (its `include` list), relative to `sdk/`. A test compares this list with
/// `cargo package --list` and the written files with `sdk/`, byte for byte.
const SDK_FILES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../../sdk/Cargo.toml")),
    ("README.md", include_str!("../../../sdk/README.md")),
    ("src/config.rs", include_str!("../../../sdk/src/config.rs")),
    ("src/connector.rs", include_str!("../../../sdk/src/connector.rs")),
    ("src/heap_growth.rs", include_str!("../../../sdk/src/heap_growth.rs")),
    ("src/http.rs", include_str!("../../../sdk/src/http.rs")),
    ("src/lib.rs", include_str!("../../../sdk/src/lib.rs")),
    ("src/log.rs", include_str!("../../../sdk/src/log.rs")),
    ("src/multipart.rs", include_str!("../../../sdk/src/multipart.rs")),
    ("src/one_call_alloc.rs", include_str!("../../../sdk/src/one_call_alloc.rs")),
    ("src/paging.rs", include_str!("../../../sdk/src/paging.rs")),
    ("src/time.rs", include_str!("../../../sdk/src/time.rs")),
    ("src/types.rs", include_str!("../../../sdk/src/types.rs")),
    ("wit/v0.2.0/http.wit", include_str!("../../../sdk/wit/v0.2.0/http.wit")),
    ("wit/v0.2.0/log.wit", include_str!("../../../sdk/wit/v0.2.0/log.wit")),
    ("wit/v0.2.0/types.wit", include_str!("../../../sdk/wit/v0.2.0/types.wit")),
    ("wit/v0.2.0/world.wit", include_str!("../../../sdk/wit/v0.2.0/world.wit")),
];

/// Longest plugin id accepted (the manifest's limit).
pub const MAX_NAME_LEN: usize = 64;

/// `plugin new`: scaffolds and tells the user what to run next.
pub fn run(name: &str, dir: &Path, sdk: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let root = scaffold(name, dir, sdk)?;
    if json {
        return super::print_json(&serde_json::json!({ "created": root }));
    }
    println!("created {}", root.display());
    println!("  build:   (cd {} && cargo build --target wasm32-wasip2 --profile wasm)", root.display());
    println!("  install: atsbridge plugin install {}", root.display());
    Ok(())
}

/// The version of the SDK this binary carries, from its `Cargo.toml`.
pub fn sdk_version() -> anyhow::Result<String> {
    let (_, cargo_toml) = SDK_FILES.iter().find(|(path, _)| *path == "Cargo.toml").context("no SDK Cargo.toml")?;
    let parsed: toml::Table = toml::from_str(cargo_toml).context("the SDK's Cargo.toml does not parse")?;
    parsed
        .get("package")
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .context("the SDK's Cargo.toml has no package.version")
}

/// The dependency line: the vendored copy, or an explicit SDK checkout.
pub fn sdk_dependency(explicit: Option<&Path>) -> anyhow::Result<String> {
    let version = sdk_version()?;
    let path = match explicit {
        Some(path) => {
            let path = path.canonicalize().with_context(|| format!("no SDK at {}", path.display()))?;
            if !path.join("Cargo.toml").is_file() {
                bail!("{} has no Cargo.toml; --sdk takes the path of an atsbridge-sdk checkout", path.display());
            }
            path.display().to_string()
        }
        None => VENDOR_DIR.to_string(),
    };
    // `{:?}` quotes and escapes the path as a TOML basic string needs.
    Ok(format!("atsbridge-sdk = {{ version = \"{version}\", path = {path:?} }}"))
}

/// Writes the crate into `dir/<name>`; returns its path.
pub fn scaffold(name: &str, dir: &Path, sdk: Option<&Path>) -> anyhow::Result<PathBuf> {
    let valid = name.len() <= MAX_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!("`{name}` is not a valid plugin id: use a-z, 0-9 and '-', starting with a letter");
    }
    let root = dir.join(name);
    if root.exists() {
        bail!("{} already exists", root.display());
    }
    let title: String = name
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ");
    let dependency = sdk_dependency(sdk)?;
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate_file}}", &name.replace('-', "_"))
            .replace("{{Type}}", &title.replace(' ', ""))
            .replace("{{Title}}", &title)
            .replace("{{sdk_dependency}}", &dependency)
    };
    let mut files: Vec<(PathBuf, String)> = [
        ("src/lib.rs", LIB),
        ("Cargo.toml", CARGO),
        ("atsbridge-plugin.toml", MANIFEST),
        ("rust-toolchain.toml", TOOLCHAIN),
        ("README.md", README),
        (".gitignore", "/target\n"),
    ]
    .into_iter()
    .map(|(file, template)| (PathBuf::from(file), fill(template)))
    .collect();
    if sdk.is_none() {
        let vendor = Path::new(VENDOR_DIR);
        files.extend(SDK_FILES.iter().map(|(file, text)| (vendor.join(file), (*text).to_string())));
    }
    for (file, text) in files {
        let path = root.join(file);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(root)
}
