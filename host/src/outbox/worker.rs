//! The worker that drains the outbox: one task per candidate with entries,
//! a semaphore per connection.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};

use super::in_flight;
use super::pipeline::{self, PipelineFailure, PipelineFetches, Unprepared};
use super::prepare::{self, Prepared};
use super::retry::{Failure, MAX_RETRY_AFTER, RetryPolicy, Verdict, random_jitter};
use crate::runtime::meter::{attempt_cost, attempt_recorded}; // metering
use crate::runtime::{CallError, CallTiming};
use crate::store::{MoveOutcome, OutboxEntry, OutboxKind, PushOutcome, Store, StoreError, now_ms};
use crate::sync::SyncEngine;

/// Calls in flight per connection at most, by default: as many as the
/// runtime lets one connection make at once
/// ([`CALLS_PER_CONNECTION`](crate::runtime::slots::CALLS_PER_CONNECTION)),
/// and never more (see [`max_in_flight`]). That keeps a nearby ATS busy
/// (4 pushes in flight at 200 ms each are 20 pushes a second) and is
/// already above the documented rate limits of the slower ATS (Greenhouse:
/// 50 requests per 10 seconds per key, each push being two or three
/// requests).
pub const DEFAULT_PER_CONNECTION: usize = crate::runtime::slots::CALLS_PER_CONNECTION as usize;
/// How long a candidate's task waits after the store failed it before it
/// looks again: a store error is not the entry's fault, and spinning on it
/// would only fill the log.
const STORE_ERROR_PAUSE: Duration = Duration::from_secs(5);
/// Host-overhead samples kept for [`OutboxStats`]: the last few thousand
/// calls are plenty for percentiles and cost 8 bytes each.
const MAX_TIMING_SAMPLES: usize = 16_384;

/// How the worker runs.
#[derive(Debug, Clone)]
pub struct OutboxOptions {
    /// Calls in flight per connection at most (at least 1, at most the
    /// runtime's calls per connection: see [`max_in_flight`]).
    pub per_connection: usize,
    /// When failed calls are retried.
    pub retry: RetryPolicy,
    /// Signs the résumé links pushes carry; `None`: pushes carry none
    /// (a connector that needs one reports the push as unsupported).
    pub resume_links: Option<super::ResumeLinks>,
}

impl Default for OutboxOptions {
    fn default() -> Self {
        OutboxOptions { per_connection: DEFAULT_PER_CONNECTION, retry: RetryPolicy::default(), resume_links: None }
    }
}

/// What the worker measured, for the metrics and the benchmark.
#[derive(Debug, Clone, Default)]
pub struct OutboxStats {
    /// Pushes recorded as pushed.
    pub pushed: u64,
    /// Pushes and moves recorded as failed.
    pub failed: u64,
    /// Attempts that will be retried.
    pub retried: u64,
    /// Per finished push, the host's own time in microseconds: from taking
    /// the entry to its result being committed, minus the time spent in
    /// HTTP exchanges with the ATS. The most recent ones.
    pub host_micros: Vec<u64>,
    /// Per finished push, from being queued to its result being committed
    /// (time waiting in the queue and in the ATS included), microseconds.
    pub latency_micros: Vec<u64>,
    /// Where each push's host time went, parallel to `host_micros`.
    pub phases: Vec<PushPhases>,
}

/// One push's host time by phase, microseconds; together they are its
/// [`OutboxStats::host_micros`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushPhases {
    /// Reading and checking the candidate, position, mapping and
    /// connection, and finding the loaded plugin.
    pub prepare: u64,
    /// The call outside its HTTP exchanges: waiting for pool slots,
    /// instantiating, the guest's own work, conversions.
    pub call: u64,
    /// The store transaction that records the ATS's ids and removes the entry.
    pub commit: u64,
    /// Of the push's whole time (HTTP included), the part its work was
    /// running on a worker thread (inside `poll`, the commit included): the
    /// host's own work, without the time the task waited for a thread
    /// while other tasks, or other processes, had the CPU.
    pub busy: u64,
}

/// A future with the time spent inside its `poll`: the work it did, not
/// the time it waited to be polled.
struct Busy<F> {
    inner: std::pin::Pin<Box<F>>,
    busy: Duration,
}

impl<F: std::future::Future> Busy<F> {
    fn new(inner: F) -> Self {
        Busy { inner: Box::pin(inner), busy: Duration::ZERO }
    }
}

impl<F: std::future::Future> std::future::Future for Busy<F> {
    type Output = (F::Output, Duration);

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let started = std::time::Instant::now();
        let polled = self.inner.as_mut().poll(cx);
        self.busy += started.elapsed();
        polled.map(|output| (output, self.busy))
    }
}

/// The outbox worker. Cheap to clone; clones share the worker.
#[derive(Clone)]
pub struct Outbox {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    engine: SyncEngine,
    options: OutboxOptions,
    /// Candidates whose task is running.
    active: Mutex<HashSet<u64>>,
    /// One semaphore per connection, created on first use.
    limits: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Job pipelines being read for pushes that need them.
    pipelines: PipelineFetches,
    stop: watch::Receiver<bool>,
    stats: Mutex<OutboxStats>,
}

impl Outbox {
    /// Starts the worker over `engine`'s store and runtime, and resumes
    /// every entry left by an earlier run. Runs until `stop` turns true;
    /// an entry interrupted then is tried again on the next start.
    pub fn start(
        engine: SyncEngine,
        options: OutboxOptions,
        stop: watch::Receiver<bool>,
    ) -> Result<Outbox, StoreError> {
        let store = engine.store().clone();
        let outbox = Outbox {
            inner: Arc::new(Inner {
                store,
                engine,
                options,
                active: Mutex::default(),
                limits: Mutex::default(),
                pipelines: PipelineFetches::default(),
                stop,
                stats: Mutex::default(),
            }),
        };
        let pending = outbox.inner.store.outbox_candidates()?;
        if !pending.is_empty() {
            tracing::info!(candidates = pending.len(), "resuming outbox entries left by the last run");
        }
        for candidate in pending {
            outbox.wake(candidate);
        }
        Ok(outbox)
    }

    /// Makes sure `candidate_id`'s entries are being worked on: call after
    /// committing an entry. Must be called within a tokio runtime.
    pub fn wake(&self, candidate_id: u64) {
        if *self.inner.stop.borrow() {
            return;
        }
        let started = lock(&self.inner.active).insert(candidate_id);
        if started {
            let inner = self.inner.clone();
            tokio::spawn(async move { inner.drive(candidate_id).await });
        }
    }

    /// A snapshot of what the worker measured.
    pub fn stats(&self) -> OutboxStats {
        lock(&self.inner.stats).clone()
    }
}

/// The pushes and moves the worker lets one connection have in flight for
/// `wanted`: at least one, and no more than the runtime lets a connection
/// make at once. More would only wait inside the runtime for a call slot,
/// after the push was taken and its clock started, behind other pushes'
/// whole ATS exchanges: a queue in the wrong place, whose wait would count
/// as the host's time. Queued here instead, a push waits before it starts.
pub fn max_in_flight(wanted: usize) -> usize {
    wanted.clamp(1, crate::runtime::slots::CALLS_PER_CONNECTION as usize)
}

/// A duration in whole microseconds, saturating.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Locks a mutex; a poisoned one only means another task panicked while
/// holding it, and the sets and counters in it are still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    /// Works through one candidate's entries in order until none is left.
    async fn drive(self: Arc<Self>, candidate_id: u64) {
        loop {
            if *self.stop.borrow() {
                lock(&self.active).remove(&candidate_id);
                return;
            }
            // Looked up under the lock: an entry committed after this look
            // finds the candidate still active (its `wake` does nothing), so
            // the look must see it, or the candidate must be released first.
            let next = {
                let mut active = lock(&self.active);
                match self.store.next_outbox_entry(candidate_id) {
                    Ok(Some(entry)) => entry,
                    Ok(None) => {
                        active.remove(&candidate_id);
                        return;
                    }
                    Err(e) => {
                        tracing::error!(candidate = candidate_id, error = %e, "cannot read the outbox");
                        drop(active);
                        if !self.pause(STORE_ERROR_PAUSE).await {
                            lock(&self.active).remove(&candidate_id);
                            return;
                        }
                        continue;
                    }
                }
            };
            let longest_retry = self.options.retry.max.max(MAX_RETRY_AFTER);
            let wait = in_flight::wait_before(&next, now_ms(), longest_retry);
            if next.attempt_started.is_some() && !wait.is_zero() {
                tracing::info!(
                    entry = next.id,
                    candidate = candidate_id,
                    wait_ms = wait.as_millis() as u64,
                    "an attempt cut short may still be running at the ATS; waiting until it cannot be"
                );
            }
            if !wait.is_zero() && !self.pause(wait).await {
                lock(&self.active).remove(&candidate_id);
                return;
            }
            let semaphore = self.semaphore(&next.connection_id);
            let mut stop = self.stop.clone();
            let permit = tokio::select! {
                permit = semaphore.acquire_owned() => permit,
                _ = stop.wait_for(|s| *s) => {
                    lock(&self.active).remove(&candidate_id);
                    return;
                }
            };
            let Ok(_permit) = permit else {
                // Semaphores are never closed; treat it as a stop.
                lock(&self.active).remove(&candidate_id);
                return;
            };
            if let Err(e) = self.attempt(next).await {
                tracing::error!(candidate = candidate_id, error = %e, "cannot record an outbox result");
                if !self.pause(STORE_ERROR_PAUSE).await {
                    lock(&self.active).remove(&candidate_id);
                    return;
                }
            }
        }
    }

    /// Sleeps `d` unless stopped first; whether to go on.
    async fn pause(&self, d: Duration) -> bool {
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = stop.wait_for(|s| *s) => false,
        }
    }

    fn semaphore(&self, connection_id: &str) -> Arc<Semaphore> {
        lock(&self.limits)
            .entry(connection_id.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(max_in_flight(self.options.per_connection))))
            .clone()
    }

    /// One attempt at one entry, its result committed.
    async fn attempt(&self, entry: OutboxEntry) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        match &entry.kind {
            OutboxKind::Push { .. } => {
                let links = self.options.resume_links.as_ref();
                let ((prepared, stages_cost), mut busy) =
                    Busy::new(pipeline::prepare_push(&self.engine, &self.pipelines, &entry, links)).await;
                let mut prepare_time = started.elapsed();
                let mut metered = None; // metering: the attempt's call, for what it cost
                let mut answers_not_sent = Vec::new();
                let mut begun = None; // the attempt's record, once its call is to be made
                let mut marked_bytes = None; // metering: what recording it wrote
                let (outcome, timing) = match prepared {
                    // Not the entry's fault: tried again after a pause.
                    Err(Unprepared::Refused(prepare::PushRefusal::Store(e))) => return Err(e),
                    Err(Unprepared::Refused(refusal)) => {
                        (Err(Retryable::Never(refusal.to_string())), CallTiming::default())
                    }
                    Err(Unprepared::Stages(failure)) => (Err(Retryable::from(failure)), CallTiming::default()),
                    Ok(Prepared { plugin, context, request, answers_not_sent: unsent }) => {
                        answers_not_sent = unsent;
                        // On disk before the call: a host that dies during
                        // it leaves the record, and the next waits for the
                        // call to be over at the ATS (`in_flight`).
                        let deadline = in_flight::attempt_deadline(plugin.limits().call_timeout);
                        let record = in_flight::started(now_ms(), deadline);
                        let marking = std::time::Instant::now();
                        let Some(bytes) = self.store.start_outbox_attempt(entry.id, record)? else {
                            return Ok(()); // finished meanwhile: nothing to do
                        };
                        let marked = marking.elapsed();
                        busy += marked;
                        prepare_time += marked;
                        begun = Some(record);
                        marked_bytes = Some(bytes);
                        let plugin = crate::runtime::meter::push_metered(&plugin); // metering
                        let call = plugin.push_candidate_timed(&context, &request);
                        let ((result, timing), call_busy) =
                            Busy::new(in_flight::bounded_call(plugin.id(), deadline, call)).await;
                        metered = Some(plugin); // metering
                        busy += call_busy;
                        (result.map_err(Retryable::from), timing)
                    }
                };
                // metering: the attempt's whole cost (counted as a retry or not)
                let attempt_total = |retried| {
                    let mut cost = sum_costs(stages_cost, attempt_cost(metered.as_ref(), retried));
                    if let (Some(cost), Some(bytes)) = (cost.as_mut(), marked_bytes) {
                        cost.store_bytes_written = cost.store_bytes_written.saturating_add(bytes); // the attempt's record
                    }
                    cost
                };
                match outcome {
                    Ok(pushed) => {
                        let cost = attempt_total(false); // metering
                        let committing = std::time::Instant::now();
                        let stored = self.store.finish_push_recorded(
                            &entry,
                            PushOutcome::Pushed(pushed),
                            cost.as_ref(),
                            &answers_not_sent,
                        )?;
                        let host = started.elapsed().saturating_sub(timing.http);
                        let commit = committing.elapsed();
                        attempt_recorded(metered.as_ref(), stored); // metering
                        let phases = PushPhases {
                            prepare: micros(prepare_time),
                            call: micros(timing.host()),
                            commit: micros(commit),
                            busy: micros(busy + commit),
                        };
                        let latency = now_ms().saturating_sub(entry.queued_at_ms).saturating_mul(1000);
                        let mut stats = lock(&self.stats);
                        stats.pushed += 1;
                        if stats.host_micros.len() >= MAX_TIMING_SAMPLES {
                            stats.host_micros.remove(0);
                            stats.latency_micros.remove(0);
                            stats.phases.remove(0);
                        }
                        stats.host_micros.push(micros(host));
                        stats.latency_micros.push(latency);
                        stats.phases.push(phases);
                        Ok(())
                    }
                    Err(error) => match self.verdict(&entry, &error) {
                        Verdict::Retry(after) => {
                            // metering: counted as a retry
                            let cost = attempt_total(true);
                            // Ended without an answer: the ATS may still be
                            // working on it, so wait as for an attempt cut short.
                            let after = match (&error, &begun) {
                                (Retryable::Call { unanswered: true, .. }, Some(record)) => {
                                    after.max(in_flight::settle_wait(record, now_ms()))
                                }
                                _ => after,
                            };
                            self.retry(&entry, after, error.message(), cost.as_ref())
                        }
                        Verdict::GiveUp => {
                            lock(&self.stats).failed += 1;
                            let failed = PushOutcome::Failed(error.message().to_string());
                            let cost = attempt_total(false); // metering
                            let stored = self.store.finish_push_metered(&entry, failed, cost.as_ref()); // metering
                            stored.map(|stored| attempt_recorded(metered.as_ref(), stored)) // metering
                        }
                    },
                }
            }
            OutboxKind::Move { .. } => {
                let mut metered = None; // metering: the attempt's call, for what it cost
                let outcome = match pipeline::prepare_move(&self.engine, &self.pipelines, &entry).await {
                    Err(prepare::MoveRefusal::NotPropagated(reason)) => Ok(MoveOutcome::NotPropagated(reason)),
                    Err(prepare::MoveRefusal::Failed(reason)) => Ok(MoveOutcome::Failed(reason)),
                    Err(prepare::MoveRefusal::NotFetched(job)) => Ok(MoveOutcome::Failed(format!(
                        "the ATS stages of job `{}` have not been fetched",
                        job.escape_debug()
                    ))),
                    Err(prepare::MoveRefusal::Stages(failure)) => Err(Retryable::from(failure)),
                    Ok(prepare::PreparedMove { plugin, context, request }) => {
                        let plugin = crate::runtime::meter::move_metered(&plugin); // metering
                        let moved = plugin.move_application(&context, &request).await;
                        metered = Some(plugin); // metering
                        match moved {
                            Ok(()) => Ok(MoveOutcome::Moved),
                            Err(e) => Err(Retryable::from(e)),
                        }
                    }
                };
                match outcome {
                    Ok(done) => {
                        let cost = attempt_cost(metered.as_ref(), false); // metering
                        let stored = self.store.finish_move_metered(&entry, done, cost.as_ref()); // metering
                        stored.map(|stored| attempt_recorded(metered.as_ref(), stored)) // metering
                    }
                    Err(error) => match self.verdict(&entry, &error) {
                        Verdict::Retry(after) => {
                            let cost = attempt_cost(metered.as_ref(), true); // metering: counted as a retry
                            self.retry(&entry, after, error.message(), cost.as_ref())
                        }
                        Verdict::GiveUp => {
                            lock(&self.stats).failed += 1;
                            let failed = MoveOutcome::Failed(error.message().to_string());
                            let cost = attempt_cost(metered.as_ref(), false); // metering
                            let stored = self.store.finish_move_metered(&entry, failed, cost.as_ref()); // metering
                            stored.map(|stored| attempt_recorded(metered.as_ref(), stored)) // metering
                        }
                    },
                }
            }
        }
    }

    fn verdict(&self, entry: &OutboxEntry, error: &Retryable) -> Verdict {
        match error {
            Retryable::Never(_) => Verdict::GiveUp,
            Retryable::Call { failure, .. } => {
                self.options.retry.verdict(entry.attempts.saturating_add(1), *failure, random_jitter())
            }
        }
    }

    /// Records a failed attempt to try again `after`; `cost`: what its call
    /// cost, added to the entry's (metering).
    fn retry(
        &self,
        entry: &OutboxEntry,
        after: Duration,
        message: &str,
        cost: Option<&crate::store::RunMetering>,
    ) -> Result<(), StoreError> {
        lock(&self.stats).retried += 1;
        let due = now_ms().saturating_add(u64::try_from(after.as_millis()).unwrap_or(u64::MAX));
        tracing::info!(
            entry = entry.id,
            candidate = entry.candidate_id,
            attempts = entry.attempts + 1,
            retry_in_ms = after.as_millis() as u64,
            error = message,
            "outbox call failed; will retry"
        );
        self.store.retry_outbox_entry_metered(entry.id, due, message, cost)
    }
}

/// A failed attempt, by whether it may be retried.
enum Retryable {
    /// Refused before any call (a closed job, no mapping, a candidate gone):
    /// retrying cannot help.
    Never(String),
    /// The call failed; the message is the runtime's, already escaped and
    /// scrubbed of secrets. `unanswered`: it ended without the ATS's answer
    /// (a timeout), so the ATS may still be working on its request.
    Call { failure: Failure, message: String, unanswered: bool },
}

impl Retryable {
    fn message(&self) -> &str {
        match self {
            Retryable::Never(m) | Retryable::Call { message: m, .. } => m,
        }
    }
}

impl From<PipelineFailure> for Retryable {
    fn from(f: PipelineFailure) -> Self {
        Retryable::Call { failure: f.failure, message: f.message, unanswered: false }
    }
}

/// Two parts of one attempt's cost, added (metering).
fn sum_costs(
    a: Option<crate::store::RunMetering>,
    b: Option<crate::store::RunMetering>,
) -> Option<crate::store::RunMetering> {
    match (a, b) {
        (Some(mut a), Some(b)) => {
            a.add(&b);
            Some(a)
        }
        (a, b) => a.or(b),
    }
}

impl From<CallError> for Retryable {
    fn from(e: CallError) -> Self {
        let unanswered = matches!(e, CallError::Timeout { .. });
        Retryable::Call { failure: Failure::of(&e), message: e.to_string(), unanswered }
    }
}
