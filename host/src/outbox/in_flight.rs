//! Attempts cut short: when an entry whose last call may still be running
//! at the ATS is tried again.
//!
//! # The window this closes
//!
//! An ATS that takes no idempotency key (Greenhouse, Lever) is kept free
//! of duplicates by the connector's look-up: it finds the person by e-mail
//! before it creates one. That look-up only sees what the ATS has finished
//! creating. A host killed while the ATS is still working on a create, and
//! started again at once, would look up, find nobody, and create a second
//! candidate when the first create completes.
//!
//! So before a push's call the worker records on the entry, durably, when
//! the attempt began and the deadline it runs under ([`attempt_deadline`];
//! the worker cuts the call there, [`bounded_call`]). An entry found with
//! that record and no worker on it (after a restart, or a result that
//! could not be stored) was cut short: it is not tried again before its
//! start, plus its deadline, plus [`SETTLE_MARGIN`]. By then no request of
//! the attempt is open, and an ATS that finishes its requests within our
//! deadline has finished it, so the look-up sees the candidate it created.
//! A call that timed out ended the same way, without an answer, and waits
//! as long. Retries after an answer (a `503`, a `429`) are not affected.
//!
//! The record uses the wall clock, as it must outlive the process: a clock
//! set back could push the start into the future, so the wait is capped at
//! deadline + margin from now, never more; a clock set forward shortens it.

use std::future::Future;
use std::time::Duration;

use crate::runtime::{CallError, CallTiming};
use crate::store::{AttemptStarted, OutboxEntry};

/// Added to an interrupted attempt's deadline before it is tried again:
/// time for an ATS that was still writing when our deadline passed to
/// commit what it wrote and make it visible to the look-up (a replica, a
/// search index), and for the clocks of two processes to disagree a little.
/// A few seconds on top of a deadline of tens of seconds is cheap next to a
/// duplicate candidate.
pub const SETTLE_MARGIN: Duration = Duration::from_secs(5);

/// Added to the plugin's call deadline to make the attempt's: the runtime
/// starts a call's deadline only once the call holds its instance slots, so
/// the worker's own bound on the attempt (which starts before) must leave
/// it room to end the call itself, with its own error and records, when
/// the slots came at once. A call that waited longer for its slots is cut
/// by the worker's bound instead.
pub const SLOT_GRACE: Duration = Duration::from_secs(1);

/// The longest deadline an attempt is taken to run under, whatever its
/// record says: the highest call deadline an operator can set
/// (`--max-call-secs`), with [`SLOT_GRACE`]. A damaged record cannot park
/// an entry for longer.
pub const MAX_ATTEMPT_DEADLINE: Duration =
    Duration::from_secs(crate::runtime::limits::MAX_CALL_SECS).saturating_add(SLOT_GRACE);

/// The deadline of an attempt whose plugin calls run under `call_timeout`.
pub fn attempt_deadline(call_timeout: Duration) -> Duration {
    call_timeout.saturating_add(SLOT_GRACE).min(MAX_ATTEMPT_DEADLINE)
}

/// The record of an attempt beginning at `now_ms` under `deadline`.
pub fn started(now_ms: u64, deadline: Duration) -> AttemptStarted {
    AttemptStarted { at_ms: now_ms, deadline_ms: millis(deadline) }
}

/// How long after `now_ms` a request of the attempt `started` may still be
/// worked on at the ATS: until its start + deadline + [`SETTLE_MARGIN`],
/// and never more than deadline + margin from now.
pub fn settle_wait(started: &AttemptStarted, now_ms: u64) -> Duration {
    let longest = Duration::from_millis(started.deadline_ms).min(MAX_ATTEMPT_DEADLINE).saturating_add(SETTLE_MARGIN);
    let until = started.at_ms.saturating_add(millis(longest));
    Duration::from_millis(until.saturating_sub(now_ms)).min(longest)
}

/// How long the worker waits before it tries `entry` at `now_ms`: until
/// its retry time (at most `longest_retry`, the longest delay the retry
/// policy sets, so a clock set back cannot park it either) and, when an
/// attempt was cut short, until that attempt has settled
/// ([`settle_wait`]).
pub fn wait_before(entry: &OutboxEntry, now_ms: u64, longest_retry: Duration) -> Duration {
    let retry = Duration::from_millis(entry.not_before_ms.saturating_sub(now_ms)).min(longest_retry);
    let settle = entry.attempt_started.as_ref().map_or(Duration::ZERO, |s| settle_wait(s, now_ms));
    retry.max(settle)
}

/// Runs `call` (a push's, of plugin `plugin`) and cuts it at `deadline`
/// from now, answering a timeout then: with the worker's own bound, no
/// request of the attempt outlives its recorded deadline, however long the
/// call waited for its slots in the runtime.
pub async fn bounded_call<T>(
    plugin: &str,
    deadline: Duration,
    call: impl Future<Output = (Result<T, CallError>, CallTiming)>,
) -> (Result<T, CallError>, CallTiming) {
    match tokio::time::timeout(deadline, call).await {
        Ok(done) => done,
        Err(_elapsed) => {
            let error = CallError::Timeout { plugin: plugin.to_string(), function: "push-candidate", limit: deadline };
            (Err(error), CallTiming { total: deadline, http: Duration::ZERO })
        }
    }
}

/// A duration in whole milliseconds, saturating.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OutboxKind;

    const NOW: u64 = 1_800_000_000_000;
    const LONGEST_RETRY: Duration = Duration::from_secs(900);

    fn entry(not_before_ms: u64, attempt_started: Option<AttemptStarted>) -> OutboxEntry {
        OutboxEntry {
            id: 1,
            candidate_id: 2,
            account_id: "a".into(),
            connection_id: "c".into(),
            kind: OutboxKind::Push { position_id: 3, stage_id: "s".into() },
            queued_at_ms: 0,
            attempts: 0,
            not_before_ms,
            last_error: None,
            metering: None,
            attempt_started,
        }
    }

    #[test]
    fn an_attempt_cut_short_is_retried_after_its_deadline_and_the_margin() {
        let deadline = attempt_deadline(Duration::from_secs(30));
        assert_eq!(deadline, Duration::from_secs(31));
        // Killed 2 s into the attempt; the restart looks 1 s later.
        let cut = started(NOW - 3_000, deadline);
        let wait = wait_before(&entry(0, Some(cut)), NOW, LONGEST_RETRY);
        assert_eq!(wait, Duration::from_secs(31 + 5 - 3));
        // Found long after: at once.
        assert_eq!(wait_before(&entry(0, Some(cut)), NOW + 60_000, LONGEST_RETRY), Duration::ZERO);
        // A retry time later than the settling wins.
        assert_eq!(wait_before(&entry(NOW + 50_000, Some(cut)), NOW, LONGEST_RETRY), Duration::from_secs(50));
    }

    #[test]
    fn retries_after_an_answer_are_not_delayed() {
        assert_eq!(wait_before(&entry(0, None), NOW, LONGEST_RETRY), Duration::ZERO);
        assert_eq!(wait_before(&entry(NOW + 500, None), NOW, LONGEST_RETRY), Duration::from_millis(500));
        assert_eq!(wait_before(&entry(NOW - 500, None), NOW, LONGEST_RETRY), Duration::ZERO);
    }

    #[test]
    fn clocks_set_back_and_damaged_records_cannot_park_an_entry() {
        let deadline = attempt_deadline(Duration::from_secs(30));
        // The clock went back a day since the attempt began: the start is
        // in the future, the wait still at most deadline + margin.
        let future = started(NOW + 86_400_000, deadline);
        assert_eq!(settle_wait(&future, NOW), Duration::from_secs(36));
        assert_eq!(wait_before(&entry(0, Some(future)), NOW, LONGEST_RETRY), Duration::from_secs(36));
        // A retry time a day ahead: capped at the longest retry delay.
        assert_eq!(wait_before(&entry(NOW + 86_400_000, None), NOW, LONGEST_RETRY), LONGEST_RETRY);
        // A record with an absurd deadline, or at the end of time.
        let absurd = AttemptStarted { at_ms: u64::MAX, deadline_ms: u64::MAX };
        assert_eq!(settle_wait(&absurd, NOW), MAX_ATTEMPT_DEADLINE + SETTLE_MARGIN);
        assert_eq!(settle_wait(&absurd, 0), MAX_ATTEMPT_DEADLINE + SETTLE_MARGIN);
        // And the attempt's own deadline is capped the same way.
        assert_eq!(attempt_deadline(Duration::MAX), MAX_ATTEMPT_DEADLINE);
        assert_eq!(attempt_deadline(Duration::ZERO), SLOT_GRACE);
    }

    #[tokio::test]
    async fn a_call_is_cut_at_the_attempts_deadline() {
        let limit = Duration::from_millis(50);
        let slow = async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            (Ok::<u32, CallError>(1), CallTiming::default())
        };
        let begun = std::time::Instant::now();
        let (result, timing) = bounded_call("greenhouse", limit, slow).await;
        assert!(begun.elapsed() < Duration::from_secs(30), "{:?}", begun.elapsed());
        assert!(matches!(result, Err(CallError::Timeout { limit: l, .. }) if l == limit));
        assert_eq!(timing.total, limit);
        let quick = async { (Ok::<u32, CallError>(7), CallTiming::default()) };
        assert_eq!(bounded_call("greenhouse", limit, quick).await.0.ok(), Some(7));
    }
}
