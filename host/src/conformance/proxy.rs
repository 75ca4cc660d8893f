//! A local fault-injecting proxy, so the fault checks can run against any
//! server: the connector under test is pointed at the proxy, which forwards
//! to the real base URL and, on command, answers with a fault instead.
//!
//! Everything it reads is bounded: request and response bodies by
//! [`MAX_BODY_BYTES`], the upstream exchange by [`UPSTREAM_TIMEOUT`], a
//! held answer by [`MAX_SLOW`], the exchange log by [`MAX_LOGGED`].
//!
//! The accept loop is the proxy's own (hyper, HTTP/1.1) rather than
//! `axum::serve` for one reason: a dropped connection must close the socket
//! without a response, or in the middle of one. Each connection task also
//! waits on a [`Notify`] the handler finds in the request's extensions;
//! firing it drops the connection.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt as _;
use tokio::sync::{Notify, watch};
use tower::ServiceExt as _;
use url::Url;

/// The largest request or response body the proxy relays: far above any
/// page of jobs a connector may read (the host's own limit is lower), small
/// enough that a hostile server cannot fill memory.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The longest the proxy waits for the upstream server, the whole exchange
/// included: above the host's per-request deadline, so the proxy never
/// decides for the connector.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest [`ProxyFault::Slow`] holds an answer, whatever it was asked:
/// a slow-response check must end in seconds, not hold a socket forever.
pub const MAX_SLOW: Duration = Duration::from_secs(30);
/// Exchanges the log keeps; later ones are counted, not kept. A check makes
/// a few dozen requests, so this is never reached by a working run.
pub const MAX_LOGGED: usize = 10_000;
/// How long a half-sent body is left on the wire before the connection is
/// dropped, so the client surely reads the first half before the reset.
const MID_BODY_PAUSE: Duration = Duration::from_millis(100);

/// What the proxy does instead of forwarding as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyFault {
    /// 429, with `Retry-After: secs` when given.
    RateLimit { retry_after_secs: Option<u64> },
    /// This status with a short HTML page, as a load balancer answers.
    Status(u16),
    /// Forwards, then relays only the first half of the body: truncated JSON.
    MalformedJson,
    /// Answers 200, `Content-Type: application/json`, with a body that is
    /// not JSON at all (an unquoted key, a trailing comma, a stray brace).
    GarbledJson,
    /// Closes the connection without answering.
    DropConnection,
    /// Forwards, sends the status, the headers and the first half of the
    /// body, then closes the connection.
    DropMidBody,
    /// Holds the request this long (at most [`MAX_SLOW`]), then forwards.
    Slow(Duration),
    /// Forwards, but requests to `path` go with the number in the query
    /// parameter `param` one lower: what an offset-paged server answers once
    /// a job was inserted at the front of the list. The fault is the list
    /// changing between requests; nothing is wrong with any one answer.
    ShiftOffset { path: String, param: String },
}

/// One request the proxy saw, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    pub method: String,
    /// The path as the connector sent it (the proxy's, same as upstream's).
    pub path: String,
    pub query: Option<String>,
    /// The status answered; `None` when the connection was dropped first.
    pub status: Option<u16>,
}

impl Exchange {
    /// The query's parameters, decoded.
    pub fn params(&self) -> Vec<(String, String)> {
        self.query.as_deref().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
    }
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
    /// Every exchange, in order, so a check can tell an injected fault was
    /// really served, and read how the connector pages.
    log: Mutex<Vec<Exchange>>,
}

/// Fired to drop the connection a request arrived on.
#[derive(Clone)]
struct ConnectionKill(Arc<Notify>);

/// A running proxy on 127.0.0.1 in front of `upstream`.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
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
        let shared = Arc::new(Shared { upstream, client, fault: Mutex::new(None), log: Mutex::new(Vec::new()) });
        let app = axum::Router::new().fallback(relay).with_state(shared.clone());
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(serve(listener, app, stopped));
        Ok(FaultProxy { addr, shared, stop })
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

    /// Applies `fault` to every request until [`FaultProxy::clear`].
    pub fn inject(&self, fault: ProxyFault) {
        if let Ok(mut f) = self.shared.fault.lock() {
            *f = Some(fault);
        }
    }

    /// Forwards every request as it is again.
    pub fn clear(&self) {
        if let Ok(mut f) = self.shared.fault.lock() {
            *f = None;
        }
    }

    /// The statuses answered so far (dropped connections have none).
    pub fn answered(&self) -> Vec<u16> {
        self.exchanges().iter().filter_map(|e| e.status).collect()
    }

    /// Every exchange so far, in order (at most [`MAX_LOGGED`]).
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared.log.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Serves `app` on `listener` until `stop` turns true.
async fn serve(listener: tokio::net::TcpListener, app: axum::Router, mut stop: watch::Receiver<bool>) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "the conformance fault proxy cannot accept");
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let app = app.clone();
        let mut conn_stop = stop.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let handle = ConnectionKill(kill.clone());
            let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(handle.clone());
                app.clone().oneshot(req.map(Body::new))
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                // Dropping `conn` closes the socket, whatever was written.
                _ = kill.notified() => {}
                _ = conn_stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = conn.await;
                }
            }
        });
    }
}

/// Headers not relayed: hop-by-hop, or recomputed by the client.
const SKIPPED_HEADERS: [HeaderName; 4] =
    [header::HOST, header::CONTENT_LENGTH, header::CONNECTION, header::TRANSFER_ENCODING];

/// Not JSON, though it starts like a page of jobs: an unquoted key, a
/// trailing comma and an unclosed array.
const GARBLED_JSON: &str = "{\"jobs\": [{id: 1, \"title\": \"Engineer\",}, {\"id\": 2 ";

async fn relay(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let fault = shared.fault.lock().ok().and_then(|f| f.clone());
    let kill = request.extensions().get::<ConnectionKill>().cloned();
    let index = log(&shared, &request);
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
        Some(ProxyFault::GarbledJson) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], GARBLED_JSON).into_response()
        }
        Some(ProxyFault::DropConnection) => {
            if let Some(kill) = kill {
                kill.0.notify_one();
            }
            // The connection task drops this future together with the socket.
            std::future::pending::<()>().await;
            unreachable_answer()
        }
        Some(ProxyFault::MalformedJson) => match forward(&shared, request, None).await {
            Ok((status, headers, body)) => build(status, headers, Body::from(body[..body.len() / 2].to_vec())),
            Err(r) => r,
        },
        Some(ProxyFault::DropMidBody) => match (forward(&shared, request, None).await, kill) {
            (Ok((status, headers, body)), Some(kill)) => {
                let (mut writer, reader) = tokio::io::duplex(body.len().max(1));
                tokio::spawn(async move {
                    let _ = writer.write_all(&body[..body.len() / 2]).await;
                    let _ = writer.flush().await;
                    tokio::time::sleep(MID_BODY_PAUSE).await;
                    kill.0.notify_one();
                    // The body must not end before the connection is gone:
                    // hyper would finish the chunked body, and the half body
                    // would arrive as a whole one.
                    tokio::time::sleep(MID_BODY_PAUSE).await;
                    drop(writer);
                });
                let mut r = build(status, headers, Body::from_stream(tokio_util::io::ReaderStream::new(reader)));
                // Chunked: the client cannot take the half body for a whole one.
                r.headers_mut().remove(header::CONTENT_LENGTH);
                r
            }
            (Ok(_), None) => (StatusCode::BAD_GATEWAY, "no connection to drop").into_response(),
            (Err(r), _) => r,
        },
        Some(ProxyFault::Slow(delay)) => {
            tokio::time::sleep(delay.min(MAX_SLOW)).await;
            relay_as_is(&shared, request, None).await
        }
        Some(ProxyFault::ShiftOffset { path, param }) => {
            let shift = (request.uri().path() == path).then_some(param);
            relay_as_is(&shared, request, shift.as_deref()).await
        }
        None => relay_as_is(&shared, request, None).await,
    };
    if let (Some(index), Ok(mut log)) = (index, shared.log.lock())
        && let Some(entry) = log.get_mut(index)
    {
        entry.status = Some(response.status().as_u16());
    }
    response
}

/// Never built: [`ProxyFault::DropConnection`] waits until its connection
/// is dropped. Keeps the match's arms one type.
fn unreachable_answer() -> Response {
    StatusCode::BAD_GATEWAY.into_response()
}

/// Logs `request` (no status yet); its index, or `None` past [`MAX_LOGGED`].
fn log(shared: &Shared, request: &Request) -> Option<usize> {
    let mut log = shared.log.lock().ok()?;
    if log.len() >= MAX_LOGGED {
        return None;
    }
    log.push(Exchange {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
        query: request.uri().query().map(str::to_string),
        status: None,
    });
    Some(log.len() - 1)
}

async fn relay_as_is(shared: &Shared, request: Request, shift: Option<&str>) -> Response {
    match forward(shared, request, shift).await {
        Ok((status, headers, body)) => build(status, headers, Body::from(body)),
        Err(r) => r,
    }
}

fn build(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    for (name, value) in &headers {
        if !SKIPPED_HEADERS.contains(name) {
            r.headers_mut().append(name, value.clone());
        }
    }
    r
}

/// `query` with the number in `param` one lower (not below 0); other
/// parameters as they were.
fn shifted_query(query: &str, param: &str) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match value.parse::<u64>() {
            Ok(n) if key == param => out.append_pair(&key, &n.saturating_sub(1).to_string()),
            _ => out.append_pair(&key, &value),
        };
    }
    out.finish()
}

/// Sends `request` upstream (with `shift`'s parameter one lower) and reads
/// the answer, both bounded.
async fn forward(
    shared: &Shared,
    request: Request,
    shift: Option<&str>,
) -> Result<(StatusCode, HeaderMap, Vec<u8>), Response> {
    let bad_gateway = |why: String| (StatusCode::BAD_GATEWAY, why).into_response();
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| bad_gateway("request body too large".into()))?;
    let mut url = shared.upstream.clone();
    let path = parts.uri.path();
    let base_path = url.path().trim_end_matches('/').to_string();
    let rest = path.strip_prefix(base_path.as_str()).unwrap_or(path);
    url.set_path(&format!("{base_path}{rest}"));
    match (parts.uri.query(), shift) {
        (Some(query), Some(param)) => url.set_query(Some(&shifted_query(query, param))),
        (query, _) => url.set_query(query),
    }
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

    async fn upstream() -> Url {
        let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = upstream.local_addr().unwrap().port();
        let app = axum::Router::new().route(
            "/api/jobs",
            axum::routing::get(|uri: axum::http::Uri| async move {
                format!("{{\"q\":\"{}\",\"pad\":\"{}\"}}", uri.query().unwrap_or(""), "x".repeat(64))
            }),
        );
        tokio::spawn(async move { axum::serve(upstream, app).await });
        Url::parse(&format!("http://127.0.0.1:{port}/api")).unwrap()
    }

    #[tokio::test]
    async fn forwards_and_injects_on_command() {
        let proxy = FaultProxy::start(upstream().await).await.unwrap();
        let client = reqwest::Client::new();
        let url = format!("{}/jobs?page=2", proxy.url());
        let ok = client.get(&url).send().await.unwrap();
        assert_eq!(ok.status(), 200);
        assert!(ok.text().await.unwrap().starts_with(r#"{"q":"page=2""#));

        proxy.inject(ProxyFault::RateLimit { retry_after_secs: Some(7) });
        let limited = client.get(&url).send().await.unwrap();
        assert_eq!(limited.status(), 429);
        assert_eq!(limited.headers()["retry-after"], "7");
        proxy.inject(ProxyFault::RateLimit { retry_after_secs: None });
        let limited = client.get(&url).send().await.unwrap();
        assert_eq!((limited.status().as_u16(), limited.headers().get("retry-after")), (429, None));

        proxy.inject(ProxyFault::Status(503));
        assert_eq!(client.get(&url).send().await.unwrap().status(), 503);

        for fault in [ProxyFault::MalformedJson, ProxyFault::GarbledJson] {
            proxy.inject(fault);
            let broken = client.get(&url).send().await.unwrap().text().await.unwrap();
            assert!(serde_json::from_str::<serde_json::Value>(&broken).is_err(), "{broken}");
        }

        proxy.inject(ProxyFault::ShiftOffset { path: "/api/jobs".into(), param: "page".into() });
        let shifted = client.get(&url).send().await.unwrap().text().await.unwrap();
        assert!(shifted.starts_with(r#"{"q":"page=1""#), "{shifted}");

        proxy.clear();
        assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
        assert_eq!(proxy.answered(), vec![200, 429, 429, 503, 200, 200, 200, 200]);
        assert_eq!(proxy.exchanges()[0].params(), vec![("page".to_string(), "2".to_string())]);
    }

    #[tokio::test]
    async fn drops_connections_before_and_during_the_answer_and_holds_slow_ones() {
        let proxy = FaultProxy::start(upstream().await).await.unwrap();
        let client = reqwest::Client::new();
        let url = format!("{}/jobs", proxy.url());

        proxy.inject(ProxyFault::DropConnection);
        let err = client.get(&url).send().await.unwrap_err();
        assert!(!err.is_timeout(), "{err}");

        proxy.inject(ProxyFault::DropMidBody);
        let answer = client.get(&url).send().await.unwrap();
        assert_eq!(answer.status(), 200, "the status and headers arrive");
        assert!(answer.bytes().await.is_err(), "the body breaks off");

        proxy.inject(ProxyFault::Slow(Duration::from_millis(300)));
        let started = std::time::Instant::now();
        let quick = client.get(&url).timeout(Duration::from_millis(100)).send().await.unwrap_err();
        assert!(quick.is_timeout(), "{quick}");
        assert!(started.elapsed() < Duration::from_millis(290));
        proxy.clear();
        assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
        let statuses: Vec<Option<u16>> = proxy.exchanges().iter().map(|e| e.status).collect();
        assert_eq!(&statuses[..2], &[None, Some(200)]);
    }
}
