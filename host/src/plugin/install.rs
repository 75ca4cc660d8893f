//! `plugin install`: validate a component and its manifest, compile it into
//! the artifact cache, and make it the active install of its id.
//!
//! A plugin is refused, with a message naming the problem, when: the
//! manifest is bad; the file is not WebAssembly, or is a core module rather
//! than a component; it does not export the connector interface, or exports
//! a contract version this host does not support, or one other than its
//! manifest says; it imports something the host does not provide; its
//! `info()` fails or disagrees with the manifest; its config schema is not
//! usable.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::LoadError;
use super::cargo_project::{CargoError, CargoProject};
use super::contract_version::{ContractError, implemented_contract};
use super::manifest::{MANIFEST_FILE, Manifest, ManifestError};
use super::registry::{InstallRecord, InstalledPlugin, unix_now};
use crate::contract::{ConnectorInfo, SettingKind};
use crate::runtime::{CallError, Runtime};

/// Why a plugin was not installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("no component found for {manifest}: set plugin.component in the manifest or pass --component")]
    NoComponent { manifest: PathBuf },
    #[error(transparent)]
    Cargo(#[from] CargoError),
    #[error(
        "no built component for {manifest}: build it with `cargo build --target wasm32-wasip2 --profile wasm`, or pass --component (looked for {looked})"
    )]
    NotBuilt { manifest: PathBuf, looked: String },
    #[error(
        "the manifest says version {manifest} but Cargo.toml says {cargo}: drop `version` from the manifest (install reads Cargo.toml's) or make them equal"
    )]
    CargoVersionMismatch { manifest: String, cargo: semver::Version },
    #[error("{path} is not a WebAssembly file")]
    NotWasm { path: PathBuf },
    #[error(
        "{path} is a core WebAssembly module, not a component: build it with `cargo build --target wasm32-wasip2` (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule { path: PathBuf },
    #[error("{path} is not a valid component: {message}")]
    InvalidComponent { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Contract { path: PathBuf, source: ContractError },
    #[error("the manifest says contract {manifest} but the component implements {component}")]
    ContractMismatch { manifest: semver::Version, component: semver::Version },
    #[error("the component needs imports this host does not provide: {0}")]
    Imports(String),
    #[error("calling info() failed: {0}")]
    Info(CallError),
    #[error("info() reports version {info} but the manifest says {manifest}")]
    VersionMismatch { info: String, manifest: semver::Version },
    #[error("the config schema is unusable: {0}")]
    Schema(String),
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// Where a plugin's manifest and component are.
#[derive(Debug, Clone)]
pub struct PluginSource {
    pub manifest: Manifest,
    pub manifest_path: PathBuf,
    pub component_path: PathBuf,
}

impl PluginSource {
    /// Resolves `path` (a plugin directory, its manifest, or a `.wasm` with
    /// a manifest beside it) and an optional explicit component path.
    ///
    /// When a `Cargo.toml` sits beside the manifest, the plugin is a Rust
    /// crate: a manifest without `plugin.version` takes the crate's version
    /// (one with it must agree), and without `plugin.component` the
    /// component is the crate's library in cargo's target directory.
    pub fn locate(path: &Path, component: Option<&Path>) -> Result<Self, InstallError> {
        let manifest_path = if path.is_dir() {
            path.join(MANIFEST_FILE)
        } else if path.extension().is_some_and(|e| e == "wasm") {
            path.with_file_name(MANIFEST_FILE)
        } else {
            path.to_path_buf()
        };
        let base = manifest_path.parent().unwrap_or(Path::new("."));
        let base = if base.as_os_str().is_empty() { Path::new(".") } else { base };
        let crate_ = CargoProject::find(base)?;
        let manifest = match &crate_ {
            Some(crate_) => manifest_with_crate_version(&manifest_path, &crate_.version)?,
            None => Manifest::load(&manifest_path)?,
        };
        let component_path = match (component, &manifest.component, &crate_) {
            (Some(explicit), _, _) => explicit.to_path_buf(),
            (None, _, _) if path.extension().is_some_and(|e| e == "wasm") => path.to_path_buf(),
            (None, Some(relative), _) => base.join(relative),
            (None, None, Some(crate_)) => crate_.built_component().ok_or_else(|| InstallError::NotBuilt {
                manifest: manifest_path.clone(),
                looked: crate_
                    .component_candidates()
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?,
            (None, None, None) => return Err(InstallError::NoComponent { manifest: manifest_path }),
        };
        Ok(PluginSource { manifest, manifest_path, component_path })
    }
}

/// Loads a Rust crate's manifest: the version is the crate's when the
/// manifest leaves it out, and must equal it when it does not.
fn manifest_with_crate_version(path: &Path, version: &semver::Version) -> Result<Manifest, InstallError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ManifestError::Read { path: path.to_path_buf(), source })?;
    let syntax = |message: String| ManifestError::Syntax { path: path.to_path_buf(), message };
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| syntax(e.to_string()))?;
    let plugin = table
        .get_mut("plugin")
        .and_then(|p| p.as_table_mut())
        .ok_or_else(|| syntax("missing table [plugin]".into()))?;
    match plugin.get("version") {
        None => {
            plugin.insert("version".into(), toml::Value::String(version.to_string()));
        }
        Some(written) => {
            let written_text = written.as_str().map(str::to_string).unwrap_or_else(|| written.to_string());
            if semver::Version::parse(&written_text).ok().as_ref() != Some(version) {
                return Err(InstallError::CargoVersionMismatch { manifest: written_text, cargo: version.clone() });
            }
        }
    }
    let text = toml::to_string(&table).map_err(|e| syntax(e.to_string()))?;
    Manifest::parse(&text)
        .map_err(|e| match e {
            ManifestError::Syntax { message, .. } => ManifestError::Syntax { path: path.to_path_buf(), message },
            other => other,
        })
        .map_err(InstallError::from)
}

/// Validates and installs a plugin from disk.
pub async fn install_from(runtime: &Runtime, source: PluginSource) -> Result<InstalledPlugin, InstallError> {
    let wasm = std::fs::read(&source.component_path)
        .map_err(|e| InstallError::Read { path: source.component_path.clone(), source: e })?;
    install(runtime, source.manifest, wasm, &source.component_path).await
}

/// Validates and installs a plugin from bytes; `origin` names it in errors.
pub async fn install(
    runtime: &Runtime,
    manifest: Manifest,
    wasm: Vec<u8>,
    origin: &Path,
) -> Result<InstalledPlugin, InstallError> {
    check_is_component(&wasm, origin)?;
    let sha256 = hex::encode(Sha256::digest(&wasm));
    let component = {
        let (runtime, id, sha, bytes) = (runtime.clone(), manifest.id.clone(), sha256.clone(), wasm.clone());
        // Cranelift compilation is CPU-bound (seconds for Python/JS guests).
        tokio::task::spawn_blocking(move || {
            runtime.artifacts().load_or_compile(runtime.engine(), &id, &sha, || Ok(bytes))
        })
        .await
        .map_err(|e| InstallError::InvalidComponent { path: origin.to_path_buf(), message: e.to_string() })?
        .map_err(|e| match e {
            LoadError::Compile { message, .. } => {
                InstallError::InvalidComponent { path: origin.to_path_buf(), message }
            }
            other => InstallError::Load(other),
        })?
    };
    let contract = implemented_contract(runtime.engine(), &component)
        .map_err(|source| InstallError::Contract { path: origin.to_path_buf(), source })?;
    if (contract.major, contract.minor) != (manifest.contract.major, manifest.contract.minor) {
        return Err(InstallError::ContractMismatch { manifest: manifest.contract.clone(), component: contract });
    }
    let plugin = runtime
        .prepare(manifest.clone(), &component, &format!("{}-{}", manifest.version, &sha256[..12]))
        .map_err(InstallError::Imports)?;
    let info = plugin.info().await.map_err(InstallError::Info)?;
    check_info(&info, &manifest)?;
    let record = InstallRecord { sha256, contract, installed_at_unix: unix_now(), info };
    let installed = runtime.registry().commit(&manifest, &wasm, record)?;
    tracing::info!(plugin = %manifest.id, version = %manifest.version, "plugin installed");
    Ok(installed)
}

fn check_is_component(wasm: &[u8], origin: &Path) -> Result<(), InstallError> {
    if wasmparser::Parser::is_component(wasm) {
        Ok(())
    } else if wasmparser::Parser::is_core_wasm(wasm) {
        Err(InstallError::CoreModule { path: origin.to_path_buf() })
    } else {
        Err(InstallError::NotWasm { path: origin.to_path_buf() })
    }
}

/// `info()` must agree with the manifest and describe a usable schema.
pub fn check_info(info: &ConnectorInfo, manifest: &Manifest) -> Result<(), InstallError> {
    if semver::Version::parse(&info.version).ok().as_ref() != Some(&manifest.version) {
        return Err(InstallError::VersionMismatch { info: info.version.clone(), manifest: manifest.version.clone() });
    }
    if info.name.trim().is_empty() {
        return Err(InstallError::Schema("info().name is empty".into()));
    }
    let mut keys = HashSet::new();
    for spec in &info.config_schema {
        let valid_key =
            !spec.key.is_empty() && spec.key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_key {
            return Err(InstallError::Schema(format!("setting key `{}` must be kebab-case", spec.key)));
        }
        if !keys.insert(spec.key.as_str()) {
            return Err(InstallError::Schema(format!("setting `{}` is declared twice", spec.key)));
        }
        match spec.kind {
            SettingKind::Choice if spec.choices.is_empty() => {
                return Err(InstallError::Schema(format!("choice setting `{}` lists no choices", spec.key)));
            }
            SettingKind::Choice => {
                if let Some(d) = spec.default_value.as_ref().filter(|d| !spec.choices.contains(d)) {
                    return Err(InstallError::Schema(format!(
                        "default `{d}` of `{}` is not one of its choices",
                        spec.key
                    )));
                }
            }
            SettingKind::Secret if spec.default_value.is_some() => {
                return Err(InstallError::Schema(format!("secret setting `{}` must not have a default", spec.key)));
            }
            _ => {}
        }
    }
    Ok(())
}
