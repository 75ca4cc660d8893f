//! How `connection runs` shows what each run cost, and `candidates pushes`
//! what each push cost.

use crate::service::metering_dto::RunMeteringDto;
use crate::service::push_history::PushRecordDto;

/// The header of the cost columns.
pub(super) fn header() -> String {
    format!("{:>9} {:>6} {:>6} {:>10} {:>5} {:>6}", "CPU_MS", "CALLS", "HTTP", "BYTES_IN", "429", "RETRY")
}

/// A run's cost columns (`-` for a run without metering).
pub(super) fn cells(metering: Option<&RunMeteringDto>) -> String {
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
pub(super) fn detail(m: &RunMeteringDto) -> Vec<String> {
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
pub(super) fn pushes(records: &[PushRecordDto]) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::metering_dto::{ExportMeteringDto, HostMeteringDto};

    #[test]
    fn shows_the_costs_of_a_run_and_dashes_for_an_unmetered_one() {
        let m = RunMeteringDto {
            plugin_cpu_micros: 12_345,
            calls: 3,
            http_requests: 4,
            bytes_in: 5_000,
            status_429: 1,
            retries: 1,
            exports: vec![ExportMeteringDto { export: "list-jobs".into(), calls: 3, failed: 1, ..Default::default() }],
            hosts: vec![HostMeteringDto {
                host: "api.example.com".into(),
                requests: 4,
                status_429: 1,
                bytes_in: 5_000,
                ..Default::default()
            }],
            ..Default::default()
        };
        let row = cells(Some(&m));
        assert_eq!(row.split_whitespace().collect::<Vec<_>>(), ["12.3", "3", "4", "5000", "1", "1"]);
        assert_eq!(cells(None).split_whitespace().count(), header().split_whitespace().count());
        let detail = detail(&m).join("\n");
        assert!(detail.contains("export list-jobs") && detail.contains("3 calls (1 failed)"), "{detail}");
        assert!(detail.contains("api.example.com") && detail.contains("4 requests (0 failed, 1 answered 429)"));
        assert!(detail.contains("5000 bytes in"), "{detail}");
    }

    #[test]
    fn a_push_lists_the_answers_it_did_not_send_escaped() {
        let record = |unsent: Vec<String>| PushRecordDto {
            entry: 7,
            outcome: "pushed".into(),
            at_unix: 0,
            attempts: 1,
            metering: None,
            answers_not_sent: unsent,
        };
        let all_sent = pushes(&[record(vec![])]).join("\n");
        assert!(!all_sent.contains("answers not sent"), "{all_sent}");
        let shown = pushes(&[record(vec!["Notice period".into(), "Visa?\u{1b}[2J".into()])]).join("\n");
        assert!(
            shown.contains("answers not sent (the connector does not take them): Notice period · Visa?"),
            "{shown}"
        );
        assert!(!shown.contains('\u{1b}'), "a terminal escape in a question is printed escaped: {shown}");
    }
}
