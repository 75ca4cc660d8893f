//! Per-plugin call metrics: how often each plugin is called, how long calls
//! take, and how they fail. Kept in memory, cheap to update from any task.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// How one call ended, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The call returned `Ok`.
    Ok,
    /// The connector returned an error of this kind (`unauthorized`, ...).
    ConnectorError(&'static str),
    /// The host stopped the call: `timeout`, `memory-limit`, `trap`, ...
    Failure(&'static str),
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct FunctionMetrics {
    pub calls: u64,
    pub total_micros: u64,
    pub max_micros: u64,
}

/// A snapshot of one plugin's metrics.
#[derive(Debug, Default, Clone, Serialize)]
pub struct PluginMetrics {
    pub calls: u64,
    pub ok: u64,
    /// Connector errors by kind.
    pub connector_errors: BTreeMap<String, u64>,
    /// Calls the host had to stop, by reason (timeout, memory-limit, trap...).
    pub failures: BTreeMap<String, u64>,
    /// Calls that ended in a wasm trap (timeouts, limits, panics included).
    pub traps: u64,
    pub by_function: BTreeMap<String, FunctionMetrics>,
}

impl PluginMetrics {
    /// Mean duration of all calls.
    pub fn mean_duration(&self) -> Duration {
        let total: u64 = self.by_function.values().map(|f| f.total_micros).sum();
        Duration::from_micros(total.checked_div(self.calls).unwrap_or(0))
    }
}

/// Metrics for every plugin of a runtime.
#[derive(Debug, Default)]
pub struct Metrics {
    plugins: Mutex<HashMap<String, PluginMetrics>>,
}

impl Metrics {
    /// Records one finished call.
    pub fn record(&self, plugin: &str, function: &'static str, took: Duration, outcome: Outcome, trapped: bool) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let failure = match outcome {
            Outcome::Failure(kind) => Some(kind),
            _ => None,
        };
        crate::metrics::global().plugin_call(plugin, function, took, failure, trapped);
        // A poisoned lock only means another recorder panicked mid-update;
        // the counters are still usable.
        let mut plugins = self.plugins.lock().unwrap_or_else(|e| e.into_inner());
        let m = plugins.entry(plugin.to_string()).or_default();
        m.calls += 1;
        match outcome {
            Outcome::Ok => m.ok += 1,
            Outcome::ConnectorError(kind) => *m.connector_errors.entry(kind.to_string()).or_default() += 1,
            Outcome::Failure(kind) => *m.failures.entry(kind.to_string()).or_default() += 1,
        }
        if trapped {
            m.traps += 1;
        }
        let f = m.by_function.entry(function.to_string()).or_default();
        f.calls += 1;
        f.total_micros = f.total_micros.saturating_add(micros);
        f.max_micros = f.max_micros.max(micros);
    }

    /// The metrics of one plugin (zero if never called).
    pub fn plugin(&self, plugin: &str) -> PluginMetrics {
        let plugins = self.plugins.lock().unwrap_or_else(|e| e.into_inner());
        plugins.get(plugin).cloned().unwrap_or_default()
    }

    /// All plugins' metrics, by plugin id.
    pub fn all(&self) -> BTreeMap<String, PluginMetrics> {
        let plugins = self.plugins.lock().unwrap_or_else(|e| e.into_inner());
        plugins.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_outcomes_per_plugin_and_function() {
        let m = Metrics::default();
        m.record("gh", "list-jobs", Duration::from_millis(3), Outcome::Ok, false);
        m.record("gh", "list-jobs", Duration::from_millis(5), Outcome::ConnectorError("rate-limited"), false);
        m.record("gh", "check", Duration::from_millis(1), Outcome::Failure("timeout"), true);
        m.record("lever", "info", Duration::from_millis(1), Outcome::Ok, false);
        let gh = m.plugin("gh");
        assert_eq!((gh.calls, gh.ok, gh.traps), (3, 1, 1));
        assert_eq!(gh.connector_errors["rate-limited"], 1);
        assert_eq!(gh.failures["timeout"], 1);
        assert_eq!(gh.by_function["list-jobs"].calls, 2);
        assert_eq!(gh.by_function["list-jobs"].max_micros, 5000);
        assert_eq!(m.plugin("lever").calls, 1);
        assert_eq!(m.plugin("none").calls, 0);
    }
}
