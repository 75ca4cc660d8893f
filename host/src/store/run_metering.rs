//! What a sync run cost, kept on its record: the figures the runtime's
//! [`Meter`](crate::runtime::Meter) collected over the run's plugin calls.
//!
//! Every field has a default, so run records written before metering
//! existed still decode (their `metering` is `None`: not metered, which is
//! not the same as "cost nothing"), and records written by a later version
//! with more fields decode here too.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::runtime::meter::MAX_METERED_HOSTS;

/// The key under which hosts past [`MAX_METERED_HOSTS`] are summed.
pub const OTHER_HOSTS: &str = "(other)";

/// One run's cost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunMetering {
    /// CPU time of the host's threads while they ran the plugin's calls
    /// (instantiation, the guest's code and the host imports' own work, such
    /// as scrubbing responses; not the time waiting for the ATS), in µs.
    pub plugin_cpu_micros: u64,
    /// Wall time of the plugin's calls, from the call holding its pool
    /// slots to its answer, in µs.
    pub call_wall_micros: u64,
    /// Of that wall time, the time spent in HTTP exchanges, in µs.
    pub http_wait_micros: u64,
    /// The plugin's calls, by export (`list-jobs`, `list-stages`, ...).
    pub exports: BTreeMap<String, ExportMetering>,
    /// The HTTP exchanges the plugin made through the host, by host
    /// (`host` or `host:port`).
    pub hosts: BTreeMap<String, HostMetering>,
    /// Attempts the engine made again after a failed one (a rate limit, a
    /// transient error, a timeout).
    pub retries: u64,
    /// Calls the plugin answered `rate-limited`.
    pub rate_limited: u64,
    /// Bytes (keys and values) of the records a push wrote to the store.
    /// A sync run keeps its own in [`RunCounts::store_bytes`](crate::store::RunCounts::store_bytes),
    /// which its last commits still add to after
    /// its metering is taken.
    pub store_bytes_written: u64,
}

/// The calls of one export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExportMetering {
    /// Calls made (instantiated or not).
    pub calls: u64,
    /// Of which did not return `Ok`: a connector error or a call the
    /// host stopped.
    pub failed: u64,
    /// Their CPU time, in µs (see [`RunMetering::plugin_cpu_micros`]).
    pub cpu_micros: u64,
    /// Their wall time, in µs.
    pub wall_micros: u64,
}

/// The HTTP exchanges with one host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostMetering {
    /// Requests sent (a request the host refused before sending is not one),
    /// OAuth token requests included.
    pub requests: u64,
    /// Of which OAuth token requests the host sent for the plugin
    /// (client-credentials grants).
    pub token_requests: u64,
    /// Of which got no response: a transport error, a timeout, a body past
    /// the size cap.
    pub failed: u64,
    /// Request body bytes sent.
    pub bytes_out: u64,
    /// Response body bytes received (as read, before scrubbing).
    pub bytes_in: u64,
    /// Responses with status 429 Too Many Requests.
    pub status_429: u64,
}

impl RunMetering {
    /// Calls over every export.
    pub fn calls(&self) -> u64 {
        self.exports.values().map(|e| e.calls).sum()
    }

    /// Adds `other`'s figures to these: a push's attempts, one by one.
    /// Hosts past [`MAX_METERED_HOSTS`] are summed under [`OTHER_HOSTS`].
    pub fn add(&mut self, other: &RunMetering) {
        self.plugin_cpu_micros = self.plugin_cpu_micros.saturating_add(other.plugin_cpu_micros);
        self.call_wall_micros = self.call_wall_micros.saturating_add(other.call_wall_micros);
        self.http_wait_micros = self.http_wait_micros.saturating_add(other.http_wait_micros);
        for (name, e) in &other.exports {
            let sum = self.exports.entry(name.clone()).or_default();
            sum.calls = sum.calls.saturating_add(e.calls);
            sum.failed = sum.failed.saturating_add(e.failed);
            sum.cpu_micros = sum.cpu_micros.saturating_add(e.cpu_micros);
            sum.wall_micros = sum.wall_micros.saturating_add(e.wall_micros);
        }
        for (host, h) in &other.hosts {
            let key = if self.hosts.contains_key(host) || self.hosts.len() < MAX_METERED_HOSTS {
                host.clone()
            } else {
                OTHER_HOSTS.to_string()
            };
            self.hosts.entry(key).or_default().add(h);
        }
        self.retries = self.retries.saturating_add(other.retries);
        self.rate_limited = self.rate_limited.saturating_add(other.rate_limited);
        self.store_bytes_written = self.store_bytes_written.saturating_add(other.store_bytes_written);
    }

    /// Requests, bytes and 429s over every host.
    pub fn http_total(&self) -> HostMetering {
        self.hosts.values().fold(HostMetering::default(), |mut sum, h| {
            sum.add(h);
            sum
        })
    }
}

impl HostMetering {
    /// Adds `other`'s exchanges to these.
    pub fn add(&mut self, other: &HostMetering) {
        self.requests = self.requests.saturating_add(other.requests);
        self.token_requests = self.token_requests.saturating_add(other.token_requests);
        self.failed = self.failed.saturating_add(other.failed);
        self.bytes_out = self.bytes_out.saturating_add(other.bytes_out);
        self.bytes_in = self.bytes_in.saturating_add(other.bytes_in);
        self.status_429 = self.status_429.saturating_add(other.status_429);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SyncRun;

    /// A run record as the version before metering wrote it.
    const OLD_RUN: &str = r#"{"connection_id":"c1","seq":3,"trigger":"scheduled","started_unix":100,
        "finished_unix":160,"plugin_id":"greenhouse","plugin_version":"1.0.0","full_listing":true,
        "counts":{"pages":2,"jobs_seen":700},"outcome":"succeeded"}"#;

    #[test]
    fn a_run_recorded_before_metering_decodes_as_not_metered() {
        let run: SyncRun = serde_json::from_str(OLD_RUN).unwrap();
        assert_eq!((run.seq, run.counts.jobs_seen), (3, 700));
        assert_eq!(run.metering, None);
        // And is written back without the field.
        assert!(!serde_json::to_string(&run).unwrap().contains("metering"));
    }

    #[test]
    fn a_metering_with_fields_missing_or_unknown_decodes() {
        let partial: RunMetering =
            serde_json::from_str(r#"{"plugin_cpu_micros":5,"hosts":{"a":{"requests":2}},"later_field":1}"#).unwrap();
        assert_eq!(partial.plugin_cpu_micros, 5);
        assert_eq!(partial.hosts["a"], HostMetering { requests: 2, ..Default::default() });
        assert_eq!(partial.retries, 0);
    }

    #[test]
    fn adding_sums_every_figure_and_keeps_the_host_bound() {
        let mut one = RunMetering { plugin_cpu_micros: 5, retries: 1, store_bytes_written: 100, ..Default::default() };
        one.exports.insert("push-candidate".into(), ExportMetering { calls: 1, failed: 1, ..Default::default() });
        one.hosts
            .insert("a".into(), HostMetering { requests: 2, token_requests: 1, bytes_in: 9, ..Default::default() });
        let mut sum = RunMetering::default();
        sum.add(&one);
        sum.add(&one);
        assert_eq!((sum.plugin_cpu_micros, sum.retries, sum.store_bytes_written), (10, 2, 200));
        assert_eq!((sum.calls(), sum.exports["push-candidate"].failed), (2, 2));
        assert_eq!(sum.hosts["a"], HostMetering { requests: 4, token_requests: 2, bytes_in: 18, ..Default::default() });
        for i in 0..MAX_METERED_HOSTS + 5 {
            let mut other = RunMetering::default();
            other.hosts.insert(format!("h{i}"), HostMetering { requests: 1, ..Default::default() });
            sum.add(&other);
        }
        assert_eq!(sum.hosts.len(), MAX_METERED_HOSTS + 1);
        assert_eq!(sum.http_total().requests, 4 + MAX_METERED_HOSTS as u64 + 5);
    }

    #[test]
    fn totals_sum_exports_and_hosts() {
        let mut m = RunMetering::default();
        m.exports.insert("list-jobs".into(), ExportMetering { calls: 3, ..Default::default() });
        m.exports.insert("list-stages".into(), ExportMetering { calls: 1, ..Default::default() });
        m.hosts.insert("a".into(), HostMetering { requests: 2, bytes_in: 10, status_429: 1, ..Default::default() });
        m.hosts.insert("b".into(), HostMetering { requests: 1, bytes_out: 5, ..Default::default() });
        assert_eq!(m.calls(), 4);
        let total = m.http_total();
        assert_eq!((total.requests, total.bytes_in, total.bytes_out, total.status_429), (3, 10, 5, 1));
    }
}
