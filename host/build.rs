//! Builds the shipped connectors (`plugins/*`) as WebAssembly components
//! and bundles them into the `atsbridge` binary, so an operator can install
//! them with `atsbridge plugin install --bundled <id>` and `atsbridge demo`
//! works from a fresh clone.

use std::fmt::Write as _;
use std::path::PathBuf;

/// The shipped connectors: plugin directory (= package name) under plugins/.
const CONNECTORS: &[&str] = &["greenhouse", "lever", "workable", "ashby", "smartrecruiters", "bamboohr"];

fn main() {
    let out = atsbridge_guest_build::build(CONNECTORS, &["plugins"], "the bundled connectors");
    let plugins = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("plugins");
    let mut code = String::from("/// Connectors built into this binary.\npub const BUNDLED: &[Bundled] = &[\n");
    for id in CONNECTORS {
        let manifest = plugins.join(id).join("atsbridge-plugin.toml");
        let wasm = atsbridge_guest_build::component_path(&out, id);
        writeln!(
            code,
            "    Bundled {{ id: {id:?}, manifest: include_str!({:?}), component: include_bytes!({:?}) }},",
            manifest.canonicalize().unwrap_or(manifest).display().to_string(),
            wasm.display().to_string()
        )
        .expect("writing to a String");
    }
    code.push_str("];\n");
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("bundled.rs");
    std::fs::write(&dest, code).unwrap_or_else(|e| panic!("cannot write {}: {e}", dest.display()));
}
