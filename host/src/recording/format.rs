//! The recording file format, version 1: JSON lines.
//!
//! The first line is a [`Header`]; then, in the order they happened, one
//! line per HTTP exchange the plugin made through the host's `http` import
//! ([`Exchange`]), one per request the host made to an OAuth token endpoint
//! on the plugin's behalf ([`TokenExchange`]) and one per export call of the
//! run ([`ExportCall`]); the last line is an [`End`]. Every line is one JSON
//! object with a `kind` (`header`, `http`, `token`, `export`, `end`). `docs/connector-guide.md` ("Testing
//! with replay") documents the fields.
//!
//! What is recorded is what the plugin saw: response bodies, headers and
//! error texts after the host removed secret values from them. What the
//! host added to a request (the `Authorization` header or a named auth
//! header) is recorded as the header's name with [`HOST_ATTACHED`] as its
//! value, and the `auth` the plugin asked for names secret settings by key
//! only. No secret value is ever written.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::contract::{CandidateRef, CandidateStatus, JobPage, Stage};
use crate::runtime::bindings::{Auth, Credential, HttpError, HttpRequest, HttpResponse, Method};

/// The `format` field of every recording's header.
pub const FORMAT_NAME: &str = "atsbridge-recording";
/// The format version this host writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The value recorded for every header the host attached to a request.
pub const HOST_ATTACHED: &str = "[attached by the host]";
/// The value recorded for every token a token endpoint issued.
pub const TOKEN_ISSUED: &str = "[token issued to the host]";

/// One line of a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Entry {
    Header(Header),
    Http(Exchange),
    Token(TokenExchange),
    Export(ExportCall),
    End(End),
}

/// What was recorded: the run, the plugin and the settings it was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Always [`FORMAT_NAME`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written by this host.
    pub version: u32,
    pub connection: String,
    /// The run's sequence number, when the run started.
    pub run: Option<u64>,
    pub plugin: String,
    pub plugin_version: String,
    /// When recording started, Unix seconds.
    pub started_unix: i64,
    /// The settings every call received: text values as they are, secret
    /// settings by key only.
    pub settings: Vec<RecordedSetting>,
}

/// One setting as the plugin received it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordedSetting {
    /// A text, URL or choice setting and its value.
    Text { key: String, value: String },
    /// A secret setting: the plugin gets a reference, never the value.
    Secret { key: String },
}

/// One request the plugin made and what it got back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// Position among all entries, from 1.
    pub seq: u64,
    pub request: RecordedRequest,
    pub outcome: RecordedOutcome,
}

/// A request as the plugin made it, plus markers for what the host added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// Upper case: `GET`, `POST`, ...
    pub method: String,
    pub url: String,
    /// The headers the plugin set.
    pub headers: Vec<(String, String)>,
    pub body: Option<Body>,
    /// The authentication the plugin asked the host for.
    pub auth: Option<RecordedAuth>,
    /// Headers the host attached, each valued [`HOST_ATTACHED`].
    pub host_headers: Vec<(String, String)>,
}

/// A body: UTF-8 text as it is, anything else in base64.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Body {
    Text(String),
    Base64(String),
}

impl Body {
    pub fn of(bytes: &[u8]) -> Body {
        match std::str::from_utf8(bytes) {
            Ok(text) => Body::Text(text.to_string()),
            Err(_) => Body::Base64(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }

    /// The bytes, or `None` for base64 that does not decode.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        match self {
            Body::Text(t) => Some(t.as_bytes().to_vec()),
            Body::Base64(b) => base64::engine::general_purpose::STANDARD.decode(b).ok(),
        }
    }
}

/// The authentication a request asked for: which kind, and which secret
/// settings by key. Plain credentials are not written (they end up in a
/// header the host attaches).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordedAuth {
    Basic { username: RecordedCredential, password: Option<RecordedCredential> },
    Bearer { credential: RecordedCredential },
    Header { name: String, value: RecordedCredential, value_template: Option<String> },
    ClientCredentials { token_url: String, client_id: RecordedCredential, client_secret: RecordedCredential },
}

/// A credential by where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordedCredential {
    /// Given by the plugin; the value is not recorded.
    Plain,
    /// The secret setting with this key.
    Secret { key: String },
}

/// What a request got: a response or the `http` import's error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordedOutcome {
    Response { status: u16, headers: Vec<(String, String)>, body: Body },
    Error(RecordedHttpError),
}

/// The `http` import's errors, as the plugin saw them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "message", rename_all = "kebab-case")]
pub enum RecordedHttpError {
    Denied(String),
    InvalidRequest(String),
    Timeout,
    TooLarge(u64),
    Transport(String),
    UnknownSecret(String),
    AuthFailed(String),
}

/// One request the host made to an OAuth token endpoint for the plugin (a
/// client-credentials grant), and what it got. The client credentials are
/// never written: the `Authorization` header the host sent is a
/// [`HOST_ATTACHED`] marker, and every token in the answer is
/// [`TOKEN_ISSUED`]. On replay the host answers its own token step from
/// these entries, so a connector that authenticates this way replays with
/// no network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenExchange {
    /// Position among all entries, from 1.
    pub seq: u64,
    /// The token endpoint the plugin named.
    pub token_url: String,
    /// The form sent (`grant_type`, `scope` and the plugin's extra
    /// parameters), values scrubbed.
    pub form: Vec<(String, String)>,
    /// Headers the host attached, each valued [`HOST_ATTACHED`].
    pub host_headers: Vec<(String, String)>,
    pub outcome: TokenOutcome,
}

/// What a token endpoint answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenOutcome {
    /// The endpoint answered: its status and body, every token in it a
    /// [`TOKEN_ISSUED`] marker.
    Response { status: u16, body: Body },
    /// No usable answer: the host's error, scrubbed.
    Error { message: String },
}

/// One export call and its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportCall {
    /// Position among all entries, from 1.
    pub seq: u64,
    pub call: ExportArgs,
    pub outcome: ExportOutcome,
}

/// Which export was called, with its arguments (the settings are in the
/// header: every call gets the same).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "export", rename_all = "kebab-case")]
pub enum ExportArgs {
    ListJobs { cursor: Option<String>, changed_since: Option<String> },
    ListStages { job_code: Option<String> },
    CandidateStatuses { refs: Vec<CandidateRef> },
}

/// What an export answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportOutcome {
    JobPage(JobPage),
    Stages(Vec<Stage>),
    Statuses(Vec<CandidateStatus>),
    /// The call failed: the error's kind (`transient`, `timeout`, ...) and
    /// its text as the host reported it.
    Error {
        kind: String,
        message: String,
    },
}

/// The last line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct End {
    /// Entries not written because the recording reached its size bound
    /// (or because one would have carried a secret); replaying past the cut
    /// finds requests it cannot answer.
    pub truncated: bool,
    pub dropped_entries: u64,
    /// Entries withheld because a secret value was found in them.
    #[serde(default)]
    pub withheld_entries: u64,
    /// How the run ended (`succeeded`, `failed: ...`).
    pub outcome: String,
}

pub fn method_name(m: Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
    }
}

fn credential(c: &Credential) -> RecordedCredential {
    match c {
        Credential::Plain(_) => RecordedCredential::Plain,
        Credential::Secret(r) => RecordedCredential::Secret { key: r.key.clone() },
    }
}

/// The auth a request asked for, and the header the host attaches for it.
fn auth(a: &Auth) -> (RecordedAuth, String) {
    match a {
        Auth::Basic(b) => (
            RecordedAuth::Basic { username: credential(&b.username), password: b.password.as_ref().map(credential) },
            "authorization".into(),
        ),
        Auth::Bearer(c) => (RecordedAuth::Bearer { credential: credential(c) }, "authorization".into()),
        Auth::Header(h) => (
            RecordedAuth::Header {
                name: h.name.clone(),
                value: credential(&h.value),
                value_template: h.value_template.clone(),
            },
            h.name.to_ascii_lowercase(),
        ),
        Auth::ClientCredentials(cc) => (
            RecordedAuth::ClientCredentials {
                token_url: cc.token_url.clone(),
                client_id: credential(&cc.client_id),
                client_secret: credential(&cc.client_secret),
            },
            "authorization".into(),
        ),
    }
}

impl RecordedRequest {
    /// The plugin's request, with the host's auth header as a marker.
    pub fn of(req: &HttpRequest) -> Self {
        let (auth, host_headers) = match &req.auth {
            Some(a) => {
                let (recorded, header) = auth(a);
                (Some(recorded), vec![(header, HOST_ATTACHED.to_string())])
            }
            None => (None, Vec::new()),
        };
        RecordedRequest {
            method: method_name(req.method).to_string(),
            url: req.url.clone(),
            headers: req.headers.clone(),
            body: req.body.as_deref().map(Body::of),
            auth,
            host_headers,
        }
    }
}

impl RecordedOutcome {
    pub fn of(result: &Result<HttpResponse, HttpError>) -> Self {
        match result {
            Ok(r) => {
                RecordedOutcome::Response { status: r.status, headers: r.headers.clone(), body: Body::of(&r.body) }
            }
            Err(e) => RecordedOutcome::Error(match e {
                HttpError::Denied(m) => RecordedHttpError::Denied(m.clone()),
                HttpError::InvalidRequest(m) => RecordedHttpError::InvalidRequest(m.clone()),
                HttpError::Timeout => RecordedHttpError::Timeout,
                HttpError::TooLarge(n) => RecordedHttpError::TooLarge(*n),
                HttpError::Transport(m) => RecordedHttpError::Transport(m.clone()),
                HttpError::UnknownSecret(m) => RecordedHttpError::UnknownSecret(m.clone()),
                HttpError::AuthFailed(m) => RecordedHttpError::AuthFailed(m.clone()),
            }),
        }
    }

    /// What the plugin is handed back on replay.
    pub fn to_result(&self) -> Result<HttpResponse, HttpError> {
        match self {
            RecordedOutcome::Response { status, headers, body } => Ok(HttpResponse {
                status: *status,
                headers: headers.clone(),
                body: body.bytes().ok_or_else(|| {
                    HttpError::Transport("the recorded response body is not valid base64".to_string())
                })?,
            }),
            RecordedOutcome::Error(e) => Err(match e.clone() {
                RecordedHttpError::Denied(m) => HttpError::Denied(m),
                RecordedHttpError::InvalidRequest(m) => HttpError::InvalidRequest(m),
                RecordedHttpError::Timeout => HttpError::Timeout,
                RecordedHttpError::TooLarge(n) => HttpError::TooLarge(n),
                RecordedHttpError::Transport(m) => HttpError::Transport(m),
                RecordedHttpError::UnknownSecret(m) => HttpError::UnknownSecret(m),
                RecordedHttpError::AuthFailed(m) => HttpError::AuthFailed(m),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_as_tagged_json_lines() {
        let entries = vec![
            Entry::Http(Exchange {
                seq: 1,
                request: RecordedRequest {
                    method: "GET".into(),
                    url: "https://ats.example/jobs?page=2".into(),
                    headers: vec![("accept".into(), "application/json".into())],
                    body: Some(Body::of(&[0xff, 0x00])),
                    auth: Some(RecordedAuth::Bearer { credential: RecordedCredential::Secret { key: "k".into() } }),
                    host_headers: vec![("authorization".into(), HOST_ATTACHED.into())],
                },
                outcome: RecordedOutcome::Error(RecordedHttpError::Timeout),
            }),
            Entry::Export(ExportCall {
                seq: 2,
                call: ExportArgs::ListJobs { cursor: None, changed_since: Some("2026-01-01T00:00:00Z".into()) },
                outcome: ExportOutcome::Error { kind: "timeout".into(), message: "slow".into() },
            }),
        ];
        for entry in entries {
            let line = serde_json::to_string(&entry).unwrap();
            assert!(!line.contains('\n'));
            assert_eq!(serde_json::from_str::<Entry>(&line).unwrap(), entry, "{line}");
        }
        assert_eq!(Body::of(&[0xff, 0x00]).bytes().unwrap(), vec![0xff, 0x00]);
        assert_eq!(Body::of(b"hi"), Body::Text("hi".into()));
    }
}
