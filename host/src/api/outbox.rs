//! Sending candidates to the ATS: `/api/v1/candidates/{id}/push`, the
//! outbox, auto-push rules and reconciliation.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiError, ApiRouter, ApiState, Authenticated};
use crate::service::dto::ErrorBody;
use crate::service::outbox::{
    AutoPushDto, AutoPushRequest, OutboxEntryDto, PushCandidateRequest, PushStatusDto, ReconcileReportDto,
};
use crate::service::page::{Page, PageQuery};

pub fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(push, push_status))
        .routes(routes!(list))
        .routes(routes!(get_auto_push, set_auto_push))
        .routes(routes!(reconcile))
}

/// "Send to ATS": queues the candidate's push durably and answers 202 at
/// once; the push runs in the background (follow it with `GET`). Refused
/// with 409 and a code saying which rule when the job is closed
/// (`job_closed`), our stage has no ATS stage (`stage_not_mapped`,
/// `stage_mapping_stale`) or the candidate is already in the ATS
/// (`already_pushed`). A job whose ATS stages were never fetched is queued:
/// the push reads its pipeline first. Asking again while queued is a no-op.
#[utoipa::path(post, path = "/api/v1/candidates/{id}/push", tag = "candidates", params(("id" = u64, Path)),
    request_body = PushCandidateRequest,
    responses((status = 202, body = PushStatusDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn push(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<u64>,
    ApiJson(request): ApiJson<PushCandidateRequest>,
) -> Result<(StatusCode, Json<PushStatusDto>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(s.service.push_candidate(&caller, id, request)?)))
}

/// A candidate's push state (`not_sent`, `queued`, `pushed`, `failed`, with
/// the ATS's ids or its error) and its pending outbox entries.
#[utoipa::path(get, path = "/api/v1/candidates/{id}/push", tag = "candidates", params(("id" = u64, Path)),
    responses((status = 200, body = PushStatusDto), (status = 404, body = ErrorBody)))]
async fn push_status(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<PushStatusDto>, ApiError> {
    Ok(Json(s.service.push_status(&caller, id)?))
}

/// Pending outbox entries (pushes and moves waiting for the ATS), oldest first.
#[utoipa::path(get, path = "/api/v1/outbox", tag = "candidates", params(PageQuery),
    responses((status = 200, body = Page<OutboxEntryDto>), (status = 422, body = ErrorBody)))]
async fn list(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<OutboxEntryDto>>, ApiError> {
    Ok(Json(s.service.outbox_entries(&caller, &page)?))
}

/// The connection's auto-push rule.
#[utoipa::path(get, path = "/api/v1/connections/{id}/auto-push", tag = "candidates", params(("id" = String, Path)),
    responses((status = 200, body = AutoPushDto), (status = 404, body = ErrorBody)))]
async fn get_auto_push(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<AutoPushDto>, ApiError> {
    Ok(Json(s.service.auto_push(&caller, &id)?))
}

/// Sets the stage whose reaching pushes a candidate automatically (or a
/// later one); `{"stage_id": null}` clears the rule.
#[utoipa::path(put, path = "/api/v1/connections/{id}/auto-push", tag = "candidates", params(("id" = String, Path)),
    request_body = AutoPushRequest,
    responses((status = 200, body = AutoPushDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_auto_push(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiJson(request): ApiJson<AutoPushRequest>,
) -> Result<Json<AutoPushDto>, ApiError> {
    Ok(Json(s.service.set_auto_push(&caller, &id, request)?))
}

/// Reads the ATS's status of every candidate pushed through the connection
/// now and records each stage the ATS changed (the ATS wins); the daily
/// sync does the same.
#[utoipa::path(post, path = "/api/v1/connections/{id}/reconcile", tag = "candidates", params(("id" = String, Path)),
    responses((status = 200, body = ReconcileReportDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 502, body = ErrorBody)))]
async fn reconcile(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ReconcileReportDto>, ApiError> {
    Ok(Json(s.service.reconcile_now(&caller, &id).await?))
}
