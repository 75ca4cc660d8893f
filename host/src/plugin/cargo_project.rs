//! A plugin directory that is a Rust crate (a `Cargo.toml` beside the
//! manifest): the plugin's version and its built component come from cargo
//! itself, so neither is written twice.
//!
//! `cargo metadata --no-deps` names the package's version, its `cdylib`
//! target and the target directory (which honours `CARGO_TARGET_DIR`,
//! `.cargo/config.toml` and workspaces); the component is that library under
//! `<target>/wasm32-wasip2/<profile>/`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

/// `cargo metadata --no-deps` reads manifests only; a minute covers a cold
/// rustup proxy installing the project's pinned toolchain's metadata and
/// waiting for another cargo's lock, and still ends a hung process.
const METADATA_TIMEOUT: Duration = Duration::from_secs(60);

/// How often the wait for cargo checks whether it has exited.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// The metadata of a connector crate is a few KiB; a workspace with many
/// members is more. Anything past this is not read.
const MAX_METADATA_BYTES: u64 = 16 << 20;

/// The target cargo builds components for.
const COMPONENT_TARGET: &str = "wasm32-wasip2";

/// Profiles looked in, in the order documented for connectors; the newest
/// file wins when several exist.
const PROFILES: [&str; 3] = ["wasm", "release", "debug"];

/// Why a crate's metadata could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CargoError {
    #[error("cannot run `cargo metadata` in {dir}: {source}")]
    Spawn { dir: PathBuf, source: std::io::Error },
    #[error("`cargo metadata` in {dir} took longer than {}s", METADATA_TIMEOUT.as_secs())]
    Timeout { dir: PathBuf },
    #[error("`cargo metadata` failed in {dir}: {stderr}")]
    Failed { dir: PathBuf, stderr: String },
    #[error("`cargo metadata` in {dir} answered something unexpected: {message}")]
    Unexpected { dir: PathBuf, message: String },
}

/// What install needs to know about a connector crate.
#[derive(Debug, Clone)]
pub struct CargoProject {
    /// `package.version` of the crate whose `Cargo.toml` is in the directory.
    pub version: semver::Version,
    /// The `cdylib` target's file stem (`acme_ats` for package `acme-ats`).
    pub lib_name: String,
    /// Where cargo writes build output for this crate.
    pub target_directory: PathBuf,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    target_directory: PathBuf,
}

#[derive(Deserialize)]
struct Package {
    version: semver::Version,
    manifest_path: PathBuf,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    crate_types: Vec<String>,
}

impl CargoProject {
    /// The crate in `dir`, or `None` when `dir` has no `Cargo.toml`.
    pub fn find(dir: &Path) -> Result<Option<Self>, CargoError> {
        let cargo_toml = dir.join("Cargo.toml");
        if !cargo_toml.is_file() {
            return Ok(None);
        }
        let unexpected = |message: String| CargoError::Unexpected { dir: dir.to_path_buf(), message };
        let out = run_metadata(dir, &cargo_toml)?;
        let metadata: Metadata = serde_json::from_slice(&out).map_err(|e| unexpected(e.to_string()))?;
        let wanted = cargo_toml.canonicalize().unwrap_or(cargo_toml);
        let package = metadata
            .packages
            .into_iter()
            .find(|p| p.manifest_path.canonicalize().unwrap_or_else(|_| p.manifest_path.clone()) == wanted)
            .ok_or_else(|| unexpected("no package for this directory's Cargo.toml".into()))?;
        let lib_name = package
            .targets
            .iter()
            .find(|t| t.crate_types.iter().any(|c| c == "cdylib"))
            .map(|t| t.name.replace('-', "_"))
            .ok_or_else(|| unexpected("the crate has no cdylib target (`[lib] crate-type = [\"cdylib\"]`)".into()))?;
        Ok(Some(CargoProject { version: package.version, lib_name, target_directory: metadata.target_directory }))
    }

    /// Where a build of each profile would put the component.
    pub fn component_candidates(&self) -> Vec<PathBuf> {
        PROFILES
            .iter()
            .map(|profile| {
                self.target_directory.join(COMPONENT_TARGET).join(profile).join(format!("{}.wasm", self.lib_name))
            })
            .collect()
    }

    /// The most recently built component, if any profile has one.
    pub fn built_component(&self) -> Option<PathBuf> {
        self.component_candidates()
            .into_iter()
            .filter_map(|p| {
                let modified = std::fs::metadata(&p).and_then(|m| m.modified()).ok()?;
                Some((modified, p))
            })
            .max_by_key(|(modified, _): &(SystemTime, PathBuf)| *modified)
            .map(|(_, p)| p)
    }
}

/// Runs `cargo metadata` in `dir` (so the project's `rust-toolchain.toml`
/// and cargo configuration apply), bounded in time and output.
fn run_metadata(dir: &Path, cargo_toml: &Path) -> Result<Vec<u8>, CargoError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(cargo_toml)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| CargoError::Spawn { dir: dir.to_path_buf(), source })?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        let _ = child.kill();
        return Err(CargoError::Unexpected { dir: dir.to_path_buf(), message: "no output pipes".into() });
    };
    let read_bounded = |pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.take(MAX_METADATA_BYTES).read_to_end(&mut buf);
            buf
        })
    };
    let (out, err) = (read_bounded(Box::new(stdout)), read_bounded(Box::new(stderr)));
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < METADATA_TIMEOUT => std::thread::sleep(POLL_INTERVAL),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(CargoError::Timeout { dir: dir.to_path_buf() });
            }
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    if !status.success() {
        let stderr = String::from_utf8_lossy(&err);
        let stderr: String = stderr.trim().chars().take(2_000).collect();
        return Err(CargoError::Failed { dir: dir.to_path_buf(), stderr });
    }
    Ok(out)
}
