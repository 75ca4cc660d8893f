//! What a mock imitates and how it is configured: [`Vendor`],
//! [`MockConfig`], and the [`Credentials`] it accepts.

use std::time::Duration;

use crate::{RateLimit, User};

/// Which ATS to imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Vendor {
    /// Greenhouse Harvest v3 (OAuth, cursor pages) and v1 (Basic key, page numbers).
    Greenhouse,
    /// Lever Data API v1.
    Lever,
    /// Workable SPI v3.
    Workable,
    /// Ashby RPC API.
    Ashby,
    /// SmartRecruiters Customer API (`X-SmartToken`).
    #[value(name = "smartrecruiters")]
    SmartRecruiters,
    /// BambooHR applicant tracking (Basic, API key as the user name).
    #[value(name = "bamboohr")]
    BambooHr,
}

impl Vendor {
    /// Lower-case name (`greenhouse`).
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Greenhouse => "greenhouse",
            Vendor::Lever => "lever",
            Vendor::Workable => "workable",
            Vendor::Ashby => "ashby",
            Vendor::SmartRecruiters => "smartrecruiters",
            Vendor::BambooHr => "bamboohr",
        }
    }

    /// Path prefix of the API under the base URL: `/v3` (Greenhouse; `/v1`
    /// also served), `/v1` (Lever), `/spi/v3` (Workable), none (Ashby RPC,
    /// SmartRecruiters), `/api/gateway.php/acme/v1` (BambooHR, company
    /// domain `acme`).
    pub fn api_prefix(self) -> &'static str {
        match self {
            Vendor::Greenhouse => "/v3",
            Vendor::Lever => "/v1",
            Vendor::Workable => "/spi/v3",
            Vendor::Ashby | Vendor::SmartRecruiters => "",
            Vendor::BambooHr => crate::bamboohr::PREFIX,
        }
    }

    /// The job-listing paths (where an unscoped
    /// [`crate::Fault::ChangePageBetweenRequests`] fires).
    pub fn job_list_paths(self) -> &'static [&'static str] {
        match self {
            Vendor::Greenhouse => &["/v3/jobs", "/v1/jobs"],
            Vendor::Lever => &["/v1/postings"],
            Vendor::Workable => &["/spi/v3/jobs"],
            Vendor::Ashby => &["/job.list"],
            Vendor::SmartRecruiters => &["/jobs"],
            Vendor::BambooHr => &[crate::bamboohr::JOBS_PATH],
        }
    }

    /// The documented (or reported) limit, used for headers when a
    /// [`crate::Fault::RateLimit`] fires without a configured limiter.
    pub fn default_rate_limit(self) -> RateLimit {
        match self {
            Vendor::Greenhouse => RateLimit::GREENHOUSE,
            Vendor::Workable => RateLimit::WORKABLE,
            Vendor::SmartRecruiters => RateLimit::SMARTRECRUITERS,
            // BambooHR publishes no limit; 10 per second is a guess.
            Vendor::BambooHr => RateLimit { limit: 10, window: Duration::from_secs(1) },
            // Lever: ~10 req/s steady (token bucket); Ashby: unpublished.
            Vendor::Lever | Vendor::Ashby => RateLimit { limit: 10, window: Duration::from_secs(1) },
        }
    }
}

impl std::fmt::Display for Vendor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a mock does with a page size above the vendor's maximum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PageSizePolicy {
    /// Answer with the vendor's validation error (default: what the docs' ranges imply).
    #[default]
    Reject,
    /// Serve the maximum instead (for vendors whose behaviour is unconfirmed).
    Clamp,
}

/// How to start a mock. `MockConfig::default()` is 25 jobs, seed 7, a free
/// port, vendor page limits, no rate limit.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// Number of seeded jobs (100 000 starts in well under a second).
    pub jobs: usize,
    /// Seed for all generated data and ids.
    pub seed: u64,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Overrides the vendor's maximum page size.
    pub page_size_max: Option<usize>,
    /// Reject or clamp oversized pages.
    pub page_size_policy: PageSizePolicy,
    /// Fixed-window rate limit; `None` disables limiting.
    pub rate_limit: Option<RateLimit>,
    /// The API key (Greenhouse v1, Lever, Workable token, Ashby) instead of
    /// the derived `mock-<vendor>-key-<seed>`.
    pub api_key: Option<String>,
    /// Lifetime of Greenhouse v3 access tokens (`expires_in`).
    pub token_ttl: Duration,
    /// Ashby: an incremental sync with more changes than this fails with
    /// `incremental_sync_too_large` (the real threshold is unpublished).
    pub max_incremental_changes: usize,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            jobs: 25,
            seed: 7,
            port: 0,
            page_size_max: None,
            page_size_policy: PageSizePolicy::Reject,
            rate_limit: None,
            api_key: None,
            token_ttl: Duration::from_secs(3600),
            max_incremental_changes: 10_000,
        }
    }
}

/// The credentials a mock accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Greenhouse v1 Basic key, Lever Basic key, Workable Bearer token, Ashby
    /// Basic key, SmartRecruiters `X-SmartToken`, BambooHR Basic user name.
    pub api_key: String,
    /// Greenhouse v3 OAuth client id (`None` for other vendors).
    pub client_id: Option<String>,
    /// Greenhouse v3 OAuth client secret.
    pub client_secret: Option<String>,
    /// A valid acting user: Greenhouse `On-Behalf-Of` / token `sub`, Lever
    /// `perform_as`, Workable member id, Ashby user id.
    pub user_id: String,
}

impl Credentials {
    pub(crate) fn derive(vendor: Vendor, config: &MockConfig, first_user: &User) -> Self {
        let api_key = config.api_key.clone().unwrap_or_else(|| format!("mock-{vendor}-key-{}", config.seed));
        let greenhouse = vendor == Vendor::Greenhouse;
        Credentials {
            api_key,
            client_id: greenhouse.then(|| "mock-greenhouse-client".to_string()),
            client_secret: greenhouse.then(|| format!("mock-greenhouse-secret-{}", config.seed)),
            user_id: match vendor {
                Vendor::Greenhouse => first_user.id.to_string(),
                Vendor::Workable => first_user.uuid[..8].to_string(),
                Vendor::Lever | Vendor::Ashby | Vendor::SmartRecruiters => first_user.uuid.clone(),
                Vendor::BambooHr => first_user.id.to_string(),
            },
        }
    }

    /// `Basic base64("<api_key>:")`, the header Greenhouse v1, Lever and Ashby expect.
    pub fn basic_auth(&self) -> String {
        use base64::Engine as _;
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:", self.api_key)))
    }
}
