//! `atsbridge plugin new <name>`: scaffolds a connector crate that builds
//! with one command and installs with `atsbridge plugin install`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

const LIB: &str = include_str!("plugin_template/lib.rs.tmpl");
const CARGO: &str = include_str!("plugin_template/Cargo.toml.tmpl");
const MANIFEST: &str = include_str!("plugin_template/atsbridge-plugin.toml.tmpl");
const TOOLCHAIN: &str = include_str!("plugin_template/rust-toolchain.toml.tmpl");
const README: &str = include_str!("plugin_template/README.md.tmpl");

/// The SDK of the source tree this binary was built from, when it still
/// exists (a developer checkout); otherwise the published crate.
fn sdk_dependency(explicit: Option<&Path>) -> String {
    let local = explicit.map(Path::to_path_buf).or_else(|| {
        let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk"));
        p.join("Cargo.toml").is_file().then_some(p)
    });
    match local.and_then(|p| p.canonicalize().ok()) {
        Some(path) => format!("atsbridge-sdk = {{ path = {:?} }}", path.display().to_string()),
        None => "atsbridge-sdk = \"0.1\"".to_string(),
    }
}

/// Writes the crate into `dir/<name>`; returns its path.
pub fn scaffold(name: &str, dir: &Path, sdk: Option<&Path>) -> anyhow::Result<PathBuf> {
    let valid = name.len() <= 64
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
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate_file}}", &name.replace('-', "_"))
            .replace("{{Type}}", &title.replace(' ', ""))
            .replace("{{Title}}", &title)
            .replace("{{sdk_dependency}}", &sdk_dependency(sdk))
    };
    std::fs::create_dir_all(root.join("src")).with_context(|| format!("cannot create {}", root.display()))?;
    for (file, template) in [
        ("src/lib.rs", LIB),
        ("Cargo.toml", CARGO),
        ("atsbridge-plugin.toml", MANIFEST),
        ("rust-toolchain.toml", TOOLCHAIN),
        ("README.md", README),
        (".gitignore", "/target\n"),
    ] {
        let path = root.join(file);
        std::fs::write(&path, fill(template)).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(root)
}
