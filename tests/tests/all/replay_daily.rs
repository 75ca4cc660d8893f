//! Record and replay of a daily run of an OAuth connector: a Greenhouse
//! connection (Harvest v3, client credentials) with candidates pushed to
//! the Greenhouse mock runs its scheduled sync recorded. The recording has
//! every export call of the run (`list-jobs`, `list-stages` of the stage
//! refresh, `candidate-statuses` of the reconciliation) and the host's
//! request to the token endpoint, with no credential or token in it. With
//! the mock stopped, the installed connector replays with no difference
//! and no network, the token step answered from the recording; a changed
//! build reports its changed job titles, stage names and candidate stage
//! names.

use atsbridge::app::App;
use atsbridge::store::{SecretKey, Trigger};
use atsbridge::sync::NoProgress;
use atsbridge_mock_ats::{MockAts, MockConfig, Vendor};
use atsbridge_tests::guests;
use serde_json::Value;

use crate::api_support::{self, cli, ok};
use crate::support;

use crate::daily_support::CONNECTION;
/// One Greenhouse page (the connector asks for 500).
const JOBS: usize = 30;
/// Candidates pushed, each on its own job: one `candidate-statuses` call.
const PUSHED: usize = 3;

fn report(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

/// The connection, synced, with [`PUSHED`] candidates pushed to the mock
/// through the connector and recorded as pushed in the store.
async fn set_up(app: &App, mock: &MockAts) {
    crate::daily_support::greenhouse_with_pushed(app, mock, PUSHED, "replay").await;
    app.store.flush().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_daily_oauth_run_replays_offline_with_its_stages_and_candidate_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = api_support::secret_key();
    let mock = MockAts::start(Vendor::Greenhouse, MockConfig { jobs: JOBS, ..Default::default() }).await.unwrap();
    let credentials = mock.credentials();
    {
        let app = App::open(&data, Some(SecretKey::parse(&key).unwrap())).unwrap();
        set_up(&app, &mock).await;
    }
    // Last night's run, in a host that has no token cached yet: the
    // scheduled run with its stage refresh and reconciliation, recorded.
    {
        let app = App::open(&data, Some(SecretKey::parse(&key).unwrap())).unwrap();
        app.engine.recordings().dir().unwrap().arm(CONNECTION).unwrap();
        let run = app.engine.sync(CONNECTION, Trigger::Scheduled, &NoProgress).await.unwrap();
        assert_eq!(run.seq, 2);
        app.store.flush().unwrap();
    }
    let recording = data.join("recordings").join(CONNECTION).join("run-2.jsonl");
    let text = std::fs::read_to_string(&recording).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let exports = |name: &str| lines.iter().filter(|l| l["kind"] == "export" && l["call"]["export"] == name).count();
    assert_eq!(exports("list-jobs"), 1, "{text}");
    assert!(exports("list-stages") >= 1, "the stage refresh's calls: {text}");
    assert_eq!(exports("candidate-statuses"), 1, "the reconciliation's call");
    let statuses = lines.iter().find(|l| l["call"]["export"] == "candidate-statuses").unwrap();
    assert_eq!(statuses["call"]["refs"].as_array().unwrap().len(), PUSHED);
    assert_eq!(statuses["outcome"]["statuses"].as_array().unwrap().len(), PUSHED, "{statuses}");
    let tokens: Vec<&Value> = lines.iter().filter(|l| l["kind"] == "token").collect();
    assert_eq!(tokens.len(), 1, "the host asked for one token: {text}");
    let token = tokens[0];
    assert_eq!(token["token_url"], mock.token_url().unwrap());
    assert_eq!(token["host_headers"][0], serde_json::json!(["authorization", "[attached by the host]"]));
    assert!(token["form"].as_array().unwrap().iter().any(|p| p[0] == "grant_type"), "{token}");
    let body = token["outcome"]["response"]["body"]["text"].as_str().unwrap();
    assert_eq!(token["outcome"]["response"]["status"], 200);
    assert!(body.contains("\"access_token\":\"[token issued to the host]\""), "{body}");
    assert!(!text.contains("ghat_"), "an issued token reached the recording");
    let client_id = credentials.client_id.clone().unwrap();
    let client_secret = credentials.client_secret.clone().unwrap();
    for form in [&client_id, &client_secret] {
        assert!(!text.contains(form.as_str()), "a client credential reached the recording: {form}");
    }

    // Replayed with the mock gone: nothing on the network can answer.
    mock.shutdown().await;
    let file = recording.to_str().unwrap();
    let out = ok(cli(&data, &key, &["plugin", "replay", file, "greenhouse"]));
    assert!(out.contains("no differences"), "{out}");
    assert!(out.contains("OAuth token requests: 1 answered from the recording, 0 not needed"), "{out}");
    assert!(out.contains(&format!("candidate statuses: {PUSHED} recorded, {PUSHED} replayed")), "{out}");

    // The fix to check before installing it.
    let variant = support::plugin_dir(dir.path(), "greenhouse", "0.2.1", guests::GREENHOUSE_VARIANT, "");
    let out = cli(&data, &key, &["--json", "plugin", "replay", file, variant.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = report(&out);
    assert_eq!(r["replayed_version"], "0.2.1");
    assert_eq!(r["unanswered_total"], 0, "{r}");
    assert_eq!(r["token_requests"], 1);
    assert_eq!((r["jobs"]["added_total"].as_u64(), r["jobs"]["removed_total"].as_u64()), (Some(0), Some(0)));
    assert_eq!(r["jobs"]["changed_total"], JOBS);
    let fields = |change: &Value| -> Vec<String> {
        change["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap().to_string()).collect()
    };
    assert!(r["jobs"]["changed"].as_array().unwrap().iter().all(|c| fields(c) == ["title"]), "{r}");
    let stages = r["stages"].as_array().unwrap();
    assert!(!stages.is_empty(), "{r}");
    for s in stages {
        assert!(s["added"].as_array().unwrap().is_empty() && s["removed"].as_array().unwrap().is_empty(), "{s}");
        assert!(s["error"].is_null(), "{s}");
        for c in s["changed"].as_array().unwrap() {
            assert_eq!(fields(c), ["name"], "{c}");
            let f = &c["fields"][0];
            assert_eq!(f["replayed"].as_str().unwrap(), f["recorded"].as_str().unwrap().to_uppercase());
        }
    }
    let st = &r["statuses"];
    assert_eq!((st["recorded"].as_u64(), st["replayed"].as_u64()), (Some(PUSHED as u64), Some(PUSHED as u64)));
    assert_eq!(st["changed_total"], PUSHED, "{st}");
    assert!(st["changed"].as_array().unwrap().iter().all(|c| fields(c) == ["stage_name"]), "{st}");
    assert!(st["errors"].as_array().unwrap().is_empty(), "{st}");
    let out = ok(cli(&data, &key, &["plugin", "replay", file, variant.to_str().unwrap()]));
    assert!(out.contains(&format!("{PUSHED} changed")) && out.contains("      stage_name: "), "{out}");
    assert!(out.contains("      name: "), "{out}");
}
