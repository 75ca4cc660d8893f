//! Connector plugins on disk: manifests, allow-lists, the installed-plugin
//! registry, the compiled-artifact cache and the install flow.

pub mod address_policy;
pub mod allowed_hosts;
pub mod artifacts;
pub mod bundled;
pub mod cargo_project;
pub mod contract_version;
pub mod files;
pub mod install;
pub mod manifest;
pub mod registry;
pub mod replace;
pub mod settings;

use std::path::PathBuf;

pub use install::InstallError;
pub use registry::{InstalledPlugin, PluginRegistry};
pub use replace::InstallOptions;

/// Why an installed plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("plugin `{0}` is not installed (see `atsbridge plugin list`)")]
    NotInstalled(String),
    #[error("plugin `{id}` is damaged on disk ({reason}); reinstall it")]
    Damaged { id: String, reason: String },
    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot compile plugin `{id}`: {message}")]
    Compile { id: String, message: String },
}
