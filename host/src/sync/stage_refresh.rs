//! Refreshing a connection's cached ATS stages through `list-stages`.
//!
//! One call without a job returns the account's stages; a connector whose
//! ATS has per-job pipelines (Greenhouse, Teamtailor) returns every job's
//! stages there, each tagged with its job code, and they are cached per job.
//! Open positions whose job was missing from that answer are then asked for
//! one by one (bounded), so a per-job pipeline is never left uncached because
//! the account-wide answer skipped it. A failure for one job is a warning,
//! not a failure of the refresh.

use std::collections::{BTreeMap, HashSet};

use crate::contract::{ConnectorError, Stage};
use crate::runtime::{CallError, ConnectionContext, Plugin};
use crate::store::{Store, StoreError};

/// The most per-job `list-stages` calls one refresh makes for jobs the
/// account-wide answer left out: each is a call into the ATS, and a daily
/// refresh must not turn into thousands of requests. Later refreshes (or a
/// refresh for one job) reach the rest.
pub const MAX_JOB_STAGE_CALLS: usize = 100;

/// The most warnings one refresh keeps: one per failing job would grow
/// with the number of jobs.
pub const MAX_REFRESH_WARNINGS: usize = 20;

/// What one refresh did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageRefresh {
    /// Whether the connector lists stages at all (`false`: it answered
    /// `unsupported`; nothing was cached).
    pub supported: bool,
    /// Whether the ATS has per-job pipelines (stages came tagged with jobs).
    pub per_job: bool,
    /// Lists cached (the account-wide one and one per job).
    pub lists: usize,
    /// Problems that did not stop the refresh (a job whose stages could not
    /// be read), at most [`MAX_REFRESH_WARNINGS`].
    pub warnings: Vec<String>,
}

impl StageRefresh {
    fn warn(&mut self, warning: String) {
        if self.warnings.len() < MAX_REFRESH_WARNINGS {
            self.warnings.push(warning);
        }
    }
}

/// Why a refresh failed as a whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// The account-wide (or the one job's) `list-stages` call failed.
    #[error("list-stages failed: {0}")]
    Call(#[from] CallError),
    /// Caching the stages failed.
    #[error("caching the ATS stages failed: {0}")]
    Store(#[from] StoreError),
    /// A store task panicked or was cancelled.
    #[error("store task failed: {0}")]
    Task(String),
}

fn unsupported(e: &CallError) -> bool {
    matches!(e, CallError::Connector { error: ConnectorError::Unsupported(_), .. })
}

async fn on_store<T: Send + 'static>(
    store: &Store,
    work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, RefreshError> {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || work(&store)).await {
        Ok(result) => Ok(result?),
        Err(e) => Err(RefreshError::Task(e.to_string())),
    }
}

/// One `list-stages` call, recorded when the run is ([`crate::recording`]).
async fn list_stages(plugin: &Plugin, ctx: &ConnectionContext, job: Option<&str>) -> Result<Vec<Stage>, CallError> {
    let result = plugin.list_stages(ctx, job).await;
    crate::recording::observe_list_stages(ctx, job, &result);
    result
}

/// Refreshes the cache of `connection_id`: every list when `only_job` is
/// `None`, else that job's pipeline only.
pub async fn refresh_stages(
    store: &Store,
    plugin: &Plugin,
    ctx: &ConnectionContext,
    connection_id: &str,
    only_job: Option<&str>,
) -> Result<StageRefresh, RefreshError> {
    let mut report = StageRefresh { supported: true, ..Default::default() };
    if let Some(job) = only_job {
        let stages = match list_stages(plugin, ctx, Some(job)).await {
            Ok(stages) => stages,
            Err(e) if unsupported(&e) => return Ok(StageRefresh::default()),
            Err(e) => return Err(e.into()),
        };
        report.per_job = stages.iter().any(|s| s.job_code.is_some());
        // Asked for one job: its answer is that job's pipeline, tagged or not.
        let (id, job) = (connection_id.to_string(), job.to_string());
        on_store(store, move |s| s.put_ats_stages(&id, Some(&job), stages)).await?;
        report.lists = 1;
        return Ok(report);
    }
    let all = match list_stages(plugin, ctx, None).await {
        Ok(stages) => stages,
        Err(e) if unsupported(&e) => return Ok(StageRefresh::default()),
        Err(e) => return Err(e.into()),
    };
    let mut groups: BTreeMap<Option<String>, Vec<Stage>> = BTreeMap::new();
    for stage in all {
        groups.entry(stage.job_code.clone()).or_default().push(stage);
    }
    report.per_job = groups.keys().any(Option::is_some);
    if !report.per_job {
        groups.entry(None).or_default();
    }
    let covered: HashSet<String> = groups.keys().flatten().cloned().collect();
    // All lists in one store call; those equal to the cache are not rewritten.
    let id = connection_id.to_string();
    let stored = on_store(store, move |s| s.put_ats_stage_lists(&id, groups.into_iter().collect())).await?;
    report.lists += stored.written + stored.unchanged;
    // One job's oversized pipeline does not stop the others.
    stored.refused.into_iter().for_each(|(_, e)| report.warn(e.to_string()));
    if report.per_job {
        let id = connection_id.to_string();
        let open: Vec<String> = on_store(store, move |s| s.open_job_codes(&id)).await?;
        let missing: Vec<String> = open.into_iter().filter(|code| !covered.contains(code)).collect();
        if missing.len() > MAX_JOB_STAGE_CALLS {
            report.warn(format!(
                "{} open jobs had no pipeline in the account-wide answer; {MAX_JOB_STAGE_CALLS} were fetched one by one",
                missing.len()
            ));
        }
        for code in missing.into_iter().take(MAX_JOB_STAGE_CALLS) {
            match list_stages(plugin, ctx, Some(&code)).await {
                Ok(stages) => {
                    let (id, job) = (connection_id.to_string(), code.clone());
                    match on_store(store, move |s| s.put_ats_stages(&id, Some(&job), stages)).await {
                        Ok(_) => report.lists += 1,
                        Err(RefreshError::Store(e @ StoreError::InvalidAtsStages { .. })) => {
                            report.warn(format!("job {}: {e}", code.escape_debug()))
                        }
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => report.warn(format!("job {}: list-stages failed: {e}", code.escape_debug())),
            }
        }
    }
    tracing::info!(
        connection = connection_id,
        lists = report.lists,
        per_job = report.per_job,
        warnings = report.warnings.len(),
        "ATS stages refreshed"
    );
    Ok(report)
}
