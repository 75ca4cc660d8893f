//! The events of one commit, stored a few to a record.
//!
//! A page commit that creates 500 positions has 500 events. Stored one
//! record each (plus one pending mark each) they were two of the five sled
//! records a new job cost; stored a few to a record ([`MAX_BATCH_BYTES`])
//! with one pending mark per record, they are a fraction of that. Each
//! event inside is the same bytes a record of its own would hold, so
//! reading one event decodes only its slice.
//!
//! # Layout
//!
//! The `events` tree holds two kinds of values under an event id key:
//!
//! - a single event (`event_record`: binary, or JSON written before):
//!   key = its id;
//! - a batch (format byte [`FORMAT_BATCH`]): key = its first event's id;
//!   then the count (`u32` BE), one entry per event (id `u64` BE, end
//!   offset of its bytes `u32` BE), and the events' records back to back.
//!
//! A batch's ids ascend, and no other event's id falls between its first
//! and last: commits draw their event ids under one lock
//! ([`Store::draw_event_ids`](super::Store::draw_event_ids)). So the record
//! that holds event `id` is the one with the greatest key at or below it.
//!
//! The `events_pending` tree marks what is not yet fanned out to webhooks:
//! an empty value under an event's id marks that event; a non-empty value
//! under a batch's key lists the batch's ids still pending (`u64` BE each).

use std::ops::Range;

use super::{StoreError, keys};

/// Format byte of a batch of events (codec's JSON is 1).
pub(crate) const FORMAT_BATCH: u8 = 0xB1;

/// Most events in one batch record.
pub(crate) const MAX_EVENTS_PER_BATCH: usize = 64;

/// A batch record is closed once its events take this many bytes. sled
/// splits a leaf only past 16 items, whatever their size, and writes a
/// node over 128 KiB as a blob file of its own: records of a few KiB keep
/// a leaf of them under that. (Pages of 500 events as one record, about
/// 1 MiB, made 16 MiB leaves: at 100,000 jobs the resync read positions
/// slower and the process's memory tripled.)
pub(crate) const MAX_BATCH_BYTES: usize = 4 << 10;

/// Records a lookup walks back over to find an event whose id was drawn
/// without the lock (a single event drawn while a batch drew its ids):
/// a handful at most in practice.
pub(crate) const MAX_WALK_BACK: usize = 8;

const HEADER: usize = 1 + 4;
const ENTRY: usize = 8 + 4;

/// Builds one batch record.
#[derive(Default)]
pub(crate) struct BatchBuilder {
    ids: Vec<u64>,
    ends: Vec<u32>,
    body: Vec<u8>,
}

impl BatchBuilder {
    /// Whether the record is full ([`MAX_EVENTS_PER_BATCH`],
    /// [`MAX_BATCH_BYTES`]).
    pub(crate) fn is_full(&self) -> bool {
        self.ids.len() >= MAX_EVENTS_PER_BATCH || self.body.len() >= MAX_BATCH_BYTES
    }

    /// Adds event `id` (ids must ascend), encoded as a single record.
    pub(crate) fn push(&mut self, id: u64, record: &[u8]) -> Result<(), StoreError> {
        let too_big = || StoreError::Encode { what: "event batch", reason: "more than 4 GiB of events".into() };
        self.body.extend_from_slice(record);
        self.ids.push(id);
        self.ends.push(u32::try_from(self.body.len()).map_err(|_| too_big())?);
        Ok(())
    }

    /// The record's key (its first id) and value; `None` when empty.
    pub(crate) fn finish(&self) -> Option<([u8; 8], Vec<u8>, Vec<u8>)> {
        let first = *self.ids.first()?;
        let mut value = Vec::with_capacity(HEADER + ENTRY * self.ids.len() + self.body.len());
        value.push(FORMAT_BATCH);
        value.extend_from_slice(&(self.ids.len() as u32).to_be_bytes());
        for (id, end) in self.ids.iter().zip(&self.ends) {
            value.extend_from_slice(&id.to_be_bytes());
            value.extend_from_slice(&end.to_be_bytes());
        }
        value.extend_from_slice(&self.body);
        let pending = self.ids.iter().flat_map(|id| id.to_be_bytes()).collect();
        Some((keys::event(first), value, pending))
    }
}

fn corrupt(key: u64, reason: &str) -> StoreError {
    StoreError::Corrupt { tree: keys::EVENTS, key: key.to_string(), reason: reason.into() }
}

/// The events of a record stored under `key`: (id, its record's bytes).
pub(crate) fn entries(key: u64, value: &[u8]) -> Result<Vec<(u64, Range<usize>)>, StoreError> {
    if value.first() != Some(&FORMAT_BATCH) {
        return Ok(vec![(key, 0..value.len())]);
    }
    let count = value
        .get(1..HEADER)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or_else(|| corrupt(key, "truncated event batch"))? as usize;
    let body = HEADER + ENTRY * count;
    if value.len() < body {
        return Err(corrupt(key, "truncated event batch index"));
    }
    let mut out = Vec::with_capacity(count);
    let mut start = body;
    for i in 0..count {
        let at = HEADER + ENTRY * i;
        let id = u64::from_be_bytes(value[at..at + 8].try_into().map_err(|_| corrupt(key, "bad id"))?);
        let end = u32::from_be_bytes(value[at + 8..at + ENTRY].try_into().map_err(|_| corrupt(key, "bad offset"))?);
        let end = body + end as usize;
        if end < start || end > value.len() {
            return Err(corrupt(key, "event batch offsets out of order"));
        }
        out.push((id, start..end));
        start = end;
    }
    Ok(out)
}

/// The ids a pending mark under `key` stands for.
pub(crate) fn pending_ids(key: u64, value: &[u8]) -> Result<Vec<u64>, StoreError> {
    if value.is_empty() {
        return Ok(vec![key]);
    }
    if !value.len().is_multiple_of(8) {
        return Err(StoreError::Corrupt {
            tree: keys::EVENTS_PENDING,
            key: key.to_string(),
            reason: "pending ids are not 8 bytes each".into(),
        });
    }
    Ok(value.chunks_exact(8).map(|c| u64::from_be_bytes(c.try_into().unwrap_or_default())).collect())
}

/// The pending mark under `key` with `id` taken out: `None` when nothing
/// is left (remove the mark).
pub(crate) fn without_pending(key: u64, value: &[u8], id: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let rest: Vec<u8> =
        pending_ids(key, value)?.into_iter().filter(|&p| p != id).flat_map(|p| p.to_be_bytes()).collect();
    Ok((!rest.is_empty()).then_some(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_reads_back_each_event_by_its_slice() {
        let mut b = BatchBuilder::default();
        b.push(7, b"\x01{\"a\":1}").unwrap();
        b.push(9, b"\x01{}").unwrap();
        let (key, value, pending) = b.finish().unwrap();
        assert_eq!(key, 7u64.to_be_bytes());
        let got: Vec<(u64, &[u8])> = entries(7, &value).unwrap().into_iter().map(|(id, r)| (id, &value[r])).collect();
        assert_eq!(got, vec![(7, &b"\x01{\"a\":1}"[..]), (9, &b"\x01{}"[..])]);
        assert_eq!(pending_ids(7, &pending).unwrap(), vec![7, 9]);
        assert_eq!(without_pending(7, &pending, 7).unwrap(), Some(9u64.to_be_bytes().to_vec()));
        assert_eq!(without_pending(9, &9u64.to_be_bytes(), 9).unwrap(), None);
        // A single event's record and mark.
        assert_eq!(entries(3, b"\x01{}").unwrap(), vec![(3, 0..3)]);
        assert_eq!(pending_ids(3, b"").unwrap(), vec![3]);
        assert_eq!(without_pending(3, b"", 3).unwrap(), None);
        assert!(BatchBuilder::default().finish().is_none());
    }

    #[test]
    fn damaged_batches_are_errors_not_panics() {
        let mut b = BatchBuilder::default();
        b.push(1, b"\x01{}").unwrap();
        let (_, value, _) = b.finish().unwrap();
        for cut in 1..value.len() - 1 {
            let _ = entries(1, &value[..cut]);
        }
        assert!(entries(1, &value[..3]).is_err());
        assert!(entries(1, &[FORMAT_BATCH, 0, 0, 0, 9]).is_err());
        assert!(pending_ids(1, &[1, 2, 3]).is_err());
    }
}
