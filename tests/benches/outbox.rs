//! Candidate push benchmark: 1,000 candidates pushed through the outbox and
//! the bundled Greenhouse connector to a mock Greenhouse on loopback.
//!
//! Reports throughput, the end-to-end latency of a push (queued to
//! recorded, waiting in the queue included), and the host's own time per
//! push: from the worker taking the entry to its result being committed,
//! minus the time spent in HTTP exchanges with the ATS (so the mock's own
//! time and the loopback round trips are excluded). Goal: host p99 < 5 ms.
//!
//! Each figure is the median over several rounds (default 5) of
//! `CANDIDATES` pushes each, against one host and one mock.
//!
//! `ATS_MS` (default 0) makes the mock take that long over each API request
//! (the OAuth token excepted), as a real ATS does (100-500 ms): the host's
//! time excludes it either way, but it decides how many pushes compete for
//! the host's CPU at once. With 0 ms and 8 pushes in flight, the host asks
//! for more CPU than a small machine has, and the wall-clock host time
//! counts the wait for a CPU; the busy time does not.
//!
//! `cargo bench -p atsbridge-tests --bench outbox [-- CANDIDATES [ROUNDS [IN_FLIGHT [ATS_MS]]]]`
//!
//! With `OUTBOX_BENCH_CHECK=1` the run fails (exit code 1) when the median
//! host p99 misses the goal: for a quiet machine, where the figure means
//! something.

use std::time::{Duration, Instant};

use atsbridge::app::App;
use atsbridge::outbox::{DEFAULT_PER_CONNECTION, Outbox, OutboxOptions, OutboxStats, max_in_flight};
use atsbridge::plugin::bundled;
use atsbridge::store::{PositionStatus, PushState, SecretKey, Trigger};
use atsbridge::sync::NoProgress;
use atsbridge_mock_ats::{Fault, FaultRule, MockAts, MockConfig, Vendor};

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

/// Rounds measured by default; the report gives each figure's median.
const DEFAULT_RUNS: usize = 5;
/// The goal for the host's own time per push, p99 (median over rounds).
const GOAL_HOST_P99_MICROS: u64 = 5_000;

/// One round's figures.
struct Round {
    queued_ms: f64,
    took_s: f64,
    per_second: f64,
    retried: u64,
    failed: u64,
    requests: u64,
    host: Percentiles,
    prepare: Percentiles,
    call: Percentiles,
    commit: Percentiles,
    busy: Percentiles,
    latency: Percentiles,
}

#[derive(Clone, Copy)]
struct Percentiles {
    p50: u64,
    p99: u64,
    max: u64,
}

impl Percentiles {
    fn of(mut samples: Vec<u64>) -> Percentiles {
        samples.sort_unstable();
        Percentiles {
            p50: quantile(&samples, 0.5),
            p99: quantile(&samples, 0.99),
            max: samples.last().copied().unwrap_or(0),
        }
    }
}

impl Round {
    /// The round's figures: the samples `after` has beyond `before`.
    fn of(
        before: &OutboxStats,
        after: &OutboxStats,
        n: usize,
        queued: Duration,
        took: Duration,
        requests: u64,
    ) -> Round {
        let new = |v: &Vec<u64>| v[v.len() - n..].to_vec();
        assert!(after.host_micros.len() - before.host_micros.len() >= n, "every push measured");
        let phases = &after.phases[after.phases.len() - n..];
        Round {
            queued_ms: queued.as_secs_f64() * 1000.0,
            took_s: took.as_secs_f64(),
            per_second: n as f64 / took.as_secs_f64(),
            retried: after.retried - before.retried,
            failed: after.failed - before.failed,
            requests,
            host: Percentiles::of(new(&after.host_micros)),
            prepare: Percentiles::of(phases.iter().map(|p| p.prepare).collect()),
            call: Percentiles::of(phases.iter().map(|p| p.call).collect()),
            commit: Percentiles::of(phases.iter().map(|p| p.commit).collect()),
            busy: Percentiles::of(phases.iter().map(|p| p.busy).collect()),
            latency: Percentiles::of(new(&after.latency_micros)),
        }
    }

    fn summary(&self) -> String {
        format!(
            "{:.0} pushes/s, host p50 {} p99 {} max {}, busy p50 {} p99 {} (prepare p99 {}, call p99 {}, commit p99 {})",
            self.per_second,
            ms(self.host.p50),
            ms(self.host.p99),
            ms(self.host.max),
            ms(self.busy.p50),
            ms(self.busy.p99),
            ms(self.prepare.p99),
            ms(self.call.p99),
            ms(self.commit.p99)
        )
    }
}

/// The median of `values` (the upper one of an even count).
fn median<T: PartialOrd + Copy>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values[values.len() / 2]
}

fn report(rounds: &[Round], n: usize, per_connection: usize, ats: Duration) {
    let med = |f: &dyn Fn(&Round) -> u64| median(rounds.iter().map(f).collect());
    let medf = |f: &dyn Fn(&Round) -> f64| median(rounds.iter().map(f).collect());
    let pct = |f: &dyn Fn(&Round) -> Percentiles| {
        format!("{} / {} / {}", ms(med(&|r| f(r).p50)), ms(med(&|r| f(r).p99)), ms(med(&|r| f(r).max)))
    };
    println!(
        "Medians of {} rounds of {n} pushes each, {per_connection} in flight, the ATS taking {} ms per request:",
        rounds.len(),
        ats.as_millis()
    );
    println!();
    println!("| what | result |");
    println!("|---|---|");
    println!(
        "| candidates pushed per round | {n} ({} retried attempts, {} failed, over all rounds) |",
        rounds.iter().map(|r| r.retried).sum::<u64>(),
        rounds.iter().map(|r| r.failed).sum::<u64>()
    );
    println!("| queueing {n} pushes (one transaction each, one flush) | {:.1} ms |", medf(&|r| r.queued_ms));
    println!(
        "| throughput | {:.0} pushes/s ({:.2} s, {per_connection} in flight per connection) |",
        medf(&|r| r.per_second),
        medf(&|r| r.took_s)
    );
    println!("| host time per push, HTTP excluded: p50 / p99 / max | {} (goal p99 < 5 ms) |", pct(&|r| r.host));
    println!("| of which prepare (store reads, plugin): p50 / p99 / max | {} |", pct(&|r| r.prepare));
    println!(
        "| of which the call outside HTTP (slots, instantiation, guest): p50 / p99 / max | {} |",
        pct(&|r| r.call)
    );
    println!("| of which the commit of the ids: p50 / p99 / max | {} |", pct(&|r| r.commit));
    println!(
        "| host work per push on a worker thread (inside poll; queueing for a CPU excluded): p50 / p99 / max | {} |",
        pct(&|r| r.busy)
    );
    println!(
        "| queued to recorded, all {n} queued at once: p50 / p99 | {} / {} |",
        ms(med(&|r| r.latency.p50)),
        ms(med(&|r| r.latency.p99))
    );
    println!("| mock ATS requests per round | {} |", med(&|r| r.requests));
    println!();
    println!("Host p99 per round: {}", rounds.iter().map(|r| ms(r.host.p99)).collect::<Vec<_>>().join(", "));
}

fn main() {
    let mut numbers = std::env::args().skip(1).filter_map(|a| a.parse::<usize>().ok());
    let n = numbers.next().unwrap_or(1_000).max(1);
    let runs = numbers.next().unwrap_or(DEFAULT_RUNS).max(1);
    let in_flight = numbers.next().unwrap_or(DEFAULT_PER_CONNECTION).max(1);
    let ats_time = Duration::from_millis(numbers.next().unwrap_or(0) as u64);
    // The mock ATS runs on a runtime of its own: its work is the ATS's
    // time, and must not queue in front of the host's tasks on the host's
    // runtime (on a real deployment the ATS is another machine).
    let ats_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("tokio");
    let mock = ats_rt
        .block_on(MockAts::start(Vendor::Greenhouse, MockConfig { jobs: 8, ..Default::default() }))
        .expect("mock");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    let host_p99 = rt.block_on(async {
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
        let (_stop_tx, stop) = tokio::sync::watch::channel(false);
        let options = OutboxOptions { per_connection: in_flight, ..Default::default() };
        let outbox = Outbox::start(app.engine.clone(), options, stop).expect("outbox");
        // Warm the plugin (load, first OAuth token) outside the measurement.
        app.runtime.plugin("greenhouse").await.expect("plugin");
        if !ats_time.is_zero() {
            // Every API request from now on (the sync is done), never the
            // token endpoint: an unscoped rule spares it.
            mock.inject(FaultRule::new(Fault::Slow(ats_time)).times(u32::MAX));
        }

        let mut rounds = Vec::with_capacity(runs);
        for round in 0..runs {
            let mut ids = Vec::with_capacity(n);
            for i in 0..n {
                let position = positions[i % positions.len()].id;
                let new = outbox_fixture::new_candidate(
                    position,
                    format!("Bench Candidate{round}x{i}"),
                    format!("bench{round}x{i}@example.com"),
                    "bench",
                );
                ids.push(app.store.create_candidate(new).expect("candidate").0.id);
            }
            let before = outbox.stats();
            let requests_before = mock.request_count();
            let started = Instant::now();
            for &id in &ids {
                app.store.queue_push(id, "new-submission").expect("queue");
            }
            // As "send to ATS" does, the entries are on disk before the
            // worker is woken (one flush covers the batch here).
            app.store.flush().expect("flush");
            let queued = started.elapsed();
            for &id in &ids {
                outbox.wake(id);
            }
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
            let requests = (mock.request_count() - requests_before) as u64;
            let this = Round::of(&before, &stats, n, queued, took, requests);
            eprintln!("round {}: {}", round + 1, this.summary());
            rounds.push(this);
        }
        assert_eq!(mock.pushed_candidates().len(), n * runs, "every candidate exactly once in the ATS");
        // The worker never has more in flight than the runtime lets one
        // connection call at once: report what it ran with.
        if max_in_flight(in_flight) != in_flight {
            println!("{in_flight} in flight asked for; the worker runs {}", max_in_flight(in_flight));
        }
        report(&rounds, n, max_in_flight(in_flight), ats_time);
        median(rounds.iter().map(|r| r.host.p99).collect())
    });
    drop(mock);
    drop(ats_rt);
    if std::env::var_os("OUTBOX_BENCH_CHECK").is_some() && host_p99 >= GOAL_HOST_P99_MICROS {
        eprintln!("host p99 {} misses the goal of {}", ms(host_p99), ms(GOAL_HOST_P99_MICROS));
        std::process::exit(1);
    }
}
