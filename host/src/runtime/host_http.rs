//! The `http` import: real outgoing HTTP on behalf of a plugin.
//!
//! Every request is checked here and nowhere else: the URL must be allowed
//! by the plugin's manifest or the operator's grant for the connection;
//! secrets are resolved and attached by the host; the timeout and response
//! size are capped; redirects are not followed (a redirect to another host
//! would side-step the allow-list, so the plugin sees the 3xx and decides).
//! Secret values the host attached are scrubbed from the response, so even
//! an endpoint that echoes request headers cannot hand them to the plugin.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use url::Url;

use super::bindings::{Auth, Credential, HttpError, HttpRequest, HttpResponse, Method};
use super::connection::Secrets;
use super::oauth::{Grant, TokenCache, TokenError};
use crate::plugin::allowed_hosts::AllowedHosts;

/// Longest a single request may take, whatever the plugin asks.
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body handed to a plugin: a 500-job page with HTML
/// descriptions is a few MiB.
pub const MAX_RESPONSE_BYTES: u64 = 16 << 20;
/// Headers the host manages itself; a plugin may not set them.
const HOST_MANAGED_HEADERS: &[&str] = &["host", "content-length", "transfer-encoding", "connection", "upgrade", "te"];
const REDACTED: &[u8] = b"[redacted]";

/// Shared by every call of a runtime.
pub struct HttpClient {
    client: reqwest::Client,
    tokens: TokenCache,
}

impl HttpClient {
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("atsbridge/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(HttpClient { client, tokens: TokenCache::default() })
    }
}

/// One call's outbound HTTP capability.
pub struct OutboundHttp {
    pub client: Arc<HttpClient>,
    pub plugin: String,
    pub connection: Option<String>,
    pub allowed: AllowedHosts,
    pub secrets: Secrets,
}

impl OutboundHttp {
    /// Sends one request for the plugin.
    pub async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let url = Url::parse(&req.url).map_err(|e| HttpError::InvalidRequest(format!("bad URL `{}`: {e}", req.url)))?;
        self.check_allowed(&url)?;
        let mut headers = HeaderMap::new();
        for (name, value) in &req.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpError::InvalidRequest(format!("bad header name `{name}`")))?;
            if HOST_MANAGED_HEADERS.contains(&name.as_str()) {
                return Err(HttpError::InvalidRequest(format!("header `{name}` is set by the host")));
            }
            let value = HeaderValue::from_str(value)
                .map_err(|_| HttpError::InvalidRequest(format!("bad value for header `{name}`")))?;
            headers.append(name, value);
        }
        let mut attached = Vec::new();
        let grant_key = match &req.auth {
            Some(auth) => self.attach_auth(auth, &mut headers, &mut attached).await?,
            None => None,
        };
        let timeout = req
            .timeout_ms
            .map(|ms| Duration::from_millis(u64::from(ms)))
            .unwrap_or(MAX_REQUEST_TIMEOUT)
            .min(MAX_REQUEST_TIMEOUT);
        let mut builder = self.client.client.request(method(req.method), url.clone()).headers(headers).timeout(timeout);
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        tracing::debug!(plugin = %self.plugin, connection = self.connection.as_deref().unwrap_or("-"),
            method = ?req.method, host = url.host_str().unwrap_or(""), path = url.path(), "plugin HTTP request");
        let response = builder.send().await.map_err(transport_error)?;
        let status = response.status().as_u16();
        // The token may have been revoked early: fetch a new one next time.
        if status == 401
            && let Some(grant) = grant_key
        {
            self.client.tokens.invalidate(&grant.as_grant());
        }
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect::<Vec<_>>();
        let body = read_capped(response).await?;
        Ok(redact(HttpResponse { status, headers, body }, &attached))
    }

    fn check_allowed(&self, url: &Url) -> Result<(), HttpError> {
        if self.allowed.allows(url) {
            return Ok(());
        }
        let origin = url.origin().ascii_serialization();
        tracing::warn!(plugin = %self.plugin, connection = self.connection.as_deref().unwrap_or("-"), %origin,
            "refused plugin request to a host it is not allowed to reach");
        Err(HttpError::Denied(format!(
            "{origin} is not in the plugin's allowed hosts (manifest network.allowed-hosts or the connection's extra hosts)"
        )))
    }

    fn credential<'a>(&'a self, c: &'a Credential, attached: &mut Vec<Vec<u8>>) -> Result<&'a str, HttpError> {
        match c {
            Credential::Plain(v) => Ok(v),
            Credential::Secret(r) => {
                let value = self.secrets.get(&r.key).ok_or_else(|| {
                    HttpError::UnknownSecret(format!("`{}` is not a secret setting of this connection", r.key))
                })?;
                attached.push(value.as_bytes().to_vec());
                Ok(value)
            }
        }
    }

    /// Adds the Authorization (or named) header; returns the OAuth grant
    /// when one was used, so a 401 can invalidate its token.
    async fn attach_auth(
        &self,
        auth: &Auth,
        headers: &mut HeaderMap,
        attached: &mut Vec<Vec<u8>>,
    ) -> Result<Option<OwnedGrant>, HttpError> {
        let (name, value, grant) = match auth {
            Auth::Basic(b) => {
                let user = self.credential(&b.username, attached)?;
                let pass = match &b.password {
                    Some(p) => self.credential(p, attached)?,
                    None => "",
                };
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                if matches!(b.username, Credential::Secret(_)) || matches!(b.password, Some(Credential::Secret(_))) {
                    attached.push(encoded.as_bytes().to_vec());
                }
                (reqwest::header::AUTHORIZATION, format!("Basic {encoded}"), None)
            }
            Auth::Bearer(c) => {
                (reqwest::header::AUTHORIZATION, format!("Bearer {}", self.credential(c, attached)?), None)
            }
            Auth::Header(h) => {
                let name = HeaderName::from_bytes(h.name.as_bytes())
                    .map_err(|_| HttpError::InvalidRequest(format!("bad auth header name `{}`", h.name)))?;
                (name, self.credential(&h.value, attached)?.to_string(), None)
            }
            Auth::ClientCredentials(cc) => {
                let token_url = Url::parse(&cc.token_url)
                    .map_err(|e| HttpError::InvalidRequest(format!("bad token URL `{}`: {e}", cc.token_url)))?;
                self.check_allowed(&token_url)?;
                let grant = OwnedGrant {
                    connection: self.connection.clone().unwrap_or_default(),
                    token_url,
                    client_id: self.credential(&cc.client_id, attached)?.to_string(),
                    client_secret: self.credential(&cc.client_secret, attached)?.to_string(),
                    scope: cc.scope.clone(),
                    extra_params: cc.extra_params.clone(),
                };
                let token =
                    self.client.tokens.token(&self.client.client, &grant.as_grant()).await.map_err(|e| match e {
                        // An unreachable token endpoint is worth retrying;
                        // a refusal needs new credentials.
                        TokenError::Transport(m) => HttpError::Transport(format!("token endpoint: {m}")),
                        other => HttpError::AuthFailed(other.to_string()),
                    })?;
                attached.push(token.expose_secret().as_bytes().to_vec());
                (reqwest::header::AUTHORIZATION, format!("Bearer {}", token.expose_secret()), Some(grant))
            }
        };
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| HttpError::InvalidRequest("credential is not a valid header value".to_string()))?;
        value.set_sensitive(true);
        headers.insert(name, value);
        Ok(grant)
    }
}

struct OwnedGrant {
    connection: String,
    token_url: Url,
    client_id: String,
    client_secret: String,
    scope: Option<String>,
    extra_params: Vec<(String, String)>,
}

impl OwnedGrant {
    fn as_grant(&self) -> Grant<'_> {
        Grant {
            connection: &self.connection,
            token_url: &self.token_url,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            scope: self.scope.as_deref(),
            extra_params: &self.extra_params,
        }
    }
}

fn method(m: Method) -> reqwest::Method {
    match m {
        Method::Get => reqwest::Method::GET,
        Method::Head => reqwest::Method::HEAD,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

fn transport_error(e: reqwest::Error) -> HttpError {
    if e.is_timeout() {
        HttpError::Timeout
    } else {
        // without_url: the URL may carry query parameters the plugin added.
        let e = e.without_url();
        let mut message = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            message.push_str(": ");
            message.push_str(&s.to_string());
            source = s.source();
        }
        HttpError::Transport(message)
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, HttpError> {
    if response.content_length().is_some_and(|len| len > MAX_RESPONSE_BYTES) {
        return Err(HttpError::TooLarge(MAX_RESPONSE_BYTES));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if (body.len() + chunk.len()) as u64 > MAX_RESPONSE_BYTES {
            return Err(HttpError::TooLarge(MAX_RESPONSE_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Replaces every secret value the host attached to the request wherever it
/// appears in the response.
fn redact(mut response: HttpResponse, attached: &[Vec<u8>]) -> HttpResponse {
    let secrets: Vec<&[u8]> = attached.iter().map(Vec::as_slice).filter(|s| !s.is_empty()).collect();
    if secrets.is_empty() {
        return response;
    }
    response.body = redact_bytes(response.body, &secrets);
    for (_, value) in &mut response.headers {
        let scrubbed = redact_bytes(std::mem::take(value).into_bytes(), &secrets);
        *value = String::from_utf8_lossy(&scrubbed).into_owned();
    }
    response
}

fn redact_bytes(mut data: Vec<u8>, secrets: &[&[u8]]) -> Vec<u8> {
    for secret in secrets {
        if memchr::memmem::find(&data, secret).is_none() {
            continue;
        }
        let finder = memchr::memmem::Finder::new(secret);
        let mut out = Vec::with_capacity(data.len());
        let mut last = 0;
        for at in finder.find_iter(&data) {
            out.extend_from_slice(&data[last..at]);
            out.extend_from_slice(REDACTED);
            last = at + secret.len();
        }
        out.extend_from_slice(&data[last..]);
        data = out;
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_every_occurrence() {
        let body = b"token=s3cret; again s3cret; b64 czNjcmV0Og==".to_vec();
        let out = redact_bytes(body, &[b"s3cret", b"czNjcmV0Og=="]);
        assert_eq!(out, b"token=[redacted]; again [redacted]; b64 [redacted]".to_vec());
    }

    #[test]
    fn redaction_leaves_clean_data_alone() {
        let body = b"nothing here".to_vec();
        assert_eq!(redact_bytes(body.clone(), &[b"s3cret"]), body);
    }
}
