//! Order and concurrency of the outbox, seen from the ATS's side: the
//! entries of one candidate (its push, then its stage moves) reach the ATS
//! one after another in the order they were asked for, while the pushes of
//! different candidates overlap, never more of them at once than the
//! per-connection limit. A test ATS on loopback takes its time over each
//! request and records when each began and ended; the contract 0.2.0 test
//! connector (it can move applications) talks to it through a real
//! `atsbridge serve`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atsbridge::outbox::DEFAULT_PER_CONNECTION;
use axum::body::Bytes;
use axum::http::{StatusCode, Uri};

use crate::ops_support::Setup;
use crate::outbox_fixture::new_candidate;
use crate::outbox_support::{j1_stages, move_to, push, settled_history, wait_for_state, with_store};

/// How long the ATS takes over each push and move: long enough that
/// requests asked for together are in flight together.
const ATS_TIME: Duration = Duration::from_millis(300);
/// More candidates than the per-connection limit, so the limit is reached.
const CANDIDATES: usize = 10;
const WAIT: Duration = Duration::from_secs(60);
const CONNECTION: &str = "acme-line";

/// One request the ATS answered: path, body, and when it began and ended
/// (since the ATS started).
#[derive(Clone, Debug)]
struct Call {
    path: String,
    body: String,
    began: Duration,
    ended: Duration,
}

/// The slow test ATS: pushes answer `cand-<local part> app-<local part>` of
/// the candidate's e-mail, moves answer 200.
#[derive(Clone)]
struct SlowAts {
    base: String,
    calls: Arc<Mutex<Vec<Call>>>,
    most_at_once: Arc<AtomicUsize>,
}

impl SlowAts {
    async fn start() -> SlowAts {
        let calls: Arc<Mutex<Vec<Call>>> = Arc::default();
        let most_at_once = Arc::new(AtomicUsize::new(0));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let epoch = Instant::now();
        let (log, most) = (calls.clone(), most_at_once.clone());
        let router = axum::Router::new().fallback(move |uri: Uri, body: Bytes| {
            let (log, most, in_flight) = (log.clone(), most.clone(), in_flight.clone());
            async move {
                let path = uri.path().to_string();
                let body = String::from_utf8_lossy(&body).into_owned();
                let answer = if path == "/candidates" {
                    let email = body.lines().find_map(|l| l.strip_prefix("email=")).unwrap_or("unknown@x");
                    let local = email.split('@').next().unwrap_or("unknown");
                    (StatusCode::CREATED, format!("cand-{local} app-{local}"))
                } else if path.starts_with("/applications/") && path.ends_with("/move") {
                    (StatusCode::OK, String::new())
                } else {
                    return (StatusCode::NOT_FOUND, "no such path".to_string());
                };
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let began = epoch.elapsed();
                tokio::time::sleep(ATS_TIME).await;
                let ended = epoch.elapsed();
                in_flight.fetch_sub(1, Ordering::SeqCst);
                log.lock().unwrap().push(Call { path, body, began, ended });
                answer
            }
        });
        let base = format!("http://{}", crate::support::serve(router).await.0);
        SlowAts { base, calls, most_at_once }
    }

    fn calls(&self) -> Vec<Call> {
        let mut calls = self.calls.lock().unwrap().clone();
        calls.sort_by_key(|c| c.began);
        calls
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_candidates_entries_run_in_order_and_different_candidates_at_once_within_the_limit() {
    let ats = SlowAts::start().await;
    let setup = Setup::empty();
    let plugin =
        crate::support::plugin_dir(setup.dir.path(), "line", "0.2.0", atsbridge_tests::guests::CONTRACT_V0_2, "");
    setup.connect(&plugin, "line", "Line", &ats.base, "line-key");
    setup.ok(&["connection", "sync", CONNECTION]);
    let ids: Vec<u64> = with_store(&setup, |store| {
        store.put_ats_stages(CONNECTION, Some("J1"), j1_stages(&["Applied", "Interview", "Offer"])).unwrap();
        store.set_stage_override(CONNECTION, Some("J1"), "new-submission", "J1-s1").unwrap();
        let j1 = store.positions_of_connection(CONNECTION).unwrap().into_iter().find(|p| p.ats_job_code == "J1");
        let position = j1.unwrap().id;
        (0..CANDIDATES)
            .map(|i| {
                let new = new_candidate(position, format!("Person {i}"), format!("c{i}@example.com"), "test");
                store.create_candidate(new).unwrap().0.id
            })
            .collect()
    });
    let host = setup.serve(&setup.dir.path().join("host.log"));

    // The first candidate's push and two moves, asked for while the push is
    // still queued or in flight; then everybody else's push.
    let (status, body) = push(&host, ids[0]).await;
    assert_eq!(status, 202, "{body}");
    move_to(&host, ids[0], "interview").await;
    move_to(&host, ids[0], "offer").await;
    for id in &ids[1..] {
        let (status, body) = push(&host, *id).await;
        assert_eq!(status, 202, "{body}");
    }
    for id in &ids {
        wait_for_state(&host, *id, "pushed", WAIT).await;
    }
    let history = settled_history(&host, ids[0], WAIT).await;
    let states: Vec<&str> =
        history.as_array().unwrap().iter().skip(1).filter_map(|m| m["propagation"]["state"].as_str()).collect();
    assert_eq!(states, ["propagated", "propagated"], "{history}");

    let calls = ats.calls();
    // Each candidate reached the ATS once.
    for i in 0..CANDIDATES {
        let pushes =
            calls.iter().filter(|c| c.path == "/candidates" && c.body.contains(&format!("email=c{i}@"))).count();
        assert_eq!(pushes, 1, "candidate {i}: {calls:#?}");
    }
    // One candidate: the push, then each move, none overlapping the one before.
    let first: Vec<&Call> =
        calls.iter().filter(|c| c.body.contains("email=c0@") || c.path == "/applications/app-c0/move").collect();
    let what: Vec<(&str, bool, bool)> = first
        .iter()
        .map(|c| (c.path.as_str(), c.body.contains("stage=J1-s2"), c.body.contains("stage=J1-s3")))
        .collect();
    assert_eq!(
        what,
        [
            ("/candidates", false, false),
            ("/applications/app-c0/move", true, false),
            ("/applications/app-c0/move", false, true)
        ],
        "{first:#?}"
    );
    for pair in first.windows(2) {
        assert!(pair[1].began >= pair[0].ended, "one candidate's calls overlapped: {first:#?}");
    }
    // Different candidates: at once, within the per-connection limit.
    let most = ats.most_at_once.load(Ordering::SeqCst);
    assert!(
        (2..=DEFAULT_PER_CONNECTION).contains(&most),
        "{most} requests at once (limit {DEFAULT_PER_CONNECTION}): {calls:#?}"
    );
    let span = calls.last().unwrap().ended - calls.first().unwrap().began;
    eprintln!("{most} requests at once; {} calls in {span:?}", calls.len());
}
