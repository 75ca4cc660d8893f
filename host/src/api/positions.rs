//! `/api/v1/positions`.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiError, ApiRouter, ApiState, Authenticated};
use crate::service::dto::{EditPositionRequest, ErrorBody, PositionDto};
use crate::service::page::{Page, PageQuery};
use crate::service::positions::PositionFilter;

pub fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(list)).routes(routes!(get_one, edit)).routes(routes!(clear_edit))
    // Publish and unpublish: see `publishing`.
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// Only this connection's.
    connection: Option<String>,
    /// Only this account's.
    account: Option<String>,
    /// `open`, `closed`, `draft`, `on_hold` or `other`.
    status: Option<String>,
    published: Option<bool>,
    limit: Option<usize>,
    cursor: Option<String>,
}

/// Positions the caller sees, by id, filtered.
#[utoipa::path(get, path = "/api/v1/positions", tag = "positions", params(ListQuery),
    responses((status = 200, body = Page<PositionDto>), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Page<PositionDto>>, ApiError> {
    let filter =
        PositionFilter { connection: q.connection, account: q.account, status: q.status, published: q.published };
    let page = PageQuery { limit: q.limit, cursor: q.cursor };
    Ok(Json(s.service.list_positions(&caller, &filter, &page)?))
}

/// One position, with local edits beside the ATS values.
#[utoipa::path(get, path = "/api/v1/positions/{id}", tag = "positions", params(("id" = u64, Path)),
    responses((status = 200, body = PositionDto), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<PositionDto>, ApiError> {
    Ok(Json(s.service.position(&caller, id)?))
}

/// Edits fields locally; each edit survives later syncs until cleared.
#[utoipa::path(patch, path = "/api/v1/positions/{id}", tag = "positions", params(("id" = u64, Path)),
    request_body = EditPositionRequest,
    responses((status = 200, body = PositionDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn edit(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<u64>,
    ApiJson(req): ApiJson<EditPositionRequest>,
) -> Result<Json<PositionDto>, ApiError> {
    Ok(Json(s.service.edit_position(&caller, id, req)?))
}

/// Drops a local edit (`name`, `description`, `locations`,
/// `authorized_users`): the field follows the ATS again.
#[utoipa::path(delete, path = "/api/v1/positions/{id}/edits/{field}", tag = "positions",
    params(("id" = u64, Path), ("field" = String, Path)),
    responses((status = 200, body = PositionDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn clear_edit(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((id, field)): ApiPath<(u64, String)>,
) -> Result<Json<PositionDto>, ApiError> {
    Ok(Json(s.service.clear_position_edit(&caller, id, &field)?))
}
