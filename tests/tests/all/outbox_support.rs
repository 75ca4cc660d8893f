//! Helpers for the candidate push tests: a data directory with the bundled
//! Greenhouse connector against a mock Greenhouse, its jobs synced, our
//! first stage mapped, and candidates created in the store before a host
//! serves it; the operator's calls to a serving host (candidates, pushes,
//! moves, auto-push, reconciliation); and a line-based test ATS for the
//! contract 0.2.0 test connector.

use std::path::PathBuf;
use std::time::Duration;

use atsbridge::store::{SecretKey, Store};
use atsbridge_mock_ats::{MockAts, MockConfig, Vendor};
use serde_json::{Value, json};

use crate::ops_support::{Host, Setup, operator_client};
use crate::outbox_fixture::{map_first_stage, new_candidate};

/// The connection every test uses (account "Acme", connection "Greenhouse").
pub const CONNECTION: &str = "acme-greenhouse";

/// A data directory set up against a mock Greenhouse.
pub struct GhSetup {
    pub setup: Setup,
    pub mock: MockAts,
}

impl GhSetup {
    /// The mock with `jobs` jobs, the bundled connector, one connection,
    /// synced, with each job's stages cached and "New submission" mapped to
    /// the job's first stage.
    pub async fn new(jobs: usize) -> GhSetup {
        let mock = MockAts::start(Vendor::Greenhouse, MockConfig { jobs, ..Default::default() }).await.unwrap();
        let setup = Setup::empty();
        setup.ok(&["plugin", "install", "--bundled", "greenhouse"]);
        setup.ok(&["account", "add", "Acme", "--time-zone", "Europe/Berlin"]);
        let mut args: Vec<String> =
            ["connection", "add", "--account", "acme", "--plugin", "greenhouse", "--name", "Greenhouse"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        for (k, v) in atsbridge::plugin::bundled::mock_settings("greenhouse", &mock) {
            args.extend(["--set".to_string(), format!("{k}={v}")]);
        }
        args.extend(["--allow-host".to_string(), mock.base_url().trim_end_matches('/').to_string()]);
        setup.ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        setup.ok(&["connection", "sync", CONNECTION]);
        let gh = GhSetup { setup, mock };
        gh.with_store(|store| {
            for p in store.positions_of_connection(CONNECTION).unwrap() {
                map_first_stage(store, CONNECTION, &gh.mock, &p.ats_job_code);
            }
        });
        gh
    }

    /// Opens the store (no host may be serving) for `f`.
    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        with_store(&self.setup, f)
    }

    /// Creates `n` candidates spread over the connection's positions;
    /// their ids. E-mails are `<tag>-<i>@example.com`.
    pub fn create_candidates(&self, n: usize, tag: &str) -> Vec<u64> {
        self.with_store(|store| {
            let positions = store.positions_of_connection(CONNECTION).unwrap();
            (0..n)
                .map(|i| {
                    let position = positions[i % positions.len()].id;
                    let new =
                        new_candidate(position, format!("Test Person{i}"), format!("{tag}-{i}@example.com"), "test");
                    store.create_candidate(new).unwrap().0.id
                })
                .collect()
        })
    }

    /// Starts `serve`, logging to `<dir>/<name>.log`.
    pub fn serve(&self, name: &str) -> Host {
        self.setup.serve(&self.log(name))
    }

    pub fn log(&self, name: &str) -> PathBuf {
        self.setup.dir.path().join(format!("{name}.log"))
    }
}

/// Job J1's ATS pipeline with these stage names, in order: ids `J1-s1`,
/// `J1-s2`, ...
pub fn j1_stages(names: &[&str]) -> Vec<atsbridge::contract::Stage> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| atsbridge::contract::Stage {
            id: format!("J1-s{}", i + 1),
            name: name.to_string(),
            position: i as u32,
            job_code: Some("J1".into()),
        })
        .collect()
}

/// Opens the setup's store (no host may be serving) for `f`, flushing after.
pub fn with_store<T>(setup: &Setup, f: impl FnOnce(&Store) -> T) -> T {
    let key = std::fs::read_to_string(&setup.key_file).unwrap();
    let store = Store::open(&setup.data.join("store"), Some(SecretKey::parse(key.trim()).unwrap())).unwrap();
    let out = f(&store);
    store.flush().unwrap();
    out
}

/// Calls the host's API as the operator: the status and the JSON body
/// (`null` when empty or not JSON).
pub async fn call(host: &Host, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = operator_client().request(method, format!("{}{path}", host.base));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// [`call`], expecting a 2xx answer; its body.
pub async fn op(host: &Host, method: &str, path: &str, body: Option<Value>) -> Value {
    let (status, value) = call(host, method, path, body).await;
    assert!((200..300).contains(&status), "{method} {path}: {status} {value}");
    value
}

/// `GET /positions?connection=`: the connection's positions.
pub async fn positions(host: &Host, connection: &str) -> Vec<Value> {
    let page = op(host, "GET", &format!("/api/v1/positions?connection={connection}&limit=500"), None).await;
    page["items"].as_array().unwrap().clone()
}

/// `POST /candidates`: a candidate for `position` with a name and an
/// e-mail; its id.
pub async fn create_candidate(host: &Host, position: u64, name: &str, email: &str) -> u64 {
    let body = json!({ "position": position, "name": name, "email": email });
    let created = op(host, "POST", "/api/v1/candidates", Some(body)).await;
    created["id"].as_u64().unwrap_or_else(|| panic!("no id: {created}"))
}

/// `PUT /connections/{id}/auto-push`: pushes queued when a candidate
/// reaches `stage` (`None`: off).
pub async fn set_auto_push(host: &Host, connection: &str, stage: Option<&str>) {
    op(host, "PUT", &format!("/api/v1/connections/{connection}/auto-push"), Some(json!({ "stage_id": stage }))).await;
}

/// `POST /connections/{id}/reconcile`: the report.
pub async fn reconcile(host: &Host, connection: &str) -> Value {
    op(host, "POST", &format!("/api/v1/connections/{connection}/reconcile"), None).await
}

/// `POST /candidates/{id}/push`: the status and the body.
pub async fn push(host: &Host, id: u64) -> (u16, Value) {
    call(host, "POST", &format!("/api/v1/candidates/{id}/push"), Some(json!({}))).await
}

/// `GET /candidates/{id}/push`.
pub async fn push_status(host: &Host, id: u64) -> Value {
    op(host, "GET", &format!("/api/v1/candidates/{id}/push"), None).await
}

/// Waits until the candidate's push state is `state`; a timeout shows the
/// last state seen (with the outbox entry's attempts and error).
pub async fn wait_for_state(host: &Host, id: u64, state: &str, limit: Duration) -> Value {
    let last = std::sync::Mutex::new(Value::Null);
    let found = crate::ops_support::try_eventually(limit, || async {
        let s = push_status(host, id).await;
        if s["state"] == state {
            return Some(s);
        }
        *last.lock().unwrap() = s;
        None
    })
    .await;
    found.unwrap_or_else(|| panic!("candidate {id} is not {state} after {limit:?}: {}", last.lock().unwrap()))
}

/// `POST /candidates/{id}/move`.
pub async fn move_to(host: &Host, id: u64, stage: &str) -> Value {
    op(host, "POST", &format!("/api/v1/candidates/{id}/move"), Some(json!({ "stage": stage }))).await
}

/// `GET /candidates/{id}/history`, waiting until the last move's
/// propagation is no longer pending.
pub async fn settled_history(host: &Host, id: u64, limit: Duration) -> Value {
    crate::ops_support::eventually(limit, "the move to settle", || async {
        let (_, history) = call(host, "GET", &format!("/api/v1/candidates/{id}/history"), None).await;
        let last = history.as_array()?.last()?.clone();
        (last["propagation"]["state"] != "pending").then_some(history)
    })
    .await
}

/// The line-based test ATS the contract 0.2.0 test connector talks to
/// (it declares `move-application`): answers pushes with fixed ids and
/// records every request.
pub struct LineAts {
    pub base: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl LineAts {
    pub async fn start() -> LineAts {
        use axum::http::{StatusCode, Uri};
        let seen: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>> = Default::default();
        let log = seen.clone();
        let router = axum::Router::new().fallback(move |uri: Uri, body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                let body = String::from_utf8_lossy(&body).into_owned();
                log.lock().unwrap().push((uri.path().to_string(), body));
                match uri.path() {
                    "/me" => (StatusCode::OK, "me".to_string()),
                    "/candidates" => (StatusCode::CREATED, "cand-7 app-9".to_string()),
                    "/applications/app-9/move" => (StatusCode::OK, String::new()),
                    _ => (StatusCode::NOT_FOUND, "no such path".to_string()),
                }
            }
        });
        let base = format!("http://{}", crate::support::serve(router).await.0);
        LineAts { base, seen }
    }

    /// (path, body) of every request so far.
    pub fn seen(&self) -> Vec<(String, String)> {
        self.seen.lock().unwrap().clone()
    }
}

/// A data directory with the contract 0.2.0 test connector (it can move
/// applications) against `ats`: connection `acme-line`, synced (job J1
/// open, J2 closed), J1's stages cached, "New submission" mapped to J1-s1.
pub fn line_setup(ats: &LineAts) -> Setup {
    let setup = Setup::empty();
    let plugin =
        crate::support::plugin_dir(setup.dir.path(), "line", "0.2.0", atsbridge_tests::guests::CONTRACT_V0_2, "");
    setup.connect(&plugin, "line", "Line", &ats.base, "line-key");
    setup.ok(&["connection", "sync", "acme-line"]);
    with_store(&setup, |store| {
        store.put_ats_stages("acme-line", Some("J1"), j1_stages(&["Applied", "Interview", "Offer"])).unwrap();
        store.set_stage_override("acme-line", Some("J1"), "new-submission", "J1-s1").unwrap();
    });
    setup
}
