//! When a failed outbox call is tried again, and when it is given up.
//!
//! A call either failed for a reason that may pass (the ATS was down, slow,
//! or asked us to slow down) or for one that will not (the ATS refused the
//! data, the connection's settings are wrong, the plugin is broken). The
//! first kind waits an exponentially growing, jittered delay; a rate limit
//! waits at least what the ATS asked for, capped so a hostile or confused
//! `Retry-After` cannot park an entry for days. The second kind is recorded
//! on the candidate at once: retrying would only repeat the refusal.

use std::time::Duration;

use crate::contract::ConnectorError;
use crate::runtime::CallError;

/// Delay before the first retry; doubled for each further one.
pub const DEFAULT_RETRY_BASE: Duration = Duration::from_millis(500);
/// The longest wait between two attempts: an ATS that is down for hours is
/// still tried a few times an hour.
pub const DEFAULT_RETRY_MAX: Duration = Duration::from_secs(15 * 60);
/// The longest `Retry-After` honoured. Real ATS ask for seconds to a
/// minute; anything longer is capped (and the entry retried then).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10 * 60);
/// Attempts before a transient failure is recorded as the push's outcome:
/// with the defaults the last attempt is about a day after the first.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 100;

/// How failed calls are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the first retry; doubled for each further one.
    pub base: Duration,
    /// The longest delay between two attempts.
    pub max: Duration,
    /// Attempts (the first included) before giving up on transient errors.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { base: DEFAULT_RETRY_BASE, max: DEFAULT_RETRY_MAX, max_attempts: DEFAULT_MAX_ATTEMPTS }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Try again after this delay.
    Retry(Duration),
    /// Stop and record the failure: it will not pass by itself.
    GiveUp,
}

/// Whether an error may pass by itself, and what the ATS asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Worth retrying after the backoff.
    Transient,
    /// The ATS asked to slow down, for this long if it said.
    RateLimited(Option<Duration>),
    /// Retrying cannot help.
    Permanent,
}

impl Failure {
    /// Classifies a call's failure.
    ///
    /// A timeout counts as transient: the ATS may have been slow, and the
    /// push is idempotent, so trying again is safe. A trap, a memory limit
    /// or a plugin that does not load is the plugin's fault and does not
    /// pass by itself, nor does anything the ATS refused (`permanent`,
    /// `not-found`, `unauthorized`, `invalid-config`, `unsupported`): a user
    /// must fix the data, the settings or the plugin, then push again.
    pub fn of(error: &CallError) -> Failure {
        match error {
            CallError::Connector { error, .. } => match error {
                ConnectorError::Transient(_) => Failure::Transient,
                ConnectorError::RateLimited(limit) => {
                    Failure::RateLimited(limit.retry_after_ms.map(Duration::from_millis))
                }
                _ => Failure::Permanent,
            },
            CallError::Timeout { .. } | CallError::Instantiate { .. } => Failure::Transient,
            _ => Failure::Permanent,
        }
    }
}

impl RetryPolicy {
    /// The exponential delay after the `attempts`-th failed attempt
    /// (1-based), before jitter.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(30));
        self.base.saturating_mul(factor).min(self.max)
    }

    /// What to do after the `attempts`-th failed attempt. `jitter` in
    /// `[0, 1)` spreads retries of many entries that failed together (an
    /// outage, a rate-limit window) so they do not return as one burst: the
    /// delay is drawn from the upper half of the backoff ("equal jitter"),
    /// so it still grows with every attempt.
    pub fn verdict(&self, attempts: u32, failure: Failure, jitter: f64) -> Verdict {
        if failure == Failure::Permanent || attempts >= self.max_attempts {
            return Verdict::GiveUp;
        }
        let jitter = if jitter.is_finite() { jitter.clamp(0.0, 1.0) } else { 0.0 };
        let backoff = self.backoff(attempts);
        let jittered = backoff / 2 + backoff.mul_f64(jitter / 2.0);
        let delay = match failure {
            // The ATS's own delay is a floor, not a suggestion; the backoff
            // still grows if it keeps refusing.
            Failure::RateLimited(Some(after)) => after.min(MAX_RETRY_AFTER).max(jittered),
            _ => jittered,
        };
        Verdict::Retry(delay)
    }
}

/// A uniform draw in `[0, 1)` from the operating system, for jitter; 0.5
/// if none is available (jitter is a courtesy, not a requirement).
pub fn random_jitter() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        // 53 random bits make an exactly representable fraction.
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::RateLimit;

    fn connector(error: ConnectorError) -> CallError {
        CallError::Connector { plugin: "p".into(), error }
    }

    #[test]
    fn errors_are_classified_by_whether_they_can_pass() {
        assert_eq!(Failure::of(&connector(ConnectorError::Transient("503".into()))), Failure::Transient);
        let limited = RateLimit { retry_after_ms: Some(3000), message: "slow down".into() };
        assert_eq!(
            Failure::of(&connector(ConnectorError::RateLimited(limited))),
            Failure::RateLimited(Some(Duration::from_secs(3)))
        );
        let unsaid = RateLimit { retry_after_ms: None, message: "slow down".into() };
        assert_eq!(Failure::of(&connector(ConnectorError::RateLimited(unsaid))), Failure::RateLimited(None));
        for refusal in [
            ConnectorError::Permanent("email is invalid".into()),
            ConnectorError::NotFound("job 7".into()),
            ConnectorError::Unauthorized("401".into()),
            ConnectorError::InvalidConfig("no user id".into()),
            ConnectorError::Unsupported("no push".into()),
        ] {
            assert_eq!(Failure::of(&connector(refusal)), Failure::Permanent);
        }
        let timeout = CallError::Timeout { plugin: "p".into(), function: "push-candidate", limit: Duration::ZERO };
        assert_eq!(Failure::of(&timeout), Failure::Transient);
        let trap =
            CallError::Trap { plugin: "p".into(), function: "push-candidate", message: "x".into(), guest_stderr: None };
        assert_eq!(Failure::of(&trap), Failure::Permanent);
    }

    #[test]
    fn the_delay_doubles_up_to_the_cap_and_jitter_stays_in_the_upper_half() {
        let policy = RetryPolicy { base: Duration::from_secs(1), max: Duration::from_secs(60), max_attempts: 50 };
        let delays: Vec<_> = (1..=8).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(60), "no overflow on absurd attempt counts");
        assert_eq!(policy.verdict(3, Failure::Transient, 0.0), Verdict::Retry(Duration::from_secs(2)));
        assert_eq!(policy.verdict(3, Failure::Transient, 0.5), Verdict::Retry(Duration::from_secs(3)));
        let Verdict::Retry(top) = policy.verdict(3, Failure::Transient, 0.999_999) else { panic!() };
        assert!(top < Duration::from_secs(4) && top > Duration::from_millis(3999), "{top:?}");
        // Out-of-range jitter is clamped, never a negative or huge delay.
        assert_eq!(policy.verdict(3, Failure::Transient, f64::NAN), Verdict::Retry(Duration::from_secs(2)));
        assert_eq!(policy.verdict(3, Failure::Transient, 7.0), Verdict::Retry(Duration::from_secs(4)));
    }

    #[test]
    fn retry_after_is_a_floor_and_is_capped() {
        let policy = RetryPolicy { base: Duration::from_millis(100), max: Duration::from_secs(60), max_attempts: 50 };
        let asked = Failure::RateLimited(Some(Duration::from_secs(5)));
        assert_eq!(policy.verdict(1, asked, 0.0), Verdict::Retry(Duration::from_secs(5)));
        // A backoff already longer than the ATS's delay wins.
        assert_eq!(policy.verdict(12, asked, 0.0), Verdict::Retry(Duration::from_secs(30)));
        // A day-long Retry-After is capped.
        let absurd = Failure::RateLimited(Some(Duration::from_secs(86_400)));
        assert_eq!(policy.verdict(1, absurd, 0.0), Verdict::Retry(MAX_RETRY_AFTER));
        // No delay given: the plain backoff.
        assert_eq!(policy.verdict(2, Failure::RateLimited(None), 0.0), Verdict::Retry(Duration::from_millis(100)));
    }

    #[test]
    fn permanent_failures_and_exhausted_attempts_give_up() {
        let policy = RetryPolicy { max_attempts: 3, ..RetryPolicy::default() };
        assert_eq!(policy.verdict(1, Failure::Permanent, 0.5), Verdict::GiveUp);
        assert!(matches!(policy.verdict(2, Failure::Transient, 0.5), Verdict::Retry(_)));
        assert_eq!(policy.verdict(3, Failure::Transient, 0.5), Verdict::GiveUp);
        assert_eq!(policy.verdict(3, Failure::RateLimited(None), 0.5), Verdict::GiveUp);
    }

    #[test]
    fn jitter_draws_are_in_range_and_vary() {
        let draws: Vec<f64> = (0..64).map(|_| random_jitter()).collect();
        assert!(draws.iter().all(|j| (0.0..1.0).contains(j)), "{draws:?}");
        assert!(draws.windows(2).any(|w| w[0] != w[1]), "{draws:?}");
    }
}
