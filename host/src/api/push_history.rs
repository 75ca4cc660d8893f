//! `/api/v1/candidates/{id}/pushes`: a candidate's push history.

use axum::Json;
use axum::extract::State;
use utoipa_axum::routes;

use super::extract::ApiPath;
use super::{ApiError, ApiRouter, ApiState, Authenticated};
use crate::service::dto::ErrorBody;
use crate::service::push_history::PushRecordDto;

pub fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(pushes))
}

/// A candidate's pushes to the ATS that ended, oldest first, each with what
/// it cost: plugin CPU, calls, HTTP requests and bytes per host, retries,
/// 429s, store bytes.
#[utoipa::path(get, path = "/api/v1/candidates/{id}/pushes", tag = "candidates", params(("id" = u64, Path)),
    responses((status = 200, body = Vec<PushRecordDto>), (status = 404, body = ErrorBody)))]
async fn pushes(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Vec<PushRecordDto>>, ApiError> {
    Ok(Json(s.service.candidate_pushes(&caller, id)?))
}
