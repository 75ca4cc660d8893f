//! Secret settings at rest: sealed with XChaCha20-Poly1305 under a key the
//! operator provides (`ATSBRIDGE_SECRET_KEY`), never stored in the clear.
//!
//! - Each value gets a fresh random 24-byte nonce. XChaCha's nonce is long
//!   enough that random nonces never realistically repeat, so no counter has
//!   to be kept (and kept consistent across crashes and backups).
//! - The connection id and setting key are bound in as associated data: a
//!   sealed value copied onto another connection or setting fails to open
//!   rather than leaking one connection's API key into another's requests.
//! - The key and every opened value live in `secrecy` types: zeroed on drop
//!   and redacted in `Debug`. Errors name the connection and setting, never
//!   the value or the key.
//! - Every key has an id (a hash of the key, safe to show) and every sealed
//!   value names the id of the key that sealed it, so a value sealed under
//!   another key is refused by name, and `atsbridge key rotate` can tell
//!   what is left to re-seal. A store keeps a key check value (a constant
//!   sealed under its key, [`KeyCheck`]) so a wrong key is refused when the
//!   store opens, not at the first sync.
//! - A key file must not be readable by group or others (mode 0600 or
//!   stricter), like an SSH private key.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The environment variable the operator puts the key in.
pub const SECRET_KEY_ENV: &str = "ATSBRIDGE_SECRET_KEY";

/// XChaCha20-Poly1305 keys are 256 bits.
const KEY_LEN: usize = 32;
/// XChaCha20's extended nonce: 192 bits, safe to draw at random.
const NONCE_LEN: usize = 24;
/// Bytes of a key's id (shown as 16 hex characters): enough to tell keys
/// apart, far too few to learn anything about the key.
const KEY_ID_BYTES: usize = 8;
/// The largest key file read: a key is 44 to 64 characters; anything much
/// larger is not a key file.
const MAX_KEY_FILE_BYTES: u64 = 4 * 1024;
/// The plain text sealed as a store's key check value.
const KEY_CHECK_PLAINTEXT: &str = "atsbridge key check v1";
/// The (connection, setting) the key check value is bound to; no
/// connection id is empty, so no real setting can be confused with it.
const KEY_CHECK_AAD: (&str, &str) = ("", "key-check");
/// [`EncryptedValue::scheme`] of XChaCha20-Poly1305 with the associated
/// data of [`associated_data`]. A new scheme gets a new number; old values
/// stay readable.
const SCHEME_XCHACHA20POLY1305: u8 = 1;

/// Why a key could not be used or a secret could not be sealed or opened.
/// Messages name the connection and setting, never a value or the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The operator's key is not in an accepted form.
    #[error("{SECRET_KEY_ENV} must be 64 hex characters or the base64 of 32 bytes: {reason}")]
    KeyFormat {
        /// What is wrong with it (never the key itself).
        reason: String,
    },
    /// The operating system's random number generator failed.
    #[error("could not draw a random nonce: {0}")]
    Random(getrandom::Error),
    /// Encryption failed (it only can for absurdly long values).
    #[error("could not encrypt secret setting `{setting}` of connection `{connection}`")]
    Encrypt {
        /// The connection the setting belongs to.
        connection: String,
        /// The setting's key.
        setting: String,
    },
    /// A key file is readable by group or others.
    #[error(
        "the key file {} is readable by group or others (mode {mode:o}); \
         run `chmod 600 {}` and try again", path.display(), path.display()
    )]
    KeyFilePermissions {
        /// The key file.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key file could not be read or is not a key.
    #[error("cannot use the key file {}: {reason}", path.display())]
    KeyFile {
        /// The key file.
        path: std::path::PathBuf,
        /// Why (never the file's contents).
        reason: String,
    },
    /// The value was sealed under another key than the configured one.
    #[error(
        "secret setting `{setting}` of connection `{connection}` was sealed with key {sealed_with}, \
         but the configured key ({SECRET_KEY_ENV} or the key file) is {configured}"
    )]
    OtherKey {
        /// The connection the setting belongs to.
        connection: String,
        /// The setting's key.
        setting: String,
        /// The id of the key that sealed it.
        sealed_with: String,
        /// The id of the key given.
        configured: String,
    },
    /// The value does not open under this key.
    #[error(
        "could not decrypt secret setting `{setting}` of connection `{connection}`: \
         {SECRET_KEY_ENV} is not the key it was stored with, or the stored value was altered"
    )]
    Decrypt {
        /// The connection the setting belongs to.
        connection: String,
        /// The setting's key.
        setting: String,
    },
    /// The stored value is not a sealed value this binary can read.
    #[error("stored secret setting `{setting}` of connection `{connection}` is unreadable: {reason}")]
    Malformed {
        /// The connection the setting belongs to.
        connection: String,
        /// The setting's key.
        setting: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The operator's key for secret settings. Zeroed on drop; `Debug` prints
/// no key material.
pub struct SecretKey(SecretBox<[u8; KEY_LEN]>);

impl SecretKey {
    /// Parses a key given as 64 hex characters or as base64 (standard or
    /// URL-safe alphabet) of 32 bytes. Surrounding whitespace is ignored, as
    /// keys are often pasted with a trailing newline.
    pub fn parse(text: &str) -> Result<SecretKey, SecretError> {
        let text = text.trim();
        let bytes = if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map(Zeroizing::new).map_err(|_| key_format("not valid hex"))?
        } else {
            STANDARD
                .decode(text)
                .or_else(|_| URL_SAFE.decode(text))
                .map(Zeroizing::new)
                .map_err(|_| key_format("neither 64 hex characters nor valid base64"))?
        };
        let key: [u8; KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| key_format(&format!("it decodes to {} bytes, not {KEY_LEN}", bytes.len())))?;
        Ok(SecretKey::from_bytes(key))
    }

    /// The key from [`SECRET_KEY_ENV`], or `None` when it is unset or empty.
    pub fn from_env() -> Result<Option<SecretKey>, SecretError> {
        match std::env::var(SECRET_KEY_ENV) {
            Ok(text) if text.trim().is_empty() => Ok(None),
            Ok(text) => SecretKey::parse(&Zeroizing::new(text)).map(Some),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(key_format("it is not valid Unicode")),
        }
    }

    /// The key from a file holding it as [`SecretKey::parse`] accepts.
    /// Refused when group or others may read the file, or it is larger
    /// than a key file can be. Errors name the file, never its contents.
    pub fn from_file(path: &std::path::Path) -> Result<SecretKey, SecretError> {
        use std::io::Read as _;
        let file_error = |reason: String| SecretError::KeyFile { path: path.to_path_buf(), reason };
        let file = std::fs::File::open(path).map_err(|e| file_error(e.to_string()))?;
        let meta = file.metadata().map_err(|e| file_error(e.to_string()))?;
        if !meta.is_file() {
            return Err(file_error("not a regular file".into()));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(SecretError::KeyFilePermissions { path: path.to_path_buf(), mode });
            }
        }
        let mut text = Zeroizing::new(String::new());
        file.take(MAX_KEY_FILE_BYTES + 1).read_to_string(&mut text).map_err(|_| file_error("not UTF-8 text".into()))?;
        if text.len() as u64 > MAX_KEY_FILE_BYTES {
            return Err(file_error(format!("larger than {MAX_KEY_FILE_BYTES} bytes; not a key file")));
        }
        SecretKey::parse(&text).map_err(|e| match e {
            SecretError::KeyFormat { reason } => file_error(format!("not a key: {reason}")),
            other => other,
        })
    }

    /// Writes the key (base64) to a new file with mode 0600; refuses to
    /// overwrite an existing file.
    pub fn write_new_file(&self, path: &std::path::Path) -> Result<(), SecretError> {
        use std::io::Write as _;
        let file_error = |reason: String| SecretError::KeyFile { path: path.to_path_buf(), reason };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| file_error(e.to_string()))?;
        let text = self.to_base64();
        file.write_all(format!("{}\n", text.expose_secret()).as_bytes()).map_err(|e| file_error(e.to_string()))?;
        file.sync_all().map_err(|e| file_error(e.to_string()))
    }

    /// The key's id: 16 hex characters of a hash of the key, safe to log
    /// and to store beside the values it sealed.
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"atsbridge-key-id-v1\0");
        h.update(self.0.expose_secret());
        hex::encode(&h.finalize()[..KEY_ID_BYTES])
    }

    /// A key check value for this key, to store beside the values it seals.
    pub(crate) fn check_value(&self) -> Result<KeyCheck, SecretError> {
        let (connection, setting) = KEY_CHECK_AAD;
        let sealed = self.seal(connection, setting, &SecretString::from(KEY_CHECK_PLAINTEXT))?;
        Ok(KeyCheck { key_id: self.id(), sealed })
    }

    /// Whether `check` was made by this key.
    pub(crate) fn matches(&self, check: &KeyCheck) -> bool {
        let (connection, setting) = KEY_CHECK_AAD;
        check.key_id == self.id()
            && self.open(connection, setting, &check.sealed).is_ok_and(|p| p.expose_secret() == KEY_CHECK_PLAINTEXT)
    }

    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> SecretKey {
        SecretKey(SecretBox::new(Box::new(bytes)))
    }

    /// A new random key, for an operator setting up a store.
    pub fn generate() -> Result<SecretKey, SecretError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        getrandom::fill(bytes.as_mut_slice()).map_err(SecretError::Random)?;
        Ok(SecretKey::from_bytes(*bytes))
    }

    /// The key as base64, in the form [`SecretKey::parse`] accepts.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(STANDARD.encode(self.0.expose_secret()))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&(*self.0.expose_secret()).into())
    }

    /// Seals a secret setting's value for storage.
    pub(crate) fn seal(
        &self,
        connection: &str,
        setting: &str,
        value: &SecretString,
    ) -> Result<EncryptedValue, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(SecretError::Random)?;
        let aad = associated_data(connection, setting);
        let ciphertext = self
            .cipher()
            .encrypt(&XNonce::from(nonce), Payload { msg: value.expose_secret().as_bytes(), aad: &aad })
            .map_err(|_| SecretError::Encrypt { connection: connection.into(), setting: setting.into() })?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(EncryptedValue {
            scheme: SCHEME_XCHACHA20POLY1305,
            sealed: STANDARD.encode(sealed),
            key_id: Some(self.id()),
        })
    }

    /// Opens a value sealed by [`SecretKey::seal`] for the same connection
    /// and setting.
    pub(crate) fn open(
        &self,
        connection: &str,
        setting: &str,
        value: &EncryptedValue,
    ) -> Result<SecretString, SecretError> {
        let malformed = |reason: &str| SecretError::Malformed {
            connection: connection.into(),
            setting: setting.into(),
            reason: reason.into(),
        };
        if value.scheme != SCHEME_XCHACHA20POLY1305 {
            return Err(malformed(&format!("unknown scheme {} (written by a newer atsbridge?)", value.scheme)));
        }
        if let Some(sealed_with) = value.key_id.as_ref().filter(|id| **id != self.id()) {
            return Err(SecretError::OtherKey {
                connection: connection.into(),
                setting: setting.into(),
                sealed_with: sealed_with.clone(),
                configured: self.id(),
            });
        }
        let sealed = STANDARD.decode(&value.sealed).map_err(|_| malformed("not base64"))?;
        let (nonce, ciphertext) =
            sealed.split_first_chunk::<NONCE_LEN>().ok_or_else(|| malformed("shorter than a nonce"))?;
        let aad = associated_data(connection, setting);
        let plain = self
            .cipher()
            .decrypt(&XNonce::from(*nonce), Payload { msg: ciphertext, aad: &aad })
            .map(Zeroizing::new)
            .map_err(|_| SecretError::Decrypt { connection: connection.into(), setting: setting.into() })?;
        let text = std::str::from_utf8(&plain).map_err(|_| malformed("not UTF-8 once decrypted"))?;
        Ok(SecretString::from(text))
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

fn key_format(reason: &str) -> SecretError {
    SecretError::KeyFormat { reason: reason.to_string() }
}

/// Binds a sealed value to its connection and setting. The NUL separators
/// cannot be confused with id characters, so ("a", "b\0c") and ("a\0b", "c")
/// differ.
fn associated_data(connection: &str, setting: &str) -> Vec<u8> {
    format!("atsbridge-secret-v1\0{connection}\0{setting}").into_bytes()
}

/// A secret setting's value as stored: sealed, so safe to write to disk and
/// to print.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedValue {
    /// The sealing scheme (1: XChaCha20-Poly1305).
    scheme: u8,
    /// base64 of the nonce followed by the ciphertext and its tag.
    sealed: String,
    /// The id of the key that sealed it ([`SecretKey::id`]); absent on
    /// values stored before key ids existed (filled in when the store is
    /// next opened with its key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
}

impl EncryptedValue {
    /// The id of the key that sealed it, when recorded.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// Records the sealing key's id on a value stored without one.
    pub(crate) fn set_key_id(&mut self, id: String) {
        self.key_id = Some(id);
    }
}

/// A store's key check value: a known text sealed under the store's key,
/// and that key's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyCheck {
    /// The id of the store's key.
    pub key_id: String,
    /// [`KEY_CHECK_PLAINTEXT`] sealed under it.
    pub sealed: EncryptedValue,
}

impl std::fmt::Debug for EncryptedValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncryptedValue(<sealed>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn keys_parse_from_hex_and_base64() {
        let from_hex = SecretKey::parse(&format!("{HEX_KEY}\n")).unwrap();
        let b64 = from_hex.to_base64();
        let from_b64 = SecretKey::parse(b64.expose_secret()).unwrap();
        assert_eq!(from_hex.0.expose_secret(), from_b64.0.expose_secret());
        assert_eq!(from_hex.0.expose_secret()[31], 0x1f);
    }

    #[test]
    fn bad_keys_are_refused_without_echoing_them() {
        for bad in ["", "short", &HEX_KEY[..62], "zz".repeat(32).as_str(), &STANDARD.encode([7u8; 16])] {
            let err = SecretKey::parse(bad).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(SECRET_KEY_ENV), "{msg}");
            if bad.len() > 4 {
                assert!(!msg.contains(bad), "{msg}");
            }
        }
    }

    #[test]
    fn seal_and_open_round_trip_with_fresh_nonces() {
        let key = SecretKey::generate().unwrap();
        let value = SecretString::from("api-token-123");
        let a = key.seal("c1", "token", &value).unwrap();
        let b = key.seal("c1", "token", &value).unwrap();
        assert_ne!(a, b, "each value gets its own nonce");
        assert!(!a.sealed.contains("api-token-123"));
        assert_eq!(key.open("c1", "token", &a).unwrap().expose_secret(), "api-token-123");
    }

    #[test]
    fn a_wrong_key_or_a_moved_value_fails_clearly() {
        let key = SecretKey::generate().unwrap();
        let other = SecretKey::generate().unwrap();
        let sealed = key.seal("c1", "token", &SecretString::from("hunter2")).unwrap();
        let msg = other.open("c1", "token", &sealed).unwrap_err().to_string();
        assert!(msg.contains("`token`") && msg.contains("`c1`") && msg.contains(SECRET_KEY_ENV), "{msg}");
        assert!(!msg.contains("hunter2"));
        assert!(matches!(key.open("c2", "token", &sealed), Err(SecretError::Decrypt { .. })));
        assert!(matches!(key.open("c1", "password", &sealed), Err(SecretError::Decrypt { .. })));
    }

    #[test]
    fn key_ids_tell_keys_apart_and_values_name_their_key() {
        let key = SecretKey::generate().unwrap();
        let other = SecretKey::generate().unwrap();
        assert_eq!(key.id().len(), 2 * KEY_ID_BYTES);
        assert_ne!(key.id(), other.id());
        let sealed = key.seal("c1", "token", &SecretString::from("hunter2")).unwrap();
        assert_eq!(sealed.key_id(), Some(key.id().as_str()));
        let err = other.open("c1", "token", &sealed).unwrap_err();
        assert!(matches!(err, SecretError::OtherKey { .. }), "{err}");
        assert!(err.to_string().contains(&key.id()) && err.to_string().contains(&other.id()), "{err}");
        // A value from before key ids still opens.
        let mut legacy = sealed.clone();
        legacy.key_id = None;
        assert_eq!(key.open("c1", "token", &legacy).unwrap().expose_secret(), "hunter2");
    }

    #[test]
    fn the_check_value_matches_only_its_key() {
        let key = SecretKey::generate().unwrap();
        let check = key.check_value().unwrap();
        assert!(key.matches(&check));
        assert!(!SecretKey::generate().unwrap().matches(&check));
    }

    #[cfg(unix)]
    #[test]
    fn key_files_must_be_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let key = SecretKey::generate().unwrap();
        key.write_new_file(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(SecretKey::from_file(&path).unwrap().id(), key.id());
        assert!(key.write_new_file(&path).is_err(), "never overwrites");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = SecretKey::from_file(&path).unwrap_err();
        assert!(matches!(err, SecretError::KeyFilePermissions { mode: 0o644, .. }), "{err}");
        assert!(err.to_string().contains("chmod 600"), "{err}");
        let big = dir.path().join("big");
        std::fs::write(&big, "A".repeat(10_000)).unwrap();
        std::fs::set_permissions(&big, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = SecretKey::from_file(&big).unwrap_err().to_string();
        assert!(err.contains("not a key file") && !err.contains("AAAA"), "{err}");
    }

    #[test]
    fn debug_never_shows_key_or_value() {
        let key = SecretKey::parse(HEX_KEY).unwrap();
        let sealed = key.seal("c", "s", &SecretString::from("hunter2")).unwrap();
        let shown = format!("{key:?} {sealed:?} {:?}", key.open("c", "s", &sealed).unwrap());
        assert!(!shown.contains("hunter2") && !shown.contains("0001020304") && !shown.contains(&sealed.sealed));
    }
}
