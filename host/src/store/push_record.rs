//! A candidate's push history: one [`PushRecord`] per push that ended
//! (pushed, or failed for good), with what it cost over all its attempts.
//!
//! A push runs in attempts (the outbox tries a failed one again later), each
//! metered on its own ([`crate::runtime::meter`]). A failed attempt adds its
//! cost to its outbox entry's [`OutboxEntry::metering`]; the last attempt
//! adds its own and the whole becomes the candidate's record of the push,
//! in the transaction that records its result. The records kept count the
//! bytes they wrote to the store too: each retry's entry record, the
//! result's event and the candidate record that carries the history.
//!
//! A stage move propagated to the ATS after the push is an outbox entry
//! too, metered the same way; its cost goes on the move's own record
//! ([`StageMove::cost`]), next to whether it reached the ATS, in the
//! transaction that records how it ended ([`record_move`]). Its store bytes
//! are its entry's retries and the move record, which counts itself.
//!
//! Every field has a default: candidates and entries written before pushes
//! were recorded read as having no history and no cost so far.

use serde::{Deserialize, Serialize};

use super::candidate_model::{Candidate, StageMove};
use super::outbox::{OutboxEntry, PushOutcome};
use super::run_metering::RunMetering;
use super::write_tally::encode_counting_itself;
use super::{StoreError, keys};

/// Pushes kept per candidate, newest last; older ones are dropped. A
/// candidate is pushed once, and again only after a failure someone
/// retried: a handful in practice. The bound keeps a candidate whose push
/// is retried forever from growing its record without end.
pub const MAX_PUSH_RECORDS: usize = 20;

/// One push of a candidate that ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PushRecord {
    /// The outbox entry that carried it.
    pub entry_id: u64,
    /// `pushed` or `failed`.
    pub outcome: String,
    /// When it ended, Unix seconds.
    pub at_unix: i64,
    /// Attempts made, the last included.
    pub attempts: u32,
    /// What its attempts cost, summed (`retries`: the attempts before the
    /// last); `None` when no attempt called the plugin (the push was
    /// refused before, say for a stage with no mapping).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metering: Option<RunMetering>,
    /// The questions whose answers the ATS was not sent: the connector does
    /// not declare `application-answers`, so the host kept them back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub answers_not_sent: Vec<String>,
}

/// What propagating one stage move to the ATS took: the outbox's attempts
/// and what they cost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PropagationCost {
    /// Attempts made, the last included.
    pub attempts: u32,
    /// What they cost, summed (`retries`: the attempts before the last;
    /// `store_bytes_written`: the entry's retries and the move record);
    /// `None` when no attempt called the plugin (the connector cannot move
    /// applications, the stage has no mapping).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metering: Option<RunMetering>,
}

/// The move record `record` with what propagating it cost (`stored`: its
/// entry as stored, with its failed attempts' cost; `cost`: the last
/// attempt's), encoded counting itself: the value to store under a key of
/// `key_len` bytes.
pub(super) fn record_move(
    record: &mut StageMove,
    stored: &OutboxEntry,
    cost: Option<&RunMetering>,
    key_len: usize,
) -> Result<Vec<u8>, StoreError> {
    let metering = summed(stored, cost);
    let before = metering.as_ref().map(|m| m.store_bytes_written);
    record.cost = Some(PropagationCost { attempts: stored.attempts.saturating_add(1), metering });
    match before {
        None => super::codec::encode("stage move", record),
        Some(before) => encode_counting_itself("stage move", record, key_len, before, |r| {
            r.cost.as_mut().and_then(|c| c.metering.as_mut()).map(|m| &mut m.store_bytes_written)
        }),
    }
}

/// The cost of every attempt at `stored`: its failed attempts' (kept on the
/// entry) and the last one's (`cost`). The outbox's retries are its
/// attempts before the last.
fn summed(stored: &OutboxEntry, cost: Option<&RunMetering>) -> Option<RunMetering> {
    let mut metering = stored.metering.clone();
    if let Some(cost) = cost {
        metering.get_or_insert_with(RunMetering::default).add(cost);
    }
    if let Some(sum) = &mut metering {
        sum.retries = sum.retries.max(u64::from(stored.attempts));
    }
    metering
}

/// `entry`'s cost so far with `cost` (one failed attempt's) added, and the
/// entry's record encoded counting itself: the value to store under `key`.
pub(super) fn encode_retried_entry(
    entry: &mut OutboxEntry,
    key: &[u8],
    cost: Option<&RunMetering>,
) -> Result<Vec<u8>, StoreError> {
    let Some(cost) = cost else { return super::codec::encode("outbox entry", entry) };
    let mut sum = entry.metering.take().unwrap_or_default();
    sum.add(cost);
    let before = sum.store_bytes_written;
    entry.metering = Some(sum);
    encode_counting_itself("outbox entry", entry, key.len(), before, |e| {
        e.metering.as_mut().map(|m| &mut m.store_bytes_written)
    })
}

/// Adds the record of the push `entry` (as stored: with the cost of its
/// failed attempts) ended with `outcome` to `candidate`'s history. `cost` is
/// the last attempt's, `written` the bytes its result wrote besides the
/// candidate record (its event); the candidate record counts itself.
pub(super) fn record_push(
    candidate: &mut Candidate,
    stored: &OutboxEntry,
    outcome: &PushOutcome,
    cost: Option<&RunMetering>,
    answers_not_sent: &[String],
    written: u64,
    at_unix: i64,
) -> Result<(), StoreError> {
    let metering = summed(stored, cost);
    let before = metering.as_ref().map(|m| m.store_bytes_written.saturating_add(written));
    candidate.pushes.push(PushRecord {
        entry_id: stored.id,
        outcome: match outcome {
            PushOutcome::Pushed(_) => "pushed",
            PushOutcome::Failed(_) => "failed",
        }
        .to_string(),
        at_unix,
        attempts: stored.attempts.saturating_add(1),
        metering,
        answers_not_sent: answers_not_sent.to_vec(),
    });
    if candidate.pushes.len() > MAX_PUSH_RECORDS {
        let extra = candidate.pushes.len() - MAX_PUSH_RECORDS;
        candidate.pushes.drain(..extra);
    }
    if let Some(before) = before {
        let key_len = keys::candidate(candidate.id).len();
        encode_counting_itself("candidate", candidate, key_len, before, |c| {
            c.pushes.last_mut().and_then(|p| p.metering.as_mut()).map(|m| &mut m.store_bytes_written)
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{CandidateRef, Pushed};
    use crate::store::testutil::{commit_jobs, connection, inserted_bytes, new_candidate, temp_store};
    use crate::store::{ExportMetering, HostMetering, Store};

    fn candidate(store: &Store) -> Candidate {
        let c = connection(store, "Greenhouse");
        let positions = commit_jobs(store, &c.id, &[("J1", "Engineer")]);
        store.create_candidate(new_candidate(positions[0].id, "ada@example.com")).unwrap().0
    }

    /// One attempt's cost: one call, `requests` requests to the ATS.
    fn attempt(requests: u64, status_429: u64) -> RunMetering {
        let mut m = RunMetering { plugin_cpu_micros: 700, ..Default::default() };
        m.exports.insert("push-candidate".into(), ExportMetering { calls: 1, ..Default::default() });
        m.hosts.insert(
            "ats.example.com".into(),
            HostMetering {
                requests,
                token_requests: 1,
                bytes_in: 100,
                bytes_out: 50,
                status_429,
                ..Default::default()
            },
        );
        m
    }

    #[test]
    fn a_push_records_the_cost_of_all_its_attempts_and_every_byte_it_wrote() {
        let (_dir, store) = temp_store();
        let c = candidate(&store);
        let (_, entry) = store.queue_push(c.id, "new-submission").unwrap();
        let t = &store.trees;
        let mut watched: Vec<_> = [&t.outbox, &t.candidates, &t.events, &t.events_pending]
            .into_iter()
            .map(|tree| tree.watch_prefix(Vec::new()))
            .collect();

        store.retry_outbox_entry_metered(entry.id, 0, "rate limited", Some(&attempt(2, 1))).unwrap();
        let retried = store.next_outbox_entry(c.id).unwrap().unwrap();
        assert_eq!(retried.metering.as_ref().map(|m| m.calls()), Some(1));
        let pushed =
            Pushed { ref_: CandidateRef { candidate_id: "5".into(), application_id: "6".into() }, existing: false };
        store.finish_push_metered(&retried, PushOutcome::Pushed(pushed), Some(&attempt(1, 0))).unwrap();

        let done = store.candidate(c.id).unwrap().unwrap();
        assert_eq!(done.pushes.len(), 1);
        let record = &done.pushes[0];
        assert_eq!((record.entry_id, record.outcome.as_str(), record.attempts), (entry.id, "pushed", 2));
        let m = record.metering.as_ref().unwrap();
        assert_eq!((m.calls(), m.retries, m.plugin_cpu_micros), (2, 1, 1_400));
        let h = m.hosts["ats.example.com"];
        assert_eq!((h.requests, h.token_requests, h.status_429, h.bytes_in, h.bytes_out), (3, 2, 1, 200, 100));
        // The entry's retry, the event and the candidate record, exactly.
        assert_eq!(m.store_bytes_written, inserted_bytes(&mut watched), "{m:?}");
    }

    /// `c` pushed, then moved to `interview`: the move's outbox entry.
    fn queued_move(store: &Store, c: &Candidate) -> OutboxEntry {
        let (_, push) = store.queue_push(c.id, "new-submission").unwrap();
        let pushed =
            Pushed { ref_: CandidateRef { candidate_id: "5".into(), application_id: "6".into() }, existing: false };
        store.finish_push(&push, PushOutcome::Pushed(pushed)).unwrap();
        let user = crate::store::MovedBy::User { name: "t".into() };
        store.move_candidate_queued(c.id, "interview", user).unwrap().2.expect("a move entry")
    }

    #[test]
    fn a_move_records_the_cost_of_all_its_attempts_and_every_byte_it_wrote_on_its_record() {
        let (_dir, store) = temp_store();
        let c = candidate(&store);
        let entry = queued_move(&store, &c);
        let t = &store.trees;
        let mut watched: Vec<_> = [&t.outbox, &t.outbox_by_candidate, &t.stage_moves, &t.candidates]
            .into_iter()
            .map(|tree| tree.watch_prefix(Vec::new()))
            .collect();

        let mut first = attempt(2, 1);
        first.exports =
            [("move-application".to_string(), ExportMetering { calls: 1, failed: 1, ..Default::default() })].into();
        store.retry_outbox_entry_metered(entry.id, 0, "rate limited", Some(&first)).unwrap();
        let retried = store.next_outbox_entry(c.id).unwrap().unwrap();
        let mut last = attempt(2, 0);
        last.exports = [("move-application".to_string(), ExportMetering { calls: 1, ..Default::default() })].into();
        store.finish_move_metered(&retried, crate::store::MoveOutcome::Moved, Some(&last)).unwrap();

        let record = store.stage_moves(c.id).unwrap().pop().unwrap();
        assert!(matches!(record.propagation, crate::store::Propagation::Propagated { .. }), "{record:?}");
        let cost = record.cost.as_ref().expect("the move's cost");
        assert_eq!(cost.attempts, 2);
        let m = cost.metering.as_ref().unwrap();
        assert_eq!((m.calls(), m.exports["move-application"].failed, m.retries, m.plugin_cpu_micros), (2, 1, 1, 1_400));
        let h = m.hosts["ats.example.com"];
        assert_eq!((h.requests, h.token_requests, h.status_429, h.bytes_in, h.bytes_out), (4, 2, 1, 200, 100));
        // The entry's retry and the move record, exactly.
        assert_eq!(m.store_bytes_written, inserted_bytes(&mut watched), "{m:?}");
        assert!(store.outbox_of_candidate(c.id).unwrap().is_empty());
    }

    #[test]
    fn a_move_no_call_was_made_for_records_its_attempt_without_a_cost() {
        let (_dir, store) = temp_store();
        let c = candidate(&store);
        let entry = queued_move(&store, &c);
        let why = crate::store::MoveOutcome::NotPropagated("no move-application".into());
        store.finish_move_metered(&entry, why, None).unwrap();
        let record = store.stage_moves(c.id).unwrap().pop().unwrap();
        assert_eq!(record.cost, Some(PropagationCost { attempts: 1, metering: None }));
        // Moves nothing was sent for, and moves recorded before moves were
        // metered, have none.
        assert_eq!(store.stage_moves(c.id).unwrap()[0].cost, None);
        let mut old = serde_json::to_value(&record).unwrap();
        old.as_object_mut().unwrap().remove("cost");
        let read: StageMove = serde_json::from_value(old).unwrap();
        assert_eq!(read.cost, None);
        let json = serde_json::to_value(&store.stage_moves(c.id).unwrap()[0]).unwrap();
        assert!(json.get("cost").is_none(), "no cost is not written: {json}");
    }

    #[test]
    fn the_history_keeps_the_newest_pushes_and_a_push_without_a_call_has_no_cost() {
        let (_dir, store) = temp_store();
        let c = candidate(&store);
        for i in 0..MAX_PUSH_RECORDS + 3 {
            let (_, entry) = store.queue_push(c.id, "new-submission").unwrap();
            store.finish_push_metered(&entry, PushOutcome::Failed(format!("no {i}")), None).unwrap();
        }
        let done = store.candidate(c.id).unwrap().unwrap();
        assert_eq!(done.pushes.len(), MAX_PUSH_RECORDS);
        assert!(done.pushes.iter().all(|p| p.outcome == "failed" && p.metering.is_none() && p.attempts == 1));
        assert!(done.pushes.windows(2).all(|w| w[0].entry_id < w[1].entry_id), "oldest first");
    }

    #[test]
    fn candidates_and_entries_written_before_push_records_read_without_them() {
        let (_dir, store) = temp_store();
        let mut c = candidate(&store);
        let json = serde_json::to_value(&c).unwrap();
        assert!(json.get("pushes").is_none(), "an empty history is not written: {json}");
        c.pushes.push(PushRecord { entry_id: 1, ..Default::default() });
        let mut old = serde_json::to_value(&c).unwrap();
        old.as_object_mut().unwrap().remove("pushes");
        let read: Candidate = serde_json::from_value(old).unwrap();
        assert!(read.pushes.is_empty());
        let entry: OutboxEntry = serde_json::from_str(
            r#"{"id":1,"candidate_id":2,"account_id":"a","connection_id":"c",
                "kind":{"type":"push","position_id":3,"stage_id":"s"},"queued_at_ms":0,"attempts":0,"not_before_ms":0}"#,
        )
        .unwrap();
        assert_eq!(entry.metering, None);
        let record: PushRecord = serde_json::from_str(r#"{"entry_id":4,"later":true}"#).unwrap();
        assert_eq!((record.entry_id, record.metering), (4, None));
    }
}
