//! The daily scheduler: every enabled connection syncs once per day at an
//! early-morning local time (or its own cron expression), with bounded
//! concurrency globally and per plugin, "sync now" coalescing with a run
//! already going, one catch-up run after downtime, and backoff for
//! failures until a connection that keeps failing is flagged.
//!
//! The scheduler only decides *when*; a [`Runner`] does the work (the sync
//! engine in the host, a no-op in the benchmark). Idle connections cost a
//! queue entry each (~200 bytes): one timer serves them all.

pub mod schedule;
mod sync_runner;

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore, watch};

pub use self::schedule::{CronCache, Schedule, ScheduleError};
use crate::store::Trigger;
pub use crate::sync::{ListingMode, RunOptions};

/// Runs syncs for the scheduler.
pub trait Runner: Send + Sync + 'static {
    /// Runs one sync of the connection to the end.
    fn run(&self, connection_id: Arc<str>, trigger: Trigger) -> Pin<Box<dyn Future<Output = RunReport> + Send>>;
    /// Runs one sync with the caller's options ("sync now" with a full or
    /// an incremental listing); by default as [`Runner::run`] for its trigger.
    fn run_with(
        &self,
        connection_id: Arc<str>,
        options: RunOptions,
    ) -> Pin<Box<dyn Future<Output = RunReport> + Send>> {
        self.run(connection_id, options.trigger)
    }
    /// A failed run will be retried at `at`: record it, so a restarted
    /// host retries then instead of waiting for the next slot.
    fn retry_scheduled(&self, _connection_id: &str, _at: DateTime<Utc>) {}
    /// The connection keeps failing: record that it needs attention.
    fn flag(&self, connection_id: &str, reason: &str);
    /// After a run: when the connection fires next (for people and for
    /// the record; the scheduler itself keeps the time in memory).
    fn scheduled(&self, _connection_id: &str, _next: DateTime<Utc>) {}
}

/// How a run ended, as far as scheduling cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunReport {
    Succeeded,
    Failed {
        /// Worth retrying soon (rate limits, 5xx, timeouts), as opposed to
        /// bad credentials or bad data, which wait for a person.
        retryable: bool,
        /// Failed runs in a row, this one included.
        consecutive_failures: u32,
        message: String,
    },
}

/// Concurrency and retry limits.
#[derive(Debug, Clone, Copy)]
pub struct SchedulerLimits {
    /// Syncs running at once, all connections together.
    pub global_concurrency: usize,
    /// Syncs running at once per plugin (each ATS has its own rate limits).
    pub per_plugin_concurrency: usize,
    /// First retry delay after a failure; multiplied by 3 each time.
    pub retry_base: Duration,
    /// After this many failures in a row: flag, and wait for the next
    /// scheduled slot instead of retrying.
    pub max_failures: u32,
}

impl Default for SchedulerLimits {
    fn default() -> Self {
        SchedulerLimits {
            global_concurrency: 16,
            per_plugin_concurrency: 4,
            retry_base: Duration::from_secs(5 * 60),
            max_failures: 5,
        }
    }
}

struct Entry {
    schedule: Schedule,
    plugin: Arc<str>,
    next_ms: i64,
    trigger: Trigger,
}

#[derive(Default)]
struct Queue {
    due: BTreeSet<(i64, Arc<str>)>,
    entries: HashMap<Arc<str>, Entry>,
}

impl Queue {
    fn set_next(&mut self, id: &Arc<str>, next_ms: i64, trigger: Trigger) {
        if let Some(e) = self.entries.get_mut(id) {
            self.due.remove(&(e.next_ms, id.clone()));
            e.next_ms = next_ms;
            e.trigger = trigger;
            self.due.insert((next_ms, id.clone()));
        }
    }
}

/// A connection that is due: (connection, plugin, trigger).
type Due = (Arc<str>, Arc<str>, Trigger);

struct Shared<R> {
    runner: R,
    limits: SchedulerLimits,
    queue: Mutex<Queue>,
    wake: Notify,
    global: Arc<Semaphore>,
    per_plugin: Mutex<HashMap<Arc<str>, Arc<Semaphore>>>,
    running: Mutex<HashMap<Arc<str>, watch::Receiver<Option<RunReport>>>>,
    crons: CronCache,
}

/// The scheduler. Cheap to clone.
pub struct Scheduler<R: Runner> {
    shared: Arc<Shared<R>>,
}

impl<R: Runner> Clone for Scheduler<R> {
    fn clone(&self) -> Self {
        Scheduler { shared: self.shared.clone() }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<R: Runner> Scheduler<R> {
    pub fn new(runner: R, limits: SchedulerLimits) -> Self {
        Scheduler {
            shared: Arc::new(Shared {
                runner,
                limits,
                queue: Mutex::default(),
                wake: Notify::new(),
                global: Arc::new(Semaphore::new(limits.global_concurrency)),
                per_plugin: Mutex::default(),
                running: Mutex::default(),
                crons: CronCache::default(),
            }),
        }
    }

    /// A schedule for a connection, sharing parsed expressions with the
    /// other connections of this scheduler.
    pub fn schedule(&self, expr: Option<&str>, tz: &str, connection_id: &str) -> Result<Schedule, ScheduleError> {
        self.shared.crons.schedule(expr, tz, connection_id)
    }

    /// Adds or replaces a connection. `catch_up` fires it at once (a slot
    /// was missed while the host was down); otherwise at its next slot.
    pub fn upsert(&self, id: &str, plugin: &str, schedule: Schedule, catch_up: bool) {
        let now = Utc::now();
        let (next, trigger) = if catch_up {
            (now, Trigger::CatchUp)
        } else {
            (schedule.next_after(now).unwrap_or(now + chrono::Duration::days(1)), Trigger::Scheduled)
        };
        self.upsert_at(id, plugin, schedule, next, trigger);
    }

    /// Adds or replaces a connection firing first at `next`.
    pub fn upsert_at(&self, id: &str, plugin: &str, schedule: Schedule, next: DateTime<Utc>, trigger: Trigger) {
        let id: Arc<str> = Arc::from(id);
        let mut q = lock(&self.shared.queue);
        if let Some(old) = q.entries.remove(&id) {
            q.due.remove(&(old.next_ms, id.clone()));
        }
        let next_ms = next.timestamp_millis();
        q.due.insert((next_ms, id.clone()));
        q.entries.insert(id, Entry { schedule, plugin: Arc::from(plugin), next_ms, trigger });
        drop(q);
        self.shared.wake.notify_one();
    }

    /// Stops scheduling a connection.
    pub fn remove(&self, id: &str) {
        let mut q = lock(&self.shared.queue);
        if let Some(old) = q.entries.remove(id) {
            q.due.remove(&(old.next_ms, Arc::from(id)));
        }
    }

    /// Connections scheduled.
    pub fn len(&self) -> usize {
        lock(&self.shared.queue).entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// When a connection fires next.
    pub fn next_run(&self, id: &str) -> Option<DateTime<Utc>> {
        lock(&self.shared.queue).entries.get(id).and_then(|e| DateTime::from_timestamp_millis(e.next_ms))
    }

    /// Whether a run of the connection is going or waiting for a slot.
    pub fn is_running(&self, id: &str) -> bool {
        lock(&self.shared.running).contains_key(id)
    }

    /// Runs a sync now, or waits for the one already running and returns
    /// its result ("sync now" pressed twice makes one run).
    pub async fn run_now(&self, id: &str, trigger: Trigger) -> RunReport {
        self.run_now_with(id, RunOptions::new(trigger)).await
    }

    /// Like [`Scheduler::run_now`], with the caller's options (a full or an
    /// incremental listing, confirmed removals). A run of the connection
    /// already going is joined whatever it lists.
    pub async fn run_now_with(&self, id: &str, options: RunOptions) -> RunReport {
        let plugin =
            lock(&self.shared.queue).entries.get(id).map(|e| e.plugin.clone()).unwrap_or_else(|| Arc::from(""));
        run_coalesced(self.shared.clone(), Arc::from(id), plugin, options).await
    }

    /// A retry recorded before a restart: fires at `at` (now, if past),
    /// unless the connection's next slot comes first.
    pub fn restore_retry(&self, id: &str, at: DateTime<Utc>) {
        let at_ms = at.timestamp_millis().max(Utc::now().timestamp_millis());
        let mut q = lock(&self.shared.queue);
        if q.entries.get(id).is_some_and(|e| at_ms < e.next_ms) {
            q.set_next(&Arc::from(id), at_ms, Trigger::Retry);
            drop(q);
            self.shared.wake.notify_one();
        }
    }

    /// Fires due connections until `shutdown` completes.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let now_ms = Utc::now().timestamp_millis();
            let (due, next_ms) = self.take_due(now_ms);
            for (id, plugin, trigger) in due {
                let shared = self.shared.clone();
                tokio::spawn(async move {
                    let report = run_coalesced(shared.clone(), id.clone(), plugin, RunOptions::new(trigger)).await;
                    after_run(&shared, &id, &report);
                    let next =
                        lock(&shared.queue).entries.get(&id).and_then(|e| DateTime::from_timestamp_millis(e.next_ms));
                    if let Some(next) = next {
                        shared.runner.scheduled(&id, next);
                    }
                });
            }
            let sleep = match next_ms {
                Some(ms) => Duration::from_millis(u64::try_from(ms - Utc::now().timestamp_millis()).unwrap_or(0)),
                // Nothing scheduled: wait for an upsert.
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = self.shared.wake.notified() => {}
                _ = &mut shutdown => return,
            }
        }
    }

    /// Pops every due entry, rescheduling each at its next slot; returns
    /// them and the time of the earliest remaining entry.
    fn take_due(&self, now_ms: i64) -> (Vec<Due>, Option<i64>) {
        let mut q = lock(&self.shared.queue);
        let mut due = Vec::new();
        while let Some((at, id)) = q.due.first().cloned() {
            if at > now_ms {
                break;
            }
            q.due.pop_first();
            let Some(entry) = q.entries.get(&id) else { continue };
            crate::metrics::global().scheduler_lateness(Duration::from_millis(u64::try_from(now_ms - at).unwrap_or(0)));
            let after = DateTime::from_timestamp_millis(now_ms).unwrap_or_else(Utc::now);
            let next = entry.schedule.next_after(after).map(|t| t.timestamp_millis()).unwrap_or(now_ms + 86_400_000);
            due.push((id.clone(), entry.plugin.clone(), entry.trigger));
            if let Some(e) = q.entries.get_mut(&id) {
                e.next_ms = next;
                e.trigger = Trigger::Scheduled;
            }
            q.due.insert((next, id));
        }
        let next = q.due.first().map(|(t, _)| *t);
        (due, next)
    }
}

/// A run of one connection, as the running map holds it.
enum Slot {
    /// This caller starts the run and reports through the sender.
    Start(watch::Sender<Option<RunReport>>),
    /// A run is going: wait for its report.
    Join(watch::Receiver<Option<RunReport>>),
}

/// Runs under the global and per-plugin limits, coalescing with a run of
/// the same connection already in progress.
///
/// The check for a running sync and the claim of the connection's entry
/// happen under one lock, in one map entry: a scheduled fire and a "sync
/// now" arriving together make exactly one run.
async fn run_coalesced<R: Runner>(
    shared: Arc<Shared<R>>,
    id: Arc<str>,
    plugin: Arc<str>,
    options: RunOptions,
) -> RunReport {
    let slot = match lock(&shared.running).entry(id.clone()) {
        std::collections::hash_map::Entry::Occupied(running) => Slot::Join(running.get().clone()),
        std::collections::hash_map::Entry::Vacant(free) => {
            let (tx, rx) = watch::channel(None);
            free.insert(rx);
            Slot::Start(tx)
        }
    };
    let tx = match slot {
        Slot::Join(mut rx) => {
            return match rx.wait_for(Option::is_some).await {
                Ok(report) => report.clone().unwrap_or_else(|| closed("the running sync ended without a report")),
                Err(_) => closed("the running sync ended without a report"),
            };
        }
        Slot::Start(tx) => tx,
    };
    // Whatever happens below (even a cancelled task), the entry is
    // released and joiners are told.
    let release = Release { shared: &*shared, id: &id, tx: Some(tx) };
    let per_plugin = lock(&shared.per_plugin)
        .entry(plugin.clone())
        .or_insert_with(|| Arc::new(Semaphore::new(shared.limits.per_plugin_concurrency)))
        .clone();
    let report = match (shared.global.clone().acquire_owned().await, per_plugin.acquire_owned().await) {
        (Ok(_g), Ok(_p)) => shared.runner.run_with(id.clone(), options).await,
        _ => closed("scheduler closed"),
    };
    release.finish(report.clone());
    report
}

/// Owns a connection's entry in the running map while its run goes.
struct Release<'a, R: Runner> {
    shared: &'a Shared<R>,
    id: &'a Arc<str>,
    tx: Option<watch::Sender<Option<RunReport>>>,
}

impl<R: Runner> Release<'_, R> {
    /// Frees the entry, then wakes the joiners with the report: out of the
    /// map first, so a trigger after this report starts a new run.
    fn finish(mut self, report: RunReport) {
        self.release(report);
    }

    fn release(&mut self, report: RunReport) {
        if let Some(tx) = self.tx.take() {
            lock(&self.shared.running).remove(self.id);
            let _ = tx.send(Some(report));
        }
    }
}

impl<R: Runner> Drop for Release<'_, R> {
    fn drop(&mut self) {
        self.release(closed("the sync was cancelled"));
    }
}

fn closed(message: &str) -> RunReport {
    RunReport::Failed { retryable: false, consecutive_failures: 0, message: message.into() }
}

/// Retry soon, or flag and wait for the next slot.
fn after_run<R: Runner>(shared: &Shared<R>, id: &Arc<str>, report: &RunReport) {
    let RunReport::Failed { retryable, consecutive_failures, message } = report else { return };
    if !retryable || *consecutive_failures >= shared.limits.max_failures {
        shared.runner.flag(id, message);
        return;
    }
    let factor = 3u32.saturating_pow(consecutive_failures.saturating_sub(1));
    let delay = shared.limits.retry_base.saturating_mul(factor);
    let retry_ms = Utc::now().timestamp_millis() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
    let mut q = lock(&shared.queue);
    let scheduled = q.entries.get(id).map(|e| e.next_ms);
    if scheduled.is_some_and(|next| retry_ms < next) {
        q.set_next(id, retry_ms, Trigger::Retry);
        drop(q);
        shared.wake.notify_one();
        if let Some(at) = DateTime::from_timestamp_millis(retry_ms) {
            shared.runner.retry_scheduled(id, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A retry the runner was told about: (connection, when).
    type Retry = (String, DateTime<Utc>);

    #[derive(Default, Clone)]
    struct Counting {
        runs: Arc<AtomicU32>,
        concurrent: Arc<AtomicU32>,
        max_concurrent: Arc<AtomicU32>,
        flagged: Arc<Mutex<Vec<String>>>,
        fail: bool,
        /// Runs going at once per connection, and the most seen.
        per_connection: Arc<Mutex<HashMap<String, u32>>>,
        max_per_connection: Arc<AtomicU32>,
        retries: Arc<Mutex<Vec<Retry>>>,
        full_runs: Arc<AtomicU32>,
    }

    impl Runner for Counting {
        fn run(&self, id: Arc<str>, trigger: Trigger) -> Pin<Box<dyn Future<Output = RunReport> + Send>> {
            self.run_with(id, RunOptions::new(trigger))
        }
        fn run_with(&self, id: Arc<str>, options: RunOptions) -> Pin<Box<dyn Future<Output = RunReport> + Send>> {
            let me = self.clone();
            Box::pin(async move {
                if options.mode == ListingMode::Full {
                    me.full_runs.fetch_add(1, Ordering::SeqCst);
                }
                let now = me.concurrent.fetch_add(1, Ordering::SeqCst) + 1;
                me.max_concurrent.fetch_max(now, Ordering::SeqCst);
                let mine = {
                    let mut per = me.per_connection.lock().unwrap();
                    let n = per.entry(id.to_string()).or_default();
                    *n += 1;
                    *n
                };
                me.max_per_connection.fetch_max(mine, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                *me.per_connection.lock().unwrap().get_mut(&*id).unwrap() -= 1;
                me.concurrent.fetch_sub(1, Ordering::SeqCst);
                let n = me.runs.fetch_add(1, Ordering::SeqCst) + 1;
                if me.fail {
                    RunReport::Failed { retryable: true, consecutive_failures: n, message: "503".into() }
                } else {
                    RunReport::Succeeded
                }
            })
        }
        fn flag(&self, id: &str, _reason: &str) {
            self.flagged.lock().unwrap().push(id.to_string());
        }
        fn retry_scheduled(&self, id: &str, at: DateTime<Utc>) {
            self.retries.lock().unwrap().push((id.to_string(), at));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_scheduled_fire_and_sync_now_never_run_one_connection_twice() {
        let runner = Counting::default();
        let s = Scheduler::new(runner.clone(), SchedulerLimits::default());
        for round in 0..40 {
            let id = format!("c{round}");
            s.upsert(&id, "gh", daily(&id), false);
            // The scheduler's fire and two presses of "sync now", released
            // together on different worker threads.
            let barrier = Arc::new(tokio::sync::Barrier::new(3));
            let fire = {
                let (shared, id, barrier) = (s.shared.clone(), Arc::<str>::from(id.as_str()), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    run_coalesced(shared, id, Arc::from("gh"), RunOptions::new(Trigger::Scheduled)).await
                })
            };
            let presses: Vec<_> = (0..2)
                .map(|_| {
                    let (s, id, barrier) = (s.clone(), id.clone(), barrier.clone());
                    tokio::spawn(async move {
                        barrier.wait().await;
                        s.run_now_with(&id, RunOptions { mode: ListingMode::Full, ..RunOptions::new(Trigger::Manual) })
                            .await
                    })
                })
                .collect();
            assert_eq!(fire.await.unwrap(), RunReport::Succeeded);
            for press in presses {
                assert_eq!(press.await.unwrap(), RunReport::Succeeded);
            }
        }
        assert_eq!(runner.max_per_connection.load(Ordering::SeqCst), 1, "one connection ran twice at once");
        assert_eq!(runner.runs.load(Ordering::SeqCst), 40, "each round makes exactly one run");
        assert!(lock(&s.shared.running).is_empty());
    }

    #[tokio::test]
    async fn sync_now_passes_full_or_incremental_to_the_runner() {
        let runner = Counting::default();
        let s = Scheduler::new(runner.clone(), SchedulerLimits::default());
        s.upsert("c1", "gh", daily("c1"), false);
        let full = RunOptions { mode: ListingMode::Full, ..RunOptions::new(Trigger::Manual) };
        assert_eq!(s.run_now_with("c1", full).await, RunReport::Succeeded);
        let incremental = RunOptions { mode: ListingMode::Incremental, ..RunOptions::new(Trigger::Manual) };
        assert_eq!(s.run_now_with("c1", incremental).await, RunReport::Succeeded);
        assert_eq!(runner.full_runs.load(Ordering::SeqCst), 1);
        assert_eq!(runner.runs.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_restored_retry_fires_before_the_next_slot() {
        let s = Scheduler::new(Counting::default(), SchedulerLimits::default());
        s.upsert("c1", "gh", daily("c1"), false);
        let slot = s.next_run("c1").unwrap();
        s.restore_retry("c1", Utc::now() - chrono::Duration::minutes(5));
        let next = s.next_run("c1").unwrap();
        assert!(next <= Utc::now() && next < slot, "a retry due before the restart fires now: {next}");
        // A retry after the next slot changes nothing.
        s.upsert("c2", "gh", daily("c2"), false);
        let slot = s.next_run("c2").unwrap();
        s.restore_retry("c2", slot + chrono::Duration::hours(1));
        assert_eq!(s.next_run("c2").unwrap(), slot);
    }

    fn daily(id: &str) -> Schedule {
        Schedule::new(None, "UTC", id).unwrap()
    }

    #[tokio::test]
    async fn sync_now_coalesces_with_a_running_sync() {
        let runner = Counting::default();
        let s = Scheduler::new(runner.clone(), SchedulerLimits::default());
        s.upsert("c1", "gh", daily("c1"), false);
        let (a, b) = tokio::join!(s.run_now("c1", Trigger::Manual), s.run_now("c1", Trigger::Manual));
        assert_eq!((a, b), (RunReport::Succeeded, RunReport::Succeeded));
        assert_eq!(runner.runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn catch_up_fires_once_and_concurrency_is_bounded_per_plugin() {
        let runner = Counting::default();
        let limits = SchedulerLimits { per_plugin_concurrency: 2, ..Default::default() };
        let s = Scheduler::new(runner.clone(), limits);
        for i in 0..6 {
            s.upsert(&format!("c{i}"), "gh", daily(&format!("c{i}")), true);
        }
        let task = tokio::spawn(s.clone().run(tokio::time::sleep(Duration::from_millis(400))));
        task.await.unwrap();
        assert_eq!(runner.runs.load(Ordering::SeqCst), 6, "each missed slot runs once");
        assert_eq!(runner.max_concurrent.load(Ordering::SeqCst), 2);
        // Each is now scheduled at its next daily slot, not again at once.
        let next = s.next_run("c0").unwrap();
        assert!(next > Utc::now() + chrono::Duration::minutes(1), "{next}");
    }

    #[tokio::test]
    async fn failures_retry_with_backoff_then_flag() {
        let runner = Counting { fail: true, ..Default::default() };
        let limits = SchedulerLimits { retry_base: Duration::from_millis(20), max_failures: 3, ..Default::default() };
        let s = Scheduler::new(runner.clone(), limits);
        s.upsert("c1", "gh", daily("c1"), true);
        tokio::spawn(s.clone().run(tokio::time::sleep(Duration::from_millis(1500)))).await.unwrap();
        // 1 catch-up + retries after 20 ms and 60 ms, then flagged; no more.
        assert_eq!(runner.runs.load(Ordering::SeqCst), 3);
        // Each retry was handed to the runner to keep across a restart.
        assert_eq!(runner.retries.lock().unwrap().len(), 2);
        assert_eq!(*runner.flagged.lock().unwrap(), vec!["c1".to_string()]);
        assert!(s.next_run("c1").unwrap() > Utc::now() + chrono::Duration::minutes(1));
    }
}
