//! Per-account API keys.
//!
//! A key is a random token shown once, at creation. The store keeps only
//! its SHA-256 (a 256-bit random token needs no slow hash: there is nothing
//! to brute-force) and a short random id, which is also the token's visible
//! prefix, so a key can be listed and revoked without being known:
//!
//! ```text
//! atsb_<id: 12 hex>_<secret: 43 base64url characters (32 random bytes)>
//! ```
//!
//! Tree `api_keys`: key id -> [`ApiKey`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::info;

use super::secrets::SecretError;
use super::{Store, StoreError, codec, keys, now_unix, read};

/// Tree of API keys, by key id.
const API_KEYS: &str = "api_keys";
/// Every token starts with this, so a leaked one is easy to recognise (and
/// for secret scanners to find).
const TOKEN_PREFIX: &str = "atsb_";
/// Random bytes in a key id (shown in listings; not secret).
const ID_BYTES: usize = 6;
/// Random bytes in a token's secret part: 256 bits.
const SECRET_BYTES: usize = 32;
/// The longest label kept, in characters.
const MAX_LABEL_CHARS: usize = 100;

/// A stored API key: everything but the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    /// Random, 12 hex characters; the token's visible prefix.
    pub id: String,
    /// The account it gives access to.
    pub account_id: String,
    /// What it is for, as its creator said.
    pub label: String,
    /// Hex SHA-256 of the whole token.
    pub sha256: String,
    /// Creation time, Unix seconds.
    pub created_at_unix: i64,
}

fn random(n: usize) -> Result<Vec<u8>, StoreError> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Secret(SecretError::Random(e)))?;
    Ok(bytes)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Equality that takes the same time wherever the inputs differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Store {
    fn api_keys_tree(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(API_KEYS)?)
    }

    /// Creates a key for an existing account. Returns the record and the
    /// token, which is not stored and cannot be shown again.
    pub fn create_api_key(&self, account_id: &str, label: &str) -> Result<(ApiKey, SecretString), StoreError> {
        let _gate = self.write_gate();
        if self.account(account_id)?.is_none() {
            return Err(StoreError::UnknownAccount(account_id.to_string()));
        }
        let id = hex::encode(random(ID_BYTES)?);
        let token = format!("{TOKEN_PREFIX}{id}_{}", URL_SAFE_NO_PAD.encode(random(SECRET_BYTES)?));
        let key = ApiKey {
            id: id.clone(),
            account_id: account_id.to_string(),
            label: label.trim().chars().take(MAX_LABEL_CHARS).collect(),
            sha256: token_hash(&token),
            created_at_unix: now_unix(),
        };
        self.api_keys_tree()?.insert(keys::id(&id), codec::encode("api key", &key)?)?;
        info!(account = account_id, key = %id, "API key created");
        Ok((key, SecretString::from(token)))
    }

    /// An account's keys, by id.
    pub fn api_keys_of(&self, account_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let mut out = Vec::new();
        for entry in self.api_keys_tree()?.iter() {
            let (k, bytes) = entry?;
            let key: ApiKey = codec::decode(API_KEYS, keys::decode_id(API_KEYS, &k)?, &bytes)?;
            if key.account_id == account_id {
                out.push(key);
            }
        }
        Ok(out)
    }

    /// Revokes one of an account's keys; `false` if the account has no such
    /// key (another account's key is not touched).
    pub fn revoke_api_key(&self, account_id: &str, key_id: &str) -> Result<bool, StoreError> {
        let _gate = self.write_gate();
        let tree = self.api_keys_tree()?;
        let Some(key) = read::<ApiKey>(&tree, API_KEYS, keys::id(key_id), key_id)? else { return Ok(false) };
        if key.account_id != account_id {
            return Ok(false);
        }
        tree.remove(keys::id(key_id))?;
        info!(account = account_id, key = key_id, "API key revoked");
        Ok(true)
    }

    /// Revokes every key of an account (when it is deleted).
    pub fn revoke_api_keys_of(&self, account_id: &str) -> Result<usize, StoreError> {
        let _gate = self.write_gate();
        let tree = self.api_keys_tree()?;
        let keys = self.api_keys_of(account_id)?;
        for key in &keys {
            tree.remove(keys::id(&key.id))?;
        }
        Ok(keys.len())
    }

    /// The key a token belongs to, if it is a live key.
    pub fn authenticate_api_key(&self, token: &str) -> Result<Option<ApiKey>, StoreError> {
        let Some(rest) = token.strip_prefix(TOKEN_PREFIX) else { return Ok(None) };
        let Some((id, _)) = rest.split_once('_') else { return Ok(None) };
        if id.len() != ID_BYTES * 2 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let Some(key) = read::<ApiKey>(&self.api_keys_tree()?, API_KEYS, keys::id(id), id)? else { return Ok(None) };
        Ok(constant_time_eq(key.sha256.as_bytes(), token_hash(token).as_bytes()).then_some(key))
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use crate::store::testutil::temp_store;

    #[test]
    fn keys_are_stored_hashed_and_scoped_to_their_account() {
        let (dir, store) = temp_store();
        store.add_account("Acme", "UTC").unwrap();
        store.add_account("Globex", "UTC").unwrap();
        let (key, token) = store.create_api_key("acme", "platform").unwrap();
        let token = token.expose_secret().to_string();
        assert!(token.starts_with(&format!("atsb_{}_", key.id)), "{token}");
        assert_eq!(store.authenticate_api_key(&token).unwrap(), Some(key.clone()));
        // One character off, or another id, is no key.
        let mut wrong = token.clone();
        let last = wrong.pop();
        wrong.push(if last == Some('A') { 'B' } else { 'A' });
        assert_eq!(store.authenticate_api_key(&wrong).unwrap(), None);
        assert_eq!(store.authenticate_api_key("atsb_zz_x").unwrap(), None);
        store.flush().unwrap();
        let on_disk = |needle: &[u8]| {
            walk(dir.path()).iter().any(|f| memchr::memmem::find(&std::fs::read(f).unwrap(), needle).is_some())
        };
        assert!(on_disk(key.sha256.as_bytes()));
        assert!(!on_disk(token.as_bytes()));

        assert!(!store.revoke_api_key("globex", &key.id).unwrap(), "another account's key");
        assert_eq!(store.api_keys_of("acme").unwrap().len(), 1);
        assert!(store.revoke_api_key("acme", &key.id).unwrap());
        assert_eq!(store.authenticate_api_key(&token).unwrap(), None);
        assert!(store.create_api_key("nope", "x").is_err());
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
        }
        out
    }
}
