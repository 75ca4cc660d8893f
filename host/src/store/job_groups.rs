//! A connection's job map (ATS job code -> its position and the job's
//! fingerprint, `job_entry`), stored many jobs to a record: the
//! `job_groups` tree.
//!
//! sled's cost is mostly per record, whatever its size (`cargo bench -p
//! atsbridge-tests --bench sled_inserts`): with a record per job, the job
//! map cost a full sync nearly as much as the positions themselves. Here a
//! commit that creates positions writes their jobs as one group, and a
//! commit that changes jobs rewrites the groups they are in (the jobs of a
//! listing's page were mostly created together, so that is one or two
//! groups). A group is never looked up by a job's code: a connection's
//! groups are read once into a [`JobDirectory`](super::job_directory), which
//! commits keep up to date.
//!
//! # Layout
//!
//! `keys::job_group(connection, group)`: a group, named by the id of the
//! first position it was written with (position ids are unique, so group
//! names are). Value: [`FORMAT_GROUP`], then for each job the code's length
//! (`u32` BE), the code, the entry's length (one byte) and the entry in
//! `job_entry`'s form. A job stays in the group it was created in; only its
//! entry changes.
//!
//! `keys::connection_prefix(connection)` alone: the connection's
//! generation, a `u64` BE that every transaction writing one of its groups
//! raises. A directory remembers the generation it was read at, and a
//! commit refuses a directory that is not current (see
//! [`check_generation_tx`]): a directory that missed a write can never make
//! a commit take a known job for a new one.
//!
//! # Hostile bytes
//!
//! Every length is checked against the bytes that remain before anything
//! is allocated for it; a corrupt record gives [`StoreError::Corrupt`]
//! naming its connection and group, never a panic.

use std::collections::BTreeMap;

use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use sled::{IVec, Transactional};

use super::job_entry::{self, JobEntry};
use super::write_tally::Tally;
use super::{StoreError, abort, keys};

/// Format byte of a group record.
const FORMAT_GROUP: u8 = 0xB3;

/// Most jobs in one group: a page of 500 new jobs is one group of about
/// 20 KiB. Small enough that rewriting a group for one changed job costs
/// little; large enough that a full sync writes one group record per page.
pub(crate) const MAX_JOBS_PER_GROUP: usize = 512;

/// Bytes of a code's length.
const CODE_LEN: usize = 4;
/// Bytes of a generation.
const GENERATION_LEN: usize = 8;

/// A job of a group: its code and its entry.
pub(crate) type GroupJob = (String, JobEntry);

/// Encodes a group.
pub(crate) fn encode<'a>(jobs: impl IntoIterator<Item = (&'a str, &'a JobEntry)>) -> Vec<u8> {
    let mut bytes = vec![FORMAT_GROUP];
    for (code, entry) in jobs {
        // A code longer than u32::MAX bytes could not be stored by sled at
        // all, so the cast never truncates a code that exists.
        bytes.extend_from_slice(&(code.len() as u32).to_be_bytes());
        bytes.extend_from_slice(code.as_bytes());
        let entry = job_entry::encode_parts(entry.position, entry.fingerprint);
        bytes.push(entry.len() as u8); // an entry is at most 41 bytes
        bytes.extend_from_slice(&entry);
    }
    bytes
}

/// Decodes the group `group` of `connection_id`.
pub(crate) fn decode(connection_id: &str, group: u64, bytes: &[u8]) -> Result<Vec<GroupJob>, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        tree: keys::JOB_GROUPS,
        key: format!("{connection_id}/{group}"),
        reason: reason.into(),
    };
    let Some((&FORMAT_GROUP, mut rest)) = bytes.split_first() else {
        return Err(corrupt("not a job group"));
    };
    let mut jobs = Vec::new();
    while !rest.is_empty() {
        let Some((len, after)) = rest.split_first_chunk::<CODE_LEN>() else {
            return Err(corrupt("a code's length is cut short"));
        };
        let len = u32::from_be_bytes(*len) as usize;
        if after.len() < len {
            return Err(corrupt("a code is longer than the record"));
        }
        let (code, after) = after.split_at(len);
        let code = std::str::from_utf8(code).map_err(|_| corrupt("a job code is not UTF-8"))?;
        let Some((&entry_len, after)) = after.split_first() else {
            return Err(corrupt("an entry's length is missing"));
        };
        let entry_len = usize::from(entry_len);
        if after.len() < entry_len {
            return Err(corrupt("an entry is longer than the record"));
        }
        let (entry, after) = after.split_at(entry_len);
        let entry = job_entry::decode(entry).map_err(|e| corrupt(e.reason))?;
        jobs.push((code.to_string(), entry));
        rest = after;
    }
    Ok(jobs)
}

/// A record of a connection in `job_groups`.
pub(crate) enum Record {
    /// The connection's generation.
    Generation(u64),
    /// A group and its jobs.
    Group { group: u64, jobs: Vec<GroupJob> },
}

/// Every record of a connection, in key order (its generation first).
pub(crate) fn records(
    tree: &sled::Tree,
    connection_id: &str,
) -> impl Iterator<Item = Result<Record, StoreError>> + use<> {
    let prefix = keys::connection_prefix(connection_id);
    let prefix_len = prefix.len();
    let connection_id = connection_id.to_string();
    tree.scan_prefix(prefix).map(move |entry| {
        let (key, value) = entry?;
        match &key[prefix_len..] {
            [] => Ok(Record::Generation(decode_generation(&connection_id, &value)?)),
            suffix => {
                let group = <[u8; 8]>::try_from(suffix).map(u64::from_be_bytes).map_err(|_| StoreError::Corrupt {
                    tree: keys::JOB_GROUPS,
                    key: connection_id.clone(),
                    reason: "a group key is not 8 bytes after its connection".into(),
                })?;
                Ok(Record::Group { group, jobs: decode(&connection_id, group, &value)? })
            }
        }
    })
}

/// Calls `f` with every job of a connection (group by group, in the order
/// the groups were written).
pub(crate) fn for_each_job(
    tree: &sled::Tree,
    connection_id: &str,
    mut f: impl FnMut(&str, JobEntry) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    for record in records(tree, connection_id) {
        if let Record::Group { jobs, .. } = record? {
            for (code, entry) in &jobs {
                f(code, *entry)?;
            }
        }
    }
    Ok(())
}

/// The stored generation of a connection (0 before its first group).
pub(crate) fn generation(tree: &sled::Tree, connection_id: &str) -> Result<u64, StoreError> {
    match tree.get(keys::connection_prefix(connection_id))? {
        Some(bytes) => decode_generation(connection_id, &bytes),
        None => Ok(0),
    }
}

fn decode_generation(connection_id: &str, bytes: &[u8]) -> Result<u64, StoreError> {
    <[u8; GENERATION_LEN]>::try_from(bytes).map(u64::from_be_bytes).map_err(|_| StoreError::Corrupt {
        tree: keys::JOB_GROUPS,
        key: connection_id.to_string(),
        reason: "a generation is not 8 bytes".into(),
    })
}

/// [`generation`], inside a transaction.
fn generation_tx(tree: &TransactionalTree, connection_id: &str) -> ConflictableTransactionResult<u64, StoreError> {
    match tree.get(keys::connection_prefix(connection_id))? {
        Some(bytes) => decode_generation(connection_id, &bytes).map_err(abort),
        None => Ok(0),
    }
}

/// Inside a transaction: refuses to go on (aborting it with
/// [`StoreError::StaleJobDirectory`]) unless the connection's stored
/// generation is `expected`, the one the caller's directory was read at.
pub(crate) fn check_generation_tx(
    tree: &TransactionalTree,
    connection_id: &str,
    expected: u64,
) -> ConflictableTransactionResult<(), StoreError> {
    if generation_tx(tree, connection_id)? != expected {
        return Err(abort(StoreError::StaleJobDirectory { connection: connection_id.to_string() }));
    }
    Ok(())
}

/// A job whose entry a transaction wrote, for the directory to learn once
/// the transaction is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrittenJob {
    pub code: String,
    pub group: u64,
    pub entry: JobEntry,
}

/// The entries one transaction writes: new jobs (a new group at the end)
/// and changed ones (their groups rewritten). A transaction may run more
/// than once: each attempt has its own.
#[derive(Default, Clone)]
pub(crate) struct JobWrites {
    /// Jobs without a group yet, in the order given.
    created: Vec<(String, JobEntry)>,
    /// Changed jobs by group; a later entry of a code replaces an earlier.
    changed: BTreeMap<u64, BTreeMap<String, JobEntry>>,
}

impl JobWrites {
    /// Notes the entry of `code`: in `group` when it has one, else as a new
    /// job.
    pub(crate) fn set(&mut self, code: &str, group: Option<u64>, entry: JobEntry) {
        match group {
            Some(group) => {
                self.changed.entry(group).or_default().insert(code.to_string(), entry);
            }
            None => self.created.push((code.to_string(), entry)),
        }
    }

    /// Whether nothing is noted.
    pub(crate) fn is_empty(&self) -> bool {
        self.created.is_empty() && self.changed.is_empty()
    }

    /// Writes the entries noted since the last call, raising the
    /// connection's generation from `generation` when anything is written;
    /// counts the bytes in `tally` (metering) and returns what was written.
    pub(crate) fn write_tx(
        &mut self,
        tree: &TransactionalTree,
        connection_id: &str,
        generation: u64,
        tally: Option<&Tally>,
    ) -> ConflictableTransactionResult<Vec<WrittenJob>, StoreError> {
        let mut written = Vec::new();
        // Each key written here is read earlier in the transaction (the
        // group rewritten, the check that a new group's name is free, and
        // the generation, which callers check first): `insert` would read
        // it again only to return it (vendor/sled/PATCHED.md).
        let insert = |key: Vec<u8>, value: Vec<u8>| {
            if let Some(tally) = tally {
                tally.add(&key, &value); // metering
            }
            tree.insert_blind(key, value);
        };
        for (group, changed) in std::mem::take(&mut self.changed) {
            let key = keys::job_group(connection_id, group);
            let Some(stored) = tree.get(&key)? else {
                return Err(abort(StoreError::StaleJobDirectory { connection: connection_id.to_string() }));
            };
            let mut jobs = decode(connection_id, group, &stored).map_err(abort)?;
            let mut found = 0;
            for (code, entry) in &mut jobs {
                if let Some(new) = changed.get(code.as_str()) {
                    *entry = *new;
                    found += 1;
                }
            }
            if found != changed.len() {
                return Err(abort(StoreError::StaleJobDirectory { connection: connection_id.to_string() }));
            }
            insert(key, encode(jobs.iter().map(|(c, e)| (c.as_str(), e))));
            written.extend(changed.into_iter().map(|(code, entry)| WrittenJob { code, group, entry }));
        }
        let mut created = std::mem::take(&mut self.created).into_iter();
        loop {
            let chunk: Vec<_> = created.by_ref().take(MAX_JOBS_PER_GROUP).collect();
            // The chunk's first position names it: ids are unique, so no
            // other group of any connection has this name.
            let Some((_, first)) = chunk.first() else { break };
            let group = first.position;
            if tree.get(keys::job_group(connection_id, group))?.is_some() {
                return Err(abort(StoreError::StaleJobDirectory { connection: connection_id.to_string() }));
            }
            insert(keys::job_group(connection_id, group), encode(chunk.iter().map(|(c, e)| (c.as_str(), e))));
            written.extend(chunk.into_iter().map(|(code, entry)| WrittenJob { code, group, entry }));
        }
        if !written.is_empty() {
            insert(keys::connection_prefix(connection_id), generation.wrapping_add(1).to_be_bytes().to_vec());
        }
        Ok(written)
    }
}

/// Writes `writes` outside a commit, in one transaction of their own, if
/// the connection is still at `generation`; returns what was written, for
/// the directory to learn. Not metered: for bookkeeping only (the
/// fingerprint upgrade of `job_entry`).
pub(crate) fn rewrite(
    tree: &sled::Tree,
    connection_id: &str,
    generation: u64,
    writes: JobWrites,
) -> Result<Vec<WrittenJob>, StoreError> {
    Ok(tree.transaction(|tx| {
        check_generation_tx(tx, connection_id, generation)?;
        // Each attempt writes from its own copy: `write_tx` takes what it writes.
        writes.clone().write_tx(tx, connection_id, generation, None)
    })?)
}

/// Removes every record of a connection (a deleted connection).
pub(crate) fn remove_connection(tree: &sled::Tree, connection_id: &str) -> Result<(), StoreError> {
    for key in tree.scan_prefix(keys::connection_prefix(connection_id)).keys() {
        tree.remove(key?)?;
    }
    Ok(())
}

/// v9: the `job_map` tree of one record per job becomes `job_groups`.
/// Each connection's entries are taken in key order, up to
/// [`MAX_JOBS_PER_GROUP`] at a time, and each such chunk is written as a
/// group and removed from `job_map` in one transaction, so an interrupted
/// step resumes with the entries not yet moved and no job is ever in both
/// trees or in two groups. Finally `job_map` is dropped.
pub(crate) fn group_job_map_v9(db: &sled::Db) -> Result<(), StoreError> {
    let job_map = db.open_tree(keys::JOB_MAP)?;
    let groups = db.open_tree(keys::JOB_GROUPS)?;
    loop {
        let mut chunk: Vec<(IVec, String, JobEntry)> = Vec::with_capacity(MAX_JOBS_PER_GROUP);
        let mut connection = None;
        for entry in job_map.iter() {
            let (key, value) = entry?;
            let job = keys::decode_job(&key)?;
            let first = connection.get_or_insert_with(|| job.connection_id.clone());
            if *first != job.connection_id || chunk.len() == MAX_JOBS_PER_GROUP {
                break;
            }
            let entry = job_entry::decode(&value).map_err(|e| StoreError::Corrupt {
                tree: keys::JOB_MAP,
                key: format!("{}/{}", job.connection_id, job.code),
                reason: e.reason.into(),
            })?;
            chunk.push((key, job.code, entry));
        }
        let (Some(connection), Some(group)) = (connection, chunk.iter().map(|(_, _, e)| e.position).min()) else {
            break;
        };
        let value = encode(chunk.iter().map(|(_, code, entry)| (code.as_str(), entry)));
        (&job_map, &groups).transaction(|(job_map, groups)| {
            let stored = generation_tx(groups, &connection)?;
            groups.insert(keys::job_group(&connection, group), value.as_slice())?;
            groups.insert(keys::connection_prefix(&connection), &stored.wrapping_add(1).to_be_bytes())?;
            for (key, _, _) in &chunk {
                job_map.remove(key)?;
            }
            Ok::<_, sled::transaction::ConflictableTransactionError<StoreError>>(())
        })?;
    }
    drop(job_map);
    db.drop_tree(keys::JOB_MAP)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::content_hash::ContentHash;
    use crate::store::job_entry::Fingerprint;

    fn entry(position: u64, closed: bool) -> JobEntry {
        let content_hash = ContentHash::Xxh3([position as u8; 16]);
        JobEntry { position, fingerprint: Some(Fingerprint { content_hash, closed, removed: false }) }
    }

    #[test]
    fn a_group_round_trips_with_and_without_fingerprints() {
        let bare = JobEntry { position: 9, fingerprint: None };
        let jobs =
            [("J1".to_string(), entry(7, false)), ("".to_string(), bare), ("JÖB/\0".to_string(), entry(8, true))];
        let bytes = encode(jobs.iter().map(|(c, e)| (c.as_str(), e)));
        assert_eq!(decode("c", 7, &bytes).unwrap(), jobs);
        assert_eq!(decode("c", 7, &encode([])).unwrap(), []);
    }

    #[test]
    fn a_corrupt_group_is_an_error_naming_it_never_a_panic() {
        let good = encode([("J1", &entry(7, false))]);
        let mut cases: Vec<Vec<u8>> = (0..good.len()).map(|n| good[..n].to_vec()).collect();
        cases.push(b"{}".to_vec());
        let mut huge = good.clone();
        huge[1..5].copy_from_slice(&u32::MAX.to_be_bytes());
        cases.push(huge);
        let mut bad_entry = good.clone();
        let at = 1 + CODE_LEN + 2;
        bad_entry[at] = 3; // an entry shorter than a position id
        cases.push(bad_entry);
        for case in cases {
            if case.len() == 1 {
                assert_eq!(decode("c", 7, &case).unwrap(), [], "a group of no job");
                continue;
            }
            let err = decode("c", 7, &case).unwrap_err();
            assert!(err.to_string().contains("job_groups") && err.to_string().contains("c/7"), "{err}");
        }
    }

    #[test]
    fn writes_rewrite_changed_groups_add_new_ones_and_raise_the_generation() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree(keys::JOB_GROUPS).unwrap();
        let write = |generation, set: &[(&str, Option<u64>, JobEntry)]| {
            tree.transaction(|tx| {
                check_generation_tx(tx, "c", generation)?;
                let mut writes = JobWrites::default();
                for (code, group, entry) in set {
                    writes.set(code, *group, *entry);
                }
                writes.write_tx(tx, "c", generation, None)
            })
        };
        let first = write(0, &[("J1", None, entry(10, false)), ("J2", None, entry(11, false))]).unwrap();
        assert_eq!(first.iter().map(|w| (w.code.as_str(), w.group)).collect::<Vec<_>>(), [("J1", 10), ("J2", 10)]);
        assert_eq!(generation(&tree, "c").unwrap(), 1);

        // A stale generation is refused and writes nothing.
        let stale = write(0, &[("J3", None, entry(12, false))]).unwrap_err();
        assert!(matches!(stale, sled::transaction::TransactionError::Abort(StoreError::StaleJobDirectory { .. })));
        // A job changed in its group, one more created.
        let second = write(1, &[("J2", Some(10), entry(11, true)), ("J3", None, entry(12, false))]).unwrap();
        assert_eq!(second.len(), 2);
        let mut seen = Vec::new();
        for_each_job(&tree, "c", |code, e| {
            seen.push((code.to_string(), e));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [("J1".into(), entry(10, false)), ("J2".into(), entry(11, true)), ("J3".into(), entry(12, false))]
        );
        assert_eq!(generation(&tree, "c").unwrap(), 2);
        // A job the group does not hold: the directory was wrong.
        let wrong = write(2, &[("J9", Some(10), entry(13, false))]).unwrap_err();
        assert!(matches!(wrong, sled::transaction::TransactionError::Abort(StoreError::StaleJobDirectory { .. })));
        let mut upgrade = JobWrites::default();
        upgrade.set("J1", Some(10), entry(10, true));
        let rewritten = rewrite(&tree, "c", 2, upgrade).unwrap();
        assert_eq!(rewritten, [WrittenJob { code: "J1".into(), group: 10, entry: entry(10, true) }]);
        assert_eq!(generation(&tree, "c").unwrap(), 3);
        // More new jobs than a group holds: groups of at most that many,
        // each named by its first position.
        let many: Vec<(String, Option<u64>, JobEntry)> =
            (0..=MAX_JOBS_PER_GROUP as u64).map(|i| (format!("N{i}"), None, entry(100 + i, false))).collect();
        let many: Vec<(&str, Option<u64>, JobEntry)> = many.iter().map(|(c, g, e)| (c.as_str(), *g, *e)).collect();
        let written = write(3, &many).unwrap();
        assert_eq!(written.len(), MAX_JOBS_PER_GROUP + 1);
        assert_eq!(written.last().map(|w| w.group), Some(100 + MAX_JOBS_PER_GROUP as u64));
        assert!(written[..MAX_JOBS_PER_GROUP].iter().all(|w| w.group == 100));
        remove_connection(&tree, "c").unwrap();
        assert!(tree.is_empty());
    }

    #[test]
    fn the_migration_groups_each_connections_entries_and_can_resume() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let job_map = db.open_tree(keys::JOB_MAP).unwrap();
        let n = MAX_JOBS_PER_GROUP + 3;
        for i in 0..n {
            let id = 1000 + i as u64;
            job_map
                .insert(keys::job("a", &format!("J{i:04}")), job_entry::encode_parts(id, entry(id, false).fingerprint))
                .unwrap();
        }
        job_map.insert(keys::job("b", "X"), job_entry::encode_parts(5, None)).unwrap();
        // An earlier, interrupted run moved a first chunk of `b` already.
        let groups = db.open_tree(keys::JOB_GROUPS).unwrap();
        groups.insert(keys::job_group("b", 4), encode([("W", &JobEntry { position: 4, fingerprint: None })])).unwrap();
        groups.insert(keys::connection_prefix("b"), &1u64.to_be_bytes()).unwrap();
        drop((job_map, groups));

        group_job_map_v9(&db).unwrap();
        assert!(!db.tree_names().iter().any(|t| t.as_ref() == keys::JOB_MAP.as_bytes()), "job_map dropped");
        let groups = db.open_tree(keys::JOB_GROUPS).unwrap();
        let collect = |c: &str| {
            let mut all = Vec::new();
            for_each_job(&groups, c, |code, e| {
                all.push((code.to_string(), e.position));
                Ok(())
            })
            .unwrap();
            all
        };
        let a = collect("a");
        assert_eq!(a.len(), n);
        assert!(a.iter().enumerate().all(|(i, (code, id))| *code == format!("J{i:04}") && *id == 1000 + i as u64));
        let a_groups = records(&groups, "a").filter(|r| matches!(r, Ok(Record::Group { .. }))).count();
        assert_eq!(a_groups, 2, "{n} jobs in groups of at most {MAX_JOBS_PER_GROUP}");
        assert_eq!(generation(&groups, "a").unwrap(), 2);
        assert_eq!(collect("b"), [("W".to_string(), 4), ("X".to_string(), 5)]);
        assert_eq!(generation(&groups, "b").unwrap(), 2);
        // Again: nothing left to move, nothing changes.
        group_job_map_v9(&db).unwrap();
        assert_eq!(collect("a").len(), n);
    }
}
