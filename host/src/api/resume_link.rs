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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::resume_link::{KEY_BYTES, LINK_LIFETIME_SECS};
    use axum::http::header;

    fn links() -> ResumeLinks {
        ResumeLinks::with_key("https://jobs.example.com/", [7; KEY_BYTES])
    }

    #[tokio::test]
    async fn the_route_serves_the_granted_file_and_nothing_else() {
        use tower::ServiceExt;

        let (_dir, store) = crate::store::testutil::temp_store();
        let conn = crate::store::testutil::connection(&store, "Acme");
        let positions = crate::store::testutil::commit_jobs(&store, &conn.id, &[("j1", "Engineer")]);
        let new = |email: &str, resume| crate::store::NewCandidate {
            position_id: positions[0].id,
            name: "Ada Lovelace".into(),
            email: email.into(),
            phone: None,
            links: vec![],
            resume,
            answers: Default::default(),
            source: None,
            stage_id: None,
            by: crate::store::MovedBy::User { name: "test".into() },
        };
        let pdf = b"%PDF-1.7 the resume".to_vec();
        let resume = crate::store::NewResume {
            file_name: "cv \"1\".pdf".into(),
            content_type: "application/pdf".into(),
            bytes: pdf.clone(),
        };
        let (with, _) = store.create_candidate(new("ada@example.com", Some(resume))).unwrap();
        let (without, _) = store.create_candidate(new("bo@example.com", None)).unwrap();
        let links = links();
        let app = router(store, links.clone());
        let get = |url: String| {
            let app = app.clone();
            async move {
                let path = url.strip_prefix("https://jobs.example.com").unwrap_or(&url).to_string();
                let request = axum::http::Request::get(path).body(axum::body::Body::empty()).unwrap();
                let response = app.oneshot(request).await.unwrap();
                let status = response.status();
                let headers = response.headers().clone();
                let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
                (status, headers, body)
            }
        };
        let now = crate::store::now_unix();
        let (status, headers, body) = get(links.url(with.id, now)).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(&body[..], &pdf[..]);
        assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(
            headers[header::CONTENT_DISPOSITION],
            "attachment; filename=\"cv _1_.pdf\"; filename*=UTF-8''cv%20%221%22.pdf"
        );
        // Expired, forged for another candidate, for one without a résumé: all 404.
        let (status, _, _) = get(links.url(with.id, now - 2 * LINK_LIFETIME_SECS)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let granted = links.url(with.id, now);
        let token = granted.rsplit('/').next().expect("a token after the last slash");
        let forged = token.replacen(&with.id.to_string(), &without.id.to_string(), 1);
        let (status, _, _) = get(format!("/r/{forged}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _, _) = get(links.url(without.id, now)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
