//! Helpers for the operations tests: a data directory set up through the
//! CLI with a key file, and a `serve` process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use atsbridge_tests::guests;

use crate::support;

/// The operator token the hosts of these tests run with (from the
/// environment, as an operator might set it).
pub const OPERATOR_TOKEN: &str = "ops-test-operator-token";

/// An HTTP client that authenticates as the operator.
pub fn operator_client() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {OPERATOR_TOKEN}")).unwrap();
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

/// `host`'s Prometheus text, read with the operator's token.
pub async fn scrape_metrics(host: &Host) -> String {
    operator_client().get(format!("{}/metrics", host.base)).send().await.unwrap().text().await.unwrap()
}

/// The value of the first sample in `metrics` whose line starts with
/// `series` (its name and labels, as written).
pub fn metric_value(metrics: &str, series: &str) -> f64 {
    let line = metrics.lines().find(|l| l.starts_with(series)).unwrap_or_else(|| panic!("{series}\n{metrics}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// A data directory with a key file, the well-behaved plugin, account
/// `acme` and connection `acme-main` to `ats_base`.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub key_file: PathBuf,
}

impl Setup {
    pub fn new(ats_base: &str) -> Setup {
        let setup = Setup::empty();
        let plugin = support::plugin_dir(setup.dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "");
        setup.connect(&plugin, "well-behaved", "Main", ats_base, support::API_KEY);
        setup
    }

    /// Installs the plugin in `plugin_dir` (id `plugin`), adds account
    /// `acme` and its connection `name` of that plugin to `ats_base` with
    /// `api_key`, the base's origin granted.
    pub fn connect(&self, plugin_dir: &Path, plugin: &str, name: &str, ats_base: &str, api_key: &str) {
        self.ok(&["plugin", "install", plugin_dir.to_str().unwrap()]);
        self.ok(&["account", "add", "Acme", "--time-zone", "Europe/Berlin"]);
        let origin = support::url_origin(ats_base);
        let (base, key) = (format!("base-url={ats_base}"), format!("api-key={api_key}"));
        let args = ["--account", "acme", "--plugin", plugin, "--name", name, "--set", &base, "--set", &key];
        self.ok(&[&["connection", "add"][..], &args, &["--allow-host", &origin]].concat());
    }

    /// A data directory with only a generated key file.
    pub fn empty() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let key_file = dir.path().join("secret.key");
        let setup = Setup { data, key_file, dir };
        setup.ok(&["key", "generate", setup.key_file.to_str().unwrap()]);
        setup
    }

    /// The CLI on this data directory with this key file.
    pub fn cli(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(support::atsbridge_bin());
        cmd.arg("--data-dir")
            .arg(&self.data)
            .args(args)
            .env("ATSBRIDGE_KEY_FILE", &self.key_file)
            .env("ATSBRIDGE_OPERATOR_TOKEN", OPERATOR_TOKEN)
            .env_remove("ATSBRIDGE_SECRET_KEY")
            .env("ATSBRIDGE_LOG", "error");
        cmd
    }

    /// Runs the CLI and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args).output().unwrap();
        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs the CLI and expects failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.cli(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} succeeded: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Starts `serve` on a free port, logging JSON to `log`.
    pub fn serve(&self, log: &Path) -> Host {
        let mut cmd = self.cli(&["--log-format", "json", "serve", "--listen", "127.0.0.1:0"]);
        cmd.env("ATSBRIDGE_LOG", "warn,atsbridge=info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap());
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("atsbridge listening on ")
            .unwrap_or_else(|| {
                panic!("unexpected first line: {line:?}; log: {}", std::fs::read_to_string(log).unwrap())
            })
            .to_string();
        Host { child, base }
    }
}

/// A running `serve` process; killed on drop if still running.
pub struct Host {
    pub child: Child,
    pub base: String,
}

impl Host {
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// Sends SIGTERM and waits for the exit; returns the status and how
    /// long it took.
    pub fn terminate(&mut self, limit: Duration) -> (std::process::ExitStatus, Duration) {
        let started = Instant::now();
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            assert!(started.elapsed() < limit, "the host did not exit within {limit:?} of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every [`POLL`] until it returns `Some`, at most `limit`.
pub async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    limit: Duration,
    what: &str,
    check: impl FnMut() -> F,
) -> T {
    try_eventually(limit, check).await.unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

/// How often [`eventually`] asks.
pub const POLL: Duration = Duration::from_millis(100);

/// [`eventually`], answering `None` on a timeout.
pub async fn try_eventually<T, F: std::future::Future<Output = Option<T>>>(
    limit: Duration,
    mut check: impl FnMut() -> F,
) -> Option<T> {
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if started.elapsed() >= limit {
            return None;
        }
        tokio::time::sleep(POLL).await;
    }
}
