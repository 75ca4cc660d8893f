//! Replay of unchanged pages: what the store keeps per page of a listing.
//!
//! For each page of a connection's last full listing whose `list-jobs` call
//! was replayable (`runtime::replay`), one record under (connection, page
//! key): the call's exchanges (requests with secret *references* only, and
//! response digests; opaque bytes here, written and read by the sync
//! engine), the page's next cursor, and each listed job's code and content
//! hash. A later run that sends the same requests and gets the same
//! answers applies the page from this record without running the plugin,
//! provided every job's fingerprint in the job map still equals the
//! recorded hash ([`Store::commit_replayed_page`]).
//!
//! The page key is a digest the engine computes over the plugin install,
//! the connection's text settings and secret setting *names*, the granted
//! hosts and the call's arguments: a plugin upgrade or a settings change
//! simply misses. Records are a cache: a new tree needs no schema version
//! (an older host ignores it), they go with their connection, and a
//! complete listing prunes the records it did not use.
//!
//! # Layout
//!
//! [`FORMAT_RECORD`], then the record in `postcard` (the exchanges as
//! their bytes, each job's code and hash as strings). Records written in
//! JSON (a first byte of `{`) by earlier releases still read; anything else
//! is taken for absent.

use serde::{Deserialize, Serialize};

use super::codec::{self, NotWhole};
use super::commit::{PageCommit, PageResult, PositionChange};
use super::content_hash::ContentHash;
use super::job_directory::JobDirectory;
use super::patch::Change;
use super::{Store, StoreError, keys};

/// The tree of page records.
const PAGE_REPLAYS: &str = "page_replays";
/// Largest record kept: a page of 500 jobs (code and hash, ~50 bytes a
/// job) and a few recorded requests fit well; a record past it is not
/// stored (the page then always runs the plugin).
pub const MAX_PAGE_REPLAY_BYTES: usize = 256 * 1024;
/// Most jobs in one record: ten pages' worth of a 500-job page.
pub const MAX_PAGE_REPLAY_JOBS: usize = 5_000;
/// Bytes of a page key.
pub const PAGE_KEY_LEN: usize = 32;
/// Format byte of a record in its binary form. JSON, which earlier
/// releases wrote, wrote the exchanges' bytes as an array of numbers and
/// made every record about three times as large to write and to parse.
const FORMAT_RECORD: u8 = 0xB4;

/// A record in its stored form.
fn encode(record: &PageReplay) -> Result<Vec<u8>, postcard::Error> {
    postcard::to_extend(record, vec![FORMAT_RECORD])
}

/// A stored record, in either form; trailing bytes are an error.
fn decode(bytes: &[u8]) -> Result<PageReplay, String> {
    match bytes.split_first() {
        Some((&FORMAT_RECORD, body)) => codec::postcard_whole(body).map_err(|e| match e {
            NotWhole::Decode(e) => e.to_string(),
            NotWhole::Trailing(n) => format!("{n} bytes after the record"),
        }),
        Some((b'{', _)) => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
        Some((first, _)) => Err(format!("unknown format byte {first:#04x}")),
        None => Err("empty record".into()),
    }
}

/// One job of a recorded page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayedJob {
    /// The job's code.
    pub code: String,
    /// Its content hash, as the page's patch had it (hex).
    pub content_hash: String,
}

/// What a page's replay needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageReplay {
    /// The recorded exchanges, encoded by the engine.
    pub exchanges: Vec<u8>,
    /// The page's next cursor.
    pub next_cursor: Option<String>,
    /// The page's jobs in order.
    pub jobs: Vec<ReplayedJob>,
}

impl Store {
    fn page_replays(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(PAGE_REPLAYS)?)
    }

    fn page_replay_key(connection_id: &str, page: &[u8; PAGE_KEY_LEN]) -> Vec<u8> {
        let mut key = keys::connection_prefix(connection_id);
        key.extend_from_slice(page);
        key
    }

    /// The record of `page`, if any. A record that does not decode is
    /// treated as absent (and removed): it is only a cache.
    pub fn page_replay(
        &self,
        connection_id: &str,
        page: &[u8; PAGE_KEY_LEN],
    ) -> Result<Option<PageReplay>, StoreError> {
        let tree = self.page_replays()?;
        let key = Self::page_replay_key(connection_id, page);
        let Some(bytes) = tree.get(&key)? else { return Ok(None) };
        match decode(&bytes) {
            Ok(record) => Ok(Some(record)),
            Err(e) => {
                tracing::warn!(connection = connection_id, error = %e, "dropping an undecodable page replay record");
                tree.remove(&key)?;
                Ok(None)
            }
        }
    }

    /// Stores the record of `page`; one past the bounds is not stored (an
    /// older record under the key is removed). Returns whether it was.
    pub fn put_page_replay(
        &self,
        connection_id: &str,
        page: &[u8; PAGE_KEY_LEN],
        record: &PageReplay,
    ) -> Result<bool, StoreError> {
        let tree = self.page_replays()?;
        let key = Self::page_replay_key(connection_id, page);
        let bytes = encode(record).unwrap_or_default();
        if bytes.is_empty() || bytes.len() > MAX_PAGE_REPLAY_BYTES || record.jobs.len() > MAX_PAGE_REPLAY_JOBS {
            tree.remove(&key)?;
            return Ok(false);
        }
        if tree.get(&key)?.as_deref() != Some(bytes.as_slice()) {
            tree.insert(key, bytes)?;
        }
        Ok(true)
    }

    /// Removes the record of `page`.
    pub fn remove_page_replay(&self, connection_id: &str, page: &[u8; PAGE_KEY_LEN]) -> Result<(), StoreError> {
        self.page_replays()?.remove(Self::page_replay_key(connection_id, page))?;
        Ok(())
    }

    /// Removes every record of the connection but those of `kept`.
    pub fn prune_page_replays(&self, connection_id: &str, kept: &[[u8; PAGE_KEY_LEN]]) -> Result<usize, StoreError> {
        let tree = self.page_replays()?;
        let prefix = keys::connection_prefix(connection_id);
        let mut removed = 0;
        for key in tree.scan_prefix(&prefix).keys() {
            let key = key?;
            if !kept.iter().any(|k| key.get(prefix.len()..) == Some(k.as_slice())) {
                tree.remove(key)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes every record of a deleted connection.
    pub fn delete_page_replays(&self, connection_id: &str) -> Result<(), StoreError> {
        self.prune_page_replays(connection_id, &[]).map(|_| ())
    }

    /// Commits a replayed page: when every job's fingerprint in the job map
    /// still equals the recorded hash (and none was closed as removed), the
    /// page is applied as a page of unchanged jobs through
    /// [`Store::commit_page`] (counted, checkpointed when due, nothing else
    /// written). `None` when a job differs: the caller runs the plugin.
    ///
    /// `page.patches` must be empty: the jobs are `jobs`. The fingerprints
    /// are read outside a transaction for the reason `page_scan` gives: only
    /// this connection's sync changes them, one run at a time.
    pub fn commit_replayed_page(
        &self,
        page: PageCommit,
        jobs: &[ReplayedJob],
    ) -> Result<Option<PageResult>, StoreError> {
        if !page.patches.is_empty() {
            return Err(super::commit::invalid(&page.connection_id, "a replayed page carries no patches".into()));
        }
        let connection_id = page.connection_id.clone();
        self.with_jobs(&connection_id, |directory| self.commit_replayed_page_with(page, jobs, directory))
    }

    /// [`Store::commit_replayed_page`] with the connection's job directory.
    fn commit_replayed_page_with(
        &self,
        mut page: PageCommit,
        jobs: &[ReplayedJob],
        directory: &mut JobDirectory,
    ) -> Result<Option<PageResult>, StoreError> {
        let mut changes = Vec::with_capacity(jobs.len());
        for job in jobs {
            let Some(entry) = directory.get(&job.code).map(|slot| slot.entry) else { return Ok(None) };
            let Some(f) = entry.fingerprint else { return Ok(None) };
            // A fingerprint still in the SHA-256 form never matches: the plugin
            // runs, and its commit upgrades the fingerprint.
            if f.removed || ContentHash::parse(&job.content_hash) != Some(f.content_hash) {
                return Ok(None);
            }
            changes.push(PositionChange { id: entry.position, change: Change::Unchanged, closed: f.closed });
        }
        let n = jobs.len() as u64;
        page.run.counts.jobs_seen += n;
        page.run.counts.unchanged += n;
        let mut result = self.commit_page_with(page, directory)?;
        result.changes = changes;
        Ok(Some(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ConnectionQuota;
    use crate::store::model::SyncRun;
    use crate::store::testutil::{commit_jobs, connection, temp_store};
    use crate::store::{Trigger, job_content_hash};

    fn page(run: &SyncRun) -> PageCommit {
        PageCommit {
            connection_id: run.connection_id.clone(),
            run: run.clone(),
            patches: Vec::new(),
            checkpoint: None,
            checkpoint_due: false,
            quota: ConnectionQuota::UNLIMITED,
        }
    }

    fn replayed(code: &str, title: &str) -> ReplayedJob {
        ReplayedJob { code: code.into(), content_hash: job_content_hash(&crate::store::testutil::job(code, title)) }
    }

    #[test]
    fn a_replayed_page_applies_only_while_every_fingerprint_matches() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let made = commit_jobs(&store, &c.id, &[("J1", "A"), ("J2", "B")]);
        let run = store.start_run(&c.id, Trigger::Manual, "greenhouse", "1.0.0", true).unwrap();

        let done =
            store.commit_replayed_page(page(&run), &[replayed("J1", "A"), replayed("J2", "B")]).unwrap().unwrap();
        assert!(!done.written);
        let counts = &done.run.counts;
        assert_eq!((counts.jobs_seen, counts.unchanged, counts.pages), (2, 2, 1));
        let ids: Vec<_> = done.changes.iter().map(|c| (c.id, c.change, c.closed)).collect();
        assert_eq!(ids, [(made[0].id, Change::Unchanged, false), (made[1].id, Change::Unchanged, false)]);

        assert!(store.commit_replayed_page(page(&done.run), &[replayed("J1", "A2")]).unwrap().is_none(), "changed");
        assert!(store.commit_replayed_page(page(&done.run), &[replayed("J9", "A")]).unwrap().is_none(), "unknown");
    }

    #[test]
    fn records_are_bounded_pruned_and_go_with_their_connection() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let record =
            PageReplay { exchanges: b"[]".to_vec(), next_cursor: Some("n".into()), jobs: vec![replayed("J1", "A")] };
        let (k1, k2) = ([1u8; 32], [2u8; 32]);
        assert!(store.put_page_replay(&c.id, &k1, &record).unwrap());
        assert!(store.put_page_replay(&c.id, &k2, &record).unwrap());
        assert_eq!(store.page_replay(&c.id, &k1).unwrap(), Some(record.clone()));

        let huge = PageReplay { exchanges: vec![b'x'; MAX_PAGE_REPLAY_BYTES], ..record.clone() };
        assert!(!store.put_page_replay(&c.id, &k1, &huge).unwrap(), "too large");
        assert_eq!(store.page_replay(&c.id, &k1).unwrap(), None, "the older record goes too");

        assert!(store.put_page_replay(&c.id, &k1, &record).unwrap());
        assert_eq!(store.prune_page_replays(&c.id, &[k2]).unwrap(), 1);
        assert_eq!(store.page_replay(&c.id, &k1).unwrap(), None);
        assert!(store.page_replay(&c.id, &k2).unwrap().is_some());

        assert!(store.delete_connection(&c.id).unwrap());
        assert_eq!(store.page_replay(&c.id, &k2).unwrap(), None);
    }

    #[test]
    fn a_record_is_binary_and_one_written_in_json_by_an_earlier_release_still_reads() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let record = PageReplay {
            exchanges: br#"[{"request":"GET /jobs"}]"#.to_vec(),
            next_cursor: None,
            jobs: vec![replayed("J1", "A"), replayed("J2", "B")],
        };
        let json = serde_json::to_vec(&record).unwrap();
        let key = [7u8; PAGE_KEY_LEN];
        assert!(store.put_page_replay(&c.id, &key, &record).unwrap());
        let stored = store.page_replays().unwrap().get(Store::page_replay_key(&c.id, &key)).unwrap().unwrap();
        assert_eq!(stored[0], FORMAT_RECORD);
        assert!(stored.len() * 2 < json.len(), "{} bytes against JSON's {}", stored.len(), json.len());

        store.page_replays().unwrap().insert(Store::page_replay_key(&c.id, &key), json).unwrap();
        assert_eq!(store.page_replay(&c.id, &key).unwrap(), Some(record));
    }

    #[test]
    fn a_record_that_does_not_decode_is_absent_and_removed() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let record = PageReplay { exchanges: b"[]".to_vec(), next_cursor: None, jobs: vec![replayed("J1", "A")] };
        let mut trailing = encode(&record).unwrap();
        trailing.push(0);
        let mut cut = encode(&record).unwrap();
        cut.truncate(cut.len() - 3);
        let key = [9u8; PAGE_KEY_LEN];
        for bytes in [trailing, cut, vec![0xFF, 1, 2], b"{not json".to_vec(), Vec::new()] {
            let tree = store.page_replays().unwrap();
            tree.insert(Store::page_replay_key(&c.id, &key), bytes.clone()).unwrap();
            assert_eq!(store.page_replay(&c.id, &key).unwrap(), None, "{bytes:?}");
            assert!(tree.get(Store::page_replay_key(&c.id, &key)).unwrap().is_none(), "removed: {bytes:?}");
        }
    }
}
