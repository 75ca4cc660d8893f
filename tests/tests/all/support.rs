//! Shared pieces of the integration tests: installing test guests, a small
//! fake ATS for the well-behaved guest, and an echo server.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use atsbridge::plugin::InstalledPlugin;
use atsbridge::plugin::allowed_hosts::AllowedHosts;
use atsbridge::plugin::install::{PluginSource, install_from};
use atsbridge::runtime::{ConnectionContext, Runtime, RuntimeOptions};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};

/// The API key the fake ATS accepts.
pub const API_KEY: &str = "sk-live-7f3a9c1e5b";

/// A fresh runtime over a temporary data directory.
pub fn runtime() -> (tempfile::TempDir, Runtime) {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = Runtime::open(dir.path(), RuntimeOptions::default()).expect("runtime");
    (dir, rt)
}

/// Writes a plugin directory (manifest + component) and returns its path.
pub fn plugin_dir(root: &Path, id: &str, version: &str, wasm: &str, extra_manifest: &str) -> PathBuf {
    let dir = root.join(format!("src-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(wasm, dir.join("plugin.wasm")).unwrap_or_else(|e| panic!("copy {wasm}: {e}"));
    let manifest = format!(
        "[plugin]\nid = \"{id}\"\nversion = \"{version}\"\ncontract = \"0.2.0\"\ncomponent = \"plugin.wasm\"\n{extra_manifest}"
    );
    std::fs::write(dir.join("atsbridge-plugin.toml"), manifest).unwrap();
    dir
}

/// Installs a test guest into the runtime.
pub async fn install(rt: &Runtime, root: &Path, id: &str, version: &str, wasm: &str, extra: &str) -> InstalledPlugin {
    let dir = plugin_dir(root, id, version, wasm, extra);
    let source = PluginSource::locate(&dir, None).expect("locate");
    install_from(rt, source).await.unwrap_or_else(|e| panic!("install {id}: {e}"))
}

/// A connection that may reach `base` (granted by the operator).
pub fn connection(base: &str) -> ConnectionContext {
    let origin = url_origin(base);
    ConnectionContext::new("conn-1")
        .text("base-url", base)
        .secret("api-key", API_KEY)
        .with_extra_hosts(AllowedHosts::parse(&[origin]).unwrap())
}

/// The arguments of `atsbridge connection add` for a connection `name` of
/// the account `acme` through the `well-behaved` guest to the ATS at `base`,
/// with [`API_KEY`] and the ATS's origin granted by the operator.
pub fn connection_add_args(name: &str, base: &str) -> Vec<String> {
    [
        "connection",
        "add",
        "--account",
        "acme",
        "--plugin",
        "well-behaved",
        "--name",
        name,
        "--set",
        &format!("base-url={base}"),
        "--set",
        &format!("api-key={API_KEY}"),
        "--allow-host",
        &url_origin(base),
    ]
    .map(String::from)
    .to_vec()
}

/// `args` as the `&str`s a CLI helper takes.
pub fn str_args(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

pub fn url_origin(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    u.origin().ascii_serialization()
}

/// A request the fake servers saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Value,
}

/// A running test server and what it saw.
pub struct TestServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn hits(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Serves `router` on a free loopback port: the address and the server task.
pub async fn serve(router: axum::Router) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    (addr, task)
}

fn record(seen: &Mutex<Vec<Seen>>, method: &str, path: &str, headers: &HeaderMap, body: Value) {
    let headers = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    seen.lock().unwrap().push(Seen { method: method.into(), path: path.into(), headers, body });
}

pub type Shared = Arc<Mutex<Vec<Seen>>>;

/// The `Authorization` header of the fake ATS's API key `key`.
pub fn basic_auth(key: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:")))
}

fn authorized(s: &FakeState, headers: &HeaderMap) -> bool {
    let expected = basic_auth(&s.api_key.lock().unwrap());
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
}

/// A job of the fake ATS, as its JSON API returns it.
pub fn job(n: u32) -> Value {
    json!({
        "id": format!("J{n}"), "title": format!("Engineer {n}"),
        "status": match n % 4 { 0 => "closed", 1 => "open", 2 => "draft", _ => "paused" },
        "locations": ["Berlin"], "description": format!("<p>Job {n}</p>"),
        "users": [{"id": "u1", "name": "Ada", "email": "ada@example.com"}],
        "updated_at": "2026-01-01T00:00:00Z", "department": "Eng"
    })
}

/// The fake ATS's mutable state.
#[derive(Clone, Default)]
pub struct FakeState {
    pub seen: Shared,
    pub jobs: Arc<Mutex<Vec<Value>>>,
    /// Statuses to answer the next job-listing requests with, in order.
    pub faults: Arc<Mutex<std::collections::VecDeque<u16>>>,
    pub page_size: usize,
    pub delay: std::time::Duration,
    /// The one API key accepted ([`API_KEY`] until rotated).
    pub api_key: Arc<Mutex<String>>,
}

/// The fake ATS spoken by the `well-behaved` guest.
pub struct FakeAts {
    pub server: TestServer,
    pub state: FakeState,
}

impl FakeAts {
    pub fn base(&self) -> String {
        self.server.base()
    }
    pub fn hits(&self) -> usize {
        self.server.hits()
    }
    pub fn requests(&self) -> Vec<Seen> {
        self.server.requests()
    }
    /// Job listing requests served so far.
    pub fn page_requests(&self) -> usize {
        self.requests().iter().filter(|r| r.path.starts_with("/jobs")).count()
    }
    /// Changes a job in place (and its `updated_at`).
    pub fn update(&self, code: &str, change: impl FnOnce(&mut Value)) {
        let mut jobs = self.state.jobs.lock().unwrap();
        let job = jobs.iter_mut().find(|j| j["id"] == code).unwrap_or_else(|| panic!("no job {code}"));
        change(job);
        job["updated_at"] = json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    pub fn remove(&self, code: &str) {
        self.state.jobs.lock().unwrap().retain(|j| j["id"] != code);
    }
    pub fn fail_next(&self, statuses: &[u16]) {
        self.state.faults.lock().unwrap().extend(statuses.iter().copied());
    }
    /// Accepts `key` from now on, and no other (a key rotated at the ATS).
    pub fn accept_only(&self, key: &str) {
        *self.state.api_key.lock().unwrap() = key.to_string();
    }
}

/// 5 jobs, 2 a page.
pub async fn fake_ats() -> FakeAts {
    fake_ats_with(5, 2, std::time::Duration::ZERO).await
}

/// `n` jobs, `page_size` a page, each listing request delayed by `delay`.
pub async fn fake_ats_with(n: u32, page_size: usize, delay: std::time::Duration) -> FakeAts {
    let state = FakeState {
        jobs: Arc::new(Mutex::new((1..=n).map(job).collect())),
        page_size,
        delay,
        api_key: Arc::new(Mutex::new(API_KEY.to_string())),
        ..Default::default()
    };
    let router = axum::Router::new()
        .route(
            "/me",
            get(|State(s): State<FakeState>, h: HeaderMap| async move {
                record(&s.seen, "GET", "/me", &h, Value::Null);
                if authorized(&s, &h) {
                    (StatusCode::OK, Json(json!({"ok": true})))
                } else {
                    (StatusCode::UNAUTHORIZED, Json(json!({"message": "bad key"})))
                }
            }),
        )
        .route(
            "/jobs",
            get(|State(s): State<FakeState>, h: HeaderMap, Query(q): Query<BTreeMap<String, String>>| async move {
                record(&s.seen, "GET", &format!("/jobs?{}", serde_urlencoded(&q)), &h, Value::Null);
                tokio::time::sleep(s.delay).await;
                if !authorized(&s, &h) {
                    return (StatusCode::UNAUTHORIZED, Json(json!({"message": "bad key"})));
                }
                if let Some(status) = s.faults.lock().unwrap().pop_front() {
                    return (StatusCode::from_u16(status).unwrap(), Json(json!({"message": "injected"})));
                }
                let since = q.get("updated_after").cloned();
                let jobs: Vec<Value> = s
                    .jobs
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|j| since.as_deref().is_none_or(|t| j["updated_at"].as_str().unwrap_or("") >= t))
                    .cloned()
                    .collect();
                let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                let start = (page - 1) * s.page_size;
                let slice: Vec<Value> = jobs.iter().skip(start).take(s.page_size).cloned().collect();
                let next = if start + s.page_size < jobs.len() { json!(page + 1) } else { Value::Null };
                (StatusCode::OK, Json(json!({"jobs": slice, "next_page": next})))
            }),
        )
        .route(
            "/stages",
            get(|State(s): State<FakeState>, h: HeaderMap| async move {
                record(&s.seen, "GET", "/stages", &h, Value::Null);
                Json(json!({"stages": [{"id": "s1", "name": "Applied"}, {"id": "s2", "name": "Interview"}]}))
            }),
        )
        .route(
            "/candidates",
            post(|State(s): State<FakeState>, h: HeaderMap, Json(body): Json<Value>| async move {
                record(&s.seen, "POST", "/candidates", &h, body);
                Json(json!({"candidate_id": "c1", "application_id": "a1", "existing": false}))
            }),
        )
        .route(
            "/statuses",
            post(|State(s): State<FakeState>, h: HeaderMap, Json(body): Json<Value>| async move {
                record(&s.seen, "POST", "/statuses", &h, body.clone());
                let statuses: Vec<Value> = body["refs"].as_array().cloned().unwrap_or_default().iter().map(|r| json!({
                "candidate_id": r["candidate_id"], "application_id": r["application_id"],
                "state": "hired", "stage_id": "s2", "stage_name": "Interview", "updated_at": "2026-02-01T00:00:00Z"
            })).collect();
                Json(json!({"statuses": statuses}))
            }),
        )
        .with_state(state.clone());
    let (addr, task) = serve(router).await;
    FakeAts { server: TestServer { addr, seen: state.seen.clone(), _task: task }, state }
}

fn serde_urlencoded(q: &BTreeMap<String, String>) -> String {
    q.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// A server that answers every request with the request's headers as JSON.
pub async fn echo_server() -> TestServer {
    let seen: Shared = Arc::default();
    let router = axum::Router::new()
        .fallback(|State(s): State<Shared>, h: HeaderMap| async move {
            record(&s, "ANY", "/", &h, Value::Null);
            let headers: BTreeMap<String, String> = h
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            Json(json!({ "headers": headers }))
        })
        .with_state(seen.clone());
    let (addr, task) = serve(router).await;
    TestServer { addr, seen, _task: task }
}

/// Resident set size of this process, in bytes.
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// Runs the `#[ignore]`d test `name` (its full path in this binary) alone,
/// in a process of its own: for a test that installs a global log
/// subscriber or measures the process's memory. Asserts that it passed and
/// returns what it printed to stdout.
pub fn run_in_own_process(name: &str) -> String {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", name, "--nocapture", "--test-threads=1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success() && stdout.contains("1 passed"), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// The `atsbridge` binary built alongside the tests.
pub fn atsbridge_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join("atsbridge");
    assert!(bin.is_file(), "{} missing: build it with `cargo build --release -p atsbridge`", bin.display());
    bin
}
