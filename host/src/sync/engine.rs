//! Running one sync of one connection.

mod pages;

use std::time::Duration;

use rustc_hash::FxHashMap;

use super::SyncError;
use super::options::{EngineOptions, RunOptions};
use super::plan::{Plan, plan};
use super::retry::RetryPolicy;
use crate::plugin::allowed_hosts::AllowedHosts;
use crate::runtime::{ConnectionContext, Plugin, Runtime, SettingInput};
use crate::store::{
    Connection, ConnectionState, OpenedSetting, RunCounts, RunOutcome, Store, StoreError, SyncRun, Trigger,
};

/// The incremental watermark is set this far before the listing's start, so
/// a job changed while the previous run listed it is picked up again.
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
    options: EngineOptions,
    /// Record and replay: the runs being recorded.
    recordings: crate::recording::RunRecordings,
    /// The connections whose run has not wholly ended.
    in_flight: super::InFlight,
}

/// How far a run's listing got.
struct Listing {
    /// The listing this run continues or started.
    plan: Plan,
    /// When that listing started (a resumed one: when the original did).
    started_unix: i64,
    /// The position of every job listed in this run, with whether it is
    /// open now (for removal detection and the mass-close guard). Keyed by
    /// position id, which the store assigned: an ATS cannot choose keys
    /// that collide, so a fast unkeyed hash serves.
    seen: FxHashMap<u64, bool>,
    /// The positions this run wrote (created, updated, closed, reopened or
    /// removed), in commit order: the publish rules' pass after the run
    /// reads these, not every position of the connection.
    changed: Vec<u64>,
}

impl Listing {
    fn resumed(&self) -> bool {
        self.plan.resume.is_some()
    }
}

impl SyncEngine {
    pub fn new(store: Store, runtime: Runtime) -> Self {
        SyncEngine {
            store,
            runtime,
            retry: RetryPolicy::default(),
            options: EngineOptions::default(),
            stop: super::StopSignal::default(),
            recordings: crate::recording::RunRecordings::default(),
            in_flight: super::InFlight::default(),
        }
    }

    /// Records the runs armed in `dir` ([`crate::recording`]).
    pub fn with_recordings(mut self, dir: crate::recording::RecordingDir) -> Self {
        self.recordings = crate::recording::RunRecordings::new(Some(dir));
        self
    }

    /// The runs being recorded, and where recordings are kept.
    pub fn recordings(&self) -> &crate::recording::RunRecordings {
        &self.recordings
    }

    /// Whether a run of `connection_id` is going or still finishing (its
    /// end recorded, its publish rules' pass or recording not yet done).
    pub fn is_syncing(&self, connection_id: &str) -> bool {
        self.in_flight.contains(connection_id)
    }

    /// Replaces the page retry policy (tests use short delays).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Replaces the operator's sync settings (bounds, guard, checkpoint TTL).
    pub fn with_options(mut self, options: EngineOptions) -> Self {
        self.options = options;
        self
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
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

    /// Runs `work` on the store in tokio's blocking pool: store reads, JSON
    /// decoding and commits never hold an async worker.
    async fn on_store<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, SyncError> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || work(&store)).await {
            Ok(result) => Ok(result?),
            Err(e) => Err(SyncError::StoreTask(e.to_string())),
        }
    }

    /// What the runtime needs to call the connection's plugin: its settings
    /// with secrets opened by the store, and its extra hosts parsed here.
    pub fn connection_context(&self, connection: &Connection) -> Result<ConnectionContext, SyncError> {
        let settings = self
            .store
            .opened_settings(connection)?
            .into_iter()
            .map(|(key, value)| {
                let input = match value {
                    OpenedSetting::Text(text) => SettingInput::Text(text),
                    OpenedSetting::Secret(secret) => SettingInput::Secret(secret),
                };
                (key, input)
            })
            .collect();
        let extra_hosts = AllowedHosts::parse(&connection.extra_hosts)
            .map_err(|source| SyncError::InvalidExtraHost { connection: connection.id.clone(), source })?;
        let mut ctx = ConnectionContext { id: connection.id.clone(), settings, extra_hosts, recording: None };
        self.recordings.attach(&mut ctx); // record and replay
        Ok(ctx)
    }

    /// Ends runs left `Running` by a host that died; their checkpoints stay,
    /// so the next run of each connection resumes the listing.
    pub fn recover_interrupted(&self) -> Result<usize, SyncError> {
        let unfinished = self.store.unfinished_runs()?;
        for run in &unfinished {
            let mut ended = run.clone();
            ended.outcome = RunOutcome::Interrupted;
            self.store.commit_run_end(ended, |_| {}, &[])?;
            tracing::warn!(connection = %run.connection_id, seq = run.seq, "marked an interrupted sync run; the next run resumes it");
        }
        Ok(unfinished.len())
    }

    /// Runs one sync of `connection_id` to the end, the default way for
    /// `trigger`; see [`SyncEngine::sync_with`].
    pub async fn sync(
        &self,
        connection_id: &str,
        trigger: Trigger,
        progress: &dyn SyncProgress,
    ) -> Result<SyncRun, SyncError> {
        self.sync_with(connection_id, RunOptions::new(trigger), progress).await
    }

    /// Runs one sync of `connection_id` to the end and returns the run.
    /// A failure after the run started is recorded on the run (and returned).
    pub async fn sync_with(
        &self,
        connection_id: &str,
        options: RunOptions,
        progress: &dyn SyncProgress,
    ) -> Result<SyncRun, SyncError> {
        let Some(_active) = self.stop.enter() else { return Err(SyncError::Stopped) };
        let _in_flight = self.in_flight.enter(connection_id);
        let started = std::time::Instant::now();
        let mut changed = Vec::new();
        let recording = self.recordings.begin(&self.store, connection_id); // record and replay
        let result = self.sync_inner(connection_id, options, progress, &mut changed).await;
        // Publish rules apply to what the run changed (and to everything
        // when the rules changed); a failed run's committed pages too.
        if !matches!(result, Err(SyncError::Stopped | SyncError::UnknownConnection(_) | SyncError::Disabled(_))) {
            let id = connection_id.to_string();
            let applied = self
                .on_store(move |store| {
                    crate::publish::rules::after_sync(store, &id, &changed);
                    Ok(())
                })
                .await;
            if let Err(e) = applied {
                tracing::warn!(connection = %connection_id, error = %e, "publish rules were not applied");
            }
        }
        let (outcome, jobs) = match &result {
            Ok(run) => ("succeeded", run.counts.jobs_seen),
            Err(SyncError::Stopped) => ("interrupted", 0),
            Err(_) => ("failed", 0),
        };
        crate::metrics::global().sync_finished(outcome, started.elapsed(), jobs);
        if let Some(recording) = recording {
            let ended = result.as_ref().map_or_else(|e| format!("failed: {e}"), |_| "succeeded".to_string());
            recording.finish(&self.store, ended).await; // record and replay
        }
        result
    }

    async fn sync_inner(
        &self,
        connection_id: &str,
        options: RunOptions,
        progress: &dyn SyncProgress,
        changed: &mut Vec<u64>,
    ) -> Result<SyncRun, SyncError> {
        let id = connection_id.to_string();
        let (connection, state) = self
            .on_store(move |store| {
                let Some(connection) = store.connection(&id)? else { return Ok(None) };
                // A run left Running by a crash must end before a new one starts.
                for mut stale in store.runs(&id, 1)?.into_iter().filter(|r| r.outcome == RunOutcome::Running) {
                    stale.outcome = RunOutcome::Interrupted;
                    store.commit_run_end(stale, |_| {}, &[])?;
                }
                Ok(Some((connection, store.state(&id)?)))
            })
            .await?
            .ok_or_else(|| SyncError::UnknownConnection(connection_id.to_string()))?;
        if !connection.enabled {
            return Err(SyncError::Disabled(connection_id.to_string()));
        }
        let trigger = options.trigger;
        let plugin = match self.runtime.plugin(&connection.plugin_id).await {
            Ok(p) => p,
            Err(e) => {
                let (id, plugin_id) = (connection.id.clone(), connection.plugin_id.clone());
                let run = self.on_store(move |s| s.start_run(&id, trigger, &plugin_id, "?", false)).await?;
                let error = SyncError::Plugin(e);
                self.fail(run, &error).await?;
                return Err(error);
            }
        };
        let plugin = super::metering::metered(plugin); // metering: this run's calls are counted
        let now = unix_now();
        let plan = plan(&state, &options, now, self.options.checkpoint_ttl);
        if state.checkpoint.as_ref().is_some_and(|cp| cp.cursor.is_some()) && plan.resume.is_none() {
            tracing::info!(connection = %connection.id, "not resuming the stored checkpoint (expired, or a full listing was asked for)");
        }
        let (id, plugin_id, version, full) =
            (connection.id.clone(), plugin.id().to_string(), plugin.version().to_string(), plan.full_listing);
        let run = self.on_store(move |s| s.start_run(&id, trigger, &plugin_id, &version, full)).await?;
        progress.started(&run, plan.resume.is_some());
        let started_unix = plan.resume.as_ref().map_or(run.started_unix, |cp| cp.listing_started_unix);
        let mut listing = Listing { plan, started_unix, seen: FxHashMap::default(), changed: Vec::new() };
        let result = self.list_and_run_end(&connection, &plugin, run, &mut listing, &options, progress).await;
        *changed = std::mem::take(&mut listing.changed);
        result
    }

    /// Lists and commits every page, then ends the run (succeeded, failed
    /// or interrupted).
    async fn list_and_run_end(
        &self,
        connection: &Connection,
        plugin: &Plugin,
        run: SyncRun,
        listing: &mut Listing,
        options: &RunOptions,
        progress: &dyn SyncProgress,
    ) -> Result<SyncRun, SyncError> {
        let connection_id = connection.id.as_str();
        let listed = self.list_and_apply(connection, plugin, run, listing, progress).await;
        let listed = listed.map_err(|(run, e)| (super::metering::stamp(plugin, run), e)); // metering
        match listed {
            Err((mut run, SyncError::Stopped)) => {
                // The checkpoint stays: the next run resumes after the last page.
                run.outcome = RunOutcome::Interrupted;
                let (run, _) = self.on_store(move |s| s.commit_run_end(run, |_| {}, &[])).await?;
                super::metering::ended(&run); // metering
                tracing::info!(connection = %connection_id, "sync stopped for shutdown at a page commit");
                Err(SyncError::Stopped)
            }
            Ok(run) => match self
                .succeed(
                    connection,
                    super::metering::stamp(plugin, self.after_listing(connection, plugin, run).await), // metering
                    listing,
                    options,
                )
                .await
            {
                Ok(run) => Ok(run),
                Err((run, error)) => {
                    self.fail(run, &error).await?;
                    Err(error)
                }
            },
            Err((run, error)) => {
                self.fail(run, &error).await?;
                Err(error)
            }
        }
    }

    /// Ends a listed run: closes what a complete listing no longer has
    /// (within the mass-close guard) and records the success.
    async fn succeed(
        &self,
        connection: &Connection,
        mut run: SyncRun,
        listing: &mut Listing,
        options: &RunOptions,
    ) -> Result<SyncRun, (SyncRun, SyncError)> {
        // Only a listing that ran complete in this run knows every job.
        let complete = listing.plan.full_listing && !listing.resumed();
        let open_seen = listing.seen.values().filter(|open| **open).count() as u64;
        let empty = listing.seen.is_empty();
        let removed = if complete {
            // The ids move to the store's check: the run is done with them.
            let (id, seen) = (connection.id.clone(), std::mem::take(&mut listing.seen));
            match self.on_store(move |s| s.open_positions_missing_from(&id, |p| seen.contains_key(&p))).await {
                Ok(missing) => missing,
                Err(e) => return Err((run, e)),
            }
        } else {
            Vec::new()
        };
        if !options.confirm_removals
            && let Some(error) = self.mass_close(connection, removed.len() as u64, open_seen, empty)
        {
            return Err((run, error));
        }
        let now = unix_now();
        run.outcome = RunOutcome::Succeeded;
        run.finished_unix = Some(now);
        let watermark = rfc3339(listing.started_unix - WATERMARK_OVERLAP.as_secs() as i64);
        let update = move |s: &mut ConnectionState| {
            s.checkpoint = None;
            s.reset_requested = false;
            s.consecutive_failures = 0;
            s.next_retry_unix = None;
            s.flagged = false;
            s.flag_reason = None;
            s.last_success_unix = Some(now);
            if complete {
                s.last_full_listing_unix = Some(now);
            }
            s.changed_since = Some(watermark.clone());
        };
        let ending = run.clone();
        let closing = removed.clone();
        match self.on_store(move |s| s.commit_run_end(ending, update, &removed)).await {
            Ok((run, _)) => {
                super::metering::ended(&run); // metering
                listing.changed.extend(closing);
                Ok(run)
            }
            Err(e) => {
                run.outcome = RunOutcome::Running;
                Err((run, e))
            }
        }
    }

    /// After the job listing, inside the run (its calls and store writes
    /// count in its cost): the stage refresh, and on a daily run the
    /// reconciliation of the candidates pushed through the connection
    /// (reading back what the ATS decided about them).
    async fn after_listing(&self, connection: &Connection, plugin: &Plugin, run: SyncRun) -> SyncRun {
        let run = self.refresh_stages(connection, plugin, run).await;
        if matches!(run.trigger, Trigger::Scheduled | Trigger::CatchUp) {
            crate::outbox::reconcile::in_daily_run(self, connection, plugin).await;
        }
        run
    }

    /// After the job listing of a run that is not a "sync now": refreshes
    /// the connection's cached ATS stages. A failure is a warning on the
    /// run, never a failed sync: jobs flow in whether or not stages do.
    async fn refresh_stages(&self, connection: &Connection, plugin: &Plugin, mut run: SyncRun) -> SyncRun {
        if run.trigger == Trigger::Manual {
            return run;
        }
        let ctx = match self.connection_context(connection) {
            Ok(ctx) => ctx,
            Err(e) => {
                run.warnings.push(format!("the ATS stages were not refreshed: {e}"));
                return run;
            }
        };
        match super::stage_refresh::refresh_stages(&self.store, plugin, &ctx, &connection.id, None).await {
            Ok(report) => run.warnings.extend(report.warnings),
            Err(e) => {
                tracing::warn!(connection = %connection.id, error = %e, "refreshing the ATS stages failed");
                run.warnings.push(format!("the ATS stages were not refreshed: {e}"));
            }
        }
        run
    }

    /// The mass-close guard: `closing` open positions missing from the
    /// listing, `open_seen` listed and open.
    fn mass_close(&self, connection: &Connection, closing: u64, open_seen: u64, empty: bool) -> Option<SyncError> {
        if closing == 0 {
            return None;
        }
        let open = closing + open_seen;
        let share_limit = (self.options.mass_close_share * open as f64).floor() as u64;
        let too_many = closing > share_limit.max(self.options.mass_close_floor);
        (empty || too_many).then(|| SyncError::MassClose {
            connection: connection.id.clone(),
            closing,
            open,
            empty_listing: empty,
        })
    }

    async fn fail(&self, mut run: SyncRun, error: &SyncError) -> Result<(), SyncError> {
        tracing::warn!(connection = %run.connection_id, seq = run.seq, error = %error, "sync run failed");
        run.outcome = RunOutcome::Failed { kind: error.kind().to_string(), message: error.to_string() };
        run.finished_unix = Some(unix_now());
        let flag = error.flags_connection().then(|| error.to_string());
        let (ended, _) = self
            .on_store(move |store| {
                store.commit_run_end(
                    run,
                    |s: &mut ConnectionState| {
                        // The next run lists from scratch: an ATS cursor may not
                        // outlive the failure. Committed pages stay; they are
                        // consistent and re-applying them writes nothing.
                        s.checkpoint = None;
                        s.consecutive_failures += 1;
                        if let Some(reason) = &flag {
                            s.flagged = true;
                            s.flag_reason = Some(reason.clone());
                        }
                    },
                    &[],
                )
            })
            .await?;
        super::metering::ended(&ended); // metering
        Ok(())
    }
}

fn unix_now() -> i64 {
    crate::store::now_unix()
}

fn rfc3339(unix: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
