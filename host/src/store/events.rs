//! The outbound event log: what a sync did to positions, for the platform.
//!
//! Events are written by the commits that make the change they describe,
//! inside the same sled transaction (a page's events as one record,
//! [`write_batch_tx`]; see `event_batch`), so a crash loses none and never
//! reports a change that was not stored. Each event is also marked pending; the webhook worker fans pending events out into one
//! delivery per endpoint of the event's account and clears the mark.
//! Pending marks are found by scanning their small tree, not by a cursor
//! over event ids: two transactions may commit in the other order than
//! they drew their ids, and a cursor would skip the late one.
//!
//! A position's event does not copy the position: it refers to the version
//! of the record written with it, and reading the event reads that version
//! (`position_versions`), so the event shows the position as it was right
//! after the change.

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};

use super::candidate_model::{Candidate, PushState};
use super::event_batch::{self, BatchBuilder, MAX_WALK_BACK};
use super::event_record;
use super::model::Position;
use super::patch::Change;
use super::{Store, StoreError, abort, codec, keys, now_unix};

/// What happened to a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A job was seen for the first time.
    #[serde(rename = "position.created")]
    PositionCreated,
    /// The ATS changed an open (or still closed) position.
    #[serde(rename = "position.updated")]
    PositionUpdated,
    /// The ATS closed the job.
    #[serde(rename = "position.closed")]
    PositionClosed,
    /// A closed or removed job is open again.
    #[serde(rename = "position.reopened")]
    PositionReopened,
    /// A complete listing no longer had the job.
    #[serde(rename = "position.removed")]
    PositionRemoved,
    /// The position is now shown on its public page: a user or a rule
    /// published it, or the sync reopened a job someone had published
    /// (who is in `position.publication.last_change`).
    #[serde(rename = "position.published")]
    PositionPublished,
    /// The position is no longer shown: a user or a rule unpublished it, or
    /// the sync closed or removed its job (who is in
    /// `position.publication.last_change`).
    #[serde(rename = "position.unpublished")]
    PositionUnpublished,
    /// A candidate reached the ATS (its ids are in `candidate.push`).
    #[serde(rename = "candidate.pushed")]
    CandidatePushed,
    /// A candidate's push failed for good (the reason is in `candidate.push`).
    #[serde(rename = "candidate.push_failed")]
    CandidatePushFailed,
    /// The ATS moved a candidate to another stage (found by reconciliation).
    #[serde(rename = "candidate.stage_changed")]
    CandidateStageChanged,
}

impl EventKind {
    /// Every kind, for documentation and subscription checks.
    pub const ALL: [EventKind; 10] = [
        EventKind::PositionCreated,
        EventKind::PositionUpdated,
        EventKind::PositionClosed,
        EventKind::PositionReopened,
        EventKind::PositionRemoved,
        EventKind::PositionPublished,
        EventKind::PositionUnpublished,
        EventKind::CandidatePushed,
        EventKind::CandidatePushFailed,
        EventKind::CandidateStageChanged,
    ];

    /// The name used on the wire (`position.created`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::PositionCreated => "position.created",
            EventKind::PositionUpdated => "position.updated",
            EventKind::PositionClosed => "position.closed",
            EventKind::PositionReopened => "position.reopened",
            EventKind::PositionRemoved => "position.removed",
            EventKind::PositionPublished => "position.published",
            EventKind::PositionUnpublished => "position.unpublished",
            EventKind::CandidatePushed => "candidate.pushed",
            EventKind::CandidatePushFailed => "candidate.push_failed",
            EventKind::CandidateStageChanged => "candidate.stage_changed",
        }
    }

    /// The kind for a change of whether a position is shown, when
    /// `published` went from `before` to `after`; `None` when it did not.
    pub fn of_publication(before: bool, after: bool) -> Option<EventKind> {
        match (before, after) {
            (false, true) => Some(EventKind::PositionPublished),
            (true, false) => Some(EventKind::PositionUnpublished),
            _ => None,
        }
    }

    /// The kind for a page's change to a position; `None` when nothing
    /// changed. (A close because a complete listing lacked the job is
    /// [`EventKind::PositionRemoved`], written by the run's end.)
    pub fn of_change(change: Change) -> Option<EventKind> {
        match change {
            Change::Created => Some(EventKind::PositionCreated),
            Change::Updated => Some(EventKind::PositionUpdated),
            Change::Closed => Some(EventKind::PositionClosed),
            Change::Reopened => Some(EventKind::PositionReopened),
            Change::Unchanged => None,
        }
    }
}

/// One event, as stored and as sent (the webhook body is this, as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Unique and increasing; receivers use it to drop duplicates
    /// (delivery is at least once).
    pub id: u64,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The account the position belongs to.
    pub account_id: String,
    /// The connection that synced it.
    pub connection_id: String,
    /// The sync run that made the change (0 for candidate events).
    pub run_seq: u64,
    /// When, Unix seconds.
    pub occurred_unix: i64,
    /// The position after the change (for a candidate event: the position
    /// the candidate applied to).
    pub position: Position,
    /// For `candidate.*` events: the candidate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<CandidateEvent>,
}

/// What a `candidate.*` event says about the candidate: ids and state, no
/// personal data (the platform has the person; the event says what changed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateEvent {
    /// The candidate's id.
    pub id: u64,
    /// Our stage the candidate is in now.
    pub stage_id: String,
    /// The stage before, for `candidate.stage_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_stage: Option<String>,
    /// Whether (and as what) the candidate is in the ATS.
    pub push: PushState,
}

/// Appends event `id` about `after` as a record of its own, inside the
/// transaction that made the change (a single position's change outside a
/// sync page, such as a publication decision), where `after` is written
/// as version `id`. `id` comes from [`Store::draw_event_id`], drawn before
/// the transaction.
pub(crate) fn append_position_tx(
    events: &TransactionalTree,
    pending: &TransactionalTree,
    id: u64,
    kind: EventKind,
    after: &Position,
) -> ConflictableTransactionResult<(), StoreError> {
    let value = event_record::encode_position_event(id, 0, kind, after, id).map_err(abort)?;
    events.insert(&keys::event(id), value)?;
    pending.insert(&keys::event(id), &[])?;
    Ok(())
}

/// Stores a commit's events as one record with one pending mark, inside
/// the commit's transaction (nothing when `batch` is empty).
pub(crate) fn write_batch_tx(
    events: &TransactionalTree,
    pending: &TransactionalTree,
    batch: &BatchBuilder,
) -> ConflictableTransactionResult<u64, StoreError> {
    let mut written = 0; // metering: the bytes this wrote
    if let Some((key, value, ids)) = batch.finish() {
        written = (2 * key.len() + value.len() + ids.len()) as u64; // metering
        // Fresh keys (ids drawn for this commit): nothing old to read back.
        events.insert_blind(&key[..], value);
        pending.insert_blind(&key[..], ids);
    }
    Ok(written)
}

/// Takes event `id` out of the pending mark stored under `mark`, inside a
/// transaction; the mark goes when nothing of it is left.
pub(crate) fn clear_pending_tx(
    pending: &TransactionalTree,
    mark: u64,
    id: u64,
) -> ConflictableTransactionResult<(), StoreError> {
    let key = keys::event(mark);
    let Some(value) = pending.get(key)? else { return Ok(()) };
    match event_batch::without_pending(mark, &value, id).map_err(abort)? {
        Some(rest) => pending.insert(&key, rest)?,
        None => pending.remove(&key)?,
    };
    Ok(())
}

/// Appends event `id` about `candidate` (who applied to `position`)
/// inside the transaction that made the change; `from_stage` for a stage
/// change. The id is drawn before the transaction, as for [`event_record::encode_position_event`].
pub(crate) fn append_candidate_tx(
    events: &TransactionalTree,
    pending: &TransactionalTree,
    id: u64,
    kind: EventKind,
    position: &Position,
    candidate: &Candidate,
    from_stage: Option<&str>,
) -> ConflictableTransactionResult<u64, StoreError> {
    let event = Event {
        id,
        kind,
        account_id: candidate.account_id.clone(),
        connection_id: candidate.connection_id.clone(),
        run_seq: 0,
        occurred_unix: now_unix(),
        position: position.clone(),
        candidate: Some(CandidateEvent {
            id: candidate.id,
            stage_id: candidate.stage_id.clone(),
            from_stage: from_stage.map(str::to_string),
            push: candidate.push.clone(),
        }),
    };
    let (key, value) = (keys::event(id), codec::encode("event", &event).map_err(abort)?);
    let written = (2 * key.len() + value.len()) as u64; // metering: the bytes this wrote
    events.insert(&key, value)?;
    pending.insert(&key, &[])?;
    Ok(written)
}

impl Store {
    /// The event with this id.
    pub fn event(&self, id: u64) -> Result<Option<Event>, StoreError> {
        // The record holding it is the one with the greatest key at or
        // below it (see `event_batch`), or one of the few before it.
        for entry in self.trees.events.range(..=keys::event(id)).rev().take(MAX_WALK_BACK) {
            let (key, value) = entry?;
            let key = keys::decode_event(&key)?;
            if let Some((_, range)) = event_batch::entries(key, &value)?.into_iter().find(|(e, _)| *e == id) {
                return Ok(Some(self.decode_event(id, &value[range])?));
            }
        }
        Ok(None)
    }

    /// Events after `after` (exclusive), oldest first, at most `limit`.
    pub fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 || after == u64::MAX {
            return Ok(out);
        }
        // A batch holding the next events may start at or before `after`.
        let mut from = after + 1;
        for entry in self.trees.events.range(..=keys::event(after + 1)).keys().rev().take(MAX_WALK_BACK) {
            from = keys::decode_event(&entry?)?;
        }
        for entry in self.trees.events.range(keys::event(from)..) {
            let (key, value) = entry?;
            for (id, range) in event_batch::entries(keys::decode_event(&key)?, &value)? {
                if id > after {
                    out.push(self.decode_event(id, &value[range])?);
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Decodes the stored event `id`, reading the version of its position
    /// it refers to.
    fn decode_event(&self, id: u64, bytes: &[u8]) -> Result<Event, StoreError> {
        let stored = event_record::decode(id, bytes)?;
        let position = match (stored.position, stored.position_ref) {
            (Some(position), _) => position,
            (None, Some(at)) => self.position_version(at, id)?,
            (None, None) => {
                return Err(StoreError::Corrupt {
                    tree: keys::EVENTS,
                    key: id.to_string(),
                    reason: "an event with neither a position nor a reference to one".into(),
                });
            }
        };
        Ok(Event {
            id: stored.id,
            kind: stored.kind,
            account_id: stored.account_id,
            connection_id: stored.connection_id,
            run_seq: stored.run_seq,
            occurred_unix: stored.occurred_unix,
            position,
            candidate: stored.candidate,
        })
    }

    /// Ids of events not yet fanned out, oldest first, at most `limit`.
    pub(crate) fn pending_events(&self, limit: usize) -> Result<Vec<u64>, StoreError> {
        let mut out = Vec::new();
        for entry in self.trees.events_pending.iter() {
            if out.len() >= limit {
                break;
            }
            let (key, value) = entry?;
            let ids = event_batch::pending_ids(keys::decode_event(&key)?, &value)?;
            out.extend(ids.into_iter().take(limit - out.len()));
        }
        Ok(out)
    }

    /// The key of the pending mark that holds event `id`, if it is pending.
    pub(crate) fn pending_mark_of(&self, id: u64) -> Result<Option<u64>, StoreError> {
        for entry in self.trees.events_pending.range(..=keys::event(id)).rev().take(MAX_WALK_BACK) {
            let (key, value) = entry?;
            let key = keys::decode_event(&key)?;
            if event_batch::pending_ids(key, &value)?.contains(&id) {
                return Ok(Some(key));
            }
        }
        Ok(None)
    }

    /// `n` fresh event ids, ascending. Drawn under one lock, so no other
    /// event's id falls between a batch's first and last (the lookup of an
    /// event by id relies on it); before any transaction, as sled's id
    /// generator must not be called inside one.
    pub(crate) fn draw_event_ids(&self, n: usize) -> Result<Vec<u64>, StoreError> {
        let _drawing = self.event_ids_lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            ids.push(self.db.generate_id()?);
        }
        Ok(ids)
    }

    /// One fresh event id (see [`Store::draw_event_ids`]).
    pub(crate) fn draw_event_id(&self) -> Result<u64, StoreError> {
        let _drawing = self.event_ids_lock.lock().unwrap_or_else(|e| e.into_inner());
        Ok(self.db.generate_id()?)
    }

    /// What run `run_seq` of a connection did to positions, as its events
    /// say: (kind, position id), the run's latest changes first, at most
    /// `limit`. Walks the event log back from its newest event and stops at
    /// the first event older than `started_unix` (the run's start), so it
    /// reads the run's own events and those written since, never the
    /// connection's positions; only each event's head and position id are
    /// decoded.
    pub fn changes_of_run(
        &self,
        connection_id: &str,
        run_seq: u64,
        started_unix: i64,
        limit: usize,
    ) -> Result<Vec<(EventKind, u64)>, StoreError> {
        let mut found = Vec::new();
        'records: for entry in self.trees.events.iter().rev() {
            let (key, value) = entry?;
            for (id, range) in event_batch::entries(keys::decode_event(&key)?, &value)?.into_iter().rev() {
                if found.len() >= limit {
                    break 'records;
                }
                let head = event_record::decode_head(id, &value[range])?;
                if head.occurred_unix < started_unix {
                    break 'records;
                }
                let position_event = matches!(
                    head.kind,
                    EventKind::PositionCreated
                        | EventKind::PositionUpdated
                        | EventKind::PositionClosed
                        | EventKind::PositionReopened
                        | EventKind::PositionRemoved
                );
                if let Some(position) = head.position_id.filter(|_| position_event)
                    && head.run_seq == run_seq
                    && head.connection_id == connection_id
                {
                    found.push((head.kind, position));
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::{commit_jobs, connection, temp_store};

    #[test]
    fn kinds_follow_the_change() {
        assert_eq!(EventKind::of_change(Change::Created), Some(EventKind::PositionCreated));
        assert_eq!(EventKind::of_change(Change::Updated), Some(EventKind::PositionUpdated));
        assert_eq!(EventKind::of_change(Change::Closed), Some(EventKind::PositionClosed));
        assert_eq!(EventKind::of_change(Change::Reopened), Some(EventKind::PositionReopened));
        assert_eq!(EventKind::of_change(Change::Unchanged), None);
        assert_eq!(serde_json::to_value(EventKind::PositionReopened).unwrap(), "position.reopened");
    }

    #[test]
    fn a_position_event_refers_to_its_position_instead_of_copying_it() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let p = commit_jobs(&store, &c.id, &[("J1", "Engineer \"Staff\"")]).remove(0);
        let event = store.events_after(0, 1).unwrap().remove(0);
        assert_eq!(event.position, p);
        let (_, record) = store.trees.events.iter().next().unwrap().unwrap();
        let stored = store.trees.positions.get(keys::position(p.id)).unwrap().unwrap();
        assert!(record.len() < 512, "the event is its head and a reference: {} bytes", record.len());
        assert!(!record.windows(p.description.ats.len()).any(|w| w == p.description.ats.as_bytes()));
        assert_eq!(codec::version_of(&stored), Some(event.id), "the record is the event's version");
        // An event written before v6 holds its copy and reads as before.
        let legacy = store.draw_event_id().unwrap();
        let mut old = event.clone();
        old.id = legacy;
        store.trees.events.insert(keys::event(legacy), codec::encode("event", &old).unwrap()).unwrap();
        assert_eq!(store.event(legacy).unwrap(), Some(old));
    }

    #[test]
    fn a_page_of_new_jobs_writes_a_record_a_job_and_a_few_groups_and_event_batches() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let codes: Vec<String> = (0..200).map(|i| format!("J{i}")).collect();
        let jobs: Vec<(&str, &str)> = codes.iter().map(|c| (c.as_str(), "Engineer")).collect();
        commit_jobs(&store, &c.id, &jobs);
        let t = &store.trees;
        assert_eq!(t.positions.len(), 200);
        assert_eq!(crate::store::testutil::job_entries(&store, &c.id).len(), 200);
        assert_eq!(t.job_groups.len(), 2, "the page's jobs are one group, beside the connection's generation");
        assert_eq!(t.by_connection.len(), 1, "the page's new positions are one index entry");
        // Each event is its head and a reference (about 200 bytes), so a
        // batch record holds a dozen or more: not one record per job or two.
        assert!(t.events.len() * 10 <= 200, "{} event records for 200 jobs", t.events.len());
        assert_eq!(t.events_pending.len(), t.events.len(), "one pending mark per batch");
        let bytes = |tree: &sled::Tree| tree.iter().values().map(|v| v.unwrap().len()).sum::<usize>();
        // A copy of a position in an event would be its JSON.
        let copies: usize =
            store.positions_of_connection(&c.id).unwrap().iter().map(|p| serde_json::to_vec(p).unwrap().len()).sum();
        assert!(bytes(&t.events) * 2 < copies, "events must not copy the positions");
        assert_eq!(t.position_versions.len(), 0);
    }

    #[test]
    fn a_committed_page_leaves_one_pending_event_per_change() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        commit_jobs(&store, &c.id, &[("J1", "Engineer"), ("J2", "Designer")]);
        let events = store.events_after(0, 10).unwrap();
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|e| e.kind == EventKind::PositionCreated && e.connection_id == c.id));
        assert_eq!(store.pending_events(10).unwrap(), events.iter().map(|e| e.id).collect::<Vec<_>>());
    }

    #[test]
    fn a_runs_changes_come_from_its_events_newest_first() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let other = connection(&store, "Lever");
        let first = commit_jobs(&store, &c.id, &[("J1", "A"), ("J2", "B")]);
        let run1 = store.runs(&c.id, 1).unwrap().remove(0);
        let second = commit_jobs(&store, &c.id, &[("J1", "A"), ("J2", "B2"), ("J3", "C")]);
        let run2 = store.runs(&c.id, 1).unwrap().remove(0);
        commit_jobs(&store, &other.id, &[("J9", "Z")]);
        let got = store.changes_of_run(&c.id, run2.seq, run2.started_unix, 10).unwrap();
        assert_eq!(
            got,
            vec![(EventKind::PositionCreated, second[2].id), (EventKind::PositionUpdated, second[1].id)],
            "J1 unchanged; the other connection's event skipped"
        );
        assert_eq!(store.changes_of_run(&c.id, run2.seq, run2.started_unix, 1).unwrap().len(), 1);
        let got = store.changes_of_run(&c.id, run1.seq, run1.started_unix, 10).unwrap();
        assert_eq!(got, vec![(EventKind::PositionCreated, first[1].id), (EventKind::PositionCreated, first[0].id)]);
    }

    #[test]
    fn a_pages_events_are_one_record_and_read_alongside_single_events() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        commit_jobs(&store, &c.id, &[("J1", "A"), ("J2", "B")]);
        assert_eq!(store.trees.events.len(), 1, "one record for the page's two events");
        assert_eq!(store.trees.events_pending.len(), 1, "one pending mark");
        let batch = store.events_after(0, 10).unwrap();
        // A single event as a candidate event (or an older atsbridge) stores it.
        let single = store.draw_event_id().unwrap();
        let mut legacy = batch[0].clone();
        legacy.id = single;
        store.trees.events.insert(keys::event(single), codec::encode("event", &legacy).unwrap()).unwrap();
        store.trees.events_pending.insert(keys::event(single), &[]).unwrap();
        commit_jobs(&store, &c.id, &[("J1", "A2"), ("J3", "C")]);

        let all = store.events_after(0, 10).unwrap();
        let ids: Vec<u64> = all.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), 5);
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");
        assert_eq!(&ids[..2], &[batch[0].id, batch[1].id]);
        assert_eq!(ids[2], single);
        for e in &all {
            assert_eq!(store.event(e.id).unwrap().as_ref(), Some(e));
        }
        assert_eq!(store.event(ids[4] + 1).unwrap(), None);
        let later: Vec<u64> = store.events_after(ids[0], 2).unwrap().iter().map(|e| e.id).collect();
        assert_eq!(later, &ids[1..3]);
        assert_eq!(store.events_after(ids[3], 10).unwrap().len(), 1);
        assert!(store.events_after(u64::MAX, 10).unwrap().is_empty());

        assert_eq!(store.pending_events(10).unwrap(), ids);
        assert_eq!(store.pending_events(3).unwrap(), &ids[..3]);
        for id in [ids[1], ids[2], ids[0], ids[4], ids[3]] {
            store.fan_out(id).unwrap();
            assert!(!store.pending_events(10).unwrap().contains(&id));
        }
        assert!(store.pending_events(10).unwrap().is_empty());
        assert_eq!(store.trees.events_pending.len(), 0);
    }
}
