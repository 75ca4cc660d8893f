//! The `mock-ats` command line, reusable as a subcommand of `atsbridge`:
//!
//! ```no_run
//! use clap::{Parser, Subcommand};
//!
//! #[derive(Parser)]
//! struct Cli {
//!     #[command(subcommand)]
//!     command: Command,
//! }
//!
//! #[derive(Subcommand)]
//! enum Command {
//!     /// Serve a mock ATS.
//!     MockAts(atsbridge_mock_ats::MockAtsArgs),
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     match Cli::parse().command {
//!         Command::MockAts(args) => atsbridge_mock_ats::run_cli(args).await?,
//!     }
//!     Ok(())
//! }
//! ```

use crate::{MockAts, MockConfig, MockError, RateLimit, Vendor};

/// Arguments of `mock-ats <vendor> ...`.
#[derive(Clone, Debug, clap::Args)]
pub struct MockAtsArgs {
    /// Which ATS to imitate.
    #[arg(value_enum)]
    pub vendor: Vendor,
    /// Number of seeded jobs.
    #[arg(long, default_value_t = 100)]
    pub jobs: usize,
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Seed for generated data and ids.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Fixed-window rate limit, e.g. `50/10s` (none by default).
    #[arg(long)]
    pub rate_limit: Option<RateLimit>,
    /// Override the vendor's maximum page size.
    #[arg(long)]
    pub page_size_max: Option<usize>,
    /// Use this API key instead of the derived one.
    #[arg(long)]
    pub api_key: Option<String>,
}

impl MockAtsArgs {
    /// The [`MockConfig`] these arguments describe.
    pub fn config(&self) -> MockConfig {
        MockConfig {
            jobs: self.jobs,
            seed: self.seed,
            port: self.port,
            rate_limit: self.rate_limit,
            page_size_max: self.page_size_max,
            api_key: self.api_key.clone(),
            ..MockConfig::default()
        }
    }
}

/// A human summary of a running mock: URLs and credentials.
pub fn describe(ats: &MockAts) -> String {
    let c = ats.credentials();
    let cfg = ats.config();
    let mut out = format!(
        "mock-ats {} serving {} jobs (seed {})\nbase URL:      {}\nAPI base URL:  {}\n",
        ats.vendor(),
        cfg.jobs,
        cfg.seed,
        ats.base_url(),
        ats.api_base_url()
    );
    let auth = match ats.vendor() {
        Vendor::Greenhouse => "v3: OAuth client credentials -> Bearer; v1: Basic <api key>:",
        Vendor::Lever | Vendor::Ashby => "Basic <api key>:",
        Vendor::Workable => "Bearer <api key>",
        Vendor::SmartRecruiters => "X-SmartToken: <api key>",
        Vendor::BambooHr => "Basic <api key>:x (company domain `acme`)",
    };
    out.push_str(&format!("auth:          {auth}\napi key:       {}\n", c.api_key));
    if let (Some(url), Some(id), Some(secret)) = (ats.token_url(), &c.client_id, &c.client_secret) {
        out.push_str(&format!("token URL:     {url}\nclient id:     {id}\nclient secret: {secret}\n"));
    }
    out.push_str(&format!("acting user:   {}\n", c.user_id));
    if let Some(limit) = cfg.rate_limit {
        out.push_str(&format!("rate limit:    {} requests per {:?}\n", limit.limit, limit.window));
    }
    out
}

/// Starts the mock, prints [`describe`], and serves until Ctrl-C.
pub async fn run_cli(args: MockAtsArgs) -> Result<(), MockError> {
    let ats = MockAts::start(args.vendor, args.config()).await?;
    println!("{}Press Ctrl-C to stop.", describe(&ats));
    let _ = tokio::signal::ctrl_c().await;
    ats.shutdown().await;
    Ok(())
}

/// [`run_cli`] on a runtime of its own: the `mock-ats` binary's whole
/// `main`. It is here, not in the binary, for build time: async state
/// machines are compiled in the crate that polls them, so a
/// `#[tokio::main]` in the binary had the whole mock compiled a second
/// time there (a 40-second unit of a release build).
pub fn run_cli_blocking(args: MockAtsArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run_cli(args))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: MockAtsArgs,
    }

    #[test]
    fn parses_the_documented_command_line() {
        let argv =
            ["mock-ats", "greenhouse", "--jobs", "1000", "--port", "8080", "--seed", "9", "--rate-limit", "50/10s"];
        let cli = Cli::try_parse_from(argv).unwrap();
        let c = cli.args.config();
        assert_eq!(cli.args.vendor, Vendor::Greenhouse);
        assert_eq!((c.jobs, c.port, c.seed, c.rate_limit), (1000, 8080, 9, Some(RateLimit::GREENHOUSE)));
        assert_eq!(Cli::try_parse_from(["mock-ats", "bamboohr"]).unwrap().args.vendor, Vendor::BambooHr);
        assert_eq!(Cli::try_parse_from(["mock-ats", "smartrecruiters"]).unwrap().args.vendor, Vendor::SmartRecruiters);
        assert!(Cli::try_parse_from(["mock-ats", "icims"]).is_err());
        assert!(Cli::try_parse_from(["mock-ats", "lever", "--rate-limit", "fast"]).is_err());
    }
}
