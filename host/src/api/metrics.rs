//! `/metrics`: Prometheus text (operator).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::routes;

use super::{ApiError, ApiRouter, ApiState, OperatorAuth};
use crate::service::ServiceError;
use crate::service::dto::ErrorBody;

/// The text exposition format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(metrics))
}

/// Sync runs, durations, plugin call latencies, traps and limits hit,
/// scheduler lateness, flagged connections and store size, in the
/// Prometheus text format (operator).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, body = String, content_type = "text/plain"), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody)))]
async fn metrics(State(s): State<ApiState>, _: OperatorAuth) -> Result<Response, ApiError> {
    let store = s.service.app.store.clone();
    // Reads every connection's state: off the async workers.
    let text = tokio::task::spawn_blocking(move || crate::metrics::global().render(&store))
        .await
        .map_err(ServiceError::internal)?
        .map_err(ServiceError::internal)?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response())
}
