//! A connector that does everything right, for the host's integration tests.
//!
//! Built with the `careless` feature (as `tests/guests/careless` builds it),
//! it is a careless connector for the conformance kit's tests: `list-jobs`
//! takes an HTTP 503 (the ATS is down) or 429 (slow down) for "no jobs" and
//! answers an empty, final page, so a sync would close every open position.
//! The kit must fail it on `transient` and the rate-limit checks.
//!
//! It speaks to the small JSON API the host tests serve on localhost:
//!
//! | call | request | response |
//! |---|---|---|
//! | `check` | `GET {base-url}/me` | any 2xx |
//! | `list-jobs` | `GET {base-url}/jobs?page=N[&updated_after=T]` | `{"jobs": [...], "next_page": 2 \| null}` |
//! | `list-stages` | `GET {base-url}/stages[?job=CODE]` | `{"stages": [{"id", "name"}]}` |
//! | `push-candidate` | `POST {base-url}/candidates` + `Idempotency-Key` | `{"candidate_id", "application_id", "existing"}` |
//! | `candidate-statuses` | `POST {base-url}/statuses` `{"refs": [...]}` | `{"statuses": [...]}` |
//!
//! Every request uses HTTP Basic with the `api-key` secret as the user name
//! and no password; error statuses map through
//! `Response::error_for_status`. Each call but `info` logs one info line.

use atsbridge_sdk::prelude::*;
use serde::{Deserialize, Serialize};

struct WellBehaved;

/// Builds an authenticated request to `{base-url}{path}`.
fn api(config: &Config, method: http::Method, path: &str) -> Result<Request, ConnectorError> {
    let base = config.require_url("base-url")?;
    Ok(Request::new(method, format!("{base}{path}")).basic(config.secret("api-key")?, None))
}

#[derive(Deserialize)]
struct JobsBody {
    jobs: Vec<ApiJob>,
    next_page: Option<u32>,
}

#[derive(Deserialize)]
struct ApiJob {
    id: String,
    title: String,
    status: String,
    #[serde(default)]
    locations: Vec<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    users: Vec<ApiUser>,
    updated_at: Option<String>,
    department: Option<String>,
}

#[derive(Deserialize)]
struct ApiUser {
    id: String,
    name: String,
    email: Option<String>,
}

#[derive(Deserialize)]
struct StagesBody {
    stages: Vec<ApiStage>,
}

#[derive(Deserialize)]
struct ApiStage {
    id: String,
    name: String,
}

#[derive(Serialize)]
struct NewCandidate<'a> {
    job_code: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    email: &'a str,
    phone: Option<&'a str>,
    source: Option<&'a str>,
    links: &'a [String],
    answers: Vec<NewAnswer<'a>>,
    stage_id: Option<&'a str>,
    resume: Option<NewResume<'a>>,
}

#[derive(Serialize)]
struct NewAnswer<'a> {
    question: &'a str,
    answer: &'a str,
}

#[derive(Serialize)]
struct NewResume<'a> {
    file_name: &'a str,
    content_type: &'a str,
    /// Standard base64 with padding.
    content: String,
}

#[derive(Deserialize)]
struct PushedBody {
    candidate_id: String,
    application_id: String,
    #[serde(default)]
    existing: bool,
}

#[derive(Serialize, Deserialize)]
struct ApiRef {
    candidate_id: String,
    application_id: String,
}

#[derive(Serialize)]
struct StatusesRequest {
    refs: Vec<ApiRef>,
}

#[derive(Deserialize)]
struct StatusesBody {
    statuses: Vec<ApiStatus>,
}

#[derive(Deserialize)]
struct ApiStatus {
    candidate_id: String,
    application_id: String,
    state: String,
    stage_id: Option<String>,
    stage_name: Option<String>,
    updated_at: Option<String>,
}

impl From<ApiJob> for Job {
    fn from(job: ApiJob) -> Self {
        Job {
            code: job.id,
            status: JobStatus::from_common(&job.status),
            raw_status: job.status,
            title: job.title,
            locations: job.locations,
            description: job.description,
            assigned_users: job.users.into_iter().map(|u| AtsUser::new(u.id, u.name, u.email)).collect(),
            updated_at: job.updated_at,
            extra: job.department.into_iter().map(|d| Field::new("department", d)).collect(),
        }
    }
}

impl Connector for WellBehaved {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: if cfg!(feature = "careless") { "Careless" } else { "Well Behaved" }.into(),
            version: "1.2.3".into(),
            vendor: "atsbridge tests".into(),
            capabilities: vec![Capability::Stages, Capability::CandidatePush, Capability::CandidateStatus],
            config_schema: vec![
                SettingSpec::url("base-url", "Base URL")
                    .required()
                    .help("Where the test API listens, e.g. http://127.0.0.1:8080."),
                SettingSpec::secret("api-key", "API key").required().help("Any key the test API accepts."),
                SettingSpec::text("account", "Account").help("The account to sync.").default_value("main"),
                SettingSpec::choice("region", "Region", &["us", "eu"]).help("Where the account is hosted."),
            ],
        }
    }

    fn check(config: &Config) -> Result<(), ConnectorError> {
        let account = config.text_or("account", "main");
        let region = config.text_or("region", "unset");
        log::info(format!("checking account {account} (region {region})"));
        api(config, http::Method::Get, "/me")?.send()?.error_for_status()?;
        Ok(())
    }

    fn list_jobs(
        config: &Config,
        cursor: Option<String>,
        changed_since: Option<String>,
    ) -> Result<JobPage, ConnectorError> {
        let page = paging::page_number(cursor.as_deref())?;
        log::info(format!("listing page {page}"));
        // The clock-reader build's difference: the wall clock read while
        // listing, so the host must never replay this call.
        if cfg!(feature = "reads-clock") {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            log::debug(format!("listing at {}", now.as_secs()));
        }
        let response = api(config, http::Method::Get, "/jobs")?
            .query(&[("page", page.to_string())])
            .query_opt("updated_after", changed_since.as_deref())
            .send()?;
        // The careless build's mistake: an outage or a rate limit read as "no jobs".
        if cfg!(feature = "careless") && matches!(response.status, 429 | 503) {
            return Ok(JobPage { jobs: Vec::new(), next_cursor: None });
        }
        let body: JobsBody = response.error_for_status()?.json()?;
        Ok(JobPage {
            jobs: body.jobs.into_iter().map(Job::from).collect(),
            next_cursor: body.next_page.map(|p| PageCursor::Page(p).encode()),
        })
    }

    fn list_stages(config: &Config, job_code: Option<String>) -> Result<Vec<Stage>, ConnectorError> {
        match &job_code {
            Some(code) => log::info(format!("listing stages of job {code}")),
            None => log::info("listing stages"),
        }
        let body: StagesBody = api(config, http::Method::Get, "/stages")?
            .query_opt("job", job_code.as_deref())
            .send()?
            .error_for_status()?
            .json()?;
        Ok(body
            .stages
            .into_iter()
            .zip(0u32..)
            .map(|(s, position)| Stage { id: s.id, name: s.name, position, job_code: job_code.clone() })
            .collect())
    }

    fn push_candidate(config: &Config, push: PushRequest) -> Result<Pushed, ConnectorError> {
        log::info(format!("pushing a candidate to job {}", push.job_code));
        let c = &push.candidate;
        let body = NewCandidate {
            job_code: &push.job_code,
            first_name: &c.first_name,
            last_name: &c.last_name,
            email: &c.email,
            phone: c.phone.as_deref(),
            source: c.source.as_deref(),
            links: &c.links,
            answers: c.answers.iter().map(|a| NewAnswer { question: &a.question, answer: &a.answer }).collect(),
            stage_id: push.stage_id.as_deref(),
            resume: c.resume.as_ref().map(|r| NewResume {
                file_name: &r.file_name,
                content_type: &r.content_type,
                content: r.content_base64(),
            }),
        };
        let pushed: PushedBody = api(config, http::Method::Post, "/candidates")?
            .header("Idempotency-Key", push.idempotency_key.as_str())
            .json(&body)
            .send()?
            .error_for_status()?
            .json()?;
        Ok(Pushed {
            ref_: CandidateRef { candidate_id: pushed.candidate_id, application_id: pushed.application_id },
            existing: pushed.existing,
        })
    }

    fn candidate_statuses(config: &Config, refs: Vec<CandidateRef>) -> Result<Vec<CandidateStatus>, ConnectorError> {
        log::info(format!("reading {} candidate statuses", refs.len()));
        let body = StatusesRequest {
            refs: refs
                .into_iter()
                .map(|r| ApiRef { candidate_id: r.candidate_id, application_id: r.application_id })
                .collect(),
        };
        let statuses: StatusesBody =
            api(config, http::Method::Post, "/statuses")?.json(&body).send()?.error_for_status()?.json()?;
        Ok(statuses
            .statuses
            .into_iter()
            .map(|s| CandidateStatus {
                ref_: CandidateRef { candidate_id: s.candidate_id, application_id: s.application_id },
                state: ApplicationState::from_common(&s.state),
                stage_id: s.stage_id,
                stage_name: s.stage_name,
                updated_at: s.updated_at,
            })
            .collect())
    }
}

atsbridge_sdk::export_connector!(WellBehaved);
