//! The webhook delivery worker.

use std::time::Duration;

use secrecy::ExposeSecret as _;
use tokio::sync::watch;

use super::signing;
use crate::store::{Delivery, DeliveryState, Store, StoreError};

/// Attempts before a delivery is given up: with the default policy the
/// last one is about a day after the first.
pub const MAX_ATTEMPTS: u32 = 12;
/// Events fanned out, and deliveries attempted, per pass: bounds the work
/// between two looks at the shutdown signal.
const BATCH: usize = 64;
/// The longest a receiver may take to answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of an error message kept in the delivery log.
const MAX_ERROR_CHARS: usize = 300;

/// When deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryPolicy {
    /// Delay before the first retry; doubled for each further one.
    pub retry_base: Duration,
    /// The longest delay between two attempts.
    pub retry_max: Duration,
    /// How often the worker looks for new events and due deliveries.
    pub poll: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(6 * 3600),
            poll: Duration::from_millis(500),
        }
    }
}

impl DeliveryPolicy {
    /// The delay after the `attempts`-th failed attempt.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(30));
        self.retry_base.saturating_mul(factor).min(self.retry_max)
    }
}

/// Delivers webhooks from one store.
pub struct WebhookWorker {
    store: Store,
    policy: DeliveryPolicy,
    http: reqwest::Client,
}

impl WebhookWorker {
    /// A worker over `store`.
    pub fn new(store: Store, policy: DeliveryPolicy) -> Result<WebhookWorker, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            // A redirect could point the signed body anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("atsbridge/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(WebhookWorker { store, policy, http })
    }

    /// Runs until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.pass().await {
                tracing::warn!(error = %e, "webhook delivery pass failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.policy.poll) => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// One pass: fans out new events, then attempts what is due.
    pub async fn pass(&self) -> Result<(), StoreError> {
        for event_id in self.store.pending_events(BATCH)? {
            self.store.fan_out(event_id)?;
        }
        for delivery in self.store.due_deliveries(crate::store::now_ms(), BATCH)? {
            self.attempt(delivery).await?;
        }
        Ok(())
    }

    /// POSTs one delivery and records the outcome.
    async fn attempt(&self, before: Delivery) -> Result<(), StoreError> {
        let mut after = before.clone();
        after.attempts += 1;
        after.last_attempt_unix = Some(crate::store::now_ms() as i64 / 1000);
        let (webhook, event) = match (self.store.webhook(&before.webhook_id)?, self.store.event(before.event_id)?) {
            (Some(w), Some(e)) => (w, e),
            _ => {
                after.state = DeliveryState::Failed;
                after.last_error = Some("the endpoint or the event no longer exists".into());
                after.next_attempt_ms = None;
                return self.store.record_attempt(&before, &after);
            }
        };
        let result = async {
            let secret = self.store.webhook_secret(&webhook).map_err(|e| e.to_string())?;
            let body = serde_json::to_vec(&event).map_err(|e| e.to_string())?;
            let now = crate::store::now_ms() as i64 / 1000;
            let signature = signing::header_value(secret.expose_secret().as_bytes(), now, &body);
            let response = self
                .http
                .post(&webhook.url)
                .header("content-type", "application/json")
                .header(signing::SIGNATURE_HEADER, signature)
                .header("x-atsbridge-event", event.kind.as_str())
                .header("x-atsbridge-delivery", format!("{}-{}", webhook.id, event.id))
                .body(body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(response.status().as_u16())
        }
        .await;
        let delivered = matches!(result, Ok(status) if (200..300).contains(&status));
        match result {
            Ok(status) => {
                after.last_status = Some(status);
                after.last_error = None;
            }
            Err(e) => {
                after.last_status = None;
                after.last_error = Some(e.chars().take(MAX_ERROR_CHARS).collect());
            }
        }
        let metrics = crate::metrics::global();
        if delivered {
            after.state = DeliveryState::Delivered;
            after.next_attempt_ms = None;
            metrics.webhook_delivery("delivered");
        } else if after.attempts >= MAX_ATTEMPTS {
            after.state = DeliveryState::Failed;
            after.next_attempt_ms = None;
            metrics.webhook_delivery("failed");
            tracing::warn!(webhook = %webhook.id, event = event.id, "webhook delivery given up after {MAX_ATTEMPTS} attempts");
        } else {
            let delay = u64::try_from(self.policy.backoff(after.attempts).as_millis()).unwrap_or(u64::MAX);
            after.next_attempt_ms = Some(crate::store::now_ms().saturating_add(delay));
            metrics.webhook_delivery("retried");
            tracing::info!(
                webhook = %webhook.id, event = event.id, attempts = after.attempts,
                status = ?after.last_status, "webhook delivery failed; will retry"
            );
        }
        self.store.record_attempt(&before, &after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = DeliveryPolicy {
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(60),
            ..Default::default()
        };
        assert_eq!(p.backoff(1), Duration::from_secs(2));
        assert_eq!(p.backoff(2), Duration::from_secs(4));
        assert_eq!(p.backoff(4), Duration::from_secs(16));
        assert_eq!(p.backoff(10), Duration::from_secs(60));
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(60));
    }
}
