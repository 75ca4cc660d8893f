//! Test guest: the shipped Greenhouse connector's own modules (compiled
//! from `plugins/greenhouse/src`), with deliberate changes in what it
//! answers: job titles, stage names and the stage names of candidate
//! statuses are upper-cased. The HTTP requests it makes are the shipped
//! connector's, so a recorded Greenhouse run answers every one of them, and
//! replaying the recording against it must name `title`, the stages' `name`
//! and the statuses' `stage_name` as changed, and nothing else. It
//! authenticates like the shipped one (OAuth client credentials), so its
//! replay also needs the host's token step answered from the recording.

#![allow(dead_code)]

#[path = "../../../../plugins/greenhouse/src/api.rs"]
pub mod api;
#[path = "../../../../plugins/greenhouse/src/client.rs"]
pub mod client;
#[path = "../../../../plugins/greenhouse/src/map.rs"]
pub mod map;

use atsbridge_sdk::prelude::*;

use client::Harvest;

/// Greenhouse, with the deliberate changes.
pub struct GreenhouseVariant;

impl Connector for GreenhouseVariant {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "Greenhouse (variant)".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            vendor: "atsbridge tests".into(),
            capabilities: vec![Capability::Stages, Capability::CandidateStatus],
            config_schema: vec![
                SettingSpec::secret("client-id", "Client ID").required(),
                SettingSpec::secret("client-secret", "Client secret").required(),
                SettingSpec::text("user-id", "Acting user ID").required(),
                SettingSpec::url("base-url", "Harvest base URL").default_value(client::DEFAULT_BASE_URL),
                SettingSpec::url("token-url", "Token URL").default_value(client::DEFAULT_TOKEN_URL),
            ],
        }
    }

    fn check(config: &Config) -> Result<(), ConnectorError> {
        Harvest::new(config)?.check()
    }

    fn list_jobs(
        config: &Config,
        cursor: Option<String>,
        changed_since: Option<String>,
    ) -> Result<JobPage, ConnectorError> {
        let mut page = Harvest::new(config)?.job_page(cursor.as_deref(), changed_since.as_deref())?;
        for job in &mut page.jobs {
            // A deliberate change.
            job.title = job.title.to_uppercase();
        }
        Ok(page)
    }

    fn list_stages(config: &Config, job_code: Option<String>) -> Result<Vec<Stage>, ConnectorError> {
        let harvest = Harvest::new(config)?;
        let mut stages = match job_code {
            Some(code) => {
                let stages = harvest.job_stages(map::harvest_id("job code", &code)?)?;
                map::stages(stages, Some(&code))
            }
            None => map::stages(harvest.all_job_stages()?, None),
        };
        // A deliberate change: every stage renamed.
        for stage in &mut stages {
            stage.name = stage.name.to_uppercase();
        }
        Ok(stages)
    }

    fn candidate_statuses(config: &Config, refs: Vec<CandidateRef>) -> Result<Vec<CandidateStatus>, ConnectorError> {
        let harvest = Harvest::new(config)?;
        refs.into_iter()
            .map(|r| {
                let mut status = match harvest.application(&r.application_id)? {
                    Some(application) => map::candidate_status(r, &application),
                    None => map::deleted_status(r),
                };
                // A deliberate change.
                status.stage_name = status.stage_name.map(|n| n.to_uppercase());
                Ok(status)
            })
            .collect()
    }
}

atsbridge_sdk::export_connector!(GreenhouseVariant);
