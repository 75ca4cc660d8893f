//! The example JavaScript connector (`examples/js-connector`), built with
//! componentize-js by its own `build.sh` (npm ci of the pinned toolchain into
//! the target directory), installed like a customer would install it, run
//! against the Workable mock, and passed through the conformance kit.
//!
//! A JavaScript component is ~12 MB and takes wasmtime seconds to compile,
//! so everything runs in one test function with one install. Without `npm`
//! on PATH the test is skipped with a message; CI has Node.js and the npm
//! registry, so there it always runs.

use std::time::Instant;

use atsbridge::conformance::{CheckId, Outcome, Suite};
use atsbridge::contract::{Capability, ConnectorError, JobStatus, RateLimit, SettingKind};
use atsbridge::plugin::install::{PluginSource, install_from};
use atsbridge::runtime::ConnectionContext;
use atsbridge_mock_ats::{Fault, MockAts, MockConfig, Vendor};

use crate::example_support::{build_component, connector_error, example_dir, list_all, workable_connection};
use crate::support;

/// More than two pages of 100, so the listing follows `paging.next` twice
/// and ends on a partial page.
const MOCK_JOBS: usize = 230;

#[tokio::test(flavor = "multi_thread")]
async fn javascript_workable_connector_passes_the_kit_against_the_mock() {
    let Some(component) = tokio::task::spawn_blocking(|| build_component("js-connector", "npm", &[])).await.unwrap()
    else {
        return;
    };

    // Install from the example directory, as `atsbridge plugin install
    // examples/js-connector --component <path>` does.
    let (_dir, rt) = support::runtime();
    let started = Instant::now();
    let source = PluginSource::locate(&example_dir("js-connector"), Some(&component)).expect("manifest");
    let installed = install_from(&rt, source).await.unwrap_or_else(|e| panic!("install: {e}"));
    eprintln!("installed {} in {:.1?} (compile included)", installed.record.info.name, started.elapsed());
    let plugin = rt.plugin("workable-js").await.unwrap();

    let info = plugin.info().await.unwrap();
    assert_eq!((info.name.as_str(), info.version.as_str()), ("Workable (JavaScript)", "0.1.0"));
    assert_eq!(info.capabilities, vec![Capability::Stages]);
    let schema: Vec<_> = info.config_schema.iter().map(|s| (s.key.as_str(), s.kind, s.required)).collect();
    assert_eq!(
        schema,
        vec![
            ("subdomain", SettingKind::Text, true),
            ("api-token", SettingKind::Secret, true),
            ("base-url", SettingKind::Url, false)
        ]
    );

    let mock = MockAts::start(Vendor::Workable, MockConfig { jobs: MOCK_JOBS, ..Default::default() }).await.unwrap();
    let token = mock.credentials().api_key;
    let conn = workable_connection("workable-js-conn", &mock, &token);

    // check: the token works; a wrong one is unauthorized.
    plugin.check(&conn).await.unwrap();
    let err = connector_error(plugin.check(&workable_connection("workable-js-conn", &mock, "not-the-token")).await);
    assert!(matches!(err, ConnectorError::Unauthorized(_)), "{err:?}");

    // list-jobs: every job exactly once, in three pages of <= 100.
    let (codes, pages) = list_all(&plugin, &conn, None).await;
    let expected: Vec<String> = mock.jobs().into_iter().map(|j| j.id).collect();
    assert_eq!(codes, expected, "every mock job exactly once, in listing order");
    assert_eq!(pages, 3);

    // The mapping of one job.
    let first = plugin.list_jobs(&conn, None, None).await.unwrap().jobs.remove(0);
    let job = mock.job(&first.code).unwrap();
    assert_eq!(first.title, job.title);
    let status = match job.status {
        atsbridge_mock_ats::JobStatus::Open => JobStatus::Open,
        atsbridge_mock_ats::JobStatus::Draft => JobStatus::Draft,
        _ => JobStatus::Closed,
    };
    assert_eq!(first.status, status);
    assert_eq!(first.description, mock.job_description(&job.id).unwrap());
    let updated = first.updated_at.as_deref().expect("updated-at");
    assert!(updated.ends_with('Z') && updated.len() == 20, "RFC 3339 UTC: {updated}");

    // Faults: 429 with Retry-After (returned, not slept on), 503, a cut body.
    mock.inject(Fault::RateLimit { retry_after_secs: 7 });
    let started = Instant::now();
    let err = connector_error(plugin.list_jobs(&conn, None, None).await);
    assert!(matches!(err, ConnectorError::RateLimited(RateLimit { retry_after_ms: Some(7000), .. })), "{err:?}");
    assert!(started.elapsed().as_secs() < 7, "the connector waited instead of returning rate-limited");
    mock.inject(Fault::Status(503));
    let err = connector_error(plugin.list_jobs(&conn, None, None).await);
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    mock.inject(Fault::MalformedJson);
    let err = connector_error(plugin.list_jobs(&conn, None, None).await);
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err:?}");

    // A cursor off the configured origin is refused before any request.
    let before = mock.request_count();
    let err = connector_error(plugin.list_jobs(&conn, Some("https://evil.example/spi/v3/jobs"), None).await);
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err:?}");
    assert_eq!(mock.request_count(), before);

    // Missing settings are the user's to fix; undeclared calls say so.
    let err = connector_error(plugin.check(&ConnectionContext::new("c").text("subdomain", "mock")).await);
    assert!(matches!(err, ConnectorError::InvalidConfig(_)), "{err:?}");
    let err = connector_error(plugin.candidate_statuses(&conn, &[]).await);
    assert!(matches!(err, ConnectorError::Unsupported(_)), "{err:?}");

    // The conformance kit, as `atsbridge plugin test workable-js --mock workable` runs it.
    let settings = [("subdomain", "mock".to_string()), ("base-url", mock.api_base_url()), ("api-token", token.clone())]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let report = Suite::against_mock(plugin, &mock, settings).run().await;
    let table = report.table();
    eprintln!("{table}");
    assert!(report.passed(), "{table}");
    for id in [
        CheckId::Info,
        CheckId::Check,
        CheckId::BadCredentials,
        CheckId::FullListing,
        CheckId::IncrementalListing,
        CheckId::Stages,
        CheckId::RateLimited,
        CheckId::Transient,
    ] {
        assert_eq!(report.get(id).map(|c| c.outcome), Some(Outcome::Pass), "{}\n{table}", id.name());
    }
    // Not declared, so not run (and said why).
    assert_eq!(report.get(CheckId::Push).map(|c| c.outcome), Some(Outcome::Skip), "{table}");
}
