//! The assembled host: runtime, store and sync engine over one data
//! directory, and the operations the CLI, the API and the demo share.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::plugin::LoadError;
use crate::plugin::allowed_hosts::AllowedHosts;
use crate::plugin::settings::{self, SettingsError};
use crate::runtime::{Runtime, RuntimeError, RuntimeOptions};
use crate::scheduler::{Schedule, ScheduleError, Scheduler, SchedulerLimits};
use crate::store::{Connection, NewConnection, NewSetting, SecretError, SecretKey, Store, StoreError, StoredSetting};
use crate::sync::SyncEngine;

/// Why the host could not start or an operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(
        "{0}\n(another atsbridge process, e.g. `serve` or `demo`, is using this data directory. A serving host writes its \
         address to `api-address` in the data directory and the CLI then goes through its API; if that file is missing, \
         stop the other process, or point ATSBRIDGE_URL at its API)"
    )]
    StoreInUse(StoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    SecretKey(#[from] SecretError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Plugin(#[from] LoadError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    #[error(transparent)]
    Sync(#[from] crate::sync::SyncError),
    #[error("account `{0}` does not exist")]
    UnknownAccount(String),
    #[error("invalid extra host for connection `{name}`: {source}")]
    InvalidExtraHost {
        name: String,
        #[source]
        source: crate::plugin::allowed_hosts::PatternError,
    },
    #[error("plugin `{plugin}` is used by connection(s) {connections}; remove them first or pass --force")]
    PluginInUse { plugin: String, connections: String },
}

/// Runtime, store and engine over one data directory.
#[derive(Clone)]
pub struct App {
    pub data_dir: PathBuf,
    pub runtime: Runtime,
    pub store: Store,
    pub engine: SyncEngine,
    /// The operator's directory of plugins the API may install from by
    /// name (`plugin-dir`), if configured.
    pub plugin_dir: Option<PathBuf>,
    /// Where public pages are reached (`https://jobs.example.com`), for
    /// the public URLs the API shows; `None`: paths only.
    pub public_base_url: Option<String>,
}

impl App {
    /// Opens everything under `data_dir`; the secret key comes from the
    /// environment (`ATSBRIDGE_SECRET_KEY`) unless given.
    pub fn open(data_dir: &Path, key: Option<SecretKey>) -> Result<App, AppError> {
        Self::open_with(data_dir, key, RuntimeOptions::default())
    }

    /// Opens the data directory of a configuration: its key (environment or
    /// key file), plugin ceilings and run retention.
    pub fn open_config(config: &Config) -> Result<App, AppError> {
        let key = config.secret_key()?;
        let mut app = Self::open_with(&config.data_dir, key, runtime_options(config))?;
        app.store = app.store.with_runs_kept(config.runs_kept);
        app.public_base_url = config.public_base_url.clone();
        app.engine = SyncEngine::new(app.store.clone(), app.runtime.clone())
            .with_recordings(crate::recording::RecordingDir::new(&config.data_dir));
        app.plugin_dir = config.plugin_dir.clone();
        Ok(app)
    }

    /// Like [`App::open`], with the operator's runtime settings.
    pub fn open_with(data_dir: &Path, key: Option<SecretKey>, options: RuntimeOptions) -> Result<App, AppError> {
        let runtime = Runtime::open(data_dir, options)?;
        let key = match key {
            Some(k) => Some(k),
            None => SecretKey::from_env()?,
        };
        let store = Store::open(&data_dir.join("store"), key).map_err(|e| match e {
            e @ StoreError::InUse { .. } => AppError::StoreInUse(e),
            e => AppError::Store(e),
        })?;
        let engine = SyncEngine::new(store.clone(), runtime.clone())
            .with_recordings(crate::recording::RecordingDir::new(data_dir));
        Ok(App { data_dir: data_dir.to_path_buf(), runtime, store, engine, plugin_dir: None, public_base_url: None })
    }

    /// Adds a connection after checking its settings against the plugin's
    /// config schema and its schedule against the account's time zone.
    pub fn add_connection(
        &self,
        account_id: &str,
        name: &str,
        plugin_id: &str,
        values: &BTreeMap<String, String>,
        extra_hosts: Vec<String>,
        schedule: Option<String>,
    ) -> Result<Connection, AppError> {
        let account =
            self.store.account(account_id)?.ok_or_else(|| AppError::UnknownAccount(account_id.to_string()))?;
        let installed = self.runtime.registry().current(plugin_id)?;
        let settings = settings::validate(&installed.record.info.config_schema, values)?
            .into_iter()
            .map(|(key, value)| (key, NewSetting::from(value)))
            .collect();
        AllowedHosts::parse(&extra_hosts)
            .map_err(|source| AppError::InvalidExtraHost { name: name.to_string(), source })?;
        Schedule::new(schedule.as_deref(), &account.time_zone, name)?;
        Ok(self.store.add_connection(NewConnection {
            account_id: account.id,
            name: name.to_string(),
            plugin_id: plugin_id.to_string(),
            settings,
            extra_hosts,
            schedule,
        })?)
    }

    /// A connection for display (CLI and API): secret values are never
    /// shown, not even encrypted.
    pub fn connection_view(&self, c: &Connection) -> Result<serde_json::Value, AppError> {
        let settings: BTreeMap<&str, String> = c
            .settings
            .iter()
            .map(|(k, v)| {
                let shown = match v {
                    StoredSetting::Text(t) => t.clone(),
                    StoredSetting::Secret(_) => "********".to_string(),
                };
                (k.as_str(), shown)
            })
            .collect();
        let state = self.store.state(&c.id)?;
        Ok(serde_json::json!({
            "id": c.id, "account": c.account_id, "name": c.name, "plugin": c.plugin_id, "enabled": c.enabled,
            "settings": settings, "extra_hosts": c.extra_hosts, "schedule": c.schedule,
            "flagged": state.flagged, "consecutive_failures": state.consecutive_failures,
            "last_success_unix": state.last_success_unix, "next_run_unix": state.next_run_unix,
        }))
    }

    /// Removes a plugin, refusing while connections use it unless forced.
    pub fn remove_plugin(&self, id: &str, force: bool) -> Result<(), AppError> {
        let users = self.store.connections_using_plugin(id)?;
        if !users.is_empty() && !force {
            let connections = users.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ");
            return Err(AppError::PluginInUse { plugin: id.to_string(), connections });
        }
        self.runtime.registry().remove(id)?;
        self.runtime.unload(id);
        Ok(())
    }

    /// The connection's schedule, in its account's time zone.
    fn schedule_of(&self, scheduler: &Scheduler<SyncEngine>, connection: &Connection) -> Result<Schedule, AppError> {
        let account = self
            .store
            .account(&connection.account_id)?
            .ok_or_else(|| AppError::UnknownAccount(connection.account_id.clone()))?;
        Ok(scheduler.schedule(connection.schedule.as_deref(), &account.time_zone, &connection.id)?)
    }

    /// A scheduler holding every enabled connection. A connection whose
    /// last slot passed without a run (the host was down) fires once now.
    pub fn scheduler(&self, limits: SchedulerLimits) -> Result<Scheduler<SyncEngine>, AppError> {
        self.engine.recover_interrupted()?;
        let scheduler = Scheduler::new(self.engine.clone(), limits);
        let now = Utc::now();
        for connection in self.store.connections()?.into_iter().filter(|c| c.enabled) {
            let schedule = match self.schedule_of(&scheduler, &connection) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(connection = %connection.id, error = %e, "not scheduled: bad schedule");
                    continue;
                }
            };
            let catch_up = missed_slot(&self.store, &connection, &schedule, now)?;
            scheduler.upsert(&connection.id, &connection.plugin_id, schedule, catch_up);
            // A retry promised before a restart is kept, not lost for a day.
            let state = self.store.state(&connection.id)?;
            if let Some(at) =
                state.next_retry_unix.filter(|_| !state.flagged).and_then(|t| DateTime::from_timestamp(t, 0))
            {
                scheduler.restore_retry(&connection.id, at);
            }
        }
        Ok(scheduler)
    }
}

/// Whether the connection's most recent slot passed without a run starting
/// after it. A connection that never ran counts as missed.
fn missed_slot(
    store: &Store,
    connection: &Connection,
    schedule: &Schedule,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    let Some(last_slot) = schedule.previous_at_or_before(now) else { return Ok(false) };
    let last_start = store.runs(&connection.id, 1)?.first().map(|r| r.started_unix);
    Ok(last_start.is_none_or(|started| started < last_slot.timestamp()))
}

/// The runtime options of a configuration: the operator's ceilings for
/// every plugin, and an instance pool whose slots hold the largest memory a
/// plugin may get. Every way into a data directory (the assembled app, the
/// CLI's store-less plugin commands, the demo) opens its runtime with these.
pub fn runtime_options(config: &Config) -> RuntimeOptions {
    let mut options = RuntimeOptions {
        operator: crate::runtime::limits::OperatorLimits {
            max_memory_bytes: config.max_plugin_memory_mib << 20,
            max_call_timeout: std::time::Duration::from_secs(config.max_call_secs),
        },
        ..RuntimeOptions::default()
    };
    // The pool's slots must hold the largest memory a plugin may get.
    options.engine.max_memory_bytes = options.engine.max_memory_bytes.max(config.max_plugin_memory_mib << 20);
    options.engine.perf_map = config.perf_map;
    options
}

/// Shared, so the scheduler and the API can hold the same app.
pub type SharedApp = Arc<App>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Startup ends the runs a crash left running from the index of
    /// unfinished runs, and reads only each connection's newest run for its
    /// schedule: an old run it cannot even decode does not stop it.
    #[tokio::test]
    async fn startup_reads_the_unfinished_index_not_every_run() {
        use crate::store::testutil::{HEX_KEY, commit_jobs, connection, corrupt_run};
        use crate::store::{RunOutcome, SecretKey, Trigger};

        let dir = tempfile::tempdir().unwrap();
        let app = App::open(dir.path(), Some(SecretKey::parse(HEX_KEY).unwrap())).unwrap();
        let c = connection(&app.store, "Greenhouse");
        for _ in 0..3 {
            commit_jobs(&app.store, &c.id, &[("J1", "Engineer")]);
        }
        let crashed = app.store.start_run(&c.id, Trigger::Scheduled, "greenhouse", "1.0.0", true).unwrap();
        corrupt_run(&app.store, &c.id, 1);
        // Reading every run would fail on run 1.
        assert!(app.store.runs(&c.id, 100).is_err());

        let scheduler = app.scheduler(SchedulerLimits::default()).unwrap();
        assert_eq!(scheduler.len(), 1);
        let newest = app.store.runs(&c.id, 1).unwrap().remove(0);
        assert_eq!((newest.seq, newest.outcome), (crashed.seq, RunOutcome::Interrupted));
        assert!(app.store.unfinished_runs().unwrap().is_empty());
    }
}
