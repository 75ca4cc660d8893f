//! `/healthz` and `/readyz`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::ops::OpsState;

/// Alive: the process answers HTTP.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Ready: the store answers a read, the scheduler runs and the plugins of
/// enabled connections loaded. 503 with the failing checks otherwise.
pub async fn readyz(State(state): State<OpsState>) -> Response {
    let store = state.app.store.has_key_check().is_ok();
    let scheduler = state.readiness.scheduler();
    let plugins = state.readiness.plugins();
    let ready = store && scheduler && plugins;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({ "ready": ready, "checks": { "store": store, "scheduler": scheduler, "plugins": plugins } });
    (status, Json(body)).into_response()
}
