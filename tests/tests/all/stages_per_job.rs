//! Per-job pipelines of ATS whose connector cannot list them all in one
//! call (SmartRecruiters' hiring processes, Ashby's interview plans): the
//! manifest declares `stages.per-job`, and a real `atsbridge serve` caches
//! each open job's own pipeline in its daily sync (here: the catch-up run at
//! start) and on request, maps our stages by name against the job's own
//! pipeline, and auto-pushes into that job's stage in the mock ATS.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use atsbridge::conformance::settings_for_mock;
use atsbridge_mock_ats::{Fault, FaultRule, MockAts, MockConfig, Vendor};
use serde_json::{Value, json};

use crate::ops_support::{Host, Setup, eventually};
use crate::outbox_support::{create_candidate, move_to, op, positions, push_status, set_auto_push, wait_for_state};
use crate::support::url_origin;

/// How long any one step may take on loopback; only bounds a hang.
const WAIT: Duration = Duration::from_secs(30);
/// Jobs in each mock: enough for both of the mock's pipelines to be used.
const JOBS: usize = 8;
/// Our stage the test renames to an ATS stage name and auto-pushes from.
const OUR_STAGE: &str = "screening";

/// What differs between the two connectors.
struct Case {
    plugin: &'static str,
    vendor: Vendor,
    /// The name an ATS stage has in some jobs' pipelines (with a different
    /// id per pipeline, or absent from others).
    ats_name: &'static str,
    /// Path prefix of the request that reads one job's pipeline: where a
    /// rate limit is injected.
    pipeline_path: &'static str,
}

const SMARTRECRUITERS: Case = Case {
    plugin: "smartrecruiters",
    vendor: Vendor::SmartRecruiters,
    ats_name: "In review: Screening",
    pipeline_path: "/configuration/hiring-processes/",
};
// Every interview plan has a "Recruiter Screen", each with its own id.
const ASHBY: Case = Case {
    plugin: "ashby",
    vendor: Vendor::Ashby,
    ats_name: "Recruiter Screen",
    pipeline_path: "/interviewStage.list",
};

#[tokio::test(flavor = "multi_thread")]
async fn smartrecruiters_daily_sync_caches_each_jobs_pipeline_and_pushes_into_it() {
    scenario(&SMARTRECRUITERS).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn ashby_daily_sync_caches_each_jobs_pipeline_and_pushes_into_it() {
    scenario(&ASHBY).await;
}

/// The connection's view of its stages for `job`.
async fn view(host: &Host, job: &str) -> Value {
    op(host, "GET", &format!("/api/v1/connections/acme-main/stages?job={job}"), None).await
}

fn ids(list: &Value) -> Vec<String> {
    let stages = list["stages"].as_array().unwrap_or_else(|| panic!("no stages: {list}"));
    stages.iter().map(|s| s["id"].as_str().unwrap_or_default().to_string()).collect()
}

fn entry<'a>(view: &'a Value, stage: &str) -> &'a Value {
    view["mapping"].as_array().unwrap().iter().find(|e| e["stage"] == stage).unwrap_or_else(|| panic!("{view}"))
}

async fn scenario(case: &Case) {
    let p = case.plugin;
    let mock = MockAts::start(case.vendor, MockConfig { jobs: JOBS, ..Default::default() }).await.unwrap();
    // Set up offline, then started: the never-synced connection gets its
    // daily run at once (a catch-up), which refreshes the stages.
    let setup = Setup::empty();
    setup.ok(&["plugin", "install", "--bundled", p]);
    let inspect = setup.ok(&["plugin", "inspect", p]);
    assert!(inspect.contains("pipelines:     per job"), "{p}: {inspect}");
    setup.ok(&["account", "add", "Acme"]);
    let settings = settings_for_mock(p, &mock, &BTreeMap::new());
    let mut args: Vec<String> =
        ["connection", "add", "--account", "acme", "--plugin", p, "--name", "Main"].map(String::from).to_vec();
    for (key, value) in &settings {
        args.extend(["--set".to_string(), format!("{key}={value}")]);
    }
    args.extend(["--allow-host".to_string(), url_origin(mock.base_url())]);
    setup.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let host = setup.serve(&setup.dir.path().join("host.log"));
    let plugin = op(&host, "GET", &format!("/api/v1/plugins/{p}"), None).await;
    assert_eq!(plugin["stages_per_job"], true, "{p}: {plugin}");

    let run = eventually(WAIT, "the catch-up run", || async {
        let runs = op(&host, "GET", "/api/v1/connections/acme-main/runs", None).await;
        let first = runs["items"].as_array().and_then(|r| r.first()).cloned()?;
        (first["outcome"] != "running" && first["outcome"] != "queued").then_some(first)
    })
    .await;
    assert_eq!((run["outcome"].as_str(), run["trigger"].as_str()), (Some("succeeded"), Some("catch_up")), "{p}: {run}");
    assert!(run["warnings"].as_array().is_none_or(Vec::is_empty), "{p}: {run}");

    // Every open job has its own pipeline cached, the mock's, and the jobs
    // do not all share one.
    let open: Vec<Value> = positions(&host, "acme-main").await.into_iter().filter(|x| x["status"] == "open").collect();
    assert!(open.len() >= 2, "{p}: {open:?}");
    let mut pipelines = BTreeSet::new();
    for position in &open {
        let job = position["ats_job_code"].as_str().unwrap();
        let v = view(&host, job).await;
        assert_eq!((v["pipeline"].as_str(), v["list"]["job_code"].as_str()), (Some("per_job"), Some(job)), "{p}: {v}");
        let want: Vec<String> = mock.stages(job).unwrap().into_iter().map(|s| s.id).collect();
        assert_eq!(ids(&v["list"]), want, "{p}: job {job}");
        pipelines.insert(want);
    }
    assert!(pipelines.len() >= 2, "{p}: the mock's jobs use different pipelines: {pipelines:?}");
    let whole = op(&host, "GET", "/api/v1/connections/acme-main/stages", None).await;
    assert_eq!(whole["jobs_total"].as_u64(), Some(open.len() as u64), "{p}: {whole}");
    assert!(whole["list"].is_null(), "{p}: no account-wide list stands in for a job's pipeline: {whole}");

    // By name, per job: our stage renamed to an ATS stage's name maps to
    // that job's own stage of that name (or to none where its pipeline has
    // none), never to another pipeline's.
    op(&host, "PATCH", &format!("/api/v1/accounts/acme/stages/{OUR_STAGE}"), Some(json!({"name": case.ats_name})))
        .await;
    let mut expected: BTreeMap<String, Option<String>> = BTreeMap::new();
    for position in &open {
        let job = position["ats_job_code"].as_str().unwrap().to_string();
        let want = mock.stages(&job).unwrap().into_iter().find(|s| s.name.eq_ignore_ascii_case(case.ats_name));
        let v = view(&host, &job).await;
        let got = entry(&v, OUR_STAGE);
        match &want {
            Some(stage) => {
                assert_eq!(got["ats_stage_id"].as_str(), Some(stage.id.as_str()), "{p}: job {job}: {v}");
                assert_eq!(got["source"], "by_name", "{p}: {v}");
            }
            None => assert_eq!(got["problem"]["code"], "no_mapping", "{p}: job {job}: {v}"),
        }
        expected.insert(job, want.map(|s| s.id));
    }
    let distinct: BTreeSet<&Option<String>> = expected.values().collect();
    assert!(distinct.len() >= 2, "{p}: the name resolves differently per job: {expected:?}");

    // Two jobs with different answers; where the name is not in a job's
    // pipeline, a per-job override picks one of its own stages.
    let (job_a, stage_a) = expected.iter().find_map(|(j, s)| s.clone().map(|s| (j.clone(), s))).unwrap();
    let (job_b, named_b) = expected.iter().find(|(_, s)| s.as_deref() != Some(stage_a.as_str())).unwrap();
    let job_b = job_b.clone();
    let stage_b = match named_b {
        Some(id) => id.clone(),
        None => {
            let own = mock.stages(&job_b).unwrap()[1].id.clone();
            let body = json!({ "ats_stage_id": own, "job_code": job_b });
            let v =
                op(&host, "PUT", &format!("/api/v1/connections/acme-main/stage-mapping/{OUR_STAGE}"), Some(body)).await;
            assert_eq!(entry(&v, OUR_STAGE)["source"], "job_override", "{p}: {v}");
            own
        }
    };

    // Auto-push from our stage: each job's candidate lands in its own
    // job's stage in the ATS.
    set_auto_push(&host, "acme-main", Some(OUR_STAGE)).await;
    for (n, (job, stage)) in [(&job_a, &stage_a), (&job_b, &stage_b)].into_iter().enumerate() {
        let position = open.iter().find(|x| x["ats_job_code"] == job.as_str()).unwrap()["id"].as_u64().unwrap();
        let id = create_candidate(&host, position, &format!("Per Job {n}"), &format!("per-job-{n}@example.com")).await;
        move_to(&host, id, OUR_STAGE).await;
        let pushed = wait_for_state(&host, id, "pushed", WAIT).await;
        let app_id = pushed["ats_application_id"].as_str().unwrap_or_else(|| panic!("{p}: {pushed}"));
        let apps = mock.applications();
        let app = apps.iter().find(|a| a.id == app_id).unwrap_or_else(|| panic!("{p}: no {app_id}: {apps:?}"));
        assert_eq!((&app.job_id, &app.stage_id), (job, stage), "{p}: {app:?}");
        let status = push_status(&host, id).await;
        assert_eq!(status["state"], "pushed", "{p}: {status}");
    }

    // On request: every open job's pipeline again; a rate-limited ATS ends
    // the per-job calls politely, the rest left for the next refresh.
    let refresh = "/api/v1/connections/acme-main/stages/refresh";
    let report = op(&host, "POST", refresh, None).await;
    assert_eq!((report["per_job"].as_bool(), report["jobs_fetched"].as_u64()), (Some(true), Some(open.len() as u64)));
    assert_eq!((report["jobs_left"].as_u64(), &report["warnings"]), (Some(0), &json!([])), "{p}: {report}");
    mock.inject(FaultRule::new(Fault::RateLimit { retry_after_secs: 1 }).times(1000).on_path(case.pipeline_path));
    let report = op(&host, "POST", refresh, None).await;
    assert_eq!(report["jobs_fetched"], 0, "{p}: {report}");
    assert_eq!(report["jobs_left"].as_u64(), Some(open.len() as u64), "{p}: {report}");
    let warning = report["warnings"][0].as_str().unwrap_or_default();
    assert!(warning.contains("rate-limited") && warning.contains("next refresh"), "{p}: {report}");
    let limited: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with(case.pipeline_path) && r.status == Some(429))
        .collect();
    assert_eq!(limited.len(), 1, "{p}: one rate-limited answer ends the loop: {limited:?}");
    mock.clear_faults();
    mock.shutdown().await;
}
