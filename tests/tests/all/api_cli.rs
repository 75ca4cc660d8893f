//! The CLI as a client of a running host: an account and a connection
//! created, synced, a position edited and published, a credential rotated
//! with positions kept, keys made and revoked — all while `serve` runs,
//! without a restart. Without a host, the same commands use the store.

use atsbridge_tests::guests;
use serde_json::Value;

use crate::api_support::{self, cli, ok};
use crate::support::{self, API_KEY};

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_drives_a_running_host_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = api_support::secret_key();
    let ats = support::fake_ats_with(5, 2, std::time::Duration::ZERO).await;

    // No host yet: commands use the store directly.
    let status = ok(cli(&data, &key, &["status"]));
    assert!(status.contains("no host running"), "{status}");
    ok(cli(&data, &key, &["account", "add", "Before"]));

    let host = api_support::start(&data, &key);
    let status = ok(host.cli(&["status"]));
    assert!(status.contains(&format!("client of the running host at {}", host.base)), "{status}");
    assert!(status.contains("acting as operator"), "{status}");

    let plugin = support::plugin_dir(dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "");
    let out = ok(host.cli(&["plugin", "install", plugin.to_str().unwrap()]));
    assert!(out.contains("installed well-behaved 1.2.3"), "{out}");
    let out = ok(host.cli(&["account", "add", "Acme", "--time-zone", "Europe/Berlin"]));
    assert!(out.contains("added account acme"), "{out}");
    let out = ok(host.cli(&["account", "list"]));
    assert!(out.contains("before") && out.contains("acme"), "{out}");
    let out = ok(host.cli(&support::str_args(&support::connection_add_args("main", &ats.base()))));
    assert!(out.contains("added connection acme-main"), "{out}");
    ok(host.cli(&["connection", "test", "acme-main"]));

    // Sync with --full through the host, followed to the end.
    let out = ok(host.cli(&["connection", "sync", "acme-main", "--full"]));
    assert!(out.contains("acme-main: run") && out.contains("succeeded") && out.contains("5 created"), "{out}");
    let positions: Vec<Value> =
        serde_json::from_str(&ok(host.cli(&["--json", "positions", "list", "--connection", "acme-main"]))).unwrap();
    assert_eq!(positions.len(), 5);
    let open = positions.iter().find(|p| p["status"] == "open").unwrap()["id"].as_u64().unwrap().to_string();
    ok(host.cli(&["positions", "edit", &open, "--name", "Edited by the CLI"]));
    let out = ok(host.cli(&["positions", "publish", &open]));
    assert!(out.contains("Edited by the CLI): published by user operator"), "{out}");
    let published: Vec<Value> = serde_json::from_str(&ok(host.cli(&[
        "--json",
        "positions",
        "list",
        "--connection",
        "acme-main",
        "--published",
        "true",
    ])))
    .unwrap();
    assert_eq!(published.len(), 1);

    // Rotate the credential: a wrong one fails the test, the right one
    // works, and positions, the edit and publication stay.
    ok(host.cli(&["connection", "update", "acme-main", "--set", "api-key=sk-wrong"]));
    let out = host.cli(&["connection", "test", "acme-main"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unauthorized") && !err.contains("sk-wrong"), "{err}");
    ok(host.cli(&["connection", "update", "acme-main", "--set", &format!("api-key={API_KEY}")]));
    let out = ok(host.cli(&["connection", "sync", "acme-main"]));
    assert!(out.contains("succeeded") && out.contains("0 created"), "{out}");
    let p: Value = serde_json::from_str(&ok(host.cli(&["--json", "positions", "show", &open]))).unwrap();
    assert_eq!((p["name"]["value"].as_str(), p["published"].as_bool()), (Some("Edited by the CLI"), Some(true)));
    ok(host.cli(&["positions", "unpublish", &open]));
    ok(host.cli(&["positions", "clear-edit", &open, "name"]));

    // Disable, enable, runs, reset; keys.
    ok(host.cli(&["connection", "disable", "acme-main"]));
    let out = host.cli(&["connection", "sync", "acme-main"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("disabled"), "{out:?}");
    ok(host.cli(&["connection", "enable", "acme-main"]));
    let runs = ok(host.cli(&["connection", "runs", "acme-main"]));
    assert!(runs.lines().count() >= 3, "{runs}");
    ok(host.cli(&["connection", "reset", "acme-main"]));
    let created: Value = serde_json::from_str(&ok(host.cli(&["--json", "account", "key", "create", "acme"]))).unwrap();
    let token = created["token"].as_str().unwrap();
    assert!(token.starts_with("atsb_"));
    let listed = ok(host.cli(&["account", "key", "list", "acme"]));
    assert!(listed.contains(created["key"]["id"].as_str().unwrap()) && !listed.contains(token), "{listed}");

    // The account key through the CLI sees its own account only.
    let out = std::process::Command::new(support::atsbridge_bin())
        .arg("--data-dir")
        .arg(&data)
        .args(["connection", "list"])
        .env("ATSBRIDGE_API_KEY", token)
        .output()
        .unwrap();
    let shown = ok(out);
    assert!(shown.contains("acme-main"), "{shown}");
    ok(host.cli(&["account", "key", "revoke", "acme", created["key"]["id"].as_str().unwrap()]));

    // The scheduler of the running host holds the new connection.
    let list = ok(host.cli(&["connection", "list"]));
    assert!(!list.contains("at the next `serve`"), "{list}");

    // A host that died leaves its address file: the CLI says so only if it
    // cannot use the store, and otherwise works on the store.
    let mut host = host;
    host.child.kill().unwrap();
    host.child.wait().unwrap();
    assert!(data.join("api-address").exists());
    let status = ok(cli(&data, &key, &["status"]));
    assert!(status.contains("no host running"), "{status}");
    let out = ok(cli(&data, &key, &["positions", "list", "--connection", "acme-main"]));
    assert!(out.contains("acme-main"), "{out}");
}

#[test]
fn errors_name_the_real_address() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let out = std::process::Command::new(support::atsbridge_bin())
        .arg("--data-dir")
        .arg(&data)
        .args(["account", "list"])
        .env("ATSBRIDGE_URL", "http://127.0.0.1:1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("http://127.0.0.1:1") && !err.contains("7878"), "{err}");
}
