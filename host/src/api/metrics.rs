//! `/metrics`: Prometheus text.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::ops::{OpsState, internal};

/// The text exposition format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn metrics(State(state): State<OpsState>) -> Response {
    let store = state.app.store.clone();
    // Reads every connection's state: off the async workers.
    match tokio::task::spawn_blocking(move || crate::metrics::global().render(&store)).await {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}
