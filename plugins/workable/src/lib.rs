//! The atsbridge connector for [Workable](https://workable.readme.io/) (SPI v3).
//!
//! # Settings
//!
//! | key | kind | required | meaning |
//! |---|---|---|---|
//! | `subdomain` | text | yes | the account: `acme` for `acme.workable.com` |
//! | `api-token` | secret | yes | an access token (Settings › Integrations › Apps), sent as `Authorization: Bearer` |
//! | `member-id` | text | no | the member stage moves are made as; the account's first admin (`GET /members`) when empty |
//! | `base-url` | url | no | overrides `https://{subdomain}.workable.com/spi/v3` (sandboxes, proxies, tests); its host must also be granted to the connection |
//!
//! The token needs the `r_jobs` scope, and `r_candidates` / `w_candidates`
//! for candidate push and status.
//!
//! # Calls
//!
//! | call | Workable endpoint |
//! |---|---|
//! | `check` | `GET /jobs?limit=1` |
//! | `list-jobs` | `GET /jobs?limit=9&include_fields=description,full_description[&updated_after=<ISO basic>]`, then `paging.next`; `GET /jobs/{shortcode}/members` per listed job |
//! | `list-stages` | `GET /jobs/{shortcode}/stages`, or `GET /stages` without a job |
//! | `push-candidate` | `GET /candidates?shortcode=&email=`, then `POST /jobs/{shortcode}/candidates[?stage=<slug>]` |
//! | `candidate-statuses` | `GET /candidates/{id}` per reference, `GET /jobs/{shortcode}/stages` once per job for stage names |
//! | `move-application` | `POST /candidates/{id}/move` with `member_id` and `target_stage` (the slug); `GET /members` first without `member-id` |
//!
//! # Behaviour
//!
//! - **Cursor**: the absolute `paging.next` URL, as the SDK's next-URL
//!   cursor (`url:...`). It is checked against the base URL's origin when
//!   received and again when followed; a URL elsewhere fails the page as
//!   permanent, so the token never leaves the account's host.
//! - **Incremental**: `changed-since` becomes `updated_after` in ISO 8601
//!   basic format (UTC, whole seconds, rounded down). Next-page URLs keep
//!   the filter.
//! - **Job mapping**: see [`map::job`].
//! - **Hiring team**: `assigned-users` are the job's members
//!   (`GET /jobs/{shortcode}/members`, see [`map::hiring_team`]); external
//!   recruiters (`/recruiters`) are not users to authorize and are not read.
//!   The job record does not carry its team, so this costs **one request
//!   per job**, against Workable's limit of 10 requests per 10 s for account
//!   tokens. Hence pages of 9 jobs ([`client::PAGE_SIZE`]): a page is 10
//!   requests, one window. A page that runs into the limit fails as
//!   `rate-limited` (waiting for `Retry-After`, else `X-Rate-Limit-Reset`),
//!   and the host retries it whole in the next window.
//!   - Full listing of N jobs: ⌈N/9⌉ + N requests, about 1.1 N; at 10 per
//!     10 s that is about 1.1 N seconds (1,000 jobs: some 19 minutes).
//!   - Incremental listing: the same for the C jobs Workable returns as
//!     changed, ⌈C/9⌉ + C requests. Members are read only for jobs whose
//!     `updated_at` is at or after `changed-since`; a job last updated
//!     before it (Workable's filter takes whole seconds) is left out of the
//!     page, because listing it without its team would clear the position's
//!     users. A job without `updated_at` passed Workable's filter and is kept.
//!   - A job that is gone by the time its members are read (`404`) is
//!     listed with no users; the next full listing closes it.
//!   - A change to the team alone reaches incremental listings only if
//!     Workable bumps the job's `updated_at` for it (**unconfirmed**); full
//!     listings always read it.
//! - **Push and idempotency**: the candidate is looked up by e-mail on the
//!   job first and returned with `existing = true` when found, so a retried
//!   push never creates a second candidate. A `422` on create (a concurrent
//!   push won the race) triggers one more lookup. Workable keeps a candidate
//!   record per job, so the reference's candidate and application ids are
//!   both the candidate `id`.
//! - **Statuses**: a reference Workable answers with `404` is reported as
//!   state `other("not-found")` instead of failing the batch.

mod api;
mod client;
mod map;

use std::collections::HashMap;

use atsbridge_sdk::prelude::*;
use atsbridge_sdk::time;

use client::Workable;

/// The Workable connector.
struct WorkableConnector;

impl Connector for WorkableConnector {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "Workable".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            vendor: "atsbridge".into(),
            capabilities: vec![
                Capability::Stages,
                Capability::CandidatePush,
                Capability::CandidateStatus,
                Capability::MoveApplication,
                // Sent in the candidate's summary.
                Capability::ApplicationAnswers,
            ],
            config_schema: vec![
                SettingSpec::text("subdomain", "Account subdomain")
                    .required()
                    .help("The `acme` of acme.workable.com."),
                SettingSpec::secret("api-token", "API access token")
                    .required()
                    .help("Workable › Settings › Integrations › Apps › Generate API token, with r_jobs, r_candidates and w_candidates."),
                SettingSpec::text("member-id", "Acting member ID").help(
                    "The Workable member stage moves are made as (8 hex digits, from GET /members); \
                     the account's first admin when empty.",
                ),
                SettingSpec::url("base-url", "API base URL")
                    .help("Only for a proxy or test server; defaults to https://{subdomain}.workable.com/spi/v3."),
            ],
        }
    }

    fn check(config: &Config) -> Result<(), ConnectorError> {
        Workable::from_config(config)?.check()
    }

    fn list_jobs(
        config: &Config,
        cursor: Option<String>,
        changed_since: Option<String>,
    ) -> Result<JobPage, ConnectorError> {
        let workable = Workable::from_config(config)?;
        let url = match paging::next_url(cursor.as_deref())? {
            Some(url) => url,
            None => workable.first_jobs_url(changed_since.as_deref())?,
        };
        let (jobs, next) = workable.jobs_page(&url)?;
        Ok(JobPage {
            jobs: jobs_with_hiring_teams(&workable, jobs, changed_since.as_deref())?,
            next_cursor: paging::next_url_cursor(next),
        })
    }

    fn list_stages(config: &Config, job_code: Option<String>) -> Result<Vec<Stage>, ConnectorError> {
        let stages = Workable::from_config(config)?.stages(job_code.as_deref())?;
        Ok(map::stages(stages, job_code.as_deref()))
    }

    fn push_candidate(config: &Config, request: PushRequest) -> Result<Pushed, ConnectorError> {
        let workable = Workable::from_config(config)?;
        let (job, email) = (&request.job_code, request.candidate.email.trim());
        if email.is_empty() {
            return Err(ConnectorError::Permanent("Workable requires the candidate's e-mail address".into()));
        }
        if let Some(found) = workable.find_candidate(job, email)? {
            log::info(format!("candidate {} is already on job {job}", found.id));
            return Ok(Pushed { ref_: map::candidate_ref(&found), existing: true });
        }
        let body = map::new_candidate(&request.candidate);
        match workable.create_candidate(job, request.stage_id.as_deref(), &body)? {
            Ok(created) => Ok(Pushed { ref_: map::candidate_ref(&created), existing: false }),
            Err(unprocessable) => match workable.find_candidate(job, email)? {
                Some(found) => Ok(Pushed { ref_: map::candidate_ref(&found), existing: true }),
                None => Err(unprocessable),
            },
        }
    }

    fn candidate_statuses(config: &Config, refs: Vec<CandidateRef>) -> Result<Vec<CandidateStatus>, ConnectorError> {
        let workable = Workable::from_config(config)?;
        // Stage names by job, fetched once per job.
        let mut stage_names: HashMap<String, HashMap<String, String>> = HashMap::new();
        let mut statuses = Vec::with_capacity(refs.len());
        for reference in refs {
            let Some(candidate) = workable.candidate(&reference.candidate_id)? else {
                log::warn(format!("Workable has no candidate {}", reference.candidate_id));
                statuses.push(map::missing_candidate_status(reference));
                continue;
            };
            let job = candidate.job.as_ref().and_then(|j| j.shortcode.clone());
            let name = match (job, &candidate.stage) {
                (Some(job), Some(stage)) => {
                    if !stage_names.contains_key(&job) {
                        let names = stage_names_of(&workable, &job)?;
                        stage_names.insert(job.clone(), names);
                    }
                    stage_names[&job].get(stage).cloned()
                }
                _ => None,
            };
            statuses.push(map::candidate_status(reference, &candidate, name));
        }
        Ok(statuses)
    }

    fn move_application(config: &Config, request: MoveRequest) -> Result<(), ConnectorError> {
        let workable = Workable::from_config(config)?;
        let member = match config.text("member-id").map(str::trim).filter(|m| !m.is_empty()) {
            Some(member) => member.to_string(),
            None => {
                workable.members()?.into_iter().find(|m| m.role.as_deref() == Some("admin")).map(|m| m.id).ok_or_else(
                    || {
                        ConnectorError::InvalidConfig(
                            "Workable moves need an acting member: set `member-id` (the account lists no admin)".into(),
                        )
                    },
                )?
            }
        };
        workable.move_candidate(&request.ref_.candidate_id, &member, &request.stage_id)
    }
}

/// A listed page's jobs with their hiring teams: one
/// `GET /jobs/{shortcode}/members` per job, the only per-job requests of a
/// listing (see "Hiring team" in the crate docs for the cost). On an
/// incremental listing, jobs last updated before `changed_since` are left
/// out and cost nothing. A `429` fails the page as `rate-limited`.
fn jobs_with_hiring_teams(
    workable: &Workable,
    jobs: Vec<api::Job>,
    changed_since: Option<&str>,
) -> Result<Vec<Job>, ConnectorError> {
    let changed_since_ms = changed_since.map(time::rfc3339_to_epoch_ms).transpose()?;
    let mut listed = Vec::with_capacity(jobs.len());
    for job in jobs {
        if let Some(since) = changed_since_ms
            && !map::changed_since(&job, since)
        {
            continue;
        }
        let team = match workable.job_members(&job.shortcode) {
            Ok(members) => map::hiring_team(members),
            Err(ConnectorError::NotFound(_)) => {
                log::warn(format!("job {} is gone from Workable; listed without its team", job.shortcode));
                Vec::new()
            }
            Err(e) => return Err(e),
        };
        listed.push(map::job(job, team));
    }
    Ok(listed)
}

/// Slug → name of a job's stages; empty when the job is gone (its
/// candidates' statuses are still worth reporting).
fn stage_names_of(workable: &Workable, job: &str) -> Result<HashMap<String, String>, ConnectorError> {
    match workable.stages(Some(job)) {
        Ok(stages) => Ok(stages.into_iter().map(|s| (s.slug, s.name)).collect()),
        Err(ConnectorError::NotFound(_)) => Ok(HashMap::new()),
        Err(e) => Err(e),
    }
}

atsbridge_sdk::export_connector!(WorkableConnector);
