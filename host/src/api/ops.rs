//! Routes for operating the host: health, readiness, Prometheus metrics,
//! backups, and webhook endpoints. Built as their own router and merged
//! into the API's by `serve`.
//!
//! | method | path | what |
//! | --- | --- | --- |
//! | GET | `/healthz` | alive (always 200 while the process serves) |
//! | GET | `/readyz` | 200 when the store is open, the scheduler running and plugins loaded; else 503 |
//! | GET | `/metrics` | Prometheus text (operator token) |
//! | GET | `/api/v1/backup` | a consistent snapshot of the store, streamed (operator token) |
//! | POST | `/api/v1/accounts/{account}/webhooks` | register an endpoint `{ "url": ..., "events": [..] }`; answers its signing secret once |
//! | GET | `/api/v1/accounts/{account}/webhooks` | the account's endpoints |
//! | DELETE | `/api/v1/accounts/{account}/webhooks/{id}` | remove an endpoint and its delivery log |
//! | GET | `/api/v1/accounts/{account}/webhooks/{id}/deliveries` | the delivery log, newest first (`?limit=`) |
//!
//! When an operator token is configured, every route here but `/healthz`
//! and `/readyz` requires `Authorization: Bearer <token>`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest, Sha256};

use super::{backup, health, metrics, webhooks};
use crate::app::App;

/// What the readiness check reports, set by `serve` as it starts.
#[derive(Debug, Default)]
pub struct Readiness {
    /// The scheduler's loop is running.
    pub scheduler_running: AtomicBool,
    /// Every plugin an enabled connection uses loaded.
    pub plugins_loaded: AtomicBool,
}

impl Readiness {
    pub(super) fn scheduler(&self) -> bool {
        self.scheduler_running.load(Ordering::SeqCst)
    }

    pub(super) fn plugins(&self) -> bool {
        self.plugins_loaded.load(Ordering::SeqCst)
    }
}

/// What these handlers share.
#[derive(Clone)]
pub struct OpsState {
    pub app: App,
    pub readiness: Arc<Readiness>,
    /// SHA-256 of the operator token, when one is configured.
    token_digest: Option<Arc<[u8; 32]>>,
}

impl OpsState {
    pub fn new(app: App, readiness: Arc<Readiness>, operator_token: Option<&SecretString>) -> OpsState {
        let token_digest = operator_token.map(|t| Arc::new(Sha256::digest(t.expose_secret().as_bytes()).into()));
        OpsState { app, readiness, token_digest }
    }
}

/// The operating routes.
pub fn router(state: OpsState) -> Router {
    let guarded = Router::new()
        .route("/metrics", get(metrics::metrics))
        .route("/api/v1/backup", get(backup::backup))
        .route("/api/v1/accounts/{account}/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/api/v1/accounts/{account}/webhooks/{id}", axum::routing::delete(webhooks::remove))
        .route("/api/v1/accounts/{account}/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_operator));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(guarded)
        .with_state(state)
}

/// Refuses a request without the operator token, when one is configured.
/// Compares digests, so the comparison's timing says nothing of the token.
async fn require_operator(State(state): State<OpsState>, request: Request, next: Next) -> Response {
    let Some(expected) = &state.token_digest else { return next.run(request).await };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| <[u8; 32]>::from(Sha256::digest(t.trim().as_bytes())));
    if given.as_ref() == Some(expected.as_ref()) {
        next.run(request).await
    } else {
        error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this route needs the operator token (Authorization: Bearer ...)",
        )
    }
}

/// An error in the API's error shape: `{"error": {"code", "message"}}`.
pub(super) fn error(status: StatusCode, code: &str, message: impl std::fmt::Display) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message.to_string() } });
    (status, axum::Json(body)).into_response()
}

/// A store failure, logged in full and answered without detail.
pub(super) fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "request failed");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the host's log")
}
