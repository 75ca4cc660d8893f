//! The host's HTTP API (JSON over HTTP, for operators and the platform).
//!
//! | method | path | what |
//! | --- | --- | --- |
//! | GET | `/healthz` | liveness |
//! | GET | `/api/v1/plugins` | installed plugins |
//! | POST | `/api/v1/plugins` | install `{ "path": ..., "component": ... }` from the host's disk |
//! | GET | `/api/v1/plugins/{id}` | manifest, info, limits and metrics of one plugin |
//! | DELETE | `/api/v1/plugins/{id}` | remove a plugin |
//! | POST | `/api/v1/plugins/{id}/check` | test settings `{ "settings": {..}, "extra_hosts": [..] }` against the ATS |
//! | GET | `/api/v1/metrics` | per-plugin call metrics |

mod plugins;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::runtime::Runtime;

/// The API router over a runtime.
pub fn router(runtime: Runtime) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/v1/plugins", get(plugins::list).post(plugins::install))
        .route("/api/v1/plugins/{id}", get(plugins::inspect).delete(plugins::remove))
        .route("/api/v1/plugins/{id}/check", post(plugins::check))
        .route("/api/v1/metrics", get(plugins::metrics))
        .with_state(runtime)
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
