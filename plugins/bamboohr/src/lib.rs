//! The atsbridge connector for [BambooHR](https://documentation.bamboohr.com/)'s
//! applicant tracking.
//!
//! # Settings
//!
//! | key | kind | required | meaning |
//! |---|---|---|---|
//! | `company-domain` | text | yes | the company: `acme` for acme.bamboohr.com |
//! | `api-key` | secret | yes | an API key (your name › API Keys); the host sends it as the HTTP Basic user name, password `x` |
//! | `base-url` | url | no | overrides `https://api.bamboohr.com` (proxies, tests); its host must also be granted to the connection |
//!
//! The key's owner needs access to the ATS settings.
//!
//! # Calls
//!
//! | call | BambooHR endpoint (under `/api/gateway.php/{company}/v1`) |
//! |---|---|
//! | `check` | `GET /applicant_tracking/statuses` |
//! | `list-jobs` | `GET /applicant_tracking/jobs?statusGroups=ALL` (one answer, no paging) |
//! | `list-stages` | `GET /applicant_tracking/statuses` |
//! | `push-candidate` | `GET /applicant_tracking/applications?jobId=&searchString=<email>&applicationStatus=ALL`, then `POST /applicant_tracking/application` (multipart), `POST /applicant_tracking/applications/{id}/status` (a requested stage) |
//! | `candidate-statuses` | `GET /applicant_tracking/statuses` once, `GET /applicant_tracking/applications/{id}` per reference |
//! | `move-application` | `POST /applicant_tracking/applications/{id}/status` with the status id |
//!
//! # Behaviour
//!
//! - **One page**: BambooHR lists every job opening in one plain array, so
//!   `list-jobs` returns a single page and never a cursor.
//! - **No incremental listing**: jobs carry no change time and the API
//!   has no change filter, so `changed-since` is ignored (the contract
//!   allows it) and every listing is a full refresh; jobs have no
//!   `updated-at`.
//! - **Job mapping**: see [`map::job`]. The API serves no description
//!   (public careers pages show one for open jobs only), so it is empty;
//!   the hiring lead is the one assigned user (an employee, without an
//!   e-mail address in the job record).
//! - **Stages**: the company-wide applicant statuses that are enabled, in
//!   BambooHR's order; no stage names a job (BambooHR has no per-job
//!   pipelines). The status id is the stage id.
//! - **Push and idempotency**: BambooHR accepts a second application with
//!   the same e-mail address and only counts it as a duplicate, so the push
//!   searches the job's applications for the address first and returns the
//!   one it finds with `existing = true`: a retried push never creates a
//!   second application. The create's answer is read for the new ids; when
//!   it carries none (its body is undocumented), the search runs again.
//!   Answers have no field in BambooHR's form and are not sent.
//! - **Rate limits**: BambooHR publishes none and reports throttling as
//!   `503` with `Retry-After` (sometimes `429`): both become `rate-limited`
//!   with that delay; a `503` without `Retry-After` is `transient`.
//! - **Statuses**: state from the status code (`HIRED`, the rejections,
//!   `DECLINED_OFFER` as withdrawn; see [`map::application_state`]). An
//!   application BambooHR answers with `404` is reported as state
//!   `other("not-found")`.

mod api;
mod client;
mod map;

use atsbridge_sdk::prelude::*;

use client::BambooHr;

/// The BambooHR connector.
struct BambooHrConnector;

impl Connector for BambooHrConnector {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "BambooHR".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            vendor: "atsbridge".into(),
            capabilities: vec![
                Capability::Stages,
                Capability::CandidatePush,
                Capability::CandidateStatus,
                Capability::MoveApplication,
            ],
            config_schema: vec![
                SettingSpec::text("company-domain", "Company domain")
                    .required()
                    .help("The `acme` of acme.bamboohr.com."),
                SettingSpec::secret("api-key", "API key")
                    .required()
                    .help("BambooHR › your name › API Keys; its owner needs access to the ATS settings."),
                SettingSpec::url("base-url", "API base URL")
                    .help("Only for a proxy or test server; defaults to https://api.bamboohr.com."),
            ],
        }
    }

    fn check(config: &Config) -> Result<(), ConnectorError> {
        BambooHr::from_config(config)?.check()
    }

    fn list_jobs(
        config: &Config,
        cursor: Option<String>,
        changed_since: Option<String>,
    ) -> Result<JobPage, ConnectorError> {
        let bamboo = BambooHr::from_config(config)?;
        if let Some(cursor) = cursor {
            return Err(ConnectorError::Permanent(format!(
                "BambooHR lists every job in one page and gave no cursor, yet got `{}`",
                http::excerpt(cursor.as_bytes())
            )));
        }
        if changed_since.is_some() {
            log::debug("BambooHR has no change filter for jobs: listing all of them");
        }
        let jobs = bamboo.jobs()?.into_iter().map(map::job).collect();
        Ok(JobPage { jobs, next_cursor: None })
    }

    fn list_stages(config: &Config, _job_code: Option<String>) -> Result<Vec<Stage>, ConnectorError> {
        Ok(map::stages(&BambooHr::from_config(config)?.statuses()?))
    }

    fn push_candidate(config: &Config, request: PushRequest) -> Result<Pushed, ConnectorError> {
        let bamboo = BambooHr::from_config(config)?;
        let (job, email) = (&request.job_code, request.candidate.email.trim());
        if email.is_empty() {
            return Err(ConnectorError::Permanent(
                "the candidate's e-mail address is needed to tell a retried push from a new one".into(),
            ));
        }
        if let Some(found) = bamboo.find_application(job, email)?.as_ref().and_then(map::application_ref) {
            log::info(format!("application {} is already on job {job}", found.application_id));
            return Ok(Pushed { ref_: found, existing: true });
        }
        let created = bamboo.create_application(&map::application_form(job, &request.candidate))?;
        let reference = match (created.candidate_id, created.application_id) {
            (Some(candidate), Some(application)) => CandidateRef::new(candidate.0, application.0),
            _ => bamboo.find_application(job, email)?.as_ref().and_then(map::application_ref).ok_or_else(|| {
                ConnectorError::Transient(format!(
                    "BambooHR accepted the application for {email} on job {job} but neither named it nor lists it yet"
                ))
            })?,
        };
        if let Some(stage) = request.stage_id.as_deref().filter(|s| !s.trim().is_empty()) {
            bamboo.set_status(&reference.application_id, stage)?;
        }
        Ok(Pushed { ref_: reference, existing: false })
    }

    fn candidate_statuses(config: &Config, refs: Vec<CandidateRef>) -> Result<Vec<CandidateStatus>, ConnectorError> {
        let bamboo = BambooHr::from_config(config)?;
        let statuses = bamboo.statuses()?;
        let mut out = Vec::with_capacity(refs.len());
        for reference in refs {
            match bamboo.application(&reference.application_id)? {
                Some(application) => out.push(map::candidate_status(reference, &application, &statuses)),
                None => {
                    log::warn(format!("BambooHR has no application {}", reference.application_id));
                    out.push(CandidateStatus::not_found(reference));
                }
            }
        }
        Ok(out)
    }

    fn move_application(config: &Config, request: MoveRequest) -> Result<(), ConnectorError> {
        BambooHr::from_config(config)?.set_status(&request.ref_.application_id, &request.stage_id)
    }
}

atsbridge_sdk::export_connector!(BambooHrConnector);
