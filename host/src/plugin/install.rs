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
use super::files::{self, FileError};
use super::manifest::{MANIFEST_FILE, Manifest, ManifestError};
use super::registry::{InstallRecord, InstalledPlugin, unix_now};
use super::replace::{self, InstallOptions, ReplaceError};
use crate::contract::{ConnectorInfo, SettingKind};
use crate::runtime::{CallError, Runtime};

/// Why a plugin was not installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Replace(#[from] ReplaceError),
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
        let text = files::read_text_bounded(&manifest_path, files::MAX_MANIFEST_BYTES)?;
        let base = match manifest_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let crate_ = CargoProject::find(base)?;
        let manifest = match &crate_ {
            Some(crate_) => manifest_with_crate_version(&manifest_path, &text, &crate_.version)?,
            None => Manifest::parse(&text).map_err(|e| match e {
                ManifestError::Syntax { message, .. } => ManifestError::Syntax { path: manifest_path.clone(), message },
                other => other,
            })?,
        };
        // Paths the operator typed are theirs to choose; the path the
        // manifest names must stay inside the plugin's directory.
        let component_path = match (component, &manifest.component, &crate_) {
            (Some(explicit), _, _) => explicit.to_path_buf(),
            (None, _, _) if path.extension().is_some_and(|e| e == "wasm") => path.to_path_buf(),
            (None, Some(relative), _) => files::confined(base, relative)?,
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
fn manifest_with_crate_version(path: &Path, text: &str, version: &semver::Version) -> Result<Manifest, InstallError> {
    let syntax = |message: String| ManifestError::Syntax { path: path.to_path_buf(), message };
    let mut table: toml::Table = toml::from_str(text).map_err(|e| syntax(e.to_string()))?;
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
    install_from_with(runtime, source, &InstallOptions::default()).await
}

/// [`install_from`] with the operator's approvals.
pub async fn install_from_with(
    runtime: &Runtime,
    source: PluginSource,
    options: &InstallOptions,
) -> Result<InstalledPlugin, InstallError> {
    let wasm = files::read_bounded(&source.component_path, files::MAX_COMPONENT_BYTES)?;
    install_with(runtime, source.manifest, wasm, &source.component_path, options).await
}

/// Validates and installs a plugin from bytes; `origin` names it in errors.
pub async fn install(
    runtime: &Runtime,
    manifest: Manifest,
    wasm: Vec<u8>,
    origin: &Path,
) -> Result<InstalledPlugin, InstallError> {
    install_with(runtime, manifest, wasm, origin, &InstallOptions::default()).await
}

/// [`install`] with the operator's approvals. An install that may not
/// replace the current one of its id ([`replace::check`]) is refused before
/// anything is compiled or written.
pub async fn install_with(
    runtime: &Runtime,
    manifest: Manifest,
    wasm: Vec<u8>,
    origin: &Path,
    options: &InstallOptions,
) -> Result<InstalledPlugin, InstallError> {
    if wasm.len() as u64 > files::MAX_COMPONENT_BYTES {
        let limit = files::MAX_COMPONENT_BYTES;
        return Err(FileError::TooLarge { path: origin.to_path_buf(), limit }.into());
    }
    check_is_component(&wasm, origin)?;
    let sha256 = hex::encode(Sha256::digest(&wasm));
    match runtime.registry().current(&manifest.id) {
        Ok(current) => replace::check(&current, &manifest, &sha256, *options)?,
        Err(LoadError::NotInstalled(_)) => {}
        // A damaged install cannot tell what it granted: only the
        // operator's explicit say-so replaces it.
        Err(e) if !(options.force && options.approve) => return Err(InstallError::Load(e)),
        Err(_) => {}
    }
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
    let info = plugin.info_for_install().await.map_err(InstallError::Info)?;
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

/// Most settings a plugin may declare: real connectors have under ten.
pub const MAX_SETTINGS: usize = 64;
/// Longest name, vendor, version, setting key or label: these are shown in
/// one-line listings.
pub const MAX_INFO_NAME_BYTES: usize = 128;
/// Longest help text, choice or default value of a setting.
pub const MAX_INFO_TEXT_BYTES: usize = 2048;
/// Most choices of one setting, and most capabilities.
pub const MAX_INFO_ITEMS: usize = 64;

/// `info()`'s texts and lists must fit the caps above: they are stored in
/// the install record and printed by `plugin list` and `inspect`.
fn check_info_size(info: &ConnectorInfo) -> Result<(), InstallError> {
    let too_long = |what: &str, text: &str, max: usize| {
        (text.len() > max)
            .then(|| InstallError::Schema(format!("{what} is {} bytes; at most {max} are allowed", text.len())))
    };
    let too_many = |what: &str, n: usize, max: usize| {
        (n > max).then(|| InstallError::Schema(format!("info() lists {n} {what}; at most {max} are allowed")))
    };
    let mut problems = vec![
        too_long("info().name", &info.name, MAX_INFO_NAME_BYTES),
        too_long("info().vendor", &info.vendor, MAX_INFO_NAME_BYTES),
        too_long("info().version", &info.version, MAX_INFO_NAME_BYTES),
        too_many("settings", info.config_schema.len(), MAX_SETTINGS),
        too_many("capabilities", info.capabilities.len(), MAX_INFO_ITEMS),
    ];
    for spec in info.config_schema.iter().take(MAX_SETTINGS) {
        problems.push(too_long("a setting key", &spec.key, MAX_INFO_NAME_BYTES));
        problems.push(too_long("a setting label", &spec.label, MAX_INFO_NAME_BYTES));
        problems.push(too_long("a setting's help", &spec.help, MAX_INFO_TEXT_BYTES));
        problems.push(too_many("choices for one setting", spec.choices.len(), MAX_INFO_ITEMS));
        for choice in spec.choices.iter().chain(&spec.default_value).take(MAX_INFO_ITEMS + 1) {
            problems.push(too_long("a setting's choice or default", choice, MAX_INFO_TEXT_BYTES));
        }
    }
    match problems.into_iter().flatten().next() {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// `info()` must agree with the manifest and describe a usable schema.
pub fn check_info(info: &ConnectorInfo, manifest: &Manifest) -> Result<(), InstallError> {
    check_info_size(info)?;
    if semver::Version::parse(&info.version).ok().as_ref() != Some(&manifest.version) {
        let info = crate::display::escape(&info.version);
        return Err(InstallError::VersionMismatch { info, manifest: manifest.version.clone() });
    }
    if info.name.trim().is_empty() {
        return Err(InstallError::Schema("info().name is empty".into()));
    }
    let mut keys = HashSet::new();
    for spec in &info.config_schema {
        let valid_key =
            !spec.key.is_empty() && spec.key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_key {
            let key = crate::display::escape(&spec.key);
            return Err(InstallError::Schema(format!("setting key `{key}` must be kebab-case")));
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
                    let d = crate::display::escape(d);
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
