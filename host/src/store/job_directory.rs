//! A connection's job map in memory while it syncs: each job's code -> its
//! group and entry (`job_groups`).
//!
//! The groups are found by nothing but a scan of the connection, so a run
//! reads them once, at its first page, and every page then tells new,
//! unchanged and changed jobs by a hash lookup instead of a store read per
//! job. Commits keep the directory current (they know what they wrote);
//! the connection's stored generation tells when something else wrote, and
//! the directory is then read again. The run's end drops it, so memory is
//! held only for connections being synced (about 100 bytes a job).
//!
//! Each connection's directory has its own lock, held across a page's scan
//! and commit: the directory the scan read is the one the commit checks
//! and updates.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::job_entry::JobEntry;
use super::job_groups::{self, Record, WrittenJob};
use super::{Store, StoreError};

/// Where a known job's entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    /// The group holding it.
    pub group: u64,
    /// Its entry.
    pub entry: JobEntry,
}

/// A connection's jobs, as of a generation of its groups.
#[derive(Debug, Default)]
pub(crate) struct JobDirectory {
    generation: u64,
    jobs: HashMap<Box<str>, Slot>,
}

impl JobDirectory {
    /// Reads every group of `connection_id`.
    pub(crate) fn load(tree: &sled::Tree, connection_id: &str) -> Result<JobDirectory, StoreError> {
        let mut directory = JobDirectory::default();
        for record in job_groups::records(tree, connection_id) {
            match record? {
                Record::Generation(generation) => directory.generation = generation,
                Record::Group { group, jobs } => {
                    for (code, entry) in jobs {
                        if directory.jobs.insert(code.as_str().into(), Slot { group, entry }).is_some() {
                            return Err(StoreError::Corrupt {
                                tree: super::keys::JOB_GROUPS,
                                key: format!("{connection_id}/{group}"),
                                reason: format!("job `{code}` is in two groups"),
                            });
                        }
                    }
                }
            }
        }
        Ok(directory)
    }

    /// A directory that knows no job, for a commit that looks none up
    /// (its transaction still checks `generation`).
    pub(crate) fn empty_at(generation: u64) -> JobDirectory {
        JobDirectory { generation, jobs: HashMap::new() }
    }

    /// The generation of the groups this directory reflects.
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Where the job `code` is; `None` for a job without a position.
    pub(crate) fn get(&self, code: &str) -> Option<Slot> {
        self.jobs.get(code).copied()
    }

    /// Learns what a stored transaction wrote, which raised the generation
    /// by one (when it wrote anything).
    pub(crate) fn learn(&mut self, written: Vec<WrittenJob>) {
        if written.is_empty() {
            return;
        }
        self.generation = self.generation.wrapping_add(1);
        for WrittenJob { code, group, entry } in written {
            self.jobs.insert(code.into_boxed_str(), Slot { group, entry });
        }
    }
}

/// The directories of the connections being synced, each behind its own
/// lock.
#[derive(Default)]
pub(crate) struct JobDirectories {
    held: Mutex<HashMap<String, Arc<Mutex<Option<JobDirectory>>>>>,
}

impl JobDirectories {
    fn handle(&self, connection_id: &str) -> Arc<Mutex<Option<JobDirectory>>> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.entry(connection_id.to_string()).or_default().clone()
    }

    /// Drops a connection's directory (its run ended, or it was deleted).
    pub(crate) fn forget(&self, connection_id: &str) {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).remove(connection_id);
    }
}

impl Store {
    /// Runs `f` with `connection_id`'s directory, current: read when not
    /// held yet or when the stored generation moved since. Holds the
    /// connection's directory lock throughout. A directory `f` found stale
    /// is dropped, so the next call reads it anew.
    pub(super) fn with_jobs<T>(
        &self,
        connection_id: &str,
        f: impl FnOnce(&mut JobDirectory) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let handle = self.job_directories.handle(connection_id);
        let mut held = handle.lock().unwrap_or_else(PoisonError::into_inner);
        let stored = job_groups::generation(&self.trees.job_groups, connection_id)?;
        let directory = match held.take() {
            Some(directory) if directory.generation() == stored => held.insert(directory),
            _ => held.insert(JobDirectory::load(&self.trees.job_groups, connection_id)?),
        };
        let result = f(directory);
        if matches!(result, Err(StoreError::StaleJobDirectory { .. })) {
            *held = None;
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::job_groups::JobWrites;
    use crate::store::keys;

    fn entry(position: u64) -> JobEntry {
        JobEntry { position, fingerprint: None }
    }

    #[test]
    fn a_directory_learns_what_commits_wrote_and_is_read_again_when_others_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree(keys::JOB_GROUPS).unwrap();
        let write = |generation, code: &str, group: Option<u64>, e| {
            tree.transaction(|tx| {
                let mut writes = JobWrites::default();
                writes.set(code, group, e);
                writes.write_tx(tx, "c", generation, None)
            })
            .unwrap()
        };
        let mut directory = JobDirectory::load(&tree, "c").unwrap();
        assert_eq!((directory.generation(), directory.get("J1")), (0, None));
        directory.learn(write(0, "J1", None, entry(5)));
        assert_eq!((directory.generation(), directory.get("J1")), (1, Some(Slot { group: 5, entry: entry(5) })));
        assert_eq!(job_groups::generation(&tree, "c").unwrap(), 1, "what it learned is what is stored");

        // Written behind its back: its generation is no longer the stored one.
        write(1, "J2", None, entry(6));
        assert_ne!(directory.generation(), job_groups::generation(&tree, "c").unwrap());
        let again = JobDirectory::load(&tree, "c").unwrap();
        assert_eq!((again.generation(), again.get("J2").map(|s| s.group)), (2, Some(6)));
    }

    #[test]
    fn a_connection_deleted_and_made_again_never_maps_its_jobs_to_the_old_positions() {
        use crate::store::testutil::{commit_jobs, connection, job, page_without_checkpoint, temp_store};
        use crate::store::{Change, JobPatch, Trigger};

        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let old = commit_jobs(&store, &c.id, &[("J1", "A"), ("J2", "B")]);
        // A run holds the connection's directory when the connection goes.
        let run = store.start_run(&c.id, Trigger::Manual, "greenhouse", "1.0.0", true).unwrap();
        let page =
            |run: &crate::store::SyncRun| page_without_checkpoint(run, vec![JobPatch::from_job(&job("J1", "A"))]);
        assert_eq!(store.commit_page(page(&run)).unwrap().changes[0].change, Change::Unchanged);
        assert!(store.delete_connection(&c.id).unwrap());
        let again = connection(&store, "Greenhouse");
        assert_eq!(again.id, c.id, "the same id, made again");

        let run = store.start_run(&again.id, Trigger::Manual, "greenhouse", "1.0.0", true).unwrap();
        let done = store.commit_page(page(&run)).unwrap();
        assert_eq!(done.changes[0].change, Change::Created);
        assert!(old.iter().all(|p| p.id != done.changes[0].id), "a new position, not a deleted one");
        assert_eq!(crate::store::testutil::job_entries(&store, &again.id).len(), 1);
    }

    #[test]
    fn a_job_in_two_groups_is_reported_as_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree(keys::JOB_GROUPS).unwrap();
        tree.insert(keys::job_group("c", 1), job_groups::encode([("J1", &entry(1))])).unwrap();
        tree.insert(keys::job_group("c", 2), job_groups::encode([("J1", &entry(2))])).unwrap();
        let err = JobDirectory::load(&tree, "c").unwrap_err();
        assert!(err.to_string().contains("job `J1` is in two groups"), "{err}");
    }
}
