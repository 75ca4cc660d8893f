//! A push for a job whose own ATS pipeline is not cached yet (a job newer
//! than the last daily stage refresh, or past that refresh's per-job bound):
//! the outbox fetches that job's pipeline through `list-stages(job)` when it
//! needs it, caches it, and pushes into the mapped stage of that job. Real
//! `atsbridge serve`, the bundled connectors, mock ATS on loopback; the
//! mock's request log counts the stage reads.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use atsbridge::conformance::settings_for_mock;
use atsbridge_mock_ats::{Fault, FaultRule, MockAts, MockConfig, Vendor};
use serde_json::{Value, json};

use crate::ops_support::{Host, Setup};
use crate::outbox_fixture::new_candidate;
use crate::outbox_support::{
    CONNECTION, GhSetup, create_candidate, op, push, set_auto_push, wait_for_state, with_store,
};
use crate::support::url_origin;

/// How long any one step may take on loopback; only bounds a hang.
const WAIT: Duration = Duration::from_secs(30);
/// The `Retry-After` the mock's 429 on the stage read asks for, seconds.
const RETRY_AFTER_SECS: u64 = 1;

/// A Greenhouse setup (its first jobs' pipelines cached and mapped) and one
/// job added in the ATS since and synced in by a "sync now", which reads no
/// stages: its pipeline is not cached. Our "New submission" is mapped for
/// that job to the job's second ATS stage (set before the pipeline is
/// known, as an operator may). Returns the setup, the job, the ATS stage
/// it maps to, and the job's position.
async fn greenhouse_with_new_job() -> (GhSetup, String, String, u64) {
    let gh = GhSetup::new(2).await;
    let job = gh.mock.add_jobs(1).remove(0).id;
    gh.setup.ok(&["connection", "sync", CONNECTION]);
    let target = gh.mock.stages(&job).unwrap()[1].id.clone();
    let position = gh.with_store(|store| {
        assert!(store.ats_stages(CONNECTION, Some(&job)).unwrap().is_none(), "the new job's pipeline is not cached");
        store.set_stage_override(CONNECTION, Some(&job), "new-submission", &target).unwrap();
        store.position_by_job(CONNECTION, &job).unwrap().expect("the new job was synced").id
    });
    (gh, job, target, position)
}

/// Requests the mock received for `job`'s Greenhouse pipeline: (count, statuses).
fn greenhouse_stage_reads(mock: &MockAts, job: &str) -> Vec<Option<u16>> {
    let path = format!("/jobs/{job}/stages");
    mock.requests().into_iter().filter(|r| r.path.contains(&path)).map(|r| r.status).collect()
}

/// The ATS stage the application of a pushed candidate is in.
fn app_stage(mock: &MockAts, status: &Value) -> (String, String) {
    let app_id = status["ats_application_id"].as_str().unwrap_or_else(|| panic!("not pushed: {status}"));
    let app = mock.applications().into_iter().find(|a| a.id == app_id).unwrap_or_else(|| panic!("no app {app_id}"));
    (app.job_id, app.stage_id)
}

/// The connection's view of `job`'s stages.
async fn stage_view(host: &Host, connection: &str, job: &str) -> Value {
    op(host, "GET", &format!("/api/v1/connections/{connection}/stages?job={job}"), None).await
}

fn list_ids(view: &Value) -> Vec<String> {
    let stages = view["list"]["stages"].as_array().unwrap_or_else(|| panic!("no list: {view}"));
    stages.iter().map(|s| s["id"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_for_a_job_with_no_cached_pipeline_fetches_it_once_and_lands_in_the_mapped_stage() {
    let (gh, job, target, position) = greenhouse_with_new_job().await;
    let ids: Vec<u64> = gh.with_store(|store| {
        (0..5)
            .map(|i| {
                let new = new_candidate(position, format!("New Job {i}"), format!("new-job-{i}@example.com"), "test");
                store.create_candidate(new).unwrap().0.id
            })
            .collect()
    });
    let host = gh.serve("host");

    // Four pushes at once for the job: accepted (not refused for stages never
    // fetched), and one stage read serves them all.
    for id in &ids[..4] {
        let (status, body) = push(&host, *id).await;
        assert_eq!(status, 202, "{body}");
    }
    for id in &ids[..4] {
        let done = wait_for_state(&host, *id, "pushed", WAIT).await;
        assert_eq!(app_stage(&gh.mock, &done), (job.clone(), target.clone()), "the mapped stage of the job");
    }
    assert_eq!(greenhouse_stage_reads(&gh.mock, &job), [Some(200)], "one read of the job's pipeline");

    // The pipeline is cached now, as the mock has it, and maps as pushed.
    let view = stage_view(&host, CONNECTION, &job).await;
    assert_eq!(view["pipeline"], "per_job", "{view}");
    let want: Vec<String> = gh.mock.stages(&job).unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(list_ids(&view), want);
    let entry = view["mapping"].as_array().unwrap().iter().find(|e| e["stage"] == "new-submission").unwrap().clone();
    assert_eq!(entry["ats_stage_id"].as_str(), Some(target.as_str()), "{view}");

    // A later push for the same job reads no stages again.
    let (status, body) = push(&host, ids[4]).await;
    assert_eq!(status, 202, "{body}");
    let done = wait_for_state(&host, ids[4], "pushed", WAIT).await;
    assert_eq!(app_stage(&gh.mock, &done), (job.clone(), target));
    assert_eq!(greenhouse_stage_reads(&gh.mock, &job).len(), 1, "cached: no second read");
    assert_eq!(gh.mock.pushed_candidates().len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limited_stage_read_is_retried_honouring_retry_after_then_the_push_lands() {
    let (gh, job, target, position) = greenhouse_with_new_job().await;
    let id = gh.with_store(|store| {
        store
            .create_candidate(new_candidate(position, "Rate Limited".into(), "rl@example.com".into(), "t"))
            .unwrap()
            .0
            .id
    });
    let path = format!("/v3/jobs/{job}/stages");
    gh.mock.inject(FaultRule::new(Fault::RateLimit { retry_after_secs: RETRY_AFTER_SECS }).on_path(path));
    let host = gh.serve("host");
    let started = Instant::now();
    let (status, body) = push(&host, id).await;
    assert_eq!(status, 202, "{body}");
    let done = wait_for_state(&host, id, "pushed", WAIT).await;
    assert!(started.elapsed() >= Duration::from_secs(RETRY_AFTER_SECS), "Retry-After was not honoured");
    assert_eq!(app_stage(&gh.mock, &done), (job.clone(), target));
    assert_eq!(greenhouse_stage_reads(&gh.mock, &job), [Some(429), Some(200)], "read again after the 429");
    assert_eq!(gh.mock.pushed_candidates().len(), 1);
    // The push's record counts the attempt the rate limit cost.
    let history = op(&host, "GET", &format!("/api/v1/candidates/{id}/pushes"), None).await;
    let record = &history.as_array().or_else(|| history["items"].as_array()).unwrap_or_else(|| panic!("{history}"))[0];
    assert_eq!(record["attempts"], 2, "{history}");
    // Both stage reads are metered with the push, as its own calls are.
    let exports = record["metering"]["exports"].as_array().unwrap_or_else(|| panic!("not metered: {history}"));
    let stages = exports.iter().find(|e| e["export"] == "list-stages").unwrap_or_else(|| panic!("{history}"));
    assert_eq!((stages["calls"].as_u64(), stages["failed"].as_u64()), (Some(2), Some(1)), "{history}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_the_ats_does_not_have_or_a_stale_mapping_fails_for_good_saying_which() {
    let (gh, gone_job, _, gone_position) = greenhouse_with_new_job().await;
    // A second new job whose mapping points at a stage its pipeline lacks.
    let stale_job = gh.mock.add_jobs(1).remove(0).id;
    gh.setup.ok(&["connection", "sync", CONNECTION]);
    let (gone, stale) = gh.with_store(|store| {
        store.set_stage_override(CONNECTION, Some(&stale_job), "new-submission", "999999").unwrap();
        let stale_position = store.position_by_job(CONNECTION, &stale_job).unwrap().unwrap().id;
        let mut made = [gone_position, stale_position].into_iter().enumerate().map(|(i, p)| {
            store
                .create_candidate(new_candidate(p, format!("Fail {i}"), format!("f{i}@example.com"), "t"))
                .unwrap()
                .0
                .id
        });
        (made.next().unwrap(), made.next().unwrap())
    });
    // Deleted in the ATS after our last sync: our position is still open.
    gh.mock.remove_job(&gone_job).unwrap();
    let host = gh.serve("host");

    assert_eq!(push(&host, gone).await.0, 202);
    let failed = wait_for_state(&host, gone, "failed", WAIT).await;
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(error.contains(&gone_job) && error.contains("stages"), "names the job and what failed: {failed}");
    assert_eq!(greenhouse_stage_reads(&gh.mock, &gone_job), [Some(404)], "not retried: {failed}");

    // The freshly read pipeline lacks the mapped stage: reported, never used.
    assert_eq!(push(&host, stale).await.0, 202);
    let failed = wait_for_state(&host, stale, "failed", WAIT).await;
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(error.contains("999999") && error.contains("no longer has") && error.contains(&stale_job), "{failed}");
    let view = stage_view(&host, CONNECTION, &stale_job).await;
    assert_eq!(view["pipeline"], "per_job", "the read pipeline is cached: {view}");
    let reported = json!({ "job_code": stale_job, "stage": "new-submission", "ats_stage_id": "999999" });
    assert!(view["stale"].as_array().unwrap().contains(&reported), "{view}");
    // Now that it is cached, asking again fails at once, as for a refreshed list.
    let (status, body) = push(&host, stale).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("stage_mapping_stale")), "{body}");
    assert!(gh.mock.pushed_candidates().is_empty());
}

/// Ashby declares per-job pipelines in its manifest (`stages.per-job`): a
/// job never refreshed has no list at all to fall back on.
#[tokio::test(flavor = "multi_thread")]
async fn ashby_auto_push_for_a_job_with_no_cached_pipeline_fetches_it_once() {
    let mock = MockAts::start(Vendor::Ashby, MockConfig { jobs: 3, ..Default::default() }).await.unwrap();
    let setup = Setup::empty();
    setup.ok(&["plugin", "install", "--bundled", "ashby"]);
    setup.ok(&["account", "add", "Acme"]);
    let mut args: Vec<String> =
        ["connection", "add", "--account", "acme", "--plugin", "ashby", "--name", "Main"].map(String::from).to_vec();
    for (key, value) in settings_for_mock("ashby", &mock, &BTreeMap::new()) {
        args.extend(["--set".to_string(), format!("{key}={value}")]);
    }
    args.extend(["--allow-host".to_string(), url_origin(mock.base_url())]);
    setup.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    // "Sync now" reads jobs, not stages.
    setup.ok(&["connection", "sync", "acme-main"]);
    let job = mock.jobs().into_iter().find(|j| j.status == atsbridge_mock_ats::JobStatus::Open).unwrap().id;
    let target = mock.stages(&job).unwrap()[1].id.clone();
    let position = with_store(&setup, |store| {
        assert!(store.ats_stage_lists("acme-main").unwrap().is_empty(), "no stages cached");
        store.set_stage_override("acme-main", Some(&job), "new-submission", &target).unwrap();
        store.position_by_job("acme-main", &job).unwrap().unwrap().id
    });
    let host = setup.serve(&setup.dir.path().join("host.log"));
    let plan_reads = || mock.requests().into_iter().filter(|r| r.path.starts_with("/interviewStage.list")).count();

    // Created in "New submission" with auto-push on it: queued at once, the
    // job's pipeline read on demand, pushed into the mapped stage.
    set_auto_push(&host, "acme-main", Some("new-submission")).await;
    for n in 0..2 {
        let id = create_candidate(&host, position, &format!("Ashby {n}"), &format!("ashby-{n}@example.com")).await;
        let done = wait_for_state(&host, id, "pushed", WAIT).await;
        assert_eq!(app_stage(&mock, &done), (job.clone(), target.clone()), "{done}");
        assert_eq!(plan_reads(), 1, "candidate {n}: the job's pipeline is read once");
    }
    let view = stage_view(&host, "acme-main", &job).await;
    assert_eq!((view["pipeline"].as_str(), view["list"]["job_code"].as_str()), (Some("per_job"), Some(job.as_str())));
    let want: Vec<String> = mock.stages(&job).unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(list_ids(&view), want);
    mock.shutdown().await;
}
