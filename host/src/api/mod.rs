//! The host's HTTP API (JSON over HTTP, for operators and the platform).
//!
//! | method | path | what |
//! | --- | --- | --- |
//! | | | health, metrics, backup and webhooks: see [`ops`] |
//! | GET | `/api/v1/plugins` | installed plugins |
//! | POST | `/api/v1/plugins` | install `{ "path": ..., "component": ... }` from the host's disk |
//! | GET | `/api/v1/plugins/{id}` | manifest, info, limits and metrics of one plugin |
//! | DELETE | `/api/v1/plugins/{id}` | remove a plugin |
//! | POST | `/api/v1/plugins/{id}/check` | test settings `{ "settings": {..}, "extra_hosts": [..] }` against the ATS |
//! | GET | `/api/v1/metrics` | per-plugin call metrics |
//! | GET | `/api/v1/connections` | connections (secret settings masked) |
//! | POST | `/api/v1/connections/{id}/sync` | sync now; joins a sync of that connection already running |
//! | GET | `/api/v1/connections/{id}/runs` | recent sync runs, newest first (`?limit=`) |
//! | GET | `/api/v1/connections/{id}/positions` | the connection's positions |

mod connections;
mod plugins;
// Operating routes (health, metrics, backup, webhooks): see `ops`.
mod backup;
mod health;
mod metrics;
pub mod ops;
mod webhooks;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::app::App;
use crate::scheduler::Scheduler;
use crate::sync::SyncEngine;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub app: App,
    pub scheduler: Scheduler<SyncEngine>,
}

impl axum::extract::FromRef<ApiState> for crate::runtime::Runtime {
    fn from_ref(state: &ApiState) -> Self {
        state.app.runtime.clone()
    }
}

/// The API router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/plugins", get(plugins::list).post(plugins::install))
        .route("/api/v1/plugins/{id}", get(plugins::inspect).delete(plugins::remove))
        .route("/api/v1/plugins/{id}/check", post(plugins::check))
        .route("/api/v1/metrics", get(plugins::metrics))
        .route("/api/v1/connections", get(connections::list))
        .route("/api/v1/connections/{id}/sync", post(connections::sync_now))
        .route("/api/v1/connections/{id}/runs", get(connections::runs))
        .route("/api/v1/connections/{id}/positions", get(connections::positions))
        .with_state(state)
}

/// An API error: a status and a message that names the problem.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl std::fmt::Display) -> Self {
        ApiError { status, message: message.to_string() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(json!({ "error": self.message }))).into_response()
    }
}
