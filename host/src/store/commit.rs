//! The atomic commits the sync engine makes during a run: one page of
//! patches, and the run's end (with the positions a complete listing no
//! longer has). Each is one sled transaction over every tree it touches:
//! after a crash the store holds whole pages and a checkpoint that matches
//! them, never half a page.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};

use sled::Transactional;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use tracing::{debug, info};

use super::connections::{read_connection_tx, read_state_tx, write_state_tx};
use super::event_batch::BatchBuilder;
use super::events::EventKind;
use super::job_directory::JobDirectory;
use super::job_entry::{self, JobEntry}; // resync
use super::job_groups::{self, JobWrites, WrittenJob, check_generation_tx};
use super::model::{Checkpoint, Connection, ConnectionState, Position, PositionStatus, RunCounts, RunOutcome, SyncRun};
use super::page_scan::{Listed, ScannedPage};
use super::patch::{Change, JobPatch};
use super::position_index::CreatedIds;
use super::write_tally::{Tally, encode_counting_itself};
use super::{Store, StoreError, abort, codec, keys, now_unix, position_versions, stored_position};

/// What one connection may store; a page that would go past it is refused
/// whole ([`StoreError::ConnectionFull`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionQuota {
    /// Positions.
    pub max_positions: u64,
    /// Bytes of position records.
    pub max_bytes: u64,
}

impl ConnectionQuota {
    /// No bound (tests and tools).
    pub const UNLIMITED: ConnectionQuota = ConnectionQuota { max_positions: u64::MAX, max_bytes: u64::MAX };
}

/// One page of a run, to commit atomically.
#[derive(Debug, Clone)]
pub struct PageCommit {
    /// The connection being synced.
    pub connection_id: String,
    /// The run as it stands before this page; the commit adds the page's
    /// counts and stores it.
    pub run: SyncRun,
    /// One patch per job of the page, codes unique within the page.
    pub patches: Vec<JobPatch>,
    /// The connection's checkpoint after this page (replaces the stored one).
    pub checkpoint: Option<Checkpoint>,
    /// Store the run and the checkpoint even when no position changed (a
    /// page that changes nothing is otherwise a read-only transaction).
    pub checkpoint_due: bool,
    /// What the connection may store.
    pub quota: ConnectionQuota,
}

/// What a page commit did to one job's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PositionChange {
    /// The position (its job code is the position's; a run's listing
    /// keeps ids, not a copy of every code).
    pub id: u64,
    /// What happened to it.
    pub change: Change,
    /// Whether it is closed now.
    pub closed: bool,
}

/// The result of a page commit.
#[derive(Debug, Clone)]
pub struct PageResult {
    /// The run as stored, with this page's counts.
    pub run: SyncRun,
    /// Per job of the page, in order.
    pub changes: Vec<PositionChange>,
    /// Whether anything was written.
    pub written: bool,
}

/// The trees a commit writes, as seen inside its transaction.
struct CommitView<'t> {
    connection: &'t Connection,
    positions: &'t TransactionalTree,
    /// The connection's job map: read from `jobs` (current: the
    /// transaction checked its generation), written through `job_writes`.
    job_groups: &'t TransactionalTree,
    jobs: &'t JobDirectory,
    job_writes: RefCell<JobWrites>,
    /// What `job_writes` stored so far, for `jobs` to learn after the commit.
    jobs_written: RefCell<Vec<WrittenJob>>,
    by_connection: &'t TransactionalTree,
    state: &'t TransactionalTree,
    /// The index of runs still running; a run's end removes its entry.
    unfinished: &'t TransactionalTree,
    /// Versions of positions kept for their events (`position_versions`).
    versions: &'t TransactionalTree,
    /// The outbound event log: every position written gets its event in
    /// the same transaction.
    events: EventSink<'t>,
    /// Metering: the bytes this attempt wrote (`write_tally`).
    written: &'t Tally,
    /// The positions this attempt created, indexed in one entry at its
    /// end (`position_index`).
    created: CreatedIds,
}

/// Where a commit appends its events: batch records of a few events
/// (`event_batch`), each written as it fills, the last at the end.
struct EventSink<'t> {
    events: &'t TransactionalTree,
    pending: &'t TransactionalTree,
    batch: RefCell<BatchBuilder>,
    run_seq: u64,
    /// Event ids drawn before the transaction (sled's id generator must
    /// not be called inside one), used in order; a retried transaction
    /// starts over from the first.
    ids: &'t [u64],
    next: Cell<usize>,
    /// Metering: the commit's tally, which event batches add to.
    written: &'t Tally,
}

impl Store {
    /// Commits one page in one transaction: each patch applied to its
    /// position (created if the job is new) by [`Position::apply_patch`],
    /// with the job map and index entries, the run record with the page's
    /// counts, the checkpoint, and the connection's stored totals. Either
    /// all of it is stored or, on any error, none of it.
    ///
    /// Refused (nothing written) when the run is not running, two patches
    /// name one job, or the connection would go past `quota`.
    pub fn commit_page(&self, page: PageCommit) -> Result<PageResult, StoreError> {
        let connection_id = page.connection_id.as_str();
        check_run(connection_id, &page.run)?;
        let mut codes = std::collections::HashSet::with_capacity(page.patches.len());
        if let Some(dup) = page.patches.iter().find(|p| !codes.insert(p.code.as_str())) {
            return Err(invalid(connection_id, format!("job `{}` appears twice in one page", dup.code)));
        }
        let connection_id = connection_id.to_string();
        self.with_jobs(&connection_id, |jobs| self.commit_page_with(page, jobs))
    }

    /// [`Store::commit_page`] with the connection's job directory, current
    /// (see `job_directory`).
    pub(super) fn commit_page_with(&self, page: PageCommit, jobs: &mut JobDirectory) -> Result<PageResult, StoreError> {
        // resync: unchanged jobs are told before the transaction (`page_scan`);
        // a page of only those opens none, the others go to the transaction.
        let scan = self.scan_page(&page.connection_id, &page.patches, jobs)?;
        self.commit_scanned(page, scan, jobs)
    }

    /// [`Store::commit_page`] after its scan.
    pub(super) fn commit_scanned(
        &self,
        page: PageCommit,
        scan: ScannedPage,
        jobs: &mut JobDirectory,
    ) -> Result<PageResult, StoreError> {
        if scan.all_unchanged() && !page.checkpoint_due {
            let result = self.commit_unchanged_page(page, &scan)?;
            debug!(connection = %result.run.connection_id, seq = result.run.seq, jobs = result.changes.len(), "unchanged page");
            return Ok(result);
        }
        // end resync
        let now = now_unix();
        let PageCommit { connection_id, run: page_run, patches, checkpoint, checkpoint_due, quota } = page;
        let connection_id = connection_id.as_str();
        // New jobs become their positions here, taking the patches' strings
        // (the transaction may run more than once, so it must not take them).
        // The transaction checks the connection again, and its account.
        let account_id = self
            .connection(connection_id)?
            .ok_or_else(|| StoreError::UnknownConnection(connection_id.to_string()))?
            .account_id;
        // At most two events per job applied (its change, and whether it
        // is shown when a close or reopen changes that); unused ids are skipped.
        let event_ids = self.event_ids(scan.to_apply().saturating_mul(2))?;
        let staged = scan.stage(patches, |id, patch| {
            Position::from_owned_patch(id, &account_id, connection_id, patch, page_run.seq, now)
        });
        let (result, written) = self.commit_tx(connection_id, &page_run, &event_ids, jobs, |view, runs| {
            let mut run = page_run.clone();
            let mut state = read_state_tx(view.state, connection_id)?;
            // Pending "this run's commit" is retried whole by sled on a
            // conflict: everything below starts from the stored values.
            let seq = run.seq;
            let changes = staged
                .apply_each(&mut run.counts, |listed, counts| view.apply(listed, seq, now, &mut state, counts))?;
            if state.position_count > quota.max_positions || state.stored_bytes > quota.max_bytes {
                return Err(abort(StoreError::ConnectionFull {
                    connection: connection_id.to_string(),
                    positions: state.position_count,
                    bytes: state.stored_bytes,
                    max_positions: quota.max_positions,
                    max_bytes: quota.max_bytes,
                }));
            }
            run.counts.pages += 1;
            let written = changes.iter().any(|c| c.change.writes());
            if written || checkpoint_due {
                state.checkpoint = checkpoint.clone();
                view.written.add_bytes(write_state_tx(view.state, &state)?);
                view.events.flush()?; // metering: the last batch is counted before the run record
                view.index_created()?; // metering: so is the index entry of the positions created
                view.write_jobs()?; // metering: and the job groups
                write_counted_run_tx(runs, &mut run, view.written.bytes())?;
            }
            Ok(PageResult { run, changes, written })
        })?;
        jobs.learn(written);
        debug!(connection = %connection_id, seq = page_run.seq, jobs = staged.len(), written = result.written, "page committed");
        Ok(result)
    }

    /// Ends a run in one transaction: stores the run record (its outcome
    /// must not be `Running`; `finished_unix` is set if missing), closes the
    /// positions `removed` names with [`Position::close_as_removed`]
    /// (counting them in the run's `removed`), and applies `state_update` to
    /// the connection's state. Returns the run and the new state.
    ///
    /// `state_update` may run more than once (sled retries conflicting
    /// transactions), so it should only modify the state it is given.
    pub fn commit_run_end(
        &self,
        run: SyncRun,
        state_update: impl FnMut(&mut ConnectionState),
        removed: &[u64],
    ) -> Result<(SyncRun, ConnectionState), StoreError> {
        let connection_id = run.connection_id.clone();
        if run.outcome == RunOutcome::Running {
            return Err(invalid(&connection_id, format!("run {} is ended with outcome Running", run.seq)));
        }
        let ended = if removed.is_empty() {
            // Nothing to look up: a run that ends without removals (one
            // that failed before listing, say) does not read the job map.
            let mut jobs = JobDirectory::empty_at(job_groups::generation(&self.trees.job_groups, &connection_id)?);
            self.commit_run_end_with(run, state_update, removed, &mut jobs)?
        } else {
            self.with_jobs(&connection_id, |jobs| self.commit_run_end_with(run, state_update, removed, jobs))?
        };
        // The run's job directory is not needed until the next run.
        self.job_directories.forget(&connection_id);
        if let Err(e) = self.prune_runs(&connection_id) {
            tracing::warn!(connection = %connection_id, error = %e, "could not prune old runs");
        }
        Ok(ended)
    }

    /// [`Store::commit_run_end`] with the connection's job directory.
    fn commit_run_end_with(
        &self,
        mut run: SyncRun,
        state_update: impl FnMut(&mut ConnectionState),
        removed: &[u64],
        jobs: &mut JobDirectory,
    ) -> Result<(SyncRun, ConnectionState), StoreError> {
        let connection_id = run.connection_id.clone();
        run.finished_unix.get_or_insert_with(now_unix);
        let now = now_unix();
        let state_update = RefCell::new(state_update);
        // The removal and, for a published position, its unpublishing.
        let event_ids = self.event_ids(removed.len().saturating_mul(2))?;
        let (ended, written) = self.commit_tx(&connection_id, &run, &event_ids, jobs, |view, runs| {
            let mut run = run.clone();
            let mut state = read_state_tx(view.state, &connection_id)?;
            for &id in removed {
                view.close_removed(id, now, &mut state, &mut run.counts)?;
            }
            (state_update.borrow_mut())(&mut state);
            view.written.add_bytes(write_state_tx(view.state, &state)?);
            view.events.flush()?; // metering: the last batch is counted before the run record
            view.write_jobs()?; // metering: so are the job groups
            write_counted_run_tx(runs, &mut run, view.written.bytes())?;
            view.unfinished.remove(keys::run(&run.connection_id, run.seq))?;
            Ok((run, state))
        })?;
        jobs.learn(written);
        info!(
            connection = %connection_id, seq = ended.0.seq, outcome = ?ended.0.outcome, counts = ?ended.0.counts,
            "sync run ended"
        );
        Ok(ended)
    }

    /// Runs `body` in one transaction over every tree a commit touches,
    /// after checking that the connection exists, `run` is still running
    /// and `jobs` is current. Returns `body`'s result and the job entries
    /// written, which `jobs` must learn. Holds the store's write gate, so a
    /// backup never sees half of it.
    fn commit_tx<T>(
        &self,
        connection_id: &str,
        run: &SyncRun,
        event_ids: &[u64],
        jobs: &JobDirectory,
        body: impl Fn(&CommitView<'_>, &TransactionalTree) -> ConflictableTransactionResult<T, StoreError>,
    ) -> Result<(T, Vec<WrittenJob>), StoreError> {
        let _gate = self.write_gate();
        let trees = (
            &self.trees.connections,
            &self.trees.positions,
            &self.trees.job_groups,
            &self.trees.by_connection,
            &self.trees.runs,
            &self.trees.state,
            &self.trees.runs_unfinished,
            &self.trees.events,
            &self.trees.events_pending,
            &self.trees.position_versions,
        );
        Ok(trees.transaction(
            |(
                connections,
                positions,
                job_groups,
                by_connection,
                runs,
                state,
                unfinished,
                events,
                pending,
                versions,
            )| {
                let connection = read_connection_tx(connections, connection_id)?;
                require_running(runs, run)?;
                check_generation_tx(job_groups, connection_id, jobs.generation())?;
                let written = Tally::default(); // metering: anew for each attempt
                let events = EventSink {
                    written: &written,
                    events,
                    pending,
                    batch: RefCell::default(),
                    run_seq: run.seq,
                    ids: event_ids,
                    next: Cell::new(0),
                };
                let view = CommitView {
                    connection: &connection,
                    positions,
                    job_groups,
                    jobs,
                    job_writes: RefCell::default(),
                    jobs_written: RefCell::default(),
                    by_connection,
                    state,
                    unfinished,
                    versions,
                    events,
                    written: &written,
                    created: CreatedIds::default(),
                };
                let out = body(&view, runs)?;
                view.events.flush()?;
                view.index_created()?;
                view.write_jobs()?;
                Ok((out, view.jobs_written.take()))
            },
        )?)
    }

    /// `n` fresh event ids, drawn before a commit's transaction.
    fn event_ids(&self, n: usize) -> Result<Vec<u64>, StoreError> {
        self.draw_event_ids(n)
    }
}

impl CommitView<'_> {
    fn connection_id(&self) -> &str {
        &self.connection.id
    }

    /// Writes the job entries noted so far (`job_groups`), counted in the
    /// tally.
    fn write_jobs(&self) -> ConflictableTransactionResult<(), StoreError> {
        let written = self.job_writes.borrow_mut().write_tx(
            self.job_groups,
            self.connection_id(),
            self.jobs.generation(),
            Some(self.written),
        )?;
        self.jobs_written.borrow_mut().extend(written);
        Ok(())
    }

    /// Notes the job entry of `position` (the job `code`, in `group` when
    /// known), written by [`CommitView::write_jobs`].
    fn note_job(&self, code: &str, group: Option<u64>, position: &Position) {
        self.job_writes.borrow_mut().set(code, group, job_entry::of(position));
    }

    /// Writes the index entry of the positions created so far
    /// (`position_index`), counted in the tally.
    fn index_created(&self) -> ConflictableTransactionResult<(), StoreError> {
        self.written.add_bytes(self.created.write_tx(self.by_connection, self.connection_id())?); // metering
        Ok(())
    }

    /// Applies one listed job: its patch to the stored position (found
    /// through the job directory), or its new position. The only place a listed job
    /// changes a position.
    fn apply(
        &self,
        listed: Listed<'_>,
        run_seq: u64,
        now: i64,
        state: &mut ConnectionState,
        counts: &mut RunCounts,
    ) -> ConflictableTransactionResult<PositionChange, StoreError> {
        let slot = self.jobs.get(listed.code());
        let existing = slot.map(|s| s.entry);
        counts.jobs_seen += 1;
        let mut was_published = false;
        let (position, change, old): (Cow<'_, Position>, Change, Option<sled::IVec>) = match existing {
            Some(entry) => {
                // A job the scan took for new has a position after all: its
                // patch is applied to that position, as to any other.
                let patch = match listed {
                    Listed::Patch(patch) => Cow::Borrowed(patch),
                    Listed::New(position) => Cow::Owned(position.patch_of_new()),
                };
                let id = match entry {
                    // resync: the job's fingerprint says unchanged without reading the position
                    JobEntry { position: id, fingerprint: Some(f) } if f.unchanged_by(&patch) => {
                        counts.unchanged += 1;
                        return Ok(PositionChange { id, change: Change::Unchanged, closed: f.closed });
                    }
                    // end resync
                    JobEntry { position: id, .. } => id,
                };
                let bytes =
                    self.positions.get(keys::position(id))?.ok_or_else(|| abort(StoreError::UnknownPosition(id)))?;
                // Most jobs of a resync are unchanged: the few fields that
                // say so are decoded first, the whole record only when the
                // patch changes it.
                let head = stored_position::decode_head(keys::POSITIONS, id, &bytes).map_err(abort)?;
                self.check_owner(id, &head.connection_id)?;
                if patch.changes_nothing(&head.content_hash, head.closed_reason) {
                    counts.unchanged += 1;
                    let closed = head.status == PositionStatus::Closed;
                    return Ok(PositionChange { id, change: Change::Unchanged, closed });
                }
                let mut position = self.decode_position(id, &bytes)?;
                was_published = position.published;
                let change = position.apply_patch(&patch, run_seq, now);
                (Cow::Owned(position), change, Some(bytes))
            }
            None => {
                // Only a concurrent writer of this connection's jobs could
                // have removed the mapping seen a moment ago; there is none.
                let Listed::New(position) = listed else {
                    return Err(abort(invalid(
                        self.connection_id(),
                        format!("job `{}` lost its position mid-commit", listed.code()),
                    )));
                };
                (self.as_new_here(position), Change::Created, None)
            }
        };
        match change {
            Change::Created => counts.created += 1,
            Change::Updated => counts.updated += 1,
            Change::Closed => counts.closed += 1,
            Change::Reopened => counts.reopened += 1,
            Change::Unchanged => counts.unchanged += 1,
        }
        // Every per-position change of a page is known here, inside the
        // page's transaction: `change` and `position` (the stored record
        // after the change). What must happen atomically with a change
        // (an outbound event, an index) goes right here.
        if change.writes() {
            // The record is written as the version its events show.
            let version = self.events.next_id(&position)?;
            self.write_position(&position, version, state, counts, old.as_deref())?;
            if let Some(kind) = EventKind::of_change(change) {
                self.events.append(kind, &position, version)?;
            }
            if let Some(kind) = EventKind::of_publication(was_published, position.published) {
                self.events.append(kind, &position, version)?;
            }
            self.note_job(listed.code(), slot.map(|s| s.group), &position); // resync: with its fingerprint
            if old.is_none() {
                self.created.push(position.id); // indexed at the commit's end (`position_index`)
                state.position_count += 1;
            }
        }
        Ok(PositionChange { id: position.id, change, closed: position.is_closed() })
    }

    /// A new position built before the transaction, as this connection's:
    /// borrowed as it is, or a copy with the owner read in the transaction
    /// (a connection deleted and made again under another account since).
    fn as_new_here<'p>(&self, position: &'p Position) -> Cow<'p, Position> {
        if position.connection_id == self.connection.id && position.account_id == self.connection.account_id {
            return Cow::Borrowed(position);
        }
        let mut own = position.clone();
        own.connection_id.clone_from(&self.connection.id);
        own.account_id.clone_from(&self.connection.account_id);
        Cow::Owned(own)
    }

    /// Closes one position as removed from the ATS (if still open).
    fn close_removed(
        &self,
        id: u64,
        now: i64,
        state: &mut ConnectionState,
        counts: &mut RunCounts,
    ) -> ConflictableTransactionResult<(), StoreError> {
        let (mut position, old) = self.read_position(id)?;
        let was_published = position.published;
        if position.close_as_removed(now).writes() {
            let version = self.events.next_id(&position)?;
            self.write_position(&position, version, state, counts, Some(&old))?;
            let group = self.jobs.get(&position.ats_job_code).map(|s| s.group); // resync: the job's fingerprint
            self.note_job(&position.ats_job_code, group, &position); // resync
            self.events.append(EventKind::PositionRemoved, &position, version)?;
            if let Some(kind) = EventKind::of_publication(was_published, position.published) {
                self.events.append(kind, &position, version)?;
            }
            counts.removed += 1;
        }
        Ok(())
    }

    /// Reads a position of this connection, with its stored record.
    fn read_position(&self, id: u64) -> ConflictableTransactionResult<(Position, sled::IVec), StoreError> {
        let bytes = self.positions.get(keys::position(id))?.ok_or_else(|| abort(StoreError::UnknownPosition(id)))?;
        Ok((self.decode_position(id, &bytes)?, bytes))
    }

    /// Decodes a stored position and checks that it is this connection's.
    fn decode_position(&self, id: u64, bytes: &[u8]) -> ConflictableTransactionResult<Position, StoreError> {
        let position = stored_position::decode(keys::POSITIONS, id, bytes).map_err(abort)?;
        self.check_owner(id, &position.connection_id)?;
        Ok(position)
    }

    /// Refuses a position that belongs to another connection.
    fn check_owner(&self, id: u64, owner: &str) -> ConflictableTransactionResult<(), StoreError> {
        if owner != self.connection.id {
            return Err(abort(invalid(self.connection_id(), format!("position {id} belongs to connection `{owner}`"))));
        }
        Ok(())
    }

    /// Writes a position as `version` (its events refer to it), keeping
    /// the record it replaces when an event refers to that one, and keeps
    /// the connection's byte total.
    fn write_position(
        &self,
        position: &Position,
        version: u64,
        state: &mut ConnectionState,
        counts: &mut RunCounts,
        old: Option<&[u8]>,
    ) -> ConflictableTransactionResult<(), StoreError> {
        let value = stored_position::encode_versioned(position, version).map_err(abort)?;
        let len = value.len() as u64;
        if let Some(old) = old
            && let Some(kept) = position_versions::keep_tx(self.versions, position.id, old)?
        {
            self.written.add(&kept, old); // metering
        }
        let key = keys::position(position.id);
        self.written.add(&key, &value); // metering
        // The old record, if any, was read above: `insert` would read it again
        // only to return it (vendor/sled/PATCHED.md).
        self.positions.insert_blind(&key[..], value);
        let old_len = old.map_or(0, |o| o.len() as u64);
        state.stored_bytes = state.stored_bytes.saturating_sub(old_len).saturating_add(len);
        counts.bytes_written = counts.bytes_written.saturating_add(len);
        Ok(())
    }
}

impl EventSink<'_> {
    /// The id the next [`EventSink::append`] uses (the version of a
    /// position written with its events).
    fn next_id(&self, after: &Position) -> ConflictableTransactionResult<u64, StoreError> {
        self.ids.get(self.next.get()).copied().ok_or_else(|| {
            abort(StoreError::InvalidCommit {
                connection: after.connection_id.clone(),
                reason: "more events than ids drawn".into(),
            })
        })
    }

    /// Appends the next event, with the next id drawn for this commit,
    /// about `after` as stored in version `version`.
    fn append(&self, kind: EventKind, after: &Position, version: u64) -> ConflictableTransactionResult<(), StoreError> {
        let id = self.next_id(after)?;
        self.next.set(self.next.get() + 1);
        let record =
            super::event_record::encode_position_event(id, self.run_seq, kind, after, version).map_err(abort)?;
        self.batch.borrow_mut().push(id, &record).map_err(abort)?;
        if self.batch.borrow().is_full() {
            self.flush()?;
        }
        Ok(())
    }

    /// Stores the events appended since the last flush as one record.
    fn flush(&self) -> ConflictableTransactionResult<(), StoreError> {
        let batch = self.batch.take();
        self.written.add_bytes(super::events::write_batch_tx(self.events, self.pending, &batch)?); // metering
        Ok(())
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
    check_running(run, runs.get(keys::run(&run.connection_id, run.seq))?.as_deref()).map_err(abort)
}

/// The check of [`require_running`] on `stored`, the run's record as read
/// (`None`: never started), inside a transaction or outside one.
pub(super) fn check_running(run: &SyncRun, stored: Option<&[u8]>) -> Result<(), StoreError> {
    let Some(bytes) = stored else {
        return Err(invalid(&run.connection_id, format!("run {} was never started", run.seq)));
    };
    let stored: SyncRun = codec::decode(keys::SYNC_RUNS, format!("{}#{}", run.connection_id, run.seq), bytes)?;
    if stored.outcome != RunOutcome::Running {
        return Err(invalid(&run.connection_id, format!("run {} has already ended", run.seq)));
    }
    Ok(())
}

/// Writes `run` with `written` more bytes (and its own record) in its
/// `store_bytes` (metering, `write_tally`).
pub(super) fn write_counted_run_tx(
    runs: &TransactionalTree,
    run: &mut SyncRun,
    written: u64,
) -> ConflictableTransactionResult<(), StoreError> {
    let key = keys::run(&run.connection_id, run.seq);
    let before = run.counts.store_bytes.saturating_add(written);
    let value = encode_counting_itself("sync run", run, key.len(), before, |r| Some(&mut r.counts.store_bytes))
        .map_err(abort)?;
    runs.insert(key, value)?;
    Ok(())
}

pub(super) fn invalid(connection_id: &str, reason: String) -> StoreError {
    StoreError::InvalidCommit { connection: connection_id.to_string(), reason }
}

#[cfg(test)]
mod tests {
    use sled::transaction::{ConflictableTransactionError, TransactionResult, abort};

    /// The patched sled's blind write (vendor/sled/PATCHED.md), as the page
    /// commit relies on it: the transaction that made it reads it back, and
    /// it is stored when the transaction commits and dropped when it aborts.
    #[test]
    fn a_blind_write_is_read_back_in_its_transaction_and_stored_or_dropped_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path()).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        tree.insert(b"k", b"old").unwrap();
        let committed: TransactionResult<(), ()> = tree.transaction(|tx| {
            assert_eq!(tx.get(b"k")?.as_deref(), Some(&b"old"[..]));
            tx.insert_blind(&b"k"[..], &b"new"[..]);
            tx.insert_blind(&b"fresh"[..], &b"value"[..]);
            assert_eq!(tx.get(b"k")?.as_deref(), Some(&b"new"[..]));
            assert_eq!(tx.get(b"fresh")?.as_deref(), Some(&b"value"[..]));
            Ok::<_, ConflictableTransactionError<()>>(())
        });
        committed.unwrap();
        assert_eq!(tree.get(b"k").unwrap().as_deref(), Some(&b"new"[..]));
        assert_eq!(tree.get(b"fresh").unwrap().as_deref(), Some(&b"value"[..]));
        let aborted: TransactionResult<(), &str> = tree.transaction(|tx| {
            tx.insert_blind(&b"k"[..], &b"lost"[..]);
            abort("refused")
        });
        assert!(aborted.is_err());
        assert_eq!(tree.get(b"k").unwrap().as_deref(), Some(&b"new"[..]));
    }
}
