//! Connections: create (settings checked against the plugin's schema),
//! update (settings, secrets included, keeping positions and history),
//! enable and disable, test, sync now in the background, reset, runs,
//! delete.

use std::collections::BTreeMap;
use std::time::Duration;

use super::dto::{
    ConnectionDto, CreateConnectionRequest, RunCountsDto, RunDto, RunErrorDto, SyncAccepted, UpdateConnectionRequest,
};
use super::page::{Page, PageQuery};
use super::{Caller, Service, ServiceError, valid_plugin_id};
use crate::plugin::settings;
use crate::scheduler::Schedule;
use crate::store::{Connection, ConnectionChange, RunOutcome, StoredSetting, SyncRun, Trigger, plain_settings};

/// How long "sync now" waits for its run to be recorded before answering
/// `queued` (the run waits for a free slot under the concurrency limits).
const SYNC_START_WAIT: Duration = Duration::from_secs(2);
/// How often it looks while waiting.
const SYNC_START_POLL: Duration = Duration::from_millis(10);
/// Shown instead of a secret setting's value.
const MASK: &str = "********";
/// The longest connection name accepted, in characters.
const MAX_NAME_CHARS: usize = 200;

/// A run's answer while it is still finishing (see
/// [`crate::sync::InFlight`]): `running`, whatever its record says.
fn running_until_done(mut run: RunDto, finishing: bool) -> RunDto {
    if finishing && run.outcome != "queued" {
        run.outcome = "running".to_string();
    }
    run
}

pub fn run_dto(r: SyncRun) -> RunDto {
    let (outcome, error) = match r.outcome {
        RunOutcome::Running => ("running", None),
        RunOutcome::Succeeded => ("succeeded", None),
        RunOutcome::Interrupted => ("interrupted", None),
        RunOutcome::Failed { kind, message } => ("failed", Some(RunErrorDto { kind, message })),
    };
    let c = r.counts;
    RunDto {
        connection: r.connection_id,
        seq: r.seq,
        trigger: serde_json::to_value(r.trigger).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
        started_unix: r.started_unix,
        finished_unix: r.finished_unix,
        plugin: r.plugin_id,
        plugin_version: r.plugin_version,
        full_listing: r.full_listing,
        counts: RunCountsDto {
            pages: c.pages,
            jobs_seen: c.jobs_seen,
            created: c.created,
            updated: c.updated,
            closed: c.closed,
            unchanged: c.unchanged,
            removed: c.removed,
            reopened: c.reopened,
        },
        outcome: outcome.to_string(),
        error,
        warnings: r.warnings,
        metering: r.metering.map(|m| super::metering_dto::RunMeteringDto::of(m, &c)),
    }
}

fn checked_name(name: &str) -> Result<(), ServiceError> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ServiceError::Invalid(format!("a name must have 1 to {MAX_NAME_CHARS} characters")));
    }
    Ok(())
}

impl Service {
    /// A connection for display: secret values are never shown, not even
    /// encrypted.
    pub fn connection_dto(&self, c: &Connection) -> Result<ConnectionDto, ServiceError> {
        let state = self.app.store.state(&c.id)?;
        let settings = c
            .settings
            .iter()
            .map(|(k, v)| {
                let shown = match v {
                    StoredSetting::Text(t) => t.clone(),
                    StoredSetting::Secret(_) => MASK.to_string(),
                };
                (k.clone(), shown)
            })
            .collect();
        let next = self.scheduler.next_run(&c.id).map(|t| t.to_rfc3339()).or_else(|| {
            state.next_run_unix.and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map(|t| t.to_rfc3339())
        });
        Ok(ConnectionDto {
            id: c.id.clone(),
            account: c.account_id.clone(),
            name: c.name.clone(),
            plugin: c.plugin_id.clone(),
            enabled: c.enabled,
            settings,
            extra_hosts: c.extra_hosts.clone(),
            schedule: c.schedule.clone(),
            flagged: state.flagged,
            consecutive_failures: state.consecutive_failures,
            last_success_unix: state.last_success_unix,
            last_full_listing_unix: state.last_full_listing_unix,
            next_sync: next.filter(|_| c.enabled),
            stale_stage_mappings: self.stale_mapping_summary(&c.id, &c.account_id)?,
        })
    }

    /// Connections the caller sees, optionally of one account, a page at a
    /// time from the store.
    pub fn list_connections(
        &self,
        caller: &Caller,
        account: Option<&str>,
        query: &PageQuery,
    ) -> Result<Page<ConnectionDto>, ServiceError> {
        if let Some(a) = account {
            self.visible_account(caller, a)?;
        }
        let keep = |c: &Connection| caller.sees(&c.account_id) && account.is_none_or(|a| a == c.account_id);
        let page = Page::fetch(
            query,
            |s| Some(s.to_string()),
            |c: &Connection| c.id.clone(),
            Clone::clone,
            |_| true,
            |after, n| Ok(self.app.store.connections_page(after.map(String::as_str), n, keep)?),
        )?;
        let items = page.items.iter().map(|c| self.connection_dto(c)).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, next_cursor: page.next_cursor })
    }

    pub fn connection(&self, caller: &Caller, id: &str) -> Result<ConnectionDto, ServiceError> {
        self.connection_dto(&self.visible_connection(caller, id)?)
    }

    /// Creates a connection; an account key may create them for its own
    /// account only.
    pub fn create_connection(
        &self,
        caller: &Caller,
        req: CreateConnectionRequest,
    ) -> Result<ConnectionDto, ServiceError> {
        self.visible_account(caller, &req.account)?;
        checked_name(&req.name)?;
        if !valid_plugin_id(&req.plugin) {
            return Err(ServiceError::BadPluginId(req.plugin));
        }
        let c = self.app.add_connection(
            &req.account,
            &req.name,
            &req.plugin,
            &req.settings,
            req.extra_hosts,
            req.schedule.filter(|s| !s.trim().is_empty()),
        )?;
        self.reschedule(&c.id)?;
        self.connection_dto(&c)
    }

    /// Changes a connection. Settings are merged over the stored ones and
    /// the result checked against the plugin's schema; the id, positions,
    /// edits and runs stay.
    pub fn update_connection(
        &self,
        caller: &Caller,
        id: &str,
        req: UpdateConnectionRequest,
    ) -> Result<ConnectionDto, ServiceError> {
        let c = self.visible_connection(caller, id)?;
        if let Some(name) = &req.name {
            checked_name(name)?;
        }
        let settings = if req.settings.is_empty() && req.remove_settings.is_empty() {
            None
        } else {
            let current = self.app.store.opened_settings(&c)?;
            let mut values: BTreeMap<String, String> = plain_settings(&current);
            for key in &req.remove_settings {
                values.remove(key);
            }
            values.extend(req.settings.clone());
            let installed = self.app.runtime.registry().current(&c.plugin_id)?;
            let validated = settings::validate(&installed.record.info.config_schema, &values)?;
            Some(validated.into_iter().map(|(key, value)| (key, crate::store::NewSetting::from(value))).collect())
        };
        if let Some(hosts) = &req.extra_hosts {
            crate::plugin::allowed_hosts::AllowedHosts::parse(hosts)
                .map_err(|e| ServiceError::Invalid(format!("extra_hosts: {e}")))?;
        }
        let schedule = req.schedule.as_ref().map(|s| Some(s.trim().to_string()).filter(|s| !s.is_empty()));
        if let Some(expr) = &schedule {
            let account = self.visible_account(&Caller::Operator, &c.account_id)?;
            Schedule::new(expr.as_deref(), &account.time_zone, id).map_err(|e| ServiceError::Invalid(e.to_string()))?;
        }
        let change = ConnectionChange { name: req.name, settings, extra_hosts: req.extra_hosts, schedule };
        let updated = self.app.store.update_connection(id, change)?;
        self.reschedule(id)?;
        self.connection_dto(&updated)
    }

    /// Enables or disables a connection (a disabled one is not synced).
    pub fn set_connection_enabled(
        &self,
        caller: &Caller,
        id: &str,
        enabled: bool,
    ) -> Result<ConnectionDto, ServiceError> {
        self.visible_connection(caller, id)?;
        let c = self.app.store.set_connection_enabled(id, enabled)?;
        self.reschedule(id)?;
        self.connection_dto(&c)
    }

    /// Checks the stored settings against the ATS.
    pub async fn test_connection(&self, caller: &Caller, id: &str) -> Result<(), ServiceError> {
        let c = self.visible_connection(caller, id)?;
        let ctx = self.app.engine.connection_context(&c).map_err(ServiceError::internal)?;
        let plugin = self.app.runtime.plugin(&c.plugin_id).await?;
        plugin.check(&ctx).await.map_err(super::plugins::call_error)
    }

    /// Starts a sync in the background and answers with its run. `full`
    /// lists every job (so jobs deleted in the ATS are noticed now);
    /// otherwise only changes since the last run, where the connector can.
    /// A sync of the connection already going is joined, not doubled;
    /// with `record` ([`crate::recording`]) it is refused instead, since
    /// only a run recorded from its start is recorded.
    pub async fn sync_connection(
        &self,
        caller: &Caller,
        id: &str,
        full: bool,
        confirm_removals: bool,
        record: bool,
    ) -> Result<SyncAccepted, ServiceError> {
        if confirm_removals && !full {
            return Err(ServiceError::Invalid(
                "confirm_removals needs full=true: only a complete listing shows what the ATS removed".into(),
            ));
        }
        let c = self.visible_connection(caller, id)?;
        if !c.enabled {
            return Err(ServiceError::Disabled(id.to_string()));
        }
        let before = self.app.store.state(id)?.last_run_seq;
        if let Some(run) = self.app.store.run(id, before)?.filter(|r| r.outcome == RunOutcome::Running) {
            if record {
                return Err(ServiceError::Busy(id.to_string()));
            }
            return Ok(SyncAccepted {
                connection: id.to_string(),
                run: run.seq,
                full: run.full_listing,
                status: "running".into(),
            });
        }
        if record {
            self.arm_recording(caller, id)?;
        }
        let mode = if full { crate::sync::ListingMode::Full } else { crate::sync::ListingMode::Auto };
        let options = crate::sync::RunOptions { trigger: Trigger::Manual, mode, confirm_removals };
        let scheduler = self.scheduler.clone();
        let store = self.app.store.clone();
        let connection: String = id.to_string();
        // Spawned: the run belongs to the host, not to the request, so a
        // client that goes away cancels nothing.
        tokio::spawn(async move {
            let mut report = scheduler.run_now_with(&connection, options).await;
            // The last run's record can be over while the scheduler still
            // holds its slot for a moment: a request then joins that
            // finishing run, gets its report and starts nothing. No run
            // recorded since the request came: start this request's own.
            // (A request that joined a run going or queued sees that run
            // recorded, and starts nothing more.)
            if store.state(&connection).is_ok_and(|s| s.last_run_seq <= before) {
                report = scheduler.run_now_with(&connection, options).await;
            }
            tracing::info!(connection = %connection, ?report, "sync now finished");
        });
        let deadline = tokio::time::Instant::now() + SYNC_START_WAIT;
        loop {
            let seq = self.app.store.state(id)?.last_run_seq;
            if seq > before {
                let full = self.app.store.run(id, seq)?.is_some_and(|r| r.full_listing);
                return Ok(SyncAccepted { connection: id.to_string(), run: seq, full, status: "running".into() });
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(SyncAccepted { connection: id.to_string(), run: before + 1, full, status: "queued".into() });
            }
            tokio::time::sleep(SYNC_START_POLL).await;
        }
    }

    /// Makes the next sync a complete listing from scratch (positions stay).
    pub fn reset_connection(&self, caller: &Caller, id: &str) -> Result<ConnectionDto, ServiceError> {
        let c = self.visible_connection(caller, id)?;
        self.app.store.reset_connection(id)?;
        self.connection_dto(&c)
    }

    /// Runs, newest first, a page at a time from the store.
    pub fn runs(&self, caller: &Caller, id: &str, query: &PageQuery) -> Result<Page<RunDto>, ServiceError> {
        self.visible_connection(caller, id)?;
        let page = Page::fetch(
            query,
            |s| s.parse::<u64>().ok(),
            |r: &SyncRun| r.seq,
            u64::to_string,
            |_| true,
            |before, n| Ok(self.app.store.runs_page(id, before.copied(), n)?),
        )?;
        Ok(page.map(run_dto))
    }

    /// One run. The run a "sync now" is waiting to start shows as `queued`.
    pub fn run(&self, caller: &Caller, id: &str, seq: u64) -> Result<RunDto, ServiceError> {
        let c = self.visible_connection(caller, id)?;
        if let Some(run) = self.app.store.run(id, seq)? {
            // A run is over once all of its work is: its end is recorded
            // before the publish rules' pass over what it changed and before
            // its recording is written, so a caller that follows the run
            // (and may exit) finds both done.
            let finishing = self.app.engine.is_syncing(id) && self.app.store.state(id)?.last_run_seq == seq;
            return Ok(running_until_done(run_dto(run), finishing));
        }
        let last = self.app.store.state(id)?.last_run_seq;
        if seq == last + 1 && self.scheduler.is_running(id) {
            return Ok(RunDto {
                connection: id.to_string(),
                seq,
                trigger: "manual".into(),
                started_unix: 0,
                finished_unix: None,
                plugin: c.plugin_id,
                plugin_version: String::new(),
                full_listing: false,
                counts: RunCountsDto::default(),
                outcome: "queued".into(),
                error: None,
                warnings: Vec::new(),
                metering: None,
            });
        }
        Err(ServiceError::NotFound { what: "run", id: format!("{id}/{seq}") })
    }

    /// Deletes a connection with its positions and runs; refused while it
    /// syncs.
    pub fn delete_connection(&self, caller: &Caller, id: &str) -> Result<(), ServiceError> {
        self.visible_connection(caller, id)?;
        if self.scheduler.is_running(id) {
            return Err(ServiceError::Busy(id.to_string()));
        }
        self.scheduler.remove(id);
        self.app.store.delete_connection(id)?;
        // Its publish rules go with it (public ids of its positions then
        // answer 404: their positions are gone).
        self.app.store.delete_publish_rules(id)?;
        Ok(())
    }

    /// Puts the connection's current schedule in the scheduler (or takes a
    /// disabled or deleted one out).
    pub(crate) fn reschedule(&self, id: &str) -> Result<(), ServiceError> {
        let Some(c) = self.app.store.connection(id)?.filter(|c| c.enabled) else {
            self.scheduler.remove(id);
            return Ok(());
        };
        let account = self.visible_account(&Caller::Operator, &c.account_id)?;
        let schedule = self
            .scheduler
            .schedule(c.schedule.as_deref(), &account.time_zone, id)
            .map_err(|e| ServiceError::Invalid(e.to_string()))?;
        self.scheduler.upsert(id, &c.plugin_id, schedule, false);
        Ok(())
    }
}
