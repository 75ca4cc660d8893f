//! `atsbridge connection ...`

use std::time::Duration;

use anyhow::bail;
use axum::http::Method;
use clap::Subcommand;

use super::client::{Backend, query_value, segment};
use crate::app::App;
use crate::service::dto::{
    CheckResult, ConnectionDto, CreateConnectionRequest, RunDto, SyncAccepted, UpdateConnectionRequest,
};
use crate::store::SyncRun;

/// How often `connection sync` looks at its run's progress.
const PROGRESS_POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Subcommand)]
pub enum ConnectionCommand {
    /// Add a connection; settings are checked against the plugin's schema.
    Add {
        /// The account it belongs to.
        #[arg(long)]
        account: String,
        /// The plugin (ATS connector) to use.
        #[arg(long)]
        plugin: String,
        /// A name, unique within the account (e.g. the ATS's name).
        #[arg(long)]
        name: String,
        /// A setting, `key=value` (repeatable). Secret settings are encrypted.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// A setting read from an environment variable, `key=VAR`, so secrets
        /// stay out of shell history (repeatable).
        #[arg(long = "set-from-env", value_name = "KEY=VAR")]
        settings_from_env: Vec<String>,
        /// An extra allowed host for this connection, e.g. a self-hosted ATS
        /// (`https://ats.example.com`) (repeatable).
        #[arg(long = "allow-host", value_name = "PATTERN")]
        allow_hosts: Vec<String>,
        /// A cron expression in the account's time zone (default: daily
        /// early morning).
        #[arg(long)]
        schedule: Option<String>,
    },
    /// List connections.
    List {
        /// Only this account's.
        #[arg(long)]
        account: Option<String>,
    },
    /// Show one connection (secret settings masked).
    Show { id: String },
    /// Change settings (e.g. rotate a credential), name, hosts or schedule.
    /// Positions, their edits and the run history are kept.
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        /// A setting to change, `key=value` (repeatable); others are kept.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        settings: Vec<String>,
        /// A setting from an environment variable, `key=VAR` (repeatable).
        #[arg(long = "set-from-env", value_name = "KEY=VAR")]
        settings_from_env: Vec<String>,
        /// An optional setting to drop (repeatable).
        #[arg(long = "unset", value_name = "KEY")]
        unset: Vec<String>,
        /// Replaces the extra allowed hosts (repeatable).
        #[arg(long = "allow-host", value_name = "PATTERN")]
        allow_hosts: Vec<String>,
        /// A cron expression; `""` goes back to the daily default.
        #[arg(long)]
        schedule: Option<String>,
    },
    /// Sync this connection again (scheduled and on request).
    Enable { id: String },
    /// Stop syncing this connection; its positions stay.
    Disable { id: String },
    /// Delete a connection with its positions and runs.
    Delete { id: String },
    /// Test a connection's settings against the ATS.
    Test { id: String },
    /// Sync now, with progress, and print what changed. Only changes since
    /// the last run where the connector can; `--full` lists every job, so
    /// jobs deleted in the ATS are closed now.
    Sync {
        id: String,
        #[arg(long)]
        full: bool,
        /// Close positions as removed even past the mass-close guard (after
        /// checking that the ATS really removed those jobs).
        #[arg(long, requires = "full")]
        confirm_removals: bool,
        /// Record the run's I/O into FILE (mode 0600): every HTTP exchange
        /// the connector made, as it saw it, with secrets and the host's
        /// auth headers replaced by markers, and every export call's result.
        /// `atsbridge plugin replay FILE <plugin>` replays another build
        /// against it.
        #[arg(long, value_name = "FILE")]
        record: Option<std::path::PathBuf>,
    },
    /// Record the connection's next run, whatever starts it (the daily
    /// schedule included); fetch it afterwards with
    /// `GET /api/v1/connections/{id}/runs/{run}/recording`.
    RecordNext { id: String },
    /// Recent sync runs, with what each cost (plugin CPU, calls, HTTP).
    Runs {
        id: String,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Under each run, its cost per export and per host.
        #[arg(long, visible_alias = "cost")]
        metering: bool,
    },
    /// Make the next sync a full listing from scratch (positions are kept).
    Reset { id: String },
    /// The ATS's hiring stages and how the account's stages map to them.
    #[command(subcommand)]
    Stages(super::stages_cmd::ConnectionStagesCommand),
}

fn path(id: &str) -> String {
    format!("/api/v1/connections/{}", segment(id))
}

pub async fn run(cmd: ConnectionCommand, api: &Backend, json: bool) -> anyhow::Result<()> {
    match cmd {
        ConnectionCommand::Stages(cmd) => return super::stages_cmd::run_connection(cmd, api, json).await,
        ConnectionCommand::Add { account, plugin, name, settings, settings_from_env, allow_hosts, schedule } => {
            let settings = super::parse_settings(&settings, &settings_from_env)?;
            let req = CreateConnectionRequest { account, name, plugin, settings, extra_hosts: allow_hosts, schedule };
            let c: ConnectionDto = api.post("/api/v1/connections", &req).await?;
            if json {
                return super::print_json(&c);
            }
            println!("added connection {} ({} via {})", c.id, c.name, c.plugin);
        }
        ConnectionCommand::List { account } => {
            let filter = account.map(|a| format!("account={}&", query_value(&a))).unwrap_or_default();
            let all: Vec<ConnectionDto> = super::all_pages(api, &format!("/api/v1/connections?{filter}")).await?;
            if json {
                return super::print_json(&all);
            }
            println!(
                "{:<28} {:<16} {:<14} {:<8} {:<8} {:<20} NEXT SYNC",
                "ID", "ACCOUNT", "PLUGIN", "ENABLED", "FLAGGED", "LAST SUCCESS"
            );
            for c in all {
                let last = c.last_success_unix.map(format_unix).unwrap_or_else(|| "never".into());
                let next = c.next_sync.clone().unwrap_or_else(|| "at the next `serve`".into());
                println!(
                    "{:<28} {:<16} {:<14} {:<8} {:<8} {last:<20} {next}",
                    c.id, c.account, c.plugin, c.enabled, c.flagged
                );
            }
        }
        ConnectionCommand::Show { id } => {
            let c: ConnectionDto = api.get(&path(&id)).await?;
            if json {
                return super::print_json(&c);
            }
            print_connection(&c);
        }
        ConnectionCommand::Update { id, name, settings, settings_from_env, unset, allow_hosts, schedule } => {
            let settings = super::parse_settings(&settings, &settings_from_env)?;
            let req = UpdateConnectionRequest {
                name,
                settings,
                remove_settings: unset,
                extra_hosts: (!allow_hosts.is_empty()).then_some(allow_hosts),
                schedule,
            };
            let c: ConnectionDto = api.send(Method::PATCH, &path(&id), Some(&req)).await?;
            if json {
                return super::print_json(&c);
            }
            println!("updated connection {}; its positions, edits and runs are kept", c.id);
        }
        ConnectionCommand::Enable { id } => {
            let c: ConnectionDto = api.post(&format!("{}/enable", path(&id)), &()).await?;
            if json {
                return super::print_json(&c);
            }
            println!("enabled {}; next sync: {}", c.id, c.next_sync.as_deref().unwrap_or("at the next `serve`"));
        }
        ConnectionCommand::Disable { id } => {
            let c: ConnectionDto = api.post(&format!("{}/disable", path(&id)), &()).await?;
            if json {
                return super::print_json(&c);
            }
            println!("disabled {}; it is not synced until enabled again", c.id);
        }
        ConnectionCommand::Delete { id } => {
            let () = api.send(Method::DELETE, &path(&id), None::<&()>).await?;
            if json {
                return super::print_json(&serde_json::json!({ "deleted": id }));
            }
            println!("deleted connection {id} with its positions and runs");
        }
        ConnectionCommand::Test { id } => {
            let r: CheckResult = api
                .post(&format!("{}/test", path(&id)), &())
                .await
                .map_err(|e| anyhow::anyhow!("connection test failed: {e:#}"))?;
            if json {
                return super::print_json(&r);
            }
            println!("ok: the ATS accepted the settings of {id}");
        }
        ConnectionCommand::Sync { id, full, confirm_removals, record } => {
            let run = sync_and_follow(api, &id, full, confirm_removals, record.is_some(), json).await?;
            if let Some(file) = &record {
                save_recording(api, &id, run.seq, file).await?;
                if !json {
                    println!("recorded run {} to {}", run.seq, file.display());
                }
            }
            if json {
                return super::print_json(&run);
            }
            println!("{}", run_line(&run));
            if run.outcome == "failed" {
                bail!("sync failed: {}", run.error.map(|e| e.message).unwrap_or_default());
            }
        }
        ConnectionCommand::Runs { id, limit, metering } => {
            let page: crate::service::page::Page<RunDto> =
                api.get(&format!("{}/runs?limit={limit}", path(&id))).await?;
            if json {
                return super::print_json(&page.items);
            }
            println!(
                "{:<5} {:<10} {:<20} {:<8} {:<9} {:>7} {:>7} {:>7} {:>7} {:>9} {} OUTCOME",
                "RUN",
                "TRIGGER",
                "STARTED",
                "SECS",
                "LISTING",
                "CREATED",
                "UPDATED",
                "CLOSED",
                "REMOVED",
                "UNCHANGED",
                super::metering_view::header()
            );
            for r in page.items {
                let secs = r.finished_unix.map(|f| (f - r.started_unix).to_string()).unwrap_or_else(|| "-".into());
                let listing = if r.full_listing { "full" } else { "changes" };
                println!(
                    "{:<5} {:<10} {:<20} {:<8} {:<9} {:>7} {:>7} {:>7} {:>7} {:>9} {} {}",
                    r.seq,
                    r.trigger,
                    format_unix(r.started_unix),
                    secs,
                    listing,
                    r.counts.created,
                    r.counts.updated,
                    r.counts.closed,
                    r.counts.removed,
                    r.counts.unchanged,
                    super::metering_view::cells(r.metering.as_ref()),
                    outcome_dto(&r)
                );
                if let Some(m) = r.metering.as_ref().filter(|_| metering) {
                    super::metering_view::detail(m).iter().for_each(|line| println!("{line}"));
                }
            }
        }
        ConnectionCommand::RecordNext { id } => {
            let armed: crate::service::recordings::RecordingArmed =
                api.post(&format!("{}/record-next", path(&id)), &()).await?;
            if json {
                return super::print_json(&armed);
            }
            println!("{}", record_next_line(api, &armed.connection));
        }
        ConnectionCommand::Reset { id } => {
            let _: ConnectionDto = api.post(&format!("{}/reset", path(&id)), &()).await?;
            if json {
                return super::print_json(&serde_json::json!({ "reset": id }));
            }
            println!("reset {id}: the next sync lists every job from scratch (positions are kept)");
        }
    }
    Ok(())
}

/// What `record-next` says: where the recording will be.
pub fn record_next_line(api: &Backend, id: &str) -> String {
    let recording = api.shown_url(&format!("{}/runs/<run>/recording", path(id)));
    format!("the next run of {id} will be recorded: GET {recording}")
}

/// Starts a sync and follows its run to the end with a progress bar.
async fn sync_and_follow(
    api: &Backend,
    id: &str,
    full: bool,
    confirm_removals: bool,
    record: bool,
    json: bool,
) -> anyhow::Result<RunDto> {
    let query = format!("full={full}&confirm_removals={confirm_removals}&record={record}");
    let accepted: SyncAccepted = api.post(&format!("{}/sync?{query}", path(id)), &()).await?;
    let bar = super::progress::SyncBar::new(id, json);
    let run_path = format!("{}/runs/{}", path(id), accepted.run);
    let run = loop {
        let run: RunDto = api.get(&run_path).await?;
        bar.show(&run);
        if run.outcome != "running" && run.outcome != "queued" {
            break run;
        }
        tokio::time::sleep(PROGRESS_POLL).await;
    };
    bar.finish();
    Ok(run)
}

/// Fetches run `seq`'s recording and writes it to `file` (mode 0600,
/// replaced whole).
async fn save_recording(api: &Backend, id: &str, seq: u64, file: &std::path::Path) -> anyhow::Result<()> {
    let bytes = api
        .get_bytes(&format!("{}/runs/{seq}/recording", path(id)))
        .await
        .map_err(|e| anyhow::anyhow!("the run's recording is not available: {e:#}"))?;
    let file = file.to_path_buf();
    tokio::task::spawn_blocking(move || crate::recording::write_private_atomic(&file, &bytes)).await??;
    Ok(())
}

fn print_connection(c: &ConnectionDto) {
    println!("{} · {} · account {} · plugin {}", c.id, c.name, c.account, c.plugin);
    println!("  enabled:   {}{}", c.enabled, if c.flagged { " (flagged: keeps failing)" } else { "" });
    println!("  schedule:  {}", c.schedule.as_deref().unwrap_or("daily, early morning in the account's time zone"));
    println!("  next sync: {}", c.next_sync.as_deref().unwrap_or("-"));
    for (k, v) in &c.settings {
        println!("  {k:<12} {v}");
    }
    if !c.extra_hosts.is_empty() {
        println!("  extra hosts: {}", c.extra_hosts.join(", "));
    }
    stale_mapping_lines(c).iter().for_each(|line| println!("{line}"));
}

/// What `connection show` says of stale stage mappings (nothing when none).
pub fn stale_mapping_lines(c: &ConnectionDto) -> Vec<String> {
    let s = &c.stale_stage_mappings;
    let mut lines = Vec::new();
    if s.count > 0 {
        let stages: Vec<String> =
            s.stages.iter().map(|st| format!("{} ({})", st.stage, crate::display::escape(&st.stage_name))).collect();
        lines.push(format!(
            "  STALE stage mappings: {} (the ATS no longer has their stage; never used): {}",
            s.count,
            stages.join(", ")
        ));
    }
    if s.unchecked > 0 {
        lines.push(format!(
            "  {} connection-wide stage mapping(s) not checked against every cached job pipeline here",
            s.unchecked
        ));
    }
    if !lines.is_empty() {
        lines.push(format!("  see `atsbridge connection stages show {}`", c.id));
    }
    lines
}

fn outcome_dto(r: &RunDto) -> String {
    match &r.error {
        Some(e) => format!("{} ({}): {}", r.outcome, e.kind, e.message),
        None => r.outcome.clone(),
    }
}

/// One line: counts and outcome.
fn run_line(run: &RunDto) -> String {
    let c = &run.counts;
    format!(
        "{}: run {} {} in {}s · {} pages · {} jobs · {} created · {} updated · {} closed · {} removed in ATS · {} reopened · {} unchanged",
        run.connection,
        run.seq,
        outcome_dto(run),
        run.finished_unix.unwrap_or(run.started_unix) - run.started_unix,
        c.pages,
        c.jobs_seen,
        c.created,
        c.updated,
        c.closed,
        c.removed,
        c.reopened,
        c.unchanged
    )
}

/// Positions a run summary lists at most.
const SUMMARY_LINES: usize = 10;

/// Up to `limit` positions the run changed, with what happened to each,
/// the run's latest changes first: read from the run's events (the event
/// log's newest records), never from the connection's positions, and not
/// at all when the run changed nothing.
fn changed_positions(
    app: &App,
    run: &SyncRun,
    limit: usize,
) -> anyhow::Result<Vec<(crate::store::EventKind, crate::store::Position)>> {
    let c = &run.counts;
    if c.created + c.updated + c.closed + c.removed + c.reopened == 0 {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for (kind, id) in app.store.changes_of_run(&run.connection_id, run.seq, run.started_unix, limit)? {
        // Deleted since (its connection was removed): nothing to show.
        if let Some(p) = app.store.position(id)? {
            found.push((kind, p));
        }
    }
    Ok(found)
}

/// Counts, then the positions this run touched (for the demo, which holds
/// the store itself). The counts say how many changed; the few shown come
/// from the run's events, so a big connection is never read.
pub fn print_run_summary(app: &App, run: &SyncRun) -> anyhow::Result<()> {
    println!("{}", run_line(&crate::service::connections::run_dto(run.clone())));
    let c = &run.counts;
    let total = c.created + c.updated + c.closed + c.removed + c.reopened;
    let shown = changed_positions(app, run, SUMMARY_LINES)?;
    for (kind, p) in &shown {
        let what = kind.as_str().trim_start_matches("position.");
        println!("  {what:<9} #{:<6} {:<12} {}", p.id, p.ats_job_code, p.name.effective());
    }
    if total > shown.len() as u64 {
        println!(
            "  ... and {} more (atsbridge positions list --connection {})",
            total - shown.len() as u64,
            run.connection_id
        );
    }
    Ok(())
}

pub fn format_unix(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| t.to_string())
}
