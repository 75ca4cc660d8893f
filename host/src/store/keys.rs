//! The byte encoding of every key in the store, and the names of the trees
//! they live in. Nothing else in the store builds or parses key bytes.
//!
//! sled orders keys bytewise, so the encodings are chosen for the scans the
//! store makes:
//!
//! - Integers are big-endian: `2 < 10` as bytes too, so a prefix scan walks
//!   positions by id and runs by sequence number.
//! - A composite key starts with the connection id, *length-prefixed*
//!   (`u32` big-endian, then the UTF-8 bytes). A separator byte would have
//!   to be banned from ids and job codes, and job codes come from the ATS;
//!   with a length prefix the prefix for `acme` can never match the keys of
//!   `acme-2`, whatever bytes follow.
//! - The last component needs no length: a job code is the rest of the key,
//!   an id or sequence number is the final 8 bytes.

#[cfg(test)]
use std::fmt;

/// Tree holding the schema version and other store-wide facts.
pub(crate) const META: &str = "meta";
/// Tree of accounts, by account id.
pub(crate) const ACCOUNTS: &str = "accounts";
/// Tree of connections, by connection id.
pub(crate) const CONNECTIONS: &str = "connections";
/// Tree of each connection's sync state, by connection id.
pub(crate) const CONNECTION_STATE: &str = "connection_state";
/// Tree of positions, by position id ([`position`]).
pub(crate) const POSITIONS: &str = "positions";
/// Tree mapping an ATS job to its position ([`job`] -> position id and
/// fingerprint, `job_entry`), one record per job, up to schema v8: v9 moves
/// it into [`JOB_GROUPS`] and drops it.
pub(crate) const JOB_MAP: &str = "job_map";
/// Index of each connection's positions ([`connection_position`] of the
/// first id -> the ids of positions one commit created, `position_index`).
pub(crate) const POSITIONS_BY_CONNECTION: &str = "positions_by_connection";
/// Tree of sync runs ([`run`] -> run record).
pub(crate) const SYNC_RUNS: &str = "sync_runs";

/// Index of the runs still marked running ([`run`] -> empty), so startup
/// finds interrupted runs without reading every run ever recorded.
pub(crate) const SYNC_RUNS_UNFINISHED: &str = "sync_runs_unfinished";
/// The outbound event log ([`event`] -> event record).
pub(crate) const EVENTS: &str = "events";
/// Events not yet fanned out to webhook endpoints ([`event`] -> empty).
pub(crate) const EVENTS_PENDING: &str = "events_pending";
/// Versions of positions kept for the events that show them
/// (`position_versions::key` -> position record).
pub(crate) const POSITION_VERSIONS: &str = "position_versions";
/// Webhook endpoints, by endpoint id.
pub(crate) const WEBHOOKS: &str = "webhooks";
/// One delivery per (endpoint, event) ([`delivery`] -> delivery record).
pub(crate) const WEBHOOK_DELIVERIES: &str = "webhook_deliveries";
/// Deliveries waiting for an attempt ([`delivery_due`] -> empty), earliest first.
pub(crate) const WEBHOOK_QUEUE: &str = "webhook_queue";

/// Each account's hiring stages ([`id`] of the account -> stage list).
pub(crate) const HIRING_STAGES: &str = "hiring_stages";
/// Each connection's cached ATS stages ([`ats_stages`] -> cached list).
pub(crate) const ATS_STAGES: &str = "ats_stages";
/// Each connection's stage mapping overrides ([`id`] of the connection -> mapping).
pub(crate) const STAGE_MAPPINGS: &str = "stage_mappings";
/// Candidates, by candidate id ([`candidate`]).
pub(crate) const CANDIDATES: &str = "candidates";
/// Résumé bytes, by candidate id ([`candidate`] -> raw bytes).
pub(crate) const CANDIDATE_RESUMES: &str = "candidate_resumes";
/// Index of each position's candidates ([`position_candidate`] -> empty).
pub(crate) const CANDIDATES_BY_POSITION: &str = "candidates_by_position";
/// Index of each account's candidates ([`account_candidate`] -> empty).
pub(crate) const CANDIDATES_BY_ACCOUNT: &str = "candidates_by_account";
/// Every stage move of every candidate ([`stage_move`] -> move record).
pub(crate) const STAGE_MOVES: &str = "stage_moves";
/// The candidate outbox ([`position`]-encoded entry id -> entry).
pub(crate) const OUTBOX: &str = "outbox";
/// Index of each candidate's outbox entries ((candidate id, entry id) -> empty).
pub(crate) const OUTBOX_BY_CANDIDATE: &str = "outbox_by_candidate";
/// Each connection's auto-push rule ([`id`] of the connection -> rule).
pub(crate) const AUTO_PUSH: &str = "auto_push";

/// Each connection's job map, many jobs to a record ([`job_group`] ->
/// `job_groups` record); replaced `job_map` in schema v9.
pub(crate) const JOB_GROUPS: &str = "job_groups";

/// Every tree the current schema uses, in the order `open` creates them.
pub(crate) const ALL_TREES: &[&str] = &[
    META,
    ACCOUNTS,
    CONNECTIONS,
    CONNECTION_STATE,
    POSITIONS,
    JOB_GROUPS,
    POSITIONS_BY_CONNECTION,
    SYNC_RUNS,
    SYNC_RUNS_UNFINISHED,
    EVENTS,
    EVENTS_PENDING,
    WEBHOOKS,
    WEBHOOK_DELIVERIES,
    WEBHOOK_QUEUE,
    HIRING_STAGES,
    ATS_STAGES,
    STAGE_MAPPINGS,
    CANDIDATES,
    CANDIDATE_RESUMES,
    CANDIDATES_BY_POSITION,
    CANDIDATES_BY_ACCOUNT,
    STAGE_MOVES,
    OUTBOX,
    OUTBOX_BY_CANDIDATE,
    AUTO_PUSH,
    POSITION_VERSIONS,
];

/// `meta` key of the store's key check value.
pub(crate) const KEY_CHECK_KEY: &[u8] = b"secret_key_check";

/// `meta` key of the schema version (a `u32`, big-endian).
pub(crate) const SCHEMA_VERSION_KEY: &[u8] = b"schema_version";

/// Width of the length prefix in front of a connection id.
const LEN_PREFIX: usize = 4;
/// Width of an encoded `u64`.
const U64_LEN: usize = 8;

/// A key whose bytes do not decode; names the tree for the error message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed key in tree `{tree}`: {reason}")]
pub(crate) struct KeyError {
    /// The tree the key was read from.
    pub tree: &'static str,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Key of an account, a connection or a connection's state: the id's bytes.
pub(crate) fn id(id: &str) -> &[u8] {
    id.as_bytes()
}

/// Decodes an [`id`] key.
pub(crate) fn decode_id(tree: &'static str, key: &[u8]) -> Result<String, KeyError> {
    String::from_utf8(key.to_vec()).map_err(|_| KeyError { tree, reason: "id is not UTF-8" })
}

/// Key of a position: its id, big-endian.
pub(crate) fn position(id: u64) -> [u8; U64_LEN] {
    id.to_be_bytes()
}

/// Decodes a [`position`] key.
pub(crate) fn decode_position(key: &[u8]) -> Result<u64, KeyError> {
    let bytes: [u8; U64_LEN] =
        key.try_into().map_err(|_| KeyError { tree: POSITIONS, reason: "position id is not 8 bytes" })?;
    Ok(u64::from_be_bytes(bytes))
}

/// The prefix every composite key of one connection starts with; scanning
/// it yields exactly that connection's entries.
pub(crate) fn connection_prefix(connection_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(LEN_PREFIX + connection_id.len() + U64_LEN);
    // An id longer than u32::MAX bytes cannot be stored by sled at all, so
    // the cast never truncates a key that could exist.
    key.extend_from_slice(&(connection_id.len() as u32).to_be_bytes());
    key.extend_from_slice(connection_id.as_bytes());
    key
}

/// Splits a composite key into its connection id and the rest.
fn split_connection<'k>(tree: &'static str, key: &'k [u8]) -> Result<(String, &'k [u8]), KeyError> {
    let short = KeyError { tree, reason: "shorter than its length prefix says" };
    let (len, rest) = key.split_first_chunk::<LEN_PREFIX>().ok_or(short.clone())?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err(short);
    }
    let (id, rest) = rest.split_at(len);
    let id = String::from_utf8(id.to_vec()).map_err(|_| KeyError { tree, reason: "connection id is not UTF-8" })?;
    Ok((id, rest))
}

/// Key of an ATS job in `job_map` (up to schema v8): (connection id, job
/// code). Only tests write such keys now, to build stores of earlier
/// versions.
#[cfg(test)]
pub(crate) fn job(connection_id: &str, code: &str) -> Vec<u8> {
    let mut key = connection_prefix(connection_id);
    key.extend_from_slice(code.as_bytes());
    key
}

/// Decodes a [`job`] key.
pub(crate) fn decode_job(key: &[u8]) -> Result<JobKey, KeyError> {
    let (connection_id, code) = split_connection(JOB_MAP, key)?;
    let code =
        String::from_utf8(code.to_vec()).map_err(|_| KeyError { tree: JOB_MAP, reason: "job code is not UTF-8" })?;
    Ok(JobKey { connection_id, code })
}

/// Key of a group of a connection's job map in `job_groups`: (connection
/// id, the group's key id). The connection's prefix alone keys its
/// generation (`job_groups`).
pub(crate) fn job_group(connection_id: &str, group: u64) -> Vec<u8> {
    with_u64(connection_id, group)
}

/// Key of an entry in `positions_by_connection`: (connection id, position id).
pub(crate) fn connection_position(connection_id: &str, position_id: u64) -> Vec<u8> {
    with_u64(connection_id, position_id)
}

/// Decodes a [`connection_position`] key into (connection id, position id).
pub(crate) fn decode_connection_position(key: &[u8]) -> Result<(String, u64), KeyError> {
    decode_with_u64(POSITIONS_BY_CONNECTION, key)
}

/// Key of a sync run: (connection id, run sequence number).
pub(crate) fn run(connection_id: &str, seq: u64) -> Vec<u8> {
    with_u64(connection_id, seq)
}

/// Decodes a [`run`] key into (connection id, sequence number).
pub(crate) fn decode_run(key: &[u8]) -> Result<(String, u64), KeyError> {
    decode_with_u64(SYNC_RUNS, key)
}

/// Key of an event: its id, big-endian (ids grow, so keys sort by age).
pub(crate) fn event(id: u64) -> [u8; U64_LEN] {
    id.to_be_bytes()
}

/// Decodes an [`event`] key.
pub(crate) fn decode_event(key: &[u8]) -> Result<u64, KeyError> {
    let bytes: [u8; U64_LEN] =
        key.try_into().map_err(|_| KeyError { tree: EVENTS, reason: "event id is not 8 bytes" })?;
    Ok(u64::from_be_bytes(bytes))
}

/// Key of a delivery: (endpoint id, event id).
pub(crate) fn delivery(endpoint_id: &str, event_id: u64) -> Vec<u8> {
    with_u64(endpoint_id, event_id)
}

/// Decodes a [`delivery`] key into (endpoint id, event id).
pub(crate) fn decode_delivery(key: &[u8]) -> Result<(String, u64), KeyError> {
    decode_with_u64(WEBHOOK_DELIVERIES, key)
}

/// Key of a queued delivery: (due time in ms, big-endian; then the
/// [`delivery`] key), so a scan from the start meets the earliest first.
pub(crate) fn delivery_due(due_ms: u64, endpoint_id: &str, event_id: u64) -> Vec<u8> {
    let mut key = due_ms.to_be_bytes().to_vec();
    key.extend_from_slice(&delivery(endpoint_id, event_id));
    key
}

/// Decodes a [`delivery_due`] key into (due ms, endpoint id, event id).
pub(crate) fn decode_delivery_due(key: &[u8]) -> Result<(u64, String, u64), KeyError> {
    let (due, rest) = key
        .split_first_chunk::<U64_LEN>()
        .ok_or(KeyError { tree: WEBHOOK_QUEUE, reason: "shorter than a due time" })?;
    let (endpoint, event) = decode_with_u64(WEBHOOK_QUEUE, rest)?;
    Ok((u64::from_be_bytes(*due), endpoint, event))
}

/// Key of a connection's cached ATS stages: the connection prefix, then
/// `0` for the account-wide list or `1` and the job code for one job's
/// pipeline (a tag byte, so no job code can collide with the account-wide
/// entry).
pub(crate) fn ats_stages(connection_id: &str, job_code: Option<&str>) -> Vec<u8> {
    let mut key = connection_prefix(connection_id);
    match job_code {
        None => key.push(0),
        Some(code) => {
            key.push(1);
            key.extend_from_slice(code.as_bytes());
        }
    }
    key
}

/// Key of a candidate (and of its résumé): its id, big-endian.
pub(crate) fn candidate(id: u64) -> [u8; U64_LEN] {
    id.to_be_bytes()
}

/// Decodes a [`candidate`] key.
pub(crate) fn decode_candidate(key: &[u8]) -> Result<u64, KeyError> {
    let bytes: [u8; U64_LEN] =
        key.try_into().map_err(|_| KeyError { tree: CANDIDATES, reason: "candidate id is not 8 bytes" })?;
    Ok(u64::from_be_bytes(bytes))
}

/// Key of an entry in `candidates_by_position`: (position id, candidate id).
pub(crate) fn position_candidate(position_id: u64, candidate_id: u64) -> [u8; 2 * U64_LEN] {
    let mut key = [0; 2 * U64_LEN];
    key[..U64_LEN].copy_from_slice(&position_id.to_be_bytes());
    key[U64_LEN..].copy_from_slice(&candidate_id.to_be_bytes());
    key
}

/// Decodes a [`position_candidate`] key into (position id, candidate id).
pub(crate) fn decode_position_candidate(key: &[u8]) -> Result<(u64, u64), KeyError> {
    let bad = || KeyError { tree: CANDIDATES_BY_POSITION, reason: "not two 8-byte ids" };
    let bytes: [u8; 2 * U64_LEN] = key.try_into().map_err(|_| bad())?;
    let (p, c) = bytes.split_at(U64_LEN);
    let p: [u8; U64_LEN] = p.try_into().map_err(|_| bad())?;
    let c: [u8; U64_LEN] = c.try_into().map_err(|_| bad())?;
    Ok((u64::from_be_bytes(p), u64::from_be_bytes(c)))
}

/// Key of an entry in `candidates_by_account`: (account id, candidate id).
pub(crate) fn account_candidate(account_id: &str, candidate_id: u64) -> Vec<u8> {
    with_u64(account_id, candidate_id)
}

/// Decodes an [`account_candidate`] key into (account id, candidate id).
pub(crate) fn decode_account_candidate(key: &[u8]) -> Result<(String, u64), KeyError> {
    decode_with_u64(CANDIDATES_BY_ACCOUNT, key)
}

/// Key of a stage move: (candidate id, move number), so a prefix scan of
/// the candidate's id yields its history in order.
pub(crate) fn stage_move(candidate_id: u64, n: u64) -> [u8; 2 * U64_LEN] {
    position_candidate(candidate_id, n)
}

fn with_u64(connection_id: &str, n: u64) -> Vec<u8> {
    let mut key = connection_prefix(connection_id);
    key.extend_from_slice(&n.to_be_bytes());
    key
}

fn decode_with_u64(tree: &'static str, key: &[u8]) -> Result<(String, u64), KeyError> {
    let (connection_id, rest) = split_connection(tree, key)?;
    let bytes: [u8; U64_LEN] =
        rest.try_into().map_err(|_| KeyError { tree, reason: "trailing number is not 8 bytes" })?;
    Ok((connection_id, u64::from_be_bytes(bytes)))
}

/// A decoded `job_map` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobKey {
    pub connection_id: String,
    pub code: String,
}

#[cfg(test)]
impl fmt::Display for JobKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.connection_id, self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composite_keys_round_trip() {
        let key = job("acme-greenhouse", "JOB/1\0weird");
        assert_eq!(
            decode_job(&key).unwrap(),
            JobKey { connection_id: "acme-greenhouse".into(), code: "JOB/1\0weird".into() }
        );
        assert_eq!(decode_connection_position(&connection_position("c", 42)).unwrap(), ("c".to_string(), 42));
        assert_eq!(decode_run(&run("", u64::MAX)).unwrap(), (String::new(), u64::MAX));
        assert_eq!(decode_position(&position(7)).unwrap(), 7);
        assert_eq!(decode_id(ACCOUNTS, id("acme")).unwrap(), "acme");
    }

    #[test]
    fn candidate_keys_round_trip_and_sort() {
        assert_eq!(decode_candidate(&candidate(9)).unwrap(), 9);
        assert_eq!(decode_position_candidate(&position_candidate(3, 1 << 40)).unwrap(), (3, 1 << 40));
        assert_eq!(decode_account_candidate(&account_candidate("acme", 5)).unwrap(), ("acme".to_string(), 5));
        assert!(stage_move(1, 2) < stage_move(1, 10));
        assert!(stage_move(1, u64::MAX) < stage_move(2, 0));
        assert!(ats_stages("c", None) < ats_stages("c", Some("")));
        assert!(ats_stages("c", Some("J")).starts_with(&connection_prefix("c")));
        assert!(decode_position_candidate(b"short").is_err());
    }

    #[test]
    fn numbers_sort_numerically() {
        assert!(position(2) < position(10));
        assert!(position(255) < position(256));
        assert!(run("c", 9) < run("c", 10));
        assert!(connection_position("c", 1) < connection_position("c", 1 << 40));
    }

    #[test]
    fn a_connection_prefix_matches_only_that_connection() {
        // "acme" is a byte prefix of "acme-2"; the length prefix keeps their
        // keys apart.
        let prefix = connection_prefix("acme");
        assert!(run("acme", 3).starts_with(&prefix));
        assert!(!run("acme-2", 3).starts_with(&prefix));
        assert!(!job("acme-2", "x").starts_with(&prefix));
        // A job code that looks like the start of another key changes nothing.
        assert!(job("acme", "\0\0\0\x01x").starts_with(&prefix));
        assert_eq!(decode_job(&job("acme", "\0\0\0\x01x")).unwrap().connection_id, "acme");
    }

    #[test]
    fn malformed_keys_are_errors_not_panics() {
        assert!(decode_position(b"abc").is_err());
        assert!(decode_run(b"\0\0\0\x09abc").is_err());
        assert!(decode_run(b"\0\0").is_err());
        assert!(decode_connection_position(&job("c", "abc")).is_err());
        assert!(decode_job(&[0, 0, 0, 1, 0xff]).is_err());
        let err = decode_run(b"\0\0\0\x09abc").unwrap_err();
        assert_eq!(err.tree, SYNC_RUNS);
    }
}
