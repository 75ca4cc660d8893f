//! Each connection's positions by id: the `positions_by_connection` index.
//!
//! A job's position is found through the job map ((connection, job code)
//! -> id, `job_groups`); the lists of a connection's positions (the API's
//! pages by id, an account's pages merged by id across its connections,
//! deleting a connection) walk this index instead. Up to schema v6 it held
//! one entry per position: a third of the sled records a new job cost, and
//! sled's cost is mostly per insert. From v7 a page commit writes one entry
//! for all the positions it created ([`CreatedIds`]), a few KiB for a page
//! of 500; with the job map grouped the same way (v9), a new job costs one
//! record, its position.
//!
//! # Layout
//!
//! Key: `keys::connection_position(connection, first id)`. Value: empty
//! for a single position, the key's id (how v6 wrote every entry), or
//! [`FORMAT_IDS`] followed by the ids (`u64` BE, strictly ascending, the
//! first one the key's).
//!
//! # Order
//!
//! The id ranges (first to last id) of one connection's entries never
//! overlap, so walking the entries in key order yields the ids in order,
//! and the only entry keyed below an id that may still hold it is the one
//! right before it. This holds because a commit draws the ids of all its
//! new positions in one go under the store's id lock
//! ([`Store::draw_position_ids`]), so no other commit's new ids fall
//! between them, and the v7 migration only groups entries that are
//! neighbours in key order ([`compact_v7`]).

use std::cell::RefCell;
use std::ops::Bound;

use sled::IVec;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};

use super::{Store, StoreError, keys};

/// Format byte of an entry holding several ids.
const FORMAT_IDS: u8 = 0xB2;

/// Bytes of one id in an entry.
const ID_LEN: usize = 8;

/// Most ids in one entry: a page of 500 new jobs fits in one, and an entry
/// stays about 4 KiB. sled splits a leaf only past 16 items whatever their
/// size and writes a node over 128 KiB as a blob file of its own, so
/// entries of a few KiB keep a leaf of them small (as `event_batch` does
/// for events).
pub(crate) const MAX_IDS_PER_ENTRY: usize = 512;

/// The positions one commit created, in the order it created them; written
/// as index entries when the commit ends ([`CreatedIds::write_tx`]). A
/// commit's transaction may run more than once: each attempt has its own.
#[derive(Default)]
pub(crate) struct CreatedIds(RefCell<Vec<u64>>);

impl CreatedIds {
    /// Notes a position created by this commit.
    pub(crate) fn push(&self, id: u64) {
        self.0.borrow_mut().push(id);
    }

    /// Writes the entries for the positions noted since the last call;
    /// returns the bytes written (keys and values, for the run's tally).
    pub(crate) fn write_tx(
        &self,
        index: &TransactionalTree,
        connection_id: &str,
    ) -> ConflictableTransactionResult<u64, StoreError> {
        let mut ids = self.0.take();
        ids.sort_unstable();
        ids.dedup();
        let mut written = 0;
        for chunk in ids.chunks(MAX_IDS_PER_ENTRY) {
            let (key, value) = entry(connection_id, chunk);
            written += (key.len() + value.len()) as u64;
            // A fresh key (named by an id this commit drew): nothing old to
            // read back.
            index.insert_blind(key, value);
        }
        Ok(written)
    }
}

/// The key and value of the entry holding `ids` (ascending, not empty).
fn entry(connection_id: &str, ids: &[u64]) -> (Vec<u8>, Vec<u8>) {
    let first = ids.first().copied().unwrap_or_default();
    let key = keys::connection_position(connection_id, first);
    if ids.len() == 1 {
        return (key, Vec::new());
    }
    let mut value = Vec::with_capacity(1 + ID_LEN * ids.len());
    value.push(FORMAT_IDS);
    for id in ids {
        value.extend_from_slice(&id.to_be_bytes());
    }
    (key, value)
}

/// The ids of the entry stored under `key`.
fn decode_entry(key: &[u8], value: &[u8]) -> Result<Vec<u64>, StoreError> {
    let (connection_id, first) = keys::decode_connection_position(key)?;
    let corrupt = |reason: &str| StoreError::Corrupt {
        tree: keys::POSITIONS_BY_CONNECTION,
        key: format!("{connection_id}/{first}"),
        reason: reason.into(),
    };
    let Some((&format, ids)) = value.split_first() else { return Ok(vec![first]) };
    if format != FORMAT_IDS {
        return Err(corrupt("unknown entry format (written by a newer atsbridge?)"));
    }
    if ids.is_empty() || !ids.len().is_multiple_of(ID_LEN) {
        return Err(corrupt("ids are not 8 bytes each"));
    }
    let ids: Vec<u64> =
        ids.chunks_exact(ID_LEN).map(|c| u64::from_be_bytes(c.try_into().unwrap_or_default())).collect();
    if ids[0] != first || ids.windows(2).any(|w| w[0] >= w[1]) {
        return Err(corrupt("ids do not ascend from the key's"));
    }
    Ok(ids)
}

/// A connection's position ids from some id on, ascending
/// ([`Store::position_ids_from`]).
pub(crate) struct PositionIds {
    /// Ids of the entry being read, those still to yield.
    current: std::vec::IntoIter<u64>,
    /// The entries after it.
    walk: sled::Iter,
    prefix: Vec<u8>,
    start: u64,
    done: bool,
}

impl PositionIds {
    fn next_entry(&mut self) -> Result<bool, StoreError> {
        let Some(entry) = self.walk.next() else { return Ok(false) };
        let (key, value) = entry?;
        if !key.starts_with(&self.prefix) {
            return Ok(false);
        }
        let start = self.start;
        self.current =
            decode_entry(&key, &value)?.into_iter().filter(|&id| id >= start).collect::<Vec<_>>().into_iter();
        Ok(true)
    }
}

impl Iterator for PositionIds {
    type Item = Result<u64, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            if let Some(id) = self.current.next() {
                return Some(Ok(id));
            }
            match self.next_entry() {
                Ok(true) => {}
                Ok(false) => self.done = true,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }
}

impl Store {
    /// The ids of `connection_id`'s positions from `start` on, ascending.
    /// Reads the index lazily from the entry that may hold `start`, so a
    /// page costs about what it returns.
    pub(crate) fn position_ids_from(&self, connection_id: &str, start: u64) -> Result<PositionIds, StoreError> {
        let prefix = keys::connection_prefix(connection_id);
        let at = keys::connection_position(connection_id, start);
        let index = &self.trees.by_connection;
        // Entries' ranges do not overlap (module docs): of those keyed at
        // or below `start`, only the last may hold ids from `start` on.
        let current = match index.range(prefix.clone()..=at.clone()).next_back() {
            Some(entry) => {
                let (key, value) = entry?;
                decode_entry(&key, &value)?.into_iter().filter(|&id| id >= start).collect()
            }
            None => Vec::new(),
        };
        let walk = index.range::<Vec<u8>, _>((Bound::Excluded(at), Bound::Unbounded));
        Ok(PositionIds { current: current.into_iter(), walk, prefix, start, done: false })
    }

    /// Every entry of `connection_id`'s index: its key and its ids.
    pub(crate) fn position_index_entries(&self, connection_id: &str) -> Result<Vec<(IVec, Vec<u64>)>, StoreError> {
        self.trees
            .by_connection
            .scan_prefix(keys::connection_prefix(connection_id))
            .map(|entry| {
                let (key, value) = entry?;
                let ids = decode_entry(&key, &value)?;
                Ok((key, ids))
            })
            .collect()
    }

    /// `n` fresh ids for new positions, drawn in one go under the store's
    /// id lock, so the ids of one commit's new positions have no other
    /// commit's new positions between them (see "Order" above). sled's
    /// first id is 0, which means "none" to readers: it is skipped.
    pub(crate) fn draw_position_ids(&self, n: usize) -> Result<Vec<u64>, StoreError> {
        let _drawing = self.event_ids_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids = Vec::with_capacity(n);
        while ids.len() < n {
            let id = self.db.generate_id()?;
            if id != 0 {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}

/// v7: the one-entry-per-position index of earlier versions, grouped into
/// entries of up to [`MAX_IDS_PER_ENTRY`] ids. Only runs of single
/// entries that are neighbours in key order are grouped, each run in one
/// transaction (its entry written, the singles it replaces removed), so
/// an interrupted migration leaves a valid index and running it again
/// groups what is left. Entries are read as they were either way.
pub(crate) fn compact_v7(db: &sled::Db) -> Result<(), StoreError> {
    let index = db.open_tree(keys::POSITIONS_BY_CONNECTION)?;
    let mut run: Vec<(IVec, u64)> = Vec::new();
    let mut run_connection = String::new();
    for entry in index.iter() {
        let (key, value) = entry?;
        let (connection_id, first) = keys::decode_connection_position(&key)?;
        let single = value.is_empty();
        if !single || connection_id != run_connection || run.len() == MAX_IDS_PER_ENTRY {
            group(&index, &run_connection, &run)?;
            run.clear();
        }
        if single {
            run_connection = connection_id;
            run.push((key, first));
        }
    }
    group(&index, &run_connection, &run)
}

/// Replaces the single entries `run` (neighbours, ascending) by one.
fn group(index: &sled::Tree, connection_id: &str, run: &[(IVec, u64)]) -> Result<(), StoreError> {
    if run.len() < 2 {
        return Ok(());
    }
    let ids: Vec<u64> = run.iter().map(|(_, id)| *id).collect();
    let (key, value) = entry(connection_id, &ids);
    index
        .transaction(|tx| {
            for (single, _) in &run[1..] {
                tx.remove(single)?;
            }
            tx.insert(key.as_slice(), value.as_slice())?;
            Ok::<_, sled::transaction::ConflictableTransactionError<StoreError>>(())
        })
        .map_err(StoreError::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::{commit_jobs, connection, temp_store};

    fn jobs(prefix: &str, n: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (format!("{prefix}{i}"), "Engineer".to_string())).collect()
    }

    fn commit(store: &Store, connection_id: &str, jobs: &[(String, String)]) -> Vec<u64> {
        let refs: Vec<(&str, &str)> = jobs.iter().map(|(c, t)| (c.as_str(), t.as_str())).collect();
        commit_jobs(store, connection_id, &refs).into_iter().map(|p| p.id).collect()
    }

    fn ids_from(store: &Store, connection_id: &str, start: u64) -> Vec<u64> {
        store.position_ids_from(connection_id, start).unwrap().map(|id| id.unwrap()).collect()
    }

    #[test]
    fn a_page_of_new_positions_is_one_index_entry_and_reads_back_in_order_from_any_id() {
        let (_dir, store) = temp_store();
        let a = connection(&store, "A").id;
        let b = connection(&store, "B").id;
        let first = commit(&store, &a, &jobs("J", 5));
        let other = commit(&store, &b, &jobs("J", 3));
        // The second page re-lists J0..J4 (unchanged) and creates J5..J9.
        let second = commit(&store, &a, &jobs("J", 10));
        let mut all = first.clone();
        all.extend(&second[5..]);
        assert_eq!(store.trees.by_connection.len(), 3, "one entry per commit that created positions");
        assert_eq!(ids_from(&store, &a, 0), all);
        assert_eq!(ids_from(&store, &b, 0), other);
        for (i, &id) in all.iter().enumerate() {
            assert_eq!(ids_from(&store, &a, id), all[i..], "from {id}");
            assert_eq!(ids_from(&store, &a, id + 1), all[i + 1..], "after {id}");
        }
        assert!(ids_from(&store, &a, u64::MAX).is_empty());
        assert!(ids_from(&store, "nobody", 0).is_empty());
    }

    #[test]
    fn a_large_page_is_split_into_entries_of_bounded_size() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "A").id;
        let ids = commit(&store, &c, &jobs("J", MAX_IDS_PER_ENTRY + 3));
        let entries = store.position_index_entries(&c).unwrap();
        assert_eq!(entries.iter().map(|(_, ids)| ids.len()).collect::<Vec<_>>(), [MAX_IDS_PER_ENTRY, 3]);
        assert_eq!(ids_from(&store, &c, 0), ids);
    }

    #[test]
    fn a_v6_index_of_single_entries_reads_the_same_and_is_grouped_by_the_migration() {
        let (dir, store) = temp_store();
        let a = connection(&store, "A").id;
        let b = connection(&store, "B").id;
        let mut in_a = commit(&store, &a, &jobs("J", 4));
        let in_b = commit(&store, &b, &jobs("J", 2));
        in_a.extend(commit(&store, &a, &jobs("K", MAX_IDS_PER_ENTRY + 1)));
        // As v6 wrote it: one empty-valued entry per position; and one
        // entry of several ids that an interrupted migration left behind.
        let index = &store.trees.by_connection;
        index.clear().unwrap();
        for (c, ids) in [(&a, &in_a[..2]), (&b, &in_b[..])] {
            for &id in ids {
                index.insert(keys::connection_position(c, id), &[]).unwrap();
            }
        }
        let (key, value) = entry(&a, &in_a[2..4]);
        index.insert(key, value).unwrap();
        for &id in &in_a[4..] {
            index.insert(keys::connection_position(&a, id), &[]).unwrap();
        }
        let before = (ids_from(&store, &a, 0), ids_from(&store, &b, 0), ids_from(&store, &a, in_a[3]));
        assert_eq!(before.0, in_a, "single entries read as before");
        assert_eq!(before.1, in_b);
        assert_eq!(before.2, in_a[3..]);
        store.flush().unwrap();
        drop(store);

        let db = crate::store::testutil::reopen_db(dir.path());
        compact_v7(&db).unwrap();
        let index = db.open_tree(keys::POSITIONS_BY_CONNECTION).unwrap();
        let after_once: Vec<_> = index.iter().map(|e| e.unwrap()).collect();
        compact_v7(&db).unwrap();
        let after_twice: Vec<_> = index.iter().map(|e| e.unwrap()).collect();
        assert_eq!(after_once, after_twice, "running the step again changes nothing");
        // a: two singles grouped, the existing entry kept, then the K run
        // grouped up to the entry size; b: its two singles grouped.
        let sizes: Vec<usize> = after_once.iter().map(|(k, v)| decode_entry(k, v).unwrap().len()).collect::<Vec<_>>();
        assert_eq!(sizes, [2, 2, MAX_IDS_PER_ENTRY, 1, 2]);
        db.flush().unwrap();
        drop((index, db));

        let store = Store::open(dir.path(), None).unwrap();
        assert_eq!((ids_from(&store, &a, 0), ids_from(&store, &b, 0), ids_from(&store, &a, in_a[3])), before);
        assert_eq!(store.positions_of_connection(&a).unwrap().iter().map(|p| p.id).collect::<Vec<_>>(), in_a);
    }

    #[test]
    fn damaged_entries_are_errors_not_panics() {
        let key = keys::connection_position("c", 7);
        assert_eq!(decode_entry(&key, &[]).unwrap(), [7]);
        let (_, value) = entry("c", &[7, 9]);
        assert_eq!(decode_entry(&key, &value).unwrap(), [7, 9]);
        for cut in 0..value.len() {
            let _ = decode_entry(&key, &value[..cut]);
        }
        assert!(decode_entry(&key, &value[..5]).is_err());
        assert!(decode_entry(&key, &[FORMAT_IDS]).is_err());
        assert!(decode_entry(&key, &[9, 0, 0, 0, 0, 0, 0, 0, 7]).is_err(), "unknown format");
        let (_, unordered) = entry("c", &[7, 3]);
        assert!(decode_entry(&key, &unordered).is_err());
        let (_, other_first) = entry("c", &[8, 9]);
        assert!(decode_entry(&key, &other_first).is_err());
    }
}
