//! The recording read as an attacker would read it: an ATS that echoes the
//! connection's secret back in every place and common encoding it can (the
//! body, its own headers, a `Set-Cookie`, a `Location`, a
//! `WWW-Authenticate`; verbatim, case-changed, base64 in both alphabets, as
//! the Basic header the host sent, hex, URL-encoded, JSON-escaped as an
//! HTML-safe encoder does, and a piece of it) is synced with `--record`. The recording file holds none of
//! them, anywhere, decoded or not, and still holds the run.

use axum::http::{HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::api_support::{self, cli, ok};
use crate::support;

/// The API key: random-looking, and with characters that URL-encoding and
/// JSON-escaping change.
const SECRET: &str = "ak/7Qf+9Zx=Lm3&Vr8\"Tp";

/// Every form of [`SECRET`] the echoing ATS sends back, named.
fn forms() -> Vec<(&'static str, String)> {
    let basic = STANDARD.encode(format!("{SECRET}:"));
    let percent: String = url::form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();
    // As an HTML-safe JSON encoder writes it (Go's, for one): `\"`
    // and `\u0026` for `&`.
    let quoted = serde_json::to_string(SECRET).unwrap();
    let json_escaped = quoted[1..quoted.len() - 1].replace('&', "\\u0026");
    vec![
        ("verbatim", SECRET.to_string()),
        ("upper case", SECRET.to_uppercase()),
        ("lower case", SECRET.to_lowercase()),
        ("base64", STANDARD.encode(SECRET)),
        ("base64url", URL_SAFE_NO_PAD.encode(SECRET)),
        ("basic", basic),
        ("hex", hex::encode(SECRET)),
        ("HEX", hex::encode_upper(SECRET)),
        ("url-encoded", percent),
        ("json-escaped", json_escaped),
        ("piece", SECRET[3..14].to_string()),
    ]
}

/// The one page of jobs, with the secret echoed everywhere.
async fn echo_jobs(headers: HeaderMap) -> impl IntoResponse {
    let forms = forms();
    let sent_auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mut job = support::job(1);
    job["title"] = json!(format!("Engineer {SECRET}"));
    job["department"] = json!(sent_auth.clone());
    job["description"] = json!("JSON-ESCAPED");
    let all: Vec<String> = forms.iter().filter(|(n, _)| *n != "json-escaped").map(|(_, f)| f.clone()).collect();
    job["locations"] = json!(all);
    let body = json!({ "jobs": [job], "next_page": null })
        .to_string()
        .replace("JSON-ESCAPED", &forms.iter().find(|(n, _)| *n == "json-escaped").unwrap().1);
    let mut out = HeaderMap::new();
    let header = |v: &str| HeaderValue::from_str(v).unwrap();
    for (i, (_, form)) in forms.iter().enumerate() {
        out.insert(axum::http::HeaderName::from_bytes(format!("x-echo-{i}").as_bytes()).unwrap(), header(form));
    }
    out.insert("x-auth-echo", header(&sent_auth));
    let url_form = &forms.iter().find(|(n, _)| *n == "url-encoded").unwrap().1;
    out.insert("set-cookie", header(&format!("session={}; Path=/; HttpOnly", URL_SAFE_NO_PAD.encode(SECRET))));
    out.append("set-cookie", header(&format!("key={url_form}; Path=/")));
    out.insert("location", header(&format!("https://ats.example/next?key={url_form}&b={}", hex::encode(SECRET))));
    out.insert("www-authenticate", header(&format!("Basic realm=\"{}\"", SECRET.replace('"', ""))));
    out.insert("content-type", header("application/json"));
    (out, body)
}

/// Every string in `v` (keys too), decoded from JSON.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k.clone());
            strings(x, out);
        }),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recording_holds_no_form_of_a_secret_the_ats_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = api_support::secret_key();
    let (addr, _server) = support::serve(axum::Router::new().route("/jobs", axum::routing::get(echo_jobs))).await;
    let base = format!("http://{addr}");

    let plugin = support::plugin_dir(dir.path(), "well-behaved", "1.2.3", atsbridge_tests::guests::WELL_BEHAVED, "");
    ok(cli(&data, &key, &["plugin", "install", plugin.to_str().unwrap()]));
    ok(cli(&data, &key, &["account", "add", "Acme"]));
    let mut args = support::connection_add_args("echo", &base);
    for a in &mut args {
        if a.starts_with("api-key=") {
            *a = format!("api-key={SECRET}");
        }
    }
    ok(cli(&data, &key, &support::str_args(&args)));
    let recording = dir.path().join("echo.jsonl");
    let out = ok(cli(&data, &key, &["connection", "sync", "acme-echo", "--record", recording.to_str().unwrap()]));
    assert!(out.contains("1 created"), "{out}");

    let text = std::fs::read_to_string(&recording).unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut decoded = Vec::new();
    lines.iter().for_each(|l| strings(l, &mut decoded));
    let haystacks = [text.clone(), decoded.join("\n")];
    for (name, form) in forms() {
        for h in &haystacks {
            assert!(!h.contains(&form), "the {name} form of the secret is in the recording: {form}\n{text}");
            if !name.starts_with("base64") && name != "basic" {
                assert!(!h.to_lowercase().contains(&form.to_lowercase()), "{name}, case-folded: {form}\n{text}");
            }
        }
    }

    // Still the run: the exchange (with the host's header as a marker, the
    // echoes as `[redacted]`) and the export's one job; nothing withheld.
    let http = lines.iter().find(|l| l["kind"] == "http").expect("the exchange is recorded");
    assert_eq!(http["request"]["host_headers"][0], json!(["authorization", "[attached by the host]"]));
    assert!(http["request"]["headers"].as_array().unwrap().iter().all(|h| h[0] != "authorization"), "{http}");
    let response = &http["outcome"]["response"];
    let headers = response["headers"].as_array().unwrap();
    for name in ["set-cookie", "location", "www-authenticate", "x-auth-echo"] {
        let value = headers.iter().find(|h| h[0] == name).unwrap_or_else(|| panic!("{name}: {response}"));
        assert!(value[1].as_str().unwrap().contains("[redacted]"), "{value}");
    }
    let export = lines.iter().find(|l| l["kind"] == "export").expect("the export call is recorded");
    assert_eq!(export["outcome"]["job-page"]["jobs"][0]["title"], "Engineer [redacted]", "{export}");
    let setting = &lines[0]["settings"].as_array().unwrap().iter().find(|s| s["secret"].is_object()).cloned();
    assert_eq!(setting.as_ref().map(|s| &s["secret"]["key"]), Some(&json!("api-key")), "{}", lines[0]);
    assert_eq!(lines.last().unwrap()["withheld_entries"], 0, "{text}");
}
