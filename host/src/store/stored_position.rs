//! The stored form of a position, apart from the JSON the API and webhooks
//! show.
//!
//! A full sync writes one position record per job, and encoding it was a
//! good share of the sync's own work: JSON escapes every string (the
//! description, HTML, is most of a record) and spells out every field name.
//! The binary form here copies strings as they are, after a length, and
//! names no field: `postcard` over [`Record`], whose fields are in a fixed
//! order. It is its own type, not `Position`'s serde, so that what the API
//! and webhooks emit (`Position` as JSON, unchanged) and what the store
//! keeps can change apart.
//!
//! # Forms, and records written before
//!
//! A value is framed by `codec`: format 3 (binary) or 4 (binary with the
//! version events refer to, as `codec::encode_versioned`), then a layout
//! byte ([`LAYOUT_V1`]: the fields of [`Record`] in their order), then the
//! record. A field added later is a new layout, read alongside this one.
//!
//! Records written as JSON (formats 1 and 2) read as before, forever: every
//! write of a position writes the binary form, so a store turns binary as
//! its positions change, with no migration to wait for. Kept versions
//! (`position_versions`) and backups hold whichever form the record had.
//!
//! # Hostile bytes
//!
//! A record is decoded only up to [`MAX_RECORD_BYTES`]; every length in it
//! is checked against the bytes that remain before anything is allocated
//! for it (postcard's strings; serde's sequences preallocate at most 1 MiB),
//! so a corrupt record costs at most about its own size, and gives
//! [`StoreError::Corrupt`] naming the position, never a panic.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Display;

use serde::de::Deserializer;
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

use super::StoreError;
use super::codec::{self, Body, NotWhole};
use super::model::{AuthorizedUser, CloseReason, Position, PositionStatus, Tracked};
use super::publication::Publication;

/// The layout byte of [`Record`]'s fields in their order. Never reorder,
/// remove or retype a field of it: add a layout instead.
const LAYOUT_V1: u8 = 1;

/// The largest position record encoded or decoded: the same as the largest
/// record a backup restores (`backup`), far above a real position (a few
/// KiB: the description is most of it), low enough to bound what a corrupt
/// length could make a read allocate.
pub(crate) const MAX_RECORD_BYTES: usize = 64 << 20;

/// Room reserved for a record beyond its description, so that most
/// encodings never grow their buffer.
const RECORD_OVERHEAD: usize = 512;

/// The fields of a stored position that decide whether a patch changes it,
/// read without the rest of the record (description, lists, maps).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct PositionHead {
    /// The connection it belongs to.
    pub connection_id: String,
    /// The content hash of the last applied job.
    pub content_hash: String,
    /// Set while closed.
    pub closed_reason: Option<CloseReason>,
    /// Mapped status.
    pub status: PositionStatus,
}

/// A position as stored, layout 1. The head's fields come first, so that
/// [`decode_head`] reads only them. Strings borrow from the position when
/// encoding and are owned when decoding.
#[derive(Serialize, Deserialize)]
struct Record<'a> {
    connection_id: Cow<'a, str>,
    content_hash: Cow<'a, str>,
    closed_reason: Option<Closed>,
    status: Status<'a>,
    id: u64,
    account_id: Cow<'a, str>,
    ats_job_code: Cow<'a, str>,
    name: Cow<'a, str>,
    name_local: Option<Cow<'a, str>>,
    locations: Cow<'a, [String]>,
    locations_local: Option<Cow<'a, [String]>>,
    description: Cow<'a, str>,
    description_local: Option<Cow<'a, str>>,
    authorized_users: Users<'a>,
    authorized_users_local: Option<Users<'a>>,
    ats_raw_status: Cow<'a, str>,
    published: bool,
    /// The publication record as JSON, absent while it is the default (as
    /// for every position no one decided on). It changes rarely, is written
    /// outside the sync, and its types are tagged enums that a format
    /// without field names cannot carry.
    publication: Option<String>,
    extra: Cow<'a, BTreeMap<String, String>>,
    ats_updated_at: Option<Cow<'a, str>>,
    last_seen_run: u64,
    created_at_unix: i64,
    updated_at_unix: i64,
}

/// The head of [`Record`] (its first fields), borrowed from the bytes.
#[derive(Deserialize)]
struct HeadRecord<'a> {
    #[serde(borrow)]
    connection_id: &'a str,
    #[serde(borrow)]
    content_hash: &'a str,
    closed_reason: Option<Closed>,
    status: Status<'a>,
}

/// [`PositionStatus`] as stored: variants by their index, so never reorder.
#[derive(Serialize, Deserialize)]
enum Status<'a> {
    Open,
    Closed,
    Draft,
    OnHold,
    Other(Cow<'a, str>),
}

/// [`CloseReason`] as stored: variants by their index, so never reorder.
#[derive(Clone, Copy, Serialize, Deserialize)]
enum Closed {
    ClosedInAts,
    RemovedInAts,
}

/// An [`AuthorizedUser`] as stored (id, name, email).
#[derive(Serialize, Deserialize)]
struct User<'a>(Cow<'a, str>, Cow<'a, str>, Option<Cow<'a, str>>);

/// The authorized users: borrowed to encode, owned once decoded.
enum Users<'a> {
    Borrowed(&'a [AuthorizedUser]),
    Owned(Vec<AuthorizedUser>),
}

impl Serialize for Users<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let users = match self {
            Users::Borrowed(users) => users,
            Users::Owned(users) => users.as_slice(),
        };
        serializer.collect_seq(
            users
                .iter()
                .map(|u| User(Cow::Borrowed(&u.ats_id), Cow::Borrowed(&u.name), u.email.as_deref().map(Cow::Borrowed))),
        )
    }
}

impl<'de> Deserialize<'de> for Users<'_> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let users = Vec::<User<'_>>::deserialize(deserializer)?;
        Ok(Users::Owned(
            users
                .into_iter()
                .map(|User(ats_id, name, email)| AuthorizedUser {
                    ats_id: ats_id.into_owned(),
                    name: name.into_owned(),
                    email: email.map(Cow::into_owned),
                })
                .collect(),
        ))
    }
}

impl Users<'_> {
    fn into_owned(self) -> Vec<AuthorizedUser> {
        match self {
            Users::Borrowed(users) => users.to_vec(),
            Users::Owned(users) => users,
        }
    }
}

impl<'a> From<&'a PositionStatus> for Status<'a> {
    fn from(status: &'a PositionStatus) -> Self {
        match status {
            PositionStatus::Open => Status::Open,
            PositionStatus::Closed => Status::Closed,
            PositionStatus::Draft => Status::Draft,
            PositionStatus::OnHold => Status::OnHold,
            PositionStatus::Other(raw) => Status::Other(Cow::Borrowed(raw)),
        }
    }
}

impl From<Status<'_>> for PositionStatus {
    fn from(status: Status<'_>) -> Self {
        match status {
            Status::Open => PositionStatus::Open,
            Status::Closed => PositionStatus::Closed,
            Status::Draft => PositionStatus::Draft,
            Status::OnHold => PositionStatus::OnHold,
            Status::Other(raw) => PositionStatus::Other(raw.into_owned()),
        }
    }
}

impl From<CloseReason> for Closed {
    fn from(reason: CloseReason) -> Self {
        match reason {
            CloseReason::ClosedInAts => Closed::ClosedInAts,
            CloseReason::RemovedInAts => Closed::RemovedInAts,
        }
    }
}

impl From<Closed> for CloseReason {
    fn from(reason: Closed) -> Self {
        match reason {
            Closed::ClosedInAts => CloseReason::ClosedInAts,
            Closed::RemovedInAts => CloseReason::RemovedInAts,
        }
    }
}

/// Encodes a position in its stored form (no version: no event refers to
/// this record).
pub(crate) fn encode(position: &Position) -> Result<Vec<u8>, StoreError> {
    encode_framed(position, None)
}

/// Encodes a position in its stored form as version `version`
/// (`codec::version_of` reads it back), the version its events refer to.
pub(crate) fn encode_versioned(position: &Position, version: u64) -> Result<Vec<u8>, StoreError> {
    encode_framed(position, Some(version))
}

fn encode_framed(p: &Position, version: Option<u64>) -> Result<Vec<u8>, StoreError> {
    let failed = |reason: String| StoreError::Encode { what: "position", reason };
    let publication = match p.publication == Publication::default() {
        true => None,
        false => Some(serde_json::to_string(&p.publication).map_err(|e| failed(e.to_string()))?),
    };
    let record = Record {
        connection_id: Cow::Borrowed(&p.connection_id),
        content_hash: Cow::Borrowed(&p.content_hash),
        closed_reason: p.closed_reason.map(Closed::from),
        status: Status::from(&p.status),
        id: p.id,
        account_id: Cow::Borrowed(&p.account_id),
        ats_job_code: Cow::Borrowed(&p.ats_job_code),
        name: Cow::Borrowed(&p.name.ats),
        name_local: p.name.local.as_deref().map(Cow::Borrowed),
        locations: Cow::Borrowed(&p.locations.ats),
        locations_local: p.locations.local.as_deref().map(Cow::Borrowed),
        description: Cow::Borrowed(&p.description.ats),
        description_local: p.description.local.as_deref().map(Cow::Borrowed),
        authorized_users: Users::Borrowed(&p.authorized_users.ats),
        authorized_users_local: p.authorized_users.local.as_deref().map(Users::Borrowed),
        ats_raw_status: Cow::Borrowed(&p.ats_raw_status),
        published: p.published,
        publication,
        extra: Cow::Borrowed(&p.extra),
        ats_updated_at: p.ats_updated_at.as_deref().map(Cow::Borrowed),
        last_seen_run: p.last_seen_run,
        created_at_unix: p.created_at_unix,
        updated_at_unix: p.updated_at_unix,
    };
    let estimate = p.description.ats.len() + p.description.local.as_ref().map_or(0, String::len) + RECORD_OVERHEAD;
    let mut bytes = codec::binary_frame(version, estimate);
    bytes.push(LAYOUT_V1);
    let bytes = postcard::to_extend(&record, bytes).map_err(|e| failed(e.to_string()))?;
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(failed(format!("{} bytes, over the {MAX_RECORD_BYTES}-byte limit", bytes.len())));
    }
    Ok(bytes)
}

/// Decodes a stored position, in either form, read from `tree` at `key`
/// (shown in errors: the position's id, or id@version for a kept one).
pub(crate) fn decode(tree: &'static str, key: impl Display, bytes: &[u8]) -> Result<Position, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { tree, key: key.to_string(), reason };
    match checked_body(bytes).map_err(corrupt)? {
        Body::Json(json) => serde_json::from_slice(json).map_err(|e| corrupt(e.to_string())),
        Body::Binary(record) => {
            let record: Record<'_> = whole(record).map_err(corrupt)?;
            into_position(record).map_err(corrupt)
        }
    }
}

/// Decodes only the head of a stored position, in either form (see
/// [`decode`]).
pub(crate) fn decode_head(tree: &'static str, key: impl Display, bytes: &[u8]) -> Result<PositionHead, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { tree, key: key.to_string(), reason };
    match checked_body(bytes).map_err(corrupt)? {
        Body::Json(json) => serde_json::from_slice(json).map_err(|e| corrupt(e.to_string())),
        Body::Binary(record) => {
            let (head, _rest): (HeadRecord<'_>, _) = postcard::take_from_bytes(layout_v1(record).map_err(corrupt)?)
                .map_err(|e| corrupt(format!("binary position: {e}")))?;
            Ok(PositionHead {
                connection_id: head.connection_id.to_owned(),
                content_hash: head.content_hash.to_owned(),
                closed_reason: head.closed_reason.map(CloseReason::from),
                status: head.status.into(),
            })
        }
    }
}

/// The record inside a value, once its size is known to be within bounds.
fn checked_body(bytes: &[u8]) -> Result<Body<'_>, String> {
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(format!("a position record of {} bytes, over the {MAX_RECORD_BYTES}-byte limit", bytes.len()));
    }
    codec::body(bytes)
}

/// The fields of a binary record past its layout byte, if it is one this
/// binary reads.
fn layout_v1(record: &[u8]) -> Result<&[u8], String> {
    match record.split_first() {
        Some((&LAYOUT_V1, fields)) => Ok(fields),
        Some((layout, _)) => Err(format!("position layout {layout} is unknown (written by a newer atsbridge?)")),
        None => Err("binary position without a layout".into()),
    }
}

/// Decodes a whole binary record: trailing bytes mean it is not what it
/// claims to be.
fn whole(record: &[u8]) -> Result<Record<'_>, String> {
    codec::postcard_whole(layout_v1(record)?).map_err(|e| match e {
        NotWhole::Decode(e) => format!("binary position: {e}"),
        NotWhole::Trailing(n) => format!("binary position followed by {n} unexpected bytes"),
    })
}

fn into_position(r: Record<'_>) -> Result<Position, String> {
    let publication = match r.publication {
        None => Publication::default(),
        Some(json) => serde_json::from_str(&json).map_err(|e| format!("publication: {e}"))?,
    };
    Ok(Position {
        id: r.id,
        account_id: r.account_id.into_owned(),
        connection_id: r.connection_id.into_owned(),
        ats_job_code: r.ats_job_code.into_owned(),
        name: Tracked { ats: r.name.into_owned(), local: r.name_local.map(Cow::into_owned) },
        locations: Tracked { ats: r.locations.into_owned(), local: r.locations_local.map(Cow::into_owned) },
        description: Tracked { ats: r.description.into_owned(), local: r.description_local.map(Cow::into_owned) },
        authorized_users: Tracked {
            ats: r.authorized_users.into_owned(),
            local: r.authorized_users_local.map(Users::into_owned),
        },
        status: r.status.into(),
        ats_raw_status: r.ats_raw_status.into_owned(),
        closed_reason: r.closed_reason.map(CloseReason::from),
        published: r.published,
        publication,
        extra: r.extra.into_owned(),
        ats_updated_at: r.ats_updated_at.map(Cow::into_owned),
        content_hash: r.content_hash.into_owned(),
        last_seen_run: r.last_seen_run,
        created_at_unix: r.created_at_unix,
        updated_at_unix: r.updated_at_unix,
    })
}

#[cfg(test)]
#[path = "stored_position_tests.rs"]
mod tests;
