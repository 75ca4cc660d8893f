//! The résumé links' route: `GET /r/{token}` serves the file a valid link
//! grants ([`crate::outbox::ResumeLinks`] signs and checks the links), and
//! answers 404 for every refusal alike (malformed, forged, expired, a
//! candidate without a résumé), so it tells a prober nothing.

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::attachment::attachment;
use super::error::ApiError;
use crate::outbox::ResumeLinks;
use crate::store::Store;

#[derive(Clone)]
struct LinkState {
    store: Store,
    links: ResumeLinks,
}

/// `GET /r/{token}`: the résumé a valid link grants, as an attachment.
pub fn router(store: Store, links: ResumeLinks) -> Router {
    Router::new().route("/r/{token}", get(serve)).with_state(LinkState { store, links })
}

async fn serve(State(state): State<LinkState>, UrlPath(token): UrlPath<String>) -> Response {
    let Some(candidate_id) = state.links.verify(&token, crate::store::now_unix()) else {
        return not_found();
    };
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || {
        let candidate = store.candidate(candidate_id).ok()??;
        let meta = candidate.resume?;
        let bytes = store.candidate_resume(candidate_id).ok()??;
        Some((meta, bytes))
    })
    .await
    .ok()
    .flatten();
    let Some((meta, bytes)) = found else { return not_found() };
    attachment(&meta.content_type, &meta.file_name, bytes)
}

fn not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such link").into_response()
}
