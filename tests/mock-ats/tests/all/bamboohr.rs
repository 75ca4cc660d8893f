//! BambooHR applicant tracking against the mock.

use std::time::Duration;

use atsbridge_mock_ats::{Fault, MockAts, MockConfig, RateLimit, Vendor};
use serde_json::{Value, json};

use crate::common::*;

fn config(jobs: usize) -> MockConfig {
    MockConfig { jobs, seed: 43, ..Default::default() }
}

fn get(ats: &MockAts, path: &str) -> reqwest::RequestBuilder {
    client()
        .get(format!("{}/applicant_tracking{path}", ats.api_base_url()))
        .basic_auth(ats.credentials().api_key, Some("x"))
        .header("accept", "application/json")
}

fn apply(ats: &MockAts, fields: &[(&str, &str)], resume: bool) -> reqwest::RequestBuilder {
    let resume_bytes = resume_bytes();
    let files: Vec<(&str, &str, &str, &[u8])> =
        if resume { vec![("resume", "cv.pdf", "application/pdf", &resume_bytes)] } else { vec![] };
    let (body, content_type) = form_data(fields, &files);
    client()
        .post(format!("{}/applicant_tracking/application", ats.api_base_url()))
        .basic_auth(ats.credentials().api_key, Some("x"))
        .header("accept", "application/json")
        .header("content-type", content_type)
        .body(body)
}

#[tokio::test]
async fn basic_auth_takes_the_key_as_user_name_and_errors_have_no_body() {
    let ats = start(Vendor::BambooHr, config(2)).await;
    assert_eq!(ats.api_base_url(), format!("{}/api/gateway.php/acme/v1", ats.base_url()));
    let url = format!("{}/applicant_tracking/jobs", ats.api_base_url());
    let key = ats.credentials().api_key;
    for req in
        [client().get(&url), client().get(&url).basic_auth("nope", Some("x")), client().get(&url).bearer_auth(&key)]
    {
        let r = reply(req.header("accept", "application/json")).await;
        assert_eq!((r.status, r.text.as_str()), (401, ""));
        assert!(r.header("x-bamboohr-error-message").is_some());
    }
    // Any password works, even none.
    let r = reply(client().get(&url).basic_auth(&key, None::<&str>).header("accept", "application/json")).await;
    assert_eq!(r.status, 200);
    // Without Accept: application/json the answer is XML.
    let r = reply(client().get(&url).basic_auth(&key, Some("x"))).await;
    assert!(r.text.starts_with("<?xml") && r.json.is_null(), "{}", r.text);
    // Another company's domain does not exist here.
    let other = format!("{}/api/gateway.php/other/v1/applicant_tracking/jobs", ats.base_url());
    let r = reply(client().get(other).basic_auth(&key, Some("x")).header("accept", "application/json")).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn jobs_are_one_plain_array_filtered_by_status_group() {
    let ats = start(Vendor::BambooHr, config(300)).await;
    let r = reply(get(&ats, "/jobs")).await;
    let all = r.json.as_array().expect("a plain array, no envelope");
    assert_eq!(all.len(), 300, "no pagination");
    assert_same_set(ids(&r.json, "id"), ats.jobs().iter().map(|j| j.id.clone()).collect());
    let job = &all[0];
    assert!(job["id"].is_u64() && job["title"]["label"].is_string() && job["status"]["label"].is_string());
    let lead = &ats.users()[ats.jobs()[0].hiring_manager];
    assert_eq!(job["hiringLead"]["firstName"], lead.first_name.as_str());
    assert!(job.get("updatedAt").is_none() && job.get("description").is_none(), "no change time, no description");

    let open = reply(get(&ats, "/jobs?statusGroups=Open")).await;
    let want = ats.jobs().iter().filter(|j| j.status == atsbridge_mock_ats::JobStatus::Open).count();
    assert_eq!(open.json.as_array().unwrap().len(), want);
    assert!(open.json.as_array().unwrap().iter().all(|j| j["status"]["label"] == "Open"));
    let both = reply(get(&ats, "/jobs?statusGroups=DRAFT_AND_OPEN,Filled")).await;
    assert!(both.json.as_array().unwrap().len() > want);
    assert_eq!(reply(get(&ats, "/jobs?statusGroups=ALL")).await.json.as_array().unwrap().len(), 300);
    assert_eq!(reply(get(&ats, "/jobs?statusGroups=Lost")).await.status, 400);
}

#[tokio::test]
async fn statuses_are_the_company_pipeline() {
    let ats = start(Vendor::BambooHr, config(1)).await;
    let r = reply(get(&ats, "/statuses")).await;
    let enabled: Vec<String> =
        r.json.as_array().unwrap().iter().filter(|s| s["enabled"] == true).map(|s| s["id"].to_string()).collect();
    let stages: Vec<String> = ats.stages(&ats.jobs()[0].id).unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(stages, enabled);
    assert!(r.json.as_array().unwrap().iter().any(|s| s["enabled"] == false));
}

#[tokio::test]
async fn applications_are_created_duplicated_found_and_moved() {
    let ats = start(Vendor::BambooHr, MockConfig { page_size_max: Some(2), ..config(3) }).await;
    let job = ats.jobs()[1].id.clone();
    let fields =
        [("firstName", "Ada"), ("lastName", "Lovelace"), ("jobId", job.as_str()), ("email", "ada@example.com")];
    let r = reply(apply(&ats, &fields, true)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let app_id = r.json["applicationId"].to_string();
    let pushed = ats.pushed_candidates();
    assert_eq!(pushed[0].application_id.as_deref(), Some(app_id.as_str()));
    assert_eq!(pushed[0].candidate_id, r.json["candidateId"].to_string());
    assert_eq!(pushed[0].resume().unwrap().bytes, resume_bytes());

    // A second application with the same address is accepted and counted.
    let again = reply(apply(&ats, &fields, false)).await;
    assert_eq!(again.status, 200);
    let detail = reply(get(&ats, &format!("/applications/{}", again.json["applicationId"]))).await;
    assert_eq!(detail.json["duplicateApplicationCount"], 1);
    assert_eq!(detail.json["status"]["label"], "New");

    // Required fields and a real job.
    assert_eq!(reply(apply(&ats, &[("firstName", "A"), ("jobId", job.as_str())], false)).await.status, 422);
    let nowhere = [("firstName", "A"), ("lastName", "B"), ("jobId", "999999")];
    assert_eq!(reply(apply(&ats, &nowhere, false)).await.status, 404);
    for n in 0..3 {
        let email = format!("other{n}@example.com");
        let other = [("firstName", "O"), ("lastName", "P"), ("jobId", job.as_str()), ("email", email.as_str())];
        reply(apply(&ats, &other, false)).await;
    }

    // Search by address on the job; pages follow nextPageUrl.
    let found =
        reply(get(&ats, &format!("/applications?jobId={job}&searchString=ada%40example.com&applicationStatus=ALL")))
            .await;
    assert_eq!(found.json["applications"].as_array().unwrap().len(), 2);
    assert_eq!(found.json["applications"][0]["applicant"]["email"], "ada@example.com");
    let (mut seen, mut next) = (0, Some(format!("{}/applicant_tracking/applications?jobId={job}", ats.api_base_url())));
    while let Some(url) = next {
        let r = reply(
            client().get(&url).basic_auth(ats.credentials().api_key, Some("x")).header("accept", "application/json"),
        )
        .await;
        seen += r.json["applications"].as_array().unwrap().len();
        next = r.json["nextPageUrl"].as_str().map(str::to_string);
        assert_eq!(r.json["paginationComplete"], next.is_none());
    }
    assert_eq!(seen, 5);

    // Status changes; rejected applications leave the default (active) listing.
    let post = client()
        .post(format!("{}/applicant_tracking/applications/{app_id}/status", ats.api_base_url()))
        .basic_auth(ats.credentials().api_key, Some("x"))
        .header("accept", "application/json")
        .header("content-type", "application/json")
        .body(json!({"status": 6}).to_string());
    assert_eq!(reply(post).await.status, 200);
    assert_eq!(reply(get(&ats, &format!("/applications/{app_id}"))).await.json["status"]["label"], "Interviewed");
    ats.reject(&app_id).unwrap();
    let active = reply(get(&ats, "/applications?searchString=ada")).await;
    assert_eq!(active.json["applications"].as_array().unwrap().len(), 1, "{}", active.text);
    assert_eq!(reply(get(&ats, &format!("/applications/{app_id}"))).await.json["status"]["label"], "Not a Fit");
    assert_eq!(reply(get(&ats, "/applications/1")).await.status, 404);
}

#[tokio::test]
async fn throttling_is_503_with_retry_after() {
    let limit = RateLimit { limit: 2, window: Duration::from_secs(2) };
    let ats = start(Vendor::BambooHr, MockConfig { rate_limit: Some(limit), ..config(2) }).await;
    assert_eq!(reply(get(&ats, "/jobs")).await.status, 200);
    assert_eq!(reply(get(&ats, "/jobs")).await.status, 200);
    let r = reply(get(&ats, "/jobs")).await;
    assert_eq!((r.status, r.header("retry-after"), r.text.as_str()), (503, Some("2"), ""));
    tokio::time::sleep(Duration::from_millis(2100)).await;

    ats.inject(Fault::RateLimit { retry_after_secs: 7 });
    let r = reply(get(&ats, "/jobs")).await;
    assert_eq!((r.status, r.header("retry-after")), (429, Some("7")));
    ats.inject(Fault::Status(503));
    let r = reply(get(&ats, "/jobs")).await;
    assert_eq!((r.status, r.header("retry-after")), (503, None), "an outage has no Retry-After");
    ats.inject(Fault::DropConnection);
    assert!(get(&ats, "/jobs").send().await.is_err());
    assert_eq!(reply(get(&ats, "/jobs")).await.status, 200);
    let _: Value = reply(get(&ats, "/statuses")).await.json;
}
