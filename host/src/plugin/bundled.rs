//! The connectors shipped inside the `atsbridge` binary (built from
//! `plugins/*` by `host/build.rs`).

use std::path::Path;

use super::install::{InstallError, install_with};
use super::manifest::Manifest;
use super::registry::InstalledPlugin;
use super::replace::InstallOptions;
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
    install_bundled_with(runtime, id, &InstallOptions::default()).await
}

/// [`install_bundled`] with the operator's approvals.
pub async fn install_bundled_with(
    runtime: &Runtime,
    id: &str,
    options: &InstallOptions,
) -> Result<InstalledPlugin, InstallError> {
    let bundled = find(id).ok_or_else(|| InstallError::NoComponent { manifest: format!("bundled:{id}").into() })?;
    let manifest = Manifest::parse(bundled.manifest)?;
    install_with(runtime, manifest, bundled.component.to_vec(), Path::new(&format!("bundled:{id}")), options).await
}

/// Settings that point a bundled connector at a mock ATS server
/// (`atsbridge-mock-ats`), for the demo, the benchmarks and the tests.
pub fn mock_settings(plugin: &str, mock: &atsbridge_mock_ats::MockAts) -> std::collections::BTreeMap<String, String> {
    let c = mock.credentials();
    let base = mock.base_url().trim_end_matches('/').to_string();
    let pairs: Vec<(&str, String)> = match plugin {
        "greenhouse" => vec![
            ("client-id", c.client_id.clone().unwrap_or_default()),
            ("client-secret", c.client_secret.clone().unwrap_or_default()),
            ("user-id", c.user_id.clone()),
            ("base-url", base),
            ("token-url", mock.token_url().unwrap_or_default()),
        ],
        "workable" => {
            vec![("subdomain", "acme".into()), ("api-token", c.api_key.clone()), ("base-url", mock.api_base_url())]
        }
        "ashby" | "smartrecruiters" => vec![("api-key", c.api_key.clone()), ("base-url", base)],
        // The mock serves the company domain `acme`.
        "bamboohr" => vec![("company-domain", "acme".into()), ("api-key", c.api_key.clone()), ("base-url", base)],
        _ => vec![("api-key", c.api_key.clone()), ("perform-as", c.user_id.clone()), ("base-url", mock.api_base_url())],
    };
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}
