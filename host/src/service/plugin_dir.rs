//! Installing a plugin from the operator's plugin directory (`plugin-dir`
//! in the configuration) by the name of its subdirectory.
//!
//! A request names an entry, never a path: the name must have a plugin
//! id's shape (so no `/`, `..` or leading `.`), it is resolved inside the
//! configured directory only, and the manifest and component are read
//! through the plugin files' confinement (symlinks that lead out are
//! refused, sizes bounded before reading, regular files only). Messages
//! name the entry, never the file system, and never quote a file: a
//! manifest that does not parse is reported as such, its parser's
//! detail (which quotes the offending line) goes to the host's log only.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dto::PluginDto;
use super::plugins::plugin_dto;
use super::{Caller, Service, ServiceError, valid_plugin_id};
use crate::plugin::files::{self, FileError};
use crate::plugin::manifest::{MANIFEST_FILE, Manifest};
use crate::plugin::{InstallError, InstallOptions};

/// `POST /api/v1/plugins/from-directory`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallFromDirectoryRequest {
    /// A subdirectory of the configured plugin directory holding
    /// `atsbridge-plugin.toml` and its component (the manifest's
    /// `plugin.component`, else `<name>.wasm`). Shaped like a plugin id.
    pub name: String,
    /// Accept new allowed hosts and secret bindings over the installed
    /// version.
    #[serde(default)]
    pub approve: bool,
    /// Accept a downgrade, or other bytes under the installed version.
    #[serde(default)]
    pub force: bool,
}

/// A failure to read an entry, as the caller sees it: the entry's name and
/// what is wrong, not where on disk or what the file says.
fn file_error(name: &str, what: &str, e: FileError) -> ServiceError {
    tracing::warn!(entry = %name.escape_debug(), file = what, error = %e, "plugin directory entry refused");
    let reason = match e {
        FileError::Escapes { .. } => "it leads outside the plugin directory (a symlink or a path out)",
        FileError::NotRegular { .. } => "it is not a regular file",
        FileError::TooLarge { .. } => "it is larger than the limit",
        FileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => "it does not exist",
        FileError::Io { .. } => "it cannot be read",
    };
    ServiceError::Install(format!("plugin directory entry `{name}`: {what}: {reason}"))
}

impl Service {
    /// Installs the plugin in the configured directory's entry `name`.
    pub async fn install_plugin_from_directory(
        &self,
        caller: &Caller,
        req: InstallFromDirectoryRequest,
    ) -> Result<PluginDto, ServiceError> {
        caller.require_operator()?;
        let name = req.name.as_str();
        if !valid_plugin_id(name) {
            return Err(ServiceError::Invalid(
                "`name` must be a subdirectory of the plugin directory, shaped like a plugin id \
                 (lowercase letters, digits and `-`); paths are not accepted"
                    .to_string(),
            ));
        }
        let Some(root) = self.app.plugin_dir.clone() else {
            return Err(ServiceError::Conflict(
                "no plugin directory is configured (`plugin-dir` in the configuration file, or ATSBRIDGE_PLUGIN_DIR)"
                    .to_string(),
            ));
        };
        let name = name.to_string();
        // Reading and resolving are blocking file system work.
        let (manifest, wasm) =
            tokio::task::spawn_blocking(move || read_entry(&root, &name)).await.map_err(ServiceError::internal)??;
        let options = InstallOptions { approve: req.approve, force: req.force };
        let origin = PathBuf::from(format!("plugin directory entry `{}`", req.name));
        let installed = crate::plugin::install::install_with(&self.app.runtime, manifest, wasm, &origin, &options)
            .await
            .map_err(|e| match e {
                // Paths in these name the entry (`origin`), not the disk.
                e @ (InstallError::Replace(_) | InstallError::Load(_)) => ServiceError::from(e),
                other => ServiceError::Install(other.to_string()),
            })?;
        Ok(plugin_dto(&installed))
    }
}

/// The manifest and component bytes of entry `name` of `root`.
pub fn read_entry(root: &Path, name: &str) -> Result<(Manifest, Vec<u8>), ServiceError> {
    let dir = files::confined(root, Path::new(name)).map_err(|e| file_error(name, "the entry", e))?;
    if !dir.is_dir() {
        return Err(ServiceError::Install(format!("plugin directory entry `{name}` is not a directory")));
    }
    let manifest_path =
        files::confined(&dir, Path::new(MANIFEST_FILE)).map_err(|e| file_error(name, MANIFEST_FILE, e))?;
    let text = files::read_text_bounded(&manifest_path, files::MAX_MANIFEST_BYTES)
        .map_err(|e| file_error(name, MANIFEST_FILE, e))?;
    let mut manifest = Manifest::parse(&text).map_err(|e| {
        tracing::warn!(entry = %name, error = %e, "plugin directory entry has a bad manifest");
        ServiceError::Install(format!(
            "plugin directory entry `{name}`: {MANIFEST_FILE} is not a valid manifest (details in the host's log)"
        ))
    })?;
    let component = manifest.component.take().unwrap_or_else(|| PathBuf::from(format!("{name}.wasm")));
    let component_path = files::confined(&dir, &component).map_err(|e| file_error(name, "the component", e))?;
    let wasm = files::read_bounded(&component_path, files::MAX_COMPONENT_BYTES)
        .map_err(|e| file_error(name, "the component", e))?;
    Ok((manifest, wasm))
}
