//! `/api/v1/accounts/{account}/stages` (the account's hiring stages) and
//! `/api/v1/connections/{id}/stages` (the ATS's, and the mapping).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiError, ApiRouter, ApiState, Authenticated};
use crate::service::dto::ErrorBody;
use crate::service::stages::{
    AddStageRequest, ConnectionStagesDto, HiringStageDto, RenameStageRequest, ReorderStagesRequest, SetMappingRequest,
    StageRefreshDto,
};

pub fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(rename, delete))
        .routes(routes!(reorder))
        .routes(routes!(connection_stages))
        .routes(routes!(refresh))
        .routes(routes!(set_mapping, clear_mapping))
}

/// `?job=`: one job's pipeline instead of the account-wide stages.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct JobQuery {
    /// An ATS job code of the connection.
    job: Option<String>,
}

/// The account's hiring stages, in order, with candidates per stage.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/stages", tag = "stages", params(("account" = String, Path)),
    responses((status = 200, body = Vec<HiringStageDto>), (status = 404, body = ErrorBody)))]
async fn list(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(account): ApiPath<String>,
) -> Result<Json<Vec<HiringStageDto>>, ApiError> {
    Ok(Json(s.service.hiring_stages(&caller, &account)?))
}

/// Adds a stage (at `position`, or last).
#[utoipa::path(post, path = "/api/v1/accounts/{account}/stages", tag = "stages", params(("account" = String, Path)),
    request_body = AddStageRequest,
    responses((status = 201, body = HiringStageDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(account): ApiPath<String>,
    ApiJson(req): ApiJson<AddStageRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, Json(s.service.add_hiring_stage(&caller, &account, req)?)))
}

/// Renames a stage; its id stays.
#[utoipa::path(patch, path = "/api/v1/accounts/{account}/stages/{stage}", tag = "stages",
    params(("account" = String, Path), ("stage" = String, Path)), request_body = RenameStageRequest,
    responses((status = 200, body = HiringStageDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn rename(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((account, stage)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<RenameStageRequest>,
) -> Result<Json<HiringStageDto>, ApiError> {
    Ok(Json(s.service.rename_hiring_stage(&caller, &account, &stage, req)?))
}

/// Deletes a stage (409 while candidates are in it).
#[utoipa::path(delete, path = "/api/v1/accounts/{account}/stages/{stage}", tag = "stages",
    params(("account" = String, Path), ("stage" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((account, stage)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    s.service.delete_hiring_stage(&caller, &account, &stage)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Puts the stages in a new order (every stage id exactly once).
#[utoipa::path(put, path = "/api/v1/accounts/{account}/stage-order", tag = "stages",
    params(("account" = String, Path)), request_body = ReorderStagesRequest,
    responses((status = 200, body = Vec<HiringStageDto>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reorder(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(account): ApiPath<String>,
    ApiJson(req): ApiJson<ReorderStagesRequest>,
) -> Result<Json<Vec<HiringStageDto>>, ApiError> {
    Ok(Json(s.service.reorder_hiring_stages(&caller, &account, req)?))
}

/// The connection's cached ATS stages, how each of the account's stages
/// maps to them (for `job`, or account-wide), and stale mappings.
#[utoipa::path(get, path = "/api/v1/connections/{id}/stages", tag = "stages",
    params(("id" = String, Path), JobQuery),
    responses((status = 200, body = ConnectionStagesDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn connection_stages(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> Result<Json<ConnectionStagesDto>, ApiError> {
    Ok(Json(s.service.connection_stages(&caller, &id, q.job.as_deref())?))
}

/// Reads the ATS stages again through the connector (every list, or one
/// job's pipeline with `job`).
#[utoipa::path(post, path = "/api/v1/connections/{id}/stages/refresh", tag = "stages",
    params(("id" = String, Path), JobQuery),
    responses((status = 200, body = StageRefreshDto), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn refresh(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> Result<Json<StageRefreshDto>, ApiError> {
    Ok(Json(s.service.refresh_connection_stages(&caller, &id, q.job.as_deref()).await?))
}

/// Maps one of the account's stages to an ATS stage, for the connection or
/// one job (`job_code`); answers with the mapping as it now resolves.
#[utoipa::path(put, path = "/api/v1/connections/{id}/stage-mapping/{stage}", tag = "stages",
    params(("id" = String, Path), ("stage" = String, Path)), request_body = SetMappingRequest,
    responses((status = 200, body = ConnectionStagesDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_mapping(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((id, stage)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<SetMappingRequest>,
) -> Result<Json<ConnectionStagesDto>, ApiError> {
    Ok(Json(s.service.set_stage_mapping(&caller, &id, &stage, req)?))
}

/// Drops an override (for one job with `job`): the stage maps by name again.
#[utoipa::path(delete, path = "/api/v1/connections/{id}/stage-mapping/{stage}", tag = "stages",
    params(("id" = String, Path), ("stage" = String, Path), JobQuery),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn clear_mapping(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((id, stage)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> Result<StatusCode, ApiError> {
    s.service.clear_stage_mapping(&caller, &id, &stage, q.job.as_deref())?;
    Ok(StatusCode::NO_CONTENT)
}
