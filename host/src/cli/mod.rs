//! The `atsbridge` command line.

mod account_cmd;
mod connection_cmd;
mod demo;
mod plugin_cmd;
mod plugin_test;
mod plugin_new;
mod positions_cmd;
mod progress;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::app::App;
use crate::runtime::{Runtime, RuntimeOptions};

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
    /// Run the host: the scheduler and the HTTP API.
    Serve(serve::ServeArgs),
    /// The whole flow against mock Greenhouse and Lever servers.
    Demo(demo::DemoArgs),
    /// Run a mock ATS server for manual testing (`mock-ats greenhouse --jobs 1000`).
    MockAts(atsbridge_mock_ats::MockAtsArgs),
}

impl Cli {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<()> {
        let json = self.json;
        match self.command {
            // Installing and listing plugins never needs the store, so they
            // work while a host is serving from the same data directory.
            Command::Plugin(cmd) if !cmd.needs_store() => {
                let runtime = Runtime::open(&self.data_dir, RuntimeOptions::default())?;
                plugin_cmd::run_without_store(cmd, &runtime, json).await
            }
            Command::Plugin(cmd) => plugin_cmd::run_with_store(cmd, &App::open(&self.data_dir, None)?, json),
            Command::Account(cmd) => account_cmd::run(cmd, &App::open(&self.data_dir, None)?, json),
            Command::Connection(cmd) => connection_cmd::run(cmd, &App::open(&self.data_dir, None)?, json).await,
            Command::Positions(cmd) => positions_cmd::run(cmd, &App::open(&self.data_dir, None)?, json),
            Command::Serve(args) => serve::run(args, App::open(&self.data_dir, None)?).await,
            Command::Demo(args) => demo::run(args, &self.data_dir).await,
            Command::MockAts(args) => Ok(atsbridge_mock_ats::run_cli(args).await?),
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
