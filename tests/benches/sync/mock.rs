//! The mock Greenhouse in a process of its own, so the CPU it spends
//! serving the listing is not counted as the sync's.
//!
//! The child is this benchmark binary started again in "mock" mode, which
//! runs `atsbridge_mock_ats::run_cli` — exactly what the `mock-ats` binary
//! runs — or the binary `ATSBRIDGE_MOCK_ATS` names (for example
//! `target/release/mock-ats`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Set in the child's environment: serve this many jobs and nothing else.
const MOCK_MODE_ENV: &str = "ATSBRIDGE_BENCH_MOCK_JOBS";
/// A `mock-ats` binary to run instead of this binary in mock mode.
const MOCK_BINARY_ENV: &str = "ATSBRIDGE_MOCK_ATS";
/// The seed of the generated data (the `mock-ats` default).
const SEED: u64 = 7;

/// When this process was started as the mock: serves until killed and
/// never returns.
pub fn serve_if_child() {
    let Some(jobs) = std::env::var(MOCK_MODE_ENV).ok().and_then(|v| v.parse().ok()) else { return };
    let args = atsbridge_mock_ats::MockAtsArgs {
        vendor: atsbridge_mock_ats::Vendor::Greenhouse,
        jobs,
        port: 0,
        seed: SEED,
        rate_limit: None,
        page_size_max: None,
        api_key: None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    rt.block_on(atsbridge_mock_ats::run_cli(args)).expect("mock ATS");
    std::process::exit(0);
}

/// A running mock Greenhouse; killed when dropped.
pub struct MockProcess {
    child: Child,
    /// What `mock-ats` printed: `base URL`, `token URL`, `client id`, ...
    fields: BTreeMap<String, String>,
}

impl MockProcess {
    /// Starts the mock with `jobs` jobs and waits until it serves.
    pub fn start(jobs: usize) -> MockProcess {
        let mut command = match std::env::var_os(MOCK_BINARY_ENV) {
            Some(binary) => {
                let mut c = Command::new(binary);
                c.args(["greenhouse", "--jobs", &jobs.to_string(), "--seed", &SEED.to_string()]);
                c
            }
            None => {
                let mut c = Command::new(std::env::current_exe().expect("own path"));
                c.env(MOCK_MODE_ENV, jobs.to_string());
                c
            }
        };
        let mut child = command.stdin(Stdio::null()).stdout(Stdio::piped()).spawn().expect("start the mock ATS");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut fields = BTreeMap::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("mock output");
            if line.starts_with("Press Ctrl-C") {
                break;
            }
            if let Some((key, value)) = line.split_once(": ") {
                fields.insert(key.trim().to_string(), value.trim().to_string());
            }
        }
        let mock = MockProcess { child, fields };
        assert!(mock.fields.contains_key("base URL"), "the mock did not start: {:?}", mock.fields);
        mock
    }

    fn field(&self, key: &str) -> String {
        self.fields.get(key).cloned().unwrap_or_else(|| panic!("the mock printed no `{key}`"))
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        self.field("base URL").trim_end_matches('/').to_string()
    }

    pub fn token_url(&self) -> String {
        self.field("token URL")
    }

    pub fn client_id(&self) -> String {
        self.field("client id")
    }

    pub fn client_secret(&self) -> String {
        self.field("client secret")
    }

    pub fn user_id(&self) -> String {
        self.field("acting user")
    }

    /// The bundled Greenhouse connector's settings for this mock.
    pub fn greenhouse_settings(&self) -> BTreeMap<String, String> {
        [
            ("client-id", self.client_id()),
            ("client-secret", self.client_secret()),
            ("user-id", self.user_id()),
            ("base-url", self.base_url()),
            ("token-url", self.token_url()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// CPU time of the mock so far (from /proc, user + system).
    pub fn cpu(&self) -> std::time::Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces), 1-based:
        // utime is field 14, stime 15; after ") " they are the 12th and 13th.
        let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
        let ticks: u64 = rest.split(' ').skip(11).take(2).filter_map(|v| v.parse::<u64>().ok()).sum();
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
        std::time::Duration::from_millis(ticks * 1000 / hz)
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
