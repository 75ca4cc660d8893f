//! Small HTTP helpers shared by the vendor modules: query parsing, auth
//! headers, opaque cursors, page-size checks and JSON responses.

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::recorder::PushedFile;
use crate::{MockConfig, PageSizePolicy};

/// Query parameters in order, repeated keys kept.
#[derive(Clone, Debug, Default)]
pub(crate) struct Query(pub(crate) Vec<(String, String)>);

impl Query {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Query(url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()).into_owned().collect())
    }

    /// First value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of `key`.
    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The pairs except those named, re-encoded (for next-page links).
    pub(crate) fn encode_without(&self, skip: &[&str]) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.0.iter().filter(|(k, _)| !skip.contains(&k.as_str())) {
            ser.append_pair(k, v);
        }
        ser.finish()
    }
}

/// `Authorization: Basic` user and password.
pub(crate) fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (user, pass) = decoded.split_once(':').unwrap_or((&decoded, ""));
    Some((user.to_string(), pass.to_string()))
}

/// `Authorization: Bearer` token.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim().to_string())
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// An opaque cursor: URL-safe base64 of JSON.
pub(crate) fn encode_cursor<T: Serialize>(state: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(state).expect("cursor state serializes"))
}

pub(crate) fn decode_cursor<T: DeserializeOwned>(cursor: &str) -> Option<T> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()
}

/// Vendor page-size rules.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PageRule {
    pub(crate) default: usize,
    pub(crate) max: usize,
}

/// The page size for a request: the default if absent, an error message if
/// out of range (or clamped, per [`PageSizePolicy`]).
pub(crate) fn page_size(rule: PageRule, config: &MockConfig, raw: Option<&str>) -> Result<usize, String> {
    let max = config.page_size_max.unwrap_or(rule.max);
    let Some(raw) = raw else {
        return Ok(rule.default.min(max));
    };
    let n: i64 = raw.trim().parse().map_err(|_| format!("page size must be an integer, got {raw:?}"))?;
    if (1..=max as i64).contains(&n) {
        return Ok(n as usize);
    }
    match config.page_size_policy {
        PageSizePolicy::Clamp => Ok(n.clamp(1, max as i64) as usize),
        PageSizePolicy::Reject => Err(format!("page size must be between 1 and {max}, got {n}")),
    }
}

/// A JSON response.
pub(crate) fn json(status: StatusCode, body: &Value) -> Response {
    let mut resp = (status, serde_json::to_string(body).expect("JSON values serialize")).into_response();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    resp
}

pub(crate) fn ok(body: &Value) -> Response {
    json(StatusCode::OK, body)
}

/// Decodes standard base64 (tolerating whitespace and missing padding).
pub(crate) fn decode_base64(data: &str) -> Option<Vec<u8>> {
    let compact: String = data.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(&compact)
        .ok()
        .or_else(|| base64::engine::general_purpose::STANDARD_NO_PAD.decode(compact.trim_end_matches('=')).ok())
}

pub(crate) fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

/// A JSON value that may be a string or a number, as a string (ids).
pub(crate) fn id_field(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A parsed `multipart/form-data` body: text fields and files, in order.
#[derive(Debug, Default)]
pub(crate) struct Form {
    pub(crate) fields: Vec<(String, String)>,
    /// (field name, file); `kind` is left empty for the caller to set.
    pub(crate) files: Vec<(String, PushedFile)>,
}

/// Parses a multipart body (the raw bytes are kept by the caller for the record).
pub(crate) async fn multipart_form(headers: &HeaderMap, body: &Bytes) -> Result<Form, String> {
    let mut req = Request::new(Body::from(body.clone()));
    *req.headers_mut() = headers.clone();
    let mut mp = Multipart::from_request(req, &()).await.map_err(|e| e.body_text())?;
    let mut form = Form::default();
    while let Some(field) = mp.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(str::to_string);
        let bytes = field.bytes().await.map_err(|e| e.body_text())?;
        match file_name {
            Some(file_name) => form
                .files
                .push((name, PushedFile { kind: String::new(), file_name, content_type, bytes: bytes.to_vec() })),
            None => form.fields.push((name, String::from_utf8_lossy(&bytes).into_owned())),
        }
    }
    Ok(form)
}

/// Whether the request body is multipart.
pub(crate) fn is_multipart(headers: &HeaderMap) -> bool {
    header_str(headers, "content-type").is_some_and(|ct| ct.starts_with("multipart/form-data"))
}
