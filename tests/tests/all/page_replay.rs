//! Replay of unchanged pages, end to end: the bundled Greenhouse connector
//! (which declares `[listing] replay-unchanged-pages`) against the mock
//! Greenhouse, the well-behaved guest against the fake ATS, real wasmtime,
//! sled on disk and HTTP over loopback. The plugin's `list-jobs` calls are
//! counted through the runtime's metrics: a replayed page makes none.
//!
//! What a page key covers, seen from outside: a changed text setting or an
//! upgraded plugin replays no page recorded before; a rotated secret still
//! replays (the key names secret settings, not their values) and every
//! replayed request carries the new value; an incremental listing never
//! replays.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use secrecy::ExposeSecret;

use atsbridge::app::App;
use atsbridge::conformance::settings_for_mock;
use atsbridge::plugin::install::{PluginSource, install_from};
use atsbridge::plugin::{bundled, settings};
use atsbridge::store::{ConnectionChange, NewSetting, Position, RunOutcome, SecretKey, SyncRun, Trigger};
use atsbridge::sync::{ListingMode, NoProgress, RunOptions, SyncError};
use atsbridge_mock_ats::{Job, MockAts, MockConfig, PageSizePolicy, RateLimit, Vendor};
use atsbridge_tests::guests;

use crate::support::{self, API_KEY, basic_auth};

/// Jobs of the mock and its page size: five pages.
const JOBS: usize = 50;
const PAGE: usize = 10;

/// A full listing asked for by hand (the jobs-only resync).
const FULL: RunOptions = RunOptions { trigger: Trigger::Manual, mode: ListingMode::Full, confirm_removals: false };
/// Only the jobs changed since the last run, asked for by hand.
const INCREMENTAL: RunOptions =
    RunOptions { trigger: Trigger::Manual, mode: ListingMode::Incremental, confirm_removals: false };

struct Greenhouse {
    dir: tempfile::TempDir,
    /// The store's key (base64), to open it again.
    key: String,
    app: App,
    mock: MockAts,
    c: String,
    /// The connection's settings as given (secret ones in the clear).
    settings: BTreeMap<String, String>,
}

impl Greenhouse {
    /// The bundled connector, opted in (as shipped) or with the opt-in
    /// switched off in its manifest.
    async fn new(opted_in: bool, rate_limited: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate().unwrap();
        let key_text = key.to_base64().expose_secret().to_string();
        let app = App::open(dir.path(), Some(key)).unwrap();
        let shipped = bundled::find("greenhouse").unwrap();
        assert!(shipped.manifest.contains("replay-unchanged-pages = true"), "the shipped connector opts in");
        let manifest = if opted_in {
            shipped.manifest.to_string()
        } else {
            shipped.manifest.replace("replay-unchanged-pages = true", "replay-unchanged-pages = false")
        };
        let src = dir.path().join("src-greenhouse");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("greenhouse.wasm"), shipped.component).unwrap();
        std::fs::write(src.join("atsbridge-plugin.toml"), manifest).unwrap();
        install_from(&app.runtime, PluginSource::locate(&src, None).unwrap()).await.unwrap();

        let config = MockConfig {
            jobs: JOBS,
            seed: 7,
            page_size_max: Some(PAGE),
            page_size_policy: PageSizePolicy::Clamp,
            // Counts down on every answer (`X-RateLimit-Remaining`).
            rate_limit: rate_limited.then_some(RateLimit { limit: 100_000, window: Duration::from_secs(3600) }),
            ..Default::default()
        };
        let mock = MockAts::start(Vendor::Greenhouse, config).await.unwrap();
        app.store.add_account("Acme", "UTC").unwrap();
        let settings = settings_for_mock("greenhouse", &mock, &BTreeMap::new());
        let hosts = vec![support::url_origin(mock.base_url())];
        let c = app.add_connection("acme", "Greenhouse", "greenhouse", &settings, hosts, None).unwrap().id;
        Greenhouse { dir, key: key_text, app, mock, c, settings }
    }

    /// Closes the store, lets `offline` change its files, and opens it
    /// again (a host restarted on the same data directory).
    fn reopen(self, offline: impl FnOnce(&Path)) -> Self {
        let Greenhouse { dir, key, app, mock, c, settings } = self;
        drop(app);
        offline(dir.path());
        let app = App::open(dir.path(), Some(SecretKey::parse(&key).unwrap())).unwrap();
        Greenhouse { dir, key, app, mock, c, settings }
    }

    /// Changes one setting of the connection.
    fn set_setting(&mut self, key: &str, value: &str) {
        self.settings.insert(key.to_string(), value.to_string());
        set_settings(&self.app, &self.c, "greenhouse", &self.settings);
    }

    /// Installs the variant build of the connector over the shipped one:
    /// version 0.2.1, another component, the shipped manifest otherwise
    /// (no new host or secret binding, so no approval is needed). It makes
    /// the shipped connector's requests and upper-cases job titles.
    async fn upgrade_to_variant(&self) {
        let shipped = bundled::find("greenhouse").unwrap();
        assert!(shipped.manifest.contains("version = \"0.2.0\""), "the shipped version");
        let manifest = shipped.manifest.replace("version = \"0.2.0\"", "version = \"0.2.1\"");
        let src = self.dir.path().join("src-greenhouse-0.2.1");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::copy(guests::GREENHOUSE_VARIANT, src.join("greenhouse.wasm")).unwrap();
        std::fs::write(src.join("atsbridge-plugin.toml"), manifest).unwrap();
        install_from(&self.app.runtime, PluginSource::locate(&src, None).unwrap()).await.unwrap();
    }

    async fn full(&self) -> Result<SyncRun, SyncError> {
        self.app.engine.sync_with(&self.c, FULL, &NoProgress).await
    }

    /// `list-jobs` calls the plugin has answered so far.
    fn list_calls(&self) -> u64 {
        list_calls(&self.app, "greenhouse")
    }

    /// The job on page `page` (1-based) of the listing, at `index` in it.
    fn job_on_page(&self, page: usize, index: usize) -> String {
        self.mock.jobs()[(page - 1) * PAGE + index].id.clone()
    }

    /// The connection's positions, less the times they were written.
    fn positions(&self) -> Vec<serde_json::Value> {
        let mut positions = self.app.store.positions_of_connection(&self.c).unwrap();
        positions.sort_by_key(|p| p.id);
        positions.iter().map(without_times).collect()
    }

    /// Every event's kind, connection, run and position.
    fn events(&self) -> Vec<String> {
        let events = self.app.store.events_after(0, 100_000).unwrap();
        events
            .iter()
            .map(|e| format!("{} {} {} {}", e.kind.as_str(), e.connection_id, e.run_seq, e.position.id))
            .collect()
    }
}

/// Stores `values` as the connection's settings, checked against the
/// plugin's schema as `connection update` checks them.
fn set_settings(app: &App, connection: &str, plugin: &str, values: &BTreeMap<String, String>) {
    let installed = app.runtime.registry().current(plugin).unwrap();
    let checked = settings::validate(&installed.record.info.config_schema, values).unwrap();
    let settings = checked.into_iter().map(|(key, value)| (key, NewSetting::from(value))).collect();
    app.store
        .update_connection(connection, ConnectionChange { settings: Some(settings), ..Default::default() })
        .unwrap();
}

fn list_calls(app: &App, plugin: &str) -> u64 {
    app.runtime.metrics().plugin(plugin).by_function.get("list-jobs").map_or(0, |f| f.calls)
}

fn without_times(p: &Position) -> serde_json::Value {
    let mut v = serde_json::to_value(p).unwrap();
    if let Some(o) = v.as_object_mut() {
        o.remove("created_at_unix");
        o.remove("updated_at_unix");
    }
    v
}

fn counts(run: &SyncRun) -> (u32, u64, u64, u64, u64, u64) {
    let c = &run.counts;
    (c.pages, c.jobs_seen, c.created, c.updated, c.unchanged, c.removed)
}

/// Every byte of every file under `dir`.
fn files_contain(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path)
                && bytes.windows(needle.len()).any(|w| w == needle)
            {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn unchanged_pages_are_replayed_and_one_changed_page_runs_the_plugin() {
    let gh = Greenhouse::new(true, false).await;
    let first = gh.full().await.unwrap();
    assert_eq!((first.counts.pages, first.counts.created), (5, JOBS as u64));
    assert_eq!(gh.list_calls(), 5);

    // Nothing changed: every page is replayed, none runs the plugin.
    let again = gh.full().await.unwrap();
    assert_eq!(again.outcome, RunOutcome::Succeeded);
    assert_eq!(counts(&again), (5, JOBS as u64, 0, 0, JOBS as u64, 0));
    assert_eq!(gh.list_calls(), 5, "no list-jobs call for an unchanged listing");

    // One job of page 3 changes: that page alone runs the plugin, and the
    // change flows in.
    let code = gh.job_on_page(3, 4);
    gh.mock.update_job(&code, |j| j.title = "Replayed nowhere".into()).unwrap();
    let changed = gh.full().await.unwrap();
    assert_eq!(counts(&changed), (5, JOBS as u64, 0, 1, JOBS as u64 - 1, 0));
    assert_eq!(gh.list_calls(), 6, "exactly the changed page ran the plugin");
    let p = gh.app.store.position_by_job(&gh.c, &code).unwrap().unwrap();
    assert_eq!(p.name.ats, "Replayed nowhere");

    // And its new record replays next time.
    gh.full().await.unwrap();
    assert_eq!(gh.list_calls(), 6);
    gh.mock.shutdown().await;
}

/// A page whose answer is byte for byte the recorded one, but one of whose
/// jobs the store holds differently (an incremental run saw an edit the
/// ATS then undid, its `updated_at` restored): the replay is refused at
/// commit, the plugin lists that page after all, and the job's recorded
/// state flows back in. The run goes on to the end.
#[tokio::test(flavor = "multi_thread")]
async fn an_undone_edit_makes_its_identical_page_list_again_and_flow_in() {
    let gh = Greenhouse::new(true, false).await;
    gh.full().await.unwrap();
    let code = gh.job_on_page(3, 4);
    let before = gh.mock.job(&code).unwrap();
    let title = gh.app.store.position_by_job(&gh.c, &code).unwrap().unwrap().name.ats;

    gh.mock.update_job(&code, |j| j.title = "Edited, then undone".into()).unwrap();
    let incremental = gh.app.engine.sync_with(&gh.c, INCREMENTAL, &NoProgress).await.unwrap();
    assert_eq!(incremental.counts.updated, 1);
    assert_eq!(gh.app.store.position_by_job(&gh.c, &code).unwrap().unwrap().name.ats, "Edited, then undone");
    let calls = gh.list_calls();

    gh.mock.restore_job(before);
    let full = gh.full().await.unwrap();
    assert_eq!(full.outcome, RunOutcome::Succeeded);
    assert_eq!(counts(&full), (5, JOBS as u64, 0, 1, JOBS as u64 - 1, 0));
    assert_eq!(gh.list_calls(), calls + 1, "the one page whose job the store holds differently was listed again");
    assert_eq!(gh.app.store.position_by_job(&gh.c, &code).unwrap().unwrap().name.ats, title);

    // Its new record matches the store again: the next resync replays all.
    gh.full().await.unwrap();
    assert_eq!(gh.list_calls(), calls + 1);
    gh.mock.shutdown().await;
}

/// The Greenhouse OAuth client secret rotated at the ATS (which then
/// refuses the old one and revokes its tokens) and then in the connection:
/// every page still replays (a page's key names the secret setting, not its
/// value), so the replayed requests went out with a token granted for the
/// new secret; one sent with the old secret or an old token would have
/// missed and run the plugin.
#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_oauth_client_secret_still_replays_with_a_token_granted_for_it() {
    const ROTATED: &str = "mock-greenhouse-secret-rotated-7f3a";
    let mut gh = Greenhouse::new(true, false).await;
    gh.full().await.unwrap();
    assert_eq!(gh.list_calls(), 5);

    // Rotated at the ATS only: the connection's secret is refused, the
    // replay misses, the plugin runs and fails to authenticate.
    gh.mock.rotate_client_secret(ROTATED);
    let err = gh.full().await.unwrap_err();
    assert!(matches!(err, SyncError::Listing { .. }), "{err}");
    assert!(err.to_string().contains("refused the client credentials (HTTP 401): invalid_client"), "{err}");
    let calls = gh.list_calls();

    gh.set_setting("client-secret", ROTATED);
    let run = gh.full().await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded);
    assert_eq!(counts(&run), (5, JOBS as u64, 0, 0, JOBS as u64, 0));
    assert_eq!(gh.list_calls(), calls, "every page replayed with the new secret's token");
    gh.mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_with_replay_produces_what_one_without_produces() {
    let with = Greenhouse::new(true, false).await;
    let without = Greenhouse::new(false, false).await;
    let mut runs = Vec::new();
    // The edits as the first mock stamped them (`updated_at`, `closed_at`
    // are its wall clock): the second mock gets them verbatim, so both
    // answer alike however far apart in time the two halves run.
    let mut edited: Vec<Job> = Vec::new();
    for gh in [&with, &without] {
        let mut of_this = vec![counts(&gh.full().await.unwrap()), counts(&gh.full().await.unwrap())];
        // A change on page 2, a job closed on page 4, one gone from page 5.
        let (changed, closed, gone) = (gh.job_on_page(2, 1), gh.job_on_page(4, 7), gh.job_on_page(5, 2));
        if edited.is_empty() {
            edited.push(gh.mock.update_job(&changed, |j| j.title = format!("{} (renamed)", j.title)).unwrap());
            edited.push(gh.mock.close_job(&closed).unwrap());
        } else {
            for job in &edited {
                gh.mock.restore_job(job.clone());
            }
        }
        gh.mock.remove_job(&gone).unwrap();
        of_this.push(counts(&gh.full().await.unwrap()));
        of_this.push(counts(&gh.full().await.unwrap()));
        runs.push(of_this);
    }
    assert_eq!(runs[0], runs[1], "the same runs");
    assert_eq!(with.positions(), without.positions(), "the same positions");
    assert_eq!(with.events(), without.events(), "the same events");
    // Without the opt-in, every run listed every page through the plugin.
    assert_eq!(list_calls(&without.app, "greenhouse"), 20);
    assert!(list_calls(&with.app, "greenhouse") < 20, "{}", list_calls(&with.app, "greenhouse"));
    with.mock.shutdown().await;
    without.mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_rate_limit_count_does_not_stop_replay() {
    // The mock's `X-RateLimit-Remaining` differs on every answer: a
    // volatile header, left out of the response digest.
    let gh = Greenhouse::new(true, true).await;
    gh.full().await.unwrap();
    gh.full().await.unwrap();
    assert_eq!(gh.list_calls(), 5, "replayed although a header changed");
    gh.mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_request_is_checked_like_the_plugins_own() {
    let gh = Greenhouse::new(true, false).await;
    gh.full().await.unwrap();
    // The operator revokes the grant of the mock's loopback address: the
    // replay's requests are refused as the plugin's would be, and the run
    // fails instead of passing on its records.
    let revoked = ConnectionChange { extra_hosts: Some(Vec::new()), ..Default::default() };
    gh.app.store.update_connection(&gh.c, revoked).unwrap();
    let err = gh.full().await.unwrap_err();
    assert!(matches!(err, SyncError::Listing { .. }), "{err}");
    let run = gh.app.store.runs(&gh.c, 1).unwrap().remove(0);
    assert!(matches!(run.outcome, RunOutcome::Failed { .. }), "{:?}", run.outcome);
    assert_eq!(run.counts.pages, 0, "no page applied from a record");
    gh.mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_records_hold_no_secret_value() {
    let gh = Greenhouse::new(true, false).await;
    gh.full().await.unwrap();
    gh.full().await.unwrap();
    assert_eq!(gh.list_calls(), 5);
    let credentials = gh.mock.credentials();
    let app = gh.app;
    drop(app); // sled writes everything out when the store closes
    let secrets = [credentials.client_id.clone().unwrap(), credentials.client_secret.clone().unwrap()];
    for secret in secrets {
        assert!(secret.len() >= 8, "{secret}");
        let found = files_contain(gh.dir.path(), secret.as_bytes());
        assert!(found.is_empty(), "a secret value is in {found:?}");
    }
    gh.mock.shutdown().await;
}

/// The well-behaved guest against the fake ATS, with the opt-in in its
/// manifest; `wasm` is it or its clock-reading build.
async fn well_behaved(wasm: &str) -> (tempfile::TempDir, App, support::FakeAts) {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(dir.path(), Some(SecretKey::generate().unwrap())).unwrap();
    support::install(
        &app.runtime,
        dir.path(),
        "well-behaved",
        "1.2.3",
        wasm,
        "[listing]\nreplay-unchanged-pages = true\n",
    )
    .await;
    app.store.add_account("Acme", "UTC").unwrap();
    let ats = support::fake_ats().await;
    let values = BTreeMap::from([("base-url".to_string(), ats.base()), ("api-key".to_string(), API_KEY.to_string())]);
    let hosts = vec![support::url_origin(&ats.base())];
    app.add_connection("acme", "Main", "well-behaved", &values, hosts, None).unwrap();
    (dir, app, ats)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_that_reads_the_clock_is_never_replayed() {
    // The control: the same source without the clock read is replayed.
    let (_dir, app, _ats) = well_behaved(guests::WELL_BEHAVED).await;
    app.engine.sync_with("acme-main", FULL, &NoProgress).await.unwrap();
    let pages = list_calls(&app, "well-behaved");
    assert!(pages > 0);
    app.engine.sync_with("acme-main", FULL, &NoProgress).await.unwrap();
    assert_eq!(list_calls(&app, "well-behaved"), pages, "replayed");

    let (_dir, app, _ats) = well_behaved(guests::CLOCK_READER).await;
    for run in 1..=3 {
        let done = app.engine.sync_with("acme-main", FULL, &NoProgress).await.unwrap();
        assert_eq!(done.outcome, RunOutcome::Succeeded);
        assert_eq!(list_calls(&app, "well-behaved"), pages * run, "run {run}: every page ran the plugin");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_text_setting_replays_no_page_recorded_before() {
    let mut gh = Greenhouse::new(true, false).await;
    gh.full().await.unwrap();
    gh.full().await.unwrap();
    assert_eq!(gh.list_calls(), 5, "replayed before the change");

    // Another acting user. The connector sends it only as the token
    // request's `sub`, which the mock accepts for any of its users: every
    // Harvest request and answer stays byte for byte the same, so a record
    // made under the old value would replay cleanly if the key left the
    // value out.
    let other = gh.mock.users().iter().map(|u| u.id.to_string()).find(|id| *id != gh.settings["user-id"]).unwrap();
    gh.set_setting("user-id", &other);
    let run = gh.full().await.unwrap();
    assert_eq!(counts(&run), (5, JOBS as u64, 0, 0, JOBS as u64, 0));
    assert_eq!(gh.list_calls(), 10, "every page ran the plugin");

    // The pages recorded under the new value replay.
    gh.full().await.unwrap();
    assert_eq!(gh.list_calls(), 10);
    gh.mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upgraded_plugin_replays_no_page_recorded_by_the_old_install() {
    let gh = Greenhouse::new(true, false).await;
    gh.full().await.unwrap();
    gh.full().await.unwrap();
    assert_eq!(gh.list_calls(), 5, "replayed before the upgrade");
    let old = gh.app.runtime.registry().current("greenhouse").unwrap();

    gh.upgrade_to_variant().await;
    let new = gh.app.runtime.registry().current("greenhouse").unwrap();
    assert_eq!(new.manifest.version.to_string(), "0.2.1");
    assert_ne!(new.record.sha256, old.record.sha256);

    // The new build makes the old build's requests and gets the same
    // answers, so every old record would replay; its output differs (job
    // titles upper-cased), so a replayed page would leave the old titles.
    let run = gh.full().await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded);
    assert_eq!(counts(&run), (5, JOBS as u64, 0, JOBS as u64, 0, 0), "every job came from the new build");
    assert_eq!(gh.list_calls(), 10, "every page ran the plugin");
    for p in gh.app.store.positions_of_connection(&gh.c).unwrap() {
        assert_eq!(p.name.ats, p.name.ats.to_uppercase(), "an old title: {}", p.name.ats);
    }

    // The pages recorded by the new install replay.
    let again = gh.full().await.unwrap();
    assert_eq!(counts(&again), (5, JOBS as u64, 0, 0, JOBS as u64, 0));
    assert_eq!(gh.list_calls(), 10);
    gh.mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_secret_still_replays_and_every_replayed_request_carries_the_new_value() {
    /// The key after rotation.
    const ROTATED: &str = "sk-live-rotated-2b8d4e91";
    /// A key the connection does not hold.
    const SOMEONE_ELSES: &str = "sk-live-someone-else-5c07";
    let (_dir, app, ats) = well_behaved(guests::WELL_BEHAVED).await;
    let c = "acme-main";
    app.engine.sync_with(c, FULL, &NoProgress).await.unwrap();
    let pages = list_calls(&app, "well-behaved");
    assert!(pages > 1, "{pages}");

    // The key is rotated at the ATS, which from now on refuses the old
    // one, and then in the connection.
    ats.accept_only(ROTATED);
    let values = BTreeMap::from([("base-url".to_string(), ats.base()), ("api-key".to_string(), ROTATED.to_string())]);
    set_settings(&app, c, "well-behaved", &values);
    let seen = ats.requests().len();
    let run = app.engine.sync_with(c, FULL, &NoProgress).await;
    let sent = ats.requests().split_off(seen);
    for r in &sent {
        let auth = r.headers.get("authorization").map(String::as_str);
        assert_eq!(auth, Some(basic_auth(ROTATED).as_str()), "{} {}", r.method, r.path);
    }
    let run = run.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded);
    assert_eq!((run.counts.pages, run.counts.created, run.counts.updated), (pages as u32, 0, 0));
    assert_eq!(list_calls(&app, "well-behaved"), pages, "every page replayed: the key names the secret, not its value");
    let listed = sent.iter().filter(|r| r.path.starts_with("/jobs")).count();
    assert_eq!(listed as u64, pages, "each replayed page's request was sent once: {sent:?}");

    // The ATS refuses the key the connection holds: the replay misses, the
    // plugin runs for the page and is refused too, and the run fails
    // without applying a recorded page.
    let positions: Vec<_> = app.store.positions_of_connection(c).unwrap().iter().map(without_times).collect();
    let events = app.store.events_after(0, 100_000).unwrap().len();
    ats.accept_only(SOMEONE_ELSES);
    let seen = ats.requests().len();
    let err = app.engine.sync_with(c, FULL, &NoProgress).await.unwrap_err();
    assert!(matches!(err, SyncError::Listing { .. }), "{err}");
    let run = app.store.runs(c, 1).unwrap().remove(0);
    assert!(matches!(run.outcome, RunOutcome::Failed { .. }), "{:?}", run.outcome);
    assert_eq!(run.counts.pages, 0, "no page applied from a record");
    assert_eq!(list_calls(&app, "well-behaved"), pages + 1, "the missed page ran the plugin");
    let after: Vec<_> = app.store.positions_of_connection(c).unwrap().iter().map(without_times).collect();
    assert_eq!(after, positions, "no position changed");
    assert_eq!(app.store.events_after(0, 100_000).unwrap().len(), events, "no event");
    let sent = ats.requests().split_off(seen);
    assert!(!sent.is_empty());
    for r in &sent {
        let auth = r.headers.get("authorization").map(String::as_str);
        assert_eq!(auth, Some(basic_auth(ROTATED).as_str()), "{} {}", r.method, r.path);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_incremental_listing_is_never_replayed() {
    let gh = Greenhouse::new(true, false).await;
    gh.full().await.unwrap();
    gh.full().await.unwrap();
    assert_eq!(gh.list_calls(), 5, "the full listing replays");

    // Its first page has the full listing's cursor (none): were it looked
    // up, the full listing's first page (and after it every other) would
    // answer for it.
    let code = gh.job_on_page(2, 3);
    gh.mock.update_job(&code, |j| j.title = "Changed since".into()).unwrap();
    let seen = gh.mock.request_count();
    let run = gh.app.engine.sync_with(&gh.c, INCREMENTAL, &NoProgress).await.unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded);
    assert_eq!((run.counts.pages, run.counts.updated), (1, 1), "{:?}", run.counts);
    assert_eq!(gh.list_calls(), 6, "the plugin listed the changes");
    let p = gh.app.store.position_by_job(&gh.c, &code).unwrap().unwrap();
    assert_eq!(p.name.ats, "Changed since");
    let requests = gh.mock.requests();
    let listed: Vec<&str> =
        requests[seen..].iter().map(|r| r.path.as_str()).filter(|p| p.starts_with("/v3/jobs")).collect();
    assert!(!listed.is_empty() && listed.iter().all(|p| p.contains("updated_at")), "{listed:?}");

    // The full listing's records are still there: the next full listing
    // replays every page but the changed one.
    let full = gh.full().await.unwrap();
    assert_eq!(counts(&full), (5, JOBS as u64, 0, 0, JOBS as u64, 0));
    assert_eq!(gh.list_calls(), 7, "only the changed page ran the plugin");
    gh.mock.shutdown().await;
}

/// Opens the sled database at `path` once the host that had it open has let
/// go of it. sled releases its file lock only when its last background
/// thread drops the database, a moment after the host's last handle is
/// gone (the host's own open waits the same way: `store::OPEN_LOCK_WAIT`);
/// on a loaded machine that moment lasts hundreds of milliseconds.
fn open_once_released(path: &Path) -> sled::Db {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match sled::open(path) {
            Ok(db) => return db,
            Err(e) if std::time::Instant::now() < deadline => {
                assert!(e.to_string().contains("could not acquire lock"), "{e}");
                std::thread::sleep(Duration::from_millis(25));
            }
            Err(e) => panic!("the store at {} is still locked after 10 s: {e}", path.display()),
        }
    }
}

/// Rewrites every page replay record in the store at `data_dir` (no App
/// open on it) as a host that digested responses with SHA-256 wrote them:
/// in JSON, with bare hex digests, no `blake3:` form. Returns how many
/// exchanges it rewrote.
fn as_recorded_by_sha256(data_dir: &Path) -> usize {
    let db = open_once_released(&data_dir.join("store"));
    let tree = db.open_tree("page_replays").unwrap();
    let mut rewritten = 0;
    for entry in tree.iter() {
        let (key, value) = entry.unwrap();
        // Today's form: a format byte, then the record in postcard.
        let (&format, body) = value.split_first().unwrap();
        assert_eq!(format, 0xB4, "a record in the binary form");
        let record: atsbridge::store::PageReplay = postcard::from_bytes(body).unwrap();
        let mut record = serde_json::to_value(record).unwrap();
        let bytes: Vec<u8> = serde_json::from_value(record["exchanges"].take()).unwrap();
        let mut exchanges: Vec<serde_json::Value> = serde_json::from_slice(&bytes).unwrap();
        for exchange in &mut exchanges {
            let digest = exchange["response"].as_str().unwrap().to_string();
            assert!(digest.starts_with("blake3:"), "{digest}");
            exchange["response"] = serde_json::Value::String("5e".repeat(32));
            rewritten += 1;
        }
        record["exchanges"] = serde_json::to_value(serde_json::to_vec(&exchanges).unwrap()).unwrap();
        tree.insert(key, serde_json::to_vec(&record).unwrap()).unwrap();
    }
    db.flush().unwrap();
    rewritten
}

#[tokio::test(flavor = "multi_thread")]
async fn records_of_an_older_digest_form_run_the_plugin_once_without_replaying_their_requests() {
    let gh = Greenhouse::new(true, false).await;
    gh.full().await.unwrap();
    assert_eq!(gh.list_calls(), 5);
    let mut rewritten = 0;
    let gh = gh.reopen(|dir| rewritten = as_recorded_by_sha256(dir));
    assert!(rewritten >= 5, "{rewritten}");

    // Every page runs the plugin, and the replay sent none of its
    // requests first: the mock sees only the plugin's.
    let before = gh.mock.request_count();
    let run = gh.full().await.unwrap();
    assert_eq!(counts(&run), (5, JOBS as u64, 0, 0, JOBS as u64, 0));
    assert_eq!(gh.list_calls(), 5, "every page ran the plugin (the reopened runtime counts anew)");
    // (The reopened host fetches an OAuth token first: not a page request.)
    let token_path = gh.mock.token_url().map(|u| u.trim_start_matches(gh.mock.base_url()).to_string());
    let pages: Vec<String> = gh.mock.requests()[before..]
        .iter()
        .filter(|r| Some(&r.path) != token_path.as_ref())
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(pages.len(), rewritten, "the plugin's requests only, none replayed ahead of them: {pages:?}");

    // Recorded anew in the current form: the next run replays every page.
    gh.full().await.unwrap();
    assert_eq!(gh.list_calls(), 5);
    gh.mock.shutdown().await;
}
