//! The service's errors: each knows its kind (which the API turns into a
//! status) and a stable code, and its message never carries a secret, the
//! contents of a file, or a store-internal detail.

use crate::app::AppError;
use crate::plugin::settings::SettingsError;
use crate::plugin::{InstallError, LoadError};
use crate::store::StoreError;

/// What sort of failure, for the HTTP status and the CLI's exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed or a value is invalid (400 / 422).
    Invalid,
    /// No such record, or not the caller's (404).
    NotFound,
    /// The record's state forbids it (409).
    Conflict,
    /// The caller may not do this (403).
    Forbidden,
    /// The ATS or the plugin answered with an error (502).
    Upstream,
    /// A bug or a broken store; details only in the host's log (500).
    Internal,
}

/// Why an operation was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    #[error("{what} `{id}` does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("`{0}` is not a valid plugin id: use lowercase letters, digits and `-`, starting with a letter or digit")]
    BadPluginId(String),
    #[error("{0}")]
    Invalid(String),
    #[error("settings: {0}")]
    Settings(#[from] SettingsError),
    #[error("plugin refused: {0}")]
    Install(String),
    #[error("plugin `{plugin}` is used by connection(s) {connections}; delete them first or force the removal")]
    PluginInUse { plugin: String, connections: String },
    #[error("account `{account}` still has connection(s) {connections}; delete them first")]
    AccountInUse { account: String, connections: String },
    #[error("connection `{0}` is disabled; enable it first")]
    Disabled(String),
    #[error("connection `{0}` is syncing; try again when the run has finished")]
    Busy(String),
    #[error("{0}")]
    Conflict(String),
    #[error("only the operator may do this")]
    OperatorOnly,
    #[error("the connector reported `{kind}`: {message}")]
    Connector { kind: String, message: String },
    #[error("calling the plugin failed: {0}")]
    Plugin(String),
    #[error("internal error (details are in the host's log)")]
    Internal,
}

impl ServiceError {
    /// Logs the detail and returns [`ServiceError::Internal`], whose message
    /// reveals nothing about the store or the file system.
    pub fn internal(e: impl std::fmt::Display) -> ServiceError {
        tracing::error!(error = %e, "internal error");
        ServiceError::Internal
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            ServiceError::NotFound { .. } => ErrorKind::NotFound,
            ServiceError::BadPluginId(_)
            | ServiceError::Invalid(_)
            | ServiceError::Settings(_)
            | ServiceError::Install(_) => ErrorKind::Invalid,
            ServiceError::PluginInUse { .. }
            | ServiceError::AccountInUse { .. }
            | ServiceError::Disabled(_)
            | ServiceError::Busy(_)
            | ServiceError::Conflict(_) => ErrorKind::Conflict,
            ServiceError::OperatorOnly => ErrorKind::Forbidden,
            ServiceError::Connector { .. } | ServiceError::Plugin(_) => ErrorKind::Upstream,
            ServiceError::Internal => ErrorKind::Internal,
        }
    }

    /// A stable, machine-readable code.
    pub fn code(&self) -> String {
        match self {
            ServiceError::NotFound { what, .. } => format!("{}_not_found", what.replace(' ', "_")),
            ServiceError::BadPluginId(_) => "invalid_plugin_id".into(),
            ServiceError::Invalid(_) => "invalid_request".into(),
            ServiceError::Settings(_) => "invalid_settings".into(),
            ServiceError::Install(_) => "plugin_refused".into(),
            ServiceError::PluginInUse { .. } => "plugin_in_use".into(),
            ServiceError::AccountInUse { .. } => "account_in_use".into(),
            ServiceError::Disabled(_) => "connection_disabled".into(),
            ServiceError::Busy(_) => "connection_busy".into(),
            ServiceError::Conflict(_) => "conflict".into(),
            ServiceError::OperatorOnly => "operator_only".into(),
            ServiceError::Connector { kind, .. } => format!("connector_{}", kind.replace('-', "_")),
            ServiceError::Plugin(_) => "plugin_call_failed".into(),
            ServiceError::Internal => "internal".into(),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownAccount(id) => ServiceError::NotFound { what: "account", id },
            StoreError::UnknownConnection(id) => ServiceError::NotFound { what: "connection", id },
            StoreError::UnknownPosition(id) => ServiceError::NotFound { what: "position", id: id.to_string() },
            StoreError::UnknownCandidate(id) => ServiceError::NotFound { what: "candidate", id: id.to_string() },
            StoreError::UnknownStage { stage, .. } => ServiceError::NotFound { what: "stage", id: stage },
            e @ (StoreError::StageInUse { .. } | StoreError::AlreadyInStage { .. }) => {
                ServiceError::Conflict(e.to_string())
            }
            e @ (StoreError::InvalidStages { .. }
            | StoreError::InvalidAtsStages { .. }
            | StoreError::InvalidCandidate { .. }) => ServiceError::Invalid(e.to_string()),
            e @ (StoreError::InvalidTimeZone { .. }
            | StoreError::IdsExhausted { .. }
            | StoreError::DuplicateSetting { .. }
            | StoreError::SecretKeyMissing { .. }) => ServiceError::Invalid(e.to_string()),
            other => ServiceError::internal(other),
        }
    }
}

impl From<LoadError> for ServiceError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::NotInstalled(id) => ServiceError::NotFound { what: "plugin", id },
            // The reason may quote a damaged file; the log keeps it.
            LoadError::Damaged { id, reason } => {
                tracing::error!(plugin = %id, %reason, "damaged plugin");
                ServiceError::Invalid(format!("plugin `{id}` is damaged on disk; reinstall it"))
            }
            other => ServiceError::internal(other),
        }
    }
}

impl From<InstallError> for ServiceError {
    fn from(e: InstallError) -> Self {
        match e {
            InstallError::Load(load) => load.into(),
            // Replacing an installed id needs the operator's approval or
            // force: the caller can retry with them, so it is a conflict.
            InstallError::Replace(_) => ServiceError::Conflict(e.to_string()),
            other => ServiceError::Install(other.to_string()),
        }
    }
}

impl From<AppError> for ServiceError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Store(s) => s.into(),
            AppError::Plugin(l) => l.into(),
            AppError::Settings(s) => ServiceError::Settings(s),
            AppError::Schedule(s) => ServiceError::Invalid(s.to_string()),
            AppError::UnknownAccount(id) => ServiceError::NotFound { what: "account", id },
            AppError::PluginInUse { plugin, connections } => ServiceError::PluginInUse { plugin, connections },
            other => ServiceError::internal(other),
        }
    }
}
