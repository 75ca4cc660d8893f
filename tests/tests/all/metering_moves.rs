//! A stage move propagated to the ATS records what it cost on its stage-move
//! record, like a push on its push record: a running `atsbridge serve`
//! pushes a candidate to the Greenhouse mock, then moves it to a stage
//! mapped to the job's second Greenhouse stage while the mock answers the
//! move's first request 429. The move's history entry (API and CLI) and
//! `/metrics` (`activity="move"`) show both attempts, checked against what
//! the mock's recorder says it served.

use std::time::Duration;

use atsbridge_mock_ats::{Fault, FaultRule, RecordedRequest};
use serde_json::Value;

use crate::outbox_support::{CONNECTION, GhSetup, move_to, push, settled_history, wait_for_state};

const WAIT: Duration = Duration::from_secs(30);

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_propagated_move_records_every_attempts_cost_on_its_history_entry_and_in_metrics() {
    let gh = GhSetup::new(2).await;
    let id = gh.create_candidates(1, "moved")[0];
    // Our "interview" is the job's second Greenhouse stage.
    gh.with_store(|store| {
        let candidate = store.candidate(id).unwrap().unwrap();
        let job = store.position(candidate.position_id).unwrap().unwrap().ats_job_code;
        let second = gh.mock.stages(&job).unwrap()[1].id.clone();
        store.set_stage_override(CONNECTION, Some(&job), "interview", &second).unwrap();
    });
    let host = gh.serve("moves");
    let (status, body) = push(&host, id).await;
    assert_eq!(status, 202, "{body}");
    let pushed = wait_for_state(&host, id, "pushed", WAIT).await;
    let application = pushed["ats_application_id"].as_str().unwrap().to_string();

    // The ATS rate-limits the move's first request: two attempts.
    gh.mock.inject(FaultRule::new(Fault::RateLimit { retry_after_secs: 1 }).on_path("/v3/applications/"));
    let before = gh.mock.request_count();
    move_to(&host, id, "interview").await;
    let history = settled_history(&host, id, WAIT).await;
    let served: Vec<RecordedRequest> = gh.mock.requests().split_off(before);
    assert!(served.iter().any(|r| r.status == Some(429)), "{served:?}");
    assert!(
        served.iter().any(|r| r.path == format!("/v3/applications/{application}/move") && r.status == Some(200)),
        "{served:?}"
    );

    let moves = history.as_array().unwrap();
    let moved = moves.last().unwrap();
    assert_eq!((moved["to"].as_str(), moved["propagation"]["state"].as_str()), (Some("interview"), Some("propagated")));
    assert_eq!(u(&moved["attempts"]), 2, "{moved}");
    let m = &moved["metering"];
    let served_in: u64 = served.iter().map(|r| r.response_bytes.unwrap_or(0)).sum();
    let served_out: u64 = served.iter().map(|r| r.request_bytes).sum();
    assert_eq!(u(&m["http_requests"]), served.len() as u64, "{m}\n{served:?}");
    assert_eq!((u(&m["bytes_in"]), u(&m["bytes_out"])), (served_in, served_out), "{m}");
    assert_eq!((u(&m["status_429"]), u(&m["retries"]), u(&m["rate_limited"])), (1, 1, 1), "{m}");
    let export = m["exports"].as_array().unwrap().iter().find(|e| e["export"] == "move-application").cloned();
    assert_eq!(export.map(|e| (u(&e["calls"]), u(&e["failed"]))), Some((2, 1)), "{m}");
    assert!(u(&m["plugin_cpu_micros"]) > 0, "{m}");
    // The entry's retry and the stage-move record itself.
    assert!(u(&m["store_bytes_written"]) > 200, "{m}");
    // Moves with no ATS call behind them carry no cost.
    assert!(moves[..moves.len() - 1].iter().all(|m| m.get("metering").is_none()), "{history}");

    // The CLI shows the same move.
    let text = gh.setup.ok(&["candidates", "history", &id.to_string()]);
    assert!(text.contains("propagated") && text.contains("2 attempts"), "{text}");
    assert!(text.contains(&format!("{} store bytes written", u(&m["store_bytes_written"]))), "{text}");
    assert!(text.contains("export move-application") && text.contains("2 calls (1 failed)"), "{text}");
    let listed: Value =
        serde_json::from_str(&gh.setup.ok(&["--json", "candidates", "history", &id.to_string()])).unwrap();
    assert_eq!(listed, history);

    // /metrics: the move's own activity; the mock is reached through the
    // operator's grant.
    let metrics = crate::ops_support::scrape_metrics(&host).await;
    let value = |series: &str| crate::ops_support::metric_value(&metrics, series);
    let labels = r#"plugin="greenhouse",activity="move",host="granted""#;
    assert_eq!(value(&format!("atsbridge_plugin_http_requests_total{{{labels}}}")), served.len() as f64);
    assert_eq!(value(&format!("atsbridge_plugin_http_429_total{{{labels}}}")), 1.0);
    assert_eq!(value(&format!(r#"atsbridge_plugin_http_bytes_total{{{labels},direction="in"}}"#)), served_in as f64);
    assert_eq!(value(r#"atsbridge_plugin_retries_total{plugin="greenhouse",activity="move"}"#), 1.0);
    assert!(value(r#"atsbridge_plugin_cpu_seconds_total{plugin="greenhouse",activity="move"}"#) > 0.0);
    assert_eq!(
        value(r#"atsbridge_outbox_store_bytes_written_total{plugin="greenhouse",activity="move"}"#),
        u(&m["store_bytes_written"]) as f64
    );
}
