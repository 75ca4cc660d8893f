//! The OpenAPI document, a reference page rendered from it, the status
//! route and per-plugin metrics.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::Html;
use axum::routing::get;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa_axum::routes;

use super::{ApiError, ApiRouter, ApiState, Authenticated, OperatorAuth};
use crate::service::Caller;
use crate::service::dto::{ErrorBody, StatusDto};

pub fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(status)).routes(routes!(metrics))
}

/// Which host answered and who the credentials belong to.
#[utoipa::path(get, path = "/api/v1/status", tag = "meta",
    responses((status = 200, body = StatusDto), (status = 401, body = ErrorBody)))]
async fn status(State(s): State<ApiState>, Authenticated(caller): Authenticated) -> Json<StatusDto> {
    Json(StatusDto {
        version: env!("CARGO_PKG_VERSION").to_string(),
        mode: "serving".into(),
        scheduled_connections: s.service.scheduler.len(),
        caller: match caller {
            Caller::Operator => "operator".into(),
            Caller::Account(a) => format!("account:{a}"),
        },
    })
}

/// Per-plugin call metrics since the host started (operator).
#[utoipa::path(get, path = "/api/v1/metrics", tag = "meta",
    responses((status = 200, body = Object), (status = 403, body = ErrorBody)))]
async fn metrics(State(s): State<ApiState>, _: OperatorAuth) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(serde_json::to_value(s.service.app.runtime.metrics().all()).unwrap_or_default()))
}

/// `GET /api/v1/openapi.json` and `GET /api/v1/docs` (no credentials:
/// the document describes the API, it holds no data).
pub fn serve_document(openapi: Arc<OpenApi>) -> axum::Router<ApiState> {
    let page = Arc::new(render(&openapi));
    let json = Arc::new(openapi.to_pretty_json().unwrap_or_else(|_| "{}".to_string()));
    axum::Router::new()
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let json = json.clone();
                async move { ([(axum::http::header::CONTENT_TYPE, "application/json")], (*json).clone()) }
            }),
        )
        .route(
            "/api/v1/docs",
            get(move || {
                let page = page.clone();
                async move { Html((*page).clone()) }
            }),
        )
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A self-contained HTML reference (no scripts, nothing fetched): every
/// operation with its parameters, body and answers, then every schema.
fn render(api: &OpenApi) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title} API</title><style>\
         body{{font-family:system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;line-height:1.4}}\
         code,pre{{background:#f4f4f4;padding:.1em .3em}} .op{{border-top:1px solid #ddd;padding:.5em 0}}\
         .m{{font-weight:bold;display:inline-block;width:5em}}</style></head><body>\
         <h1>{title} API {version}</h1><p>{desc}</p><p>Machine-readable: <a href=\"openapi.json\">openapi.json</a> (OpenAPI 3.1).</p>",
        title = escape(&api.info.title),
        version = escape(&api.info.version),
        desc = escape(api.info.description.as_deref().unwrap_or("")).replace("\n\n", "</p><p>"),
    );
    for (path, item) in &api.paths.paths {
        let ops: [(&str, &Option<Operation>); 5] = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PATCH", &item.patch),
            ("PUT", &item.put),
            ("DELETE", &item.delete),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let _ = write!(
                out,
                "<div class=\"op\"><span class=\"m\">{method}</span><code>{}</code><p>{}</p>",
                escape(path),
                escape(op.description.as_deref().or(op.summary.as_deref()).unwrap_or(""))
            );
            if let Some(params) = &op.parameters {
                let names: Vec<String> = params
                    .iter()
                    .map(|p| {
                        let loc = serde_json::to_value(&p.parameter_in).ok();
                        let loc = loc.as_ref().and_then(|v| v.as_str()).unwrap_or("");
                        format!("<code>{}</code> ({loc})", escape(&p.name))
                    })
                    .collect();
                if !names.is_empty() {
                    let _ = write!(out, "<p>Parameters: {}</p>", names.join(", "));
                }
            }
            if let Some(body) = &op.request_body {
                let schema = serde_json::to_value(body).ok().map(|v| schema_refs(&v)).unwrap_or_default();
                let _ = write!(out, "<p>Body: {}</p>", escape(&schema));
            }
            let answers: Vec<String> = op
                .responses
                .responses
                .iter()
                .map(|(code, r)| {
                    let refs = serde_json::to_value(r).ok().map(|v| schema_refs(&v)).unwrap_or_default();
                    if refs.is_empty() { escape(code) } else { format!("{} {}", escape(code), escape(&refs)) }
                })
                .collect();
            let _ = write!(out, "<p>Answers: {}</p></div>", answers.join(" · "));
        }
    }
    if let Some(components) = &api.components {
        out.push_str("<h2>Schemas</h2>");
        for (name, schema) in &components.schemas {
            let json = serde_json::to_string_pretty(schema).unwrap_or_default();
            let _ = write!(out, "<h3 id=\"{0}\">{0}</h3><pre>{1}</pre>", escape(name), escape(&json));
        }
    }
    out.push_str("</body></html>");
    out
}

/// The schema names a request body or response refers to.
fn schema_refs(v: &serde_json::Value) -> String {
    let mut names = Vec::new();
    collect_refs(v, &mut names);
    names.dedup();
    names.join(", ")
}

fn collect_refs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            if let Some(r) = map.get("$ref").and_then(|r| r.as_str()) {
                out.push(r.rsplit('/').next().unwrap_or(r).to_string());
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}
