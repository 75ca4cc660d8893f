//! When a connection syncs: a cron expression evaluated in its account's
//! time zone, by default early morning with a per-connection offset.

use std::collections::HashMap;
use std::hash::Hasher;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use croner::Cron;

/// The default: 03:00 local time, when recruiters are asleep and ATS APIs
/// are quiet.
pub const DEFAULT_CRON: &str = "0 3 * * *";
/// Default-scheduled connections are spread over this window after 03:00,
/// so 10,000 connections do not call their ATS at one instant.
pub const JITTER_WINDOW_SECS: i64 = 60 * 60;

/// Why a schedule was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    #[error("`{expr}` is not a valid cron expression: {reason}")]
    Cron { expr: String, reason: String },
    #[error("`{0}` is not an IANA time zone (e.g. Europe/Berlin)")]
    TimeZone(String),
    #[error("`{0}` never fires")]
    Never(String),
}

/// A parsed schedule. Connections sharing an expression share the parse.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Arc<Cron>,
    tz: Tz,
    /// Seconds added to each firing (default schedule only).
    jitter_secs: i64,
}

impl Schedule {
    /// `expr` (None: the default) in time zone `tz`; `connection_id` seeds
    /// the jitter of the default schedule.
    pub fn new(expr: Option<&str>, tz: &str, connection_id: &str) -> Result<Self, ScheduleError> {
        let tz = Tz::from_str(tz).map_err(|_| ScheduleError::TimeZone(tz.to_string()))?;
        let (cron, jitter_secs) = match expr {
            Some(e) => (parse(e)?, 0),
            None => (parse(DEFAULT_CRON)?, jitter(connection_id)),
        };
        Ok(Schedule { cron: Arc::new(cron), tz, jitter_secs })
    }

    /// The first firing strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = (after - Duration::seconds(self.jitter_secs)).with_timezone(&self.tz);
        let next = self.cron.find_next_occurrence(&local, false).ok()?;
        Some(next.with_timezone(&Utc) + Duration::seconds(self.jitter_secs))
    }

    /// The last firing at or before `at`.
    pub fn previous_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = (at - Duration::seconds(self.jitter_secs)).with_timezone(&self.tz);
        let prev = self.cron.find_previous_occurrence(&local, true).ok()?;
        Some(prev.with_timezone(&Utc) + Duration::seconds(self.jitter_secs))
    }
}

/// Parsed cron expressions shared by every connection that uses them: a
/// parsed expression takes ~5 KiB, and 10,000 connections on the default
/// schedule need only one.
#[derive(Debug, Default)]
pub struct CronCache {
    parsed: Mutex<HashMap<String, Arc<Cron>>>,
}

impl CronCache {
    /// Like [`Schedule::new`], sharing the parsed expression.
    pub fn schedule(&self, expr: Option<&str>, tz: &str, connection_id: &str) -> Result<Schedule, ScheduleError> {
        let tz = Tz::from_str(tz).map_err(|_| ScheduleError::TimeZone(tz.to_string()))?;
        let text = expr.unwrap_or(DEFAULT_CRON);
        let cached = self.parsed.lock().unwrap_or_else(|e| e.into_inner()).get(text).cloned();
        let cron = match cached {
            Some(c) => c,
            None => {
                let c = Arc::new(parse(text)?);
                self.parsed.lock().unwrap_or_else(|e| e.into_inner()).insert(text.to_string(), c.clone());
                c
            }
        };
        let jitter_secs = if expr.is_none() { jitter(connection_id) } else { 0 };
        Ok(Schedule { cron, tz, jitter_secs })
    }
}

/// Parses a 5-field (or 6-field, with seconds) cron expression.
pub fn parse(expr: &str) -> Result<Cron, ScheduleError> {
    let cron =
        Cron::from_str(expr).map_err(|e| ScheduleError::Cron { expr: expr.to_string(), reason: e.to_string() })?;
    if cron.find_next_occurrence(&Utc::now(), false).is_err() {
        return Err(ScheduleError::Never(expr.to_string()));
    }
    Ok(cron)
}

/// The keys of the jitter hash. Fixed forever: changing them moves every
/// connection's slot (and makes a restarted host think slots were missed).
const JITTER_KEYS: (u64, u64) = (0x6174_7362_7269_6467, 0x652d_6a69_7474_6572);

/// A stable offset in [0, JITTER_WINDOW_SECS) derived from the id:
/// SipHash-1-3 with [`JITTER_KEYS`] over the id's UTF-8 bytes, modulo the
/// window. SipHash is specified and the `siphasher` crate implements it
/// exactly, so the offset is the same on every build and toolchain (std's
/// `DefaultHasher` promises no such thing).
fn jitter(connection_id: &str) -> i64 {
    let mut h = siphasher::sip::SipHasher13::new_with_keys(JITTER_KEYS.0, JITTER_KEYS.1);
    h.write(connection_id.as_bytes());
    (h.finish() % JITTER_WINDOW_SECS as u64) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Timelike};

    #[test]
    fn default_is_early_morning_local_time_with_spread() {
        let s = Schedule::new(None, "Europe/Berlin", "acme-greenhouse").unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let next = s.next_after(now).unwrap().with_timezone(&chrono_tz::Europe::Berlin);
        assert_eq!(next.hour(), 3, "{next}");
        assert_eq!(next.date_naive(), chrono::NaiveDate::from_ymd_opt(2026, 11, 29).unwrap());
        let offsets: std::collections::HashSet<i64> = (0..200).map(|i| jitter(&format!("conn-{i}"))).collect();
        assert!(offsets.len() > 150, "jitter should spread connections: {}", offsets.len());
        assert!(offsets.iter().all(|o| (0..JITTER_WINDOW_SECS).contains(o)));
    }

    #[test]
    fn the_jitter_is_the_same_on_every_build() {
        // Pinned values: if these change, every connection's slot moves.
        let pinned: Vec<i64> = ["acme-greenhouse", "globex-lever", ""].iter().map(|id| jitter(id)).collect();
        assert_eq!(pinned, PINNED_JITTER, "the jitter hash changed");
    }

    const PINNED_JITTER: [i64; 3] = [1726, 1437, 3331];

    /// Every firing of `s` from `from` for `days` days, as local times.
    fn firings(s: &Schedule, tz: Tz, from: DateTime<Utc>, days: i64) -> Vec<chrono::DateTime<Tz>> {
        let end = from + Duration::days(days);
        let mut out = Vec::new();
        let mut t = from;
        while let Some(next) = s.next_after(t) {
            if next >= end {
                break;
            }
            assert!(next > t, "time went backwards: {t} -> {next}");
            out.push(next.with_timezone(&tz));
            t = next;
        }
        out
    }

    /// Zones whose clocks change at 03:00 (spring, to 04:00) and 04:00
    /// (autumn, back to 03:00) local: 03:00 falls into the gap once a year
    /// and happens twice once a year.
    const DST_AT_THREE: [Tz; 3] = [chrono_tz::Europe::Helsinki, chrono_tz::Europe::Athens, chrono_tz::Europe::Kyiv];

    #[test]
    fn a_three_oclock_schedule_fires_once_on_the_spring_gap_day() {
        for tz in DST_AT_THREE {
            for expr in [Some("0 3 * * *"), None] {
                let s = Schedule::new(expr, tz.name(), "acme-greenhouse").unwrap();
                // 2026-03-29: 03:00 EET jumps to 04:00 EEST.
                let from = Utc.with_ymd_and_hms(2026, 3, 27, 12, 0, 0).unwrap();
                let got = firings(&s, tz, from, 3);
                let days: Vec<u32> = got.iter().map(|t| t.day()).collect();
                assert_eq!(days, vec![28, 29, 30], "{tz} {expr:?}: {got:?}");
                // On the gap day it fires in the first hour that exists.
                let gap_day = got[1];
                assert!((4..5).contains(&gap_day.hour()), "{tz} {expr:?}: {gap_day}");
                assert_eq!(got[0].hour(), 3, "{tz} {expr:?}");
                assert_eq!(got[2].hour(), 3, "{tz} {expr:?}");
            }
        }
    }

    #[test]
    fn a_three_oclock_schedule_fires_once_on_the_autumn_repeat_day() {
        for tz in DST_AT_THREE {
            for expr in [Some("0 3 * * *"), None] {
                let s = Schedule::new(expr, tz.name(), "acme-greenhouse").unwrap();
                // 2026-10-25: 04:00 EEST goes back to 03:00 EET; 03:xx twice.
                let from = Utc.with_ymd_and_hms(2026, 10, 23, 12, 0, 0).unwrap();
                let got = firings(&s, tz, from, 3);
                let days: Vec<u32> = got.iter().map(|t| t.day()).collect();
                assert_eq!(days, vec![24, 25, 26], "{tz} {expr:?}: {got:?}");
                assert!(got.iter().all(|t| t.hour() == 3), "{tz} {expr:?}: {got:?}");
            }
        }
    }

    #[test]
    fn custom_cron_in_the_account_zone() {
        let s = Schedule::new(Some("30 5 * * 1-5"), "America/New_York", "c").unwrap();
        // Saturday noon UTC -> next Monday 05:30 New York (10:30 UTC in winter).
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        assert_eq!(s.next_after(now).unwrap(), Utc.with_ymd_and_hms(2026, 11, 30, 10, 30, 0).unwrap());
        assert_eq!(s.previous_at_or_before(now).unwrap(), Utc.with_ymd_and_hms(2026, 11, 27, 10, 30, 0).unwrap());
    }

    #[test]
    fn the_cache_shares_parsed_expressions() {
        let cache = CronCache::default();
        let a = cache.schedule(None, "UTC", "a").unwrap();
        let b = cache.schedule(None, "Asia/Tokyo", "b").unwrap();
        assert!(Arc::ptr_eq(&a.cron, &b.cron));
        assert_ne!(a.jitter_secs, b.jitter_secs);
        let now = chrono::Utc::now();
        assert_eq!(a.next_after(now), Schedule::new(None, "UTC", "a").unwrap().next_after(now));
    }

    #[test]
    fn bad_input_is_named() {
        assert!(matches!(Schedule::new(Some("every day"), "UTC", "c"), Err(ScheduleError::Cron { .. })));
        assert!(matches!(Schedule::new(None, "Mars/Olympus", "c"), Err(ScheduleError::TimeZone(_))));
    }
}
