//! The connector contract's data types as the host uses them: plain Rust
//! values with no dependency on wasmtime or the rest of the host, so the
//! plugin registry, the store and the sync engine can use them without
//! depending on the runtime. They mirror the newest supported WIT version
//! (`wit/v0.2.0/types.wit`) field for field; the runtime converts between
//! them and each version's generated bindings (`runtime/bindings.rs`).
//!
//! The HTTP and log types of the contract are used only by the runtime's
//! imports and stay there.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// The contract versions this host loads, newest last. A plugin built
/// against any `0.1.x` is served by the `v0_1` bindings, one built against
/// any `0.2.x` by the `v0_2` bindings.
pub const SUPPORTED_CONTRACTS: &[semver::Version] = &[semver::Version::new(0, 1, 0), semver::Version::new(0, 2, 0)];

/// The WIT package every contract version lives in.
pub const CONTRACT_PACKAGE: &str = "atsbridge:connector";

/// The interface a connector exports.
pub const PLUGIN_INTERFACE: &str = "plugin";

/// What a connector can do beyond listing jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Capability {
    Stages,
    CandidatePush,
    CandidateStatus,
    Webhooks,
    /// `move-application` (contract 0.2.0 and later).
    MoveApplication,
    /// `push-candidate` sends the candidate's answers (0.2.0 and later).
    ApplicationAnswers,
}

/// How a setting is entered and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SettingKind {
    Text,
    Secret,
    Url,
    Choice,
}

/// One setting of a connector's config schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingSpec {
    pub key: String,
    pub label: String,
    pub kind: SettingKind,
    pub required: bool,
    pub help: String,
    pub choices: Vec<String>,
    pub default_value: Option<String>,
}

/// What `info()` says about a connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    pub name: String,
    pub version: String,
    pub vendor: String,
    pub capabilities: Vec<Capability>,
    pub config_schema: Vec<SettingSpec>,
}

/// A reference to a secret setting; the value stays in the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecretRef {
    pub key: String,
}

/// A setting's value as the plugin sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SettingValue {
    Text(String),
    Secret(SecretRef),
}

/// One setting as the plugin sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setting {
    pub key: String,
    pub value: SettingValue,
}

/// A connection's settings as the plugin sees them.
pub type Config = Vec<Setting>;

/// A job's status, normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum JobStatus {
    Open,
    Closed,
    Draft,
    OnHold,
    Other(String),
}

/// A user of the ATS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AtsUser {
    pub ats_id: String,
    pub name: String,
    pub email: Option<String>,
}

/// An extra ATS field of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub key: String,
    pub value: String,
}

/// A job as the connector reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub code: String,
    pub status: JobStatus,
    pub raw_status: String,
    pub title: String,
    pub locations: Vec<String>,
    pub description: String,
    pub assigned_users: Vec<AtsUser>,
    pub updated_at: Option<String>,
    pub extra: Vec<Field>,
}

/// One page of a job listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    pub next_cursor: Option<String>,
}

/// A hiring stage in the ATS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub id: String,
    pub name: String,
    pub position: u32,
    pub job_code: Option<String>,
}

/// A file sent with a candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub file_name: String,
    pub content_type: String,
    pub content: Vec<u8>,
}

/// An answer to an application question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub question: String,
    pub answer: String,
}

/// A candidate to push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: Option<String>,
    pub resume: Option<Attachment>,
    /// A short-lived URL at which the host serves `resume` (0.2.0 and
    /// later; not passed to 0.1.0 connectors).
    pub resume_url: Option<String>,
    pub source: Option<String>,
    pub links: Vec<String>,
    pub answers: Vec<Answer>,
}

/// A candidate and the job to apply to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PushRequest {
    pub job_code: String,
    pub candidate: Candidate,
    pub stage_id: Option<String>,
    pub idempotency_key: String,
}

/// The ATS's ids of a pushed candidate and application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateRef {
    pub candidate_id: String,
    pub application_id: String,
}

/// The result of a push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pushed {
    pub ref_: CandidateRef,
    pub existing: bool,
}

/// Where to move an application (`move-application`, 0.2.0 and later).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoveRequest {
    pub ref_: CandidateRef,
    pub stage_id: String,
    pub job_code: String,
}

/// An application's state, normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ApplicationState {
    Active,
    Rejected,
    Hired,
    Withdrawn,
    Other(String),
}

/// The ATS's current view of a pushed candidate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateStatus {
    pub ref_: CandidateRef,
    pub state: ApplicationState,
    pub stage_id: Option<String>,
    pub stage_name: Option<String>,
    pub updated_at: Option<String>,
}

/// A rate-limit answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    pub retry_after_ms: Option<u64>,
    pub message: String,
}

/// A connector's error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConnectorError {
    InvalidConfig(String),
    Unauthorized(String),
    RateLimited(RateLimit),
    NotFound(String),
    Transient(String),
    Permanent(String),
    Unsupported(String),
}

/// The kind of a [`ConnectorError`], for matching and counting without
/// comparing strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConnectorErrorKind {
    InvalidConfig,
    Unauthorized,
    RateLimited,
    NotFound,
    Transient,
    Permanent,
    Unsupported,
}

impl ConnectorErrorKind {
    /// The kind's name as written in WIT (`rate-limited`).
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorErrorKind::InvalidConfig => "invalid-config",
            ConnectorErrorKind::Unauthorized => "unauthorized",
            ConnectorErrorKind::RateLimited => "rate-limited",
            ConnectorErrorKind::NotFound => "not-found",
            ConnectorErrorKind::Transient => "transient",
            ConnectorErrorKind::Permanent => "permanent",
            ConnectorErrorKind::Unsupported => "unsupported",
        }
    }
}

impl std::fmt::Display for ConnectorErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for ConnectorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary())
    }
}

impl std::error::Error for ConnectorError {}

/// A setting's value as the host holds it.
#[derive(Clone)]
pub enum SettingInput {
    /// Text, URL and choice settings: passed to the plugin as they are.
    Text(String),
    /// Secret settings: the plugin gets a [`SecretRef`] naming the key.
    Secret(SecretString),
}

impl std::fmt::Debug for SettingInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingInput::Text(t) => f.debug_tuple("Text").field(t).finish(),
            SettingInput::Secret(_) => f.write_str("Secret(<redacted>)"),
        }
    }
}

impl Capability {
    /// The capability's name as written in WIT (`candidate-push`).
    pub fn wit_name(&self) -> &'static str {
        match self {
            Capability::Stages => "stages",
            Capability::CandidatePush => "candidate-push",
            Capability::CandidateStatus => "candidate-status",
            Capability::Webhooks => "webhooks",
            Capability::MoveApplication => "move-application",
            Capability::ApplicationAnswers => "application-answers",
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
    /// The error's kind.
    pub fn error_kind(&self) -> ConnectorErrorKind {
        match self {
            ConnectorError::InvalidConfig(_) => ConnectorErrorKind::InvalidConfig,
            ConnectorError::Unauthorized(_) => ConnectorErrorKind::Unauthorized,
            ConnectorError::RateLimited(_) => ConnectorErrorKind::RateLimited,
            ConnectorError::NotFound(_) => ConnectorErrorKind::NotFound,
            ConnectorError::Transient(_) => ConnectorErrorKind::Transient,
            ConnectorError::Permanent(_) => ConnectorErrorKind::Permanent,
            ConnectorError::Unsupported(_) => ConnectorErrorKind::Unsupported,
        }
    }

    /// A short, stable name of the error's kind, used in metrics and logs.
    pub fn kind(&self) -> &'static str {
        self.error_kind().as_str()
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

    /// The connector's message, for the runtime to cap and escape.
    pub fn message_mut(&mut self) -> &mut String {
        match self {
            ConnectorError::InvalidConfig(m)
            | ConnectorError::Unauthorized(m)
            | ConnectorError::NotFound(m)
            | ConnectorError::Transient(m)
            | ConnectorError::Permanent(m)
            | ConnectorError::Unsupported(m) => m,
            ConnectorError::RateLimited(r) => &mut r.message,
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
