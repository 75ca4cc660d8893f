//! `/api/v1/connections/{id}/publish-rules` and the publication of
//! positions (`/api/v1/positions/{id}/publish`, `/unpublish`,
//! `/publication`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use utoipa_axum::routes;

use super::extract::{ApiJson, ApiPath};
use super::{ApiError, ApiRouter, ApiState, Authenticated};
use crate::service::dto::{ErrorBody, PositionDto};
use crate::service::publish_dto::{
    ApplyReportDto, CreateRuleRequest, PreviewDto, PreviewRequest, PublishRequest, PublishRuleDto, PublishRulesDto,
    ReorderRulesRequest, UpdateRuleRequest,
};

pub fn routes() -> ApiRouter {
    ApiRouter::new()
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(update_rule, delete_rule))
        .routes(routes!(reorder_rules))
        .routes(routes!(preview_rule))
        .routes(routes!(apply_rules))
        .routes(routes!(publish))
        .routes(routes!(unpublish))
        .routes(routes!(hand_back))
}

/// The credential a request used, as publication records it: `operator`,
/// or `key:<id>` (an API key's id is its visible prefix, not secret).
/// Read after [`Authenticated`] has accepted the token.
pub struct Credential(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Credential {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' ').map(|(_, t)| t.trim()))
            .unwrap_or("");
        let key_id = token
            .strip_prefix("atsb_")
            .and_then(|rest| rest.split_once('_'))
            .map(|(id, _)| id)
            .filter(|id| id.len() <= 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
        Ok(Credential(key_id.map_or_else(|| "operator".to_string(), |id| format!("key:{id}"))))
    }
}

/// An optional JSON body: empty (or `null`) is the default.
fn optional_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() || trimmed == b"null" {
        return Ok(T::default());
    }
    serde_json::from_slice(trimmed)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", format!("body: {e}")))
}

/// A connection's publish rules, in order (first match wins).
#[utoipa::path(get, path = "/api/v1/connections/{id}/publish-rules", tag = "publishing",
    params(("id" = String, Path)),
    responses((status = 200, body = PublishRulesDto), (status = 404, body = ErrorBody)))]
async fn list_rules(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<PublishRulesDto>, ApiError> {
    Ok(Json(s.service.publish_rules(&caller, &id)?))
}

/// Adds a publish rule: a filter and an ad template. It applies to the
/// connection's positions on the next sync, or at once with `apply`.
#[utoipa::path(post, path = "/api/v1/connections/{id}/publish-rules", tag = "publishing",
    params(("id" = String, Path)), request_body = CreateRuleRequest,
    responses((status = 201, body = PublishRuleDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_rule(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<CreateRuleRequest>,
) -> Result<(StatusCode, Json<PublishRuleDto>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.service.create_publish_rule(&caller, &id, req)?)))
}

/// Changes a rule (fields not given stay).
#[utoipa::path(patch, path = "/api/v1/connections/{id}/publish-rules/{rule}", tag = "publishing",
    params(("id" = String, Path), ("rule" = String, Path)), request_body = UpdateRuleRequest,
    responses((status = 200, body = PublishRuleDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_rule(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((id, rule)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<UpdateRuleRequest>,
) -> Result<Json<PublishRuleDto>, ApiError> {
    Ok(Json(s.service.update_publish_rule(&caller, &id, &rule, req)?))
}

/// Deletes a rule; positions it published are unpublished when the rules
/// next apply, unless another rule matches them.
#[utoipa::path(delete, path = "/api/v1/connections/{id}/publish-rules/{rule}", tag = "publishing",
    params(("id" = String, Path), ("rule" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
async fn delete_rule(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath((id, rule)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    s.service.delete_publish_rule(&caller, &id, &rule)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Puts the rules in a new order.
#[utoipa::path(put, path = "/api/v1/connections/{id}/publish-rules/order", tag = "publishing",
    params(("id" = String, Path)), request_body = ReorderRulesRequest,
    responses((status = 200, body = PublishRulesDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn reorder_rules(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<ReorderRulesRequest>,
) -> Result<Json<PublishRulesDto>, ApiError> {
    Ok(Json(s.service.reorder_publish_rules(&caller, &id, req)?))
}

/// Renders a rule's ad against a position without saving anything.
#[utoipa::path(post, path = "/api/v1/connections/{id}/publish-rules/preview", tag = "publishing",
    params(("id" = String, Path)), request_body = PreviewRequest,
    responses((status = 200, body = PreviewDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn preview_rule(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<PreviewRequest>,
) -> Result<Json<PreviewDto>, ApiError> {
    Ok(Json(s.service.preview_publish_rule(&caller, &id, req)?))
}

/// Applies the connection's rules to all its positions now.
#[utoipa::path(post, path = "/api/v1/connections/{id}/publish-rules/apply", tag = "publishing",
    params(("id" = String, Path)),
    responses((status = 200, body = ApplyReportDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn apply_rules(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<ApplyReportDto>, ApiError> {
    // Reads every position of the connection: off the async workers.
    let service = s.service.clone();
    let report = tokio::task::spawn_blocking(move || service.apply_publish_rules(&caller, &id))
        .await
        .map_err(|e| ApiError::from(crate::service::ServiceError::internal(e)))??;
    Ok(Json(report))
}

/// Publishes a position as a person decided (409 if its job is closed).
/// The decision beats every rule until handed back; who (the credential,
/// and the platform's `user` if given) and why are recorded.
#[utoipa::path(post, path = "/api/v1/positions/{id}/publish", tag = "positions", params(("id" = u64, Path)),
    request_body(content = Option<PublishRequest>),
    responses((status = 200, body = PositionDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn publish(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    Credential(credential): Credential,
    ApiPath(id): ApiPath<u64>,
    body: Bytes,
) -> Result<Json<PositionDto>, ApiError> {
    let req: PublishRequest = optional_body(&body)?;
    Ok(Json(s.service.decide_publication(&caller, credential, id, true, req)?))
}

/// Unpublishes a position as a person decided; no rule publishes it again
/// until handed back (`DELETE .../publication`).
#[utoipa::path(post, path = "/api/v1/positions/{id}/unpublish", tag = "positions", params(("id" = u64, Path)),
    request_body(content = Option<PublishRequest>),
    responses((status = 200, body = PositionDto), (status = 404, body = ErrorBody)))]
async fn unpublish(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    Credential(credential): Credential,
    ApiPath(id): ApiPath<u64>,
    body: Bytes,
) -> Result<Json<PositionDto>, ApiError> {
    let req: PublishRequest = optional_body(&body)?;
    Ok(Json(s.service.decide_publication(&caller, credential, id, false, req)?))
}

/// Drops a person's publication decision: the connection's rules decide
/// again, at once.
#[utoipa::path(delete, path = "/api/v1/positions/{id}/publication", tag = "positions", params(("id" = u64, Path)),
    responses((status = 200, body = PositionDto), (status = 404, body = ErrorBody)))]
async fn hand_back(
    State(s): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<PositionDto>, ApiError> {
    Ok(Json(s.service.hand_publication_to_rules(&caller, id)?))
}
