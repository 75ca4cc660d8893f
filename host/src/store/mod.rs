//! The durable store: accounts, connections, positions and sync runs, on
//! sled.
//!
//! # Layout
//!
//! One sled database with one tree per record kind (names in `keys`):
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `meta` | `schema_version` | `u32` big-endian |
//! | `accounts` | account id | [`Account`] |
//! | `connections` | connection id | [`Connection`] (secrets sealed) |
//! | `connection_state` | connection id | [`ConnectionState`] |
//! | `positions` | position id (`u64` BE) | [`Position`] |
//! | `job_groups` | (connection id, group: its first position id) | a group of the connection's jobs: each job's code, position id and fingerprint (closed flags and content hash, `job_entry`); keyed by the connection alone, its generation (`job_groups`) |
//! | `positions_by_connection` | (connection id, first position id) | the ids of positions one commit created (`position_index`); empty: the key's id alone |
//! | `sync_runs` | (connection id, run seq) | [`SyncRun`] |
//! | `sync_runs_unfinished` | (connection id, run seq) | empty: runs still running |
//! | `events` | event id (`u64` BE) | [`Event`] (a position event refers to a version of its position, `position_versions`), or a commit's events as one batch keyed by its first id (`event_batch`) |
//! | `position_versions` | (position id, version) | a [`Position`] as an event showed it, kept when overwritten (`position_versions`) |
//! | `events_pending` | event id | not yet fanned out to webhooks: empty (that event), or the batch's pending ids |
//! | `webhooks` | endpoint id | [`Webhook`] (signing secret sealed) |
//! | `webhook_deliveries` | (endpoint id, event id) | [`Delivery`] |
//! | `webhook_queue` | (due ms, endpoint id, event id) | empty |
//! | `hiring_stages` | account id | the account's stages and per-stage candidate counts |
//! | `ats_stages` | (connection id, account-wide or job code) | [`CachedStages`] |
//! | `stage_mappings` | connection id | [`StageMapping`] (overrides) |
//! | `candidates` | candidate id (`u64` BE) | [`Candidate`] |
//! | `candidate_resumes` | candidate id | résumé bytes, raw |
//! | `candidates_by_position` | (position id, candidate id) | empty |
//! | `candidates_by_account` | (account id, candidate id) | empty |
//! | `stage_moves` | (candidate id, move number) | [`StageMove`] |
//! | `outbox` | entry id (`u64` BE) | [`OutboxEntry`] (a push or move for the ATS) |
//! | `outbox_by_candidate` | (candidate id, entry id) | empty |
//! | `auto_push` | connection id | [`AutoPushRule`] |
//! | `public_ids` | public id | position id (`u64` BE) |
//! | `publish_rules` | connection id | [`RuleSet`] |
//!
//! Composite keys are a length-prefixed connection id followed by the rest
//! (`keys` is the one place that encodes them). Values are a format byte and
//! JSON (`codec`), except positions and position events, which have binary
//! forms of their own (`stored_position`, `event_record`). Secret settings
//! are sealed with the operator's key (`secrets`). The schema version is
//! checked and migrated on open (`schema`).
//!
//! # Consistency
//!
//! Everything the sync engine writes for one page — positions, their
//! job groups and index entries, the run record, the checkpoint — goes into
//! one multi-tree transaction ([`Store::commit_page`]), so a crash leaves the
//! page either wholly applied or not at all, and the checkpoint never points
//! past what was stored. Every write to a tree that a transaction also
//! writes goes through a transaction, as sled does not isolate transactions
//! from plain writes.
//!
//! Users own the `local` sides of tracked fields and `published`; the sync
//! engine owns the rest. Commits re-read the stored position and keep its
//! user-owned fields, so an edit made during a sync is never lost.

mod accounts;
mod admin;
mod api_keys;
pub mod backup;
mod candidate_model;
mod candidates;
mod codec;
mod commit;
mod connections;
mod content_hash; // a job's content hash (XXH3-128) and its earlier SHA-256 form
mod event_batch;
mod event_record;
mod events;
mod job_directory; // a connection's job map in memory while it syncs
mod job_entry; // a job's entry in the job map: position id and the job's fingerprint
mod job_groups; // the job map, many jobs to a record
mod key_check;
mod keys;
mod model;
#[cfg(test)]
mod ops_tests;
// Cursor pages of the API's lists.
mod outbox;
mod outbox_attempt; // the attempt under way on an outbox entry
mod page_replay; // replay of unchanged pages: the records of a listing's pages
mod page_scan; // a page's unchanged jobs told before its transaction
mod pages;
mod patch;
mod position_index; // a commit's new positions are one index entry
mod position_versions;
mod positions;
mod publication;
mod push_record;
mod run_metering;
mod runs;
mod schema;
mod secrets;
mod slug;
mod stage_cache; // the daily stage refresh: unchanged lists are not rewritten
mod stage_map;
mod stages;
mod stale_overrides; // overrides pointing at ATS stages no cached list has
mod stored_position; // positions' compact stored form, apart from their JSON
#[cfg(test)]
pub(crate) mod testutil;
mod webhooks;
mod write_tally;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sled::transaction::{ConflictableTransactionError, TransactionError};
use tracing::info;

pub use admin::{ConnectionChange, plain_settings};
pub use api_keys::ApiKey;
pub use candidate_model::{
    Candidate, MAX_RESUME_BYTES, MovedBy, NewCandidate, NewResume, Propagation, PushState, ResumeMeta, StageMove,
};
pub use candidates::{CandidateFilter, MAX_CANDIDATES_PAGE, TxResult};
pub use commit::{ConnectionQuota, PageCommit, PageResult, PositionChange};
pub use events::{CandidateEvent, Event, EventKind};
pub use key_check::RotationReport;
pub use model::{
    Account, AuthorizedUser, Checkpoint, CloseReason, Connection, ConnectionState, FieldEdit, FieldName, NewConnection,
    NewSetting, OpenedSetting, Position, PositionStatus, RunCounts, RunOutcome, StoredSetting, SyncRun, Tracked,
    Trigger, job_content_hash,
};
pub use outbox::{AutoPushRule, MAX_OUTBOX_ERROR_CHARS, MoveOutcome, OutboxEntry, OutboxKind, PushOutcome};
pub use outbox_attempt::AttemptStarted;
pub use page_replay::{MAX_PAGE_REPLAY_BYTES, PAGE_KEY_LEN, PageReplay, ReplayedJob}; // replay
pub use pages::MAX_LIST_PAGE;
pub use patch::{Change, JobPatch};
pub use positions::{MAX_POSITIONS_PAGE, PositionFilter};
pub use publication::{
    Actor, Ad, AdTemplate, Decision, MAX_PUBLIC_ID_LEN, Publication, PublicationChange, PublishRule, Question,
    QuestionKind, RuleFilter, RuleSet, SyncCause, TitlePattern,
};
pub use push_record::{MAX_PUSH_RECORDS, PropagationCost, PushRecord};
pub use run_metering::{ExportMetering, HostMetering, OTHER_HOSTS, RunMetering};
pub use runs::MAX_RUNS_PAGE;
pub use schema::CURRENT_VERSION as SCHEMA_VERSION;
pub use secrets::{EncryptedValue, SECRET_KEY_ENV, SecretError, SecretKey};
pub use stage_cache::StageListsStored;
pub use stage_map::{
    CachedStages, MAX_ATS_STAGES_PER_LIST, MappingError, MappingSource, ResolvedStage, StageIdsListed, StageMapping,
    resolve as resolve_stage_in,
};
pub use stages::{DEFAULT_STAGES, HiringStage, MAX_STAGES_PER_ACCOUNT};
pub use stale_overrides::{
    MAX_LISTS_READ_FOR_SUMMARY, ReadLists, StageLookup, StaleOverride, StaleOverrides, StoredLists, stale_overrides,
};
pub(crate) use webhooks::now_ms;
pub use webhooks::{
    Delivery, DeliveryState, MAX_WEBHOOKS_PER_ACCOUNT, Webhook, WebhookError, check_url as check_webhook_url,
};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process (a running `serve` or `demo`) holds the store.
    #[error("the store at {} is in use by another atsbridge process", path.display())]
    InUse {
        /// The store's directory.
        path: PathBuf,
    },
    /// The database could not be opened (missing permissions, ...).
    #[error("could not open the store at {}: {source}", path.display())]
    Open {
        /// Where it was looked for.
        path: PathBuf,
        /// sled's reason.
        #[source]
        source: sled::Error,
    },
    /// Reading or writing the database failed.
    #[error("store I/O failed: {0}")]
    Storage(#[from] sled::Error),
    /// The store was written by a newer atsbridge.
    #[error(
        "the store has schema version {found}, newer than the {supported} this atsbridge knows; \
         run a newer atsbridge, or restore a backup taken before the upgrade"
    )]
    SchemaTooNew {
        /// The version on disk.
        found: u32,
        /// The newest version this binary knows.
        supported: u32,
    },
    /// A schema migration step failed.
    #[error("schema migration to version {to} ({name}) failed: {reason}")]
    Migration {
        /// The version the step migrates to.
        to: u32,
        /// The step's name.
        name: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// A stored key or value does not decode.
    #[error("corrupt record in tree `{tree}` at `{key}`: {reason}")]
    Corrupt {
        /// The tree it is in.
        tree: &'static str,
        /// Its key, readable.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A record could not be encoded.
    #[error("could not encode a {what} record: {reason}")]
    Encode {
        /// The kind of record.
        what: &'static str,
        /// The encoder's reason.
        reason: String,
    },
    /// No account has this id.
    #[error("no account `{0}`")]
    UnknownAccount(String),
    /// No connection has this id.
    #[error("no connection `{0}`")]
    UnknownConnection(String),
    /// No position has this id.
    #[error("no position {0}")]
    UnknownPosition(u64),
    /// Not an IANA time zone name.
    #[error("`{time_zone}` is not an IANA time zone name (such as Europe/Paris)")]
    InvalidTimeZone {
        /// The name given.
        time_zone: String,
    },
    /// Ids derived from this name are all taken.
    #[error("no free id left for `{base}`; choose another name")]
    IdsExhausted {
        /// The slug that was tried with suffixes.
        base: String,
    },
    /// The same setting key was given twice.
    #[error("setting `{setting}` of connection `{connection}` is given more than once")]
    DuplicateSetting {
        /// The connection being created.
        connection: String,
        /// The repeated key.
        setting: String,
    },
    /// A secret setting was given but the store has no key to seal it with.
    #[error(
        "setting `{setting}` of connection `{connection}` is a secret, but no secret key is configured: \
         set {SECRET_KEY_ENV} to 64 hex characters or the base64 of 32 random bytes"
    )]
    SecretKeyMissing {
        /// The connection.
        connection: String,
        /// The secret setting.
        setting: String,
    },
    /// The configured key is not the one the store's secrets are sealed with.
    #[error(
        "the secret key (id {configured_key_id}) is not the key this store was sealed with (id {store_key_id}); \
         set {SECRET_KEY_ENV} or the key file to the store's key, or restore the store that goes with this key"
    )]
    WrongKey {
        /// The id of the store's key.
        store_key_id: String,
        /// The id of the key given.
        configured_key_id: String,
    },
    /// The store holds secrets but no key is configured.
    #[error(
        "this store holds secrets sealed with a key, but no key is configured: \
         set {SECRET_KEY_ENV} or `key-file` in the configuration"
    )]
    KeyMissing,
    /// Sealing or opening a secret failed.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A page would take a connection past what it may store; nothing of
    /// the page was written.
    #[error(
        "connection `{connection}` would store {positions} positions in {bytes} bytes, more than its limit of \
         {max_positions} positions or {max_bytes} bytes; nothing of this page was stored"
    )]
    ConnectionFull {
        /// The connection.
        connection: String,
        /// Positions it would hold with the page.
        positions: u64,
        /// Bytes it would hold with the page.
        bytes: u64,
        /// Its position limit.
        max_positions: u64,
        /// Its byte limit.
        max_bytes: u64,
    },
    /// A connection's job map changed while a commit held an earlier
    /// reading of it (the connection was deleted meanwhile); nothing was
    /// written. The next commit reads the job map again.
    #[error("the job map of connection `{connection}` changed during the commit; nothing was written")]
    StaleJobDirectory {
        /// The connection.
        connection: String,
    },
    /// A new position was committed for a job that already has one.
    #[error("job `{code}` of connection `{connection}` already maps to position {existing}")]
    DuplicateJob {
        /// The connection.
        connection: String,
        /// The ATS job code.
        code: String,
        /// The position it maps to.
        existing: u64,
    },
    /// The account has no hiring stage with this id.
    #[error("account `{account}` has no stage `{stage}`")]
    UnknownStage {
        /// The account.
        account: String,
        /// The stage id given.
        stage: String,
    },
    /// A stage that candidates are in cannot be deleted.
    #[error("stage `{stage}` of account `{account}` has {candidates} candidate(s); move them before deleting it")]
    StageInUse {
        /// The account.
        account: String,
        /// The stage.
        stage: String,
        /// Candidates in it.
        candidates: u64,
    },
    /// A change to an account's stages breaks a rule.
    #[error("invalid hiring stages for account `{account}`: {reason}")]
    InvalidStages {
        /// The account.
        account: String,
        /// The rule broken.
        reason: String,
    },
    /// An ATS stage list (or an override's ATS stage id) breaks a limit.
    #[error("invalid ATS stages for connection `{connection}`: {reason}")]
    InvalidAtsStages {
        /// The connection.
        connection: String,
        /// The limit broken.
        reason: String,
    },
    /// No candidate has this id.
    #[error("no candidate {0}")]
    UnknownCandidate(u64),
    /// The candidate is already in the ATS; it is not pushed again.
    #[error("candidate {candidate} is already in the ATS (ATS candidate {ats_candidate_id})")]
    AlreadyPushed {
        /// The candidate.
        candidate: u64,
        /// Its id in the ATS.
        ats_candidate_id: String,
    },
    /// A candidate's fields break a rule; nothing was stored.
    #[error("invalid candidate: {reason}")]
    InvalidCandidate {
        /// The rule broken.
        reason: String,
    },
    /// The candidate is already in the stage it is moved to.
    #[error("candidate {candidate} is already in stage `{stage}`")]
    AlreadyInStage {
        /// The candidate.
        candidate: u64,
        /// The stage.
        stage: String,
    },
    /// The candidate has no move with this number.
    #[error("candidate {candidate} has no stage move {seq}")]
    UnknownMove {
        /// The candidate.
        candidate: u64,
        /// The move number.
        seq: u64,
    },
    /// A commit broke one of the store's rules; nothing of it was written.
    #[error("rejected commit for connection `{connection}`: {reason}")]
    InvalidCommit {
        /// The connection committed for.
        connection: String,
        /// The rule broken.
        reason: String,
    },
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => StoreError::Storage(e),
        }
    }
}

impl From<keys::KeyError> for StoreError {
    fn from(e: keys::KeyError) -> Self {
        StoreError::Corrupt { tree: e.tree, key: "<undecodable key>".into(), reason: e.reason.into() }
    }
}

/// Aborts a sled transaction with a store error.
fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

/// The current time in Unix seconds (0 if the clock is before 1970).
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Reads and decodes the record at `key` of `tree` (named `name`).
fn read<T: serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    name: &'static str,
    key: &[u8],
    shown: impl std::fmt::Display,
) -> Result<Option<T>, StoreError> {
    tree.get(key)?.map(|bytes| codec::decode(name, shown, &bytes)).transpose()
}

/// Decodes every record of a tree whose keys are ids, in id order.
fn read_all<T: serde::de::DeserializeOwned>(tree: &sled::Tree, name: &'static str) -> Result<Vec<T>, StoreError> {
    tree.iter()
        .map(|entry| {
            let (key, bytes) = entry?;
            codec::decode(name, keys::decode_id(name, &key)?, &bytes)
        })
        .collect()
}

/// Whether another process holds the lock sled takes on `<path>/db`.
///
/// sled reports a held lock only as an I/O error of kind `Other` with a
/// message; after a failed open, the lock is probed directly and the typed
/// answer (`WouldBlock`) decides. Probing takes the same advisory lock sled
/// takes (flock), and releases it at once.
fn held_by_another_process(path: &Path) -> bool {
    let Ok(file) = std::fs::OpenOptions::new().read(true).write(true).open(path.join("db")) else {
        return false;
    };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

/// How long an open waits for a lock held by a handle that is closing.
/// sled lets go of its file only when its last background thread has
/// dropped the database, a moment after the handle itself is gone (and
/// after the close-time settling open, see [`Settle`]); on a loaded
/// machine that moment stretches to hundreds of milliseconds. A command
/// run right after another one ends, or a restart, waits it out; a store
/// really in use by a running host is still refused, after this wait.
const OPEN_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// How often a held lock is probed again while waiting.
const OPEN_LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(25);

/// Opens sled at `path`; a lock still held after [`OPEN_LOCK_WAIT`] is
/// [`StoreError::InUse`].
fn open_waiting_for_lock(path: &Path) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + OPEN_LOCK_WAIT;
    loop {
        match sled::Config::new().path(path).cache_capacity(CACHE_BYTES).open() {
            Ok(db) => return Ok(db),
            Err(source) if !held_by_another_process(path) => {
                return Err(StoreError::Open { path: path.to_path_buf(), source });
            }
            Err(_) if std::time::Instant::now() >= deadline => {
                return Err(StoreError::InUse { path: path.to_path_buf() });
            }
            Err(_) => std::thread::sleep(OPEN_LOCK_POLL),
        }
    }
}

/// One handle per tree; sled trees are reference-counted, so this clones
/// cheaply.
#[derive(Clone)]
struct Trees {
    accounts: sled::Tree,
    connections: sled::Tree,
    state: sled::Tree,
    positions: sled::Tree,
    job_groups: sled::Tree,
    by_connection: sled::Tree,
    runs: sled::Tree,
    runs_unfinished: sled::Tree,
    events: sled::Tree,
    events_pending: sled::Tree,
    webhooks: sled::Tree,
    webhook_deliveries: sled::Tree,
    webhook_queue: sled::Tree,
    hiring_stages: sled::Tree,
    ats_stages: sled::Tree,
    stage_mappings: sled::Tree,
    candidates: sled::Tree,
    candidate_resumes: sled::Tree,
    candidates_by_position: sled::Tree,
    candidates_by_account: sled::Tree,
    stage_moves: sled::Tree,
    outbox: sled::Tree,
    outbox_by_candidate: sled::Tree,
    auto_push: sled::Tree,
    position_versions: sled::Tree,
}

impl Trees {
    fn open(db: &sled::Db) -> Result<Trees, StoreError> {
        Ok(Trees {
            accounts: db.open_tree(keys::ACCOUNTS)?,
            connections: db.open_tree(keys::CONNECTIONS)?,
            state: db.open_tree(keys::CONNECTION_STATE)?,
            positions: db.open_tree(keys::POSITIONS)?,
            job_groups: db.open_tree(keys::JOB_GROUPS)?,
            by_connection: db.open_tree(keys::POSITIONS_BY_CONNECTION)?,
            runs: db.open_tree(keys::SYNC_RUNS)?,
            runs_unfinished: db.open_tree(keys::SYNC_RUNS_UNFINISHED)?,
            events: db.open_tree(keys::EVENTS)?,
            events_pending: db.open_tree(keys::EVENTS_PENDING)?,
            webhooks: db.open_tree(keys::WEBHOOKS)?,
            webhook_deliveries: db.open_tree(keys::WEBHOOK_DELIVERIES)?,
            webhook_queue: db.open_tree(keys::WEBHOOK_QUEUE)?,
            hiring_stages: db.open_tree(keys::HIRING_STAGES)?,
            ats_stages: db.open_tree(keys::ATS_STAGES)?,
            stage_mappings: db.open_tree(keys::STAGE_MAPPINGS)?,
            candidates: db.open_tree(keys::CANDIDATES)?,
            candidate_resumes: db.open_tree(keys::CANDIDATE_RESUMES)?,
            candidates_by_position: db.open_tree(keys::CANDIDATES_BY_POSITION)?,
            candidates_by_account: db.open_tree(keys::CANDIDATES_BY_ACCOUNT)?,
            stage_moves: db.open_tree(keys::STAGE_MOVES)?,
            outbox: db.open_tree(keys::OUTBOX)?,
            outbox_by_candidate: db.open_tree(keys::OUTBOX_BY_CANDIDATE)?,
            auto_push: db.open_tree(keys::AUTO_PUSH)?,
            position_versions: db.open_tree(keys::POSITION_VERSIONS)?,
        })
    }
}

/// sled's page cache. Its default (1 GiB) would make a host with 100,000
/// positions hold most of them in memory; a sync reads each position once
/// per run, so a modest cache loses little.
const CACHE_BYTES: u64 = 128 << 20;

/// Runs kept per connection unless configured otherwise: months of daily
/// runs, a few hundred KiB per connection.
pub const DEFAULT_RUNS_KEPT: usize = 100;

/// The store. Cheap to clone; clones share the database.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    trees: Trees,
    key: Option<Arc<SecretKey>>,
    /// Writers hold it shared, a backup holds it exclusively while it
    /// copies the trees, so a backup never sees half of a multi-tree
    /// commit (sled does not isolate iteration from transactions).
    gate: Arc<std::sync::RwLock<()>>,
    /// Finished runs kept per connection; older ones are pruned.
    runs_kept: usize,
    /// Held while event ids are drawn (see `event_batch`).
    event_ids_lock: Arc<std::sync::Mutex<()>>,
    /// The job maps of connections being synced (`job_directory`).
    job_directories: Arc<job_directory::JobDirectories>,
    /// Declared last: dropped after `db` and `trees`, so when the last
    /// clone goes, sled has closed before it runs.
    _settle: Arc<Settle>,
}

/// When the last handle of a store that wrote closes: opens the database
/// once more and closes it, which makes sled fold the log the writer left
/// into a new snapshot file. The next open (often a read-only command)
/// then has nothing to recover and writes nothing; without this, that
/// command would write the snapshot (tens of megabytes after a large
/// sync). Writes are told by the log file changing since the open.
struct Settle {
    path: PathBuf,
    log_at_open: Option<(u64, std::time::SystemTime)>,
}

/// The size and modification time of sled's log file, `<path>/db`.
fn log_state(path: &Path) -> Option<(u64, std::time::SystemTime)> {
    let meta = std::fs::metadata(path.join("db")).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

impl Drop for Settle {
    fn drop(&mut self) {
        // Unchanged, or gone (its directory was removed first): opening
        // would only create an empty database there.
        let now = log_state(&self.path);
        if now.is_none() || now == self.log_at_open {
            return;
        }
        // Another handle of this database still open (a clone of a tree
        // kept elsewhere) holds sled's lock: the next open settles instead.
        match sled::Config::new().path(&self.path).cache_capacity(CACHE_BYTES).open() {
            Ok(db) => {
                drop(db);
                tracing::debug!(path = %self.path.display(), "store log folded into a snapshot at close");
            }
            Err(e) => tracing::debug!(path = %self.path.display(), error = %e, "store not settled at close"),
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("secret_key", &self.key.as_ref().map(|_| "<set>")).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (or creates) the store at `path` and brings its schema up to
    /// date. `key` seals and opens secret settings; without it, connections
    /// with secrets can be listed but not created or used.
    ///
    /// Fails with [`StoreError::SchemaTooNew`] on a store written by a newer
    /// atsbridge, leaving it untouched.
    pub fn open(path: &Path, key: Option<SecretKey>) -> Result<Store, StoreError> {
        let db = open_waiting_for_lock(path)?;
        let version = schema::migrate(&db, schema::MIGRATIONS)?;
        key_check::check_or_adopt(&db, key.as_ref())?;
        let trees = Trees::open(&db)?;
        // After the open's own writes (migrations, the key check) are
        // durable: only what this handle writes from here on is settled.
        db.flush()?;
        let settle = Arc::new(Settle { path: path.to_path_buf(), log_at_open: log_state(path) });
        info!(path = %path.display(), schema_version = version, secret_key = key.is_some(), "store opened");
        Ok(Store {
            db,
            trees,
            key: key.map(Arc::new),
            gate: Arc::default(),
            runs_kept: DEFAULT_RUNS_KEPT,
            event_ids_lock: Arc::default(),
            job_directories: Arc::default(),
            _settle: settle,
        })
    }

    /// Keeps at most `n` finished runs per connection (at least 1).
    pub fn with_runs_kept(mut self, n: usize) -> Store {
        self.runs_kept = n.max(1);
        self
    }

    /// Held by a write for its duration: shared among writers, exclusive
    /// for a backup. Never held across an `.await`.
    pub(crate) fn write_gate(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        // A poisoned gate only means a writer panicked; the data is sled's.
        self.gate.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes everything buffered to disk. sled also flushes on its own
    /// every half second; call this where a write must be durable now.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// The database's size on disk, in bytes.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_from_a_newer_atsbridge_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path(), None).unwrap());
        {
            let db = testutil::reopen_db(dir.path());
            db.open_tree(keys::META).unwrap().insert(keys::SCHEMA_VERSION_KEY, &99u32.to_be_bytes()).unwrap();
            db.flush().unwrap();
        }
        let err = Store::open(dir.path(), None).unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { found: 99, supported: SCHEMA_VERSION }), "{err}");
        assert!(err.to_string().contains("newer atsbridge"), "{err}");
    }

    #[test]
    fn a_store_held_by_another_process_is_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), None).unwrap();
        // The probe's answer comes from the lock, not from sled's message:
        // a lock held through another open file description is "in use".
        let err = Store::open(dir.path(), None).unwrap_err();
        assert!(matches!(err, StoreError::InUse { .. }), "{err:?}");
        drop(store);
        // A directory sled cannot open for another reason is not "in use".
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"x").unwrap();
        let err = Store::open(&file, None).unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    }

    #[test]
    fn an_open_waits_for_a_handle_that_is_letting_go() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path(), None).unwrap());
        // A handle still holding the lock for a moment, as sled's last
        // background thread does after its database was dropped.
        let held = testutil::reopen_db(dir.path());
        let letting_go = std::thread::spawn(move || {
            std::thread::sleep(OPEN_LOCK_WAIT / 6);
            drop(held);
        });
        let started = std::time::Instant::now();
        let store = Store::open(dir.path(), None);
        letting_go.join().unwrap();
        assert!(store.is_ok(), "{:?}", store.err());
        assert!(started.elapsed() >= OPEN_LOCK_WAIT / 6, "the lock was held: the open must have waited");
    }

    #[test]
    fn a_store_reopens_at_the_current_version_and_reports_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), None).unwrap();
        store.add_account("Acme", "UTC").unwrap();
        store.flush().unwrap();
        assert!(store.size_on_disk().unwrap() > 0);
        drop(store);
        let store = Store::open(dir.path(), None).unwrap();
        assert_eq!(schema::stored_version(&store.db).unwrap(), SCHEMA_VERSION);
        assert_eq!(store.accounts().unwrap().len(), 1);
    }
}
