//! The atsbridge connector for [Workable](https://workable.readme.io/) (SPI v3).
//!
//! # Settings
//!
//! | key | kind | required | meaning |
//! |---|---|---|---|
//! | `subdomain` | text | yes | the account: `acme` for `acme.workable.com` |
//! | `api-token` | secret | yes | an access token (Settings › Integrations › Apps), sent as `Authorization: Bearer` |
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
//! | `list-jobs` | `GET /jobs?limit=100&include_fields=description,full_description[&updated_after=<ISO basic>]`, then `paging.next` |
//! | `list-stages` | `GET /jobs/{shortcode}/stages`, or `GET /stages` without a job |
//! | `push-candidate` | `GET /candidates?shortcode=&email=`, then `POST /jobs/{shortcode}/candidates[?stage=<slug>]` |
//! | `candidate-statuses` | `GET /candidates/{id}` per reference, `GET /jobs/{shortcode}/stages` once per job for stage names |
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
//! - **Job mapping**: see [`map::job`]. Job members and recruiters
//!   (`GET /jobs/{shortcode}/members`, `/recruiters`) would cost one request
//!   per job against a limit of 10 requests per 10 s, so `assigned-users`
//!   stays empty.
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
            ],
            config_schema: vec![
                SettingSpec::text("subdomain", "Account subdomain")
                    .required()
                    .help("The `acme` of acme.workable.com."),
                SettingSpec::secret("api-token", "API access token")
                    .required()
                    .help("Workable › Settings › Integrations › Apps › Generate API token, with r_jobs, r_candidates and w_candidates."),
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
            jobs: jobs.into_iter().map(map::job).collect(),
            next_cursor: paging::next_url_cursor(next),
        })
    }

    fn list_stages(
        config: &Config,
        job_code: Option<String>,
    ) -> Result<Vec<Stage>, ConnectorError> {
        let stages = Workable::from_config(config)?.stages(job_code.as_deref())?;
        Ok(map::stages(stages, job_code.as_deref()))
    }

    fn push_candidate(config: &Config, request: PushRequest) -> Result<Pushed, ConnectorError> {
        let workable = Workable::from_config(config)?;
        let (job, email) = (&request.job_code, request.candidate.email.trim());
        if email.is_empty() {
            return Err(ConnectorError::Permanent(
                "Workable requires the candidate's e-mail address".into(),
            ));
        }
        if let Some(found) = workable.find_candidate(job, email)? {
            log::info(format!("candidate {} is already on job {job}", found.id));
            return Ok(Pushed {
                ref_: map::candidate_ref(&found),
                existing: true,
            });
        }
        let body = map::new_candidate(&request.candidate);
        match workable.create_candidate(job, request.stage_id.as_deref(), &body)? {
            Ok(created) => Ok(Pushed {
                ref_: map::candidate_ref(&created),
                existing: false,
            }),
            Err(unprocessable) => match workable.find_candidate(job, email)? {
                Some(found) => Ok(Pushed {
                    ref_: map::candidate_ref(&found),
                    existing: true,
                }),
                None => Err(unprocessable),
            },
        }
    }

    fn candidate_statuses(
        config: &Config,
        refs: Vec<CandidateRef>,
    ) -> Result<Vec<CandidateStatus>, ConnectorError> {
        let workable = Workable::from_config(config)?;
        // Stage names by job, fetched once per job.
        let mut stage_names: HashMap<String, HashMap<String, String>> = HashMap::new();
        let mut statuses = Vec::with_capacity(refs.len());
        for reference in refs {
            let Some(candidate) = workable.candidate(&reference.candidate_id)? else {
                log::warn(format!(
                    "Workable has no candidate {}",
                    reference.candidate_id
                ));
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
}

/// Slug → name of a job's stages; empty when the job is gone (its
/// candidates' statuses are still worth reporting).
fn stage_names_of(
    workable: &Workable,
    job: &str,
) -> Result<HashMap<String, String>, ConnectorError> {
    match workable.stages(Some(job)) {
        Ok(stages) => Ok(stages.into_iter().map(|s| (s.slug, s.name)).collect()),
        Err(ConnectorError::NotFound(_)) => Ok(HashMap::new()),
        Err(e) => Err(e),
    }
}

atsbridge_sdk::export_connector!(WorkableConnector);
