//! `/api/v1/connections`: connections, sync now, runs.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiError, ApiRouter, ApiState, Authenticated};
use crate::service::dto::{
    CheckResult, ConnectionDto, CreateConnectionRequest, ErrorBody, RunDto, SyncAccepted, UpdateConnectionRequest,
};
use crate::service::page::{Page, PageQuery};

pub fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(enable))
        .routes(routes!(disable))
        .routes(routes!(test))
        .routes(routes!(sync))
        .routes(routes!(reset))
        .routes(routes!(runs))
        .routes(routes!(run))
        .merge(super::recordings::routes())
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this account's.
    account: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// Connections the caller sees; secret settings masked.
#[utoipa::path(get, path = "/api/v1/connections", tag = "connections", params(ListQuery),
    responses((status = 200, body = Page<ConnectionDto>), (status = 401, body = ErrorBody)))]
async fn list(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<ConnectionDto>>, ApiError> {
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    Ok(Json(s.service.list_connections(&caller, q.account.as_deref(), &page)?))
}

/// Creates a connection; settings are checked against the plugin's schema.
#[utoipa::path(post, path = "/api/v1/connections", tag = "connections", request_body = CreateConnectionRequest,
    responses((status = 201, body = ConnectionDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiJson(req): ApiJson<CreateConnectionRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, Json(s.service.create_connection(&caller, req)?)))
}

/// One connection.
#[utoipa::path(get, path = "/api/v1/connections/{id}", tag = "connections", params(("id" = String, Path)),
    responses((status = 200, body = ConnectionDto), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ConnectionDto>, ApiError> {
    Ok(Json(s.service.connection(&caller, &id)?))
}

/// Updates a connection: name, settings (a rotated secret too), extra
/// hosts, schedule. Its positions, their edits and its runs are kept.
#[utoipa::path(patch, path = "/api/v1/connections/{id}", tag = "connections", params(("id" = String, Path)),
    request_body = UpdateConnectionRequest,
    responses((status = 200, body = ConnectionDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateConnectionRequest>,
) -> Result<Json<ConnectionDto>, ApiError> {
    Ok(Json(s.service.update_connection(&caller, &id, req)?))
}

/// Deletes a connection with its positions and runs (409 while it syncs).
#[utoipa::path(delete, path = "/api/v1/connections/{id}", tag = "connections", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    s.service.delete_connection(&caller, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Enables scheduled and manual syncs.
#[utoipa::path(post, path = "/api/v1/connections/{id}/enable", tag = "connections", params(("id" = String, Path)),
    responses((status = 200, body = ConnectionDto), (status = 404, body = ErrorBody)))]
async fn enable(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ConnectionDto>, ApiError> {
    Ok(Json(s.service.set_connection_enabled(&caller, &id, true)?))
}

/// Stops syncing the connection (its positions stay).
#[utoipa::path(post, path = "/api/v1/connections/{id}/disable", tag = "connections", params(("id" = String, Path)),
    responses((status = 200, body = ConnectionDto), (status = 404, body = ErrorBody)))]
async fn disable(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ConnectionDto>, ApiError> {
    Ok(Json(s.service.set_connection_enabled(&caller, &id, false)?))
}

/// Checks the stored settings against the ATS (502 with the connector's
/// error kind in `code` when the ATS refuses).
#[utoipa::path(post, path = "/api/v1/connections/{id}/test", tag = "connections", params(("id" = String, Path)),
    responses((status = 200, body = CheckResult), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn test(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<CheckResult>, ApiError> {
    s.service.test_connection(&caller, &id).await?;
    Ok(Json(CheckResult { ok: true }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SyncQuery {
    /// List every job (jobs deleted in the ATS are closed now); otherwise
    /// only changes since the last run, where the connector can.
    #[serde(default)]
    full: bool,
    /// With `full`: close positions as removed even past the mass-close
    /// guard (after checking that the ATS really removed those jobs).
    #[serde(default)]
    confirm_removals: bool,
    /// Record this run's I/O (`GET .../runs/{run}/recording` then has it).
    #[serde(default)]
    record: bool,
}

/// Starts a sync in the background: 202 with the run, which
/// `GET .../runs/{run}` follows. A sync already running is joined.
#[utoipa::path(post, path = "/api/v1/connections/{id}/sync", tag = "connections",
    params(("id" = String, Path), SyncQuery),
    responses((status = 202, body = SyncAccepted), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn sync(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<SyncQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let accepted = s.service.sync_connection(&caller, &id, q.full, q.confirm_removals, q.record).await?;
    let location = format!("/api/v1/connections/{}/runs/{}", accepted.connection, accepted.run);
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(accepted)))
}

/// Makes the next sync a complete listing from scratch (positions stay).
#[utoipa::path(post, path = "/api/v1/connections/{id}/reset", tag = "connections", params(("id" = String, Path)),
    responses((status = 200, body = ConnectionDto), (status = 404, body = ErrorBody)))]
async fn reset(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ConnectionDto>, ApiError> {
    Ok(Json(s.service.reset_connection(&caller, &id)?))
}

/// Sync runs with counts and errors, newest first.
#[utoipa::path(get, path = "/api/v1/connections/{id}/runs", tag = "connections",
    params(("id" = String, Path), PageQuery),
    responses((status = 200, body = Page<RunDto>), (status = 404, body = ErrorBody)))]
async fn runs(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Page<RunDto>>, ApiError> {
    Ok(Json(s.service.runs(&caller, &id, &q)?))
}

/// One run, with its progress while it goes.
#[utoipa::path(get, path = "/api/v1/connections/{id}/runs/{run}", tag = "connections",
    params(("id" = String, Path), ("run" = u64, Path)),
    responses((status = 200, body = RunDto), (status = 404, body = ErrorBody)))]
async fn run(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((id, seq)): ApiPath<(String, u64)>,
) -> Result<Json<RunDto>, ApiError> {
    Ok(Json(s.service.run(&caller, &id, seq)?))
}
