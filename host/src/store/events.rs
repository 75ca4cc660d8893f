//! The outbound event log: what a sync did to positions, for the platform.
//!
//! Events are written by the commits that make the change they describe,
//! inside the same sled transaction ([`append_encoded_tx`]), so a crash loses none
//! and never reports a change that was not stored. Each event is also
//! marked pending; the webhook worker fans pending events out into one
//! delivery per endpoint of the event's account and clears the mark.
//! Pending marks are found by scanning their small tree, not by a cursor
//! over event ids: two transactions may commit in the other order than
//! they drew their ids, and a cursor would skip the late one.

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};

use super::candidate_model::{Candidate, PushState};
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

/// [`Event`] without its position, serialized with the same names.
#[derive(Serialize)]
struct EventHead<'a> {
    id: u64,
    #[serde(rename = "type")]
    kind: EventKind,
    account_id: &'a str,
    connection_id: &'a str,
    run_seq: u64,
    occurred_unix: i64,
}

/// Appends event `id` for `after` inside a commit's transaction. The id
/// is drawn before the transaction: sled's id generator takes a lock that
/// a running transaction holds. `position_value` is `after` as the commit
/// just encoded it for the positions tree: the event embeds those bytes
/// rather than encoding the position a second time (the stored event is
/// the same as encoding the whole [`Event`]).
pub(crate) fn append_encoded_tx(
    events: &TransactionalTree,
    pending: &TransactionalTree,
    id: u64,
    run_seq: u64,
    kind: EventKind,
    after: &Position,
    position_value: &[u8],
) -> ConflictableTransactionResult<(), StoreError> {
    let head = EventHead {
        id,
        kind,
        account_id: &after.account_id,
        connection_id: &after.connection_id,
        run_seq,
        occurred_unix: now_unix(),
    };
    let value = codec::encode_embedding("event", &head, "position", position_value).map_err(abort)?;
    events.insert(&keys::event(id), value)?;
    pending.insert(&keys::event(id), &[])?;
    Ok(())
}

/// Appends event `id` about `candidate` (who applied to `position`)
/// inside the transaction that made the change; `from_stage` for a stage
/// change. The id is drawn before the transaction, as for [`append_encoded_tx`].
pub(crate) fn append_candidate_tx(
    events: &TransactionalTree,
    pending: &TransactionalTree,
    id: u64,
    kind: EventKind,
    position: &Position,
    candidate: &Candidate,
    from_stage: Option<&str>,
) -> ConflictableTransactionResult<(), StoreError> {
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
    events.insert(&keys::event(id), codec::encode("event", &event).map_err(abort)?)?;
    pending.insert(&keys::event(id), &[])?;
    Ok(())
}

impl Store {
    /// The event with this id.
    pub fn event(&self, id: u64) -> Result<Option<Event>, StoreError> {
        super::read(&self.trees.events, keys::EVENTS, &keys::event(id), id)
    }

    /// Events after `after` (exclusive), oldest first, at most `limit`.
    pub fn events_after(&self, after: u64, limit: usize) -> Result<Vec<Event>, StoreError> {
        let start = keys::event(after.saturating_add(1));
        self.trees
            .events
            .range(start..)
            .take(limit)
            .map(|entry| {
                let (key, bytes) = entry?;
                codec::decode(keys::EVENTS, keys::decode_event(&key)?, &bytes)
            })
            .collect()
    }

    /// Ids of events not yet fanned out, oldest first, at most `limit`.
    pub(crate) fn pending_events(&self, limit: usize) -> Result<Vec<u64>, StoreError> {
        self.trees.events_pending.iter().keys().take(limit).map(|k| Ok(keys::decode_event(&k?)?)).collect()
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
    fn an_event_with_an_encoded_position_is_the_same_event() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        commit_jobs(&store, &c.id, &[("J1", "Engineer \"Staff\"")]);
        let event = store.events_after(0, 1).unwrap().remove(0);
        let head = EventHead {
            id: event.id,
            kind: event.kind,
            account_id: &event.account_id,
            connection_id: &event.connection_id,
            run_seq: event.run_seq,
            occurred_unix: event.occurred_unix,
        };
        let position = codec::encode("position", &event.position).unwrap();
        let bytes = codec::encode_embedding("event", &head, "position", &position).unwrap();
        assert_eq!(codec::decode::<Event>(keys::EVENTS, event.id, &bytes).unwrap(), event);
        assert_eq!(bytes, codec::encode("event", &event).unwrap(), "byte for byte the encoded event");
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
}
