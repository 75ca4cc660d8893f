//! Retrying a page within a run: a rate limit or a brief failure must not
//! fail a whole sync, but a run must not retry forever either.

use std::time::Duration;

use crate::contract::ConnectorError;
use crate::runtime::CallError;

/// How a run retries one failing page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per page, the first included.
    pub max_attempts: u32,
    /// Delay before the first retry of a transient failure; doubles each time.
    pub base_delay: Duration,
    /// Longest delay between attempts, whatever the ATS asks.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // Five attempts over at most a few minutes: long enough for a
        // 10-second rate-limit window or a deploy blip, short enough that a
        // dead ATS fails the run and the scheduler's backoff takes over.
        RetryPolicy { max_attempts: 5, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(120) }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    RetryAfter(Duration),
    GiveUp,
}

impl RetryPolicy {
    /// Whether (and when) to retry after `attempt` (1-based) failed with `error`.
    pub fn decide(&self, attempt: u32, error: &CallError) -> Decision {
        if attempt >= self.max_attempts {
            return Decision::GiveUp;
        }
        let backoff = self.base_delay.saturating_mul(1 << (attempt - 1).min(16)).min(self.max_delay);
        match error {
            CallError::Connector { error: ConnectorError::RateLimited(limit), .. } => {
                // Honour the ATS's Retry-After; without one, back off as for
                // a transient error.
                let asked = limit.retry_after_ms.map(Duration::from_millis).unwrap_or(backoff);
                Decision::RetryAfter(asked.min(self.max_delay))
            }
            CallError::Connector { error: ConnectorError::Transient(_), .. } | CallError::Timeout { .. } => {
                Decision::RetryAfter(backoff)
            }
            // Bad credentials, bad data, traps: retrying cannot help.
            _ => Decision::GiveUp,
        }
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
    fn honours_retry_after_and_caps_it() {
        let p = RetryPolicy::default();
        let limited =
            connector(ConnectorError::RateLimited(RateLimit { retry_after_ms: Some(3_000), message: String::new() }));
        assert_eq!(p.decide(1, &limited), Decision::RetryAfter(Duration::from_secs(3)));
        let greedy = connector(ConnectorError::RateLimited(RateLimit {
            retry_after_ms: Some(3_600_000),
            message: String::new(),
        }));
        assert_eq!(p.decide(1, &greedy), Decision::RetryAfter(p.max_delay));
    }

    #[test]
    fn transient_errors_back_off_exponentially_then_give_up() {
        let p = RetryPolicy::default();
        let e = connector(ConnectorError::Transient("502".into()));
        assert_eq!(p.decide(1, &e), Decision::RetryAfter(Duration::from_millis(500)));
        assert_eq!(p.decide(3, &e), Decision::RetryAfter(Duration::from_secs(2)));
        assert_eq!(p.decide(5, &e), Decision::GiveUp);
    }

    #[test]
    fn permanent_errors_are_not_retried() {
        let p = RetryPolicy::default();
        assert_eq!(p.decide(1, &connector(ConnectorError::Unauthorized("401".into()))), Decision::GiveUp);
        assert_eq!(p.decide(1, &connector(ConnectorError::Permanent("bad json".into()))), Decision::GiveUp);
    }
}
