//! `mock-ats`: serve a mock ATS until Ctrl-C.
//!
//! `cargo run --release -p atsbridge-mock-ats -- greenhouse --jobs 1000 --port 8080 --rate-limit 50/10s`

use clap::Parser;

/// Serve a faithful mock of an ATS REST API on 127.0.0.1.
#[derive(Parser)]
#[command(name = "mock-ats", version)]
struct Cli {
    #[command(flatten)]
    args: atsbridge_mock_ats::MockAtsArgs,
}

fn main() -> anyhow::Result<()> {
    atsbridge_mock_ats::run_cli_blocking(Cli::parse().args)
}
