//! The public routes: a published position's page and its application
//! form, at `/p/{public id}`. No credentials; nothing but published, open
//! positions (anything else answers 404, as an id that never existed
//! does); plain HTML with a strict Content-Security-Policy.
//!
//! An application is `multipart/form-data` with `name`, `email` and the
//! resume file (field `resume`). The resume is read chunk by chunk and
//! refused with 413 as soon as it passes the configured size (a declared
//! `Content-Length` over the limit is refused before anything is read);
//! its type is decided by its bytes ([`crate::publish::upload`]); each client
//! address has a submission budget (429 with `Retry-After` beyond it).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Multipart, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::publish::RateLimit;
use crate::publish::page;
use crate::publish::public::{Application, PublicSettings};
use crate::publish::upload::sniff;
use crate::service::Service;

/// Room in a form's body for its other fields and multipart boundaries.
const FORM_OVERHEAD_BYTES: u64 = 64 << 10;
/// The longest name or email field read, in bytes.
const MAX_TEXT_FIELD_BYTES: usize = 1024;
/// What every public page may do: show itself, post its form to this host.
const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Clone)]
struct PublicState {
    service: Service,
    settings: PublicSettings,
    limit: Arc<RateLimit>,
}

/// The public routes, for `serve` (which must serve with connection info,
/// so the rate limit knows client addresses).
pub fn router(service: Service, settings: PublicSettings) -> Router {
    let body_limit =
        usize::try_from(settings.max_upload_bytes.saturating_add(FORM_OVERHEAD_BYTES)).unwrap_or(usize::MAX);
    let state = PublicState {
        service,
        settings,
        limit: Arc::new(RateLimit::new(settings.apply_per_minute, settings.apply_burst)),
    };
    Router::new()
        .route("/p/{public_id}", get(show))
        .route("/p/{public_id}/apply", post(apply).layer(DefaultBodyLimit::max(body_limit)))
        .with_state(state)
}

/// The client's address, when the server records it.
struct ClientAddr(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())))
    }
}

/// An HTML answer with the page's security headers.
fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn error(status: StatusCode, heading: &str, message: &str) -> Response {
    html(status, page::error_page(heading, message))
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not found", "This position does not exist or is no longer open.")
}

fn too_large(max: u64) -> Response {
    let mib = max.div_ceil(1 << 20);
    error(StatusCode::PAYLOAD_TOO_LARGE, "File too large", &format!("The resume may be at most {mib} MiB."))
}

/// Looks up a published, open position off the async workers.
async fn published(service: &Service, public_id: &str) -> Option<crate::store::Position> {
    let (service, id) = (service.clone(), public_id.to_string());
    match tokio::task::spawn_blocking(move || service.public_position(&id)).await {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "public page lookup failed");
            None
        }
        Err(_) => None,
    }
}

async fn show(State(s): State<PublicState>, Path(public_id): Path<String>) -> Response {
    match published(&s.service, &public_id).await {
        Some(p) => html(StatusCode::OK, page::position_page(&p, &public_id, s.settings.max_upload_bytes)),
        None => not_found(),
    }
}

/// What a submitted form held.
#[derive(Default)]
struct Form {
    name: String,
    email: String,
    resume: Option<(String, Vec<u8>)>,
}

/// Why a form was refused.
enum Refusal {
    TooLarge,
    Malformed(String),
}

async fn read_form(mut multipart: Multipart, max_upload: u64) -> Result<Form, Refusal> {
    let mut form = Form::default();
    let malformed = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE { Refusal::TooLarge } else { Refusal::Malformed(e.body_text()) }
    };
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or("").to_string();
        let cap = match name.as_str() {
            "resume" => max_upload,
            "name" | "email" => MAX_TEXT_FIELD_BYTES as u64,
            // Unknown fields are read past (the body limit bounds them).
            _ => 0,
        };
        let file_name = field.file_name().unwrap_or("resume").to_string();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if cap == 0 {
                continue;
            }
            if (bytes.len() + chunk.len()) as u64 > cap {
                return Err(if name == "resume" {
                    Refusal::TooLarge
                } else {
                    Refusal::Malformed(format!("the {name} is too long"))
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = || String::from_utf8_lossy(&bytes).trim().to_string();
        match name.as_str() {
            "name" => form.name = text(),
            "email" => form.email = text(),
            "resume" if !bytes.is_empty() => form.resume = Some((file_name, bytes)),
            _ => {}
        }
    }
    Ok(form)
}

fn too_many(wait: Duration) -> Response {
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "Too many applications",
        "Too many applications were sent from your address. Please try again later.",
    );
    if let Ok(v) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

async fn apply(
    State(s): State<PublicState>,
    ClientAddr(ip): ClientAddr,
    Path(public_id): Path<String>,
    request: Request,
) -> Response {
    if let Some(ip) = ip
        && let Err(wait) = s.limit.check(ip)
    {
        return too_many(wait);
    }
    let max = s.settings.max_upload_bytes;
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max.saturating_add(FORM_OVERHEAD_BYTES)) {
        return too_large(max);
    }
    let Some(position) = published(&s.service, &public_id).await else { return not_found() };
    let multipart = match Multipart::from_request(request, &s).await {
        Ok(m) => m,
        Err(_) => {
            return error(StatusCode::BAD_REQUEST, "Not a form", "Send the form as multipart/form-data.");
        }
    };
    let form = match read_form(multipart, max).await {
        Ok(form) => form,
        Err(Refusal::TooLarge) => return too_large(max),
        Err(Refusal::Malformed(m)) => {
            tracing::debug!(reason = %m, "malformed application form");
            return error(
                StatusCode::BAD_REQUEST,
                "Form not readable",
                "The form could not be read; please send it again.",
            );
        }
    };
    let Some((file_name, bytes)) = form.resume else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Resume missing", "Please attach your resume.");
    };
    let Some(kind) = sniff(&bytes) else {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "File type not accepted",
            "The resume must be a PDF, DOC, DOCX, ODT, RTF or plain text file.",
        );
    };
    let application = Application { name: form.name, email: form.email, file_name, kind, bytes };
    let (service, id) = (s.service.clone(), public_id.clone());
    match tokio::task::spawn_blocking(move || service.submit_application(&id, application)).await {
        Ok(Ok(())) => html(StatusCode::CREATED, page::applied_page(&position, &public_id)),
        Ok(Err(e)) if e.kind() == crate::service::ErrorKind::NotFound => not_found(),
        Ok(Err(e)) if e.kind() == crate::service::ErrorKind::Invalid => {
            error(StatusCode::UNPROCESSABLE_ENTITY, "Please check the form", &e.to_string())
        }
        Ok(Err(_)) | Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "Your application could not be saved; please try again later.",
        ),
    }
}
