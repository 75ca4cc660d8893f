//! `/api/v1/plugins`: operator only.

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiError, ApiRouter, ApiState, Authenticated};
use crate::service::dto::{CheckResult, CheckSettingsRequest, ErrorBody, InstallPluginRequest, PluginDto};
use crate::service::page::{Page, PageQuery};
use crate::service::plugin_dir::InstallFromDirectoryRequest;
use crate::service::plugins::{MAX_COMPONENT_BYTES, MAX_MANIFEST_BYTES};

/// An install body: the component in base64 (4/3 of its size), the
/// manifest, and room for the JSON around them.
const MAX_INSTALL_BODY_BYTES: usize = MAX_COMPONENT_BYTES / 3 * 4 + MAX_MANIFEST_BYTES + 4096;

pub fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(inspect, remove))
        .routes(routes!(check))
        .routes(routes!(install_from_directory))
        .merge(ApiRouter::new().routes(routes!(install)).layer(DefaultBodyLimit::max(MAX_INSTALL_BODY_BYTES)))
}

/// Installed plugins.
#[utoipa::path(get, path = "/api/v1/plugins", tag = "plugins", params(PageQuery),
    responses((status = 200, body = Page<PluginDto>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn list(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<axum::Json<Page<PluginDto>>, ApiError> {
    Ok(axum::Json(s.service.list_plugins(&caller, &q)?))
}

/// Installs a plugin from its uploaded manifest and component, or a
/// bundled connector; never from a path on the host.
#[utoipa::path(post, path = "/api/v1/plugins", tag = "plugins", request_body = InstallPluginRequest,
    responses((status = 201, body = PluginDto), (status = 422, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn install(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiJson(req): ApiJson<InstallPluginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, axum::Json(s.service.install_plugin(&caller, req).await?)))
}

/// Installs a plugin from the operator's configured plugin directory by
/// the name of its subdirectory (never a path).
#[utoipa::path(post, path = "/api/v1/plugins/from-directory", tag = "plugins", request_body = InstallFromDirectoryRequest,
    responses((status = 201, body = PluginDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn install_from_directory(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiJson(req): ApiJson<InstallFromDirectoryRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, axum::Json(s.service.install_plugin_from_directory(&caller, req).await?)))
}

/// One plugin: manifest, info, limits and call metrics.
#[utoipa::path(get, path = "/api/v1/plugins/{id}", tag = "plugins", params(("id" = String, Path)),
    responses((status = 200, body = PluginDto), (status = 404, body = ErrorBody)))]
async fn inspect(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<axum::Json<PluginDto>, ApiError> {
    Ok(axum::Json(s.service.plugin(&caller, &id)?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct RemoveQuery {
    /// Remove even while connections use it (they fail until it is back).
    #[serde(default)]
    force: bool,
}

/// Removes a plugin; refused (409) while connections use it, unless forced.
#[utoipa::path(delete, path = "/api/v1/plugins/{id}", tag = "plugins", params(("id" = String, Path), RemoveQuery),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn remove(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<RemoveQuery>,
) -> Result<StatusCode, ApiError> {
    s.service.remove_plugin(&caller, &id, q.force)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tries settings against the ATS without storing them.
#[utoipa::path(post, path = "/api/v1/plugins/{id}/check", tag = "plugins", params(("id" = String, Path)),
    request_body = CheckSettingsRequest,
    responses((status = 200, body = CheckResult), (status = 422, body = ErrorBody), (status = 502, body = ErrorBody)))]
async fn check(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CheckSettingsRequest>,
) -> Result<axum::Json<CheckResult>, ApiError> {
    s.service.check_plugin_settings(&caller, &id, req).await?;
    Ok(axum::Json(CheckResult { ok: true }))
}
