//! Secret scrubbing benchmark: what the host pays to scrub each response
//! body before a plugin reads it, on a realistic page and on hostile ones.
//!
//! `cargo bench -p atsbridge-tests --bench scrub` prints one row per body:
//! the median over `SCRUB_BENCH_RUNS` rounds (default 7) of the time per
//! scrub, in CPU time of this thread's process, and the throughput.
//!
//! - the 500-job Greenhouse page of the runtime benchmark (no secret in it;
//!   JSON escapes `\n`, `\"`, `\u003c` throughout), as most responses are;
//! - the same page with the secret echoed in every job, some characters of
//!   each echo JSON- or percent-escaped;
//! - 1 MiB of percent escapes of letters and digits (every byte is part of
//!   an escape that decodes to a character a secret form holds);
//! - 1 MiB of plain text made of the secret's own characters, no escape.

use std::hint::black_box;
use std::time::Duration;

use atsbridge::runtime::scrub::Scrubber;

/// A Harvest API key and an OAuth access token, as a Greenhouse connection
/// holds them.
const SECRETS: [&str; 2] = ["4f9c2a7e1b3d5f6a8c0e2b4d6f8a1c3e", "gho_Q7f3a9c1e5b2d8Xy/Zw+k0LmNpRsTuVw"];

/// Rounds unless `SCRUB_BENCH_RUNS` says otherwise.
const DEFAULT_RUNS: usize = 7;
/// Scrubs per round of a body: enough to take a few tens of milliseconds.
const TARGET_BYTES_PER_ROUND: usize = 64 << 20;

#[allow(dead_code)] // the wall-time, disk and memory figures are the sync benchmark's
#[path = "sync/measure.rs"]
mod measure;

fn cpu_now() -> Duration {
    measure::process_cpu()
}

/// `text` with every third character written as an escape, alternately
/// JSON `\u00XX` and percent `%XX`.
fn partly_escaped(text: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        match (i % 3, i % 2) {
            (2, 0) => out.push_str(&format!("\\u{:04x}", c as u32)),
            (2, _) => out.push_str(&format!("%{:02X}", c as u32)),
            _ if c == '/' => out.push_str("\\/"),
            _ => out.push(c),
        }
    }
    out
}

fn bodies() -> Vec<(&'static str, Vec<u8>)> {
    let page = bench_connector::PAGE_500.as_bytes().to_vec();
    let echo = partly_escaped(SECRETS[1]);
    let echoed =
        bench_connector::PAGE_500.replace("\"confidential\":", &format!("\"echo\":\"{echo}\",\"confidential\":"));
    let escapes: Vec<u8> =
        (0..(1 << 20) / 3).flat_map(|i| format!("%{:02X}", b'0' + (i % 43) as u8).into_bytes()).collect();
    let alphabet = SECRETS.concat().into_bytes();
    let plain: Vec<u8> = (0..1 << 20).map(|i| alphabet[(i * 7 + i / 13) % alphabet.len()]).collect();
    vec![
        ("500-job page, no secret", page),
        ("500-job page, partly escaped echo in every job", echoed.into_bytes()),
        ("1 MiB of percent escapes, no secret", escapes),
        ("1 MiB of the secrets' characters, no escape", plain),
    ]
}

fn main() {
    let runs = std::env::var("SCRUB_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_RUNS).max(1);
    let scrubber = Scrubber::new(SECRETS);
    println!("| body | bytes | per scrub (median of {runs}) | throughput |");
    println!("|---|---|---|---|");
    for (name, body) in bodies() {
        let n = (TARGET_BYTES_PER_ROUND / body.len()).max(1);
        let mut rounds: Vec<Duration> = (0..runs)
            .map(|_| {
                let start = cpu_now();
                for _ in 0..n {
                    black_box(scrubber.scrub_bytes(black_box(body.clone())));
                }
                (cpu_now() - start) / n as u32
            })
            .collect();
        rounds.sort();
        let per = rounds[rounds.len() / 2];
        let mib_s = body.len() as f64 / per.as_secs_f64() / f64::from(1 << 20);
        println!("| {name} | {} | {:.1} µs | {mib_s:.0} MiB/s |", body.len(), per.as_secs_f64() * 1e6);
    }
}
