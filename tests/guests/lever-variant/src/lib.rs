//! Test guest: the shipped Lever connector's own modules (compiled from
//! `plugins/lever/src`), with one deliberate change in `list-jobs`: every
//! job title is upper-cased. Replaying a recorded Lever run against it must
//! name `title` as the changed field of every job and nothing else.
//! `list-stages` is the shipped one; pushes are not implemented.

#![allow(dead_code)]

#[path = "../../../../plugins/lever/src/api.rs"]
pub mod api;
#[path = "../../../../plugins/lever/src/client.rs"]
pub mod client;
#[path = "../../../../plugins/lever/src/map.rs"]
pub mod map;

use std::collections::HashMap;

use atsbridge_sdk::prelude::*;

use client::Lever as Client;

/// Lever, with titles upper-cased.
pub struct LeverVariant;

impl Connector for LeverVariant {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "Lever (variant)".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            vendor: "atsbridge tests".into(),
            capabilities: vec![Capability::Stages],
            config_schema: vec![
                SettingSpec::secret("api-key", "API key").required(),
                SettingSpec::text("perform-as", "Perform as (user ID)"),
                SettingSpec::url("base-url", "API base URL").default_value(client::DEFAULT_BASE_URL),
            ],
        }
    }

    fn check(config: &Config) -> Result<(), ConnectorError> {
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
        let users: HashMap<String, api::User> = if map::needs_user_lookup(&page.data) {
            lever.users()?.into_iter().map(|u| (u.id.clone(), u)).collect()
        } else {
            HashMap::new()
        };
        let next = page.next.filter(|_| page.has_next);
        Ok(JobPage {
            jobs: page
                .data
                .into_iter()
                .map(|p| {
                    let mut job = map::job(p, &users);
                    // The deliberate change.
                    job.title = job.title.to_uppercase();
                    job
                })
                .collect(),
            next_cursor: paging::vendor_token_cursor(next),
        })
    }

    fn list_stages(config: &Config, _job_code: Option<String>) -> Result<Vec<Stage>, ConnectorError> {
        Ok(map::stages(Client::new(config)?.stages()?))
    }
}

atsbridge_sdk::export_connector!(LeverVariant);
