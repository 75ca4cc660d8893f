//! What the runtime needs to know about the connection a call is made for:
//! its settings (secret values included, which never enter the sandbox) and
//! the extra hosts the operator granted it.

use std::collections::HashMap;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

pub use crate::contract::SettingInput;
use crate::contract::{SecretRef, Setting, SettingValue};
use crate::plugin::allowed_hosts::AllowedHosts;

/// The calling connection, as far as the sandbox is concerned.
#[derive(Debug, Clone)]
pub struct ConnectionContext {
    /// The connection's id; tags logs and scopes OAuth token caching.
    pub id: String,
    /// Settings by key, already validated against the plugin's schema.
    pub settings: Vec<(String, SettingInput)>,
    /// Hosts the operator granted this connection beyond the manifest's.
    pub extra_hosts: AllowedHosts,
    /// Record and replay: where this context's I/O is recorded, or the
    /// recording its `http` requests are answered from.
    pub recording: Option<crate::recording::RecordingIo>,
}

impl ConnectionContext {
    /// A context with text settings only and no extra hosts.
    pub fn new(id: impl Into<String>) -> Self {
        ConnectionContext { id: id.into(), settings: Vec::new(), extra_hosts: AllowedHosts::default(), recording: None }
    }

    /// Adds a text setting.
    pub fn text(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), SettingInput::Text(value.into())));
        self
    }

    /// Adds a secret setting.
    pub fn secret(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((key.into(), SettingInput::Secret(SecretString::from(value.into()))));
        self
    }

    /// Grants extra hosts.
    pub fn with_extra_hosts(mut self, hosts: AllowedHosts) -> Self {
        self.extra_hosts = hosts;
        self
    }

    /// The config handed to the plugin: secrets replaced by references.
    pub fn guest_config(&self) -> Vec<Setting> {
        self.settings
            .iter()
            .map(|(key, value)| Setting {
                key: key.clone(),
                value: match value {
                    SettingInput::Text(t) => SettingValue::Text(t.clone()),
                    SettingInput::Secret(_) => SettingValue::Secret(SecretRef { key: key.clone() }),
                },
            })
            .collect()
    }

    /// The secret values, for the host's `http` import.
    pub fn secrets(&self) -> Secrets {
        let map = self
            .settings
            .iter()
            .filter_map(|(k, v)| match v {
                SettingInput::Secret(s) => Some((k.clone(), s.clone())),
                SettingInput::Text(_) => None,
            })
            .collect();
        Secrets(Arc::new(map))
    }
}

/// A connection's secret values, by setting key. Never leaves the host.
#[derive(Clone, Default)]
pub struct Secrets(Arc<HashMap<String, SecretString>>);

impl Secrets {
    /// The value of a secret setting.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|s| s.expose_secret())
    }

    /// Every secret value, for the call's scrubber.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.0.values().map(|s| s.expose_secret())
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}
