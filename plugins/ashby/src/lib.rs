//! The atsbridge connector for [Ashby](https://developers.ashbyhq.com/).
//!
//! # Settings
//!
//! | key | kind | required | meaning |
//! |---|---|---|---|
//! | `api-key` | secret | yes | an API key (Admin › Integrations › API Keys), sent as HTTP Basic user name with an empty password |
//! | `base-url` | url | no | default `https://api.ashbyhq.com`; for proxies and tests (the host must also be granted to the connection) |
//!
//! The key needs the `jobsRead`, `interviewsRead`, `candidatesRead` and
//! `candidatesWrite` permissions (and access to confidential jobs if those
//! should sync).
//!
//! # Calls
//!
//! | call | Ashby endpoints |
//! |---|---|
//! | `check` | `job.list {limit: 1}` |
//! | `list-jobs` | `job.list {limit: 25, cursor, status: [all four], expand: ["location"]}`, then `jobPosting.info {jobPostingId}` per listed job that has a posting |
//! | `list-stages` | with a job: `job.info {id}`, then `interviewStage.list {interviewPlanId: defaultInterviewPlanId}`; without: `interviewPlan.list`, then `interviewStage.list` per plan |
//! | `push-candidate` | `candidate.search {email}`; `candidate.create` if none; `application.info` per existing application, `application.create {candidateId, jobId, interviewStageId?}` if none is on the job; resume: `file.createFileUploadHandle` + presigned POST + `candidate.uploadResume {candidateId, resumeHandle}`, or multipart `candidate.uploadResume` |
//! | `candidate-statuses` | `application.info {applicationId}` per reference |
//! | `move-application` | `application.changeStage {applicationId, interviewStageId}` (a stage of the `Archived` type also needs an archive reason, which Ashby then refuses as invalid input) |
//!
//! # Behaviour
//!
//! - **Cursor**: Ashby's `nextCursor`, as the SDK's vendor-token cursor
//!   (`token:...`).
//! - **Incremental**: Ashby's incremental sync hands out a `syncToken` on
//!   the last page of a listing, to be sent with the *next* listing. The
//!   contract carries nothing from one listing to the next (the final page
//!   has no cursor and calls keep no state), and `job.list` has no
//!   "updated after" filter (`createdAfter` misses edits). So every listing
//!   is a full `job.list`, and with `changed-since` the connector keeps only
//!   jobs whose `updatedAt` is at or after it: correct, and it saves the
//!   `jobPosting.info` requests of unchanged jobs, but not the listing
//!   itself. Should Ashby still answer `incremental_sync_too_large` or
//!   `sync_token_expired` mid-listing, the listing starts over from the
//!   first page.
//! - **Job mapping**: see [`map::job`]. Drafts are listed too (Ashby leaves
//!   them out unless asked), so a job moved back to draft does not look
//!   deleted.
//! - **Stages**: Ashby's stages belong to interview plans. With a job, its
//!   default plan's stages (tagged with the job). Without a job, every
//!   plan's stages are returned (no job code; positions restart at 0 for
//!   each plan), in which names repeat across plans with different ids. So
//!   the manifest declares `[stages] per-job = true`: the host asks each
//!   open job for its own plan and never maps a job against that list.
//! - **Push and idempotency**: the push needs an e-mail address: the
//!   candidate is looked up with `candidate.search` first and reused
//!   (`existing = true`); an application on the job is looked up among the
//!   candidate's `applicationIds` before one is created; the resume is
//!   uploaded only when the candidate has none. A retried push therefore
//!   completes a partial one without creating a second candidate,
//!   application or resume (it reports `existing = true`). Answers to
//!   questions, extra links and the source name are not sent:
//!   `candidate.create` has no field for them (`sourceId` needs an Ashby
//!   source id).
//! - **Errors**: see [`client::Failure::into_error`] for Ashby's error codes.
//! - **Statuses**: an application Ashby does not find is reported as state
//!   `other("not-found")` instead of failing the batch.

mod api;
mod client;
mod map;

use atsbridge_sdk::prelude::*;
use atsbridge_sdk::time;

use client::Ashby;

/// The Ashby connector.
struct AshbyConnector;

impl Connector for AshbyConnector {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "Ashby".into(),
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
                    .help("Ashby › Admin › Integrations › API Keys, with jobsRead, interviewsRead, candidatesRead and candidatesWrite."),
                SettingSpec::url("base-url", "API base URL")
                    .default_value(client::DEFAULT_BASE_URL)
                    .help("Only for a proxy or test server."),
            ],
        }
    }

    fn check(config: &Config) -> Result<(), ConnectorError> {
        Ashby::from_config(config)?.check()
    }

    fn list_jobs(
        config: &Config,
        cursor: Option<String>,
        changed_since: Option<String>,
    ) -> Result<JobPage, ConnectorError> {
        let ashby = Ashby::from_config(config)?;
        let since = changed_since.as_deref().map(time::parse_rfc3339).transpose()?;
        let cursor = paging::vendor_token(cursor.as_deref())?;
        let page = ashby.job_page(cursor.as_deref())?;
        let mut jobs = Vec::with_capacity(page.jobs.len());
        for job in page.jobs.into_iter().filter(|j| map::changed_since(j, since)) {
            let posting = match job.job_posting_ids.first() {
                Some(id) => ashby.posting(id)?,
                None => None,
            };
            jobs.push(map::job(job, posting.as_ref()));
        }
        Ok(JobPage { jobs, next_cursor: paging::vendor_token_cursor(page.next_cursor) })
    }

    fn list_stages(config: &Config, job_code: Option<String>) -> Result<Vec<Stage>, ConnectorError> {
        let ashby = Ashby::from_config(config)?;
        if let Some(code) = job_code.as_deref() {
            let job = ashby.job(code)?;
            let plan = job
                .default_interview_plan_id
                .or_else(|| job.interview_plan_ids.into_iter().next())
                .ok_or_else(|| ConnectorError::NotFound(format!("Ashby job {code} has no interview plan")))?;
            return Ok(map::stages(ashby.interview_stages(&plan)?, Some(code)));
        }
        let mut stages = Vec::new();
        for plan in ashby.interview_plans()? {
            if plan.is_archived != Some(true) {
                stages.extend(map::stages(ashby.interview_stages(&plan.id)?, None));
            }
        }
        Ok(stages)
    }

    fn push_candidate(config: &Config, request: PushRequest) -> Result<Pushed, ConnectorError> {
        let ashby = Ashby::from_config(config)?;
        let email = request.candidate.email.trim();
        if email.is_empty() {
            return Err(ConnectorError::Permanent(
                "an e-mail address is required: it is how a retried push finds the candidate it created".into(),
            ));
        }
        let found = map::candidate_with_email(ashby.search_candidates(email)?, email);
        let existing = found.is_some();
        let candidate = match found {
            Some(candidate) => candidate,
            None => ashby.create_candidate(&map::new_candidate(&request.candidate))?,
        };
        let application = match application_on_job(&ashby, &candidate, &request.job_code)? {
            Some(application) => application,
            None => ashby.create_application(&api::NewApplication {
                candidate_id: &candidate.id,
                job_id: &request.job_code,
                interview_stage_id: request.stage_id.as_deref(),
            })?,
        };
        if let Some(resume) = &request.candidate.resume
            && candidate.resume_file_handle.is_none()
        {
            ashby.upload_resume(&candidate.id, resume)?;
        }
        Ok(Pushed { ref_: CandidateRef::new(candidate.id, application.id), existing })
    }

    fn candidate_statuses(config: &Config, refs: Vec<CandidateRef>) -> Result<Vec<CandidateStatus>, ConnectorError> {
        let ashby = Ashby::from_config(config)?;
        let mut statuses = Vec::with_capacity(refs.len());
        for reference in refs {
            statuses.push(match ashby.application(&reference.application_id)? {
                Some(application) => map::candidate_status(reference, &application),
                None => {
                    log::warn(format!("Ashby has no application {}", reference.application_id));
                    map::missing_application_status(reference)
                }
            });
        }
        Ok(statuses)
    }

    fn move_application(config: &Config, request: MoveRequest) -> Result<(), ConnectorError> {
        Ashby::from_config(config)?.change_stage(&request.ref_.application_id, &request.stage_id)
    }
}

/// The candidate's application on `job_id`, if there is one.
fn application_on_job(
    ashby: &Ashby,
    candidate: &api::Candidate,
    job_id: &str,
) -> Result<Option<api::Application>, ConnectorError> {
    for id in &candidate.application_ids {
        if let Some(application) = ashby.application(id)?
            && application.job.as_ref().is_some_and(|j| j.id == job_id)
        {
            return Ok(Some(application));
        }
    }
    Ok(None)
}

atsbridge_sdk::export_connector!(AshbyConnector);
