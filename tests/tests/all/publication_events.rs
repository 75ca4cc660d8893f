//! Publication changes reach the platform's webhook: a person publishing
//! and unpublishing through the API, a rule publishing, and the sync
//! hiding a published position whose job closed or disappeared and
//! showing it again when it reopened, each delivered over real HTTP to a
//! receiver on loopback as `position.published` / `position.unpublished`
//! with who made the change.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atsbridge::api::{ApiState, AuthConfig, router};
use atsbridge::app::App;
use atsbridge::events::{DeliveryPolicy, WebhookWorker};
use atsbridge::service::Service;
use atsbridge::store::{SecretKey, Trigger};
use atsbridge::sync::NoProgress;
use atsbridge_tests::guests;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use crate::ops_support::{OPERATOR_TOKEN as OPERATOR, eventually, operator_client};
use crate::support::{self, API_KEY};

/// Every request the receiver got: (headers, body).
type Got = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// (type, job code, who: `user`/`rule`/`sync`, the sync's cause or the rule id).
type Seen = (String, String, String, String);

fn seen(got: &Got) -> Vec<Seen> {
    let mut events: Vec<(u64, Seen)> = got
        .lock()
        .unwrap()
        .iter()
        .map(|(headers, body)| {
            let event: Value = serde_json::from_slice(body).unwrap();
            assert_eq!(headers["x-atsbridge-event"].to_str().unwrap(), event["type"].as_str().unwrap());
            let by = &event["position"]["publication"]["last_change"]["by"];
            let detail = by["cause"].as_str().or(by["rule_id"].as_str()).unwrap_or_default().to_string();
            let seen = (
                event["type"].as_str().unwrap().to_string(),
                event["position"]["ats_job_code"].as_str().unwrap().to_string(),
                by["kind"].as_str().unwrap_or_default().to_string(),
                detail,
            );
            (event["id"].as_u64().unwrap(), seen)
        })
        .collect();
    events.sort_by_key(|(id, _)| *id);
    events.dedup_by_key(|(id, _)| *id);
    events.into_iter().map(|(_, s)| s).collect()
}

fn event(kind: &str, job: &str, by: &str, detail: &str) -> Seen {
    (kind.to_string(), job.to_string(), by.to_string(), detail.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn publishing_by_a_user_a_rule_or_the_sync_is_delivered_to_the_webhook() {
    let ats = support::fake_ats().await;
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(dir.path(), Some(SecretKey::generate().unwrap())).unwrap();
    support::install(&app.runtime, dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "").await;
    app.store.add_account("Acme", "Europe/Berlin").unwrap();
    let values = BTreeMap::from([("base-url".to_string(), ats.base()), ("api-key".to_string(), API_KEY.to_string())]);
    let hosts = vec![support::url_origin(&ats.base())];
    let connection = app.add_connection("acme", "Main", "well-behaved", &values, hosts, None).unwrap().id;

    let got: Got = Got::default();
    let sink = got.clone();
    let hook = serve(axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push((headers, body));
                StatusCode::OK
            }
        }),
    ))
    .await;
    let auth = AuthConfig { operator_token: OPERATOR.to_string().into(), allowed_hosts: None };
    let api = serve(router(ApiState { service: Service::local(app.clone()).unwrap(), auth: Arc::new(auth) })).await;
    let http = operator_client();
    let r = http
        .post(format!("{api}/api/v1/accounts/acme/webhooks"))
        .json(&json!({ "url": format!("{hook}/hook"), "events": ["position.published", "position.unpublished"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let policy = DeliveryPolicy {
        retry_base: Duration::from_millis(200),
        poll: Duration::from_millis(50),
        ..Default::default()
    };
    let worker = tokio::spawn(WebhookWorker::new(app.store.clone(), policy).unwrap().run(stop_rx));
    let sync = |trigger| {
        let app = app.clone();
        let connection = connection.clone();
        async move { app.engine.sync(&connection, trigger, &NoProgress).await.unwrap() }
    };
    let wait_for = |n: usize| {
        let got = got.clone();
        async move {
            eventually(Duration::from_secs(20), &format!("{n} publication events"), || {
                let got = got.clone();
                async move {
                    let s = seen(&got);
                    (s.len() >= n).then_some(s)
                }
            })
            .await
        }
    };

    sync(Trigger::Scheduled).await; // J1 and J5 open, the others not
    let id_of = |code: &str| {
        app.store.positions_of_connection(&connection).unwrap().into_iter().find(|p| p.ats_job_code == code).unwrap().id
    };
    let (j1, j5) = (id_of("J1"), id_of("J5"));

    // A person publishes and unpublishes J1.
    for action in ["publish", "unpublish"] {
        let r = http.post(format!("{api}/api/v1/positions/{j1}/{action}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{action}: {}", r.text().await.unwrap());
    }
    // A rule for every open position: J5 (J1 is a person's decision).
    let rule = json!({"name": "open jobs", "template": {"title": "{{ name }}", "description": "{{ description }}"}});
    let r = http.post(format!("{api}/api/v1/connections/{connection}/publish-rules")).json(&rule).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = http.post(format!("{api}/api/v1/connections/{connection}/publish-rules/apply")).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let rule_id = app.store.publish_rules(&connection).unwrap().rules[0].id.clone();
    let after_people_and_rules = wait_for(3).await;
    assert_eq!(
        after_people_and_rules,
        vec![
            event("position.published", "J1", "user", ""),
            event("position.unpublished", "J1", "user", ""),
            event("position.published", "J5", "rule", &rule_id),
        ]
    );

    // The ATS closes J5, reopens it, then drops it from a complete listing.
    ats.update("J5", |j| j["status"] = json!("closed"));
    sync(Trigger::Manual).await;
    ats.update("J5", |j| j["status"] = json!("open"));
    sync(Trigger::Manual).await;
    ats.remove("J5");
    sync(Trigger::Scheduled).await;
    let all = wait_for(6).await;
    assert_eq!(
        all[3..],
        [
            event("position.unpublished", "J5", "sync", "closed_in_ats"),
            event("position.published", "J5", "sync", "reopened"),
            event("position.unpublished", "J5", "sync", "removed_in_ats"),
        ]
    );
    // Nothing else: an unchanged decision and an update of a hidden
    // position are not publication changes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(seen(&got).len(), 6, "{:?}", seen(&got));
    assert!(!app.store.position(j5).unwrap().unwrap().published);
    let _ = stop_tx.send(true);
    worker.await.unwrap();
}
