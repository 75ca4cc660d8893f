//! Scheduler benchmark: memory per idle connection and how late wake-ups
//! are, with 10,000 connections.
//!
//! `cargo bench -p atsbridge-tests --bench scheduler`

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atsbridge::scheduler::{RunReport, Runner, Scheduler, SchedulerLimits};
use atsbridge::store::Trigger;
use chrono::Utc;

const CONNECTIONS: usize = 10_000;

/// Records when each connection fired.
#[derive(Clone, Default)]
struct Recorder {
    fired: Arc<Mutex<HashMap<Arc<str>, chrono::DateTime<Utc>>>>,
}

impl Runner for Recorder {
    fn run(&self, id: Arc<str>, _trigger: Trigger) -> Pin<Box<dyn Future<Output = RunReport> + Send>> {
        self.fired.lock().unwrap().insert(id, Utc::now());
        Box::pin(async { RunReport::Succeeded })
    }
    fn flag(&self, _id: &str, _reason: &str) {}
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()).unwrap_or(0) * 4096
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio");
    rt.block_on(async {
        // Memory: 10k idle connections on the default daily schedule, each
        // in its own time zone's early morning.
        let zones = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "UTC", "Australia/Sydney"];
        let ids: Vec<String> = (0..CONNECTIONS).map(|i| format!("account-{:05}-greenhouse", i)).collect();
        // Measured: the parsed schedules and the queue, as `serve` holds them.
        let before = rss_bytes();
        let idle = Scheduler::new(Recorder::default(), SchedulerLimits::default());
        for (i, id) in ids.iter().enumerate() {
            let schedule = idle.schedule(None, zones[i % zones.len()], id).expect("schedule");
            idle.upsert(id, "greenhouse", schedule, false);
        }
        let after = rss_bytes();
        let per = after.saturating_sub(before) as f64 / CONNECTIONS as f64;
        println!(
            "| scheduler: {CONNECTIONS} idle connections | {:.0} bytes each (RSS delta {} KiB) | goal < 1024 bytes",
            per,
            after.saturating_sub(before) >> 10
        );
        drop(idle);

        // Lateness: 10k connections due over the next 5 seconds.
        let recorder = Recorder::default();
        let s = Scheduler::new(
            recorder.clone(),
            SchedulerLimits { global_concurrency: 256, per_plugin_concurrency: 256, ..Default::default() },
        );
        let start = Utc::now() + chrono::Duration::milliseconds(500);
        let mut planned = HashMap::new();
        for (i, id) in ids.iter().enumerate() {
            let schedule = s.schedule(None, zones[i % zones.len()], id).expect("schedule");
            let at = start + chrono::Duration::microseconds((i as i64) * 500);
            planned.insert(Arc::<str>::from(id.as_str()), at);
            s.upsert_at(id, &format!("plugin-{}", i % 8), schedule, at, Trigger::Scheduled);
        }
        let runner = tokio::spawn(s.clone().run(tokio::time::sleep(Duration::from_secs(8))));
        runner.await.expect("scheduler");
        let fired = recorder.fired.lock().unwrap();
        let mut late: Vec<i64> = planned
            .iter()
            .filter_map(|(id, at)| fired.get(id).map(|f| (*f - *at).num_microseconds().unwrap_or(i64::MAX)))
            .collect();
        late.sort();
        let pct = |p: f64| late[((late.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0;
        println!(
            "| scheduler: wake-up lateness, {} of {CONNECTIONS} fired | p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms |",
            late.len(),
            pct(0.5),
            pct(0.99),
            pct(1.0)
        );
    });
}
