//! Helpers for the candidate push tests: a data directory with the bundled
//! Greenhouse connector against a mock Greenhouse, its jobs synced, our
//! first stage mapped, and candidates created in the store before a host
//! serves it.

use std::path::PathBuf;
use std::time::Duration;

use atsbridge::store::{MovedBy, NewCandidate, SecretKey, Store};
use atsbridge_mock_ats::{MockAts, MockConfig, Vendor};
use serde_json::Value;

use crate::ops_support::{Host, Setup, operator_client};

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
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let key_file = dir.path().join("secret.key");
        let setup = Setup { data, key_file, dir };
        setup.ok(&["key", "generate", setup.key_file.to_str().unwrap()]);
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
                let stages = gh.mock.stages(&p.ats_job_code).unwrap();
                let ats = stages
                    .iter()
                    .enumerate()
                    .map(|(i, s)| atsbridge::contract::Stage {
                        id: s.id.clone(),
                        name: s.name.clone(),
                        position: i as u32,
                        job_code: Some(p.ats_job_code.clone()),
                    })
                    .collect();
                store.put_ats_stages(CONNECTION, Some(&p.ats_job_code), ats).unwrap();
                store.set_stage_override(CONNECTION, Some(&p.ats_job_code), "new-submission", &stages[0].id).unwrap();
            }
        });
        gh
    }

    /// Opens the store (no host may be serving) for `f`.
    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        let key = std::fs::read_to_string(&self.setup.key_file).unwrap();
        let store = Store::open(&self.setup.data.join("store"), Some(SecretKey::parse(key.trim()).unwrap())).unwrap();
        let out = f(&store);
        store.flush().unwrap();
        out
    }

    /// Creates `n` candidates spread over the connection's positions;
    /// their ids. E-mails are `<tag>-<i>@example.com`.
    pub fn create_candidates(&self, n: usize, tag: &str) -> Vec<u64> {
        self.with_store(|store| {
            let positions = store.positions_of_connection(CONNECTION).unwrap();
            (0..n)
                .map(|i| {
                    let new = NewCandidate {
                        position_id: positions[i % positions.len()].id,
                        name: format!("Test Person{i}"),
                        email: format!("{tag}-{i}@example.com"),
                        phone: None,
                        links: Vec::new(),
                        resume: None,
                        answers: Default::default(),
                        source: Some("test".into()),
                        stage_id: None,
                        by: MovedBy::User { name: "test".into() },
                    };
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

/// `POST /candidates/{id}/push`: the status and the body.
pub async fn push(host: &Host, id: u64) -> (u16, Value) {
    let r = operator_client()
        .post(format!("{}/api/v1/candidates/{id}/push", host.base))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// `GET /candidates/{id}/push`.
pub async fn push_status(host: &Host, id: u64) -> Value {
    let r = operator_client().get(format!("{}/api/v1/candidates/{id}/push", host.base)).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.unwrap()
}

/// Waits until the candidate's push state is `state`.
pub async fn wait_for_state(host: &Host, id: u64, state: &str, limit: Duration) -> Value {
    crate::ops_support::eventually(limit, &format!("candidate {id} to be {state}"), || async {
        let s = push_status(host, id).await;
        (s["state"] == state).then_some(s)
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
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
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key_file = dir.path().join("secret.key");
    let setup = Setup { data, key_file, dir };
    setup.ok(&["key", "generate", setup.key_file.to_str().unwrap()]);
    let src = setup.dir.path().join("src-line");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(atsbridge_tests::guests::CONTRACT_V0_2, src.join("plugin.wasm")).unwrap();
    std::fs::write(
        src.join("atsbridge-plugin.toml"),
        "[plugin]\nid = \"line\"\nversion = \"0.2.0\"\ncontract = \"0.2.0\"\ncomponent = \"plugin.wasm\"\n",
    )
    .unwrap();
    setup.ok(&["plugin", "install", src.to_str().unwrap()]);
    setup.ok(&["account", "add", "Acme", "--time-zone", "Europe/Berlin"]);
    setup.ok(&[
        "connection",
        "add",
        "--account",
        "acme",
        "--plugin",
        "line",
        "--name",
        "Line",
        "--set",
        &format!("base-url={}", ats.base),
        "--set",
        "api-key=line-key",
        "--allow-host",
        &ats.base,
    ]);
    setup.ok(&["connection", "sync", "acme-line"]);
    let key = std::fs::read_to_string(&setup.key_file).unwrap();
    let store = Store::open(&setup.data.join("store"), Some(SecretKey::parse(key.trim()).unwrap())).unwrap();
    let stages = ["Applied", "Interview", "Offer"]
        .iter()
        .enumerate()
        .map(|(i, name)| atsbridge::contract::Stage {
            id: format!("J1-s{}", i + 1),
            name: name.to_string(),
            position: i as u32,
            job_code: Some("J1".into()),
        })
        .collect();
    store.put_ats_stages("acme-line", Some("J1"), stages).unwrap();
    store.set_stage_override("acme-line", Some("J1"), "new-submission", "J1-s1").unwrap();
    store.flush().unwrap();
    setup
}
