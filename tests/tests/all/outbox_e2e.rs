//! Candidate pushes end to end: a running `atsbridge serve`, the bundled
//! Greenhouse connector, a mock Greenhouse, real HTTP everywhere.

use std::time::Duration;

use atsbridge::store::{MovedBy, PushState};
use atsbridge_mock_ats::{Fault, FaultRule};
use serde_json::json;

use crate::outbox_fixture::new_candidate;
use crate::outbox_support::{
    CONNECTION, GhSetup, create_candidate, move_to, positions, push, push_status, reconcile, set_auto_push,
    settled_history, wait_for_state,
};

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread")]
async fn a_push_reaches_the_ats_once_and_records_its_ids() {
    let gh = GhSetup::new(2).await;
    let ids = gh.create_candidates(1, "one");
    let host = gh.serve("host");
    let (status, body) = push(&host, ids[0]).await;
    assert_eq!(status, 202, "{body}");
    assert!(body["state"] == "queued" || body["state"] == "pushed", "{body}");
    let done = wait_for_state(&host, ids[0], "pushed", WAIT).await;
    let pushed = gh.mock.pushed_candidates();
    assert_eq!(pushed.len(), 1);
    assert_eq!(done["ats_candidate_id"], pushed[0].candidate_id.as_str(), "{done}");
    assert_eq!(done["ats_application_id"].as_str(), pushed[0].application_id.as_deref(), "{done}");
    assert_eq!(done["outbox"], json!([]));
    // The application starts in the ATS stage "New submission" maps to.
    let app = gh.mock.applications().into_iter().find(|a| a.candidate_id == pushed[0].candidate_id).unwrap();
    let first = gh.mock.stages(&app.job_id).unwrap()[0].id.clone();
    assert_eq!(app.stage_id, first);

    // Asking again is refused with a code that says why; nothing is sent.
    let (status, body) = push(&host, ids[0]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("already_pushed")), "{body}");
    assert_eq!(gh.mock.pushed_candidates().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_and_server_errors_are_retried_honouring_retry_after() {
    let gh = GhSetup::new(2).await;
    let ids = gh.create_candidates(1, "retry");
    gh.mock.inject(FaultRule::new(Fault::RateLimit { retry_after_secs: 2 }).on_path("/v3/candidates"));
    gh.mock.inject(FaultRule::new(Fault::Status(503)).on_path("/v3/candidates"));
    gh.mock.inject(FaultRule::new(Fault::Status(500)).on_path("/v3/candidates"));
    let host = gh.serve("host");
    let started = std::time::Instant::now();
    let (status, _) = push(&host, ids[0]).await;
    assert_eq!(status, 202);
    // While it waits, the entry shows the attempts and the ATS's error.
    let waiting = crate::ops_support::eventually(WAIT, "a failed attempt", || async {
        let s = push_status(&host, ids[0]).await;
        (s["outbox"][0]["attempts"].as_u64() >= Some(1)).then_some(s)
    })
    .await;
    assert!(waiting["outbox"][0]["last_error"].as_str().is_some_and(|e| e.contains("rate")), "{waiting}");
    let done = wait_for_state(&host, ids[0], "pushed", WAIT).await;
    assert!(started.elapsed() >= Duration::from_secs(2), "Retry-After was not honoured");
    assert_eq!(gh.mock.pushed_candidates().len(), 1, "{done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_permanent_refusal_is_recorded_with_the_ats_message() {
    let gh = GhSetup::new(2).await;
    let ids = gh.create_candidates(1, "refused");
    gh.mock.inject(FaultRule::new(Fault::Status(422)).on_path("/v3/candidates"));
    let host = gh.serve("host");
    push(&host, ids[0]).await;
    let failed = wait_for_state(&host, ids[0], "failed", WAIT).await;
    let error = failed["error"].as_str().unwrap();
    assert!(!error.is_empty() && !error.contains('\u{1b}'), "{failed}");
    assert!(gh.mock.pushed_candidates().is_empty());
    // A failed push may be asked for again, and then succeeds.
    let (status, _) = push(&host, ids[0]).await;
    assert_eq!(status, 202);
    wait_for_state(&host, ids[0], "pushed", WAIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_already_in_the_ats_is_linked_not_duplicated() {
    let gh = GhSetup::new(2).await;
    let ids = gh.create_candidates(1, "dup");
    // The same person applied twice on our side (same e-mail, same job).
    let twin = gh.with_store(|store| {
        let first = store.candidate(ids[0]).unwrap().unwrap();
        let new = new_candidate(first.position_id, first.name.clone(), first.email.to_uppercase(), "test");
        store.create_candidate(new).unwrap().0.id
    });
    let host = gh.serve("host");
    push(&host, ids[0]).await;
    let first = wait_for_state(&host, ids[0], "pushed", WAIT).await;
    // Requests repeated while queued queue one push.
    for _ in 0..5 {
        let (status, body) = push(&host, twin).await;
        assert!(status == 202 || status == 409, "{status} {body}");
    }
    let second = wait_for_state(&host, twin, "pushed", WAIT).await;
    assert_eq!(first["ats_candidate_id"], second["ats_candidate_id"]);
    assert_eq!(first["ats_application_id"], second["ats_application_id"]);
    assert_eq!(gh.mock.pushed_candidates().len(), 1, "one person in the ATS");
    assert_eq!(gh.mock.applications().len(), 1, "one application in the ATS");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_job_or_an_unmapped_stage_fails_at_once_saying_which() {
    let gh = GhSetup::new(3).await;
    let ids = gh.create_candidates(3, "refuse");
    let (closed_job, unmapped_job) = gh.with_store(|store| {
        let c0 = store.candidate(ids[0]).unwrap().unwrap();
        let c1 = store.candidate(ids[1]).unwrap().unwrap();
        let p0 = store.position(c0.position_id).unwrap().unwrap();
        let p1 = store.position(c1.position_id).unwrap().unwrap();
        store.clear_stage_override(CONNECTION, Some(&p1.ats_job_code), "new-submission").unwrap();
        (p0.ats_job_code, p1.ats_job_code)
    });
    gh.mock.close_job(&closed_job).unwrap();
    gh.setup.ok(&["connection", "sync", CONNECTION, "--full"]);
    // A mapping to a stage the ATS no longer lists is stale.
    gh.with_store(|store| {
        let c2 = store.candidate(ids[2]).unwrap().unwrap();
        let p2 = store.position(c2.position_id).unwrap().unwrap();
        store.set_stage_override(CONNECTION, None, "screening", "no-such-stage").unwrap();
        let moved = store.move_candidate(ids[2], "screening", MovedBy::User { name: "t".into() }).unwrap();
        assert_eq!(moved.0.stage_id, "screening");
        p2
    });
    let host = gh.serve("host");
    let (status, body) = push(&host, ids[0]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("job_closed")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains(&closed_job), "{body}");
    let (status, body) = push(&host, ids[1]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("stage_not_mapped")), "{body}");
    let _ = unmapped_job;
    let (status, body) = push(&host, ids[2]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("stage_mapping_stale")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("no-such-stage"), "{body}");
    for id in &ids {
        assert_eq!(push_status(&host, *id).await["state"], "not_sent");
    }
    assert!(gh.mock.pushed_candidates().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn reconciliation_maps_the_ats_stage_back_and_the_ats_wins() {
    let gh = GhSetup::new(2).await;
    let ids = gh.create_candidates(3, "rec");
    let mut host = gh.serve("host");
    for id in &ids {
        push(&host, *id).await;
    }
    let mut apps = Vec::new();
    for id in &ids {
        let s = wait_for_state(&host, *id, "pushed", WAIT).await;
        apps.push(s["ats_application_id"].as_str().unwrap().to_string());
    }
    // In the ATS: one moves to "Offer" (our "Offer" by name), one is
    // rejected, one stays.
    let job = gh.mock.applications().into_iter().find(|a| a.id == apps[0]).unwrap().job_id;
    let offer = gh.mock.stages(&job).unwrap().into_iter().find(|s| s.name == "Offer").unwrap();
    gh.mock.set_application_stage(&apps[0], &offer.id).unwrap();
    gh.mock.reject(&apps[1]).unwrap();
    let report = reconcile(&host, CONNECTION).await;
    assert_eq!((report["checked"].as_u64(), report["moved"].as_u64()), (Some(3), Some(2)), "{report}");
    assert_eq!(push_status(&host, ids[0]).await["stage_id"], "offer");
    assert_eq!(push_status(&host, ids[1]).await["stage_id"], "rejected");
    assert_eq!(push_status(&host, ids[2]).await["stage_id"], "new-submission");
    // Nothing changed since: a second run moves nothing.
    let again = reconcile(&host, CONNECTION).await;
    assert_eq!(again["moved"], 0, "{again}");
    host.terminate(WAIT);
    gh.with_store(|store| {
        let moves = store.stage_moves(ids[0]).unwrap();
        let last = moves.last().unwrap();
        assert_eq!((last.to.as_str(), &last.by), ("offer", &MovedBy::Ats));
        let events = store.events_after(0, 1000).unwrap();
        let changed: Vec<_> =
            events.iter().filter(|e| e.kind == atsbridge::store::EventKind::CandidateStageChanged).collect();
        assert_eq!(changed.len(), 2);
        let c = changed[0].candidate.as_ref().unwrap();
        assert_eq!((c.id, c.stage_id.as_str(), c.from_stage.as_deref()), (ids[0], "offer", Some("new-submission")));
        assert!(matches!(c.push, PushState::Pushed { .. }));
        assert_eq!(
            events.iter().filter(|e| e.kind == atsbridge::store::EventKind::CandidatePushed).count(),
            3,
            "one candidate.pushed per push"
        );
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_move_after_the_push_reaches_a_connector_that_can_move_and_is_recorded_otherwise() {
    // Greenhouse's connector declares move-application, but our stage
    // `interview` has no Greenhouse stage: the move is recorded as not
    // propagated, saying why.
    let gh = GhSetup::new(2).await;
    let ids = gh.create_candidates(1, "move");
    let host = gh.serve("host");
    push(&host, ids[0]).await;
    wait_for_state(&host, ids[0], "pushed", WAIT).await;
    move_to(&host, ids[0], "interview").await;
    let history = settled_history(&host, ids[0], WAIT).await;
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(last["propagation"]["state"], "not_propagated", "{history}");
    assert!(last["propagation"]["reason"].as_str().unwrap().contains("not mapped"), "{history}");

    // The 0.2.0 test connector declares it: the ATS is told.
    let ats = crate::outbox_support::LineAts::start().await;
    let setup = crate::outbox_support::line_setup(&ats);
    let host = setup.serve(&setup.dir.path().join("line.log"));
    let j1 = positions(&host, "acme-line").await.into_iter().find(|p| p["ats_job_code"] == "J1").unwrap()["id"]
        .as_u64()
        .unwrap();
    let id = create_candidate(&host, j1, "Ada Lovelace", "ada@example.com").await;
    push(&host, id).await;
    wait_for_state(&host, id, "pushed", WAIT).await;
    move_to(&host, id, "interview").await;
    let history = settled_history(&host, id, WAIT).await;
    assert_eq!(history.as_array().unwrap().last().unwrap()["propagation"]["state"], "propagated", "{history}");
    let moves: Vec<_> = ats.seen().into_iter().filter(|(path, _)| path == "/applications/app-9/move").collect();
    assert_eq!(moves.len(), 1, "{moves:?}");
    assert!(moves[0].1.contains("stage=J1-s2") && moves[0].1.contains("job=J1"), "{moves:?}");
    // The push carried the idempotency key and the mapped first stage.
    let pushes: Vec<_> = ats.seen().into_iter().filter(|(path, _)| path == "/candidates").collect();
    assert_eq!(pushes.len(), 1);
    assert!(pushes[0].1.contains("stage=J1-s1") && pushes[0].1.contains("key=atsbridge-"), "{pushes:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_auto_push_rule_pushes_candidates_reaching_its_stage() {
    let gh = GhSetup::new(2).await;
    let host = gh.serve("host");
    set_auto_push(&host, CONNECTION, Some("new-submission")).await;
    let position = positions(&host, CONNECTION).await[0]["id"].as_u64().unwrap();
    let id = create_candidate(&host, position, "Grace Hopper", "grace@example.com").await;
    wait_for_state(&host, id, "pushed", WAIT).await;
    assert_eq!(gh.mock.pushed_candidates().len(), 1);
    // Cleared: the next candidate waits for an explicit push. The rule
    // queues in the create's own transaction, so the answer already says.
    set_auto_push(&host, CONNECTION, None).await;
    let id = create_candidate(&host, position, "Alan Turing", "alan@example.com").await;
    let status = push_status(&host, id).await;
    assert_eq!((status["state"].as_str(), &status["outbox"]), (Some("not_sent"), &json!([])), "{status}");
}
