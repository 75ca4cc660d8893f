//! Ashby RPC API against the mock.

use std::time::Duration;

use atsbridge_mock_ats::{JobStatus, MockAts, MockConfig, RateLimit, Vendor};
use serde_json::{Value, json};

use crate::common::*;

fn config(jobs: usize) -> MockConfig {
    MockConfig { jobs, seed: 41, ..Default::default() }
}

async fn rpc(ats: &MockAts, method: &str, body: Value) -> Reply {
    reply(
        client()
            .post(format!("{}/{method}", ats.base_url()))
            .basic_auth(ats.credentials().api_key, Some(""))
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await
}

/// Runs `job.list` to the end; returns jobs, pages and the final syncToken.
async fn sync(ats: &MockAts, mut body: Value) -> Result<(Vec<Value>, usize, String), Value> {
    let (mut all, mut pages) = (Vec::new(), 0);
    loop {
        let r = rpc(ats, "job.list", body.clone()).await;
        assert_eq!(r.status, 200);
        if r.json["success"] != true {
            return Err(r.json);
        }
        all.extend(r.json["results"].as_array().unwrap().iter().cloned());
        pages += 1;
        if r.json["moreDataAvailable"] != true {
            return Ok((all, pages, r.json["syncToken"].as_str().expect("last page has a syncToken").to_string()));
        }
        assert!(r.json.get("syncToken").is_none());
        body["cursor"] = r.json["nextCursor"].clone();
    }
}

#[tokio::test]
async fn auth_missing_is_401_wrong_is_403() {
    let ats = start(Vendor::Ashby, config(2)).await;
    let url = format!("{}/job.list", ats.base_url());
    let missing = reply(client().post(&url).body("{}")).await;
    assert_eq!((missing.status, &missing.json["success"]), (401, &json!(false)));
    let wrong = reply(client().post(&url).basic_auth("nope", Some("")).body("{}")).await;
    assert_eq!(wrong.status, 403);
    assert!(wrong.json["errorInfo"]["requestId"].is_string());
}

#[tokio::test]
async fn cursor_listing_and_sync_tokens() {
    let ats = start(Vendor::Ashby, config(250)).await;
    let (all, pages, token) =
        sync(&ats, json!({ "limit": 100, "status": ["Draft", "Open", "Closed", "Archived"] })).await.unwrap();
    assert_eq!(pages, 3);
    assert_same_set(ids(&Value::Array(all.clone()), "id"), ats.jobs().iter().map(|j| j.id.clone()).collect());
    assert!(all[0]["defaultInterviewPlanId"].is_string() && all[0]["updatedAt"].as_str().unwrap().ends_with('Z'));

    // Drafts only when asked for.
    let (default, _, _) = sync(&ats, json!({})).await.unwrap();
    assert_eq!(default.len(), ats.jobs().iter().filter(|j| j.status != JobStatus::Draft).count());

    // Incremental: only what changed since the token.
    let jobs = ats.jobs();
    ats.update_job(&jobs[5].id, |j| j.title = "New title".into()).unwrap();
    ats.close_job(&jobs[200].id).unwrap();
    let (changed, _, token2) =
        sync(&ats, json!({ "syncToken": token, "limit": 1, "status": ["Draft", "Open", "Closed", "Archived"] }))
            .await
            .unwrap();
    assert_same_set(ids(&Value::Array(changed), "id"), vec![jobs[5].id.clone(), jobs[200].id.clone()]);
    let (nothing, _, _) = sync(&ats, json!({ "syncToken": token2 })).await.unwrap();
    assert!(nothing.is_empty());

    let unknown = sync(&ats, json!({ "syncToken": "st_bogus" })).await.unwrap_err();
    assert_eq!(unknown["errorInfo"]["code"], "sync_token_expired");
    assert_eq!(unknown["errors"], json!(["sync_token_expired"]));
    ats.expire_tokens();
    assert_eq!(
        sync(&ats, json!({ "syncToken": token2 })).await.unwrap_err()["errorInfo"]["code"],
        "sync_token_expired"
    );

    let big = rpc(&ats, "job.list", json!({ "limit": 101 })).await;
    assert_eq!(
        (big.status, &big.json["success"], &big.json["errorInfo"]["code"]),
        (200, &json!(false), &json!("invalid_input"))
    );
}

#[tokio::test]
async fn incremental_sync_too_large() {
    let ats = start(Vendor::Ashby, MockConfig { max_incremental_changes: 3, ..config(20) }).await;
    let (_, _, token) = sync(&ats, json!({})).await.unwrap();
    for job in &ats.jobs()[..4] {
        ats.update_job(&job.id, |_| {}).unwrap();
    }
    let err = sync(&ats, json!({ "syncToken": token })).await.unwrap_err();
    assert_eq!(err["errorInfo"]["code"], "incremental_sync_too_large");
}

#[tokio::test]
async fn rate_limit_gives_429() {
    let ats = start(
        Vendor::Ashby,
        MockConfig { rate_limit: Some(RateLimit { limit: 1, window: Duration::from_secs(5) }), ..config(2) },
    )
    .await;
    assert_eq!(rpc(&ats, "interviewPlan.list", json!({})).await.status, 200);
    let r = rpc(&ats, "interviewPlan.list", json!({})).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() <= 5);
}

#[tokio::test]
async fn descriptions_via_job_postings() {
    let ats = start(Vendor::Ashby, config(10)).await;
    let postings = rpc(&ats, "jobPosting.list", json!({})).await.json;
    let first = &postings["results"][0];
    let info = rpc(&ats, "jobPosting.info", json!({ "jobPostingId": first["id"] })).await.json;
    assert_eq!(
        info["results"]["descriptionHtml"].as_str(),
        ats.job_description(first["jobId"].as_str().unwrap()).as_deref()
    );
    let missing = rpc(&ats, "jobPosting.info", json!({ "jobPostingId": "00000000-0000-4000-8000-000000000001" })).await;
    assert_eq!((missing.status, missing.json["errorInfo"]["code"].as_str()), (200, Some("not_found")));
}

#[tokio::test]
async fn candidate_application_and_resume_upload_are_recorded() {
    let ats = start(Vendor::Ashby, config(6)).await;
    let job = ats.jobs()[0].clone();
    let stages = ats.stages(&job.id).unwrap();

    let plans = rpc(&ats, "interviewPlan.list", json!({})).await.json;
    let listed = rpc(&ats, "interviewStage.list", json!({ "interviewPlanId": plans["results"][0]["id"] })).await.json;
    assert_eq!(listed["results"][0]["type"], "Lead");

    let none = rpc(&ats, "candidate.search", json!({ "email": "linus@example.org" })).await.json;
    assert_eq!(none["results"], json!([]));
    let create_body = json!({ "name": "Linus Torvalds", "email": "linus@example.org" });
    let cand = rpc(&ats, "candidate.create", create_body.clone()).await.json;
    assert_eq!(cand["success"], true);
    let cid = cand["results"]["id"].as_str().unwrap().to_string();
    let app = rpc(
        &ats,
        "application.create",
        json!({ "candidateId": cid, "jobId": job.id, "interviewStageId": "FirstPreInterviewScreen" }),
    )
    .await
    .json;
    assert_eq!(app["results"]["currentInterviewStage"]["type"], "PreInterviewScreen", "{app}");
    let app_id = app["results"]["id"].as_str().unwrap().to_string();
    let dup = rpc(&ats, "application.create", json!({ "candidateId": cid, "jobId": job.id })).await.json;
    assert_eq!(dup["success"], false);

    // Resume: handle (the documented field names) → upload → attach.
    let resume = resume_bytes();
    let handle = rpc(
        &ats,
        "file.createFileUploadHandle",
        json!({ "filename": "linus.pdf", "contentType": "application/pdf",
                "contentLength": resume.len(), "fileUploadContext": "CandidateResume" }),
    )
    .await
    .json;
    let up = client()
        .put(handle["results"]["url"].as_str().unwrap())
        .header("content-type", "application/pdf")
        .body(resume.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 200);
    let attached =
        rpc(&ats, "candidate.uploadResume", json!({ "candidateId": cid, "resumeHandle": handle["results"]["handle"] }))
            .await
            .json;
    assert_eq!(attached["results"]["resumeFileHandle"]["name"], "linus.pdf");

    let pushed = ats.pushed_candidates();
    assert_eq!(pushed.len(), 1);
    let p = &pushed[0];
    assert_eq!((p.name.as_str(), p.emails.clone()), ("Linus Torvalds", vec!["linus@example.org".to_string()]));
    assert_eq!(
        (p.job_id.as_deref(), p.application_id.as_deref(), p.stage_id.as_deref()),
        (Some(job.id.as_str()), Some(app_id.as_str()), Some(stages[1].id.as_str()))
    );
    let f = p.resume().unwrap();
    assert_eq!(
        (f.file_name.as_str(), f.content_type.as_deref(), &f.bytes),
        ("linus.pdf", Some("application/pdf"), &resume)
    );
    assert_eq!(p.raw_bodies.len(), 3);
    assert_eq!(p.body_json().unwrap(), create_body);

    let found = rpc(&ats, "candidate.search", json!({ "email": "linus@example.org" })).await.json;
    assert_eq!(found["results"][0]["id"], cid.as_str());
    ats.hire(&app_id).unwrap();
    let info = rpc(&ats, "application.info", json!({ "applicationId": app_id })).await.json;
    assert_eq!(
        (info["results"]["status"].as_str(), info["results"]["currentInterviewStage"]["title"].as_str()),
        (Some("Hired"), Some("Hired"))
    );
}

#[tokio::test]
async fn upload_handle_validates_its_fields_and_keeps_the_old_name() {
    let ats = start(Vendor::Ashby, config(1)).await;
    let documented = rpc(
        &ats,
        "file.createFileUploadHandle",
        json!({ "filename": "cv.pdf", "contentType": "application/pdf", "contentLength": 3000,
                "fileUploadContext": "CandidateResume" }),
    )
    .await;
    assert_eq!(documented.json["success"], true, "{}", documented.text);
    assert!(documented.json["results"]["handle"].is_string());
    assert!(documented.json["results"]["url"].is_string());
    let legacy =
        rpc(&ats, "file.createFileUploadHandle", json!({ "fileName": "cv.pdf", "contentType": "application/pdf" }))
            .await;
    assert_eq!(legacy.json["success"], true, "{}", legacy.text);

    for bad in [
        json!({ "contentType": "application/pdf" }),
        json!({ "filename": "cv.pdf", "contentLength": "big" }),
        json!({ "filename": "cv.pdf", "fileUploadContext": "Elsewhere" }),
    ] {
        let r = rpc(&ats, "file.createFileUploadHandle", bad.clone()).await;
        assert_eq!(r.json["success"], false, "{bad}: {}", r.text);
        assert_eq!(r.json["errorInfo"]["code"], "invalid_input");
    }
}
