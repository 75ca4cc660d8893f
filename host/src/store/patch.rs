//! What the ATS owns of a position, and the one domain function that applies
//! it.
//!
//! The sync engine never edits a [`Position`] itself: it turns each listed
//! job into a [`JobPatch`] (the ATS-owned fields only) and hands the patches
//! to [`Store::commit_page`](super::Store::commit_page), which reads the
//! stored position and applies the patch with [`Position::apply_patch`]
//! inside the page's transaction. A user's edit or publication made while a
//! page was being fetched is therefore never overwritten by an older copy:
//! there is no read-modify-write across the transaction boundary.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{AuthorizedUser, CloseReason, Position, PositionStatus, Tracked, job_content_hash};
use super::publication::SyncCause;
use crate::contract::Job;

/// The ATS-owned fields of one job, as one listing reported them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobPatch {
    /// The ATS's job code, trimmed (`" J1 "` and `"J1"` are one job).
    pub code: String,
    /// Title.
    pub title: String,
    /// Locations.
    pub locations: Vec<String>,
    /// Description.
    pub description: String,
    /// Users authorized on the position.
    pub authorized_users: Vec<AuthorizedUser>,
    /// Mapped status.
    pub status: PositionStatus,
    /// The status exactly as the ATS reported it.
    pub raw_status: String,
    /// Extra ATS fields.
    pub extra: BTreeMap<String, String>,
    /// Last change in the ATS, when reported.
    pub updated_at: Option<String>,
    /// [`job_content_hash`] of the job (with its trimmed code).
    pub content_hash: String,
}

impl JobPatch {
    /// The patch for a listed job. The code is trimmed: an ATS that pads a
    /// code on one page and not on the next must not get two positions.
    pub fn from_job(job: &Job) -> JobPatch {
        let code = job.code.trim();
        let content_hash = if code.len() == job.code.len() {
            job_content_hash(job)
        } else {
            job_content_hash(&Job { code: code.to_string(), ..job.clone() })
        };
        JobPatch {
            code: code.to_string(),
            title: job.title.clone(),
            locations: job.locations.clone(),
            description: job.description.clone(),
            authorized_users: job.assigned_users.iter().map(AuthorizedUser::from).collect(),
            status: PositionStatus::from(&job.status),
            raw_status: job.raw_status.clone(),
            extra: job.extra.iter().map(|f| (f.key.clone(), f.value.clone())).collect(),
            updated_at: job.updated_at.clone(),
            content_hash,
        }
    }

    /// The patch for a listed job, taking its strings instead of copying
    /// them (the sync engine is done with the page once it has patches).
    pub fn from_owned_job(job: Job) -> JobPatch {
        let trimmed = job.code.trim();
        if trimmed.len() != job.code.len() {
            return JobPatch::from_job(&job);
        }
        let content_hash = job_content_hash(&job);
        JobPatch {
            authorized_users: job.assigned_users.into_iter().map(AuthorizedUser::from).collect(),
            status: PositionStatus::from(&job.status),
            extra: job.extra.into_iter().map(|f| (f.key, f.value)).collect(),
            code: job.code,
            title: job.title,
            locations: job.locations,
            description: job.description,
            raw_status: job.raw_status,
            updated_at: job.updated_at,
            content_hash,
        }
    }

    fn is_closed(&self) -> bool {
        self.status == PositionStatus::Closed
    }

    /// Whether applying this patch to a position stored with
    /// `content_hash` and `closed_reason` would change nothing: the rule of
    /// [`Position::apply_patch`], usable on a partly decoded record.
    pub(crate) fn changes_nothing(&self, content_hash: &str, closed_reason: Option<CloseReason>) -> bool {
        self.content_hash == content_hash && closed_reason != Some(CloseReason::RemovedInAts)
    }
}

/// What applying a patch (or a removal) did to a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A new position.
    Created,
    /// ATS values changed; still open (or still closed).
    Updated,
    /// Closed by this change (closed in the ATS, or removed from it).
    Closed,
    /// Was closed, is open again.
    Reopened,
    /// Nothing to write.
    Unchanged,
}

impl Change {
    /// Whether the position must be written.
    pub fn writes(self) -> bool {
        self != Change::Unchanged
    }
}

impl Position {
    /// A new position for a job first seen in run `run_seq`. Not published:
    /// publishing is the platform's decision.
    pub fn from_patch(
        id: u64,
        account_id: &str,
        connection_id: &str,
        patch: &JobPatch,
        run_seq: u64,
        now_unix: i64,
    ) -> Position {
        Position::from_owned_patch(id, account_id, connection_id, patch.clone(), run_seq, now_unix)
    }

    /// [`Position::from_patch`], taking the patch's strings instead of
    /// copying them: a full sync builds every new position this way, and the
    /// description is most of a job's bytes.
    pub fn from_owned_patch(
        id: u64,
        account_id: &str,
        connection_id: &str,
        mut patch: JobPatch,
        run_seq: u64,
        now_unix: i64,
    ) -> Position {
        let mut position = Position {
            id,
            account_id: account_id.to_string(),
            connection_id: connection_id.to_string(),
            ats_job_code: std::mem::take(&mut patch.code),
            name: Tracked::from_ats(String::new()),
            locations: Tracked::from_ats(Vec::new()),
            description: Tracked::from_ats(String::new()),
            authorized_users: Tracked::from_ats(Vec::new()),
            status: PositionStatus::Draft,
            ats_raw_status: String::new(),
            closed_reason: None,
            published: false,
            publication: Default::default(),
            extra: BTreeMap::new(),
            ats_updated_at: None,
            content_hash: String::new(),
            last_seen_run: run_seq,
            created_at_unix: now_unix,
            updated_at_unix: now_unix,
        };
        // The caller counts it as created, whatever the first apply says.
        position.apply_owned_patch(patch, run_seq, now_unix);
        position
    }

    /// The patch a position made by [`Position::from_patch`] was made from
    /// (every ATS-owned field is kept whole in a new position). For the
    /// rare commit that finds, inside its transaction, that a job it took
    /// for new has a position after all.
    pub(crate) fn patch_of_new(&self) -> JobPatch {
        JobPatch {
            code: self.ats_job_code.clone(),
            title: self.name.ats.clone(),
            locations: self.locations.ats.clone(),
            description: self.description.ats.clone(),
            authorized_users: self.authorized_users.ats.clone(),
            status: self.status.clone(),
            raw_status: self.ats_raw_status.clone(),
            extra: self.extra.clone(),
            updated_at: self.ats_updated_at.clone(),
            content_hash: self.content_hash.clone(),
        }
    }

    /// Applies the ATS's latest version of the job: only the `ats` sides of
    /// tracked fields, the status and the ATS metadata change; local edits
    /// survive. Publication follows the status: closing hides the position,
    /// reopening shows it again if its standing decision (a user's or a
    /// rule's, which the sync never changes) is to publish.
    ///
    /// An unchanged job (same content hash, not closed as removed) changes
    /// nothing at all, `last_seen_run` included, so a resync of an unchanged
    /// ATS writes nothing; `last_seen_run` is the last run that applied a
    /// change.
    pub fn apply_patch(&mut self, patch: &JobPatch, run_seq: u64, now_unix: i64) -> Change {
        if patch.changes_nothing(&self.content_hash, self.closed_reason) {
            return Change::Unchanged;
        }
        // Every field but the code, which a position never takes from a patch.
        let ats_side = JobPatch {
            code: String::new(),
            title: patch.title.clone(),
            locations: patch.locations.clone(),
            description: patch.description.clone(),
            authorized_users: patch.authorized_users.clone(),
            status: patch.status.clone(),
            raw_status: patch.raw_status.clone(),
            extra: patch.extra.clone(),
            updated_at: patch.updated_at.clone(),
            content_hash: patch.content_hash.clone(),
        };
        self.apply_changed(ats_side, run_seq, now_unix)
    }

    /// [`Position::apply_patch`], taking the patch's strings.
    pub fn apply_owned_patch(&mut self, patch: JobPatch, run_seq: u64, now_unix: i64) -> Change {
        if patch.changes_nothing(&self.content_hash, self.closed_reason) {
            return Change::Unchanged;
        }
        self.apply_changed(patch, run_seq, now_unix)
    }

    /// The ATS side of a patch that changes something, moved in.
    fn apply_changed(&mut self, patch: JobPatch, run_seq: u64, now_unix: i64) -> Change {
        let was_closed = self.is_closed();
        let closed_in_ats = patch.is_closed();
        let JobPatch {
            code: _,
            title,
            locations,
            description,
            authorized_users,
            status,
            raw_status,
            extra,
            updated_at,
            content_hash,
        } = patch;
        self.name.ats = title;
        self.locations.ats = locations;
        self.description.ats = description;
        self.authorized_users.ats = authorized_users;
        self.status = status;
        self.ats_raw_status = raw_status;
        self.closed_reason = closed_in_ats.then_some(CloseReason::ClosedInAts);
        self.extra = extra;
        self.ats_updated_at = updated_at;
        self.content_hash = content_hash;
        self.last_seen_run = run_seq;
        self.updated_at_unix = now_unix;
        match (was_closed, self.is_closed()) {
            (false, true) => {
                self.hide_for_close(SyncCause::ClosedInAts, now_unix);
                Change::Closed
            }
            (true, false) => {
                self.restore_after_reopen(now_unix);
                Change::Reopened
            }
            _ => Change::Updated,
        }
    }

    /// Closes the position because a complete listing no longer has it.
    /// Returns [`Change::Unchanged`] for a position already closed.
    pub fn close_as_removed(&mut self, now_unix: i64) -> Change {
        if self.is_closed() {
            return Change::Unchanged;
        }
        self.status = PositionStatus::Closed;
        self.closed_reason = Some(CloseReason::RemovedInAts);
        self.updated_at_unix = now_unix;
        self.hide_for_close(SyncCause::RemovedInAts, now_unix);
        Change::Closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::JobStatus;
    use crate::store::model::{FieldEdit, FieldName};
    use crate::store::publication::{Actor, Decision};
    use crate::store::testutil::job;

    fn patch(code: &str, title: &str) -> JobPatch {
        JobPatch::from_job(&job(code, title))
    }

    fn closed(code: &str) -> JobPatch {
        let mut j = job(code, "Engineer");
        j.status = JobStatus::Closed;
        JobPatch::from_job(&j)
    }

    #[test]
    fn local_edits_survive_ats_updates_and_clearing_follows_the_ats() {
        let mut p = Position::from_patch(7, "acme", "c", &patch("J1", "Engineer"), 1, 100);
        assert_eq!(p.name.effective(), "Engineer");
        p.apply_edit(FieldEdit::Name("Senior Engineer".into()));

        assert_eq!(p.apply_patch(&patch("J1", "Staff Engineer"), 2, 200), Change::Updated);
        assert_eq!(p.name.effective(), "Senior Engineer");
        assert_eq!(p.name.ats, "Staff Engineer");

        p.clear_edit(FieldName::Name);
        assert_eq!(p.name.effective(), "Staff Engineer");
    }

    #[test]
    fn unchanged_jobs_change_nothing_and_removed_jobs_reopen() {
        let mut p = Position::from_patch(7, "acme", "c", &patch("J1", "Engineer"), 1, 100);
        let before = p.clone();
        assert_eq!(p.apply_patch(&patch("J1", "Engineer"), 2, 200), Change::Unchanged);
        assert_eq!(p, before);

        assert_eq!(p.close_as_removed(300), Change::Closed);
        assert_eq!(p.close_as_removed(301), Change::Unchanged);
        assert!(p.is_closed() && p.closed_reason == Some(CloseReason::RemovedInAts));
        assert_eq!(p.apply_patch(&patch("J1", "Engineer"), 3, 400), Change::Reopened);
        assert_eq!((p.status.clone(), p.closed_reason), (PositionStatus::Open, None));

        assert_eq!(p.apply_patch(&closed("J1"), 4, 500), Change::Closed);
        assert_eq!(p.closed_reason, Some(CloseReason::ClosedInAts));
    }

    fn user(publish: bool) -> Decision {
        Decision { publish, by: Actor::User { credential: "operator".into(), user: None }, reason: None, at_unix: 1 }
    }

    #[test]
    fn a_reopened_position_gets_its_publication_back() {
        let mut p = Position::from_patch(7, "acme", "c", &patch("J1", "Engineer"), 1, 100);
        assert!(p.decide(user(true)));
        assert_eq!(p.close_as_removed(200), Change::Closed);
        assert!(!p.published && p.wants_published());
        let hidden = p.publication.last_change.clone().unwrap();
        assert_eq!(hidden.by, Actor::Sync { cause: SyncCause::RemovedInAts });
        assert_eq!(p.apply_patch(&patch("J1", "Engineer"), 2, 300), Change::Reopened);
        assert!(p.published && p.wants_published());
        assert_eq!(p.publication.last_change.clone().unwrap().by, Actor::Sync { cause: SyncCause::Reopened });

        // Closed in the ATS and back: the same.
        assert_eq!(p.apply_patch(&closed("J1"), 3, 400), Change::Closed);
        assert!(!p.published);
        assert_eq!(p.apply_patch(&patch("J1", "Engineer"), 4, 500), Change::Reopened);
        assert!(p.published);

        // Never published: a reopen does not publish.
        let mut q = Position::from_patch(8, "acme", "c", &patch("J2", "Designer"), 1, 100);
        q.close_as_removed(200);
        q.apply_patch(&patch("J2", "Designer"), 2, 300);
        assert!(!q.published);

        // Unpublished by a user while closed: the reopen keeps it unpublished.
        assert_eq!(p.apply_patch(&closed("J1"), 5, 600), Change::Closed);
        p.decide(user(false));
        assert_eq!(p.apply_patch(&patch("J1", "Engineer"), 6, 700), Change::Reopened);
        assert!(!p.published);
    }

    #[test]
    fn an_owned_patch_makes_and_changes_the_same_position_and_a_new_one_gives_its_patch_back() {
        let mut extra = job("J1", "Engineer");
        extra.extra = vec![crate::contract::Field { key: "k".into(), value: "v".into() }];
        for p in [patch("J1", "Engineer"), closed("J1"), JobPatch::from_job(&extra)] {
            let made = Position::from_patch(7, "acme", "c", &p, 1, 100);
            assert_eq!(Position::from_owned_patch(7, "acme", "c", p.clone(), 1, 100), made);
            assert_eq!(made.patch_of_new(), p, "every ATS-owned field kept whole");
            for next in [patch("J1", "Staff Engineer"), closed("J1"), p.clone()] {
                let (mut by_ref, mut owned) = (made.clone(), made.clone());
                let change = by_ref.apply_patch(&next, 2, 200);
                assert_eq!(owned.apply_owned_patch(next.clone(), 2, 200), change);
                assert_eq!(owned, by_ref);
            }
        }
    }

    #[test]
    fn codes_are_trimmed_and_hashed_trimmed() {
        let padded = JobPatch::from_job(&job("  J1\t", "Engineer"));
        assert_eq!(padded.code, "J1");
        assert_eq!(padded, patch("J1", "Engineer"));
    }

    #[test]
    fn an_owned_job_makes_the_same_patch() {
        let mut j = job("J1", "Engineer");
        j.extra = vec![crate::contract::Field { key: "k".into(), value: "v".into() }];
        j.assigned_users = vec![
            crate::contract::AtsUser { ats_id: "u1".into(), name: "Ada".into(), email: Some("ada@example.com".into()) },
            crate::contract::AtsUser { ats_id: "u2".into(), name: "Bo".into(), email: None },
        ];
        let owned = JobPatch::from_owned_job(j.clone());
        assert_eq!(owned.authorized_users.len(), 2);
        assert_eq!(owned, JobPatch::from_job(&j));
        let padded = job(" J2 ", "Designer");
        assert_eq!(JobPatch::from_owned_job(padded.clone()), JobPatch::from_job(&padded));
    }
}
