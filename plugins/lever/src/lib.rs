//! The atsbridge connector for Lever, through the Data API v1
//! (<https://hire.lever.co/developer/documentation>).
//!
//! # Settings
//!
//! | key | kind | required | meaning |
//! |---|---|---|---|
//! | `api-key` | secret | yes | a Lever API key (Settings > Integrations and API > API Credentials), sent as the HTTP Basic user name with an empty password |
//! | `perform-as` | text | for pushes | the id of the Lever user candidates are created as (`perform_as`) |
//! | `base-url` | url | no | the API's base URL, default `https://api.lever.co/v1`; `https://api.eu.lever.co/v1` for EU accounts, `https://api.sandbox.lever.co/v1` for a sandbox |
//!
//! A `base-url` on another host (a proxy, a test server) must also be
//! granted to the connection by the operator: the manifest allows only
//! Lever's own API hosts.
//!
//! # Calls
//!
//! - `list-jobs`: every posting, any state and confidentiality, 100 a page,
//!   with its description and people; `changed-since` becomes
//!   `updated_at_start=<epoch ms>`. The cursor is Lever's `next` token
//!   ([`PageCursor::Token`]).
//! - `list-stages`: the account's pipeline (Lever has one for all postings).
//! - `push-candidate`: dedupes by e-mail, see [`push`].
//! - `candidate-statuses`: each opportunity's stage and archive state.
//! - `move-application`: `PUT /opportunities/{id}/stage` as `perform-as`
//!   (Lever's stages are global, so the job code is not needed).
//!
//! The modules read like the API: [`api`] is the JSON, [`client`] the
//! endpoints, [`map`] the mapping onto the contract (uploads are encoded by
//! the SDK's `multipart`).

pub mod api;
pub mod client;
pub mod map;
pub mod push;

use std::collections::{HashMap, HashSet};

use atsbridge_sdk::prelude::*;

use client::{DEFAULT_BASE_URL, Lever as Client};

/// The Lever connector.
pub struct Lever;

impl Connector for Lever {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "Lever".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            vendor: "atsbridge".into(),
            capabilities: vec![
                Capability::Stages,
                Capability::CandidatePush,
                Capability::CandidateStatus,
                Capability::MoveApplication,
                // Sent as a note on the opportunity.
                Capability::ApplicationAnswers,
            ],
            config_schema: vec![
                SettingSpec::secret("api-key", "API key").required().help(
                    "Create a key under Settings > Integrations and API > API Credentials in Lever, with \
                     read access to postings, users, stages, archive reasons and opportunities, and write \
                     access to opportunities and notes.",
                ),
                SettingSpec::text("perform-as", "Perform as (user ID)").help(
                    "The id of the Lever user that candidates are created as; needed only for pushing \
                     candidates. GET /users lists the ids.",
                ),
                SettingSpec::url("base-url", "API base URL").default_value(DEFAULT_BASE_URL).help(
                    "https://api.eu.lever.co/v1 for accounts hosted in the EU, \
                     https://api.sandbox.lever.co/v1 for a sandbox.",
                ),
            ],
        }
    }

    fn check(config: &Config) -> Result<(), ConnectorError> {
        log::info("checking the Lever API key");
        Client::new(config)?.check()
    }

    fn list_jobs(
        config: &Config,
        cursor: Option<String>,
        changed_since: Option<String>,
    ) -> Result<JobPage, ConnectorError> {
        let lever = Client::new(config)?;
        let offset = paging::vendor_token(cursor.as_deref())?;
        let page = lever.postings_page(offset.as_deref(), changed_since.as_deref())?;
        log::info(format!("read {} postings", page.data.len()));
        let users: HashMap<String, api::User> = if map::needs_user_lookup(&page.data) {
            lever.users()?.into_iter().map(|u| (u.id.clone(), u)).collect()
        } else {
            HashMap::new()
        };
        let next = page.next.filter(|_| page.has_next);
        Ok(JobPage {
            jobs: page.data.into_iter().map(|p| map::job(p, &users)).collect(),
            next_cursor: paging::vendor_token_cursor(next),
        })
    }

    fn list_stages(config: &Config, _job_code: Option<String>) -> Result<Vec<Stage>, ConnectorError> {
        // One pipeline for every posting: the same answer with or without a job.
        Ok(map::stages(Client::new(config)?.stages()?))
    }

    fn push_candidate(config: &Config, request: PushRequest) -> Result<Pushed, ConnectorError> {
        push::push(&Client::new(config)?, &request)
    }

    fn candidate_statuses(config: &Config, refs: Vec<CandidateRef>) -> Result<Vec<CandidateStatus>, ConnectorError> {
        let lever = Client::new(config)?;
        let mut found = Vec::new();
        for r in refs {
            let opportunity = lever.opportunity(&r.application_id)?;
            found.push((r, opportunity));
        }
        // Read the lookups only when some opportunity needs them.
        let opportunities = || found.iter().filter_map(|(_, o)| o.as_ref());
        let hired: HashSet<String> = if opportunities().any(|o| o.archived.is_some()) {
            map::hired_reasons(&lever.archive_reasons()?)
        } else {
            HashSet::new()
        };
        let stage_names: HashMap<String, String> =
            if opportunities().any(|o| matches!(o.stage, Some(api::StageRef::Id(_)))) {
                lever.stages()?.into_iter().map(|s| (s.id, s.text)).collect()
            } else {
                HashMap::new()
            };
        Ok(found
            .into_iter()
            .map(|(r, opportunity)| match opportunity {
                Some(o) => map::candidate_status(r, &o, &hired, &stage_names),
                None => map::deleted_status(r),
            })
            .collect())
    }

    fn move_application(config: &Config, request: MoveRequest) -> Result<(), ConnectorError> {
        Client::new(config)?.change_stage(&request.ref_.application_id, &request.stage_id)
    }
}

atsbridge_sdk::export_connector!(Lever);
