//! Sync runs: starting one, and reading them back. (The commits a run makes
//! are in `commit`.)

use sled::Transactional;
use tracing::{debug, info};

use super::commit::write_counted_run_tx;
use super::connections::{read_connection_tx, read_state_tx, write_state_tx};
use super::model::{RunOutcome, SyncRun, Trigger};
use super::{Store, StoreError, codec, keys, now_unix};

/// The most runs one page of [`Store::runs_page`] returns, whatever the
/// caller asks: a page is one response of the API.
pub const MAX_RUNS_PAGE: usize = 500;

impl Store {
    /// Starts a run: takes the next sequence number and records the run as
    /// running, in one transaction with the state that holds the number.
    pub fn start_run(
        &self,
        connection_id: &str,
        trigger: Trigger,
        plugin_id: &str,
        plugin_version: &str,
        full_listing: bool,
    ) -> Result<SyncRun, StoreError> {
        let _gate = self.write_gate();
        let trees = (&self.trees.connections, &self.trees.state, &self.trees.runs, &self.trees.runs_unfinished);
        let run = trees.transaction(|(connections, state, runs, unfinished)| {
            read_connection_tx(connections, connection_id)?;
            let mut current = read_state_tx(state, connection_id)?;
            current.last_run_seq += 1;
            let mut run = SyncRun {
                connection_id: connection_id.to_string(),
                seq: current.last_run_seq,
                trigger,
                started_unix: now_unix(),
                finished_unix: None,
                plugin_id: plugin_id.to_string(),
                plugin_version: plugin_version.to_string(),
                full_listing,
                counts: Default::default(),
                outcome: RunOutcome::Running,
                warnings: Vec::new(),
                metering: None,
            };
            let unfinished_key = keys::run(&run.connection_id, run.seq);
            // metering: the index entry, the state and the record itself
            let written = unfinished_key.len() as u64 + write_state_tx(state, &current)?;
            unfinished.insert(unfinished_key, &[])?;
            write_counted_run_tx(runs, &mut run, written)?;
            Ok(run)
        })?;
        // Durable before any page is listed: a run killed in its first half
        // second (sled's own flush interval) is still found and reported as
        // interrupted, not lost without a trace. One flush per run.
        self.flush()?;
        info!(connection = %connection_id, seq = run.seq, trigger = ?trigger, full_listing, "sync run started");
        Ok(run)
    }

    /// A connection's runs, newest first, at most `limit`.
    pub fn runs(&self, connection_id: &str, limit: usize) -> Result<Vec<SyncRun>, StoreError> {
        self.runs_page(connection_id, None, limit)
    }

    /// One page of a connection's runs, newest first: those with a sequence
    /// number below `before` (all when `None`), at most `limit` (capped at
    /// [`MAX_RUNS_PAGE`]). The next page starts before the last one's `seq`.
    pub fn runs_page(
        &self,
        connection_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<SyncRun>, StoreError> {
        let prefix = keys::connection_prefix(connection_id);
        let iter = match before {
            Some(seq) => self.trees.runs.range(prefix.clone()..keys::run(connection_id, seq)),
            None => self.trees.runs.scan_prefix(&prefix),
        };
        iter.rev().take(limit.min(MAX_RUNS_PAGE)).map(|entry| decode_run(entry?)).collect()
    }

    /// Runs still marked running, e.g. because the host died during them;
    /// the engine ends them as `Interrupted` at startup. Reads only the
    /// index of unfinished runs, never every run recorded.
    pub fn unfinished_runs(&self) -> Result<Vec<SyncRun>, StoreError> {
        let mut running = Vec::new();
        for key in self.trees.runs_unfinished.iter().keys() {
            let key = key?;
            if let Some(bytes) = self.trees.runs.get(&key)? {
                let run = decode_run((key, bytes))?;
                if run.outcome == RunOutcome::Running {
                    running.push(run);
                }
            }
        }
        Ok(running)
    }

    /// Deletes a connection's finished runs beyond the newest
    /// `runs_kept`. Reads only the runs it deletes or keeps, newest first.
    pub fn prune_runs(&self, connection_id: &str) -> Result<usize, StoreError> {
        let mut old = Vec::new();
        let mut kept = 0;
        for entry in self.trees.runs.scan_prefix(keys::connection_prefix(connection_id)).rev() {
            let (key, bytes) = entry?;
            if kept < self.runs_kept {
                kept += 1;
                continue;
            }
            let run = decode_run((key.clone(), bytes))?;
            if run.outcome != RunOutcome::Running {
                old.push(key);
            }
        }
        if old.is_empty() {
            return Ok(0);
        }
        let _gate = self.write_gate();
        self.trees.runs.transaction(|runs| {
            for key in &old {
                runs.remove(key)?;
            }
            Ok::<_, sled::transaction::ConflictableTransactionError<StoreError>>(())
        })?;
        debug!(connection = %connection_id, pruned = old.len(), "old runs pruned");
        Ok(old.len())
    }
}

fn decode_run((key, bytes): (sled::IVec, sled::IVec)) -> Result<SyncRun, StoreError> {
    let (connection_id, seq) = keys::decode_run(&key)?;
    codec::decode(keys::SYNC_RUNS, format!("{connection_id}#{seq}"), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::commit::ConnectionQuota;
    use crate::store::model::{Checkpoint, CloseReason, FieldEdit};
    use crate::store::patch::{Change, JobPatch};
    use crate::store::testutil::{commit_jobs, connection, job, temp_store};
    use crate::store::{PageCommit, StoreError};

    fn patch(code: &str, title: &str) -> JobPatch {
        JobPatch::from_job(&job(code, title))
    }

    fn page(run: &SyncRun, patches: Vec<JobPatch>, pages_done: u32) -> PageCommit {
        PageCommit {
            connection_id: run.connection_id.clone(),
            checkpoint: Some(Checkpoint {
                run_seq: run.seq,
                cursor: Some(format!("p{pages_done}")),
                pages_done,
                full_listing: true,
                listing_started_unix: run.started_unix,
                written_unix: now_unix(),
            }),
            run: run.clone(),
            patches,
            checkpoint_due: true,
            quota: ConnectionQuota::UNLIMITED,
        }
    }

    #[test]
    fn a_page_that_breaks_a_rule_leaves_nothing_behind() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let run = store.start_run(&c.id, Trigger::Manual, "greenhouse", "1.0.0", true).unwrap();
        // A page listing the same job twice is refused whole.
        let err = store.commit_page(page(&run, vec![patch("J1", "A"), patch("J1", "B")], 1)).unwrap_err();
        assert!(matches!(err, StoreError::InvalidCommit { .. }), "{err}");
        // A page that would go past the connection's quota: the check runs
        // after J1 and J2 were written inside the transaction.
        let mut full = page(&run, vec![patch("J1", "A"), patch("J2", "B")], 1);
        full.quota = ConnectionQuota { max_positions: 1, max_bytes: u64::MAX };
        let err = store.commit_page(full).unwrap_err();
        assert!(matches!(err, StoreError::ConnectionFull { positions: 2, .. }), "{err}");

        assert_eq!(store.position_by_job(&c.id, "J1").unwrap(), None);
        assert!(store.positions_of_connection(&c.id).unwrap().is_empty());
        assert!(store.trees.job_groups.is_empty() && store.trees.positions.is_empty());
        assert_eq!(store.runs(&c.id, 1).unwrap()[0].counts.pages, 0);
        let state = store.state(&c.id).unwrap();
        assert_eq!((state.checkpoint, state.position_count, state.stored_bytes), (None, 0, 0));
    }

    #[test]
    fn a_page_commits_positions_run_checkpoint_and_totals_together() {
        let (dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let run = store.start_run(&c.id, Trigger::Scheduled, "greenhouse", "1.0.0", true).unwrap();
        let done = store.commit_page(page(&run, vec![patch("J1", "A"), patch("J2", "B")], 1)).unwrap();
        assert!(done.changes.iter().all(|c| c.id != 0 && c.change == Change::Created));
        assert_eq!((done.run.counts.created, done.run.counts.pages, done.run.counts.jobs_seen), (2, 1, 2));
        drop(store);

        let store = Store::open(dir.path(), None).unwrap();
        let stored = store.positions_of_connection(&c.id).unwrap();
        assert_eq!(
            stored.iter().map(|p| p.id).collect::<Vec<_>>(),
            done.changes.iter().map(|c| c.id).collect::<Vec<_>>()
        );
        assert_eq!(store.runs(&c.id, 1).unwrap()[0].counts, done.run.counts);
        let state = store.state(&c.id).unwrap();
        assert_eq!(state.checkpoint.unwrap().cursor.as_deref(), Some("p1"));
        assert_eq!(state.position_count, 2);
        assert!(state.stored_bytes > 100 && state.stored_bytes == done.run.counts.bytes_written);

        // An unchanged page is a read: nothing written unless a checkpoint is due.
        let run2 = store.start_run(&c.id, Trigger::Scheduled, "greenhouse", "1.0.0", true).unwrap();
        let mut quiet = page(&run2, vec![patch("J1", "A")], 1);
        quiet.checkpoint_due = false;
        let again = store.commit_page(quiet).unwrap();
        assert!(!again.written && again.changes[0].change == Change::Unchanged);
        assert_eq!(store.runs(&c.id, 1).unwrap()[0].counts.pages, 0);
    }

    #[test]
    fn one_position_per_job_per_connection() {
        let (_dir, store) = temp_store();
        let a = connection(&store, "Greenhouse");
        let b = connection(&store, "Lever");
        let in_a = commit_jobs(&store, &a.id, &[("J1", "Engineer")]);
        let again = commit_jobs(&store, &a.id, &[("J1", "Engineer II")]);
        let in_b = commit_jobs(&store, &b.id, &[("J1", "Engineer")]);
        assert_eq!(in_a[0].id, again[0].id);
        assert_ne!(in_a[0].id, in_b[0].id);
        assert_eq!(store.position_by_job(&b.id, "J1").unwrap().unwrap().id, in_b[0].id);
        assert_eq!(store.positions_of_connection(&a.id).unwrap().len(), 1);
        // A padded code is the same job.
        let padded = commit_jobs(&store, &a.id, &[(" J1 ", "Engineer III")]);
        assert_eq!(padded[0].id, in_a[0].id);
        assert_eq!(store.state(&a.id).unwrap().position_count, 1);
    }

    #[test]
    fn an_edit_made_during_a_sync_is_not_overwritten() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let id = commit_jobs(&store, &c.id, &[("J1", "Engineer")])[0].id;
        let run = store.start_run(&c.id, Trigger::Manual, "greenhouse", "1.0.0", true).unwrap();
        let pending = page(&run, vec![patch("J1", "Staff Engineer")], 1);
        // The user edits after the engine built the page.
        store.edit_position(id, FieldEdit::Name("Mine".into())).unwrap();
        store.set_published(id, true).unwrap();
        store.commit_page(pending).unwrap();
        let p = store.position(id).unwrap().unwrap();
        assert_eq!((p.name.effective().as_str(), p.name.ats.as_str(), p.published), ("Mine", "Staff Engineer", true));
    }

    #[test]
    fn runs_are_numbered_paged_newest_first_and_recovered() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        for _ in 0..3 {
            commit_jobs(&store, &c.id, &[]);
        }
        let crashed = store.start_run(&c.id, Trigger::Retry, "greenhouse", "1.0.0", false).unwrap();
        assert_eq!(crashed.seq, 4);
        let seqs: Vec<u64> = store.runs(&c.id, 10).unwrap().iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![4, 3, 2, 1]);
        let page: Vec<u64> = store.runs_page(&c.id, Some(3), 1).unwrap().iter().map(|r| r.seq).collect();
        assert_eq!(page, vec![2]);
        assert_eq!(store.runs_page(&c.id, Some(1), 10).unwrap(), vec![]);

        assert_eq!(store.unfinished_runs().unwrap(), vec![crashed.clone()]);
        let mut ended = crashed.clone();
        ended.outcome = RunOutcome::Interrupted;
        store.commit_run_end(ended, |s| s.consecutive_failures += 1, &[]).unwrap();
        assert!(store.unfinished_runs().unwrap().is_empty());
        assert_eq!(store.state(&c.id).unwrap().consecutive_failures, 1);
        assert!(store.runs(&c.id, 1).unwrap()[0].finished_unix.is_some());

        // A stale task may not write into an ended run.
        let err = store.commit_page(page_of(&crashed)).unwrap_err();
        assert!(err.to_string().contains("already ended"), "{err}");
        assert!(matches!(
            store.start_run("nope", Trigger::Manual, "p", "1", true),
            Err(StoreError::UnknownConnection(_))
        ));
    }

    fn page_of(run: &SyncRun) -> PageCommit {
        page(run, vec![], 1)
    }

    #[test]
    fn positions_missing_from_a_complete_listing_are_closed_as_removed() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        commit_jobs(&store, &c.id, &[("J1", "A"), ("J2", "B")]);
        let run = store.start_run(&c.id, Trigger::Scheduled, "greenhouse", "1.0.0", true).unwrap();
        let run = store.commit_page(page(&run, vec![patch("J1", "A")], 1)).unwrap().run;

        let j1 = store.position_by_job(&c.id, "J1").unwrap().unwrap();
        let listed = |id| id == j1.id;
        let gone = store.open_positions_missing_from(&c.id, listed).unwrap();
        let j2 = store.position_by_job(&c.id, "J2").unwrap().unwrap();
        assert_eq!(gone, vec![j2.id]);
        let mut run = run;
        run.outcome = RunOutcome::Succeeded;
        let (run, _) = store.commit_run_end(run, |s| s.last_full_listing_unix = Some(2_000), &gone).unwrap();
        assert_eq!(run.counts.removed, 1);

        let j2 = store.position_by_job(&c.id, "J2").unwrap().unwrap();
        assert_eq!(j2.closed_reason, Some(CloseReason::RemovedInAts));
        assert!(store.open_positions_missing_from(&c.id, listed).unwrap().is_empty());
        assert_eq!(store.state(&c.id).unwrap().last_full_listing_unix, Some(2_000));
    }
}
