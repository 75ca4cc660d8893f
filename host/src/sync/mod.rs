//! The one-way job sync: ATS jobs, read through a connector plugin, kept as
//! positions in the store. Never writes to the ATS.
//!
//! A run lists every page through the plugin and commits each page
//! atomically together with the cursor for the next one, so a crash at any
//! point leaves no half-applied page and the next run resumes where the
//! last commit left off. Jobs whose content hash did not change are not
//! written at all: a resync of an unchanged ATS writes only checkpoints.
//! "Removed in ATS" is concluded only at the end of a complete listing run
//! in one go; a resumed, incremental or failed listing never closes
//! anything for being absent.

mod engine;
pub mod retry;
pub mod stop;

pub use engine::{NoProgress, SyncEngine, SyncProgress};
pub use retry::RetryPolicy;
pub use stop::StopSignal;

use crate::plugin::LoadError;
use crate::runtime::CallError;
use crate::store::StoreError;

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
    #[error("listing page {page} failed: {source}")]
    Listing { page: u32, source: CallError },
    #[error("the plugin returned bad data on page {page}: {message}")]
    BadData { page: u32, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The host is shutting down; a run stopped at a page commit resumes
    /// from it on the next start.
    #[error("the host is shutting down")]
    Stopped,
}

impl SyncError {
    /// A short stable name, recorded on failed runs.
    pub fn kind(&self) -> String {
        match self {
            SyncError::UnknownConnection(_) => "unknown-connection".into(),
            SyncError::Disabled(_) => "disabled".into(),
            SyncError::Plugin(_) => "plugin".into(),
            SyncError::Listing { source, .. } => source.kind().into(),
            SyncError::BadData { .. } => "bad-data".into(),
            SyncError::Store(_) => "store".into(),
            SyncError::Stopped => "stopped".into(),
        }
    }
}
