//! The records the store keeps.
//!
//! Records are stored as JSON (see `codec`), so a field added later must be
//! `#[serde(default)]` (or come with a migration), and enum variant names
//! are part of the on-disk format: rename one only with a migration.
//!
//! Positions are the exception: they are stored in a binary form of their
//! own (`stored_position`), and [`Position`]'s serde is what the API and
//! webhooks show. A field added to [`Position`] goes into a new layout
//! there (decoding builds a `Position` field by field, so it will not
//! compile until it does).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::content_hash::job_content_hash;
use super::secrets::EncryptedValue;
use crate::contract::{AtsUser, JobStatus};

/// A customer of the platform; owns connections and, through them, positions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Slug of the name when created (`acme`, `acme-2`); never changes.
    pub id: String,
    /// Display name.
    pub name: String,
    /// IANA time zone (`Europe/Paris`): schedules are read in it.
    pub time_zone: String,
    /// Creation time, Unix seconds.
    pub created_at_unix: i64,
}

/// An account's link to one ATS through one plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    /// Slug of the account id and name (`acme-greenhouse`); never changes.
    pub id: String,
    /// The account that owns it.
    pub account_id: String,
    /// Display name.
    pub name: String,
    /// The plugin that talks to the ATS.
    pub plugin_id: String,
    /// Settings by key; secret ones sealed.
    pub settings: BTreeMap<String, StoredSetting>,
    /// Allowed-host patterns granted beyond the plugin manifest's.
    #[serde(default)]
    pub extra_hosts: Vec<String>,
    /// Cron expression in the account's time zone; `None`: once a day.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Disabled connections are not synced.
    pub enabled: bool,
    /// Creation time, Unix seconds.
    pub created_at_unix: i64,
}

/// A setting's value as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoredSetting {
    /// Text, URL and choice settings, in the clear.
    Text(String),
    /// Secret settings, sealed with the operator's key.
    Secret(EncryptedValue),
}

/// What [`Store::add_connection`](super::Store::add_connection) needs.
#[derive(Debug, Clone)]
pub struct NewConnection {
    /// The owning account; must exist.
    pub account_id: String,
    /// Display name; the id is derived from it.
    pub name: String,
    /// The plugin to use.
    pub plugin_id: String,
    /// Settings, already validated against the plugin's schema by the caller.
    pub settings: Vec<(String, NewSetting)>,
    /// Allowed-host patterns beyond the manifest's, already checked by the
    /// caller (the store keeps them as text).
    pub extra_hosts: Vec<String>,
    /// Cron expression; `None`: once a day.
    pub schedule: Option<String>,
}

/// A setting's value as given, before the store seals secret ones.
#[derive(Clone)]
pub enum NewSetting {
    /// Kept in the clear.
    Text(String),
    /// Sealed with the store's key.
    Secret(secrecy::SecretString),
}

impl From<crate::contract::SettingInput> for NewSetting {
    fn from(value: crate::contract::SettingInput) -> Self {
        match value {
            crate::contract::SettingInput::Text(text) => NewSetting::Text(text),
            crate::contract::SettingInput::Secret(secret) => NewSetting::Secret(secret),
        }
    }
}

impl std::fmt::Debug for NewSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NewSetting::Text(t) => f.debug_tuple("Text").field(t).finish(),
            NewSetting::Secret(_) => f.write_str("Secret(<redacted>)"),
        }
    }
}

/// A setting's value as the store hands it out: secrets opened. The sync
/// engine turns these into what the runtime needs. (`Debug` shows secrets
/// redacted.)
#[derive(Clone, Debug)]
pub enum OpenedSetting {
    /// Text, URL and choice settings.
    Text(String),
    /// A secret, opened with the store's key.
    Secret(secrecy::SecretString),
}

/// A connection's sync progress. Absent from disk means [`Default`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConnectionState {
    /// The connection it belongs to.
    pub connection_id: String,
    /// Sequence number of the last run started (0: never run).
    pub last_run_seq: u64,
    /// Where an interrupted listing resumes.
    pub checkpoint: Option<Checkpoint>,
    /// An operator asked for a fresh full listing.
    pub reset_requested: bool,
    /// Failed runs since the last success.
    pub consecutive_failures: u32,
    /// Needs a person's attention (e.g. repeated auth failures).
    pub flagged: bool,
    /// End of the last successful run, Unix seconds.
    pub last_success_unix: Option<i64>,
    /// When the scheduler should run it next, Unix seconds.
    pub next_run_unix: Option<i64>,
    /// End of the last complete (non-incremental) listing, Unix seconds.
    pub last_full_listing_unix: Option<i64>,
    /// RFC 3339 watermark passed to incremental listings.
    pub changed_since: Option<String>,
    /// Why the connection is flagged, for people (the last error that
    /// flagged it).
    pub flag_reason: Option<String>,
    /// When the scheduler retries a failed run, Unix seconds; kept here so a
    /// restarted host retries instead of waiting for the next day's slot.
    pub next_retry_unix: Option<i64>,
    /// Positions stored for the connection (kept by page commits; bounds
    /// what one connection may store).
    pub position_count: u64,
    /// Bytes of position records stored for the connection.
    pub stored_bytes: u64,
}

/// How far a run's listing got, committed with each page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The run that wrote it.
    pub run_seq: u64,
    /// The cursor for the next page; `None` before the first page.
    pub cursor: Option<String>,
    /// Pages committed so far.
    pub pages_done: u32,
    /// Whether the listing is a complete one (not incremental).
    pub full_listing: bool,
    /// When the listing this checkpoint continues started, Unix seconds: a
    /// resumed run's incremental watermark comes from it.
    #[serde(default)]
    pub listing_started_unix: i64,
    /// When the checkpoint was written, Unix seconds. An ATS cursor does not
    /// live forever: an old checkpoint is dropped instead of resumed.
    /// (0 for checkpoints written before this field existed: expired.)
    #[serde(default)]
    pub written_unix: i64,
}

/// A value the ATS owns that a user may override locally.
///
/// The sync engine writes only `ats`; users write only `local`. The latest
/// ATS value is therefore always at hand, an edit survives every sync, and
/// clearing the edit makes the field follow the ATS again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracked<T> {
    /// The value as last synced from the ATS.
    pub ats: T,
    /// A user's override, if any.
    #[serde(default)]
    pub local: Option<T>,
}

impl<T> Tracked<T> {
    /// A value straight from the ATS, not overridden.
    pub fn from_ats(ats: T) -> Self {
        Tracked { ats, local: None }
    }

    /// The value to show and use: the local edit if any, else the ATS's.
    pub fn effective(&self) -> &T {
        self.local.as_ref().unwrap_or(&self.ats)
    }
}

/// A user authorized on a position, from the ATS's hiring team.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizedUser {
    /// The ATS's id for the user.
    pub ats_id: String,
    /// Display name.
    pub name: String,
    /// Email, when the ATS gives one.
    pub email: Option<String>,
}

impl From<&AtsUser> for AuthorizedUser {
    fn from(u: &AtsUser) -> Self {
        AuthorizedUser { ats_id: u.ats_id.clone(), name: u.name.clone(), email: u.email.clone() }
    }
}

impl From<AtsUser> for AuthorizedUser {
    /// Takes the user's strings instead of copying them.
    fn from(u: AtsUser) -> Self {
        AuthorizedUser { ats_id: u.ats_id, name: u.name, email: u.email }
    }
}

/// A position's status, mapped from the ATS's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionStatus {
    /// Accepting candidates.
    Open,
    /// Closed, in the ATS or here (see [`Position::closed_reason`]).
    Closed,
    /// Not yet published in the ATS.
    Draft,
    /// Paused.
    OnHold,
    /// A status the connector could not map; the raw value.
    Other(String),
}

impl From<&JobStatus> for PositionStatus {
    fn from(s: &JobStatus) -> Self {
        match s {
            JobStatus::Open => PositionStatus::Open,
            JobStatus::Closed => PositionStatus::Closed,
            JobStatus::Draft => PositionStatus::Draft,
            JobStatus::OnHold => PositionStatus::OnHold,
            JobStatus::Other(raw) => PositionStatus::Other(raw.clone()),
        }
    }
}

/// Why a position is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// The ATS reports the job closed.
    ClosedInAts,
    /// A complete listing no longer contained the job.
    RemovedInAts,
}

/// A job synced from an ATS, as the platform shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Store-assigned id; 0 until first committed.
    pub id: u64,
    /// The owning account.
    pub account_id: String,
    /// The connection it was synced through.
    pub connection_id: String,
    /// The ATS's job code; (connection, code) maps 1:1 to a position.
    pub ats_job_code: String,
    /// Title.
    pub name: Tracked<String>,
    /// Locations, most relevant first.
    pub locations: Tracked<Vec<String>>,
    /// Description (HTML allowed).
    pub description: Tracked<String>,
    /// Users authorized on the position.
    pub authorized_users: Tracked<Vec<AuthorizedUser>>,
    /// Mapped status.
    pub status: PositionStatus,
    /// The status exactly as the ATS reported it.
    pub ats_raw_status: String,
    /// Set while closed.
    pub closed_reason: Option<CloseReason>,
    /// Shown to candidates now: the standing publication decision (a
    /// user's or a rule's, never the sync's) while the job is not closed.
    pub published: bool,
    /// Who decided on publication and why, the public id and the ad (see
    /// `publication`). Records from before it existed are migrated.
    #[serde(default)]
    pub publication: super::publication::Publication,
    /// Extra ATS fields.
    #[serde(default)]
    pub extra: BTreeMap<String, String>,
    /// Last change in the ATS (RFC 3339), when reported.
    pub ats_updated_at: Option<String>,
    /// [`job_content_hash`] of the last applied job.
    pub content_hash: String,
    /// Sequence number of the last run that applied a change from the ATS
    /// (unchanged jobs are not rewritten, so this is not "last seen").
    pub last_seen_run: u64,
    /// Creation time, Unix seconds.
    pub created_at_unix: i64,
    /// Last change by sync or user, Unix seconds.
    pub updated_at_unix: i64,
}

impl Position {
    /// Whether the position is closed (in the ATS or as removed).
    pub fn is_closed(&self) -> bool {
        self.status == PositionStatus::Closed
    }

    /// Sets the local side of one field.
    pub(crate) fn apply_edit(&mut self, edit: FieldEdit) {
        match edit {
            FieldEdit::Name(v) => self.name.local = Some(v),
            FieldEdit::Locations(v) => self.locations.local = Some(v),
            FieldEdit::Description(v) => self.description.local = Some(v),
            FieldEdit::AuthorizedUsers(v) => self.authorized_users.local = Some(v),
        }
    }

    /// Clears the local side of one field.
    pub(crate) fn clear_edit(&mut self, field: FieldName) {
        match field {
            FieldName::Name => self.name.local = None,
            FieldName::Locations => self.locations.local = None,
            FieldName::Description => self.description.local = None,
            FieldName::AuthorizedUsers => self.authorized_users.local = None,
        }
    }
}

/// A user's edit of one tracked field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldEdit {
    /// Overrides the title.
    Name(String),
    /// Overrides the locations.
    Locations(Vec<String>),
    /// Overrides the description.
    Description(String),
    /// Overrides the authorized users.
    AuthorizedUsers(Vec<AuthorizedUser>),
}

/// Names a tracked field, to clear its edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldName {
    /// The title.
    Name,
    /// The locations.
    Locations,
    /// The description.
    Description,
    /// The authorized users.
    AuthorizedUsers,
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// The connection's schedule.
    Scheduled,
    /// An operator or user.
    Manual,
    /// A schedule slot missed while the host was down.
    CatchUp,
    /// A retry after a failed run.
    Retry,
}

/// What a run has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunCounts {
    /// Pages committed.
    pub pages: u32,
    /// Jobs in those pages.
    pub jobs_seen: u64,
    /// Positions created.
    pub created: u64,
    /// Positions whose ATS values changed.
    pub updated: u64,
    /// Positions closed in the ATS.
    pub closed: u64,
    /// Jobs seen unchanged.
    pub unchanged: u64,
    /// Positions closed because the ATS no longer lists them.
    pub removed: u64,
    /// Closed positions the ATS lists open again.
    pub reopened: u64,
    /// Bytes of position records written.
    pub bytes_written: u64,
    /// Bytes (keys and values) of every record the run wrote: positions,
    /// events, index entries, its connection's state and checkpoint, its
    /// own record, cached stages (`store::write_tally`).
    pub store_bytes: u64,
}

/// How a run ended, or that it has not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Still going (or the host died during it; see
    /// [`Store::unfinished_runs`](super::Store::unfinished_runs)).
    Running,
    /// Completed.
    Succeeded,
    /// Stopped by an error.
    Failed {
        /// A short stable kind (`unauthorized`, `transient`, ...).
        kind: String,
        /// For people.
        message: String,
    },
    /// The host stopped during the run.
    Interrupted,
}

/// One sync of one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRun {
    /// The connection synced.
    pub connection_id: String,
    /// Per-connection sequence number, from 1.
    pub seq: u64,
    /// What started it.
    pub trigger: Trigger,
    /// Start time, Unix seconds.
    pub started_unix: i64,
    /// End time, Unix seconds; `None` while running.
    pub finished_unix: Option<i64>,
    /// The plugin that ran.
    pub plugin_id: String,
    /// Its version.
    pub plugin_version: String,
    /// Whether it lists all jobs (not only changed ones).
    pub full_listing: bool,
    /// Progress.
    #[serde(default)]
    pub counts: RunCounts,
    /// Result.
    pub outcome: RunOutcome,
    /// Problems that did not fail the run (the ATS stages could not be
    /// refreshed, say), for people.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What the run's plugin calls cost; `None` for a run recorded before
    /// metering existed, or one that ended before calling the plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metering: Option<super::run_metering::RunMetering>,
}
