//! Outbound webhooks end to end: endpoints registered over HTTP, a real
//! sync against the fake ATS, the delivery worker POSTing to a receiver on
//! loopback that checks every signature the way docs/webhooks.md says, a
//! receiver that fails once getting the event again, and the delivery log.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use atsbridge::store::Trigger;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::ops_support::{OPERATOR_TOKEN as OPERATOR, eventually};
use crate::webhook_support::WebhookSetup;

/// Verifies `X-Atsbridge-Signature: t=<unix>,v1=<hex>` as a receiver would:
/// HMAC-SHA256 with the secret over `<t>.<body>`, and a recent `t`.
fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(header) = headers.get("x-atsbridge-signature").and_then(|v| v.to_str().ok()) else { return false };
    let parts: BTreeMap<&str, &str> = header.split(',').filter_map(|p| p.split_once('=')).collect();
    let (Some(t), Some(v1)) = (parts.get("t"), parts.get("v1")) else { return false };
    let now = chrono::Utc::now().timestamp();
    if t.parse::<i64>().map_or(true, |t| (now - t).abs() > 300) {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::decode(v1).is_ok_and(|sig| mac.verify_slice(&sig).is_ok())
}

/// `method url` with `token` as the bearer: the response.
async fn send(method: &str, url: String, token: &str) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    reqwest::Client::new().request(method, url).bearer_auth(token).send().await.unwrap()
}

/// `GET url` with `token`: the JSON body.
async fn get_json(url: String, token: &str) -> Value {
    send("GET", url, token).await.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn each_position_event_is_delivered_signed_and_a_failed_delivery_is_retried() {
    let setup = WebhookSetup::new().await;
    let WebhookSetup { ats, app, receiver, hook_url, api, http, .. } = &setup;
    app.store.add_account("Other", "UTC").unwrap();
    receiver.fail_next.store(1, Ordering::SeqCst);
    // An API key of the account manages its own webhooks; another
    // account's key gets "does not exist".
    let (_, acme_key) = app.store.create_api_key("acme", "platform").unwrap();
    let (_, other_key) = app.store.create_api_key("other", "platform").unwrap();
    let acme_key = secrecy::ExposeSecret::expose_secret(&acme_key).to_string();
    let other_key = secrecy::ExposeSecret::expose_secret(&other_key).to_string();

    // Registered through the API; the secret is answered once.
    let r = http
        .post(format!("{api}/api/v1/accounts/acme/webhooks"))
        .json(&json!({ "url": hook_url }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_string();
    let id = created["webhook"]["id"].as_str().unwrap().to_string();
    let listed = get_json(format!("{api}/api/v1/accounts/acme/webhooks"), OPERATOR).await;
    assert_eq!(listed["items"][0]["id"], id.as_str());
    let as_acme = get_json(format!("{api}/api/v1/accounts/acme/webhooks"), &acme_key).await;
    assert_eq!(as_acme["items"][0]["id"], id.as_str(), "{as_acme}");
    let as_other = send("GET", format!("{api}/api/v1/accounts/acme/webhooks"), &other_key).await;
    assert_eq!(as_other.status(), 404);
    assert!(!listed.to_string().contains(&secret) && !listed.to_string().contains("sealed"), "{listed}");
    let refused = http
        .post(format!("{api}/api/v1/accounts/acme/webhooks"))
        .json(&json!({ "url": "http://platform.example/hook" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422, "plain http off loopback");

    let worker = setup.start_worker();
    let sync = |trigger| setup.sync(trigger);
    sync(Trigger::Scheduled).await; // 5 created
    ats.update("J1", |j| j["status"] = json!("closed"));
    sync(Trigger::Manual).await; // J1 closed
    ats.update("J1", |j| j["status"] = json!("open"));
    sync(Trigger::Manual).await; // J1 reopened
    ats.update("J2", |j| j["title"] = json!("Principal Engineer"));
    sync(Trigger::Manual).await; // J2 updated
    ats.remove("J5");
    sync(Trigger::Scheduled).await; // J5 removed (a complete listing)

    let expected = 9;
    let got = eventually(Duration::from_secs(20), "every event delivered", || {
        let receiver = receiver.clone();
        async move {
            let got = receiver.requests();
            let ids: BTreeSet<_> =
                got.iter().map(|(h, _)| h["x-atsbridge-delivery"].to_str().unwrap().to_string()).collect();
            (ids.len() >= expected && got.len() > expected).then_some(got)
        }
    })
    .await;
    worker.stop().await;

    let mut kinds = BTreeMap::<String, Vec<String>>::new();
    for (headers, body) in &got {
        assert!(verify(&secret, headers, body), "signature does not verify: {headers:?}");
        assert!(!verify("whsec_wrong", headers, body));
        let event: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(headers["x-atsbridge-event"].to_str().unwrap(), event["type"].as_str().unwrap());
        assert_eq!(event["account_id"], "acme");
        kinds
            .entry(event["type"].as_str().unwrap().to_string())
            .or_default()
            .push(event["position"]["ats_job_code"].as_str().unwrap().to_string());
    }
    let distinct: BTreeSet<u64> =
        got.iter().map(|(_, b)| serde_json::from_slice::<Value>(b).unwrap()["id"].as_u64().unwrap()).collect();
    assert_eq!(distinct.len(), expected, "{kinds:?}");
    assert_eq!(kinds["position.closed"], vec!["J1"]);
    assert_eq!(kinds["position.reopened"], vec!["J1"]);
    assert_eq!(kinds["position.updated"], vec!["J2"]);
    assert_eq!(kinds["position.removed"], vec!["J5"]);
    // The first request failed; the same event came again (at least once).
    assert!(got[1..].iter().any(|(_, b)| *b == got[0].1), "the failed delivery is retried with the same event");
    assert_eq!(kinds["position.created"].len(), 5 + 1);

    // The delivery log shows the retry; another account cannot read it.
    let log = get_json(format!("{api}/api/v1/accounts/acme/webhooks/{id}/deliveries?limit=100"), OPERATOR).await;
    let deliveries = log["items"].as_array().unwrap();
    assert_eq!(deliveries.len(), expected);
    assert!(deliveries.iter().all(|d| d["state"] == "delivered" && d["last_status"] == 200), "{log}");
    assert_eq!(deliveries.iter().filter(|d| d["attempts"] == 2).count(), 1, "{log}");
    let other = send("GET", format!("{api}/api/v1/accounts/other/webhooks/{id}/deliveries"), OPERATOR).await;
    assert_eq!(other.status(), 404);
    let other = send("GET", format!("{api}/api/v1/accounts/acme/webhooks/{id}/deliveries"), &other_key).await;
    assert_eq!(other.status(), 404);
    // Pages of the log, newest first, two at a time, cover it once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let page =
            get_json(format!("{api}/api/v1/accounts/acme/webhooks/{id}/deliveries?limit=2{cursor}"), OPERATOR).await;
        seen.extend(page["items"].as_array().unwrap().iter().map(|d| d["event_id"].as_u64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let mut newest_first = seen.clone();
    newest_first.sort_unstable_by(|a, b| b.cmp(a));
    newest_first.dedup();
    assert_eq!(seen, newest_first, "each delivery once, newest first");
    assert_eq!(seen.len(), expected);
    // The account's own key removes its endpoint.
    let r = send("DELETE", format!("{api}/api/v1/accounts/acme/webhooks/{id}"), &other_key).await;
    assert_eq!(r.status(), 404, "not another account's key");
    let r = send("DELETE", format!("{api}/api/v1/accounts/acme/webhooks/{id}"), &acme_key).await;
    assert_eq!(r.status(), 204);
}
