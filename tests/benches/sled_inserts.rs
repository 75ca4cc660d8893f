//! What sled alone costs per stored record, the question behind the sync
//! benchmark's store share: 20,000 records of 2.4 KB (a position's average
//! size) in pages of 500, written one insert per record (as the native
//! baseline does), two per record (a position and its `job_map` entry) in
//! one batch per page, and two per record in one transaction per page over
//! two trees (as a page commit does), and one per record plus one grouped
//! record per page holding the page's code-to-position entries (what a job
//! map written a page at a time would cost). CPU time of this process
//! (`getrusage`, sled's flusher threads included), each case on a fresh
//! store, median of `SLED_BENCH_RUNS` rounds (default 5), ratios against
//! the one-insert case of the same round.
//!
//! `cargo bench -p atsbridge-tests --bench sled_inserts [-- RECORDS [VALUE_BYTES]]`

use std::time::Duration;

use measure::{median, process_cpu};
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

#[allow(dead_code)] // the wall-time, disk and memory figures are the sync benchmark's
#[path = "sync/measure.rs"]
mod measure;

/// Records per page: the sync's page size.
const PAGE: usize = 500;
const DEFAULT_RUNS: usize = 5;

fn position_key(i: usize) -> [u8; 8] {
    (i as u64).to_be_bytes()
}

fn job_key(i: usize) -> Vec<u8> {
    format!("conn-1\0JOB-{i:06}").into_bytes()
}

/// CPU time of `write` on a fresh store, the final flush included.
fn measure(write: impl FnOnce(&sled::Db)) -> Duration {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sled::open(dir.path()).expect("open sled");
    let start = process_cpu();
    write(&db);
    db.flush().expect("flush");
    process_cpu() - start
}

fn one_insert(db: &sled::Db, records: usize, value: &[u8]) {
    let positions = db.open_tree("positions").expect("tree");
    for page in (0..records).step_by(PAGE) {
        let mut batch = sled::Batch::default();
        for i in page..(page + PAGE).min(records) {
            batch.insert(&position_key(i), value);
        }
        positions.apply_batch(batch).expect("batch");
    }
}

fn two_inserts_batched(db: &sled::Db, records: usize, value: &[u8]) {
    let tree = db.open_tree("positions").expect("tree");
    for page in (0..records).step_by(PAGE) {
        let mut batch = sled::Batch::default();
        for i in page..(page + PAGE).min(records) {
            batch.insert(&position_key(i), value);
            batch.insert(job_key(i), &position_key(i));
        }
        tree.apply_batch(batch).expect("batch");
    }
}

fn two_inserts_transaction(db: &sled::Db, records: usize, value: &[u8]) {
    let positions = db.open_tree("positions").expect("tree");
    let job_map = db.open_tree("job_map").expect("tree");
    for page in (0..records).step_by(PAGE) {
        (&positions, &job_map)
            .transaction(|(positions, job_map)| {
                for i in page..(page + PAGE).min(records) {
                    positions.insert(&position_key(i), value)?;
                    job_map.insert(job_key(i), &position_key(i))?;
                }
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .expect("transaction");
    }
}

/// Bytes of one grouped job-map entry: a code (~10 bytes), a position id
/// and a 16-byte content hash, with their lengths.
const GROUPED_ENTRY_BYTES: usize = 40;

fn one_insert_and_a_grouped_map(db: &sled::Db, records: usize, value: &[u8]) {
    let positions = db.open_tree("positions").expect("tree");
    let job_map = db.open_tree("job_map").expect("tree");
    for page in (0..records).step_by(PAGE) {
        let entries = (page + PAGE).min(records) - page;
        let group = vec![b'j'; entries * GROUPED_ENTRY_BYTES];
        (&positions, &job_map)
            .transaction(|(positions, job_map)| {
                for i in page..(page + PAGE).min(records) {
                    positions.insert(&position_key(i), value)?;
                }
                job_map.insert(&position_key(page), group.as_slice())?;
                Ok::<_, ConflictableTransactionError<()>>(())
            })
            .expect("transaction");
    }
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let records = args.first().copied().unwrap_or(20_000);
    let value = vec![b'x'; args.get(1).copied().unwrap_or(2_400)];
    let runs = std::env::var("SLED_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_RUNS).max(1);
    let (mut one, mut batched, mut tx, mut grouped) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 1..=runs {
        one.push(measure(|db| one_insert(db, records, &value)));
        batched.push(measure(|db| two_inserts_batched(db, records, &value)));
        tx.push(measure(|db| two_inserts_transaction(db, records, &value)));
        grouped.push(measure(|db| one_insert_and_a_grouped_map(db, records, &value)));
        println!(
            "round {round}: one insert {:.3} s, two batched {:.3} s, two in a transaction {:.3} s, one and a grouped map {:.3} s",
            one[round - 1].as_secs_f64(),
            batched[round - 1].as_secs_f64(),
            tx[round - 1].as_secs_f64(),
            grouped[round - 1].as_secs_f64()
        );
    }
    let (one, batched, tx, grouped) = (median(&one), median(&batched), median(&tx), median(&grouped));
    println!("\n{records} records of {} bytes, pages of {PAGE}, CPU, median of {runs}:\n", value.len());
    println!("| writes per record | CPU | ratio |\n|---|---|---|");
    for (what, t) in [
        ("one insert (batch per page)", one),
        ("two inserts (batch per page)", batched),
        ("two inserts (transaction per page, two trees)", tx),
        ("one insert and one grouped job-map record per page (transaction, two trees)", grouped),
    ] {
        println!("| {what} | {:.3} s | {:.2}x |", t.as_secs_f64(), t.as_secs_f64() / one.as_secs_f64());
    }
}
