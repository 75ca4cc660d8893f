//! Plugin endpoints.

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use crate::plugin::allowed_hosts::AllowedHosts;
use crate::plugin::install::{PluginSource, install_from_with};
use crate::plugin::{InstallError, InstallOptions, LoadError, settings};
use crate::runtime::{CallError, ConnectionContext, Runtime};

fn load_error(e: LoadError) -> ApiError {
    match e {
        LoadError::NotInstalled(_) => ApiError::new(StatusCode::NOT_FOUND, e),
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other),
    }
}

pub async fn list(State(rt): State<Runtime>) -> Result<Json<Value>, ApiError> {
    let all = rt.registry().list().map_err(load_error)?;
    let items: Vec<Value> = all
        .into_iter()
        .map(|r| match r {
            Ok(p) => p.to_json(),
            Err(e) => json!({ "error": e.to_string() }),
        })
        .collect();
    Ok(Json(json!({ "plugins": items })))
}

pub async fn inspect(State(rt): State<Runtime>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let installed = rt.registry().current(&id).map_err(load_error)?;
    let mut body = installed.to_json();
    body["metrics"] = serde_json::to_value(rt.metrics().plugin(&id)).unwrap_or(Value::Null);
    Ok(Json(body))
}

#[derive(Deserialize)]
pub struct InstallBody {
    path: PathBuf,
    component: Option<PathBuf>,
    /// Accept new allowed hosts and secret bindings over the installed version.
    #[serde(default)]
    approve: bool,
    /// Accept a downgrade, or other bytes under the installed version.
    #[serde(default)]
    force: bool,
}

pub async fn install(
    State(rt): State<Runtime>,
    Json(body): Json<InstallBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let source = PluginSource::locate(&body.path, body.component.as_deref())
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    let options = InstallOptions { approve: body.approve, force: body.force };
    let installed = install_from_with(&rt, source, &options).await.map_err(|e| match e {
        InstallError::Replace(_) => ApiError::new(StatusCode::CONFLICT, e),
        InstallError::Load(LoadError::Io { .. }) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e),
        other => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, other),
    })?;
    Ok((StatusCode::CREATED, Json(installed.to_json())))
}

pub async fn remove(State(rt): State<Runtime>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    rt.registry().remove(&id).map_err(load_error)?;
    rt.unload(&id);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct CheckBody {
    #[serde(default)]
    settings: BTreeMap<String, String>,
    #[serde(default)]
    extra_hosts: Vec<String>,
}

pub async fn check(
    State(rt): State<Runtime>,
    Path(id): Path<String>,
    Json(body): Json<CheckBody>,
) -> Result<Json<Value>, ApiError> {
    let installed = rt.registry().current(&id).map_err(load_error)?;
    let settings = settings::validate(&installed.record.info.config_schema, &body.settings)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    let extra_hosts =
        AllowedHosts::parse(&body.extra_hosts).map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    let conn = ConnectionContext { id: format!("check-{id}"), settings, extra_hosts };
    let plugin = rt.plugin(&id).await.map_err(load_error)?;
    match plugin.check(&conn).await {
        Ok(()) => Ok(Json(json!({ "ok": true }))),
        Err(CallError::Connector { error, .. }) => {
            Ok(Json(json!({ "ok": false, "kind": error.kind(), "error": error.message() })))
        }
        Err(other) => Err(ApiError::new(StatusCode::BAD_GATEWAY, other)),
    }
}

pub async fn metrics(State(rt): State<Runtime>) -> Json<Value> {
    Json(serde_json::to_value(rt.metrics().all()).unwrap_or(Value::Null))
}
