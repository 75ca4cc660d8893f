//! `atsbridge plugin test`: the conformance kit ([`crate::conformance`]) on
//! the command line.

use anyhow::{Context, bail};
use atsbridge_mock_ats::Vendor;
use clap::{Args, ValueEnum};

use crate::conformance::{self, MOCK_JOBS, Suite};
use crate::plugin::allowed_hosts::AllowedHosts;
use crate::runtime::Runtime;

/// Run the conformance suite against an installed plugin.
///
/// With `--mock ATS` a mock of that ATS runs in this process and the bundled
/// connectors get their settings for it; another plugin passes them with
/// `--set`, where `{mock.base_url}`, `{mock.api_base_url}`,
/// `{mock.token_url}`, `{mock.api_key}`, `{mock.client_id}`,
/// `{mock.client_secret}` and `{mock.user_id}` stand for the mock's values.
/// With `--base-url URL` the suite runs against that server with the
/// `--set` settings; the fault checks go through a local fault proxy.
/// Prints the report as a table, JSON (`--format json` or the global
/// `--json`) or JUnit XML for CI, and exits non-zero when a check fails.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  atsbridge plugin test greenhouse --mock greenhouse\n  \
    atsbridge plugin test my-ats --mock lever --set base-url={mock.api_base_url} --set api-key={mock.api_key}\n  \
    atsbridge plugin test my-ats --base-url https://ats.example.com/api --set-from-env api-key=MY_ATS_KEY")]
pub struct TestArgs {
    /// The installed plugin to test.
    pub plugin: String,
    /// Start a mock of this ATS in-process and test against it.
    #[arg(long, value_enum, required_unless_present = "base_url", conflicts_with = "base_url")]
    pub mock: Option<Vendor>,
    /// Test against this server instead: passed as the `base-url` setting
    /// (unless `--set base-url=...` is given) and granted to the plugin.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// A setting, `key=value` (repeatable); overrides the bundled mock settings.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub settings: Vec<String>,
    /// A setting read from an environment variable, `key=VAR` (repeatable).
    #[arg(long = "set-from-env", value_name = "KEY=VAR")]
    pub settings_from_env: Vec<String>,
    /// Another host the plugin may reach, e.g. a token endpoint (repeatable).
    #[arg(long = "allow-host", value_name = "PATTERN")]
    pub allow_hosts: Vec<String>,
    /// With --base-url: let the push check create one test candidate.
    #[arg(long, requires = "base_url")]
    pub allow_writes: bool,
    /// Jobs the mock starts with.
    #[arg(long, default_value_t = MOCK_JOBS, requires = "mock")]
    pub jobs: usize,
    /// The call deadline of the slow-response check, in milliseconds (the
    /// kit's proxy holds the answer twice as long; at most 15000).
    #[arg(long, value_name = "MS", default_value_t = conformance::DEFAULT_SLOW_DEADLINE.as_millis() as u64,
          value_parser = clap::value_parser!(u64).range(100..=15_000))]
    pub slow_deadline_ms: u64,
    /// How to print the report (the global --json means `json`).
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
}

/// How `plugin test` prints its report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// A table for people.
    Table,
    /// The report as JSON.
    Json,
    /// JUnit XML, for CI systems that show test results.
    Junit,
}

/// Runs the suite, prints the report, and fails when a check failed.
pub async fn run(args: TestArgs, runtime: &Runtime, json: bool) -> anyhow::Result<()> {
    let plugin = runtime.plugin(&args.plugin).await.with_context(|| {
        format!("plugin `{}` is not usable (install it first: atsbridge plugin install ...)", args.plugin)
    })?;
    let overrides = super::parse_settings(&args.settings, &args.settings_from_env)?;
    let extra_hosts = AllowedHosts::parse(&args.allow_hosts).context("bad --allow-host")?;
    let slow_deadline = std::time::Duration::from_millis(args.slow_deadline_ms);
    let report = match (args.mock, &args.base_url) {
        (Some(vendor), _) => {
            let mock = conformance::start_mock_with(vendor, args.jobs, 0)
                .await
                .with_context(|| format!("cannot start the {vendor} mock"))?;
            let settings = conformance::settings_for_mock(&args.plugin, &mock, &overrides);
            if settings.is_empty() {
                bail!(
                    "`{}` is not a bundled connector: pass its settings with --set, using {} for the mock's values",
                    args.plugin,
                    conformance::PLACEHOLDERS.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ")
                );
            }
            let report = Suite::against_mock(plugin, &mock, settings)
                .with_extra_hosts(&extra_hosts)
                .with_slow_deadline(slow_deadline)
                .run()
                .await;
            mock.shutdown().await;
            report
        }
        (None, Some(base_url)) => {
            let url = url::Url::parse(base_url).with_context(|| format!("bad --base-url {base_url}"))?;
            let mut settings = overrides;
            settings.entry("base-url".to_string()).or_insert_with(|| base_url.clone());
            let origin = AllowedHosts::parse(&[url.origin().ascii_serialization()]).context("bad --base-url")?;
            Suite::against_server(plugin, settings)
                .with_extra_hosts(&origin.union(&extra_hosts))
                .allow_writes(args.allow_writes)
                .with_slow_deadline(slow_deadline)
                .run()
                .await
        }
        (None, None) => bail!("pass --mock ATS or --base-url URL"),
    };
    match (args.format, json) {
        (ReportFormat::Json, _) | (ReportFormat::Table, true) => super::print_json(&report)?,
        (ReportFormat::Junit, _) => print!("{}", report.junit()?),
        (ReportFormat::Table, false) => print!("{}", report.table()),
    }
    if !report.passed() {
        let failed: Vec<&str> =
            report.checks.iter().filter(|c| c.outcome == conformance::Outcome::Fail).map(|c| c.id.name()).collect();
        bail!("conformance: {} of {} checks failed: {}", failed.len(), report.checks.len(), failed.join(", "));
    }
    Ok(())
}
