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
    let base = line.trim().strip_prefix("atsbridge listening on ").unwrap_or_else(|| panic!("unexpected: {line}")).to_string();
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
    let inspect: Value = http.get(format!("{}/api/v1/plugins/hostile", host.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(inspect["name"], "Hostile");
    assert_eq!(inspect["world"], "atsbridge:connector/connector@0.1.0");

    // A refused install names the problem.
    let wrong = support::plugin_dir(dir.path(), "wrong", "0.1.0", guests::WRONG_VERSION, "");
    let r = http.post(format!("{}/api/v1/plugins", host.base)).json(&json!({ "path": wrong })).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 422);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("0.9.0"), "{body}");

    // Metrics of the calls made through the host.
    let inspect: Value = http.get(format!("{}/api/v1/plugins/well-behaved", host.base)).send().await.unwrap().json().await.unwrap();
    assert!(inspect["metrics"]["calls"].as_u64().unwrap() >= 2, "{inspect}");
}
