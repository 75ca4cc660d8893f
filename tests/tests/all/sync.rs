//! The job sync end to end: the real runtime and guest, sled on disk, a
//! fake ATS over loopback HTTP.

use std::collections::BTreeMap;
use std::time::Duration;

use atsbridge::app::{App, AppError};
use atsbridge::store::{CloseReason, FieldEdit, FieldName, PositionStatus, RunOutcome, SecretKey, Trigger};
use atsbridge::sync::{NoProgress, RetryPolicy, SyncError};
use atsbridge_tests::guests;
use serde_json::json;

use crate::support::{self, API_KEY, FakeAts};

const FAST_RETRY: RetryPolicy =
    RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(10), max_delay: Duration::from_millis(50) };

struct Fixture {
    _dir: tempfile::TempDir,
    app: App,
    ats: FakeAts,
}

impl Fixture {
    async fn new(ats: FakeAts) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut app = App::open(dir.path(), Some(SecretKey::generate().unwrap())).unwrap();
        app.engine = app.engine.clone().with_retry(FAST_RETRY);
        support::install(&app.runtime, dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "").await;
        app.store.add_account("Acme", "Europe/Berlin").unwrap();
        let fx = Fixture { _dir: dir, app, ats };
        fx.connect("Main ATS");
        fx
    }

    fn connect(&self, name: &str) -> String {
        let values =
            BTreeMap::from([("base-url".to_string(), self.ats.base()), ("api-key".to_string(), API_KEY.to_string())]);
        let hosts = vec![support::url_origin(&self.ats.base())];
        self.app.add_connection("acme", name, "well-behaved", &values, hosts, None).unwrap().id
    }

    async fn sync(&self, trigger: Trigger) -> Result<atsbridge::store::SyncRun, SyncError> {
        self.app.engine.sync("acme-main-ats", trigger, &NoProgress).await
    }

    fn position(&self, code: &str) -> atsbridge::store::Position {
        self.app
            .store
            .position_by_job("acme-main-ats", code)
            .unwrap()
            .unwrap_or_else(|| panic!("no position for {code}"))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_sync_maps_jobs_to_unpublished_positions() {
    let fx = Fixture::new(support::fake_ats().await).await;
    let run = fx.sync(Trigger::Scheduled).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded);
    assert_eq!((run.counts.pages, run.counts.created, run.counts.updated), (3, 5, 0));
    let p1 = fx.position("J1");
    assert_eq!(p1.name.effective(), "Engineer 1");
    assert_eq!(p1.status, PositionStatus::Open);
    assert_eq!(p1.locations.effective(), &vec!["Berlin".to_string()]);
    assert_eq!(p1.description.effective(), "<p>Job 1</p>");
    assert_eq!(p1.authorized_users.effective()[0].email.as_deref(), Some("ada@example.com"));
    assert_eq!(p1.extra.get("department").map(String::as_str), Some("Eng"));
    assert!(!p1.published, "positions from an ATS are never published by default");
    assert_eq!(fx.position("J3").status, PositionStatus::Other("paused".into()));
    let j4 = fx.position("J4");
    assert_eq!((j4.status, j4.closed_reason), (PositionStatus::Closed, Some(CloseReason::ClosedInAts)));
    assert_eq!(fx.app.store.positions_of_connection("acme-main-ats").unwrap().len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resync_without_changes_writes_nothing() {
    let fx = Fixture::new(support::fake_ats().await).await;
    fx.sync(Trigger::Scheduled).await.unwrap();
    let before = fx.app.store.positions_of_connection("acme-main-ats").unwrap();
    let run = fx.sync(Trigger::Scheduled).await.unwrap();
    assert_eq!((run.counts.created, run.counts.updated, run.counts.closed, run.counts.unchanged), (0, 0, 0, 5));
    assert_eq!(fx.app.store.positions_of_connection("acme-main-ats").unwrap(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn updates_flow_in_and_local_edits_survive_until_cleared() {
    let fx = Fixture::new(support::fake_ats().await).await;
    fx.sync(Trigger::Scheduled).await.unwrap();
    let id = fx.position("J1").id;
    fx.app.store.edit_position(id, FieldEdit::Name("Backend Engineer (remote, 4-day week)".into())).unwrap();
    fx.app.store.set_published(id, true).unwrap();

    fx.ats.update("J1", |j| {
        j["title"] = json!("Senior Engineer 1");
        j["description"] = json!("<p>New ad text</p>");
    });
    let run = fx.sync(Trigger::Scheduled).await.unwrap();
    assert_eq!((run.counts.updated, run.counts.unchanged), (1, 4));
    let p = fx.position("J1");
    assert_eq!(p.name.effective(), "Backend Engineer (remote, 4-day week)", "the local edit wins");
    assert_eq!(p.name.ats, "Senior Engineer 1", "the latest ATS value is kept beside it");
    assert_eq!(p.description.effective(), "<p>New ad text</p>");
    assert!(p.published, "an update does not unpublish");

    let p = fx.app.store.clear_edit(id, FieldName::Name).unwrap();
    assert_eq!(p.name.effective(), "Senior Engineer 1");
}

#[tokio::test(flavor = "multi_thread")]
async fn closed_and_removed_jobs_close_and_unpublish_positions() {
    let fx = Fixture::new(support::fake_ats().await).await;
    fx.sync(Trigger::Scheduled).await.unwrap();
    for code in ["J1", "J2"] {
        fx.app.store.set_published(fx.position(code).id, true).unwrap();
    }
    fx.ats.update("J1", |j| j["status"] = json!("closed"));
    fx.ats.remove("J2");
    let run = fx.sync(Trigger::Scheduled).await.unwrap();
    assert_eq!((run.counts.closed, run.counts.removed), (1, 1));
    let j1 = fx.position("J1");
    assert_eq!(
        (j1.status, j1.closed_reason, j1.published),
        (PositionStatus::Closed, Some(CloseReason::ClosedInAts), false)
    );
    let j2 = fx.position("J2");
    assert_eq!(
        (j2.status, j2.closed_reason, j2.published),
        (PositionStatus::Closed, Some(CloseReason::RemovedInAts), false)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_listing_is_recorded_and_removes_nothing() {
    let fx = Fixture::new(support::fake_ats().await).await;
    fx.sync(Trigger::Scheduled).await.unwrap();
    let before = fx.app.store.positions_of_connection("acme-main-ats").unwrap();
    fx.ats.remove("J5");
    fx.ats.fail_next(&[503, 503, 503]);
    let err = fx.sync(Trigger::Scheduled).await.unwrap_err();
    assert_eq!(err.kind(), "transient", "{err}");
    let run = &fx.app.store.runs("acme-main-ats", 1).unwrap()[0];
    assert!(matches!(&run.outcome, RunOutcome::Failed { kind, .. } if kind == "transient"), "{run:?}");
    assert_eq!(fx.app.store.positions_of_connection("acme-main-ats").unwrap(), before, "earlier data untouched");
    assert_eq!(fx.app.store.state("acme-main-ats").unwrap().consecutive_failures, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limited_or_failing_page_is_retried_within_the_run() {
    let fx = Fixture::new(support::fake_ats().await).await;
    fx.ats.fail_next(&[429, 502]);
    let run = fx.sync(Trigger::Scheduled).await.unwrap();
    assert_eq!((run.outcome, run.counts.created), (RunOutcome::Succeeded, 5));
    assert_eq!(fx.ats.page_requests(), 5, "3 pages + 2 retries");
}

#[tokio::test(flavor = "multi_thread")]
async fn manual_syncs_ask_for_changes_and_reset_lists_everything_again() {
    let fx = Fixture::new(support::fake_ats().await).await;
    fx.sync(Trigger::Scheduled).await.unwrap();
    fx.ats.update("J2", |j| j["title"] = json!("Platform Engineer"));
    let run = fx.sync(Trigger::Manual).await.unwrap();
    assert!(!run.full_listing);
    assert_eq!((run.counts.jobs_seen, run.counts.updated), (1, 1), "only the changed job was listed");
    assert!(fx.ats.requests().last().unwrap().path.contains("updated_after="));

    fx.app.store.reset_connection("acme-main-ats").unwrap();
    let run = fx.sync(Trigger::Manual).await.unwrap();
    assert!(run.full_listing);
    assert_eq!((run.counts.jobs_seen, run.counts.created), (5, 0), "positions were kept");
    assert!(!fx.ats.requests().last().unwrap().path.contains("updated_after="));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_job_in_two_connections_gives_two_positions() {
    let fx = Fixture::new(support::fake_ats().await).await;
    let second = fx.connect("Client B");
    fx.sync(Trigger::Scheduled).await.unwrap();
    fx.app.engine.sync(&second, Trigger::Scheduled, &NoProgress).await.unwrap();
    let a = fx.position("J1");
    let b = fx.app.store.position_by_job(&second, "J1").unwrap().unwrap();
    assert_ne!(a.id, b.id);
    assert_eq!(fx.app.store.positions_of_account("acme").unwrap().len(), 10);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_in_use_is_not_removed_unless_forced() {
    let fx = Fixture::new(support::fake_ats().await).await;
    let err = fx.app.remove_plugin("well-behaved", false).unwrap_err();
    assert!(matches!(err, AppError::PluginInUse { .. }), "{err}");
    assert!(err.to_string().contains("acme-main-ats"), "{err}");
    fx.app.remove_plugin("well-behaved", true).unwrap();
    let err = fx.sync(Trigger::Manual).await.unwrap_err();
    assert!(err.to_string().contains("not installed"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missed_slot_runs_once_at_start_and_then_the_next_slot_waits() {
    let fx = Fixture::new(support::fake_ats().await).await;
    let limits = atsbridge::scheduler::SchedulerLimits::default();
    // Never synced: the last 03:00 slot was missed, so it fires now.
    let scheduler = fx.app.scheduler(limits).unwrap();
    let next = scheduler.next_run("acme-main-ats").unwrap();
    assert!(next <= chrono::Utc::now() + chrono::Duration::seconds(1), "{next}");
    // Once it has run after its last slot, a restarted host waits for the
    // next slot: 03:00-04:00 Berlin time tomorrow (or today).
    fx.sync(Trigger::Scheduled).await.unwrap();
    let scheduler = fx.app.scheduler(limits).unwrap();
    let next = scheduler.next_run("acme-main-ats").unwrap();
    let local = next.with_timezone(&chrono_tz::Europe::Berlin);
    assert!(next > chrono::Utc::now(), "{next}");
    assert_eq!(chrono::Timelike::hour(&local), 3, "{local}");
}
