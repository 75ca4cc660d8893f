//! Fetching pages in background tasks, retrying within the run, so the
//! plugin and the ATS work on the next page while the store commits this one.

use super::SyncError;
use super::retry::{Decision, RetryPolicy};
use crate::contract::JobPage;
use crate::runtime::{CallError, ConnectionContext, Plugin};

/// Fetches pages of one run.
pub(super) struct PageFetcher {
    pub plugin: Plugin,
    pub ctx: ConnectionContext,
    pub changed_since: Option<String>,
    pub retry: RetryPolicy,
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
pub(super) struct PendingPage(tokio::task::JoinHandle<Result<JobPage, CallError>>);

impl PendingPage {
    pub async fn join(&mut self) -> Result<JobPage, FetchError> {
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
    pub fn spawn(&self, cursor: Option<String>, page: u32) -> PendingPage {
        let (plugin, ctx, since, retry) =
            (self.plugin.clone(), self.ctx.clone(), self.changed_since.clone(), self.retry);
        PendingPage(tokio::spawn(async move {
            let mut attempt = 1;
            loop {
                let result = plugin.list_jobs(&ctx, cursor.as_deref(), since.as_deref()).await;
                crate::recording::observe_list_jobs(&ctx, cursor.as_deref(), since.as_deref(), &result);
                match result {
                    Ok(page) => return Ok(page),
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
