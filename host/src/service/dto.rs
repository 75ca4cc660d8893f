//! The API's request and response types. They are separate from the
//! store's records, so the store can change without changing the API, and
//! each is described in the OpenAPI document.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The one error shape every route answers with.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable (`connection_not_found`, `invalid_settings`, ...).
    pub code: String,
    /// For people; never contains a secret or a file's contents.
    pub message: String,
}

/// A plugin setting the connector takes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SettingSpecDto {
    pub key: String,
    pub label: String,
    /// `text`, `secret`, `url` or `choice`.
    pub kind: String,
    pub required: bool,
    pub help: String,
    pub choices: Vec<String>,
    pub default: Option<String>,
}

/// Limits a plugin's manifest asks for (the operator's ceilings apply).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequestedLimitsDto {
    pub memory_mib: Option<u64>,
    pub timeout_secs: Option<u64>,
}

/// An installed plugin.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PluginDto {
    pub id: String,
    pub version: String,
    pub name: String,
    pub vendor: String,
    /// The WIT world it implements, e.g. `atsbridge:connector/connector@0.1.0`.
    pub world: String,
    pub contract: String,
    pub capabilities: Vec<String>,
    pub config_schema: Vec<SettingSpecDto>,
    pub allowed_hosts: Vec<String>,
    pub requested_limits: RequestedLimitsDto,
    /// The manifest's `stages.per-job`: the ATS has a pipeline per job, and
    /// the host asks `list-stages` for each open job's. `false` does not mean
    /// one pipeline for every job: a connector whose account-wide answer tags
    /// each stage with its job (Greenhouse) has its pipelines cached per job,
    /// which a stage refresh reports (`per_job`).
    #[serde(default)]
    pub stages_per_job: bool,
    pub sha256: String,
    pub installed_at_unix: u64,
    /// Call metrics since the host started (on `GET /plugins/{id}` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<serde_json::Value>,
}

/// Installs a plugin from uploaded bytes, or a connector bundled in the
/// host. Never from a path on the host.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallPluginRequest {
    /// The manifest (`atsbridge-plugin.toml`) as text; its `component`
    /// entry is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// The component (`.wasm`), base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_base64: Option<String>,
    /// Instead: the id of a connector bundled in this host (greenhouse,
    /// lever, workable, ashby).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundled: Option<String>,
    /// Accept new allowed hosts and secret bindings over the installed
    /// version (an install that widens them is refused with 409 otherwise).
    #[serde(default)]
    pub approve: bool,
    /// Accept a downgrade, or other bytes under the installed version.
    #[serde(default)]
    pub force: bool,
}

/// Settings to try against the ATS with an installed plugin.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckSettingsRequest {
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Allowed-host patterns beyond the manifest's (e.g. a self-hosted ATS).
    #[serde(default)]
    pub extra_hosts: Vec<String>,
}

/// A check or test the ATS accepted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckResult {
    pub ok: bool,
}

/// A customer of the platform.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AccountDto {
    pub id: String,
    pub name: String,
    /// IANA time zone; schedules run in it.
    pub time_zone: String,
    pub created_at_unix: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    pub name: String,
    /// IANA time zone (default UTC).
    #[serde(default)]
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccountRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// An account's API key (never the token itself).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyDto {
    /// Also the token's visible prefix (`atsb_<id>_...`).
    pub id: String,
    pub account: String,
    pub label: String,
    pub created_at_unix: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApiKeyRequest {
    #[serde(default)]
    pub label: String,
}

/// A new key: the token is shown this once and cannot be recovered.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKey {
    pub key: ApiKeyDto,
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
}

/// An account's link to one ATS through one plugin.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConnectionDto {
    pub id: String,
    pub account: String,
    pub name: String,
    pub plugin: String,
    pub enabled: bool,
    /// Settings; secret values are shown as `********`.
    pub settings: BTreeMap<String, String>,
    pub extra_hosts: Vec<String>,
    /// Cron expression in the account's time zone; absent: daily, early morning.
    pub schedule: Option<String>,
    /// Needs a person's attention (it keeps failing).
    pub flagged: bool,
    pub consecutive_failures: u32,
    pub last_success_unix: Option<i64>,
    pub last_full_listing_unix: Option<i64>,
    /// The next scheduled sync (RFC 3339), when a host is serving.
    pub next_sync: Option<String>,
    /// Stage mappings that point at ATS stages the ATS no longer has (never
    /// used; `GET .../stages` details them).
    #[serde(default)]
    pub stale_stage_mappings: super::stages::StaleMappingSummaryDto,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConnectionRequest {
    pub account: String,
    pub name: String,
    pub plugin: String,
    /// Checked against the plugin's config schema; secrets are encrypted.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    #[serde(default)]
    pub extra_hosts: Vec<String>,
    #[serde(default)]
    pub schedule: Option<String>,
}

/// A change to a connection. Settings given replace those keys (secrets
/// included, e.g. a rotated API key); the rest are kept. Positions, their
/// edits and the run history are kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConnectionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
    /// Settings to drop (optional ones; defaults apply again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove_settings: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_hosts: Option<Vec<String>>,
    /// A cron expression; an empty string goes back to the daily default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
}

/// A sync was accepted and runs in the background.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SyncAccepted {
    pub connection: String,
    /// The run's sequence number: `GET /connections/{id}/runs/{run}`.
    pub run: u64,
    /// Whether it lists every job (`full`) or only changes.
    pub full: bool,
    /// `running`, or `queued` while it waits for a free sync slot.
    pub status: String,
}

/// What a run has done so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RunCountsDto {
    pub pages: u32,
    pub jobs_seen: u64,
    pub created: u64,
    pub updated: u64,
    pub closed: u64,
    pub unchanged: u64,
    pub removed: u64,
    /// Closed positions whose job came back open.
    pub reopened: u64,
}

/// One sync run.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunDto {
    pub connection: String,
    pub seq: u64,
    /// `scheduled`, `manual`, `catch_up` or `retry`.
    pub trigger: String,
    pub started_unix: i64,
    pub finished_unix: Option<i64>,
    pub plugin: String,
    pub plugin_version: String,
    pub full_listing: bool,
    pub counts: RunCountsDto,
    /// `queued`, `running`, `succeeded`, `failed` or `interrupted`. A run
    /// reads as `running` until all of its work is done, including the
    /// publishing rules applied to what it changed: once it has ended,
    /// positions read next show their rules' effect.
    pub outcome: String,
    /// Why it failed.
    pub error: Option<RunErrorDto>,
    /// Problems that did not fail the run (the ATS stages could not be
    /// refreshed, say).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What the run's plugin calls cost (CPU, calls, HTTP per host, retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metering: Option<super::metering_dto::RunMeteringDto>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunErrorDto {
    /// `unauthorized`, `transient`, `rate-limited`, ...
    pub kind: String,
    pub message: String,
}

/// A value the ATS owns, with a local edit beside it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TrackedDto<T> {
    /// What to show: the edit if any, else the ATS's value.
    pub value: T,
    pub ats: T,
    pub edited: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserDto {
    pub ats_id: String,
    pub name: String,
    pub email: Option<String>,
}

/// A job synced from an ATS.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PositionDto {
    pub id: u64,
    pub account: String,
    pub connection: String,
    pub ats_job_code: String,
    /// `open`, `closed`, `draft`, `on_hold` or `other`.
    pub status: String,
    pub ats_raw_status: String,
    /// `closed_in_ats` or `removed_in_ats` while closed.
    pub closed_reason: Option<String>,
    pub published: bool,
    /// Who decided on publication and why, the public URL, the rule's ad.
    #[serde(default)]
    pub publication: super::publish_dto::PublicationDto,
    pub name: TrackedDto<String>,
    pub description: TrackedDto<String>,
    pub locations: TrackedDto<Vec<String>>,
    pub authorized_users: TrackedDto<Vec<UserDto>>,
    pub extra: BTreeMap<String, String>,
    pub ats_updated_at: Option<String>,
    pub created_at_unix: i64,
    pub updated_at_unix: i64,
}

/// Local edits; each survives later syncs until cleared.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditPositionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locations: Option<Vec<String>>,
}

/// Which host answered, for `atsbridge status`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatusDto {
    pub version: String,
    /// `serving`: a running host answered.
    pub mode: String,
    /// Connections the scheduler holds.
    pub scheduled_connections: usize,
    /// Who the credentials belong to: `operator` or `account:<id>`.
    pub caller: String,
}
