//! A well-behaved connector exercised through every export.

use atsbridge::contract::{
    ApplicationState, Attachment, Candidate, CandidateRef, Capability, ConnectorError, JobStatus, PushRequest,
};
use atsbridge::runtime::CallError;
use atsbridge_tests::guests;

use crate::support::{self, API_KEY};

#[tokio::test(flavor = "multi_thread")]
async fn every_export_works_against_a_real_http_api() {
    let (dir, rt) = support::runtime();
    let ats = support::fake_ats().await;
    let installed = support::install(&rt, dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "").await;
    assert_eq!(installed.record.info.name, "Well Behaved");
    assert_eq!(
        installed.record.info.capabilities,
        vec![Capability::Stages, Capability::CandidatePush, Capability::CandidateStatus]
    );
    let plugin = rt.plugin("well-behaved").await.unwrap();
    let conn = support::connection(&ats.base());

    // info
    let info = plugin.info().await.unwrap();
    assert_eq!(info.version, "1.2.3");
    assert!(info.config_schema.iter().any(|s| s.key == "api-key"));

    // check: good key, then a bad one
    plugin.check(&conn).await.unwrap();
    let bad = atsbridge::runtime::ConnectionContext { settings: vec![], ..conn.clone() }
        .text("base-url", ats.base())
        .secret("api-key", "wrong");
    let err = plugin.check(&bad).await.unwrap_err();
    assert!(matches!(err.connector_error(), Some(ConnectorError::Unauthorized(_))), "{err}");

    // list-jobs: follow cursors to the end; every job exactly once
    let mut cursor: Option<String> = None;
    let mut codes = Vec::new();
    let mut pages = 0;
    loop {
        let page = plugin.list_jobs(&conn, cursor.as_deref(), Some("2026-01-01T00:00:00Z")).await.unwrap();
        pages += 1;
        codes.extend(page.jobs.iter().map(|j| j.code.clone()));
        if pages == 1 {
            let j1 = &page.jobs[0];
            assert_eq!((j1.code.as_str(), j1.title.as_str(), &j1.status), ("J1", "Engineer 1", &JobStatus::Open));
            assert_eq!(j1.locations, vec!["Berlin"]);
            assert_eq!(j1.assigned_users[0].email.as_deref(), Some("ada@example.com"));
            assert_eq!(page.jobs[1].status, JobStatus::Draft);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(codes, vec!["J1", "J2", "J3", "J4", "J5"]);
    let seen = ats.requests();
    assert!(seen.iter().any(|r| r.path.contains("updated_after=2026-01-01T00:00:00Z")), "{seen:?}");

    // list-stages
    let stages = plugin.list_stages(&conn, None).await.unwrap();
    assert_eq!(stages.iter().map(|s| (s.id.as_str(), s.position)).collect::<Vec<_>>(), vec![("s1", 0), ("s2", 1)]);

    // push-candidate: what reached the ATS is what we sent
    let request = PushRequest {
        job_code: "J1".into(),
        candidate: Candidate {
            first_name: "Grace".into(),
            last_name: "Hopper".into(),
            email: "grace@example.com".into(),
            phone: Some("+1 555 0100".into()),
            resume: Some(Attachment {
                file_name: "cv.pdf".into(),
                content_type: "application/pdf".into(),
                content: b"%PDF-1.7 cv".to_vec(),
            }),
            resume_url: None,
            source: Some("atsbridge".into()),
            links: vec!["https://github.com/grace".into()],
            answers: vec![],
        },
        stage_id: Some("s1".into()),
        idempotency_key: "push-42".into(),
    };
    let pushed = plugin.push_candidate(&conn, &request).await.unwrap();
    assert_eq!(
        (pushed.ref_.candidate_id.as_str(), pushed.ref_.application_id.as_str(), pushed.existing),
        ("c1", "a1", false)
    );
    let push = ats.requests().into_iter().find(|r| r.path == "/candidates").unwrap();
    assert_eq!(push.headers.get("idempotency-key").map(String::as_str), Some("push-42"));
    assert_eq!(push.method, "POST");
    assert_eq!(push.body["email"], "grace@example.com");
    assert_eq!(push.body["job_code"], "J1");
    let resume = push.body.to_string();
    use base64::Engine as _;
    assert!(resume.contains(&base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.7 cv")), "{resume}");

    // candidate-statuses
    let refs = vec![CandidateRef { candidate_id: "c1".into(), application_id: "a1".into() }];
    let statuses = plugin.candidate_statuses(&conn, &refs).await.unwrap();
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].state, ApplicationState::Hired);
    assert_eq!(statuses[0].stage_name.as_deref(), Some("Interview"));

    // The secret went out as Basic auth, attached by the host.
    assert!(ats.requests().iter().all(|r| r.headers.contains_key("authorization")));

    // Metrics counted every call, the unauthorized one as a connector error.
    let m = rt.metrics().plugin("well-behaved");
    assert!(m.calls >= 9, "{m:?}");
    assert_eq!(m.connector_errors.get("unauthorized"), Some(&1));
    assert_eq!(m.traps, 0);
    assert_eq!(m.by_function["list-jobs"].calls, 3);
    let _ = API_KEY;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_the_connection_was_not_granted_is_refused() {
    let (dir, rt) = support::runtime();
    let ats = support::fake_ats().await;
    support::install(&rt, dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "").await;
    let plugin = rt.plugin("well-behaved").await.unwrap();
    // Same settings, but the operator did not grant the mock's address.
    let conn = atsbridge::runtime::ConnectionContext::new("c").text("base-url", ats.base()).secret("api-key", API_KEY);
    let err = plugin.check(&conn).await.unwrap_err();
    assert!(matches!(err, CallError::Connector { .. }), "{err}");
    assert!(err.to_string().contains("not in the plugin's allowed hosts"), "{err}");
    assert_eq!(ats.hits(), 0);
}
