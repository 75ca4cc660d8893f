//! The attempt under way on an outbox entry.
//!
//! Before a push's call is made, the entry records when the attempt began
//! and the deadline its call runs under, flushed to disk: a host killed
//! while the ATS is still working on the request leaves that record
//! behind, and the next host does not try the entry again before the
//! request can no longer be running (the outbox's `in_flight` rule), so
//! the connector's look-up sees what the ATS created. The record is
//! cleared when the attempt's failure is recorded; a result removes the
//! entry with it.
//!
//! The field is optional with a serde default: entries written before it
//! existed read as having no attempt under way, and no schema change is
//! needed.

use serde::{Deserialize, Serialize};

use super::outbox::{OutboxEntry, read_tx};
use super::{Store, StoreError, abort, codec, keys};

/// When an attempt began and the longest its call may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptStarted {
    /// When it began, Unix milliseconds: the wall clock, as the record
    /// must mean something to the next process.
    pub at_ms: u64,
    /// The deadline its call runs under, milliseconds: no request of the
    /// attempt is still open after `at_ms + deadline_ms`.
    pub deadline_ms: u64,
}

impl Store {
    /// Records on entry `entry_id` that an attempt began (`started`) and
    /// writes it to disk before answering: the call must not be made
    /// before the record would survive a SIGKILL. Returns the bytes
    /// written (key and value), or `None` when the entry is gone.
    pub fn start_outbox_attempt(&self, entry_id: u64, started: AttemptStarted) -> Result<Option<u64>, StoreError> {
        let key = keys::position(entry_id);
        let written = {
            let _gate = self.write_gate();
            self.trees.outbox.transaction(|outbox| {
                let Some(mut entry): Option<OutboxEntry> = read_tx(outbox, keys::OUTBOX, &key, entry_id)? else {
                    return Ok(None);
                };
                entry.attempt_started = Some(started);
                let value = codec::encode("outbox entry", &entry).map_err(abort)?;
                let bytes = (key.len() + value.len()) as u64;
                outbox.insert(&key, value)?;
                Ok(Some(bytes))
            })?
        };
        if written.is_some() {
            self.flush()?;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SecretKey;
    use crate::store::testutil::{HEX_KEY, commit_jobs, connection, new_candidate};

    #[test]
    fn an_attempt_is_on_disk_before_the_call_and_cleared_by_its_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let (candidate_id, entry_id) = {
            let store = Store::open(&path, Some(SecretKey::parse(HEX_KEY).unwrap())).unwrap();
            let c = connection(&store, "Greenhouse");
            let positions = commit_jobs(&store, &c.id, &[("J1", "Engineer")]);
            let (candidate, _) = store.create_candidate(new_candidate(positions[0].id, "ada@example.com")).unwrap();
            let (_, entry) = store.queue_push(candidate.id, "new-submission").unwrap();
            assert_eq!(entry.attempt_started, None);
            let started = AttemptStarted { at_ms: 1_000, deadline_ms: 31_000 };
            let written = store.start_outbox_attempt(entry.id, started).unwrap();
            assert!(written.is_some_and(|n| n > 100), "{written:?}");
            (candidate.id, entry.id)
        };
        // Read again after a restart: the record is there.
        let store = Store::open(&path, Some(SecretKey::parse(HEX_KEY).unwrap())).unwrap();
        let entry = store.next_outbox_entry(candidate_id).unwrap().unwrap();
        assert_eq!(entry.attempt_started, Some(AttemptStarted { at_ms: 1_000, deadline_ms: 31_000 }));
        // A failure recorded: the attempt is over, the retry is the usual one.
        store.retry_outbox_entry(entry_id, 42, "503").unwrap();
        let retried = store.next_outbox_entry(candidate_id).unwrap().unwrap();
        assert_eq!((retried.attempt_started, retried.not_before_ms, retried.attempts), (None, 42, 1));
        // An entry gone: nothing to record.
        assert_eq!(
            store.start_outbox_attempt(entry_id + 1_000, AttemptStarted { at_ms: 1, deadline_ms: 1 }).unwrap(),
            None
        );
    }

    #[test]
    fn entries_written_before_attempts_were_recorded_read_without_one() {
        let entry: OutboxEntry = serde_json::from_str(
            r#"{"id":1,"candidate_id":2,"account_id":"a","connection_id":"c",
                "kind":{"type":"push","position_id":3,"stage_id":"s"},"queued_at_ms":0,"attempts":0,"not_before_ms":0}"#,
        )
        .unwrap();
        assert_eq!(entry.attempt_started, None);
        let json = serde_json::to_value(&entry).unwrap();
        assert!(json.get("attempt_started").is_none(), "not written when there is none: {json}");
    }
}
