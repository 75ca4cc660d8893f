//! Candidate push benchmark: 1,000 candidates pushed through the outbox and
//! the bundled Greenhouse connector to a mock Greenhouse on loopback.
//!
//! Reports throughput, the end-to-end latency of a push (queued to
//! recorded, waiting in the queue included), and the host's own time per
//! push: from the worker taking the entry to its result being committed,
//! minus the time spent in HTTP exchanges with the ATS (so the mock's own
//! time and the loopback round trips are excluded). Goal: host p99 < 5 ms.
//!
//! `cargo bench -p atsbridge-tests --bench outbox [-- CANDIDATES]`

use std::time::{Duration, Instant};

use atsbridge::app::App;
use atsbridge::outbox::{Outbox, OutboxOptions};
use atsbridge::plugin::bundled;
use atsbridge::store::{PositionStatus, PushState, SecretKey, Trigger};
use atsbridge::sync::NoProgress;
use atsbridge_mock_ats::{MockAts, MockConfig, Vendor};

#[path = "../tests/all/outbox_fixture.rs"]
mod outbox_fixture;

/// The `q`-quantile (0..=1) of sorted samples.
fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(micros: u64) -> String {
    format!("{:.2} ms", micros as f64 / 1000.0)
}

fn main() {
    let n: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    rt.block_on(async move {
        let mock =
            MockAts::start(Vendor::Greenhouse, MockConfig { jobs: 8, ..Default::default() }).await.expect("mock");
        let dir = tempfile::tempdir().expect("tempdir");
        let app = App::open(dir.path(), Some(SecretKey::generate().expect("key"))).expect("app");
        bundled::install_bundled(&app.runtime, "greenhouse").await.expect("install");
        app.store.add_account("Bench", "UTC").expect("account");
        let hosts = vec![mock.base_url().trim_end_matches('/').to_string()];
        let c = app
            .add_connection(
                "bench",
                "greenhouse",
                "greenhouse",
                &bundled::mock_settings("greenhouse", &mock),
                hosts,
                None,
            )
            .expect("connection");
        app.engine.sync(&c.id, Trigger::Manual, &NoProgress).await.expect("sync");
        let mut positions = app.store.positions_of_connection(&c.id).expect("positions");
        // Closed jobs take no candidates (the mock seeds some).
        positions.retain(|p| p.status == PositionStatus::Open);
        for p in &positions {
            outbox_fixture::map_first_stage(&app.store, &c.id, &mock, &p.ats_job_code);
        }
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let position = positions[i % positions.len()].id;
            let new = outbox_fixture::new_candidate(
                position,
                format!("Bench Candidate{i}"),
                format!("bench{i}@example.com"),
                "bench",
            );
            ids.push(app.store.create_candidate(new).expect("candidate").0.id);
        }
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        let outbox = Outbox::start(app.engine.clone(), OutboxOptions::default(), stop).expect("outbox");
        // Warm the plugin (load, first OAuth token) outside the measurement.
        app.runtime.plugin("greenhouse").await.expect("plugin");

        let started = Instant::now();
        for &id in &ids {
            app.store.queue_push(id, "new-submission").expect("queue");
            outbox.wake(id);
        }
        let queued = started.elapsed();
        loop {
            if app.store.outbox_candidates().expect("outbox").is_empty() {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(600), "pushes did not finish");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let took = started.elapsed();
        for &id in &ids {
            let candidate = app.store.candidate(id).expect("read").expect("candidate");
            assert!(matches!(candidate.push, PushState::Pushed { .. }), "candidate {id}: {:?}", candidate.push);
        }
        let stats = outbox.stats();
        let mut host = stats.host_micros.clone();
        host.sort_unstable();
        let mut latency = stats.latency_micros.clone();
        latency.sort_unstable();
        assert_eq!(mock.pushed_candidates().len(), n, "every candidate exactly once in the ATS");
        let per_connection = OutboxOptions::default().per_connection;
        println!("| what | result |");
        println!("|---|---|");
        println!("| candidates pushed | {n} ({} retried attempts, {} failed) |", stats.retried, stats.failed);
        println!("| queueing {n} pushes (one transaction each) | {:.1} ms |", queued.as_secs_f64() * 1000.0);
        println!(
            "| throughput | {:.0} pushes/s ({:.2} s, {per_connection} in flight per connection) |",
            n as f64 / took.as_secs_f64(),
            took.as_secs_f64()
        );
        println!(
            "| host time per push, HTTP excluded: p50 / p99 / max | {} / {} / {} (goal p99 < 5 ms) |",
            ms(quantile(&host, 0.5)),
            ms(quantile(&host, 0.99)),
            ms(host.last().copied().unwrap_or(0))
        );
        println!(
            "| queued to recorded, all {n} queued at once: p50 / p99 | {} / {} |",
            ms(quantile(&latency, 0.5)),
            ms(quantile(&latency, 0.99))
        );
        println!("| mock ATS requests | {} |", mock.request_count());
    });
}
