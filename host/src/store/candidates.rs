//! Candidates: creating them, reading them, moving them between stages.
//!
//! # Adding writes to a candidate's transaction
//!
//! Every write here is one sled transaction over the candidate trees and the
//! account's stage record (whose per-stage counts keep a stage in use from
//! being deleted). A caller that must write something else atomically with
//! it — a push queued by "send to ATS" or by an auto-push rule, a
//! propagation of a move — passes its own trees as `extra` and a `hook`:
//!
//! ```ignore
//! let (candidate, moved) = store.move_candidate_with(id, "interview", by, &[&self.trees.outbox], |c, m, tx| {
//!     m.propagation = Propagation::Pending;
//!     tx[0].insert(&outbox_key(c.id, m.seq), entry_bytes(c, m).map_err(abort)?)?;
//!     Ok(())
//! })?;
//! ```
//!
//! The hook runs inside the transaction, before the candidate and the move
//! are written, with the views of the `extra` trees in the order given; it
//! may change the candidate's push state and the move's propagation (the
//! stage, ids and counts are the store's), and whatever it writes commits
//! or aborts with the rest. sled may run the transaction more than once on
//! a conflict, so the hook must only read and write through the views it is
//! given, and draw ids (`generate_id`) before the call. `extra` must not
//! repeat one of the candidate trees.

use sled::Transactional;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use tracing::info;

use super::candidate_model::{Candidate, MovedBy, NewCandidate, Propagation, PushState, StageMove, check_mover};
use super::{Store, StoreError, abort, codec, keys, now_unix, read, stages};

/// The most candidates one page of [`Store::candidates_page`] returns,
/// whatever the caller asks: one page is one API response.
pub const MAX_CANDIDATES_PAGE: usize = 500;

/// The result type of a hook that writes inside a candidate transaction.
pub type TxResult<T> = ConflictableTransactionResult<T, StoreError>;

/// Which candidates [`Store::candidates_page`] returns; `None` fields match
/// everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CandidateFilter {
    /// Only this account's (walks its index).
    pub account_id: Option<String>,
    /// Only this position's (walks its index).
    pub position_id: Option<u64>,
    /// Only candidates in this stage.
    pub stage_id: Option<String>,
}

impl CandidateFilter {
    fn matches(&self, c: &Candidate) -> bool {
        self.account_id.as_ref().is_none_or(|a| *a == c.account_id)
            && self.position_id.is_none_or(|p| p == c.position_id)
            && self.stage_id.as_ref().is_none_or(|s| *s == c.stage_id)
    }
}

/// Reads a candidate inside a transaction.
pub(crate) fn read_candidate_tx(tx: &TransactionalTree, id: u64) -> TxResult<Candidate> {
    let bytes = tx.get(keys::candidate(id))?.ok_or_else(|| abort(StoreError::UnknownCandidate(id)))?;
    codec::decode(keys::CANDIDATES, id, &bytes).map_err(abort)
}

/// Writes a candidate inside a transaction; the bytes (key and value) it
/// wrote.
pub(crate) fn write_candidate_tx(tx: &TransactionalTree, candidate: &Candidate) -> TxResult<u64> {
    let (key, value) = (keys::candidate(candidate.id), codec::encode("candidate", candidate).map_err(abort)?);
    let written = (key.len() + value.len()) as u64;
    tx.insert(&key, value)?;
    Ok(written)
}

/// Writes a stage move inside a transaction (of the `stage_moves` tree);
/// the bytes (key and value) it wrote.
pub(crate) fn write_move_tx(tx: &TransactionalTree, m: &StageMove) -> TxResult<u64> {
    let (key, value) = (keys::stage_move(m.candidate_id, m.seq), codec::encode("stage move", m).map_err(abort)?);
    let written = (key.len() + value.len()) as u64;
    tx.insert(&key, value)?;
    Ok(written)
}

impl Store {
    /// Creates a candidate for a position, in `new.stage_id` or the
    /// account's first stage, with its résumé, and records the creation as
    /// its first move.
    pub fn create_candidate(&self, new: NewCandidate) -> Result<(Candidate, StageMove), StoreError> {
        self.create_candidate_with(new, &[], |_, _, _| Ok(()))
    }

    /// [`Store::create_candidate`], with the caller's writes in the same
    /// transaction (see the module docs).
    pub fn create_candidate_with(
        &self,
        new: NewCandidate,
        extra: &[&sled::Tree],
        hook: impl Fn(&mut Candidate, &mut StageMove, &[TransactionalTree]) -> TxResult<()>,
    ) -> Result<(Candidate, StageMove), StoreError> {
        let (checked, resume) = new.check()?;
        let position = self.position(new.position_id)?.ok_or(StoreError::UnknownPosition(new.position_id))?;
        // sled's first id is 0, which means "none" to readers: skip it.
        let mut id = self.db.generate_id()?;
        if id == 0 {
            id = self.db.generate_id()?;
        }
        let t = &self.trees;
        let mut trees = vec![&t.candidates, &t.candidate_resumes, &t.candidates_by_position, &t.candidates_by_account];
        trees.extend([&t.stage_moves, &t.hiring_stages]);
        trees.extend_from_slice(extra);
        let _gate = self.write_gate();
        let done = trees.as_slice().transaction(|views| {
            let [candidates, resumes, by_position, by_account, moves, hiring, rest @ ..] = views.as_slice() else {
                unreachable!("six candidate trees are always given");
            };
            let mut account_stages = stages::read_tx(hiring, &position.account_id)?;
            let stage_id = match &new.stage_id {
                Some(s) => s.clone(),
                None => account_stages.stages.first().map(|s| s.id.clone()).unwrap_or_default(),
            };
            if !account_stages.contains(&stage_id) {
                return Err(abort(stages::unknown(&position.account_id, &stage_id)));
            }
            let now = now_unix();
            let mut candidate = Candidate {
                id,
                account_id: position.account_id.clone(),
                connection_id: position.connection_id.clone(),
                stage_id: stage_id.clone(),
                created_at_unix: now,
                updated_at_unix: now,
                moves: 1,
                ..checked.clone()
            };
            let mut first = StageMove {
                candidate_id: id,
                seq: 0,
                at_unix: now,
                from: None,
                to: stage_id.clone(),
                by: new.by.clone(),
                propagation: Propagation::NotApplicable,
                cost: None,
            };
            hook(&mut candidate, &mut first, rest)?;
            account_stages.count_move(None, Some(&stage_id));
            stages::write_tx(hiring, &position.account_id, &account_stages)?;
            write_candidate_tx(candidates, &candidate)?;
            if let Some(bytes) = &resume {
                resumes.insert(&keys::candidate(id), bytes.as_slice())?;
            }
            by_position.insert(&keys::position_candidate(position.id, id), &[])?;
            by_account.insert(keys::account_candidate(&position.account_id, id), &[])?;
            write_move_tx(moves, &first)?;
            Ok((candidate, first))
        })?;
        info!(candidate = id, position = position.id, stage = %done.0.stage_id, "candidate created");
        Ok(done)
    }

    /// The candidate with this id.
    pub fn candidate(&self, id: u64) -> Result<Option<Candidate>, StoreError> {
        read(&self.trees.candidates, keys::CANDIDATES, &keys::candidate(id), id)
    }

    /// A candidate's résumé bytes (its metadata is on the candidate).
    pub fn candidate_resume(&self, id: u64) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.trees.candidate_resumes.get(keys::candidate(id))?.map(|b| b.to_vec()))
    }

    /// One page of candidates matching `filter`, by id: those above `after`
    /// (from the start when `None`), at most `limit` (capped at
    /// [`MAX_CANDIDATES_PAGE`]). The next page starts after the last id.
    pub fn candidates_page(
        &self,
        filter: &CandidateFilter,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Candidate>, StoreError> {
        let limit = limit.min(MAX_CANDIDATES_PAGE);
        let start = match after {
            None => 0,
            Some(u64::MAX) => return Ok(Vec::new()),
            Some(a) => a + 1,
        };
        let mut page = Vec::new();
        if limit == 0 {
            return Ok(page);
        }
        let mut keep = |candidate: Candidate| {
            if filter.matches(&candidate) {
                page.push(candidate);
            }
            page.len() < limit
        };
        let missing = |id: u64| StoreError::Corrupt {
            tree: keys::CANDIDATES,
            key: id.to_string(),
            reason: "indexed but missing".into(),
        };
        if let Some(position_id) = filter.position_id {
            let from = keys::position_candidate(position_id, start);
            let to = keys::position_candidate(position_id, u64::MAX);
            for entry in self.trees.candidates_by_position.range(from..=to) {
                let (key, _) = entry?;
                let (_, id) = keys::decode_position_candidate(&key)?;
                if !keep(self.candidate(id)?.ok_or_else(|| missing(id))?) {
                    break;
                }
            }
        } else if let Some(account_id) = &filter.account_id {
            let prefix = keys::connection_prefix(account_id);
            for entry in self.trees.candidates_by_account.range(keys::account_candidate(account_id, start)..) {
                let (key, _) = entry?;
                if !key.starts_with(&prefix) {
                    break;
                }
                let (_, id) = keys::decode_account_candidate(&key)?;
                if !keep(self.candidate(id)?.ok_or_else(|| missing(id))?) {
                    break;
                }
            }
        } else {
            for entry in self.trees.candidates.range(keys::candidate(start)..) {
                let (key, bytes) = entry?;
                let id = keys::decode_candidate(&key)?;
                if !keep(codec::decode(keys::CANDIDATES, id, &bytes)?) {
                    break;
                }
            }
        }
        Ok(page)
    }

    /// Moves a candidate to another of the account's stages and records the
    /// move. Refused with [`StoreError::AlreadyInStage`] when it is there.
    pub fn move_candidate(&self, id: u64, to: &str, by: MovedBy) -> Result<(Candidate, StageMove), StoreError> {
        self.move_candidate_with(id, to, by, &[], |_, _, _| Ok(()))
    }

    /// [`Store::move_candidate`], with the caller's writes in the same
    /// transaction (see the module docs).
    pub fn move_candidate_with(
        &self,
        id: u64,
        to: &str,
        by: MovedBy,
        extra: &[&sled::Tree],
        hook: impl Fn(&mut Candidate, &mut StageMove, &[TransactionalTree]) -> TxResult<()>,
    ) -> Result<(Candidate, StageMove), StoreError> {
        let (candidate, moved, _) =
            self.move_candidate_counted(id, to, by, extra, |c, m, tx| hook(c, m, tx).map(|()| 0))?;
        Ok((candidate, moved))
    }

    /// [`Store::move_candidate_with`], whose hook answers the bytes (keys
    /// and values) it wrote; with every byte the move wrote: the hook's, the
    /// candidate, the move and the account's stage counts (for a run's
    /// metering, when reconciliation moves a candidate).
    pub(crate) fn move_candidate_counted(
        &self,
        id: u64,
        to: &str,
        by: MovedBy,
        extra: &[&sled::Tree],
        hook: impl Fn(&mut Candidate, &mut StageMove, &[TransactionalTree]) -> TxResult<u64>,
    ) -> Result<(Candidate, StageMove, u64), StoreError> {
        check_mover(&by)?;
        let t = &self.trees;
        let mut trees = vec![&t.candidates, &t.stage_moves, &t.hiring_stages];
        trees.extend_from_slice(extra);
        let _gate = self.write_gate();
        let done = trees.as_slice().transaction(|views| {
            let [candidates, moves, hiring, rest @ ..] = views.as_slice() else {
                unreachable!("three candidate trees are always given");
            };
            let mut candidate = read_candidate_tx(candidates, id)?;
            let from = candidate.stage_id.clone();
            if from == to {
                return Err(abort(StoreError::AlreadyInStage { candidate: id, stage: to.to_string() }));
            }
            let mut account_stages = stages::read_tx(hiring, &candidate.account_id)?;
            if !account_stages.contains(to) {
                return Err(abort(stages::unknown(&candidate.account_id, to)));
            }
            let now = now_unix();
            let mut moved = StageMove {
                candidate_id: id,
                seq: candidate.moves,
                at_unix: now,
                from: Some(from.clone()),
                to: to.to_string(),
                by: by.clone(),
                propagation: Propagation::NotApplicable,
                cost: None,
            };
            candidate.stage_id = to.to_string();
            candidate.moves += 1;
            candidate.updated_at_unix = now;
            // Counted anew in each attempt: sled may run this again.
            let mut written = hook(&mut candidate, &mut moved, rest)?;
            // The hook may not move the candidate itself: the counts follow
            // the move recorded here.
            candidate.stage_id = to.to_string();
            moved.to = to.to_string();
            account_stages.count_move(Some(&from), Some(to));
            written += stages::write_tx(hiring, &candidate.account_id, &account_stages)?;
            written += write_candidate_tx(candidates, &candidate)?;
            written += write_move_tx(moves, &moved)?;
            Ok((candidate, moved, written))
        })?;
        info!(candidate = id, from = ?done.1.from, to, "candidate moved");
        Ok(done)
    }

    /// Changes a candidate other than its stage (its push state, say),
    /// with the caller's writes in the same transaction (see the module
    /// docs). Returns the candidate as written and the hook's value.
    pub fn update_candidate_with<T>(
        &self,
        id: u64,
        extra: &[&sled::Tree],
        hook: impl Fn(&mut Candidate, &[TransactionalTree]) -> TxResult<T>,
    ) -> Result<(Candidate, T), StoreError> {
        let mut trees = vec![&self.trees.candidates];
        trees.extend_from_slice(extra);
        let _gate = self.write_gate();
        Ok(trees.as_slice().transaction(|views| {
            let [candidates, rest @ ..] = views.as_slice() else {
                unreachable!("the candidate tree is always given");
            };
            let before = read_candidate_tx(candidates, id)?;
            let mut candidate = before.clone();
            let out = hook(&mut candidate, rest)?;
            // What the store owns stays as it was.
            candidate.id = before.id;
            candidate.account_id = before.account_id;
            candidate.position_id = before.position_id;
            candidate.connection_id = before.connection_id;
            candidate.stage_id = before.stage_id;
            candidate.moves = before.moves;
            candidate.updated_at_unix = now_unix();
            write_candidate_tx(candidates, &candidate)?;
            Ok((candidate, out))
        })?)
    }

    /// Sets a candidate's push state.
    pub fn set_push_state(&self, id: u64, push: PushState) -> Result<Candidate, StoreError> {
        Ok(self
            .update_candidate_with(id, &[], |c, _| {
                c.push = push.clone();
                Ok(())
            })?
            .0)
    }

    /// Records whether move `seq` of a candidate reached the ATS.
    pub fn set_move_propagation(
        &self,
        candidate_id: u64,
        seq: u64,
        propagation: Propagation,
    ) -> Result<StageMove, StoreError> {
        let key = keys::stage_move(candidate_id, seq);
        let _gate = self.write_gate();
        Ok(self.trees.stage_moves.transaction(|tx| {
            let bytes = tx.get(key)?.ok_or_else(|| abort(StoreError::UnknownMove { candidate: candidate_id, seq }))?;
            let mut m: StageMove = codec::decode(keys::STAGE_MOVES, seq, &bytes).map_err(abort)?;
            m.propagation = propagation.clone();
            write_move_tx(tx, &m)?;
            Ok(m)
        })?)
    }

    /// A candidate's moves, oldest first (the creation is the first).
    pub fn stage_moves(&self, candidate_id: u64) -> Result<Vec<StageMove>, StoreError> {
        self.trees
            .stage_moves
            .scan_prefix(keys::candidate(candidate_id))
            .map(|entry| {
                let (_, bytes) = entry?;
                codec::decode(keys::STAGE_MOVES, candidate_id, &bytes)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::store::candidate_model::{MAX_RESUME_BYTES, NewResume};
    use crate::store::testutil::{commit_jobs, connection, temp_store};

    fn new_candidate(position_id: u64, name: &str) -> NewCandidate {
        NewCandidate {
            position_id,
            name: name.into(),
            email: "ada@example.com".into(),
            phone: None,
            links: vec![],
            resume: Some(NewResume {
                file_name: "cv.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: b"%PDF-1.7".to_vec(),
            }),
            answers: BTreeMap::new(),
            source: Some("api".into()),
            stage_id: None,
            by: MovedBy::User { name: "platform".into() },
        }
    }

    fn user() -> MovedBy {
        MovedBy::User { name: "recruiter".into() }
    }

    #[test]
    fn a_candidate_is_created_in_the_first_stage_moved_and_its_history_kept() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let p = commit_jobs(&store, &c.id, &[("J1", "Engineer")]).remove(0);
        let (cand, first) = store.create_candidate(new_candidate(p.id, "Ada")).unwrap();
        assert_eq!((cand.stage_id.as_str(), cand.account_id.as_str()), ("new-submission", "acme"));
        assert_eq!(cand.connection_id, c.id);
        assert_eq!(cand.push, PushState::NotSent);
        assert_eq!((first.from.as_deref(), first.to.as_str(), first.seq), (None, "new-submission", 0));
        assert_eq!(store.candidate(cand.id).unwrap(), Some(cand.clone()));
        assert_eq!(store.candidate_resume(cand.id).unwrap().unwrap(), b"%PDF-1.7");

        let (moved, m) = store.move_candidate(cand.id, "interview", user()).unwrap();
        assert_eq!(moved.stage_id, "interview");
        assert_eq!((m.from.as_deref(), m.to.as_str(), m.seq, &m.by), (Some("new-submission"), "interview", 1, &user()));
        let err = store.move_candidate(cand.id, "interview", user()).unwrap_err();
        assert!(matches!(err, StoreError::AlreadyInStage { .. }), "{err}");
        assert!(matches!(store.move_candidate(cand.id, "nope", user()), Err(StoreError::UnknownStage { .. })));
        assert!(matches!(store.move_candidate(999, "offer", user()), Err(StoreError::UnknownCandidate(999))));
        store.move_candidate(cand.id, "offer", MovedBy::Ats).unwrap();

        let history = store.stage_moves(cand.id).unwrap();
        let path: Vec<(Option<&str>, &str)> = history.iter().map(|m| (m.from.as_deref(), m.to.as_str())).collect();
        assert_eq!(
            path,
            [(None, "new-submission"), (Some("new-submission"), "interview"), (Some("interview"), "offer")]
        );
        assert_eq!(history[2].by, MovedBy::Ats);
        let m = store.set_move_propagation(cand.id, 2, Propagation::Propagated { at_unix: 5 }).unwrap();
        assert_eq!(store.stage_moves(cand.id).unwrap()[2], m);
        assert!(store.set_move_propagation(cand.id, 9, Propagation::Pending).is_err());
    }

    #[test]
    fn a_stage_with_candidates_cannot_be_deleted_until_they_leave() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let p = commit_jobs(&store, &c.id, &[("J1", "Engineer")]).remove(0);
        let mut new = new_candidate(p.id, "Ada");
        new.stage_id = Some("screening".into());
        let (cand, _) = store.create_candidate(new).unwrap();
        let err = store.delete_hiring_stage("acme", "screening").unwrap_err();
        assert!(matches!(err, StoreError::StageInUse { candidates: 1, .. }), "{err}");
        assert_eq!(store.candidates_per_stage("acme").unwrap().get("screening"), Some(&1));
        store.move_candidate(cand.id, "offer", user()).unwrap();
        store.delete_hiring_stage("acme", "screening").unwrap();
        assert!(matches!(store.delete_hiring_stage("acme", "offer"), Err(StoreError::StageInUse { .. })));
        let mut new = new_candidate(p.id, "Bo");
        new.stage_id = Some("screening".into());
        assert!(matches!(store.create_candidate(new), Err(StoreError::UnknownStage { .. })));
    }

    #[test]
    fn candidates_come_in_pages_by_position_account_and_stage() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let ps = commit_jobs(&store, &c.id, &[("J1", "A"), ("J2", "B")]);
        let mut ids = Vec::new();
        for i in 0..5 {
            let (cand, _) = store.create_candidate(new_candidate(ps[i % 2].id, &format!("C{i}"))).unwrap();
            ids.push(cand.id);
        }
        store.move_candidate(ids[4], "hired", user()).unwrap();
        let by_p0 = CandidateFilter { position_id: Some(ps[0].id), ..Default::default() };
        let first = store.candidates_page(&by_p0, None, 2).unwrap();
        let rest = store.candidates_page(&by_p0, Some(first[1].id), 10).unwrap();
        let got: Vec<u64> = first.iter().chain(&rest).map(|c| c.id).collect();
        assert_eq!(got, [ids[0], ids[2], ids[4]]);
        let acme = CandidateFilter { account_id: Some("acme".into()), ..Default::default() };
        assert_eq!(store.candidates_page(&acme, None, 100).unwrap().len(), 5);
        assert!(
            store
                .candidates_page(&CandidateFilter { account_id: Some("acme-2".into()), ..Default::default() }, None, 9)
                .unwrap()
                .is_empty()
        );
        let hired = CandidateFilter { stage_id: Some("hired".into()), ..Default::default() };
        assert_eq!(store.candidates_page(&hired, None, 100).unwrap()[0].id, ids[4]);
        assert!(store.candidates_page(&acme, Some(u64::MAX), 10).unwrap().is_empty());
        assert!(store.create_candidate(new_candidate(999_999, "X")).is_err());
    }

    #[test]
    fn a_hook_writes_in_the_same_transaction_or_not_at_all() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let p = commit_jobs(&store, &c.id, &[("J1", "A")]).remove(0);
        let side = store.db.open_tree("test_side").unwrap();
        let (cand, first) = store
            .create_candidate_with(new_candidate(p.id, "Ada"), &[&side], |c, m, tx| {
                c.push = PushState::Queued;
                m.propagation = Propagation::Pending;
                tx[0].insert(&keys::candidate(c.id), b"queued".as_slice())?;
                Ok(())
            })
            .unwrap();
        assert_eq!(cand.push, PushState::Queued);
        assert_eq!(first.propagation, Propagation::Pending);
        assert_eq!(side.get(keys::candidate(cand.id)).unwrap().unwrap(), b"queued".as_slice());

        // A hook that fails aborts the move and its own writes.
        let err = store
            .move_candidate_with(cand.id, "offer", user(), &[&side], |c, _, tx| {
                tx[0].insert(b"moved".as_slice(), b"x".as_slice())?;
                Err(abort(StoreError::UnknownCandidate(c.id)))
            })
            .unwrap_err();
        assert!(matches!(err, StoreError::UnknownCandidate(_)));
        assert!(side.get(b"moved").unwrap().is_none());
        assert_eq!(store.candidate(cand.id).unwrap().unwrap().stage_id, "new-submission");
        assert_eq!(store.stage_moves(cand.id).unwrap().len(), 1);

        // An update hook cannot move the candidate behind the counts' back.
        let (updated, n) = store
            .update_candidate_with(cand.id, &[&side], |c, tx| {
                c.stage_id = "hired".into();
                c.push = PushState::Failed { message: "no".into(), at_unix: 1, retryable: false };
                tx[0].insert(b"updated".as_slice(), b"y".as_slice())?;
                Ok(7)
            })
            .unwrap();
        assert_eq!((updated.stage_id.as_str(), n), ("new-submission", 7));
        assert!(matches!(updated.push, PushState::Failed { .. }));
        assert!(side.get(b"updated").unwrap().is_some());
        assert_eq!(store.set_push_state(cand.id, PushState::NotSent).unwrap().push, PushState::NotSent);
    }

    #[test]
    fn a_large_resume_is_stored_apart_from_the_record() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let p = commit_jobs(&store, &c.id, &[("J1", "A")]).remove(0);
        let mut new = new_candidate(p.id, "Ada");
        new.resume.as_mut().unwrap().bytes = vec![7; MAX_RESUME_BYTES / 8];
        let (cand, _) = store.create_candidate(new).unwrap();
        assert_eq!(cand.resume.as_ref().unwrap().size, (MAX_RESUME_BYTES / 8) as u64);
        let record = store.trees.candidates.get(keys::candidate(cand.id)).unwrap().unwrap();
        assert!(record.len() < 4096, "the record stays small: {}", record.len());
        assert_eq!(store.candidate_resume(cand.id).unwrap().unwrap().len(), MAX_RESUME_BYTES / 8);
    }
}
