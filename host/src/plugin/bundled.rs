//! The connectors shipped inside the `atsbridge` binary (built from
//! `plugins/*` by `host/build.rs`).

use std::path::Path;

use super::install::{InstallError, install};
use super::manifest::Manifest;
use super::registry::InstalledPlugin;
use crate::runtime::Runtime;

/// A connector built into this binary.
#[derive(Debug, Clone, Copy)]
pub struct Bundled {
    pub id: &'static str,
    pub manifest: &'static str,
    pub component: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The bundled connector with this id.
pub fn find(id: &str) -> Option<&'static Bundled> {
    BUNDLED.iter().find(|b| b.id == id)
}

/// Installs a bundled connector, through the same validation as any other.
pub async fn install_bundled(runtime: &Runtime, id: &str) -> Result<InstalledPlugin, InstallError> {
    let bundled = find(id).ok_or_else(|| InstallError::NoComponent { manifest: format!("bundled:{id}").into() })?;
    let manifest = Manifest::parse(bundled.manifest)?;
    install(runtime, manifest, bundled.component.to_vec(), Path::new(&format!("bundled:{id}"))).await
}
