//! What the operator can tune about syncs, and what a caller asks of one
//! run. Every default is a named constant with its reason.

use std::time::Duration;

use crate::store::{ConnectionQuota, Trigger};

/// Pages one run may list. A 100,000-job ATS at its smallest page size seen
/// in practice (100 jobs) takes 1,000 pages; 100 times that leaves room for
/// tiny pages and still stops a listing whose cursor never ends within a
/// day, not a year.
pub const MAX_PAGES_PER_RUN: u32 = 100_000;
/// Jobs one run may receive (repeats included): ten times the largest ATS
/// this host is sized for.
pub const MAX_JOBS_PER_RUN: u64 = 1_000_000;
/// Bytes of position records one run may write. 100,000 jobs with long
/// descriptions (~20 KiB each) write about 2 GiB on a first sync.
pub const MAX_BYTES_PER_RUN: u64 = 4 << 30;
/// Positions one connection may hold: ten times a 100,000-job ATS. A plugin
/// inventing new jobs on every page stops here instead of filling the disk.
pub const MAX_POSITIONS_PER_CONNECTION: u64 = 1_000_000;
/// Bytes of position records one connection may hold (see
/// [`MAX_BYTES_PER_RUN`]; twice that, for growth over the years).
pub const MAX_BYTES_PER_CONNECTION: u64 = 8 << 30;
/// The largest share of a connection's open positions one listing may close
/// as removed without an operator's confirmation. A key that lost its job
/// permission and answers "no jobs" must not unpublish a whole board;
/// ordinary churn between two daily syncs is far below a fifth.
pub const MASS_CLOSE_SHARE: f64 = 0.20;
/// Closing this many positions at once is never a mass close, whatever the
/// share: on a board of five jobs, two filled between syncs is 40%.
pub const MASS_CLOSE_FLOOR: u64 = 3;
/// How long a checkpoint may be resumed. ATS cursors expire (minutes to
/// hours); an older checkpoint is dropped and the listing starts over,
/// instead of resuming a cursor the ATS refuses after an outage.
pub const CHECKPOINT_TTL: Duration = Duration::from_secs(6 * 60 * 60);

/// Bounds on one run and one connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunLimits {
    /// See [`MAX_PAGES_PER_RUN`].
    pub max_pages: u32,
    /// See [`MAX_JOBS_PER_RUN`].
    pub max_jobs: u64,
    /// See [`MAX_BYTES_PER_RUN`].
    pub max_bytes_per_run: u64,
    /// See [`MAX_POSITIONS_PER_CONNECTION`].
    pub max_positions_per_connection: u64,
    /// See [`MAX_BYTES_PER_CONNECTION`].
    pub max_bytes_per_connection: u64,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            max_pages: MAX_PAGES_PER_RUN,
            max_jobs: MAX_JOBS_PER_RUN,
            max_bytes_per_run: MAX_BYTES_PER_RUN,
            max_positions_per_connection: MAX_POSITIONS_PER_CONNECTION,
            max_bytes_per_connection: MAX_BYTES_PER_CONNECTION,
        }
    }
}

impl RunLimits {
    pub(crate) fn quota(&self) -> ConnectionQuota {
        ConnectionQuota { max_positions: self.max_positions_per_connection, max_bytes: self.max_bytes_per_connection }
    }
}

/// The operator's settings for the sync engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineOptions {
    /// Per-run and per-connection bounds.
    pub limits: RunLimits,
    /// See [`MASS_CLOSE_SHARE`] (0.0 to 1.0).
    pub mass_close_share: f64,
    /// See [`MASS_CLOSE_FLOOR`].
    pub mass_close_floor: u64,
    /// See [`CHECKPOINT_TTL`].
    pub checkpoint_ttl: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            limits: RunLimits::default(),
            mass_close_share: MASS_CLOSE_SHARE,
            mass_close_floor: MASS_CLOSE_FLOOR,
            checkpoint_ttl: CHECKPOINT_TTL,
        }
    }
}

/// Which listing a run asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ListingMode {
    /// Scheduled runs list everything, on-demand runs ask for changes when
    /// a watermark exists; an interrupted listing is resumed.
    #[default]
    Auto,
    /// A complete listing from the first page (notices removed jobs).
    Full,
    /// Only jobs changed since the last run (a complete listing when there
    /// is no watermark yet).
    Incremental,
}

/// What a caller asks of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// What started it.
    pub trigger: Trigger,
    /// Which listing.
    pub mode: ListingMode,
    /// An operator confirmed that this run may close more positions as
    /// removed than the mass-close guard allows.
    pub confirm_removals: bool,
}

impl RunOptions {
    /// The default run for a trigger.
    pub fn new(trigger: Trigger) -> Self {
        RunOptions { trigger, mode: ListingMode::Auto, confirm_removals: false }
    }
}
