//! The example Python connector (`examples/python-connector`), built with
//! componentize-py by its own `build.sh`, installed like a customer would
//! install it, and run against the Workable mock.
//!
//! A Python component is ~18 MB and takes wasmtime ~11 s to compile in a
//! release host, so everything runs in one test function with one install.
//! Without `python3` on PATH the test is skipped with a message; CI has
//! python3, pip and PyPI, so there it always runs.

use std::time::Instant;

use atsbridge::contract::{
    ApplicationState, Attachment, Candidate, CandidateRef, Capability, ConnectorError, JobStatus, PushRequest,
    RateLimit, SettingKind,
};
use atsbridge::plugin::install::{PluginSource, install_from};
use atsbridge::runtime::ConnectionContext;
use atsbridge_mock_ats::{Fault, MockAts, MockConfig, Vendor};

use crate::example_support::{build_component, connector_error, example_dir, list_all, workable_connection};
use crate::support;

/// More than two pages of 100, so the listing follows `paging.next` twice
/// and ends on a partial page.
const MOCK_JOBS: usize = 230;

/// The largest resume the example's manifest budgets memory for.
const LARGE_RESUME_BYTES: usize = 10 << 20;

fn push_request(job_code: &str) -> PushRequest {
    PushRequest {
        job_code: job_code.into(),
        candidate: Candidate {
            first_name: "Grace".into(),
            last_name: "Hopper".into(),
            email: "grace@example.com".into(),
            phone: Some("+1 555 0100".into()),
            resume: Some(Attachment {
                file_name: "cv.pdf".into(),
                content_type: "application/pdf".into(),
                content: b"%PDF-1.7 grace".to_vec(),
            }),
            resume_url: None,
            source: Some("jobs.example.com".into()),
            links: vec!["https://github.com/grace".into(), "https://grace.dev".into()],
            answers: vec![],
        },
        stage_id: None,
        idempotency_key: "push-grace-1".into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn python_workable_connector_works_against_the_mock() {
    let Some(component) =
        tokio::task::spawn_blocking(|| build_component("python-connector", "python3", &["--test"])).await.unwrap()
    else {
        return;
    };
    let size = std::fs::metadata(&component).unwrap().len();

    // Install from the example directory, as `atsbridge plugin install
    // examples/python-connector --component <path>` does.
    let (_dir, rt) = support::runtime();
    let started = Instant::now();
    let source = PluginSource::locate(&example_dir("python-connector"), Some(&component)).expect("manifest");
    let installed = install_from(&rt, source).await.unwrap_or_else(|e| panic!("install: {e}"));
    eprintln!(
        "installed {} ({size} bytes) in {:.1?} (compile included)",
        installed.record.info.name,
        started.elapsed()
    );
    let plugin = rt.plugin("workable-py").await.unwrap();

    // info: name, version, capabilities, schema.
    let info = plugin.info().await.unwrap();
    assert_eq!((info.name.as_str(), info.version.as_str()), ("Workable (Python)", "0.1.0"));
    assert!(!info.vendor.is_empty());
    assert_eq!(info.capabilities, vec![Capability::Stages, Capability::CandidatePush, Capability::CandidateStatus]);
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
    let conn = workable_connection("workable-py-conn", &mock, &token);

    // check: the token works; a wrong one is unauthorized.
    plugin.check(&conn).await.unwrap();
    let err = connector_error(plugin.check(&workable_connection("workable-py-conn", &mock, "not-the-token")).await);
    assert!(matches!(err, ConnectorError::Unauthorized(_)), "{err:?}");

    // list-jobs, full: every job exactly once, in three pages of <= 100.
    let started = Instant::now();
    let (codes, pages) = list_all(&plugin, &conn, None).await;
    eprintln!("full listing of {MOCK_JOBS} jobs in {pages} pages: {:.1?}", started.elapsed());
    let expected: Vec<String> = mock.jobs().into_iter().map(|j| j.id).collect();
    assert_eq!(codes, expected, "every mock job exactly once, in listing order");
    assert_eq!(pages, 3);
    let listings: Vec<String> =
        mock.requests().into_iter().filter(|r| r.path.contains("include_fields=")).map(|r| r.path).collect();
    assert_eq!(listings.len(), 3, "{listings:?}");
    assert_eq!(listings[0], "/spi/v3/jobs?limit=100&include_fields=description,full_description");
    assert!(listings[1..].iter().all(|p| p.contains("since_id=")), "later pages follow paging.next: {listings:?}");

    // The mapping of one job.
    let first = plugin.list_jobs(&conn, None, None).await.unwrap().jobs.remove(0);
    let job = mock.job(&first.code).unwrap();
    assert_eq!(first.title, job.title);
    let raw = match job.status {
        atsbridge_mock_ats::JobStatus::Open => "published",
        atsbridge_mock_ats::JobStatus::Closed => "closed",
        atsbridge_mock_ats::JobStatus::Draft => "draft",
        atsbridge_mock_ats::JobStatus::Archived => "archived",
    };
    assert_eq!(first.raw_status, raw);
    let status = match raw {
        "published" => JobStatus::Open,
        "draft" => JobStatus::Draft,
        _ => JobStatus::Closed,
    };
    assert_eq!(first.status, status);
    assert_eq!(first.locations.first(), Some(&mock.offices()[job.office].location()));
    assert_eq!(first.description, mock.job_description(&job.id).unwrap());
    let updated = first.updated_at.as_deref().expect("updated-at");
    assert!(updated.ends_with('Z') && updated.len() == 20, "RFC 3339 UTC: {updated}");
    let extra = |key: &str| first.extra.iter().find(|f| f.key == key).map(|f| f.value.clone());
    assert_eq!(extra("department"), Some(mock.departments()[job.department].name.clone()));
    assert!(extra("workable-id").is_some() && extra("created-at").is_some(), "{:?}", first.extra);

    // list-jobs, incremental: only the jobs changed since, with
    // `updated_after` in ISO 8601 basic format.
    let since = chrono::Utc::now() - chrono::Duration::seconds(1);
    let since_text = since.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let changed = [expected[3].clone(), expected[150].clone()];
    for code in &changed {
        mock.update_job(code, |j| j.title = format!("{} (changed)", j.title)).unwrap();
    }
    let page = plugin.list_jobs(&conn, None, Some(&since_text)).await.unwrap();
    assert_eq!(page.jobs.iter().map(|j| j.code.clone()).collect::<Vec<_>>(), changed);
    assert!(page.jobs.iter().all(|j| j.title.ends_with("(changed)")));
    assert_eq!(page.next_cursor, None);
    let basic = since.format("%Y%m%dT%H%M%SZ").to_string();
    assert!(
        mock.requests().iter().any(|r| r.path.contains(&format!("updated_after={basic}"))),
        "updated_after={basic}"
    );

    // list-stages: the account's and a job's, slugs as ids; unknown job.
    let stages = plugin.list_stages(&conn, None).await.unwrap();
    let ids: Vec<_> = stages.iter().map(|s| (s.id.as_str(), s.position)).collect();
    assert_eq!(&ids[..3], &[("sourced", 0), ("applied", 1), ("phone-screen", 2)]);
    assert_eq!(stages.len(), mock.stages(&expected[0]).unwrap().len());
    let job_stages = plugin.list_stages(&conn, Some(&expected[0])).await.unwrap();
    assert!(job_stages.iter().all(|s| s.job_code.as_deref() == Some(expected[0].as_str())));
    let err = connector_error(plugin.list_stages(&conn, Some("NO-SUCH-JOB")).await);
    assert!(matches!(err, ConnectorError::NotFound(_)), "{err:?}");

    // push-candidate twice with the same e-mail: one candidate, the second
    // push links to it.
    let request = push_request(&expected[0]);
    let first_push = plugin.push_candidate(&conn, &request).await.unwrap();
    assert!(!first_push.existing);
    let again = plugin.push_candidate(&conn, &request).await.unwrap();
    assert!(again.existing, "the second push finds the candidate by e-mail");
    assert_eq!(again.ref_, first_push.ref_);
    let pushed = mock.pushed_candidates();
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    let record = &pushed[0];
    assert_eq!((record.first_name.as_deref(), record.last_name.as_deref()), (Some("Grace"), Some("Hopper")));
    assert_eq!(record.emails, vec!["grace@example.com"]);
    assert_eq!(record.job_id.as_deref(), Some(expected[0].as_str()));
    assert_eq!(record.stage_id.as_deref(), Some("applied"), "sourced: false files an applicant");
    let resume = record.resume().expect("resume");
    assert_eq!((resume.file_name.as_str(), resume.bytes.as_slice()), ("cv.pdf", b"%PDF-1.7 grace".as_slice()));
    let body: serde_json::Value = serde_json::from_slice(&record.raw_bodies[0]).unwrap();
    assert_eq!(body["candidate"]["social_profiles"][0]["type"], "github");
    assert_eq!(body["candidate"]["summary"], "Links: https://grace.dev");
    assert_eq!(body["domain"], "jobs.example.com");

    // A 10 MB resume fits the manifest's memory limit (see its [limits]).
    let mut large = push_request(&expected[1]);
    large.candidate.email = "large-resume@example.com".into();
    large.candidate.resume.as_mut().unwrap().content = vec![b'%'; LARGE_RESUME_BYTES];
    assert!(!plugin.push_candidate(&conn, &large).await.unwrap().existing);
    let record = mock.pushed_candidates().pop().unwrap();
    assert_eq!(record.resume().map(|r| r.bytes.len()), Some(LARGE_RESUME_BYTES));

    // candidate-statuses: the pushed one (then hired), and one Workable
    // does not know.
    let missing = CandidateRef { candidate_id: "fffffff".into(), application_id: "fffffff".into() };
    let statuses = plugin.candidate_statuses(&conn, &[first_push.ref_.clone(), missing.clone()]).await.unwrap();
    assert_eq!(statuses[0].state, ApplicationState::Active);
    assert_eq!(
        (statuses[0].stage_id.as_deref(), statuses[0].stage_name.as_deref()),
        (Some("applied"), Some("Applied"))
    );
    assert_eq!(statuses[1].ref_, missing);
    assert_eq!(statuses[1].state, ApplicationState::Other("not-found".into()));
    mock.hire(&first_push.ref_.application_id).unwrap();
    let statuses = plugin.candidate_statuses(&conn, std::slice::from_ref(&first_push.ref_)).await.unwrap();
    assert_eq!(statuses[0].state, ApplicationState::Hired);
    assert_eq!(statuses[0].stage_id.as_deref(), Some("hired"));

    // Faults: 429 with Retry-After, 503 from a load balancer, a cut body.
    mock.inject(Fault::RateLimit { retry_after_secs: 7 });
    let err = connector_error(plugin.list_jobs(&conn, None, None).await);
    assert!(matches!(err, ConnectorError::RateLimited(RateLimit { retry_after_ms: Some(7000), .. })), "{err:?}");
    mock.inject(Fault::Status(503));
    let err = connector_error(plugin.list_jobs(&conn, None, None).await);
    assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    mock.inject(Fault::MalformedJson);
    let err = connector_error(plugin.list_jobs(&conn, None, None).await);
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err:?}");
    // The faults fired once each: the next call works again.
    plugin.check(&conn).await.unwrap();

    // A cursor pointing off the configured origin is refused before any
    // request is made (the token must not follow it).
    let before = mock.request_count();
    let err = connector_error(plugin.list_jobs(&conn, Some("https://evil.example/spi/v3/jobs"), None).await);
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err:?}");
    assert_eq!(mock.request_count(), before);

    // Missing settings are the user's to fix.
    let no_token = ConnectionContext::new("c").text("subdomain", "mock");
    let err = connector_error(plugin.check(&no_token).await);
    assert!(matches!(err, ConnectorError::InvalidConfig(_)), "{err:?}");
}
