//! The `atsbridge` command line.

mod account_cmd;
pub mod client;
mod connection_cmd;
mod demo;
mod plugin_cmd;
mod plugin_new;
mod plugin_test;
mod positions_cmd;
mod progress;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::app::App;
use crate::runtime::{Runtime, RuntimeOptions};

/// Highest `--max-plugin-memory-mib`: a wasm32 linear memory cannot exceed
/// 4 GiB, and the pool reserves a slot of this size per memory.
pub const MAX_PLUGIN_MEMORY_MIB: u64 = 4096;
/// Highest `--max-call-secs`: one day. Beyond that a call is stuck, and a
/// deadline far in the future would overflow the clock's arithmetic.
pub const MAX_CALL_SECS: u64 = 86_400;

/// atsbridge: sync jobs from Applicant Tracking Systems and push candidates
/// back, through sandboxed connector plugins.
#[derive(Debug, Parser)]
#[command(name = "atsbridge", version, about)]
pub struct Cli {
    /// Where plugins, compiled artifacts and the store live.
    #[arg(long, global = true, env = "ATSBRIDGE_DATA_DIR", default_value = ".atsbridge")]
    pub data_dir: PathBuf,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// The most linear memory any plugin may be granted per call, in MiB;
    /// a manifest asking for more gets this.
    #[arg(long, global = true, env = "ATSBRIDGE_MAX_PLUGIN_MEMORY_MIB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=MAX_PLUGIN_MEMORY_MIB))]
    pub max_plugin_memory_mib: u64,
    /// The longest wall-clock time any plugin call may take, in seconds.
    #[arg(long, global = true, env = "ATSBRIDGE_MAX_CALL_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=MAX_CALL_SECS))]
    pub max_call_secs: u64,
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
    /// Whether a host is serving this data directory (commands then go to
    /// its API) or commands open the store directly.
    Status,
    /// Run the host: the scheduler and the HTTP API.
    Serve(serve::ServeArgs),
    /// The whole flow against mock Greenhouse and Lever servers.
    Demo(demo::DemoArgs),
    /// Run a mock ATS server for manual testing (`mock-ats greenhouse --jobs 1000`).
    MockAts(atsbridge_mock_ats::MockAtsArgs),
    /// Internal: compile one component in a resource-limited child process.
    #[command(name = "__compile", hide = true)]
    Compile(CompileArgs),
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
        let options = self.runtime_options();
        let open = |dir: &std::path::Path| App::open_with(dir, None, options.clone());
        let data_dir = self.data_dir.clone();
        let backend = || client::Backend::connect(&data_dir, options.clone());
        match self.command {
            // Scaffolding writes only the new project: no data directory.
            Command::Plugin(plugin_cmd::PluginCommand::New { name, dir, sdk }) => {
                plugin_new::run(&name, &dir, sdk.as_deref(), json)
            }
            // The bounded compiler child: compiles one component and exits.
            Command::Compile(args) => {
                let engine = crate::runtime::EngineOptions {
                    pooling_instances: args.pooling_instances,
                    max_memory_bytes: args.max_memory_bytes,
                    keep_resident_bytes: args.keep_resident_bytes,
                };
                std::process::exit(crate::runtime::compiler::run_child(&args.input, &args.output, engine))
            }
            // A running host gets installs and removals through its API.
            Command::Plugin(cmd) if cmd.goes_through_api() => match client::Backend::remote(&self.data_dir).await {
                Ok(Some(api)) => plugin_cmd::run_through_api(cmd, &api, json).await,
                _ if matches!(cmd, plugin_cmd::PluginCommand::Install { .. }) => {
                    let runtime = Runtime::open(&self.data_dir, options.clone())?;
                    plugin_cmd::run_without_store(cmd, &runtime, json).await
                }
                _ => plugin_cmd::run_with_store(cmd, &open(&self.data_dir)?, json).await,
            },
            // Listing, inspecting and testing plugins never need the store,
            // so they work beside a host serving the same data directory.
            Command::Plugin(cmd) => {
                let runtime = Runtime::open(&self.data_dir, options.clone())?;
                plugin_cmd::run_without_store(cmd, &runtime, json).await
            }
            Command::Account(cmd) => account_cmd::run(cmd, &backend().await?, json).await,
            Command::Connection(cmd) => connection_cmd::run(cmd, &backend().await?, json).await,
            Command::Positions(cmd) => positions_cmd::run(cmd, &backend().await?, json).await,
            Command::Status => status(&data_dir, options.clone(), json).await,
            Command::Serve(args) => serve::run(args, open(&self.data_dir)?).await,
            Command::Demo(args) => demo::run(args, &self.data_dir, options.clone()).await,
            Command::MockAts(args) => Ok(atsbridge_mock_ats::run_cli(args).await?),
        }
    }
}

/// `atsbridge status`.
async fn status(data_dir: &std::path::Path, options: RuntimeOptions, json: bool) -> anyhow::Result<()> {
    let backend = client::Backend::connect(data_dir, options).await?;
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
            Some(c) => format!("{path}limit={}&cursor={}", crate::service::page::MAX_LIMIT, client::enc(c)),
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

impl Cli {
    /// The operator's ceilings for every plugin, from flags or environment.
    fn runtime_options(&self) -> RuntimeOptions {
        let operator = crate::runtime::limits::OperatorLimits {
            max_memory_bytes: self.max_plugin_memory_mib << 20,
            max_call_timeout: std::time::Duration::from_secs(self.max_call_secs),
        };
        let mut options = RuntimeOptions { operator, ..RuntimeOptions::default() };
        // The pool's slots must hold the largest memory a plugin may get.
        options.engine.max_memory_bytes = options.engine.max_memory_bytes.max(self.max_plugin_memory_mib << 20);
        options
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
