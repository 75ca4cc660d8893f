//! The data of the `atsbridge:connector` contract, under Rust names, plus a
//! few constructors that keep connector code short.
//!
//! These are the types `wit-bindgen` generates from `types.wit`; their
//! fields and variants are documented there and below. Records are plain
//! structs with public fields, variants are enums.

use base64::Engine as _;

pub use crate::bindings::atsbridge::connector::types::{
    Answer, ApplicationState, AtsUser, Attachment, Candidate, CandidateRef, CandidateStatus, Capability,
    ConnectorError, ConnectorInfo, Field, Job, JobPage, JobStatus, MoveRequest, PushRequest, Pushed, RateLimit,
    SecretRef, Setting, SettingKind, SettingSpec, SettingValue, Stage,
};

impl SettingSpec {
    /// An optional setting of `kind` with no help text, choices or default.
    pub fn new(key: impl Into<String>, label: impl Into<String>, kind: SettingKind) -> Self {
        SettingSpec {
            key: key.into(),
            label: label.into(),
            kind,
            required: false,
            help: String::new(),
            choices: Vec::new(),
            default_value: None,
        }
    }

    /// An optional free-text setting.
    pub fn text(key: impl Into<String>, label: impl Into<String>) -> Self {
        Self::new(key, label, SettingKind::Text)
    }

    /// An optional secret setting. The plugin only ever receives a
    /// [`SecretRef`] naming it.
    pub fn secret(key: impl Into<String>, label: impl Into<String>) -> Self {
        Self::new(key, label, SettingKind::Secret)
    }

    /// An optional absolute http(s) URL setting.
    pub fn url(key: impl Into<String>, label: impl Into<String>) -> Self {
        Self::new(key, label, SettingKind::Url)
    }

    /// An optional setting that takes one of `choices`.
    pub fn choice(key: impl Into<String>, label: impl Into<String>, choices: &[&str]) -> Self {
        let mut spec = Self::new(key, label, SettingKind::Choice);
        spec.choices = choices.iter().map(|c| c.to_string()).collect();
        spec
    }

    /// Marks the setting as required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Sets the help text: where the user finds the value.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = help.into();
        self
    }

    /// Sets the value used when the user gives none (never for secrets).
    pub fn default_value(mut self, value: impl Into<String>) -> Self {
        self.default_value = Some(value.into());
        self
    }
}

impl Setting {
    /// A text, url or choice setting (useful in tests).
    pub fn text(key: impl Into<String>, value: impl Into<String>) -> Self {
        Setting { key: key.into(), value: SettingValue::Text(value.into()) }
    }

    /// A secret setting, as the plugin sees it: a reference to itself.
    pub fn secret(key: impl Into<String>) -> Self {
        let key = key.into();
        Setting { value: SettingValue::Secret(SecretRef { key: key.clone() }), key }
    }
}

impl SecretRef {
    /// A reference to the secret setting `key` of the calling connection.
    pub fn new(key: impl Into<String>) -> Self {
        SecretRef { key: key.into() }
    }
}

impl Field {
    /// A key/value pair for [`Job::extra`].
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Field { key: key.into(), value: value.into() }
    }
}

impl AtsUser {
    /// A user with an optional e-mail address.
    pub fn new(ats_id: impl Into<String>, name: impl Into<String>, email: Option<String>) -> Self {
        AtsUser { ats_id: ats_id.into(), name: name.into(), email }
    }
}

impl CandidateRef {
    /// The ATS's ids of a candidate and of their application.
    pub fn new(candidate_id: impl Into<String>, application_id: impl Into<String>) -> Self {
        CandidateRef { candidate_id: candidate_id.into(), application_id: application_id.into() }
    }
}

impl CandidateStatus {
    /// The status of a reference the ATS no longer knows (deleted, or out
    /// of the credential's reach): state `other("not-found")` and nothing
    /// else, so one missing candidate does not fail a whole batch.
    pub fn not_found(reference: CandidateRef) -> Self {
        CandidateStatus {
            ref_: reference,
            state: ApplicationState::Other("not-found".to_string()),
            stage_id: None,
            stage_name: None,
            updated_at: None,
        }
    }
}

impl Candidate {
    /// The answer to `question`, compared ignoring ASCII case and
    /// surrounding white space: for connectors that map the host's
    /// questions onto the ATS's own fields.
    pub fn answer(&self, question: &str) -> Option<&str> {
        let question = question.trim();
        self.answers.iter().find(|a| a.question.trim().eq_ignore_ascii_case(question)).map(|a| a.answer.as_str())
    }
}

impl Attachment {
    /// The file's content in standard base64 with padding, as most ATS
    /// upload endpoints want it in JSON bodies.
    pub fn content_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.content)
    }
}

impl JobStatus {
    /// Maps the common spellings of a job status, ignoring case and
    /// separators: `open`, `closed`, `draft` and `on hold` / `on_hold` /
    /// `on-hold` / `onhold`. Anything else becomes [`JobStatus::Other`]
    /// carrying `raw`. Connectors whose ATS uses other words (`published`,
    /// `archived`) map those themselves first.
    pub fn from_common(raw: &str) -> Self {
        match normalize_word(raw).as_str() {
            "open" => JobStatus::Open,
            "closed" => JobStatus::Closed,
            "draft" => JobStatus::Draft,
            "onhold" => JobStatus::OnHold,
            _ => JobStatus::Other(raw.to_string()),
        }
    }
}

impl ApplicationState {
    /// Maps the common spellings `active`, `rejected`, `hired` and
    /// `withdrawn`, ignoring case. Anything else becomes
    /// [`ApplicationState::Other`] carrying `raw`.
    pub fn from_common(raw: &str) -> Self {
        match normalize_word(raw).as_str() {
            "active" => ApplicationState::Active,
            "rejected" => ApplicationState::Rejected,
            "hired" => ApplicationState::Hired,
            "withdrawn" => ApplicationState::Withdrawn,
            _ => ApplicationState::Other(raw.to_string()),
        }
    }
}

/// Lower-case ASCII letters and digits only: `On_Hold` -> `onhold`.
fn normalize_word(raw: &str) -> String {
    raw.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

impl ConnectorError {
    /// The same kind of error with another message, e.g. the vendor's own
    /// wording in place of a generic HTTP status text. A rate limit keeps
    /// its retry-after.
    pub fn with_message(self, message: impl Into<String>) -> ConnectorError {
        let message = message.into();
        match self {
            ConnectorError::RateLimited(limit) => ConnectorError::rate_limited(limit.retry_after_ms, message),
            ConnectorError::Unauthorized(_) => ConnectorError::Unauthorized(message),
            ConnectorError::NotFound(_) => ConnectorError::NotFound(message),
            ConnectorError::Transient(_) => ConnectorError::Transient(message),
            ConnectorError::InvalidConfig(_) => ConnectorError::InvalidConfig(message),
            ConnectorError::Unsupported(_) => ConnectorError::Unsupported(message),
            ConnectorError::Permanent(_) => ConnectorError::Permanent(message),
        }
    }

    /// The error's message (for [`ConnectorError::RateLimited`], the rate
    /// limit's message).
    pub fn message(&self) -> &str {
        match self {
            ConnectorError::InvalidConfig(m)
            | ConnectorError::Unauthorized(m)
            | ConnectorError::NotFound(m)
            | ConnectorError::Transient(m)
            | ConnectorError::Permanent(m)
            | ConnectorError::Unsupported(m) => m,
            ConnectorError::RateLimited(limit) => &limit.message,
        }
    }

    /// The contract's name for the error's case, e.g. `"not-found"`.
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

    /// A [`ConnectorError::RateLimited`] asking the host to wait
    /// `retry_after_ms` milliseconds when known.
    pub fn rate_limited(retry_after_ms: Option<u64>, message: impl Into<String>) -> Self {
        ConnectorError::RateLimited(RateLimit { retry_after_ms, message: message.into() })
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn with_message_keeps_the_kind_and_the_retry_after() {
        let e = ConnectorError::rate_limited(Some(3000), "HTTP 429").with_message("Greenhouse: slow down");
        assert_eq!((e.kind(), e.message()), ("rate-limited", "Greenhouse: slow down"));
        assert!(matches!(e, ConnectorError::RateLimited(RateLimit { retry_after_ms: Some(3000), .. })));
        let e = ConnectorError::NotFound("HTTP 404".into()).with_message("no such job");
        assert_eq!((e.kind(), e.message()), ("not-found", "no such job"));
    }

    use super::*;

    #[test]
    fn setting_spec_builder_fills_every_field() {
        let spec = SettingSpec::choice("region", "Region", &["us", "eu"])
            .required()
            .help("Where your account lives.")
            .default_value("us");
        assert_eq!(spec.key, "region");
        assert_eq!(spec.kind, SettingKind::Choice);
        assert!(spec.required);
        assert_eq!(spec.choices, vec!["us".to_string(), "eu".to_string()]);
        assert_eq!(spec.default_value.as_deref(), Some("us"));
        assert!(!SettingSpec::secret("api-key", "API key").required);
    }

    #[test]
    fn job_status_maps_common_spellings_and_keeps_the_rest() {
        assert_eq!(JobStatus::from_common("OPEN"), JobStatus::Open);
        assert_eq!(JobStatus::from_common("on_hold"), JobStatus::OnHold);
        assert_eq!(JobStatus::from_common("On Hold"), JobStatus::OnHold);
        assert_eq!(JobStatus::from_common("closed"), JobStatus::Closed);
        assert_eq!(JobStatus::from_common("published"), JobStatus::Other("published".into()));
    }

    #[test]
    fn application_state_maps_common_spellings() {
        assert_eq!(ApplicationState::from_common("Hired"), ApplicationState::Hired);
        assert_eq!(ApplicationState::from_common("converted"), ApplicationState::Other("converted".into()));
    }

    #[test]
    fn attachment_encodes_base64_with_padding() {
        let a = Attachment { file_name: "cv.txt".into(), content_type: "text/plain".into(), content: b"hi".to_vec() };
        assert_eq!(a.content_base64(), "aGk=");
    }

    #[test]
    fn error_kind_and_message() {
        let e = ConnectorError::rate_limited(Some(1000), "slow down");
        assert_eq!(e.kind(), "rate-limited");
        assert_eq!(e.message(), "slow down");
        assert_eq!(ConnectorError::NotFound("job 7".into()).message(), "job 7");
    }

    #[test]
    fn missing_candidates_have_a_not_found_status() {
        let s = CandidateStatus::not_found(CandidateRef::new("c", "a"));
        assert_eq!((s.ref_, s.state), (CandidateRef::new("c", "a"), ApplicationState::Other("not-found".into())));
        assert!(s.stage_id.is_none() && s.stage_name.is_none() && s.updated_at.is_none());
    }

    #[test]
    fn answers_are_found_by_question() {
        let c = Candidate {
            first_name: "Ada".into(),
            last_name: "L".into(),
            email: "ada@example.com".into(),
            phone: None,
            resume: None,
            resume_url: None,
            source: None,
            links: vec![],
            answers: vec![Answer { question: "Notice period".into(), answer: "4 weeks".into() }],
        };
        assert_eq!(c.answer(" notice PERIOD "), Some("4 weeks"));
        assert_eq!(c.answer("Salary"), None);
    }

    #[test]
    fn secret_setting_refers_to_itself() {
        let s = Setting::secret("api-key");
        assert_eq!(s.value, SettingValue::Secret(SecretRef::new("api-key")));
    }
}
