//! Starting a mock ATS for the suite and pointing a plugin's settings at it.

use std::collections::BTreeMap;

use atsbridge_mock_ats::{MockAts, MockConfig, MockError, PageSizePolicy, Vendor};

use crate::plugin::bundled;

/// Jobs the suite's mock starts with: a few dozen, enough for several pages
/// and a change in the middle of the listing, small enough to run in seconds.
pub const MOCK_JOBS: usize = 40;
/// The most items the suite's mock serves a page, whatever a connector asks
/// for, so [`MOCK_JOBS`] spans several pages with any connector. It also
/// keeps the Greenhouse "every job's stages" listing (6 a job) within the
/// 20 pages a connector call may follow.
pub const MOCK_PAGE_SIZE: usize = 15;
/// Fixed, so the mock's credentials are the same on every run.
const MOCK_SEED: u64 = 7;

/// Starts the suite's mock of `vendor` with [`MOCK_JOBS`] jobs.
pub async fn start_mock(vendor: Vendor) -> Result<MockAts, MockError> {
    start_mock_with(vendor, MOCK_JOBS, 0).await
}

/// Starts the suite's mock with `jobs` jobs on `port` (0: any free port).
pub async fn start_mock_with(vendor: Vendor, jobs: usize, port: u16) -> Result<MockAts, MockError> {
    let config = MockConfig {
        jobs,
        seed: MOCK_SEED,
        port,
        page_size_max: Some(MOCK_PAGE_SIZE),
        page_size_policy: PageSizePolicy::Clamp,
        ..Default::default()
    };
    MockAts::start(vendor, config).await
}

/// The placeholders a `--set` value may use to reach a mock whose port and
/// credentials are only known once it runs, with what each stands for.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("{mock.base_url}", "http://127.0.0.1:PORT"),
    ("{mock.api_base_url}", "the base URL plus the vendor's API prefix (/v3, /v1, /spi/v3, /api/gateway.php/acme/v1)"),
    ("{mock.token_url}", "the Greenhouse OAuth token URL"),
    ("{mock.api_key}", "the API key or token the mock accepts"),
    ("{mock.client_id}", "the Greenhouse OAuth client id"),
    ("{mock.client_secret}", "the Greenhouse OAuth client secret"),
    ("{mock.user_id}", "a valid acting user id"),
];

/// `value` with every [`PLACEHOLDERS`] entry replaced by the mock's value.
pub fn expand_placeholders(value: &str, mock: &MockAts) -> String {
    let c = mock.credentials();
    let values = [
        mock.base_url().trim_end_matches('/').to_string(),
        mock.api_base_url(),
        mock.token_url().unwrap_or_default(),
        c.api_key,
        c.client_id.unwrap_or_default(),
        c.client_secret.unwrap_or_default(),
        c.user_id,
    ];
    PLACEHOLDERS.iter().zip(values).fold(value.to_string(), |text, ((name, _), v)| text.replace(name, &v))
}

/// The settings that point `plugin` at `mock`: for a connector bundled with
/// this binary its known mock settings ([`bundled::mock_settings`]), then
/// `overrides` on top, placeholders expanded.
pub fn settings_for_mock(
    plugin: &str,
    mock: &MockAts,
    overrides: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut settings =
        if bundled::find(plugin).is_some() { bundled::mock_settings(plugin, mock) } else { BTreeMap::new() };
    for (key, value) in overrides {
        settings.insert(key.clone(), expand_placeholders(value, mock));
    }
    settings
}
