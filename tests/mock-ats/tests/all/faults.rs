//! Injected faults, exercised through real HTTP.

use std::time::{Duration, Instant};

use atsbridge_mock_ats::{Fault, FaultRule, MockAts, MockConfig, Vendor};
use serde_json::Value;

use crate::common::*;

async fn lever(jobs: usize) -> MockAts {
    start(Vendor::Lever, MockConfig { jobs, seed: 5, ..Default::default() }).await
}

fn get(ats: &MockAts, path: &str) -> reqwest::RequestBuilder {
    client().get(format!("{}{path}", ats.api_base_url())).basic_auth(ats.credentials().api_key, Some(""))
}

#[tokio::test]
async fn status_faults_fire_the_given_number_of_times_on_their_path() {
    let ats = lever(3).await;
    ats.inject(Fault::Status(503));
    let r = reply(get(&ats, "/stages")).await;
    assert_eq!(r.status, 503);
    assert!(r.text.contains("<html>"), "gateway errors are HTML: {}", r.text);
    assert_eq!(reply(get(&ats, "/stages")).await.status, 200, "one-shot by default");

    ats.inject(FaultRule::new(Fault::Status(500)).times(2).on_path("/v1/postings"));
    assert_eq!(reply(get(&ats, "/stages")).await.status, 200, "other paths unaffected");
    let r = reply(get(&ats, "/postings")).await;
    assert_eq!((r.status, r.json["code"].as_str()), (500, Some("InternalServerError")));
    assert_eq!(reply(get(&ats, "/postings")).await.status, 500);
    assert_eq!(reply(get(&ats, "/postings")).await.status, 200);

    let statuses: Vec<Option<u16>> = ats.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 200, 200, 500, 500, 200].map(Some).to_vec());
    assert_eq!(ats.request_count(), 6);
    assert_eq!(ats.requests()[3].path, "/v1/postings");
}

#[tokio::test]
async fn rate_limit_fault_sets_retry_after() {
    let ats = start(Vendor::Greenhouse, MockConfig { jobs: 2, ..Default::default() }).await;
    ats.inject(Fault::RateLimit { retry_after_secs: 7 });
    // The token endpoint is auxiliary: the unscoped fault skips it.
    let token = greenhouse_token(&ats, None).await;
    let r = reply(client().get(format!("{}/jobs", ats.api_base_url())).bearer_auth(&token)).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.header("x-ratelimit-limit"), Some("50"));
    assert!(r.header("x-ratelimit-reset").is_some());
}

#[tokio::test]
async fn slow_fault_delays_the_response() {
    let ats = lever(2).await;
    ats.inject(Fault::Slow(Duration::from_millis(400)));
    let t = Instant::now();
    assert_eq!(reply(get(&ats, "/stages")).await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(400));
}

#[tokio::test]
async fn malformed_json_keeps_status_but_breaks_the_body() {
    let ats = start(Vendor::Workable, MockConfig { jobs: 5, ..Default::default() }).await;
    ats.inject(Fault::MalformedJson);
    let r = reply(client().get(format!("{}/jobs", ats.api_base_url())).bearer_auth(ats.credentials().api_key)).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("application/json"));
    assert!(serde_json::from_str::<Value>(&r.text).is_err(), "body should not parse: {}", r.text);
    assert!(r.text.starts_with("{\"jobs\""));
}

#[tokio::test]
async fn drop_connection_closes_without_a_response() {
    let ats = lever(2).await;
    ats.inject(Fault::DropConnection);
    let err = get(&ats, "/stages").send().await.expect_err("the connection is dropped");
    assert!(err.is_request() || err.is_connect() || err.is_body(), "{err:?}");
    assert_eq!(ats.requests()[0].status, None, "no status was sent");
    assert_eq!(reply(get(&ats, "/stages")).await.status, 200, "the next request works");
}

#[tokio::test]
async fn change_between_pages_adds_and_updates_jobs_mid_listing() {
    let ats = lever(250).await;
    let before = ats.jobs();
    ats.inject(Fault::ChangePageBetweenRequests);
    let (mut all, mut offset) = (Vec::new(), None::<String>);
    loop {
        let path = match &offset {
            None => "/postings?limit=100&confidentiality=all".to_string(),
            Some(o) => format!("/postings?limit=100&confidentiality=all&offset={o}"),
        };
        let r = reply(get(&ats, &path)).await;
        all.extend(ids(&r.json["data"], "id"));
        if r.json["hasNext"] != true {
            break;
        }
        offset = r.json["next"].as_str().map(str::to_string);
    }
    let after = ats.jobs();
    assert_eq!(after.len(), before.len() + 1, "one job was added");
    assert_eq!(all.len(), after.len(), "the listing reached the added job");
    assert_same_set(all, after.iter().map(|j| j.id.clone()).collect());
    assert!(after[0].title.ends_with("(updated)") && after[0].updated_at > before[0].updated_at);
}
