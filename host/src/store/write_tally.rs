//! Counting the bytes a sync run writes to the store, for its metering
//! ([`RunCounts::store_bytes`](super::RunCounts::store_bytes)).
//!
//! A run writes in a few transactions (its start, each page, the cached
//! stages, its end), and each writes several trees: positions, events and
//! their pending marks, index entries, the connection's state and
//! checkpoint, the run's own record. Each transaction counts the keys and
//! values it inserts in a [`Tally`] made anew for each attempt (sled runs a
//! conflicting transaction again from the start, and a retried attempt must
//! not count twice), and adds the total to the run record it writes last.
//! That record counts itself too ([`encode_counting_itself`]).

use std::cell::Cell;

use serde::Serialize;

use super::{StoreError, codec};

/// Most times a record that counts its own size is encoded before its
/// count settles. The count's digits change the record's length by a byte
/// or two, which changes the count by as much: the length settles by the
/// second or third encoding; a fourth would only change the last digit.
const MAX_SELF_COUNT_ROUNDS: usize = 4;

/// Bytes (keys and values) one attempt of a transaction inserted.
#[derive(Debug, Default)]
pub(super) struct Tally(Cell<u64>);

impl Tally {
    /// `key` and `value` were inserted.
    pub fn add(&self, key: &[u8], value: &[u8]) {
        self.add_bytes(key.len() as u64 + value.len() as u64);
    }

    /// `bytes` were inserted (a write counted where it happened).
    pub fn add_bytes(&self, bytes: u64) {
        self.0.set(self.0.get().saturating_add(bytes));
    }

    /// The bytes counted so far.
    pub fn bytes(&self) -> u64 {
        self.0.get()
    }
}

/// Encodes `record`, whose `count` field must include the record itself:
/// `before` bytes written before it plus its key (`key_len`) and its own
/// encoded length. Encodes again until the length stops changing (at most
/// [`MAX_SELF_COUNT_ROUNDS`] times); the count is then exact. A record
/// without the field (`count` gives `None`) is encoded as it is.
pub(super) fn encode_counting_itself<T: Serialize>(
    what: &'static str,
    record: &mut T,
    key_len: usize,
    before: u64,
    count: impl Fn(&mut T) -> Option<&mut u64>,
) -> Result<Vec<u8>, StoreError> {
    let mut own = 0u64;
    let mut bytes = Vec::new();
    for _ in 0..MAX_SELF_COUNT_ROUNDS {
        let Some(field) = count(record) else { return codec::encode(what, record) };
        *field = before.saturating_add(key_len as u64).saturating_add(own);
        bytes = codec::encode(what, record)?;
        if bytes.len() as u64 == own {
            break;
        }
        own = bytes.len() as u64;
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::{inserted_bytes, job};

    #[derive(Serialize)]
    struct Record {
        name: &'static str,
        written: u64,
    }

    #[test]
    fn a_record_counts_its_own_key_and_value() {
        // 99_990 + 10 + its length crosses into six digits while settling.
        for before in [0, 7, 99_950, 99_990, u64::MAX - 3] {
            let mut r = Record { name: "run", written: 0 };
            let bytes = encode_counting_itself("record", &mut r, 10, before, |r| Some(&mut r.written)).unwrap();
            assert_eq!(r.written, before.saturating_add(10 + bytes.len() as u64), "before {before}");
            assert_eq!(bytes, codec::encode("record", &r).unwrap(), "the stored bytes carry the final count");
        }
    }

    /// Every insert into every tree a run writes, as sled reports it to
    /// its subscribers: the oracle the run's own count is held to.
    fn watch(store: &crate::store::Store) -> Vec<sled::Subscriber> {
        let t = &store.trees;
        [
            &t.state,
            &t.positions,
            &t.job_groups,
            &t.by_connection,
            &t.runs,
            &t.runs_unfinished,
            &t.events,
            &t.events_pending,
            &t.position_versions,
        ]
        .into_iter()
        .map(|tree| tree.watch_prefix(Vec::new()))
        .collect()
    }

    #[test]
    fn a_run_counts_every_byte_it_writes_not_only_its_positions() {
        use crate::store::testutil::{commit_jobs, connection, temp_store};
        let (_dir, store) = temp_store();
        let c = connection(&store, "Acme");
        let mut watched = watch(&store);
        commit_jobs(&store, &c.id, &[("J1", "Engineer"), ("J2", "Designer"), ("J3", "Writer")]);
        let run = store.runs(&c.id, 1).unwrap().remove(0);
        let written = inserted_bytes(&mut watched);
        assert!(written > 3 * 100, "{written}");
        assert!(run.counts.bytes_written < written, "positions are not all a run writes");
        assert_eq!(run.counts.store_bytes, written, "{:?}", run.counts);

        // A second run: positions updated, one closed as removed at its end.
        let mut watched = watch(&store);
        let open = store.start_run(&c.id, crate::store::Trigger::Manual, "greenhouse", "1.0.0", true).unwrap();
        let patches =
            [("J1", "Engineer II")].iter().map(|(code, t)| crate::store::JobPatch::from_job(&job(code, t))).collect();
        let done = store
            .commit_page(crate::store::PageCommit {
                connection_id: c.id.clone(),
                run: open,
                patches,
                checkpoint: None,
                checkpoint_due: true,
                quota: crate::store::ConnectionQuota::UNLIMITED,
            })
            .unwrap();
        let mut run = done.run;
        run.outcome = crate::store::RunOutcome::Succeeded;
        let j3 = store.position_by_job(&c.id, "J3").unwrap().unwrap().id;
        let (run, _) = store.commit_run_end(run, |_| {}, &[j3]).unwrap();
        assert_eq!((run.counts.updated, run.counts.removed), (1, 1));
        assert_eq!(run.counts.store_bytes, inserted_bytes(&mut watched), "{:?}", run.counts);
        assert_eq!(store.runs(&c.id, 1).unwrap()[0].counts.store_bytes, run.counts.store_bytes);
    }

    #[test]
    fn a_move_reconciliation_records_counts_every_byte_it_writes() {
        use crate::store::testutil::{commit_jobs, connection, new_candidate, temp_store};
        let (_dir, store) = temp_store();
        let c = connection(&store, "Acme");
        let positions = commit_jobs(&store, &c.id, &[("J1", "Engineer")]);
        let (candidate, _) = store.create_candidate(new_candidate(positions[0].id, "ada@example.com")).unwrap();
        let t = &store.trees;
        let mut watched: Vec<_> =
            [&t.candidates, &t.stage_moves, &t.hiring_stages, &t.positions, &t.events, &t.events_pending]
                .into_iter()
                .map(|tree| tree.watch_prefix(Vec::new()))
                .collect();
        let (moved, record, bytes) = store.record_ats_move_counted(candidate.id, "offer").unwrap();
        assert_eq!((moved.stage_id.as_str(), record.seq), ("offer", 1));
        // The candidate, its move, the account's stage counts and the event.
        assert!(bytes > 500, "{bytes}");
        assert_eq!(bytes, inserted_bytes(&mut watched));
    }

    #[test]
    fn a_tally_sums_keys_and_values() {
        let t = Tally::default();
        t.add(b"key", b"value");
        t.add_bytes(2);
        assert_eq!(t.bytes(), 10);
    }
}
