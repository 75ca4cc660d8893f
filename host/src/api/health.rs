//! `/healthz` and `/readyz`: no credentials, so a load balancer or an
//! orchestrator can probe them; they say nothing but up or not.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::routes;

use super::ops::Readiness;
use super::{ApiRouter, ApiState};

pub fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz))
}

/// What `/readyz` checked.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyChecks {
    pub store: bool,
    pub scheduler: bool,
    pub plugins: bool,
}

/// `/readyz`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadyDto {
    pub ready: bool,
    pub checks: ReadyChecks,
}

/// Alive: the process answers HTTP (`ok`).
#[utoipa::path(get, path = "/healthz", tag = "operations", security(()),
    responses((status = 200, body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok"
}

/// Ready: the store answers a read, the scheduler runs and the plugins of
/// enabled connections loaded; 503 with the failing checks otherwise (a
/// host run without the scheduler, as the CLI does in-process, is never
/// ready).
#[utoipa::path(get, path = "/readyz", tag = "operations", security(()),
    responses((status = 200, body = ReadyDto), (status = 503, body = ReadyDto)))]
async fn readyz(
    State(s): State<ApiState>,
    readiness: Option<Extension<Arc<Readiness>>>,
) -> (StatusCode, Json<ReadyDto>) {
    let store = s.service.app.store.has_key_check().is_ok();
    let (scheduler, plugins) = readiness.map_or((false, false), |Extension(r)| (r.scheduler(), r.plugins()));
    let ready = store && scheduler && plugins;
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(ReadyDto { ready, checks: ReadyChecks { store, scheduler, plugins } }))
}
