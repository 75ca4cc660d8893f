//! Who is calling, and from where.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use utoipa::Modify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::ApiState;
use super::error::ApiError;
use crate::service::Caller;

/// The operator's token and the names the host answers to.
pub struct AuthConfig {
    /// Reaches every route.
    pub operator_token: SecretString,
    /// `Host` header values accepted (`127.0.0.1:7878`, `localhost:7878`,
    /// configured public names). `None`: no check (in-process calls).
    pub allowed_hosts: Option<Vec<String>>,
}

impl AuthConfig {
    fn is_operator(&self, token: &str) -> bool {
        // Hashing first makes the comparison's time independent of where
        // the tokens differ and of their lengths.
        let a = Sha256::digest(token.as_bytes());
        let b = Sha256::digest(self.operator_token.expose_secret().as_bytes());
        a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The caller of a request: the operator or an account's key. Requests
/// without valid credentials are refused with 401.
pub struct Authenticated(pub Caller);

impl FromRequestParts<ApiState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer(parts) else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_credentials",
                "send `Authorization: Bearer <operator token or API key>`",
            ));
        };
        if state.auth.is_operator(token) {
            return Ok(Authenticated(Caller::Operator));
        }
        match state.service.authenticate_key(token) {
            Ok(Some(caller)) => Ok(Authenticated(caller)),
            Ok(None) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", "unknown or revoked token")),
            Err(e) => Err(e.into()),
        }
    }
}

/// Only the operator gets through (403 for an account key, 401 without
/// valid credentials). For host-wide routes added by other modules.
pub struct OperatorAuth;

impl FromRequestParts<ApiState> for OperatorAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, Self::Rejection> {
        let Authenticated(caller) = Authenticated::from_request_parts(parts, state).await?;
        caller.require_operator().map_err(ApiError::from)?;
        Ok(OperatorAuth)
    }
}

/// Middleware form of [`OperatorAuth`], for
/// `route_layer(middleware::from_fn_with_state(state, require_operator))`.
pub async fn require_operator(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    if let Err(e) = OperatorAuth::from_request_parts(&mut parts, &state).await {
        return e.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Refuses requests whose `Host` is not one the host answers to (DNS
/// rebinding: a page on an attacker's domain resolving to 127.0.0.1 sends
/// its own domain as `Host`).
pub async fn check_host(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    if let Some(allowed) = &state.auth.allowed_hosts {
        let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(host)) {
            tracing::warn!(host = %host.escape_debug(), "refused a request for another host name");
            return ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                "host_not_allowed",
                "this host does not answer to that Host header; configure the name with --public-host",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Adds the bearer scheme to the OpenAPI document.
pub struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The operator token, or an account's API key (`atsb_...`)"))
                    .build(),
            ),
        );
    }
}
