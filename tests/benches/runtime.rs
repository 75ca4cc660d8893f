//! Runtime benchmark: compile on install, load from the artifact cache,
//! instantiate + a trivial call, and a realistic 500-job `list-jobs` page as
//! a WASM component versus the same connector code compiled natively.
//!
//! `cargo bench -p atsbridge-tests --bench runtime` prints a table; the
//! numbers are recorded in docs/benchmarks.md. Instantiate + call and the
//! 500-job page (WASM and native, measured alternately) are medians of
//! `RUNTIME_BENCH_RUNS` rounds (default 5); the ratio is the median of the
//! per-round ratios, so a burst of load on a shared machine moves both
//! sides of one round alike. Those rounds are timed in CPU time of this
//! process (`getrusage`); compile and load times are wall time.
//! `RUNTIME_BENCH_DEFAULT_ONLY=1` skips the on-demand and plain pooling
//! configurations. `RUNTIME_BENCH_COMPONENT=path/to/bench_connector.wasm`
//! also measures that build of the benchmark connector, alternately with
//! the bundled one in each round (to compare guest builds, e.g. SDK
//! changes, in one process under the same load).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use atsbridge::runtime::{ConnectionContext, EngineOptions, Plugin, Runtime, RuntimeOptions};
use atsbridge_tests::guests;

#[path = "runtime/metering.rs"]
mod metering;
#[path = "runtime/setup.rs"]
mod setup;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
            "[plugin]\nid = \"{id}\"\nversion = \"{version}\"\ncontract = \"0.2.0\"\ncomponent = \"plugin.wasm\"\n"
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

/// CPU time of this process (every thread: the tokio workers that run the
/// plugin calls too). The rounds are timed in CPU time, not wall time: on a
/// shared machine other processes' load stretches wall time but not ours.
struct CpuTimer(Duration);

impl CpuTimer {
    fn now() -> Duration {
        // SAFETY: getrusage only writes the struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        tv(usage.ru_utime) + tv(usage.ru_stime)
    }

    fn start() -> CpuTimer {
        CpuTimer(Self::now())
    }

    fn elapsed(&self) -> Duration {
        Self::now().saturating_sub(self.0)
    }
}

/// Rounds per measurement unless `RUNTIME_BENCH_RUNS` says otherwise.
const DEFAULT_RUNS: usize = 5;

fn runs() -> usize {
    std::env::var("RUNTIME_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_RUNS).max(1)
}

fn median<T: PartialOrd + Copy>(values: &[T]) -> T {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

fn row(what: &str, value: Duration, note: &str) {
    println!("| {what:<52} | {:>12.1} µs | {note}", value.as_secs_f64() * 1e6);
}

async fn run() {
    println!("Rounds marked \"median of\" are CPU time of this process per call; compile and load are wall time.");
    println!();
    println!("| what | time | note");
    println!("|---|---|---");
    let configs = [
        ("on-demand", None, 0),
        ("pooling", Some(48), 0),
        ("pooling, 8 MiB kept resident (default)", Some(48), 8 << 20),
    ];
    // `RUNTIME_BENCH_DEFAULT_ONLY=1` measures the default configuration only
    // (a third of the time, for profiling and quick before/after runs).
    let default_only = std::env::var_os("RUNTIME_BENCH_DEFAULT_ONLY").is_some();
    for (label, pooling, keep_resident_bytes) in configs {
        if default_only && !label.ends_with("(default)") {
            continue;
        }
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

        if label.ends_with("(default)") {
            setup::pieces(rt.engine());
        }
        // Instantiate + trivial call: fresh Store, WASI context, instance, info().
        for _ in 0..200 {
            good.info().await.expect("warm-up");
        }
        let n = 2_000;
        let mut rounds = Vec::new();
        for _ in 0..runs() {
            let t = CpuTimer::start();
            for _ in 0..n {
                black_box(good.info().await.expect("info"));
            }
            rounds.push(per_iter(t.elapsed(), n));
        }
        row(&format!("instantiate + info() [{label}], median of {}", rounds.len()), median(&rounds), "target < 25 µs");

        // Another build of the benchmark connector, measured alongside.
        let other = match std::env::var_os("RUNTIME_BENCH_COMPONENT") {
            Some(path) => {
                let path = path.into_string().expect("RUNTIME_BENCH_COMPONENT is UTF-8");
                Some(install(&rt, dir.path(), "bench-connector-other", "0.1.0", &path).await)
            }
            None => None,
        };

        // 500-job page: WASM vs native, alternately, median of the rounds.
        let conn = ConnectionContext::new("bench");
        for _ in 0..20 {
            bench.list_jobs(&conn, None, None).await.expect("warm-up");
            if let Some(other) = &other {
                other.list_jobs(&conn, None, None).await.expect("warm-up");
            }
        }
        let mut other_rounds = OtherBuild::default();
        let n = 50;
        let (mut wasm_rounds, mut native_rounds, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        let (mut probe_instantiate, mut probe_no_lift) = (Vec::new(), Vec::new());
        let mut splits = Vec::new();
        for _ in 0..runs() {
            let t = CpuTimer::start();
            let mut jobs = 0;
            for _ in 0..n {
                jobs = black_box(bench.list_jobs(&conn, None, None).await.expect("list-jobs")).jobs.len();
            }
            let wasm = per_iter(t.elapsed(), n);
            assert_eq!(jobs, 500);
            let t = CpuTimer::start();
            for _ in 0..n {
                // The same connector code the component runs: decode, map, and
                // build the contract's job page.
                let jobs = bench_connector::logic::decode_page(black_box(bench_connector::PAGE_500)).expect("decode");
                black_box(bench_connector::to_job_page(jobs));
            }
            let native = per_iter(t.elapsed(), n);
            // Where the time goes: instantiating this 2 MiB component, and
            // the guest's own work without handing the jobs to the host.
            let t = CpuTimer::start();
            for _ in 0..n {
                black_box(bench.info().await.expect("info"));
            }
            let instantiate = per_iter(t.elapsed(), n);
            probe_instantiate.push(instantiate);
            let t = CpuTimer::start();
            for _ in 0..n {
                black_box(bench.list_stages(&conn, None).await.expect("probe"));
            }
            let no_lift = per_iter(t.elapsed(), n);
            probe_no_lift.push(no_lift);
            if let Some(other) = &other {
                other_rounds.measure(other, &conn, n, native).await;
            }
            ratios.push(wasm.as_secs_f64() / native.as_secs_f64());
            splits.push(RatioSplit::of_round(wasm, no_lift, instantiate, native));
            wasm_rounds.push(wasm);
            native_rounds.push(native);
        }
        let rounds = ratios.len();
        row(
            &format!("list-jobs, 500-job page, WASM (instantiate included) [{label}], median of {rounds}"),
            median(&wasm_rounds),
            "decode JSON + map + lift",
        );
        row(&format!("  of which instantiate + trivial call [{label}]"), median(&probe_instantiate), "");
        row(
            &format!("  of which guest decode + map, no lift [{label}]"),
            median(&probe_no_lift),
            "instantiate included",
        );
        row("list-jobs, 500-job page, same code native", median(&native_rounds), "decode JSON + map + build page");
        println!(
            "| ratio WASM / native [{label}], median of {rounds} | {:>15.2}x | target toward 1.5x (rounds: {})",
            median(&ratios),
            ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", ")
        );
        RatioSplit::report(&splits, label);
        if other.is_some() {
            other_rounds.report(median(&ratios), label);
        }
        // Metering's cost, in the default configuration.
        if label.ends_with("(default)") {
            metering::compare(&bench, &conn, label).await;
        }
    }
}

/// One round's WASM / native ratio taken apart, each part in units of the
/// native time: the guest's own code (decode and map, without
/// instantiating and without the lift), instantiating (with the trivial
/// call), and lifting the page into the host. The parts add up to the
/// round's ratio, so the report shows which part keeps it from 1.5x.
struct RatioSplit {
    guest: f64,
    instantiate: f64,
    lift: f64,
}

impl RatioSplit {
    fn of_round(wasm: Duration, no_lift: Duration, instantiate: Duration, native: Duration) -> RatioSplit {
        let native = native.as_secs_f64();
        let (wasm, no_lift, instantiate) = (wasm.as_secs_f64(), no_lift.as_secs_f64(), instantiate.as_secs_f64());
        RatioSplit {
            guest: (no_lift - instantiate) / native,
            instantiate: instantiate / native,
            lift: (wasm - no_lift) / native,
        }
    }

    /// Medians of each part over the rounds (taken separately, so they
    /// need not add up to the median ratio exactly).
    fn report(splits: &[RatioSplit], label: &str) {
        let part = |f: fn(&RatioSplit) -> f64| median(&splits.iter().map(f).collect::<Vec<_>>());
        println!(
            "|   ratio's parts [{label}], medians | {:>6.2}x guest code + {:.2}x instantiate + {:.2}x lift | the guest's own code alone, without instantiating or the lift, against native",
            part(|s| s.guest),
            part(|s| s.instantiate),
            part(|s| s.lift),
        );
    }
}

/// The rounds of the build named by `RUNTIME_BENCH_COMPONENT`, each taken
/// right after the bundled build's round and against the same native time.
#[derive(Default)]
struct OtherBuild {
    wasm: Vec<Duration>,
    instantiate: Vec<Duration>,
    ratios: Vec<f64>,
}

impl OtherBuild {
    async fn measure(&mut self, plugin: &Plugin, conn: &ConnectionContext, n: u32, native: Duration) {
        let t = CpuTimer::start();
        for _ in 0..n {
            let page = black_box(plugin.list_jobs(conn, None, None).await.expect("list-jobs"));
            assert_eq!(page.jobs.len(), 500);
        }
        let wasm = per_iter(t.elapsed(), n);
        let t = CpuTimer::start();
        for _ in 0..n {
            black_box(plugin.info().await.expect("info"));
        }
        self.instantiate.push(per_iter(t.elapsed(), n));
        self.ratios.push(wasm.as_secs_f64() / native.as_secs_f64());
        self.wasm.push(wasm);
    }

    fn report(&self, bundled_ratio: f64, label: &str) {
        let rounds = self.ratios.len();
        row(&format!("list-jobs, RUNTIME_BENCH_COMPONENT [{label}], median of {rounds}"), median(&self.wasm), "");
        row(&format!("  of which instantiate + trivial call [{label}]"), median(&self.instantiate), "");
        println!(
            "| ratio WASM / native, RUNTIME_BENCH_COMPONENT [{label}] | {:>15.2}x | bundled build {bundled_ratio:.2}x (rounds: {})",
            median(&self.ratios),
            self.ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", ")
        );
    }
}
