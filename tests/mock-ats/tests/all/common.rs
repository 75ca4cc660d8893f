//! Helpers shared by the vendor tests.

use atsbridge_mock_ats::{MockAts, MockConfig, Vendor};
use reqwest::header::HeaderMap;
use serde_json::Value;

/// A client that never goes through a proxy (tests talk to 127.0.0.1 only).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("client builds")
}

/// A response's status, headers and JSON body (`Value::Null` if not JSON).
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn reply(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.expect("request succeeds at the HTTP level");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body reads");
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, headers, text, json }
}

pub async fn start(vendor: Vendor, config: MockConfig) -> MockAts {
    MockAts::start(vendor, config).await.expect("mock starts")
}

/// `rel="next"` target of an RFC 5988 Link header.
pub fn next_link(link: Option<&str>) -> Option<String> {
    link?.split(',').find(|part| part.contains("rel=\"next\"")).map(|part| {
        let part = part.trim();
        part[part.find('<').unwrap() + 1..part.find('>').unwrap()].to_string()
    })
}

/// A Greenhouse v3 access token (optionally acting as `sub`).
pub async fn greenhouse_token(ats: &MockAts, sub: Option<&str>) -> String {
    let c = ats.credentials();
    let mut form = vec![("grant_type", "client_credentials".to_string())];
    if let Some(sub) = sub {
        form.push(("sub", sub.to_string()));
    }
    let body = form.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let r = reply(
        client()
            .post(ats.token_url().unwrap())
            .basic_auth(c.client_id.unwrap(), c.client_secret)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["token_type"], "Bearer");
    assert_eq!(r.json["expires_in"], 3600);
    r.json["access_token"].as_str().unwrap().to_string()
}

/// Ids of a JSON array of objects, as strings.
pub fn ids(items: &Value, key: &str) -> Vec<String> {
    items
        .as_array()
        .expect("array")
        .iter()
        .map(|j| match &j[key] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

/// Asserts `got` has no duplicates and equals `want` as a set.
pub fn assert_same_set(mut got: Vec<String>, mut want: Vec<String>) {
    let n = got.len();
    got.sort();
    got.dedup();
    assert_eq!(got.len(), n, "listing returned duplicates");
    want.sort();
    assert_eq!(got, want);
}

pub fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A small but non-trivial "PDF".
pub fn resume_bytes() -> Vec<u8> {
    let mut v = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    v.extend((0..=255u8).cycle().take(3000));
    v
}

/// A `multipart/form-data` body of text fields and files `(field, file
/// name, content type, bytes)`, with its content type.
pub fn form_data(fields: &[(&str, &str)], files: &[(&str, &str, &str, &[u8])]) -> (Vec<u8>, String) {
    const BOUNDARY: &str = "mock-ats-test-boundary-7f3a";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend(format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
    }
    for (name, file_name, content_type, bytes) in files {
        body.extend(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n")
                .as_bytes(),
        );
        body.extend(*bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{BOUNDARY}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={BOUNDARY}"))
}
