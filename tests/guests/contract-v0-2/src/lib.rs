//! A connector for contract `atsbridge:connector@0.2.0`, built from
//! `wit/v0.2.0` with wit-bindgen directly (the SDK is on 0.1.0).
//!
//! Settings: `base-url` (url) and `api-key` (secret). The calls that reach
//! the ATS talk to a small line-based test API, so the tests can see what
//! the host passed through the 0.2.0 bindings:
//! - `check`: `GET /me` with the key in `X-Api-Key`; 401 is `unauthorized`.
//! - `push-candidate`: `POST /candidates` whose body lists, one per line,
//!   the job code, idempotency key, stage, résumé URL and answers; the ids
//!   come back in the body as `<candidate-id> <application-id>`.
//! - `move-application`: `POST /applications/<id>/move` with the stage id
//!   as the body; 404 is `not-found`.
//!
//! - with the optional text setting `auth-template`, every request carries
//!   the key in `Authorization`, wrapped by that header value template (for
//!   example `Token token={secret}`), instead of `X-Api-Key`.
//! - `list-stages` for the job code `echo` sends `GET /echo` and returns
//!   one stage per line of the response body (what a hostile endpoint
//!   echoes back is what the plugin reads; transport errors are in the
//!   error message).
//!
//! `list-jobs`, `list-stages` and `candidate-statuses` answer from fixed
//! data: two jobs on two pages; three stages per job (ids prefixed with the
//! job code) or two account-wide; every ref `active` in stage `s2`.

wit_bindgen::generate!({ path: "../../../wit/v0.2.0", world: "connector" });

use atsbridge::connector::http;
use atsbridge::connector::log;
use atsbridge::connector::types::{
    ApplicationState, CandidateRef, CandidateStatus, Capability, ConnectorError, ConnectorInfo, Job, JobPage,
    JobStatus, MoveRequest, PushRequest, Pushed, SecretRef, Setting, SettingKind, SettingSpec, SettingValue, Stage,
};
use exports::atsbridge::connector::plugin::Guest;

struct ContractV02;

fn setting(config: &[Setting], key: &str) -> Option<SettingValue> {
    config.iter().find(|s| s.key == key).map(|s| s.value.clone())
}

/// Sends one request to the test API with the key attached by the host.
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
        auth: Some(http::Auth::Header(match setting(config, "auth-template") {
            Some(SettingValue::Text(template)) => http::HeaderAuth {
                name: "Authorization".to_string(),
                value: http::Credential::Secret(SecretRef { key: key.key }),
                value_template: Some(template),
            },
            _ => http::HeaderAuth {
                name: "X-Api-Key".to_string(),
                value: http::Credential::Secret(SecretRef { key: key.key }),
                value_template: None,
            },
        })),
        timeout_ms: Some(5_000),
    };
    let response = http::send(&request).map_err(|e| match e {
        http::HttpError::InvalidRequest(m) => ConnectorError::InvalidConfig(m),
        other => ConnectorError::Transient(format!("{other:?}")),
    })?;
    match response.status {
        200..=299 => Ok(response),
        401 | 403 => Err(ConnectorError::Unauthorized(format!("status {}", response.status))),
        404 => Err(ConnectorError::NotFound(String::from_utf8_lossy(&response.body).into_owned())),
        s => Err(ConnectorError::Permanent(format!("status {s}"))),
    }
}

fn job(code: &str, status: JobStatus, raw: &str) -> Job {
    Job {
        code: code.to_string(),
        status,
        raw_status: raw.to_string(),
        title: format!("Engineer {code}"),
        locations: vec!["Berlin".to_string()],
        description: "<p>Build things.</p>".to_string(),
        assigned_users: vec![],
        updated_at: Some("2026-11-01T10:00:00Z".to_string()),
        extra: vec![],
    }
}

fn stage(id: String, name: &str, position: u32, job_code: Option<String>) -> Stage {
    Stage { id, name: name.to_string(), position, job_code }
}

impl Guest for ContractV02 {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "Contract 0.2".to_string(),
            version: "0.2.0".to_string(),
            vendor: "atsbridge tests".to_string(),
            capabilities: vec![
                Capability::Stages,
                Capability::CandidatePush,
                Capability::CandidateStatus,
                Capability::MoveApplication,
                Capability::ApplicationAnswers,
            ],
            config_schema: vec![
                SettingSpec {
                    key: "base-url".to_string(),
                    label: "Base URL".to_string(),
                    kind: SettingKind::Url,
                    required: true,
                    help: "The test API's address.".to_string(),
                    choices: vec![],
                    default_value: None,
                },
                SettingSpec {
                    key: "api-key".to_string(),
                    label: "API key".to_string(),
                    kind: SettingKind::Secret,
                    required: true,
                    help: "The test API's key.".to_string(),
                    choices: vec![],
                    default_value: None,
                },
                SettingSpec {
                    key: "auth-template".to_string(),
                    label: "Authorization template".to_string(),
                    kind: SettingKind::Text,
                    required: false,
                    help: "Send the key in Authorization, wrapped by this template.".to_string(),
                    choices: vec![],
                    default_value: None,
                },
            ],
        }
    }

    fn check(config: Vec<Setting>) -> Result<(), ConnectorError> {
        log::log(log::Level::Info, "checking the connection");
        send(&config, http::Method::Get, "/me", None).map(drop)
    }

    fn list_jobs(_: Vec<Setting>, cursor: Option<String>, _: Option<String>) -> Result<JobPage, ConnectorError> {
        match cursor.as_deref() {
            None => Ok(JobPage { jobs: vec![job("J1", JobStatus::Open, "live")], next_cursor: Some("2".to_string()) }),
            Some("2") => Ok(JobPage { jobs: vec![job("J2", JobStatus::Closed, "archived")], next_cursor: None }),
            Some(other) => Err(ConnectorError::InvalidConfig(format!("unknown cursor {other}"))),
        }
    }

    fn list_stages(config: Vec<Setting>, job_code: Option<String>) -> Result<Vec<Stage>, ConnectorError> {
        if job_code.as_deref() == Some("echo") {
            let response = send(&config, http::Method::Get, "/echo", None)?;
            let text = String::from_utf8_lossy(&response.body).into_owned();
            return Ok(text.lines().enumerate().map(|(i, l)| stage(i.to_string(), l, i as u32, None)).collect());
        }
        Ok(match job_code {
            Some(code) => vec![
                stage(format!("{code}-s1"), "Applied", 0, Some(code.clone())),
                stage(format!("{code}-s2"), "Interview", 1, Some(code.clone())),
                stage(format!("{code}-s3"), "Offer", 2, Some(code)),
            ],
            None => vec![stage("s1".to_string(), "Applied", 0, None), stage("s2".to_string(), "Interview", 1, None)],
        })
    }

    fn push_candidate(config: Vec<Setting>, request: PushRequest) -> Result<Pushed, ConnectorError> {
        let c = &request.candidate;
        let mut body = format!(
            "job={}\nkey={}\nstage={}\nemail={}\nresume-url={}\n",
            request.job_code,
            request.idempotency_key,
            request.stage_id.as_deref().unwrap_or("-"),
            c.email,
            c.resume_url.as_deref().unwrap_or("-"),
        );
        for a in &c.answers {
            body.push_str(&format!("answer={}={}\n", a.question, a.answer));
        }
        let response = send(&config, http::Method::Post, "/candidates", Some(body))?;
        let text = String::from_utf8_lossy(&response.body).into_owned();
        let mut ids = text.split_whitespace();
        match (ids.next(), ids.next()) {
            (Some(candidate), Some(application)) => Ok(Pushed {
                ref_: CandidateRef { candidate_id: candidate.to_string(), application_id: application.to_string() },
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
                stage_id: Some("s2".to_string()),
                stage_name: Some("Interview".to_string()),
                updated_at: Some("2026-11-02T09:30:00Z".to_string()),
            })
            .collect())
    }

    fn move_application(config: Vec<Setting>, request: MoveRequest) -> Result<(), ConnectorError> {
        let path = format!("/applications/{}/move", request.ref_.application_id);
        let body = format!("job={}\nstage={}\n", request.job_code, request.stage_id);
        send(&config, http::Method::Post, &path, Some(body)).map(drop)
    }
}

export!(ContractV02);
