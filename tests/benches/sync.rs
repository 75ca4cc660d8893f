//! Sync benchmark: a full sync of 100,000 jobs from a mock Greenhouse on
//! loopback (500 a page) through the WASM connector into sled, then a
//! resync with nothing changed.
//!
//! `cargo bench -p atsbridge-tests --bench sync [-- JOBS]`

use std::time::Instant;

use atsbridge::app::App;
use atsbridge::plugin::bundled;
use atsbridge::store::{SecretKey, Trigger};
use atsbridge::sync::NoProgress;
use atsbridge_mock_ats::{MockAts, MockConfig, Vendor};

/// (bytes written to storage, bytes passed to write syscalls) so far.
fn io_written() -> (u64, u64) {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    let field =
        |name: &str| io.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
    (field("write_bytes:"), field("wchar:"))
}

fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        >> 10
}

fn main() {
    let jobs: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(100_000);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio");
    rt.block_on(async move {
        let mock = MockAts::start(Vendor::Greenhouse, MockConfig { jobs, ..Default::default() }).await.expect("mock");
        let dir = tempfile::tempdir().expect("tempdir");
        let app = App::open(dir.path(), Some(SecretKey::generate().expect("key"))).expect("app");
        bundled::install_bundled(&app.runtime, "greenhouse").await.expect("install");
        app.store.add_account("Bench", "UTC").expect("account");
        let hosts = vec![mock.base_url().trim_end_matches('/').to_string()];
        let c = app
            .add_connection("bench", "greenhouse", "greenhouse", &bundled::mock_settings("greenhouse", &mock), hosts, None)
            .expect("connection");
        println!("| what | result |");
        println!("|---|---|");
        println!("| peak RSS before sync | {} MiB |", peak_rss_mib());

        let t = Instant::now();
        let run = app.engine.sync(&c.id, Trigger::Scheduled, &NoProgress).await.expect("full sync");
        let took = t.elapsed();
        assert_eq!(run.counts.created as usize, jobs);
        println!(
            "| full sync, {jobs} jobs, {} pages | {:.2} s, {:.0} jobs/s, peak RSS {} MiB | goal < 20 s |",
            run.counts.pages, took.as_secs_f64(), jobs as f64 / took.as_secs_f64(), peak_rss_mib()
        );

        app.store.flush().expect("flush");
        let size_before = app.store.size_on_disk().expect("size");
        let (disk_before, wchar_before) = io_written();
        let t = Instant::now();
        let run = app.engine.sync(&c.id, Trigger::Scheduled, &NoProgress).await.expect("resync");
        let took = t.elapsed();
        app.store.flush().expect("flush");
        let (disk_after, wchar_after) = io_written();
        assert_eq!(run.counts.unchanged as usize, jobs);
        println!(
            "| no-change resync, {jobs} jobs | {:.2} s; {} KiB written to disk, {} KiB in write calls, store grew {} KiB | goal < 5 s, near-zero writes |",
            took.as_secs_f64(),
            (disk_after - disk_before) >> 10,
            (wchar_after - wchar_before) >> 10,
            app.store.size_on_disk().expect("size").saturating_sub(size_before) >> 10
        );
        // Once more, to tell the resync's own writes from sled compacting
        // what the first sync wrote.
        let (disk_before, wchar_before) = io_written();
        let t = Instant::now();
        app.engine.sync(&c.id, Trigger::Scheduled, &NoProgress).await.expect("resync");
        let took = t.elapsed();
        app.store.flush().expect("flush");
        let (disk_after, wchar_after) = io_written();
        println!(
            "| second no-change resync | {:.2} s; {} KiB written to disk, {} KiB in write calls |",
            took.as_secs_f64(), (disk_after - disk_before) >> 10, (wchar_after - wchar_before) >> 10
        );
        // The floor: listing every page through the plugin, storing nothing.
        let plugin = app.runtime.plugin("greenhouse").await.expect("plugin");
        let ctx = app.engine.connection_context(&c).expect("context");
        let t = Instant::now();
        let mut cursor: Option<String> = None;
        loop {
            let page = plugin.list_jobs(&ctx, cursor.as_deref(), None).await.expect("page");
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        println!("| listing only (mock ATS + WASM connector, no store), {jobs} jobs | {:.2} s |", t.elapsed().as_secs_f64());
        println!("| store size after {jobs} positions | {} MiB |", app.store.size_on_disk().expect("size") >> 20);
    });
}
