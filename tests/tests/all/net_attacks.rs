//! Attacks on the network half of the sandbox, with the `net-probe` guest
//! and real HTTP servers on this machine: hosts that resolve to local
//! addresses, secrets sent where they are not bound, secrets read back in
//! every common encoding, token endpoints that never stop talking.

use std::io::Write as _;
use std::net::ToSocketAddrs;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use atsbridge::plugin::address_policy;
use atsbridge::plugin::allowed_hosts::AllowedHosts;
use atsbridge::plugin::install::{PluginSource, install_from};
use atsbridge::runtime::{CallError, ConnectionContext, Plugin, Runtime};
use atsbridge_tests::guests;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{any, get};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support;

/// The connection's secrets: long and random-looking, as real ones are.
const SECRET: &str = "sk-live-Q7f3a9c1e5b2d8Xy/Zw+k";
const OTHER: &str = "client-secret-4Lr9PzQ0mN2v";

/// Installs `net-probe` with the given manifest tables (and a 60 s budget,
/// so only the host's own bounds stop a request).
async fn probe(rt: &Runtime, root: &std::path::Path, manifest: &str) -> Plugin {
    let extra = format!("{manifest}\n[limits]\ntimeout-secs = 60\n");
    support::install(rt, root, "net-probe", "0.1.0", guests::NET_PROBE, &extra).await;
    rt.plugin("net-probe").await.unwrap()
}

/// A connection running `steps`, granted `granted` (origins).
fn conn(steps: &str, granted: &[String]) -> ConnectionContext {
    ConnectionContext::new("conn-net")
        .text("steps", steps)
        .secret("api-key", SECRET)
        .secret("other-key", OTHER)
        .with_extra_hosts(AllowedHosts::parse(granted).unwrap())
}

/// The probe's report (it always answers with a permanent error).
fn report(result: Result<(), CallError>) -> String {
    match result {
        Err(CallError::Connector { error, .. }) => error.message().to_string(),
        other => panic!("expected the probe's report, got {other:?}"),
    }
}

/// Every form of `secret` a leak test looks for.
fn forms(secret: &str) -> Vec<String> {
    vec![
        secret.to_string(),
        secret.to_lowercase(),
        secret.to_uppercase(),
        hex::encode(secret),
        STANDARD.encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
        STANDARD.encode(format!("probe-user:{secret}")),
        secret[..12].to_string(),
        secret[12..].to_string(),
    ]
}

fn assert_no_leak(text: &str, secret: &str) {
    for form in forms(secret) {
        assert!(!text.contains(&form), "`{form}` leaked in:\n{text}");
    }
}

mod hex {
    pub fn encode(s: &str) -> String {
        s.bytes().map(|b| format!("{b:02x}")).collect()
    }
}

// ---------------------------------------------------------------- servers

/// Records the credential of every request to `/record` and hands it back
/// from `/replay/{encoding}` to anyone who asks.
#[derive(Clone, Default)]
struct Recorder {
    recorded: Arc<Mutex<Option<String>>>,
    hits: Arc<AtomicU64>,
}

impl Recorder {
    async fn start() -> (String, Recorder) {
        let state = Recorder::default();
        let router = axum::Router::new()
            .route("/record", any(record))
            .route("/replay/{encoding}", get(replay))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (base, state)
    }
}

async fn record(State(s): State<Recorder>, headers: HeaderMap) -> &'static str {
    s.hits.fetch_add(1, Ordering::SeqCst);
    let value = ["authorization", "x-api-key"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).to_string());
    *s.recorded.lock().unwrap() = value;
    "recorded"
}

async fn replay(State(s): State<Recorder>, Path(encoding): Path<String>) -> (HeaderMap, String) {
    let v = s.recorded.lock().unwrap().clone().unwrap_or_default();
    let mut headers = HeaderMap::new();
    let body = match encoding.as_str() {
        "raw" => v,
        "lower" => v.to_lowercase(),
        "upper" => v.to_uppercase(),
        "hex" => hex::encode(&v),
        "hex-upper" => hex::encode(&v).to_uppercase(),
        "base64" => STANDARD.encode(&v),
        "base64url" => URL_SAFE_NO_PAD.encode(&v),
        "basic" => STANDARD.encode(format!("probe-user:{v}")),
        "url" => url::form_urlencoded::byte_serialize(v.as_bytes()).collect(),
        "json" => serde_json::json!({ "echo": v }).to_string(),
        "split" => format!("{} ... {}", &v[..12], &v[12..]),
        "json-mixed" => format!(r#"{{"echo":"{}"}}"#, escape_some(&v, &[json_u_lower, json_u_upper, json_short])),
        "url-mixed" => escape_some(&v, &[percent_lower, percent_upper]),
        "mixed" => escape_some(&v.to_uppercase(), &[json_u_upper, percent_lower, html_hex, json_short]),
        "header" => {
            headers.insert("x-echo", v.parse().unwrap());
            "see header".to_string()
        }
        other => format!("unknown encoding {other}"),
    };
    (headers, format!("<<{body}>>"))
}

/// `v` with every third character escaped, by `escapers` in turn, and
/// `/` and `+` always escaped (as JSON and form decoding want them): no
/// run of 8 bytes of it is left as written.
fn escape_some(v: &str, escapers: &[fn(char) -> String]) -> String {
    let mut turn = 0;
    let mut out = String::new();
    for (i, c) in v.chars().enumerate() {
        let escape = match c {
            '/' => json_short,
            '+' => percent_upper,
            _ if i % 3 == 2 => {
                turn += 1;
                escapers[(turn - 1) % escapers.len()]
            }
            _ => {
                out.push(c);
                continue;
            }
        };
        out.push_str(&escape(c));
    }
    out
}

fn json_u_lower(c: char) -> String {
    format!("\\u{:04x}", c as u32)
}
fn json_u_upper(c: char) -> String {
    format!("\\u{:04X}", c as u32)
}
/// `\/` for a slash, `\u` for anything else.
fn json_short(c: char) -> String {
    if c == '/' { "\\/".to_string() } else { json_u_lower(c) }
}
fn percent_lower(c: char) -> String {
    format!("%{:02x}", c as u32)
}
fn percent_upper(c: char) -> String {
    format!("%{:02X}", c as u32)
}
fn html_hex(c: char) -> String {
    format!("&#x{:x};", c as u32)
}

/// Answers one HTTP request per connection with `head`, then `chunk` over
/// and over (every `pause`) until the client goes away; counts what it sent.
async fn streaming_server(head: &'static str, chunk: Vec<u8>, pause: Duration) -> (String, Arc<AtomicU64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let (counter, chunk) = (counter.clone(), chunk.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let _ = socket.read(&mut buf).await;
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                loop {
                    if socket.write_all(&chunk).await.is_err() {
                        return;
                    }
                    counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    if !pause.is_zero() {
                        tokio::time::sleep(pause).await;
                    }
                }
            });
        }
    });
    (base, sent)
}

/// A token endpoint that answers every request with `status` and a JSON
/// body built from the request's Authorization header.
async fn token_endpoint(status: u16, body: fn(&str) -> String) -> String {
    let router = axum::Router::new().route(
        "/token",
        any(move |headers: HeaderMap| async move {
            let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            (axum::http::StatusCode::from_u16(status).unwrap(), body(&auth))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

// ------------------------------------------------------------------ tests

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_recorded_by_one_request_is_scrubbed_from_every_later_answer() {
    let (dir, rt) = support::runtime();
    let p = probe(&rt, dir.path(), "").await;
    let (base, recorder) = Recorder::start().await;
    let encodings = [
        "raw",
        "lower",
        "upper",
        "hex",
        "hex-upper",
        "base64",
        "base64url",
        "basic",
        "url",
        "json",
        "split",
        "header",
        "json-mixed",
        "url-mixed",
        "mixed",
    ];
    // With Basic the recorder holds `Basic base64(probe-user:secret)`.
    for (auth, encodings) in [("bearer", &encodings[..]), ("basic", &["raw"][..])] {
        let mut steps = format!("{auth} POST {base}/record\n");
        for e in encodings {
            steps.push_str(&format!("none GET {base}/replay/{e}\n"));
        }
        let r = report(p.check(&conn(&steps, std::slice::from_ref(&base))).await);
        assert!(recorder.hits.load(Ordering::SeqCst) > 0, "nothing was recorded: {r}");
        assert_no_leak(&r, SECRET);
        // Every replay came back, with the secret replaced.
        for e in encodings {
            let line = r.lines().find(|l| l.contains(&format!("/replay/{e}"))).unwrap_or_else(|| panic!("{e}: {r}"));
            assert!(line.contains("status 200") && line.contains("[redacted]"), "{e}: {line}");
        }
        // An echo with some characters escaped is redacted whole: nothing
        // of it is left between the markers.
        for (e, body) in [
            ("json-mixed", r#"<<{"echo":"[redacted]"}>>"#),
            ("url-mixed", "<<[redacted]>>"),
            ("mixed", "<<[redacted]>>"),
        ] {
            if encodings.contains(&e) {
                let line =
                    r.lines().find(|l| l.contains(&format!("/replay/{e} "))).unwrap_or_else(|| panic!("{e}: {r}"));
                assert!(line.contains(&format!("body {body}")), "{e}: {line}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_name_that_resolves_to_this_machine_is_refused_unless_granted() {
    // The machine's own name resolves (through /etc/hosts) to one of its
    // addresses: loopback or a private LAN address, never a public one.
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string();
    let addrs: Vec<_> = (name.as_str(), 80).to_socket_addrs().unwrap().collect();
    assert!(!addrs.is_empty() && addrs.iter().all(|a| !address_policy::is_public(a.ip())), "{name}: {addrs:?}");

    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(AtomicU64::new(0));
    let counter = hits.clone();
    let router = axum::Router::new().route(
        "/",
        get(move || async move {
            counter.fetch_add(1, Ordering::SeqCst);
            "inside"
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    let (dir, rt) = support::runtime();
    let origin = format!("http://{name}:{port}");
    let p = probe(&rt, dir.path(), &format!("[network]\nallowed-hosts = [\"{origin}\"]\n")).await;
    let r = report(p.check(&conn(&format!("none GET {origin}/"), &[])).await);
    assert!(r.contains("Denied") && r.contains(&format!("{name} resolves to")), "{r}");
    assert!(r.contains("public addresses only"), "{r}");
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the request reached a local address");

    // Granted to this connection by the operator, the same host is reached.
    let r = report(p.check(&conn(&format!("none GET {origin}/"), std::slice::from_ref(&origin))).await);
    assert!(r.contains("status 200") && r.contains("inside"), "{r}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn manifests_may_not_name_local_hosts_or_public_suffix_wildcards() {
    let (dir, rt) = support::runtime();
    for (hosts, expect) in [
        ("\"http://127.0.0.1:*\"", "loopback"),
        ("\"http://169.254.169.254\"", "link-local"),
        ("\"http://[::ffff:10.0.0.1]\"", "non-public"),
        ("\"http://localhost:8080\"", "local machine"),
        ("\"https://*.com\"", "public suffix"),
        ("\"https://*.co.uk\"", "public suffix"),
    ] {
        let manifest = format!("[network]\nallowed-hosts = [{hosts}]\n");
        let src = support::plugin_dir(dir.path(), "net-probe", "0.1.0", guests::NET_PROBE, &manifest);
        let err = match PluginSource::locate(&src, None) {
            Err(e) => e.to_string(),
            Ok(source) => install_from(&rt, source).await.err().map(|e| e.to_string()).unwrap_or_default(),
        };
        assert!(err.contains(expect), "{hosts}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_are_attached_only_where_bound_or_granted() {
    let (dir, rt) = support::runtime();
    let manifest = "[network]\nallowed-hosts = [\"https://api.probe.invalid\", \"https://other.probe.invalid\"]\n\
                    [secrets]\napi-key = [\"https://api.probe.invalid\"]\n";
    let p = probe(&rt, dir.path(), manifest).await;
    // Bound elsewhere: refused before anything is sent.
    let r = report(p.check(&conn("bearer GET https://other.probe.invalid/x", &[])).await);
    assert!(
        r.contains("Denied") && r.contains("secret `api-key` may not be sent to https://other.probe.invalid"),
        "{r}"
    );
    assert!(r.contains("https://api.probe.invalid"), "the error names the binding: {r}");
    // Bound here: attached (the name does not resolve, so it fails later).
    let r = report(p.check(&conn("bearer GET https://api.probe.invalid/x", &[])).await);
    assert!(!r.contains("may not be sent"), "{r}");
    // As an OAuth client id, it may not go to a token URL outside its binding
    // either (`other-key`, unbound, may go to any of the manifest's hosts).
    let r = report(p.check(&conn("oauth:https://other.probe.invalid/token GET https://api.probe.invalid/", &[])).await);
    assert!(r.contains("secret `api-key` may not be sent to https://other.probe.invalid"), "{r}");

    // A host the operator granted to the connection receives it.
    let (base, recorder) = Recorder::start().await;
    let r = report(p.check(&conn(&format!("header:X-Api-Key POST {base}/record"), std::slice::from_ref(&base))).await);
    assert!(r.contains("status 200"), "{r}");
    assert_eq!(recorder.recorded.lock().unwrap().as_deref(), Some(SECRET));
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_header_names_the_host_manages_are_refused() {
    let (dir, rt) = support::runtime();
    let p = probe(&rt, dir.path(), "").await;
    let (base, recorder) = Recorder::start().await;
    for name in ["Host", "Content-Length", "Transfer-Encoding", "Connection", "Authorization", "proxy-authorization"] {
        let r = report(p.check(&conn(&format!("header:{name} POST {base}/record"), std::slice::from_ref(&base))).await);
        assert!(r.contains("InvalidRequest") && r.to_lowercase().contains(&name.to_lowercase()), "{name}: {r}");
    }
    assert_eq!(recorder.hits.load(Ordering::SeqCst), 0, "a request with a reserved auth header was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_token_answer_is_cut_off_at_the_cap() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{\"access_token\": \"";
    let (token_base, sent) = streaming_server(head, vec![b'a'; 64 * 1024], Duration::ZERO).await;
    let (base, _) = Recorder::start().await;
    let (dir, rt) = support::runtime();
    let p = probe(&rt, dir.path(), "").await;
    let started = Instant::now();
    let steps = format!("oauth:{token_base}/token GET {base}/replay/raw");
    let r = report(p.check(&conn(&steps, &[base.clone(), token_base.clone()])).await);
    assert!(r.contains("AuthFailed") && r.contains("65536 bytes"), "{r}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    // The client stopped reading at the cap: the server could only push what
    // fits in the socket buffers beyond it.
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent < 16 << 20, "the host read {} MiB of token response", sent >> 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_endpoint_that_drips_is_stopped_in_time() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
    let (token_base, _) = streaming_server(head, b" ".to_vec(), Duration::from_millis(200)).await;
    let (dir, rt) = support::runtime();
    let p = probe(&rt, dir.path(), "").await;
    let started = Instant::now();
    let steps = format!("oauth:{token_base}/token GET {token_base}/jobs");
    let r = report(p.check(&conn(&steps, std::slice::from_ref(&token_base))).await);
    assert!(r.contains("Timeout"), "{r}");
    // TOKEN_TIMEOUT is 15 s; the call's own budget is 60 s.
    assert!(started.elapsed() < Duration::from_secs(25), "took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_ats_answer_is_cut_off_at_the_cap() {
    let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
    let (base, sent) = streaming_server(head, vec![b'x'; 256 * 1024], Duration::ZERO).await;
    let (dir, rt) = support::runtime();
    let p = probe(&rt, dir.path(), "").await;
    let r = report(p.check(&conn(&format!("none GET {base}/jobs"), std::slice::from_ref(&base))).await);
    assert!(r.contains("TooLarge(16777216)"), "{r}");
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent < 64 << 20, "the host read {} MiB", sent >> 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn token_endpoint_errors_are_scrubbed() {
    fn refused(auth: &str) -> String {
        serde_json::json!({ "error": "invalid_client", "error_description": format!("you sent {auth}") }).to_string()
    }
    fn malformed(auth: &str) -> String {
        serde_json::json!({ "access_token": 7, "expires_in": auth }).to_string()
    }
    let (dir, rt) = support::runtime();
    let p = probe(&rt, dir.path(), "").await;
    for (status, body) in [(400, refused as fn(&str) -> String), (200, malformed)] {
        let token_base = token_endpoint(status, body).await;
        let steps = format!("oauth:{token_base}/token GET {token_base}/jobs");
        let r = report(p.check(&conn(&steps, std::slice::from_ref(&token_base))).await);
        assert!(r.contains("AuthFailed"), "{r}");
        assert_no_leak(&r, SECRET);
        assert_no_leak(&r, OTHER);
        assert!(!r.contains(&STANDARD.encode(format!("{SECRET}:{OTHER}"))), "{r}");
        if status == 400 {
            assert!(r.contains("invalid_client: you sent Basic [redacted]"), "{r}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_in_the_plugins_own_error_is_scrubbed_before_output() {
    // The plugin was handed the value in a text setting by mistake and puts
    // it in its error: the error that leaves the runtime does not carry it.
    let (dir, rt) = support::runtime();
    let p = probe(&rt, dir.path(), "").await;
    let steps = format!("none GET https://denied.probe.invalid/{SECRET}/{}", hex::encode(SECRET));
    let err = p.check(&conn(&steps, &[])).await.unwrap_err().to_string();
    assert!(err.contains("denied.probe.invalid") && err.contains("[redacted]"), "{err}");
    assert_no_leak(&err, SECRET);
}

/// Runs in a process of its own: it installs a global log subscriber.
#[test]
fn denials_are_logged_once_per_call_and_plugin_logs_are_scrubbed() {
    let stdout = support::run_in_own_process("net_attacks::log_lines_in_own_process");
    let denial_lines: Vec<&str> = stdout.lines().filter(|l| l.contains("refused plugin requests")).collect();
    assert_eq!(denial_lines.len(), 1, "{denial_lines:?}");
    assert!(denial_lines[0].contains("denied=200000") && denial_lines[0].contains("WARN"), "{}", denial_lines[0]);
    let plugin_lines: Vec<&str> = stdout.lines().filter(|l| l.contains("atsbridge::plugin: ")).collect();
    assert_eq!(plugin_lines.len(), 3, "{plugin_lines:?}");
    assert!(plugin_lines[2].contains("/[redacted] => status 404"), "{plugin_lines:?}");
    assert_no_leak(&stdout, SECRET);
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "run in its own process by denials_are_logged_once_per_call_and_plugin_logs_are_scrubbed"]
async fn log_lines_in_own_process() {
    tracing_subscriber::fmt().with_writer(std::io::stdout).with_ansi(false).with_max_level(tracing::Level::INFO).init();
    let (dir, rt) = support::runtime();
    let p = probe(&rt, dir.path(), "").await;
    let started = Instant::now();
    let flood = conn("none GET https://not-allowed.probe.invalid/", &[]).text("repeat", "200000");
    let r = report(p.check(&flood).await);
    assert_eq!(r, "ok=0 denied=200000 other=0");
    println!("200000 denied requests in one call took {:?}", started.elapsed());

    let (base, _) = Recorder::start().await;
    // The plugin logs each step, and this one carries the value it was
    // given by mistake in a text setting.
    let steps = format!("bearer POST {base}/record\nnone GET {base}/replay/hex\nnone GET {base}/{SECRET}");
    let r = report(p.check(&conn(&steps, std::slice::from_ref(&base))).await);
    assert!(r.contains("[redacted]"), "{r}");
    std::io::stdout().flush().unwrap();
}
