//! A local fault-injecting proxy, so the fault checks can run against any
//! server: the connector under test is pointed at the proxy, which forwards
//! to the real base URL and, on command, answers with a fault instead.
//!
//! Everything it reads is bounded: request and response bodies by
//! [`MAX_BODY_BYTES`], the upstream exchange by [`UPSTREAM_TIMEOUT`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;
use url::Url;

/// The largest request or response body the proxy relays: far above any
/// page of jobs a connector may read (the host's own limit is lower), small
/// enough that a hostile server cannot fill memory.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The longest the proxy waits for the upstream server, the whole exchange
/// included: above the host's per-request deadline, so the proxy never
/// decides for the connector.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);

/// What the proxy answers instead of forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyFault {
    /// 429, with `Retry-After: secs` when given.
    RateLimit { retry_after_secs: Option<u64> },
    /// This status with a short HTML page, as a load balancer answers.
    Status(u16),
    /// Forwards, then relays only the first half of the body: invalid JSON.
    MalformedJson,
}

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    #[error("the fault proxy cannot listen on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    #[error("the fault proxy cannot build its HTTP client: {0}")]
    Client(#[source] reqwest::Error),
}

struct Shared {
    upstream: Url,
    client: reqwest::Client,
    fault: Mutex<Option<ProxyFault>>,
    /// Statuses answered, in order, so a check can tell an injected fault
    /// was really served.
    answered: Mutex<Vec<u16>>,
}

/// A running proxy on 127.0.0.1 in front of `upstream`.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
}

impl FaultProxy {
    /// Starts the proxy on a free port of 127.0.0.1.
    pub async fn start(upstream: Url) -> Result<FaultProxy, ProxyError> {
        let client = reqwest::Client::builder()
            .timeout(UPSTREAM_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ProxyError::Client)?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(ProxyError::Bind)?;
        let addr = listener.local_addr().map_err(ProxyError::Bind)?;
        let shared = Arc::new(Shared { upstream, client, fault: Mutex::new(None), answered: Mutex::new(Vec::new()) });
        let app = axum::Router::new().fallback(relay).with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let served = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(e) = served.await {
                tracing::warn!(error = %e, "the conformance fault proxy stopped");
            }
        });
        Ok(FaultProxy { addr, shared, stop: Some(stop) })
    }

    /// The proxy's URL: the upstream URL with its origin replaced.
    pub fn url(&self) -> String {
        let mut url = self.shared.upstream.clone();
        let _ = url.set_scheme("http");
        let _ = url.set_host(Some("127.0.0.1"));
        let _ = url.set_port(Some(self.addr.port()));
        url.to_string().trim_end_matches('/').to_string()
    }

    /// The proxy's origin, to grant to the connector under test.
    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers every request with `fault` until [`FaultProxy::clear`].
    pub fn inject(&self, fault: ProxyFault) {
        if let Ok(mut f) = self.shared.fault.lock() {
            *f = Some(fault);
        }
    }

    /// Forwards every request again.
    pub fn clear(&self) {
        if let Ok(mut f) = self.shared.fault.lock() {
            *f = None;
        }
    }

    /// The statuses answered so far.
    pub fn answered(&self) -> Vec<u16> {
        self.shared.answered.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Headers not relayed: hop-by-hop, or recomputed by the client.
const SKIPPED_HEADERS: [HeaderName; 4] =
    [header::HOST, header::CONTENT_LENGTH, header::CONNECTION, header::TRANSFER_ENCODING];

async fn relay(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let fault = shared.fault.lock().ok().and_then(|f| f.clone());
    let response = match fault {
        Some(ProxyFault::RateLimit { retry_after_secs }) => {
            let mut r = (StatusCode::TOO_MANY_REQUESTS, "rate limited").into_response();
            if let Some(secs) = retry_after_secs {
                r.headers_mut().insert(header::RETRY_AFTER, secs.into());
            }
            r
        }
        Some(ProxyFault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let page = format!("<html><body><h1>{code}</h1></body></html>");
            (status, [(header::CONTENT_TYPE, "text/html")], page).into_response()
        }
        Some(ProxyFault::MalformedJson) => match forward(&shared, request).await {
            Ok((status, headers, body)) => {
                let half = body.len() / 2;
                build(status, headers, body[..half].to_vec())
            }
            Err(r) => r,
        },
        None => match forward(&shared, request).await {
            Ok((status, headers, body)) => build(status, headers, body),
            Err(r) => r,
        },
    };
    if let Ok(mut a) = shared.answered.lock() {
        a.push(response.status().as_u16());
    }
    response
}

fn build(status: StatusCode, headers: HeaderMap, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    for (name, value) in &headers {
        if !SKIPPED_HEADERS.contains(name) {
            r.headers_mut().append(name, value.clone());
        }
    }
    r
}

/// Sends `request` upstream and reads the answer, both bounded.
async fn forward(shared: &Shared, request: Request) -> Result<(StatusCode, HeaderMap, Vec<u8>), Response> {
    let bad_gateway = |why: String| (StatusCode::BAD_GATEWAY, why).into_response();
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| bad_gateway("request body too large".into()))?;
    let mut url = shared.upstream.clone();
    let path = parts.uri.path();
    let base_path = url.path().trim_end_matches('/').to_string();
    let rest = path.strip_prefix(base_path.as_str()).unwrap_or(path);
    url.set_path(&format!("{base_path}{rest}"));
    url.set_query(parts.uri.query());
    let mut headers = parts.headers;
    for name in &SKIPPED_HEADERS {
        headers.remove(name);
    }
    let mut upstream = shared
        .client
        .request(parts.method, url)
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|e| bad_gateway(format!("upstream: {e}")))?;
    let status = upstream.status();
    let headers = upstream.headers().clone();
    let mut read = Vec::new();
    while let Some(chunk) = upstream.chunk().await.map_err(|e| bad_gateway(format!("upstream body: {e}")))? {
        if read.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(bad_gateway("upstream body too large".into()));
        }
        read.extend_from_slice(&chunk);
    }
    Ok((status, headers, read))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn forwards_and_injects_on_command() {
        let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = upstream.local_addr().unwrap().port();
        let app = axum::Router::new().route(
            "/api/jobs",
            axum::routing::get(
                |uri: axum::http::Uri| async move { format!("{{\"q\":\"{}\"}}", uri.query().unwrap_or("")) },
            ),
        );
        tokio::spawn(async move { axum::serve(upstream, app).await });
        let proxy = FaultProxy::start(Url::parse(&format!("http://127.0.0.1:{port}/api")).unwrap()).await.unwrap();
        let client = reqwest::Client::new();
        let url = format!("{}/jobs?page=2", proxy.url());
        let ok = client.get(&url).send().await.unwrap();
        assert_eq!(ok.status(), 200);
        assert_eq!(ok.text().await.unwrap(), r#"{"q":"page=2"}"#);

        proxy.inject(ProxyFault::RateLimit { retry_after_secs: Some(7) });
        let limited = client.get(&url).send().await.unwrap();
        assert_eq!(limited.status(), 429);
        assert_eq!(limited.headers()["retry-after"], "7");

        proxy.inject(ProxyFault::Status(503));
        assert_eq!(client.get(&url).send().await.unwrap().status(), 503);

        proxy.inject(ProxyFault::MalformedJson);
        let broken = client.get(&url).send().await.unwrap().text().await.unwrap();
        assert!(serde_json::from_str::<serde_json::Value>(&broken).is_err(), "{broken}");

        proxy.clear();
        assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
        assert_eq!(proxy.answered(), vec![200, 429, 503, 200, 200]);
    }
}
