//! The host's HTTP API: JSON over HTTP for operators and the platform,
//! under `/api/v1`, described by an OpenAPI 3.1 document generated from
//! the handlers and types (`GET /api/v1/openapi.json`) and a reference page
//! (`GET /api/v1/docs`).
//!
//! Handlers only translate HTTP to the [service layer](crate::service) and
//! back; every rule lives there. Every answer that is not a success has one
//! shape, `{"error": {"code": "...", "message": "..."}}`, axum's own
//! rejections (bad JSON, wrong content type, unknown route or method, body
//! too large) included.
//!
//! Authentication: `Authorization: Bearer <token>` with the operator token
//! (every route) or an account's API key (that account's connections,
//! positions, runs and webhooks); `/healthz` and `/readyz` need none. Requests whose `Host` is not the host's own are
//! refused, so a web page cannot reach a loopback host through DNS
//! rebinding.
//!
//! Other parts of the host add routes with [`ApiRouter`] (see
//! [`router_with`]) and protect them with [`OperatorAuth`] or
//! [`require_operator`].
//!
//! Operating routes (health, readiness, Prometheus metrics, backup,
//! webhooks) are in [`ops`]; `serve` builds the router with
//! [`serving_router`], which gives them the readiness flags.

mod accounts;
pub mod attachment;
mod auth;
mod candidates;
mod connections;
mod docs;
mod error;
mod extract;
mod plugins;
// Operating routes (health, metrics, backup, webhooks): see `ops`.
mod backup;
mod health;
mod metrics;
pub mod ops;
mod outbox;
mod positions;
pub mod public_pages;
mod publishing;
mod push_history;
mod recordings;
pub mod resume_link;
mod stages;
mod webhooks;

use std::sync::Arc;

use axum::middleware;
use axum::{Extension, Router};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use auth::BearerScheme;
pub use auth::{AuthConfig, Authenticated, OperatorAuth, check_host, require_operator};
pub use error::ApiError;

use crate::service::Service;

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub service: Service,
    pub auth: Arc<AuthConfig>,
}

/// A router of documented routes over [`ApiState`].
pub type ApiRouter = OpenApiRouter<ApiState>;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "atsbridge",
        description = "ATS integration host: connector plugins, accounts, connections, sync runs and positions.\n\n\
            Authenticate with `Authorization: Bearer <token>`: the operator token reaches every route, an \
            account's API key only that account's connections, positions, runs and webhooks (another \
            account's ids answer 404); `/healthz` and `/readyz` need no credentials. Errors are \
            `{\"error\": {\"code\": \"...\", \"message\": \"...\"}}`. Lists take `limit` (at most 500) and \
            `cursor` (the previous page's `next_cursor`)."
    ),
    modifiers(&BearerScheme),
    security(("bearer" = [])),
    tags(
        (name = "plugins", description = "Connector plugins (operator)"),
        (name = "accounts", description = "Accounts and their API keys"),
        (name = "connections", description = "Connections, sync runs"),
        (name = "positions", description = "Positions synced from the ATS"),
        (name = "webhooks", description = "An account's webhook endpoints and delivery logs"),
        (name = "operations", description = "Health, readiness, Prometheus metrics, backups"),
        (name = "stages", description = "Hiring stages, the ATS's stages and the mapping between them"),
        (name = "candidates", description = "Candidates and their stage moves"),
        (name = "publishing", description = "Auto-publish rules and their ads"),
        (name = "meta", description = "Status and this document"),
    )
)]
struct ApiDoc;

/// The documented API routes.
fn api_routes() -> ApiRouter {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(plugins::routes())
        .merge(accounts::routes())
        .merge(connections::routes())
        .merge(positions::routes())
        .merge(outbox::routes())
        .merge(stages::routes())
        .merge(candidates::routes())
        .merge(push_history::routes())
        .merge(publishing::routes())
        .merge(docs::routes())
        .merge(ops::routes())
}

/// The API router, for `serve` and for the CLI without a running host.
pub fn router(state: ApiState) -> Router {
    router_with(state, OpenApiRouter::new())
}

/// The router `serve` runs: the API, with the readiness flags `/readyz`
/// reports, and `public` (the public job pages and application forms:
/// HTML, not part of the API's document) under the same error shape and
/// `Host` check.
pub fn serving_router(state: ApiState, readiness: Arc<ops::Readiness>, public: Router) -> Router {
    let (routes, openapi) = api_routes().split_for_parts();
    let api: Router = routes.merge(docs::serve_document(Arc::new(openapi))).with_state(state.clone());
    api.merge(public)
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(middleware::from_fn(error::uniform_errors))
        .layer(middleware::from_fn_with_state(state, check_host))
        .layer(Extension(readiness))
}

/// The API router with `extra` routes (documented ones appear in the
/// OpenAPI document). Every route gets the error shape and, when the state
/// says so, the `Host` check.
pub fn router_with(state: ApiState, extra: ApiRouter) -> Router {
    let (routes, openapi) = api_routes().merge(extra).split_for_parts();
    let openapi = Arc::new(openapi);
    routes
        .merge(docs::serve_document(openapi))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(middleware::from_fn(error::uniform_errors))
        .layer(middleware::from_fn_with_state(state.clone(), check_host))
        .with_state(state)
}
