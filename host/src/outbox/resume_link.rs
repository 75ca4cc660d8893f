//! Short-lived résumé links for ATS that take a résumé only as a URL
//! (Teamtailor's `resume` field): `push-candidate` gets, beside the file's
//! bytes, a URL at which the host serves the same file.
//!
//! A link names one candidate and an expiry, signed with HMAC-SHA256 under
//! a key kept in the data directory (`resume-links.key`, mode 0600), so it
//! cannot be guessed or turned into another candidate's link, survives a
//! restart of the host (an ATS may fetch it a little later) and stops
//! working once expired. The API serves the file at the link (`GET
//! /r/{token}`), answering 404 for every refusal alike.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a link works: long enough for an ATS to fetch the file while
/// it processes the push (they do so within seconds to minutes), short
/// enough that a link copied from a log is soon useless.
pub const LINK_LIFETIME_SECS: i64 = 60 * 60;

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "resume-links.key";

/// Key length, bytes (HMAC-SHA256's block-sized key would be 64; 32 random
/// bytes are already beyond guessing).
pub const KEY_BYTES: usize = 32;

/// The longest token [`ResumeLinks::verify`] reads; a real one is about 70
/// characters.
const MAX_TOKEN_LEN: usize = 128;

/// Why the links cannot be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResumeLinkError {
    /// The key file could not be read or written.
    #[error("résumé link key {path}: {source}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key file exists but is not a key (wrong length) or is readable
    /// by others.
    #[error("résumé link key {path}: {reason}")]
    BadKey {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Signs and checks résumé links. Cheap to clone.
#[derive(Clone)]
pub struct ResumeLinks {
    /// Where the host is reached from outside (`https://jobs.example.com`).
    base_url: Arc<str>,
    key: Arc<[u8; KEY_BYTES]>,
}

impl std::fmt::Debug for ResumeLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumeLinks").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

impl ResumeLinks {
    /// Links under `base_url`, signed with the key in `data_dir`, created
    /// on first use.
    pub fn load_or_create(data_dir: &Path, base_url: &str) -> Result<ResumeLinks, ResumeLinkError> {
        let path = data_dir.join(KEY_FILE);
        let key = match std::fs::metadata(&path) {
            Ok(meta) => {
                if meta.permissions().mode() & 0o077 != 0 {
                    return Err(ResumeLinkError::BadKey {
                        path,
                        reason: "readable by others; make it mode 0600".to_string(),
                    });
                }
                read_key(&path)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key(&path)?,
            Err(source) => return Err(ResumeLinkError::KeyFile { path, source }),
        };
        Ok(ResumeLinks::with_key(base_url, key))
    }

    /// Links signed with `key` (tests, and [`load_or_create`](Self::load_or_create)).
    pub fn with_key(base_url: &str, key: [u8; KEY_BYTES]) -> ResumeLinks {
        ResumeLinks { base_url: Arc::from(base_url.trim_end_matches('/')), key: Arc::new(key) }
    }

    /// The link to `candidate_id`'s résumé, working until
    /// `now_unix + LINK_LIFETIME_SECS`.
    pub fn url(&self, candidate_id: u64, now_unix: i64) -> String {
        format!("{}/r/{}", self.base_url, self.token(candidate_id, now_unix.saturating_add(LINK_LIFETIME_SECS)))
    }

    /// `<candidate>.<expiry>.<signature>`.
    fn token(&self, candidate_id: u64, expires_unix: i64) -> String {
        let signature = URL_SAFE_NO_PAD.encode(self.mac(candidate_id, expires_unix).finalize().into_bytes());
        format!("{candidate_id}.{expires_unix}.{signature}")
    }

    fn mac(&self, candidate_id: u64, expires_unix: i64) -> Hmac<Sha256> {
        // A key of any length is accepted by HMAC; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key[..]).unwrap_or_else(|_| unreachable!());
        mac.update(format!("resume-link\n{candidate_id}\n{expires_unix}").as_bytes());
        mac
    }

    /// The candidate a token grants, if it is well formed, signed by us and
    /// not expired at `now_unix`.
    pub fn verify(&self, token: &str, now_unix: i64) -> Option<u64> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let mut parts = token.split('.');
        let (candidate, expires, signature) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let candidate_id: u64 = candidate.parse().ok()?;
        let expires_unix: i64 = expires.parse().ok()?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        // Constant-time comparison, before looking at the expiry, so timing
        // says nothing about which part was wrong.
        self.mac(candidate_id, expires_unix).verify_slice(&signature).ok()?;
        (now_unix <= expires_unix).then_some(candidate_id)
    }
}

fn read_key(path: &Path) -> Result<[u8; KEY_BYTES], ResumeLinkError> {
    let bytes = std::fs::read(path).map_err(|source| ResumeLinkError::KeyFile { path: path.to_path_buf(), source })?;
    <[u8; KEY_BYTES]>::try_from(bytes.as_slice()).map_err(|_| ResumeLinkError::BadKey {
        path: path.to_path_buf(),
        reason: format!("{} bytes where a key has {KEY_BYTES}", bytes.len()),
    })
}

fn create_key(path: &Path) -> Result<[u8; KEY_BYTES], ResumeLinkError> {
    let mut key = [0u8; KEY_BYTES];
    getrandom::fill(&mut key).map_err(|e| ResumeLinkError::KeyFile {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    let io = |source| ResumeLinkError::KeyFile { path: path.to_path_buf(), source };
    // `create_new`: two hosts racing on one data directory cannot both write.
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io)?;
    file.write_all(&key).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links() -> ResumeLinks {
        ResumeLinks::with_key("https://jobs.example.com/", [7; KEY_BYTES])
    }

    #[test]
    fn a_link_grants_its_candidate_until_it_expires() {
        let url = links().url(42, 1_000);
        let token = url.strip_prefix("https://jobs.example.com/r/").expect("under the base URL");
        assert_eq!(links().verify(token, 1_000), Some(42));
        assert_eq!(links().verify(token, 1_000 + LINK_LIFETIME_SECS), Some(42));
        assert_eq!(links().verify(token, 1_001 + LINK_LIFETIME_SECS), None);
    }

    #[test]
    fn a_changed_candidate_expiry_or_key_is_refused() {
        let token = links().token(42, 5_000);
        let signature = token.rsplit('.').next().unwrap();
        assert_eq!(links().verify(&format!("43.5000.{signature}"), 0), None, "another candidate");
        assert_eq!(links().verify(&format!("42.9000.{signature}"), 0), None, "a later expiry");
        let other = ResumeLinks::with_key("https://jobs.example.com", [8; KEY_BYTES]);
        assert_eq!(other.verify(&token, 0), None, "another host's key");
        for junk in ["", "42", "42.5000", "42.5000.", "x.5000.abc", &format!("{token}.x"), &"4".repeat(500)] {
            assert_eq!(links().verify(junk, 0), None, "{junk}");
        }
    }

    #[test]
    fn the_key_is_created_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = ResumeLinks::load_or_create(dir.path(), "http://h").unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = ResumeLinks::load_or_create(dir.path(), "http://h").unwrap();
        let token = first.token(1, 10);
        assert_eq!(again.verify(&token, 0), Some(1), "a restarted host honours its links");
        std::fs::set_permissions(dir.path().join(KEY_FILE), std::fs::Permissions::from_mode(0o644)).unwrap();
        let refused = ResumeLinks::load_or_create(dir.path(), "http://h").unwrap_err();
        assert!(refused.to_string().contains("0600"), "{refused}");
    }
}
