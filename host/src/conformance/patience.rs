//! Waiting out an ATS's ordinary rate limit, as the sync engine does.
//!
//! A correct connector answers an HTTP 429 with `rate-limited` and the delay
//! the ATS asked for; the host, not the connector, waits and calls again.
//! The kit does the same around every call of the ordinary checks, so a
//! vendor's normal limit (Greenhouse's 50 requests per 10 s, say) never
//! fails a correct connector. The fault checks call the plugin directly:
//! there a `rate-limited` answer is the behaviour under test.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use crate::contract::ConnectorError;
use crate::runtime::CallError;

/// Attempts per call, the first included: enough to get through a few
/// windows of a strict limit, few enough that an ATS that always answers
/// 429 fails the check within minutes.
pub const MAX_ATTEMPTS: u32 = 6;
/// The longest delay the kit waits for one `rate-limited` answer. Vendors
/// ask for seconds (a window of 1 to 10 s); a longer delay is a daily quota
/// or a unit mix-up, and the check fails with the answer instead of hanging.
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// The wait when `rate-limited` carries no delay, doubled on each retry
/// (1, 2, 4, 8, 16 s): covers the common 10-second window.
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(1);

/// The rate limits waited out during one check.
#[derive(Debug, Default)]
pub(super) struct Patience {
    waits: Mutex<Vec<Duration>>,
}

impl Patience {
    /// Calls `call`, and again after each `rate-limited` answer with a delay
    /// of at most [`MAX_WAIT`], up to [`MAX_ATTEMPTS`] times. Every other
    /// answer, and the last one, is returned as it is.
    pub(super) async fn call<T, F, Fut>(&self, call: F) -> Result<T, CallError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, CallError>>,
    {
        let mut attempt = 1;
        loop {
            let result = call().await;
            let Err(CallError::Connector { error: ConnectorError::RateLimited(limit), .. }) = &result else {
                return result;
            };
            let wait = match limit.retry_after_ms {
                Some(ms) => Duration::from_millis(ms),
                None => DEFAULT_BACKOFF.saturating_mul(1 << (attempt - 1).min(16)),
            };
            if attempt >= MAX_ATTEMPTS || wait > MAX_WAIT {
                return result;
            }
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, "conformance: waiting out a rate limit");
            self.record(wait);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn record(&self, wait: Duration) {
        if let Ok(mut waits) = self.waits.lock() {
            waits.push(wait);
        }
    }

    /// What was waited out since the last call, for the check's detail
    /// (`None` when nothing was), and forgets it.
    pub(super) fn take_note(&self) -> Option<String> {
        let waits = std::mem::take(&mut *self.waits.lock().ok()?);
        if waits.is_empty() {
            return None;
        }
        let total: Duration = waits.iter().sum();
        let times = if waits.len() == 1 { "once".to_string() } else { format!("{} times", waits.len()) };
        Some(format!("waited out rate-limited {times}, {:.1} s in all", total.as_secs_f64()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::contract::RateLimit;

    fn limited(ms: Option<u64>) -> CallError {
        CallError::Connector {
            plugin: "p".into(),
            error: ConnectorError::RateLimited(RateLimit { retry_after_ms: ms, message: String::new() }),
        }
    }

    #[tokio::test]
    async fn waits_the_asked_delay_then_succeeds_and_notes_it() {
        let patience = Patience::default();
        let calls = AtomicU32::new(0);
        let result = patience
            .call(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Err(limited(Some(20))),
                    1 => Err(limited(None)),
                    _ => Ok(7),
                }
            })
            .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(patience.take_note().unwrap(), "waited out rate-limited 2 times, 2.0 s in all");
        assert_eq!(patience.take_note(), None);
    }

    #[tokio::test]
    async fn gives_up_on_a_delay_past_the_bound_and_after_the_attempts() {
        let patience = Patience::default();
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = patience
            .call(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(limited(Some(MAX_WAIT.as_millis() as u64 + 1)))
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(patience.take_note(), None);

        calls.store(0, Ordering::SeqCst);
        let result: Result<(), _> = patience
            .call(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(limited(Some(10)))
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), MAX_ATTEMPTS);
    }
}
