//! Running one sync of one connection.

use std::collections::HashSet;
use std::time::Duration;

use super::SyncError;
use super::retry::{Decision, RetryPolicy};
use crate::contract::{Job, JobPage};
use crate::runtime::{ConnectionContext, Plugin, Runtime};
use crate::store::{
    Checkpoint, Connection, ConnectionState, PageCommit, Position, RunCounts, RunOutcome, Store, SyncRun, Trigger,
};

/// A listing that returns more pages than this is assumed to be looping.
const MAX_PAGES: u32 = 1_000_000;
/// A page that changed nothing is checkpointed at most this often: an
/// unchanged resync then writes almost nothing, and a crash re-lists at most
/// this much already-applied (unchanged) data.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(2);
/// The incremental watermark is set this far before the run's start, so a
/// job changed while the previous run listed it is picked up again.
const WATERMARK_OVERLAP: Duration = Duration::from_secs(10 * 60);

/// Receives progress while a run goes (for progress bars).
pub trait SyncProgress: Send + Sync {
    /// A run started; `resumed` when it continues an interrupted listing.
    fn started(&self, _run: &SyncRun, _resumed: bool) {}
    /// A page was committed.
    fn page(&self, _counts: &RunCounts) {}
}

/// Progress nobody watches.
pub struct NoProgress;
impl SyncProgress for NoProgress {}

/// Syncs connections. Cheap to clone.
#[derive(Clone)]
pub struct SyncEngine {
    store: Store,
    runtime: Runtime,
    retry: RetryPolicy,
    /// Shutdown: checked before a run starts and after each page commit.
    stop: super::StopSignal,
}

/// Where a run's listing starts.
struct Plan {
    full_listing: bool,
    /// The checkpoint of an interrupted run to continue from.
    resume: Option<Checkpoint>,
    changed_since: Option<String>,
}

impl SyncEngine {
    pub fn new(store: Store, runtime: Runtime) -> Self {
        SyncEngine { store, runtime, retry: RetryPolicy::default(), stop: super::StopSignal::default() }
    }

    /// Replaces the page retry policy (tests use short delays).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The shutdown signal every clone of this engine shares.
    pub fn stop_signal(&self) -> &super::StopSignal {
        &self.stop
    }

    /// Ends runs left `Running` by a host that died; their checkpoints stay,
    /// so the next run of each connection resumes the listing.
    pub fn recover_interrupted(&self) -> Result<usize, SyncError> {
        let unfinished = self.store.unfinished_runs()?;
        for run in &unfinished {
            let mut ended = run.clone();
            ended.outcome = RunOutcome::Interrupted;
            self.store.commit_run_end(ended, |_| {}, Vec::new())?;
            tracing::warn!(connection = %run.connection_id, seq = run.seq, "marked an interrupted sync run; the next run resumes it");
        }
        Ok(unfinished.len())
    }

    /// Runs one sync of `connection_id` to the end and returns the run.
    /// A failure after the run started is recorded on the run (and returned).
    pub async fn sync(
        &self,
        connection_id: &str,
        trigger: Trigger,
        progress: &dyn SyncProgress,
    ) -> Result<SyncRun, SyncError> {
        let Some(_active) = self.stop.enter() else { return Err(SyncError::Stopped) };
        let started = std::time::Instant::now();
        let result = self.sync_inner(connection_id, trigger, progress).await;
        let (outcome, jobs) = match &result {
            Ok(run) => ("succeeded", run.counts.jobs_seen),
            Err(SyncError::Stopped) => ("interrupted", 0),
            Err(_) => ("failed", 0),
        };
        crate::metrics::global().sync_finished(outcome, started.elapsed(), jobs);
        result
    }

    async fn sync_inner(
        &self,
        connection_id: &str,
        trigger: Trigger,
        progress: &dyn SyncProgress,
    ) -> Result<SyncRun, SyncError> {
        let connection = self
            .store
            .connection(connection_id)?
            .ok_or_else(|| SyncError::UnknownConnection(connection_id.to_string()))?;
        if !connection.enabled {
            return Err(SyncError::Disabled(connection_id.to_string()));
        }
        // A run left Running by a crash must end before a new one starts.
        for stale in self.store.runs(connection_id, 1)?.into_iter().filter(|r| r.outcome == RunOutcome::Running) {
            let mut ended = stale;
            ended.outcome = RunOutcome::Interrupted;
            self.store.commit_run_end(ended, |_| {}, Vec::new())?;
        }
        let state = self.store.state(connection_id)?;
        let plugin = match self.runtime.plugin(&connection.plugin_id).await {
            Ok(p) => p,
            Err(e) => {
                let run = self.store.start_run(connection_id, trigger, &connection.plugin_id, "?", false)?;
                let error = SyncError::Plugin(e);
                self.fail(run, &error)?;
                return Err(error);
            }
        };
        let plan = plan(&state, trigger);
        let run = self.store.start_run(
            connection_id,
            trigger,
            plugin.id(),
            &plugin.version().to_string(),
            plan.full_listing,
        )?;
        progress.started(&run, plan.resume.is_some());
        let started_at = std::time::SystemTime::now();
        match self.list_and_apply(&connection, &plugin, run.clone(), &plan, progress).await {
            Ok((run, seen)) => self.succeed(&connection, run, &plan, seen, started_at),
            Err((mut run, SyncError::Stopped)) => {
                // The checkpoint stays: the next run resumes after the last page.
                run.outcome = RunOutcome::Interrupted;
                self.store.commit_run_end(run, |_| {}, Vec::new())?;
                tracing::info!(connection = %connection_id, "sync stopped for shutdown at a page commit");
                Err(SyncError::Stopped)
            }
            Err((run, error)) => {
                self.fail(run, &error)?;
                Err(error)
            }
        }
    }

    /// Lists every page and commits each one. Returns the run and the job
    /// codes seen, or the run so far and the error.
    async fn list_and_apply(
        &self,
        connection: &Connection,
        plugin: &Plugin,
        mut run: SyncRun,
        plan: &Plan,
        progress: &dyn SyncProgress,
    ) -> Result<(SyncRun, HashSet<String>), (SyncRun, SyncError)> {
        let ctx = match self.store.connection_context(connection) {
            Ok(ctx) => ctx,
            Err(e) => return Err((run, e.into())),
        };
        let mut cursor = plan.resume.as_ref().and_then(|c| c.cursor.clone());
        let mut pages_done = plan.resume.as_ref().map(|c| c.pages_done).unwrap_or(0);
        let mut seen = HashSet::new();
        let mut last_commit = std::time::Instant::now();
        let fetcher =
            PageFetcher { plugin: plugin.clone(), ctx, changed_since: plan.changed_since.clone(), retry: self.retry };
        let mut next_fetch = fetcher.spawn(cursor.clone(), pages_done + 1);
        loop {
            let page_no = pages_done + 1;
            let page = match next_fetch.join().await {
                Ok(page) => page,
                Err(e) => return Err((run, e)),
            };
            if let Some(problem) = validate_page(&page, cursor.as_deref()) {
                return Err((run, SyncError::BadData { page: page_no, message: problem }));
            }
            // Fetch the next page while this one is applied: the plugin and
            // the ATS work while the store does.
            if let Some(next) = &page.next_cursor {
                next_fetch = fetcher.spawn(Some(next.clone()), page_no + 1);
            }
            let upserts = match self.diff_page(connection, &page.jobs, &mut run, &mut seen) {
                Ok(u) => u,
                Err(e) => return Err((run, e)),
            };
            pages_done += 1;
            run.counts.pages += 1;
            let checkpoint = Checkpoint {
                run_seq: run.seq,
                cursor: page.next_cursor.clone(),
                pages_done,
                full_listing: plan.full_listing,
            };
            // Pages with changes are committed with their checkpoint; pages
            // without are only checkpointed now and then, and the last one
            // not at all (the run's end records it).
            // A shutdown stops here, after committing this page with the
            // cursor of the next, so the next start resumes there.
            let stopping = self.stop.is_stopping() && page.next_cursor.is_some();
            let due = last_commit.elapsed() >= CHECKPOINT_INTERVAL && page.next_cursor.is_some();
            if !upserts.is_empty() || due || stopping {
                let commit = PageCommit {
                    connection_id: connection.id.clone(),
                    run: run.clone(),
                    upserts,
                    checkpoint: Some(checkpoint),
                };
                if let Err(e) = self.store.commit_page(commit) {
                    return Err((run, e.into()));
                }
                last_commit = std::time::Instant::now();
            }
            progress.page(&run.counts);
            if stopping {
                return Err((run, SyncError::Stopped));
            }
            match page.next_cursor {
                Some(next) if pages_done < MAX_PAGES => cursor = Some(next),
                Some(_) => {
                    let message = format!("more than {MAX_PAGES} pages; the cursor is probably not advancing");
                    return Err((run, SyncError::BadData { page: page_no, message }));
                }
                None => return Ok((run, seen)),
            }
        }
    }

    /// The positions a page creates or changes; unchanged jobs produce none.
    fn diff_page(
        &self,
        connection: &Connection,
        jobs: &[Job],
        run: &mut SyncRun,
        seen: &mut HashSet<String>,
    ) -> Result<Vec<Position>, SyncError> {
        let now = unix_now();
        let mut upserts: Vec<Position> = Vec::new();
        for job in jobs {
            run.counts.jobs_seen += 1;
            // A job repeated within one page (a page that changed between
            // requests) is applied once, with its last version. Only a
            // repeat pays for the scan, not every job of every page.
            if !seen.insert(job.code.clone()) {
                upserts.retain(|p| p.ats_job_code != job.code);
            }
            match self.store.position_by_job(&connection.id, &job.code)? {
                Some(mut position) => {
                    let was_closed = position.is_closed();
                    if position.apply_ats(job, run.seq, now) {
                        if position.is_closed() && !was_closed {
                            run.counts.closed += 1;
                        } else {
                            run.counts.updated += 1;
                        }
                        upserts.push(position);
                    } else {
                        run.counts.unchanged += 1;
                    }
                }
                None => {
                    run.counts.created += 1;
                    upserts.push(Position::from_job(&connection.account_id, &connection.id, job, run.seq, now));
                }
            }
        }
        Ok(upserts)
    }

    fn succeed(
        &self,
        connection: &Connection,
        mut run: SyncRun,
        plan: &Plan,
        seen: HashSet<String>,
        started_at: std::time::SystemTime,
    ) -> Result<SyncRun, SyncError> {
        let now = unix_now();
        // Only a listing that ran complete in this run knows every job.
        let closes = if plan.full_listing && plan.resume.is_none() {
            let mut closes = Vec::new();
            for (code, id) in self.store.job_codes_of_connection(&connection.id)? {
                if seen.contains(&code) {
                    continue;
                }
                if let Some(mut p) = self.store.position(id)?.filter(|p| !p.is_closed()) {
                    p.mark_removed(now);
                    closes.push(p);
                }
            }
            closes
        } else {
            Vec::new()
        };
        run.counts.removed = closes.len() as u64;
        run.outcome = RunOutcome::Succeeded;
        run.finished_unix = Some(now);
        let watermark = rfc3339(started_at.checked_sub(WATERMARK_OVERLAP).unwrap_or(started_at));
        let full = plan.full_listing;
        self.store.commit_run_end(
            run.clone(),
            |s: &mut ConnectionState| {
                s.checkpoint = None;
                s.reset_requested = false;
                s.consecutive_failures = 0;
                s.flagged = false;
                s.last_success_unix = Some(now);
                if full {
                    s.last_full_listing_unix = Some(now);
                }
                s.changed_since = Some(watermark.clone());
            },
            closes,
        )?;
        Ok(run)
    }

    fn fail(&self, mut run: SyncRun, error: &SyncError) -> Result<(), SyncError> {
        tracing::warn!(connection = %run.connection_id, seq = run.seq, error = %error, "sync run failed");
        run.outcome = RunOutcome::Failed { kind: error.kind(), message: error.to_string() };
        run.finished_unix = Some(unix_now());
        self.store.commit_run_end(
            run,
            |s: &mut ConnectionState| {
                // The next run lists from scratch: an ATS cursor may not
                // outlive the failure. Committed pages stay; they are
                // consistent and re-applying them writes nothing.
                s.checkpoint = None;
                s.consecutive_failures += 1;
            },
            Vec::new(),
        )?;
        Ok(())
    }
}

/// Fetches pages in background tasks, retrying within the run.
struct PageFetcher {
    plugin: Plugin,
    ctx: ConnectionContext,
    changed_since: Option<String>,
    retry: RetryPolicy,
}

/// A page being fetched; dropping it cancels the fetch.
struct PendingPage(tokio::task::JoinHandle<Result<JobPage, SyncError>>);

impl PendingPage {
    async fn join(&mut self) -> Result<JobPage, SyncError> {
        match (&mut self.0).await {
            Ok(result) => result,
            Err(e) => Err(SyncError::BadData { page: 0, message: format!("page fetch task failed: {e}") }),
        }
    }
}

impl Drop for PendingPage {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl PageFetcher {
    fn spawn(&self, cursor: Option<String>, page: u32) -> PendingPage {
        let (plugin, ctx, since, retry) =
            (self.plugin.clone(), self.ctx.clone(), self.changed_since.clone(), self.retry);
        PendingPage(tokio::spawn(async move {
            let mut attempt = 1;
            loop {
                match plugin.list_jobs(&ctx, cursor.as_deref(), since.as_deref()).await {
                    Ok(page) => return Ok(page),
                    Err(error) => match retry.decide(attempt, &error) {
                        Decision::RetryAfter(delay) => {
                            tracing::info!(connection = %ctx.id, page, attempt, ?delay, error = %error, "retrying a page");
                            tokio::time::sleep(delay).await;
                            attempt += 1;
                        }
                        Decision::GiveUp => return Err(SyncError::Listing { page, source: error }),
                    },
                }
            }
        }))
    }
}

/// Full or incremental, fresh or resumed.
fn plan(state: &ConnectionState, trigger: Trigger) -> Plan {
    if let Some(cp) = state.checkpoint.clone().filter(|cp| cp.cursor.is_some()) {
        return Plan {
            full_listing: cp.full_listing,
            changed_since: if cp.full_listing { None } else { state.changed_since.clone() },
            resume: Some(cp),
        };
    }
    // Scheduled runs list everything (that is how removals are noticed);
    // on-demand runs ask only for changes when a watermark exists.
    let incremental = !state.reset_requested && matches!(trigger, Trigger::Manual) && state.changed_since.is_some();
    Plan {
        full_listing: !incremental,
        resume: None,
        changed_since: if incremental { state.changed_since.clone() } else { None },
    }
}

/// Problems that make a page unusable.
fn validate_page(page: &JobPage, cursor: Option<&str>) -> Option<String> {
    if let Some(job) = page.jobs.iter().find(|j| j.code.trim().is_empty()) {
        return Some(format!("a job without a code (title `{}`)", job.title));
    }
    if page.next_cursor.is_some() && page.next_cursor.as_deref() == cursor {
        return Some("the next cursor equals the current one; the listing would never end".into());
    }
    None
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn rfc3339(t: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ConnectionState {
        ConnectionState::default()
    }

    #[test]
    fn first_and_scheduled_runs_list_everything() {
        assert!(plan(&state(), Trigger::Manual).full_listing);
        let mut s = state();
        s.changed_since = Some("2026-01-01T00:00:00Z".into());
        assert!(plan(&s, Trigger::Scheduled).full_listing);
        let p = plan(&s, Trigger::Manual);
        assert!(!p.full_listing);
        assert_eq!(p.changed_since.as_deref(), Some("2026-01-01T00:00:00Z"));
        s.reset_requested = true;
        assert!(plan(&s, Trigger::Manual).full_listing);
    }

    #[test]
    fn an_interrupted_listing_resumes_from_its_cursor() {
        let mut s = state();
        s.checkpoint =
            Some(Checkpoint { run_seq: 3, cursor: Some("page-7".into()), pages_done: 6, full_listing: true });
        let p = plan(&s, Trigger::Scheduled);
        assert_eq!(p.resume.as_ref().and_then(|c| c.cursor.as_deref()), Some("page-7"));
        assert!(p.full_listing);
    }

    #[test]
    fn bad_pages_are_named() {
        let page = JobPage { jobs: vec![], next_cursor: Some("c".into()) };
        assert!(validate_page(&page, Some("c")).unwrap().contains("never end"));
        assert!(validate_page(&page, None).is_none());
    }
}
