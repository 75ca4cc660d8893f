//! Starting and stopping a mock: the TCP accept loop and the request
//! pipeline every vendor shares (request log, faults, rate limiting).
//!
//! The accept loop is ours rather than `axum::serve` for one reason:
//! [`Fault::DropConnection`] must close a socket *without* a response. Each
//! connection task serves HTTP/1.1 with hyper and also waits on a
//! per-connection [`Notify`]; the pipeline puts that `Notify` in the request
//! extensions, and firing it makes the task drop the connection (and the
//! pending handler with it).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt as _;

use crate::envelope;
use crate::faults::Fault;
use crate::state::{Shared, lock};

/// Uploads and JSON bodies with base64 resumes can be large; real ATSs
/// accept files of tens of MB (Lever reports ~30 MB).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Path prefix of the mock's own "presigned" upload URLs (Ashby).
pub(crate) const UPLOAD_PREFIX: &str = "/__upload/";
/// Greenhouse's OAuth token endpoint (auth.greenhouse.io/token in reality).
pub(crate) const TOKEN_PATH: &str = "/auth/token";

/// Endpoints that are not part of the vendor's API proper: not rate-limited
/// and not hit by unscoped faults.
fn is_auxiliary(path: &str) -> bool {
    path == TOKEN_PATH || path.starts_with(UPLOAD_PREFIX)
}

/// Fired to drop the connection a request arrived on.
#[derive(Clone)]
struct ConnectionKill(Arc<Notify>);

/// Wraps a vendor router with the shared pipeline and state.
pub(crate) fn app(shared: Arc<Shared>, vendor_routes: Router<Arc<Shared>>) -> Router {
    let vendor = shared.vendor;
    vendor_routes
        .fallback(
            move || async move { envelope::error(vendor, axum::http::StatusCode::NOT_FOUND, "Resource not found") },
        )
        .layer(middleware::from_fn_with_state(shared.clone(), pipeline))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

/// Log → fault → rate limit → handler → headers / post-effects.
async fn pipeline(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let vendor = shared.vendor;
    let path = req.uri().path().to_string();
    let path_and_query = req.uri().path_and_query().map_or_else(|| path.clone(), |p| p.as_str().to_string());
    let request_bytes =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok()).unwrap_or(0);
    let index = shared.log_request(req.method().as_str(), &path_and_query, request_bytes);
    let auxiliary = is_auxiliary(&path);
    let fault = lock(&shared.faults).take(&path, auxiliary, vendor.job_list_paths());
    tracing::debug!(%path_and_query, ?fault, "mock-ats request");

    let finish = |resp: Response| {
        let response_bytes = axum::body::HttpBody::size_hint(resp.body()).exact();
        shared.log_status(index, resp.status().as_u16(), response_bytes);
        resp
    };
    let (mut malformed, mut change_after) = (false, false);
    match fault {
        Some(Fault::Status(code)) => return finish(envelope::fault_status(vendor, code)),
        Some(Fault::RateLimit { retry_after_secs }) => {
            let limit = shared.config.rate_limit.map_or(vendor.default_rate_limit().limit, |r| r.limit);
            let decision = crate::ratelimit::Decision {
                allowed: false,
                limit,
                remaining: 0,
                retry_after_secs,
                reset_unix: crate::time_fmt::now_ms() / 1000 + retry_after_secs as i64,
            };
            return finish(envelope::too_many_requests(vendor, &decision));
        }
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::MalformedJson) => malformed = true,
        Some(Fault::DropConnection) => {
            if let Some(kill) = req.extensions().get::<ConnectionKill>() {
                kill.0.notify_one();
            }
            // The connection task drops this future together with the socket.
            std::future::pending::<()>().await;
        }
        Some(Fault::ChangePageBetweenRequests) => change_after = true,
        None => {}
    }

    let decision = match (&shared.limiter, auxiliary) {
        (Some(limiter), false) => Some(lock(limiter).check(Instant::now())),
        _ => None,
    };
    if let Some(d) = decision.filter(|d| !d.allowed) {
        return finish(envelope::throttled(vendor, &d));
    }

    let mut resp = next.run(req).await;
    if let Some(d) = &decision {
        envelope::rate_limit_headers(vendor, d, resp.headers_mut());
    }
    if change_after {
        let (added, updated) = shared.store().change_between_pages();
        tracing::debug!(%added, ?updated, "mock-ats changed data between pages");
    }
    if malformed {
        resp = truncate_body(resp).await;
    }
    finish(resp)
}

/// Keeps the status and headers, sends the first half of the body.
async fn truncate_body(resp: Response) -> Response {
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let cut = if bytes.len() < 4 { axum::body::Bytes::from_static(b"{\"") } else { bytes.slice(..bytes.len() / 2) };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    Response::from_parts(parts, Body::from(cut))
}

/// Serves `app` on `listener` until `stop` turns true.
pub(crate) async fn serve(listener: TcpListener, app: Router, mut stop: watch::Receiver<bool>) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(%err, "mock-ats accept failed");
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let mut conn_stop = stop.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let kill_handle = ConnectionKill(kill.clone());
            let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(kill_handle.clone());
                app.clone().oneshot(req.map(Body::new))
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                // Dropping `conn` closes the socket with nothing written.
                _ = kill.notified() => {}
                _ = conn_stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}
