//! A running host picks up plugins installed by another process, and through
//! its own API, without a restart; "sync now" coalesces.

use atsbridge_tests::guests;
use serde_json::{Value, json};

use crate::api_support::{self, upload_body};
use crate::support::{self, API_KEY};

#[tokio::test(flavor = "multi_thread")]
async fn a_running_host_uses_a_newly_installed_plugin_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let host = api_support::start(&data, &api_support::secret_key());
    let t = host.token.clone();
    assert_eq!(host.op("GET", "/api/v1/plugins", None).await["items"], json!([]));

    // Installed by the CLI, a separate process, through the host.
    let src = support::plugin_dir(dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "");
    let out = host.cli(&["plugin", "install", src.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("installed well-behaved 1.2.3"));

    let plugins = host.op("GET", "/api/v1/plugins", None).await;
    assert_eq!(plugins["items"][0]["id"], "well-behaved");
    assert_eq!(plugins["items"][0]["capabilities"], json!(["stages", "candidate-push", "candidate-status"]));

    // The running host calls it: settings validated against its schema.
    let ats = support::fake_ats().await;
    let hosts = vec![support::url_origin(&ats.base())];
    let check = |settings: Value| {
        let body = json!({ "settings": settings, "extra_hosts": hosts });
        let (host, t) = (&host, t.clone());
        async move { host.call("POST", "/api/v1/plugins/well-behaved/check", Some(&t), Some(body)).await }
    };
    let (status, body) = check(json!({ "base-url": ats.base(), "api-key": API_KEY })).await;
    assert_eq!((status, &body["ok"]), (200, &json!(true)), "{body}");
    let (status, body) = check(json!({ "base-url": ats.base(), "api-key": "nope" })).await;
    assert_eq!((status, &body["error"]["code"]), (502, &json!("connector_unauthorized")), "{body}");
    let (status, body) = check(json!({ "base-url": ats.base() })).await;
    assert_eq!(status, 422);
    assert!(body["error"]["message"].as_str().unwrap().contains("api-key"), "{body}");

    // Installed through the running host's own API, from uploaded bytes.
    let mut hostile = upload_body("hostile", guests::HOSTILE);
    hostile["manifest"] = json!("[plugin]\nid = \"hostile\"\nversion = \"0.1.0\"\ncontract = \"0.2.0\"\n");
    let (status, body) = host.call("POST", "/api/v1/plugins", Some(&t), Some(hostile)).await;
    assert_eq!(status, 201, "{body}");
    let inspect = host.op("GET", "/api/v1/plugins/hostile", None).await;
    assert_eq!(inspect["name"], "Hostile");
    assert_eq!(inspect["world"], "atsbridge:connector/connector@0.2.0");

    // A refused install names the problem.
    let mut wrong = upload_body("wrong", guests::WRONG_VERSION);
    wrong["manifest"] = json!("[plugin]\nid = \"wrong\"\nversion = \"0.1.0\"\ncontract = \"0.1.0\"\n");
    let (status, body) = host.call("POST", "/api/v1/plugins", Some(&t), Some(wrong)).await;
    assert_eq!(status, 422);
    assert!(body["error"]["message"].as_str().unwrap().contains("0.9.0"), "{body}");

    // Metrics of the calls made through the host.
    let inspect = host.op("GET", "/api/v1/plugins/well-behaved", None).await;
    assert!(inspect["metrics"]["calls"].as_u64().unwrap() >= 2, "{inspect}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_now_through_the_running_host_coalesces() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = api_support::secret_key();
    let ats = support::fake_ats_with(6, 2, std::time::Duration::from_millis(150)).await;
    let cli = |args: &[&str]| {
        let out = api_support::cli(&data, &key, args);
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let plugin = support::plugin_dir(dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "");
    assert!(cli(&["plugin", "install", plugin.to_str().unwrap()]).0);
    assert!(cli(&["account", "add", "Acme"]).0);
    let (ok, err) = cli(&support::str_args(&support::connection_add_args("main", &ats.base())));
    assert!(ok, "{err}");

    let host = api_support::start(&data, &key);
    let runs = || async { host.op("GET", "/api/v1/connections/acme-main/runs", None).await["items"].clone() };

    // The connection never ran, so the scheduler catches it up at start.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while runs().await.as_array().unwrap().first().is_none_or(|r| r["outcome"] == "running") {
        assert!(std::time::Instant::now() < deadline, "the catch-up run did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // The CLI works while the host runs: it goes through the API.
    let (ok, err) = cli(&["connection", "sync", "acme-main"]);
    assert!(ok, "{err}");

    // Two "sync now" requests at once make one run.
    let url = "/api/v1/connections/acme-main/sync";
    let ((sa, a), (sb, b)) =
        tokio::join!(host.call("POST", url, Some(&host.token), None), host.call("POST", url, Some(&host.token), None));
    assert_eq!((sa, sb), (202, 202), "{a} {b}");
    assert_eq!(a["run"], b["run"], "{a} {b}");
    host.wait_run("acme-main", a["run"].as_u64().unwrap(), &host.token).await;
    let all = runs().await;
    assert_eq!(all.as_array().unwrap().len(), 3, "{all}");

    let positions = host.op("GET", "/api/v1/positions?connection=acme-main", None).await;
    assert_eq!(positions["items"].as_array().unwrap().len(), 6);
    let list = host.op("GET", "/api/v1/connections", None).await;
    assert_eq!(list["items"][0]["settings"]["api-key"], "********");
    // The next scheduled sync: the account's (UTC) early morning, not now.
    let next = list["items"][0]["next_sync"].as_str().unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(next).unwrap().with_timezone(&chrono::Utc);
    assert!(next > chrono::Utc::now(), "{next}");
    assert_eq!(chrono::Timelike::hour(&next), 3, "{next}");
    assert!(!list.to_string().contains(API_KEY));
}
