//! `/api/v1/accounts/{account}/webhooks`: an account's webhook endpoints
//! and their delivery logs (the operator, or the account's own key).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiError, ApiRouter, ApiState, Authenticated};
use crate::service::dto::ErrorBody;
use crate::service::page::{Page, PageQuery};
use crate::service::webhooks::{CreateWebhookRequest, CreatedWebhook, DeliveryDto, WebhookDto};

pub fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(list, create)).routes(routes!(remove)).routes(routes!(deliveries))
}

/// Registers an endpoint for the account's events; the answer holds its
/// signing secret, shown this once.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/webhooks", tag = "webhooks",
    params(("account" = String, Path)), request_body = CreateWebhookRequest,
    responses((status = 201, body = CreatedWebhook), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(account): ApiPath<String>,
    ApiJson(req): ApiJson<CreateWebhookRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, Json(s.service.create_webhook(&caller, &account, req)?)))
}

/// The account's endpoints (never their secrets).
#[utoipa::path(get, path = "/api/v1/accounts/{account}/webhooks", tag = "webhooks",
    params(("account" = String, Path), PageQuery),
    responses((status = 200, body = Page<WebhookDto>), (status = 404, body = ErrorBody)))]
async fn list(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Page<WebhookDto>>, ApiError> {
    Ok(Json(s.service.list_webhooks(&caller, &account, &q)?))
}

/// Removes an endpoint, its queued deliveries and its delivery log.
#[utoipa::path(delete, path = "/api/v1/accounts/{account}/webhooks/{webhook}", tag = "webhooks",
    params(("account" = String, Path), ("webhook" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn remove(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((account, webhook)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    s.service.remove_webhook(&caller, &account, &webhook)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The endpoint's delivery log, newest event first.
#[utoipa::path(get, path = "/api/v1/accounts/{account}/webhooks/{webhook}/deliveries", tag = "webhooks",
    params(("account" = String, Path), ("webhook" = String, Path), PageQuery),
    responses((status = 200, body = Page<DeliveryDto>), (status = 404, body = ErrorBody)))]
async fn deliveries(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((account, webhook)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Page<DeliveryDto>>, ApiError> {
    Ok(Json(s.service.webhook_deliveries(&caller, &account, &webhook, &q)?))
}
