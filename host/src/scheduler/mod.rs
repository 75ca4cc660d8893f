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

/// Runs syncs for the scheduler.
pub trait Runner: Send + Sync + 'static {
    /// Runs one sync of the connection to the end.
    fn run(&self, connection_id: Arc<str>, trigger: Trigger) -> Pin<Box<dyn Future<Output = RunReport> + Send>>;
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
        let plugin =
            lock(&self.shared.queue).entries.get(id).map(|e| e.plugin.clone()).unwrap_or_else(|| Arc::from(""));
        run_coalesced(self.shared.clone(), Arc::from(id), plugin, trigger).await
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
                    let report = run_coalesced(shared.clone(), id.clone(), plugin, trigger).await;
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

/// Runs under the global and per-plugin limits, coalescing with a run of
/// the same connection already in progress.
async fn run_coalesced<R: Runner>(
    shared: Arc<Shared<R>>,
    id: Arc<str>,
    plugin: Arc<str>,
    trigger: Trigger,
) -> RunReport {
    let existing = lock(&shared.running).get(&id).cloned();
    if let Some(mut rx) = existing {
        loop {
            if let Some(report) = rx.borrow().clone() {
                return report;
            }
            if rx.changed().await.is_err() {
                break;
            }
        }
        if let Some(report) = rx.borrow().clone() {
            return report;
        }
    }
    let (tx, rx) = watch::channel(None);
    lock(&shared.running).insert(id.clone(), rx);
    let per_plugin = lock(&shared.per_plugin)
        .entry(plugin.clone())
        .or_insert_with(|| Arc::new(Semaphore::new(shared.limits.per_plugin_concurrency)))
        .clone();
    let report = match (shared.global.clone().acquire_owned().await, per_plugin.acquire_owned().await) {
        (Ok(_g), Ok(_p)) => shared.runner.run(id.clone(), trigger).await,
        _ => RunReport::Failed { retryable: false, consecutive_failures: 0, message: "scheduler closed".into() },
    };
    lock(&shared.running).remove(&id);
    let _ = tx.send(Some(report.clone()));
    report
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Default, Clone)]
    struct Counting {
        runs: Arc<AtomicU32>,
        concurrent: Arc<AtomicU32>,
        max_concurrent: Arc<AtomicU32>,
        flagged: Arc<Mutex<Vec<String>>>,
        fail: bool,
    }

    impl Runner for Counting {
        fn run(&self, _id: Arc<str>, _trigger: Trigger) -> Pin<Box<dyn Future<Output = RunReport> + Send>> {
            let me = self.clone();
            Box::pin(async move {
                let now = me.concurrent.fetch_add(1, Ordering::SeqCst) + 1;
                me.max_concurrent.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
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
        assert_eq!(*runner.flagged.lock().unwrap(), vec!["c1".to_string()]);
        assert!(s.next_run("c1").unwrap() > Utc::now() + chrono::Duration::minutes(1));
    }
}
