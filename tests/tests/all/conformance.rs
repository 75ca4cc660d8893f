//! The conformance kit: every bundled connector passes it against its mock,
//! it fails a connector that does not do the job, its generic mode works
//! against any server, and `atsbridge plugin test` prints the table and
//! sets the exit code.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use atsbridge::conformance::{CheckId, Outcome, Report, Suite, settings_for_mock, start_mock};
use atsbridge::contract::{ApplicationState, Attachment, Candidate, ConnectorError, PushRequest};
use atsbridge::plugin::allowed_hosts::AllowedHosts;
use atsbridge::plugin::bundled::install_bundled;
use atsbridge::runtime::{CallError, ConnectionContext};
use atsbridge_mock_ats::{Fault, FaultRule, MockAts, MockConfig, RateLimit, Vendor};
use atsbridge_tests::guests;

use crate::support::{self, API_KEY};

/// Installs the bundled connector for `vendor`, runs the suite against its
/// mock, and checks that nothing failed and every skip says why, but for
/// `expected`: checks that end otherwise, with a word their detail must hold.
async fn bundled_passes_but(vendor: Vendor, expected: &[(CheckId, Outcome, &str)]) {
    let (_dir, rt) = support::runtime();
    install_bundled(&rt, vendor.name()).await.unwrap_or_else(|e| panic!("install {vendor}: {e}"));
    let plugin = rt.plugin(vendor.name()).await.unwrap();
    let mock = start_mock(vendor).await.unwrap();
    let settings = settings_for_mock(vendor.name(), &mock, &BTreeMap::new());
    let report = Suite::against_mock(plugin, &mock, settings).run().await;
    let table = report.table();
    assert_eq!(report.checks.len(), CheckId::ALL.len(), "{table}");
    for c in &report.checks {
        assert!(!c.detail.is_empty(), "{vendor}: {} has no detail\n{table}", c.id.name());
        match expected.iter().find(|(id, ..)| *id == c.id) {
            Some((_, outcome, word)) => {
                assert_eq!(c.outcome, *outcome, "{vendor}: {}\n{table}", c.id.name());
                assert!(c.detail.contains(word), "{vendor}: {} should say {word:?}\n{table}", c.id.name());
            }
            // The bundled connectors declare every capability: nothing else
            // is skipped, and nothing fails.
            None => assert_eq!(c.outcome, Outcome::Pass, "{vendor}: {}\n{table}", c.id.name()),
        }
    }
    for id in CheckId::FAULTS {
        let c = report.get(id).unwrap();
        if c.outcome == Outcome::Pass && id != CheckId::ChangingPages {
            assert!(c.detail.starts_with("injected "), "{vendor}: {}: {}", id.name(), c.detail);
        }
    }
    mock.shutdown().await;
}

async fn bundled_passes(vendor: Vendor) {
    bundled_passes_but(vendor, &[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn greenhouse_passes_against_its_mock() {
    bundled_passes(Vendor::Greenhouse).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lever_passes_against_its_mock() {
    bundled_passes(Vendor::Lever).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn workable_passes_against_its_mock() {
    bundled_passes(Vendor::Workable).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ashby_passes_against_its_mock() {
    bundled_passes(Vendor::Ashby).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn smartrecruiters_passes_against_its_mock() {
    // It pages by offset, so it keeps the ids of the last jobs it served in
    // its cursor and continues after them: a job deleted from page 1
    // between pages makes it skip nothing.
    bundled_passes(Vendor::SmartRecruiters).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bamboohr_passes_against_its_mock() {
    // BambooHR lists every job on one page: nothing can change between pages.
    bundled_passes_but(Vendor::BambooHr, &[(CheckId::ChangingPages, Outcome::Skip, "fits on one page")]).await;
}

/// A connection of the bundled `plugin` to `mock` (its origin granted).
fn mock_connection(plugin: &str, mock: &MockAts) -> ConnectionContext {
    let c = mock.credentials();
    let base = mock.base_url().to_string();
    let conn = ConnectionContext::new(format!("{plugin}-conn")).text("base-url", &base).secret("api-key", &c.api_key);
    let conn = if plugin == "bamboohr" { conn.text("company-domain", "acme") } else { conn };
    conn.with_extra_hosts(AllowedHosts::parse(&[support::url_origin(&base)]).unwrap())
}

fn push_request(job_code: &str, email: &str, stage_id: Option<&str>) -> PushRequest {
    PushRequest {
        job_code: job_code.into(),
        candidate: Candidate {
            first_name: "Grace".into(),
            last_name: "Hopper".into(),
            email: email.into(),
            phone: None,
            resume: Some(Attachment {
                file_name: "cv.pdf".into(),
                content_type: "application/pdf".into(),
                content: b"%PDF-1.7 grace".to_vec(),
            }),
            source: None,
            links: vec![],
            answers: vec![],
            resume_url: None,
        },
        stage_id: stage_id.map(str::to_string),
        idempotency_key: format!("push-{email}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn smartrecruiters_retry_finishes_a_push_whose_resume_upload_failed() {
    let (_dir, rt) = support::runtime();
    install_bundled(&rt, "smartrecruiters").await.unwrap();
    let plugin = rt.plugin("smartrecruiters").await.unwrap();
    let mock = start_mock(Vendor::SmartRecruiters).await.unwrap();
    let conn = mock_connection("smartrecruiters", &mock);
    let job = mock.jobs()[0].id.clone();
    // The create succeeds, the resume upload after it fails.
    mock.inject(FaultRule::new(Fault::Status(500)).on_path("/candidates/"));
    let request = push_request(&job, "grace@example.com", None);
    let err = plugin.push_candidate(&conn, &request).await.unwrap_err();
    assert_eq!(err.kind(), "transient", "{err}");
    assert_eq!(mock.pushed_candidates()[0].files.len(), 0);
    // The retry finds the candidate and uploads the resume, once.
    let retried = plugin.push_candidate(&conn, &request).await.unwrap();
    assert!(retried.existing);
    let again = plugin.push_candidate(&conn, &request).await.unwrap();
    assert_eq!(again.ref_, retried.ref_);
    let pushed = mock.pushed_candidates();
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert_eq!(pushed[0].files.len(), 1, "one resume, uploaded by the retry");
    assert_eq!(pushed[0].resume().unwrap().bytes, b"%PDF-1.7 grace");

    // A push into a stage of the job's hiring process lands there.
    let stage = mock.stages(&job).unwrap()[3].id.clone();
    let placed = plugin.push_candidate(&conn, &push_request(&job, "ada@example.com", Some(&stage))).await.unwrap();
    let app = mock.applications().into_iter().find(|a| a.id == placed.ref_.application_id).unwrap();
    assert_eq!(app.stage_id, stage);
    let statuses = plugin.candidate_statuses(&conn, std::slice::from_ref(&placed.ref_)).await.unwrap();
    assert_eq!(statuses[0].stage_id.as_deref(), Some(stage.as_str()));
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bamboohr_reads_throttling_as_rate_limited_and_places_pushes_in_a_status() {
    let (_dir, rt) = support::runtime();
    install_bundled(&rt, "bamboohr").await.unwrap();
    let plugin = rt.plugin("bamboohr").await.unwrap();
    let limit = RateLimit { limit: 1, window: Duration::from_secs(30) };
    let mock = MockAts::start(Vendor::BambooHr, MockConfig { jobs: 3, rate_limit: Some(limit), ..Default::default() })
        .await
        .unwrap();
    let conn = mock_connection("bamboohr", &mock);
    plugin.check(&conn).await.unwrap();
    // BambooHR throttles with 503 + Retry-After: rate-limited, with the delay.
    match plugin.list_jobs(&conn, None, None).await {
        Err(CallError::Connector { error: ConnectorError::RateLimited(limit), .. }) => {
            let wait = limit.retry_after_ms.unwrap();
            assert!((28_000..=30_000).contains(&wait), "{wait}");
        }
        other => panic!("expected rate-limited, got {other:?}"),
    }
    assert_eq!(mock.requests().last().unwrap().status, Some(503));

    let mock = start_mock(Vendor::BambooHr).await.unwrap();
    let conn = mock_connection("bamboohr", &mock);
    let job = mock.jobs()[0].id.clone();
    let pushed = plugin.push_candidate(&conn, &push_request(&job, "grace@example.com", Some("6"))).await.unwrap();
    let statuses = plugin.candidate_statuses(&conn, std::slice::from_ref(&pushed.ref_)).await.unwrap();
    assert_eq!((statuses[0].stage_id.as_deref(), statuses[0].stage_name.as_deref()), (Some("6"), Some("Interviewed")));
    mock.hire(&pushed.ref_.application_id).unwrap();
    let statuses = plugin.candidate_statuses(&conn, std::slice::from_ref(&pushed.ref_)).await.unwrap();
    assert_eq!(statuses[0].state, ApplicationState::Hired);
    // A full refresh whatever changed-since says: BambooHR cannot filter.
    let page = plugin.list_jobs(&conn, None, Some("2099-01-01T00:00:00Z")).await.unwrap();
    assert_eq!((page.jobs.len(), page.next_cursor), (mock.jobs().len(), None));
    mock.shutdown().await;
}

fn outcome(report: &Report, id: CheckId) -> (Outcome, String) {
    let c = report.get(id).unwrap_or_else(|| panic!("no result for {}", id.name()));
    (c.outcome, c.detail.clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kit_fails_a_connector_that_does_not_speak_the_ats() {
    // The well-behaved guest is a correct connector for another API: against
    // a Greenhouse mock its paths do not exist.
    let (dir, rt) = support::runtime();
    support::install(&rt, dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "").await;
    let plugin = rt.plugin("well-behaved").await.unwrap();
    let mock = start_mock(Vendor::Greenhouse).await.unwrap();
    let settings: BTreeMap<String, String> =
        [("base-url", mock.base_url().to_string()), ("api-key", "any".to_string())]
            .into_iter()
            .map(|(k, v)| (k.into(), v))
            .collect();
    let report = Suite::against_mock(plugin, &mock, settings).run().await;
    let table = report.table();
    assert!(!report.passed(), "{table}");
    assert_eq!(outcome(&report, CheckId::Info).0, Outcome::Pass, "{table}");
    for id in [CheckId::Check, CheckId::FullListing, CheckId::IncrementalListing, CheckId::Stages, CheckId::Push] {
        let (got, detail) = outcome(&report, id);
        assert_eq!(got, Outcome::Fail, "{} should fail\n{table}", id.name());
        assert!(
            detail.contains("not-found") || detail.contains("404"),
            "{}: the reason should name the 404: {detail}",
            id.name()
        );
    }
    // Checks that build on a failed one are skipped, with why: a refusal of
    // wrong credentials proves nothing when right ones are refused too, and
    // nothing was pushed, so there is no status to read.
    for (id, prerequisite) in [(CheckId::BadCredentials, "`check`"), (CheckId::CandidateStatuses, "`push`")] {
        let (got, detail) = outcome(&report, id);
        assert_eq!((got, detail.contains(prerequisite)), (Outcome::Skip, true), "{}: {detail}\n{table}", id.name());
    }
    // Its error mapping is right, and the kit says so.
    assert_eq!(outcome(&report, CheckId::RateLimited).0, Outcome::Pass, "{table}");
    assert_eq!(outcome(&report, CheckId::Transient).0, Outcome::Pass, "{table}");
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_that_do_not_fit_the_schema_fail_info_and_skip_the_rest() {
    let (_dir, rt) = support::runtime();
    install_bundled(&rt, "lever").await.unwrap();
    let mock = start_mock(Vendor::Lever).await.unwrap();
    let mut settings = settings_for_mock("lever", &mock, &BTreeMap::new());
    settings.insert("colour".into(), "blue".into());
    let report = Suite::against_mock(rt.plugin("lever").await.unwrap(), &mock, settings).run().await;
    let (got, detail) = outcome(&report, CheckId::Info);
    assert_eq!(got, Outcome::Fail);
    assert!(detail.contains("unknown setting `colour`"), "{detail}");
    assert_eq!(report.count(Outcome::Skip), CheckId::ALL.len() - 1, "{}", report.table());
    assert!(mock.requests().is_empty(), "nothing may reach the ATS without valid settings");
}

#[tokio::test(flavor = "multi_thread")]
async fn generic_mode_checks_what_it_can_see_of_any_server() {
    let (dir, rt) = support::runtime();
    support::install(&rt, dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "").await;
    let ats = support::fake_ats().await;
    let settings: BTreeMap<String, String> =
        [("base-url", ats.base()), ("api-key", API_KEY.to_string())].into_iter().map(|(k, v)| (k.into(), v)).collect();
    let hosts = AllowedHosts::parse(&[support::url_origin(&ats.base())]).unwrap();
    let suite = |writes: bool| {
        let plugin = rt.plugin("well-behaved");
        let (settings, hosts) = (settings.clone(), hosts.clone());
        async move {
            Suite::against_server(plugin.await.unwrap(), settings)
                .with_extra_hosts(&hosts)
                .allow_writes(writes)
                .run()
                .await
        }
    };

    let report = suite(true).await;
    let table = report.table();
    for id in [
        CheckId::Info,
        CheckId::Check,
        CheckId::BadCredentials,
        CheckId::FullListing,
        CheckId::IncrementalListing,
        CheckId::Stages,
        CheckId::Push,
    ] {
        assert_eq!(outcome(&report, id).0, Outcome::Pass, "{} should pass\n{table}", id.name());
    }
    assert!(outcome(&report, CheckId::FullListing).1.contains("5 jobs in 3 pages"), "{table}");
    // The fake ATS reports every candidate as hired, even a new one.
    let (got, detail) = outcome(&report, CheckId::CandidateStatuses);
    assert_eq!(got, Outcome::Fail, "{table}");
    assert!(detail.contains("should be active") && detail.contains("Hired"), "{detail}");
    // The fault checks run through the kit's proxy in front of the server.
    for id in CheckId::FAULTS.into_iter().filter(|id| *id != CheckId::ChangingPages) {
        let (got, detail) = outcome(&report, id);
        assert_eq!(got, Outcome::Pass, "{table}");
        assert!(detail.starts_with("injected "), "{detail}");
    }
    // The test API pages by page number, which the proxy does not shift.
    let (got, detail) = outcome(&report, CheckId::ChangingPages);
    assert_eq!((got, detail.contains("page number (`page`)")), (Outcome::Skip, true), "{detail}");

    // Without --allow-writes nothing is pushed to a real server.
    let pushes_before = ats.requests().iter().filter(|r| r.path == "/candidates").count();
    let report = suite(false).await;
    let (got, detail) = outcome(&report, CheckId::Push);
    assert_eq!((got, detail.contains("--allow-writes")), (Outcome::Skip, true), "{detail}");
    assert_eq!(outcome(&report, CheckId::CandidateStatuses).0, Outcome::Skip);
    assert_eq!(ats.requests().iter().filter(|r| r.path == "/candidates").count(), pushes_before);
}

/// A server for the well-behaved guest whose listing serves `pages` (jobs,
/// next page), page 1 first.
async fn paged_server(pages: Vec<(Vec<u32>, Option<u32>)>) -> String {
    use axum::extract::Query;
    let router = axum::Router::new()
        .route("/me", axum::routing::get(|| async { "{}" }))
        .route(
            "/jobs",
            axum::routing::get(move |Query(q): Query<BTreeMap<String, String>>| {
                let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let (jobs, next) = pages[page - 1].clone();
                async move {
                    axum::Json(serde_json::json!({ "jobs": jobs.into_iter().map(support::job).collect::<Vec<_>>(), "next_page": next }))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kit_catches_duplicates_endless_cursors_and_open_doors() {
    let (dir, rt) = support::runtime();
    support::install(&rt, dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "").await;
    let suite = |pages: Vec<(Vec<u32>, Option<u32>)>| {
        let plugin = rt.plugin("well-behaved");
        async move {
            let base = paged_server(pages).await;
            let hosts = AllowedHosts::parse(&[support::url_origin(&base)]).unwrap();
            let settings = [("base-url", base), ("api-key", API_KEY.to_string())]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            Suite::against_server(plugin.await.unwrap(), settings).with_extra_hosts(&hosts).run().await
        }
    };
    let report = suite(vec![(vec![1, 2], Some(2)), (vec![2, 3], None)]).await;
    let (got, detail) = outcome(&report, CheckId::FullListing);
    assert_eq!((got, detail.as_str()), (Outcome::Fail, "1 jobs listed more than once: J2"));
    // The server lets any key in, so wrong credentials are not refused.
    assert_eq!(outcome(&report, CheckId::Check).0, Outcome::Pass);
    let (got, detail) = outcome(&report, CheckId::BadCredentials);
    assert_eq!((got, detail.as_str()), (Outcome::Fail, "check() accepted wrong values of api-key"));

    let report = suite(vec![(vec![1, 2], Some(2)), (vec![3], Some(2))]).await;
    let (got, detail) = outcome(&report, CheckId::FullListing);
    assert_eq!(got, Outcome::Fail);
    assert!(detail.contains("page 2 returned a cursor already followed, so the listing loops"), "{detail}");
}

fn cli(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(support::atsbridge_bin())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("ATSBRIDGE_LOG", "error")
        .output()
        .unwrap()
}

#[test]
fn cli_plugin_test_prints_the_table_and_sets_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = cli(&data, &["plugin", "install", "--bundled", "greenhouse"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = cli(&data, &["plugin", "test", "greenhouse", "--mock", "greenhouse"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.starts_with("conformance of greenhouse 0.2.0 against mock greenhouse at http://127.0.0.1:"),
        "{stdout}"
    );
    for id in CheckId::ALL {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{} ", id.name())))
            .unwrap_or_else(|| panic!("no row for {}\n{stdout}", id.name()));
        assert!(row.contains(" PASS "), "{row}");
    }
    assert!(stdout.contains("16 checks: 16 passed, 0 failed, 0 skipped"), "{stdout}");

    let out = cli(&data, &["--json", "plugin", "test", "greenhouse", "--mock", "greenhouse", "--jobs", "20"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["passed"], true);
    assert_eq!(json["checks"].as_array().unwrap().len(), CheckId::ALL.len());
    assert!(json["checks"][3]["detail"].as_str().unwrap().starts_with("all 20 jobs of the mock"), "{json}");

    // The Greenhouse connector pointed at a Lever mock: its settings do not
    // fit, the suite fails, and so does the command.
    let out = cli(&data, &["plugin", "test", "greenhouse", "--mock", "lever"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.lines().any(|l| l.starts_with("info ") && l.contains(" FAIL ")), "{stdout}");
    assert!(stderr.contains("conformance: 1 of 16 checks failed: info"), "{stderr}");

    // A plugin that is not installed is an error before any check.
    let out = cli(&data, &["plugin", "test", "lever", "--mock", "lever"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("install it first"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An ATS's ordinary rate limit never fails a correct connector: the kit
/// waits out `rate-limited` answers as the sync engine does, and says so.
#[tokio::test(flavor = "multi_thread")]
async fn the_kit_waits_out_an_ordinary_rate_limit() {
    let (_dir, rt) = support::runtime();
    install_bundled(&rt, "lever").await.unwrap();
    let plugin = rt.plugin("lever").await.unwrap();
    // Four requests a second: the listings and pushes run into it many times.
    let config = MockConfig {
        jobs: atsbridge::conformance::MOCK_JOBS,
        page_size_max: Some(atsbridge::conformance::MOCK_PAGE_SIZE),
        page_size_policy: atsbridge_mock_ats::PageSizePolicy::Clamp,
        rate_limit: Some(RateLimit { limit: 4, window: Duration::from_secs(1) }),
        ..Default::default()
    };
    let mock = MockAts::start(Vendor::Lever, config).await.unwrap();
    let settings = settings_for_mock("lever", &mock, &BTreeMap::new());
    let report = Suite::against_mock(plugin, &mock, settings).run().await;
    let table = report.table();
    assert!(report.passed(), "{table}");
    let limited = mock.requests().iter().filter(|r| r.status == Some(429)).count();
    assert!(limited > 2, "the mock's limit was never hit ({limited} answers of 429)\n{table}");
    let waited: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.id != CheckId::RateLimited && c.detail.contains("waited out rate-limited"))
        .map(|c| c.id.name())
        .collect();
    assert!(!waited.is_empty(), "no check says it waited\n{table}");
    mock.shutdown().await;
}

/// `--format junit` prints a JUnit XML document CI can read, with the failed
/// check as a `<failure>`, and the exit code still says the suite failed.
#[test]
fn cli_plugin_test_writes_junit_and_fails_the_process_on_a_failed_check() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = cli(&data, &["plugin", "install", "--bundled", "greenhouse"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = cli(&data, &["plugin", "test", "greenhouse", "--mock", "greenhouse", "--format", "junit"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("<?xml"), "{stdout}");
    assert!(stdout.contains(&format!(r#"tests="{}" failures="0""#, CheckId::ALL.len())), "{stdout}");
    assert!(!stdout.contains("<failure"), "{stdout}");

    // The Greenhouse connector pointed at a Lever mock fails `info`.
    let out = cli(&data, &["plugin", "test", "greenhouse", "--mock", "lever", "--format", "junit"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let info = stdout.split("<testcase ").find(|c| c.starts_with(r#"name="info""#)).unwrap_or_default();
    assert!(info.contains("<failure message="), "{stdout}");
    assert!(stdout.trim_end().ends_with("</testsuites>"), "{stdout}");

    let out = cli(&data, &["plugin", "test", "greenhouse", "--mock", "greenhouse", "--format", "json", "--jobs", "5"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["passed"], true);
}

/// Settings for the test API's guests (`well-behaved`, `careless`).
fn test_api_settings(base: &str) -> BTreeMap<String, String> {
    [("base-url", base.to_string()), ("api-key", API_KEY.to_string())].into_iter().map(|(k, v)| (k.into(), v)).collect()
}

/// A connector that reads an outage (503) or a rate limit (429) as "no
/// jobs" would make a sync close every position. The kit fails it on those
/// fault checks, saying what it injected and what came back, while the
/// correct connector for the same API passes them against the same server;
/// and `plugin test` exits non-zero, naming the failed checks.
#[tokio::test(flavor = "multi_thread")]
async fn the_kit_fails_a_connector_that_reads_an_outage_as_no_jobs() {
    let (dir, rt) = support::runtime();
    support::install(&rt, dir.path(), "careless", "1.2.3", guests::CARELESS, "").await;
    support::install(&rt, dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "").await;
    let ats = support::fake_ats().await;
    let hosts = AllowedHosts::parse(&[support::url_origin(&ats.base())]).unwrap();
    let run = |id: &'static str| {
        let plugin = rt.plugin(id);
        let (settings, hosts) = (test_api_settings(&ats.base()), hosts.clone());
        async move { Suite::against_server(plugin.await.unwrap(), settings).with_extra_hosts(&hosts).run().await }
    };

    let report = run("careless").await;
    let table = report.table();
    assert!(!report.passed(), "{table}");
    let (got, detail) = outcome(&report, CheckId::Transient);
    assert_eq!(got, Outcome::Fail, "{table}");
    assert_eq!(
        detail, "injected HTTP 503 on every request → answered a listing of 0 jobs, should be `transient`",
        "{table}"
    );
    let (got, detail) = outcome(&report, CheckId::RateLimited);
    assert_eq!(got, Outcome::Fail, "{table}");
    assert!(
        detail.starts_with("injected 429 with Retry-After: 7 on every request → answered a listing of 0 jobs"),
        "{detail}"
    );
    let (got, detail) = outcome(&report, CheckId::RateLimitedNoDelay);
    assert_eq!(got, Outcome::Fail, "{table}");
    assert!(detail.starts_with("injected 429 without Retry-After → answered a listing of 0 jobs"), "{detail}");
    // Its other answers are right, and the kit says so.
    for id in [CheckId::DroppedConnection, CheckId::SlowResponse, CheckId::MalformedJson, CheckId::FullListing] {
        assert_eq!(outcome(&report, id).0, Outcome::Pass, "{}\n{table}", id.name());
    }

    let report = run("well-behaved").await;
    let table = report.table();
    for id in [CheckId::RateLimited, CheckId::RateLimitedNoDelay, CheckId::Transient] {
        assert_eq!(outcome(&report, id).0, Outcome::Pass, "{}\n{table}", id.name());
    }

    // The same through the command line, as CI runs it.
    let data = dir.path().join("cli-data");
    let source = support::plugin_dir(dir.path(), "careless-cli", "1.2.3", guests::CARELESS, "");
    let base = ats.base();
    let out = tokio::task::spawn_blocking(move || {
        let installed = cli(&data, &["plugin", "install", source.to_str().unwrap()]);
        assert!(installed.status.success(), "{}", String::from_utf8_lossy(&installed.stderr));
        let key = format!("api-key={API_KEY}");
        cli(&data, &["plugin", "test", "careless-cli", "--base-url", &base, "--set", &key, "--format", "junit"])
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("rate-limited, rate-limited-no-delay, transient"), "{stderr}");
    let case = |name: &str| {
        stdout.split("<testcase ").find(|c| c.starts_with(&format!("name=\"{name}\""))).unwrap_or_default().to_string()
    };
    assert!(case("transient").contains("<failure message=\"injected HTTP 503 on every request"), "{stdout}");
    assert!(case("dropped-connection").contains("<system-out>injected a connection closed"), "{stdout}");
}

/// The mock ATS's command line: starts `mock-ats` as its own process and
/// reads the URLs and credentials it prints.
struct MockProcess {
    child: std::process::Child,
    lines: Vec<String>,
}

impl MockProcess {
    fn start(args: &[&str]) -> MockProcess {
        let bin = support::atsbridge_bin().with_file_name("mock-ats");
        let mut command = if bin.is_file() {
            Command::new(bin)
        } else {
            let mut c = Command::new(support::atsbridge_bin());
            c.arg("mock-ats");
            c
        };
        let mut child = command
            .args(args)
            .env("ATSBRIDGE_LOG", "error")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start mock-ats");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        while !lines.iter().any(|l: &String| l.starts_with("Press Ctrl-C")) {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => lines.push(line),
                Err(e) => {
                    let _ = child.kill();
                    panic!("mock-ats did not start ({e}): {lines:?}");
                }
            }
        }
        MockProcess { child, lines }
    }

    /// The value printed after `label:`.
    fn value(&self, label: &str) -> String {
        let prefix = format!("{label}:");
        let line = self.lines.iter().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("{:?}", self.lines));
        line[prefix.len()..].trim().to_string()
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// As a user runs it: a mock ATS in its own process, and `atsbridge plugin
/// test --base-url` against it. Every fault check runs through the kit's
/// proxy and passes, in the JSON and in the JUnit output, and the exit code
/// is 0.
#[test]
fn cli_plugin_test_against_a_mock_ats_process_runs_every_fault_check() {
    // Three pages of Lever postings (100 a page).
    let mock = MockProcess::start(&["lever", "--jobs", "230", "--port", "0"]);
    let base = mock.value("API base URL");
    let key = format!("api-key={}", mock.value("api key"));
    let user = format!("perform-as={}", mock.value("acting user"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = cli(&data, &["plugin", "install", "--bundled", "lever"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let test = |format: &str| {
        let args = ["plugin", "test", "lever", "--base-url", &base, "--set", &key, "--set", &user, "--format", format];
        let out = cli(&data, &args);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        stdout
    };

    let json: serde_json::Value = serde_json::from_str(&test("json")).unwrap();
    assert_eq!(json["passed"], true, "{json:#}");
    let checks = json["checks"].as_array().unwrap();
    assert_eq!(checks.len(), CheckId::ALL.len());
    for id in CheckId::FAULTS {
        let check = checks.iter().find(|c| c["id"] == id.name()).unwrap_or_else(|| panic!("no {}", id.name()));
        assert_eq!(check["outcome"], "pass", "{check:#}");
        let detail = check["detail"].as_str().unwrap();
        match id {
            // Lever hands out the next page's cursor: an insertion at the
            // front does not shift it.
            CheckId::ChangingPages => assert!(detail.contains("a cursor the server issued (`"), "{detail}"),
            _ => assert!(detail.starts_with("injected ") && detail.contains(" → "), "{detail}"),
        }
    }
    let detail = |id: CheckId| checks.iter().find(|c| c["id"] == id.name()).unwrap()["detail"].as_str().unwrap();
    assert!(detail(CheckId::Transient).contains("500 → transient, 502 → transient, 503 → transient, 504 → transient"));
    assert!(detail(CheckId::SlowResponse).contains("the call's deadline 2000 ms"), "{}", detail(CheckId::SlowResponse));

    let xml = test("junit");
    assert!(xml.contains(&format!(r#"tests="{}" failures="0""#, CheckId::ALL.len())), "{xml}");
    for id in CheckId::FAULTS {
        let case = xml
            .split("<testcase ")
            .find(|c| c.starts_with(&format!("name=\"{}\"", id.name())))
            .unwrap_or_else(|| panic!("no test case {}\n{xml}", id.name()));
        let case = &case[..case.find("</testcase>").unwrap_or(case.len())];
        assert!(!case.contains("<failure") && !case.contains("<skipped"), "{case}");
        assert!(case.contains("<system-out>"), "{case}");
    }
    drop(mock);
}

/// Against a server that pages by offset, the `changing-pages` check has
/// the proxy serve every later page one position earlier: what the server
/// answers once a job was inserted at the front, so page 2 repeats the last
/// job of page 1.
#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_serves_offset_pages_as_after_an_insertion_at_the_front() {
    use axum::extract::Query;
    // 7 jobs, 3 a page, by `offset`; the next page's offset is the client's
    // business, as with SmartRecruiters.
    let router = axum::Router::new().route("/me", axum::routing::get(|| async { "{}" })).route(
        "/jobs",
        axum::routing::get(|Query(q): Query<BTreeMap<String, String>>| async move {
            let offset: usize = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
            let jobs: Vec<u32> = (1..=7).skip(offset).take(3).collect();
            let next = (offset + 3 < 7).then_some(offset + 3);
            axum::Json(serde_json::json!({
                "jobs": jobs.into_iter().map(support::job).collect::<Vec<_>>(),
                "next_offset": next,
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let proxy = atsbridge::conformance::proxy::FaultProxy::start(url::Url::parse(&base).unwrap()).await.unwrap();
    let client = reqwest::Client::new();
    let page = |offset: u32| {
        let url = format!("{}/jobs?limit=3&offset={offset}", proxy.url());
        let client = client.clone();
        async move { client.get(url).send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    let ids = |v: serde_json::Value| {
        v["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(ids(page(3).await), ["J4", "J5", "J6"]);
    proxy.inject(atsbridge::conformance::proxy::ProxyFault::ShiftOffset {
        path: "/jobs".into(),
        param: "offset".into(),
    });
    // Served as if a job had been inserted before J1: J3 comes again.
    assert_eq!(ids(page(3).await), ["J3", "J4", "J5"]);
    let served: Vec<Option<u16>> = proxy.exchanges().iter().map(|e| e.status).collect();
    assert_eq!(served, [Some(200), Some(200)]);
}
