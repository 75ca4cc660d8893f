//! The connector conformance kit: one standard suite of checks that every
//! connector plugin should pass, whoever wrote it.
//!
//! The suite drives an installed [`Plugin`] through the host runtime, exactly
//! as the sync engine and the outbox do, and checks what comes back:
//!
//! | check | proves |
//! |---|---|
//! | [`CheckId::Info`] | `info()` agrees with the manifest, its schema is usable, the given settings validate against it |
//! | [`CheckId::Check`] | `check` accepts the good settings |
//! | [`CheckId::BadCredentials`] | `check` answers `unauthorized` when every secret setting is wrong |
//! | [`CheckId::FullListing`] | a full listing returns every job exactly once across pages, and the cursor ends |
//! | [`CheckId::IncrementalListing`] | a listing with `changed-since` returns the changed jobs and no others |
//! | [`CheckId::Stages`] | stages are listed, positions `0..n` in order (needs `stages`) |
//! | [`CheckId::Push`] | a push retried with the same idempotency key creates one candidate (needs `candidate-push`) |
//! | [`CheckId::CandidateStatuses`] | the pushed candidate's status reads back (needs `candidate-status`) |
//! | [`CheckId::MoveApplication`] | the pushed candidate moves to another stage and the move reads back (needs `move-application`) |
//! | [`CheckId::RateLimited`] | an HTTP 429 becomes `rate-limited` with the `Retry-After` delay |
//! | [`CheckId::RateLimitedNoDelay`] | an HTTP 429 without `Retry-After` becomes `rate-limited` |
//! | [`CheckId::Transient`] | HTTP 500, 502, 503 and 504 each become `transient` |
//! | [`CheckId::DroppedConnection`] | a connection closed before or during the answer becomes `transient` |
//! | [`CheckId::SlowResponse`] | an answer slower than the call's deadline ends the call by the deadline |
//! | [`CheckId::MalformedJson`] | a truncated or garbled JSON body is an error, not a listing |
//! | [`CheckId::ChangingPages`] | a listing whose pages change between requests lists no job twice and misses none |
//!
//! It runs against a [`Target`]: a mock ATS from `atsbridge-mock-ats` in this
//! process ([`start_mock`]), which the kit can read, change and break on
//! purpose, or any server (a vendor sandbox, a self-hosted ATS), where the
//! checks that need to see or steer the server's data fall back to what can
//! be observed from outside, and the fault checks break it through a local
//! proxy ([`proxy::FaultProxy`]) in front of its `base-url`.
//!
//! `docs/conformance.md` describes each check for plugin authors and how to
//! run the suite against one's own ATS.
//!
//! A check passes only on observed behaviour; each result carries what was
//! verified, or why it failed, or why it was skipped. A skip is never a
//! pass in disguise: it is reported with its reason (a capability the
//! plugin does not declare, a server the kit cannot break), and a check
//! whose prerequisite failed is skipped while the prerequisite fails.
//!
//! ```no_run
//! # async fn demo(runtime: atsbridge::runtime::Runtime) -> anyhow::Result<()> {
//! use atsbridge::conformance::{Suite, settings_for_mock, start_mock};
//! use atsbridge_mock_ats::Vendor;
//!
//! let plugin = runtime.plugin("greenhouse").await?;
//! let mock = start_mock(Vendor::Greenhouse).await?;
//! let settings = settings_for_mock("greenhouse", &mock, &Default::default());
//! let report = Suite::against_mock(plugin, &mock, settings).run().await;
//! print!("{}", report.table());
//! assert!(report.passed());
//! # Ok(()) }
//! ```

mod basics;
mod candidates;
mod faults;
mod junit;
mod listing;
mod mock;
mod moves;
mod pages;
mod patience;
pub mod proxy;
mod report;
mod stages;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use atsbridge_mock_ats::MockAts;
use serde::Serialize;

pub use self::junit::JunitError;
pub use self::mock::{
    MOCK_JOBS, MOCK_PAGE_SIZE, PLACEHOLDERS, expand_placeholders, settings_for_mock, start_mock, start_mock_with,
};
pub use self::patience::{DEFAULT_BACKOFF, MAX_ATTEMPTS, MAX_WAIT};
use crate::contract::{Capability, ConnectorInfo, Job, Pushed};
use crate::plugin::allowed_hosts::AllowedHosts;
use crate::runtime::{ConnectionContext, Plugin, SettingInput};

/// What the suite runs against.
#[derive(Debug, Clone, Copy)]
pub enum Target<'m> {
    /// A mock ATS in this process: the kit compares listings with its data,
    /// changes jobs, reads what pushes created, and injects faults.
    Mock(&'m MockAts),
    /// Any server, seen only through the plugin.
    Server,
}

/// The checks, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckId {
    /// `info()` and the config schema; the settings validate.
    Info,
    /// `check` accepts the settings.
    Check,
    /// `check` refuses wrong secrets as `unauthorized`.
    BadCredentials,
    /// Every job once, and the cursor ends.
    FullListing,
    /// `changed-since` returns the changed jobs only.
    IncrementalListing,
    /// Stages in order.
    Stages,
    /// A retried push creates one candidate.
    Push,
    /// The pushed candidate's status.
    CandidateStatuses,
    /// The pushed candidate moves to another stage.
    MoveApplication,
    /// 429 → `rate-limited`.
    RateLimited,
    /// 429 without `Retry-After` → `rate-limited`.
    RateLimitedNoDelay,
    /// 500, 502, 503, 504 → `transient`.
    Transient,
    /// A dropped connection → `transient`.
    DroppedConnection,
    /// A slow answer ends the call by its deadline.
    SlowResponse,
    /// A body that is not JSON is an error.
    MalformedJson,
    /// Pages that change between requests: no job twice, none missing.
    ChangingPages,
}

impl CheckId {
    /// Every check, in running order.
    pub const ALL: [CheckId; 16] = [
        CheckId::Info,
        CheckId::Check,
        CheckId::BadCredentials,
        CheckId::FullListing,
        CheckId::IncrementalListing,
        CheckId::Stages,
        CheckId::Push,
        CheckId::CandidateStatuses,
        CheckId::MoveApplication,
        CheckId::RateLimited,
        CheckId::RateLimitedNoDelay,
        CheckId::Transient,
        CheckId::DroppedConnection,
        CheckId::SlowResponse,
        CheckId::MalformedJson,
        CheckId::ChangingPages,
    ];

    /// The fault checks: the kit breaks the server on purpose (through the
    /// mock or its proxy) and checks what the connector answers.
    pub const FAULTS: [CheckId; 7] = [
        CheckId::RateLimited,
        CheckId::RateLimitedNoDelay,
        CheckId::Transient,
        CheckId::DroppedConnection,
        CheckId::SlowResponse,
        CheckId::MalformedJson,
        CheckId::ChangingPages,
    ];

    /// The stable kebab-case name shown in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            CheckId::Info => "info",
            CheckId::Check => "check",
            CheckId::BadCredentials => "bad-credentials",
            CheckId::FullListing => "full-listing",
            CheckId::IncrementalListing => "incremental-listing",
            CheckId::Stages => "stages",
            CheckId::Push => "push",
            CheckId::CandidateStatuses => "candidate-statuses",
            CheckId::MoveApplication => "move-application",
            CheckId::RateLimited => "rate-limited",
            CheckId::RateLimitedNoDelay => "rate-limited-no-delay",
            CheckId::Transient => "transient",
            CheckId::DroppedConnection => "dropped-connection",
            CheckId::SlowResponse => "slow-response",
            CheckId::MalformedJson => "malformed-json",
            CheckId::ChangingPages => "changing-pages",
        }
    }

    /// What the check proves, in a few words.
    pub fn title(self) -> &'static str {
        match self {
            CheckId::Info => "info and config schema are valid, the settings validate",
            CheckId::Check => "check accepts the good settings",
            CheckId::BadCredentials => "check rejects wrong secrets as unauthorized",
            CheckId::FullListing => "a full listing returns every job exactly once",
            CheckId::IncrementalListing => "changed-since returns exactly the changed jobs",
            CheckId::Stages => "stages are listed, positions 0..n in order",
            CheckId::Push => "a retried push creates exactly one candidate",
            CheckId::CandidateStatuses => "the pushed candidate's status reads back",
            CheckId::MoveApplication => "the pushed candidate moves to another stage",
            CheckId::RateLimited => "HTTP 429 becomes rate-limited with Retry-After",
            CheckId::RateLimitedNoDelay => "HTTP 429 without Retry-After becomes rate-limited",
            CheckId::Transient => "HTTP 500, 502, 503 and 504 become transient",
            CheckId::DroppedConnection => "a dropped connection becomes transient",
            CheckId::SlowResponse => "an answer past the deadline ends the call by the deadline",
            CheckId::MalformedJson => "a truncated or garbled JSON body is an error, not a listing",
            CheckId::ChangingPages => "pages that change between requests: no job twice, none missing",
        }
    }
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The behaviour was observed.
    Pass,
    /// It was not; the detail says what happened instead.
    Fail,
    /// The check did not run; the detail says why. Does not fail the suite.
    Skip,
}

/// One check's result.
#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub id: CheckId,
    /// [`CheckId::title`].
    pub title: &'static str,
    pub outcome: Outcome,
    /// What was verified (pass), what went wrong (fail), or why the check
    /// did not run (skip).
    pub detail: String,
    /// How long the check took.
    pub millis: u64,
}

/// The suite's results.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The plugin's id.
    pub plugin: String,
    /// The plugin's version.
    pub version: String,
    /// What the suite ran against, for people.
    pub target: String,
    /// True when no check failed.
    pub passed: bool,
    /// Every check, in running order.
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// True when no check failed (skips do not fail the suite).
    pub fn passed(&self) -> bool {
        self.passed
    }

    /// The result of one check.
    pub fn get(&self, id: CheckId) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// How many checks ended with `outcome`.
    pub fn count(&self, outcome: Outcome) -> usize {
        self.checks.iter().filter(|c| c.outcome == outcome).count()
    }
}

/// The suite, configured for one plugin and one target.
pub struct Suite<'m> {
    plugin: Plugin,
    target: Target<'m>,
    settings: BTreeMap<String, String>,
    extra_hosts: AllowedHosts,
    allow_writes: bool,
    slow_deadline: Duration,
}

/// The call deadline of the slow-response check unless set otherwise: short,
/// so the check takes seconds, long enough for a loaded machine to finish a
/// call that is not held up.
pub const DEFAULT_SLOW_DEADLINE: Duration = Duration::from_secs(2);

impl<'m> Suite<'m> {
    /// Against a running mock: its origin is granted to the plugin, and the
    /// push checks may write (the mock is thrown away afterwards).
    pub fn against_mock(plugin: Plugin, mock: &'m MockAts, settings: BTreeMap<String, String>) -> Self {
        let origin = mock.base_url().trim_end_matches('/').to_string();
        let extra_hosts = AllowedHosts::parse(&[origin]).expect("a mock's base URL is a valid host pattern");
        Suite {
            plugin,
            target: Target::Mock(mock),
            settings,
            extra_hosts,
            allow_writes: true,
            slow_deadline: DEFAULT_SLOW_DEADLINE,
        }
    }

    /// Against any server. Grant the hosts the settings point at with
    /// [`Suite::with_extra_hosts`]; writes stay off until
    /// [`Suite::allow_writes`].
    pub fn against_server(plugin: Plugin, settings: BTreeMap<String, String>) -> Suite<'static> {
        Suite {
            plugin,
            target: Target::Server,
            settings,
            extra_hosts: AllowedHosts::default(),
            allow_writes: false,
            slow_deadline: DEFAULT_SLOW_DEADLINE,
        }
    }

    /// Grants more hosts (added to the mock's origin, if any).
    pub fn with_extra_hosts(mut self, hosts: &AllowedHosts) -> Self {
        self.extra_hosts = self.extra_hosts.union(hosts);
        self
    }

    /// The call deadline of the slow-response check (the proxy holds the
    /// answer twice as long); at most half of [`proxy::MAX_SLOW`].
    pub fn with_slow_deadline(mut self, deadline: Duration) -> Self {
        self.slow_deadline = deadline;
        self
    }

    /// What the suite runs against.
    pub fn target(&self) -> Target<'m> {
        self.target
    }

    /// Lets the push check create a test candidate on a real server.
    pub fn allow_writes(mut self, allow: bool) -> Self {
        self.allow_writes = allow;
        self
    }

    /// With a `base-url` setting, a fault proxy in front of it (`None`, and
    /// the fault checks that need it skip, when it cannot start). A mock
    /// gets one too, for the faults the mock cannot serve itself.
    async fn fault_proxy(&self) -> Option<proxy::FaultProxy> {
        let upstream = url::Url::parse(self.settings.get("base-url")?).ok()?;
        match proxy::FaultProxy::start(upstream).await {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(error = %e, "conformance: no fault proxy, the fault checks will skip");
                None
            }
        }
    }

    /// Runs every check in order and reports.
    pub async fn run(&self) -> Report {
        let mut run = Run::new(self);
        run.proxy = self.fault_proxy().await;
        let mut checks = Vec::with_capacity(CheckId::ALL.len());
        for id in CheckId::ALL {
            let started = Instant::now();
            let verdict = match id {
                CheckId::Info => basics::info(&mut run).await,
                CheckId::Check => basics::check(&mut run).await,
                CheckId::BadCredentials => basics::bad_credentials(&run).await,
                CheckId::FullListing => listing::full(&mut run).await,
                CheckId::IncrementalListing => listing::incremental(&run).await,
                CheckId::Stages => stages::stages(&run).await,
                CheckId::Push => candidates::push(&mut run).await,
                CheckId::CandidateStatuses => candidates::statuses(&run).await,
                CheckId::MoveApplication => moves::move_application(&run).await,
                CheckId::RateLimited => faults::rate_limited(&run).await,
                CheckId::RateLimitedNoDelay => faults::rate_limited_without_delay(&run).await,
                CheckId::Transient => faults::transient(&run).await,
                CheckId::DroppedConnection => faults::dropped_connection(&run).await,
                CheckId::SlowResponse => faults::slow_response(&run).await,
                CheckId::MalformedJson => faults::malformed_json(&run).await,
                CheckId::ChangingPages => pages::changing_pages(&run).await,
            };
            let (outcome, mut detail) = match verdict {
                Ok(d) => (Outcome::Pass, d),
                Err(Verdict::Fail(d)) => (Outcome::Fail, d),
                Err(Verdict::Skip(d)) => (Outcome::Skip, d),
            };
            if let Some(note) = run.patience.take_note() {
                detail = format!("{detail} ({note})");
            }
            tracing::debug!(check = id.name(), ?outcome, %detail, "conformance check");
            checks.push(CheckResult {
                id,
                title: id.title(),
                outcome,
                detail,
                millis: started.elapsed().as_millis() as u64,
            });
        }
        Report {
            plugin: self.plugin.id().to_string(),
            version: self.plugin.version().to_string(),
            target: match self.target {
                Target::Mock(m) => format!("mock {} at {} ({} jobs)", m.vendor(), m.base_url(), m.config().jobs),
                Target::Server => {
                    format!("{} (generic checks)", self.settings.get("base-url").map_or("a server", String::as_str))
                }
            },
            passed: checks.iter().all(|c| c.outcome != Outcome::Fail),
            checks,
        }
    }
}

/// A check's result before it is timed and named: `Ok` with what was
/// verified, or why it failed or did not run.
type Checked = Result<String, Verdict>;

/// Why a check did not pass.
enum Verdict {
    Fail(String),
    Skip(String),
}

fn fail(reason: impl Into<String>) -> Verdict {
    Verdict::Fail(reason.into())
}

fn skip(reason: impl Into<String>) -> Verdict {
    Verdict::Skip(reason.into())
}

/// What one run of the suite knows, filled in as checks pass.
struct Run<'s> {
    plugin: &'s Plugin,
    mock: Option<&'s MockAts>,
    settings: &'s BTreeMap<String, String>,
    extra_hosts: &'s AllowedHosts,
    allow_writes: bool,
    /// Tags the test candidate and the connection ids of this run.
    run_tag: String,
    /// From [`CheckId::Info`].
    info: Option<ConnectorInfo>,
    /// The settings, validated against the schema ([`CheckId::Info`]).
    validated: Option<Vec<(String, SettingInput)>>,
    /// Whether `check` accepted them ([`CheckId::Check`]).
    checked: bool,
    /// The full listing ([`CheckId::FullListing`]) and when it started (RFC 3339).
    listed: Option<(Vec<Job>, String)>,
    /// The candidate [`CheckId::Push`] created.
    pushed: Option<Pushed>,
    /// The job it was pushed to.
    pushed_job: Option<String>,
    /// Waits out `rate-limited` answers outside the fault checks.
    patience: patience::Patience,
    /// The proxy the fault checks break the server through.
    proxy: Option<proxy::FaultProxy>,
    /// The call deadline of [`CheckId::SlowResponse`].
    slow_deadline: Duration,
}

impl<'s> Run<'s> {
    fn new(suite: &'s Suite<'_>) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        Run {
            plugin: &suite.plugin,
            mock: match suite.target {
                Target::Mock(m) => Some(m),
                Target::Server => None,
            },
            settings: &suite.settings,
            extra_hosts: &suite.extra_hosts,
            allow_writes: suite.allow_writes,
            run_tag: format!("{nanos:x}"),
            info: None,
            validated: None,
            checked: false,
            listed: None,
            pushed: None,
            pushed_job: None,
            patience: patience::Patience::default(),
            proxy: None,
            slow_deadline: suite.slow_deadline,
        }
    }

    /// A connection with the validated settings, named for one check (the
    /// host scopes cached OAuth tokens by connection), or the skip verdict
    /// when the settings did not validate.
    fn connection(&self, purpose: &str) -> Result<ConnectionContext, Verdict> {
        let settings = self
            .validated
            .clone()
            .ok_or_else(|| skip("needs settings that validate against the schema (see `info`)"))?;
        Ok(ConnectionContext {
            id: format!("conformance-{}-{purpose}", self.run_tag),
            settings,
            extra_hosts: self.extra_hosts.clone(),
            recording: None,
        })
    }

    /// Whether `info()` declared `capability`; the skip verdict if not.
    fn require(&self, capability: Capability) -> Result<(), Verdict> {
        let info = self.info.as_ref().ok_or_else(|| skip("needs a working info() (see `info`)"))?;
        if info.capabilities.contains(&capability) {
            Ok(())
        } else {
            Err(skip(format!("the plugin does not declare the `{}` capability", capability.wit_name())))
        }
    }
}

/// Up to `max` items of a list for a message, with a count of the rest.
fn sample<T: std::fmt::Display>(items: &[T], max: usize) -> String {
    let shown: Vec<String> = items.iter().take(max).map(ToString::to_string).collect();
    match items.len().saturating_sub(max) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}
