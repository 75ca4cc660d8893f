//! The binary's whole `main`: parse the command line, set up logging, run
//! the command on a tokio runtime, print the error chain.
//!
//! It lives in the library, not in `main.rs`, for build time: the async
//! functions' state machines (and closures) are compiled in whichever crate
//! instantiates them, so a `#[tokio::main]` in the binary that polled
//! `Cli::run` had every command compiled a second time there (the binary
//! was an 80-second unit of a release build with a 41-line `main.rs`).
//! Polled here, the commands are compiled once, with the library.

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use super::{Cli, Command, LogFormat};

/// Runs the command line of this process; its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // A long-running host logs what it does; one-shot commands print their
    // own results and log only problems. ATSBRIDGE_LOG overrides both.
    let default = match cli.command {
        Command::Serve(_) | Command::MockAts(_) => "warn,atsbridge=info,atsbridge_mock_ats=info",
        _ => "warn",
    };
    let filter = EnvFilter::try_from_env("ATSBRIDGE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        // One JSON object per line; every field (`plugin`, `connection`,
        // ...) is a JSON field, and messages are JSON strings, so nothing a
        // plugin logs can forge a line.
        LogFormat::Json => logs.json().flatten_event(true).with_current_span(false).init(),
        LogFormat::Text => logs.init(),
    }
    let ran = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::Error::new(e).context("cannot start the async runtime"))
        .and_then(|runtime| runtime.block_on(cli.run()));
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Our error messages often already name their cause; print each
            // link of the chain only once.
            let mut message = e.to_string();
            for cause in e.chain().skip(1) {
                let cause = cause.to_string();
                if !message.contains(&cause) {
                    message = format!("{message}: {cause}");
                }
            }
            // Errors may carry a plugin's or a manifest's text.
            eprintln!("error: {}", crate::display::escape(&message));
            ExitCode::FAILURE
        }
    }
}
