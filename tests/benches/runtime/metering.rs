//! Metering's overhead: the 500-job `list-jobs` through a plugin handle with
//! a meter and through one without, alternately (which goes first swaps each
//! round), in CPU time of this process; the ratio is the median of the
//! per-round ratios.

use std::hint::black_box;

use atsbridge::runtime::meter::{Activity, Meter};
use atsbridge::runtime::{ConnectionContext, Plugin};

use super::{CpuTimer, median, per_iter, row, runs};

/// Calls per side per round.
const CALLS: u32 = 50;

async fn round(plugin: &Plugin, conn: &ConnectionContext) -> std::time::Duration {
    let t = CpuTimer::start();
    for _ in 0..CALLS {
        black_box(plugin.list_jobs(conn, None, None).await.expect("list-jobs"));
    }
    per_iter(t.elapsed(), CALLS)
}

pub async fn compare(plain: &Plugin, conn: &ConnectionContext, label: &str) {
    let meter = Meter::new(plain.manifest(), Activity::Sync);
    let metered = plain.with_meter(meter.clone());
    for _ in 0..10 {
        metered.list_jobs(conn, None, None).await.expect("warm-up");
    }
    let (mut with, mut without, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..runs() {
        let (on, off) = if i % 2 == 0 {
            let on = round(&metered, conn).await;
            (on, round(plain, conn).await)
        } else {
            let off = round(plain, conn).await;
            (round(&metered, conn).await, off)
        };
        ratios.push(on.as_secs_f64() / off.as_secs_f64());
        with.push(on);
        without.push(off);
    }
    let rounds = ratios.len();
    row(&format!("list-jobs, 500-job page, metered [{label}], median of {rounds}"), median(&with), "");
    row(&format!("list-jobs, 500-job page, not metered [{label}], median of {rounds}"), median(&without), "");
    // What the meter itself measured, per call: its CPU figure next to the
    // process CPU time above.
    let report = meter.report().expect("metered");
    let calls = report.exports.get("list-jobs").map_or(0, |e| e.calls).max(1);
    row(
        &format!("  plugin CPU per call as metered [{label}]"),
        std::time::Duration::from_micros(report.plugin_cpu_micros / calls),
        "thread CPU time while polling the call",
    );
    println!(
        "| metering overhead, metered / not metered [{label}], median of {rounds} | {:>+14.2}% | goal < 2% (ratios: {})",
        (median(&ratios) - 1.0) * 100.0,
        ratios.iter().map(|r| format!("{r:.4}")).collect::<Vec<_>>().join(", ")
    );
}
