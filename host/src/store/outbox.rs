//! The candidate outbox: pushes and stage moves waiting for the ATS.
//!
//! An entry is written in the same transaction as the request it carries
//! out (a candidate marked queued, a move marked pending), and removed in
//! the same transaction as its result (the ATS's ids on the candidate, the
//! move's propagation), so a crash at any point leaves either the request
//! with its entry or the result without it, never one half.
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `outbox` | entry id (`u64` BE) | [`OutboxEntry`] |
//! | `outbox_by_candidate` | (candidate id, entry id) | empty |
//!
//! Entry ids come from sled's id generator and increase, so a candidate's
//! entries scan in the order they were queued.

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::candidate_model::{Candidate, MovedBy, NewCandidate, Propagation, PushState, StageMove};
use super::candidates::TxResult;
use super::events::{self, EventKind};
use super::{Store, StoreError, abort, codec, keys, now_ms, now_unix};
use crate::contract::Pushed;

/// The longest error message kept on an entry or a candidate, in
/// characters: enough for an ATS's validation message, bounded whatever
/// a plugin or an ATS sends.
pub const MAX_OUTBOX_ERROR_CHARS: usize = 1_000;

/// What an entry asks of the ATS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum OutboxKind {
    /// Create the candidate and their application.
    Push {
        /// The position applied to (its job is where the application goes).
        position_id: u64,
        /// Our stage the application starts in (mapped when sent).
        stage_id: String,
    },
    /// Move the application after the push.
    Move {
        /// The stage move this propagates.
        move_seq: u64,
        /// Our stage it moves to (mapped when sent).
        to_stage: String,
    },
}

/// One outbox entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Store-assigned, increasing.
    pub id: u64,
    /// The candidate it is for.
    pub candidate_id: u64,
    /// The candidate's account.
    pub account_id: String,
    /// The connection it goes through.
    pub connection_id: String,
    /// What it asks.
    pub kind: OutboxKind,
    /// When queued, Unix milliseconds.
    pub queued_at_ms: u64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not to be tried before this, Unix milliseconds (0: at once).
    pub not_before_ms: u64,
    /// The last attempt's error, escaped and bounded.
    #[serde(default)]
    pub last_error: Option<String>,
    /// What its failed attempts cost so far (`push_record`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metering: Option<super::run_metering::RunMetering>,
    /// The attempt under way (`outbox_attempt`): recorded before a push's
    /// call, cleared when its failure is recorded. Found on an entry no
    /// worker is on, it is an attempt a stop or a crash cut short, whose
    /// request the ATS may still be working on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_started: Option<super::outbox_attempt::AttemptStarted>,
}

/// How a push ended.
#[derive(Debug, Clone, PartialEq)]
pub enum PushOutcome {
    /// The ATS has the candidate (created now, or found from an earlier attempt).
    Pushed(Pushed),
    /// The push failed for good; the message says why.
    Failed(String),
}

/// How a move ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MoveOutcome {
    /// The ATS moved the application.
    Moved,
    /// The ATS could not be told (the connector cannot move applications).
    NotPropagated(String),
    /// The ATS refused, or the move could not be mapped.
    Failed(String),
}

/// Key of an `outbox_by_candidate` entry.
fn by_candidate(candidate_id: u64, entry_id: u64) -> [u8; 16] {
    keys::position_candidate(candidate_id, entry_id)
}

/// Bounds a message to [`MAX_OUTBOX_ERROR_CHARS`].
fn bounded(message: &str) -> String {
    match message.char_indices().nth(MAX_OUTBOX_ERROR_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_string(),
    }
}

pub(super) fn read_tx<T: serde::de::DeserializeOwned>(
    tree: &TransactionalTree,
    name: &'static str,
    key: &[u8],
    shown: impl std::fmt::Display,
) -> TxResult<Option<T>> {
    tree.get(key)?.map(|bytes| codec::decode(name, shown, &bytes)).transpose().map_err(abort)
}

/// Reads position `id` at `key` inside a transaction (either stored form,
/// `stored_position`).
fn read_position_tx(tree: &TransactionalTree, key: &[u8], id: u64) -> TxResult<Option<super::Position>> {
    tree.get(key)?.map(|bytes| super::stored_position::decode(keys::POSITIONS, id, &bytes)).transpose().map_err(abort)
}

/// A connection's auto-push rule: candidates who reach `stage_id` (or a
/// later stage in the account's order) are pushed without being asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoPushRule {
    /// Our stage that triggers the push.
    pub stage_id: String,
    /// When set, Unix seconds.
    pub set_at_unix: i64,
}

/// Builds a push entry for `candidate` and marks the candidate queued,
/// inside a candidate transaction.
fn queue_push_tx(
    candidate: &mut Candidate,
    stage_id: &str,
    entry_id: u64,
    outbox: &TransactionalTree,
    index: &TransactionalTree,
) -> TxResult<OutboxEntry> {
    let entry = OutboxEntry {
        id: entry_id,
        candidate_id: candidate.id,
        account_id: candidate.account_id.clone(),
        connection_id: candidate.connection_id.clone(),
        kind: OutboxKind::Push { position_id: candidate.position_id, stage_id: stage_id.to_string() },
        queued_at_ms: now_ms(),
        attempts: 0,
        not_before_ms: 0,
        last_error: None,
        metering: None,
        attempt_started: None,
    };
    candidate.push = PushState::Queued;
    outbox.insert(&keys::position(entry_id), codec::encode("outbox entry", &entry).map_err(abort)?)?;
    index.insert(&by_candidate(candidate.id, entry_id), &[])?;
    Ok(entry)
}

/// What the outbox adds to a candidate's creation or move: the move's
/// propagation for a candidate already sent, or the push an auto-push rule
/// asks for. `None` when neither applies.
fn on_stage_change_tx(
    candidate: &mut Candidate,
    moved: &mut StageMove,
    reaches_rule: bool,
    entry_id: u64,
    outbox: &TransactionalTree,
    index: &TransactionalTree,
) -> TxResult<Option<OutboxEntry>> {
    // A move the ATS made is already in the ATS.
    if moved.by == MovedBy::Ats {
        return Ok(None);
    }
    match candidate.push {
        PushState::Queued | PushState::Pushed { .. } if moved.from.is_some() => {
            let entry = OutboxEntry {
                id: entry_id,
                candidate_id: candidate.id,
                account_id: candidate.account_id.clone(),
                connection_id: candidate.connection_id.clone(),
                kind: OutboxKind::Move { move_seq: moved.seq, to_stage: moved.to.clone() },
                queued_at_ms: now_ms(),
                attempts: 0,
                not_before_ms: 0,
                last_error: None,
                metering: None,
                attempt_started: None,
            };
            moved.propagation = Propagation::Pending;
            outbox.insert(&keys::position(entry_id), codec::encode("outbox entry", &entry).map_err(abort)?)?;
            index.insert(&by_candidate(candidate.id, entry_id), &[])?;
            Ok(Some(entry))
        }
        PushState::NotSent if reaches_rule => {
            let stage = moved.to.clone();
            queue_push_tx(candidate, &stage, entry_id, outbox, index).map(Some)
        }
        _ => Ok(None),
    }
}

impl Store {
    /// Queues the push of candidate `candidate_id` and marks it queued, in
    /// one transaction; `stage_id` is our stage the application starts in.
    /// A candidate already queued is left as it is (the request is
    /// idempotent) and its pending entry returned; one already in the ATS
    /// is refused.
    pub fn queue_push(&self, candidate_id: u64, stage_id: &str) -> Result<(Candidate, OutboxEntry), StoreError> {
        let entry_id = self.db.generate_id()?;
        // Read before the transaction: sled deadlocks on a plain read of a
        // tree inside a transaction. The entries are read again inside it.
        let known = self.outbox_ids_of(candidate_id)?;
        let extra = [&self.trees.outbox, &self.trees.outbox_by_candidate];
        let (candidate, entry) = self.update_candidate_with(candidate_id, &extra, |candidate, tx| {
            let [outbox, index] = tx else {
                unreachable!("two outbox trees are always given");
            };
            match &candidate.push {
                PushState::Queued => {
                    for id in &known {
                        let entry: Option<OutboxEntry> = read_tx(outbox, keys::OUTBOX, &keys::position(*id), id)?;
                        if let Some(entry) = entry.filter(|e| matches!(e.kind, OutboxKind::Push { .. })) {
                            return Ok(entry);
                        }
                    }
                    // Finished between the read and the transaction: the
                    // candidate is no longer queued, and the transaction
                    // conflicts and runs again. Queue anew otherwise.
                }
                PushState::Pushed { ats_candidate_id, .. } => {
                    return Err(abort(StoreError::AlreadyPushed {
                        candidate: candidate_id,
                        ats_candidate_id: ats_candidate_id.clone(),
                    }));
                }
                PushState::NotSent | PushState::Failed { .. } => {}
            }
            queue_push_tx(candidate, stage_id, entry_id, outbox, index)
        })?;
        Ok((candidate, entry))
    }

    /// Whether our stage `stage_id` is at or past the auto-push rule's stage
    /// of `connection_id`, in `account_id`'s order.
    fn reaches_auto_push(&self, account_id: &str, connection_id: &str, stage_id: &str) -> Result<bool, StoreError> {
        let Some(rule) = self.auto_push_rule(connection_id)? else {
            return Ok(false);
        };
        let stages = self.hiring_stages(account_id)?;
        let at = |id: &str| stages.iter().position(|s| s.id == id);
        Ok(matches!((at(stage_id), at(&rule.stage_id)), (Some(now), Some(rule)) if now >= rule))
    }

    /// Creates a candidate ([`Store::create_candidate`]) and, when its
    /// connection's auto-push rule asks for it, queues its push in the same
    /// transaction.
    pub fn create_candidate_queued(
        &self,
        new: NewCandidate,
    ) -> Result<(Candidate, StageMove, Option<OutboxEntry>), StoreError> {
        let position = self.position(new.position_id)?.ok_or(StoreError::UnknownPosition(new.position_id))?;
        let stage = match &new.stage_id {
            Some(s) => s.clone(),
            None => self.first_hiring_stage(&position.account_id)?.id,
        };
        let reaches = self.reaches_auto_push(&position.account_id, &position.connection_id, &stage)?;
        let entry_id = self.db.generate_id()?;
        let queued = std::sync::Mutex::new(None);
        let extra = [&self.trees.outbox, &self.trees.outbox_by_candidate];
        let (candidate, moved) = self.create_candidate_with(new, &extra, |candidate, moved, tx| {
            let [outbox, index] = tx else {
                unreachable!("two outbox trees are always given");
            };
            let entry = on_stage_change_tx(candidate, moved, reaches, entry_id, outbox, index)?;
            *queued.lock().unwrap_or_else(|e| e.into_inner()) = entry;
            Ok(())
        })?;
        let entry = queued.into_inner().unwrap_or_else(|e| e.into_inner());
        Ok((candidate, moved, entry))
    }

    /// Moves a candidate ([`Store::move_candidate`]) and, in the same
    /// transaction, queues the move for the ATS when the candidate was sent
    /// there, or its push when the move reaches the auto-push stage.
    pub fn move_candidate_queued(
        &self,
        id: u64,
        to: &str,
        by: MovedBy,
    ) -> Result<(Candidate, StageMove, Option<OutboxEntry>), StoreError> {
        let current = self.candidate(id)?.ok_or(StoreError::UnknownCandidate(id))?;
        let reaches = self.reaches_auto_push(&current.account_id, &current.connection_id, to)?;
        let entry_id = self.db.generate_id()?;
        let queued = std::sync::Mutex::new(None);
        let extra = [&self.trees.outbox, &self.trees.outbox_by_candidate];
        let (candidate, moved) = self.move_candidate_with(id, to, by, &extra, |candidate, moved, tx| {
            let [outbox, index] = tx else {
                unreachable!("two outbox trees are always given");
            };
            let entry = on_stage_change_tx(candidate, moved, reaches, entry_id, outbox, index)?;
            *queued.lock().unwrap_or_else(|e| e.into_inner()) = entry;
            Ok(())
        })?;
        let entry = queued.into_inner().unwrap_or_else(|e| e.into_inner());
        Ok((candidate, moved, entry))
    }

    /// Records a stage change the ATS made (found by reconciliation) as a
    /// move by the ATS at `at_unix`, with a `candidate.stage_changed` event,
    /// in one transaction. Nothing is queued: the ATS already has it.
    pub fn record_ats_move(&self, id: u64, to: &str) -> Result<(Candidate, StageMove), StoreError> {
        self.record_ats_move_counted(id, to).map(|(candidate, moved, _)| (candidate, moved))
    }

    /// [`Store::record_ats_move`], with the bytes (keys and values) it
    /// wrote: reconciliation in a daily run counts them in the run's.
    pub fn record_ats_move_counted(&self, id: u64, to: &str) -> Result<(Candidate, StageMove, u64), StoreError> {
        let event_id = self.draw_event_id()?;
        let t = &self.trees;
        let extra = [&t.positions, &t.events, &t.events_pending];
        self.move_candidate_counted(id, to, MovedBy::Ats, &extra, |candidate, moved, tx| {
            let [positions, events_tree, pending] = tx else {
                unreachable!("three event trees are always given");
            };
            let key = keys::position(candidate.position_id);
            let position = read_position_tx(positions, &key, candidate.position_id)?;
            let Some(position) = position else { return Ok(0) };
            let from = moved.from.clone();
            events::append_candidate_tx(
                events_tree,
                pending,
                event_id,
                EventKind::CandidateStageChanged,
                &position,
                candidate,
                from.as_deref(),
            )
        })
    }

    /// The auto-push rule of a connection, if it has one.
    pub fn auto_push_rule(&self, connection_id: &str) -> Result<Option<AutoPushRule>, StoreError> {
        super::read(&self.trees.auto_push, keys::AUTO_PUSH, keys::id(connection_id), connection_id)
    }

    /// Sets (or with `None` clears) a connection's auto-push rule. Only
    /// candidates who reach the stage from now on are pushed by it.
    pub fn set_auto_push_rule(&self, connection_id: &str, stage_id: Option<&str>) -> Result<(), StoreError> {
        let _gate = self.write_gate();
        match stage_id {
            Some(stage_id) => {
                let rule = AutoPushRule { stage_id: stage_id.to_string(), set_at_unix: now_unix() };
                self.trees.auto_push.insert(keys::id(connection_id), codec::encode("auto-push rule", &rule)?)?;
            }
            None => {
                self.trees.auto_push.remove(keys::id(connection_id))?;
            }
        }
        Ok(())
    }

    /// Ids of a candidate's entries, oldest first.
    fn outbox_ids_of(&self, candidate_id: u64) -> Result<Vec<u64>, StoreError> {
        self.trees
            .outbox_by_candidate
            .scan_prefix(keys::candidate(candidate_id))
            .keys()
            .map(|k| Ok(keys::decode_position_candidate(&k?)?.1))
            .collect()
    }

    /// A candidate's entries, oldest first.
    pub fn outbox_of_candidate(&self, candidate_id: u64) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut entries = Vec::new();
        for id in self.outbox_ids_of(candidate_id)? {
            if let Some(entry) = super::read(&self.trees.outbox, keys::OUTBOX, &keys::position(id), id)? {
                entries.push(entry);
            }
        }
        Ok(entries)
    }

    /// The candidate's oldest entry: the next one to work on.
    pub fn next_outbox_entry(&self, candidate_id: u64) -> Result<Option<OutboxEntry>, StoreError> {
        Ok(self.outbox_of_candidate(candidate_id)?.into_iter().next())
    }

    /// Every candidate with entries, in id order.
    pub fn outbox_candidates(&self) -> Result<Vec<u64>, StoreError> {
        let mut ids = Vec::new();
        for key in self.trees.outbox_by_candidate.iter().keys() {
            let (candidate, _) = keys::decode_position_candidate(&key?)?;
            if ids.last() != Some(&candidate) {
                ids.push(candidate);
            }
        }
        Ok(ids)
    }

    /// Entries after `after` (exclusive), oldest first, at most `limit`.
    pub fn outbox_entries(&self, after: u64, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let start = keys::position(after.saturating_add(1));
        self.trees
            .outbox
            .range(start..)
            .take(limit)
            .map(|entry| {
                let (key, bytes) = entry?;
                codec::decode(keys::OUTBOX, keys::decode_position(&key)?, &bytes)
            })
            .collect()
    }

    /// Records a failed attempt: counted, its error kept, not tried again
    /// before `not_before_ms`.
    pub fn retry_outbox_entry(&self, entry_id: u64, not_before_ms: u64, error: &str) -> Result<(), StoreError> {
        self.retry_outbox_entry_metered(entry_id, not_before_ms, error, None)
    }

    /// [`Store::retry_outbox_entry`], with what the failed attempt cost
    /// (`cost`) added to the entry's (`push_record`).
    pub fn retry_outbox_entry_metered(
        &self,
        entry_id: u64,
        not_before_ms: u64,
        error: &str,
        cost: Option<&super::RunMetering>,
    ) -> Result<(), StoreError> {
        let _gate = self.write_gate();
        let key = keys::position(entry_id);
        Ok(self.trees.outbox.transaction(|outbox| {
            let Some(mut entry): Option<OutboxEntry> = read_tx(outbox, keys::OUTBOX, &key, entry_id)? else {
                return Ok(());
            };
            entry.attempts = entry.attempts.saturating_add(1);
            entry.not_before_ms = not_before_ms;
            entry.last_error = Some(bounded(error));
            entry.attempt_started = None; // the attempt is over
            let value = super::push_record::encode_retried_entry(&mut entry, &key, cost).map_err(abort)?; // metering
            outbox.insert(&key, value)?;
            Ok(())
        })?)
    }

    /// Records a push's result on the candidate and removes its entry, in
    /// one transaction, with a `candidate.pushed` or `candidate.push_failed`
    /// event. An entry already gone (finished by an earlier run) is left;
    /// an entry whose candidate was deleted is dropped.
    pub fn finish_push(&self, entry: &OutboxEntry, outcome: PushOutcome) -> Result<(), StoreError> {
        self.finish_push_metered(entry, outcome, None).map(drop)
    }

    /// [`Store::finish_push`], with the push's record, and what it cost
    /// (`cost`: its last attempt's), added to the candidate's push history
    /// (`push_record`). Returns the store bytes the record counts (`None`:
    /// nothing recorded, or no cost).
    pub fn finish_push_metered(
        &self,
        entry: &OutboxEntry,
        outcome: PushOutcome,
        cost: Option<&super::RunMetering>,
    ) -> Result<Option<u64>, StoreError> {
        self.finish_push_recorded(entry, outcome, cost, &[])
    }

    /// [`Store::finish_push_metered`], noting on the push's record the
    /// questions whose answers were not sent (`answers_not_sent`: the
    /// connector does not take answers).
    pub fn finish_push_recorded(
        &self,
        entry: &OutboxEntry,
        outcome: PushOutcome,
        cost: Option<&super::RunMetering>,
        answers_not_sent: &[String],
    ) -> Result<Option<u64>, StoreError> {
        let event_id = self.draw_event_id()?;
        let t = &self.trees;
        let extra = [&t.outbox, &t.outbox_by_candidate, &t.positions, &t.events, &t.events_pending];
        let done = self.update_candidate_with(entry.candidate_id, &extra, |candidate, tx| {
            let [outbox, index, positions, events_tree, pending] = tx else {
                unreachable!("five outbox and event trees are always given");
            };
            let Some(stored) = outbox.remove(&keys::position(entry.id))? else {
                return Ok(None);
            };
            index.remove(&by_candidate(entry.candidate_id, entry.id))?;
            let at_unix = now_unix();
            let kind = match &outcome {
                PushOutcome::Pushed(pushed) => {
                    candidate.push = PushState::Pushed {
                        ats_candidate_id: pushed.ref_.candidate_id.clone(),
                        application_id: pushed.ref_.application_id.clone(),
                        at_unix,
                    };
                    EventKind::CandidatePushed
                }
                PushOutcome::Failed(message) => {
                    candidate.push = PushState::Failed { message: bounded(message), at_unix, retryable: true };
                    EventKind::CandidatePushFailed
                }
            };
            let key = keys::position(candidate.position_id);
            let mut written = 0; // metering
            if let Some(position) = read_position_tx(positions, &key, candidate.position_id)? {
                written =
                    events::append_candidate_tx(events_tree, pending, event_id, kind, &position, candidate, None)?;
            }
            // metering: the push's record, with its cost, in the candidate's history
            let stored: OutboxEntry = codec::decode(keys::OUTBOX, entry.id, &stored).map_err(abort)?;
            super::push_record::record_push(candidate, &stored, &outcome, cost, answers_not_sent, written, at_unix)
                .map_err(abort)?;
            Ok(candidate.pushes.last().and_then(|p| p.metering.as_ref()).map(|m| m.store_bytes_written))
        });
        match done {
            Ok((_, bytes)) => Ok(bytes),
            Err(StoreError::UnknownCandidate(_)) => self.drop_outbox_entry(entry).map(|()| None),
            Err(e) => Err(e),
        }
    }

    /// Removes an entry without recording anything (its candidate is gone).
    fn drop_outbox_entry(&self, entry: &OutboxEntry) -> Result<(), StoreError> {
        let _gate = self.write_gate();
        Ok((&self.trees.outbox, &self.trees.outbox_by_candidate).transaction(|(outbox, index)| {
            outbox.remove(&keys::position(entry.id))?;
            index.remove(&by_candidate(entry.candidate_id, entry.id))?;
            Ok::<_, ConflictableTransactionError<StoreError>>(())
        })?)
    }

    /// Records how a move's propagation ended on the move and removes its
    /// entry, in one transaction.
    pub fn finish_move(&self, entry: &OutboxEntry, outcome: MoveOutcome) -> Result<(), StoreError> {
        self.finish_move_metered(entry, outcome, None).map(drop)
    }

    /// [`Store::finish_move`], with the attempts the propagation took and
    /// what they cost (`cost`: the last attempt's) on the move's record
    /// (`push_record`). Returns the store bytes the record counts (`None`:
    /// nothing recorded, or no cost).
    pub fn finish_move_metered(
        &self,
        entry: &OutboxEntry,
        outcome: MoveOutcome,
        cost: Option<&super::RunMetering>,
    ) -> Result<Option<u64>, StoreError> {
        let OutboxKind::Move { move_seq, .. } = entry.kind else {
            return Err(StoreError::InvalidCommit {
                connection: entry.connection_id.clone(),
                reason: format!("outbox entry {} is not a move", entry.id),
            });
        };
        let _gate = self.write_gate();
        let t = &self.trees;
        Ok((&t.stage_moves, &t.outbox, &t.outbox_by_candidate).transaction(|(moves, outbox, index)| {
            let Some(stored) = outbox.remove(&keys::position(entry.id))? else {
                return Ok(None);
            };
            index.remove(&by_candidate(entry.candidate_id, entry.id))?;
            let key = keys::stage_move(entry.candidate_id, move_seq);
            let Some(mut record): Option<StageMove> = read_tx(moves, keys::STAGE_MOVES, &key, move_seq)? else {
                return Ok(None);
            };
            record.propagation = match &outcome {
                MoveOutcome::Moved => Propagation::Propagated { at_unix: now_unix() },
                MoveOutcome::NotPropagated(reason) | MoveOutcome::Failed(reason) => {
                    Propagation::NotPropagated { reason: bounded(reason) }
                }
            };
            // metering: the attempts and their cost on the move's record
            let stored: OutboxEntry = codec::decode(keys::OUTBOX, entry.id, &stored).map_err(abort)?;
            let value = super::push_record::record_move(&mut record, &stored, cost, key.len()).map_err(abort)?;
            moves.insert(&key, value)?;
            Ok(record.cost.and_then(|c| c.metering).map(|m| m.store_bytes_written))
        })?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::CandidateRef;
    use crate::store::testutil::{commit_jobs, connection, new_candidate, temp_store};

    fn pushed(c: &str, a: &str) -> PushOutcome {
        PushOutcome::Pushed(Pushed {
            ref_: CandidateRef { candidate_id: c.into(), application_id: a.into() },
            existing: false,
        })
    }

    fn user() -> MovedBy {
        MovedBy::User { name: "t".into() }
    }

    #[test]
    fn a_push_is_queued_with_its_candidate_and_finished_with_its_ids() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let positions = commit_jobs(&store, &c.id, &[("J1", "Engineer")]);
        let (candidate, _) = store.create_candidate(new_candidate(positions[0].id, "ada@example.com")).unwrap();
        let (queued, entry) = store.queue_push(candidate.id, "new-submission").unwrap();
        assert_eq!(queued.push, PushState::Queued);
        assert_eq!(store.candidate(candidate.id).unwrap().unwrap().push, PushState::Queued);
        assert_eq!(store.outbox_candidates().unwrap(), vec![candidate.id]);
        // Asking again returns the same entry; nothing new is queued.
        let (_, again) = store.queue_push(candidate.id, "new-submission").unwrap();
        assert_eq!(again.id, entry.id);
        assert_eq!(store.outbox_of_candidate(candidate.id).unwrap().len(), 1);

        store.retry_outbox_entry(entry.id, 42, &"x".repeat(5_000)).unwrap();
        let retried = store.next_outbox_entry(candidate.id).unwrap().unwrap();
        assert_eq!((retried.attempts, retried.not_before_ms), (1, 42));
        assert!(retried.last_error.as_ref().unwrap().chars().count() <= MAX_OUTBOX_ERROR_CHARS + 1);

        store.finish_push(&retried, pushed("50000001", "60000002")).unwrap();
        let done = store.candidate(candidate.id).unwrap().unwrap();
        assert!(matches!(&done.push, PushState::Pushed { ats_candidate_id, application_id, .. }
            if ats_candidate_id == "50000001" && application_id == "60000002"));
        assert!(store.outbox_candidates().unwrap().is_empty());
        let events = store.events_after(0, 100).unwrap();
        let last = events.last().unwrap();
        assert_eq!(last.kind, EventKind::CandidatePushed);
        assert_eq!(last.candidate.as_ref().map(|c| c.id), Some(candidate.id));
        // Finishing twice (a result recorded by an earlier run) changes nothing.
        store.finish_push(&retried, PushOutcome::Failed("late".into())).unwrap();
        assert!(matches!(store.candidate(candidate.id).unwrap().unwrap().push, PushState::Pushed { .. }));
        // And a candidate in the ATS is not pushed again.
        let err = store.queue_push(candidate.id, "new-submission").unwrap_err();
        assert!(matches!(err, StoreError::AlreadyPushed { .. }), "{err}");
    }

    #[test]
    fn moves_of_a_sent_candidate_are_queued_in_order_and_ats_moves_are_not() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let positions = commit_jobs(&store, &c.id, &[("J1", "Engineer")]);
        let (candidate, _) = store.create_candidate(new_candidate(positions[0].id, "ada@example.com")).unwrap();
        // Not sent: a move is only a move.
        let (_, _, entry) = store.move_candidate_queued(candidate.id, "screening", user()).unwrap();
        assert!(entry.is_none());
        let (_, push) = store.queue_push(candidate.id, "screening").unwrap();
        let (_, moved, entry) = store.move_candidate_queued(candidate.id, "interview", user()).unwrap();
        let entry = entry.unwrap();
        assert_eq!(moved.propagation, Propagation::Pending);
        assert!(entry.id > push.id);
        let order: Vec<u64> = store.outbox_of_candidate(candidate.id).unwrap().iter().map(|e| e.id).collect();
        assert_eq!(order, vec![push.id, entry.id], "the push before the move");
        store.finish_push(&push, pushed("1", "2")).unwrap();
        store.finish_move(&entry, MoveOutcome::NotPropagated("no move-application".into())).unwrap();
        let history = store.stage_moves(candidate.id).unwrap();
        assert_eq!(
            history.last().unwrap().propagation,
            Propagation::NotPropagated { reason: "no move-application".into() }
        );
        // A move the ATS made is recorded with an event and queues nothing.
        let (after, ats_move) = store.record_ats_move(candidate.id, "offer").unwrap();
        assert_eq!((after.stage_id.as_str(), &ats_move.by), ("offer", &MovedBy::Ats));
        assert!(store.outbox_of_candidate(candidate.id).unwrap().is_empty());
        let event = store.events_after(0, 100).unwrap().pop().unwrap();
        assert_eq!(event.kind, EventKind::CandidateStageChanged);
        assert_eq!(event.candidate.unwrap().from_stage.as_deref(), Some("interview"));
    }

    #[test]
    fn the_auto_push_rule_queues_candidates_reaching_its_stage_or_later() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let positions = commit_jobs(&store, &c.id, &[("J1", "Engineer")]);
        store.set_auto_push_rule(&c.id, Some("interview")).unwrap();
        let (early, _, entry) = store.create_candidate_queued(new_candidate(positions[0].id, "a@example.com")).unwrap();
        assert!(entry.is_none(), "new submission is before the rule's stage");
        let (_, _, entry) = store.move_candidate_queued(early.id, "screening", user()).unwrap();
        assert!(entry.is_none());
        let (moved, _, entry) = store.move_candidate_queued(early.id, "offer", user()).unwrap();
        assert!(matches!(entry.unwrap().kind, OutboxKind::Push { ref stage_id, .. } if stage_id == "offer"));
        assert_eq!(moved.push, PushState::Queued);
        // As early as the first stage: created there, queued at once.
        store.set_auto_push_rule(&c.id, Some("new-submission")).unwrap();
        let (created, _, entry) =
            store.create_candidate_queued(new_candidate(positions[0].id, "b@example.com")).unwrap();
        assert_eq!(created.push, PushState::Queued);
        assert!(entry.is_some());
        store.set_auto_push_rule(&c.id, None).unwrap();
        assert_eq!(store.auto_push_rule(&c.id).unwrap(), None);
        let (_, _, entry) = store.create_candidate_queued(new_candidate(positions[0].id, "c@example.com")).unwrap();
        assert!(entry.is_none());
    }
}
