//! Recording a connection's runs ([`crate::recording`]): ask for the next
//! run to be recorded, download a run's recording.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::routes;

use super::extract::ApiPath;
use super::{ApiError, ApiRouter, ApiState, Authenticated};
use crate::service::dto::ErrorBody;
use crate::service::recordings::RecordingArmed;

pub fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(record_next)).routes(routes!(recording))
}

/// Records the connection's next run, whatever starts it (the daily
/// schedule included). The recording is then at
/// `GET .../runs/{run}/recording`.
#[utoipa::path(post, path = "/api/v1/connections/{id}/record-next", tag = "connections",
    params(("id" = String, Path)),
    responses((status = 200, body = RecordingArmed), (status = 404, body = ErrorBody)))]
async fn record_next(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<RecordingArmed>, ApiError> {
    Ok(Json(s.service.arm_recording(&caller, &id)?))
}

/// A recorded run's I/O: the recording format's JSON lines (see the
/// connector guide, "Testing with replay"), for `atsbridge plugin replay`.
#[utoipa::path(get, path = "/api/v1/connections/{id}/runs/{run}/recording", tag = "connections",
    params(("id" = String, Path), ("run" = u64, Path)),
    responses((status = 200, body = Vec<u8>, content_type = "application/x-ndjson"), (status = 404, body = ErrorBody)))]
async fn recording(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((id, seq)): ApiPath<(String, u64)>,
) -> Result<impl IntoResponse, ApiError> {
    let bytes = s.service.recording(&caller, &id, seq)?;
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], bytes))
}
