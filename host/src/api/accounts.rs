//! `/api/v1/accounts` and their API keys.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiError, ApiRouter, ApiState, Authenticated};
use crate::service::dto::{
    AccountDto, ApiKeyDto, CreateAccountRequest, CreateApiKeyRequest, CreatedApiKey, ErrorBody, UpdateAccountRequest,
};
use crate::service::page::{Page, PageQuery};

pub fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get_one, update, delete))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

/// Accounts (an account key sees its own).
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", params(PageQuery),
    responses((status = 200, body = Page<AccountDto>), (status = 401, body = ErrorBody)))]
async fn list(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Page<AccountDto>>, ApiError> {
    Ok(Json(s.service.list_accounts(&caller, &q)?))
}

/// Creates an account (operator).
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = CreateAccountRequest,
    responses((status = 201, body = AccountDto), (status = 422, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiJson(req): ApiJson<CreateAccountRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, Json(s.service.create_account(&caller, req)?)))
}

/// One account.
#[utoipa::path(get, path = "/api/v1/accounts/{account}", tag = "accounts", params(("account" = String, Path)),
    responses((status = 200, body = AccountDto), (status = 404, body = ErrorBody)))]
async fn get_one(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<AccountDto>, ApiError> {
    Ok(Json(s.service.account(&caller, &id)?))
}

/// Renames an account or changes its time zone (operator).
#[utoipa::path(patch, path = "/api/v1/accounts/{account}", tag = "accounts", params(("account" = String, Path)),
    request_body = UpdateAccountRequest,
    responses((status = 200, body = AccountDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<UpdateAccountRequest>,
) -> Result<Json<AccountDto>, ApiError> {
    Ok(Json(s.service.update_account(&caller, &id, req)?))
}

/// Deletes an account without connections, and its keys (operator).
#[utoipa::path(delete, path = "/api/v1/accounts/{account}", tag = "accounts", params(("account" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn delete(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    s.service.delete_account(&caller, &id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// An account's API keys (operator).
#[utoipa::path(get, path = "/api/v1/accounts/{account}/keys", tag = "accounts",
    params(("account" = String, Path), PageQuery),
    responses((status = 200, body = Page<ApiKeyDto>), (status = 404, body = ErrorBody)))]
async fn list_keys(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Page<ApiKeyDto>>, ApiError> {
    Ok(Json(s.service.list_api_keys(&caller, &id, &q)?))
}

/// Creates an API key for the account; the token is in this answer only.
#[utoipa::path(post, path = "/api/v1/accounts/{account}/keys", tag = "accounts", params(("account" = String, Path)),
    request_body = CreateApiKeyRequest,
    responses((status = 201, body = CreatedApiKey), (status = 404, body = ErrorBody)))]
async fn create_key(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CreateApiKeyRequest>,
) -> Result<impl IntoResponse, ApiError> {
    Ok((StatusCode::CREATED, Json(s.service.create_api_key(&caller, &id, req)?)))
}

/// Revokes an API key at once.
#[utoipa::path(delete, path = "/api/v1/accounts/{account}/keys/{key}", tag = "accounts",
    params(("account" = String, Path), ("key" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn revoke_key(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((account, key)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    s.service.revoke_api_key(&caller, &account, &key)?;
    Ok(StatusCode::NO_CONTENT)
}
