//! A job's ATS pipeline, read when a push or move needs it and none is
//! cached.
//!
//! The daily stage refresh reads a bounded number of per-job pipelines
//! ([`MAX_JOB_STAGE_CALLS`](crate::sync::stage_refresh::MAX_JOB_STAGE_CALLS)),
//! so a job created since, or past that bound, has none cached. A push for
//! it must not wait for the refresh to come round: when mapping our stage
//! finds the job's stages never fetched, the worker reads that job's
//! pipeline through `list-stages(job)` (the refresh's own code path:
//! [`fetch_job_pipeline`], same checks, same cache), then maps again. A
//! mapping that points at a stage missing from the list just read is stale
//! and reported as such, as after a refresh.
//!
//! One read serves every push waiting for the same job: the first to need
//! it reads, the others wait for that read and share its outcome, and a
//! read started after the pipeline was cached finds it there and calls
//! nothing. A transient or rate-limited failure is the attempt's failure,
//! retried as a push is (backoff, `Retry-After`); anything else, an ATS
//! that has no such job included, fails the push for good with a message
//! naming the job.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use super::Failure;
use super::prepare::{self, MoveRefusal, Prepared, PreparedMove, PushRefusal};
use crate::contract::ConnectorError;
use crate::runtime::CallError;
use crate::store::{MappingError, OutboxEntry, RunMetering, StoreError};
use crate::sync::SyncEngine;
use crate::sync::stage_refresh::{RefreshError, fetch_job_pipeline};

/// Why a job's pipeline could not be read, and whether that may pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineFailure {
    /// How the outbox's retry policy treats it.
    pub failure: Failure,
    /// What happened, naming the job.
    pub message: String,
}

/// One read's outcome, shared by everyone who waited for it.
type Outcome = Result<(), PipelineFailure>;

/// A read in flight: whoever holds the lock reads (or has read: `Some`).
type Flight = Arc<tokio::sync::Mutex<Option<Outcome>>>;

/// The pipeline reads in flight, by (connection, job): at most one each.
#[derive(Default)]
pub struct PipelineFetches {
    flights: Mutex<HashMap<(String, String), Flight>>,
}

/// Locks a mutex; a poisoned one only means another task panicked while
/// holding it, and the map in it is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A caller's hold on a flight; the last one to let go removes it, so the
/// map holds only reads someone is waiting for, and a later need (after a
/// failure, say) starts a new read.
struct Hold<'a> {
    fetches: &'a PipelineFetches,
    key: (String, String),
    flight: Flight,
}

impl Drop for Hold<'_> {
    fn drop(&mut self) {
        let mut flights = lock(&self.fetches.flights);
        // Clones are taken under this lock: two references (the map's and
        // this hold's) mean nobody else waits on it.
        if flights.get(&self.key).is_some_and(|f| Arc::ptr_eq(f, &self.flight)) && Arc::strong_count(&self.flight) == 2
        {
            flights.remove(&self.key);
        }
    }
}

impl PipelineFetches {
    /// Runs `read` for `key` unless a read for it is in flight; then waits
    /// for that one and returns its outcome. A read whose caller went away
    /// before it finished leaves no outcome, and the next waiter reads.
    async fn single(&self, key: (String, String), read: impl Future<Output = Outcome>) -> Outcome {
        let flight = lock(&self.flights).entry(key.clone()).or_default().clone();
        let hold = Hold { fetches: self, key, flight };
        let mut slot = hold.flight.lock().await;
        if let Some(done) = &*slot {
            return done.clone();
        }
        let done = read.await;
        *slot = Some(done.clone());
        done
    }

    /// Makes sure `job`'s pipeline is cached for `connection_id`, reading
    /// it through the connector if no one has. Returns the outcome and what
    /// this caller's read cost (`None` when it made none).
    pub async fn ensure(
        &self,
        engine: &SyncEngine,
        connection_id: &str,
        job: &str,
    ) -> (Result<(), PipelineFailure>, Option<RunMetering>) {
        let mut cost = None;
        let key = (connection_id.to_string(), job.to_string());
        let outcome = self
            .single(key, async {
                // Another read may have cached it since the caller looked.
                match engine.store().ats_stages_for_job(connection_id, Some(job)) {
                    Ok(Some(_)) => return Ok(()),
                    Ok(None) => {}
                    Err(e) => return Err(store_failure(job, &e)),
                }
                let (plugin, context) = prepare::connection(engine, connection_id).await.map_err(|e| {
                    let failure =
                        if matches!(e, PushRefusal::Store(_)) { Failure::Transient } else { Failure::Permanent };
                    PipelineFailure { failure, message: format!("{}: {e}", reading(job)) }
                })?;
                // Metered as the push's own calls are: its record counts it.
                let plugin = crate::runtime::meter::push_metered(&plugin); // metering
                let read = fetch_job_pipeline(engine.store(), &plugin, &context, connection_id, job).await;
                cost = plugin.meter().report(); // metering
                classify(job, read.map(|cached| cached.is_some()))
            })
            .await;
        (outcome, cost)
    }
}

/// "reading the ATS stages of job `…`", the job code escaped.
fn reading(job: &str) -> String {
    format!("reading the ATS stages of job `{}`", job.escape_debug())
}

fn store_failure(job: &str, e: &StoreError) -> PipelineFailure {
    PipelineFailure { failure: Failure::Transient, message: format!("{}: {e}", reading(job)) }
}

/// The outbox's view of a read: `Ok(true)` cached, `Ok(false)` the
/// connector lists no stages.
fn classify(job: &str, read: Result<bool, RefreshError>) -> Outcome {
    let permanent = |message: String| Err(PipelineFailure { failure: Failure::Permanent, message });
    match read {
        Ok(true) => Ok(()),
        Ok(false) => {
            permanent(format!("{}: the connector does not list stages (list-stages is unsupported)", reading(job)))
        }
        Err(RefreshError::Call(e)) => {
            let message = match &e {
                CallError::Connector { error: ConnectorError::NotFound(_), .. } => {
                    format!("{}: the ATS has no such job (or it has no pipeline): {e}", reading(job))
                }
                _ => format!("{} failed: {e}", reading(job)),
            };
            Err(PipelineFailure { failure: Failure::of(&e), message })
        }
        // Limits on what is cached: the ATS's answer will not change by itself.
        Err(RefreshError::Store(e @ StoreError::InvalidAtsStages { .. })) => {
            permanent(format!("{}: the answer was refused: {e}", reading(job)))
        }
        Err(RefreshError::Store(e)) => Err(store_failure(job, &e)),
        Err(e @ RefreshError::Task(_)) => {
            Err(PipelineFailure { failure: Failure::Transient, message: format!("{}: {e}", reading(job)) })
        }
    }
}

/// Why a push is not ready to call.
pub enum Unprepared {
    /// Refused by the checks (never retried, but for a store error).
    Refused(PushRefusal),
    /// The job's pipeline was needed and could not be read.
    Stages(PipelineFailure),
}

/// The job whose stages a refusal says were never fetched.
fn not_fetched(refusal: &PushRefusal) -> Option<&str> {
    match refusal {
        PushRefusal::Mapping { source: MappingError::NotFetched { job_code: Some(job), .. }, .. } => Some(job),
        _ => None,
    }
}

/// [`prepare::push`], reading the job's pipeline first when none is
/// cached; with what that read cost.
pub async fn prepare_push(
    engine: &SyncEngine,
    fetches: &PipelineFetches,
    entry: &OutboxEntry,
    links: Option<&super::ResumeLinks>,
) -> (Result<Prepared, Unprepared>, Option<RunMetering>) {
    let refusal = match prepare::push(engine, entry, links).await {
        Ok(prepared) => return (Ok(prepared), None),
        Err(refusal) => refusal,
    };
    let Some(job) = not_fetched(&refusal).map(str::to_string) else {
        return (Err(Unprepared::Refused(refusal)), None);
    };
    let (read, cost) = fetches.ensure(engine, &entry.connection_id, &job).await;
    let prepared = match read {
        // A mapping the list just read cannot serve fails for good, as a
        // refused check does, saying which job's list it was checked against.
        Ok(()) => prepare::push(engine, entry, links).await.map_err(|refusal| match refusal {
            mapping @ PushRefusal::Mapping { .. } => Unprepared::Stages(PipelineFailure {
                failure: Failure::Permanent,
                message: format!("{mapping} (job `{}`, whose ATS stages were just read)", job.escape_debug()),
            }),
            refusal => Unprepared::Refused(refusal),
        }),
        Err(failure) => Err(Unprepared::Stages(failure)),
    };
    (prepared, cost)
}

/// [`prepare::move_application`], reading the job's pipeline first when
/// none is cached. What the read cost is not kept: moves are not metered
/// on a record.
pub async fn prepare_move(
    engine: &SyncEngine,
    fetches: &PipelineFetches,
    entry: &OutboxEntry,
) -> Result<PreparedMove, MoveRefusal> {
    let job = match prepare::move_application(engine, entry).await {
        Err(MoveRefusal::NotFetched(job)) => job,
        other => return other,
    };
    match fetches.ensure(engine, &entry.connection_id, &job).await.0 {
        Ok(()) => match prepare::move_application(engine, entry).await {
            // Cached a moment ago and gone again: not worth a loop.
            Err(MoveRefusal::NotFetched(job)) => Err(MoveRefusal::Failed(format!(
                "the ATS stages of job `{}` are not cached after reading them",
                job.escape_debug()
            ))),
            other => other,
        },
        Err(failure) => Err(MoveRefusal::Stages(failure)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    fn key(job: &str) -> (String, String) {
        ("c".to_string(), job.to_string())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_needs_for_one_job_share_one_read_and_leave_nothing_behind() {
        let fetches = Arc::new(PipelineFetches::default());
        let reads = Arc::new(AtomicUsize::new(0));
        let failed = PipelineFailure { failure: Failure::RateLimited(None), message: "429".into() };
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (fetches, reads, failed) = (fetches.clone(), reads.clone(), failed.clone());
                tokio::spawn(async move {
                    fetches
                        .single(key("J1"), async {
                            reads.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            Err(failed)
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Err(failed.clone()), "every waiter shares the one outcome");
        }
        assert_eq!(reads.load(Ordering::SeqCst), 1, "one read for eight needs");
        assert!(lock(&fetches.flights).is_empty(), "the finished flight is gone");
        // A need after that reads again (the failure is not remembered).
        let again = fetches.single(key("J1"), async { Ok(()) }).await;
        assert_eq!(again, Ok(()));
    }

    #[tokio::test]
    async fn different_jobs_read_independently_and_a_dropped_read_is_taken_over() {
        let fetches = PipelineFetches::default();
        let (a, b) = tokio::join!(
            fetches.single(key("A"), async { Ok(()) }),
            fetches.single(key("B"), async {
                Err(PipelineFailure { failure: Failure::Permanent, message: "gone".into() })
            })
        );
        assert!(a.is_ok() && b.is_err());
        // A read whose caller gives up leaves no outcome: the next reads.
        let stalled = fetches.single(key("C"), std::future::pending());
        assert!(tokio::time::timeout(Duration::from_millis(20), stalled).await.is_err());
        assert!(lock(&fetches.flights).is_empty(), "the abandoned flight is gone");
        assert_eq!(fetches.single(key("C"), async { Ok(()) }).await, Ok(()));
    }

    #[test]
    fn failures_name_the_job_and_keep_their_retry_class() {
        let call = |error: ConnectorError| RefreshError::Call(CallError::Connector { plugin: "p".into(), error });
        let gone = classify("J\n7", Err(call(ConnectorError::NotFound("404".into())))).unwrap_err();
        assert_eq!(gone.failure, Failure::Permanent);
        assert!(gone.message.contains("job `J\\n7`") && gone.message.contains("no such job"), "{}", gone.message);
        let limited = classify("J7", Err(call(ConnectorError::Transient("503".into())))).unwrap_err();
        assert_eq!(limited.failure, Failure::Transient);
        assert!(limited.message.contains("J7"), "{}", limited.message);
        let unsupported = classify("J7", Ok(false)).unwrap_err();
        assert_eq!(unsupported.failure, Failure::Permanent);
        assert!(unsupported.message.contains("does not list stages"), "{}", unsupported.message);
        let refused = classify(
            "J7",
            Err(RefreshError::Store(StoreError::InvalidAtsStages {
                connection: "c".into(),
                reason: "201 stages".into(),
            })),
        )
        .unwrap_err();
        assert_eq!(refused.failure, Failure::Permanent);
        assert_eq!(classify("J7", Ok(true)), Ok(()));
    }
}
