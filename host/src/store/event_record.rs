//! The stored form of one event, apart from the JSON webhooks send.
//!
//! A full sync writes an event per position it creates, so encoding events
//! is per-job work. A position event is small and fixed in shape (its head
//! and the version of the position it shows), and is written in a binary
//! form: `codec`'s binary format byte, a layout byte ([`LAYOUT_V1`]), then
//! `postcard` over [`PositionEventV1`], whose fields are in a fixed order
//! and whose kind is its wire name (so the stored form does not depend on
//! the order of [`EventKind`]'s variants). A candidate event holds a copy of
//! its position and stays JSON.
//!
//! Events written as JSON before read as before, forever: a position event
//! with its `position_ref` (schema v6), or with a copy of the position
//! (before v6), and every candidate event.
//!
//! # Hostile bytes
//!
//! A record is the slice of one event inside a batch (`event_batch`), which
//! is bounded by sled's value. postcard checks every length against the
//! bytes that remain before it borrows a string, and trailing bytes are an
//! error, so a damaged record gives [`StoreError::Corrupt`] naming the
//! event, never a panic or a misread.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::codec::{self, Body, NotWhole};
use super::events::{CandidateEvent, EventKind};
use super::model::Position;
use super::position_versions::PositionRef;
use super::{StoreError, keys, now_unix};

/// The layout byte of [`PositionEventV1`]. Never reorder, remove or retype
/// a field of it: add a layout instead.
const LAYOUT_V1: u8 = 1;

/// Room for a binary position event besides its account and connection
/// ids: the format and layout bytes, the kind's name (at most 23 bytes and
/// its length), six integers of at most 10 bytes each (postcard's
/// varints) and the two ids' lengths, so that the encoding seldom grows
/// its buffer.
const RECORD_OVERHEAD: usize = 2 + 24 + 6 * 10 + 2;

/// A position event as stored, layout 1: [`super::events::Event`]'s head
/// and, instead of the position, the version of it the event shows
/// (`position_versions`).
#[derive(Serialize, Deserialize)]
struct PositionEventV1<'a> {
    id: u64,
    /// [`EventKind::as_str`].
    #[serde(borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    account_id: Cow<'a, str>,
    #[serde(borrow)]
    connection_id: Cow<'a, str>,
    run_seq: u64,
    occurred_unix: i64,
    position_id: u64,
    version: u64,
}

/// Any stored event: a position event refers to its position's version
/// (`position_ref`); a candidate event, or one written before v6, holds a
/// copy (`position`).
#[derive(Deserialize)]
pub(crate) struct StoredEvent {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub account_id: String,
    pub connection_id: String,
    pub run_seq: u64,
    pub occurred_unix: i64,
    #[serde(default)]
    pub position: Option<Position>,
    #[serde(default)]
    pub position_ref: Option<PositionRef>,
    #[serde(default)]
    pub candidate: Option<CandidateEvent>,
}

/// What the summary of a run reads of an event: its head and the position
/// it is about, without the position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EventHead {
    pub kind: EventKind,
    pub connection_id: String,
    pub run_seq: u64,
    pub occurred_unix: i64,
    /// The position's id, for a position event (or a candidate event's
    /// position).
    pub position_id: Option<u64>,
}

/// The record of event `id` about `after`, written as version `version`
/// in the same transaction. The id is drawn before the transaction:
/// sled's id generator takes a lock that a running transaction holds.
pub(crate) fn encode_position_event(
    id: u64,
    run_seq: u64,
    kind: EventKind,
    after: &Position,
    version: u64,
) -> Result<Vec<u8>, StoreError> {
    let record = PositionEventV1 {
        id,
        kind: Cow::Borrowed(kind.as_str()),
        account_id: Cow::Borrowed(&after.account_id),
        connection_id: Cow::Borrowed(&after.connection_id),
        run_seq,
        occurred_unix: now_unix(),
        position_id: after.id,
        version,
    };
    let capacity = RECORD_OVERHEAD + after.account_id.len() + after.connection_id.len();
    let mut bytes = codec::binary_frame(None, capacity);
    bytes.push(LAYOUT_V1);
    postcard::to_extend(&record, bytes).map_err(|e| StoreError::Encode { what: "event", reason: e.to_string() })
}

/// Decodes the stored event `id`, in either form.
pub(crate) fn decode(id: u64, bytes: &[u8]) -> Result<StoredEvent, StoreError> {
    match codec::body(bytes).map_err(|reason| corrupt(id, reason))? {
        Body::Json(json) => serde_json::from_slice(json).map_err(|e| corrupt(id, e.to_string())),
        Body::Binary(record) => {
            let r = position_event(record).map_err(|reason| corrupt(id, reason))?;
            Ok(StoredEvent {
                id: r.id,
                kind: kind(&r.kind).map_err(|reason| corrupt(id, reason))?,
                account_id: r.account_id.into_owned(),
                connection_id: r.connection_id.into_owned(),
                run_seq: r.run_seq,
                occurred_unix: r.occurred_unix,
                position: None,
                position_ref: Some(PositionRef { id: r.position_id, version: r.version }),
                candidate: None,
            })
        }
    }
}

/// Decodes only the head of the stored event `id`, in either form (a JSON
/// event's position copy is skipped, not decoded).
pub(crate) fn decode_head(id: u64, bytes: &[u8]) -> Result<EventHead, StoreError> {
    #[derive(Deserialize)]
    struct JsonHead {
        #[serde(rename = "type")]
        kind: EventKind,
        connection_id: String,
        run_seq: u64,
        occurred_unix: i64,
        // A position event refers to its position (v6); a copy before.
        #[serde(default)]
        position_ref: Option<PositionId>,
        #[serde(default)]
        position: Option<PositionId>,
    }
    #[derive(Deserialize)]
    struct PositionId {
        id: u64,
    }
    match codec::body(bytes).map_err(|reason| corrupt(id, reason))? {
        Body::Json(json) => {
            let head: JsonHead = serde_json::from_slice(json).map_err(|e| corrupt(id, e.to_string()))?;
            Ok(EventHead {
                kind: head.kind,
                connection_id: head.connection_id,
                run_seq: head.run_seq,
                occurred_unix: head.occurred_unix,
                position_id: head.position_ref.or(head.position).map(|p| p.id),
            })
        }
        Body::Binary(record) => {
            let r = position_event(record).map_err(|reason| corrupt(id, reason))?;
            Ok(EventHead {
                kind: kind(&r.kind).map_err(|reason| corrupt(id, reason))?,
                connection_id: r.connection_id.into_owned(),
                run_seq: r.run_seq,
                occurred_unix: r.occurred_unix,
                position_id: Some(r.position_id),
            })
        }
    }
}

/// A binary record past its format byte: its layout, then the whole of
/// one [`PositionEventV1`].
fn position_event(record: &[u8]) -> Result<PositionEventV1<'_>, String> {
    let fields = match record.split_first() {
        Some((&LAYOUT_V1, fields)) => fields,
        Some((layout, _)) => return Err(format!("event layout {layout} is unknown (written by a newer atsbridge?)")),
        None => return Err("binary event without a layout".into()),
    };
    codec::postcard_whole(fields).map_err(|e| match e {
        NotWhole::Decode(e) => format!("binary event: {e}"),
        NotWhole::Trailing(n) => format!("binary event with {n} bytes after it"),
    })
}

/// The kind named `name` on the wire.
fn kind(name: &str) -> Result<EventKind, String> {
    EventKind::ALL
        .into_iter()
        .find(|k| k.as_str() == name)
        .ok_or_else(|| format!("unknown event kind `{}`", name.escape_debug()))
}

fn corrupt(id: u64, reason: String) -> StoreError {
    StoreError::Corrupt { tree: keys::EVENTS, key: id.to_string(), reason }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::{commit_jobs, connection, temp_store};

    fn position() -> Position {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        commit_jobs(&store, &c.id, &[("J1", "Engineer")]).remove(0)
    }

    #[test]
    fn a_binary_position_event_reads_back_whole_and_as_its_head() {
        let p = position();
        let bytes = encode_position_event(41, 3, EventKind::PositionReopened, &p, 40).unwrap();
        let stored = decode(41, &bytes).unwrap();
        assert_eq!((stored.id, stored.kind, stored.run_seq), (41, EventKind::PositionReopened, 3));
        assert_eq!((stored.account_id.as_str(), stored.connection_id.as_str()), (&*p.account_id, &*p.connection_id));
        assert_eq!(stored.position_ref, Some(PositionRef { id: p.id, version: 40 }));
        assert!(stored.position.is_none() && stored.candidate.is_none());
        assert!((stored.occurred_unix - now_unix()).abs() < 60);
        let head = decode_head(41, &bytes).unwrap();
        assert_eq!(
            head,
            EventHead {
                kind: EventKind::PositionReopened,
                connection_id: p.connection_id.clone(),
                run_seq: 3,
                occurred_unix: stored.occurred_unix,
                position_id: Some(p.id),
            }
        );
        // Every kind is stored by its name and reads back as itself.
        for k in EventKind::ALL {
            assert_eq!(decode(1, &encode_position_event(1, 0, k, &p, 1).unwrap()).unwrap().kind, k);
        }
    }

    #[test]
    fn a_binary_event_is_a_fraction_of_its_json_form() {
        let p = position();
        let binary = encode_position_event(41, 3, EventKind::PositionCreated, &p, 41).unwrap();
        let json = codec::encode(
            "event",
            &serde_json::json!({
                "id": 41, "type": "position.created", "account_id": p.account_id,
                "connection_id": p.connection_id, "run_seq": 3, "occurred_unix": now_unix(),
                "position_ref": {"id": p.id, "version": 41},
            }),
        )
        .unwrap();
        assert!(binary.len() * 2 < json.len(), "{} bytes binary, {} JSON", binary.len(), json.len());
        // The JSON form (schema v6 to v9) still reads, whole and as its head.
        let stored = decode(41, &json).unwrap();
        assert_eq!(stored.position_ref, Some(PositionRef { id: p.id, version: 41 }));
        assert_eq!(decode_head(41, &json).unwrap().position_id, Some(p.id));
    }

    #[test]
    fn damaged_binary_events_are_errors_naming_the_event() {
        let p = position();
        let good = encode_position_event(9, 1, EventKind::PositionCreated, &p, 9).unwrap();
        let mut cases: Vec<(Vec<u8>, &str)> = vec![
            (good[..good.len() - 1].to_vec(), "binary event"),
            ([&good[..], &[0]].concat(), "1 bytes after it"),
            (good[..1].to_vec(), "without a layout"),
        ];
        let mut newer = good.clone();
        newer[1] = 7;
        cases.push((newer, "event layout 7 is unknown"));
        // A kind this binary does not know, of the same length as a real one.
        let mut renamed = good.clone();
        let at = renamed.windows(16).position(|w| w == b"position.created").unwrap();
        renamed[at..at + 16].copy_from_slice(b"position.CREATED");
        cases.push((renamed, "unknown event kind `position.CREATED`"));
        for (bytes, why) in cases {
            for err in [decode(9, &bytes).err(), decode_head(9, &bytes).err()] {
                match err {
                    Some(StoreError::Corrupt { tree, key, reason }) => {
                        assert_eq!((tree, key.as_str()), (keys::EVENTS, "9"));
                        assert!(reason.contains(why), "{why}: {reason}");
                    }
                    other => panic!("{why}: {other:?}"),
                }
            }
        }
    }
}
