//! Answering a plugin's `http` import from a recording, with no network.
//!
//! A request matches a recorded one when its method, URL (exactly, query
//! string included) and body (byte for byte; no body matches no body) are
//! the same. Headers and the requested auth are not compared: the host
//! attaches credentials itself, and header order or a changed `User-Agent`
//! should not make a request unanswerable. When the recording has the same
//! request several times, the answers are handed out in recorded order
//! (the first ask gets the first answer: a recorded 503 and the retry's
//! 200 replay the same way); once they are used up, a further identical
//! request is unanswerable like one the recording never had. An
//! unanswerable request is never faked: the plugin gets an error
//! (`denied`) and the request is listed in the report.
//!
//! A request that asks the host for an OAuth client-credentials token first
//! takes the host's token step from the recording too: the recorded token
//! request for that endpoint is used up (once, then the token is held, as
//! the host's cache holds it, until a recorded 401 drops it). A run that
//! needed no token request (the host had one cached) needs none on replay;
//! no token endpoint is ever reached.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::format::{Exchange, RecordedOutcome, TokenExchange, TokenOutcome, method_name};
use crate::runtime::bindings::{Auth, HttpError, HttpRequest, HttpResponse};

/// Unanswerable requests listed one by one in a report; more are counted.
/// A connector that went astray can ask thousands; the first hundred say
/// what happened.
pub const MAX_UNANSWERED_LISTED: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RequestKey {
    method: String,
    url: String,
    body: Option<Vec<u8>>,
}

/// A request the recording could not answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unanswered {
    pub method: String,
    pub url: String,
    /// Size of the request body, when there was one.
    pub body_bytes: Option<usize>,
    /// Why: never recorded, or recorded fewer times than asked.
    pub reason: String,
}

/// Hands out recorded answers. Cheap to clone; clones share the queues.
#[derive(Clone)]
pub struct Responder {
    inner: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    queues: HashMap<RequestKey, VecDeque<RecordedOutcome>>,
    /// How many answers each request had in the recording.
    recorded: HashMap<RequestKey, usize>,
    unanswered: Vec<Unanswered>,
    unanswered_total: u64,
    answered: u64,
    /// Recorded token requests by token endpoint, in order.
    tokens: HashMap<String, VecDeque<TokenOutcome>>,
    /// Token endpoints whose token the replaying host holds.
    held: HashSet<String>,
    tokens_answered: u64,
}

/// A token endpoint as the recorder writes it (parsed and normalised).
fn endpoint(url: &str) -> String {
    url::Url::parse(url).map_or_else(|_| url.to_string(), |u| u.to_string())
}

impl State {
    /// The host's token step for a request with client-credentials auth.
    fn token_step(&mut self, token_url: &str) {
        let url = endpoint(token_url);
        if self.held.contains(&url) {
            return;
        }
        match self.tokens.get_mut(&url).and_then(VecDeque::pop_front) {
            Some(outcome) => {
                self.tokens_answered += 1;
                if matches!(outcome, TokenOutcome::Response { status, .. } if (200..300).contains(&status)) {
                    self.held.insert(url);
                }
            }
            // The recorded run's host had the token already.
            None => {
                self.held.insert(url);
            }
        }
    }
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Responder")
    }
}

impl Responder {
    /// Answers from these exchanges, in their order.
    pub fn new<'a>(exchanges: impl IntoIterator<Item = &'a Exchange>) -> Self {
        let mut state = State::default();
        for e in exchanges {
            let key = RequestKey {
                method: e.request.method.to_ascii_uppercase(),
                url: e.request.url.clone(),
                body: e.request.body.as_ref().and_then(|b| b.bytes()),
            };
            *state.recorded.entry(key.clone()).or_default() += 1;
            state.queues.entry(key).or_default().push_back(e.outcome.clone());
        }
        Responder { inner: Arc::new(Mutex::new(state)) }
    }

    /// Also answers the host's token step from these token requests.
    pub fn with_tokens<'a>(self, tokens: impl IntoIterator<Item = &'a TokenExchange>) -> Self {
        {
            let mut state = self.lock();
            for t in tokens {
                state.tokens.entry(endpoint(&t.token_url)).or_default().push_back(t.outcome.clone());
            }
        }
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The recorded answer to `req`, or an error naming why there is none.
    pub fn answer(&self, req: &HttpRequest) -> Result<HttpResponse, HttpError> {
        let key =
            RequestKey { method: method_name(req.method).to_string(), url: req.url.clone(), body: req.body.clone() };
        let mut state = self.lock();
        let grant = match &req.auth {
            Some(Auth::ClientCredentials(cc)) => Some(cc.token_url.as_str()),
            _ => None,
        };
        if let Some(token_url) = grant {
            state.token_step(token_url);
        }
        if let Some(outcome) = state.queues.get_mut(&key).and_then(VecDeque::pop_front) {
            state.answered += 1;
            // The ATS refused the token: the host fetches a new one next.
            if let (Some(token_url), RecordedOutcome::Response { status: 401, .. }) = (grant, &outcome) {
                state.held.remove(&endpoint(token_url));
            }
            return outcome.to_result();
        }
        let reason = match state.recorded.get(&key) {
            Some(n) => format!("asked more often than recorded (the recording answers it {n} time(s))"),
            None => "not in the recording".to_string(),
        };
        state.unanswered_total += 1;
        if state.unanswered.len() < MAX_UNANSWERED_LISTED {
            state.unanswered.push(Unanswered {
                method: key.method.clone(),
                url: key.url.clone(),
                body_bytes: key.body.as_ref().map(Vec::len),
                reason: reason.clone(),
            });
        }
        Err(HttpError::Denied(format!(
            "replay: {} {}: {reason}; replay never reaches the network",
            key.method, key.url
        )))
    }

    /// Requests that got no answer (the first [`MAX_UNANSWERED_LISTED`])
    /// and how many there were in all.
    pub fn unanswered(&self) -> (Vec<Unanswered>, u64) {
        let state = self.lock();
        (state.unanswered.clone(), state.unanswered_total)
    }

    /// Answers handed out, and recorded answers never asked for.
    pub fn usage(&self) -> (u64, usize) {
        let state = self.lock();
        (state.answered, state.queues.values().map(VecDeque::len).sum())
    }

    /// Recorded token requests the host's token step used, and those it
    /// never needed.
    pub fn token_usage(&self) -> (u64, usize) {
        let state = self.lock();
        (state.tokens_answered, state.tokens.values().map(VecDeque::len).sum())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recording::format::{Body, RecordedHttpError, RecordedRequest};
    use crate::runtime::bindings::Method;

    fn exchange(url: &str, body: Option<&str>, status: u16) -> Exchange {
        Exchange {
            seq: 0,
            request: RecordedRequest {
                method: "GET".into(),
                url: url.into(),
                headers: vec![],
                body: body.map(|b| Body::of(b.as_bytes())),
                auth: None,
                host_headers: vec![],
            },
            outcome: RecordedOutcome::Response { status, headers: vec![], body: Body::Text(status.to_string()) },
        }
    }

    fn get(url: &str, body: Option<&str>) -> HttpRequest {
        HttpRequest {
            method: Method::Get,
            url: url.into(),
            headers: vec![("x-new".into(), "ignored".into())],
            body: body.map(|b| b.as_bytes().to_vec()),
            auth: None,
            timeout_ms: None,
        }
    }

    #[test]
    fn repeated_requests_are_answered_in_order_then_refused() {
        let r = Responder::new(&[exchange("https://a/x", None, 503), exchange("https://a/x", None, 200)]);
        assert_eq!(r.answer(&get("https://a/x", None)).unwrap().status, 503);
        assert_eq!(r.answer(&get("https://a/x", None)).unwrap().status, 200);
        let third = r.answer(&get("https://a/x", None));
        assert!(matches!(third, Err(HttpError::Denied(m)) if m.contains("more often than recorded")));
        let (listed, total) = r.unanswered();
        assert_eq!((listed.len(), total), (1, 1));
        assert_eq!(r.usage(), (2, 0));
    }

    #[test]
    fn method_url_and_body_must_all_match() {
        let r = Responder::new(&[exchange("https://a/x?page=1", Some("q"), 200)]);
        assert!(r.answer(&get("https://a/x?page=2", Some("q"))).is_err());
        assert!(r.answer(&get("https://a/x?page=1", Some("other"))).is_err());
        assert!(r.answer(&get("https://a/x?page=1", None)).is_err());
        assert_eq!(r.answer(&get("https://a/x?page=1", Some("q"))).unwrap().status, 200);
        let (listed, _) = r.unanswered();
        assert!(listed.iter().all(|u| u.reason == "not in the recording"), "{listed:?}");
    }

    #[test]
    fn the_token_step_is_answered_from_the_recording_once_and_again_after_a_401() {
        use crate::recording::format::{TokenExchange, TokenOutcome};
        use crate::runtime::bindings::{ClientCredentials, Credential};
        let token = |status| TokenExchange {
            seq: 0,
            token_url: "https://auth.example/token".into(),
            form: vec![],
            host_headers: vec![],
            outcome: TokenOutcome::Response { status, body: Body::Text("{}".into()) },
        };
        let r = Responder::new(&[exchange("https://a/x", None, 200), exchange("https://a/x", None, 401)])
            .with_tokens(&[token(200), token(200), token(200)]);
        let mut req = get("https://a/x", None);
        req.auth = Some(Auth::ClientCredentials(ClientCredentials {
            token_url: "https://auth.example/token".into(),
            client_id: Credential::Plain("id".into()),
            client_secret: Credential::Plain("secret".into()),
            scope: None,
            extra_params: vec![],
        }));
        assert_eq!(r.answer(&req).unwrap().status, 200);
        assert_eq!(r.token_usage(), (1, 2), "one token request for the first request");
        assert_eq!(r.answer(&req).unwrap().status, 401);
        assert_eq!(r.token_usage(), (1, 2), "the token is held");
        // After the 401 the host asks for a new token.
        assert!(r.answer(&req).is_err());
        assert_eq!(r.token_usage(), (2, 1));
        // A request without client credentials takes no token step.
        let plain = Responder::new(&[exchange("https://a/x", None, 200)]).with_tokens(&[token(200)]);
        assert_eq!(plain.answer(&get("https://a/x", None)).unwrap().status, 200);
        assert_eq!(plain.token_usage(), (0, 1));
    }

    #[test]
    fn a_recorded_error_replays_as_that_error() {
        let mut e = exchange("https://a/x", None, 0);
        e.outcome = RecordedOutcome::Error(RecordedHttpError::Timeout);
        let r = Responder::new(&[e]);
        assert!(matches!(r.answer(&get("https://a/x", None)), Err(HttpError::Timeout)));
    }
}
