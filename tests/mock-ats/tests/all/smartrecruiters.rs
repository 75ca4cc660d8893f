//! SmartRecruiters Customer API against the mock.

use std::time::Duration;

use atsbridge_mock_ats::{Fault, MockAts, MockConfig, RateLimit, Vendor};
use serde_json::{Value, json};

use crate::common::*;

fn config(jobs: usize) -> MockConfig {
    MockConfig { jobs, seed: 41, ..Default::default() }
}

fn get(ats: &MockAts, path: &str) -> reqwest::RequestBuilder {
    client().get(format!("{}{path}", ats.api_base_url())).header("X-SmartToken", ats.credentials().api_key)
}

#[tokio::test]
async fn auth_needs_the_smart_token_header() {
    let ats = start(Vendor::SmartRecruiters, config(2)).await;
    let url = format!("{}/jobs", ats.api_base_url());
    let key = ats.credentials().api_key;
    for req in [
        client().get(&url),
        client().get(&url).header("X-SmartToken", "nope"),
        // The key in another header does not count.
        client().get(&url).bearer_auth(&key),
    ] {
        let r = reply(req).await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert!(r.json["message"].is_string(), "{}", r.text);
        assert_eq!(r.json["errors"][0]["code"], "UNAUTHORIZED");
    }
    assert_eq!(reply(get(&ats, "/jobs")).await.status, 200);
}

#[tokio::test]
async fn offset_paging_lists_every_job_once_with_the_total() {
    let ats = start(Vendor::SmartRecruiters, config(230)).await;
    let (mut all, mut offset) = (Vec::new(), 0);
    loop {
        let r = reply(get(&ats, &format!("/jobs?limit=100&offset={offset}"))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!((r.json["totalFound"].as_u64(), r.json["offset"].as_u64()), (Some(230), Some(offset)));
        let content = r.json["content"].as_array().unwrap();
        all.extend(content.iter().cloned());
        offset += content.len() as u64;
        if content.is_empty() || offset >= 230 {
            assert_eq!(r.json.get("nextPageId"), None, "no next page on the last one");
            break;
        }
        assert!(r.json["nextPageId"].is_string());
    }
    assert_same_set(ids(&Value::Array(all.clone()), "id"), ats.jobs().iter().map(|j| j.id.clone()).collect());
    let job = &all[0];
    assert!(job["title"].is_string() && job["updatedOn"].is_string() && job["location"]["city"].is_string());
    assert!(
        ["SOURCING", "INTERVIEW", "OFFER", "FILLED", "CREATED", "CANCELLED"].contains(&job["status"].as_str().unwrap())
    );

    // The cursor style walks the same jobs; the default page is 10, the most 100.
    let (mut by_cursor, mut next) = (Vec::new(), None::<String>);
    loop {
        let path = next.as_ref().map_or("/jobs?limit=100".to_string(), |p| format!("/jobs?limit=100&pageId={p}"));
        let r = reply(get(&ats, &path)).await;
        by_cursor.extend(ids(&r.json["content"], "id"));
        match r.json["nextPageId"].as_str() {
            Some(p) => next = Some(p.to_string()),
            None => break,
        }
    }
    assert_eq!(by_cursor, ids(&Value::Array(all), "id"));
    assert_eq!(reply(get(&ats, "/jobs")).await.json["content"].as_array().unwrap().len(), 10);
    let big = reply(get(&ats, "/jobs?limit=101")).await;
    assert_eq!(big.status, 400);
    assert!(big.json["errors"][0]["message"].as_str().unwrap().contains("100"), "{}", big.text);
    assert_eq!(reply(get(&ats, "/jobs?pageId=garbage")).await.status, 400);
}

#[tokio::test]
async fn updated_after_returns_changed_jobs_only() {
    let ats = start(Vendor::SmartRecruiters, config(60)).await;
    let jobs = ats.jobs();
    ats.update_job(&jobs[7].id, |j| j.title = "Changed".into()).unwrap();
    let added = ats.add_jobs(1);
    let r = reply(get(&ats, "/jobs?limit=100&updatedAfter=2025-06-01T00:00:00.000Z")).await;
    assert_same_set(ids(&r.json["content"], "id"), vec![jobs[7].id.clone(), added[0].id.clone()]);
    assert_eq!(r.json["totalFound"], 2);
    assert_eq!(reply(get(&ats, "/jobs?updatedAfter=yesterday")).await.status, 400);
}

#[tokio::test]
async fn jobs_name_their_hiring_process_team_and_ads() {
    let ats = start(Vendor::SmartRecruiters, config(4)).await;
    for job in ats.jobs() {
        let detail = reply(get(&ats, &format!("/jobs/{}", job.id))).await;
        let process_id = detail.json["hiringProcessId"].as_str().unwrap().to_string();
        let process = reply(get(&ats, &format!("/configuration/hiring-processes/{process_id}"))).await;
        assert_eq!(process.status, 200);
        // The pipeline: each status, then its sub-statuses.
        let mut want = Vec::new();
        for (status, key) in [
            ("NEW", None),
            ("IN_REVIEW", Some("inReview")),
            ("INTERVIEW", Some("interview")),
            ("OFFER", Some("offered")),
            ("HIRED", None),
        ] {
            want.push(status.to_string());
            if let Some(key) = key {
                for sub in process.json["subStatuses"][key].as_array().unwrap() {
                    want.push(format!("{status}:{}", sub.as_str().unwrap()));
                }
            }
        }
        let stages: Vec<String> = ats.stages(&job.id).unwrap().into_iter().map(|s| s.id).collect();
        assert_eq!(stages, want);

        let team = reply(get(&ats, &format!("/jobs/{}/hiring-team", job.id))).await;
        let members = team.json["content"].as_array().unwrap();
        assert_eq!(members[0]["role"], "RECRUITER");
        let user = reply(get(&ats, &format!("/user-api/v201804/users/{}", members[0]["id"].as_str().unwrap()))).await;
        assert_eq!(user.json["email"], ats.users()[job.recruiter].email.as_str());

        let ads = reply(get(&ats, &format!("/jobs/{}/jobads", job.id))).await;
        let sections = &ads.json["content"][0]["jobAd"]["sections"];
        assert!(sections["jobDescription"]["text"].as_str().unwrap().contains("<"));
        assert!(sections["qualifications"]["text"].is_string());
    }
    let processes = reply(get(&ats, "/configuration/hiring-processes")).await;
    assert_eq!(processes.json["totalFound"], 2);
    assert_eq!(reply(get(&ats, "/jobs/nope")).await.status, 404);
    assert_eq!(reply(get(&ats, "/configuration/hiring-processes/nope")).await.status, 404);
}

#[tokio::test]
async fn candidates_are_created_found_and_move_through_the_pipeline() {
    let ats = start(Vendor::SmartRecruiters, config(3)).await;
    let job = ats.jobs()[1].id.clone();
    let key = ats.credentials().api_key;
    let create = |body: Value| {
        client()
            .post(format!("{}/jobs/{job}/candidates", ats.api_base_url()))
            .header("X-SmartToken", &key)
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    let r = reply(create(json!({"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
        "web": {"linkedin": "https://linkedin.com/in/ada"}})))
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json["id"].as_str().unwrap().to_string();
    assert_eq!(
        (r.json["primaryAssignment"]["job"]["id"].as_str(), r.json["primaryAssignment"]["status"].as_str()),
        (Some(job.as_str()), Some("NEW"))
    );

    // The same address on the same job is a conflict; missing names are refused.
    assert_eq!(reply(create(json!({"firstName": "A", "lastName": "L", "email": "ADA@example.com"}))).await.status, 409);
    let bad = reply(create(json!({"firstName": "A"}))).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json["errors"].as_array().unwrap().len(), 2);

    // The resume, as an attachment.
    let resume = resume_bytes();
    let (body, content_type) =
        form_data(&[("attachmentType", "RESUME")], &[("file", "cv.pdf", "application/pdf", &resume)]);
    let r = reply(
        client()
            .post(format!("{}/candidates/{id}/attachments", ats.api_base_url()))
            .header("X-SmartToken", &key)
            .header("content-type", content_type)
            .body(body),
    )
    .await;
    assert_eq!((r.status, r.json["type"].as_str()), (201, Some("RESUME")), "{}", r.text);
    let pushed = ats.pushed_candidates();
    assert_eq!(pushed.len(), 1);
    let app_id = format!("{id}:{job}");
    assert_eq!(
        (pushed[0].application_id.as_deref(), pushed[0].job_id.as_deref()),
        (Some(app_id.as_str()), Some(job.as_str()))
    );
    assert_eq!(pushed[0].resume().unwrap().bytes, resume_bytes());
    let listed = reply(get(&ats, &format!("/candidates/{id}/attachments"))).await;
    assert_eq!(
        (listed.json["totalFound"].as_u64(), listed.json["content"][0]["type"].as_str()),
        (Some(1), Some("RESUME"))
    );
    assert_eq!(listed.json["content"][0]["name"], "cv.pdf");

    // Search by address and job.
    let found = reply(get(&ats, &format!("/candidates?q=ada%40example.com&jobId={job}"))).await;
    assert_eq!(ids(&found.json["content"], "id"), vec![id.clone()]);
    let other_job = ats.jobs()[0].id.clone();
    assert_eq!(
        reply(get(&ats, &format!("/candidates?q=ada%40example.com&jobId={other_job}"))).await.json["totalFound"],
        0
    );

    // Status changes: through the API, then as a recruiter would.
    let stage = ats.stages(&job).unwrap()[2].id.clone();
    let (status, sub) = stage.split_once(':').map_or((stage.as_str(), None), |(s, sub)| (s, Some(sub)));
    let put = client()
        .put(format!("{}/candidates/{id}/jobs/{job}/status", ats.api_base_url()))
        .header("X-SmartToken", &key)
        .header("content-type", "application/json")
        .body(json!({"status": status, "subStatus": sub}).to_string());
    assert_eq!(reply(put).await.status, 204);
    let r = reply(get(&ats, &format!("/candidates/{id}"))).await;
    assert_eq!(r.json["primaryAssignment"]["status"], status);
    assert_eq!(ats.applications()[0].stage_id, stage);
    ats.reject(&app_id).unwrap();
    assert_eq!(reply(get(&ats, &format!("/candidates/{id}"))).await.json["primaryAssignment"]["status"], "REJECTED");
    ats.hire(&app_id).unwrap();
    assert_eq!(ats.applications()[0].stage_id, "HIRED");
    assert_eq!(reply(get(&ats, "/candidates/unknown")).await.status, 404);
}

#[tokio::test]
async fn rate_limit_and_faults_answer_like_smartrecruiters() {
    let limit = RateLimit { limit: 3, window: Duration::from_secs(1) };
    let ats = start(Vendor::SmartRecruiters, MockConfig { rate_limit: Some(limit), ..config(2) }).await;
    for remaining in [2, 1, 0] {
        let r = reply(get(&ats, "/jobs")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ratelimit-remaining"), Some(remaining.to_string().as_str()));
        assert_eq!(r.header("x-ratelimit-concurrent-limit"), Some("8"));
    }
    let r = reply(get(&ats, "/jobs")).await;
    assert_eq!((r.status, r.header("x-ratelimit-limit"), r.header("retry-after")), (429, Some("3"), Some("1")));
    assert_eq!(r.json["errors"][0]["code"], "RATE_LIMIT_EXCEEDED");
    tokio::time::sleep(Duration::from_millis(1100)).await;

    ats.inject(Fault::Status(500));
    let r = reply(get(&ats, "/jobs")).await;
    assert_eq!((r.status, r.json["errors"][0]["code"].as_str()), (500, Some("INTERNAL_ERROR")));
    ats.inject(Fault::MalformedJson);
    let r = reply(get(&ats, "/jobs")).await;
    assert!(serde_json::from_str::<Value>(&r.text).is_err());
    ats.inject(Fault::RateLimit { retry_after_secs: 7 });
    let r = reply(get(&ats, "/jobs")).await;
    assert_eq!((r.status, r.header("retry-after")), (429, Some("7")));
}
