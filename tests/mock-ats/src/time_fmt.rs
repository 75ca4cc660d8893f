//! Timestamps in the shapes the vendors use. Internally everything is unix
//! milliseconds (`i64`).

use time::OffsetDateTime;
use time::format_description::well_known::{Iso8601, Rfc3339};

/// Wall clock, unix ms.
pub(crate) fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn utc(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// `2024-05-01T10:00:00Z` (Greenhouse, Workable: second precision).
pub(crate) fn iso_seconds(ms: i64) -> String {
    let t = utc(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        t.month() as u8,
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `2024-05-01T10:00:00.123Z` (Ashby: millisecond precision).
pub(crate) fn iso_millis(ms: i64) -> String {
    let secs = iso_seconds(ms);
    format!("{}.{:03}Z", &secs[..secs.len() - 1], ms.rem_euclid(1000))
}

/// Parses RFC 3339 (`2024-05-01T10:00:00Z`, `...+02:00`, fractions) and the
/// other ISO-8601 forms (`20150708T115616Z`, the basic format Workable
/// documents). Returns unix ms.
pub(crate) fn parse_iso(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s, &Rfc3339).or_else(|_| OffsetDateTime::parse(s, &Iso8601::PARSING)).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Workable's `created_after` / `updated_after`: ISO-8601 (basic or extended)
/// or unix **seconds**.
pub(crate) fn parse_iso_or_unix_seconds(s: &str) -> Option<i64> {
    match s.parse::<i64>() {
        Ok(secs) => Some(secs.checked_mul(1000)?),
        Err(_) => parse_iso(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_round_trip() {
        let ms = 1_714_557_600_123;
        assert_eq!(iso_seconds(ms), "2024-05-01T10:00:00Z");
        assert_eq!(iso_millis(ms), "2024-05-01T10:00:00.123Z");
        assert_eq!(parse_iso("2024-05-01T10:00:00Z"), Some(1_714_557_600_000));
        assert_eq!(parse_iso("2024-05-01T12:00:00+02:00"), Some(1_714_557_600_000));
        assert_eq!(parse_iso("2024-05-01T10:00:00.123Z"), Some(ms));
        assert_eq!(parse_iso("20150708T115616Z"), Some(1_436_356_576_000));
        assert_eq!(parse_iso_or_unix_seconds("1436356576"), Some(1_436_356_576_000));
        assert_eq!(parse_iso("yesterday"), None);
    }
}
