//! The CLI as a client of the API. With a host serving from the data
//! directory (its address in `<data dir>/api-address`, or `ATSBRIDGE_URL`),
//! commands are HTTP requests to it; without one, the CLI opens the store
//! itself and sends the same requests to the same router in-process, so
//! both paths go through the same handlers and service layer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::ServiceExt;

use super::serve::{ADDRESS_FILE, OPERATOR_TOKEN_ENV, operator_token, token_path};
use crate::api::{ApiState, AuthConfig};
use crate::app::App;
use crate::config::Config;
use crate::service::Service;
use crate::service::dto::ErrorBody;

/// Names a host to talk to instead of the data directory's address file.
pub const URL_ENV: &str = "ATSBRIDGE_URL";
/// An account API key to use instead of the operator token.
pub const API_KEY_ENV: &str = "ATSBRIDGE_API_KEY";
/// How long a request to a running host may take (a plugin upload or a
/// connection test against a slow ATS take seconds).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// How long to wait for a host to answer at all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// The largest answer read (a page of 500 positions with descriptions).
const MAX_RESPONSE_BYTES: usize = 256 << 20;

/// A host named by the environment or an address file that does not
/// answer, or cannot be used; says which and what to do.
#[derive(Debug)]
pub struct Stale(pub String);

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Stale {}

/// Where requests go.
pub enum Backend {
    /// A running host.
    Remote { http: reqwest::Client, base: String, token: SecretString, from: String },
    /// This process, over the store opened directly.
    Local { router: axum::Router, token: SecretString, data_dir: PathBuf },
}

impl Backend {
    /// A running host if one serves this data directory, else the store.
    pub async fn connect(config: &Config) -> anyhow::Result<Backend> {
        match Backend::remote(&config.data_dir).await {
            Ok(Some(remote)) => Ok(remote),
            Ok(None) => Backend::local(config),
            Err(Stale(note)) if std::env::var_os(URL_ENV).is_some() => Err(anyhow!(note)),
            Err(Stale(note)) => Backend::local(config).map_err(|e| anyhow!("{e:#}\n({note})")),
        }
    }

    /// The running host named by `ATSBRIDGE_URL` or the data directory's
    /// address file, if it answers.
    pub async fn remote(data_dir: &Path) -> Result<Option<Backend>, Stale> {
        let explicit = std::env::var(URL_ENV).ok().filter(|u| !u.trim().is_empty());
        let address_file = data_dir.join(ADDRESS_FILE);
        let (base, from) = match explicit {
            Some(url) => (url.trim().trim_end_matches('/').to_string(), format!("${URL_ENV}")),
            None => match std::fs::read_to_string(&address_file) {
                Ok(text) => (text.trim().trim_end_matches('/').to_string(), address_file.display().to_string()),
                Err(_) => return Ok(None),
            },
        };
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| Stale(format!("cannot build an HTTP client: {e}")))?;
        match http.get(format!("{base}/api/v1/openapi.json")).send().await {
            Ok(_) => {
                let token = client_token(data_dir).map_err(|e| Stale(format!("{e:#}")))?.ok_or_else(|| {
                    Stale(format!(
                        "the host at {base} needs a token: set {OPERATOR_TOKEN_ENV} (or {API_KEY_ENV}), \
                         or run this where {} is readable",
                        token_path(data_dir).display()
                    ))
                })?;
                Ok(Some(Backend::Remote { http, base, token, from }))
            }
            Err(e) => Err(Stale(format!(
                "{from} names the host at {base}, which does not answer ({e}); start `atsbridge serve`, \
                 or if none serves this data directory, delete {from}"
            ))),
        }
    }

    /// The store opened in this process.
    /// The store opened in this process with the configuration's key,
    /// limits and data directory.
    pub fn local(config: &Config) -> anyhow::Result<Backend> {
        let data_dir = &config.data_dir;
        let app = App::open_config(config)?;
        let service = Service::local(app)?;
        // This process is the operator: it can read the data directory.
        let token = SecretString::from(format!("local-{}", std::process::id()));
        let auth = AuthConfig { operator_token: token.clone(), allowed_hosts: None };
        let router = crate::api::router(ApiState { service, auth: Arc::new(auth) });
        Ok(Backend::Local { router, token, data_dir: data_dir.to_path_buf() })
    }

    /// For `status`: where commands go.
    pub fn describe(&self) -> String {
        match self {
            Backend::Remote { base, from, .. } => format!("client of the running host at {base} (address from {from})"),
            Backend::Local { data_dir, .. } => {
                format!("no host running; using the store in {} directly", data_dir.display())
            }
        }
    }

    /// An API path as a person would request it: the running host's full
    /// URL, or the path alone when this process serves the store.
    pub fn shown_url(&self, path: &str) -> String {
        match self {
            Backend::Remote { base, .. } => format!("{base}{path}"),
            Backend::Local { .. } => path.to_string(),
        }
    }

    pub fn is_remote(&self) -> bool {
        matches!(self, Backend::Remote { .. })
    }

    /// Sends a request; decodes a success, turns an error body into an error
    /// that names the host.
    pub async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> anyhow::Result<T> {
        let (status, bytes) = self.raw(method, path, body).await?;
        if status.is_success() {
            let bytes = if bytes.is_empty() { b"null".to_vec() } else { bytes };
            return serde_json::from_slice(&bytes).with_context(|| format!("unexpected answer to {path}"));
        }
        let message = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(e) => e.error.message,
            Err(_) => format!("{status}"),
        };
        match self {
            Backend::Remote { base, .. } if status == StatusCode::UNAUTHORIZED => bail!(
                "{message} (the host at {base} refused the token; check {OPERATOR_TOKEN_ENV} or {})",
                ADDRESS_FILE
            ),
            _ => bail!("{message}"),
        }
    }

    /// A success's body as it is (a recording); an error as [`Backend::send`] reports it.
    pub async fn get_bytes(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let (status, bytes) = self.raw(Method::GET, path, None::<&()>).await?;
        if status.is_success() {
            return Ok(bytes);
        }
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(e) => bail!("{}", e.error.message),
            Err(_) => bail!("{status}"),
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.send(Method::GET, path, None::<&()>).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &(impl Serialize + ?Sized)) -> anyhow::Result<T> {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> anyhow::Result<(StatusCode, Vec<u8>)> {
        let body = body.map(serde_json::to_vec).transpose()?;
        match self {
            Backend::Remote { http, base, token, .. } => {
                let mut req = http.request(method, format!("{base}{path}")).bearer_auth(token.expose_secret());
                if let Some(body) = body {
                    req = req.header(header::CONTENT_TYPE, "application/json").body(body);
                }
                let resp = req.send().await.map_err(|e| {
                    anyhow!("cannot reach the atsbridge host at {base}: {e}; is `atsbridge serve` still running?")
                })?;
                let status = resp.status();
                let bytes = resp.bytes().await.with_context(|| format!("reading the answer from {base}"))?;
                Ok((status, bytes.to_vec()))
            }
            Backend::Local { router, token, .. } => {
                let mut req = Request::builder()
                    .method(method)
                    .uri(path)
                    .header(header::AUTHORIZATION, format!("Bearer {}", token.expose_secret()));
                let body = match body {
                    Some(b) => {
                        req = req.header(header::CONTENT_TYPE, "application/json");
                        Body::from(b)
                    }
                    None => Body::empty(),
                };
                let resp = router.clone().oneshot(req.body(body)?).await?;
                let status = resp.status();
                let bytes = axum::body::to_bytes(resp.into_body(), MAX_RESPONSE_BYTES).await?;
                Ok((status, bytes.to_vec()))
            }
        }
    }
}

/// The credentials a client sends: an operator token from the environment
/// or the data directory, or an account's API key from the environment.
fn client_token(data_dir: &Path) -> anyhow::Result<Option<SecretString>> {
    if let Some(key) = std::env::var(API_KEY_ENV).ok().filter(|k| !k.trim().is_empty()) {
        return Ok(Some(SecretString::from(key.trim().to_string())));
    }
    operator_token(data_dir, false)
}

/// Any absolute URL: the url crate encodes a path segment only within one.
const SEGMENT_BASE: &str = "http://segment.invalid/";

/// One path segment from user input, encoded by the url crate's path
/// segment rules: `/`, `?`, `#`, `%`, spaces and controls are escaped,
/// unreserved characters (`acme-gh`, `v1.2`, `a_b~c`) are kept as they are.
/// `.` and `..` (which the url crate would drop, and a server would
/// resolve to the parent path) are sent as `%2E` and `%2E%2E`, so they
/// stay a segment naming nothing.
pub fn segment(s: &str) -> String {
    if s == "." || s == ".." {
        return "%2E".repeat(s.len());
    }
    let strict = || percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    // Neither fails (the base is an absolute http URL); escaping every
    // non-alphanumeric byte would be the safe answer if one did.
    let Ok(mut url) = url::Url::parse(SEGMENT_BASE) else { return strict() };
    let Ok(mut segments) = url.path_segments_mut() else { return strict() };
    segments.pop().push(s);
    drop(segments);
    url.path().trim_start_matches('/').to_string()
}

/// A query value from user input, encoded as the url crate's query pairs
/// are (`application/x-www-form-urlencoded`, as the API reads queries):
/// `&`, `=`, `+`, `#` and `%` escaped, `-`, `.`, `_` kept.
pub fn query_value(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
