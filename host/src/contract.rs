//! The connector contract's data types as the host uses them: the newest
//! supported version's types. Plugins built against older contract versions
//! are converted into these at the runtime boundary.

pub use crate::runtime::bindings::v0_1::atsbridge::connector::http::{
    Auth, BasicAuth, ClientCredentials, Credential, HeaderAuth, HttpError, Method, Request as HttpRequest,
    Response as HttpResponse,
};
pub use crate::runtime::bindings::v0_1::atsbridge::connector::log::Level as LogLevel;
pub use crate::runtime::bindings::v0_1::atsbridge::connector::types::{
    Answer, ApplicationState, AtsUser, Attachment, Candidate, CandidateRef, CandidateStatus, Capability, Config,
    ConnectorError, ConnectorInfo, Field, Job, JobPage, JobStatus, PushRequest, Pushed, RateLimit, SecretRef, Setting,
    SettingKind, SettingSpec, SettingValue, Stage,
};

impl Capability {
    /// The capability's name as written in WIT (`candidate-push`).
    pub fn wit_name(&self) -> &'static str {
        match self {
            Capability::Stages => "stages",
            Capability::CandidatePush => "candidate-push",
            Capability::CandidateStatus => "candidate-status",
            Capability::Webhooks => "webhooks",
        }
    }
}

impl SettingKind {
    /// The kind's name as written in WIT (`secret`).
    pub fn wit_name(&self) -> &'static str {
        match self {
            SettingKind::Text => "text",
            SettingKind::Secret => "secret",
            SettingKind::Url => "url",
            SettingKind::Choice => "choice",
        }
    }
}

impl ConnectorError {
    /// A short, stable name of the error's kind, used in metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorError::InvalidConfig(_) => "invalid-config",
            ConnectorError::Unauthorized(_) => "unauthorized",
            ConnectorError::RateLimited(_) => "rate-limited",
            ConnectorError::NotFound(_) => "not-found",
            ConnectorError::Transient(_) => "transient",
            ConnectorError::Permanent(_) => "permanent",
            ConnectorError::Unsupported(_) => "unsupported",
        }
    }

    /// `kind: message`, for people. (The generated `Display` prints the
    /// debug form, as for every WIT error type.)
    pub fn summary(&self) -> String {
        match self {
            ConnectorError::RateLimited(RateLimit { retry_after_ms: Some(ms), message }) => {
                format!("rate-limited (retry after {ms} ms): {message}")
            }
            other => format!("{}: {}", other.kind(), other.message()),
        }
    }

    /// The connector's message, without the kind.
    pub fn message(&self) -> &str {
        match self {
            ConnectorError::InvalidConfig(m)
            | ConnectorError::Unauthorized(m)
            | ConnectorError::NotFound(m)
            | ConnectorError::Transient(m)
            | ConnectorError::Permanent(m)
            | ConnectorError::Unsupported(m) => m,
            ConnectorError::RateLimited(r) => &r.message,
        }
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobStatus::Open => f.write_str("open"),
            JobStatus::Closed => f.write_str("closed"),
            JobStatus::Draft => f.write_str("draft"),
            JobStatus::OnHold => f.write_str("on-hold"),
            JobStatus::Other(raw) => write!(f, "other ({raw})"),
        }
    }
}
