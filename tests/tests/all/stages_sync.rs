//! The daily sync refreshes each connection's cached ATS stages after the
//! job listing; a failing `list-stages` is a warning on the run, never a
//! failed sync.

use std::collections::BTreeMap;

use atsbridge::app::App;
use atsbridge::conformance::{settings_for_mock, start_mock};
use atsbridge::plugin::bundled::install_bundled;
use atsbridge::store::{RunOutcome, SecretKey, Trigger};
use atsbridge::sync::NoProgress;
use atsbridge_mock_ats::{Fault, FaultRule, Vendor};

use crate::support;

#[tokio::test(flavor = "multi_thread")]
async fn scheduled_runs_refresh_stages_and_a_failure_is_only_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(dir.path(), Some(SecretKey::generate().unwrap())).unwrap();
    install_bundled(&app.runtime, "greenhouse").await.unwrap();
    let mock = start_mock(Vendor::Greenhouse).await.unwrap();
    app.store.add_account("Acme", "UTC").unwrap();
    let settings = settings_for_mock("greenhouse", &mock, &BTreeMap::new());
    let hosts = vec![support::url_origin(mock.base_url())];
    let c = app.add_connection("acme", "Greenhouse", "greenhouse", &settings, hosts, None).unwrap().id;

    // "Sync now" leaves stages alone.
    let run = app.engine.sync(&c, Trigger::Manual, &NoProgress).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded);
    assert!(app.store.ats_stage_lists(&c).unwrap().is_empty());

    // The ATS fails every stage listing: the jobs still sync.
    mock.inject(FaultRule::new(Fault::Status(500)).times(1000).on_path("/v3/job_stages"));
    let run = app.engine.sync(&c, Trigger::Scheduled, &NoProgress).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded, "{run:?}");
    assert!(run.warnings.iter().any(|w| w.contains("stages were not refreshed")), "{:?}", run.warnings);
    assert_eq!(app.store.run(&c, run.seq).unwrap().unwrap().warnings, run.warnings, "recorded on the run");
    assert!(app.store.ats_stage_lists(&c).unwrap().is_empty());

    mock.clear_faults();
    let run = app.engine.sync(&c, Trigger::Scheduled, &NoProgress).await.unwrap();
    assert!(run.warnings.is_empty(), "{:?}", run.warnings);
    let open = app.store.positions_of_connection(&c).unwrap().into_iter().filter(|p| !p.is_closed()).count();
    let lists = app.store.ats_stage_lists(&c).unwrap();
    assert!(lists.len() >= open && lists.iter().all(|l| l.job_code.is_some()), "per job: {}", lists.len());
    let job = app.store.positions_of_connection(&c).unwrap().into_iter().find(|p| !p.is_closed()).unwrap().ats_job_code;
    assert_eq!(app.store.resolve_stage(&c, Some(&job), "offer").unwrap().ats_stage_name, "Offer");
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unchanged_daily_refresh_rewrites_no_stage_list() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(dir.path(), Some(SecretKey::generate().unwrap())).unwrap();
    install_bundled(&app.runtime, "greenhouse").await.unwrap();
    let mock = start_mock(Vendor::Greenhouse).await.unwrap();
    app.store.add_account("Acme", "UTC").unwrap();
    let settings = settings_for_mock("greenhouse", &mock, &BTreeMap::new());
    let hosts = vec![support::url_origin(mock.base_url())];
    let c = app.add_connection("acme", "Greenhouse", "greenhouse", &settings, hosts, None).unwrap().id;

    let run = app.engine.sync(&c, Trigger::Scheduled, &NoProgress).await.unwrap();
    assert!(run.warnings.is_empty(), "{:?}", run.warnings);
    let first = app.store.ats_stage_lists(&c).unwrap();
    assert!(!first.is_empty());
    // Stage lists are stamped in whole seconds: a rewrite would show.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let run = app.engine.sync(&c, Trigger::Scheduled, &NoProgress).await.unwrap();
    assert!(run.warnings.is_empty(), "{:?}", run.warnings);
    assert_eq!(app.store.ats_stage_lists(&c).unwrap(), first, "the same lists, none rewritten");
    mock.shutdown().await;
}
