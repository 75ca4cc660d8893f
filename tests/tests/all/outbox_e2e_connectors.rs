//! The candidate half end to end for every shipped connector: one scenario,
//! run against each bundled connector and its mock ATS, through a real
//! `atsbridge serve` and only its HTTP API and public pages.
//!
//! The scenario: install the bundled connector, connect it to the mock and
//! sync; refresh the ATS's stages and map ours onto them; publish one job
//! by a rule; turn auto-push on; apply through the public form (multipart
//! with a PDF) and see the candidate reach the ATS in the mapped stage with
//! the resume; apply again while the ATS answers 429, 503 and 500 to the
//! create and see one record after the retries; apply a second time as the
//! same person and push again, and see no duplicate; move a candidate and
//! see the ATS move the application; change stages and outcomes in the ATS
//! and see reconciliation map them back. Each connector has its own test,
//! so a failure names it.

use std::time::{Duration, Instant};

use atsbridge::conformance::settings_for_mock;
use atsbridge_mock_ats::{Application, Fault, FaultRule, MockAts, MockConfig, Vendor};
use serde_json::{Value, json};

use crate::ops_support::{Host, Setup, eventually};
use crate::outbox_support::{
    call, move_to, op, positions, push, push_status, reconcile, set_auto_push, settled_history, wait_for_state,
};
use crate::publish::{PDF, multipart, path_of, post_form};
use crate::support::url_origin;

/// How long any one step may take: pushes, retries and syncs on loopback
/// finish in well under a second each, so this only bounds a hang.
const WAIT: Duration = Duration::from_secs(30);
/// Jobs in each mock: enough for a rule to choose among, few enough that
/// the per-job requests of a listing (Workable, SmartRecruiters, Ashby)
/// stay cheap.
const JOBS: usize = 6;
/// The `Retry-After` the mock's 429 asks for, in seconds.
const RETRY_AFTER_SECS: u64 = 1;

/// What differs between connectors; everything else is the same scenario.
struct Case {
    /// The bundled connector (and its plugin id).
    plugin: &'static str,
    vendor: Vendor,
    /// Path prefix of the request that creates a candidate or application,
    /// with `{job}` for the job code: where the retry faults are injected.
    create_path: &'static str,
}

const GREENHOUSE: Case = Case { plugin: "greenhouse", vendor: Vendor::Greenhouse, create_path: "/v3/candidates" };
const LEVER: Case = Case { plugin: "lever", vendor: Vendor::Lever, create_path: "/v1/opportunities" };
const WORKABLE: Case =
    Case { plugin: "workable", vendor: Vendor::Workable, create_path: "/spi/v3/jobs/{job}/candidates" };
const ASHBY: Case = Case { plugin: "ashby", vendor: Vendor::Ashby, create_path: "/candidate.create" };
const SMARTRECRUITERS: Case =
    Case { plugin: "smartrecruiters", vendor: Vendor::SmartRecruiters, create_path: "/jobs/{job}/candidates" };
const BAMBOOHR: Case = Case {
    plugin: "bamboohr",
    vendor: Vendor::BambooHr,
    create_path: "/api/gateway.php/acme/v1/applicant_tracking/application",
};

/// One test per connector, each running [`scenario`] with its [`Case`].
macro_rules! connector_tests {
    ($($name:ident => $case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread")]
            async fn $name() {
                scenario(&$case).await;
            }
        )*
    };
}

connector_tests! {
    greenhouse_publish_apply_push_retry_dedupe_move_reconcile => GREENHOUSE,
    lever_publish_apply_push_retry_dedupe_move_reconcile => LEVER,
    workable_publish_apply_push_retry_dedupe_move_reconcile => WORKABLE,
    ashby_publish_apply_push_retry_dedupe_move_reconcile => ASHBY,
    smartrecruiters_publish_apply_push_retry_dedupe_move_reconcile => SMARTRECRUITERS,
    bamboohr_publish_apply_push_retry_dedupe_move_reconcile => BAMBOOHR,
}

/// A host serving a connection to a mock, and the job the scenario uses.
struct World {
    host: Host,
    mock: MockAts,
    connection: String,
    /// The ATS job code and our position id of the published job.
    job: String,
    position: u64,
    /// The public page's path.
    public: String,
    /// The job's ATS stages, in pipeline order (id, name).
    stages: Vec<(String, String)>,
    /// Kept for the host's data directory and log.
    _setup: Setup,
}

async fn scenario(case: &Case) {
    let started = Instant::now();
    let w = connect(case).await;
    let p = case.plugin;
    let ats_stage = |i: usize| w.stages[i].0.clone();

    // Auto-push from our first stage: the form's applicant goes at once.
    set_auto_push(&w.host, &w.connection, Some("new-submission")).await;
    let seeded = applications_on_job(&w);
    let ada = apply(&w, "Ada Lovelace", "ada@example.com").await;
    let ada_push = wait_for_state(&w.host, ada, "pushed", WAIT).await;
    let ada_app = the_application(&w, &ada_push);
    assert_eq!(ada_app.job_id, w.job, "{p}: {ada_app:?}");
    assert_eq!(ada_app.stage_id, ats_stage(1), "{p}: the push lands in the mapped stage: {ada_app:?}");
    assert_eq!(applications_on_job(&w), seeded + 1, "{p}");
    let records = w.mock.pushed_candidates();
    assert_eq!(records.len(), 1, "{p}: {records:?}");
    assert!(records[0].emails.iter().any(|e| e == "ada@example.com"), "{p}: {records:?}");
    let resume = records[0].files.iter().find(|f| f.kind == "resume");
    assert_eq!(resume.map(|f| f.bytes.as_slice()), Some(PDF), "{p}: the form's resume reaches the ATS: {records:?}");

    // 429, then 503, then 500 on the create: retried, Retry-After honoured,
    // one record in the end.
    let create = case.create_path.replace("{job}", &w.job);
    for fault in [Fault::RateLimit { retry_after_secs: RETRY_AFTER_SECS }, Fault::Status(503), Fault::Status(500)] {
        w.mock.inject(FaultRule::new(fault).on_path(create.clone()));
    }
    let asked = Instant::now();
    let grace = apply(&w, "Grace Hopper", "grace@example.com").await;
    let waiting = eventually(WAIT, "a failed attempt on record", || async {
        let s = push_status(&w.host, grace).await;
        (s["outbox"][0]["attempts"].as_u64() >= Some(1)).then_some(s)
    })
    .await;
    assert!(waiting["outbox"][0]["last_error"].as_str().is_some_and(|e| !e.is_empty()), "{p}: {waiting}");
    let grace_push = wait_for_state(&w.host, grace, "pushed", WAIT).await;
    assert!(asked.elapsed() >= Duration::from_secs(RETRY_AFTER_SECS), "{p}: Retry-After was not honoured");
    // The faults fired in order (on the first requests under the path:
    // the create, or a lookup before it), and nothing failed besides.
    let failed: Vec<u16> = w
        .mock
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with(create.as_str()))
        .filter_map(|r| r.status.filter(|s| *s >= 400))
        .collect();
    assert_eq!(failed, [429, 503, 500], "{p}: the answers under {create}");
    let grace_app = the_application(&w, &grace_push);
    assert_eq!(applications_on_job(&w), seeded + 2, "{p}: one application for Grace after the retries");

    // Duplicates: asking again is refused; the same person applying again
    // is linked to the application the ATS has, not created twice.
    let (status, body) = push(&w.host, ada).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("already_pushed")), "{p}: {body}");
    let twin = apply(&w, "Ada Lovelace", "ada@example.com").await;
    let twin_push = wait_for_state(&w.host, twin, "pushed", WAIT).await;
    assert_eq!(twin_push["ats_application_id"], ada_push["ats_application_id"], "{p}: {twin_push} {ada_push}");
    assert_eq!(twin_push["ats_candidate_id"], ada_push["ats_candidate_id"], "{p}: {twin_push} {ada_push}");
    assert_eq!(w.mock.pushed_candidates().len(), 2, "{p}: Ada and Grace, once each");
    assert_eq!(applications_on_job(&w), seeded + 2, "{p}: still one application for Ada");

    // A move after the push moves the application in the ATS.
    move_to(&w.host, ada, "interview").await;
    let history = settled_history(&w.host, ada, WAIT).await;
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(last["propagation"]["state"], "propagated", "{p}: {history}");
    assert_eq!(application(&w, &ada_app.id).stage_id, ats_stage(3), "{p}: the ATS moved the application");

    // Reconciliation: the ATS wins. Grace moved to the stage our
    // "Screening" maps to; Ada's twin shares Ada's application, which is in
    // "Interview" now.
    w.mock.set_application_stage(&grace_app.id, &ats_stage(2)).unwrap();
    let report = reconcile(&w.host, &w.connection).await;
    assert_eq!((report["checked"].as_u64(), report["moved"].as_u64()), (Some(3), Some(2)), "{p}: {report}");
    assert_eq!(stage_of(&w, grace).await, "screening", "{p}");
    assert_eq!(stage_of(&w, twin).await, "interview", "{p}");
    assert_eq!(stage_of(&w, ada).await, "interview", "{p}");
    let again = reconcile(&w.host, &w.connection).await;
    assert_eq!(again["moved"], 0, "{p}: nothing changed since: {again}");
    // Outcomes map by state: rejected and hired.
    w.mock.reject(&grace_app.id).unwrap();
    w.mock.hire(&ada_app.id).unwrap();
    let report = reconcile(&w.host, &w.connection).await;
    assert_eq!(report["moved"], 3, "{p}: {report}");
    assert_eq!(stage_of(&w, grace).await, "rejected", "{p}");
    assert_eq!((stage_of(&w, ada).await, stage_of(&w, twin).await), ("hired".into(), "hired".into()), "{p}");
    let history = op(&w.host, "GET", &format!("/api/v1/candidates/{grace}/history"), None).await;
    assert_eq!(history.as_array().unwrap().last().unwrap()["by"]["kind"], "ats", "{p}: {history}");
    eprintln!("{p}: the scenario took {:.1} s", started.elapsed().as_secs_f64());
}

/// Installs the bundled connector, connects it to a fresh mock, syncs,
/// refreshes and maps the stages, and publishes one job by a rule.
async fn connect(case: &Case) -> World {
    let mock = MockAts::start(case.vendor, MockConfig { jobs: JOBS, ..Default::default() }).await.unwrap();
    let setup = Setup::empty();
    let host = setup.serve(&setup.dir.path().join("host.log"));
    let p = case.plugin;
    let (status, body) = call(&host, "POST", "/api/v1/plugins", Some(json!({ "bundled": p }))).await;
    assert_eq!(status, 201, "{p}: {body}");
    op(&host, "POST", "/api/v1/accounts", Some(json!({ "name": "Acme" }))).await;
    let settings = settings_for_mock(p, &mock, &Default::default());
    let body = json!({
        "account": "acme", "name": p, "plugin": p, "settings": settings,
        "extra_hosts": [url_origin(mock.base_url())],
    });
    let connection = op(&host, "POST", "/api/v1/connections", Some(body)).await["id"].as_str().unwrap().to_string();
    sync(&host, &connection).await;

    // The job: the first open one whose title no other position has.
    let all = positions(&host, &connection).await;
    let title = |x: &Value| x["name"]["value"].as_str().unwrap_or_default().to_string();
    let chosen = all
        .iter()
        .filter(|x| x["status"] == "open")
        .find(|x| all.iter().filter(|y| title(y) == title(x)).count() == 1)
        .unwrap_or_else(|| panic!("{p}: no open job with a title of its own: {all:?}"))
        .clone();
    let job = chosen["ats_job_code"].as_str().unwrap().to_string();
    let position = chosen["id"].as_u64().unwrap();

    // The ATS's stages, as the connector lists them, are the mock's. A
    // refresh caches every job's pipeline (Greenhouse tags them in its
    // account-wide answer; Ashby and SmartRecruiters declare per-job
    // pipelines and are asked job by job); a refresh of the one job too.
    let refresh = format!("/api/v1/connections/{connection}/stages/refresh");
    let refreshed = op(&host, "POST", &refresh, None).await;
    assert_eq!(refreshed["supported"], true, "{p}: {refreshed}");
    let refreshed = op(&host, "POST", &format!("{refresh}?job={job}"), None).await;
    assert_eq!(refreshed["lists"], 1, "{p}: {refreshed}");
    let view = op(&host, "GET", &format!("/api/v1/connections/{connection}/stages?job={job}"), None).await;
    let stages: Vec<(String, String)> = view["list"]["stages"]
        .as_array()
        .unwrap_or_else(|| panic!("{p}: no stage list: {view}"))
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_string(), s["name"].as_str().unwrap().to_string()))
        .collect();
    let want: Vec<String> = mock.stages(&job).unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(stages.iter().map(|s| s.0.clone()).collect::<Vec<_>>(), want, "{p}: {view}");
    assert!(stages.len() >= 4, "{p}: the scenario maps four stages: {stages:?}");
    // Our first three stages onto the ATS's second to fourth (not its first,
    // where a connector that ignored the mapping would land too).
    for (ours, i) in [("new-submission", 1), ("screening", 2), ("interview", 3)] {
        let body = json!({ "ats_stage_id": stages[i].0, "job_code": job });
        op(&host, "PUT", &format!("/api/v1/connections/{connection}/stage-mapping/{ours}"), Some(body)).await;
    }

    // Published by a rule for its title, with an ad; the others are not.
    let rule = json!({
        "name": "The one job",
        "filter": { "title": { "kind": "glob", "pattern": title(&chosen) } },
        "template": { "title": "{{ title }} at Acme", "description": "<p>Join us.</p>{{ description }}" }
    });
    op(&host, "POST", &format!("/api/v1/connections/{connection}/publish-rules"), Some(rule)).await;
    let applied = op(&host, "POST", &format!("/api/v1/connections/{connection}/publish-rules/apply"), None).await;
    assert_eq!(applied["published"], 1, "{p}: {applied}");
    let all = positions(&host, &connection).await;
    let published: Vec<&Value> = all.iter().filter(|x| x["published"] == true).collect();
    assert_eq!(published.len(), 1, "{p}: {published:?}");
    assert_eq!(published[0]["id"], position, "{p}");
    assert_eq!(published[0]["publication"]["decision"]["by"]["kind"], "rule", "{p}: {}", published[0]);
    let public = path_of(published[0]);
    let page = reqwest::get(format!("{}{public}", host.base)).await.unwrap();
    assert_eq!(page.status(), 200, "{p}");
    let html = page.text().await.unwrap();
    assert!(html.contains(" at Acme") && html.contains("name=\"resume\""), "{p}: {html}");
    World { host, mock, connection, job, position, public, stages, _setup: setup }
}

/// A full sync through the API, waited for.
async fn sync(host: &Host, connection: &str) {
    let accepted = op(host, "POST", &format!("/api/v1/connections/{connection}/sync?full=true"), None).await;
    let run = accepted["run"].as_u64().unwrap();
    let done = eventually(WAIT, "the sync to finish", || async {
        let r = op(host, "GET", &format!("/api/v1/connections/{connection}/runs/{run}"), None).await;
        (r["outcome"] != "running" && r["outcome"] != "queued").then_some(r)
    })
    .await;
    assert_eq!(done["outcome"], "succeeded", "{done}");
}

/// Applies through the public form (multipart, a PDF); the new candidate's id.
async fn apply(w: &World, name: &str, email: &str) -> u64 {
    let before = candidates(w).await;
    let (status, page) = post_form(&w.host.base, &w.public, multipart(name, email, "cv.pdf", PDF)).await;
    assert_eq!(status, 201, "{page}");
    let after = candidates(w).await;
    let new: Vec<&Value> = after.iter().filter(|c| !before.iter().any(|b| b["id"] == c["id"])).collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert_eq!((new[0]["email"].as_str(), new[0]["stage"].as_str()), (Some(email), Some("new-submission")));
    new[0]["id"].as_u64().unwrap()
}

/// The position's candidates.
async fn candidates(w: &World) -> Vec<Value> {
    let page = op(&w.host, "GET", &format!("/api/v1/candidates?position={}&limit=100", w.position), None).await;
    page["items"].as_array().unwrap().clone()
}

/// Our stage of a candidate.
async fn stage_of(w: &World, id: u64) -> String {
    op(&w.host, "GET", &format!("/api/v1/candidates/{id}"), None).await["stage"].as_str().unwrap().to_string()
}

/// The ATS application a push recorded.
fn the_application(w: &World, push: &Value) -> Application {
    application(w, push["ats_application_id"].as_str().unwrap_or_else(|| panic!("no application id: {push}")))
}

fn application(w: &World, id: &str) -> Application {
    let apps = w.mock.applications();
    apps.iter().find(|a| a.id == id).cloned().unwrap_or_else(|| panic!("no application {id} in the ATS: {apps:?}"))
}

/// How many applications the ATS has on the job.
fn applications_on_job(w: &World) -> usize {
    w.mock.applications().iter().filter(|a| a.job_id == w.job).count()
}

/// Answers to a position's questions go with the push where the connector
/// declares `application-answers` (Greenhouse), and are recorded on the
/// push as not sent where it does not (Ashby): never dropped silently.
#[tokio::test(flavor = "multi_thread")]
async fn answers_a_connector_cannot_take_are_recorded_as_not_sent() {
    for (case, unsent) in [(&ASHBY, json!(["Notice period", "Visa needed?"])), (&GREENHOUSE, Value::Null)] {
        let w = connect(case).await;
        let p = case.plugin;
        let body = json!({
            "position": w.position, "name": "Ada Lovelace", "email": "ada@example.com",
            "answers": { "Notice period": "4 weeks", "Visa needed?": "no" },
        });
        let id = op(&w.host, "POST", "/api/v1/candidates", Some(body)).await["id"].as_u64().unwrap();
        let (status, queued) = push(&w.host, id).await;
        assert!(status < 300, "{p}: {status} {queued}");
        wait_for_state(&w.host, id, "pushed", WAIT).await;
        let pushes = op(&w.host, "GET", &format!("/api/v1/candidates/{id}/pushes"), None).await;
        let last = pushes.as_array().and_then(|a| a.last()).unwrap_or_else(|| panic!("{p}: {pushes}"));
        assert_eq!((&last["outcome"], &last["answers_not_sent"]), (&json!("pushed"), &unsent), "{p}: {pushes}");
    }
}
