//! Runtime benchmark: compile on install, load from the artifact cache,
//! instantiate + a trivial call, and a realistic 500-job `list-jobs` page as
//! a WASM component versus the same connector code compiled natively.
//!
//! `cargo bench -p atsbridge-tests --bench runtime` prints a table; the
//! numbers are recorded in docs/benchmarks.md.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use atsbridge::runtime::{ConnectionContext, EngineOptions, Plugin, Runtime, RuntimeOptions};
use atsbridge_tests::guests;

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    rt.block_on(run());
}

async fn install(rt: &Runtime, root: &Path, id: &str, version: &str, wasm: &str) -> Plugin {
    let dir = root.join(format!("src-{id}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(wasm, dir.join("plugin.wasm")).expect("copy guest");
    std::fs::write(
        dir.join("atsbridge-plugin.toml"),
        format!(
            "[plugin]\nid = \"{id}\"\nversion = \"{version}\"\ncontract = \"0.1.0\"\ncomponent = \"plugin.wasm\"\n"
        ),
    )
    .expect("manifest");
    let source = atsbridge::plugin::install::PluginSource::locate(&dir, None).expect("locate");
    atsbridge::plugin::install::install_from(rt, source).await.expect("install");
    rt.plugin(id).await.expect("load")
}

fn per_iter(total: Duration, n: u32) -> Duration {
    total / n
}

fn row(what: &str, value: Duration, note: &str) {
    println!("| {what:<52} | {:>12.1} µs | {note}", value.as_secs_f64() * 1e6);
}

async fn run() {
    println!("| what | time | note");
    println!("|---|---|---");
    let configs = [
        ("on-demand", None, 0),
        ("pooling", Some(48), 0),
        ("pooling, 8 MiB kept resident (default)", Some(48), 8 << 20),
    ];
    for (label, pooling, keep_resident_bytes) in configs {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = EngineOptions { pooling_instances: pooling, keep_resident_bytes, ..Default::default() };
        let options = RuntimeOptions { engine, ..Default::default() };
        let rt = Runtime::open(dir.path(), options).expect("runtime");

        // Compile on install (Cranelift), median of 3.
        for (name, wasm) in [("well-behaved", guests::WELL_BEHAVED), ("bench-connector", guests::BENCH_CONNECTOR)] {
            let bytes = std::fs::read(wasm).expect("guest");
            let mut times: Vec<Duration> = (0..3)
                .map(|_| {
                    let t = Instant::now();
                    black_box(rt.engine().precompile_component(&bytes).expect("compile"));
                    t.elapsed()
                })
                .collect();
            times.sort();
            row(&format!("compile {name} ({} KiB) [{label}]", bytes.len() / 1024), times[1], "once per install");
        }

        let good = install(&rt, dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED).await;
        let bench = install(&rt, dir.path(), "bench-connector", "0.1.0", guests::BENCH_CONNECTOR).await;

        // Load from the artifact cache (mmap of the compiled artifact).
        let sha = rt.registry().current("well-behaved").expect("installed").record.sha256;
        let n = 200;
        let t = Instant::now();
        for _ in 0..n {
            black_box(
                rt.artifacts()
                    .load_or_compile(rt.engine(), "well-behaved", &sha, || unreachable!("cached"))
                    .expect("load"),
            );
        }
        row(&format!("load from artifact cache [{label}]"), per_iter(t.elapsed(), n), "per host start or upgrade");

        // Instantiate + trivial call: fresh Store, WASI context, instance, info().
        for _ in 0..200 {
            good.info().await.expect("warm-up");
        }
        let n = 5_000;
        let t = Instant::now();
        for _ in 0..n {
            black_box(good.info().await.expect("info"));
        }
        row(&format!("instantiate + info() [{label}]"), per_iter(t.elapsed(), n), "target < 50 µs");

        // 500-job page: WASM vs native.
        let conn = ConnectionContext::new("bench");
        for _ in 0..20 {
            bench.list_jobs(&conn, None, None).await.expect("warm-up");
        }
        let n = 200;
        let t = Instant::now();
        let mut jobs = 0;
        for _ in 0..n {
            jobs = black_box(bench.list_jobs(&conn, None, None).await.expect("list-jobs")).jobs.len();
        }
        let wasm = per_iter(t.elapsed(), n);
        assert_eq!(jobs, 500);
        row(
            &format!("list-jobs, 500-job page, WASM (instantiate included) [{label}]"),
            wasm,
            "decode JSON + map + lift",
        );
        // Where the time goes: instantiating this 2 MiB component, and the
        // guest's own work without handing the jobs to the host.
        let t = Instant::now();
        for _ in 0..n {
            black_box(bench.info().await.expect("info"));
        }
        row(&format!("  of which instantiate + trivial call [{label}]"), per_iter(t.elapsed(), n), "");
        let t = Instant::now();
        for _ in 0..n {
            black_box(bench.list_stages(&conn, None).await.expect("probe"));
        }
        row(
            &format!("  of which guest decode + map, no lift [{label}]"),
            per_iter(t.elapsed(), n),
            "instantiate included",
        );
        let t = Instant::now();
        for _ in 0..n {
            // The same connector code the component runs: decode, map, and
            // build the contract's job page.
            let jobs = bench_connector::logic::decode_page(black_box(bench_connector::PAGE_500)).expect("decode");
            black_box(bench_connector::to_job_page(jobs));
        }
        let native = per_iter(t.elapsed(), n);
        row("list-jobs, 500-job page, same code native", native, "decode JSON + map + build page");
        println!(
            "| ratio WASM / native [{label}] | {:>15.2}x | target within 2x",
            wasm.as_secs_f64() / native.as_secs_f64()
        );
    }
}
