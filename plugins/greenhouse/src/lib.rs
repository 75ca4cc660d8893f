//! The atsbridge connector for Greenhouse Recruiting, through the Harvest
//! API v3 (<https://harvestdocs.greenhouse.io>).
//!
//! # Settings
//!
//! | key | kind | required | meaning |
//! |---|---|---|---|
//! | `client-id` | secret | yes | Harvest v3 OAuth client id (Configure > Dev Center > API Credential Management, a "Harvest V3 (OAuth)" credential) |
//! | `client-secret` | secret | yes | its client secret |
//! | `user-id` | text | yes | the Greenhouse user the integration acts as: sent as `sub` when requesting the token and as `On-Behalf-Of` on writes |
//! | `base-url` | url | no | Harvest's base URL, default `https://harvest.greenhouse.io` (the `/v3` paths are appended) |
//! | `token-url` | url | no | the OAuth token endpoint, default `https://auth.greenhouse.io/token` |
//!
//! A `base-url` or `token-url` other than Greenhouse's own (a proxy, a test
//! server) must also be granted to the connection by the operator: the
//! manifest allows only `harvest.greenhouse.io` and `auth.greenhouse.io`.
//!
//! # Calls
//!
//! - `list-jobs`: every job, any status, 500 a page, with the description
//!   of its job post; `changed-since` becomes `updated_at=gte|<instant>`.
//!   The cursor is the next page's URL from the `Link` header
//!   ([`PageCursor::NextUrl`]).
//! - `list-stages`: one job's pipeline, or every job's stages.
//! - `push-candidate`: dedupes by e-mail, see [`push`].
//! - `candidate-statuses`: each application's status and current stage.
//! - `move-application`: reads the application's current stage (Greenhouse
//!   moves *from* a stage) and moves it, as the acting user; already there
//!   is success.
//!
//! The modules read like the API: [`api`] is the JSON, [`client`] the
//! endpoints, [`map`] the mapping onto the contract.

pub mod api;
pub mod client;
pub mod map;
pub mod push;

use atsbridge_sdk::prelude::*;

use client::{DEFAULT_BASE_URL, DEFAULT_TOKEN_URL, Harvest};

/// The Greenhouse connector.
pub struct Greenhouse;

impl Connector for Greenhouse {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "Greenhouse".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            vendor: "atsbridge".into(),
            capabilities: vec![
                Capability::Stages,
                Capability::CandidatePush,
                Capability::CandidateStatus,
                Capability::MoveApplication,
                // Sent as a note on the candidate (Harvest has no free-form answers field).
                Capability::ApplicationAnswers,
            ],
            config_schema: vec![
                SettingSpec::secret("client-id", "Client ID").required().help(
                    "Create a Harvest V3 (OAuth) credential under Configure > Dev Center > API Credential \
                     Management in Greenhouse, with read access to jobs, job posts, job stages, candidates \
                     and applications, and write access to candidates and applications.",
                ),
                SettingSpec::secret("client-secret", "Client secret")
                    .required()
                    .help("Shown once, when the Harvest V3 credential is created."),
                SettingSpec::text("user-id", "Acting user ID").required().help(
                    "The numeric ID of the Greenhouse user the integration acts as (Configure > Users, the \
                     number in the user's URL). Candidates it creates are attributed to this user.",
                ),
                SettingSpec::url("base-url", "Harvest base URL")
                    .default_value(DEFAULT_BASE_URL)
                    .help("Leave the default unless you go through a proxy."),
                SettingSpec::url("token-url", "Token URL")
                    .default_value(DEFAULT_TOKEN_URL)
                    .help("Leave the default unless you go through a proxy."),
            ],
        }
    }

    fn check(config: &Config) -> Result<(), ConnectorError> {
        log::info("checking the Harvest credentials");
        Harvest::new(config)?.check()
    }

    fn list_jobs(
        config: &Config,
        cursor: Option<String>,
        changed_since: Option<String>,
    ) -> Result<JobPage, ConnectorError> {
        Harvest::new(config)?.job_page(cursor.as_deref(), changed_since.as_deref())
    }

    fn list_stages(config: &Config, job_code: Option<String>) -> Result<Vec<Stage>, ConnectorError> {
        let harvest = Harvest::new(config)?;
        match job_code {
            Some(code) => {
                let stages = harvest.job_stages(map::harvest_id("job code", &code)?)?;
                Ok(map::stages(stages, Some(&code)))
            }
            None => Ok(map::stages(harvest.all_job_stages()?, None)),
        }
    }

    fn push_candidate(config: &Config, request: PushRequest) -> Result<Pushed, ConnectorError> {
        push::push(&Harvest::new(config)?, &request)
    }

    fn candidate_statuses(config: &Config, refs: Vec<CandidateRef>) -> Result<Vec<CandidateStatus>, ConnectorError> {
        let harvest = Harvest::new(config)?;
        refs.into_iter()
            .map(|r| {
                Ok(match harvest.application(&r.application_id)? {
                    Some(application) => map::candidate_status(r, &application),
                    None => map::deleted_status(r),
                })
            })
            .collect()
    }

    fn move_application(config: &Config, request: MoveRequest) -> Result<(), ConnectorError> {
        let harvest = Harvest::new(config)?;
        let application_id = map::harvest_id("application id", &request.ref_.application_id)?;
        let to = map::harvest_id("stage id", &request.stage_id)?;
        let application = harvest
            .application(&request.ref_.application_id)?
            .ok_or_else(|| ConnectorError::NotFound(format!("Greenhouse has no application {application_id}")))?;
        let from = application.current_stage.as_ref().and_then(|s| s.id.as_ref()).ok_or_else(|| {
            ConnectorError::Permanent(format!("application {application_id} has no current stage to move from"))
        })?;
        let from = map::harvest_id("current stage id", &from.0)?;
        if from == to {
            return Ok(());
        }
        harvest.move_application(application_id, from, to)
    }
}

atsbridge_sdk::export_connector!(Greenhouse);
