//! OAuth 2.0 client-credentials tokens (RFC 6749 section 4.4), fetched by the
//! host for a plugin and cached per connection until shortly before they
//! expire. Greenhouse's Harvest v3 API authenticates this way.
//!
//! The token endpoint is a URL the plugin names, so it is treated like any
//! other host: its answer is read in chunks and cut off at
//! [`MAX_TOKEN_RESPONSE_BYTES`], the whole exchange is bounded in time, and
//! what its error says is scrubbed of the credentials before it is shown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use secrecy::SecretString;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::scrub::Scrubber;

/// Renew this long before the token's stated expiry, so a token never
/// expires between the check and the ATS receiving the request.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// Used when the token response has no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// A longer stated lifetime is cut to this: tokens are re-fetched at least
/// daily, and a huge `expires_in` cannot overflow the clock.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Token responses are small; anything bigger is not a token response.
pub const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;
/// The whole exchange with the token endpoint (connect, send, read the
/// answer); connecting alone is bounded by the client's connect timeout.
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(15);
/// Tokens kept at most: one per connection and grant is the normal case,
/// so this is far above any real deployment and only stops unbounded growth.
pub const MAX_CACHED_TOKENS: usize = 10_000;
/// Longest part of the endpoint's own error description that is shown.
const MAX_ERROR_DESCRIPTION_CHARS: usize = 200;

/// A client-credentials grant with its secrets resolved.
pub struct Grant<'a> {
    pub connection: &'a str,
    pub token_url: &'a url::Url,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    pub scope: Option<&'a str>,
    pub extra_params: &'a [(String, String)],
}

impl Grant<'_> {
    /// Cache key: the connection and everything that shapes the token. The
    /// client secret is hashed so the key itself holds no secret.
    fn key(&self) -> String {
        let mut h = Sha256::new();
        for part in
            [self.connection, self.token_url.as_str(), self.client_id, self.client_secret, self.scope.unwrap_or("")]
        {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for (k, v) in self.extra_params {
            h.update(k.as_bytes());
            h.update([1]);
            h.update(v.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }

    /// Scrubs the credentials (and the Basic header made of them) from text
    /// that came from the token endpoint.
    fn scrubber(&self) -> Scrubber {
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.client_id, self.client_secret));
        Scrubber::new([self.client_id, self.client_secret, basic.as_str()])
    }
}

/// Why a token could not be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("token endpoint unreachable: {0}")]
    Transport(String),
    #[error("token endpoint did not answer within {0:?}")]
    Timeout(Duration),
    #[error("token endpoint refused the client credentials (HTTP {status}){detail}")]
    Refused { status: u16, detail: String },
    #[error("token endpoint answered with more than {MAX_TOKEN_RESPONSE_BYTES} bytes, which is not a token response")]
    TooLarge,
    #[error("token endpoint answered with something that is not a token: {0}")]
    Malformed(String),
}

#[derive(Clone)]
struct Token {
    value: SecretString,
    /// When to fetch a new one (early, or now after the ATS refused it).
    renew_at: Instant,
    /// When it stops being valid: until then it is kept for scrubbing, even
    /// after a 401 (an endpoint may answer 401 and still keep the token).
    expires_at: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

/// RFC 6749 section 5.2 error response.
#[derive(Deserialize)]
struct ErrorResponse {
    error: Option<String>,
    error_description: Option<String>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Token>>>;

struct Entry {
    connection: String,
    slot: Slot,
}

/// Tokens by grant; one fetch at a time per grant. Entries whose token has
/// expired are dropped whenever a new grant is added, and the map never
/// holds more than [`MAX_CACHED_TOKENS`].
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<String, Entry>>,
}

impl TokenCache {
    fn slot(&self, key: String, connection: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = slots.get(&key) {
            return entry.slot.clone();
        }
        forget_expired(&mut slots);
        let entry = Entry { connection: connection.to_string(), slot: Slot::default() };
        let slot = entry.slot.clone();
        slots.insert(key, entry);
        slot
    }

    /// A valid access token for the grant, fetched if none is cached; the
    /// token request, if one is sent, is counted in `meter`, and `observer`
    /// (a recorded run) sees it.
    pub async fn token(
        &self,
        client: &reqwest::Client,
        grant: &Grant<'_>,
        meter: &super::meter::Meter,
        observer: Option<&dyn TokenObserver>,
    ) -> Result<SecretString, TokenError> {
        let slot = self.slot(grant.key(), grant.connection);
        let mut cached = slot.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(t.value.clone());
        }
        let scrubber = grant.scrubber();
        let mut exchange = super::meter::TokenExchange::default(); // metering
        let fetched = tokio::time::timeout(TOKEN_TIMEOUT, fetch(client, grant, &mut exchange, observer)).await;
        meter.token_exchange(grant.token_url, &exchange); // metering
        let token = match fetched {
            Ok(Ok(token)) => token,
            Ok(Err(e)) => return Err(scrub_error(e, &scrubber)),
            Err(_) => {
                let e = TokenError::Timeout(TOKEN_TIMEOUT);
                observe(observer, grant, &form_of(grant), Err(&e));
                return Err(e);
            }
        };
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// Stops using the grant's token, e.g. after the ATS answered 401 with
    /// it: the next request fetches a new one. The value stays known to the
    /// scrubber until it expires.
    pub fn invalidate(&self, grant: &Grant<'_>) {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        // A slot that is locked is being refilled already.
        if let Some(entry) = slots.get(&grant.key())
            && let Ok(mut token) = entry.slot.try_lock()
            && let Some(token) = token.as_mut()
        {
            token.renew_at = Instant::now();
        }
    }

    /// The valid tokens cached for a connection, so a call's scrubber can
    /// remove them from what a plugin reads.
    pub fn tokens_of(&self, connection: &str) -> Vec<SecretString> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        slots
            .values()
            .filter(|e| e.connection == connection)
            .filter_map(|e| e.slot.try_lock().ok().and_then(|t| t.as_ref().filter(|t| now < t.expires_at).cloned()))
            .map(|t| t.value)
            .collect()
    }

    /// Grants in the cache.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Drops entries without a valid token (a fetch in progress holds its
/// slot's lock and is kept); if the map is still full, drops the entries
/// closest to expiry until there is room.
fn forget_expired(slots: &mut HashMap<String, Entry>) {
    let now = Instant::now();
    let expires_at = |e: &Entry| -> Option<Option<Instant>> {
        match e.slot.try_lock() {
            Ok(token) => Some(token.as_ref().map(|t| t.expires_at).filter(|at| now < *at)),
            Err(_) => None,
        }
    };
    slots.retain(|_, e| !matches!(expires_at(e), Some(None)));
    if slots.len() < MAX_CACHED_TOKENS {
        return;
    }
    let mut by_expiry: Vec<(Instant, String)> =
        slots.iter().filter_map(|(k, e)| expires_at(e).flatten().map(|at| (at, k.clone()))).collect();
    by_expiry.sort_unstable();
    let excess = slots.len() + 1 - MAX_CACHED_TOKENS;
    for (_, key) in by_expiry.into_iter().take(excess) {
        slots.remove(&key);
    }
}

fn scrub_error(e: TokenError, scrubber: &Scrubber) -> TokenError {
    match e {
        TokenError::Transport(m) => TokenError::Transport(scrubber.scrub_str(&m)),
        TokenError::Malformed(m) => TokenError::Malformed(scrubber.scrub_str(&m)),
        TokenError::Refused { status, detail } => TokenError::Refused { status, detail: scrubber.scrub_str(&detail) },
        other => other,
    }
}

fn transport(e: reqwest::Error) -> TokenError {
    if e.is_timeout() {
        return TokenError::Timeout(TOKEN_TIMEOUT);
    }
    let e = e.without_url();
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    TokenError::Transport(message)
}

/// Reads the body chunk by chunk, refusing it as soon as it would pass the
/// cap, so an endless answer costs at most the cap in memory.
async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, TokenError> {
    if response.content_length().is_some_and(|len| len > MAX_TOKEN_RESPONSE_BYTES as u64) {
        return Err(TokenError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_TOKEN_RESPONSE_BYTES {
            return Err(TokenError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// ` : error: description`, from an RFC 6749 error body, escaped and cut.
fn error_detail(body: &[u8]) -> String {
    let Ok(parsed) = serde_json::from_slice::<ErrorResponse>(body) else { return String::new() };
    let text = [parsed.error, parsed.error_description].into_iter().flatten().collect::<Vec<_>>().join(": ");
    if text.is_empty() {
        return String::new();
    }
    let shown: String = text.chars().take(MAX_ERROR_DESCRIPTION_CHARS).flat_map(char::escape_default).collect();
    format!(": {shown}")
}

/// The form of a client-credentials token request.
fn form_of<'a>(grant: &'a Grant<'_>) -> Vec<(&'a str, &'a str)> {
    let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
    if let Some(scope) = grant.scope {
        form.push(("scope", scope));
    }
    form.extend(grant.extra_params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    form
}

/// Asks the token endpoint for a token; what was sent and received is
/// noted in `exchange` as it happens (metering) and shown to `observer`.
async fn fetch(
    client: &reqwest::Client,
    grant: &Grant<'_>,
    exchange: &mut super::meter::TokenExchange,
    observer: Option<&dyn TokenObserver>,
) -> Result<Token, TokenError> {
    let form = form_of(grant);
    let started = Instant::now();
    let request = client
        .post(grant.token_url.clone())
        .basic_auth(grant.client_id, Some(grant.client_secret))
        .form(&form)
        .timeout(TOKEN_TIMEOUT)
        .build()
        .map_err(transport);
    let sent = match request {
        Ok(request) => {
            // metering
            exchange.sent_bytes = Some(request.body().and_then(reqwest::Body::as_bytes).map_or(0, |b| b.len() as u64));
            client.execute(request).await.map_err(transport)
        }
        Err(e) => Err(e),
    };
    let response = match sent {
        Ok(response) => response,
        Err(e) => {
            observe(observer, grant, &form, Err(&e));
            return Err(e);
        }
    };
    let status = response.status();
    let body = read_capped(response).await;
    if let Ok(read) = &body {
        exchange.answered = Some((status.as_u16(), read.len() as u64)); // metering
    }
    observe(observer, grant, &form, body.as_ref().map(|b| (status.as_u16(), b.as_slice())));
    if !status.is_success() {
        let detail = body.map(|b| error_detail(&b)).unwrap_or_default();
        return Err(TokenError::Refused { status: status.as_u16(), detail });
    }
    let body = body?;
    // serde's messages quote the offending value; name only where it failed.
    let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
        TokenError::Malformed(format!("{:?} error at line {} column {}", e.classify(), e.line(), e.column()))
    })?;
    if parsed.access_token.is_empty() {
        return Err(TokenError::Malformed("empty access_token".to_string()));
    }
    let lifetime = parsed.expires_in.map(Duration::from_secs).unwrap_or(DEFAULT_LIFETIME).min(MAX_LIFETIME);
    tracing::debug!(token_url = %grant.token_url, connection = grant.connection, ?lifetime, "fetched OAuth access token");
    Ok(Token {
        value: SecretString::from(parsed.access_token),
        renew_at: started + lifetime.saturating_sub(EXPIRY_MARGIN),
        expires_at: started + lifetime,
    })
}

// ---- record and replay ([`crate::recording`]) ----

/// One request to a token endpoint, as a recorded run sees it. It holds the
/// grant's secrets and the issued token: an observer scrubs before it keeps
/// anything.
pub struct TokenSeen<'a> {
    pub grant: &'a Grant<'a>,
    /// The form sent.
    pub form: &'a [(&'a str, &'a str)],
    /// The status and body, or why there was no answer.
    pub answer: Result<(u16, &'a [u8]), &'a TokenError>,
}

/// Sees each request the cache makes to a token endpoint.
pub trait TokenObserver: Send + Sync {
    fn token_exchange(&self, seen: TokenSeen<'_>);
}

fn observe(
    observer: Option<&dyn TokenObserver>,
    grant: &Grant<'_>,
    form: &[(&str, &str)],
    answer: Result<(u16, &[u8]), &TokenError>,
) {
    if let Some(o) = observer {
        o.token_exchange(TokenSeen { grant, form, answer });
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn cache_key_depends_on_connection_and_params_but_holds_no_secret() {
        let url = url::Url::parse("https://auth.example.com/token").unwrap();
        let params = vec![("sub".to_string(), "42".to_string())];
        let g = |conn, secret| Grant {
            connection: conn,
            token_url: &url,
            client_id: "id",
            client_secret: secret,
            scope: None,
            extra_params: &params,
        };
        assert_ne!(g("c1", "s").key(), g("c2", "s").key());
        assert_ne!(g("c1", "s").key(), g("c1", "t").key());
        assert!(!g("c1", "very-secret").key().contains("very-secret"));
    }

    fn put(cache: &TokenCache, key: &str, connection: &str, renew_in: Option<Duration>) {
        let slot = cache.slot(key.to_string(), connection);
        let mut token = slot.try_lock().unwrap();
        *token = renew_in.map(|d| Token {
            value: SecretString::from(format!("tok-{key}")),
            renew_at: Instant::now() + d,
            expires_at: Instant::now() + d,
        });
    }

    #[test]
    fn the_cache_forgets_expired_tokens_and_stays_under_its_cap() {
        let cache = TokenCache::default();
        put(&cache, "old", "c1", Some(Duration::ZERO));
        put(&cache, "failed", "c1", None);
        put(&cache, "live", "c1", Some(Duration::from_secs(600)));
        assert_eq!(
            cache.tokens_of("c1").iter().map(|t| t.expose_secret().to_string()).collect::<Vec<_>>(),
            ["tok-live"]
        );
        // A new grant sweeps out the expired and the never-filled entries.
        put(&cache, "new", "c2", Some(Duration::from_secs(600)));
        assert_eq!(cache.len(), 2);
        for i in 0..MAX_CACHED_TOKENS + 50 {
            put(&cache, &format!("k{i}"), "c3", Some(Duration::from_secs(600 + i as u64)));
        }
        assert!(cache.len() <= MAX_CACHED_TOKENS, "{}", cache.len());
        // A token the ATS refused is fetched again but still scrubbed.
        let grant_url = url::Url::parse("https://auth.example.com/token").unwrap();
        let grant = Grant {
            connection: "c4",
            token_url: &grant_url,
            client_id: "id",
            client_secret: "s",
            scope: None,
            extra_params: &[],
        };
        put(&cache, &grant.key(), "c4", Some(Duration::from_secs(600)));
        cache.invalidate(&grant);
        let slot = cache.slot(grant.key(), "c4");
        assert!(slot.try_lock().unwrap().as_ref().is_some_and(|t| t.renew_at <= Instant::now()));
        assert_eq!(cache.tokens_of("c4").len(), 1);
        // The ones evicted first are those closest to expiry.
        assert!(cache.tokens_of("c3").iter().any(|t| t.expose_secret() == format!("tok-k{}", MAX_CACHED_TOKENS + 49)));
    }

    #[test]
    fn error_details_are_escaped_and_cut() {
        let body = format!(r#"{{"error":"invalid_client","error_description":"bad\u001b[31m {}"}}"#, "x".repeat(500));
        let detail = error_detail(body.as_bytes());
        assert!(detail.starts_with(": invalid_client: bad\\u{1b}[31m"), "{detail}");
        assert!(detail.len() < MAX_ERROR_DESCRIPTION_CHARS + 40, "{}", detail.len());
        assert_eq!(error_detail(b"not json"), "");
    }
}
