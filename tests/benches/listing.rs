//! Listing benchmark: the bundled Greenhouse connector listing every job
//! of a mock Greenhouse through the sandbox (nothing stored), against the
//! sync benchmark's native baseline fetching and parsing the same pages,
//! alternately in each round. It is the sync benchmark's "listing only"
//! row on its own: the floor of every sync figure, quick enough to profile
//! and to compare before and after a change.
//!
//! ```sh
//! cargo bench -p atsbridge-tests --bench listing [-- JOBS]
//! LISTING_BENCH_RUNS=9 cargo bench -p atsbridge-tests --bench listing -- 20000
//! ```
//!
//! `LISTING_BENCH_COMPONENT=path/to/greenhouse.wasm` installs that build
//! of the connector instead of the bundled one (to compare guest builds
//! without rebuilding the host).
//!
//! The mock runs in its own process (see `sync/mock.rs`), so its CPU is not
//! counted. Times are CPU time of this process (every thread) and wall
//! time; the ratio is the median of the per-round CPU ratios, so a burst of
//! load on a shared machine moves both sides of one round alike.

#[allow(dead_code)] // the full sync is the sync benchmark's
#[path = "sync/baseline.rs"]
mod baseline;
#[allow(dead_code)] // disk and memory figures are the sync benchmark's
#[path = "sync/measure.rs"]
mod measure;
#[allow(dead_code)]
#[path = "sync/mock.rs"]
mod mock;

use std::path::Path;

use atsbridge::app::App;
use atsbridge::plugin::bundled;
use atsbridge::runtime::{ConnectionContext, Plugin};
use atsbridge::store::SecretKey;
use measure::{Sample, measure, median_sample};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Rounds unless `LISTING_BENCH_RUNS` says otherwise.
const DEFAULT_RUNS: usize = 5;
/// Jobs in the mock unless the first argument says otherwise: the sync
/// benchmark's usual figure for quick runs.
const DEFAULT_JOBS: usize = 20_000;

fn main() {
    mock::serve_if_child();
    let jobs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(DEFAULT_JOBS);
    let runs: usize =
        std::env::var("LISTING_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_RUNS).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    let mock = mock::MockProcess::start(jobs);
    rt.block_on(run(&mock, jobs, runs));
}

async fn run(mock: &mock::MockProcess, jobs: usize, runs: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = App::open(dir.path(), Some(SecretKey::generate().expect("key"))).expect("app");
    match std::env::var_os("LISTING_BENCH_COMPONENT") {
        Some(wasm) => install_component(&app, dir.path(), Path::new(&wasm)).await,
        None => drop(bundled::install_bundled(&app.runtime, "greenhouse").await.expect("install")),
    }
    app.store.add_account("Bench", "UTC").expect("account");
    let c = app
        .add_connection("bench", "greenhouse", "greenhouse", &mock.greenhouse_settings(), vec![mock.base_url()], None)
        .expect("connection");
    let plugin = app.runtime.plugin("greenhouse").await.expect("plugin");
    let ctx = app.engine.connection_context(&c).expect("context");
    // Warm-up: the token, the connections, the mock's caches.
    assert_eq!(list_all(&plugin, &ctx).await, jobs);

    let (mut host, mut base, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=runs {
        let (listed, h) = measure("host listing only", list_all(&plugin, &ctx)).await;
        assert_eq!(listed, jobs);
        let (fetched, b) =
            measure("baseline fetch+parse", async { baseline::Baseline::connect(mock).await.fetch_and_parse().await })
                .await;
        assert_eq!(fetched, jobs);
        let ratio = h.cpu.as_secs_f64() / b.cpu.as_secs_f64().max(1e-9);
        eprintln!(
            "round {round}/{runs}: host {:.3} s wall / {:.3} s CPU, baseline {:.3} / {:.3}, CPU ratio {ratio:.2}x",
            h.wall.as_secs_f64(),
            h.cpu.as_secs_f64(),
            b.wall.as_secs_f64(),
            b.cpu.as_secs_f64()
        );
        host.push(h);
        base.push(b);
        ratios.push(ratio);
    }
    report(jobs, &host, &base, &ratios);
}

/// Installs `wasm` as the Greenhouse connector, with the bundled manifest.
async fn install_component(app: &App, root: &Path, wasm: &Path) {
    let manifest = bundled::find("greenhouse").expect("bundled greenhouse").manifest;
    let dir = root.join("greenhouse-src");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("atsbridge-plugin.toml"), manifest).expect("manifest");
    std::fs::copy(wasm, dir.join("greenhouse.wasm")).expect("copy the component");
    let source = atsbridge::plugin::install::PluginSource::locate(&dir, None).expect("locate");
    atsbridge::plugin::install::install_from(&app.runtime, source).await.expect("install");
    eprintln!("installed {} as greenhouse", wasm.display());
}

/// Every page through the plugin; the jobs listed.
async fn list_all(plugin: &Plugin, ctx: &ConnectionContext) -> usize {
    let (mut cursor, mut listed) = (None::<String>, 0);
    loop {
        let page = plugin.list_jobs(ctx, cursor.as_deref(), None).await.expect("page");
        listed += std::hint::black_box(page.jobs).len();
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return listed,
        }
    }
}

fn report(jobs: usize, host: &[Sample], base: &[Sample], ratios: &[f64]) {
    let (h, b) = (median_sample(host), median_sample(base));
    let mut sorted = ratios.to_vec();
    sorted.sort_by(f64::total_cmp);
    let ratio = sorted[sorted.len() / 2];
    let per_job = |d: std::time::Duration| d.as_secs_f64() * 1e6 / jobs as f64;
    println!("Listing, {jobs} jobs (500 a page), median of {} rounds; mock ATS in its own process.", ratios.len());
    println!();
    println!("| what | wall | CPU | CPU per job |");
    println!("|---|---|---|---|");
    println!(
        "| host: listing only (WASM connector, nothing stored) | {:.3} s | {:.3} s | {:.1} µs |",
        h.wall.as_secs_f64(),
        h.cpu.as_secs_f64(),
        per_job(h.cpu)
    );
    println!(
        "| native baseline: fetch and parse only | {:.3} s | {:.3} s | {:.1} µs |",
        b.wall.as_secs_f64(),
        b.cpu.as_secs_f64(),
        per_job(b.cpu)
    );
    println!(
        "| host / baseline, CPU (median of per-round ratios) | | {ratio:.2}x | rounds: {} |",
        ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", ")
    );
}
