//! How a call into a plugin can fail.

use std::time::Duration;

use crate::contract::{ConnectorError, ConnectorErrorKind};

/// The kind of a [`CallError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallErrorKind {
    /// The connector answered with an error of this kind.
    Connector(ConnectorErrorKind),
    Timeout,
    MemoryLimit,
    Trap,
    Instantiate,
    Load,
}

impl CallErrorKind {
    /// A short, stable name (`timeout`, `rate-limited`), for metrics and
    /// stored run records.
    pub fn as_str(self) -> &'static str {
        match self {
            CallErrorKind::Connector(kind) => kind.as_str(),
            CallErrorKind::Timeout => "timeout",
            CallErrorKind::MemoryLimit => "memory-limit",
            CallErrorKind::Trap => "trap",
            CallErrorKind::Instantiate => "instantiate",
            CallErrorKind::Load => "load",
        }
    }
}

/// The failure of one call. Every variant is confined to that call: the
/// store it ran in is dropped, the plugin stays loaded, other calls go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The connector answered with an error (bad credentials, rate limit...).
    #[error("{plugin}: {}", error.summary())]
    Connector { plugin: String, error: ConnectorError },
    /// The call ran past its wall-clock budget and was interrupted.
    #[error("{plugin}: {function} did not finish within {limit:?} and was stopped")]
    Timeout { plugin: String, function: &'static str, limit: Duration },
    /// The guest tried to grow its memory past the cap.
    #[error("{plugin}: {function} exceeded the memory limit of {limit_bytes} bytes")]
    MemoryLimit { plugin: String, function: &'static str, limit_bytes: u64 },
    /// The guest trapped: a panic, unreachable code, an out-of-bounds
    /// access, a stack overflow, too much data copied to the host. What the
    /// guest wrote to stderr (where a panic message goes) is attached as
    /// the guest's own words: a guest can write anything there, so the host
    /// never presents it as its own finding.
    #[error(
        "{plugin}: {function} trapped: {message}{}",
        guest_stderr.as_deref().map(|s| format!(" [the plugin's stderr, unverified: {s}]")).unwrap_or_default()
    )]
    Trap { plugin: String, function: &'static str, message: String, guest_stderr: Option<String> },
    /// The component could not be instantiated (e.g. a start function trapped).
    #[error("{plugin}: cannot instantiate: {message}")]
    Instantiate { plugin: String, message: String },
    /// The plugin is not installed or could not be loaded.
    #[error(transparent)]
    Load(#[from] crate::plugin::LoadError),
}

impl CallError {
    /// The failure's kind, for matching without comparing strings.
    pub fn error_kind(&self) -> CallErrorKind {
        match self {
            CallError::Connector { error, .. } => CallErrorKind::Connector(error.error_kind()),
            CallError::Timeout { .. } => CallErrorKind::Timeout,
            CallError::MemoryLimit { .. } => CallErrorKind::MemoryLimit,
            CallError::Trap { .. } => CallErrorKind::Trap,
            CallError::Instantiate { .. } => CallErrorKind::Instantiate,
            CallError::Load(_) => CallErrorKind::Load,
        }
    }

    /// A short, stable name of the failure, for metrics.
    pub fn kind(&self) -> &'static str {
        self.error_kind().as_str()
    }

    /// The connector's own error, when that is what the call returned.
    pub fn connector_error(&self) -> Option<&ConnectorError> {
        match self {
            CallError::Connector { error, .. } => Some(error),
            _ => None,
        }
    }

    /// True when the host stopped the call (as opposed to the connector
    /// returning an error value).
    pub fn is_sandbox_failure(&self) -> bool {
        matches!(self, CallError::Timeout { .. } | CallError::MemoryLimit { .. } | CallError::Trap { .. })
    }
}
