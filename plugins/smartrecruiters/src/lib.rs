//! The atsbridge connector for [SmartRecruiters](https://developers.smartrecruiters.com/)
//! (Customer API).
//!
//! # Settings
//!
//! | key | kind | required | meaning |
//! |---|---|---|---|
//! | `api-key` | secret | yes | an API key (Settings › Apps & Integrations › Credentials), sent by the host as the `X-SmartToken` header |
//! | `base-url` | url | no | overrides `https://api.smartrecruiters.com` (proxies, tests); its host must also be granted to the connection |
//!
//! # Calls
//!
//! | call | SmartRecruiters endpoint |
//! |---|---|
//! | `check` | `GET /jobs?limit=1` |
//! | `list-jobs` | `GET /jobs?limit=L&offset=N[&updatedAfter=]` (a window around where the last page ended, see [`window`]), 2 jobs served a page; per job `GET /jobs/{id}/hiring-team` and `GET /jobs/{id}/jobads`; `GET /user-api/v201804/users/{id}` per team member |
//! | `list-stages` | `GET /jobs/{id}`, then `GET /configuration/hiring-processes/{hiringProcessId}`; without a job, the fixed statuses |
//! | `push-candidate` | `GET /candidates?q=<email>&jobId=` (and, when found, `GET /candidates/{id}/attachments`), then `POST /jobs/{id}/candidates`, `POST /candidates/{id}/attachments` (resume), `PUT /candidates/{id}/jobs/{jobId}/status` (a requested stage) |
//! | `candidate-statuses` | `GET /candidates/{id}` per reference |
//! | `move-application` | `PUT /candidates/{id}/jobs/{jobId}/status` with the stage's status and sub-status |
//!
//! # Behaviour
//!
//! - **Cursor**: the offset of the next page and the ids of the last jobs
//!   served (`token:{"offset":N,"anchors":[...]}`); the next page continues
//!   after those ids, so a job created or deleted in front between pages is
//!   neither skipped nor repeated ([`window`]). The listing ends when
//!   `totalFound` jobs have been passed or a page comes back empty.
//! - **Cost and rate limit**: SmartRecruiters allows 10 requests a second
//!   per credential. A page of 2 jobs costs at most 9 requests (see
//!   [`client::PAGE_SIZE`]), so a page that ran into the limit completes
//!   when the host retries it after `Retry-After` (one second when absent).
//!   A listing of N jobs takes about 2.5 N requests plus team lookups.
//! - **Incremental**: `changed-since` becomes `updatedAfter`. Whether a
//!   change to the hiring team alone moves `updatedOn` is **unconfirmed**;
//!   full listings always read it.
//! - **Job mapping**: see [`map::job`]. The description is the job ad's
//!   sections; jobs without an ad have an empty description.
//! - **Stages**: SmartRecruiters has a fixed application status enum
//!   (`NEW`, `IN_REVIEW`, `INTERVIEW`, `OFFER`, `HIRED`); a job's hiring
//!   process adds sub-statuses. A job's pipeline is each status followed by
//!   its sub-statuses, with ids `STATUS` or `STATUS:sub-status` (see
//!   [`map::stages`]). How a job names its hiring process is not documented:
//!   the connector reads `hiringProcessId` from the job (**unconfirmed**) and
//!   falls back to the statuses alone. Since no single call lists every
//!   job's process, the manifest declares `[stages] per-job = true`: the
//!   host asks `list-stages` for each open job instead of the account.
//! - **Push and idempotency**: the candidate is looked up by e-mail on the
//!   job first and returned with `existing = true` when found, so a retried
//!   push never creates a second candidate. A `409` on create (a concurrent
//!   push won the race) triggers one more lookup. The resume is uploaded as
//!   an attachment right after the create; if that upload fails the push
//!   fails, and its retry finds the candidate, sees no resume among its
//!   attachments (`GET /candidates/{id}/attachments`) and uploads it then.
//!   A requested stage is set only on create.
//! - **References**: SmartRecruiters has no application id; a candidate's
//!   application is its assignment to a job. The reference's application id
//!   is `<candidate id>:<job id>` ([`map::candidate_ref`]).
//! - **Statuses**: a candidate SmartRecruiters answers with `404`, or one
//!   no longer on the job, is reported as state `other("not-found")`.

mod api;
mod client;
mod map;
mod window;

use std::collections::HashMap;

use atsbridge_sdk::prelude::*;

use client::SmartRecruiters;

/// The SmartRecruiters connector.
struct SmartRecruitersConnector;

impl Connector for SmartRecruitersConnector {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "SmartRecruiters".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            vendor: "atsbridge".into(),
            capabilities: vec![
                Capability::Stages,
                Capability::CandidatePush,
                Capability::CandidateStatus,
                Capability::MoveApplication,
            ],
            config_schema: vec![
                SettingSpec::secret("api-key", "API key")
                    .required()
                    .help("SmartRecruiters › Settings › Apps & Integrations › Credentials; sent as X-SmartToken."),
                SettingSpec::url("base-url", "API base URL")
                    .help("Only for a proxy or test server; defaults to https://api.smartrecruiters.com."),
            ],
        }
    }

    fn check(config: &Config) -> Result<(), ConnectorError> {
        SmartRecruiters::from_config(config)?.check()
    }

    fn list_jobs(
        config: &Config,
        cursor: Option<String>,
        changed_since: Option<String>,
    ) -> Result<JobPage, ConnectorError> {
        let sr = SmartRecruiters::from_config(config)?;
        let window = window::Window::of(cursor.as_deref(), client::PAGE_SIZE)?;
        let (listed, total) = sr.jobs_page(window.offset, window.limit, changed_since.as_deref())?;
        let served = window.serve(listed, total, client::PAGE_SIZE)?;
        let summaries = served.jobs;
        let mut users = HashMap::new();
        let mut jobs = Vec::with_capacity(summaries.len());
        for summary in summaries {
            let (description, team) = match job_details(&sr, &summary.id, &mut users) {
                Ok(found) => found,
                Err(ConnectorError::NotFound(_)) => {
                    log::warn(format!("job {} is gone from SmartRecruiters; listed without ad and team", summary.id));
                    (String::new(), Vec::new())
                }
                Err(e) => return Err(e),
            };
            jobs.push(map::job(summary, description, team));
        }
        Ok(JobPage { jobs, next_cursor: served.next_cursor })
    }

    fn list_stages(config: &Config, job_code: Option<String>) -> Result<Vec<Stage>, ConnectorError> {
        let sr = SmartRecruiters::from_config(config)?;
        let Some(job_code) = job_code else {
            return Ok(map::stages(None, None));
        };
        let process = match sr.job(&job_code)?.hiring_process_id.filter(|id| !id.trim().is_empty()) {
            Some(id) => Some(sr.hiring_process(&id)?),
            None => {
                log::info(format!("job {job_code} names no hiring process; its stages are the statuses alone"));
                None
            }
        };
        Ok(map::stages(process.as_ref(), Some(&job_code)))
    }

    fn push_candidate(config: &Config, request: PushRequest) -> Result<Pushed, ConnectorError> {
        let sr = SmartRecruiters::from_config(config)?;
        let (job, email) = (&request.job_code, request.candidate.email.trim());
        if email.is_empty() {
            return Err(ConnectorError::Permanent("SmartRecruiters requires the candidate's e-mail address".into()));
        }
        if let Some(found) = sr.find_candidate(job, email)? {
            log::info(format!("candidate {} is already on job {job}", found.id));
            // A push whose resume upload failed after the create is retried
            // through here: finish it.
            if let Some(resume) = &request.candidate.resume
                && !sr.has_resume(&found.id)?
            {
                sr.add_resume(&found.id, resume)?;
            }
            return Ok(Pushed { ref_: map::candidate_ref(&found.id, job), existing: true });
        }
        let created = match sr.create_candidate(job, &map::new_candidate(&request.candidate))? {
            Ok(created) => created,
            Err(conflict) => match sr.find_candidate(job, email)? {
                Some(found) => return Ok(Pushed { ref_: map::candidate_ref(&found.id, job), existing: true }),
                None => return Err(conflict),
            },
        };
        if let Some(resume) = &request.candidate.resume {
            sr.add_resume(&created.id, resume)?;
        }
        if let Some(stage) = request.stage_id.as_deref().filter(|s| !s.trim().is_empty()) {
            sr.set_status(&created.id, job, &map::status_change(stage))?;
        }
        Ok(Pushed { ref_: map::candidate_ref(&created.id, job), existing: false })
    }

    fn candidate_statuses(config: &Config, refs: Vec<CandidateRef>) -> Result<Vec<CandidateStatus>, ConnectorError> {
        let sr = SmartRecruiters::from_config(config)?;
        let mut statuses = Vec::with_capacity(refs.len());
        for reference in refs {
            let job = map::job_of(&reference)?.to_string();
            let candidate = sr.candidate(&reference.candidate_id)?;
            match candidate.as_ref().and_then(|c| c.assignment(&job).map(|a| (c, a))) {
                Some((c, assignment)) => {
                    statuses.push(map::candidate_status(reference, assignment, c.updated_on.as_deref()))
                }
                None => {
                    log::warn(format!("SmartRecruiters has no candidate {} on job {job}", reference.candidate_id));
                    statuses.push(CandidateStatus::not_found(reference));
                }
            }
        }
        Ok(statuses)
    }

    fn move_application(config: &Config, request: MoveRequest) -> Result<(), ConnectorError> {
        let sr = SmartRecruiters::from_config(config)?;
        let job = map::job_of(&request.ref_)?;
        sr.set_status(&request.ref_.candidate_id, job, &map::status_change(&request.stage_id))
    }
}

/// A job's description (its ad) and hiring team, with team members' user
/// records looked up once per call (`users` caches them).
fn job_details(
    sr: &SmartRecruiters,
    job_id: &str,
    users: &mut HashMap<String, AtsUser>,
) -> Result<(String, Vec<AtsUser>), ConnectorError> {
    let team_ids = sr.hiring_team(job_id)?;
    let mut team = Vec::with_capacity(team_ids.len());
    for id in team_ids {
        if !users.contains_key(&id) {
            let user = match sr.user(&id)? {
                Some(user) => map::user(&user),
                None => map::unknown_user(&id),
            };
            users.insert(id.clone(), user);
        }
        team.extend(users.get(&id).cloned());
    }
    let description = map::description_html(&sr.job_ads(job_id)?);
    Ok((description, team))
}

atsbridge_sdk::export_connector!(SmartRecruitersConnector);
