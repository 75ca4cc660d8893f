//! Fetching pages in background tasks, retrying within the run, so the
//! plugin and the ATS work on the next page while the store commits this one.

use super::SyncError;
use super::page_replay::{PendingRecord, Replayed, Replayer};
use super::retry::{Decision, RetryPolicy};
use crate::contract::JobPage;
use crate::runtime::{CallError, ConnectionContext, Plugin};

/// Fetches pages of one run.
pub(super) struct PageFetcher {
    pub plugin: Plugin,
    pub ctx: ConnectionContext,
    pub changed_since: Option<String>,
    pub retry: RetryPolicy,
    /// Replay of unchanged pages, when the run may use it.
    pub replay: Option<std::sync::Arc<Replayer>>,
}

/// A fetched page: the plugin's answer, or (replay) a record whose
/// exchanges replayed unchanged.
pub(super) enum Fetched {
    Listed { page: JobPage, record: Option<PendingRecord> },
    Replayed(Replayed),
}

impl Fetched {
    /// How many jobs the page lists.
    pub fn jobs(&self) -> u64 {
        match self {
            Fetched::Listed { page, .. } => page.jobs.len() as u64,
            Fetched::Replayed(r) => r.record.jobs.len() as u64,
        }
    }

    /// The page's next cursor.
    pub fn next_cursor(&self) -> Option<&String> {
        match self {
            Fetched::Listed { page, .. } => page.next_cursor.as_ref(),
            Fetched::Replayed(r) => r.record.next_cursor.as_ref(),
        }
    }
}

/// Why a page could not be fetched.
pub(super) enum FetchError {
    /// The plugin's call failed for good (after retries).
    Call(CallError),
    /// The task fetching it died.
    Task(String),
}

impl FetchError {
    pub fn into_sync(self, page: u32) -> SyncError {
        match self {
            FetchError::Call(source) => SyncError::Listing { page, source },
            FetchError::Task(message) => {
                SyncError::BadData { page, message: format!("page fetch task failed: {message}") }
            }
        }
    }
}

/// A page being fetched; dropping it cancels the fetch.
pub(super) struct PendingPage(tokio::task::JoinHandle<Result<Fetched, CallError>>);

impl PendingPage {
    pub async fn join(&mut self) -> Result<Fetched, FetchError> {
        match (&mut self.0).await {
            Ok(result) => result.map_err(FetchError::Call),
            Err(e) => Err(FetchError::Task(e.to_string())),
        }
    }
}

impl Drop for PendingPage {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl PageFetcher {
    /// Fetches the page at `cursor`: from its replay record when its
    /// exchanges replay unchanged, else from the plugin.
    pub fn spawn(&self, cursor: Option<String>, page: u32) -> PendingPage {
        self.spawn_with(cursor, page, true)
    }

    /// Fetches the page at `cursor` from the plugin, never from a record
    /// (a replayed page whose jobs moved since it was recorded).
    pub fn spawn_listed(&self, cursor: Option<String>, page: u32) -> PendingPage {
        self.spawn_with(cursor, page, false)
    }

    fn spawn_with(&self, cursor: Option<String>, page: u32, may_replay: bool) -> PendingPage {
        let (plugin, ctx, since, retry) =
            (self.plugin.clone(), self.ctx.clone(), self.changed_since.clone(), self.retry);
        let replay = self.replay.clone();
        PendingPage(tokio::spawn(async move {
            // replay: a record whose exchanges answer the same is the page.
            let key = replay.as_ref().map(|r| r.key(cursor.as_deref()));
            if let (Some(replayer), Some(key), true) = (&replay, key, may_replay)
                && let Some(replayed) = replayer.try_replay(&plugin, &ctx, key).await
            {
                return Ok(Fetched::Replayed(replayed));
            }
            // end replay
            let mut attempt = 1;
            loop {
                let (result, exchanges) = match key {
                    Some(_) => plugin.list_jobs_recorded(&ctx, cursor.as_deref(), since.as_deref()).await, // replay
                    None => (plugin.list_jobs(&ctx, cursor.as_deref(), since.as_deref()).await, None),
                };
                crate::recording::observe_list_jobs(&ctx, cursor.as_deref(), since.as_deref(), &result);
                match result {
                    Ok(page) => {
                        let record = key.map(|key| PendingRecord { key, exchanges });
                        return Ok(Fetched::Listed { page, record });
                    }
                    Err(error) => match retry.decide(attempt, &error) {
                        Decision::RetryAfter(delay) => {
                            plugin.meter().retried(); // metering
                            tracing::info!(connection = %ctx.id, page, attempt, ?delay, error = %error, "retrying a page");
                            tokio::time::sleep(delay).await;
                            attempt += 1;
                        }
                        Decision::GiveUp => return Err(error),
                    },
                }
            }
        }))
    }
}

/// Whether an error on a resumed cursor means the ATS no longer accepts the
/// cursor (expired, unknown, malformed to it), so the listing should start
/// over from the first page. Credentials and capacity problems are not
/// about the cursor: starting over would fail the same way.
pub(super) fn cursor_refused(error: &CallError) -> bool {
    use crate::contract::ConnectorError;
    matches!(
        error,
        CallError::Connector {
            error: ConnectorError::Permanent(_) | ConnectorError::NotFound(_) | ConnectorError::InvalidConfig(_),
            ..
        }
    )
}
