//! A host process killed with SIGKILL in the middle of a sync leaves no
//! duplicate and no half-applied page; the next run completes the work.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use atsbridge::store::{RunOutcome, SecretKey, Store};
use atsbridge_tests::guests;
use secrecy::ExposeSecret;

use crate::support;

const JOBS: u32 = 60;
const PAGE: usize = 3;

fn cli(data: &Path, key: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(support::atsbridge_bin());
    cmd.arg("--data-dir").arg(data).args(args).env("ATSBRIDGE_SECRET_KEY", key).env("ATSBRIDGE_LOG", "error");
    cmd
}

fn ok(mut cmd: Command) -> String {
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{:?} failed: {}", cmd, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Positions are 1:1 with job codes and only whole pages were applied.
fn check_store(data: &Path, key: &str) -> usize {
    let store = Store::open(&data.join("store"), Some(SecretKey::parse(key).unwrap())).unwrap();
    let positions = store.positions_of_connection("acme-main").unwrap();
    let codes: HashSet<_> = positions.iter().map(|p| p.ats_job_code.clone()).collect();
    assert_eq!(codes.len(), positions.len(), "duplicate positions for one job");
    for p in &positions {
        assert_eq!(store.position_by_job("acme-main", &p.ats_job_code).unwrap().map(|q| q.id), Some(p.id));
    }
    assert_eq!(positions.len() % PAGE, 0, "a page was half applied: {} positions", positions.len());
    positions.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_sync_leaves_the_store_consistent_and_the_next_run_completes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = SecretKey::generate().unwrap().to_base64().expose_secret().to_string();
    let ats = support::fake_ats_with(JOBS, PAGE, Duration::from_millis(60)).await;

    let plugin = support::plugin_dir(dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "");
    ok(cli(&data, &key, &["plugin", "install", plugin.to_str().unwrap()]));
    ok(cli(&data, &key, &["account", "add", "Acme", "--time-zone", "Europe/Berlin"]));
    ok(cli(&data, &key, &support::str_args(&support::connection_add_args("main", &ats.base()))));

    // Kill three syncs at different points, each a few pages further on;
    // the first as soon as its first page is asked for, well within sled's
    // own flush interval: its run must still be recorded.
    let mut applied = 0;
    for pages_before_kill in [1, 4, 7] {
        let served = ats.page_requests();
        let mut child = cli(&data, &key, &["--json", "connection", "sync", "acme-main"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while ats.page_requests() < served + pages_before_kill {
            assert!(Instant::now() < deadline, "the sync made no progress");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let now = check_store(&data, &key);
        assert!(now >= applied, "committed pages were lost");
        applied = now;
    }
    assert!(applied > 0 && applied < JOBS as usize, "the kills should land mid-listing ({applied} applied)");

    // The next run resumes the listing and completes it.
    let out = ok(cli(&data, &key, &["--json", "connection", "sync", "acme-main"]));
    let run: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(run["outcome"], "succeeded", "{run}");
    assert_eq!(run["counts"]["created"].as_u64().unwrap() as usize, JOBS as usize - applied, "{run}");
    assert_eq!(check_store(&data, &key), JOBS as usize);

    let store = Store::open(&data.join("store"), Some(SecretKey::parse(&key).unwrap())).unwrap();
    let runs = store.runs("acme-main", 10).unwrap();
    assert_eq!(runs.len(), 4);
    assert!(runs[1..].iter().all(|r| r.outcome == RunOutcome::Interrupted), "{runs:?}");
}
