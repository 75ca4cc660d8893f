//! How records are turned into value bytes and back.
//!
//! Every value is one format byte followed by the record. Format 1 is
//! `serde_json`: records gain fields over time, and JSON with
//! `#[serde(default)]` reads records written before a field existed without
//! a migration, where a positional binary format would need every record
//! rewritten. It is also readable when someone has to look at a damaged
//! store. The byte leaves room for a compact format later: a value written
//! in a format this binary does not know is reported as such, not misread.

use std::fmt::Display;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::StoreError;

/// Format byte of a `serde_json` value.
const FORMAT_JSON: u8 = 1;

/// Format byte of a versioned `serde_json` value: the version (`u64` BE)
/// follows, then the JSON. A record that events refer to carries the
/// version they name (`position_versions`).
const FORMAT_VERSIONED: u8 = 2;

/// Bytes of the version after [`FORMAT_VERSIONED`].
const VERSION_LEN: usize = 8;

/// Format byte of a binary record: a position (`stored_position`) or a
/// position event (`event_record`), a layout byte first in either.
const FORMAT_BINARY: u8 = 3;

/// Format byte of a versioned binary position: the version (`u64` BE)
/// follows, as in [`FORMAT_VERSIONED`], then the binary record.
const FORMAT_BINARY_VERSIONED: u8 = 4;

/// A value's record without its framing, and in which form it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body<'a> {
    /// Formats 1 and 2: `serde_json`.
    Json(&'a [u8]),
    /// Formats 3 and 4: a binary position (`stored_position`), or (format
    /// 3) a binary position event (`event_record`).
    Binary(&'a [u8]),
}

/// The record inside a value, past its format byte and version; the reason
/// when the value is not one this binary can read.
pub(crate) fn body(bytes: &[u8]) -> Result<Body<'_>, String> {
    fn versioned(rest: &[u8]) -> Result<&[u8], String> {
        rest.get(VERSION_LEN..).ok_or_else(|| "versioned value shorter than its version".to_string())
    }
    match bytes.split_first() {
        None => Err("empty value".into()),
        Some((&FORMAT_JSON, body)) => Ok(Body::Json(body)),
        Some((&FORMAT_VERSIONED, rest)) => versioned(rest).map(Body::Json),
        Some((&FORMAT_BINARY, body)) => Ok(Body::Binary(body)),
        Some((&FORMAT_BINARY_VERSIONED, rest)) => versioned(rest).map(Body::Binary),
        Some((format, _)) => Err(format!("value format {format} is unknown (written by a newer atsbridge?)")),
    }
}

/// Why bytes are not one whole postcard value.
pub(crate) enum NotWhole {
    /// They do not decode.
    Decode(postcard::Error),
    /// A value decodes and this many bytes follow it: the record is not
    /// what it claims to be.
    Trailing(usize),
}

/// Decodes `bytes` as one postcard value that fills them whole. Callers
/// name the record in their own words.
pub(crate) fn postcard_whole<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, NotWhole> {
    match postcard::take_from_bytes(bytes) {
        Ok((value, [])) => Ok(value),
        Ok((_, rest)) => Err(NotWhole::Trailing(rest.len())),
        Err(e) => Err(NotWhole::Decode(e)),
    }
}

/// The framing of a binary value (of `version`, if any), with room for a
/// record of about `capacity` bytes: the record is appended to it.
pub(crate) fn binary_frame(version: Option<u64>, capacity: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + VERSION_LEN + capacity);
    match version {
        Some(version) => {
            bytes.push(FORMAT_BINARY_VERSIONED);
            bytes.extend_from_slice(&version.to_be_bytes());
        }
        None => bytes.push(FORMAT_BINARY),
    }
    bytes
}

/// Encodes a record as a value. `what` names the record for errors.
pub(crate) fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    let mut bytes = vec![FORMAT_JSON];
    serde_json::to_writer(&mut bytes, value).map_err(|e| StoreError::Encode { what, reason: e.to_string() })?;
    Ok(bytes)
}

/// Encodes a record as a value of version `version` ([`version_of`]
/// reads it back; [`decode`] reads the record as any other). Positions were
/// written so before their binary form (`stored_position`); only tests
/// write it now, to check that such records still read.
#[cfg(test)]
pub(crate) fn encode_versioned<T: Serialize>(
    what: &'static str,
    value: &T,
    version: u64,
) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::with_capacity(1 + VERSION_LEN + 1024);
    bytes.push(FORMAT_VERSIONED);
    bytes.extend_from_slice(&version.to_be_bytes());
    serde_json::to_writer(&mut bytes, value).map_err(|e| StoreError::Encode { what, reason: e.to_string() })?;
    Ok(bytes)
}

/// The version of a value written by [`encode_versioned`] (or as a
/// versioned binary position); `None` for any other value.
pub(crate) fn version_of(bytes: &[u8]) -> Option<u64> {
    match bytes.split_first() {
        Some((&(FORMAT_VERSIONED | FORMAT_BINARY_VERSIONED), rest)) => {
            rest.first_chunk::<VERSION_LEN>().map(|v| u64::from_be_bytes(*v))
        }
        _ => None,
    }
}

/// Decodes a value read from `tree` at `key` (shown in errors).
pub(crate) fn decode<T: DeserializeOwned>(
    tree: &'static str,
    key: impl Display,
    bytes: &[u8],
) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { tree, key: key.to_string(), reason };
    match body(bytes).map_err(corrupt)? {
        Body::Json(body) => serde_json::from_slice(body).map_err(|e| corrupt(e.to_string())),
        // Binary records (positions, position events) are read by their own modules.
        Body::Binary(_) => Err(corrupt("a binary record where a JSON record was expected".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Old {
        a: u32,
    }

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct New {
        a: u32,
        #[serde(default)]
        b: Option<String>,
    }

    #[test]
    fn round_trips_with_a_format_byte() {
        let bytes = encode("old", &Old { a: 3 }).unwrap();
        assert_eq!(bytes[0], FORMAT_JSON);
        assert_eq!(decode::<Old>("t", "k", &bytes).unwrap(), Old { a: 3 });
    }

    #[test]
    fn records_gain_defaulted_fields_without_a_migration() {
        let bytes = encode("old", &Old { a: 3 }).unwrap();
        assert_eq!(decode::<New>("t", "k", &bytes).unwrap(), New { a: 3, b: None });
    }

    #[test]
    fn a_versioned_value_reads_as_the_record_and_tells_its_version() {
        let bytes = encode_versioned("old", &Old { a: 3 }, 0x0102_0304_0506_0708).unwrap();
        assert_eq!(decode::<Old>("t", "k", &bytes).unwrap(), Old { a: 3 });
        assert_eq!(version_of(&bytes), Some(0x0102_0304_0506_0708));
        assert_eq!(version_of(&encode("old", &Old { a: 3 }).unwrap()), None);
        assert_eq!(version_of(&[FORMAT_VERSIONED, 1, 2]), None, "cut short");
        assert_eq!(version_of(&[]), None);
        let err = decode::<Old>("t", "k", &[FORMAT_VERSIONED, 1, 2]).unwrap_err();
        assert!(err.to_string().contains("shorter than its version"), "{err}");
    }

    #[test]
    fn bad_values_are_reported_with_tree_and_key() {
        let err = decode::<Old>("accounts", "acme", &[9, b'{', b'}']).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("accounts") && msg.contains("acme") && msg.contains("format 9"), "{msg}");
        assert!(decode::<Old>("t", "k", &[]).is_err());
        assert!(decode::<Old>("t", "k", &[FORMAT_JSON, b'x']).is_err());
    }
}
