//! Collecting a run's entries in memory, within a size bound, with no
//! secret value in them; then the whole file at the end of the run.

use std::sync::{Arc, Mutex};

use base64::Engine as _;

use super::format::{
    Body, End, Entry, Exchange, ExportArgs, ExportCall, ExportOutcome, HOST_ATTACHED, Header, RecordedOutcome,
    RecordedRequest, TOKEN_ISSUED, TokenExchange, TokenOutcome,
};
use crate::runtime::bindings::{HttpError, HttpRequest, HttpResponse};
use crate::runtime::oauth::{TokenObserver, TokenSeen};
use crate::runtime::scrub::Scrubber;

/// Largest recording kept, in bytes of JSON lines. A recording is held in
/// memory until the run ends (it is written in one piece, so a reader never
/// sees half a file); 64 MiB is a few dozen pages of 500 jobs with long HTML
/// descriptions, which is plenty to reproduce a connector's behaviour.
/// Entries past the bound are dropped and counted, and the last line says
/// the recording was truncated.
pub const MAX_RECORDING_BYTES: usize = 64 << 20;

/// Collects one run's entries. Cheap to clone; clones share the entries.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Mutex<State>>,
}

struct State {
    /// Serialized entries, one JSON line each.
    lines: Vec<u8>,
    limit: usize,
    seq: u64,
    truncated: bool,
    dropped: u64,
    withheld: u64,
    /// Every secret value of the connection, in every common encoding.
    secrets: Arc<Scrubber>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorder")
    }
}

impl Recorder {
    /// A recorder that keeps every value in `secrets` (and its encodings)
    /// out of what it writes.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        Self::with_limit(secrets, MAX_RECORDING_BYTES)
    }

    /// [`Recorder::new`] with another size bound (tests).
    pub fn with_limit<'a>(secrets: impl IntoIterator<Item = &'a str>, limit: usize) -> Self {
        let state = State {
            lines: Vec::new(),
            limit,
            seq: 0,
            truncated: false,
            dropped: 0,
            withheld: 0,
            secrets: Arc::new(Scrubber::new(secrets)),
        };
        Recorder { inner: Arc::new(Mutex::new(state)) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one exchange as the plugin saw it. The response and error
    /// were already scrubbed by the `http` import; the request's URL,
    /// headers and body are scrubbed here with the call's `scrubber` (which
    /// also knows the OAuth tokens in use), in case a plugin put a value
    /// there that it learned somewhere.
    pub fn http(&self, req: &HttpRequest, result: &Result<HttpResponse, HttpError>, scrubber: &Scrubber) {
        let mut request = RecordedRequest::of(req);
        scrubber.scrub_in_place(&mut request.url);
        for (_, value) in &mut request.headers {
            scrubber.scrub_in_place(value);
        }
        if let Some(body) = &request.body
            && !scrubber.is_empty()
            && let Some(bytes) = body.bytes()
        {
            request.body = Some(Body::of(&scrubber.scrub_bytes(bytes)));
        }
        if let Some(body) = &mut request.body {
            scrub_escaped_json(body, scrubber);
        }
        let mut outcome = RecordedOutcome::of(result);
        if let RecordedOutcome::Response { body, .. } = &mut outcome {
            scrub_escaped_json(body, scrubber);
        }
        self.push(|seq| Entry::Http(Exchange { seq, request, outcome }), Some(scrubber));
    }

    /// Records one export call and its result.
    pub fn export(&self, call: ExportArgs, outcome: ExportOutcome) {
        self.push(|seq| Entry::Export(ExportCall { seq, call, outcome }), None);
    }

    /// Records one request the host made to a token endpoint: the form
    /// with its values scrubbed, the host's `Authorization` header as a
    /// marker, and the answer with every token in it replaced by
    /// [`TOKEN_ISSUED`] and every credential scrubbed.
    pub fn token(&self, seen: &TokenSeen<'_>) {
        let g = seen.grant;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", g.client_id, g.client_secret));
        let mut values = vec![g.client_id.to_string(), g.client_secret.to_string(), basic];
        let outcome = match seen.answer {
            Ok((status, body)) => {
                let masked = mask_tokens(body, &mut values);
                TokenOutcome::Response { status, body: Body::of(&Scrubber::new(&values).scrub_bytes(masked)) }
            }
            Err(e) => TokenOutcome::Error { message: Scrubber::new(&values).scrub_str(&e.to_string()) },
        };
        let scrubber = Scrubber::new(&values);
        let form = seen.form.iter().map(|(k, v)| (scrubber.scrub_str(k), scrubber.scrub_str(v))).collect();
        let exchange = |seq| {
            Entry::Token(TokenExchange {
                seq,
                token_url: scrubber.scrub_str(g.token_url.as_str()),
                form,
                host_headers: vec![("authorization".into(), HOST_ATTACHED.into())],
                outcome,
            })
        };
        self.push(exchange, Some(&scrubber));
    }

    fn push(&self, entry: impl FnOnce(u64) -> Entry, scrubber: Option<&Scrubber>) {
        let mut state = self.lock();
        if state.truncated {
            state.dropped += 1;
            return;
        }
        state.seq += 1;
        let entry = entry(state.seq);
        let Ok(mut line) = serde_json::to_vec(&entry) else {
            state.dropped += 1;
            return;
        };
        // A last look at the whole line: nothing that matches a secret in
        // any encoding is written, whatever field it hid in.
        let secrets = state.secrets.clone();
        for s in std::iter::once(secrets.as_ref()).chain(scrubber) {
            if !s.is_empty() && s.scrub_bytes(line.clone()) != line {
                state.withheld += 1;
                tracing::warn!("a recorded entry contained a secret value and was withheld");
                return;
            }
        }
        line.push(b'\n');
        if state.lines.len() + line.len() > state.limit {
            state.truncated = true;
            state.dropped += 1;
            tracing::warn!(limit = state.limit, "the recording reached its size bound; later entries are dropped");
            return;
        }
        state.lines.extend_from_slice(&line);
    }

    /// The whole file: `header`, the entries, and the end line.
    pub fn finish(&self, header: &Header, outcome: String) -> Vec<u8> {
        let state = self.lock();
        let end = Entry::End(End {
            truncated: state.truncated,
            dropped_entries: state.dropped,
            withheld_entries: state.withheld,
            outcome,
        });
        let mut out = Vec::with_capacity(state.lines.len() + 1024);
        // Plain data: serializing cannot fail.
        out.extend(serde_json::to_vec(&Entry::Header(header.clone())).unwrap_or_default());
        out.push(b'\n');
        out.extend_from_slice(&state.lines);
        out.extend(serde_json::to_vec(&end).unwrap_or_default());
        out.push(b'\n');
        out
    }
}

impl TokenObserver for Recorder {
    fn token_exchange(&self, seen: TokenSeen<'_>) {
        self.token(&seen);
    }
}

/// A JSON body whose strings, decoded, hold a secret its escapes hid (a
/// secret written `\u0061\u006b...` matches none of the forms the
/// scrubber looks for, yet decodes to the secret): re-encoded plainly and
/// scrubbed. Any other body is kept byte for byte, so replay hands out
/// exactly what the plugin got.
fn scrub_escaped_json(body: &mut Body, scrubber: &Scrubber) {
    if scrubber.is_empty() {
        return;
    }
    let Some(bytes) = body.bytes() else { return };
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return };
    let Ok(plain) = serde_json::to_vec(&value) else { return };
    let scrubbed = scrubber.scrub_bytes(plain.clone());
    if scrubbed != plain {
        tracing::warn!("a recorded JSON body hid a secret value in escapes; it is recorded re-encoded and scrubbed");
        *body = Body::of(&scrubbed);
    }
}

/// A token response with every string member whose name ends in `token`
/// (`access_token`, `refresh_token`, `id_token`) replaced by
/// [`TOKEN_ISSUED`]; the values replaced are added to `found`, so the
/// caller scrubs any other place they occur. A body that is not a JSON
/// object is kept as it is (the scrubber still runs over it).
fn mask_tokens(body: &[u8], found: &mut Vec<String>) -> Vec<u8> {
    let Ok(serde_json::Value::Object(mut members)) = serde_json::from_slice::<serde_json::Value>(body) else {
        return body.to_vec();
    };
    for (name, value) in members.iter_mut() {
        if name.to_ascii_lowercase().ends_with("token")
            && let serde_json::Value::String(token) = value
        {
            found.push(std::mem::replace(token, TOKEN_ISSUED.to_string()));
        }
    }
    serde_json::to_vec(&members).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::{Auth, Credential, Method};

    const SECRET: &str = "s3cr3t-api-key-0123456789";

    fn request(body: Option<&str>) -> HttpRequest {
        HttpRequest {
            method: Method::Get,
            url: "https://ats.example/jobs".into(),
            headers: vec![],
            body: body.map(|b| b.as_bytes().to_vec()),
            auth: Some(Auth::Bearer(Credential::Secret(
                crate::runtime::bindings::v0_2::atsbridge::connector::types::SecretRef { key: "api-key".into() },
            ))),
            timeout_ms: None,
        }
    }

    /// The header of a test recording of connection `c`'s run `run`.
    fn header(run: Option<u64>) -> Header {
        Header {
            format: super::super::format::FORMAT_NAME.into(),
            version: 1,
            connection: "c".into(),
            run,
            plugin: "p".into(),
            plugin_version: "1.0.0".into(),
            started_unix: 0,
            settings: vec![],
        }
    }

    fn ok(body: &str) -> Result<HttpResponse, HttpError> {
        Ok(HttpResponse { status: 200, headers: vec![], body: body.as_bytes().to_vec() })
    }

    #[test]
    fn no_secret_value_or_encoding_reaches_the_file() {
        let recorder = Recorder::new([SECRET]);
        let scrubber = Scrubber::new([SECRET]);
        // The plugin put the secret (base64) in a request body; the host
        // attached it as a header; a response echoed it in hex.
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, SECRET);
        recorder.http(&request(Some(&format!("{{\"k\":\"{b64}\"}}"))), &ok("{}"), &scrubber);
        recorder.http(&request(None), &ok(&hex::encode(SECRET)), &scrubber);
        let file = String::from_utf8(recorder.finish(&header(Some(1)), "succeeded".into())).unwrap();
        assert!(!file.contains(SECRET), "{file}");
        assert!(!file.contains(&b64), "{file}");
        assert!(!file.contains(&hex::encode(SECRET)), "{file}");
        assert!(file.contains(super::super::format::HOST_ATTACHED), "{file}");
        assert!(file.contains("\"withheld_entries\":1"), "the hex echo is withheld: {file}");
    }

    #[test]
    fn a_token_request_is_recorded_with_no_credential_or_token() {
        use crate::runtime::oauth::{Grant, TokenError};
        let recorder = Recorder::new(["client-id-4f2a9c", "client-secret-8e1b7d"]);
        let url = url::Url::parse("https://auth.example/token").unwrap();
        let params = vec![("sub".to_string(), "client-secret-8e1b7d".to_string())];
        let grant = Grant {
            connection: "c",
            token_url: &url,
            client_id: "client-id-4f2a9c",
            client_secret: "client-secret-8e1b7d",
            scope: Some("jobs"),
            extra_params: &params,
        };
        let form = [("grant_type", "client_credentials"), ("sub", "client-secret-8e1b7d")];
        let body = br#"{"access_token":"at-91c4e7f2d0b3","refresh_token":"rt-5a8e0c1f9b2d","expires_in":3600,"echo":"at-91c4e7f2d0b3 client-secret-8e1b7d"}"#;
        recorder.token(&TokenSeen { grant: &grant, form: &form, answer: Ok((200, &body[..])) });
        let refused = TokenError::Refused { status: 401, detail: ": invalid_client client-secret-8e1b7d".into() };
        recorder.token(&TokenSeen { grant: &grant, form: &form, answer: Err(&refused) });
        let file = String::from_utf8(recorder.finish(&header(Some(1)), "succeeded".into())).unwrap();
        for secret in ["client-id-4f2a9c", "client-secret-8e1b7d", "at-91c4e7f2d0b3", "rt-5a8e0c1f9b2d"] {
            assert!(!file.contains(secret), "{secret}: {file}");
        }
        assert_eq!(file.matches("\"kind\":\"token\"").count(), 2, "{file}");
        assert!(file.contains(&format!("\\\"access_token\\\":\\\"{TOKEN_ISSUED}\\\"")), "{file}");
        assert!(file.contains("\"withheld_entries\":0"), "{file}");
    }

    #[test]
    fn a_secret_hidden_in_json_escapes_is_not_recorded() {
        let recorder = Recorder::new([SECRET]);
        let scrubber = Scrubber::new([SECRET]);
        let escaped: String = SECRET.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
        let body = format!("{{\"title\":\"{escaped}\",\"n\":1}}");
        recorder.http(&request(None), &ok(&body), &scrubber);
        recorder.http(&request(None), &ok("{\"title\":  \"plain\"}"), &scrubber);
        let file = String::from_utf8(recorder.finish(&header(Some(1)), "succeeded".into())).unwrap();
        assert!(!file.contains(&escaped) && !file.contains(&escaped.replace('\\', "\\\\")), "{file}");
        assert!(file.contains("[redacted]"), "{file}");
        assert!(file.contains(r#"{\"title\":  \"plain\"}"#), "a body with no secret is kept as it was: {file}");
    }

    #[test]
    fn the_size_bound_truncates_with_a_marker() {
        let recorder = Recorder::with_limit([], 600);
        for _ in 0..10 {
            recorder.http(&request(None), &ok(&"x".repeat(100)), &Scrubber::default());
        }
        let file = recorder.finish(&header(None), "succeeded".into());
        let last: Entry =
            serde_json::from_slice(file.trim_ascii_end().rsplit(|b| *b == b'\n').next().unwrap()).unwrap();
        match last {
            Entry::End(end) => {
                assert!(end.truncated);
                assert!(end.dropped_entries >= 7, "{end:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(file.len() < 600 + 1024);
    }
}
