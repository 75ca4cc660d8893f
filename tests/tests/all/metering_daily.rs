//! A daily run's cost includes what it did after the job listing: the
//! stage refresh's `list-stages` calls and the lists it cached, and the
//! reconciliation's `candidate-statuses` calls and the moves it recorded.
//! Three scheduled runs of a Greenhouse connection with one candidate
//! pushed to the mock: the first caches every job's pipeline, the second
//! changes nothing, the third finds the candidate rejected in the ATS. Each
//! run's HTTP figures are held to what the mock served during it, and its
//! store bytes to the records it wrote, read back from the store.

use atsbridge::app::App;
use atsbridge::store::{SecretKey, SyncRun, Trigger};
use atsbridge::sync::NoProgress;
use atsbridge_mock_ats::{MockAts, MockConfig, RecordedRequest, Vendor};

use crate::daily_support::CONNECTION;
/// Greenhouse jobs: each has its own pipeline, cached as one list.
const JOBS: usize = 6;
/// Bytes a key of a cached stage list or a candidate record may take at
/// most (connection id and job code, or a candidate id): the slack between
/// the values, read back exactly, and what the run counted.
const MAX_KEY_BYTES: u64 = 64;
/// What the run records of two runs may differ by when they did the same
/// work: their counters' digits (CPU and wall micros, bytes).
const RUN_RECORD_NOISE: u64 = 120;

/// The connection, synced by hand, with one candidate pushed to the mock
/// through the connector and recorded as pushed; the candidate's id.
async fn set_up(app: &App, mock: &MockAts) -> u64 {
    crate::daily_support::greenhouse_with_pushed(app, mock, 1, "daily").await[0]
}

/// A scheduled run, and the requests the mock served during it.
async fn daily(app: &App, mock: &MockAts) -> (SyncRun, Vec<RecordedRequest>) {
    let before = mock.request_count();
    let run = app.engine.sync(CONNECTION, Trigger::Scheduled, &NoProgress).await.unwrap();
    assert!(run.warnings.is_empty(), "{:?}", run.warnings);
    (run, mock.requests().split_off(before))
}

/// The run's HTTP figures are exactly what the mock served, and its calls
/// include the stage refresh's and the reconciliation's.
fn assert_metered(run: &SyncRun, served: &[RecordedRequest]) {
    let m = run.metering.as_ref().expect("a metered run");
    let total = m.http_total();
    let served_in: u64 = served.iter().map(|r| r.response_bytes.unwrap_or(0)).sum();
    let served_out: u64 = served.iter().map(|r| r.request_bytes).sum();
    assert_eq!(
        (total.requests, total.bytes_in, total.bytes_out),
        (served.len() as u64, served_in, served_out),
        "{m:?}"
    );
    assert!(m.exports.get("list-stages").is_some_and(|e| e.calls >= 1), "{m:?}");
    assert_eq!(m.exports.get("candidate-statuses").map(|e| (e.calls, e.failed)), Some((1, 0)), "{m:?}");
}

/// A record's value as the store encodes it: a format byte and its JSON.
fn value_len<T: serde::Serialize>(record: &T) -> u64 {
    1 + serde_json::to_vec(record).unwrap().len() as u64
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daily_run_counts_its_stage_refresh_and_reconciliation_in_its_cost() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(dir.path(), Some(SecretKey::generate().unwrap())).unwrap();
    let mock = MockAts::start(Vendor::Greenhouse, MockConfig { jobs: JOBS, ..Default::default() }).await.unwrap();
    let id = set_up(&app, &mock).await;

    // The first daily run caches every job's pipeline.
    let (first, served) = daily(&app, &mock).await;
    assert_metered(&first, &served);
    let lists = app.store.ats_stage_lists(CONNECTION).unwrap();
    assert!(lists.len() >= JOBS / 2, "{lists:?}");
    let lists_bytes: u64 = lists.iter().map(value_len).sum();

    // The second changes nothing: no list is rewritten, no candidate moved.
    let (second, served) = daily(&app, &mock).await;
    assert_metered(&second, &served);
    assert_eq!(app.store.ats_stage_lists(CONNECTION).unwrap(), lists);
    assert_eq!(app.store.candidate(id).unwrap().unwrap().stage_id, "new-submission", "nothing to reconcile yet");
    let refreshed = first.counts.store_bytes as i64 - second.counts.store_bytes as i64;
    let at_least = (lists_bytes - RUN_RECORD_NOISE) as i64;
    assert!(refreshed >= at_least, "the cached lists ({lists_bytes} bytes) count in the run: {refreshed}");
    let at_most = (lists_bytes + lists.len() as u64 * MAX_KEY_BYTES + RUN_RECORD_NOISE) as i64;
    assert!(refreshed <= at_most, "{refreshed} > {at_most}");

    // The third finds the candidate rejected in the ATS and moves it.
    let application = mock.applications().pop().unwrap().id;
    mock.reject(&application).unwrap();
    let (third, served) = daily(&app, &mock).await;
    assert_metered(&third, &served);
    let candidate = app.store.candidate(id).unwrap().unwrap();
    assert_eq!(candidate.stage_id, "rejected");
    let moved = app.store.stage_moves(id).unwrap().pop().unwrap();
    let reconciled = third.counts.store_bytes as i64 - second.counts.store_bytes as i64;
    let records = (value_len(&candidate) + value_len(&moved) - RUN_RECORD_NOISE) as i64;
    assert!(reconciled >= records, "the candidate and its move ({records} bytes) count in the run: {reconciled}");
    mock.shutdown().await;
}
