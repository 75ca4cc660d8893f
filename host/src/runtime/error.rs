//! How a call into a plugin can fail.

use std::time::Duration;

use crate::contract::ConnectorError;

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
    /// The guest panicked (its panic message is included).
    #[error("{plugin}: {function} panicked: {message}")]
    Panic { plugin: String, function: &'static str, message: String },
    /// Any other trap: unreachable code, out-of-bounds access, stack overflow.
    #[error("{plugin}: {function} trapped: {message}")]
    Trap { plugin: String, function: &'static str, message: String },
    /// The component could not be instantiated (e.g. a start function trapped).
    #[error("{plugin}: cannot instantiate: {message}")]
    Instantiate { plugin: String, message: String },
    /// The plugin is not installed or could not be loaded.
    #[error(transparent)]
    Load(#[from] crate::plugin::LoadError),
}

impl CallError {
    /// A short, stable name of the failure, for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Connector { error, .. } => error.kind(),
            CallError::Timeout { .. } => "timeout",
            CallError::MemoryLimit { .. } => "memory-limit",
            CallError::Panic { .. } => "panic",
            CallError::Trap { .. } => "trap",
            CallError::Instantiate { .. } => "instantiate",
            CallError::Load(_) => "load",
        }
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
        matches!(
            self,
            CallError::Timeout { .. }
                | CallError::MemoryLimit { .. }
                | CallError::Panic { .. }
                | CallError::Trap { .. }
        )
    }
}
