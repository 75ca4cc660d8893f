//! The host's layers, lowest first, and the test that keeps them: a module
//! names (`crate::<module>`, in code or in a doc link) only modules of its
//! own layer or a lower one.
//!
//! The lowest layer (the engine: contract, plugins, runtime, store, sync,
//! outbox, publishing) knows nothing of how it is wired, served or driven;
//! above it the wiring (`app`, `config`) and the conformance kit; then the
//! one service layer; the HTTP API over it; the CLI on top. Kept this way,
//! the engine could become a crate of its own without a change.

/// Module names by layer, lowest first.
const LAYERS: &[&[&str]] = &[
    &[
        "contract",
        "display",
        "events",
        "metrics",
        "outbox",
        "plugin",
        "publish",
        "recording",
        "runtime",
        "scheduler",
        "store",
        "sync",
    ],
    &["app", "config", "conformance"],
    &["service"],
    &["api"],
    &["cli"],
];

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::LAYERS;

    /// Every `.rs` file of module `name`: `src/<name>.rs` or `src/<name>/**`.
    fn files_of(src: &Path, name: &str) -> Vec<PathBuf> {
        let single = src.join(format!("{name}.rs"));
        if single.is_file() {
            return vec![single];
        }
        let mut files = Vec::new();
        let mut dirs = vec![src.join(name)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
                let path = entry.expect("directory entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    files.push(path);
                }
            }
        }
        files
    }

    /// The modules `text` names as `crate::<module>`.
    fn named_modules(text: &str) -> impl Iterator<Item = &str> {
        text.match_indices("crate::").map(move |(at, found)| {
            let rest = &text[at + found.len()..];
            let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
            &rest[..end]
        })
    }

    #[test]
    fn every_module_is_in_a_layer() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
        let declared: Vec<&str> = lib.lines().filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';')).collect();
        assert!(declared.len() >= 15, "lib.rs declares its modules as `pub mod <name>;`: {declared:?}");
        for module in declared {
            assert!(LAYERS.iter().any(|layer| layer.contains(&module)), "`{module}` is in no layer of layers.rs");
        }
    }

    #[test]
    fn no_module_names_a_higher_layer() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut wrong = Vec::new();
        for (level, layer) in LAYERS.iter().enumerate() {
            let higher: Vec<&str> = LAYERS[level + 1..].iter().flat_map(|l| l.iter().copied()).collect();
            for module in *layer {
                for file in files_of(&src, module) {
                    let text = std::fs::read_to_string(&file).expect("readable source");
                    for named in named_modules(&text).filter(|named| higher.contains(named)) {
                        wrong.push(format!("{} names crate::{named}", file.display()));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "a lower layer names a higher one:\n{}", wrong.join("\n"));
    }

    #[test]
    fn the_check_sees_an_upward_name() {
        let names: Vec<&str> = named_modules("use crate::store::Store; x = crate::api::router();").collect();
        assert_eq!(names, ["store", "api"]);
    }
}
