//! Sync benchmark: a full sync of 100,000 jobs from a mock Greenhouse
//! (500 a page) through the WASM connector into sled, and a resync with
//! nothing changed, each against a plain native program doing the same
//! work in the same run (see `sync/baseline.rs`). The resync is measured
//! twice: as the daily run does it (with the stage refresh and
//! reconciliation, which the baseline does not do) and as a manual full
//! sync (the jobs only), on which the resync goal is measured. The mock runs in its own
//! process, so only this process's CPU time (`getrusage(RUSAGE_SELF)`:
//! every thread of the host, sled and the baseline) is counted.
//!
//! ```sh
//! cargo bench -p atsbridge-tests --bench sync [-- JOBS]
//! SYNC_BENCH_RUNS=5 cargo bench -p atsbridge-tests --bench sync
//! ```
//!
//! With `ATSBRIDGE_PERF_MAP=1`, the host names the connector's compiled
//! functions for `perf` (as `atsbridge --perf-map` does), for profiling
//! the guest's share of a run.
//!
//! Each run uses a fresh store and a fresh baseline database; medians of
//! `SYNC_BENCH_RUNS` runs (default 3) are reported with their ratios.
//! CPU-time ratios are the robust figures on a shared machine; wall times
//! move with whatever else runs.

#[path = "sync/baseline.rs"]
mod baseline;
#[path = "sync/measure.rs"]
mod measure;
#[path = "sync/mock.rs"]
mod mock;

use std::time::Duration;

use atsbridge::app::App;
use atsbridge::plugin::bundled;
use atsbridge::runtime::RuntimeOptions;
use atsbridge::store::{Connection, SecretKey, SyncRun, Trigger};
use atsbridge::sync::{ListingMode, NoProgress, RunOptions};
use measure::{Sample, io_written, measure, median_sample, peak_rss_mib};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs per case unless `SYNC_BENCH_RUNS` says otherwise: few enough for a
/// quick look, enough for a median.
const DEFAULT_RUNS: usize = 3;
/// Jobs in the mock unless the first argument says otherwise.
const DEFAULT_JOBS: usize = 100_000;

/// The goals the benchmark checks its ratios against.
const GOAL_FULL_CPU: f64 = 1.5;
const GOAL_FULL_WALL: f64 = 1.3;
const GOAL_RESYNC_CPU: f64 = 1.5;

#[derive(Default)]
struct Runs {
    /// The first sync as the daily run does it (jobs, then the first stage
    /// refresh and reconciliation).
    host_full: Vec<Sample>,
    /// The first sync of the jobs alone (a manual full sync into a fresh
    /// store): the same work as the baseline's, so the full-sync goal is
    /// measured on it.
    host_full_jobs: Vec<Sample>,
    host_resync: Vec<Sample>,
    /// The no-change job resync: a manual full sync (jobs only, no daily
    /// stage refresh or reconciliation); the resync goal is measured on it.
    host_job_resync: Vec<Sample>,
    host_listing: Vec<Sample>,
    base_sync: Vec<Sample>,
    base_fetch: Vec<Sample>,
    resync_disk_kib: Vec<u64>,
    store_mib: u64,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-9)
}

fn main() {
    mock::serve_if_child();
    let jobs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(DEFAULT_JOBS);
    let n_runs: usize =
        std::env::var("SYNC_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_RUNS).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    let mock = mock::MockProcess::start(jobs);
    let mut runs = Runs::default();
    rt.block_on(async {
        for i in 1..=n_runs {
            host_run(&mock, jobs, &mut runs).await;
            host_jobs_only_run(&mock, jobs, &mut runs).await;
            baseline_run(&mock, jobs, &mut runs).await;
            let last = |v: &[Sample]| v.last().copied().unwrap_or_default();
            eprintln!(
                "run {i}/{n_runs}: host full {:.2} s wall / {:.2} s CPU, jobs only {:.2} / {:.2}, daily resync {:.2} / {:.2}, job resync {:.2} / {:.2}, listing only {:.2} / {:.2}; \
                 baseline sync {:.2} / {:.2}, fetch+parse {:.2} / {:.2}; mock CPU so far {:.1} s",
                secs(last(&runs.host_full).wall),
                secs(last(&runs.host_full).cpu),
                secs(last(&runs.host_full_jobs).wall),
                secs(last(&runs.host_full_jobs).cpu),
                secs(last(&runs.host_resync).wall),
                secs(last(&runs.host_resync).cpu),
                secs(last(&runs.host_job_resync).wall),
                secs(last(&runs.host_job_resync).cpu),
                secs(last(&runs.host_listing).wall),
                secs(last(&runs.host_listing).cpu),
                secs(last(&runs.base_sync).wall),
                secs(last(&runs.base_sync).cpu),
                secs(last(&runs.base_fetch).wall),
                secs(last(&runs.base_fetch).cpu),
                secs(mock.cpu()),
            );
        }
    });
    report(jobs, n_runs, &runs);
}

/// A fresh store: full sync, no-change resync, and the listing alone.
async fn host_run(mock: &mock::MockProcess, jobs: usize, runs: &mut Runs) {
    let (_dir, app, c) = fresh_connection(mock).await;

    let (run, full) = timed_sync("host full sync", &app, &c.id, RunOptions::new(Trigger::Scheduled)).await;
    assert_eq!(run.counts.created as usize, jobs);
    runs.host_full.push(full);

    idle_writes().await; // diagnostic: what sled writes on its own after the full sync
    let (disk_before, _) = io_written();
    let (run, resync) = timed_sync("host resync", &app, &c.id, RunOptions::new(Trigger::Scheduled)).await;
    assert_eq!(run.counts.unchanged as usize, jobs);
    runs.host_resync.push(resync);
    runs.resync_disk_kib.push((io_written().0 - disk_before) >> 10);

    // The job resync: the same listing and page commits, without the daily
    // run's extras (the stage refresh's `list-stages` calls, reconciliation).
    let (run, job_resync) = timed_sync("host job resync", &app, &c.id, manual_full()).await;
    assert_eq!(run.counts.unchanged as usize, jobs);
    runs.host_job_resync.push(job_resync);

    // The floor of the host: every page through the plugin, nothing stored.
    let plugin = app.runtime.plugin("greenhouse").await.expect("plugin");
    let ctx = app.engine.connection_context(&c).expect("context");
    stage_refresh_alone(&app, &plugin, &ctx, &c.id).await;
    let (listed, listing) = measure("host listing only", async {
        let (mut cursor, mut listed) = (None::<String>, 0);
        loop {
            let page = plugin.list_jobs(&ctx, cursor.as_deref(), None).await.expect("page");
            listed += page.jobs.len();
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return listed,
            }
        }
    })
    .await;
    assert_eq!(listed, jobs);
    runs.host_listing.push(listing);
    runs.store_mib = app.store.size_on_disk().expect("size") >> 20;
}

/// A fresh store: a full sync of the jobs alone (manual, full listing),
/// without the daily run's stage refresh and reconciliation, which the
/// baseline does not do.
async fn host_jobs_only_run(mock: &mock::MockProcess, jobs: usize, runs: &mut Runs) {
    let (_dir, app, c) = fresh_connection(mock).await;
    let (run, full) = timed_sync("host full sync, jobs only", &app, &c.id, manual_full()).await;
    assert_eq!(run.counts.created as usize, jobs);
    runs.host_full_jobs.push(full);
}

/// A fresh store with the Greenhouse connector installed and one
/// connection to the mock; the directory goes with the returned guard.
async fn fresh_connection(mock: &mock::MockProcess) -> (tempfile::TempDir, App, Connection) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut options = RuntimeOptions::default();
    // The CLI's boolean spellings: unset, empty, `0` and `false` are off.
    options.engine.perf_map =
        std::env::var("ATSBRIDGE_PERF_MAP").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false" | "no" | "off"));
    let app = App::open_with(dir.path(), Some(SecretKey::generate().expect("key")), options).expect("app");
    bundled::install_bundled(&app.runtime, "greenhouse").await.expect("install");
    app.store.add_account("Bench", "UTC").expect("account");
    let hosts = vec![mock.base_url()];
    let c = app
        .add_connection("bench", "greenhouse", "greenhouse", &mock.greenhouse_settings(), hosts, None)
        .expect("connection");
    (dir, app, c)
}

/// A manual full sync: the jobs alone (no stage refresh, no reconciliation).
fn manual_full() -> RunOptions {
    RunOptions { mode: ListingMode::Full, ..RunOptions::new(Trigger::Manual) }
}

/// One sync of `connection`, flushed to disk, measured under `label`.
async fn timed_sync(label: &str, app: &App, connection: &str, options: RunOptions) -> (SyncRun, Sample) {
    measure(label, async {
        let run = app.engine.sync_with(connection, options, &NoProgress).await.expect(label);
        app.store.flush().expect("flush");
        run
    })
    .await
}

/// With `SYNC_BENCH_IDLE_SECS=N`, waits N seconds before the resync and
/// prints what the process wrote meanwhile: sled's flusher thread cleans the
/// segments a full sync left (rewriting the live pages they hold) whenever
/// it is idle, so writes seen during a resync need not be the resync's.
async fn idle_writes() {
    let Some(secs) = std::env::var("SYNC_BENCH_IDLE_SECS").ok().and_then(|v| v.parse::<u64>().ok()) else { return };
    let (before, _) = io_written();
    let cpu = measure::process_cpu();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let (after, _) = io_written();
    eprintln!(
        "idle {secs} s after the full sync: {} KiB written, {:.2} s CPU",
        (after - before) >> 10,
        secs_f(measure::process_cpu() - cpu)
    );
}

/// With `SYNC_BENCH_PHASES` set, prints what the daily run's stage refresh
/// (one `list-stages` for every job's pipeline, then the per-job cache)
/// costs on its own after the resync: CPU, wall and bytes written.
async fn stage_refresh_alone(
    app: &App,
    plugin: &atsbridge::runtime::Plugin,
    ctx: &atsbridge::runtime::ConnectionContext,
    connection: &str,
) {
    if std::env::var_os("SYNC_BENCH_PHASES").is_none() {
        return;
    }
    let (before, _) = io_written();
    let (report, sample) = measure("host stage refresh", async {
        atsbridge::sync::stage_refresh::refresh_stages(&app.store, plugin, ctx, connection, None).await
    })
    .await;
    let (after, _) = io_written();
    let lists = report.map(|r| r.lists).unwrap_or(0);
    eprintln!(
        "stage refresh alone: {lists} lists, {:.2} s wall / {:.2} s CPU, {} KiB written",
        secs_f(sample.wall),
        secs_f(sample.cpu),
        (after - before) >> 10
    );
}

fn secs_f(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// The native program: a full sync into a fresh sled, then fetch and parse
/// alone.
async fn baseline_run(mock: &mock::MockProcess, jobs: usize, runs: &mut Runs) {
    let dir = tempfile::tempdir().expect("tempdir");
    // The host's store caps sled's cache at 128 MiB; so does the baseline.
    let db = sled::Config::new().path(dir.path()).cache_capacity(128 << 20).open().expect("sled");
    let tree = db.open_tree("jobs").expect("tree");
    let (synced, sample) = measure("baseline sync", async {
        let client = baseline::Baseline::connect(mock).await;
        let n = client.sync(tree).await;
        db.flush_async().await.expect("flush");
        n
    })
    .await;
    assert_eq!(synced, jobs);
    runs.base_sync.push(sample);
    drop(db);

    let (fetched, sample) =
        measure("baseline fetch+parse", async { baseline::Baseline::connect(mock).await.fetch_and_parse().await })
            .await;
    assert_eq!(fetched, jobs);
    runs.base_fetch.push(sample);
}

fn report(jobs: usize, n_runs: usize, runs: &Runs) {
    let full = median_sample(&runs.host_full);
    let full_jobs = median_sample(&runs.host_full_jobs);
    let resync = median_sample(&runs.host_resync);
    let job_resync = median_sample(&runs.host_job_resync);
    let listing = median_sample(&runs.host_listing);
    let base = median_sample(&runs.base_sync);
    let fetch = median_sample(&runs.base_fetch);
    let mut disk = runs.resync_disk_kib.clone();
    disk.sort();
    let goal = |r: f64, g: f64| if r <= g { format!("goal ≤ {g}x: met") } else { format!("goal ≤ {g}x: NOT met") };
    println!("Sync, {jobs} jobs (500 a page), median of {n_runs} runs; mock ATS in its own process, not counted.");
    println!();
    println!("| what | wall | CPU |");
    println!("|---|---|---|");
    let row = |what: &str, s: Sample| println!("| {what} | {:.2} s | {:.2} s |", secs(s.wall), secs(s.cpu));
    row("host: full sync, daily (jobs, first stage refresh, reconciliation)", full);
    row("host: full sync, jobs only (manual full sync: WASM connector, engine, sled)", full_jobs);
    row("host: no-change full resync, daily (jobs, stage refresh, reconciliation)", resync);
    row("host: no-change full resync, jobs only (manual full sync)", job_resync);
    row("host: listing only (WASM connector, nothing stored)", listing);
    row("native baseline: full sync (fetch, parse, one sled record per job, pipelined)", base);
    row("native baseline: fetch and parse only", fetch);
    println!();
    println!("| ratio | wall | CPU | goal |");
    println!("|---|---|---|---|");
    // As for the resync: the goal is measured on the jobs alone, the same
    // work as the baseline's; the daily run's ratio is printed beside it.
    let (fw, fc) = (ratio(full_jobs.wall, base.wall), ratio(full_jobs.cpu, base.cpu));
    println!(
        "| full sync, jobs only / baseline sync | {fw:.2}x | {fc:.2}x | CPU {}; wall {} |",
        goal(fc, GOAL_FULL_CPU),
        goal(fw, GOAL_FULL_WALL)
    );
    let (dw, dc) = (ratio(full.wall, base.wall), ratio(full.cpu, base.cpu));
    println!("| full sync, daily / baseline sync | {dw:.2}x | {dc:.2}x | (+ first stage refresh, reconciliation) |");
    // The baseline makes no stage requests: the goal is measured on the job
    // resync; the daily resync's ratio is printed beside it, extras included.
    let (jw, jc) = (ratio(job_resync.wall, fetch.wall), ratio(job_resync.cpu, fetch.cpu));
    println!(
        "| no-change resync, jobs only / baseline fetch+parse | {jw:.2}x | {jc:.2}x | CPU {} |",
        goal(jc, GOAL_RESYNC_CPU)
    );
    let (rw, rc) = (ratio(resync.wall, fetch.wall), ratio(resync.cpu, fetch.cpu));
    println!(
        "| no-change resync, daily / baseline fetch+parse | {rw:.2}x | {rc:.2}x | (+ stage refresh, reconciliation) |"
    );
    let (lw, lc) = (ratio(listing.wall, fetch.wall), ratio(listing.cpu, fetch.cpu));
    println!("| host listing only / baseline fetch+parse | {lw:.2}x | {lc:.2}x | (where the time goes) |");
    println!();
    println!(
        "Resync disk writes (median) {} KiB; store after the runs {} MiB; peak RSS {} MiB.",
        disk.get(disk.len() / 2).copied().unwrap_or(0),
        runs.store_mib,
        peak_rss_mib()
    );
}
