//! Sync runs, and the atomic commits the sync engine makes during them.
//!
//! A run is started with [`Store::start_run`], commits each page of the
//! listing with [`Store::commit_page`], and ends with
//! [`Store::commit_run_end`]. Each of these is one sled transaction over
//! every tree it touches: after a crash the store holds whole pages and a
//! checkpoint that matches them, never half a page.

use std::cell::RefCell;

use sled::Transactional;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use tracing::{debug, info};

use super::connections::{read_connection_tx, read_state_tx, write_state_tx};
use super::model::{Checkpoint, Connection, ConnectionState, Position, RunOutcome, SyncRun, Trigger};
use super::{Store, StoreError, abort, codec, keys, now_unix};

/// One page of a run, to commit atomically.
#[derive(Debug, Clone)]
pub struct PageCommit {
    /// The connection being synced.
    pub connection_id: String,
    /// The run, with its counts updated for this page.
    pub run: SyncRun,
    /// Positions created or changed by the page, as built by
    /// [`Position::from_job`] (id 0: new) or [`Position::apply_ats`]. Their
    /// user-owned fields are taken from the stored records, not from these.
    pub upserts: Vec<Position>,
    /// The connection's checkpoint after this page (replaces the stored one).
    pub checkpoint: Option<Checkpoint>,
}

/// The trees a commit writes, as seen inside its transaction.
struct CommitView<'t> {
    connection: &'t Connection,
    positions: &'t TransactionalTree,
    job_map: &'t TransactionalTree,
    by_connection: &'t TransactionalTree,
    state: &'t TransactionalTree,
    /// The outbound event log: every position written gets its event in
    /// the same transaction (`events`).
    events: EventSink<'t>,
}

/// Where a commit appends its events.
struct EventSink<'t> {
    events: &'t TransactionalTree,
    pending: &'t TransactionalTree,
    run_seq: u64,
    /// Event ids drawn before the transaction (sled's id generator must
    /// not be called inside one), used in order.
    ids: &'t [u64],
    next: std::cell::Cell<usize>,
}

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
            let run = SyncRun {
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
            };
            write_run_tx(runs, &run)?;
            unfinished.insert(keys::run(&run.connection_id, run.seq), &[])?;
            write_state_tx(state, &current)?;
            Ok(run)
        })?;
        info!(connection = %connection_id, seq = run.seq, trigger = ?trigger, full_listing, "sync run started");
        Ok(run)
    }

    /// Commits one page in one transaction: the positions with their
    /// `job_map` and index entries, the run record and the checkpoint.
    /// Either all of it is stored or, on any error, none of it. Returns the
    /// positions as stored, new ones with their ids.
    ///
    /// Refused (nothing written) when the run is not running, a position
    /// belongs to another connection, a new position's job already has one
    /// ([`StoreError::DuplicateJob`]), or an existing position's job code
    /// differs from the stored one.
    pub fn commit_page(&self, page: PageCommit) -> Result<Vec<Position>, StoreError> {
        let connection_id = page.connection_id.as_str();
        check_run(connection_id, &page.run)?;
        let ids = self.ids_for_new(&page.upserts)?;
        let event_ids = self.event_ids(page.upserts.len())?;
        let stored = self.commit_tx(connection_id, &page.run, &event_ids, |view| {
            let mut stored = Vec::with_capacity(page.upserts.len());
            for (position, new_id) in page.upserts.iter().zip(&ids) {
                let mut position = position.clone();
                match new_id {
                    Some(id) => {
                        position.id = *id;
                        view.insert_new(&position)?;
                    }
                    None => view.update_existing(&mut position)?,
                }
                stored.push(position);
            }
            let mut current = read_state_tx(view.state, connection_id)?;
            current.checkpoint = page.checkpoint.clone();
            write_state_tx(view.state, &current)?;
            Ok(stored)
        })?;
        debug!(connection = %connection_id, seq = page.run.seq, positions = stored.len(), "page committed");
        Ok(stored)
    }

    /// Ends a run in one transaction: stores the run record (its outcome
    /// must not be `Running`; `finished_unix` is set if missing), applies
    /// `state_update` to the connection's state, and writes `closes`,
    /// existing positions the engine closed (e.g. with
    /// [`Position::mark_removed`]). Returns the new state.
    ///
    /// `state_update` may run more than once (sled retries conflicting
    /// transactions), so it should only modify the state it is given.
    pub fn commit_run_end(
        &self,
        mut run: SyncRun,
        state_update: impl FnMut(&mut ConnectionState),
        closes: Vec<Position>,
    ) -> Result<ConnectionState, StoreError> {
        let connection_id = run.connection_id.clone();
        if run.outcome == RunOutcome::Running {
            return Err(invalid(&connection_id, format!("run {} is ended with outcome Running", run.seq)));
        }
        if let Some(new) = closes.iter().find(|p| p.id == 0) {
            return Err(invalid(
                &connection_id,
                format!("cannot close job `{}`: it has no position", new.ats_job_code),
            ));
        }
        run.finished_unix.get_or_insert_with(now_unix);
        let state_update = RefCell::new(state_update);
        let event_ids = self.event_ids(closes.len())?;
        let state = self.commit_tx(&connection_id, &run, &event_ids, |view| {
            for position in &closes {
                view.update_existing(&mut position.clone())?;
            }
            let mut current = read_state_tx(view.state, &connection_id)?;
            (state_update.borrow_mut())(&mut current);
            write_state_tx(view.state, &current)?;
            Ok(current)
        })?;
        info!(
            connection = %connection_id, seq = run.seq, outcome = ?run.outcome, counts = ?run.counts,
            "sync run ended"
        );
        if let Err(e) = self.prune_runs(&connection_id) {
            tracing::warn!(connection = %connection_id, error = %e, "could not prune old runs");
        }
        Ok(state)
    }

    /// A connection's runs, newest first, at most `limit`.
    pub fn runs(&self, connection_id: &str, limit: usize) -> Result<Vec<SyncRun>, StoreError> {
        self.trees
            .runs
            .scan_prefix(keys::connection_prefix(connection_id))
            .rev()
            .take(limit)
            .map(|entry| decode_run(entry?))
            .collect()
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

    /// Runs `body` in one transaction over every tree a commit touches,
    /// after checking that the connection exists and `run` is still
    /// running, and stores `run` with it.
    fn commit_tx<T>(
        &self,
        connection_id: &str,
        run: &SyncRun,
        event_ids: &[u64],
        body: impl Fn(&CommitView<'_>) -> ConflictableTransactionResult<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _gate = self.write_gate();
        let trees = (
            &self.trees.connections,
            &self.trees.positions,
            &self.trees.job_map,
            &self.trees.by_connection,
            &self.trees.runs,
            &self.trees.state,
            &self.trees.runs_unfinished,
            &self.trees.events,
            &self.trees.events_pending,
        );
        Ok(trees.transaction(
            |(connections, positions, job_map, by_connection, runs, state, unfinished, events, pending)| {
                let connection = read_connection_tx(connections, connection_id)?;
                require_running(runs, run)?;
                let events =
                    EventSink { events, pending, run_seq: run.seq, ids: event_ids, next: std::cell::Cell::new(0) };
                let out =
                    body(&CommitView { connection: &connection, positions, job_map, by_connection, state, events })?;
                write_run_tx(runs, run)?;
                if run.outcome != RunOutcome::Running {
                    unfinished.remove(keys::run(&run.connection_id, run.seq))?;
                }
                Ok(out)
            },
        )?)
    }

    /// `n` fresh event ids, drawn before a commit's transaction.
    fn event_ids(&self, n: usize) -> Result<Vec<u64>, StoreError> {
        (0..n).map(|_| Ok(self.db.generate_id()?)).collect()
    }

    /// Fresh ids for the positions that have none (id 0), in order; `None`
    /// for the others. Drawn before the transaction, which sled may retry:
    /// a retry then reuses the same ids instead of drawing more.
    fn ids_for_new(&self, upserts: &[Position]) -> Result<Vec<Option<u64>>, StoreError> {
        upserts
            .iter()
            .map(|p| {
                if p.id != 0 {
                    return Ok(None);
                }
                // sled's first id is 0, which means "new" here: skip it.
                let mut id = self.db.generate_id()?;
                if id == 0 {
                    id = self.db.generate_id()?;
                }
                Ok(Some(id))
            })
            .collect()
    }
}

impl CommitView<'_> {
    fn connection_id(&self) -> &str {
        &self.connection.id
    }

    /// Checks that the position belongs to this connection and its account.
    fn check_owner(&self, position: &Position) -> ConflictableTransactionResult<(), StoreError> {
        if position.connection_id != self.connection.id || position.account_id != self.connection.account_id {
            return Err(abort(invalid(
                self.connection_id(),
                format!(
                    "position for job `{}` belongs to connection `{}` of account `{}`",
                    position.ats_job_code, position.connection_id, position.account_id
                ),
            )));
        }
        Ok(())
    }

    /// Stores a new position with its `job_map` and index entries; refuses a
    /// job that already has a position, which keeps the mapping 1:1.
    fn insert_new(&self, position: &Position) -> ConflictableTransactionResult<(), StoreError> {
        self.check_owner(position)?;
        let job_key = keys::job(self.connection_id(), &position.ats_job_code);
        if let Some(existing) = self.job_map.get(&job_key)? {
            let existing = keys::decode_position(&existing).map_err(|e| abort(e.into()))?;
            return Err(abort(StoreError::DuplicateJob {
                connection: self.connection_id().to_string(),
                code: position.ats_job_code.clone(),
                existing,
            }));
        }
        let id_key = keys::position(position.id);
        self.positions.insert(&id_key, codec::encode("position", position).map_err(abort)?)?;
        self.job_map.insert(job_key, &id_key)?;
        self.by_connection.insert(keys::connection_position(self.connection_id(), position.id), &[])?;
        self.events.append(None, position)?;
        Ok(())
    }

    /// Replaces a stored position, keeping its user-owned fields; refuses a
    /// missing position or one whose job or connection differ.
    fn update_existing(&self, position: &mut Position) -> ConflictableTransactionResult<(), StoreError> {
        self.check_owner(position)?;
        let id_key = keys::position(position.id);
        let bytes = self.positions.get(id_key)?.ok_or_else(|| abort(StoreError::UnknownPosition(position.id)))?;
        let stored: Position = codec::decode(keys::POSITIONS, position.id, &bytes).map_err(abort)?;
        if stored.connection_id != position.connection_id || stored.ats_job_code != position.ats_job_code {
            return Err(abort(invalid(
                self.connection_id(),
                format!(
                    "position {} is job `{}` of connection `{}`, not job `{}`",
                    position.id, stored.ats_job_code, stored.connection_id, position.ats_job_code
                ),
            )));
        }
        position.keep_user_fields_of(&stored);
        self.positions.insert(&id_key, codec::encode("position", &*position).map_err(abort)?)?;
        self.events.append(Some(&stored), position)?;
        Ok(())
    }
}

impl EventSink<'_> {
    fn append(&self, before: Option<&Position>, after: &Position) -> ConflictableTransactionResult<(), StoreError> {
        let n = self.next.get();
        let id = *self.ids.get(n).ok_or_else(|| {
            abort(StoreError::InvalidCommit {
                connection: after.connection_id.clone(),
                reason: "more events than ids drawn".into(),
            })
        })?;
        self.next.set(n + 1);
        super::events::append_tx(self.events, self.pending, id, self.run_seq, before, after)
    }
}

/// Checks that the run belongs to the connection committed for.
fn check_run(connection_id: &str, run: &SyncRun) -> Result<(), StoreError> {
    if run.connection_id != connection_id {
        return Err(invalid(connection_id, format!("run {} belongs to connection `{}`", run.seq, run.connection_id)));
    }
    Ok(())
}

/// Refuses writes for a run that was never started or has already ended
/// (e.g. marked interrupted while a stale engine task was still going).
fn require_running(runs: &TransactionalTree, run: &SyncRun) -> ConflictableTransactionResult<(), StoreError> {
    let key = keys::run(&run.connection_id, run.seq);
    let stored: SyncRun = match runs.get(&key)? {
        None => return Err(abort(invalid(&run.connection_id, format!("run {} was never started", run.seq)))),
        Some(bytes) => codec::decode(keys::SYNC_RUNS, run_label(run), &bytes).map_err(abort)?,
    };
    if stored.outcome != RunOutcome::Running {
        return Err(abort(invalid(&run.connection_id, format!("run {} has already ended", run.seq))));
    }
    Ok(())
}

fn write_run_tx(runs: &TransactionalTree, run: &SyncRun) -> ConflictableTransactionResult<(), StoreError> {
    runs.insert(keys::run(&run.connection_id, run.seq), codec::encode("sync run", run).map_err(abort)?)?;
    Ok(())
}

fn decode_run((key, bytes): (sled::IVec, sled::IVec)) -> Result<SyncRun, StoreError> {
    let (connection_id, seq) = keys::decode_run(&key)?;
    codec::decode(keys::SYNC_RUNS, format!("{connection_id}#{seq}"), &bytes)
}

fn run_label(run: &SyncRun) -> String {
    format!("{}#{}", run.connection_id, run.seq)
}

fn invalid(connection_id: &str, reason: String) -> StoreError {
    StoreError::InvalidCommit { connection: connection_id.to_string(), reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::{CloseReason, FieldEdit};
    use crate::store::testutil::{commit_jobs, connection, job, temp_store, upsert_for};

    fn page(run: &SyncRun, upserts: Vec<Position>, pages_done: u32) -> PageCommit {
        let mut run = run.clone();
        run.counts.pages = pages_done;
        PageCommit {
            connection_id: run.connection_id.clone(),
            checkpoint: Some(Checkpoint {
                run_seq: run.seq,
                cursor: Some(format!("p{pages_done}")),
                pages_done,
                full_listing: true,
            }),
            run,
            upserts,
        }
    }

    #[test]
    fn a_page_that_fails_midway_leaves_nothing_behind() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let run = store.start_run(&c.id, Trigger::Manual, "greenhouse", "1.0.0", true).unwrap();
        let good = upsert_for(&store, &c, &job("J1", "Engineer"), run.seq);
        // Claims to update a position that does not exist: checked inside
        // the transaction, after J1 was already written there.
        let mut bad = upsert_for(&store, &c, &job("J2", "Designer"), run.seq);
        bad.id = 424_242;
        let err = store.commit_page(page(&run, vec![good.clone(), bad], 1)).unwrap_err();
        assert!(matches!(err, StoreError::UnknownPosition(424_242)), "{err}");

        // A page listing the same new job twice breaks the 1:1 mapping.
        let err = store.commit_page(page(&run, vec![good.clone(), good], 1)).unwrap_err();
        assert!(matches!(err, StoreError::DuplicateJob { .. }), "{err}");

        assert_eq!(store.position_by_job(&c.id, "J1").unwrap(), None);
        assert!(store.positions_of_connection(&c.id).unwrap().is_empty());
        assert!(store.trees.job_map.is_empty() && store.trees.positions.is_empty());
        assert_eq!(store.runs(&c.id, 1).unwrap()[0].counts.pages, 0);
        assert_eq!(store.state(&c.id).unwrap().checkpoint, None);
    }

    #[test]
    fn a_page_commits_positions_run_and_checkpoint_together() {
        let (dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let run = store.start_run(&c.id, Trigger::Scheduled, "greenhouse", "1.0.0", true).unwrap();
        let upserts =
            vec![upsert_for(&store, &c, &job("J1", "A"), run.seq), upsert_for(&store, &c, &job("J2", "B"), run.seq)];
        let stored = store.commit_page(page(&run, upserts, 1)).unwrap();
        assert!(stored.iter().all(|p| p.id != 0) && stored[0].id < stored[1].id);
        drop(store);

        let store = Store::open(dir.path(), None).unwrap();
        assert_eq!(store.positions_of_connection(&c.id).unwrap(), stored);
        assert_eq!(store.runs(&c.id, 1).unwrap()[0].counts.pages, 1);
        assert_eq!(store.state(&c.id).unwrap().checkpoint.unwrap().cursor.as_deref(), Some("p1"));
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

        // A second "new" position for a mapped job is refused.
        let run = store.start_run(&a.id, Trigger::Manual, "greenhouse", "1.0.0", true).unwrap();
        let dup = Position::from_job("acme", &a.id, &job("J1", "x"), run.seq, 0);
        let err = store.commit_page(page(&run, vec![dup], 1)).unwrap_err();
        assert!(matches!(err, StoreError::DuplicateJob { existing, .. } if existing == in_a[0].id), "{err}");

        // Nor may a page move a position to another connection or job.
        let mut moved = store.position(in_b[0].id).unwrap().unwrap();
        moved.connection_id = a.id.clone();
        assert!(matches!(store.commit_page(page(&run, vec![moved], 1)), Err(StoreError::InvalidCommit { .. })));
        let mut recoded = store.position(in_a[0].id).unwrap().unwrap();
        recoded.ats_job_code = "J9".into();
        assert!(matches!(store.commit_page(page(&run, vec![recoded], 1)), Err(StoreError::InvalidCommit { .. })));
    }

    #[test]
    fn an_edit_made_during_a_sync_is_not_overwritten() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let id = commit_jobs(&store, &c.id, &[("J1", "Engineer")])[0].id;
        let run = store.start_run(&c.id, Trigger::Manual, "greenhouse", "1.0.0", true).unwrap();
        let upsert = upsert_for(&store, &c, &job("J1", "Staff Engineer"), run.seq);
        // The user edits after the engine read the position.
        store.edit_position(id, FieldEdit::Name("Mine".into())).unwrap();
        store.set_published(id, true).unwrap();
        store.commit_page(page(&run, vec![upsert], 1)).unwrap();
        let p = store.position(id).unwrap().unwrap();
        assert_eq!((p.name.effective().as_str(), p.name.ats.as_str(), p.published), ("Mine", "Staff Engineer", true));
    }

    #[test]
    fn runs_are_numbered_listed_newest_first_and_recovered() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        for _ in 0..3 {
            commit_jobs(&store, &c.id, &[]);
        }
        let crashed = store.start_run(&c.id, Trigger::Retry, "greenhouse", "1.0.0", false).unwrap();
        assert_eq!(crashed.seq, 4);
        let seqs: Vec<u64> = store.runs(&c.id, 10).unwrap().iter().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![4, 3, 2, 1]);
        assert_eq!(store.runs(&c.id, 2).unwrap().len(), 2);

        assert_eq!(store.unfinished_runs().unwrap(), vec![crashed.clone()]);
        let mut ended = crashed.clone();
        ended.outcome = RunOutcome::Interrupted;
        store.commit_run_end(ended, |s| s.consecutive_failures += 1, vec![]).unwrap();
        assert!(store.unfinished_runs().unwrap().is_empty());
        assert_eq!(store.state(&c.id).unwrap().consecutive_failures, 1);
        assert!(store.runs(&c.id, 1).unwrap()[0].finished_unix.is_some());

        // A stale task may not write into an ended run.
        let err = store.commit_page(page(&crashed, vec![], 1)).unwrap_err();
        assert!(err.to_string().contains("already ended"), "{err}");
        assert!(matches!(
            store.start_run("nope", Trigger::Manual, "p", "1", true),
            Err(StoreError::UnknownConnection(_))
        ));
    }

    #[test]
    fn jobs_missing_from_a_complete_listing_are_closed_as_removed() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        commit_jobs(&store, &c.id, &[("J1", "A"), ("J2", "B")]);
        let mut run = store.start_run(&c.id, Trigger::Scheduled, "greenhouse", "1.0.0", true).unwrap();
        store.commit_page(page(&run, vec![upsert_for(&store, &c, &job("J1", "A"), run.seq)], 1)).unwrap();

        let mut gone = store.positions_not_seen_since(&c.id, run.seq).unwrap();
        assert_eq!(gone.iter().map(|p| p.ats_job_code.as_str()).collect::<Vec<_>>(), vec!["J2"]);
        gone.iter_mut().for_each(|p| p.mark_removed(2_000));
        run.counts.removed = 1;
        run.outcome = RunOutcome::Succeeded;
        store.commit_run_end(run.clone(), |s| s.last_full_listing_unix = Some(2_000), gone).unwrap();

        let j2 = store.position_by_job(&c.id, "J2").unwrap().unwrap();
        assert_eq!(j2.closed_reason, Some(CloseReason::RemovedInAts));
        assert!(store.positions_not_seen_since(&c.id, run.seq).unwrap().is_empty());
        assert_eq!(store.state(&c.id).unwrap().last_full_listing_unix, Some(2_000));
    }
}
