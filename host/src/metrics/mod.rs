//! The host's Prometheus metrics, served as text at `/metrics`.
//!
//! One process-wide registry ([`global`]): the sync engine, the runtime
//! and the scheduler record into it where things happen, without a handle
//! threaded through every constructor. Values that are a state rather than
//! an event (flagged connections, store size) are read when scraped.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `atsbridge_sync_runs_total` | counter | `outcome` (succeeded, failed, interrupted) |
//! | `atsbridge_sync_run_duration_seconds` | histogram | |
//! | `atsbridge_sync_jobs_processed_total` | counter | |
//! | `atsbridge_plugin_call_duration_seconds` | histogram | `plugin`, `export` |
//! | `atsbridge_plugin_call_failures_total` | counter | `plugin`, `kind` (timeout, memory-limit, trap, ...) |
//! | `atsbridge_plugin_traps_total` | counter | `plugin` |
//! | `atsbridge_plugin_cpu_seconds_total` | counter | `plugin`, `activity` (sync, push, move) |
//! | `atsbridge_plugin_http_requests_total` | counter | `plugin`, `activity`, `host` |
//! | `atsbridge_plugin_http_failures_total` | counter | `plugin`, `activity`, `host` |
//! | `atsbridge_plugin_http_bytes_total` | counter | `plugin`, `activity`, `host`, `direction` (in, out) |
//! | `atsbridge_plugin_http_429_total` | counter | `plugin`, `activity`, `host` |
//! | `atsbridge_plugin_retries_total` | counter | `plugin`, `activity` |
//! | `atsbridge_sync_store_bytes_written_total` | counter | `plugin` |
//! | `atsbridge_outbox_store_bytes_written_total` | counter | `plugin`, `activity` (push, move) |
//! | `atsbridge_scheduler_lateness_seconds` | histogram | |
//! | `atsbridge_webhook_deliveries_total` | counter | `outcome` (delivered, retried, failed) |
//! | `atsbridge_flagged_connections` | gauge | |
//! | `atsbridge_connections` | gauge | |
//! | `atsbridge_store_size_bytes` | gauge | |
//!
//! The `plugin_cpu`, `plugin_http` and `retries` families come from metered
//! calls (sync runs, their stage refresh and reconciliation included;
//! candidate pushes; stage moves told to the ATS: [`crate::runtime::meter`]); calls per
//! export, metered or not, are the `_count` of the call duration histogram.
//! None is labelled by connection: a host may serve ten thousand of them,
//! and each connection's costs are on its run records (API and CLI). The
//! `host` label is the manifest's allowed-host pattern the request matched
//! (bounded by the installed manifests), or `granted` for a host only the
//! operator's grant for a connection allows.

use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::store::{HostMetering, Store};

/// Run durations: 1 s to about 9 hours, doubling.
const RUN_BUCKETS: (f64, f64, u16) = (1.0, 2.0, 16);
/// Plugin call durations: 100 µs to about 100 s, doubling.
const CALL_BUCKETS: (f64, f64, u16) = (0.0001, 2.0, 21);
/// Scheduler lateness: 10 ms to about 3 hours, doubling.
const LATENESS_BUCKETS: (f64, f64, u16) = (0.01, 2.0, 21);
/// Distinct plugin label values kept: plugin ids come from installs, which
/// an operator controls, but a cap keeps a mistake from growing the
/// registry without bound.
const MAX_PLUGIN_LABELS: usize = 1_000;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    plugin: String,
    export: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    plugin: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PluginLabels {
    plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActivityLabels {
    plugin: String,
    activity: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostLabels {
    plugin: String,
    activity: &'static str,
    host: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BytesLabels {
    plugin: String,
    activity: &'static str,
    host: String,
    direction: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric the host exports.
pub struct HostMetrics {
    registry: Registry,
    sync_runs: Family<OutcomeLabels, Counter>,
    run_duration: Histogram,
    jobs_processed: Counter,
    call_duration: HistogramFamily<CallLabels>,
    call_failures: Family<FailureLabels, Counter>,
    traps: Family<PluginLabels, Counter>,
    metered: Metered,
    lateness: Histogram,
    webhook_deliveries: Family<OutcomeLabels, Counter>,
    flagged: Gauge,
    connections: Gauge,
    store_size: Gauge<i64, std::sync::atomic::AtomicI64>,
    plugins_seen: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// The counters metered calls feed.
struct Metered {
    cpu: Family<ActivityLabels, Counter<f64, AtomicU64>>,
    requests: Family<HostLabels, Counter>,
    failures: Family<HostLabels, Counter>,
    bytes: Family<BytesLabels, Counter>,
    status_429: Family<HostLabels, Counter>,
    retries: Family<ActivityLabels, Counter>,
    store_bytes: Family<PluginLabels, Counter>,
    outbox_store_bytes: Family<ActivityLabels, Counter>,
}

impl Metered {
    fn register(registry: &mut Registry) -> Metered {
        let m = Metered {
            cpu: Family::default(),
            requests: Family::default(),
            failures: Family::default(),
            bytes: Family::default(),
            status_429: Family::default(),
            retries: Family::default(),
            store_bytes: Family::default(),
            outbox_store_bytes: Family::default(),
        };
        registry.register(
            "plugin_cpu_seconds",
            "CPU time of metered plugin calls (instantiation, guest code, host imports' work)",
            m.cpu.clone(),
        );
        registry.register(
            "plugin_http_requests",
            "HTTP requests metered plugin calls sent, by allowed-host pattern",
            m.requests.clone(),
        );
        registry.register(
            "plugin_http_failures",
            "HTTP requests of metered plugin calls that got no response",
            m.failures.clone(),
        );
        registry.register("plugin_http_bytes", "HTTP body bytes of metered plugin calls, in and out", m.bytes.clone());
        registry.register("plugin_http_429", "429 responses to metered plugin calls", m.status_429.clone());
        registry.register("plugin_retries", "Attempts made again after a failed metered call", m.retries.clone());
        registry.register(
            "sync_store_bytes_written",
            "Bytes (keys and values) of every record sync runs wrote, by plugin",
            m.store_bytes.clone(),
        );
        registry.register(
            "outbox_store_bytes_written",
            "Bytes (keys and values) of every record finished pushes and stage moves wrote, by plugin and activity",
            m.outbox_store_bytes.clone(),
        );
        m
    }
}

fn call_histogram() -> Histogram {
    Histogram::new(exponential_buckets(CALL_BUCKETS.0, CALL_BUCKETS.1, CALL_BUCKETS.2))
}

/// The process-wide metrics.
pub fn global() -> &'static HostMetrics {
    static METRICS: OnceLock<HostMetrics> = OnceLock::new();
    METRICS.get_or_init(HostMetrics::new)
}

impl HostMetrics {
    fn new() -> HostMetrics {
        let mut registry = Registry::with_prefix("atsbridge");
        let sync_runs = Family::<OutcomeLabels, Counter>::default();
        registry.register("sync_runs", "Sync runs finished, by outcome", sync_runs.clone());
        let run_duration = Histogram::new(exponential_buckets(RUN_BUCKETS.0, RUN_BUCKETS.1, RUN_BUCKETS.2));
        registry.register("sync_run_duration_seconds", "Duration of sync runs", run_duration.clone());
        let jobs_processed = Counter::default();
        registry.register("sync_jobs_processed", "Jobs listed and applied by finished runs", jobs_processed.clone());
        let call_duration: HistogramFamily<CallLabels> = Family::new_with_constructor(call_histogram);
        registry.register(
            "plugin_call_duration_seconds",
            "Duration of plugin calls, by plugin and export",
            call_duration.clone(),
        );
        let call_failures = Family::<FailureLabels, Counter>::default();
        registry.register(
            "plugin_call_failures",
            "Plugin calls the host stopped, by plugin and kind (timeout, memory-limit, trap, ...)",
            call_failures.clone(),
        );
        let traps = Family::<PluginLabels, Counter>::default();
        registry.register("plugin_traps", "Plugin calls that ended in a trap", traps.clone());
        let metered = Metered::register(&mut registry);
        let lateness = Histogram::new(exponential_buckets(LATENESS_BUCKETS.0, LATENESS_BUCKETS.1, LATENESS_BUCKETS.2));
        registry.register(
            "scheduler_lateness_seconds",
            "How long after its due time a scheduled sync was started",
            lateness.clone(),
        );
        let webhook_deliveries = Family::<OutcomeLabels, Counter>::default();
        registry.register("webhook_deliveries", "Webhook delivery attempts, by outcome", webhook_deliveries.clone());
        let flagged = Gauge::default();
        registry.register("flagged_connections", "Connections flagged for attention", flagged.clone());
        let connections = Gauge::default();
        registry.register("connections", "Connections in the store", connections.clone());
        let store_size = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        registry.register("store_size_bytes", "Size of the store on disk", store_size.clone());
        HostMetrics {
            registry,
            sync_runs,
            run_duration,
            jobs_processed,
            call_duration,
            call_failures,
            traps,
            metered,
            lateness,
            webhook_deliveries,
            flagged,
            connections,
            store_size,
            plugins_seen: Default::default(),
        }
    }

    /// A sync run ended: `outcome` is `succeeded`, `failed` or `interrupted`.
    pub fn sync_finished(&self, outcome: &'static str, took: Duration, jobs: u64) {
        self.sync_runs.get_or_create(&OutcomeLabels { outcome }).inc();
        self.run_duration.observe(took.as_secs_f64());
        self.jobs_processed.inc_by(jobs);
    }

    /// A plugin call ended; `failure` is the host's reason for stopping it.
    pub fn plugin_call(&self, plugin: &str, export: &str, took: Duration, failure: Option<&str>, trapped: bool) {
        let plugin = self.plugin_label(plugin);
        self.call_duration
            .get_or_create(&CallLabels { plugin: plugin.clone(), export: export.to_string() })
            .observe(took.as_secs_f64());
        if let Some(kind) = failure {
            self.call_failures.get_or_create(&FailureLabels { plugin: plugin.clone(), kind: kind.to_string() }).inc();
        }
        if trapped {
            self.traps.get_or_create(&PluginLabels { plugin }).inc();
        }
    }

    /// A metered call used `cpu` (see [`crate::runtime::meter`]).
    pub fn plugin_cpu(&self, plugin: &str, activity: &'static str, cpu: Duration) {
        let labels = ActivityLabels { plugin: self.plugin_label(plugin), activity };
        self.metered.cpu.get_or_create(&labels).inc_by(cpu.as_secs_f64());
    }

    /// A metered call made one HTTP exchange with a host labelled `host`.
    pub fn plugin_http(&self, plugin: &str, activity: &'static str, host: &str, exchange: &HostMetering) {
        let labels = HostLabels { plugin: self.plugin_label(plugin), activity, host: host.to_string() };
        let m = &self.metered;
        m.requests.get_or_create(&labels).inc_by(exchange.requests);
        if exchange.failed > 0 {
            m.failures.get_or_create(&labels).inc_by(exchange.failed);
        }
        if exchange.status_429 > 0 {
            m.status_429.get_or_create(&labels).inc_by(exchange.status_429);
        }
        for (direction, bytes) in [("out", exchange.bytes_out), ("in", exchange.bytes_in)] {
            let HostLabels { plugin, activity, host } = labels.clone();
            m.bytes.get_or_create(&BytesLabels { plugin, activity, host, direction }).inc_by(bytes);
        }
    }

    /// A finished push or stage move (`activity`) wrote `bytes` to the
    /// store, its retries included.
    pub fn outbox_store_bytes(&self, plugin: &str, activity: &'static str, bytes: u64) {
        let labels = ActivityLabels { plugin: self.plugin_label(plugin), activity };
        self.metered.outbox_store_bytes.get_or_create(&labels).inc_by(bytes);
    }

    /// A metered activity tried a call again.
    pub fn plugin_retry(&self, plugin: &str, activity: &'static str) {
        self.metered.retries.get_or_create(&ActivityLabels { plugin: self.plugin_label(plugin), activity }).inc();
    }

    /// A sync run of `plugin` wrote `bytes` of position records.
    pub fn sync_store_bytes(&self, plugin: &str, bytes: u64) {
        self.metered.store_bytes.get_or_create(&PluginLabels { plugin: self.plugin_label(plugin) }).inc_by(bytes);
    }

    /// A scheduled sync started `late` after it was due.
    pub fn scheduler_lateness(&self, late: Duration) {
        self.lateness.observe(late.as_secs_f64());
    }

    /// A webhook delivery attempt ended: `delivered`, `retried` or `failed`.
    pub fn webhook_delivery(&self, outcome: &'static str) {
        self.webhook_deliveries.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// The plugin id as a label, or `other` past [`MAX_PLUGIN_LABELS`].
    fn plugin_label(&self, plugin: &str) -> String {
        let mut seen = self.plugins_seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.contains(plugin) || seen.len() < MAX_PLUGIN_LABELS {
            seen.insert(plugin.to_string());
            plugin.to_string()
        } else {
            "other".to_string()
        }
    }

    /// The Prometheus text exposition, with the store's state read now.
    pub fn render(&self, store: &Store) -> Result<String, crate::store::StoreError> {
        let connections = store.connections()?;
        let mut flagged = 0;
        for c in &connections {
            if store.state(&c.id)?.flagged {
                flagged += 1;
            }
        }
        self.flagged.set(flagged);
        self.connections.set(i64::try_from(connections.len()).unwrap_or(i64::MAX));
        self.store_size.set(i64::try_from(store.size_on_disk()?).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_in_prometheus_text() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), None).unwrap();
        let m = global();
        m.sync_finished("succeeded", Duration::from_secs(3), 12);
        m.plugin_call("greenhouse", "list-jobs", Duration::from_millis(4), None, false);
        m.plugin_call("greenhouse", "list-jobs", Duration::from_millis(4), Some("timeout"), true);
        m.scheduler_lateness(Duration::from_millis(40));
        let text = m.render(&store).unwrap();
        for needle in [
            "atsbridge_sync_runs_total{outcome=\"succeeded\"}",
            "atsbridge_sync_run_duration_seconds_bucket",
            "atsbridge_sync_jobs_processed_total",
            "atsbridge_plugin_call_duration_seconds_bucket{",
            "plugin=\"greenhouse\"",
            "export=\"list-jobs\"",
            "atsbridge_plugin_call_failures_total{",
            "kind=\"timeout\"",
            "atsbridge_plugin_traps_total{plugin=\"greenhouse\"}",
            "atsbridge_scheduler_lateness_seconds_count",
            "atsbridge_flagged_connections 0",
            "atsbridge_store_size_bytes",
        ] {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
    }

    #[test]
    fn metered_costs_are_labelled_by_plugin_activity_and_host_pattern() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), None).unwrap();
        let m = global();
        m.plugin_cpu("metered-test", "sync", Duration::from_millis(1500));
        let exchange = HostMetering { requests: 1, bytes_out: 7, bytes_in: 4096, status_429: 1, ..Default::default() };
        m.plugin_http("metered-test", "sync", "https://*.example.com", &exchange);
        m.plugin_retry("metered-test", "push");
        m.sync_store_bytes("metered-test", 900);
        m.outbox_store_bytes("metered-test", "move", 700);
        let text = m.render(&store).unwrap();
        let labels = r#"plugin="metered-test",activity="sync",host="https://*.example.com""#;
        for needle in [
            r#"atsbridge_plugin_cpu_seconds_total{plugin="metered-test",activity="sync"} 1.5"#.to_string(),
            format!("atsbridge_plugin_http_requests_total{{{labels}}} 1"),
            format!("atsbridge_plugin_http_429_total{{{labels}}} 1"),
            format!(r#"atsbridge_plugin_http_bytes_total{{{labels},direction="in"}} 4096"#),
            format!(r#"atsbridge_plugin_http_bytes_total{{{labels},direction="out"}} 7"#),
            r#"atsbridge_plugin_retries_total{plugin="metered-test",activity="push"} 1"#.to_string(),
            r#"atsbridge_sync_store_bytes_written_total{plugin="metered-test"} 900"#.to_string(),
            r#"atsbridge_outbox_store_bytes_written_total{plugin="metered-test",activity="move"} 700"#.to_string(),
        ] {
            assert!(text.contains(&needle), "{needle} missing from\n{text}");
        }
        // A request with no failure adds no failure series.
        assert!(!text.contains(&format!("atsbridge_plugin_http_failures_total{{{labels}}}")), "{text}");
    }
}
