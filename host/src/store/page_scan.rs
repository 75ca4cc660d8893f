//! A page's jobs told apart before its transaction: new, unchanged, or to
//! apply.
//!
//! Most jobs of a resync are unchanged, and most pages of a resync have no
//! changed job at all. Each job's entry in the job directory (`job_entry`:
//! the position id and the job's fingerprint) says which is which without
//! reading the position; a page where nothing changed and no checkpoint is
//! due then opens no transaction at all, and a page with a few changes
//! gives only those to its transaction, which reads them again and decides
//! there (so nothing is written on a stale reading).
//!
//! Why a reading outside the transaction is enough for the jobs it calls
//! unchanged: a position's fingerprint changes only through the sync of its
//! own connection (a patch or a removal, in a page or run-end transaction),
//! and a connection has one sync at a time. User edits and publication
//! never change what the fingerprint holds. An unchanged job writes nothing,
//! so there is nothing to make atomic for it.

use super::commit::{PageCommit, PageResult, PositionChange, check_running, invalid};
use super::job_directory::{JobDirectory, Slot};
use super::job_entry::{self, JobEntry};
use super::job_groups::{self, JobWrites};
use super::model::{Position, RunCounts, SyncRun};
use super::patch::{Change, JobPatch};
use super::{Store, StoreError, keys};

/// What the scan found for one job of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// No position yet: the id it gets (drawn here, as sled's id generator
    /// may not be used inside a transaction; a retried transaction reuses
    /// it).
    New(u64),
    /// Its position would not change.
    Unchanged { id: u64, closed: bool },
    /// Its position may change: the transaction applies it.
    Apply,
}

/// A page's jobs as the scan found them, in page order.
#[derive(Debug)]
pub(super) struct ScannedPage {
    known: Vec<Known>,
}

/// A page's job as its transaction takes it.
#[derive(Debug)]
// A full sync's pages are mostly new jobs: boxing the position would add an
// allocation per job to save a little room in the few other entries.
#[allow(clippy::large_enum_variant)]
pub(super) enum Staged {
    /// Its position would not change (counted, never applied).
    Unchanged { id: u64, closed: bool },
    /// No position yet: the new position, built from the patch before the
    /// transaction (taking its strings), with the id the scan drew.
    New(Position),
    /// Its position may change: the transaction applies the patch.
    Apply(JobPatch),
}

/// What the transaction applies for one job ([`StagedPage::apply_each`]).
#[derive(Debug, Clone, Copy)]
pub(super) enum Listed<'a> {
    /// A job the scan found no position for, as its new position.
    New(&'a Position),
    /// A job with a position, as its patch.
    Patch(&'a JobPatch),
}

impl Listed<'_> {
    /// The job's code.
    pub(super) fn code(&self) -> &str {
        match self {
            Listed::New(position) => &position.ats_job_code,
            Listed::Patch(patch) => &patch.code,
        }
    }
}

/// A page's jobs staged for its transaction, in page order.
#[derive(Debug)]
pub(super) struct StagedPage {
    jobs: Vec<Staged>,
}

impl ScannedPage {
    /// Whether no job of the page needs the transaction.
    pub(super) fn all_unchanged(&self) -> bool {
        self.known.iter().all(|k| matches!(k, Known::Unchanged { .. }))
    }

    /// How many jobs the transaction applies.
    pub(super) fn to_apply(&self) -> usize {
        self.known.iter().filter(|k| !matches!(k, Known::Unchanged { .. })).count()
    }

    /// Stages the page's jobs for its transaction, taking the patches: a
    /// new job becomes its position through `new` (given the id drawn for
    /// it and the patch, whose strings it takes).
    pub(super) fn stage(self, patches: Vec<JobPatch>, mut new: impl FnMut(u64, JobPatch) -> Position) -> StagedPage {
        let jobs = patches
            .into_iter()
            .zip(self.known)
            .map(|(patch, known)| match known {
                Known::Unchanged { id, closed } => Staged::Unchanged { id, closed },
                Known::New(id) => Staged::New(new(id, patch)),
                Known::Apply => Staged::Apply(patch),
            })
            .collect();
        StagedPage { jobs }
    }
}

impl StagedPage {
    /// How many jobs the page has.
    pub(super) fn len(&self) -> usize {
        self.jobs.len()
    }

    /// The page's changes in order: an unchanged job's from the scan
    /// (counted as seen and unchanged), every other through `apply`, which
    /// counts it.
    pub(super) fn apply_each<E>(
        &self,
        counts: &mut RunCounts,
        mut apply: impl FnMut(Listed<'_>, &mut RunCounts) -> Result<PositionChange, E>,
    ) -> Result<Vec<PositionChange>, E> {
        let mut changes = Vec::with_capacity(self.jobs.len());
        for job in &self.jobs {
            let change = match job {
                Staged::Unchanged { id, closed } => {
                    count_unchanged(counts);
                    unchanged(*id, *closed)
                }
                Staged::New(position) => apply(Listed::New(position), counts)?,
                Staged::Apply(patch) => apply(Listed::Patch(patch), counts)?,
            };
            changes.push(change);
        }
        Ok(changes)
    }
}

impl Store {
    /// Looks each job up in the connection's job directory and tells the
    /// page's jobs apart; draws an id for each new one.
    pub(super) fn scan_page(
        &self,
        connection_id: &str,
        patches: &[JobPatch],
        jobs: &mut JobDirectory,
    ) -> Result<ScannedPage, StoreError> {
        let mut known = Vec::with_capacity(patches.len());
        let mut upgrades = JobWrites::default(); // fingerprint upgrade
        for patch in patches {
            let found = match jobs.get(&patch.code) {
                None => Known::New(0), // its id is drawn below
                Some(Slot { entry, group }) => match entry {
                    JobEntry { position, fingerprint: Some(f) } if f.unchanged_by(patch) => {
                        Known::Unchanged { id: position, closed: f.closed }
                    }
                    // fingerprint upgrade: an entry of the SHA-256 form is told by its position, once
                    JobEntry { position, fingerprint: Some(f) } if f.is_sha256() => {
                        match job_entry::upgraded_sha256(&self.trees.positions, connection_id, entry, patch)? {
                            Some(upgraded) => {
                                upgrades.set(&patch.code, Some(group), upgraded);
                                Known::Unchanged { id: position, closed: f.closed }
                            }
                            None => Known::Apply,
                        }
                    }
                    // end fingerprint upgrade
                    _ => Known::Apply,
                },
            };
            known.push(found);
        }
        // fingerprint upgrade: the page's upgraded entries in one write
        if !upgrades.is_empty() {
            jobs.learn(job_groups::rewrite(&self.trees.job_groups, connection_id, jobs.generation(), upgrades)?);
        }
        // The new jobs' ids in one go (`position_index` relies on it).
        let new = known.iter().filter(|k| matches!(k, Known::New(_))).count();
        let mut ids = self.draw_position_ids(new)?.into_iter();
        for k in &mut known {
            if let Known::New(id) = k {
                *id = ids.next().ok_or_else(|| invalid(connection_id, "fewer position ids than new jobs".into()))?;
            }
        }
        Ok(ScannedPage { known })
    }

    /// Commits a page whose jobs are all unchanged and which needs no
    /// checkpoint: nothing is written, so no transaction is opened. The
    /// connection and the run are checked as a commit would (a page for a
    /// deleted connection or an ended run is refused all the same).
    pub(super) fn commit_unchanged_page(&self, page: PageCommit, scan: &ScannedPage) -> Result<PageResult, StoreError> {
        let connection_id = page.connection_id.as_str();
        if !self.trees.connections.contains_key(keys::id(connection_id))? {
            return Err(StoreError::UnknownConnection(connection_id.to_string()));
        }
        self.require_running_now(&page.run)?;
        let mut run = page.run;
        run.counts.pages += 1;
        let mut changes = Vec::with_capacity(scan.known.len());
        for known in &scan.known {
            if let Known::Unchanged { id, closed } = *known {
                count_unchanged(&mut run.counts);
                changes.push(unchanged(id, closed));
            }
        }
        Ok(PageResult { run, changes, written: false })
    }

    /// The check a commit makes inside its transaction, outside one: the
    /// run was started and has not ended.
    fn require_running_now(&self, run: &SyncRun) -> Result<(), StoreError> {
        check_running(run, self.trees.runs.get(keys::run(&run.connection_id, run.seq))?.as_deref())
    }
}

fn count_unchanged(counts: &mut RunCounts) {
    counts.jobs_seen += 1;
    counts.unchanged += 1;
}

fn unchanged(id: u64, closed: bool) -> PositionChange {
    PositionChange { id, change: Change::Unchanged, closed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::JobStatus;
    use crate::store::Trigger;
    use crate::store::model::{CloseReason, FieldEdit, RunOutcome};
    use crate::store::testutil::{commit_jobs, connection, job, page_without_checkpoint, temp_store};

    fn patch(code: &str, title: &str) -> JobPatch {
        JobPatch::from_job(&job(code, title))
    }

    fn closed(code: &str) -> JobPatch {
        let mut j = job(code, "A");
        j.status = JobStatus::Closed;
        JobPatch::from_job(&j)
    }

    fn start(store: &Store, connection_id: &str) -> SyncRun {
        store.start_run(connection_id, Trigger::Scheduled, "greenhouse", "1.0.0", true).unwrap()
    }

    fn end(store: &Store, mut run: SyncRun, removed: &[u64]) -> SyncRun {
        run.outcome = RunOutcome::Succeeded;
        store.commit_run_end(run, |_| {}, removed).unwrap().0
    }

    /// Every record of every tree, to show what a commit wrote.
    fn snapshot(store: &Store) -> Vec<(sled::IVec, sled::IVec)> {
        store
            .trees
            .job_groups
            .iter()
            .chain(store.trees.positions.iter())
            .chain(store.trees.runs.iter())
            .map(|e| e.unwrap())
            .collect()
    }

    #[test]
    fn an_unchanged_page_writes_nothing_and_keeps_local_edits() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let made = commit_jobs(&store, &c.id, &[("J1", "A"), ("J2", "B")]);
        store.edit_position(made[0].id, FieldEdit::Name("Local title".into())).unwrap();
        let run = start(&store, &c.id);
        let before = snapshot(&store);

        let done = store.commit_page(page_without_checkpoint(&run, vec![patch("J2", "B"), patch("J1", "A")])).unwrap();
        assert!(!done.written);
        assert_eq!(
            done.changes.iter().map(|c| (c.id, c.change)).collect::<Vec<_>>(),
            [(made[1].id, Change::Unchanged), (made[0].id, Change::Unchanged)]
        );
        assert_eq!((done.run.counts.jobs_seen, done.run.counts.unchanged, done.run.counts.pages), (2, 2, 1));
        assert_eq!(snapshot(&store), before, "nothing written, the run record included");
        let p1 = store.position(made[0].id).unwrap().unwrap();
        assert_eq!((p1.name.effective().as_str(), p1.last_seen_run), ("Local title", made[0].last_seen_run));

        // The run and the connection are checked all the same.
        let ended = end(&store, done.run, &[]);
        let err = store.commit_page(page_without_checkpoint(&ended, vec![patch("J1", "A")])).unwrap_err();
        assert!(err.to_string().contains("already ended"), "{err}");
        let other = store.start_run(&c.id, Trigger::Manual, "greenhouse", "1.0.0", true).unwrap();
        assert!(store.delete_connection(&c.id).unwrap());
        assert!(matches!(
            store.commit_page(page_without_checkpoint(&other, vec![patch("J1", "A")])),
            Err(StoreError::UnknownConnection(_))
        ));
    }

    #[test]
    fn a_page_with_some_changes_applies_only_those_in_page_order() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let made = commit_jobs(&store, &c.id, &[("J1", "A"), ("J2", "B")]);
        let run = start(&store, &c.id);
        let done = store
            .commit_page(page_without_checkpoint(&run, vec![patch("J1", "A"), patch("J3", "C"), patch("J2", "B2")]))
            .unwrap();
        assert!(done.written);
        let j3 = store.position_by_job(&c.id, "J3").unwrap().unwrap();
        let changes: Vec<_> = done.changes.iter().map(|c| (c.id, c.change)).collect();
        assert_eq!(changes, [(made[0].id, Change::Unchanged), (j3.id, Change::Created), (made[1].id, Change::Updated)]);
        let counts = &done.run.counts;
        assert_eq!((counts.jobs_seen, counts.unchanged, counts.created, counts.updated), (3, 1, 1, 1));
        assert_eq!(store.position_by_job(&c.id, "J2").unwrap().unwrap().name.ats, "B2");
        // The changed job's fingerprint follows: listed again, it is unchanged.
        let again = store.commit_page(page_without_checkpoint(&done.run, vec![patch("J2", "B2")])).unwrap();
        assert_eq!(again.changes[0].change, Change::Unchanged);
    }

    #[test]
    fn a_commit_whose_job_directory_missed_a_write_is_refused_and_the_next_one_reads_it_again() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let patches = vec![patch("J1", "B"), patch("J2", "C")];
        let mut stale = crate::store::job_directory::JobDirectory::load(&store.trees.job_groups, &c.id).unwrap();
        let scan = store.scan_page(&c.id, &patches, &mut stale).unwrap();
        assert_eq!(scan.to_apply(), 2, "both new to this directory");
        // J1 gets its position between the scan and the transaction: taken
        // for new, it would get a second position.
        let made = commit_jobs(&store, &c.id, &[("J1", "A")]);
        let run = start(&store, &c.id);
        let before = snapshot(&store);
        let err = store.commit_scanned(page_without_checkpoint(&run, patches.clone()), scan, &mut stale).unwrap_err();
        assert!(matches!(err, StoreError::StaleJobDirectory { .. }), "{err}");
        assert!(err.to_string().contains("nothing was written"), "{err}");
        assert_eq!(snapshot(&store), before, "nothing written");

        // Through `commit_page`, the directory is read again.
        let done = store.commit_page(page_without_checkpoint(&run, patches)).unwrap();
        let j2 = store.position_by_job(&c.id, "J2").unwrap().unwrap();
        let changes: Vec<_> = done.changes.iter().map(|c| (c.id, c.change)).collect();
        assert_eq!(changes, [(made[0].id, Change::Updated), (j2.id, Change::Created)]);
        assert_eq!((done.run.counts.created, done.run.counts.updated), (1, 1));
        let j1 = store.position_by_job(&c.id, "J1").unwrap().unwrap();
        assert_eq!((j1.id, j1.name.ats.as_str()), (made[0].id, "B"));
        assert_eq!(store.job_codes_of_connection(&c.id).unwrap().len(), 2, "one position per job");
        assert_eq!(store.positions_of_connection(&c.id).unwrap().len(), 2);
    }

    #[test]
    fn the_fingerprint_follows_closes_removals_and_reopens() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let made = commit_jobs(&store, &c.id, &[("J1", "A"), ("J2", "A")]);

        // J1 closed in the ATS: listed closed again, unchanged and closed.
        let run = start(&store, &c.id);
        let run = store.commit_page(page_without_checkpoint(&run, vec![closed("J1")])).unwrap().run;
        let done = store.commit_page(page_without_checkpoint(&run, vec![closed("J1")])).unwrap();
        assert_eq!((done.changes[0].change, done.changes[0].closed), (Change::Unchanged, true));
        assert_eq!(store.open_job_codes(&c.id).unwrap(), ["J2"]);

        // J2 removed by a complete listing: the same job listed again reopens.
        end(&store, done.run, &[made[1].id]);
        let j2 = store.position(made[1].id).unwrap().unwrap();
        assert_eq!(j2.closed_reason, Some(CloseReason::RemovedInAts));
        assert!(store.open_job_codes(&c.id).unwrap().is_empty());
        let listed = |id| id == made[0].id;
        assert!(store.open_positions_missing_from(&c.id, listed).unwrap().is_empty(), "closed already");
        let run = start(&store, &c.id);
        let done = store.commit_page(page_without_checkpoint(&run, vec![patch("J2", "A"), patch("J1", "A")])).unwrap();
        let changes: Vec<_> = done.changes.iter().map(|c| (c.change, c.closed)).collect();
        assert_eq!(changes, [(Change::Reopened, false), (Change::Reopened, false)]);
        assert_eq!(store.open_job_codes(&c.id).unwrap(), ["J1", "J2"]);
        assert_eq!(store.open_positions_missing_from(&c.id, |_| false).unwrap(), [made[0].id, made[1].id]);
    }
}
