//! What a sync run, a push or a stage move cost, as the API shows it on
//! each run ([`RunDto::metering`](super::dto::RunDto::metering)), each push
//! of a candidate's push history and each move of its stage history.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::{RunCounts, RunMetering};

/// What a run's plugin calls cost. Absent on runs recorded before metering
/// existed and on runs that ended before calling the plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct RunMeteringDto {
    /// CPU time the host's threads spent running the plugin's calls
    /// (instantiation, the plugin's code, the host's work for it such as
    /// scrubbing responses; not the time waiting for the ATS), in µs.
    pub plugin_cpu_micros: u64,
    /// Wall time of the plugin's calls, in µs.
    pub call_wall_micros: u64,
    /// Of that, time spent in HTTP exchanges with the ATS, in µs.
    pub http_wait_micros: u64,
    /// Calls over every export.
    pub calls: u64,
    /// Calls by export, by name.
    pub exports: Vec<ExportMeteringDto>,
    /// HTTP requests the plugin sent through the host, over every host
    /// (OAuth token requests the host sent for it included).
    pub http_requests: u64,
    /// Of which OAuth token requests, over every host.
    pub token_requests: u64,
    /// Request body bytes sent, over every host.
    pub bytes_out: u64,
    /// Response body bytes received, over every host.
    pub bytes_in: u64,
    /// 429 Too Many Requests responses, over every host.
    pub status_429: u64,
    /// HTTP exchanges by host (`host` or `host:port`), by name. At most 32
    /// hosts are kept apart; the rest are summed under `(other)`.
    pub hosts: Vec<HostMeteringDto>,
    /// Attempts the sync made again after a failed one.
    pub retries: u64,
    /// Calls the plugin answered `rate-limited`.
    pub rate_limited: u64,
    /// Bytes (keys and values) of every record the run or push wrote to the
    /// store: positions, events, index entries, its own record, checkpoint
    /// and connection state, cached stages, the candidate moves its
    /// reconciliation recorded; a push: its outbox entry's retries, its
    /// event and the candidate record; a stage move: its outbox entry's
    /// retries and the move's record. Runs recorded before
    /// this was counted show the bytes of their position records only.
    pub store_bytes_written: u64,
}

/// The calls of one export.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct ExportMeteringDto {
    /// `list-jobs`, `list-stages`, ...
    pub export: String,
    pub calls: u64,
    /// Calls that did not return a result: a connector error or a call the
    /// host stopped.
    pub failed: u64,
    pub cpu_micros: u64,
    pub wall_micros: u64,
}

/// The HTTP exchanges with one host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct HostMeteringDto {
    pub host: String,
    /// Requests sent (OAuth token requests included).
    pub requests: u64,
    /// Of which OAuth token requests the host sent for the plugin.
    pub token_requests: u64,
    /// Of which got no response (transport error, timeout, body too large).
    pub failed: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub status_429: u64,
}

impl RunMeteringDto {
    /// The API's view of a run's metering; `counts` gives the store bytes
    /// (of position records only, for a run recorded before every record
    /// was counted).
    pub fn of(m: RunMetering, counts: &RunCounts) -> Self {
        let store_bytes = if counts.store_bytes > 0 { counts.store_bytes } else { counts.bytes_written };
        let mut dto = Self::of_push(m);
        dto.store_bytes_written = store_bytes;
        dto
    }

    /// The API's view of a push's or a stage move's metering (its store
    /// bytes included).
    pub fn of_push(m: RunMetering) -> Self {
        let total = m.http_total();
        RunMeteringDto {
            plugin_cpu_micros: m.plugin_cpu_micros,
            call_wall_micros: m.call_wall_micros,
            http_wait_micros: m.http_wait_micros,
            calls: m.calls(),
            http_requests: total.requests,
            token_requests: total.token_requests,
            bytes_out: total.bytes_out,
            bytes_in: total.bytes_in,
            status_429: total.status_429,
            exports: m
                .exports
                .into_iter()
                .map(|(export, e)| ExportMeteringDto {
                    export,
                    calls: e.calls,
                    failed: e.failed,
                    cpu_micros: e.cpu_micros,
                    wall_micros: e.wall_micros,
                })
                .collect(),
            hosts: m
                .hosts
                .into_iter()
                .map(|(host, h)| HostMeteringDto {
                    host,
                    requests: h.requests,
                    token_requests: h.token_requests,
                    failed: h.failed,
                    bytes_out: h.bytes_out,
                    bytes_in: h.bytes_in,
                    status_429: h.status_429,
                })
                .collect(),
            retries: m.retries,
            rate_limited: m.rate_limited,
            store_bytes_written: m.store_bytes_written,
        }
    }
}
