//! Connection endpoints: list, sync now, runs, positions.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiState};
use crate::scheduler::RunReport;
use crate::store::{Connection, Trigger};

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e)
}

fn connection(state: &ApiState, id: &str) -> Result<Connection, ApiError> {
    state
        .app
        .store
        .connection(id)
        .map_err(internal)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("connection `{id}` does not exist")))
}

pub async fn list(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let all = state.app.store.connections().map_err(internal)?;
    let mut views =
        all.iter().map(|c| state.app.connection_view(c)).collect::<Result<Vec<_>, _>>().map_err(internal)?;
    for view in &mut views {
        let next = view["id"].as_str().and_then(|id| state.scheduler.next_run(id));
        view["next_sync"] = json!(next.map(|t| t.to_rfc3339()));
    }
    Ok(Json(json!({ "connections": views })))
}

/// Runs a sync through the scheduler, so it respects the concurrency limits
/// and a second request while one runs waits for that run instead of
/// starting another.
pub async fn sync_now(State(state): State<ApiState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    connection(&state, &id)?;
    let report = state.scheduler.run_now(&id, Trigger::Manual).await;
    let run = state.app.store.runs(&id, 1).map_err(internal)?.into_iter().next();
    let (ok, error) = match report {
        RunReport::Succeeded => (true, None),
        RunReport::Failed { message, .. } => (false, Some(message)),
    };
    Ok(Json(json!({ "ok": ok, "error": error, "run": run })))
}

#[derive(Deserialize)]
pub struct RunsQuery {
    limit: Option<usize>,
}

pub async fn runs(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(q): Query<RunsQuery>,
) -> Result<Json<Value>, ApiError> {
    connection(&state, &id)?;
    let runs = state.app.store.runs(&id, q.limit.unwrap_or(20)).map_err(internal)?;
    Ok(Json(json!({ "runs": runs })))
}

pub async fn positions(State(state): State<ApiState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    connection(&state, &id)?;
    let positions = state.app.store.positions_of_connection(&id).map_err(internal)?;
    Ok(Json(json!({ "positions": positions })))
}
