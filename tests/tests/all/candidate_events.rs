//! Candidate events reach the platform's webhook: a push that reached the
//! ATS sends `candidate.pushed`, and the ATS's decisions read back by
//! reconciliation send `candidate.stage_changed` with the stage before and
//! after, each signed and delivered over real HTTP by a running
//! `atsbridge serve` to a receiver on loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use crate::ops_support::eventually;
use crate::outbox_support::{CONNECTION, GhSetup, op, push, reconcile, wait_for_state};

const WAIT: Duration = Duration::from_secs(30);

type Got = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A receiver on loopback that keeps every request and answers 200; its URL.
async fn receiver(got: Got) -> String {
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let got = got.clone();
            async move {
                got.lock().unwrap().push((headers, body));
                StatusCode::OK
            }
        }),
    );
    format!("http://{}/hook", crate::support::serve(router).await.0)
}

/// Whether `header` (`t=<unix>,v1=<hex>`) signs `body` with `secret`.
fn signed(secret: &str, header: &str, body: &[u8]) -> bool {
    let parts: Vec<(&str, &str)> = header.split(',').filter_map(|p| p.split_once('=')).collect();
    let Some(t) = parts.iter().find(|(k, _)| *k == "t").map(|(_, v)| *v) else { return false };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let expected = hex::encode(mac.finalize().into_bytes());
    parts.iter().any(|(k, v)| *k == "v1" && *v == expected)
}

/// (type, candidate id, from stage, to stage) of each distinct event, by id.
fn seen(got: &Got, secret: &str) -> Vec<(String, u64, Option<String>, String)> {
    let mut events: Vec<Value> = Vec::new();
    for (headers, body) in got.lock().unwrap().iter() {
        let signature = headers["x-atsbridge-signature"].to_str().unwrap();
        assert!(signed(secret, signature, body), "a bad signature: {signature}");
        let event: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(headers["x-atsbridge-event"].to_str().unwrap(), event["type"].as_str().unwrap());
        if !events.iter().any(|e| e["id"] == event["id"]) {
            events.push(event);
        }
    }
    events.sort_by_key(|e| e["id"].as_u64());
    events
        .iter()
        .map(|e| {
            let c = &e["candidate"];
            (
                e["type"].as_str().unwrap().to_string(),
                c["id"].as_u64().unwrap(),
                c["from_stage"].as_str().map(str::to_string),
                c["stage_id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn pushes_and_the_ats_decisions_read_back_are_delivered_to_the_webhook() {
    let gh = GhSetup::new(2).await;
    let ids = gh.create_candidates(2, "hook");
    let host = gh.serve("host");
    let got: Got = Arc::default();
    let url = receiver(got.clone()).await;
    let events = ["candidate.pushed", "candidate.push_failed", "candidate.stage_changed"];
    let created =
        op(&host, "POST", "/api/v1/accounts/acme/webhooks", Some(json!({ "url": url, "events": events }))).await;
    let secret = created["secret"].as_str().unwrap().to_string();

    let mut apps = Vec::new();
    for id in &ids {
        let (status, body) = push(&host, *id).await;
        assert_eq!(status, 202, "{body}");
    }
    for id in &ids {
        let done = wait_for_state(&host, *id, "pushed", WAIT).await;
        apps.push(done["ats_application_id"].as_str().unwrap().to_string());
    }
    // In the ATS: the first moves to "Offer", the second is rejected.
    let job = gh.mock.applications().into_iter().find(|a| a.id == apps[0]).unwrap().job_id;
    let offer = gh.mock.stages(&job).unwrap().into_iter().find(|s| s.name == "Offer").unwrap();
    gh.mock.set_application_stage(&apps[0], &offer.id).unwrap();
    gh.mock.reject(&apps[1]).unwrap();
    let report = reconcile(&host, CONNECTION).await;
    assert_eq!(report["moved"], 2, "{report}");

    let first = "new-submission".to_string();
    let want = [
        ("candidate.pushed".to_string(), ids[0], None, first.clone()),
        ("candidate.pushed".to_string(), ids[1], None, first.clone()),
        ("candidate.stage_changed".to_string(), ids[0], Some(first.clone()), "offer".to_string()),
        ("candidate.stage_changed".to_string(), ids[1], Some(first.clone()), "rejected".to_string()),
    ];
    let mut last = Vec::new();
    let delivered = crate::ops_support::try_eventually(WAIT, || {
        last = seen(&got, &secret);
        let done = last.len() >= want.len();
        async move { done.then_some(()) }
    })
    .await;
    assert!(delivered.is_some(), "not delivered: {last:?}");
    // Pushes may finish in either order; the ATS's decisions come after both.
    let mut pushed = last[..2].to_vec();
    pushed.sort_by_key(|e| e.1);
    assert_eq!(pushed, want[..2], "{last:?}");
    let mut changed = last[2..].to_vec();
    changed.sort_by_key(|e| e.1);
    assert_eq!(changed, want[2..], "{last:?}");

    // The delivery log says the same, once the host has recorded the answers.
    let deliveries =
        format!("/api/v1/accounts/acme/webhooks/{}/deliveries", created["webhook"]["id"].as_str().unwrap());
    eventually(WAIT, "four deliveries on record", || async {
        let log = op(&host, "GET", &deliveries, None).await;
        let states: Vec<String> =
            log["items"].as_array()?.iter().filter_map(|d| d["state"].as_str().map(str::to_string)).collect();
        (states == ["delivered"; 4]).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_push_keeps_the_ats_message_and_is_delivered_as_push_failed() {
    let gh = GhSetup::new(2).await;
    let ids = gh.create_candidates(1, "refused");
    // Greenhouse refuses the create with its validation envelope.
    gh.mock
        .inject(atsbridge_mock_ats::FaultRule::new(atsbridge_mock_ats::Fault::Status(422)).on_path("/v3/candidates"));
    let host = gh.serve("host");
    let got: Got = Arc::default();
    let url = receiver(got.clone()).await;
    let body = json!({ "url": url, "events": ["candidate.push_failed"] });
    let created = op(&host, "POST", "/api/v1/accounts/acme/webhooks", Some(body)).await;
    let secret = created["secret"].as_str().unwrap().to_string();

    push(&host, ids[0]).await;
    let failed = wait_for_state(&host, ids[0], "failed", WAIT).await;
    let error = failed["error"].as_str().unwrap();
    // The ATS's own words, not only a status.
    assert!(error.contains("422") && error.contains("Validation error"), "{failed}");
    let candidate = op(&host, "GET", &format!("/api/v1/candidates/{}", ids[0]), None).await;
    assert_eq!(candidate["push"]["message"], error, "{candidate}");

    let events = eventually(WAIT, "the push_failed event", || async {
        let events = seen(&got, &secret);
        (!events.is_empty()).then_some(events)
    })
    .await;
    assert_eq!(events, [("candidate.push_failed".to_string(), ids[0], None::<String>, "new-submission".to_string())]);
    let raw: Value = serde_json::from_slice(&got.lock().unwrap()[0].1).unwrap();
    assert_eq!(raw["candidate"]["push"]["failed"]["message"], error, "{raw}");
}
