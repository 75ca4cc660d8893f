//! A real `atsbridge serve` process for the API tests, and calls to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use atsbridge_tests::guests;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::{self, API_KEY, FakeAts};

/// A serving host; killed on drop.
pub struct Host {
    pub child: Child,
    pub base: String,
    pub token: String,
    pub data: PathBuf,
    pub key: String,
    http: reqwest::Client,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh store key, base64.
pub fn secret_key() -> String {
    use secrecy::ExposeSecret;
    atsbridge::store::SecretKey::generate().unwrap().to_base64().expose_secret().to_string()
}

/// Starts `atsbridge serve` on a free loopback port over `data`.
pub fn start(data: &Path, key: &str) -> Host {
    start_with(data, key, &[])
}

/// [`start`] with more environment variables (configuration overrides).
pub fn start_with(data: &Path, key: &str, env: &[(&str, &Path)]) -> Host {
    let mut command = Command::new(support::atsbridge_bin());
    command
        .arg("--data-dir")
        .arg(data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("ATSBRIDGE_SECRET_KEY", key)
        .env_remove("ATSBRIDGE_OPERATOR_TOKEN")
        .env_remove("ATSBRIDGE_PLUGIN_DIR")
        .env_remove("ATSBRIDGE_URL");
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("atsbridge listening on ").unwrap_or_else(|| panic!("{line}")).to_string();
    let token = std::fs::read_to_string(data.join("operator.token")).unwrap().trim().to_string();
    // No pooled connections: a refusal sent before a large body was read
    // closes its connection, which must not fail the next call.
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    Host { child, base, token, data: data.to_path_buf(), key: key.to_string(), http }
}

impl Host {
    /// Calls the API with `token` (None: no credentials); status and JSON.
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    /// As the operator; panics unless the status is 2xx.
    pub async fn op(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(method, path, Some(&self.token.clone()), body).await;
        assert!((200..300).contains(&status), "{method} {path}: {status} {value}");
        value
    }

    /// Runs the CLI against this host's data directory.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli(&self.data, &self.key, args)
    }

    /// Waits until the run is no longer queued or running.
    pub async fn wait_run(&self, connection: &str, run: u64, token: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, r) =
                self.call("GET", &format!("/api/v1/connections/{connection}/runs/{run}"), Some(token), None).await;
            assert_eq!(status, 200, "{r}");
            if r["outcome"] != "running" && r["outcome"] != "queued" {
                return r;
            }
            assert!(Instant::now() < deadline, "run {run} of {connection} did not finish: {r}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Installs the well-behaved test connector by upload.
    pub async fn install_well_behaved(&self) {
        let body = upload_body("well-behaved", guests::WELL_BEHAVED);
        let (status, p) = self.call("POST", "/api/v1/plugins", Some(&self.token.clone()), Some(body)).await;
        assert_eq!(status, 201, "{p}");
    }

    /// An account and a connection of it to `ats`; returns the connection id.
    pub async fn account_with_connection(&self, name: &str, ats: &FakeAts) -> String {
        let account = self.op("POST", "/api/v1/accounts", Some(json!({ "name": name }))).await;
        let c = self
            .op(
                "POST",
                "/api/v1/connections",
                Some(json!({
                    "account": account["id"], "name": "main", "plugin": "well-behaved",
                    "settings": { "base-url": ats.base(), "api-key": API_KEY },
                    "extra_hosts": [support::url_origin(&ats.base())],
                })),
            )
            .await;
        c["id"].as_str().unwrap().to_string()
    }
}

/// The JSON body that uploads a test guest with a minimal manifest.
pub fn upload_body(id: &str, wasm: &str) -> Value {
    let manifest = format!("[plugin]\nid = \"{id}\"\nversion = \"1.2.3\"\ncontract = \"0.2.0\"\n");
    let bytes = std::fs::read(wasm).unwrap();
    json!({ "manifest": manifest, "component_base64": base64::engine::general_purpose::STANDARD.encode(bytes) })
}

/// Runs the CLI over `data` with the store key, no host address from the
/// environment.
pub fn cli(data: &Path, key: &str, args: &[&str]) -> Output {
    Command::new(support::atsbridge_bin())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("ATSBRIDGE_SECRET_KEY", key)
        .env_remove("ATSBRIDGE_OPERATOR_TOKEN")
        .env_remove("ATSBRIDGE_URL")
        .env_remove("ATSBRIDGE_API_KEY")
        .output()
        .unwrap()
}

/// stdout of a CLI run that must succeed.
pub fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}
