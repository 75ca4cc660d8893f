//! Metering: what the plugin calls of one sync run (or one push) cost.
//!
//! A [`Meter`] is made for one run and attached to the [`Plugin`] handle the
//! run calls through ([`Plugin::with_meter`]). Every call made through that
//! handle adds to it: the export called, its CPU time, its wall time and
//! HTTP wait, whether it answered `rate-limited`, and each HTTP exchange the
//! `http` import made for it (host, bytes each way, status 429), and each
//! OAuth token request the host made on the plugin's behalf
//! ([`Meter::token_exchange`]). The caller adds its retries
//! ([`Meter::retried`]) and the bytes it wrote to the store
//! ([`Meter::stored`]), and takes the totals into its record
//! ([`Meter::report`]). The same events go to the host's Prometheus
//! counters as they happen (see [`crate::metrics`] for the labels).
//!
//! A handle without a meter ([`Meter::off`], the default) measures nothing:
//! no clock is read and no lock is taken, so calls made outside a run (the
//! API's connection test, the conformance kit) cost what they did before.
//!
//! # CPU time
//!
//! A call's CPU time is the CPU time of the thread polling the call's
//! futures (instantiation and the export call), read with
//! `CLOCK_THREAD_CPUTIME_ID` before and after each poll. The guest runs only
//! inside those polls, on the polling thread (wasmtime's fibers run on the
//! thread that polls them). While the call waits for the ATS, or sits
//! yielded at an epoch tick, its future is not being polled and nothing is
//! counted, so the figure is the CPU the call used, however loaded the
//! machine is. It includes the host imports' synchronous work inside the call
//! (building requests, scrubbing responses, lifting the answer): work done
//! for the plugin. A call is polled a handful of times (once to start, after
//! each HTTP exchange, at each 10 ms epoch yield), and each poll reads the
//! clock twice, well under a microsecond (measured: see docs/benchmarks.md).
//!
//! Fuel or the epoch counter were the alternatives. Fuel adds a counter
//! update to the guest's compiled code, slowing every call whether metered
//! or not, and changes the compiled artifacts. The epoch advances every
//! 10 ms ([`EPOCH_TICK`](super::engine::EPOCH_TICK)), coarser than most
//! calls (a 500-job page takes about 7 ms), so counting ticks would read
//! zero for most of them.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use url::Url;

#[cfg(doc)]
use super::Plugin;
use super::bindings::{HttpError, HttpResponse};
use super::metrics::Outcome;
use crate::plugin::allowed_hosts::AllowedHosts;
use crate::plugin::manifest::Manifest;
use crate::store::{ExportMetering, HostMetering, OTHER_HOSTS, RunMetering};

/// Most distinct hosts one run's record keeps apart; the rest are summed
/// under [`OTHER_HOSTS`]. A run talks to its ATS and perhaps a token and a
/// file host; a plugin allowed `*.example.com` could otherwise grow the
/// record with every subdomain it cares to call.
pub const MAX_METERED_HOSTS: usize = 32;

/// The Prometheus `host` label of an exchange with a host the manifest does
/// not allow (only the operator's grant for the connection does). Grants are
/// per connection, so their hosts are not bounded by the installed plugins:
/// they share one label.
pub const GRANTED_HOST_LABEL: &str = "granted";

/// What a metered plugin handle is used for: a Prometheus label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Activity {
    /// A sync run.
    Sync,
    /// A candidate push.
    Push,
    /// A stage move propagated to the ATS after the push.
    Move,
}

impl Activity {
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Sync => "sync",
            Activity::Push => "push",
            Activity::Move => "move",
        }
    }
}

/// What one run's calls cost so far. Cheap to clone; clones add to the same
/// totals (a run's page fetches run in tasks of their own).
#[derive(Clone, Default)]
pub struct Meter(Option<Arc<Shared>>);

struct Shared {
    plugin: String,
    activity: Activity,
    /// The manifest's allowed hosts: the only host labels exported.
    manifest_hosts: AllowedHosts,
    totals: Mutex<Totals>,
}

#[derive(Default)]
struct Totals {
    cpu: Duration,
    wall: Duration,
    http_wait: Duration,
    exports: BTreeMap<&'static str, ExportTotals>,
    hosts: BTreeMap<String, HostMetering>,
    retries: u64,
    rate_limited: u64,
    store_bytes: u64,
}

#[derive(Default)]
struct ExportTotals {
    calls: u64,
    failed: u64,
    cpu: Duration,
    wall: Duration,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Meter(off)"),
            Some(s) => f.debug_struct("Meter").field("plugin", &s.plugin).field("activity", &s.activity).finish(),
        }
    }
}

impl Meter {
    /// A meter that measures nothing.
    pub fn off() -> Meter {
        Meter(None)
    }

    /// A meter for calls of `manifest`'s plugin made for `activity`.
    pub fn new(manifest: &Manifest, activity: Activity) -> Meter {
        Meter(Some(Arc::new(Shared {
            plugin: manifest.id.clone(),
            activity,
            manifest_hosts: manifest.allowed_hosts.clone(),
            totals: Mutex::default(),
        })))
    }

    /// Whether this meter measures.
    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// The caller tried again after a failed attempt.
    pub fn retried(&self) {
        let Some(shared) = &self.0 else { return };
        shared.lock().retries += 1;
        crate::metrics::global().plugin_retry(&shared.plugin, shared.activity.as_str());
    }

    /// The caller wrote `bytes` (keys and values) to the store for this
    /// run or push.
    pub fn stored(&self, bytes: u64) {
        let Some(shared) = &self.0 else { return };
        let mut t = shared.lock();
        t.store_bytes = t.store_bytes.saturating_add(bytes);
    }

    /// The push or move this meter measured was recorded, with `bytes`
    /// written to the store over all its attempts: they go to the
    /// Prometheus counter once, here.
    pub fn recorded(&self, bytes: Option<u64>) {
        let (Some(shared), Some(bytes)) = (&self.0, bytes) else { return };
        crate::metrics::global().outbox_store_bytes(&shared.plugin, shared.activity.as_str(), bytes);
    }

    /// The totals so far; `None` when off.
    pub fn report(&self) -> Option<RunMetering> {
        let shared = self.0.as_ref()?;
        let t = shared.lock();
        let exports = t
            .exports
            .iter()
            .map(|(name, e)| {
                let m = ExportMetering {
                    calls: e.calls,
                    failed: e.failed,
                    cpu_micros: micros(e.cpu),
                    wall_micros: micros(e.wall),
                };
                (name.to_string(), m)
            })
            .collect();
        Some(RunMetering {
            plugin_cpu_micros: micros(t.cpu),
            call_wall_micros: micros(t.wall),
            http_wait_micros: micros(t.http_wait),
            exports,
            hosts: t.hosts.clone(),
            retries: t.retries,
            rate_limited: t.rate_limited,
            store_bytes_written: t.store_bytes,
        })
    }

    /// A clock for one call: reads the thread's CPU time only when on.
    pub(super) fn clock(&self) -> CallClock {
        CallClock { on: self.is_on(), cpu_nanos: AtomicU64::new(0) }
    }

    /// One call ended (or failed to start).
    pub(super) fn call_ended(
        &self,
        export: &'static str,
        clock: &CallClock,
        wall: Duration,
        http_wait: Duration,
        outcome: Outcome,
    ) {
        let Some(shared) = &self.0 else { return };
        let cpu = clock.cpu();
        {
            let mut t = shared.lock();
            t.cpu += cpu;
            t.wall += wall;
            t.http_wait += http_wait;
            if outcome == Outcome::ConnectorError(crate::contract::ConnectorErrorKind::RateLimited.as_str()) {
                t.rate_limited += 1;
            }
            let e = t.exports.entry(export).or_default();
            e.calls += 1;
            e.failed += u64::from(outcome != Outcome::Ok);
            e.cpu += cpu;
            e.wall += wall;
        }
        crate::metrics::global().plugin_cpu(&shared.plugin, shared.activity.as_str(), cpu);
    }

    /// One HTTP exchange of the `http` import: `sent` request body bytes to
    /// `url`, and what came back.
    pub(super) fn exchange(&self, url: &Url, sent: usize, result: &Result<HttpResponse, HttpError>) {
        if !self.is_on() {
            return;
        }
        let mut exchange = HostMetering { requests: 1, bytes_out: sent as u64, ..Default::default() };
        match result {
            Ok(response) => {
                exchange.bytes_in = response.body.len() as u64;
                exchange.status_429 = u64::from(response.status == 429);
            }
            Err(_) => exchange.failed = 1,
        }
        self.count(url, &exchange);
    }

    /// One OAuth token request the host sent for the plugin's calls
    /// ([`super::oauth`]): counted with the host's other exchanges, and
    /// apart as `token_requests`.
    pub(super) fn token_exchange(&self, url: &Url, exchange: &TokenExchange) {
        let Some(sent) = exchange.sent_bytes.filter(|_| self.is_on()) else { return };
        let mut counted = HostMetering { requests: 1, token_requests: 1, bytes_out: sent, ..Default::default() };
        match exchange.answered {
            Some((status, bytes)) => {
                counted.bytes_in = bytes;
                counted.status_429 = u64::from(status == 429);
            }
            None => counted.failed = 1,
        }
        self.count(url, &counted);
    }

    /// Adds one exchange with `url`'s host to the totals and the counters.
    fn count(&self, url: &Url, exchange: &HostMetering) {
        let Some(shared) = &self.0 else { return };
        {
            let mut t = shared.lock();
            let key = host_key(url);
            let key = if t.hosts.contains_key(&key) || t.hosts.len() < MAX_METERED_HOSTS {
                key
            } else {
                OTHER_HOSTS.to_string()
            };
            t.hosts.entry(key).or_default().add(exchange);
        }
        let label = shared.manifest_hosts.iter().find(|p| p.matches(url)).map_or(GRANTED_HOST_LABEL, |p| p.as_str());
        crate::metrics::global().plugin_http(&shared.plugin, shared.activity.as_str(), label, exchange);
    }
}

/// What one OAuth token request did, filled in as it goes.
#[derive(Debug, Default)]
pub(super) struct TokenExchange {
    /// Request body bytes, once the request was built to be sent (`None`:
    /// nothing was sent).
    pub sent_bytes: Option<u64>,
    /// The status and body bytes of the answer, once read whole (`None`:
    /// no answer, or one past the size cap, or the time ran out).
    pub answered: Option<(u16, u64)>,
}

/// `plugin` with a meter of its own for one candidate push: its CPU time,
/// HTTP exchanges and 429s go to the Prometheus counters with
/// `activity="push"`.
pub fn push_metered(plugin: &super::Plugin) -> super::Plugin {
    plugin.with_meter(Meter::new(plugin.manifest(), Activity::Push))
}

/// `plugin` with a meter of its own for one attempt at propagating a stage
/// move (`activity="move"`).
pub fn move_metered(plugin: &super::Plugin) -> super::Plugin {
    plugin.with_meter(Meter::new(plugin.manifest(), Activity::Move))
}

/// What one outbox attempt made through `metered` (a handle from
/// [`push_metered`] or [`move_metered`]) cost; `None` when no call was made.
/// `retried`: the outbox tries the entry again, counted as a retry on the
/// attempt's cost and on the Prometheus counter, so an entry's summed cost
/// has one retry per attempt before its last.
pub fn attempt_cost(metered: Option<&super::Plugin>, retried: bool) -> Option<RunMetering> {
    let meter = metered?.meter();
    if retried {
        meter.retried();
    }
    meter.report()
}

/// The outbox recorded the push or move `metered` made its last attempt
/// at; `stored`: the store bytes its record counts ([`Meter::recorded`]).
pub fn attempt_recorded(metered: Option<&super::Plugin>, stored: Option<u64>) {
    if let Some(plugin) = metered {
        plugin.meter().recorded(stored);
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Totals> {
        // A poisoned lock only means another recorder panicked mid-update;
        // the totals are still usable.
        self.totals.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `host`, or `host:port` when the URL names a port other than its
/// scheme's default.
fn host_key(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The CPU time of one call, added up poll by poll.
pub(super) struct CallClock {
    on: bool,
    cpu_nanos: AtomicU64,
}

impl CallClock {
    /// The CPU time counted so far.
    pub fn cpu(&self) -> Duration {
        Duration::from_nanos(self.cpu_nanos.load(Ordering::Relaxed))
    }

    /// Runs `future`, adding the thread CPU time of each of its polls.
    pub async fn time<F: Future>(&self, future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        std::future::poll_fn(|cx| {
            if !self.on {
                return future.as_mut().poll(cx);
            }
            let before = thread_cpu_nanos();
            let polled = future.as_mut().poll(cx);
            self.cpu_nanos.fetch_add(thread_cpu_nanos().saturating_sub(before), Ordering::Relaxed);
            polled
        })
        .await
    }
}

/// CPU time of the calling thread, in nanoseconds (0 if the clock cannot be
/// read, which POSIX allows only for an invalid clock id).
#[cfg(unix)]
fn thread_cpu_nanos() -> u64 {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes the timespec it is given, which
    // lives for the whole call.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) } != 0 {
        return 0;
    }
    u64::try_from(now.tv_sec).unwrap_or(0).saturating_mul(1_000_000_000).saturating_add(now.tv_nsec as u64)
}

/// Without a thread CPU clock: nothing is counted.
#[cfg(not(unix))]
fn thread_cpu_nanos() -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest::parse(
            "[plugin]\nid = \"metered\"\nversion = \"1.0.0\"\ncontract = \"0.2.0\"\n\n\
             [network]\nallowed-hosts = [\"https://*.example.com\"]\n",
        )
        .unwrap()
    }

    fn response(status: u16, body: &[u8]) -> Result<HttpResponse, HttpError> {
        Ok(HttpResponse { status, headers: Vec::new(), body: body.to_vec() })
    }

    #[test]
    fn exchanges_are_summed_per_host_with_429s_and_failures() {
        let m = Meter::new(&manifest(), Activity::Sync);
        let a = Url::parse("https://a.example.com/jobs?page=2").unwrap();
        let mock = Url::parse("http://127.0.0.1:8081/jobs").unwrap();
        m.exchange(&a, 0, &response(200, b"0123456789"));
        m.exchange(&a, 4, &response(429, b"slow"));
        m.exchange(&mock, 7, &Err(HttpError::Timeout));
        let r = m.report().unwrap();
        assert_eq!(
            r.hosts["a.example.com"],
            HostMetering { requests: 2, failed: 0, bytes_out: 4, bytes_in: 14, status_429: 1, ..Default::default() }
        );
        assert_eq!(
            r.hosts["127.0.0.1:8081"],
            HostMetering { requests: 1, failed: 1, bytes_out: 7, bytes_in: 0, status_429: 0, ..Default::default() }
        );
    }

    #[test]
    fn token_requests_count_with_their_host_and_apart_and_store_bytes_add_up() {
        let m = Meter::new(&manifest(), Activity::Push);
        let url = Url::parse("https://auth.example.com/token").unwrap();
        m.token_exchange(&url, &TokenExchange { sent_bytes: Some(29), answered: Some((200, 90)) });
        m.token_exchange(&url, &TokenExchange { sent_bytes: Some(29), answered: None });
        m.token_exchange(&url, &TokenExchange { sent_bytes: Some(29), answered: Some((429, 5)) });
        // Never sent (the request could not be built): not a request.
        m.token_exchange(&url, &TokenExchange::default());
        m.exchange(&url, 3, &response(200, b"ok"));
        m.stored(10);
        m.stored(5);
        let r = m.report().unwrap();
        let expected =
            HostMetering { requests: 4, token_requests: 3, failed: 1, bytes_out: 90, bytes_in: 97, status_429: 1 };
        assert_eq!(r.hosts["auth.example.com"], expected);
        assert_eq!(r.http_total().token_requests, 3);
        assert_eq!(r.store_bytes_written, 15);
        // An off meter counts nothing.
        Meter::off().token_exchange(&url, &TokenExchange { sent_bytes: Some(1), answered: None });
    }

    #[test]
    fn hosts_past_the_bound_share_one_entry() {
        let m = Meter::new(&manifest(), Activity::Sync);
        for i in 0..MAX_METERED_HOSTS + 10 {
            let url = Url::parse(&format!("https://h{i}.example.com/")).unwrap();
            m.exchange(&url, 1, &response(200, b"x"));
        }
        let r = m.report().unwrap();
        assert_eq!(r.hosts.len(), MAX_METERED_HOSTS + 1);
        assert_eq!(r.hosts[OTHER_HOSTS].requests, 10);
        // A host seen before the bound keeps its own entry.
        m.exchange(&Url::parse("https://h0.example.com/").unwrap(), 1, &response(200, b"x"));
        assert_eq!(m.report().unwrap().hosts["h0.example.com"].requests, 2);
    }

    #[test]
    fn calls_are_counted_per_export_with_rate_limits_and_failures() {
        let m = Meter::new(&manifest(), Activity::Sync);
        let clock = m.clock();
        let ms = Duration::from_millis;
        m.call_ended("list-jobs", &clock, ms(5), ms(2), Outcome::Ok);
        m.call_ended("list-jobs", &clock, ms(3), ms(1), Outcome::ConnectorError("rate-limited"));
        m.call_ended("list-stages", &clock, ms(1), ms(0), Outcome::Failure("timeout"));
        m.retried();
        let r = m.report().unwrap();
        assert_eq!((r.exports["list-jobs"].calls, r.exports["list-jobs"].failed), (2, 1));
        assert_eq!((r.exports["list-stages"].calls, r.exports["list-stages"].failed), (1, 1));
        assert_eq!((r.rate_limited, r.retries), (1, 1));
        assert_eq!((r.call_wall_micros, r.http_wait_micros), (9_000, 3_000));
        assert_eq!(r.exports["list-jobs"].wall_micros, 8_000);
    }

    #[test]
    fn activities_have_their_own_label() {
        let labels: Vec<&str> = [Activity::Sync, Activity::Push, Activity::Move].map(Activity::as_str).to_vec();
        assert_eq!(labels, ["sync", "push", "move"]);
    }

    #[tokio::test]
    async fn a_clock_counts_the_cpu_its_future_uses_and_an_off_one_nothing() {
        let spin = |n: u64| async move {
            let mut x = 0u64;
            for i in 0..n {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            // A wait counts nothing: the future is not being polled.
            tokio::time::sleep(Duration::from_millis(30)).await;
            x
        };
        let on = Meter::new(&manifest(), Activity::Sync).clock();
        on.time(spin(20_000_000)).await;
        assert!(on.cpu() > Duration::from_micros(500), "{:?}", on.cpu());
        assert!(on.cpu() < Duration::from_secs(5), "{:?}", on.cpu());
        let waited = Meter::new(&manifest(), Activity::Sync).clock();
        waited.time(spin(0)).await;
        assert!(waited.cpu() < Duration::from_millis(20), "the sleep is not CPU: {:?}", waited.cpu());
        let off = Meter::off().clock();
        off.time(spin(1_000_000)).await;
        assert_eq!(off.cpu(), Duration::ZERO);
        assert_eq!(Meter::off().report(), None);
    }
}
