//! Refreshing a connection's cached ATS stages through `list-stages`.
//!
//! Two ways an ATS's pipelines can be per job:
//! - the connector returns every job's stages from the account-wide call,
//!   each tagged with its job code (Greenhouse, Teamtailor); they are cached
//!   per job, and open jobs missing from that answer are asked for one by
//!   one;
//! - the plugin's manifest declares `stages.per-job` (SmartRecruiters' hiring
//!   processes, Ashby's interview plans), because one call cannot list every
//!   job's pipeline. The account-wide call is then skipped (its answer is no
//!   job's pipeline, and Ashby's repeats stage names across plans with
//!   different ids, so a by-name mapping against it would pick the wrong
//!   plan's stage) and a previously cached account-wide list is dropped;
//!   every open job is asked for its own.
//!
//! Per-job calls are bounded per refresh ([`MAX_JOB_STAGE_CALLS`]) and go to
//! the jobs never cached first, then to those cached longest ago
//! ([`plan_job_calls`]), so a connection with more open jobs than the bound
//! has every job's pipeline cached after a few daily refreshes. A failure
//! for one job is a warning; a rate-limited answer ends the per-job calls
//! politely (the rest wait for the next refresh), neither fails the refresh.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::contract::{ConnectorError, Stage};
use crate::runtime::{CallError, ConnectionContext, Plugin};
use crate::store::{CachedStages, Store, StoreError};

/// The most per-job `list-stages` calls one refresh makes: each is a call
/// into the ATS (SmartRecruiters: two requests, Ashby: two), and a daily
/// refresh must not turn into thousands of requests. Later refreshes (or a
/// refresh for one job) reach the rest, oldest first.
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
    /// Whether the ATS has per-job pipelines (declared in the manifest, or
    /// stages came tagged with jobs).
    pub per_job: bool,
    /// Lists cached (the account-wide one and one per job).
    pub lists: usize,
    /// Jobs whose own pipeline was fetched and cached by this refresh.
    pub jobs_fetched: usize,
    /// Open jobs whose pipeline was not fetched this time (over the bound,
    /// or after the ATS rate-limited us); the next refresh starts with them.
    pub jobs_left: usize,
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

fn rate_limited(e: &CallError) -> bool {
    matches!(e, CallError::Connector { error: ConnectorError::RateLimited(_), .. })
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

/// Which open jobs to ask for their pipeline, in order, and how many are
/// left for a later refresh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCallPlan {
    /// At most the bound, never-cached jobs first, then the oldest cached.
    pub jobs: Vec<String>,
    /// Open jobs that needed a call but are over the bound.
    pub left: usize,
}

/// Chooses the open jobs whose pipeline one refresh fetches: every open job
/// not in `fresh` (just cached from the account-wide answer), those never
/// cached first (by job code), then by when they were cached, oldest first,
/// at most `limit`. `fetched_at` maps a job code to its cache's Unix time.
pub fn plan_job_calls(
    open: impl IntoIterator<Item = String>,
    fetched_at: &HashMap<String, i64>,
    fresh: &HashSet<String>,
    limit: usize,
) -> JobCallPlan {
    let mut seen = HashSet::new();
    let mut due: Vec<(Option<i64>, String)> = open
        .into_iter()
        .filter(|code| !fresh.contains(code) && seen.insert(code.clone()))
        .map(|code| (fetched_at.get(&code).copied(), code))
        .collect();
    // `None` (never cached) sorts before every time.
    due.sort();
    let left = due.len().saturating_sub(limit);
    JobCallPlan { jobs: due.into_iter().take(limit).map(|(_, code)| code).collect(), left }
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
    let declared = plugin.manifest().stages.per_job;
    let mut report = StageRefresh { supported: true, per_job: declared, ..Default::default() };
    if let Some(job) = only_job {
        // Asked for one job: its answer is that job's pipeline, tagged or not.
        let Some(cached) = one_job(store, plugin, ctx, connection_id, job, |_| true).await? else {
            return Ok(StageRefresh::default());
        };
        report.per_job |= cached.stages.iter().any(|s| s.job_code.is_some());
        report.lists = 1;
        report.jobs_fetched = 1;
        return Ok(report);
    }
    let fresh = if declared {
        let id = connection_id.to_string();
        on_store(store, move |s| s.remove_ats_stages(&id, None)).await?;
        HashSet::new()
    } else {
        match account_wide(store, plugin, ctx, connection_id, &mut report).await? {
            Some(fresh) => fresh,
            None => return Ok(StageRefresh::default()),
        }
    };
    if report.per_job && !per_job_calls(store, plugin, ctx, connection_id, &fresh, &mut report).await? {
        return Ok(StageRefresh::default());
    }
    tracing::info!(
        connection = connection_id,
        lists = report.lists,
        per_job = report.per_job,
        jobs_fetched = report.jobs_fetched,
        jobs_left = report.jobs_left,
        warnings = report.warnings.len(),
        "ATS stages refreshed"
    );
    Ok(report)
}

/// Reads one job's stages and caches them, as that job's pipeline when
/// `per_job(answer)` says so, else as the connection's account-wide list;
/// `None` when the connector lists no stages.
async fn one_job(
    store: &Store,
    plugin: &Plugin,
    ctx: &ConnectionContext,
    connection_id: &str,
    job: &str,
    per_job: impl FnOnce(&[Stage]) -> bool,
) -> Result<Option<CachedStages>, RefreshError> {
    let stages = match list_stages(plugin, ctx, Some(job)).await {
        Ok(stages) => stages,
        Err(e) if unsupported(&e) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let slot = per_job(&stages).then(|| job.to_string());
    let id = connection_id.to_string();
    let (cached, bytes) = on_store(store, move |s| s.put_ats_stages_counted(&id, slot.as_deref(), stages)).await?;
    plugin.meter().stored(bytes); // metering: the cached list counts in the run's (or push's) store bytes
    Ok(Some(cached))
}

/// Whether one job's `list-stages` answer is that job's own pipeline: the
/// manifest declares per-job pipelines, or the connector tagged the stages
/// with jobs. Otherwise (Lever, BambooHR) the ATS has one pipeline for
/// every job and answered it.
pub fn answer_is_per_job(declared: bool, stages: &[Stage]) -> bool {
    declared || stages.iter().any(|s| s.job_code.is_some())
}

/// Reads and caches the pipeline of one job a push needs now (its stages
/// were never fetched: a job newer than the last refresh, or past its
/// bound), with the refresh's checks and cache. An ATS with one pipeline
/// for all jobs answers that one, cached as the account-wide list, so it
/// never shadows later refreshes of that list. `None` when the connector
/// lists no stages.
pub async fn fetch_job_pipeline(
    store: &Store,
    plugin: &Plugin,
    ctx: &ConnectionContext,
    connection_id: &str,
    job: &str,
) -> Result<Option<CachedStages>, RefreshError> {
    let declared = plugin.manifest().stages.per_job;
    let cached = one_job(store, plugin, ctx, connection_id, job, |stages| answer_is_per_job(declared, stages)).await?;
    if let Some(list) = &cached {
        tracing::info!(
            connection = connection_id,
            job,
            per_job = list.job_code.is_some(),
            stages = list.stages.len(),
            "ATS stages read for a push"
        );
    }
    Ok(cached)
}

/// The account-wide call: caches its answer (per job when tagged) and
/// returns the jobs it covered; `None` when the connector lists no stages.
async fn account_wide(
    store: &Store,
    plugin: &Plugin,
    ctx: &ConnectionContext,
    connection_id: &str,
    report: &mut StageRefresh,
) -> Result<Option<HashSet<String>>, RefreshError> {
    let all = match list_stages(plugin, ctx, None).await {
        Ok(stages) => stages,
        Err(e) if unsupported(&e) => return Ok(None),
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
    let tagged = groups.keys().filter(|job| job.is_some()).count();
    // All lists in one store call; those equal to the cache are not rewritten.
    let id = connection_id.to_string();
    let stored = on_store(store, move |s| s.put_ats_stage_lists(&id, groups.into_iter().collect())).await?;
    plugin.meter().stored(stored.bytes_written); // metering: the lists written count in the run's store bytes
    report.lists += stored.written + stored.unchanged;
    report.jobs_fetched += tagged - stored.refused.iter().filter(|(job, _)| job.is_some()).count();
    // One job's oversized pipeline does not stop the others.
    stored.refused.into_iter().for_each(|(_, e)| report.warn(e.to_string()));
    Ok(Some(covered))
}

/// Asks open jobs not in `fresh` for their own pipeline, within the bound,
/// oldest cache first. Returns `false` when the connector turned out not to
/// list stages (its first answer was `unsupported`).
async fn per_job_calls(
    store: &Store,
    plugin: &Plugin,
    ctx: &ConnectionContext,
    connection_id: &str,
    fresh: &HashSet<String>,
    report: &mut StageRefresh,
) -> Result<bool, RefreshError> {
    let id = connection_id.to_string();
    let fresh_jobs = fresh.clone();
    let (open, fetched_at) = on_store(store, move |s| {
        // Read by status only, and the cache's ages only when some open job
        // still needs a call (an ATS that tags every job needs none).
        let open: Vec<String> = s.open_job_codes(&id)?.into_iter().filter(|c| !fresh_jobs.contains(c)).collect();
        if open.is_empty() {
            return Ok((open, HashMap::new()));
        }
        let fetched_at: HashMap<String, i64> = s
            .ats_stage_lists(&id)?
            .into_iter()
            .filter_map(|list| list.job_code.map(|job| (job, list.fetched_at_unix)))
            .collect();
        Ok((open, fetched_at))
    })
    .await?;
    let plan = plan_job_calls(open, &fetched_at, fresh, MAX_JOB_STAGE_CALLS);
    report.jobs_left = plan.left;
    if plan.left > 0 {
        report.warn(format!(
            "{} open jobs' pipelines are left for the next refresh (at most {MAX_JOB_STAGE_CALLS} per refresh, \
             oldest first)",
            plan.left
        ));
    }
    let total = plan.jobs.len();
    for (done, code) in plan.jobs.into_iter().enumerate() {
        let stages = match list_stages(plugin, ctx, Some(&code)).await {
            Ok(stages) => stages,
            Err(e) if unsupported(&e) && report.lists == 0 && done == 0 => return Ok(false),
            Err(e) if rate_limited(&e) => {
                let rest = total - done;
                report.jobs_left += rest;
                report.warn(format!(
                    "the ATS rate-limited the stage listing; {rest} job(s) left for the next refresh: {e}"
                ));
                break;
            }
            Err(e) => {
                report.warn(format!("job {}: list-stages failed: {e}", code.escape_debug()));
                continue;
            }
        };
        let (id, job) = (connection_id.to_string(), code.clone());
        match on_store(store, move |s| s.put_ats_stages_counted(&id, Some(&job), stages)).await {
            Ok((_, bytes)) => {
                plugin.meter().stored(bytes); // metering: the cached list counts in the run's store bytes
                report.lists += 1;
                report.jobs_fetched += 1;
            }
            Err(RefreshError::Store(e @ StoreError::InvalidAtsStages { .. })) => {
                report.warn(format!("job {}: {e}", code.escape_debug()))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_jobs_answer_is_its_own_pipeline_when_declared_or_tagged() {
        let stage = |job: Option<&str>| Stage {
            id: "1".into(),
            name: "New".into(),
            position: 0,
            job_code: job.map(Into::into),
        };
        assert!(answer_is_per_job(true, &[stage(None)]), "declared per job");
        assert!(answer_is_per_job(false, &[stage(Some("J1"))]), "tagged with its job");
        assert!(!answer_is_per_job(false, &[stage(None)]), "one pipeline for all jobs");
        assert!(!answer_is_per_job(false, &[]));
    }

    #[test]
    fn never_cached_jobs_go_first_then_the_oldest_within_the_bound() {
        let fetched = HashMap::from([("A".to_string(), 300), ("B".to_string(), 100), ("C".to_string(), 200)]);
        let plan = plan_job_calls(codes(&["A", "B", "C", "E", "D"]), &fetched, &HashSet::new(), 4);
        assert_eq!(plan.jobs, codes(&["D", "E", "B", "C"]), "never cached (by code), then oldest first");
        assert_eq!(plan.left, 1, "A, the freshest, waits");
    }

    #[test]
    fn jobs_just_cached_and_repeated_codes_are_not_asked_again() {
        let fresh = HashSet::from(["A".to_string()]);
        let plan = plan_job_calls(codes(&["A", "B", "B", "C"]), &HashMap::new(), &fresh, 10);
        assert_eq!(plan, JobCallPlan { jobs: codes(&["B", "C"]), left: 0 });
        let none = plan_job_calls(codes(&["A"]), &HashMap::new(), &fresh, 10);
        assert_eq!(none, JobCallPlan { jobs: Vec::new(), left: 0 });
    }

    #[test]
    fn over_several_refreshes_every_open_job_is_cached() {
        // 250 open jobs, 100 calls a refresh: after three refreshes every
        // job has its pipeline, and the fourth refreshes the oldest.
        let open: Vec<String> = (0..250).map(|n| format!("J{n:03}")).collect();
        let mut fetched: HashMap<String, i64> = HashMap::new();
        for day in 1..=3 {
            let plan = plan_job_calls(open.clone(), &fetched, &HashSet::new(), MAX_JOB_STAGE_CALLS);
            assert!(plan.jobs.len() <= MAX_JOB_STAGE_CALLS);
            let uncached = open.iter().filter(|j| !fetched.contains_key(*j)).count();
            let leading = plan.jobs.iter().take_while(|j| !fetched.contains_key(*j)).count();
            assert_eq!(leading, uncached.min(plan.jobs.len()), "day {day}: never-cached jobs first");
            for job in plan.jobs {
                fetched.insert(job, day);
            }
        }
        assert_eq!(fetched.len(), open.len(), "every open job cached after three refreshes");
        let plan = plan_job_calls(open.clone(), &fetched, &HashSet::new(), MAX_JOB_STAGE_CALLS);
        let chosen: HashSet<&String> = plan.jobs.iter().collect();
        let newest_chosen = plan.jobs.iter().map(|j| fetched[j]).max();
        let oldest_left = open.iter().filter(|j| !chosen.contains(j)).map(|j| fetched[j]).min();
        assert!(newest_chosen <= oldest_left, "day 4 refreshes the oldest: {newest_chosen:?} {oldest_left:?}");
        assert_eq!(plan.jobs.iter().filter(|j| fetched[*j] == 1).count(), 50, "day 1's leftovers first");
        assert_eq!(plan.left, 150);
    }
}
