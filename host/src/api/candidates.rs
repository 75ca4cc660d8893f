//! `/api/v1/candidates`.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use super::attachment::attachment;
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiError, ApiRouter, ApiState, Authenticated};
use crate::service::ServiceError;
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
        .routes(routes!(resume))
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

/// Every stage move of a candidate, oldest first (the creation first); a
/// move the outbox told the ATS of carries its attempts and what they cost
/// (plugin CPU, calls, HTTP requests and bytes per host, retries, 429s,
/// store bytes).
#[utoipa::path(get, path = "/api/v1/candidates/{id}/history", tag = "candidates", params(("id" = u64, Path)),
    responses((status = 200, body = Vec<StageMoveDto>), (status = 404, body = ErrorBody)))]
async fn history(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<Vec<StageMoveDto>>, ApiError> {
    Ok(Json(s.service.candidate_history(&caller, id)?))
}

/// The candidate's stored résumé, as a download: its content type is the
/// one its bytes were recognised as on upload, the file name the
/// applicant's (sanitised, and percent-encoded in `filename*`), and the
/// answer is marked `nosniff` and not cached. 404 for a candidate without
/// a résumé.
#[utoipa::path(get, path = "/api/v1/candidates/{id}/resume", tag = "candidates", params(("id" = u64, Path)),
    responses(
        (status = 200, description = "The file; `Content-Disposition: attachment` names it",
            content((Vec<u8> = "application/pdf"), (Vec<u8> = "application/msword"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                (Vec<u8> = "application/vnd.oasis.opendocument.text"), (Vec<u8> = "application/rtf"),
                (Vec<u8> = "text/plain"))),
        (status = 404, body = ErrorBody)))]
async fn resume(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<u64>,
) -> Result<Response, ApiError> {
    // Up to 10 MiB read from the store: off the async workers.
    let service = s.service.clone();
    let file = tokio::task::spawn_blocking(move || service.candidate_resume(&caller, id))
        .await
        .map_err(ServiceError::internal)??;
    Ok(attachment(&file.content_type, &file.file_name, file.bytes))
}
