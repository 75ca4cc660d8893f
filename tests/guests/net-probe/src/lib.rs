//! A connector that sends the requests a test scripts and reports what the
//! host gave back, for the network-policy and secret-scrubbing tests.
//!
//! `check` runs the `steps` setting, one request per line:
//! `AUTH METHOD URL`, where `AUTH` is one of
//!
//! | auth | what the host is asked to attach |
//! |---|---|
//! | `none` | nothing |
//! | `bearer` | `Bearer <api-key>` |
//! | `basic` | Basic `probe-user:<api-key>` |
//! | `header:NAME` | header `NAME: <api-key>` |
//! | `oauth:TOKEN-URL` | an OAuth client-credentials token (client id `api-key`, secret `other-key`) |
//!
//! Each step and its outcome (status, headers and body, or the host's error)
//! is reported on a line of its own and logged at info level, and the whole report is
//! returned as `Err(ConnectorError::Permanent(report))`. With `repeat = N`
//! the steps run N times and only a tally is reported
//! (`ok=.. denied=.. other=..`).

use std::fmt::Write as _;

use atsbridge_sdk::http::HttpError;
use atsbridge_sdk::prelude::*;

struct NetProbe;

impl Connector for NetProbe {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "Net Probe".into(),
            version: "0.1.0".into(),
            vendor: "atsbridge tests".into(),
            capabilities: vec![],
            config_schema: vec![
                SettingSpec::text("steps", "Steps").required().help("`AUTH METHOD URL` per line."),
                SettingSpec::text("repeat", "Repeat").help("Run the steps this many times and report a tally."),
                SettingSpec::secret("api-key", "API key"),
                SettingSpec::secret("other-key", "Other key"),
            ],
        }
    }

    fn check(config: &Config) -> Result<(), ConnectorError> {
        let steps = config.require_text("steps")?;
        let repeat: Option<u64> = config.text("repeat").and_then(|r| r.parse().ok());
        let mut report = String::new();
        let (mut ok, mut denied, mut other) = (0u64, 0u64, 0u64);
        for _ in 0..repeat.unwrap_or(1) {
            for line in steps.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let outcome = run(config, line)?;
                match &outcome {
                    Ok(_) => ok += 1,
                    Err(HttpError::Denied(_)) => denied += 1,
                    Err(_) => other += 1,
                }
                if repeat.is_none() {
                    let text = match outcome {
                        Ok(r) => format!("status {} headers {:?} body {}", r.status, r.headers, r.text()),
                        Err(e) => format!("http error: {e:?}"),
                    };
                    let entry = format!("{line} => {text}");
                    log::info(&entry);
                    let _ = writeln!(report, "{entry}");
                }
            }
        }
        if repeat.is_some() {
            let _ = write!(report, "ok={ok} denied={denied} other={other}");
        }
        Err(ConnectorError::Permanent(report))
    }

    fn list_jobs(_: &Config, _: Option<String>, _: Option<String>) -> Result<JobPage, ConnectorError> {
        Ok(JobPage { jobs: vec![], next_cursor: None })
    }
}

fn run(config: &Config, line: &str) -> Result<Result<Response, HttpError>, ConnectorError> {
    let mut parts = line.split_whitespace();
    let (Some(auth), Some(method), Some(url)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(ConnectorError::InvalidConfig(format!("bad step `{line}`")));
    };
    let request = match method {
        "GET" => Request::get(url),
        "POST" => Request::post(url).body(b"probe".to_vec(), "text/plain"),
        other => return Err(ConnectorError::InvalidConfig(format!("bad method `{other}`"))),
    };
    let key = || config.secret("api-key");
    let request = match auth.split_once(':').unwrap_or((auth, "")) {
        ("none", _) => request,
        ("bearer", _) => request.bearer(key()?),
        ("basic", _) => request.basic(Credential::plain("probe-user"), Some(key()?.into())),
        ("header", name) => request.header_auth(name, key()?),
        ("oauth", token_url) => request.client_credentials(ClientCredentials {
            token_url: token_url.to_string(),
            client_id: key()?.into(),
            client_secret: config.secret("other-key")?.into(),
            scope: None,
            extra_params: vec![],
        }),
        _ => return Err(ConnectorError::InvalidConfig(format!("bad auth `{auth}`"))),
    };
    Ok(request.send_raw())
}

atsbridge_sdk::export_connector!(NetProbe);
