//! Per-run metering, end to end: a running `atsbridge serve` syncs the
//! bundled Lever connector against its mock, which rate-limits the first
//! request; the run's record (API), the CLI and `/metrics` show what the run
//! cost, checked against what the mock's recorder says it served.

use std::collections::BTreeMap;

use atsbridge::conformance::{settings_for_mock, start_mock};
use atsbridge_mock_ats::{Fault, RecordedRequest, Vendor};
use serde_json::{Value, json};

use crate::api_support::{self, Host};
use crate::support;

/// The bundled Lever connector, an account and a connection of it to `mock`.
async fn lever_connection(host: &Host, mock: &atsbridge_mock_ats::MockAts) -> String {
    let (status, p) = host.call("POST", "/api/v1/plugins", Some(&host.token), Some(json!({"bundled": "lever"}))).await;
    assert_eq!(status, 201, "{p}");
    host.op("POST", "/api/v1/accounts", Some(json!({"name": "Acme"}))).await;
    let settings = settings_for_mock("lever", mock, &BTreeMap::new());
    let c = host
        .op(
            "POST",
            "/api/v1/connections",
            Some(json!({
                "account": "acme", "name": "Lever", "plugin": "lever", "settings": settings,
                "extra_hosts": [support::url_origin(mock.base_url())],
            })),
        )
        .await;
    c["id"].as_str().unwrap().to_string()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_run_records_its_cost_shown_by_the_api_the_cli_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let host = api_support::start(&dir.path().join("data"), &api_support::secret_key());
    let mock = start_mock(Vendor::Lever).await.unwrap();
    let conn = lever_connection(&host, &mock).await;
    let before = mock.request_count();
    // The ATS's ordinary rate limit on the first page: the plugin answers
    // rate-limited, the engine waits the second it asks and tries again.
    mock.inject(Fault::RateLimit { retry_after_secs: 1 });
    let accepted = host.op("POST", &format!("/api/v1/connections/{conn}/sync?full=true"), None).await;
    let run = host.wait_run(&conn, u(&accepted["run"]), &host.token).await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    let served: Vec<RecordedRequest> = mock.requests().split_off(before);

    // Requests and bytes per host: exactly what the mock served.
    let m = &run["metering"];
    let origin = url::Url::parse(mock.base_url()).unwrap();
    let host_key = format!("{}:{}", origin.host_str().unwrap(), origin.port().unwrap());
    let hosts = m["hosts"].as_array().unwrap();
    assert_eq!(hosts.len(), 1, "{m}");
    let h = &hosts[0];
    assert_eq!(h["host"], host_key.as_str(), "{m}");
    assert!(served.len() >= 4, "a 429 and three pages at least: {served:?}");
    assert_eq!(u(&h["requests"]), served.len() as u64, "{m}\n{served:?}");
    assert_eq!(u(&h["failed"]), 0, "{m}");
    let served_in: u64 = served.iter().map(|r| r.response_bytes.expect("a sized response body")).sum();
    let served_out: u64 = served.iter().map(|r| r.request_bytes).sum();
    assert!(served_in > 1_000, "{served:?}");
    assert_eq!((u(&h["bytes_in"]), u(&h["bytes_out"])), (served_in, served_out), "{m}");
    let limited = served.iter().filter(|r| r.status == Some(429)).count() as u64;
    assert_eq!((u(&h["status_429"]), limited), (1, 1), "{m}\n{served:?}");
    assert_eq!((u(&m["http_requests"]), u(&m["bytes_in"]), u(&m["status_429"])), (served.len() as u64, served_in, 1));

    // The 429 became a rate-limited answer and one retry; list-jobs was
    // called once per page plus the retried attempt.
    assert_eq!((u(&m["rate_limited"]), u(&m["retries"])), (1, 1), "{m}");
    let exports = m["exports"].as_array().unwrap();
    let list_jobs = exports.iter().find(|e| e["export"] == "list-jobs").unwrap_or_else(|| panic!("{m}"));
    let pages = u(&run["counts"]["pages"]);
    assert!(pages >= 3, "{run}");
    assert_eq!((u(&list_jobs["calls"]), u(&list_jobs["failed"])), (pages + 1, 1), "{m}");
    assert_eq!(u(&m["calls"]), exports.iter().map(|e| u(&e["calls"])).sum::<u64>());

    // CPU time: some, and no more than the calls' wall time; HTTP waits
    // are part of that wall time.
    let (cpu, wall, wait) = (u(&m["plugin_cpu_micros"]), u(&m["call_wall_micros"]), u(&m["http_wait_micros"]));
    assert!(cpu > 0 && u(&list_jobs["cpu_micros"]) > 0, "{m}");
    assert!(cpu <= wall && wait <= wall, "{m}");
    assert!(u(&m["store_bytes_written"]) > 0, "{m}");

    // The run history lists it too, and the CLI shows the same figures.
    let runs = host.op("GET", &format!("/api/v1/connections/{conn}/runs"), None).await;
    assert_eq!(runs["items"][0]["metering"], *m, "{runs}");
    let text = api_support::ok(host.cli(&["connection", "runs", &conn, "--metering"]));
    assert!(text.contains("CPU_MS") && text.contains("BYTES_IN"), "{text}");
    let row = text.lines().find(|l| l.starts_with(&format!("{} ", u(&run["seq"])))).unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains(&format!(" {} ", served.len())) && row.contains(&format!(" {served_in} ")), "{row}");
    let host_line =
        format!("{} requests (0 failed, 1 answered 429) · {served_out} bytes out · {served_in} bytes in", served.len());
    assert!(text.contains(&host_key) && text.contains(&host_line), "{text}");
    assert!(text.contains(&format!("{} calls (1 failed)", pages + 1)), "{text}");
    let json_out = api_support::ok(host.cli(&["--json", "connection", "runs", &conn]));
    let listed: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(listed[0]["metering"], *m, "{json_out}");

    // /metrics: by plugin and activity; the mock is reached through the
    // operator's grant, so its host shares the `granted` label.
    let client = reqwest::Client::new();
    let metrics = client
        .get(format!("{}/metrics", host.base))
        .bearer_auth(&host.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let labels = r#"plugin="lever",activity="sync",host="granted""#;
    let value = |series: &str| -> f64 {
        let line = metrics.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("{series}\n{metrics}"));
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(value(&format!("atsbridge_plugin_http_requests_total{{{labels}}}")), served.len() as f64);
    assert_eq!(value(&format!("atsbridge_plugin_http_429_total{{{labels}}}")), 1.0);
    assert_eq!(value(&format!(r#"atsbridge_plugin_http_bytes_total{{{labels},direction="in"}}"#)), served_in as f64);
    assert_eq!(value(r#"atsbridge_plugin_retries_total{plugin="lever",activity="sync"}"#), 1.0);
    assert!(value(r#"atsbridge_plugin_cpu_seconds_total{plugin="lever",activity="sync"}"#) > 0.0, "{metrics}");
    assert_eq!(
        value(r#"atsbridge_sync_store_bytes_written_total{plugin="lever"}"#),
        u(&m["store_bytes_written"]) as f64
    );
    assert!(!metrics.contains(&format!("connection=\"{conn}\"")), "no per-connection series");
    mock.shutdown().await;
}

/// The mock Greenhouse's requests to its OAuth token endpoint, of `served`.
fn token_requests(mock: &atsbridge_mock_ats::MockAts, served: &[RecordedRequest]) -> u64 {
    let token_path =
        url::Url::parse(&mock.token_url().expect("Greenhouse has a token URL")).unwrap().path().to_string();
    served.iter().filter(|r| r.path == token_path).count() as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_token_requests_and_a_pushs_attempts_are_metered_and_shown_in_its_push_history() {
    use std::time::Duration;

    use atsbridge_mock_ats::{Fault, FaultRule};

    use crate::outbox_support::{CONNECTION, GhSetup, op, push, wait_for_state};

    // The sync (in the CLI's own process): Greenhouse's Harvest v3 takes a
    // client-credentials token first, which the run counts with the host.
    let gh = GhSetup::new(2).await;
    let served = gh.mock.requests();
    let run = gh.with_store(|s| s.runs(CONNECTION, 1).unwrap().remove(0));
    let m = run.metering.expect("a metered run");
    let tokens = token_requests(&gh.mock, &served);
    assert!(tokens >= 1, "{served:?}");
    let total = m.http_total();
    assert_eq!((total.requests, total.token_requests), (served.len() as u64, tokens), "{m:?}\n{served:?}");
    let served_out: u64 = served.iter().map(|r| r.request_bytes).sum();
    let served_in: u64 = served.iter().map(|r| r.response_bytes.unwrap_or(0)).sum();
    assert_eq!((total.bytes_out, total.bytes_in), (served_out, served_in), "{m:?}");

    // A push the ATS answers 429 first: two attempts, one record.
    let id = gh.create_candidates(1, "metered")[0];
    let host = gh.serve("metering");
    gh.mock.inject(FaultRule::new(Fault::RateLimit { retry_after_secs: 1 }).on_path("/v3/candidates"));
    let before = gh.mock.request_count();
    let (status, body) = push(&host, id).await;
    assert_eq!(status, 202, "{body}");
    wait_for_state(&host, id, "pushed", Duration::from_secs(30)).await;
    let served: Vec<RecordedRequest> = gh.mock.requests().split_off(before);
    assert!(served.iter().any(|r| r.status == Some(429)), "{served:?}");

    let pushes = op(&host, "GET", &format!("/api/v1/candidates/{id}/pushes"), None).await;
    let records = pushes.as_array().unwrap_or_else(|| panic!("{pushes}"));
    assert_eq!(records.len(), 1, "{pushes}");
    let p = &records[0];
    assert_eq!((p["outcome"].as_str(), u(&p["attempts"])), (Some("pushed"), 2), "{p}");
    let m = &p["metering"];
    // Every request the push made, the new process's token request
    // included, over both attempts.
    let served_in: u64 = served.iter().map(|r| r.response_bytes.unwrap_or(0)).sum();
    let served_out: u64 = served.iter().map(|r| r.request_bytes).sum();
    assert_eq!(u(&m["http_requests"]), served.len() as u64, "{m}\n{served:?}");
    assert_eq!(u(&m["token_requests"]), token_requests(&gh.mock, &served), "{m}");
    assert!(u(&m["token_requests"]) >= 1, "{m}");
    assert_eq!((u(&m["bytes_in"]), u(&m["bytes_out"])), (served_in, served_out), "{m}");
    assert_eq!((u(&m["status_429"]), u(&m["retries"])), (1, 1), "{m}");
    let export = m["exports"].as_array().unwrap().iter().find(|e| e["export"] == "push-candidate").cloned();
    assert_eq!(export.map(|e| u(&e["calls"])), Some(2), "{m}");
    assert!(u(&m["plugin_cpu_micros"]) > 0, "{m}");
    // The entry's retry, the result's event and the candidate record.
    assert!(u(&m["store_bytes_written"]) > 500, "{m}");

    // The CLI shows the same push.
    let text = gh.setup.ok(&["candidates", "pushes", &id.to_string()]);
    assert!(text.contains("ENTRY") && text.contains("pushed"), "{text}");
    assert!(text.contains(&format!("{} store bytes written", u(&m["store_bytes_written"]))), "{text}");
    assert!(text.contains("of them OAuth token requests"), "{text}");
    let listed: Value =
        serde_json::from_str(&gh.setup.ok(&["--json", "candidates", "pushes", &id.to_string()])).unwrap();
    assert_eq!(listed, pushes);

    // /metrics counts the push's retry, its 429 and its requests.
    let metrics = crate::ops_support::scrape_metrics(&host).await;
    let value = |series: &str| crate::ops_support::metric_value(&metrics, series);
    assert_eq!(value(r#"atsbridge_plugin_retries_total{plugin="greenhouse",activity="push"}"#), 1.0);
    let labels = r#"plugin="greenhouse",activity="push",host="granted""#;
    assert_eq!(value(&format!("atsbridge_plugin_http_429_total{{{labels}}}")), 1.0);
    assert_eq!(value(&format!("atsbridge_plugin_http_requests_total{{{labels}}}")), served.len() as f64);
    assert_eq!(
        value(r#"atsbridge_outbox_store_bytes_written_total{plugin="greenhouse",activity="push"}"#),
        u(&m["store_bytes_written"]) as f64
    );
}
