//! Instants as ATS APIs write them.
//!
//! The contract speaks RFC 3339 in UTC (`2026-05-01T10:00:00Z`): the host
//! passes `changed-since` that way and expects `updated-at` that way. ATS
//! APIs use RFC 3339 with offsets, epoch milliseconds (Lever), epoch
//! seconds, ISO 8601 basic format (`20260501T100000Z`) or timestamps
//! without an offset. These helpers convert between them; every error is a
//! [`ConnectorError::Permanent`] quoting the bad value.
//!
//! ```
//! use atsbridge_sdk::time;
//! assert_eq!(time::rfc3339_to_epoch_ms("2026-05-01T12:00:00+02:00").unwrap(), 1_777_629_600_000);
//! assert_eq!(time::epoch_ms_to_rfc3339(1_777_629_600_000).unwrap(), "2026-05-01T10:00:00Z");
//! assert_eq!(time::to_rfc3339_lenient("2026-05-01 10:00:00").as_deref(), Some("2026-05-01T10:00:00Z"));
//! ```

use ::time::format_description::well_known::{Iso8601, Rfc3339};
use ::time::macros::format_description;
use ::time::{Date, PrimitiveDateTime, UtcOffset};

use crate::types::ConnectorError;

pub use ::time::OffsetDateTime;

/// Epoch values with at least this many digits are taken as milliseconds
/// by [`to_rfc3339_lenient`]: 10^11 seconds is the year 5138, while 10^11
/// milliseconds is 1973, so the two ranges do not overlap in practice.
const EPOCH_MS_MIN_DIGITS: usize = 12;

/// Parses an RFC 3339 timestamp (any offset).
pub fn parse_rfc3339(value: &str) -> Result<OffsetDateTime, ConnectorError> {
    OffsetDateTime::parse(value.trim(), &Rfc3339).map_err(|e| invalid("RFC 3339 timestamp", value, e))
}

/// Formats an instant as RFC 3339 in UTC (`Z`), with fractional seconds
/// only when they are not zero.
pub fn format_rfc3339(instant: OffsetDateTime) -> Result<String, ConnectorError> {
    instant
        .to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .map_err(|e| ConnectorError::Permanent(format!("cannot write {instant} as RFC 3339: {e}")))
}

/// Rewrites an RFC 3339 timestamp in UTC: `2026-05-01T12:00:00+02:00` ->
/// `2026-05-01T10:00:00Z`.
pub fn normalize_rfc3339(value: &str) -> Result<String, ConnectorError> {
    format_rfc3339(parse_rfc3339(value)?)
}

/// Milliseconds since the Unix epoch of an RFC 3339 timestamp (sub-
/// millisecond digits are truncated).
pub fn rfc3339_to_epoch_ms(value: &str) -> Result<i64, ConnectorError> {
    let nanos = parse_rfc3339(value)?.unix_timestamp_nanos();
    i64::try_from(nanos.div_euclid(1_000_000))
        .map_err(|_| ConnectorError::Permanent(format!("timestamp `{value}` is out of range")))
}

/// The RFC 3339 (UTC) form of milliseconds since the Unix epoch.
pub fn epoch_ms_to_rfc3339(ms: i64) -> Result<String, ConnectorError> {
    let instant = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|e| invalid("epoch milliseconds", &ms.to_string(), e))?;
    format_rfc3339(instant)
}

/// The RFC 3339 (UTC) form of seconds since the Unix epoch.
pub fn epoch_secs_to_rfc3339(secs: i64) -> Result<String, ConnectorError> {
    let instant =
        OffsetDateTime::from_unix_timestamp(secs).map_err(|e| invalid("epoch seconds", &secs.to_string(), e))?;
    format_rfc3339(instant)
}

/// Converts ISO 8601 basic format (`20260501T100000Z`,
/// `20260501T120000+0200`, `20260501T100000.5Z`) to RFC 3339 in UTC. A value
/// without an offset is taken as UTC.
pub fn iso_basic_to_rfc3339(value: &str) -> Result<String, ConnectorError> {
    let trimmed = value.trim();
    let instant = OffsetDateTime::parse(trimmed, &Iso8601::DEFAULT)
        .or_else(|_| PrimitiveDateTime::parse(trimmed, &Iso8601::DEFAULT).map(PrimitiveDateTime::assume_utc))
        .map_err(|e| invalid("ISO 8601 timestamp", value, e))?;
    format_rfc3339(instant)
}

/// Converts an RFC 3339 timestamp to ISO 8601 basic format in UTC, whole
/// seconds: `2026-05-01T12:00:00+02:00` -> `20260501T100000Z`.
pub fn rfc3339_to_iso_basic(value: &str) -> Result<String, ConnectorError> {
    let utc = parse_rfc3339(value)?.to_offset(UtcOffset::UTC);
    utc.format(format_description!("[year][month][day]T[hour][minute][second]Z"))
        .map_err(|e| invalid("timestamp for ISO 8601 basic format", value, e))
}

/// Best effort: reads the timestamp formats ATS APIs send and returns RFC
/// 3339 in UTC, or `None` when `value` is none of them. Accepted, in order:
/// RFC 3339; any ISO 8601 date-time (extended or basic; no offset means
/// UTC); `YYYY-MM-DD HH:MM:SS[.fff]` (UTC); a date alone (midnight UTC);
/// epoch seconds, or epoch milliseconds for 12 digits or more.
///
/// Use it to fill `updated-at`, where a missing value is better than a
/// failed sync.
pub fn to_rfc3339_lenient(value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if is_canonical_utc(value) {
        // Already what the slow path would write: parsing and formatting
        // it again (three times per job in a listing) gives the same text.
        return Some(value.to_string());
    }
    lenient_parse_and_format(value)
}

/// [`to_rfc3339_lenient`] without its shortcut for values already in
/// canonical form; `value` is trimmed and not empty.
fn lenient_parse_and_format(value: &str) -> Option<String> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = value.parse().ok()?;
        return if digits.len() >= EPOCH_MS_MIN_DIGITS {
            epoch_ms_to_rfc3339(n).ok()
        } else {
            epoch_secs_to_rfc3339(n).ok()
        };
    }
    let space_separated =
        format_description!(version = 2, "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]");
    let instant = OffsetDateTime::parse(value, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(value, &Iso8601::DEFAULT))
        .or_else(|_| PrimitiveDateTime::parse(value, &Iso8601::DEFAULT).map(PrimitiveDateTime::assume_utc))
        .or_else(|_| PrimitiveDateTime::parse(value, space_separated).map(PrimitiveDateTime::assume_utc))
        .or_else(|_| Date::parse(value, &Iso8601::DEFAULT).map(|d| d.midnight().assume_utc()))
        .ok()?;
    format_rfc3339(instant).ok()
}

/// Whether `value` is `YYYY-MM-DDTHH:MM:SSZ` naming a real instant (no
/// fraction, no leap second): the form [`format_rfc3339`] writes for it.
fn is_canonical_utc(value: &str) -> bool {
    let b = value.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z'
    {
        return false;
    }
    let number = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u32, |n, &d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) =
        (number(0..4), number(5..7), number(8..10), number(11..13), number(14..16), number(17..19))
    else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day) && hour < 24 && minute < 60 && second < 60
}

fn invalid(what: &str, value: &str, error: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Permanent(format!("invalid {what} `{value}`: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_shortcut_agrees_with_parsing() {
        for value in [
            "2026-05-01T10:00:00Z",
            "1970-01-01T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2024-02-29T12:00:00Z",
            "2000-02-29T12:00:00Z",
            "2023-02-29T12:00:00Z",
            "1900-02-29T12:00:00Z",
            "2024-04-31T12:00:00Z",
            "2024-13-01T12:00:00Z",
            "2024-00-01T12:00:00Z",
            "2024-01-00T12:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T23:60:00Z",
            "2024-12-31T23:59:60Z",
            "2024-01-01t10:00:00z",
            "2024-01-01T10:00:00+00:00",
            "2024-01-01T1a:00:00Z",
            "2024-01-01 10:00:00Z",
        ] {
            assert_eq!(
                to_rfc3339_lenient(value),
                lenient_parse_and_format(value),
                "{value}: shortcut {} parsing",
                if is_canonical_utc(value) { "taken, differs from" } else { "not taken, differs from" }
            );
        }
        assert!(is_canonical_utc("2024-02-29T12:00:00Z"));
        assert!(!is_canonical_utc("2023-02-29T12:00:00Z"));
        assert!(!is_canonical_utc("2024-12-31T23:59:60Z"), "leap seconds take the slow path");
    }

    #[test]
    fn rfc3339_round_trips_through_epoch_ms() {
        assert_eq!(rfc3339_to_epoch_ms("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(rfc3339_to_epoch_ms("2026-05-01T10:00:00.123456Z"), Ok(1_777_629_600_123));
        assert_eq!(rfc3339_to_epoch_ms("1969-12-31T23:59:59.9995Z"), Ok(-1), "floors before the epoch");
        assert_eq!(epoch_ms_to_rfc3339(1_777_629_600_123).unwrap(), "2026-05-01T10:00:00.123Z");
        assert_eq!(epoch_ms_to_rfc3339(1_777_629_600_000).unwrap(), "2026-05-01T10:00:00Z");
        assert_eq!(epoch_secs_to_rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert!(epoch_ms_to_rfc3339(i64::MAX).is_err());
    }

    #[test]
    fn normalizes_offsets_to_utc() {
        assert_eq!(normalize_rfc3339("2026-05-01T12:00:00+02:00").unwrap(), "2026-05-01T10:00:00Z");
        assert_eq!(normalize_rfc3339(" 2026-05-01t10:00:00.500z ").unwrap(), "2026-05-01T10:00:00.5Z");
        let err = normalize_rfc3339("May 1st").unwrap_err();
        assert_eq!(err.kind(), "permanent");
        assert!(err.message().contains("`May 1st`"), "{}", err.message());
    }

    #[test]
    fn iso_basic_format_both_ways() {
        assert_eq!(iso_basic_to_rfc3339("20260501T100000Z").unwrap(), "2026-05-01T10:00:00Z");
        assert_eq!(iso_basic_to_rfc3339("20260501T120000+0200").unwrap(), "2026-05-01T10:00:00Z");
        assert_eq!(iso_basic_to_rfc3339("20260501T100000").unwrap(), "2026-05-01T10:00:00Z");
        assert!(iso_basic_to_rfc3339("2026-05-01 nope").is_err());
        assert_eq!(rfc3339_to_iso_basic("2026-05-01T12:00:00.9+02:00").unwrap(), "20260501T100000Z");
    }

    #[test]
    fn lenient_parsing_accepts_common_ats_formats() {
        let want = Some("2026-05-01T10:00:00Z".to_string());
        assert_eq!(to_rfc3339_lenient("2026-05-01T10:00:00Z"), want);
        assert_eq!(to_rfc3339_lenient("2026-05-01T12:00:00+02:00"), want);
        assert_eq!(to_rfc3339_lenient("2026-05-01T10:00:00"), want);
        assert_eq!(to_rfc3339_lenient("2026-05-01 10:00:00"), want);
        assert_eq!(to_rfc3339_lenient("20260501T100000Z"), want);
        assert_eq!(to_rfc3339_lenient("1777629600000"), want);
        assert_eq!(to_rfc3339_lenient("1777629600"), want);
        assert_eq!(to_rfc3339_lenient("2026-05-01").as_deref(), Some("2026-05-01T00:00:00Z"));
        assert_eq!(to_rfc3339_lenient("2026-05-01 10:00:00.250").as_deref(), Some("2026-05-01T10:00:00.25Z"));
        assert_eq!(to_rfc3339_lenient(""), None);
        assert_eq!(to_rfc3339_lenient("yesterday"), None);
        assert_eq!(to_rfc3339_lenient("-"), None);
    }
}
