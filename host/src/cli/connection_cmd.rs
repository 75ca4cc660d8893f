//! `atsbridge connection ...`

use anyhow::{Context, bail};
use clap::Subcommand;
use serde_json::json;

use super::progress::SyncBar;
use crate::app::App;
use crate::store::{Connection, MAX_POSITIONS_PAGE, PositionFilter, SyncRun, Trigger};
use crate::sync::{ListingMode, RunOptions};

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
    List,
    /// Test a connection's settings against the ATS.
    Test { id: String },
    /// Sync now, with progress, and print what changed.
    Sync {
        id: String,
        /// List every job from the first page (notices jobs removed from the
        /// ATS), instead of only the changes since the last run.
        #[arg(long, conflicts_with = "incremental")]
        full: bool,
        /// Ask the ATS only for jobs changed since the last run.
        #[arg(long)]
        incremental: bool,
        /// Close positions as removed even past the mass-close guard (after
        /// checking that the ATS really removed those jobs).
        #[arg(long, requires = "full")]
        confirm_removals: bool,
    },
    /// Recent sync runs.
    Runs {
        id: String,
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Make the next sync a full listing from scratch (positions are kept).
    Reset { id: String },
}

pub async fn run(cmd: ConnectionCommand, app: &App, json: bool) -> anyhow::Result<()> {
    match cmd {
        ConnectionCommand::Add { account, plugin, name, settings, settings_from_env, allow_hosts, schedule } => {
            let values = super::parse_settings(&settings, &settings_from_env)?;
            let c = app.add_connection(&account, &name, &plugin, &values, allow_hosts, schedule)?;
            if json {
                return super::print_json(&app.connection_view(&c)?);
            }
            println!("added connection {} ({} via {})", c.id, c.name, c.plugin_id);
        }
        ConnectionCommand::List => {
            let all = app.store.connections()?;
            if json {
                let views = all.iter().map(|c| app.connection_view(c)).collect::<Result<Vec<_>, _>>()?;
                return super::print_json(&views);
            }
            println!(
                "{:<28} {:<16} {:<14} {:<8} {:<8} {:<20} NEXT SYNC",
                "ID", "ACCOUNT", "PLUGIN", "ENABLED", "FLAGGED", "LAST SUCCESS"
            );
            for c in all {
                let state = app.store.state(&c.id)?;
                let last = state.last_success_unix.map(format_unix).unwrap_or_else(|| "never".into());
                let next = state.next_run_unix.map(format_unix).unwrap_or_else(|| "at the next `serve`".into());
                println!(
                    "{:<28} {:<16} {:<14} {:<8} {:<8} {last:<20} {next}",
                    c.id, c.account_id, c.plugin_id, c.enabled, state.flagged
                );
            }
        }
        ConnectionCommand::Test { id } => {
            let c = connection(app, &id)?;
            let ctx = app.engine.connection_context(&c)?;
            let plugin = app.runtime.plugin(&c.plugin_id).await?;
            match plugin.check(&ctx).await {
                Ok(()) if json => super::print_json(&json!({ "ok": true }))?,
                Ok(()) => println!("ok: {} accepted the settings", plugin.id()),
                Err(e) => bail!("connection test failed: {e}"),
            }
        }
        ConnectionCommand::Sync { id, full, incremental, confirm_removals } => {
            let c = connection(app, &id)?;
            let bar = SyncBar::new(&c.id, json);
            let mode = match (full, incremental) {
                (true, _) => ListingMode::Full,
                (_, true) => ListingMode::Incremental,
                _ => ListingMode::Auto,
            };
            let options = RunOptions { trigger: Trigger::Manual, mode, confirm_removals };
            let result = app.engine.sync_with(&c.id, options, &bar).await;
            bar.finish();
            let run = result?;
            if json {
                return super::print_json(&run);
            }
            print_run_summary(app, &run)?;
        }
        ConnectionCommand::Runs { id, limit } => {
            connection(app, &id)?;
            let runs = app.store.runs(&id, limit)?;
            if json {
                return super::print_json(&runs);
            }
            println!(
                "{:<5} {:<10} {:<20} {:<8} {:<9} {:>7} {:>7} {:>7} {:>7} {:>9} OUTCOME",
                "RUN", "TRIGGER", "STARTED", "SECS", "LISTING", "CREATED", "UPDATED", "CLOSED", "REMOVED", "UNCHANGED"
            );
            for r in runs {
                let secs = r.finished_unix.map(|f| (f - r.started_unix).to_string()).unwrap_or_else(|| "-".into());
                let listing = if r.full_listing { "full" } else { "changes" };
                println!(
                    "{:<5} {:<10} {:<20} {:<8} {:<9} {:>7} {:>7} {:>7} {:>7} {:>9} {}",
                    r.seq,
                    format!("{:?}", r.trigger).to_lowercase(),
                    format_unix(r.started_unix),
                    secs,
                    listing,
                    r.counts.created,
                    r.counts.updated,
                    r.counts.closed,
                    r.counts.removed,
                    r.counts.unchanged,
                    outcome(&r)
                );
            }
        }
        ConnectionCommand::Reset { id } => {
            connection(app, &id)?;
            app.store.reset_connection(&id)?;
            if json {
                return super::print_json(&json!({ "reset": id }));
            }
            println!("reset {id}: the next sync lists every job from scratch (positions are kept)");
        }
    }
    Ok(())
}

fn connection(app: &App, id: &str) -> anyhow::Result<Connection> {
    app.store
        .connection(id)?
        .with_context(|| format!("connection `{id}` does not exist (see `atsbridge connection list`)"))
}

pub fn outcome(r: &SyncRun) -> String {
    match &r.outcome {
        crate::store::RunOutcome::Failed { kind, message } => format!("failed ({kind}): {message}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Positions a run summary lists at most.
const SUMMARY_LINES: usize = 10;

/// Up to `limit` positions the run changed, reading the connection's
/// positions one page at a time and stopping once enough were found (none
/// at all when the run changed nothing).
fn changed_positions(app: &App, run: &SyncRun, limit: usize) -> anyhow::Result<Vec<crate::store::Position>> {
    let c = &run.counts;
    if c.created + c.updated + c.closed + c.removed + c.reopened == 0 {
        return Ok(Vec::new());
    }
    let filter = PositionFilter { connection_id: Some(run.connection_id.clone()), ..Default::default() };
    let mut found = Vec::new();
    let mut after = None;
    loop {
        let page = app.store.positions_page(&filter, after, MAX_POSITIONS_PAGE)?;
        let Some(last) = page.last() else { return Ok(found) };
        after = Some(last.id);
        found.extend(page.into_iter().filter(|p| p.updated_at_unix >= run.started_unix).take(limit - found.len()));
        if found.len() >= limit {
            return Ok(found);
        }
    }
}

/// Counts, then the positions this run touched.
pub fn print_run_summary(app: &App, run: &SyncRun) -> anyhow::Result<()> {
    let c = &run.counts;
    println!(
        "{}: run {} {} in {}s · {} pages · {} jobs · {} created · {} updated · {} closed · {} removed in ATS · {} reopened · {} unchanged",
        run.connection_id,
        run.seq,
        outcome(run),
        run.finished_unix.unwrap_or(run.started_unix) - run.started_unix,
        c.pages,
        c.jobs_seen,
        c.created,
        c.updated,
        c.closed,
        c.removed,
        c.reopened,
        c.unchanged
    );
    // The counts say how many changed; the first few are found page by
    // page, so a big connection is neither read whole nor held in memory.
    let total = c.created + c.updated + c.closed + c.removed + c.reopened;
    let shown = changed_positions(app, run, SUMMARY_LINES)?;
    for p in &shown {
        let what = if p.created_at_unix >= run.started_unix {
            "created"
        } else if p.is_closed() {
            "closed"
        } else {
            "updated"
        };
        println!("  {what:<8} #{:<6} {:<12} {}", p.id, p.ats_job_code, p.name.effective());
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
