//! A connection's settings, as a connector reads them.
//!
//! The host validates settings against the connector's
//! [`config_schema`](crate::types::ConnectorInfo::config_schema) before every
//! call and fills in defaults, so a required key is normally present. The
//! accessors still return [`ConnectorError::InvalidConfig`] naming the key
//! when something is missing or of the wrong kind: that error tells the user
//! exactly which setting to fix.

use crate::types::{ConnectorError, SecretRef, Setting, SettingValue};

/// The settings of the connection a call runs for.
///
/// Text, url and choice settings carry their value; secret settings carry
/// only a [`SecretRef`] that the plugin hands to the host in an HTTP
/// request's auth (see [`crate::http::Request::bearer`]).
///
/// An empty or whitespace-only text value counts as absent: that is what a
/// cleared form field looks like.
///
/// ```
/// use atsbridge_sdk::prelude::*;
///
/// let config = Config::from(vec![
///     Setting::text("base-url", "https://acme.example/api/"),
///     Setting::secret("api-key"),
/// ]);
/// assert_eq!(config.base_url("base-url", "https://default.example"), "https://acme.example/api");
/// assert_eq!(config.secret("api-key").unwrap().key, "api-key");
/// assert!(config.require_text("account").is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Config {
    settings: Vec<Setting>,
}

impl Config {
    /// Wraps the settings the host passed.
    pub fn new(settings: Vec<Setting>) -> Self {
        Config { settings }
    }

    /// All settings, in the order the host sent them.
    pub fn settings(&self) -> &[Setting] {
        &self.settings
    }

    /// Gives the settings back.
    pub fn into_settings(self) -> Vec<Setting> {
        self.settings
    }

    /// The raw value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&SettingValue> {
        self.settings.iter().find(|s| s.key == key).map(|s| &s.value)
    }

    /// The text of a text, url or choice setting; `None` when the setting is
    /// missing, empty or a secret.
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            SettingValue::Text(value) if !value.trim().is_empty() => Some(value.as_str()),
            _ => None,
        }
    }

    /// The text of `key`, or `default` when it is missing or empty.
    pub fn text_or<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.text(key).unwrap_or(default)
    }

    /// The text of `key`, or [`ConnectorError::InvalidConfig`] naming the key
    /// when it is missing, empty or a secret.
    pub fn require_text(&self, key: &str) -> Result<&str, ConnectorError> {
        match self.get(key) {
            Some(SettingValue::Secret(_)) => {
                Err(invalid(format!("setting `{key}` is a secret, but a text value was expected")))
            }
            _ => self.text(key).ok_or_else(|| invalid(format!("missing required setting `{key}`"))),
        }
    }

    /// A URL setting without its trailing slashes, ready for
    /// `format!("{base}/path")`; `None` when missing or empty.
    pub fn url(&self, key: &str) -> Option<&str> {
        self.text(key).map(|u| u.trim().trim_end_matches('/'))
    }

    /// Like [`Config::url`], but missing values and values that are not
    /// absolute `http://` or `https://` URLs are
    /// [`ConnectorError::InvalidConfig`].
    pub fn require_url(&self, key: &str) -> Result<&str, ConnectorError> {
        self.require_text(key)?;
        let url = self.url(key).unwrap_or_default();
        if is_http_url(url) {
            Ok(url)
        } else {
            Err(invalid(format!("setting `{key}` must be an absolute http(s) URL, got `{url}`")))
        }
    }

    /// The URL setting `key` without trailing slashes, or `default` (also
    /// without trailing slashes) when the setting is missing or empty.
    pub fn base_url<'a>(&'a self, key: &str, default: &'a str) -> &'a str {
        self.url(key).unwrap_or_else(|| default.trim_end_matches('/'))
    }

    /// The reference to the secret setting `key`, or
    /// [`ConnectorError::InvalidConfig`] when it is missing or not a secret.
    pub fn secret(&self, key: &str) -> Result<SecretRef, ConnectorError> {
        self.optional_secret(key)?.ok_or_else(|| invalid(format!("missing required secret setting `{key}`")))
    }

    /// The reference to the secret setting `key` if it is set;
    /// [`ConnectorError::InvalidConfig`] when it is set but not a secret.
    pub fn optional_secret(&self, key: &str) -> Result<Option<SecretRef>, ConnectorError> {
        match self.get(key) {
            None => Ok(None),
            Some(SettingValue::Secret(secret)) => Ok(Some(secret.clone())),
            Some(SettingValue::Text(_)) => {
                Err(invalid(format!("setting `{key}` must be a secret, but it was given as text")))
            }
        }
    }
}

impl From<Vec<Setting>> for Config {
    fn from(settings: Vec<Setting>) -> Self {
        Config::new(settings)
    }
}

impl FromIterator<Setting> for Config {
    fn from_iter<I: IntoIterator<Item = Setting>>(iter: I) -> Self {
        Config::new(iter.into_iter().collect())
    }
}

fn invalid(message: String) -> ConnectorError {
    ConnectorError::InvalidConfig(message)
}

fn is_http_url(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    matches!(rest, Some(host) if !host.is_empty() && !host.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from(vec![
            Setting::text("base-url", "https://acme.example/api//"),
            Setting::text("account", "main"),
            Setting::text("blank", "  "),
            Setting::text("relative", "/api"),
            Setting::secret("api-key"),
        ])
    }

    #[test]
    fn text_reads_values_and_treats_blank_and_secrets_as_absent() {
        let c = config();
        assert_eq!(c.text("account"), Some("main"));
        assert_eq!(c.text("blank"), None);
        assert_eq!(c.text("api-key"), None);
        assert_eq!(c.text("missing"), None);
        assert_eq!(c.text_or("missing", "fallback"), "fallback");
    }

    #[test]
    fn require_text_names_the_key() {
        let c = config();
        assert_eq!(c.require_text("account"), Ok("main"));
        let err = c.require_text("region").unwrap_err();
        assert_eq!(err, ConnectorError::InvalidConfig("missing required setting `region`".into()));
        assert!(c.require_text("blank").unwrap_err().message().contains("`blank`"));
        let err = c.require_text("api-key").unwrap_err();
        assert!(matches!(&err, ConnectorError::InvalidConfig(m) if m.contains("`api-key`") && m.contains("secret")));
    }

    #[test]
    fn urls_lose_trailing_slashes() {
        let c = config();
        assert_eq!(c.url("base-url"), Some("https://acme.example/api"));
        assert_eq!(c.require_url("base-url"), Ok("https://acme.example/api"));
        assert_eq!(c.base_url("base-url", "https://other.example"), "https://acme.example/api");
        assert_eq!(c.base_url("missing", "https://other.example/"), "https://other.example");
        assert_eq!(c.base_url("blank", "https://other.example"), "https://other.example");
    }

    #[test]
    fn require_url_rejects_missing_and_non_http_values() {
        let c = config();
        assert!(matches!(c.require_url("relative"), Err(ConnectorError::InvalidConfig(m)) if m.contains("`relative`")));
        assert!(matches!(c.require_url("missing"), Err(ConnectorError::InvalidConfig(m)) if m.contains("`missing`")));
        assert!(is_http_url("http://localhost:8080"));
        assert!(!is_http_url("https://"));
        assert!(!is_http_url("ftp://x"));
    }

    #[test]
    fn secrets_are_references() {
        let c = config();
        assert_eq!(c.secret("api-key"), Ok(SecretRef::new("api-key")));
        assert_eq!(c.optional_secret("other"), Ok(None));
        assert_eq!(
            c.secret("other"),
            Err(ConnectorError::InvalidConfig("missing required secret setting `other`".into()))
        );
        assert!(matches!(c.secret("account"), Err(ConnectorError::InvalidConfig(m)) if m.contains("`account`")));
    }

    #[test]
    fn collects_from_settings() {
        let c: Config = vec![Setting::text("a", "1")].into_iter().collect();
        assert_eq!(c.settings().len(), 1);
        assert_eq!(c.clone().into_settings(), vec![Setting::text("a", "1")]);
        assert!(matches!(c.get("a"), Some(SettingValue::Text(v)) if v == "1"));
    }
}
