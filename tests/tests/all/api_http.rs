//! The API of a running host over real HTTP: one error shape for every
//! failure, pagination, the generated document, DNS rebinding, background
//! syncs, full syncs, and credential rotation keeping positions.

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::{Value, json};

use crate::api_support::{self, Host};
use crate::support::{self, API_KEY};

fn assert_error_shape(status: u16, body: &Value, expected: u16, what: &str) {
    assert_eq!(status, expected, "{what}: {body}");
    let error = &body["error"];
    assert!(error["code"].as_str().is_some_and(|c| !c.is_empty()), "{what}: {body}");
    assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{what}: {body}");
}

/// Sends raw HTTP/1.1 and returns the status and body.
fn raw(host: &Host, request: &str) -> (u16, String) {
    let addr = host.base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_failure_has_one_shape_and_nothing_leaks() {
    let dir = tempfile::tempdir().unwrap();
    let host = api_support::start(&dir.path().join("data"), &api_support::secret_key());
    let t = host.token.clone();
    let http = reqwest::Client::new();

    // axum's own rejections, rewrapped.
    let r = http
        .post(format!("{}/api/v1/accounts", host.base))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (s, b) = (r.status().as_u16(), r.json::<Value>().await.unwrap());
    assert_error_shape(s, &b, 400, "bad JSON");
    let r = http.post(format!("{}/api/v1/accounts", host.base)).bearer_auth(&t).body("name=x").send().await.unwrap();
    let (s, b) = (r.status().as_u16(), r.json::<Value>().await.unwrap());
    assert_error_shape(s, &b, 415, "no content type");
    let (s, b) = host.call("GET", "/api/v1/nope", Some(&t), None).await;
    assert_error_shape(s, &b, 404, "unknown route");
    let (s, b) = host.call("PUT", "/api/v1/accounts", Some(&t), None).await;
    assert_error_shape(s, &b, 405, "wrong method");
    let (s, b) = host.call("GET", "/api/v1/positions/not-a-number", Some(&t), None).await;
    assert_error_shape(s, &b, 400, "bad path parameter");
    let (s, b) = host.call("GET", "/api/v1/accounts?limit=many", Some(&t), None).await;
    assert_error_shape(s, &b, 400, "bad query");
    let (s, b) = host.call("POST", "/api/v1/accounts", Some(&t), Some(json!({"name": "A", "tz": "x"}))).await;
    assert_error_shape(s, &b, 422, "unknown field");
    let (s, b) =
        host.call("POST", "/api/v1/accounts", Some(&t), Some(json!({"name": "A", "time_zone": "Mars/Base"}))).await;
    assert_error_shape(s, &b, 422, "bad time zone");
    // (Its own client: the host answers before reading the whole body and
    // closes that connection.)
    let big = "x".repeat(3 << 20);
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/accounts", host.base))
        .bearer_auth(&t)
        .json(&json!({ "name": big }))
        .send()
        .await
        .unwrap();
    let (s, b) = (r.status().as_u16(), r.json::<Value>().await.unwrap());
    assert_error_shape(s, &b, 413, "body too large");
    let (s, b) = host.call("GET", "/api/v1/connections/nope", Some(&t), None).await;
    assert_error_shape(s, &b, 404, "unknown connection");
    assert_eq!(b["error"]["code"], "connection_not_found");

    // The old install-from-path request: refused without reading the file.
    let secret = "ATSBRIDGE_SECRET_KEY";
    for body in [json!({"path": "/proc/self/environ"}), json!({"path": "/etc/passwd", "component": "/etc/hosts"})] {
        let (s, b) = host.call("POST", "/api/v1/plugins", Some(&t), Some(body)).await;
        assert_error_shape(s, &b, 422, "install from a path");
        assert!(!b.to_string().contains(secret) && !b.to_string().contains("root:"), "{b}");
    }
    // A manifest that is not one: the error names the problem, not the host's files.
    let body = json!({"manifest": "not = [toml", "component_base64": "AAAA"});
    let (s, b) = host.call("POST", "/api/v1/plugins", Some(&t), Some(body)).await;
    assert_error_shape(s, &b, 422, "bad manifest");
    // Plugin ids are checked before they reach the file system.
    for id in ["%2Fsome%2Fdir", "..", "%2E%2E", "UPPER", "a_b"] {
        for method in ["GET", "DELETE"] {
            let (s, b) = host.call(method, &format!("/api/v1/plugins/{id}"), Some(&t), None).await;
            assert!(s == 422 || s == 404, "{method} {id}: {s} {b}");
            assert!(b["error"]["code"].is_string(), "{b}");
        }
    }
    assert!(dir.path().join("data").is_dir());

    // DNS rebinding: a request naming another host is refused.
    let port = host.base.rsplit(':').next().unwrap();
    let (s, body) = raw(
        &host,
        &format!(
            "GET /api/v1/accounts HTTP/1.1\r\nHost: evil.example:{port}\r\nAuthorization: Bearer {t}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(s, 421, "{body}");
    assert!(body.contains("host_not_allowed"), "{body}");
    let (s, _) = raw(
        &host,
        &format!(
            "GET /api/v1/accounts HTTP/1.1\r\nHost: localhost:{port}\r\nAuthorization: Bearer {t}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(s, 200);

    // The document and its reference page.
    let doc = host.op("GET", "/api/v1/openapi.json", None).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    assert!(doc["components"]["schemas"]["ConnectionDto"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let page = reqwest::get(format!("{}/api/v1/docs", host.base)).await.unwrap().text().await.unwrap();
    assert!(page.contains("/api/v1/connections/{id}/sync") && page.contains("SyncAccepted"), "{page}");
    assert!(!page.contains("<script") && !page.contains("https://"), "the page loads nothing from elsewhere");
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_runs_in_the_background_pages_and_rotation_keeps_positions() {
    let dir = tempfile::tempdir().unwrap();
    let host = api_support::start(&dir.path().join("data"), &api_support::secret_key());
    let t = host.token.clone();
    // 6 jobs, 2 a page, each page 300 ms: a run takes about a second.
    let ats = support::fake_ats_with(6, 2, Duration::from_millis(300)).await;
    host.install_well_behaved().await;
    let c = host.account_with_connection("Acme", &ats).await;

    // 202 at once with the run; the client goes away; the run goes on.
    let started = std::time::Instant::now();
    let (s, accepted) = host.call("POST", &format!("/api/v1/connections/{c}/sync"), Some(&t), None).await;
    assert_eq!(s, 202, "{accepted}");
    assert!(started.elapsed() < Duration::from_millis(900), "answered only after {:?}", started.elapsed());
    let run = accepted["run"].as_u64().unwrap();
    let (s, during) = host.call("GET", &format!("/api/v1/connections/{c}/runs/{run}"), Some(&t), None).await;
    assert_eq!((s, during["outcome"].as_str()), (200, Some("running")), "{during}");
    let done = host.wait_run(&c, run, &t).await;
    assert_eq!(done["outcome"], "succeeded", "{done}");
    assert_eq!(done["counts"]["created"], 6);

    // A client that goes away once the sync is accepted cancels nothing.
    let port = host.base.rsplit(':').next().unwrap();
    {
        let addr = host.base.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(
            format!("POST /api/v1/connections/{c}/sync?full=true HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {t}\r\nContent-Length: 0\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
        let mut status = [0u8; 12];
        s.read_exact(&mut status).unwrap();
        assert_eq!(&status[9..12], b"202");
    }
    let done = host.wait_run(&c, run + 1, &t).await;
    assert_eq!((done["outcome"].as_str(), done["full_listing"].as_bool()), (Some("succeeded"), Some(true)), "{done}");

    // A job deleted in the ATS is closed by a full sync now.
    ats.remove("J6");
    let accepted = host.op("POST", &format!("/api/v1/connections/{c}/sync?full=true"), None).await;
    let done = host.wait_run(&c, accepted["run"].as_u64().unwrap(), &t).await;
    assert_eq!(done["counts"]["removed"], 1, "{done}");

    // Pages: 2 at a time, each position once, in id order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let page = host.op("GET", &format!("/api/v1/positions?connection={c}&limit=2{q}"), None).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|p| p["id"].as_u64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    let closed = host.op("GET", &format!("/api/v1/positions?connection={c}&status=closed"), None).await;
    assert!(closed["items"].as_array().unwrap().iter().all(|p| p["status"] == "closed"));
    let runs = host.op("GET", &format!("/api/v1/connections/{c}/runs?limit=1"), None).await;
    assert_eq!(runs["items"].as_array().unwrap().len(), 1);
    assert!(runs["next_cursor"].is_string(), "{runs}");

    // Edit and publish one, then rotate the credential: a wrong key fails
    // the test, the right one works, and positions, edits and runs stay.
    let first = seen[0];
    host.op("PATCH", &format!("/api/v1/positions/{first}"), Some(json!({"name": "Edited title"}))).await;
    let p = host.op("POST", &format!("/api/v1/positions/{first}/publish"), None).await;
    assert_eq!(p["published"], true);
    let c_before = host.op("GET", &format!("/api/v1/connections/{c}"), None).await;
    host.op("PATCH", &format!("/api/v1/connections/{c}"), Some(json!({"settings": {"api-key": "sk-rotated-wrong"}})))
        .await;
    let (s, b) = host.call("POST", &format!("/api/v1/connections/{c}/test"), Some(&t), None).await;
    assert_eq!((s, b["error"]["code"].as_str()), (502, Some("connector_unauthorized")), "{b}");
    assert!(!b.to_string().contains("sk-rotated-wrong"), "{b}");
    let updated =
        host.op("PATCH", &format!("/api/v1/connections/{c}"), Some(json!({"settings": {"api-key": API_KEY}}))).await;
    assert_eq!(updated["settings"]["api-key"], "********");
    assert_eq!(updated["settings"]["base-url"], c_before["settings"]["base-url"]);
    host.op("POST", &format!("/api/v1/connections/{c}/test"), None).await;
    let accepted = host.op("POST", &format!("/api/v1/connections/{c}/sync"), None).await;
    let done = host.wait_run(&c, accepted["run"].as_u64().unwrap(), &t).await;
    assert_eq!((done["outcome"].as_str(), done["counts"]["created"].as_u64()), (Some("succeeded"), Some(0)), "{done}");
    let p = host.op("GET", &format!("/api/v1/positions/{first}"), None).await;
    assert_eq!((p["name"]["value"].as_str(), p["published"].as_bool()), (Some("Edited title"), Some(true)), "{p}");
    let all = host.op("GET", &format!("/api/v1/positions?connection={c}"), None).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 6);

    // Settings are still checked against the schema on update.
    let (s, b) = host
        .call("PATCH", &format!("/api/v1/connections/{c}"), Some(&t), Some(json!({"settings": {"region": "mars"}})))
        .await;
    assert_error_shape(s, &b, 422, "bad choice");
    // A disabled connection does not sync; the plugin in use cannot go.
    host.op("POST", &format!("/api/v1/connections/{c}/disable"), None).await;
    let (s, b) = host.call("POST", &format!("/api/v1/connections/{c}/sync"), Some(&t), None).await;
    assert_error_shape(s, &b, 409, "sync of a disabled connection");
    let (s, b) = host.call("DELETE", "/api/v1/plugins/well-behaved", Some(&t), None).await;
    assert_error_shape(s, &b, 409, "remove a plugin in use");
    let (s, b) = host.call("DELETE", "/api/v1/accounts/acme", Some(&t), None).await;
    assert_error_shape(s, &b, 409, "delete an account with connections");
    host.op("DELETE", &format!("/api/v1/connections/{c}"), None).await;
    host.op("DELETE", "/api/v1/accounts/acme", None).await;
    host.op("DELETE", "/api/v1/plugins/well-behaved", None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_loopback_bind_is_logged_and_only_configured_names_are_served() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut child = std::process::Command::new(support::atsbridge_bin())
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "0.0.0.0:0", "--public-host", "ats.example.test"])
        .env("ATSBRIDGE_SECRET_KEY", api_support::secret_key())
        .env_remove("ATSBRIDGE_OPERATOR_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().rsplit(':').next().unwrap().to_string();
    let token = std::fs::read_to_string(data.join("operator.token")).unwrap().trim().to_string();
    let get = |host: &str| {
        let req = format!(
            "GET /api/v1/accounts HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        );
        let mut s = std::net::TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.split_whitespace().nth(1).and_then(|c| c.parse::<u16>().ok()).unwrap_or(0)
    };
    assert_eq!(get("ats.example.test"), 200);
    assert_eq!(get(&format!("localhost:{port}")), 200);
    assert_eq!(get("attacker.example"), 421);
    child.kill().unwrap();
    child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(stderr.contains("non-loopback"), "{stderr}");
}
