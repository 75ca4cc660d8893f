//! Publication changes reach the platform's webhook: a person publishing
//! and unpublishing through the API, a rule publishing, and the sync
//! hiding a published position whose job closed or disappeared and
//! showing it again when it reopened, each delivered over real HTTP to a
//! receiver on loopback as `position.published` / `position.unpublished`
//! with who made the change.

use std::time::Duration;

use atsbridge::store::Trigger;
use serde_json::{Value, json};

use crate::ops_support::eventually;
use crate::webhook_support::{Receiver, WebhookSetup};

/// (type, job code, who: `user`/`rule`/`sync`, the sync's cause or the rule id).
type Seen = (String, String, String, String);

fn seen(receiver: &Receiver) -> Vec<Seen> {
    let mut events: Vec<(u64, Seen)> = receiver
        .requests()
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
    let setup = WebhookSetup::new().await;
    let WebhookSetup { ats, app, connection, receiver, hook_url, api, http, .. } = &setup;
    let r = http
        .post(format!("{api}/api/v1/accounts/acme/webhooks"))
        .json(&json!({ "url": hook_url, "events": ["position.published", "position.unpublished"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let worker = setup.start_worker();
    let sync = |trigger| setup.sync(trigger);
    let wait_for = |n: usize| async move {
        eventually(Duration::from_secs(20), &format!("{n} publication events"), || async move {
            let s = seen(receiver);
            (s.len() >= n).then_some(s)
        })
        .await
    };

    sync(Trigger::Scheduled).await; // J1 and J5 open, the others not
    let id_of = |code: &str| {
        app.store.positions_of_connection(connection).unwrap().into_iter().find(|p| p.ats_job_code == code).unwrap().id
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
    let rule_id = app.store.publish_rules(connection).unwrap().rules[0].id.clone();
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
    assert_eq!(seen(receiver).len(), 6, "{:?}", seen(receiver));
    assert!(!app.store.position(j5).unwrap().unwrap().published);
    worker.stop().await;
}
