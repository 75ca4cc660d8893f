//! Wall and CPU time of a piece of work, and medians.

use std::time::{Duration, Instant};

/// CPU time (user + system) of every thread of this process so far. The
/// mock ATS runs in a child process, so its CPU is not in here (children
/// are counted only in `RUSAGE_CHILDREN`, and only once reaped).
pub fn process_cpu() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    assert_eq!(rc, 0, "getrusage failed");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Wall and CPU time of one measured span.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sample {
    pub wall: Duration,
    pub cpu: Duration,
}

/// CLOCK_MONOTONIC in seconds: `perf record -k CLOCK_MONOTONIC` stamps
/// samples with the same clock, so `perf script --time A,B` can cut one
/// measured span out of a profile of the whole benchmark.
fn monotonic_secs() -> f64 {
    // SAFETY: clock_gettime only writes the struct it is given.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// Measures `work` (an async block run to the end on the caller's runtime).
/// With `SYNC_BENCH_SPANS` set, prints each span's monotonic start and end
/// (for profiling one span).
pub async fn measure<T>(what: &str, work: impl std::future::Future<Output = T>) -> (T, Sample) {
    let start = monotonic_secs();
    let (cpu, wall) = (process_cpu(), Instant::now());
    let out = work.await;
    let sample = Sample { wall: wall.elapsed(), cpu: process_cpu() - cpu };
    if std::env::var_os("SYNC_BENCH_SPANS").is_some() {
        eprintln!("span {what}: --time {start:.6},{:.6}", monotonic_secs());
    }
    (out, sample)
}

/// The median of `values` (the upper one of an even count).
pub fn median(values: &[Duration]) -> Duration {
    let mut v = values.to_vec();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Medians of the wall and CPU times of `samples`, taken separately.
pub fn median_sample(samples: &[Sample]) -> Sample {
    Sample {
        wall: median(&samples.iter().map(|s| s.wall).collect::<Vec<_>>()),
        cpu: median(&samples.iter().map(|s| s.cpu).collect::<Vec<_>>()),
    }
}

/// (bytes written to storage, bytes passed to write syscalls) so far.
pub fn io_written() -> (u64, u64) {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field =
        |name: &str| io.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    (field("write_bytes:"), field("wchar:"))
}

/// Peak resident memory of this process, MiB.
pub fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        >> 10
}
