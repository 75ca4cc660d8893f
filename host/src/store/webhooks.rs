//! Webhook endpoints and their deliveries.
//!
//! An endpoint belongs to one account and receives that account's events.
//! Its signing secret is drawn by the host, shown once when the endpoint is
//! created, and stored sealed with the store's key (like secret settings).
//!
//! Each (endpoint, event) pair has one delivery record, the delivery log
//! operators read, and while it waits for an attempt an entry in the queue
//! keyed by its due time, so the worker finds what is due without reading
//! every delivery.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sled::Transactional;

use super::secrets::{EncryptedValue, SecretKey};
use super::{Store, StoreError, codec, keys, now_unix, read, read_all};

/// Random bytes in a signing secret (256 bits, like the HMAC-SHA256 key).
const SECRET_BYTES: usize = 32;
/// The longest endpoint URL accepted.
const MAX_URL_BYTES: usize = 2048;
/// Endpoints one account may register: enough for any platform, few enough
/// that fanning an event out stays cheap.
pub const MAX_WEBHOOKS_PER_ACCOUNT: usize = 16;

/// A registered endpoint, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// `wh-<n>`.
    pub id: String,
    /// The account whose events it receives.
    pub account_id: String,
    /// Where events are POSTed.
    pub url: String,
    /// Event types it receives (`position.created`, ...); empty: all.
    pub events: Vec<String>,
    /// The signing secret, sealed.
    secret: EncryptedValue,
    /// Creation time, Unix seconds.
    pub created_at_unix: i64,
}

impl Webhook {
    /// Whether it receives events of this type.
    pub fn wants(&self, kind: &str) -> bool {
        self.events.is_empty() || self.events.iter().any(|e| e == kind)
    }

    /// Re-seals the signing secret under `new` (key rotation).
    pub(super) fn reseal(&mut self, old: &SecretKey, new: &SecretKey) -> Result<(), StoreError> {
        let plain = old.open(&seal_scope(&self.id), "secret", &self.secret)?;
        self.secret = new.seal(&seal_scope(&self.id), "secret", &plain)?;
        Ok(())
    }
}

/// The associated-data scope a webhook's secret is sealed under; cannot be
/// a connection id (those have no colon).
fn seal_scope(webhook_id: &str) -> String {
    format!("webhook:{webhook_id}")
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its first or next attempt.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Every attempt failed; no more will be made.
    Failed,
}

/// One event's delivery to one endpoint: the delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// The endpoint.
    pub webhook_id: String,
    /// The event.
    pub event_id: u64,
    /// Its type, for the log.
    pub event_type: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: u32,
    /// The last attempt's HTTP status, if it got one.
    pub last_status: Option<u16>,
    /// The last attempt's error, if it failed without a status.
    pub last_error: Option<String>,
    /// When the last attempt was made, Unix seconds.
    pub last_attempt_unix: Option<i64>,
    /// When the next attempt is due, Unix milliseconds (while pending).
    pub next_attempt_ms: Option<u64>,
}

/// Why an endpoint was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The URL is not one events may be sent to.
    #[error("webhook URL refused: {0}")]
    Url(String),
    /// An event type that does not exist.
    #[error(
        "unknown event type `{0}` (known: position.created, position.updated, position.closed, position.reopened, position.removed)"
    )]
    UnknownEvent(String),
    /// The account has as many endpoints as allowed.
    #[error("account `{0}` already has {MAX_WEBHOOKS_PER_ACCOUNT} webhooks; delete one first")]
    TooMany(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks an endpoint URL: https, or http to a loopback address (for a
/// receiver on the same machine), no credentials, bounded length.
pub fn check_url(url: &str) -> Result<url::Url, WebhookError> {
    if url.len() > MAX_URL_BYTES {
        return Err(WebhookError::Url(format!("longer than {MAX_URL_BYTES} bytes")));
    }
    let parsed = url::Url::parse(url).map_err(|e| WebhookError::Url(format!("not a URL: {e}")))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(WebhookError::Url("credentials in the URL are not allowed".into()));
    }
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => return Err(WebhookError::Url("no host".into())),
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        "http" => Err(WebhookError::Url("plain http is only allowed to a loopback address; use https".into())),
        other => Err(WebhookError::Url(format!("scheme `{other}` is not http(s)"))),
    }
}

impl Store {
    /// Registers an endpoint for an account's events; returns it and its
    /// signing secret (shown to the caller once, stored sealed).
    pub fn add_webhook(
        &self,
        account_id: &str,
        url: &str,
        events: Vec<String>,
    ) -> Result<(Webhook, SecretString), WebhookError> {
        let _gate = self.write_gate();
        check_url(url)?;
        for e in &events {
            if !super::events::EventKind::ALL.iter().any(|k| k.as_str() == e) {
                return Err(WebhookError::UnknownEvent(e.clone()));
            }
        }
        if self.account(account_id)?.is_none() {
            return Err(StoreError::UnknownAccount(account_id.to_string()).into());
        }
        if self.webhooks_of(account_id)?.len() >= MAX_WEBHOOKS_PER_ACCOUNT {
            return Err(WebhookError::TooMany(account_id.to_string()));
        }
        let key = self.key.as_ref().ok_or(StoreError::KeyMissing)?;
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| StoreError::Secret(super::SecretError::Random(e)))?;
        let secret = SecretString::from(format!("whsec_{}", hex::encode(bytes)));
        let id = format!("wh-{}", self.db.generate_id().map_err(StoreError::Storage)?);
        let webhook = Webhook {
            id: id.clone(),
            account_id: account_id.to_string(),
            url: url.to_string(),
            events,
            secret: key.seal(&seal_scope(&id), "secret", &secret).map_err(StoreError::from)?,
            created_at_unix: now_unix(),
        };
        self.trees
            .webhooks
            .transaction(|tx| {
                tx.insert(keys::id(&id), codec::encode("webhook", &webhook).map_err(super::abort)?)?;
                Ok(())
            })
            .map_err(StoreError::from)?;
        tracing::info!(webhook = %id, account = %account_id, "webhook registered");
        Ok((webhook, secret))
    }

    /// The endpoint with this id.
    pub fn webhook(&self, id: &str) -> Result<Option<Webhook>, StoreError> {
        read(&self.trees.webhooks, keys::WEBHOOKS, keys::id(id), id)
    }

    /// An account's endpoints, by id. (Scans every endpoint: there are few.)
    pub fn webhooks_of(&self, account_id: &str) -> Result<Vec<Webhook>, StoreError> {
        let all: Vec<Webhook> = read_all(&self.trees.webhooks, keys::WEBHOOKS)?;
        Ok(all.into_iter().filter(|w| w.account_id == account_id).collect())
    }

    /// Opens an endpoint's signing secret.
    pub fn webhook_secret(&self, webhook: &Webhook) -> Result<SecretString, StoreError> {
        let key = self.key.as_ref().ok_or(StoreError::KeyMissing)?;
        Ok(key.open(&seal_scope(&webhook.id), "secret", &webhook.secret)?)
    }

    /// Removes an endpoint of `account_id`, its queued deliveries and its
    /// delivery log. Returns whether it existed (for this account).
    pub fn remove_webhook(&self, account_id: &str, id: &str) -> Result<bool, StoreError> {
        let _gate = self.write_gate();
        match self.webhook(id)? {
            Some(w) if w.account_id == account_id => {}
            _ => return Ok(false),
        }
        let deliveries: Vec<Delivery> = self.deliveries(id, usize::MAX)?;
        (&self.trees.webhooks, &self.trees.webhook_deliveries, &self.trees.webhook_queue).transaction(
            |(webhooks, log, queue)| {
                webhooks.remove(keys::id(id))?;
                for d in &deliveries {
                    log.remove(keys::delivery(id, d.event_id))?;
                    if let Some(due) = d.next_attempt_ms {
                        queue.remove(keys::delivery_due(due, id, d.event_id))?;
                    }
                }
                Ok(())
            },
        )?;
        tracing::info!(webhook = %id, account = %account_id, "webhook removed");
        Ok(true)
    }

    /// An endpoint's deliveries, newest event first, at most `limit`.
    pub fn deliveries(&self, webhook_id: &str, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        self.trees
            .webhook_deliveries
            .scan_prefix(keys::connection_prefix(webhook_id))
            .rev()
            .take(limit)
            .map(|entry| {
                let (key, bytes) = entry?;
                let (w, e) = keys::decode_delivery(&key)?;
                codec::decode(keys::WEBHOOK_DELIVERIES, format!("{w}#{e}"), &bytes)
            })
            .collect()
    }

    /// Fans one pending event out: a pending delivery, due now, for every
    /// endpoint of its account that wants it; clears the pending mark.
    pub(crate) fn fan_out(&self, event_id: u64) -> Result<usize, StoreError> {
        let _gate = self.write_gate();
        // The mark may hold a few events of one commit (see `event_batch`).
        let mark = self.pending_mark_of(event_id)?;
        let Some(event) = self.event(event_id)? else {
            if let Some(mark) = mark {
                self.trees.events_pending.transaction(|tx| super::events::clear_pending_tx(tx, mark, event_id))?;
            }
            return Ok(0);
        };
        let kind = event.kind.as_str();
        let targets: Vec<Webhook> =
            self.webhooks_of(&event.account_id)?.into_iter().filter(|w| w.wants(kind)).collect();
        let now_ms = now_ms();
        (&self.trees.events_pending, &self.trees.webhook_deliveries, &self.trees.webhook_queue).transaction(
            |(pending, log, queue)| {
                for w in &targets {
                    let delivery = Delivery {
                        webhook_id: w.id.clone(),
                        event_id,
                        event_type: kind.to_string(),
                        state: DeliveryState::Pending,
                        attempts: 0,
                        last_status: None,
                        last_error: None,
                        last_attempt_unix: None,
                        next_attempt_ms: Some(now_ms),
                    };
                    log.insert(
                        keys::delivery(&w.id, event_id),
                        codec::encode("delivery", &delivery).map_err(super::abort)?,
                    )?;
                    queue.insert(keys::delivery_due(now_ms, &w.id, event_id), &[])?;
                }
                if let Some(mark) = mark {
                    super::events::clear_pending_tx(pending, mark, event_id)?;
                }
                Ok(())
            },
        )?;
        Ok(targets.len())
    }

    /// Deliveries due at `now_ms`, earliest first, at most `limit`.
    pub(crate) fn due_deliveries(&self, now_ms: u64, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        let mut due = Vec::new();
        for key in self.trees.webhook_queue.range(..keys::delivery_due(now_ms.saturating_add(1), "", 0)).keys() {
            let (_, webhook_id, event_id) = keys::decode_delivery_due(&key?)?;
            let record = read(
                &self.trees.webhook_deliveries,
                keys::WEBHOOK_DELIVERIES,
                &keys::delivery(&webhook_id, event_id),
                format!("{webhook_id}#{event_id}"),
            )?;
            if let Some(d) = record {
                due.push(d);
            }
            if due.len() >= limit {
                break;
            }
        }
        Ok(due)
    }

    /// Records an attempt: `next_ms` requeues it (pending), `None` ends it
    /// with `state`.
    pub(crate) fn record_attempt(&self, before: &Delivery, after: &Delivery) -> Result<(), StoreError> {
        let _gate = self.write_gate();
        (&self.trees.webhook_deliveries, &self.trees.webhook_queue).transaction(|(log, queue)| {
            let key = keys::delivery(&after.webhook_id, after.event_id);
            // The endpoint may have been deleted meanwhile: record nothing.
            if log.get(&key)?.is_none() {
                return Ok(());
            }
            if let Some(due) = before.next_attempt_ms {
                queue.remove(keys::delivery_due(due, &before.webhook_id, before.event_id))?;
            }
            if let Some(due) = after.next_attempt_ms {
                queue.insert(keys::delivery_due(due, &after.webhook_id, after.event_id), &[])?;
            }
            log.insert(key, codec::encode("delivery", after).map_err(super::abort)?)?;
            Ok(())
        })?;
        Ok(())
    }
}

/// Now in Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;
    use crate::store::testutil::{commit_jobs, connection, temp_store};

    #[test]
    fn urls_must_be_https_or_loopback_http() {
        assert!(check_url("https://platform.example/hooks").is_ok());
        assert!(check_url("http://127.0.0.1:8080/hooks").is_ok());
        assert!(check_url("http://[::1]/hooks").is_ok());
        for bad in ["http://platform.example/hooks", "file:///etc/passwd", "https://u:p@x.example/", "nope"] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn events_fan_out_to_the_accounts_endpoints_and_deliveries_are_logged() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let (all, secret) = store.add_webhook("acme", "https://p.example/all", vec![]).unwrap();
        assert!(secret.expose_secret().starts_with("whsec_"));
        assert_eq!(store.webhook_secret(&all).unwrap().expose_secret(), secret.expose_secret());
        let (closed_only, _) =
            store.add_webhook("acme", "https://p.example/closed", vec!["position.closed".into()]).unwrap();
        assert!(store.add_webhook("acme", "https://p.example/", vec!["job.eaten".into()]).is_err());
        commit_jobs(&store, &c.id, &[("J1", "Engineer")]);
        let pending = store.pending_events(10).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(store.fan_out(pending[0]).unwrap(), 1, "only the endpoint for every type");
        assert!(store.pending_events(10).unwrap().is_empty());
        let due = store.due_deliveries(now_ms(), 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].webhook_id, all.id);
        let mut done = due[0].clone();
        done.state = DeliveryState::Delivered;
        done.attempts = 1;
        done.next_attempt_ms = None;
        store.record_attempt(&due[0], &done).unwrap();
        assert!(store.due_deliveries(now_ms(), 10).unwrap().is_empty());
        assert_eq!(store.deliveries(&all.id, 10).unwrap(), vec![done]);
        assert!(store.deliveries(&closed_only.id, 10).unwrap().is_empty());
        assert!(!store.remove_webhook("other", &all.id).unwrap(), "another account's endpoint");
        assert!(store.remove_webhook("acme", &all.id).unwrap());
        assert!(store.deliveries(&all.id, 10).unwrap().is_empty());
    }
}
