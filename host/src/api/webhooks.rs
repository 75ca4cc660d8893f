//! Webhook endpoints of an account, and their delivery logs.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde_json::json;

use super::ops::{OpsState, error, internal};
use crate::store::{StoreError, Webhook, WebhookError};

/// The most deliveries one request lists.
const MAX_DELIVERIES_PER_PAGE: usize = 500;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    url: String,
    #[serde(default)]
    events: Vec<String>,
}

#[derive(Deserialize)]
pub struct Limit {
    limit: Option<usize>,
}

/// An endpoint as shown: never its secret, not even sealed.
fn view(w: &Webhook) -> serde_json::Value {
    json!({ "id": w.id, "account": w.account_id, "url": w.url, "events": w.events, "created_at_unix": w.created_at_unix })
}

fn no_account(account: &str) -> Response {
    error(StatusCode::NOT_FOUND, "not_found", format!("account `{account}` does not exist"))
}

fn no_webhook(id: &str) -> Response {
    error(StatusCode::NOT_FOUND, "not_found", format!("webhook `{id}` does not exist"))
}

pub async fn create(
    State(state): State<OpsState>,
    Path(account): Path<String>,
    Json(body): Json<CreateWebhook>,
) -> Response {
    match state.app.store.add_webhook(&account, &body.url, body.events) {
        Ok((webhook, secret)) => {
            (StatusCode::CREATED, Json(json!({ "webhook": view(&webhook), "secret": secret.expose_secret() })))
                .into_response()
        }
        Err(WebhookError::Store(StoreError::UnknownAccount(_))) => no_account(&account),
        Err(WebhookError::Store(StoreError::KeyMissing)) => error(
            StatusCode::CONFLICT,
            "no_secret_key",
            "webhook secrets are sealed with the store's key, and none is configured",
        ),
        Err(WebhookError::Store(e)) => internal(e),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_webhook", e),
    }
}

pub async fn list(State(state): State<OpsState>, Path(account): Path<String>) -> Response {
    match state.app.store.account(&account) {
        Ok(Some(_)) => {}
        Ok(None) => return no_account(&account),
        Err(e) => return internal(e),
    }
    match state.app.store.webhooks_of(&account) {
        Ok(all) => Json(json!({ "webhooks": all.iter().map(view).collect::<Vec<_>>() })).into_response(),
        Err(e) => internal(e),
    }
}

pub async fn remove(State(state): State<OpsState>, Path((account, id)): Path<(String, String)>) -> Response {
    match state.app.store.remove_webhook(&account, &id) {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => no_webhook(&id),
        Err(e) => internal(e),
    }
}

pub async fn deliveries(
    State(state): State<OpsState>,
    Path((account, id)): Path<(String, String)>,
    Query(q): Query<Limit>,
) -> Response {
    // Another account's endpoint answers 404, like one that does not exist.
    match state.app.store.webhook(&id) {
        Ok(Some(w)) if w.account_id == account => {}
        Ok(_) => return no_webhook(&id),
        Err(e) => return internal(e),
    }
    let limit = q.limit.unwrap_or(50).min(MAX_DELIVERIES_PER_PAGE);
    match state.app.store.deliveries(&id, limit) {
        Ok(log) => Json(json!({ "deliveries": log })).into_response(),
        Err(e) => internal(e),
    }
}
