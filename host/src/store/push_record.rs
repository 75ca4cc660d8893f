//! A candidate's push history: one [`PushRecord`] per push that ended
//! (pushed, or failed for good), with what it cost over all its attempts.
//!
//! A push runs in attempts (the outbox tries a failed one again later), each
//! metered on its own ([`crate::runtime::meter`]). A failed attempt adds its
//! cost to its outbox entry's [`OutboxEntry::metering`]; the last attempt
//! adds its own and the whole becomes the candidate's record of the push,
//! in the transaction that records its result. The records kept count the
//! bytes they wrote to the store too: each retry's entry record, the
//! result's event and the candidate record that carries the history.
//!
//! Every field has a default: candidates and entries written before pushes
//! were recorded read as having no history and no cost so far.

use serde::{Deserialize, Serialize};

use super::candidate_model::Candidate;
use super::outbox::{OutboxEntry, PushOutcome};
use super::run_metering::RunMetering;
use super::write_tally::encode_counting_itself;
use super::{StoreError, keys};

/// Pushes kept per candidate, newest last; older ones are dropped. A
/// candidate is pushed once, and again only after a failure someone
/// retried: a handful in practice. The bound keeps a candidate whose push
/// is retried forever from growing its record without end.
pub const MAX_PUSH_RECORDS: usize = 20;

/// One push of a candidate that ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PushRecord {
    /// The outbox entry that carried it.
    pub entry_id: u64,
    /// `pushed` or `failed`.
    pub outcome: String,
    /// When it ended, Unix seconds.
    pub at_unix: i64,
    /// Attempts made, the last included.
    pub attempts: u32,
    /// What its attempts cost, summed (`retries`: the attempts before the
    /// last); `None` when no attempt called the plugin (the push was
    /// refused before, say for a stage with no mapping).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metering: Option<RunMetering>,
}

/// `entry`'s cost so far with `cost` (one failed attempt's) added, and the
/// entry's record encoded counting itself: the value to store under `key`.
pub(super) fn encode_retried_entry(
    entry: &mut OutboxEntry,
    key: &[u8],
    cost: Option<&RunMetering>,
) -> Result<Vec<u8>, StoreError> {
    let Some(cost) = cost else { return super::codec::encode("outbox entry", entry) };
    let mut sum = entry.metering.take().unwrap_or_default();
    sum.add(cost);
    let before = sum.store_bytes_written;
    entry.metering = Some(sum);
    encode_counting_itself("outbox entry", entry, key.len(), before, |e| {
        e.metering.as_mut().map(|m| &mut m.store_bytes_written)
    })
}

/// Adds the record of the push `entry` (as stored: with the cost of its
/// failed attempts) ended with `outcome` to `candidate`'s history. `cost` is
/// the last attempt's, `written` the bytes its result wrote besides the
/// candidate record (its event); the candidate record counts itself.
pub(super) fn record_push(
    candidate: &mut Candidate,
    stored: &OutboxEntry,
    outcome: &PushOutcome,
    cost: Option<&RunMetering>,
    written: u64,
    at_unix: i64,
) -> Result<(), StoreError> {
    let mut metering = stored.metering.clone();
    if let Some(cost) = cost {
        let sum = metering.get_or_insert_with(RunMetering::default);
        sum.add(cost);
        sum.retries = sum.retries.max(u64::from(stored.attempts));
    }
    let before = metering.as_ref().map(|m| m.store_bytes_written.saturating_add(written));
    candidate.pushes.push(PushRecord {
        entry_id: stored.id,
        outcome: match outcome {
            PushOutcome::Pushed(_) => "pushed",
            PushOutcome::Failed(_) => "failed",
        }
        .to_string(),
        at_unix,
        attempts: stored.attempts.saturating_add(1),
        metering,
    });
    if candidate.pushes.len() > MAX_PUSH_RECORDS {
        let extra = candidate.pushes.len() - MAX_PUSH_RECORDS;
        candidate.pushes.drain(..extra);
    }
    if let Some(before) = before {
        let key_len = keys::candidate(candidate.id).len();
        encode_counting_itself("candidate", candidate, key_len, before, |c| {
            c.pushes.last_mut().and_then(|p| p.metering.as_mut()).map(|m| &mut m.store_bytes_written)
        })?;
    }
    Ok(())
}
