//! The `http` import: real outgoing HTTP on behalf of a plugin.
//!
//! Every request is checked here and nowhere else: the URL must be allowed
//! by the plugin's manifest or the operator's grant for the connection; a
//! host from the manifest must resolve to public addresses only
//! ([`net_guard`](super::net_guard)); a secret is attached only to a URL its
//! manifest binding (or the operator's grant) covers; the timeout and the
//! response size are capped while reading; redirects are not followed (a
//! redirect to another host would side-step the allow-list, so the plugin
//! sees the 3xx and decides).
//!
//! Everything handed back to the plugin (bodies, headers, error texts) goes
//! through the call's [`Scrubber`], built from all of the connection's
//! secret values and OAuth tokens: a host that recorded a secret in one
//! request cannot hand it back in another, in any common encoding.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use url::Url;

use super::bindings::{Auth, Credential, HttpError, HttpRequest, HttpResponse, Method};
use super::connection::{ConnectionContext, Secrets};
use super::net_guard::{self, Clients, Denials};
use super::oauth::{Grant, TokenCache, TokenError};
use super::scrub::Scrubber;
use crate::plugin::allowed_hosts::AllowedHosts;
use crate::plugin::manifest::Manifest;

/// Longest a single request may take, whatever the plugin asks: connecting,
/// sending and reading the whole response.
pub const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body handed to a plugin: a 500-job page with HTML
/// descriptions is a few MiB.
pub const MAX_RESPONSE_BYTES: u64 = 16 << 20;
/// Headers the host manages itself; a plugin may not set them.
const HOST_MANAGED_HEADERS: &[&str] =
    &["host", "content-length", "transfer-encoding", "connection", "upgrade", "te", "keep-alive", "proxy-connection"];
/// Headers the auth kinds set; a named-header credential may not use them
/// (nor any of [`HOST_MANAGED_HEADERS`]), except `authorization` with a
/// value template.
const AUTH_KIND_HEADERS: &[&str] = &["authorization", "proxy-authorization"];

/// The placeholder a header value template has exactly once.
pub const VALUE_TEMPLATE_PLACEHOLDER: &str = "{secret}";
/// Longest header value template: real ones are a short scheme word around
/// the key (`Token token={secret}`); a bound keeps a plugin from making the
/// host build huge header values.
pub const MAX_VALUE_TEMPLATE_BYTES: usize = 256;

/// Scrubbers kept for reuse: building one takes milliseconds, and every
/// call of a connection needs the same one. When full, the cache is
/// emptied (a few hundred KiB each, so this bounds it to tens of MiB).
const MAX_CACHED_SCRUBBERS: usize = 64;

/// Shared by every call of a runtime.
pub struct HttpClient {
    clients: Clients,
    tokens: TokenCache,
    /// Scrubbers by a hash of the secret values they remove.
    scrubbers: Mutex<HashMap<[u8; 32], Arc<Scrubber>>>,
}

impl HttpClient {
    pub fn new() -> Result<Self, reqwest::Error> {
        Ok(HttpClient { clients: Clients::new()?, tokens: TokenCache::default(), scrubbers: Mutex::default() })
    }

    /// The scrubber for these values, built once for each set.
    fn scrubber_for(&self, mut values: Vec<&str>) -> Arc<Scrubber> {
        values.sort_unstable();
        values.dedup();
        let mut hash = Sha256::new();
        for v in &values {
            hash.update((v.len() as u64).to_le_bytes());
            hash.update(v.as_bytes());
        }
        let key: [u8; 32] = hash.finalize().into();
        let mut cache = self.scrubbers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = cache.get(&key) {
            return s.clone();
        }
        let built = Arc::new(Scrubber::new(values));
        if cache.len() >= MAX_CACHED_SCRUBBERS {
            cache.clear();
        }
        cache.insert(key, built.clone());
        built
    }
}

/// One call's outbound HTTP capability.
pub struct OutboundHttp {
    client: Arc<HttpClient>,
    plugin: String,
    connection: Option<String>,
    /// The manifest's allowed hosts: public addresses only.
    manifest_hosts: AllowedHosts,
    /// Hosts the operator granted the connection: any address, and any of
    /// the connection's secrets.
    granted: AllowedHosts,
    /// Secret setting -> hosts its value may be attached to.
    bindings: Arc<BTreeMap<String, AllowedHosts>>,
    secrets: Secrets,
    /// Built on first use (a call that never sends or logs pays nothing),
    /// rebuilt when the call starts using a new OAuth token.
    scrubber: Mutex<Option<Arc<Scrubber>>>,
    /// Values attached in this call beyond the connection's secrets (OAuth
    /// tokens, Basic credentials).
    attached: Mutex<Vec<String>>,
    denials: Denials,
    /// Time this call spent waiting on HTTP exchanges (request sent to
    /// body read), so callers can tell the host's own time from the ATS's.
    exchange_micros: std::sync::atomic::AtomicU64,
    /// Record and replay ([`crate::recording`]): the connection's recording.
    recording: Option<crate::recording::RecordingIo>,
    /// Metering: every exchange is counted here (runtime::meter).
    meter: super::meter::Meter,
    /// Replay of unchanged pages: the call's exchanges as the guest saw them.
    replay: Option<Arc<super::replay::ReplayRecorder>>,
}

impl OutboundHttp {
    /// The capability of one call of `manifest`'s plugin for `conn`; `info()`
    /// runs without a connection and gets no hosts at all.
    pub fn new(client: Arc<HttpClient>, manifest: &Manifest, conn: Option<&ConnectionContext>) -> Self {
        let (manifest_hosts, granted) = match conn {
            Some(c) => (manifest.allowed_hosts.clone(), c.extra_hosts.clone()),
            None => (AllowedHosts::default(), AllowedHosts::default()),
        };
        let connection = conn.map(|c| c.id.clone());
        OutboundHttp {
            client,
            plugin: manifest.id.clone(),
            denials: Denials::new(&manifest.id, connection.as_deref()),
            connection,
            manifest_hosts,
            granted,
            bindings: manifest.secret_bindings.clone(),
            secrets: conn.map(ConnectionContext::secrets).unwrap_or_default(),
            scrubber: Mutex::new(None),
            attached: Mutex::new(Vec::new()),
            exchange_micros: std::sync::atomic::AtomicU64::new(0),
            recording: conn.and_then(|c| c.recording.clone()),
            meter: super::meter::Meter::off(),
            replay: None,
        }
    }

    /// Replay: records this call's exchanges into `recorder`.
    pub(super) fn record_for_replay(&mut self, recorder: Arc<super::replay::ReplayRecorder>) {
        self.replay = Some(recorder);
    }

    /// Record and replay: where this call's exchanges are recorded or
    /// answered from, if anywhere.
    pub fn recording(&self) -> Option<&crate::recording::RecordingIo> {
        self.recording.as_ref()
    }

    /// Metering: this capability's exchanges are counted in `meter`.
    pub fn metered(self, meter: super::meter::Meter) -> Self {
        OutboundHttp { meter, ..self }
    }

    /// Time this call has spent in HTTP exchanges so far.
    pub fn exchange_time(&self) -> Duration {
        Duration::from_micros(self.exchange_micros.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// The call's scrubber: every secret value of the connection, its
    /// cached OAuth tokens and whatever else this call attached.
    pub fn scrubber(&self) -> Arc<Scrubber> {
        let mut slot = self.scrubber.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = slot.as_ref() {
            return s.clone();
        }
        let tokens = match &self.connection {
            Some(c) => self.client.tokens.tokens_of(c),
            None => Vec::new(),
        };
        let attached = self.attached.lock().unwrap_or_else(|e| e.into_inner());
        let values = self
            .secrets
            .values()
            .chain(tokens.iter().map(|t| t.expose_secret()))
            .chain(attached.iter().map(String::as_str))
            .collect();
        let built = self.client.scrubber_for(values);
        *slot = Some(built.clone());
        built
    }

    /// Sends one request for the plugin; what comes back is scrubbed.
    pub async fn send(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        // replay: the request as issued, the answer as handed back.
        let recorded = self.replay.as_ref().and_then(|r| r.request(&req));
        let result = self.send_scrubbed(req).await;
        if let Some(recorder) = &self.replay {
            recorder.answered(recorded, &result);
        }
        // end replay
        result
    }

    async fn send_scrubbed(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let result = self.send_unscrubbed(req).await;
        let scrubber = self.scrubber();
        if scrubber.is_empty() {
            return result;
        }
        match result {
            Ok(mut response) => {
                response.body = scrubber.scrub_bytes(std::mem::take(&mut response.body));
                for (_, value) in &mut response.headers {
                    scrubber.scrub_in_place(value);
                }
                Ok(response)
            }
            Err(mut error) => {
                match &mut error {
                    HttpError::Denied(m)
                    | HttpError::InvalidRequest(m)
                    | HttpError::Transport(m)
                    | HttpError::UnknownSecret(m)
                    | HttpError::AuthFailed(m) => scrubber.scrub_in_place(m),
                    HttpError::Timeout | HttpError::TooLarge(_) => {}
                }
                Err(error)
            }
        }
    }

    async fn send_unscrubbed(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let url = Url::parse(&req.url).map_err(|e| HttpError::InvalidRequest(format!("bad URL `{}`: {e}", req.url)))?;
        let client = self.check_allowed(&url)?;
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
        let grant_key = match &req.auth {
            Some(auth) => self.attach_auth(auth, &url, &mut headers).await?,
            None => None,
        };
        let timeout = req
            .timeout_ms
            .map(|ms| Duration::from_millis(u64::from(ms)))
            .unwrap_or(MAX_REQUEST_TIMEOUT)
            .min(MAX_REQUEST_TIMEOUT);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut builder = client.request(method(req.method), url.clone()).headers(headers).timeout(timeout);
        let sent_bytes = req.body.as_ref().map_or(0, Vec::len); // metering
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        tracing::debug!(plugin = %self.plugin, connection = self.connection.as_deref().unwrap_or("-"),
            method = ?req.method, host = url.host_str().unwrap_or(""), path = url.path(), "plugin HTTP request");
        let exchange = std::time::Instant::now();
        let result = self.exchange(builder, grant_key, deadline).await;
        self.meter.exchange(&url, sent_bytes, &result); // metering
        let micros = u64::try_from(exchange.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.exchange_micros.fetch_add(micros, std::sync::atomic::Ordering::Relaxed);
        result
    }

    /// Sends the built request and reads the response, within `deadline`.
    async fn exchange(
        &self,
        builder: reqwest::RequestBuilder,
        grant_key: Option<OwnedGrant>,
        deadline: tokio::time::Instant,
    ) -> Result<HttpResponse, HttpError> {
        let response = builder.send().await.map_err(|e| self.transport_error(e))?;
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
        // The client's timeout covers the body too; the deadline here makes
        // the bound independent of how the client applies it.
        let body = tokio::time::timeout_at(deadline, read_capped(response)).await.map_err(|_| HttpError::Timeout)??;
        Ok(HttpResponse { status, headers, body })
    }

    /// Refuses a URL outside the allowed and granted hosts, or an IP literal
    /// that is not public (unless granted); returns the client to send with.
    fn check_allowed(&self, url: &Url) -> Result<&reqwest::Client, HttpError> {
        let origin = url.origin().ascii_serialization();
        if self.granted.allows(url) {
            return Ok(&self.client.clients.granted);
        }
        if !self.manifest_hosts.allows(url) {
            return Err(self.deny(format!(
                "{origin} is not in the plugin's allowed hosts (manifest network.allowed-hosts or the connection's extra hosts)"
            )));
        }
        net_guard::check_literal(url)
            .map_err(|refused| self.deny(format!("request to {origin} refused: {refused}")))?;
        Ok(&self.client.clients.public)
    }

    fn deny(&self, message: String) -> HttpError {
        self.denials.record(&message);
        HttpError::Denied(message)
    }

    fn transport_error(&self, e: reqwest::Error) -> HttpError {
        if let Some(refused) = net_guard::find_refusal(&e) {
            return self.deny(format!("request refused: {refused}"));
        }
        transport_error(e)
    }

    /// The value of a credential for a request to `target`. A secret must be
    /// bound to `target` by the manifest (or, unbound, `target` must be one
    /// of the manifest's hosts), or `target` must be granted by the operator.
    fn credential<'a>(&'a self, c: &'a Credential, target: &Url) -> Result<&'a str, HttpError> {
        let r = match c {
            Credential::Plain(v) => return Ok(v),
            Credential::Secret(r) => r,
        };
        let value = self.secrets.get(&r.key).ok_or_else(|| {
            HttpError::UnknownSecret(format!("`{}` is not a secret setting of this connection", r.key))
        })?;
        let permitted = self.granted.allows(target)
            || match self.bindings.get(&r.key) {
                Some(bound) => bound.allows(target),
                None => self.manifest_hosts.allows(target),
            };
        if !permitted {
            let origin = target.origin().ascii_serialization();
            let bound = match self.bindings.get(&r.key) {
                Some(b) => {
                    format!("its manifest binding [{}]", b.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", "))
                }
                None => "the manifest's allowed hosts".to_string(),
            };
            return Err(self.deny(format!("secret `{}` may not be sent to {origin}: it may go to {bound} only", r.key)));
        }
        Ok(value)
    }

    /// Remembers a value attached in this call so the scrubber covers it.
    fn remember(&self, value: &str) {
        let mut attached = self.attached.lock().unwrap_or_else(|e| e.into_inner());
        if !attached.iter().any(|a| a == value) {
            attached.push(value.to_string());
            *self.scrubber.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// Adds the Authorization (or named) header; returns the OAuth grant
    /// when one was used, so a 401 can invalidate its token.
    async fn attach_auth(
        &self,
        auth: &Auth,
        url: &Url,
        headers: &mut HeaderMap,
    ) -> Result<Option<OwnedGrant>, HttpError> {
        let (name, value, grant) = match auth {
            Auth::Basic(b) => {
                let user = self.credential(&b.username, url)?;
                let pass = match &b.password {
                    Some(p) => self.credential(p, url)?,
                    None => "",
                };
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                if matches!(b.username, Credential::Secret(_)) || matches!(b.password, Some(Credential::Secret(_))) {
                    self.remember(&encoded);
                }
                (reqwest::header::AUTHORIZATION, format!("Basic {encoded}"), None)
            }
            Auth::Bearer(c) => (reqwest::header::AUTHORIZATION, format!("Bearer {}", self.credential(c, url)?), None),
            Auth::Header(h) => {
                let name = HeaderName::from_bytes(h.name.as_bytes())
                    .map_err(|_| HttpError::InvalidRequest(format!("bad auth header name `{}`", h.name)))?;
                if HOST_MANAGED_HEADERS.contains(&name.as_str()) {
                    return Err(HttpError::InvalidRequest(format!(
                        "header `{name}` is set by the host and cannot carry a credential"
                    )));
                }
                // `Authorization` with a template is how some ATS wrap a key
                // in a scheme of their own (`Token token=...`); without one it
                // would only duplicate the bearer and basic kinds.
                let wrapped_authorization = h.value_template.is_some() && name == reqwest::header::AUTHORIZATION;
                if AUTH_KIND_HEADERS.contains(&name.as_str()) && !wrapped_authorization {
                    return Err(HttpError::InvalidRequest(format!(
                        "header `{name}` is set only by the basic, bearer and client-credentials kinds or with a value template"
                    )));
                }
                let value = self.credential(&h.value, url)?;
                let value = match &h.value_template {
                    Some(template) => fill_value_template(template, value)?,
                    None => value.to_string(),
                };
                // The wrapped form is scrubbed as a whole too: an echo of it
                // base64-encoded does not contain the secret's own encoding.
                if h.value_template.is_some() && matches!(h.value, Credential::Secret(_)) {
                    self.remember(&value);
                }
                (name, value, None)
            }
            Auth::ClientCredentials(cc) => {
                let token_url = Url::parse(&cc.token_url)
                    .map_err(|e| HttpError::InvalidRequest(format!("bad token URL `{}`: {e}", cc.token_url)))?;
                let token_client = self.check_allowed(&token_url)?;
                let grant = OwnedGrant {
                    connection: self.connection.clone().unwrap_or_default(),
                    client_id: self.credential(&cc.client_id, &token_url)?.to_string(),
                    client_secret: self.credential(&cc.client_secret, &token_url)?.to_string(),
                    token_url,
                    scope: cc.scope.clone(),
                    extra_params: cc.extra_params.clone(),
                };
                let observer = self.recording.as_ref().and_then(|r| r.token_observer()); // record and replay
                let metered = self.client.tokens.token(token_client, &grant.as_grant(), &self.meter, observer).await; // metering
                let token = metered.map_err(|e| match e {
                    // An unreachable or slow token endpoint is worth
                    // retrying; a refusal needs new credentials.
                    TokenError::Transport(m) => HttpError::Transport(format!("token endpoint: {m}")),
                    TokenError::Timeout(_) => HttpError::Timeout,
                    other => HttpError::AuthFailed(other.to_string()),
                })?;
                self.remember(token.expose_secret());
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

/// `template` with its one [`VALUE_TEMPLATE_PLACEHOLDER`] replaced by
/// `value`. A template that is too long, has CR, LF or NUL (header
/// injection), or has the placeholder zero or several times is refused: the
/// plugin names the template, never the value, so none of this depends on
/// the secret.
fn fill_value_template(template: &str, value: &str) -> Result<String, HttpError> {
    if template.len() > MAX_VALUE_TEMPLATE_BYTES {
        return Err(HttpError::InvalidRequest(format!(
            "header value template is {} bytes, more than the {MAX_VALUE_TEMPLATE_BYTES} allowed",
            template.len()
        )));
    }
    if template.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(HttpError::InvalidRequest("header value template contains CR, LF or NUL".to_string()));
    }
    let placeholders = template.matches(VALUE_TEMPLATE_PLACEHOLDER).count();
    if placeholders != 1 {
        return Err(HttpError::InvalidRequest(format!(
            "header value template must contain `{VALUE_TEMPLATE_PLACEHOLDER}` exactly once, not {placeholders} times"
        )));
    }
    Ok(template.replacen(VALUE_TEMPLATE_PLACEHOLDER, value, 1))
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

/// Reads the body chunk by chunk, refusing it as soon as it would pass
/// [`MAX_RESPONSE_BYTES`].
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, HttpError> {
    if response.content_length().is_some_and(|len| len > MAX_RESPONSE_BYTES) {
        return Err(HttpError::TooLarge(MAX_RESPONSE_BYTES));
    }
    // Sized once from the announced length (already checked against the
    // cap): growing by doubling would copy a large page several times.
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if (body.len() + chunk.len()) as u64 > MAX_RESPONSE_BYTES {
            return Err(HttpError::TooLarge(MAX_RESPONSE_BYTES));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_template_wraps_the_value_once() {
        assert_eq!(fill_value_template("Token token={secret}", "k3y").unwrap(), "Token token=k3y");
        assert_eq!(fill_value_template("{secret}", "k3y").unwrap(), "k3y");
        // A value that itself looks like the placeholder is not expanded again.
        assert_eq!(fill_value_template("a {secret} b", "{secret}").unwrap(), "a {secret} b");
    }

    #[test]
    fn a_bad_value_template_is_refused() {
        for (template, why) in [
            ("Token token=", "exactly once, not 0"),
            ("{secret}:{secret}", "exactly once, not 2"),
            ("Token {secret}\r\nX-Evil: 1", "CR, LF or NUL"),
            ("Token {secret}\n", "CR, LF or NUL"),
        ] {
            match fill_value_template(template, "k") {
                Err(HttpError::InvalidRequest(m)) => assert!(m.contains(why), "{template:?}: {m}"),
                other => panic!("{template:?} accepted: {other:?}"),
            }
        }
        let long = format!("{}{{secret}}", "x".repeat(MAX_VALUE_TEMPLATE_BYTES));
        assert!(matches!(fill_value_template(&long, "k"), Err(HttpError::InvalidRequest(m)) if m.contains("256")));
    }
}
