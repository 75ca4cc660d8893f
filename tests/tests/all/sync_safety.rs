//! The sync engine against bad ATS data: listings that come back empty or
//! short, cursors that expire or loop, plugins that never stop listing, and
//! the small things (repeated jobs, padded codes). Real runtime and guest,
//! sled on disk, ATS servers over loopback HTTP.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atsbridge::app::{App, AppError};
use atsbridge::store::{Checkpoint, PositionStatus, RunOutcome, SecretKey, StoreError, Trigger};
use atsbridge::sync::{EngineOptions, ListingMode, NoProgress, RetryPolicy, RunBound, RunOptions, SyncError};
use atsbridge_tests::guests;
use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};

use crate::support::{self, API_KEY, FakeAts};

const FAST_RETRY: RetryPolicy =
    RetryPolicy { max_attempts: 2, base_delay: Duration::from_millis(10), max_delay: Duration::from_millis(20) };
const CONN: &str = "acme-main-ats";

struct Fixture {
    _dir: tempfile::TempDir,
    app: App,
}

impl Fixture {
    /// The well-behaved guest, one connection to the server at `base`.
    async fn new(base: &str, options: EngineOptions) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut app = App::open(dir.path(), Some(SecretKey::generate().unwrap())).unwrap();
        app.engine = app.engine.clone().with_retry(FAST_RETRY).with_options(options);
        support::install(&app.runtime, dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "").await;
        app.store.add_account("Acme", "Europe/Helsinki").unwrap();
        let values = BTreeMap::from([("base-url".to_string(), base.to_string()), ("api-key".into(), API_KEY.into())]);
        let hosts = vec![support::url_origin(base)];
        app.add_connection("acme", "Main ATS", "well-behaved", &values, hosts, None).unwrap();
        Fixture { _dir: dir, app }
    }

    async fn sync(&self, trigger: Trigger) -> Result<atsbridge::store::SyncRun, SyncError> {
        self.app.engine.sync(CONN, trigger, &NoProgress).await
    }

    async fn sync_with(&self, options: RunOptions) -> Result<atsbridge::store::SyncRun, SyncError> {
        self.app.engine.sync_with(CONN, options, &NoProgress).await
    }

    fn position(&self, code: &str) -> atsbridge::store::Position {
        self.app.store.position_by_job(CONN, code).unwrap().unwrap_or_else(|| panic!("no position for {code}"))
    }

    fn open_count(&self) -> usize {
        self.app.store.positions_of_connection(CONN).unwrap().iter().filter(|p| !p.is_closed()).count()
    }

    fn set_checkpoint(&self, cursor: &str, listing_started_unix: i64, written_unix: i64) {
        self.app
            .store
            .update_state(CONN, |s| {
                s.checkpoint = Some(Checkpoint {
                    run_seq: 1,
                    cursor: Some(cursor.to_string()),
                    pages_done: 1,
                    full_listing: true,
                    listing_started_unix,
                    written_unix,
                })
            })
            .unwrap();
    }
}

fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

fn confirmed_full() -> RunOptions {
    RunOptions { mode: ListingMode::Full, confirm_removals: true, ..RunOptions::new(Trigger::Manual) }
}

// ---- 1. the mass-close guard -------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_listing_closes_nothing_and_flags_the_connection_until_confirmed() {
    let ats = support::fake_ats_with(5, 2, Duration::ZERO).await;
    let fx = Fixture::new(&ats.base(), EngineOptions::default()).await;
    fx.sync(Trigger::Scheduled).await.unwrap();
    fx.app.store.set_published(fx.position("J1").id, true).unwrap();
    let open_before = fx.open_count();

    // A key that lost its job permission: 200 with no jobs.
    ats.state.jobs.lock().unwrap().clear();
    let err = fx.sync(Trigger::Scheduled).await.unwrap_err();
    assert!(matches!(err, SyncError::MassClose { empty_listing: true, .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains("--confirm-removals") && message.contains("empty"), "{message}");
    assert_eq!(fx.open_count(), open_before, "nothing was closed");
    assert!(fx.position("J1").published, "nothing was unpublished");
    let state = fx.app.store.state(CONN).unwrap();
    assert!(state.flagged, "the connection is flagged");
    assert!(state.flag_reason.unwrap_or_default().contains("empty"));
    assert!(state.last_full_listing_unix.is_some(), "from the first run only");
    let run = &fx.app.store.runs(CONN, 1).unwrap()[0];
    assert!(matches!(&run.outcome, RunOutcome::Failed { kind, .. } if kind == "mass-close"), "{run:?}");

    // The operator confirms: now they close.
    let run = fx.sync_with(confirmed_full()).await.unwrap();
    assert_eq!(run.counts.removed as usize, open_before);
    assert_eq!(fx.open_count(), 0);
    assert!(!fx.app.store.state(CONN).unwrap().flagged);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_short_listing_past_the_share_is_refused_and_a_wider_share_applies_it() {
    let ats = support::fake_ats_with(20, 5, Duration::ZERO).await;
    let fx = Fixture::new(&ats.base(), EngineOptions::default()).await;
    fx.sync(Trigger::Scheduled).await.unwrap();
    let open_before = fx.open_count();
    assert_eq!(open_before, 15, "every fourth job is closed in the ATS");

    // Six of fifteen open jobs missing (40% > 20%): refused.
    for n in [1, 2, 3, 5, 6, 7] {
        ats.remove(&format!("J{n}"));
    }
    let err = fx.sync(Trigger::Scheduled).await.unwrap_err();
    assert!(matches!(err, SyncError::MassClose { closing: 6, open: 15, empty_listing: false, .. }), "{err}");
    assert_eq!(fx.open_count(), open_before);

    // With a share that allows it, the same listing is applied.
    let lenient = EngineOptions { mass_close_share: 0.5, ..EngineOptions::default() };
    let engine = fx.app.engine.clone().with_options(lenient);
    let run = engine.sync(CONN, Trigger::Scheduled, &NoProgress).await.unwrap();
    assert_eq!(run.counts.removed, 6);
    assert_eq!(fx.open_count(), 9);
    assert!(!fx.app.store.state(CONN).unwrap().flagged);
}

// ---- 2. publication comes back on reopen -------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_position_closed_by_the_sync_and_reopened_is_published_again() {
    let ats = support::fake_ats_with(5, 2, Duration::ZERO).await;
    let fx = Fixture::new(&ats.base(), EngineOptions::default()).await;
    fx.sync(Trigger::Scheduled).await.unwrap();
    let (j1, j5) = (fx.position("J1").id, fx.position("J5").id);
    fx.app.store.set_published(j1, true).unwrap();
    fx.app.store.set_published(j5, true).unwrap();

    // J1 disappears from the listing, J5 is closed in the ATS.
    let j1_json = support::job(1);
    ats.remove("J1");
    ats.update("J5", |j| j["status"] = json!("closed"));
    let run = fx.sync(Trigger::Scheduled).await.unwrap();
    assert_eq!((run.counts.removed, run.counts.closed), (1, 1));
    assert!(!fx.position("J1").published && !fx.position("J5").published);

    // Both come back open.
    ats.state.jobs.lock().unwrap().push(j1_json);
    ats.update("J5", |j| j["status"] = json!("open"));
    let run = fx.sync(Trigger::Scheduled).await.unwrap();
    assert_eq!(run.counts.reopened, 2, "{:?}", run.counts);
    for code in ["J1", "J5"] {
        let p = fx.position(code);
        assert_eq!((p.status, p.closed_reason, p.published), (PositionStatus::Open, None, true), "{code}");
    }
    // A position nobody published stays unpublished through the same.
    let j2 = fx.position("J2");
    assert!(!j2.published);
}

// ---- 3. checkpoints ------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_old_checkpoint_is_not_resumed() {
    let ats = support::fake_ats_with(5, 2, Duration::ZERO).await;
    let fx = Fixture::new(&ats.base(), EngineOptions::default()).await;
    fx.sync(Trigger::Scheduled).await.unwrap();
    // An interrupted listing from seven hours ago (the TTL is six).
    fx.set_checkpoint("2", now_unix() - 7 * 3600, now_unix() - 7 * 3600);
    // Every request so far (the scheduled run also read the stages).
    let served = ats.requests().len();
    let run = fx.sync(Trigger::CatchUp).await.unwrap();
    assert_eq!(run.counts.pages, 3, "listed from the first page");
    assert!(ats.requests()[served].path.contains("page=1"), "{:?}", ats.requests()[served]);
    assert!(fx.app.store.state(CONN).unwrap().last_full_listing_unix.unwrap() >= run.started_unix);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cursor_the_ats_refuses_restarts_the_listing_in_the_same_run() {
    let ats = support::fake_ats_with(5, 2, Duration::ZERO).await;
    let fx = Fixture::new(&ats.base(), EngineOptions::default()).await;
    fx.sync(Trigger::Scheduled).await.unwrap();
    ats.remove("J5");
    // A recent checkpoint whose cursor the connector no longer accepts.
    fx.set_checkpoint("expired-cursor", now_unix() - 60, now_unix() - 30);
    let run = fx.sync(Trigger::CatchUp).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded);
    assert_eq!(run.counts.pages, 2, "the whole listing of four jobs, from page 1");
    assert_eq!(run.counts.removed, 1, "a restarted listing is complete: removals are noticed");
    let state = fx.app.store.state(CONN).unwrap();
    assert_eq!((state.consecutive_failures, state.flagged), (0, false));
    assert!(state.last_full_listing_unix.unwrap() >= run.started_unix);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_listing_keeps_its_original_start_and_is_not_a_full_listing() {
    let ats = support::fake_ats_with(5, 2, Duration::ZERO).await;
    let fx = Fixture::new(&ats.base(), EngineOptions::default()).await;
    fx.sync(Trigger::Scheduled).await.unwrap();
    let first_full = fx.app.store.state(CONN).unwrap().last_full_listing_unix;
    ats.remove("J1");
    // The listing started an hour ago and crashed after page 1.
    let listing_start = now_unix() - 3600;
    fx.set_checkpoint("2", listing_start, now_unix() - 60);
    let run = fx.sync(Trigger::CatchUp).await.unwrap();
    assert_eq!(run.counts.pages, 1, "page 2 of the four remaining jobs only");
    assert_eq!(run.counts.removed, 0, "a resumed listing never closes for absence");
    let state = fx.app.store.state(CONN).unwrap();
    assert_eq!(state.last_full_listing_unix, first_full, "a resumed listing is not a complete one");
    let watermark = chrono::DateTime::parse_from_rfc3339(state.changed_since.as_deref().unwrap()).unwrap();
    assert_eq!(watermark.timestamp(), listing_start - 600, "the original listing's start, less the overlap");
}

// ---- 4. per-run and per-connection bounds ------------------------------

/// An ATS that pages forever.
struct EndlessAts {
    addr: std::net::SocketAddr,
    hits: Arc<Mutex<u32>>,
    _task: tokio::task::JoinHandle<()>,
}

impl EndlessAts {
    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
    fn hits(&self) -> u32 {
        *self.hits.lock().unwrap()
    }
}

/// Page N holds `per_page` new jobs with a big description, and always
/// names a next page (`next(N)`).
async fn endless_ats(per_page: u32, description_bytes: usize, next: fn(u32) -> u32) -> EndlessAts {
    #[derive(Clone)]
    struct Endless {
        per_page: u32,
        description: Arc<String>,
        next: fn(u32) -> u32,
        hits: Arc<Mutex<u32>>,
    }
    let state =
        Endless { per_page, description: Arc::new("x".repeat(description_bytes)), next, hits: Arc::new(Mutex::new(0)) };
    let router = axum::Router::new()
        .route(
            "/jobs",
            axum::routing::get(|State(s): State<Endless>, Query(q): Query<BTreeMap<String, String>>| async move {
                let page: u32 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                *s.hits.lock().unwrap() += 1;
                let jobs: Vec<Value> = (0..s.per_page)
                    .map(|i| {
                        let mut j = support::job(page * 1000 + i);
                        j["status"] = json!("open");
                        j["description"] = json!(s.description.as_str());
                        j
                    })
                    .collect();
                Json(json!({"jobs": jobs, "next_page": (s.next)(page)}))
            }),
        )
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    EndlessAts { addr, hits: state.hits, _task: task }
}

fn assert_consistent(fx: &Fixture) -> usize {
    let positions = fx.app.store.positions_of_connection(CONN).unwrap();
    for p in &positions {
        assert_eq!(fx.app.store.position_by_job(CONN, &p.ats_job_code).unwrap().map(|q| q.id), Some(p.id));
    }
    let state = fx.app.store.state(CONN).unwrap();
    assert_eq!(state.position_count as usize, positions.len(), "the stored totals match");
    assert_eq!(state.checkpoint, None, "a failed run leaves no cursor to resume");
    positions.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listing_that_never_ends_stops_at_the_page_bound() {
    let ats = endless_ats(10, 2048, |p| p + 1).await;
    let mut options = EngineOptions::default();
    options.limits.max_pages = 6;
    let fx = Fixture::new(&ats.base(), options).await;
    let err = fx.sync(Trigger::Scheduled).await.unwrap_err();
    assert!(matches!(err, SyncError::RunBound { bound: RunBound::Pages, limit: 6, .. }), "{err}");
    assert!(err.to_string().contains("6 pages"), "{err}");
    assert!(ats.hits() <= 6, "no page past the bound was asked for ({} requests)", ats.hits());
    assert_eq!(assert_consistent(&fx), 60, "what was committed stays");
    assert!(fx.app.store.state(CONN).unwrap().flagged);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_filling_the_disk_stops_at_the_byte_and_connection_bounds() {
    // 10 new 256 KiB jobs a page, forever.
    let ats = endless_ats(10, 256 << 10, |p| p + 1).await;
    let mut options = EngineOptions::default();
    options.limits.max_bytes_per_run = 8 << 20;
    let fx = Fixture::new(&ats.base(), options).await;
    let err = fx.sync(Trigger::Scheduled).await.unwrap_err();
    assert!(matches!(err, SyncError::RunBound { bound: RunBound::Bytes, .. }), "{err}");
    let stored = assert_consistent(&fx);
    assert!((30..=40).contains(&stored), "stopped after about 8 MiB: {stored} positions");
    let bytes = fx.app.store.state(CONN).unwrap().stored_bytes;
    assert!(bytes < 12 << 20, "{bytes} bytes stored");

    // Per connection: the next run may add no more than the quota allows.
    let mut options = EngineOptions::default();
    options.limits.max_positions_per_connection = stored as u64 + 15;
    let engine = fx.app.engine.clone().with_options(options);
    let err = engine.sync(CONN, Trigger::Scheduled, &NoProgress).await.unwrap_err();
    assert!(matches!(err, SyncError::Store(StoreError::ConnectionFull { .. })), "{err}");
    assert_eq!(assert_consistent(&fx), stored + 10, "one more whole page fitted, the next did not");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cursor_cycle_is_noticed() {
    // 1 -> 2 -> 3 -> 2 -> ...
    let ats = endless_ats(3, 10, |p| if p == 3 { 2 } else { p + 1 }).await;
    let fx = Fixture::new(&ats.base(), EngineOptions::default()).await;
    let err = fx.sync(Trigger::Scheduled).await.unwrap_err();
    assert!(matches!(err, SyncError::CursorCycle { page: 3, .. }), "{err}");
    assert!(ats.hits() <= 4, "{} requests", ats.hits());
    assert_eq!(assert_consistent(&fx), 6, "pages 1 and 2; page 3 pointed back and was not applied");
}

// ---- 7. small things -----------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_job_repeated_within_a_page_is_counted_once_and_codes_are_trimmed() {
    let ats = support::fake_ats_with(3, 10, Duration::ZERO).await;
    {
        let mut jobs = ats.state.jobs.lock().unwrap();
        let mut again = jobs[0].clone();
        again["title"] = json!("Engineer 1 (edited)");
        jobs.push(again);
        jobs[1]["id"] = json!("  J2 ");
    }
    let fx = Fixture::new(&ats.base(), EngineOptions::default()).await;
    let run = fx.sync(Trigger::Scheduled).await.unwrap();
    assert_eq!((run.counts.jobs_seen, run.counts.created), (3, 3), "{:?}", run.counts);
    assert_eq!(fx.position("J1").name.ats, "Engineer 1 (edited)", "the last version wins");
    assert_eq!(fx.position("J2").ats_job_code, "J2");

    // The same job unpadded is the same position.
    ats.state.jobs.lock().unwrap()[1]["id"] = json!("J2");
    let run = fx.sync(Trigger::Scheduled).await.unwrap();
    assert_eq!((run.counts.created, run.counts.removed), (0, 0), "{:?}", run.counts);
    assert_eq!(fx.app.store.positions_of_connection(CONN).unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_held_by_another_host_is_reported_as_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _serving = App::open(dir.path(), Some(SecretKey::generate().unwrap())).unwrap();
    let err = App::open(dir.path(), Some(SecretKey::generate().unwrap())).err().expect("second open fails");
    assert!(matches!(err, AppError::StoreInUse(_)), "{err}");
}

// ---- 6. the scheduler keeps retries across a restart ---------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_host_keeps_a_pending_retry() {
    let ats: FakeAts = support::fake_ats_with(5, 2, Duration::ZERO).await;
    let fx = Fixture::new(&ats.base(), EngineOptions::default()).await;
    fx.sync(Trigger::Scheduled).await.unwrap();
    // The 03:00 run failed and a retry was promised in 20 minutes; then
    // the host restarted.
    // Between now and the next daily slot, which a restored retry must not
    // push back (the slot's place in the day depends on when this runs).
    let slot = fx.app.scheduler(atsbridge::scheduler::SchedulerLimits::default()).unwrap().next_run(CONN).unwrap();
    let now = now_unix();
    let retry_at = now + ((slot.timestamp() - now) / 2).clamp(1, 20 * 60);
    fx.app
        .store
        .update_state(CONN, |s| {
            s.consecutive_failures = 1;
            s.next_retry_unix = Some(retry_at);
        })
        .unwrap();
    let scheduler = fx.app.scheduler(atsbridge::scheduler::SchedulerLimits::default()).unwrap();
    let next = scheduler.next_run(CONN).unwrap();
    assert_eq!(next.timestamp(), retry_at, "the retry, not tomorrow's slot");

    // A success clears it.
    fx.sync(Trigger::Retry).await.unwrap();
    assert_eq!(fx.app.store.state(CONN).unwrap().next_retry_unix, None);
}

// ---- the operator's confirmation, through the CLI -------------------------

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_confirms_removals_only_with_a_full_listing() {
    use secrecy::ExposeSecret;

    let ats = support::fake_ats_with(5, 2, Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate().unwrap();
    let key_text = key.to_base64().expose_secret().to_string();
    {
        let app = App::open(dir.path(), Some(key)).unwrap();
        support::install(&app.runtime, dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "").await;
        app.store.add_account("Acme", "UTC").unwrap();
        let base = ats.base();
        let values = BTreeMap::from([("base-url".to_string(), base.clone()), ("api-key".into(), API_KEY.into())]);
        app.add_connection("acme", "Main ATS", "well-behaved", &values, vec![support::url_origin(&base)], None)
            .unwrap();
        app.engine.sync(CONN, Trigger::Scheduled, &NoProgress).await.unwrap();
    }
    ats.state.jobs.lock().unwrap().clear();
    let cli = |args: &[&str]| {
        std::process::Command::new(support::atsbridge_bin())
            .arg("--data-dir")
            .arg(dir.path())
            .args(args)
            .env("ATSBRIDGE_SECRET_KEY", &key_text)
            .env("ATSBRIDGE_LOG", "error")
            .output()
            .unwrap()
    };
    let refused = cli(&["connection", "sync", CONN, "--full"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--confirm-removals"), "{stderr}");

    let without_full = cli(&["connection", "sync", CONN, "--confirm-removals"]);
    assert!(!without_full.status.success(), "--confirm-removals needs --full");

    let confirmed = cli(&["--json", "connection", "sync", CONN, "--full", "--confirm-removals"]);
    assert!(confirmed.status.success(), "{}", String::from_utf8_lossy(&confirmed.stderr));
    let run: Value = serde_json::from_slice(&confirmed.stdout).unwrap();
    assert_eq!(run["counts"]["removed"], 4, "{run}");
}
