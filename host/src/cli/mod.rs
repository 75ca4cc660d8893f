//! The `atsbridge` command line.

mod account_cmd;
mod backup_cmd;
mod candidates_cmd;
pub mod client;
pub mod connection_cmd;
mod demo;
pub mod entry;
mod key_cmd;
pub mod metering_view;
mod outbox_cmd;
pub mod plugin_cmd;
pub mod plugin_new;
mod plugin_replay;
mod plugin_test;
mod positions_cmd;
mod progress;
mod rules_cmd;
mod serve;
pub mod stages_cmd;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::app::App;
use crate::config::{Config, Overrides};
use crate::runtime::Runtime;
use crate::runtime::limits::{MAX_CALL_SECS, MAX_PLUGIN_MEMORY_MIB};

/// atsbridge: sync jobs from Applicant Tracking Systems and push candidates
/// back, through sandboxed connector plugins.
#[derive(Debug, Parser)]
#[command(name = "atsbridge", version, about)]
pub struct Cli {
    /// Where plugins, compiled artifacts and the store live [default: the
    /// configuration file's `data-dir`, else `atsbridge` under the user's
    /// data directory; `demo`: .atsbridge].
    #[arg(long, global = true, env = "ATSBRIDGE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// The configuration file [default: atsbridge.toml in the data directory].
    #[arg(long, global = true, env = "ATSBRIDGE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log lines as text, or as one JSON object per line.
    #[arg(long, global = true, env = "ATSBRIDGE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// The most linear memory any plugin may be granted per call, in MiB;
    /// a manifest asking for more gets this [default: 256].
    #[arg(long, global = true, env = "ATSBRIDGE_MAX_PLUGIN_MEMORY_MIB",
          value_parser = clap::value_parser!(u64).range(1..=MAX_PLUGIN_MEMORY_MIB))]
    pub max_plugin_memory_mib: Option<u64>,
    /// The longest wall-clock time any plugin call may take, in seconds
    /// [default: 300].
    #[arg(long, global = true, env = "ATSBRIDGE_MAX_CALL_SECS",
          value_parser = clap::value_parser!(u64).range(1..=MAX_CALL_SECS))]
    pub max_call_secs: Option<u64>,
    /// Write the names of plugins' compiled functions to
    /// `/tmp/perf-<pid>.map`, so that `perf record`/`perf report` of this
    /// process show where a connector spends its time.
    #[arg(long, global = true, env = "ATSBRIDGE_PERF_MAP", action = clap::ArgAction::SetTrue,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub perf_map: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Install, list, inspect and remove connector plugins.
    #[command(subcommand)]
    Plugin(plugin_cmd::PluginCommand),
    /// Accounts (a customer; each has its own time zone and connections).
    #[command(subcommand)]
    Account(account_cmd::AccountCommand),
    /// Connections of an account to an ATS through a plugin.
    #[command(subcommand)]
    Connection(connection_cmd::ConnectionCommand),
    /// Positions synced from the ATS, and local edits to them.
    #[command(subcommand)]
    Positions(positions_cmd::PositionsCommand),
    /// Send candidates to the ATS, follow pushes, auto-push rules, reconcile.
    #[command(subcommand)]
    Outbox(outbox_cmd::OutboxCommand),
    /// Candidates: create, list, show, move between stages, history.
    #[command(subcommand)]
    Candidates(candidates_cmd::CandidatesCommand),
    /// Auto-publish rules of a connection: filters and ad templates.
    #[command(subcommand)]
    Rules(rules_cmd::RulesCommand),
    /// Whether a host is serving this data directory (commands then go to
    /// its API) or commands open the store directly.
    Status,
    /// Run the host: the scheduler and the HTTP API.
    Serve(serve::ServeArgs),
    /// The whole flow against mock Greenhouse and Lever servers.
    Demo(demo::DemoArgs),
    /// Run a mock ATS server for manual testing (`mock-ats greenhouse --jobs 1000`).
    MockAts(atsbridge_mock_ats::MockAtsArgs),
    /// The store's secret key: generate one, check it, rotate to a new one.
    #[command(subcommand)]
    Key(key_cmd::KeyCommand),
    /// Save a consistent snapshot of a running host's store to a file.
    Backup(backup_cmd::BackupArgs),
    /// Load a snapshot into the data directory of a stopped host.
    Restore(backup_cmd::RestoreArgs),
    /// Internal: compile one component in a resource-limited child process.
    #[command(name = "__compile", hide = true)]
    Compile(CompileArgs),
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, fields included (`plugin`, `connection`, ...).
    Json,
}

/// Arguments of the internal compiler process (see `runtime::compiler`).
#[derive(Debug, clap::Args)]
pub struct CompileArgs {
    input: PathBuf,
    output: PathBuf,
    #[arg(long)]
    max_memory_bytes: u64,
    #[arg(long)]
    keep_resident_bytes: usize,
    #[arg(long)]
    pooling_instances: Option<u32>,
}

impl Cli {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<()> {
        let json = self.json;
        // Scaffolding and compiling write only their own output: they need
        // no configuration and no data directory.
        if let Command::Plugin(plugin_cmd::PluginCommand::New { name, dir, sdk }) = &self.command {
            return plugin_new::run(name, dir, sdk.as_deref(), json);
        }
        if let Command::Compile(args) = &self.command {
            let engine = crate::runtime::EngineOptions {
                pooling_instances: args.pooling_instances,
                max_memory_bytes: args.max_memory_bytes,
                keep_resident_bytes: args.keep_resident_bytes,
                perf_map: false,
            };
            std::process::exit(crate::runtime::compiler::run_child(&args.input, &args.output, engine))
        }
        let config = self.config()?;
        let options = crate::app::runtime_options(&config);
        let data_dir = config.data_dir.clone();
        let open = || App::open_config(&config);
        let backend = || client::Backend::connect(&config);
        match self.command {
            // Handled above, before any configuration is read.
            Command::Plugin(plugin_cmd::PluginCommand::New { .. }) | Command::Compile(_) => Ok(()),
            Command::Plugin(cmd @ plugin_cmd::PluginCommand::InstallFromDirectory { .. }) => {
                plugin_cmd::install_from_directory(cmd, &backend().await?, json).await
            }
            // A running host gets installs and removals through its API.
            Command::Plugin(cmd) if cmd.goes_through_api() => match client::Backend::remote(&data_dir).await {
                Ok(Some(api)) => plugin_cmd::run_through_api(cmd, &api, json).await,
                _ if matches!(cmd, plugin_cmd::PluginCommand::Install { .. }) => {
                    let runtime = Runtime::open(&data_dir, options.clone())?;
                    plugin_cmd::run_without_store(cmd, &runtime, json).await
                }
                _ => plugin_cmd::run_with_store(cmd, &open()?, json).await,
            },
            // Listing, inspecting and testing plugins never need the store,
            // so they work beside a host serving the same data directory.
            Command::Plugin(cmd) => {
                let runtime = Runtime::open(&data_dir, options.clone())?;
                plugin_cmd::run_without_store(cmd, &runtime, json).await
            }
            Command::Account(cmd) => account_cmd::run(cmd, &backend().await?, json).await,
            Command::Connection(cmd) => connection_cmd::run(cmd, &backend().await?, json).await,
            Command::Positions(cmd) => positions_cmd::run(cmd, &backend().await?, json).await,
            Command::Outbox(cmd) => outbox_cmd::run(cmd, &backend().await?, json).await,
            Command::Candidates(cmd) => candidates_cmd::run(cmd, &backend().await?, json).await,
            Command::Rules(cmd) => rules_cmd::run(cmd, &backend().await?, json).await,
            Command::Status => status(&config, json).await,
            Command::Serve(args) => serve::run(args, &config).await,
            Command::Demo(args) => demo::run(args, &data_dir, options.clone()).await,
            Command::MockAts(args) => Ok(atsbridge_mock_ats::run_cli(args).await?),
            Command::Key(cmd) => key_cmd::run(cmd, &config, json),
            Command::Backup(args) => backup_cmd::backup(args, &config, json).await,
            Command::Restore(args) => backup_cmd::restore(args, &config, json),
        }
    }

    /// The configuration: flags over environment over file over defaults.
    pub fn config(&self) -> anyhow::Result<Config> {
        let listen = match &self.command {
            Command::Serve(args) => args.listen,
            _ => None,
        };
        let default_data_dir =
            matches!(self.command, Command::Demo(_)).then(|| PathBuf::from(crate::config::DEMO_DATA_DIR));
        Ok(Config::load(&Overrides {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            listen,
            max_plugin_memory_mib: self.max_plugin_memory_mib,
            max_call_secs: self.max_call_secs,
            perf_map: self.perf_map,
            default_data_dir,
        })?)
    }
}

/// `atsbridge status`.
async fn status(config: &Config, json: bool) -> anyhow::Result<()> {
    let backend = client::Backend::connect(config).await?;
    let status: Option<crate::service::dto::StatusDto> =
        if backend.is_remote() { Some(backend.get("/api/v1/status").await?) } else { None };
    if json {
        return print_json(&serde_json::json!({
            "serving": backend.is_remote(),
            "description": backend.describe(),
            "host": status,
        }));
    }
    println!("{}", backend.describe());
    if let Some(s) = status {
        println!(
            "host version {}, {} connection(s) scheduled, acting as {}",
            s.version, s.scheduled_connections, s.caller
        );
    }
    Ok(())
}

/// Every item of a list, page by page. `path` ends in `?` or `&`.
async fn all_pages<T: serde::de::DeserializeOwned>(api: &client::Backend, path: &str) -> anyhow::Result<Vec<T>> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}limit={}&cursor={}", crate::service::page::MAX_LIMIT, client::query_value(c)),
            None => format!("{path}limit={}", crate::service::page::MAX_LIMIT),
        };
        let page: crate::service::page::Page<T> = api.get(&url).await?;
        items.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(items),
        }
    }
}

/// Settings from `--set key=value` and `--set-from-env key=VAR` flags.
fn parse_settings(pairs: &[String], from_env: &[String]) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    use anyhow::Context;
    let mut values = std::collections::BTreeMap::new();
    for pair in pairs {
        let (k, v) = pair.split_once('=').with_context(|| format!("`{pair}` is not key=value"))?;
        values.insert(k.to_string(), v.to_string());
    }
    for pair in from_env {
        let (k, var) = pair.split_once('=').with_context(|| format!("`{pair}` is not key=VAR"))?;
        let v = std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?;
        values.insert(k.to_string(), v);
    }
    Ok(values)
}

/// Prints a value as pretty JSON.
fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
