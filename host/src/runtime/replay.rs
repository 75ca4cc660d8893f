//! Replay of unchanged pages: the runtime's half.
//!
//! A `list-jobs` call whose arguments, settings and every HTTP exchange are
//! byte-identical to an earlier call's answers the same page, provided the
//! plugin's output depends on nothing else. A plugin declares that in its
//! manifest (`[listing] replay-unchanged-pages = true`); the host checks
//! what it can: a call that read a clock or randomness
//! ([`super::replay_watch`]), had a request fail or answer other than 2xx,
//! or went past the bounds below is not replayable.
//!
//! While a replayable plugin's `list-jobs` runs, [`Plugin::list_jobs_recorded`]
//! records each request exactly as the guest issued it (its auth by secret
//! *reference*: the host attaches the current values when it sends it; a
//! secret value never enters a record) and a digest of the response as the
//! guest received it (scrubbed; status, headers less
//! [`VOLATILE_HEADERS`], body). Later [`Plugin::replay_exchanges`] sends the
//! same requests through the same [`OutboundHttp`] path as a guest's
//! (allow-list, address checks, secret bindings, operator grants, timeouts,
//! size caps, scrubbing) and says whether every response digest matched.

use std::sync::Mutex;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::bindings::v0_2::atsbridge::connector::types::SecretRef;
use super::bindings::{
    Auth, BasicAuth, ClientCredentials, Convert, Credential, HeaderAuth, HttpError, HttpRequest, HttpResponse, Method,
};
use super::host_http::OutboundHttp;
use super::{CallError, ConnectionContext, Instance, Plugin, vec};
use crate::contract::JobPage;

/// Most exchanges a replayable call may make. A page of Greenhouse is two
/// (the jobs, their posts), more when the posts run over a page; a call
/// making many more is not one whose replay pays.
pub const MAX_EXCHANGES_PER_CALL: usize = 16;
/// Most bytes of recorded requests (URLs, headers, bodies) per call: a
/// listing's requests are a URL and a few headers; a record stays small in
/// the store however the plugin builds its requests.
pub const MAX_RECORDED_REQUEST_BYTES: usize = 64 * 1024;

/// Response headers left out of a response's digest: they change on every
/// response of an unchanged resource and carry nothing a listing maps into
/// a job. `date`, `age` and `expires` are the time of the answer and of the
/// cache; `x-request-id`, `x-runtime`, `server-timing`, `x-trace-id` and
/// `cf-ray` name or time the request; `set-cookie` carries session or load
/// balancer cookies renewed on each answer; the rate limit's remaining
/// count and reset time count down with every request (Greenhouse sends
/// them on every response, so with them no page would ever replay). A
/// plugin that declares `replay-unchanged-pages` declares that its answer
/// does not depend on these. Every other header must be identical: a
/// plugin may read any header.
pub const VOLATILE_HEADERS: &[&str] = &[
    "date",
    "age",
    "expires",
    "x-request-id",
    "x-runtime",
    "server-timing",
    "x-trace-id",
    "cf-ray",
    "set-cookie",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-rate-limit-remaining",
    "x-rate-limit-reset",
    "ratelimit-remaining",
    "ratelimit-reset",
];

/// A credential as the guest gave it: its own value, or a secret reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplayCredential {
    /// The plugin's own value (never a secret setting's: those reach the
    /// guest only as references).
    Plain(String),
    /// The secret setting with this key; its value is attached when sent.
    Secret(String),
}

/// The auth a request asked the host for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplayAuth {
    Basic {
        username: ReplayCredential,
        password: Option<ReplayCredential>,
    },
    Bearer(ReplayCredential),
    Header {
        name: String,
        value: ReplayCredential,
        value_template: Option<String>,
    },
    ClientCredentials {
        token_url: String,
        client_id: ReplayCredential,
        client_secret: ReplayCredential,
        scope: Option<String>,
        extra_params: Vec<(String, String)>,
    },
}

/// A request as the guest issued it. Not `recording::RecordedRequest`:
/// a recording leaves out the plugin's plain credential values, which a
/// replay must send again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// Base64.
    pub body: Option<String>,
    pub auth: Option<ReplayAuth>,
    pub timeout_ms: Option<u32>,
}

/// One recorded exchange: the request and the digest of what came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayExchange {
    pub request: ReplayRequest,
    /// [`DIGEST_FORM`] and the hex BLAKE3 of the response as the guest
    /// received it ([`response_digest`]).
    pub response: String,
}

/// Why a replay did not confirm a page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayMiss {
    #[error("a recorded request cannot be sent again: {0}")]
    BadRecord(String),
    #[error("exchange {0} answered differently")]
    Differs(usize),
    #[error("the record's digests are of an older form")]
    OlderDigest,
    #[error("exchange {index} failed: {message}")]
    Failed { index: usize, message: String },
}

/// The exchanges of one call, while it runs.
#[derive(Debug, Default)]
pub struct ReplayRecorder {
    state: Mutex<Recording>,
}

#[derive(Debug, Default)]
struct Recording {
    exchanges: Vec<ReplayExchange>,
    request_bytes: usize,
    /// Why the call is not replayable, once known.
    spoiled: Option<&'static str>,
}

impl ReplayRecorder {
    /// The guest's request, kept until its answer (`None` once the call is
    /// not replayable).
    pub(super) fn request(&self, req: &HttpRequest) -> Option<ReplayRequest> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.spoiled.is_some() {
            return None;
        }
        if state.exchanges.len() >= MAX_EXCHANGES_PER_CALL {
            state.spoiled = Some("too many exchanges");
            return None;
        }
        let request = ReplayRequest::of(req);
        state.request_bytes = state.request_bytes.saturating_add(request.size());
        if state.request_bytes > MAX_RECORDED_REQUEST_BYTES {
            state.spoiled = Some("requests too large");
            return None;
        }
        Some(request)
    }

    /// The answer to `request`, as handed to the guest.
    pub(super) fn answered(&self, request: Option<ReplayRequest>, result: &Result<HttpResponse, HttpError>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(request) = request else { return };
        match result {
            Ok(response) if (200..300).contains(&response.status) => {
                state.exchanges.push(ReplayExchange { request, response: response_digest(response) });
            }
            _ => state.spoiled = Some("an exchange failed or was not 2xx"),
        }
    }

    /// The recorded exchanges, or why there are none.
    fn finish(&self) -> Result<Vec<ReplayExchange>, &'static str> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match state.spoiled {
            Some(why) => Err(why),
            None => Ok(std::mem::take(&mut state.exchanges)),
        }
    }
}

/// What a response digest starts with: the hash it is. Records written
/// with an earlier hash (SHA-256, bare hex) are told apart by it and never
/// match, so their pages run the plugin once and are recorded anew.
pub const DIGEST_FORM: &str = "blake3:";

/// A response as the guest receives it, digested: [`DIGEST_FORM`] and the
/// hex BLAKE3 of its status, its headers in order less
/// [`VOLATILE_HEADERS`], and its body, each part length-prefixed.
///
/// BLAKE3 rather than SHA-256: a listing page is about 1.3 MB, and on this
/// kind of machine BLAKE3 digests it in 0.20 ms where SHA-256 (with the
/// CPU's SHA extensions) takes 0.72 ms; a no-change resync digests every
/// page it replays. A cryptographic hash, because the digest decides that
/// a page is unchanged: text an ATS user writes into a job must not be
/// able to make a changed page pass for the recorded one.
pub fn response_digest(response: &HttpResponse) -> String {
    let mut h = blake3::Hasher::new();
    let mut put = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    put(&response.status.to_be_bytes());
    for (name, value) in &response.headers {
        if VOLATILE_HEADERS.iter().any(|v| name.eq_ignore_ascii_case(v)) {
            continue;
        }
        put(name.as_bytes());
        put(value.as_bytes());
    }
    put(&response.body);
    format!("{DIGEST_FORM}{}", h.finalize().to_hex())
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
    }
}

fn method_of(name: &str) -> Option<Method> {
    Some(match name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        _ => return None,
    })
}

impl ReplayCredential {
    fn of(c: &Credential) -> Self {
        match c {
            Credential::Plain(v) => ReplayCredential::Plain(v.clone()),
            Credential::Secret(r) => ReplayCredential::Secret(r.key.clone()),
        }
    }

    fn to_credential(&self) -> Credential {
        match self {
            ReplayCredential::Plain(v) => Credential::Plain(v.clone()),
            ReplayCredential::Secret(key) => Credential::Secret(SecretRef { key: key.clone() }),
        }
    }

    fn size(&self) -> usize {
        match self {
            ReplayCredential::Plain(v) | ReplayCredential::Secret(v) => v.len(),
        }
    }
}

impl ReplayAuth {
    fn of(a: &Auth) -> Self {
        match a {
            Auth::Basic(b) => ReplayAuth::Basic {
                username: ReplayCredential::of(&b.username),
                password: b.password.as_ref().map(ReplayCredential::of),
            },
            Auth::Bearer(c) => ReplayAuth::Bearer(ReplayCredential::of(c)),
            Auth::Header(h) => ReplayAuth::Header {
                name: h.name.clone(),
                value: ReplayCredential::of(&h.value),
                value_template: h.value_template.clone(),
            },
            Auth::ClientCredentials(cc) => ReplayAuth::ClientCredentials {
                token_url: cc.token_url.clone(),
                client_id: ReplayCredential::of(&cc.client_id),
                client_secret: ReplayCredential::of(&cc.client_secret),
                scope: cc.scope.clone(),
                extra_params: cc.extra_params.clone(),
            },
        }
    }

    fn to_auth(&self) -> Auth {
        match self {
            ReplayAuth::Basic { username, password } => Auth::Basic(BasicAuth {
                username: username.to_credential(),
                password: password.as_ref().map(ReplayCredential::to_credential),
            }),
            ReplayAuth::Bearer(c) => Auth::Bearer(c.to_credential()),
            ReplayAuth::Header { name, value, value_template } => Auth::Header(HeaderAuth {
                name: name.clone(),
                value: value.to_credential(),
                value_template: value_template.clone(),
            }),
            ReplayAuth::ClientCredentials { token_url, client_id, client_secret, scope, extra_params } => {
                Auth::ClientCredentials(ClientCredentials {
                    token_url: token_url.clone(),
                    client_id: client_id.to_credential(),
                    client_secret: client_secret.to_credential(),
                    scope: scope.clone(),
                    extra_params: extra_params.clone(),
                })
            }
        }
    }

    fn size(&self) -> usize {
        match self {
            ReplayAuth::Basic { username, password } => username.size() + password.as_ref().map_or(0, |p| p.size()),
            ReplayAuth::Bearer(c) => c.size(),
            ReplayAuth::Header { name, value, value_template } => {
                name.len() + value.size() + value_template.as_ref().map_or(0, String::len)
            }
            ReplayAuth::ClientCredentials { token_url, client_id, client_secret, scope, extra_params } => {
                token_url.len()
                    + client_id.size()
                    + client_secret.size()
                    + scope.as_ref().map_or(0, String::len)
                    + extra_params.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
            }
        }
    }
}

impl ReplayRequest {
    /// The guest's request as issued.
    pub fn of(req: &HttpRequest) -> Self {
        ReplayRequest {
            method: method_name(req.method).to_string(),
            url: req.url.clone(),
            headers: req.headers.clone(),
            body: req.body.as_deref().map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
            auth: req.auth.as_ref().map(ReplayAuth::of),
            timeout_ms: req.timeout_ms,
        }
    }

    /// The request to send again.
    pub fn to_request(&self) -> Result<HttpRequest, ReplayMiss> {
        let method = method_of(&self.method).ok_or_else(|| ReplayMiss::BadRecord("unknown method".into()))?;
        let body = match &self.body {
            Some(b) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|_| ReplayMiss::BadRecord("body is not base64".into()))?,
            ),
            None => None,
        };
        Ok(HttpRequest {
            method,
            url: self.url.clone(),
            headers: self.headers.clone(),
            body,
            auth: self.auth.as_ref().map(ReplayAuth::to_auth),
            timeout_ms: self.timeout_ms,
        })
    }

    /// Bytes it takes, roughly as stored.
    pub fn size(&self) -> usize {
        self.method.len()
            + self.url.len()
            + self.headers.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
            + self.body.as_ref().map_or(0, String::len)
            + self.auth.as_ref().map_or(0, ReplayAuth::size)
    }
}

impl Plugin {
    /// The install this handle runs (version and component hash): a
    /// replay record of another install never applies.
    pub fn install_name(&self) -> &str {
        &self.loaded.install_name
    }

    /// Whether the manifest declares `list-jobs` replayable.
    pub fn replays_unchanged_pages(&self) -> bool {
        self.loaded.manifest.listing.replay_unchanged_pages
    }

    /// [`Plugin::list_jobs`], recording the call's exchanges for replay.
    /// The exchanges come back only when the call is replayable: it
    /// answered a page, read no clock or randomness, and every exchange
    /// succeeded with a 2xx within the bounds.
    pub async fn list_jobs_recorded(
        &self,
        conn: &ConnectionContext,
        cursor: Option<&str>,
        changed_since: Option<&str>,
    ) -> (Result<JobPage, CallError>, Option<Vec<ReplayExchange>>) {
        let recorder = std::sync::Arc::new(ReplayRecorder::default());
        let mut call = match self.begin("list-jobs", Some(conn)).await {
            Ok(call) => call,
            Err(e) => return (Err(e), None),
        };
        call.store.data_mut().http.record_for_replay(recorder.clone());
        let raw = call_export!(call.call_list_jobs(&vec(conn.guest_config()), cursor, changed_since));
        let nondeterministic = call.store.data().watch.touched();
        let result = self.end(call, raw);
        let recorded = match (&result, nondeterministic, recorder.finish()) {
            (Ok(_), false, Ok(exchanges)) => Some(exchanges),
            (Ok(_), true, _) => {
                tracing::debug!(plugin = %self.id(), connection = %conn.id, "list-jobs read a clock or randomness: not replayable");
                None
            }
            (Ok(_), _, Err(why)) => {
                tracing::debug!(plugin = %self.id(), connection = %conn.id, why, "list-jobs not replayable");
                None
            }
            (Err(_), _, _) => None,
        };
        (result, recorded)
    }

    /// Sends `exchanges`' requests again through the host's `http` path
    /// for `conn` (every check a guest's request gets) and says whether
    /// each answer's digest equals the recorded one. Stops at the first
    /// that differs or fails.
    pub async fn replay_exchanges(
        &self,
        conn: &ConnectionContext,
        exchanges: &[ReplayExchange],
    ) -> Result<(), ReplayMiss> {
        // A record of an older form would send every request to miss at
        // the end: it misses before the first.
        if exchanges.iter().any(|e| !e.response.starts_with(DIGEST_FORM)) {
            return Err(ReplayMiss::OlderDigest);
        }
        let http =
            OutboundHttp::new(self.inner.http.clone(), &self.loaded.manifest, Some(conn)).metered(self.meter.clone());
        for (index, exchange) in exchanges.iter().enumerate() {
            let request = exchange.request.to_request()?;
            match http.send(request).await {
                Ok(response) if (200..300).contains(&response.status) => {
                    if response_digest(&response) != exchange.response {
                        return Err(ReplayMiss::Differs(index));
                    }
                }
                Ok(response) => {
                    return Err(ReplayMiss::Failed { index, message: format!("status {}", response.status) });
                }
                Err(e) => return Err(ReplayMiss::Failed { index, message: format!("{e:?}") }),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status: 200,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn volatile_headers_do_not_change_the_digest_and_others_do() {
        let a = response(&[("date", "Mon"), ("x-request-id", "1"), ("link", "<p2>")], "[]");
        let b = response(&[("date", "Tue"), ("x-request-id", "2"), ("link", "<p2>")], "[]");
        assert_eq!(response_digest(&a), response_digest(&b));
        let c = response(&[("date", "Mon"), ("x-request-id", "1"), ("link", "<p3>")], "[]");
        assert_ne!(response_digest(&a), response_digest(&c));
        let d = response(&[("date", "Mon"), ("x-request-id", "1"), ("link", "<p2>")], "[ ]");
        assert_ne!(response_digest(&a), response_digest(&d));
    }

    #[test]
    fn the_digest_is_blake3_of_the_length_prefixed_parts_and_says_so() {
        let r = response(&[("link", "<p2>")], "[]");
        let mut expected = blake3::Hasher::new();
        for part in [&200u16.to_be_bytes()[..], b"link", b"<p2>", b"[]"] {
            expected.update(&(part.len() as u64).to_be_bytes());
            expected.update(part);
        }
        assert_eq!(response_digest(&r), format!("blake3:{}", expected.finalize().to_hex()));
        // Moving a byte between parts changes it: the lengths are digested.
        let moved = response(&[("link", "<p2>[")], "]");
        assert_ne!(response_digest(&r), response_digest(&moved));
    }

    fn request(url: &str, body: Option<&[u8]>) -> HttpRequest {
        HttpRequest {
            method: Method::Post,
            url: url.into(),
            headers: vec![("accept".into(), "application/json".into())],
            body: body.map(<[u8]>::to_vec),
            auth: Some(Auth::Header(HeaderAuth {
                name: "x-api-key".into(),
                value: Credential::Secret(SecretRef { key: "api-key".into() }),
                value_template: Some("Token {secret}".into()),
            })),
            timeout_ms: Some(5000),
        }
    }

    #[test]
    fn a_request_round_trips_with_its_secret_as_a_reference() {
        let req = request("https://ats.example/jobs?page=2", Some(&[0, 159, 146, 150]));
        let recorded = ReplayRequest::of(&req);
        let json = serde_json::to_string(&recorded).unwrap();
        assert!(json.contains("\"secret\":\"api-key\""), "{json}");
        let back: ReplayRequest = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_request().unwrap(), req);
    }

    #[test]
    fn a_call_past_the_bounds_or_with_a_failed_exchange_is_not_replayable() {
        let ok = Ok(response(&[], "{}"));
        let recorder = ReplayRecorder::default();
        for _ in 0..MAX_EXCHANGES_PER_CALL {
            let r = recorder.request(&request("https://ats.example/jobs", None));
            recorder.answered(r, &ok);
        }
        assert_eq!(recorder.finish().map(|e| e.len()), Ok(MAX_EXCHANGES_PER_CALL));
        let recorder = ReplayRecorder::default();
        for _ in 0..=MAX_EXCHANGES_PER_CALL {
            let r = recorder.request(&request("https://ats.example/jobs", None));
            recorder.answered(r, &ok);
        }
        assert!(recorder.finish().is_err(), "one exchange too many");

        let recorder = ReplayRecorder::default();
        let big = vec![b'x'; MAX_RECORDED_REQUEST_BYTES];
        let r = recorder.request(&request("https://ats.example/jobs", Some(&big)));
        recorder.answered(r, &ok);
        assert!(recorder.finish().is_err(), "requests too large");

        for bad in [Ok(HttpResponse { status: 404, headers: vec![], body: vec![] }), Err(HttpError::Timeout)] {
            let recorder = ReplayRecorder::default();
            let r = recorder.request(&request("https://ats.example/jobs", None));
            recorder.answered(r, &bad);
            assert!(recorder.finish().is_err(), "{bad:?}");
        }
    }
}
