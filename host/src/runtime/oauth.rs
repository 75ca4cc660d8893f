//! OAuth 2.0 client-credentials tokens (RFC 6749 section 4.4), fetched by the
//! host for a plugin and cached per connection until shortly before they
//! expire. Greenhouse's Harvest v3 API authenticates this way.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Renew this long before the token's stated expiry, so a token never
/// expires between the check and the ATS receiving the request.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// Used when the token response has no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// Token responses are small; anything bigger is not a token response.
const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

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
}

/// Why a token could not be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token endpoint unreachable: {0}")]
    Transport(String),
    #[error("token endpoint refused the client credentials (HTTP {status})")]
    Refused { status: u16 },
    #[error("token endpoint answered with something that is not a token: {0}")]
    Malformed(String),
}

#[derive(Clone)]
struct Token {
    value: SecretString,
    renew_at: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: Option<u64>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Token>>>;

/// Tokens by grant; one fetch at a time per grant.
#[derive(Default)]
pub struct TokenCache {
    slots: Mutex<HashMap<String, Slot>>,
}

impl TokenCache {
    fn slot(&self, key: String) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(key).or_default().clone()
    }

    /// A valid access token for the grant, fetched if none is cached.
    pub async fn token(&self, client: &reqwest::Client, grant: &Grant<'_>) -> Result<SecretString, TokenError> {
        let slot = self.slot(grant.key());
        let mut cached = slot.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(t.value.clone());
        }
        let token = fetch(client, grant).await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// Forgets the grant's token, e.g. after the ATS answered 401 with it.
    pub fn invalidate(&self, grant: &Grant<'_>) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.remove(&grant.key());
    }
}

async fn fetch(client: &reqwest::Client, grant: &Grant<'_>) -> Result<Token, TokenError> {
    let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
    if let Some(scope) = grant.scope {
        form.push(("scope", scope));
    }
    form.extend(grant.extra_params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let started = Instant::now();
    let response = client
        .post(grant.token_url.clone())
        .basic_auth(grant.client_id, Some(grant.client_secret))
        .form(&form)
        .send()
        .await
        .map_err(|e| TokenError::Transport(e.without_url().to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(TokenError::Refused { status: status.as_u16() });
    }
    let body = response.bytes().await.map_err(|e| TokenError::Transport(e.without_url().to_string()))?;
    if body.len() > MAX_TOKEN_RESPONSE_BYTES {
        return Err(TokenError::Malformed(format!("{} bytes", body.len())));
    }
    let parsed: TokenResponse = serde_json::from_slice(&body).map_err(|e| TokenError::Malformed(e.to_string()))?;
    let lifetime = parsed.expires_in.map(Duration::from_secs).unwrap_or(DEFAULT_LIFETIME);
    tracing::debug!(token_url = %grant.token_url, connection = grant.connection, ?lifetime, "fetched OAuth access token");
    Ok(Token {
        value: SecretString::from(parsed.access_token),
        renew_at: started + lifetime.saturating_sub(EXPIRY_MARGIN),
    })
}

#[cfg(test)]
mod tests {
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
}
