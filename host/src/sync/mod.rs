//! The one-way job sync: ATS jobs, read through a connector plugin, kept as
//! positions in the store. Never writes to the ATS.
//!
//! A run lists every page through the plugin and commits each page
//! atomically together with the cursor for the next one, so a crash at any
//! point leaves no half-applied page and the next run resumes where the
//! last commit left off (within [`CHECKPOINT_TTL`]). Jobs whose content
//! hash did not change are not written at all: a resync of an unchanged ATS
//! writes only checkpoints. "Removed in ATS" is concluded only at the end of
//! a complete listing that ran whole in this run, and only within the
//! mass-close guard; a resumed, incremental or failed listing never closes
//! anything for being absent.
//!
//! Store work (reads, decoding, commits) runs on tokio's blocking pool, off
//! the async workers that drive plugin calls and the HTTP API.

mod engine;
mod fetch;
mod in_flight;
mod metering;
mod options;
mod page_replay; // replay of unchanged pages
mod plan;
pub mod retry;
pub mod stage_refresh;
pub mod stop;

pub use engine::{NoProgress, SyncEngine, SyncProgress};
pub use in_flight::InFlight;
pub use options::{
    CHECKPOINT_TTL, EngineOptions, ListingMode, MASS_CLOSE_FLOOR, MASS_CLOSE_SHARE, MAX_BYTES_PER_CONNECTION,
    MAX_BYTES_PER_RUN, MAX_JOBS_PER_RUN, MAX_PAGES_PER_RUN, MAX_POSITIONS_PER_CONNECTION, RunLimits, RunOptions,
};
pub use retry::RetryPolicy;
pub use stop::StopSignal;

use crate::plugin::LoadError;
use crate::runtime::CallError;
use crate::store::StoreError;

/// Which per-run bound a run hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunBound {
    /// Pages listed.
    Pages,
    /// Jobs received.
    Jobs,
    /// Bytes of positions written.
    Bytes,
}

impl std::fmt::Display for RunBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RunBound::Pages => "pages",
            RunBound::Jobs => "jobs",
            RunBound::Bytes => "bytes written",
        })
    }
}

/// Why a sync could not run or did not finish. Every failure after the run
/// started is also recorded on the run itself.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    #[error("connection `{0}` does not exist")]
    UnknownConnection(String),
    #[error("connection `{0}` is disabled")]
    Disabled(String),
    #[error("cannot load the connection's plugin: {0}")]
    Plugin(#[from] LoadError),
    #[error("connection `{connection}` has an invalid extra host: {source}")]
    InvalidExtraHost {
        connection: String,
        #[source]
        source: crate::plugin::allowed_hosts::PatternError,
    },
    #[error("listing page {page} failed: {source}")]
    Listing { page: u32, source: CallError },
    #[error("the plugin returned bad data on page {page}: {message}")]
    BadData { page: u32, message: String },
    #[error("the listing came back to cursor `{cursor}` on page {page}; it would never end")]
    CursorCycle { page: u32, cursor: String },
    #[error("the run stopped at its bound of {limit} {bound} (page {page}); what was committed so far is kept")]
    RunBound { bound: RunBound, limit: u64, page: u32 },
    #[error(
        "the listing would close {closing} of {open} open positions as removed from the ATS{}; nothing was closed \
         and the connection is flagged. If the ATS really removed them, confirm with \
         `atsbridge connection sync {connection} --full --confirm-removals`",
        if *.empty_listing { " (the listing was empty)" } else { "" }
    )]
    MassClose { connection: String, closing: u64, open: u64, empty_listing: bool },
    #[error("a store task failed: {0}")]
    StoreTask(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The host is shutting down; a run stopped at a page commit resumes
    /// from it on the next start.
    #[error("the host is shutting down")]
    Stopped,
}

impl SyncError {
    /// A short stable name, recorded on failed runs.
    pub fn kind(&self) -> &'static str {
        match self {
            SyncError::UnknownConnection(_) => "unknown-connection",
            SyncError::Disabled(_) => "disabled",
            SyncError::Plugin(_) => "plugin",
            SyncError::InvalidExtraHost { .. } => "invalid-config",
            SyncError::Listing { source, .. } => source.kind(),
            SyncError::BadData { .. } => "bad-data",
            SyncError::CursorCycle { .. } => "cursor-cycle",
            SyncError::RunBound { .. } => "run-bound",
            SyncError::MassClose { .. } => "mass-close",
            SyncError::StoreTask(_) | SyncError::Store(_) => "store",
            SyncError::Stopped => "stopped",
        }
    }

    /// Worth retrying within the hour: the ATS was busy or down, or the
    /// host stopped the run for a shutdown (never a reason to flag). Bad
    /// credentials, bad data and guards wait for a person.
    pub fn is_retryable(&self) -> bool {
        use crate::contract::ConnectorError;
        match self {
            SyncError::Stopped => true,
            SyncError::Listing { source, .. } => matches!(
                source,
                CallError::Timeout { .. }
                    | CallError::Connector { error: ConnectorError::Transient(_) | ConnectorError::RateLimited(_), .. }
            ),
            _ => false,
        }
    }

    /// Needs a person before the next run can help: the connection is
    /// flagged at once, not after repeated failures.
    pub fn flags_connection(&self) -> bool {
        matches!(self, SyncError::MassClose { .. } | SyncError::RunBound { .. } | SyncError::CursorCycle { .. })
            || matches!(self, SyncError::Store(StoreError::ConnectionFull { .. }))
    }
}
