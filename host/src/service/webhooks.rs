//! Webhook endpoints of an account and their delivery logs: the operator
//! and the account's own API keys manage them; for any other caller the
//! account does not exist.

use secrecy::ExposeSecret as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::page::{Page, PageQuery};
use super::{Caller, Service, ServiceError};
use crate::store::{Delivery, DeliveryState, StoreError, Webhook, WebhookError};

/// `POST /accounts/{account}/webhooks`.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where events are POSTed: an https URL, or plain http to a loopback
    /// address.
    pub url: String,
    /// Event types to receive (`position.created`, ...); empty or absent:
    /// all.
    #[serde(default)]
    pub events: Vec<String>,
}

/// An endpoint as shown: never its secret, not even sealed.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct WebhookDto {
    pub id: String,
    pub account: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at_unix: i64,
}

/// A new endpoint and its signing secret, shown in this answer only.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct CreatedWebhook {
    pub webhook: WebhookDto,
    /// The HMAC-SHA256 signing secret (`whsec_...`).
    pub secret: String,
}

/// One event's delivery to an endpoint.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct DeliveryDto {
    pub event_id: u64,
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub last_attempt_unix: Option<i64>,
    pub next_attempt_ms: Option<u64>,
}

fn webhook_dto(w: Webhook) -> WebhookDto {
    WebhookDto { id: w.id, account: w.account_id, url: w.url, events: w.events, created_at_unix: w.created_at_unix }
}

fn delivery_dto(d: Delivery) -> DeliveryDto {
    let state = match d.state {
        DeliveryState::Pending => "pending",
        DeliveryState::Delivered => "delivered",
        DeliveryState::Failed => "failed",
    };
    DeliveryDto {
        event_id: d.event_id,
        event_type: d.event_type,
        state: state.to_string(),
        attempts: d.attempts,
        last_status: d.last_status,
        last_error: d.last_error,
        last_attempt_unix: d.last_attempt_unix,
        next_attempt_ms: d.next_attempt_ms,
    }
}

impl From<WebhookError> for ServiceError {
    fn from(e: WebhookError) -> Self {
        match e {
            WebhookError::Store(StoreError::KeyMissing) => ServiceError::Conflict(
                "webhook secrets are sealed with the store's key, and none is configured".to_string(),
            ),
            WebhookError::Store(s) => s.into(),
            other => ServiceError::Invalid(other.to_string()),
        }
    }
}

impl Service {
    /// Registers an endpoint; the answer holds its signing secret, once.
    pub fn create_webhook(
        &self,
        caller: &Caller,
        account: &str,
        req: CreateWebhookRequest,
    ) -> Result<CreatedWebhook, ServiceError> {
        self.visible_account(caller, account)?;
        let (webhook, secret) = self.app.store.add_webhook(account, &req.url, req.events)?;
        Ok(CreatedWebhook { webhook: webhook_dto(webhook), secret: secret.expose_secret().to_string() })
    }

    /// An account's endpoints, by id.
    pub fn list_webhooks(
        &self,
        caller: &Caller,
        account: &str,
        query: &PageQuery,
    ) -> Result<Page<WebhookDto>, ServiceError> {
        self.visible_account(caller, account)?;
        let page = Page::fetch(
            query,
            |s| Some(s.to_string()),
            |w: &Webhook| w.id.clone(),
            Clone::clone,
            |_| true,
            |after, n| Ok(self.app.store.webhooks_page(account, after.map(String::as_str), n)?),
        )?;
        Ok(page.map(webhook_dto))
    }

    /// An endpoint of the account, or "does not exist" (another account's
    /// endpoint too).
    fn visible_webhook(&self, caller: &Caller, account: &str, id: &str) -> Result<Webhook, ServiceError> {
        self.visible_account(caller, account)?;
        match self.app.store.webhook(id)? {
            Some(w) if w.account_id == account => Ok(w),
            _ => Err(ServiceError::NotFound { what: "webhook", id: id.to_string() }),
        }
    }

    /// Removes an endpoint, its queued deliveries and its delivery log.
    pub fn remove_webhook(&self, caller: &Caller, account: &str, id: &str) -> Result<(), ServiceError> {
        self.visible_webhook(caller, account, id)?;
        if !self.app.store.remove_webhook(account, id)? {
            return Err(ServiceError::NotFound { what: "webhook", id: id.to_string() });
        }
        Ok(())
    }

    /// An endpoint's delivery log, newest event first.
    pub fn webhook_deliveries(
        &self,
        caller: &Caller,
        account: &str,
        id: &str,
        query: &PageQuery,
    ) -> Result<Page<DeliveryDto>, ServiceError> {
        self.visible_webhook(caller, account, id)?;
        let page = Page::fetch(
            query,
            |s| s.parse::<u64>().ok(),
            |d: &Delivery| d.event_id,
            u64::to_string,
            |_| true,
            |before, n| Ok(self.app.store.deliveries_page(id, before.copied(), n)?),
        )?;
        Ok(page.map(delivery_dto))
    }
}
