//! Operating a `serve` process: health and readiness, Prometheus metrics,
//! JSON logs, SIGTERM in the middle of a sync (the next start resumes from
//! the checkpoint), and a backup of the running host restored elsewhere.

use std::time::Duration;

use atsbridge::store::{RunOutcome, SecretKey, Store};
use serde_json::Value;

use crate::ops_support::{Setup, eventually, operator_client};
use crate::support;

const JOBS: u32 = 30;
/// One job a page, each page answered after this delay: a run of about 9 s.
const PAGE_DELAY: Duration = Duration::from_millis(300);

fn open_store(setup: &Setup, data: &std::path::Path) -> Store {
    let key = SecretKey::from_file(&setup.key_file).unwrap();
    Store::open(&data.join("store"), Some(key)).unwrap()
}

/// The `page` numbers of the listing requests the fake ATS saw, in order.
fn pages_requested(ats: &support::FakeAts) -> Vec<u32> {
    ats.requests()
        .iter()
        .filter_map(|r| r.path.split_once("page=").and_then(|(_, p)| p.split('&').next()?.parse().ok()))
        .collect()
}

async fn latest_run(http: &reqwest::Client, base: &str) -> Option<Value> {
    let runs: Value =
        http.get(format!("{base}/api/v1/connections/acme-main/runs?limit=1")).send().await.ok()?.json().await.ok()?;
    runs["items"].get(0).cloned()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_mid_sync_exits_promptly_and_the_next_start_resumes_then_backup_and_restore() {
    let ats = support::fake_ats_with(JOBS, 1, PAGE_DELAY).await;
    let setup = Setup::new(&ats.base());
    let client = operator_client();
    let http = &client;
    let log = setup.dir.path().join("serve.log");
    let mut host = setup.serve(&log);
    let base = host.base.clone();
    let b = base.as_str();

    // Alive at once; ready once the scheduler runs (plugins preloaded).
    assert_eq!(http.get(format!("{}/healthz", host.base)).send().await.unwrap().status(), 200);
    let ready = eventually(Duration::from_secs(10), "readiness", || async move {
        let r = http.get(format!("{b}/readyz")).send().await.ok()?;
        (r.status() == 200).then_some(r.json::<Value>().await.ok()?)
    })
    .await;
    assert_eq!(ready["checks"]["plugins"], true, "{ready}");

    // The connection never ran, so it catches up at once; a "sync now"
    // joins that run. SIGTERM once a few pages are committed.
    let sync_now = tokio::spawn({
        let url = format!("{}/api/v1/connections/acme-main/sync", host.base);
        let http = client.clone();
        async move { http.post(url).send().await.map(|r| r.status().as_u16()) }
    });
    eventually(Duration::from_secs(20), "three committed pages", || async move {
        let run = latest_run(http, b).await?;
        (run["counts"]["pages"].as_u64()? >= 3).then_some(())
    })
    .await;
    let (status, took) = host.terminate(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}; log:\n{}", std::fs::read_to_string(&log).unwrap());
    assert!(took < Duration::from_secs(5), "took {took:?} to stop");
    let _ = sync_now.await;

    let (pages_before, positions_before) = {
        let store = open_store(&setup, &setup.data);
        let run = store.runs("acme-main", 1).unwrap().remove(0);
        assert_eq!(run.outcome, RunOutcome::Interrupted, "{run:?}");
        let checkpoint = store.state("acme-main").unwrap().checkpoint.expect("a checkpoint to resume from");
        assert!(checkpoint.cursor.is_some());
        let positions = store.positions_of_connection("acme-main").unwrap().len();
        assert_eq!(positions as u32, checkpoint.pages_done, "one job a page, every page committed");
        assert!(positions < JOBS as usize, "stopped mid-sync, not at the end");
        (checkpoint.pages_done, positions)
    };

    // Logs are JSON lines; plugin lines carry the plugin as a field.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> =
        text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(lines.iter().any(|l| l["plugin"] == "well-behaved" && l["target"] == "atsbridge::plugin"), "{text}");
    assert!(lines.iter().any(|l| l["message"].as_str().is_some_and(|m| m.contains("shutting down"))), "{text}");

    // The next start resumes after the last committed page.
    let seen_before = pages_requested(&ats).len();
    let mut host = setup.serve(&setup.dir.path().join("serve2.log"));
    let base = host.base.clone();
    let b = base.as_str();
    let r = http.post(format!("{b}/api/v1/connections/acme-main/sync")).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let done = eventually(Duration::from_secs(30), "the resumed run to succeed", || async move {
        let run = latest_run(http, b).await?;
        (run["outcome"] == "succeeded").then_some(run)
    })
    .await;
    let resumed_from = pages_requested(&ats)[seen_before];
    assert_eq!(resumed_from, pages_before + 1, "resumed at the page after the checkpoint, not page 1");
    assert_eq!(done["counts"]["created"].as_u64().unwrap() as usize, JOBS as usize - positions_before);

    // Metrics of what happened, in Prometheus text.
    let metrics = http.get(format!("{}/metrics", host.base)).send().await.unwrap();
    assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let metrics = metrics.text().await.unwrap();
    for needle in [
        "atsbridge_sync_runs_total{outcome=\"succeeded\"} 1",
        "atsbridge_sync_run_duration_seconds_count 1",
        "atsbridge_plugin_call_duration_seconds_count{plugin=\"well-behaved\",export=\"list-jobs\"}",
        "atsbridge_scheduler_lateness_seconds_count",
        "atsbridge_flagged_connections 0",
        "atsbridge_store_size_bytes",
    ] {
        assert!(metrics.contains(needle), "{needle} missing:\n{metrics}");
    }

    // A backup through the running host's API, restored into a new data dir.
    let backup = setup.dir.path().join("snapshot.bak");
    let out = setup.cli(&["backup", backup.to_str().unwrap()]).env("ATSBRIDGE_LISTEN", host.addr()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("from the host at"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The running host's own store is never replaced.
    let err = setup.fails(&["restore", backup.to_str().unwrap(), "--force"]);
    assert!(err.contains("stop it before restoring"), "{err}");
    let (status, _) = host.terminate(Duration::from_secs(10));
    assert!(status.success());

    let restored = setup.dir.path().join("restored");
    let mut restore = setup.cli(&["restore", backup.to_str().unwrap()]);
    restore.args(["--data-dir", restored.to_str().unwrap()]);
    let out = restore.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut again = setup.cli(&["restore", backup.to_str().unwrap()]);
    again.args(["--data-dir", restored.to_str().unwrap()]);
    let out = again.output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--force"));

    let original = open_store(&setup, &setup.data);
    let copy = open_store(&setup, &restored);
    assert_eq!(copy.accounts().unwrap(), original.accounts().unwrap());
    assert_eq!(copy.connections().unwrap(), original.connections().unwrap());
    assert_eq!(
        copy.positions_of_connection("acme-main").unwrap(),
        original.positions_of_connection("acme-main").unwrap()
    );
    assert_eq!(copy.positions_of_connection("acme-main").unwrap().len(), JOBS as usize);
    assert_eq!(copy.runs("acme-main", 100).unwrap(), original.runs("acme-main", 100).unwrap());
    assert_eq!(copy.state("acme-main").unwrap(), original.state("acme-main").unwrap());
}
