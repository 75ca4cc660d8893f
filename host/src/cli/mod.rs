//! The `atsbridge` command line.

mod plugin_cmd;
mod serve;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

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
    /// Run the host: the HTTP API (and the scheduler).
    Serve(serve::ServeArgs),
}

impl Cli {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<()> {
        let runtime = Runtime::open(&self.data_dir, RuntimeOptions::default())?;
        match self.command {
            Command::Plugin(cmd) => plugin_cmd::run(cmd, &runtime, self.json).await,
            Command::Serve(args) => serve::run(args, runtime).await,
        }
    }
}
