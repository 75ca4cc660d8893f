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

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;

/// Format byte of a `serde_json` value.
const FORMAT_JSON: u8 = 1;

/// Format byte of a versioned `serde_json` value: the version (`u64` BE)
/// follows, then the JSON. A record that events refer to carries the
/// version they name (`position_versions`).
const FORMAT_VERSIONED: u8 = 2;

/// Bytes of the version after [`FORMAT_VERSIONED`].
const VERSION_LEN: usize = 8;

/// Encodes a record as a value. `what` names the record for errors.
pub(crate) fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    let mut bytes = vec![FORMAT_JSON];
    serde_json::to_writer(&mut bytes, value).map_err(|e| StoreError::Encode { what, reason: e.to_string() })?;
    Ok(bytes)
}

/// Encodes a record as a value of version `version` ([`version_of`]
/// reads it back; [`decode`] reads the record as any other).
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

/// The version of a value written by [`encode_versioned`]; `None` for any
/// other value.
pub(crate) fn version_of(bytes: &[u8]) -> Option<u64> {
    match bytes.split_first() {
        Some((&FORMAT_VERSIONED, rest)) => rest.first_chunk::<VERSION_LEN>().map(|v| u64::from_be_bytes(*v)),
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
    match bytes.split_first() {
        None => Err(corrupt("empty value".into())),
        Some((&FORMAT_JSON, body)) => serde_json::from_slice(body).map_err(|e| corrupt(e.to_string())),
        Some((&FORMAT_VERSIONED, rest)) => match rest.get(VERSION_LEN..) {
            Some(body) => serde_json::from_slice(body).map_err(|e| corrupt(e.to_string())),
            None => Err(corrupt("versioned value shorter than its version".into())),
        },
        Some((format, _)) => Err(corrupt(format!("value format {format} is unknown (written by a newer atsbridge?)"))),
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
