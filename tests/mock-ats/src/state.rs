//! The state one mock server shares between its handlers and its
//! [`crate::MockAts`] handle.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use crate::data::Dataset;
use crate::faults::FaultSet;
use crate::people::People;
use crate::ratelimit::Limiter;
use crate::recorder::{PushedCandidate, PushedFile, RecordedRequest};
use crate::{Credentials, MockConfig, Vendor};

/// An OAuth access token the Greenhouse mock issued.
#[derive(Clone, Debug)]
pub(crate) struct IssuedToken {
    pub(crate) expires: Instant,
    /// The `sub` (acting user id) it was issued for, if any.
    pub(crate) sub: Option<String>,
}

/// Everything mutable behind one lock, so a handler sees a consistent world.
#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) data: Dataset,
    pub(crate) people: People,
    pub(crate) pushed: Vec<PushedCandidate>,
    /// Greenhouse v3 access tokens.
    pub(crate) tokens: HashMap<String, IssuedToken>,
    /// The Greenhouse v3 OAuth client secret accepted now: the one derived
    /// at start until [`crate::MockAts::rotate_client_secret`].
    pub(crate) client_secret: Option<String>,
    /// Ashby sync tokens → the change counter when issued.
    pub(crate) sync_tokens: HashMap<String, u64>,
    /// Ashby upload handles → the file (name and type from the handle
    /// request, bytes once uploaded) and whether the upload happened.
    pub(crate) uploads: HashMap<String, (PushedFile, bool)>,
    /// Counter for tokens and handles.
    pub(crate) serial: u64,
}

impl Store {
    pub(crate) fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    /// The [`crate::Fault::ChangePageBetweenRequests`] mutation: add one job,
    /// update the first one. Returns (added id, updated id).
    pub(crate) fn change_between_pages(&mut self) -> (String, Option<String>) {
        let first = self.data.jobs.first().map(|j| j.id.clone());
        let updated = first.and_then(|id| self.data.update(&id, |job| job.title.push_str(" (updated)")).map(|j| j.id));
        let added = self.data.add(1).remove(0).id;
        (added, updated)
    }
}

/// State shared by the server task and the handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) vendor: Vendor,
    pub(crate) config: MockConfig,
    /// `http://127.0.0.1:PORT`
    pub(crate) base_url: String,
    pub(crate) credentials: Credentials,
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: Mutex<FaultSet>,
    pub(crate) limiter: Option<Mutex<Limiter>>,
    pub(crate) log: Mutex<Vec<RecordedRequest>>,
    /// How long a Greenhouse create is worked on before it takes effect
    /// (`MockAts::hold_creates`); zero: at once.
    pub(crate) create_hold: Mutex<std::time::Duration>,
}

/// Locks, ignoring poisoning: a panicking handler must not wedge the mock.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    pub(crate) fn new(vendor: Vendor, config: MockConfig, base_url: String) -> Self {
        let data = Dataset::generate(vendor, config.seed, config.jobs);
        let credentials = Credentials::derive(vendor, &config, &data.users[0]);
        let store = Store {
            data,
            people: People::new(vendor, config.seed),
            pushed: Vec::new(),
            tokens: HashMap::new(),
            client_secret: credentials.client_secret.clone(),
            sync_tokens: HashMap::new(),
            uploads: HashMap::new(),
            serial: 0,
        };
        Shared {
            vendor,
            limiter: config.rate_limit.map(|r| Mutex::new(Limiter::new(r))),
            config,
            base_url,
            credentials,
            store: Mutex::new(store),
            faults: Mutex::new(FaultSet::default()),
            log: Mutex::new(Vec::new()),
            create_hold: Mutex::new(std::time::Duration::ZERO),
        }
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// Whether `key` is the valid API key.
    pub(crate) fn key_ok(&self, key: &str) -> bool {
        !key.is_empty() && key == self.credentials.api_key
    }

    /// Logs a request; returns its index for [`Shared::log_status`].
    pub(crate) fn log_request(&self, method: &str, path: &str, request_bytes: u64) -> usize {
        let mut log = lock(&self.log);
        log.push(RecordedRequest {
            method: method.to_string(),
            path: path.to_string(),
            status: None,
            request_bytes,
            response_bytes: None,
        });
        log.len() - 1
    }

    pub(crate) fn log_status(&self, index: usize, status: u16, response_bytes: Option<u64>) {
        if let Some(entry) = lock(&self.log).get_mut(index) {
            entry.status = Some(status);
            entry.response_bytes = response_bytes;
        }
    }
}
