//! A connector for contract `atsbridge:connector@0.1.0`, built from
//! `wit/v0.1.0` with wit-bindgen directly, so it stays on 0.1.0 whatever
//! contract the SDK binds: the host must keep serving it.
//!
//! Settings: `base-url` (url) and `api-key` (secret). It talks to the same
//! line-based test API as the 0.2.0 test guest:
//! - `check`: `GET /me` with the key in `X-Api-Key`; 401 is `unauthorized`.
//! - `push-candidate`: `POST /candidates` with the job code and answers one
//!   per line; the ids come back as `<candidate-id> <application-id>`.
//! - `list-jobs` answers one fixed job; `candidate-statuses` answers every
//!   ref `active` in stage `s1`.

wit_bindgen::generate!({ path: "../../../wit/v0.1.0", world: "connector" });

use atsbridge::connector::http;
use atsbridge::connector::types::{
    ApplicationState, CandidateRef, CandidateStatus, Capability, ConnectorError, ConnectorInfo, Job, JobPage,
    JobStatus, PushRequest, Pushed, SecretRef, Setting, SettingKind, SettingSpec, SettingValue, Stage,
};
use exports::atsbridge::connector::plugin::Guest;

struct ContractV01;

fn setting(config: &[Setting], key: &str) -> Option<SettingValue> {
    config.iter().find(|s| s.key == key).map(|s| s.value.clone())
}

fn send(
    config: &[Setting],
    method: http::Method,
    path: &str,
    body: Option<String>,
) -> Result<http::Response, ConnectorError> {
    let Some(SettingValue::Text(base)) = setting(config, "base-url") else {
        return Err(ConnectorError::InvalidConfig("base-url is missing".to_string()));
    };
    let Some(SettingValue::Secret(key)) = setting(config, "api-key") else {
        return Err(ConnectorError::InvalidConfig("api-key is missing".to_string()));
    };
    let request = http::Request {
        method,
        url: format!("{}{path}", base.trim_end_matches('/')),
        headers: vec![("content-type".to_string(), "text/plain".to_string())],
        body: body.map(String::into_bytes),
        auth: Some(http::Auth::Header(http::HeaderAuth {
            name: "X-Api-Key".to_string(),
            value: http::Credential::Secret(SecretRef { key: key.key }),
        })),
        timeout_ms: Some(5_000),
    };
    let response = http::send(&request).map_err(|e| ConnectorError::Transient(format!("{e:?}")))?;
    match response.status {
        200..=299 => Ok(response),
        401 | 403 => Err(ConnectorError::Unauthorized(format!("status {}", response.status))),
        404 => Err(ConnectorError::NotFound(String::from_utf8_lossy(&response.body).into_owned())),
        s => Err(ConnectorError::Permanent(format!("status {s}"))),
    }
}

fn spec(key: &str, kind: SettingKind) -> SettingSpec {
    SettingSpec {
        key: key.to_string(),
        label: key.to_string(),
        kind,
        required: true,
        help: String::new(),
        choices: vec![],
        default_value: None,
    }
}

impl Guest for ContractV01 {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "Contract 0.1".to_string(),
            version: "0.1.0".to_string(),
            vendor: "atsbridge tests".to_string(),
            capabilities: vec![Capability::CandidatePush, Capability::CandidateStatus],
            config_schema: vec![spec("base-url", SettingKind::Url), spec("api-key", SettingKind::Secret)],
        }
    }

    fn check(config: Vec<Setting>) -> Result<(), ConnectorError> {
        send(&config, http::Method::Get, "/me", None).map(drop)
    }

    fn list_jobs(_: Vec<Setting>, _: Option<String>, _: Option<String>) -> Result<JobPage, ConnectorError> {
        let job = Job {
            code: "J1".to_string(),
            status: JobStatus::Open,
            raw_status: "live".to_string(),
            title: "Engineer J1".to_string(),
            locations: vec![],
            description: String::new(),
            assigned_users: vec![],
            updated_at: None,
            extra: vec![],
        };
        Ok(JobPage { jobs: vec![job], next_cursor: None })
    }

    fn list_stages(_: Vec<Setting>, _: Option<String>) -> Result<Vec<Stage>, ConnectorError> {
        Err(ConnectorError::Unsupported("no stages".to_string()))
    }

    fn push_candidate(config: Vec<Setting>, request: PushRequest) -> Result<Pushed, ConnectorError> {
        let mut body = format!("job={}\nkey={}\n", request.job_code, request.idempotency_key);
        for a in &request.candidate.answers {
            body.push_str(&format!("answer={}={}\n", a.question, a.answer));
        }
        let response = send(&config, http::Method::Post, "/candidates", Some(body))?;
        let text = String::from_utf8_lossy(&response.body).into_owned();
        let mut ids = text.split_whitespace();
        match (ids.next(), ids.next()) {
            (Some(c), Some(a)) => Ok(Pushed {
                ref_: CandidateRef { candidate_id: c.to_string(), application_id: a.to_string() },
                existing: false,
            }),
            _ => Err(ConnectorError::Permanent("the ATS answered without ids".to_string())),
        }
    }

    fn candidate_statuses(_: Vec<Setting>, refs: Vec<CandidateRef>) -> Result<Vec<CandidateStatus>, ConnectorError> {
        Ok(refs
            .into_iter()
            .map(|r| CandidateStatus {
                ref_: r,
                state: ApplicationState::Active,
                stage_id: Some("s1".to_string()),
                stage_name: None,
                updated_at: None,
            })
            .collect())
    }
}

export!(ContractV01);
