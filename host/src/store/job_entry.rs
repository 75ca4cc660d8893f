//! The `job_map` value: the position an ATS job maps to, and the job's
//! fingerprint (its content hash and whether the position is closed, or
//! closed as removed).
//!
//! Most jobs of a resync are unchanged. With the fingerprint beside the
//! position id, telling so is one small read of `job_map`, not a read and a
//! partial JSON decode of the position (a few KB, most of it the
//! description); the daily stage refresh and removal detection learn which
//! positions are open the same way. Every writer of a position's ATS side
//! (`commit`: a patch, a removal) writes the job's entry in the same
//! transaction, so the fingerprint never disagrees with the record.
//!
//! Format: the position id (`u64` BE), then optionally one flag byte and the
//! 32-byte SHA-256 content hash. An entry of the id alone (written before
//! schema v7, or for a position whose stored hash is not a SHA-256 in hex)
//! has no fingerprint: readers then read the position, as before.

use sled::transaction::{ConflictableTransactionResult, TransactionalTree};

use super::StoreError;
use super::keys::{self, KeyError};
use super::model::{CloseReason, Position, PositionStatus};
use super::patch::JobPatch;
use super::write_tally::Tally;

/// Bytes of a position id.
const ID_LEN: usize = 8;
/// Bytes of a content hash ([`super::model::job_content_hash`] is SHA-256).
const HASH_LEN: usize = 32;
/// Bytes of an entry with a fingerprint: the id, the flags, the hash.
const FINGERPRINTED_LEN: usize = ID_LEN + 1 + HASH_LEN;
/// Flag: the position is closed (in the ATS or as removed).
const FLAG_CLOSED: u8 = 1;
/// Flag: the position was closed because a complete listing no longer had
/// its job (a listing that has it again reopens it, whatever its hash).
const FLAG_REMOVED: u8 = 2;

/// A decoded `job_map` value.
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
    /// The position's content hash (raw SHA-256).
    pub content_hash: [u8; HASH_LEN],
    /// Whether the position is closed.
    pub closed: bool,
    /// Whether it was closed as removed from the ATS.
    pub removed: bool,
}

impl Fingerprint {
    /// The fingerprint of a stored position; `None` when its content hash
    /// is not a SHA-256 in hex (then readers fall back to the record).
    pub(crate) fn of(position: &Position) -> Option<Fingerprint> {
        let mut content_hash = [0u8; HASH_LEN];
        hex::decode_to_slice(&position.content_hash, &mut content_hash).ok()?;
        Some(Fingerprint {
            content_hash,
            closed: position.status == PositionStatus::Closed,
            removed: position.closed_reason == Some(CloseReason::RemovedInAts),
        })
    }

    /// Whether applying `patch` would change nothing: the rule of
    /// [`JobPatch::changes_nothing`] on the fingerprint.
    pub(crate) fn unchanged_by(&self, patch: &JobPatch) -> bool {
        let mut listed = [0u8; HASH_LEN];
        !self.removed && hex::decode_to_slice(&patch.content_hash, &mut listed).is_ok() && listed == self.content_hash
    }
}

/// Encodes the entry of `position` (with its fingerprint when it has one).
pub(crate) fn encode(position: &Position) -> Vec<u8> {
    encode_parts(position.id, Fingerprint::of(position))
}

/// Encodes an entry from its parts.
pub(crate) fn encode_parts(position: u64, fingerprint: Option<Fingerprint>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(FINGERPRINTED_LEN);
    bytes.extend_from_slice(&keys::position(position));
    if let Some(f) = fingerprint {
        let flags = if f.closed { FLAG_CLOSED } else { 0 } | if f.removed { FLAG_REMOVED } else { 0 };
        bytes.push(flags);
        bytes.extend_from_slice(&f.content_hash);
    }
    bytes
}

/// Decodes a `job_map` value.
pub(crate) fn decode(bytes: &[u8]) -> Result<JobEntry, KeyError> {
    let corrupt = |reason| KeyError { tree: keys::JOB_MAP, reason };
    let Some((id, rest)) = bytes.split_first_chunk::<ID_LEN>() else {
        return Err(corrupt("shorter than a position id"));
    };
    let position = u64::from_be_bytes(*id);
    let fingerprint = match rest {
        [] => None,
        [flags, hash @ ..] if hash.len() == HASH_LEN => {
            if flags & !(FLAG_CLOSED | FLAG_REMOVED) != 0 {
                return Err(corrupt("unknown fingerprint flags"));
            }
            let mut content_hash = [0u8; HASH_LEN];
            content_hash.copy_from_slice(hash);
            Some(Fingerprint { content_hash, closed: flags & FLAG_CLOSED != 0, removed: flags & FLAG_REMOVED != 0 })
        }
        _ => return Err(corrupt("neither a position id nor an id with a fingerprint")),
    };
    Ok(JobEntry { position, fingerprint })
}

/// Writes the `job_map` entry of `position` (the job `job_key`) in a
/// commit's transaction, counting its bytes in `written` (metering).
pub(crate) fn write_tx(
    job_map: &TransactionalTree,
    job_key: &[u8],
    position: &Position,
    written: &Tally,
) -> ConflictableTransactionResult<(), StoreError> {
    let entry = encode(position);
    written.add(job_key, &entry); // metering
    job_map.insert(job_key, entry)?;
    Ok(())
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
    use crate::store::testutil::job;

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
    fn damaged_entries_are_refused() {
        let good = encode(&position("J1"));
        assert!(decode(&good[..5]).is_err());
        assert!(decode(&good[..good.len() - 1]).is_err());
        let mut flags = good.clone();
        flags[ID_LEN] = 0x80;
        assert!(decode(&flags).is_err());
    }
}
