//! A running host picks up plugins installed by another process, and through
//! its own API, without a restart.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use atsbridge_tests::guests;
use serde_json::{Value, json};

use crate::support::{self, API_KEY};

struct Host {
    child: Child,
    base: String,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_host(data_dir: &std::path::Path) -> Host {
    let mut child = Command::new(support::atsbridge_bin())
        .args(["--data-dir", data_dir.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let base =
        line.trim().strip_prefix("atsbridge listening on ").unwrap_or_else(|| panic!("unexpected: {line}")).to_string();
    Host { child, base }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_host_uses_a_newly_installed_plugin_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let host = start_host(&data);
    let http = reqwest::Client::new();
    let list = |http: reqwest::Client, base: String| async move {
        http.get(format!("{base}/api/v1/plugins")).send().await.unwrap().json::<Value>().await.unwrap()
    };
    assert_eq!(list(http.clone(), host.base.clone()).await["plugins"], json!([]));

    // Installed by the CLI, a separate process, into the host's data dir.
    let src = support::plugin_dir(dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "");
    let out = Command::new(support::atsbridge_bin())
        .args(["--data-dir", data.to_str().unwrap(), "plugin", "install", src.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("installed well-behaved 1.2.3"));

    let plugins = list(http.clone(), host.base.clone()).await;
    assert_eq!(plugins["plugins"][0]["id"], "well-behaved");
    assert_eq!(plugins["plugins"][0]["capabilities"], json!(["stages", "candidate-push", "candidate-status"]));

    // The running host calls it: settings validated against its schema.
    let ats = support::fake_ats().await;
    let check = |settings: Value| {
        let http = http.clone();
        let url = format!("{}/api/v1/plugins/well-behaved/check", host.base);
        let hosts = vec![support::url_origin(&ats.base())];
        async move {
            let r = http.post(url).json(&json!({ "settings": settings, "extra_hosts": hosts })).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = check(json!({ "base-url": ats.base(), "api-key": API_KEY })).await;
    assert_eq!((status, &body["ok"]), (200, &json!(true)), "{body}");
    let (_, body) = check(json!({ "base-url": ats.base(), "api-key": "nope" })).await;
    assert_eq!(body["kind"], "unauthorized", "{body}");
    let (status, body) = check(json!({ "base-url": ats.base() })).await;
    assert_eq!(status, 422);
    assert!(body["error"].as_str().unwrap().contains("api-key"), "{body}");

    // Installed through the running host's own API.
    let hostile = support::plugin_dir(dir.path(), "hostile", "0.1.0", guests::HOSTILE, "");
    let r = http.post(format!("{}/api/v1/plugins", host.base)).json(&json!({ "path": hostile })).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let inspect: Value =
        http.get(format!("{}/api/v1/plugins/hostile", host.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(inspect["name"], "Hostile");
    assert_eq!(inspect["world"], "atsbridge:connector/connector@0.1.0");

    // A refused install names the problem.
    let wrong = support::plugin_dir(dir.path(), "wrong", "0.1.0", guests::WRONG_VERSION, "");
    let r = http.post(format!("{}/api/v1/plugins", host.base)).json(&json!({ "path": wrong })).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("0.9.0"), "{body}");

    // Metrics of the calls made through the host.
    let inspect: Value =
        http.get(format!("{}/api/v1/plugins/well-behaved", host.base)).send().await.unwrap().json().await.unwrap();
    assert!(inspect["metrics"]["calls"].as_u64().unwrap() >= 2, "{inspect}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_now_through_the_running_host_coalesces() {
    use atsbridge::store::SecretKey;
    use secrecy::ExposeSecret;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = SecretKey::generate().unwrap().to_base64().expose_secret().to_string();
    let ats = support::fake_ats_with(6, 2, std::time::Duration::from_millis(150)).await;
    let cli = |args: &[&str]| {
        let out = Command::new(support::atsbridge_bin())
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .env("ATSBRIDGE_SECRET_KEY", &key)
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let plugin = support::plugin_dir(dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "");
    assert!(cli(&["plugin", "install", plugin.to_str().unwrap()]).0);
    assert!(cli(&["account", "add", "Acme"]).0);
    let (ok, err) = cli(&[
        "connection",
        "add",
        "--account",
        "acme",
        "--plugin",
        "well-behaved",
        "--name",
        "main",
        "--set",
        &format!("base-url={}", ats.base()),
        "--set",
        &format!("api-key={API_KEY}"),
        "--allow-host",
        &support::url_origin(&ats.base()),
    ]);
    assert!(ok, "{err}");

    let mut child = Command::new(support::atsbridge_bin())
        .args(["--data-dir", data.to_str().unwrap(), "serve", "--listen", "127.0.0.1:0"])
        .env("ATSBRIDGE_SECRET_KEY", &key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let host = Host { child, base: line.trim().trim_start_matches("atsbridge listening on ").to_string() };
    let http = reqwest::Client::new();
    let runs_url = format!("{}/api/v1/connections/acme-main/runs", host.base);
    let runs = || async { http.get(&runs_url).send().await.unwrap().json::<Value>().await.unwrap()["runs"].clone() };

    // The connection never ran, so the scheduler catches it up at start.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while runs().await.as_array().unwrap().first().is_none_or(|r| r["outcome"] == "running") {
        assert!(std::time::Instant::now() < deadline, "the catch-up run did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // The CLI cannot open the store while the host runs; it says what to do.
    let (ok, err) = cli(&["connection", "sync", "acme-main"]);
    assert!(!ok);
    assert!(err.contains("/api/v1/connections/<id>/sync"), "{err}");

    // Two "sync now" requests at once make one run.
    let url = format!("{}/api/v1/connections/acme-main/sync", host.base);
    let (a, b) = tokio::join!(http.post(&url).send(), http.post(&url).send());
    let (a, b): (Value, Value) = (a.unwrap().json().await.unwrap(), b.unwrap().json().await.unwrap());
    assert_eq!((&a["ok"], &b["ok"]), (&json!(true), &json!(true)), "{a} {b}");
    assert_eq!(a["run"]["seq"], b["run"]["seq"]);
    let all = runs().await;
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");

    let positions: Value = http
        .get(format!("{}/api/v1/connections/acme-main/positions", host.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(positions["positions"].as_array().unwrap().len(), 6);
    let list: Value = http.get(format!("{}/api/v1/connections", host.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["connections"][0]["settings"]["api-key"], "********");
    // The next scheduled sync: the account's (UTC) early morning, not now.
    let next = list["connections"][0]["next_sync"].as_str().unwrap();
    let next = chrono::DateTime::parse_from_rfc3339(next).unwrap().with_timezone(&chrono::Utc);
    assert!(next > chrono::Utc::now(), "{next}");
    assert_eq!(chrono::Timelike::hour(&next), 3, "{next}");
    assert!(!list.to_string().contains(API_KEY));
}
