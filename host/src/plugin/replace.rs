//! Who may replace an installed plugin, and with what.
//!
//! A plugin id, once installed, belongs to that plugin: connections store
//! credentials for it, and the next sync hands them to whatever component
//! is installed under the id. So a new install of an existing id is
//! refused when it:
//! - widens where the plugin may connect (new allowed hosts) or where a
//!   secret may be attached (new secret bindings), unless the operator
//!   approves the listed changes (`--approve`);
//! - is an older version (a downgrade), unless forced (`--force`);
//! - is the same version with different bytes, unless forced.
//!
//! A refused install changes nothing: the current version stays active.

use std::collections::{BTreeMap, BTreeSet};

use semver::Version;

use super::manifest::Manifest;
use super::registry::InstalledPlugin;

/// What the operator allowed for this install.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InstallOptions {
    /// Accept new allowed hosts and secret bindings.
    pub approve: bool,
    /// Accept a downgrade, or other bytes under an installed version.
    pub force: bool,
}

/// Why a new install may not replace the current one.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplaceError {
    #[error(
        "this install of `{id}` widens what the plugin may reach{}{}; review and pass --approve to accept",
        list("new allowed hosts", hosts),
        list("new secret bindings", secrets)
    )]
    Widens { id: String, hosts: Vec<String>, secrets: Vec<String> },
    #[error("`{id}` {installed} is installed; installing the older {new} needs --force")]
    Downgrade { id: String, installed: Version, new: Version },
    #[error(
        "`{id}` {version} is installed with content sha256 {installed}; these bytes differ (sha256 {new}): bump the version or pass --force"
    )]
    SameVersionOtherBytes { id: String, version: Version, installed: String, new: String },
}

fn list(label: &str, items: &[String]) -> String {
    if items.is_empty() { String::new() } else { format!("; {label}: {}", items.join(", ")) }
}

/// Whether `manifest` (whose component hashes to `sha256`) may replace
/// `current` under `options`.
pub fn check(
    current: &InstalledPlugin,
    manifest: &Manifest,
    sha256: &str,
    options: InstallOptions,
) -> Result<(), ReplaceError> {
    let id = manifest.id.clone();
    let installed = &current.manifest.version;
    if manifest.version < *installed && !options.force {
        return Err(ReplaceError::Downgrade { id, installed: installed.clone(), new: manifest.version.clone() });
    }
    if manifest.version == *installed && current.record.sha256 != sha256 && !options.force {
        return Err(ReplaceError::SameVersionOtherBytes {
            id,
            version: installed.clone(),
            installed: current.record.sha256.clone(),
            new: sha256.to_string(),
        });
    }
    let (hosts, secrets) = widening(&current.manifest, manifest);
    if (!hosts.is_empty() || !secrets.is_empty()) && !options.approve {
        return Err(ReplaceError::Widens { id, hosts, secrets });
    }
    Ok(())
}

/// The allowed hosts and the `secret -> host` bindings `new` grants that
/// `old` did not. A secret the manifest does not bind may be attached to
/// any allowed host, so dropping a binding widens it too.
pub fn widening(old: &Manifest, new: &Manifest) -> (Vec<String>, Vec<String>) {
    let old_hosts: BTreeSet<&String> = old.allowed_host_patterns.iter().collect();
    let hosts: Vec<String> = new
        .allowed_host_patterns
        .iter()
        .filter(|h| !old_hosts.contains(h))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let reach = |m: &Manifest, key: &str| -> BTreeSet<String> {
        m.secret_hosts.get(key).unwrap_or(&m.allowed_host_patterns).iter().cloned().collect()
    };
    let keys: BTreeSet<&String> = old.secret_hosts.keys().chain(new.secret_hosts.keys()).collect();
    let mut secrets = Vec::new();
    for key in keys {
        let before = reach(old, key);
        for host in reach(new, key).difference(&before) {
            secrets.push(format!("{key} -> {host}"));
        }
    }
    (hosts, secrets)
}

/// The bindings as `secret -> host` lines, for display.
pub fn describe_bindings(bindings: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    bindings.iter().flat_map(|(k, hosts)| hosts.iter().map(move |h| format!("{k} -> {h}"))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(version: &str, hosts: &[&str], secrets: &[(&str, &[&str])]) -> Manifest {
        let mut text = format!(
            "[plugin]\nid = \"gh\"\nversion = \"{version}\"\ncontract = \"0.1.0\"\n[network]\nallowed-hosts = [{}]\n",
            hosts.iter().map(|h| format!("\"{h}\"")).collect::<Vec<_>>().join(", ")
        );
        if !secrets.is_empty() {
            text.push_str("[secrets]\n");
            for (k, hs) in secrets {
                let hs = hs.iter().map(|h| format!("\"{h}\"")).collect::<Vec<_>>().join(", ");
                text.push_str(&format!("{k} = [{hs}]\n"));
            }
        }
        Manifest::parse(&text).unwrap()
    }

    #[test]
    fn new_hosts_and_loosened_secrets_are_listed() {
        let old = manifest("1.0.0", &["https://a.io", "https://b.io"], &[("key", &["https://a.io"])]);
        let same = manifest("1.1.0", &["https://b.io", "https://a.io"], &[("key", &["https://a.io"])]);
        assert_eq!(widening(&old, &same), (vec![], vec![]));
        let wider = manifest("1.1.0", &["https://a.io", "https://b.io", "https://evil.io"], &[]);
        let (hosts, secrets) = widening(&old, &wider);
        assert_eq!(hosts, vec!["https://evil.io"]);
        assert_eq!(secrets, vec!["key -> https://b.io", "key -> https://evil.io"]);
        let narrower = manifest("1.1.0", &["https://a.io"], &[("key", &["https://a.io"])]);
        assert_eq!(widening(&old, &narrower), (vec![], vec![]));
    }
}
