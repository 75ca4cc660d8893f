//! How `connection runs` shows what each run cost, and `candidates pushes`
//! what each push cost.

use crate::service::metering_dto::RunMeteringDto;
use crate::service::push_history::PushRecordDto;

/// The header of the cost columns.
pub fn header() -> String {
    format!("{:>9} {:>6} {:>6} {:>10} {:>5} {:>6}", "CPU_MS", "CALLS", "HTTP", "BYTES_IN", "429", "RETRY")
}

/// A run's cost columns (`-` for a run without metering).
pub fn cells(metering: Option<&RunMeteringDto>) -> String {
    match metering {
        None => format!("{:>9} {:>6} {:>6} {:>10} {:>5} {:>6}", "-", "-", "-", "-", "-", "-"),
        Some(m) => format!(
            "{:>9} {:>6} {:>6} {:>10} {:>5} {:>6}",
            millis(m.plugin_cpu_micros),
            m.calls,
            m.http_requests,
            m.bytes_in,
            m.status_429,
            m.retries
        ),
    }
}

/// The lines under a run with `--metering`: per export and per host.
pub fn detail(m: &RunMeteringDto) -> Vec<String> {
    let mut lines = vec![format!(
        "      plugin CPU {} ms · calls {} ms wall, {} ms waiting on HTTP · {} rate-limited answers · {} retries · {} store bytes written",
        millis(m.plugin_cpu_micros),
        millis(m.call_wall_micros),
        millis(m.http_wait_micros),
        m.rate_limited,
        m.retries,
        m.store_bytes_written
    )];
    for e in &m.exports {
        lines.push(format!(
            "      export {:<20} {} calls ({} failed) · CPU {} ms · wall {} ms",
            e.export,
            e.calls,
            e.failed,
            millis(e.cpu_micros),
            millis(e.wall_micros)
        ));
    }
    for h in &m.hosts {
        let tokens = match h.token_requests {
            0 => String::new(),
            n => format!(" · {n} of them OAuth token requests"),
        };
        lines.push(format!(
            "      host   {:<20} {} requests ({} failed, {} answered 429) · {} bytes out · {} bytes in{tokens}",
            h.host, h.requests, h.failed, h.status_429, h.bytes_out, h.bytes_in
        ));
    }
    lines
}

/// A candidate's push history: one row per push, its cost's details under it.
pub fn pushes(records: &[PushRecordDto]) -> Vec<String> {
    let mut lines = vec![format!("{:<8} {:<8} {:<12} {:>8} {}", "ENTRY", "OUTCOME", "AT", "ATTEMPTS", header())];
    for r in records {
        let row = format!("{:<8} {:<8} {:<12} {:>8}", r.entry, r.outcome, r.at_unix, r.attempts);
        lines.push(format!("{row} {}", cells(r.metering.as_ref())));
        if let Some(m) = &r.metering {
            lines.extend(detail(m));
        }
        if !r.answers_not_sent.is_empty() {
            // Questions are people's text: escaped before a terminal sees them.
            let questions: Vec<String> = r.answers_not_sent.iter().map(|q| crate::display::escape_capped(q)).collect();
            lines.push(format!("      answers not sent (the connector does not take them): {}", questions.join(" · ")));
        }
    }
    lines
}

/// Microseconds as milliseconds with one decimal.
fn millis(micros: u64) -> String {
    format!("{:.1}", micros as f64 / 1000.0)
}
