//! `GET /api/v1/backup`: a consistent snapshot of the store, streamed
//! (operator).
//!
//! The snapshot is written to an unlinked temporary file in the data
//! directory while the store's writes wait (a local copy is fast), then
//! streamed from it, so a slow client never holds up syncs and the copy
//! never has to fit in memory.

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa_axum::routes;

use super::{ApiError, ApiRouter, ApiState, OperatorAuth};
use crate::service::ServiceError;
use crate::service::dto::ErrorBody;

pub fn routes() -> ApiRouter {
    ApiRouter::new().routes(routes!(backup))
}

/// A consistent snapshot of the store, for `atsbridge restore` (operator).
#[utoipa::path(get, path = "/api/v1/backup", tag = "operations",
    responses((status = 200, body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn backup(State(s): State<ApiState>, _: OperatorAuth) -> Result<Response, ApiError> {
    let app = s.service.app.clone();
    let file = tokio::task::spawn_blocking(move || -> Result<std::fs::File, String> {
        let name = format!(".backup-{}-{}.tmp", std::process::id(), crate::store::now_ms());
        let path = app.data_dir.join(name);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        // Unlinked at once: the open handle keeps it readable, and nothing
        // is left behind whatever happens to this request.
        let _ = std::fs::remove_file(&path);
        let summary = app.store.backup_to(&file).map_err(|e| e.to_string())?;
        tracing::info!(trees = summary.trees, records = summary.records, "backup taken");
        Ok(file)
    })
    .await
    .map_err(ServiceError::internal)?
    .map_err(ServiceError::internal)?;
    let mut file = tokio::fs::File::from_std(file);
    tokio::io::AsyncSeekExt::rewind(&mut file).await.map_err(ServiceError::internal)?;
    let stream = tokio_util::io::ReaderStream::new(file);
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"atsbridge.backup\""),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
