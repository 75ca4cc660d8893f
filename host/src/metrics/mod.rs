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
//! | `atsbridge_scheduler_lateness_seconds` | histogram | |
//! | `atsbridge_webhook_deliveries_total` | counter | `outcome` (delivered, retried, failed) |
//! | `atsbridge_flagged_connections` | gauge | |
//! | `atsbridge_connections` | gauge | |
//! | `atsbridge_store_size_bytes` | gauge | |

use std::sync::OnceLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::store::Store;

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
    lateness: Histogram,
    webhook_deliveries: Family<OutcomeLabels, Counter>,
    flagged: Gauge,
    connections: Gauge,
    store_size: Gauge<i64, std::sync::atomic::AtomicI64>,
    plugins_seen: std::sync::Mutex<std::collections::HashSet<String>>,
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
}
