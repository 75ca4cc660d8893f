//! `/api/v1/candidates`.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiError, ApiRouter, ApiState, Authenticated};
use crate::service::candidates::{
    CandidateDto, CandidateQuery, CreateCandidateRequest, MAX_CREATE_BODY_BYTES, MoveCandidateRequest,
    MovedCandidateDto, StageMoveDto,
};
use crate::service::dto::ErrorBody;
use crate::service::page::{Page, PageQuery};

pub fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list))
        // A body with a résumé is larger than the default limit.
        .merge(ApiRouter::new().routes(routes!(create)).layer(DefaultBodyLimit::max(MAX_CREATE_BODY_BYTES)))
        .routes(routes!(get_one))
        .routes(routes!(move_to))
        .routes(routes!(history))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this account's.
    account: Option<String>,
    /// Only this position's.
    position: Option<u64>,
    /// Only candidates in this stage.
    stage: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// Candidates the caller sees, by id, filtered.
#[utoipa::path(get, path = "/api/v1/candidates", tag = "candidates", params(ListQuery),
    responses((status = 200, body = Page<CandidateDto>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<CandidateDto>>, ApiError> {
    let query = CandidateQuery { account: q.account, position: q.position, stage: q.stage };
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    Ok(Json(s.service.list_candidates(&caller, &query, &page)?))
}

/// Creates a candidate for a position, in the account's first stage unless
/// `stage` says otherwise; the creation is the first entry of its history.
#[utoipa::path(post, path = "/api/v1/candidates", tag = "candidates", request_body = CreateCandidateRequest,
    responses((status = 201, body = CandidateDto), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn create(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiJson(req): ApiJson<CreateCandidateRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, Json(s.service.create_candidate(&caller, req)?)))
}

/// One candidate.
#[utoipa::path(get, path = "/api/v1/candidates/{id}", tag = "candidates", params(("id" = u64, Path)),
    responses((status = 200, body = CandidateDto), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<CandidateDto>, ApiError> {
    Ok(Json(s.service.candidate(&caller, id)?))
}

/// Moves a candidate to another of the account's stages (409 if already
/// there); the move is recorded with who made it.
#[utoipa::path(post, path = "/api/v1/candidates/{id}/move", tag = "candidates", params(("id" = u64, Path)),
    request_body = MoveCandidateRequest,
    responses((status = 200, body = MovedCandidateDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn move_to(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<u64>,
    ApiJson(req): ApiJson<MoveCandidateRequest>,
) -> Result<Json<MovedCandidateDto>, ApiError> {
    Ok(Json(s.service.move_candidate(&caller, id, req)?))
}

/// Every stage move of a candidate, oldest first (the creation first).
#[utoipa::path(get, path = "/api/v1/candidates/{id}/history", tag = "candidates", params(("id" = u64, Path)),
    responses((status = 200, body = Vec<StageMoveDto>), (status = 404, body = ErrorBody)))]
async fn history(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Vec<StageMoveDto>>, ApiError> {
    Ok(Json(s.service.candidate_history(&caller, id)?))
}
