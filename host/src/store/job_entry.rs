//! A job's entry in its connection's job map (`job_groups`): the position
//! an ATS job maps to, and the job's fingerprint (its content hash and
//! whether the position is closed, or closed as removed).
//!
//! Most jobs of a resync are unchanged. With the fingerprint beside the
//! position id, telling so is a lookup in the job map, not a read and a
//! partial decode of the position (a few KB, most of it the
//! description); the daily stage refresh and removal detection learn which
//! positions are open the same way. Every writer of a position's ATS side
//! (`commit`: a patch, a removal) writes the job's entry in the same
//! transaction, so the fingerprint never disagrees with the record.
//!
//! Format: the position id (`u64` BE), then optionally one flag byte and the
//! content hash: 16 bytes of XXH3-128 when [`FLAG_XXH3`] is set, else the 32
//! bytes of the SHA-256 form written before it. An entry of the id alone
//! (written before schema v7, or for a position whose stored hash is of
//! neither form) has no fingerprint: readers then read the position, as
//! before. Up to schema v8 an entry was a record of its own in `job_map`;
//! inside a group it is the same bytes.
//!
//! **Upgrading SHA-256 fingerprints.** A listed job is hashed only in the
//! current form, so an entry of the SHA-256 form can never match it. For such
//! an entry the scan compares the listed job with the ATS side of its stored
//! position instead ([`upgraded_sha256`]): when they agree the job is
//! unchanged (no event, not counted as updated) and its entry is rewritten
//! with the current hash, so the next resync reads it as usual. The
//! position's record keeps its SHA-256 text until the job changes; nothing
//! compares it with an entry.

use super::StoreError;
use super::content_hash::{ContentHash, SHA256_LEN};
use super::keys::{self, KeyError};
use super::model::{CloseReason, Position, PositionStatus};
use super::patch::JobPatch;

/// Bytes of a position id.
const ID_LEN: usize = 8;
/// Bytes of the longest entry: the id, the flags, a SHA-256 hash.
const MAX_ENTRY_LEN: usize = ID_LEN + 1 + SHA256_LEN;
/// Flag: the position is closed (in the ATS or as removed).
const FLAG_CLOSED: u8 = 1;
/// Flag: the position was closed because a complete listing no longer had
/// its job (a listing that has it again reopens it, whatever its hash).
const FLAG_REMOVED: u8 = 2;
/// Flag: the hash is XXH3-128 (16 bytes); without it, SHA-256 (32 bytes).
const FLAG_XXH3: u8 = 4;

/// A decoded job entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JobEntry {
    /// The position the job maps to.
    pub position: u64,
    /// What a commit needs to tell an unchanged job; `None` when unknown.
    pub fingerprint: Option<Fingerprint>,
}

/// What decides whether a listed job changes its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    /// The position's content hash.
    pub content_hash: ContentHash,
    /// Whether the position is closed.
    pub closed: bool,
    /// Whether it was closed as removed from the ATS.
    pub removed: bool,
}

impl Fingerprint {
    /// The fingerprint of a stored position; `None` when its content hash
    /// is of neither form (then readers fall back to the record).
    pub(crate) fn of(position: &Position) -> Option<Fingerprint> {
        Some(Fingerprint {
            content_hash: ContentHash::parse(&position.content_hash)?,
            closed: position.status == PositionStatus::Closed,
            removed: position.closed_reason == Some(CloseReason::RemovedInAts),
        })
    }

    /// Whether applying `patch` would change nothing: the rule of
    /// [`JobPatch::changes_nothing`] on the fingerprint. Never true for a
    /// fingerprint of the SHA-256 form (see [`upgraded_sha256`]).
    pub(crate) fn unchanged_by(&self, patch: &JobPatch) -> bool {
        !self.removed && ContentHash::parse(&patch.content_hash) == Some(self.content_hash)
    }

    /// Whether the hash is of the form written before XXH3.
    pub(crate) fn is_sha256(&self) -> bool {
        matches!(self.content_hash, ContentHash::Sha256(_))
    }
}

/// Encodes the entry of `position` (with its fingerprint when it has one).
pub(crate) fn encode(position: &Position) -> Vec<u8> {
    encode_parts(position.id, Fingerprint::of(position))
}

/// Encodes an entry from its parts.
pub(crate) fn encode_parts(position: u64, fingerprint: Option<Fingerprint>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(MAX_ENTRY_LEN);
    bytes.extend_from_slice(&keys::position(position));
    if let Some(f) = fingerprint {
        let flags = if f.closed { FLAG_CLOSED } else { 0 } | if f.removed { FLAG_REMOVED } else { 0 };
        match &f.content_hash {
            ContentHash::Xxh3(hash) => {
                bytes.push(flags | FLAG_XXH3);
                bytes.extend_from_slice(hash);
            }
            ContentHash::Sha256(hash) => {
                bytes.push(flags);
                bytes.extend_from_slice(hash);
            }
        }
    }
    bytes
}

/// Decodes a job entry.
pub(crate) fn decode(bytes: &[u8]) -> Result<JobEntry, KeyError> {
    let corrupt = |reason| KeyError { tree: keys::JOB_MAP, reason };
    let Some((id, rest)) = bytes.split_first_chunk::<ID_LEN>() else {
        return Err(corrupt("shorter than a position id"));
    };
    let position = u64::from_be_bytes(*id);
    let fingerprint = match rest {
        [] => None,
        [flags, hash @ ..] => {
            if flags & !(FLAG_CLOSED | FLAG_REMOVED | FLAG_XXH3) != 0 {
                return Err(corrupt("unknown fingerprint flags"));
            }
            let content_hash = if flags & FLAG_XXH3 != 0 {
                ContentHash::Xxh3(hash.try_into().map_err(|_| corrupt("an XXH3 fingerprint of the wrong length"))?)
            } else {
                ContentHash::Sha256(hash.try_into().map_err(|_| corrupt("a SHA-256 fingerprint of the wrong length"))?)
            };
            Some(Fingerprint { content_hash, closed: flags & FLAG_CLOSED != 0, removed: flags & FLAG_REMOVED != 0 })
        }
    };
    Ok(JobEntry { position, fingerprint })
}

/// The entry of `position` (with its fingerprint when it has one).
pub(crate) fn of(position: &Position) -> JobEntry {
    JobEntry { position: position.id, fingerprint: Fingerprint::of(position) }
}

/// A listed job whose entry holds a SHA-256 fingerprint (see the module
/// docs): whether it is unchanged, told by the ATS side of its stored
/// position; if it is, the entry to write instead, with the listed job's
/// hash (the caller writes it, not metered, no event: the job did not
/// change).
///
/// A job whose extra fields come in another order than when it was hashed
/// counts as unchanged here (the position holds them sorted): its position
/// would be the same after the patch.
pub(crate) fn upgraded_sha256(
    positions: &sled::Tree,
    connection_id: &str,
    entry: JobEntry,
    patch: &JobPatch,
) -> Result<Option<JobEntry>, StoreError> {
    let Some(Fingerprint { closed, removed: false, .. }) = entry.fingerprint.filter(Fingerprint::is_sha256) else {
        return Ok(None);
    };
    let Some(content_hash) = ContentHash::parse(&patch.content_hash) else { return Ok(None) };
    let Some(bytes) = positions.get(keys::position(entry.position))? else { return Ok(None) };
    let position: Position = super::stored_position::decode(keys::POSITIONS, entry.position, &bytes)?;
    if position.id != entry.position || position.connection_id != connection_id || !ats_side_is(&position, patch) {
        return Ok(None);
    }
    Ok(Some(JobEntry {
        position: entry.position,
        fingerprint: Some(Fingerprint { content_hash, closed, removed: false }),
    }))
}

/// Whether `position`'s ATS side is what `patch` would write: applying it
/// would change nothing but the bookkeeping ([`Position::apply_patch`]
/// writes exactly these fields).
fn ats_side_is(position: &Position, patch: &JobPatch) -> bool {
    position.closed_reason != Some(CloseReason::RemovedInAts)
        && position.ats_job_code == patch.code
        && position.name.ats == patch.title
        && position.locations.ats == patch.locations
        && position.description.ats == patch.description
        && position.authorized_users.ats == patch.authorized_users
        && position.status == patch.status
        && position.ats_raw_status == patch.raw_status
        && position.extra == patch.extra
        && position.ats_updated_at == patch.updated_at
}

/// v7: every `job_map` entry gets its position's fingerprint. Reads each
/// position once; an entry that already has one is left alone, so running
/// it again over its own partial work is harmless. An entry whose position
/// is missing is left as it is (readers report it as before).
pub(crate) fn fingerprint_jobs_v7(db: &sled::Db) -> Result<(), StoreError> {
    let job_map = db.open_tree(keys::JOB_MAP)?;
    let positions = db.open_tree(keys::POSITIONS)?;
    for entry in job_map.iter() {
        let (key, value) = entry?;
        let entry = decode(&value)?;
        if entry.fingerprint.is_some() {
            continue;
        }
        let Some(bytes) = positions.get(keys::position(entry.position))? else { continue };
        let position = super::stored_position::decode(keys::POSITIONS, entry.position, &bytes)?;
        if position.id == entry.position {
            job_map.insert(key, encode(&position))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::{Field, Job, JobStatus};
    use crate::store::content_hash::sha256_content_hash;
    use crate::store::model::RunOutcome;
    use crate::store::patch::Change;
    use crate::store::testutil::{commit_patches, connection, job, job_entry, page_without_checkpoint, temp_store};
    use crate::store::{EventKind, Store, Trigger};

    fn position(code: &str) -> Position {
        Position::from_patch(7, "acme", "c", &JobPatch::from_job(&job(code, "Engineer")), 1, 100)
    }

    #[test]
    fn entries_round_trip_with_and_without_a_fingerprint() {
        let mut p = position("J1");
        let entry = decode(&encode(&p)).unwrap();
        assert_eq!(entry.position, 7);
        let f = entry.fingerprint.unwrap();
        assert!(!f.closed && !f.removed);
        assert!(f.unchanged_by(&JobPatch::from_job(&job("J1", "Engineer"))));
        assert!(!f.unchanged_by(&JobPatch::from_job(&job("J1", "Designer"))));

        p.close_as_removed(200);
        let f = decode(&encode(&p)).unwrap().fingerprint.unwrap();
        assert!(f.closed && f.removed);
        assert!(!f.unchanged_by(&JobPatch::from_job(&job("J1", "Engineer"))), "a removed job that is listed reopens");

        assert_eq!(decode(&7u64.to_be_bytes()).unwrap(), JobEntry { position: 7, fingerprint: None });
        p.content_hash = "not a sha-256".into();
        assert_eq!(decode(&encode(&p)).unwrap().fingerprint, None);
    }

    #[test]
    fn sha256_entries_round_trip_and_never_match_a_listed_job() {
        let j = job("J1", "Engineer");
        let mut p = position("J1");
        p.content_hash = sha256_content_hash(&j);
        let bytes = encode(&p);
        assert_eq!(bytes.len(), MAX_ENTRY_LEN);
        let f = decode(&bytes).unwrap().fingerprint.unwrap();
        assert!(f.is_sha256() && !f.closed && !f.removed);
        assert!(!f.unchanged_by(&JobPatch::from_job(&j)), "a listed job is hashed in the current form only");
        let current = decode(&encode(&position("J1"))).unwrap().fingerprint.unwrap();
        assert!(!current.is_sha256());
        assert_eq!(encode(&position("J1")).len(), ID_LEN + 1 + 16);
    }

    /// Every record of the trees a resync could write.
    fn snapshot(store: &Store) -> Vec<(sled::IVec, sled::IVec)> {
        let t = &store.trees;
        t.job_groups
            .iter()
            .chain(t.positions.iter())
            .chain(t.runs.iter())
            .chain(t.events.iter())
            .map(|e| e.unwrap())
            .collect()
    }

    /// The jobs of the upgrade test: J2 closed, J3 with extra fields out of
    /// sorted order, J4 as it is changed in the ATS later.
    fn listed(j4_title: &str) -> Vec<Job> {
        let mut closed = job("J2", "B");
        closed.status = JobStatus::Closed;
        closed.raw_status = "closed".into();
        let mut unsorted = job("J3", "C");
        unsorted.extra =
            vec![Field { key: "zeta".into(), value: "1".into() }, Field { key: "alpha".into(), value: "2".into() }];
        vec![job("J1", "A"), closed, unsorted, job("J4", j4_title)]
    }

    #[test]
    fn a_store_of_sha256_fingerprints_resyncs_unchanged_upgrades_once_and_then_writes_nothing() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        // As the SHA-256 release wrote them: the positions' hashes and
        // their entries in the SHA-256 form.
        let old = listed("D")
            .iter()
            .map(|j| JobPatch { content_hash: sha256_content_hash(j), ..JobPatch::from_job(j) })
            .collect();
        let made = commit_patches(&store, &c.id, old);
        let entry_of = |code: &str| job_entry(&store, &c.id, code).unwrap().fingerprint.unwrap();
        assert!(["J1", "J2", "J3", "J4"].iter().all(|code| entry_of(code).is_sha256()));
        let records: Vec<_> = made.iter().map(|p| store.trees.positions.get(keys::position(p.id)).unwrap()).collect();
        let last_event = store.events_after(0, 1000).unwrap().last().map(|e| e.id).unwrap_or(0);

        // The first resync after the upgrade: J4 changed in the ATS.
        let run = store.start_run(&c.id, Trigger::Scheduled, "greenhouse", "1.0.0", true).unwrap();
        let patches = |title: &str| listed(title).into_iter().map(JobPatch::from_owned_job).collect::<Vec<_>>();
        let done = store.commit_page(page_without_checkpoint(&run, patches("D2"))).unwrap();
        let changes: Vec<_> = done.changes.iter().map(|c| (c.id, c.change, c.closed)).collect();
        assert_eq!(
            changes,
            [
                (made[0].id, Change::Unchanged, false),
                (made[1].id, Change::Unchanged, true),
                (made[2].id, Change::Unchanged, false),
                (made[3].id, Change::Updated, false)
            ]
        );
        let counts = &done.run.counts;
        assert_eq!((counts.jobs_seen, counts.unchanged, counts.updated, counts.created), (4, 3, 1, 0));
        let events = store.events_after(last_event, 1000).unwrap();
        assert_eq!(
            events.iter().map(|e| (e.kind, e.position.id)).collect::<Vec<_>>(),
            [(EventKind::PositionUpdated, made[3].id)],
            "the changed job's event only"
        );
        for (p, record) in made.iter().zip(&records).take(3) {
            assert_eq!(
                &store.trees.positions.get(keys::position(p.id)).unwrap(),
                record,
                "{} not rewritten",
                p.ats_job_code
            );
        }
        assert!(["J1", "J2", "J3", "J4"].iter().all(|code| !entry_of(code).is_sha256()), "every entry upgraded");
        assert!(entry_of("J2").closed);

        // The next resync writes nothing at all.
        let before = snapshot(&store);
        let again = store.commit_page(page_without_checkpoint(&done.run, patches("D2"))).unwrap();
        assert!(!again.written);
        assert!(again.changes.iter().all(|c| c.change == Change::Unchanged));
        assert_eq!(snapshot(&store), before);
        // And a job changed since is still told.
        let changed = store.commit_page(page_without_checkpoint(&again.run, patches("D3"))).unwrap();
        assert_eq!(changed.changes[3].change, Change::Updated);
    }

    #[test]
    fn a_sha256_entry_of_a_changed_or_removed_job_is_not_upgraded() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let old = |j: &Job| JobPatch { content_hash: sha256_content_hash(j), ..JobPatch::from_job(j) };
        let made = commit_patches(&store, &c.id, vec![old(&job("J1", "A")), old(&job("J2", "B"))]);
        let positions = &store.trees.positions;
        let stored = job_entry(&store, &c.id, "J1").unwrap();
        let upgrade = |j: &Job| upgraded_sha256(positions, &c.id, stored, &JobPatch::from_job(j)).unwrap().is_some();
        let mut edited = job("J1", "A");
        edited.extra[0].value = "Sales".into();
        assert!(!upgrade(&edited), "an extra field changed");
        edited = job("J1", "A");
        edited.updated_at = None;
        assert!(!upgrade(&edited), "the update time changed");
        assert!(!upgrade(&job("J2", "B")), "another job's content");
        let j1 = JobPatch::from_job(&job("J1", "A"));
        assert!(upgraded_sha256(positions, "other", stored, &j1).unwrap().is_none(), "another connection's");
        // An entry without a fingerprint has nothing to upgrade.
        let bare = JobEntry { position: made[0].id, fingerprint: None };
        assert!(upgraded_sha256(positions, &c.id, bare, &j1).unwrap().is_none());
        let upgraded = upgraded_sha256(positions, &c.id, stored, &j1).unwrap().unwrap();
        assert_eq!(upgraded.position, made[0].id);
        assert!(upgraded.fingerprint.unwrap().unchanged_by(&j1), "the listed job's hash");
        // Removed by a complete listing: listed again, it reopens.
        let run = store.start_run(&c.id, Trigger::Scheduled, "greenhouse", "1.0.0", true).unwrap();
        let mut run = run;
        run.outcome = RunOutcome::Succeeded;
        store.commit_run_end(run, |_| {}, &[made[1].id]).unwrap();
        let stored2 = job_entry(&store, &c.id, "J2").unwrap();
        assert!(stored2.fingerprint.unwrap().removed);
        assert!(upgraded_sha256(positions, &c.id, stored2, &JobPatch::from_job(&job("J2", "B"))).unwrap().is_none());
    }

    #[test]
    fn damaged_entries_are_refused() {
        let good = encode(&position("J1"));
        assert!(decode(&good[..5]).is_err());
        assert!(decode(&good[..good.len() - 1]).is_err());
        let mut flags = good.clone();
        flags[ID_LEN] = 0x80;
        assert!(decode(&flags).is_err());
    }
}
