//! A Greenhouse connection with candidates already in the ATS, as a daily
//! run finds it: shared by the daily run's metering and replay tests.

use std::collections::BTreeMap;

use atsbridge::app::App;
use atsbridge::contract::{Candidate, PushRequest};
use atsbridge::store::{PushOutcome, Trigger};
use atsbridge::sync::NoProgress;
use atsbridge_mock_ats::MockAts;

use crate::outbox_fixture::new_candidate;
use crate::support;

/// The connection [`greenhouse_with_pushed`] adds.
pub const CONNECTION: &str = "acme-greenhouse";

/// Adds account `acme` and connection [`CONNECTION`] to the Greenhouse
/// `mock`, syncs it by hand, and pushes one candidate on each of its first
/// `count` open positions to the mock through the connector, recorded as
/// pushed in the store (e-mails `{tag}-{i}@example.com`); their ids.
pub async fn greenhouse_with_pushed(app: &App, mock: &MockAts, count: usize, tag: &str) -> Vec<u64> {
    atsbridge::plugin::bundled::install_bundled(&app.runtime, "greenhouse").await.unwrap();
    app.store.add_account("Acme", "Europe/Berlin").unwrap();
    let values: BTreeMap<String, String> = atsbridge::plugin::bundled::mock_settings("greenhouse", mock);
    let hosts = vec![support::url_origin(mock.base_url())];
    app.add_connection("acme", "Greenhouse", "greenhouse", &values, hosts, None).unwrap();
    app.engine.sync(CONNECTION, Trigger::Manual, &NoProgress).await.unwrap();
    let plugin = app.runtime.plugin("greenhouse").await.unwrap();
    let connection = app.store.connection(CONNECTION).unwrap().unwrap();
    let ctx = app.engine.connection_context(&connection).unwrap();
    let open: Vec<_> =
        app.store.positions_of_connection(CONNECTION).unwrap().into_iter().filter(|p| !p.is_closed()).collect();
    assert!(open.len() >= count, "{} open positions, {count} wanted", open.len());
    let mut ids = Vec::with_capacity(count);
    for (i, position) in open.iter().take(count).enumerate() {
        let email = format!("{tag}-{i}@example.com");
        let request = PushRequest {
            job_code: position.ats_job_code.clone(),
            candidate: Candidate {
                first_name: "Test".into(),
                last_name: format!("Person{i}"),
                email: email.clone(),
                phone: None,
                resume: None,
                resume_url: None,
                source: None,
                links: vec![],
                answers: vec![],
            },
            stage_id: None,
            idempotency_key: format!("{tag}-{i}"),
        };
        let pushed = plugin.push_candidate(&ctx, &request).await.unwrap();
        let (candidate, _) =
            app.store.create_candidate(new_candidate(position.id, format!("Test Person{i}"), email, "test")).unwrap();
        let (_, entry) = app.store.queue_push(candidate.id, &candidate.stage_id).unwrap();
        app.store.finish_push(&entry, PushOutcome::Pushed(pushed)).unwrap();
        ids.push(candidate.id);
    }
    ids
}
