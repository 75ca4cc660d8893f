//! Outgoing HTTP through the host.
//!
//! A connector has no sockets. It describes a request with [`Request`] and
//! the host sends it, after checking the URL against the plugin's allowed
//! hosts, clamping the timeout and capping the response size. Credentials
//! stay in the host: a request names a secret setting
//! ([`Credential::Secret`]) and the host attaches its value.
//!
//! ```no_run
//! use atsbridge_sdk::prelude::*;
//! # fn demo(config: &Config) -> Result<(), ConnectorError> {
//! #[derive(serde::Deserialize)]
//! struct Me { id: String }
//!
//! let me: Me = Request::get("https://api.acme.example/v1/me")
//!     .bearer(config.secret("api-key")?)
//!     .send()?               // transport failures -> ConnectorError
//!     .error_for_status()?   // 401 -> Unauthorized, 429 -> RateLimited, ...
//!     .json()?;              // malformed JSON -> Permanent
//! # Ok(()) }
//! ```
//!
//! The status mapping of [`Response::error_for_status`] and the conversion
//! of the host's [`HttpError`] into [`ConnectorError`] decide whether the
//! host retries, backs off or asks a user to fix the connection, so prefer
//! them over hand-written checks.

use std::borrow::Cow;
use std::time::SystemTime;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};

use crate::bindings::atsbridge::connector::http as wit;
use crate::types::{ConnectorError, SecretRef};

pub use crate::bindings::atsbridge::connector::http::{
    Auth, BasicAuth, ClientCredentials, Credential, HeaderAuth, HttpError, Method,
};

/// The placeholder a header value template has exactly once (see
/// [`Request::header_auth_template`]).
pub const VALUE_TEMPLATE_PLACEHOLDER: &str = "{secret}";

/// How much of a response body an error message quotes: enough for an
/// ATS's JSON error (`{"message": "..."}`), short enough for a log line.
pub const BODY_EXCERPT_CHARS: usize = 200;

/// Characters escaped in query names and values: everything but RFC 3986
/// unreserved characters, so values survive any server's decoding (a `+` in
/// a timestamp offset stays a plus, a space becomes `%20`).
const QUERY_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

impl Credential {
    /// A credential given by the plugin itself (a user id, a public client id).
    pub fn plain(value: impl Into<String>) -> Self {
        Credential::Plain(value.into())
    }
}

impl From<SecretRef> for Credential {
    fn from(secret: SecretRef) -> Self {
        Credential::Secret(secret)
    }
}

impl From<&SecretRef> for Credential {
    fn from(secret: &SecretRef) -> Self {
        Credential::Secret(secret.clone())
    }
}

impl From<&str> for Credential {
    fn from(value: &str) -> Self {
        Credential::Plain(value.to_string())
    }
}

impl From<String> for Credential {
    fn from(value: String) -> Self {
        Credential::Plain(value)
    }
}

/// An HTTP request for the host to send. Build it with [`Request::get`] and
/// friends, then [`Request::send`] it.
///
/// Builder errors (a value that cannot be serialised as JSON) are kept and
/// returned by [`Request::send`], so a request can be built in one chain.
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    auth: Option<Auth>,
    timeout_ms: Option<u32>,
    error: Option<ConnectorError>,
}

impl Request {
    /// A request with `method` to the absolute http(s) `url`.
    pub fn new(method: Method, url: impl Into<String>) -> Self {
        Request { method, url: url.into(), headers: Vec::new(), body: None, auth: None, timeout_ms: None, error: None }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(Method::Get, url)
    }

    /// A `HEAD` request.
    pub fn head(url: impl Into<String>) -> Self {
        Self::new(Method::Head, url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new(Method::Post, url)
    }

    /// A `PUT` request.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new(Method::Put, url)
    }

    /// A `PATCH` request.
    pub fn patch(url: impl Into<String>) -> Self {
        Self::new(Method::Patch, url)
    }

    /// A `DELETE` request.
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new(Method::Delete, url)
    }

    /// Appends query parameters to the URL, percent-encoding names and
    /// values (everything but `A-Z a-z 0-9 - . _ ~`). Keeps a query the URL
    /// already has, and a `#fragment` stays last.
    ///
    /// ```
    /// # use atsbridge_sdk::http::Request;
    /// let r = Request::get("https://x.example/jobs?per_page=100")
    ///     .query(&[("updated_after", "2026-01-01T00:00:00+02:00"), ("q", "a b")]);
    /// assert_eq!(
    ///     r.url(),
    ///     "https://x.example/jobs?per_page=100&updated_after=2026-01-01T00%3A00%3A00%2B02%3A00&q=a%20b"
    /// );
    /// ```
    pub fn query<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        if pairs.is_empty() {
            return self;
        }
        let (base, fragment) = match self.url.find('#') {
            Some(i) => (&self.url[..i], &self.url[i..]),
            None => (self.url.as_str(), ""),
        };
        let mut url = String::with_capacity(base.len() + fragment.len() + 32 * pairs.len());
        url.push_str(base);
        let mut separator = match base.find('?') {
            None => "?",
            Some(i) if i + 1 == base.len() || base.ends_with('&') => "",
            Some(_) => "&",
        };
        for (name, value) in pairs {
            url.push_str(separator);
            url.extend(utf8_percent_encode(name.as_ref(), QUERY_COMPONENT));
            url.push('=');
            url.extend(utf8_percent_encode(value.as_ref(), QUERY_COMPONENT));
            separator = "&";
        }
        url.push_str(fragment);
        self.url = url;
        self
    }

    /// Appends `name=value` when `value` is `Some`, for optional filters:
    /// `.query_opt("updated_after", changed_since.as_deref())`.
    pub fn query_opt(self, name: &str, value: Option<&str>) -> Self {
        match value {
            Some(value) => self.query(&[(name, value)]),
            None => self,
        }
    }

    /// Adds a header. Repeating a name sends it several times.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body and its `content-type` (replacing an earlier one).
    pub fn body(mut self, bytes: impl Into<Vec<u8>>, content_type: &str) -> Self {
        self.headers.retain(|(name, _)| !name.eq_ignore_ascii_case("content-type"));
        self.headers.push(("content-type".to_string(), content_type.to_string()));
        self.body = Some(bytes.into());
        self
    }

    /// Sets a JSON body (`content-type: application/json`).
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => self.body(bytes, "application/json"),
            Err(e) => {
                self.error.get_or_insert(ConnectorError::Permanent(format!(
                    "could not encode the request body as JSON: {e}"
                )));
                self
            }
        }
    }

    /// Sets an `application/x-www-form-urlencoded` body.
    pub fn form<K: AsRef<str>, V: AsRef<str>>(self, pairs: &[(K, V)]) -> Self {
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (name, value) in pairs {
            form.append_pair(name.as_ref(), value.as_ref());
        }
        self.body(form.finish(), "application/x-www-form-urlencoded")
    }

    /// Sets a `multipart/form-data` body (RFC 7578) of `parts`, for
    /// uploads; see [`crate::multipart`].
    pub fn multipart(self, parts: &[crate::multipart::Part]) -> Self {
        let (body, content_type) = crate::multipart::encode(parts);
        self.body(body, &content_type)
    }

    /// HTTP Basic authentication. Many ATS APIs take the API key as the user
    /// name with an empty password: `.basic(config.secret("api-key")?, None)`.
    pub fn basic(mut self, username: impl Into<Credential>, password: Option<Credential>) -> Self {
        self.auth = Some(Auth::Basic(BasicAuth { username: username.into(), password }));
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(mut self, token: impl Into<Credential>) -> Self {
        self.auth = Some(Auth::Bearer(token.into()));
        self
    }

    /// A credential in a header of its own, e.g. `X-SmartToken`.
    pub fn header_auth(mut self, name: impl Into<String>, value: impl Into<Credential>) -> Self {
        self.auth = Some(Auth::Header(HeaderAuth { name: name.into(), value: value.into(), value_template: None }));
        self
    }

    /// A credential wrapped in a header value of the ATS's own scheme:
    /// `template` has [`VALUE_TEMPLATE_PLACEHOLDER`] exactly once and the
    /// host replaces it with the value, e.g. Teamtailor's
    /// `.header_auth_template("Authorization", "Token token={secret}", key)`.
    /// The plugin still never sees a secret's value. The host refuses a
    /// template without exactly one placeholder, with CR or LF, or longer
    /// than 256 bytes; with a template the header may be `Authorization`.
    pub fn header_auth_template(
        mut self,
        name: impl Into<String>,
        template: impl Into<String>,
        value: impl Into<Credential>,
    ) -> Self {
        self.auth = Some(Auth::Header(HeaderAuth {
            name: name.into(),
            value: value.into(),
            value_template: Some(template.into()),
        }));
        self
    }

    /// OAuth 2.0 client credentials: the host fetches, caches and refreshes
    /// the access token and sends it as a bearer token.
    pub fn client_credentials(mut self, grant: ClientCredentials) -> Self {
        self.auth = Some(Auth::ClientCredentials(grant));
        self
    }

    /// Asks for a timeout; the host clamps it to its own limit.
    pub fn timeout_ms(mut self, timeout_ms: u32) -> Self {
        self.timeout_ms = Some(timeout_ms);
        self
    }

    /// The request's method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The URL, query included.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The headers, in the order they were added.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body, if one was set.
    pub fn body_bytes(&self) -> Option<&[u8]> {
        self.body.as_deref()
    }

    /// The authentication the host will attach.
    pub fn auth(&self) -> Option<&Auth> {
        self.auth.as_ref()
    }

    /// The requested timeout in milliseconds.
    pub fn timeout(&self) -> Option<u32> {
        self.timeout_ms
    }

    /// Sends the request through the host. Host refusals and transport
    /// failures ([`HttpError`]) become [`ConnectorError`]s, see the
    /// `From<HttpError>` impl on [`ConnectorError`] for the mapping. Any HTTP
    /// status is an `Ok` [`Response`]: call
    /// [`Response::error_for_status`] to turn failures into errors.
    pub fn send(self) -> Result<Response, ConnectorError> {
        let request = self.into_wit()?;
        Ok(wit::send(&request).map(Response::from)?)
    }

    /// Sends the request and returns the host's own error unmapped, for the
    /// rare connector that treats, say, a timeout differently from other
    /// transport failures. A builder error (see [`Request::json`]) comes
    /// back as [`HttpError::InvalidRequest`]. Most connectors want
    /// [`Request::send`].
    pub fn send_raw(self) -> Result<Response, HttpError> {
        let request = self.into_wit().map_err(|e| HttpError::InvalidRequest(e.message().to_string()))?;
        wit::send(&request).map(Response::from)
    }

    fn into_wit(self) -> Result<wit::Request, ConnectorError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        Ok(wit::Request {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
            auth: self.auth,
            timeout_ms: self.timeout_ms,
        })
    }
}

/// What the ATS answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Header names are lower-case; a header may repeat.
    pub headers: Vec<(String, String)>,
    /// The body, at most the host's size cap.
    pub body: Vec<u8>,
}

impl From<wit::Response> for Response {
    fn from(response: wit::Response) -> Self {
        Response { status: response.status, headers: response.headers, body: response.body }
    }
}

impl Response {
    /// The first value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Every value of header `name`, compared case-insensitively.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Decodes the body as JSON. A body that does not decode is
    /// [`ConnectorError::Permanent`], naming the target type and the line and
    /// column where decoding failed.
    ///
    /// `T` may borrow from the body (`&'a str`, or a `Cow<'a, str>` field
    /// marked `#[serde(borrow)]`): strings without escapes are then not
    /// copied, which saves an allocation per string the connector only
    /// reads. Owned types (`String`) decode as before.
    ///
    /// A body that is valid UTF-8 throughout (checked once, a word at a time)
    /// decodes as text, so its strings are not checked again one by one;
    /// any other body decodes as bytes, failing (or not) exactly as before.
    pub fn json<'a, T: Deserialize<'a>>(&'a self) -> Result<T, ConnectorError> {
        let decoded = match std::str::from_utf8(&self.body) {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_slice(&self.body),
        };
        decoded.map_err(|e| {
            ConnectorError::Permanent(format!(
                "could not decode the HTTP {} response as `{}`: {e}; body: {}",
                self.status,
                std::any::type_name::<T>(),
                excerpt(&self.body)
            ))
        })
    }

    /// The body as text; invalid UTF-8 sequences become `U+FFFD`.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The delay the `Retry-After` header asks for, in milliseconds.
    pub fn retry_after_ms(&self) -> Option<u64> {
        parse_retry_after(self.header("retry-after")?, SystemTime::now())
    }

    /// The error a non-2xx status stands for, or `None` for 2xx.
    ///
    /// | status | error |
    /// |---|---|
    /// | 401, 403 | [`ConnectorError::Unauthorized`] |
    /// | 404 | [`ConnectorError::NotFound`] |
    /// | 429 | [`ConnectorError::RateLimited`], with `Retry-After` (seconds or HTTP-date) |
    /// | 5xx | [`ConnectorError::Transient`] |
    /// | other 4xx, 1xx, 3xx | [`ConnectorError::Permanent`] |
    ///
    /// The message names the status and quotes the start of the body.
    pub fn status_error(&self) -> Option<ConnectorError> {
        // A success reads no clock: a listing that reads none may be
        // replayed by the host (manifest `listing.replay-unchanged-pages`).
        if self.is_success() {
            return None;
        }
        self.status_error_at(SystemTime::now())
    }

    fn status_error_at(&self, now: SystemTime) -> Option<ConnectorError> {
        if self.is_success() {
            return None;
        }
        let message = format!("HTTP {} {}: {}", self.status, reason(self.status), excerpt(&self.body));
        Some(match self.status {
            401 | 403 => ConnectorError::Unauthorized(message),
            404 => ConnectorError::NotFound(message),
            429 => {
                let retry_after_ms = self.header("retry-after").and_then(|v| parse_retry_after(v, now));
                ConnectorError::rate_limited(retry_after_ms, message)
            }
            500..=599 => ConnectorError::Transient(message),
            _ => ConnectorError::Permanent(message),
        })
    }

    /// `Ok(self)` for a 2xx status, otherwise the error of
    /// [`Response::status_error`].
    pub fn error_for_status(self) -> Result<Response, ConnectorError> {
        match self.status_error() {
            None => Ok(self),
            Some(error) => Err(error),
        }
    }
}

/// Parses a `Retry-After` value (RFC 9110 section 10.2.3): delay seconds
/// (`120`) or an HTTP-date (`Wed, 21 Oct 2026 07:28:00 GMT`), giving
/// milliseconds from `now`. A date in the past gives 0; anything else `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<u64> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings saturate instead of failing.
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(seconds.saturating_mul(1000));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    let wait = date.duration_since(now).unwrap_or_default();
    Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX))
}

/// Percent-encodes one URL path segment: everything but `A-Z a-z 0-9 - . _ ~`.
/// Ids from an ATS or a user go into paths through it, so a stray `/`, `?`
/// or `#` cannot change the endpoint.
///
/// ```
/// assert_eq!(atsbridge_sdk::http::path_segment("a/b?c d"), "a%2Fb%3Fc%20d");
/// ```
pub fn path_segment(value: &str) -> String {
    utf8_percent_encode(value, QUERY_COMPONENT).to_string()
}

/// The start of a body for an error message: lossy UTF-8, whitespace runs
/// collapsed, at most [`BODY_EXCERPT_CHARS`] characters, `…` when cut.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out = String::new();
    let mut count = 0;
    for word in text.split_whitespace() {
        for c in (!out.is_empty()).then_some(' ').into_iter().chain(word.chars()) {
            if count == BODY_EXCERPT_CHARS {
                out.push('…');
                return out;
            }
            out.push(c);
            count += 1;
        }
    }
    if out.is_empty() {
        out.push_str("(empty body)");
    }
    out
}

impl From<HttpError> for ConnectorError {
    /// Maps the host's refusals and transport failures by what the host
    /// should do next: retry ([`ConnectorError::Transient`]), ask a user
    /// ([`ConnectorError::InvalidConfig`], [`ConnectorError::Unauthorized`]),
    /// or give up ([`ConnectorError::Permanent`]).
    fn from(error: HttpError) -> Self {
        match error {
            HttpError::Denied(m) => ConnectorError::Permanent(format!("request denied by the host: {m}")),
            HttpError::InvalidRequest(m) => ConnectorError::Permanent(format!("invalid HTTP request: {m}")),
            HttpError::TooLarge(limit) => {
                ConnectorError::Permanent(format!("the response body exceeded the host's limit of {limit} bytes"))
            }
            HttpError::Timeout => ConnectorError::Transient("the ATS did not answer in time".to_string()),
            HttpError::Transport(m) => ConnectorError::Transient(format!("could not reach the ATS: {m}")),
            HttpError::UnknownSecret(key) => {
                ConnectorError::InvalidConfig(format!("no secret setting named `{key}` on this connection"))
            }
            HttpError::AuthFailed(m) => {
                ConnectorError::Unauthorized(format!("the OAuth token endpoint refused the client credentials: {m}"))
            }
        }
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Reason phrases of the statuses ATS APIs actually send.
fn reason(status: u16) -> &'static str {
    match status {
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn statuses_map_to_connector_errors() {
        let now = SystemTime::UNIX_EPOCH;
        let kind = |status| response(status, &[], "{\"message\":\"nope\"}").status_error_at(now).map(|e| e.kind());
        assert_eq!(kind(200), None);
        assert_eq!(kind(204), None);
        assert_eq!(kind(401), Some("unauthorized"));
        assert_eq!(kind(403), Some("unauthorized"));
        assert_eq!(kind(404), Some("not-found"));
        assert_eq!(kind(429), Some("rate-limited"));
        assert_eq!(kind(500), Some("transient"));
        assert_eq!(kind(503), Some("transient"));
        assert_eq!(kind(400), Some("permanent"));
        assert_eq!(kind(422), Some("permanent"));
        assert_eq!(kind(302), Some("permanent"));
    }

    #[test]
    fn status_errors_quote_the_body() {
        let err = response(404, &[], "{\"message\": \"job 7\n   not found\"}").error_for_status().unwrap_err();
        assert_eq!(err, ConnectorError::NotFound("HTTP 404 Not Found: {\"message\": \"job 7 not found\"}".into()));
        let err = response(500, &[], "").error_for_status().unwrap_err();
        assert_eq!(err.message(), "HTTP 500 Internal Server Error: (empty body)");
        assert!(response(200, &[], "ok").error_for_status().is_ok());
    }

    #[test]
    fn rate_limit_carries_retry_after() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let seconds = response(429, &[("Retry-After", "7")], "").status_error_at(now);
        assert_eq!(seconds, Some(ConnectorError::rate_limited(Some(7000), "HTTP 429 Too Many Requests: (empty body)")));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        let dated = response(429, &[("retry-after", &date)], "").status_error_at(now);
        assert!(matches!(dated, Some(ConnectorError::RateLimited(RateLimit { retry_after_ms: Some(30_000), .. }))));
        let none = response(429, &[], "").status_error_at(now);
        assert!(matches!(none, Some(ConnectorError::RateLimited(RateLimit { retry_after_ms: None, .. }))));
    }

    use crate::types::RateLimit;

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(parse_retry_after("120", now), Some(120_000));
        assert_eq!(parse_retry_after(" 0 ", now), Some(0));
        assert_eq!(parse_retry_after("99999999999999999999999", now), Some(u64::MAX));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:29:00 GMT", now), Some(60_000));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(0), "past dates mean now");
        assert_eq!(parse_retry_after("Wednesday, 21-Oct-15 07:28:30 GMT", now), Some(30_000), "RFC 850 form");
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
    }

    #[test]
    fn headers_are_case_insensitive() {
        let r = response(200, &[("link", "a"), ("X-Thing", "1"), ("Link", "b")], "");
        assert_eq!(r.header("LINK"), Some("a"));
        assert_eq!(r.header("x-thing"), Some("1"));
        assert_eq!(r.header_values("link").collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(r.header("missing"), None);
    }

    #[test]
    fn json_errors_name_type_and_position() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Page {
            jobs: Vec<String>,
        }
        let ok: Page = response(200, &[], "{\"jobs\":[\"a\"]}").json().unwrap();
        assert_eq!(ok.jobs, vec!["a"]);
        let err = response(200, &[], "{\"jobs\": [1]}").json::<Page>().unwrap_err();
        let ConnectorError::Permanent(message) = err else { panic!("expected permanent, got {err:?}") };
        assert!(message.contains("Page"), "{message}");
        assert!(message.contains("line 1 column"), "{message}");
        assert!(message.contains("HTTP 200"), "{message}");
    }

    #[test]
    fn json_of_a_body_that_is_not_utf8_decodes_as_bytes() {
        #[derive(serde::Deserialize, Debug)]
        struct Job<'a> {
            title: &'a str,
        }
        let body = |skipped: &[u8], title: &[u8]| {
            let mut body = br#"{"skipped": ""#.to_vec();
            body.extend_from_slice(skipped);
            body.extend_from_slice(br#"", "title": ""#);
            body.extend_from_slice(title);
            body.extend_from_slice(br#""}"#);
            Response { status: 200, headers: vec![], body }
        };
        // Valid throughout: decoded as text, the string borrowed.
        let r = body(b"x", "caf\u{e9}".as_bytes());
        assert_eq!(r.json::<Job<'_>>().unwrap().title, "caf\u{e9}");
        // Invalid UTF-8 only in a field the type skips: decodes, as it did
        // when every body was decoded as bytes.
        let r = body(&[b'a', 0xff], b"Engineer");
        assert_eq!(r.json::<Job<'_>>().unwrap().title, "Engineer");
        // Invalid UTF-8 in a field the type reads: an error naming the position.
        let r = body(b"x", &[b'a', 0xff]);
        let err = r.json::<Job<'_>>().unwrap_err();
        let ConnectorError::Permanent(message) = err else { panic!("expected permanent, got {err:?}") };
        assert!(message.contains("line 1 column"), "{message}");
    }

    #[test]
    fn text_is_lossy() {
        let r = Response { status: 200, headers: vec![], body: vec![b'o', b'k', 0xff] };
        assert_eq!(r.text(), "ok\u{fffd}");
    }

    #[test]
    fn excerpt_is_short_and_single_line() {
        let long = "x ".repeat(500);
        let e = excerpt(long.as_bytes());
        assert_eq!(e.chars().count(), BODY_EXCERPT_CHARS + 1);
        assert!(e.ends_with('…'));
        assert_eq!(excerpt(b"  a\n\tb  "), "a b");
        assert_eq!(excerpt(b""), "(empty body)");
        assert_eq!(excerpt("é".repeat(300).as_bytes()).chars().count(), BODY_EXCERPT_CHARS + 1);
    }

    #[test]
    fn query_appends_and_encodes() {
        assert_eq!(Request::get("https://a.example/x").query(&[("page", "2")]).url(), "https://a.example/x?page=2");
        assert_eq!(Request::get("https://a.example/x?").query(&[("a", "1")]).url(), "https://a.example/x?a=1");
        assert_eq!(Request::get("https://a.example/x?a=1&").query(&[("b", "2")]).url(), "https://a.example/x?a=1&b=2");
        assert_eq!(
            Request::get("https://a.example/x#top").query(&[("q", "ä&=/?#+")]).url(),
            "https://a.example/x?q=%C3%A4%26%3D%2F%3F%23%2B#top"
        );
        let empty: &[(&str, &str)] = &[];
        assert_eq!(Request::get("https://a.example/x").query(empty).url(), "https://a.example/x");
        let r = Request::get("https://a.example/x").query_opt("since", None).query_opt("page", Some("1"));
        assert_eq!(r.url(), "https://a.example/x?page=1");
        let owned = vec![("n".to_string(), 5.to_string())];
        assert_eq!(Request::get("https://a.example/").query(&owned).url(), "https://a.example/?n=5");
    }

    #[test]
    fn bodies_set_content_type_once() {
        let r =
            Request::post("https://a.example").header("Content-Type", "text/plain").json(&serde_json::json!({"a": 1}));
        assert_eq!(r.body_bytes(), Some(&b"{\"a\":1}"[..]));
        assert_eq!(r.header_value("content-type"), Some("application/json"));
        assert_eq!(r.headers().len(), 1);
        let f = Request::post("https://a.example").form(&[("grant_type", "client_credentials"), ("scope", "a b")]);
        assert_eq!(f.body_bytes(), Some(&b"grant_type=client_credentials&scope=a+b"[..]));
        assert_eq!(f.header_value("Content-Type"), Some("application/x-www-form-urlencoded"));
    }

    #[test]
    fn json_encoding_errors_surface_at_send() {
        let mut bad = std::collections::HashMap::new();
        bad.insert(vec![1u8], 1); // non-string map keys cannot be JSON
        let r = Request::post("https://a.example").json(&bad);
        assert!(r.body_bytes().is_none());
        assert!(matches!(r.into_wit(), Err(ConnectorError::Permanent(m)) if m.contains("JSON")));
    }

    #[test]
    fn auth_builders() {
        let secret = SecretRef::new("api-key");
        let r = Request::get("https://a.example").basic(secret.clone(), None).timeout_ms(5000);
        assert_eq!(
            r.auth(),
            Some(&Auth::Basic(BasicAuth { username: Credential::Secret(secret.clone()), password: None }))
        );
        assert_eq!(r.timeout(), Some(5000));
        let r = Request::get("https://a.example").bearer(&secret);
        assert_eq!(r.auth(), Some(&Auth::Bearer(Credential::Secret(secret.clone()))));
        let r = Request::get("https://a.example").header_auth("X-SmartToken", secret.clone());
        assert!(matches!(r.auth(), Some(Auth::Header(h)) if h.name == "X-SmartToken"));
        let grant = ClientCredentials {
            token_url: "https://auth.example/token".into(),
            client_id: Credential::plain("id"),
            client_secret: secret.into(),
            scope: None,
            extra_params: vec![("sub".into(), "42".into())],
        };
        let r = Request::delete("https://a.example").client_credentials(grant.clone());
        assert_eq!(r.method(), Method::Delete);
        let wit = r.into_wit().unwrap();
        assert_eq!(wit.auth, Some(Auth::ClientCredentials(grant)));
    }

    #[test]
    fn host_errors_map_by_what_to_do_next() {
        let kind = |e: HttpError| ConnectorError::from(e).kind();
        assert_eq!(kind(HttpError::Denied("evil.example".into())), "permanent");
        assert_eq!(kind(HttpError::InvalidRequest("bad url".into())), "permanent");
        assert_eq!(kind(HttpError::TooLarge(1 << 20)), "permanent");
        assert_eq!(kind(HttpError::Timeout), "transient");
        assert_eq!(kind(HttpError::Transport("reset".into())), "transient");
        assert_eq!(kind(HttpError::UnknownSecret("token".into())), "invalid-config");
        assert_eq!(kind(HttpError::AuthFailed("invalid_client".into())), "unauthorized");
        assert!(ConnectorError::from(HttpError::UnknownSecret("tok".into())).message().contains("`tok`"));
    }
}
