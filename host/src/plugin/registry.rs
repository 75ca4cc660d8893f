//! Installed plugins on disk.
//!
//! ```text
//! <root>/<id>/current                      "<version>-<sha12>": the active install
//! <root>/<id>/<version>-<sha12>/plugin.wasm
//! <root>/<id>/<version>-<sha12>/atsbridge-plugin.toml
//! <root>/<id>/<version>-<sha12>/install.json   hash, contract, info() snapshot
//! ```
//!
//! An install is written to a staging directory, renamed into place, and
//! made active by atomically replacing `current`. A running host reads
//! `current` when it resolves a plugin, so an install made by another
//! process (the CLI) is picked up without a restart, and a crash mid-install
//! leaves the previous version active.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use semver::Version;
use serde::{Deserialize, Serialize};

use super::LoadError;
use super::manifest::{MANIFEST_FILE, Manifest};
use crate::contract::ConnectorInfo;

const CURRENT: &str = "current";
const COMPONENT_FILE: &str = "plugin.wasm";
const RECORD_FILE: &str = "install.json";
/// Largest install record read: `info()` is size-capped at install, so a
/// real record is a few KiB; a bigger one is not ours.
const MAX_RECORD_BYTES: u64 = 1 << 20;

/// What install recorded about a plugin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstallRecord {
    pub sha256: String,
    pub contract: Version,
    pub installed_at_unix: u64,
    pub info: ConnectorInfo,
}

/// One installed plugin.
#[derive(Debug, Clone)]
pub struct InstalledPlugin {
    pub manifest: Manifest,
    pub record: InstallRecord,
    /// The install's directory.
    pub dir: PathBuf,
}

impl InstalledPlugin {
    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    pub fn component_path(&self) -> PathBuf {
        self.dir.join(COMPONENT_FILE)
    }

    /// The JSON view used by the API and the CLI's `--json`.
    pub fn to_json(&self) -> serde_json::Value {
        let p = self;
        let info = &p.record.info;
        serde_json::json!({
            "id": p.id(),
            "version": p.manifest.version.to_string(),
            "name": info.name,
            "vendor": info.vendor,
            "world": format!("atsbridge:connector/connector@{}", p.record.contract),
            "contract": p.record.contract.to_string(),
            "capabilities": info.capabilities.iter().map(|c| c.wit_name()).collect::<Vec<_>>(),
            "config_schema": info.config_schema.iter().map(|s| serde_json::json!({
                "key": s.key, "label": s.label, "kind": s.kind.wit_name(), "required": s.required,
                "help": s.help, "choices": s.choices, "default": s.default_value,
            })).collect::<Vec<_>>(),
            "allowed_hosts": p.manifest.allowed_host_patterns,
            "secret_bindings": p.manifest.secret_hosts,
            "requested_limits": { "memory_mib": p.manifest.limits.memory_mib, "timeout_secs": p.manifest.limits.timeout_secs },
            "stages_per_job": p.manifest.stages.per_job,
            "sha256": p.record.sha256,
            "installed_at_unix": p.record.installed_at_unix,
        })
    }
}

/// The directory of installed plugins.
#[derive(Debug, Clone)]
pub struct PluginRegistry {
    root: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LoadError + '_ {
    move |source| LoadError::Io { path: path.to_path_buf(), source }
}

impl PluginRegistry {
    /// Opens (creating) the registry at `root`.
    pub fn open(root: &Path) -> Result<Self, LoadError> {
        std::fs::create_dir_all(root).map_err(io(root))?;
        Ok(PluginRegistry { root: root.to_path_buf() })
    }

    /// The active install of `id`.
    pub fn current(&self, id: &str) -> Result<InstalledPlugin, LoadError> {
        let pointer = self.root.join(id).join(CURRENT);
        let name = match std::fs::read_to_string(&pointer) {
            Ok(name) => name,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(LoadError::NotInstalled(id.to_string())),
            Err(e) => return Err(io(&pointer)(e)),
        };
        self.read_install(id, &self.root.join(id).join(name.trim()))
    }

    /// The name of the active install of `id` (cheap; used to notice
    /// changes made by another process).
    pub fn current_name(&self, id: &str) -> Option<String> {
        std::fs::read_to_string(self.root.join(id).join(CURRENT)).ok().map(|s| s.trim().to_string())
    }

    fn read_install(&self, id: &str, dir: &Path) -> Result<InstalledPlugin, LoadError> {
        let damaged = |reason: String| LoadError::Damaged { id: id.to_string(), reason };
        let manifest = Manifest::load(&dir.join(MANIFEST_FILE)).map_err(|e| damaged(e.to_string()))?;
        let record_path = dir.join(RECORD_FILE);
        let text =
            super::files::read_text_bounded(&record_path, MAX_RECORD_BYTES).map_err(|e| damaged(e.to_string()))?;
        let record: InstallRecord = serde_json::from_str(&text).map_err(|e| damaged(format!("{RECORD_FILE}: {e}")))?;
        Ok(InstalledPlugin { manifest, record, dir: dir.to_path_buf() })
    }

    /// Every installed plugin, by id. A damaged one is reported, not skipped.
    pub fn list(&self) -> Result<Vec<Result<InstalledPlugin, LoadError>>, LoadError> {
        Ok(self.ids()?.iter().map(|id| self.current(id)).collect())
    }

    /// The ids of installed plugins, sorted, without loading any (for
    /// listing them a page at a time).
    pub fn ids(&self) -> Result<Vec<String>, LoadError> {
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&self.root).map_err(io(&self.root))? {
            let entry = entry.map_err(io(&self.root))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with('.') && entry.path().join(CURRENT).is_file() {
                ids.push(name);
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Writes a validated plugin and makes it the active install of its id.
    pub fn commit(
        &self,
        manifest: &Manifest,
        wasm: &[u8],
        record: InstallRecord,
    ) -> Result<InstalledPlugin, LoadError> {
        let id = &manifest.id;
        let plugin_dir = self.root.join(id);
        std::fs::create_dir_all(&plugin_dir).map_err(io(&plugin_dir))?;
        let name = format!("{}-{}", manifest.version, &record.sha256[..12]);
        let final_dir = plugin_dir.join(&name);
        if !final_dir.join(RECORD_FILE).is_file() {
            let staging = plugin_dir.join(format!(".staging-{}-{}", std::process::id(), unique_suffix()));
            std::fs::create_dir_all(&staging).map_err(io(&staging))?;
            let mut stored = manifest.clone();
            stored.component = Some(PathBuf::from(COMPONENT_FILE));
            write(&staging.join(COMPONENT_FILE), wasm)?;
            write(&staging.join(MANIFEST_FILE), stored.to_toml().as_bytes())?;
            let json = serde_json::to_vec_pretty(&record)
                .map_err(|e| LoadError::Damaged { id: id.clone(), reason: e.to_string() })?;
            write(&staging.join(RECORD_FILE), &json)?;
            if final_dir.exists() {
                // A half-written install left by a crash: replace it.
                std::fs::remove_dir_all(&final_dir).map_err(io(&final_dir))?;
            }
            std::fs::rename(&staging, &final_dir).map_err(io(&final_dir))?;
        }
        let pointer_tmp = plugin_dir.join(format!(".{CURRENT}-{}", unique_suffix()));
        write(&pointer_tmp, name.as_bytes())?;
        std::fs::rename(&pointer_tmp, plugin_dir.join(CURRENT)).map_err(io(&plugin_dir))?;
        self.remove_inactive(id, &name);
        self.read_install(id, &final_dir)
    }

    /// Old installs are deleted once no longer active. A host that still
    /// runs the old version keeps working: its compiled artifact is
    /// memory-mapped from the artifact cache, not from here.
    fn remove_inactive(&self, id: &str, active: &str) {
        let plugin_dir = self.root.join(id);
        let Ok(entries) = std::fs::read_dir(&plugin_dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let inactive = name != active && name != CURRENT && !name.starts_with('.') && entry.path().is_dir();
            if inactive && let Err(e) = std::fs::remove_dir_all(entry.path()) {
                tracing::warn!(plugin = id, dir = %entry.path().display(), error = %e, "could not remove an old install");
            }
        }
    }

    /// Removes every install of `id`.
    pub fn remove(&self, id: &str) -> Result<(), LoadError> {
        let plugin_dir = self.root.join(id);
        if !plugin_dir.join(CURRENT).is_file() {
            return Err(LoadError::NotInstalled(id.to_string()));
        }
        // Rename first so a concurrent reader sees the plugin either fully
        // present or gone, never half-deleted.
        let trash = self.root.join(format!(".trash-{id}-{}", unique_suffix()));
        std::fs::rename(&plugin_dir, &trash).map_err(io(&plugin_dir))?;
        std::fs::remove_dir_all(&trash).map_err(io(&trash))
    }
}

fn write(path: &Path, data: &[u8]) -> Result<(), LoadError> {
    std::fs::write(path, data).map_err(io(path))
}

fn unique_suffix() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{nanos:x}")
}

/// Seconds since the Unix epoch, for install records.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
