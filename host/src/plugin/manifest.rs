//! The plugin manifest (`atsbridge-plugin.toml`): who the plugin is, which
//! contract it implements, where it may connect, and the limits it asks for.
//!
//! ```toml
//! [plugin]
//! id = "greenhouse"
//! version = "0.1.0"
//! contract = "0.1.0"
//! component = "greenhouse.wasm"      # relative to the manifest
//!
//! [network]
//! allowed-hosts = ["https://harvest.greenhouse.io", "https://auth.greenhouse.io"]
//!
//! [secrets]                           # where each secret setting may be attached
//! client-id = ["https://auth.greenhouse.io"]
//! client-secret = ["https://auth.greenhouse.io"]
//!
//! [limits]                            # optional; capped by the operator
//! memory-mib = 64
//! timeout-secs = 30
//!
//! [stages]                            # optional
//! per-job = true                      # the ATS has a pipeline per job
//!
//! [listing]                           # optional
//! replay-unchanged-pages = true       # list-jobs depends on its inputs only
//! ```
//!
//! `listing.replay-unchanged-pages` declares that `list-jobs` answers the
//! same page for the same arguments, settings and HTTP responses. The host
//! may then, on a later full listing, send a page's recorded requests
//! itself and, when every response is unchanged, apply the page as
//! unchanged without running the plugin (`runtime::replay`). A call that
//! reads a clock or randomness is never replayed, declared or not.
//!
//! `network.allowed-hosts` and the `[secrets]` patterns use the syntax of
//! [`super::allowed_hosts`] and may name public hosts only: `localhost`, a
//! loopback, private, link-local or otherwise non-public IP literal, and a
//! wildcard directly under a public suffix (`*.com`) are refused. Only the
//! operator can grant such a host, to one connection (its extra hosts).
//!
//! Secret bindings: the host attaches a secret setting's value (as Basic,
//! Bearer, a named header or OAuth client credentials) only to a URL that
//! matches that setting's `[secrets]` patterns, or a host the operator
//! granted to the connection. A secret setting with no entry in `[secrets]`
//! may be attached to any of the manifest's allowed hosts (and granted
//! hosts). Every request must also pass the allowed-hosts check itself.
//!
//! `stages.per-job` declares that the ATS keeps a hiring pipeline per job
//! (SmartRecruiters' hiring processes, Ashby's interview plans) and that
//! `list-stages` with a job answers that job's pipeline. The host then asks
//! for each open job's pipeline instead of relying on one account-wide
//! answer. It is a manifest entry rather than a `capability` case because
//! adding a case to the released contract's enum would change the WIT types
//! every existing component of that contract was built against.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use semver::Version;
use serde::{Deserialize, Serialize};

use super::allowed_hosts::{AllowedHosts, PatternError};

/// The file name `plugin install <dir>` looks for.
pub const MANIFEST_FILE: &str = "atsbridge-plugin.toml";

/// Longest plugin id accepted; ids appear in paths, logs and metrics.
const MAX_ID_LEN: usize = 64;

/// Why a manifest was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("cannot read manifest {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("bad manifest {path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("bad manifest: plugin id `{0}` must be 1-64 characters of a-z, 0-9 and '-', starting with a letter")]
    Id(String),
    #[error("bad manifest: `{field}` = `{value}` is not a semantic version ({source})")]
    Version { field: &'static str, value: String, source: semver::Error },
    #[error("bad manifest: network.allowed-hosts: {0}")]
    AllowedHosts(#[from] PatternError),
    #[error("bad manifest: secrets.{setting}: {source}")]
    SecretHosts { setting: String, source: PatternError },
    #[error("bad manifest: limits.{field} must be greater than zero")]
    Limit { field: &'static str },
}

/// The manifest as written in TOML.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    plugin: RawPlugin,
    #[serde(default)]
    network: RawNetwork,
    /// Secret setting name -> host patterns it may be attached to.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    secrets: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    limits: RequestedLimits,
    #[serde(default, skip_serializing_if = "StagesManifest::is_default")]
    stages: StagesManifest,
    #[serde(default, skip_serializing_if = "ListingManifest::is_default")]
    listing: ListingManifest,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPlugin {
    id: String,
    version: String,
    contract: String,
    component: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawNetwork {
    #[serde(default)]
    allowed_hosts: Vec<String>,
}

/// Limits a plugin asks for; the operator's maximums cap them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RequestedLimits {
    /// Linear memory per instance, in MiB.
    pub memory_mib: Option<u32>,
    /// Wall-clock budget per call, in seconds.
    pub timeout_secs: Option<u32>,
}

/// How the plugin's ATS organises hiring stages (`[stages]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StagesManifest {
    /// The ATS has a pipeline per job, and `list-stages` with a job code
    /// answers that job's pipeline; the host then fetches each open job's.
    #[serde(default)]
    pub per_job: bool,
}

impl StagesManifest {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// How the host may treat the plugin's job listing (`[listing]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ListingManifest {
    /// The plugin declares that its `list-jobs` answer is a function of its
    /// arguments, the connection's settings and the HTTP responses it gets
    /// (no clock, randomness or other state): the host may then skip a
    /// page's call when every request and response is byte-identical to
    /// the last run's (`runtime::replay`). Off unless declared.
    #[serde(default)]
    pub replay_unchanged_pages: bool,
}

impl ListingManifest {
    fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// A validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Stable id, used in paths, connections and logs.
    pub id: String,
    /// The plugin's version; must equal what `info()` reports.
    pub version: Version,
    /// The contract version the component implements.
    pub contract: Version,
    /// Path of the component, relative to the manifest, if given.
    pub component: Option<PathBuf>,
    /// Hosts the plugin may reach.
    pub allowed_hosts: AllowedHosts,
    /// The allowed hosts as written (kept for display and re-serialisation).
    pub allowed_host_patterns: Vec<String>,
    /// For each secret setting, the hosts the host may attach its value
    /// to (as written; parsed and checked at load). A secret setting not
    /// named here may go to any of `allowed_hosts`.
    pub secret_hosts: BTreeMap<String, Vec<String>>,
    /// `secret_hosts`, parsed: what the runtime checks before attaching a
    /// secret (shared, since every call consults it).
    pub secret_bindings: Arc<BTreeMap<String, AllowedHosts>>,
    /// Requested limits.
    pub limits: RequestedLimits,
    /// How the ATS organises hiring stages.
    pub stages: StagesManifest,
    /// How the host may treat the job listing.
    pub listing: ListingManifest,
}

impl Manifest {
    /// Reads and validates a manifest file.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ManifestError::Read { path: path.to_path_buf(), source })?;
        Self::parse(&text).map_err(|e| match e {
            ManifestError::Syntax { message, .. } => ManifestError::Syntax { path: path.to_path_buf(), message },
            other => other,
        })
    }

    /// Parses and validates manifest text.
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let raw: RawManifest =
            toml::from_str(text).map_err(|e| ManifestError::Syntax { path: PathBuf::new(), message: e.to_string() })?;
        validate_id(&raw.plugin.id)?;
        let version = parse_version("plugin.version", &raw.plugin.version)?;
        let contract = parse_version("plugin.contract", &raw.plugin.contract)?;
        let allowed_hosts = AllowedHosts::parse_for_manifest(&raw.network.allowed_hosts)?;
        let mut secret_bindings = BTreeMap::new();
        for (setting, hosts) in &raw.secrets {
            let parsed = AllowedHosts::parse_for_manifest(hosts)
                .map_err(|source| ManifestError::SecretHosts { setting: setting.clone(), source })?;
            secret_bindings.insert(setting.clone(), parsed);
        }
        if raw.limits.memory_mib == Some(0) {
            return Err(ManifestError::Limit { field: "memory-mib" });
        }
        if raw.limits.timeout_secs == Some(0) {
            return Err(ManifestError::Limit { field: "timeout-secs" });
        }
        Ok(Manifest {
            id: raw.plugin.id,
            version,
            contract,
            component: raw.plugin.component,
            allowed_hosts,
            allowed_host_patterns: raw.network.allowed_hosts,
            secret_hosts: raw.secrets,
            secret_bindings: Arc::new(secret_bindings),
            limits: raw.limits,
            stages: raw.stages,
            listing: raw.listing,
        })
    }

    /// The secret bindings for people: `setting -> host, host` per bound
    /// secret, and where the unbound ones may go.
    pub fn describe_secret_bindings(&self) -> Vec<String> {
        let mut lines: Vec<String> =
            self.secret_hosts.iter().map(|(setting, hosts)| format!("{setting} -> {}", hosts.join(", "))).collect();
        lines.push("other secret settings -> the allowed hosts".to_string());
        lines
    }

    /// The manifest as TOML, for storing next to the installed component.
    pub fn to_toml(&self) -> String {
        let raw = RawManifest {
            plugin: RawPlugin {
                id: self.id.clone(),
                version: self.version.to_string(),
                contract: self.contract.to_string(),
                component: self.component.clone(),
            },
            network: RawNetwork { allowed_hosts: self.allowed_host_patterns.clone() },
            secrets: self.secret_hosts.clone(),
            limits: self.limits,
            stages: self.stages,
            listing: self.listing,
        };
        // Serialising plain strings and integers cannot fail.
        toml::to_string_pretty(&raw).unwrap_or_default()
    }
}

fn validate_id(id: &str) -> Result<(), ManifestError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok { Ok(()) } else { Err(ManifestError::Id(id.to_string())) }
}

fn parse_version(field: &'static str, value: &str) -> Result<Version, ManifestError> {
    Version::parse(value).map_err(|source| ManifestError::Version { field, value: value.to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [plugin]
        id = "greenhouse"
        version = "1.0.0"
        contract = "0.1.0"
        component = "gh.wasm"
        [network]
        allowed-hosts = ["https://harvest.greenhouse.io"]
        [secrets]
        api-key = ["https://harvest.greenhouse.io:443"]
        [limits]
        memory-mib = 32
    "#;

    #[test]
    fn parses_a_good_manifest_and_round_trips() {
        let m = Manifest::parse(GOOD).unwrap();
        assert_eq!(m.id, "greenhouse");
        assert_eq!(m.contract, Version::new(0, 1, 0));
        assert_eq!(m.limits.memory_mib, Some(32));
        let again = Manifest::parse(&m.to_toml()).unwrap();
        assert_eq!(again.allowed_hosts, m.allowed_hosts);
        assert_eq!(again.secret_bindings, m.secret_bindings);
        assert_eq!(again.version, m.version);
    }

    #[test]
    fn per_job_stages_are_declared_in_the_manifest_and_default_to_off() {
        assert!(!Manifest::parse(GOOD).unwrap().stages.per_job, "absent: account-wide");
        let text = format!("{GOOD}\n[stages]\nper-job = true\n");
        let m = Manifest::parse(&text).unwrap();
        assert!(m.stages.per_job);
        assert!(Manifest::parse(&m.to_toml()).unwrap().stages.per_job, "kept when stored");
        let unknown = format!("{GOOD}\n[stages]\nper-jobs = true\n");
        assert!(Manifest::parse(&unknown).unwrap_err().to_string().contains("per-jobs"), "a typo is refused");
        let wrong = format!("{GOOD}\n[stages]\nper-job = \"yes\"\n");
        assert!(Manifest::parse(&wrong).is_err());
    }

    #[test]
    fn replay_is_declared_in_the_manifest_and_defaults_to_off() {
        assert!(!Manifest::parse(GOOD).unwrap().listing.replay_unchanged_pages);
        let text = format!("{GOOD}\n[listing]\nreplay-unchanged-pages = true\n");
        let m = Manifest::parse(&text).unwrap();
        assert!(m.listing.replay_unchanged_pages);
        assert!(Manifest::parse(&m.to_toml()).unwrap().listing.replay_unchanged_pages, "kept when stored");
        let typo = format!("{GOOD}\n[listing]\nreplay-unchanged = true\n");
        assert!(Manifest::parse(&typo).unwrap_err().to_string().contains("replay-unchanged"));
    }

    #[test]
    fn names_each_problem() {
        let bad_id = GOOD.replace("\"greenhouse\"", "\"Green House\"");
        assert!(Manifest::parse(&bad_id).unwrap_err().to_string().contains("Green House"));
        let bad_version = GOOD.replace("\"1.0.0\"", "\"one\"");
        assert!(Manifest::parse(&bad_version).unwrap_err().to_string().contains("plugin.version"));
        let bad_host = GOOD.replace("https://harvest.greenhouse.io", "harvest.greenhouse.io");
        assert!(Manifest::parse(&bad_host).unwrap_err().to_string().contains("allowed-hosts"));
        let unknown = format!("{GOOD}\n[extra]\nx = 1\n");
        assert!(Manifest::parse(&unknown).unwrap_err().to_string().contains("extra"));
        let private = GOOD.replace("https://harvest.greenhouse.io\"]", "http://127.0.0.1:*\"]");
        let err = Manifest::parse(&private).unwrap_err().to_string();
        assert!(err.contains("127.0.0.1") && err.contains("loopback"), "{err}");
        let suffix = GOOD.replace("https://harvest.greenhouse.io", "https://*.co.uk");
        assert!(Manifest::parse(&suffix).unwrap_err().to_string().contains("public suffix"));
        let bound_local = GOOD.replace("https://harvest.greenhouse.io:443", "http://localhost");
        let err = Manifest::parse(&bound_local).unwrap_err().to_string();
        assert!(err.contains("secrets.api-key") && err.contains("local machine"), "{err}");
        let zero = GOOD.replace("memory-mib = 32", "memory-mib = 0");
        assert!(Manifest::parse(&zero).unwrap_err().to_string().contains("memory-mib"));
    }
}
