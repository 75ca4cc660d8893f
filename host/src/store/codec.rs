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

/// Encodes a record as a value. `what` names the record for errors.
pub(crate) fn encode<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, StoreError> {
    let mut bytes = vec![FORMAT_JSON];
    serde_json::to_writer(&mut bytes, value).map_err(|e| StoreError::Encode { what, reason: e.to_string() })?;
    Ok(bytes)
}

/// Encodes `head` (a struct) with one more field, `field`, whose value is
/// the record `value` already encoded by [`encode`]: a record that embeds
/// another one (an event and its position) without encoding it twice.
pub(crate) fn encode_embedding<T: Serialize>(
    what: &'static str,
    head: &T,
    field: &str,
    value: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let error = |reason: &str| StoreError::Encode { what, reason: reason.to_string() };
    let body = match value.split_first() {
        Some((&FORMAT_JSON, body)) => body,
        _ => return Err(error("the embedded value is not a JSON record")),
    };
    let mut bytes = encode(what, head)?;
    if bytes.pop() != Some(b'}') {
        return Err(error("the head is not a JSON object"));
    }
    if bytes.last() != Some(&b'{') {
        bytes.push(b',');
    }
    serde_json::to_writer(&mut bytes, field).map_err(|e| error(&e.to_string()))?;
    bytes.push(b':');
    bytes.extend_from_slice(body);
    bytes.push(b'}');
    Ok(bytes)
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

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Outer {
        id: u32,
        inner: New,
    }

    #[derive(Serialize)]
    struct OuterHead {
        id: u32,
    }

    #[derive(Serialize)]
    struct Empty {}

    #[test]
    fn an_encoded_record_embeds_as_if_encoded_with_its_parent() {
        let inner = New { a: 1, b: Some("x\"y".into()) };
        let value = encode("inner", &inner).unwrap();
        let bytes = encode_embedding("outer", &OuterHead { id: 7 }, "inner", &value).unwrap();
        assert_eq!(decode::<Outer>("t", "k", &bytes).unwrap(), Outer { id: 7, inner });
        assert_eq!(bytes, encode("outer", &decode::<Outer>("t", "k", &bytes).unwrap()).unwrap());
        let only = encode_embedding("outer", &Empty {}, "a", &encode("n", &3u32).unwrap()).unwrap();
        assert_eq!(decode::<Old>("t", "k", &only).unwrap(), Old { a: 3 });
        assert!(encode_embedding("outer", &3u32, "a", &value).is_err(), "a head that is no object");
        assert!(encode_embedding("outer", &Empty {}, "a", &[9, b'1']).is_err(), "an unknown format");
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
