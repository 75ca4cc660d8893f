//! Contract 0.2.0 beside 0.1.0: a 0.2.0 component is installed and every
//! export is called through the 0.2.0 bindings (its `http` and `log` imports
//! included); a 0.1.0 component in the same runtime keeps working and its
//! `move-application` is answered `unsupported` by the host; a contract the
//! host does not know is refused at install with a message naming it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use atsbridge::contract::{
    Answer, Attachment, Candidate, CandidateRef, Capability, ConnectorError, JobStatus, MoveRequest, PushRequest,
};
use atsbridge::plugin::InstallError;
use atsbridge::plugin::install::{PluginSource, install_from};
use atsbridge::runtime::{CallError, ConnectionContext, Runtime};
use atsbridge_tests::guests;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};

use crate::support::{self, API_KEY};

/// One request the test API saw: method, path, the key (from `X-Api-Key`,
/// or `Authorization: Token token=<key>`), body.
type SeenRequest = (String, String, Option<String>, String);

/// The `Authorization` value the test API takes: Teamtailor's scheme.
const TOKEN_PREFIX: &str = "Token token=";

/// The line-based test API the 0.2.0 guest talks to (see its crate docs).
struct TestApi {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl TestApi {
    async fn start() -> TestApi {
        let seen: Arc<Mutex<Vec<SeenRequest>>> = Arc::default();
        let log = seen.clone();
        let router = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let log = log.clone();
            async move {
                let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
                let key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_string).or_else(|| {
                    authorization.as_deref().and_then(|a| a.strip_prefix(TOKEN_PREFIX)).map(str::to_string)
                });
                let body = String::from_utf8_lossy(&body).into_owned();
                log.lock().unwrap().push((method.to_string(), uri.path().to_string(), key.clone(), body.clone()));
                if key.as_deref() != Some(API_KEY) {
                    return (StatusCode::UNAUTHORIZED, String::new());
                }
                match uri.path() {
                    "/me" => (StatusCode::OK, "me".to_string()),
                    // A hostile endpoint: the wrapped value back, in the
                    // forms that hide the key's own encodings.
                    "/echo" => (StatusCode::OK, echo_lines(authorization.as_deref().unwrap_or_default())),
                    "/candidates" => (StatusCode::CREATED, "cand-7 app-9".to_string()),
                    "/applications/app-9/move" if body.contains("stage=gone") => {
                        (StatusCode::NOT_FOUND, "no stage gone".to_string())
                    }
                    "/applications/app-9/move" => (StatusCode::OK, String::new()),
                    _ => (StatusCode::NOT_FOUND, "no such path".to_string()),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        TestApi { addr, seen }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

/// What `/echo` answers for an `Authorization` value: verbatim, base64 of
/// the whole (standard and URL-safe; its alphabet is aligned to the prefix,
/// not to the key), URL-encoded, upper-cased, and the key's last bytes.
fn echo_lines(value: &str) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(value);
    let b64_url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value);
    let percent = url_encoded(value);
    let tail = &value[value.len().saturating_sub(10)..];
    [
        format!("verbatim {value}"),
        format!("b64 {b64}"),
        format!("b64url {b64_url}"),
        format!("pct {percent}"),
        format!("upper {}", value.to_uppercase()),
        format!("tail {tail}"),
    ]
    .join("\n")
}

/// `value` URL-encoded: ASCII letters and digits as they are, every other
/// byte as `%XX`.
fn url_encoded(value: &str) -> String {
    value
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// A connection whose key goes in `Authorization`, wrapped by `template`.
fn wrapped_connection(base: &str, template: &str) -> ConnectionContext {
    support::connection(base).text("auth-template", template)
}

/// A plugin directory whose manifest declares `contract`.
fn plugin_dir(root: &Path, id: &str, version: &str, contract: &str, wasm: &[u8]) -> PathBuf {
    let dir = root.join(format!("src-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("plugin.wasm"), wasm).unwrap();
    let manifest = format!(
        "[plugin]\nid = \"{id}\"\nversion = \"{version}\"\ncontract = \"{contract}\"\ncomponent = \"plugin.wasm\"\n"
    );
    std::fs::write(dir.join("atsbridge-plugin.toml"), manifest).unwrap();
    dir
}

async fn install(rt: &Runtime, root: &Path, id: &str, contract: &str, wasm: &[u8]) -> Result<(), InstallError> {
    let dir = plugin_dir(root, id, "0.2.0", contract, wasm);
    install_from(rt, PluginSource::locate(&dir, None)?).await.map(drop)
}

fn v0_2_component() -> Vec<u8> {
    std::fs::read(guests::CONTRACT_V0_2).unwrap()
}

fn push_request() -> PushRequest {
    PushRequest {
        job_code: "J1".into(),
        candidate: Candidate {
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: "ada@example.com".into(),
            phone: None,
            resume: Some(Attachment {
                file_name: "cv.txt".into(),
                content_type: "text/plain".into(),
                content: b"Analytical engines".to_vec(),
            }),
            resume_url: Some("https://jobs.example.com/r/tok-123".into()),
            source: Some("atsbridge".into()),
            links: vec![],
            answers: vec![Answer { question: "Notice period".into(), answer: "4 weeks".into() }],
        },
        stage_id: Some("J1-s1".into()),
        idempotency_key: "cand-1:pos-1".into(),
    }
}

fn connector_error(result: Result<impl std::fmt::Debug, CallError>) -> ConnectorError {
    match result {
        Err(CallError::Connector { error, .. }) => error,
        other => panic!("expected a connector error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_0_2_component_is_installed_and_every_export_is_called() {
    let api = TestApi::start().await;
    let (dir, rt) = support::runtime();
    install(&rt, dir.path(), "contract-two", "0.2.0", &v0_2_component()).await.unwrap();
    let installed = rt.registry().current("contract-two").unwrap();
    assert_eq!(installed.record.contract.to_string(), "0.2.0");
    let plugin = rt.plugin("contract-two").await.unwrap();
    assert_eq!(plugin.contract().to_string(), "0.2.0");

    // info: the capabilities new in 0.2.0 come through.
    let info = plugin.info().await.unwrap();
    assert_eq!(info.name, "Contract 0.2");
    assert!(info.capabilities.contains(&Capability::MoveApplication), "{:?}", info.capabilities);
    assert!(info.capabilities.contains(&Capability::ApplicationAnswers), "{:?}", info.capabilities);

    // check: through the 0.2.0 http import, the secret attached by the host.
    let conn = support::connection(&api.base());
    plugin.check(&conn).await.unwrap();
    let (method, path, key, _) = api.seen()[0].clone();
    assert_eq!((method.as_str(), path.as_str(), key.as_deref()), ("GET", "/me", Some(API_KEY)));
    let wrong = ConnectionContext::new("conn-2")
        .text("base-url", api.base())
        .secret("api-key", "not-the-key")
        .with_extra_hosts(
            atsbridge::plugin::allowed_hosts::AllowedHosts::parse(&[support::url_origin(&api.base())]).unwrap(),
        );
    assert!(matches!(connector_error(plugin.check(&wrong).await), ConnectorError::Unauthorized(_)));

    // list-jobs: two pages.
    let first = plugin.list_jobs(&conn, None, None).await.unwrap();
    assert_eq!(first.jobs[0].code, "J1");
    let second = plugin.list_jobs(&conn, first.next_cursor.as_deref(), None).await.unwrap();
    assert_eq!((second.jobs[0].code.as_str(), &second.jobs[0].status), ("J2", &JobStatus::Closed));
    assert_eq!(second.next_cursor, None);

    // list-stages: per job and account-wide.
    let per_job = plugin.list_stages(&conn, Some("J1")).await.unwrap();
    assert_eq!(per_job.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["J1-s1", "J1-s2", "J1-s3"]);
    assert!(per_job.iter().all(|s| s.job_code.as_deref() == Some("J1")));
    assert_eq!(plugin.list_stages(&conn, None).await.unwrap().len(), 2);

    // push-candidate: the résumé URL and the answers reach the connector.
    let pushed = plugin.push_candidate(&conn, &push_request()).await.unwrap();
    let candidate_ref = CandidateRef { candidate_id: "cand-7".into(), application_id: "app-9".into() };
    assert_eq!(pushed.ref_, candidate_ref);
    let body = &api.seen().last().unwrap().3.clone();
    for line in [
        "job=J1",
        "key=cand-1:pos-1",
        "stage=J1-s1",
        "resume-url=https://jobs.example.com/r/tok-123",
        "answer=Notice period=4 weeks",
    ] {
        assert!(body.lines().any(|l| l == line), "`{line}` not in the pushed body:\n{body}");
    }

    // candidate-statuses: stage id, state and updated-at for reconciliation.
    let statuses = plugin.candidate_statuses(&conn, std::slice::from_ref(&candidate_ref)).await.unwrap();
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].ref_, candidate_ref);
    assert_eq!(statuses[0].stage_id.as_deref(), Some("s2"));
    assert_eq!(statuses[0].updated_at.as_deref(), Some("2026-11-02T09:30:00Z"));

    // move-application: reaches the ATS; an unknown stage is not-found.
    let request = MoveRequest { ref_: candidate_ref.clone(), stage_id: "J1-s2".into(), job_code: "J1".into() };
    plugin.move_application(&conn, &request).await.unwrap();
    let (method, path, key, body) = api.seen().last().unwrap().clone();
    assert_eq!((method.as_str(), path.as_str(), key.as_deref()), ("POST", "/applications/app-9/move", Some(API_KEY)));
    assert_eq!(body, "job=J1\nstage=J1-s2\n");
    let gone = MoveRequest { stage_id: "gone".into(), ..request };
    let error = connector_error(plugin.move_application(&conn, &gone).await);
    assert!(matches!(&error, ConnectorError::NotFound(m) if m.contains("no stage gone")), "{error:?}");

    let metrics = rt.metrics().plugin("contract-two");
    assert_eq!(metrics.by_function["move-application"].calls, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_0_1_component_beside_it_keeps_working_and_its_move_is_unsupported() {
    let api = TestApi::start().await;
    let (dir, rt) = support::runtime();
    let v0_1 = std::fs::read(guests::CONTRACT_V0_1).unwrap();
    let src = plugin_dir(dir.path(), "contract-one", "0.1.0", "0.1.0", &v0_1);
    install_from(&rt, PluginSource::locate(&src, None).unwrap()).await.unwrap();
    install(&rt, dir.path(), "contract-two", "0.2.0", &v0_2_component()).await.unwrap();

    let old = rt.plugin("contract-one").await.unwrap();
    assert_eq!(old.contract().to_string(), "0.1.0");
    let info = old.info().await.unwrap();
    assert_eq!(info.name, "Contract 0.1");
    assert!(!info.capabilities.contains(&Capability::MoveApplication));
    // Its http import (converted to 0.2.0's) attaches the secret; its
    // exports convert back from 0.1.0's types.
    let conn = support::connection(&api.base());
    old.check(&conn).await.unwrap();
    let (_, path, key, _) = api.seen().last().unwrap().clone();
    assert_eq!((path.as_str(), key.as_deref()), ("/me", Some(API_KEY)));
    assert_eq!(old.list_jobs(&conn, None, None).await.unwrap().jobs[0].code, "J1");
    let pushed = old.push_candidate(&conn, &push_request()).await.unwrap();
    assert_eq!(pushed.ref_.application_id, "app-9");
    let body = api.seen().last().unwrap().3.clone();
    assert!(body.lines().any(|l| l == "answer=Notice period=4 weeks"), "{body}");

    let hits_before = api.seen().len();
    let request = MoveRequest {
        ref_: CandidateRef { candidate_id: "c".into(), application_id: "a".into() },
        stage_id: "s".into(),
        job_code: "J1".into(),
    };
    let error = connector_error(old.move_application(&conn, &request).await);
    assert!(matches!(&error, ConnectorError::Unsupported(m) if m.contains("0.1.0")), "{error:?}");
    // Answered by the host: the guest was not instantiated, nothing was sent.
    assert_eq!(api.seen().len(), hits_before);
    assert!(!rt.metrics().plugin("contract-one").by_function.contains_key("move-application"));

    // The 0.2.0 plugin in the same runtime is unaffected.
    let new = rt.plugin("contract-two").await.unwrap();
    new.check(&support::connection(&api.base())).await.unwrap();
}

/// The 0.2.0 component with every `atsbridge:connector/<interface>@0.2.0`
/// name rewritten to `@0.3.0` (same length, so the binary stays valid): a
/// real component for a contract version this host does not know.
fn as_contract_0_3(mut wasm: Vec<u8>) -> Vec<u8> {
    let prefix = b"atsbridge:connector/";
    let mut rewritten = 0;
    let mut i = 0;
    while let Some(at) = wasm[i..].windows(prefix.len()).position(|w| w == prefix) {
        let start = i + at + prefix.len();
        let name_len = wasm[start..].iter().take_while(|b| b.is_ascii_lowercase() || **b == b'-').count();
        let version = start + name_len;
        if wasm[version..].starts_with(b"@0.2.0") {
            wasm[version + 3] = b'3';
            rewritten += 1;
        }
        i = start;
    }
    assert!(rewritten >= 4, "expected the export and three imports, rewrote {rewritten}");
    wasm
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_future_contract_is_refused_with_a_clear_message() {
    let (dir, rt) = support::runtime();
    let err =
        install(&rt, dir.path(), "contract-three", "0.3.0", &as_contract_0_3(v0_2_component())).await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, InstallError::Contract { .. }), "{msg}");
    assert!(msg.contains("implements atsbridge:connector@0.3.0, which this host does not support"), "{msg}");
    assert!(msg.contains("supported: 0.1.x, 0.2.x"), "{msg}");
    assert!(rt.registry().current("contract-three").is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manifest_naming_the_other_supported_contract_is_refused() {
    let (dir, rt) = support::runtime();
    let err = install(&rt, dir.path(), "contract-two", "0.1.0", &v0_2_component()).await.unwrap_err();
    assert!(matches!(err, InstallError::ContractMismatch { .. }), "{err}");
    assert!(err.to_string().contains("0.1.0") && err.to_string().contains("0.2.0"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_header_value_template_wraps_the_secret_the_plugin_never_sees() {
    let api = TestApi::start().await;
    let (dir, rt) = support::runtime();
    install(&rt, dir.path(), "contract-two", "0.2.0", &v0_2_component()).await.unwrap();
    let plugin = rt.plugin("contract-two").await.unwrap();

    // The host fills the template: the ATS sees `Token token=<key>`.
    plugin.check(&wrapped_connection(&api.base(), "Token token={secret}")).await.unwrap();
    let (_, path, key, _) = api.seen().last().unwrap().clone();
    assert_eq!((path.as_str(), key.as_deref()), ("/me", Some(API_KEY)));

    // A template the host refuses never reaches the ATS.
    let before = api.seen().len();
    for (template, why) in [
        ("Token token=", "exactly once"),
        ("{secret} {secret}", "exactly once"),
        ("Token {secret}\r\nX-Injected: 1", "CR, LF or NUL"),
    ] {
        let error = connector_error(plugin.check(&wrapped_connection(&api.base(), template)).await);
        assert!(matches!(&error, ConnectorError::InvalidConfig(m) if m.contains(why)), "{template:?}: {error:?}");
    }
    let long = format!("{}{{secret}}", "x".repeat(300));
    let error = connector_error(plugin.check(&wrapped_connection(&api.base(), &long)).await);
    assert!(matches!(&error, ConnectorError::InvalidConfig(m) if m.contains("256")), "{error:?}");
    assert_eq!(api.seen().len(), before, "a refused template was sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endpoint_echoing_the_wrapped_secret_gives_the_plugin_nothing() {
    use base64::Engine as _;
    let api = TestApi::start().await;
    let (dir, rt) = support::runtime();
    install(&rt, dir.path(), "contract-two", "0.2.0", &v0_2_component()).await.unwrap();
    let plugin = rt.plugin("contract-two").await.unwrap();

    let conn = wrapped_connection(&api.base(), "Token token={secret}");
    let lines: Vec<String> =
        plugin.list_stages(&conn, Some("echo")).await.unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(lines.len(), 6, "{lines:?}");
    let wrapped = format!("{TOKEN_PREFIX}{API_KEY}");
    let forbidden = [
        API_KEY.to_string(),
        API_KEY.to_uppercase(),
        API_KEY[API_KEY.len() - 8..].to_string(),
        base64::engine::general_purpose::STANDARD.encode(&wrapped),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&wrapped),
        url_encoded(&wrapped),
        url_encoded(API_KEY),
    ];
    for line in &lines {
        for secret_form in &forbidden {
            assert!(!line.contains(secret_form.as_str()), "`{secret_form}` reached the plugin in `{line}`");
        }
        assert!(line.contains("[redacted]"), "nothing redacted in `{line}`");
    }
}
