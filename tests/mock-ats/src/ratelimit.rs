//! A deterministic fixed-window rate limiter.
//!
//! Greenhouse and Workable document fixed 10-second windows; Lever a token
//! bucket and Ashby nothing. The mock uses one fixed-window model for all four
//! because tests need exact, predictable counts: the window opens at the first
//! counted request, admits `limit` requests, and everything after that gets
//! `429` until the window ends. Only the response headers differ per vendor.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How many requests a window admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests admitted per window.
    pub limit: u32,
    /// Window length.
    pub window: Duration,
}

impl RateLimit {
    /// Greenhouse's documented example: 50 requests per 10 s.
    pub const GREENHOUSE: RateLimit = RateLimit { limit: 50, window: Duration::from_secs(10) };
    /// Workable account tokens: 10 requests per 10 s.
    pub const WORKABLE: RateLimit = RateLimit { limit: 10, window: Duration::from_secs(10) };
    /// SmartRecruiters: 10 requests per second per credential.
    pub const SMARTRECRUITERS: RateLimit = RateLimit { limit: 10, window: Duration::from_secs(1) };
}

/// Error parsing a `N/<duration>` rate-limit spec.
#[derive(Debug, thiserror::Error)]
#[error("invalid rate limit {0:?}: expected LIMIT/WINDOW such as 50/10s, 10/1s or 100/500ms")]
pub struct ParseRateLimitError(String);

impl FromStr for RateLimit {
    type Err = ParseRateLimitError;

    /// Parses `50/10s`, `10/1s`, `100/500ms`, `600/1m`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseRateLimitError(s.to_string());
        let (limit, window) = s.split_once('/').ok_or_else(err)?;
        let limit: u32 = limit.trim().parse().map_err(|_| err())?;
        let window = window.trim();
        let (digits, unit) = window.split_at(window.find(|c: char| !c.is_ascii_digit()).unwrap_or(window.len()));
        let n: u64 = if digits.is_empty() { 1 } else { digits.parse().map_err(|_| err())? };
        let window = match unit {
            "ms" => Duration::from_millis(n),
            "s" | "" => Duration::from_secs(n),
            "m" => Duration::from_secs(n * 60),
            _ => return Err(err()),
        };
        if limit == 0 || window.is_zero() {
            return Err(err());
        }
        Ok(RateLimit { limit, window })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}ms", self.limit, self.window.as_millis())
    }
}

/// The limiter's answer for one request.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Decision {
    pub(crate) allowed: bool,
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    /// Whole seconds until the window ends (at least 1).
    pub(crate) retry_after_secs: u64,
    /// The window's end as unix seconds.
    pub(crate) reset_unix: i64,
}

#[derive(Debug)]
pub(crate) struct Limiter {
    config: RateLimit,
    window_start: Option<Instant>,
    used: u32,
}

impl Limiter {
    pub(crate) fn new(config: RateLimit) -> Self {
        Self { config, window_start: None, used: 0 }
    }

    /// Counts one request.
    pub(crate) fn check(&mut self, now: Instant) -> Decision {
        let start = match self.window_start {
            Some(start) if now.duration_since(start) < self.config.window => start,
            _ => {
                self.used = 0;
                *self.window_start.insert(now)
            }
        };
        let allowed = self.used < self.config.limit;
        if allowed {
            self.used += 1;
        }
        let left = self.config.window.saturating_sub(now.duration_since(start));
        Decision {
            allowed,
            limit: self.config.limit,
            remaining: self.config.limit - self.used,
            retry_after_secs: left.as_secs_f64().ceil().max(1.0) as u64,
            reset_unix: (crate::time_fmt::now_ms() + left.as_millis() as i64 + 999) / 1000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert_eq!("50/10s".parse::<RateLimit>().unwrap(), RateLimit::GREENHOUSE);
        assert_eq!("5/250ms".parse::<RateLimit>().unwrap().window, Duration::from_millis(250));
        assert_eq!("60/1m".parse::<RateLimit>().unwrap().window, Duration::from_secs(60));
        assert!("0/1s".parse::<RateLimit>().is_err());
        assert!("ten/1s".parse::<RateLimit>().is_err());
        assert!("10".parse::<RateLimit>().is_err());
    }

    #[test]
    fn admits_limit_then_refuses_until_window_ends() {
        let mut l = Limiter::new(RateLimit { limit: 3, window: Duration::from_secs(10) });
        let t0 = Instant::now();
        let d: Vec<_> = (0..4).map(|_| l.check(t0)).collect();
        assert!(d[..3].iter().all(|d| d.allowed));
        assert_eq!(d[2].remaining, 0);
        assert!(!d[3].allowed);
        assert_eq!(d[3].retry_after_secs, 10);
        assert!(l.check(t0 + Duration::from_secs(10)).allowed);
    }
}
