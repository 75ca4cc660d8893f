//! Record and replay, end to end with the real binary: a Lever connection
//! synced against the Lever mock with `--record`; the recording replayed
//! against the installed connector (no differences), against another build
//! of it (the changed field named), and with an exchange cut out (the
//! request reported as unanswerable, exit code non-zero). No secret in any
//! form reaches the file, and replay never reaches the network.

use atsbridge_mock_ats::{MockAts, MockConfig, Vendor};
use atsbridge_tests::guests;
use base64::Engine as _;
use serde_json::Value;

use crate::api_support::{self, cli, ok};
use crate::support;

/// Two Lever pages (the connector asks for 100 a page).
const JOBS: usize = 150;
/// The Lever API key: random-looking, so no piece of it occurs by chance.
const SECRET: &str = "lv7Qx9f3c2a7e41b8d605kP2zR";

fn report(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_sync_replays_against_another_build_and_names_the_changed_field() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = api_support::secret_key();
    let config = MockConfig { jobs: JOBS, api_key: Some(SECRET.to_string()), ..Default::default() };
    let mock = MockAts::start(Vendor::Lever, config).await.unwrap();
    let secret = mock.credentials().api_key;
    let base = mock.api_base_url();

    ok(cli(&data, &key, &["plugin", "install", "--bundled", "lever"]));
    ok(cli(&data, &key, &["account", "add", "Acme"]));
    ok(cli(
        &data,
        &key,
        &[
            "connection",
            "add",
            "--account",
            "acme",
            "--plugin",
            "lever",
            "--name",
            "lever",
            "--set",
            &format!("api-key={secret}"),
            "--set",
            &format!("base-url={base}"),
            "--allow-host",
            &support::url_origin(&base),
        ],
    ));
    let recording = dir.path().join("last-night.jsonl");
    let out =
        ok(cli(&data, &key, &["connection", "sync", "acme-lever", "--full", "--record", recording.to_str().unwrap()]));
    assert!(out.contains("recorded run 1 to") && out.contains("150 created"), "{out}");

    // The file: private, versioned, every exchange and call, no secret.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&recording).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let text = std::fs::read_to_string(&recording).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["kind"], "header");
    assert_eq!(lines[0]["format"], "atsbridge-recording");
    assert_eq!(lines[0]["version"], 1);
    assert_eq!(lines[0]["plugin"], "lever");
    assert_eq!(lines[0]["run"], 1);
    assert_eq!(lines.last().unwrap()["kind"], "end");
    assert_eq!(lines.last().unwrap()["truncated"], false);
    let kinds = |k: &str| lines.iter().filter(|l| l["kind"] == k).count();
    assert!(kinds("http") >= 2, "both pages' requests: {}", kinds("http"));
    assert_eq!(kinds("export"), 2, "one list-jobs call per page");
    let http = lines.iter().find(|l| l["kind"] == "http").unwrap();
    assert_eq!(http["request"]["host_headers"][0][0], "authorization");
    assert_eq!(http["request"]["host_headers"][0][1], "[attached by the host]");
    assert_eq!(http["request"]["auth"]["basic"]["username"]["secret"]["key"], "api-key");
    let b64 = base64::engine::general_purpose::STANDARD;
    for form in [
        secret.clone(),
        b64.encode(&secret),
        b64.encode(format!("{secret}:")),
        hex::encode(&secret),
        secret.to_lowercase(),
        secret[..secret.len() / 2].to_string(),
    ] {
        assert!(
            !text.to_lowercase().contains(&form.to_lowercase()),
            "the recording contains a form of the secret: {form}"
        );
    }

    // Replay touches no network: the mock sees no request from here on.
    let served = mock.request_count();

    // The same connector: the same results, every request answered.
    let out = ok(cli(&data, &key, &["plugin", "replay", recording.to_str().unwrap(), "lever"]));
    assert!(out.contains("no differences"), "{out}");
    assert!(out.contains("150 recorded, 150 replayed in 2 page(s)"), "{out}");

    // Another build, not installed: titles upper-cased, and nothing else.
    let variant = support::plugin_dir(dir.path(), "lever", "0.2.1", guests::LEVER_VARIANT, "");
    let out = cli(&data, &key, &["--json", "plugin", "replay", recording.to_str().unwrap(), variant.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r = report(&out);
    assert_eq!(r["replayed_version"], "0.2.1");
    assert_eq!(r["unanswered_total"], 0);
    assert_eq!(r["jobs"]["added_total"], 0);
    assert_eq!(r["jobs"]["removed_total"], 0);
    assert_eq!(r["jobs"]["changed_total"], JOBS);
    for change in r["jobs"]["changed"].as_array().unwrap() {
        let fields: Vec<&str> =
            change["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["title"], "{change}");
        let f = &change["fields"][0];
        assert_eq!(f["replayed"].as_str().unwrap(), f["recorded"].as_str().unwrap().to_uppercase());
    }
    let out = ok(cli(&data, &key, &["plugin", "replay", recording.to_str().unwrap(), variant.to_str().unwrap()]));
    assert!(out.contains("150 changed") && out.contains("      title: "), "{out}");

    // A recording without the second page's exchange: that request is
    // reported, not faked, and the command fails.
    let cut = dir.path().join("cut.jsonl");
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            !(v["kind"] == "http" && v["request"]["url"].as_str().unwrap().contains("offset="))
        })
        .collect();
    assert_eq!(kept.len(), lines.len() - 1, "exactly one second-page request");
    std::fs::write(&cut, kept.join("\n")).unwrap();
    let out = cli(&data, &key, &["--json", "plugin", "replay", cut.to_str().unwrap(), "lever"]);
    assert!(!out.status.success(), "an unanswerable request fails the replay");
    let r = report(&out);
    assert_eq!(r["unanswered_total"], 1);
    assert!(r["unanswered"][0]["url"].as_str().unwrap().contains("offset="), "{r}");
    assert_eq!(r["unanswered"][0]["reason"], "not in the recording");
    assert_eq!(r["jobs"]["removed_total"], 50, "the second page's jobs are missing: {r}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not be answered from the recording"));

    assert_eq!(mock.request_count(), served, "replay reached the mock");

    // The switch for a scheduled run: the next run, whatever starts it, is
    // recorded in the data directory.
    ok(cli(&data, &key, &["connection", "record-next", "acme-lever"]));
    ok(cli(&data, &key, &["connection", "sync", "acme-lever"]));
    let kept = data.join("recordings").join("acme-lever").join("run-2.jsonl");
    let second = std::fs::read_to_string(&kept).unwrap();
    assert!(second.starts_with("{\"kind\":\"header\""), "{second}");
    assert!(!second.contains(&secret));
    ok(cli(&data, &key, &["connection", "sync", "acme-lever"]));
    assert!(!data.join("recordings").join("acme-lever").join("run-3.jsonl").exists(), "armed once, recorded once");
    mock.shutdown().await;
}
