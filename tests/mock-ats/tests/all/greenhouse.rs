//! Greenhouse Harvest v3 (and v1) against the mock.

use std::time::Duration;

use atsbridge_mock_ats::{ApplicationStatus, JobStatus, MockConfig, RateLimit, Vendor};
use serde_json::{Value, json};

use crate::common::*;

fn config(jobs: usize) -> MockConfig {
    MockConfig { jobs, seed: 11, ..Default::default() }
}

#[tokio::test]
async fn auth_rejects_missing_and_bad_credentials() {
    let ats = start(Vendor::Greenhouse, config(5)).await;
    let url = format!("{}/jobs", ats.api_base_url());
    let none = reply(client().get(&url)).await;
    assert_eq!(none.status, 401);
    assert!(none.json["message"].is_string(), "{}", none.text);
    let bad = reply(client().get(&url).bearer_auth("not-a-token")).await;
    assert_eq!(bad.status, 401);

    let c = ats.credentials();
    let wrong_secret = reply(
        client()
            .post(ats.token_url().unwrap())
            .basic_auth(c.client_id.clone().unwrap(), Some("nope"))
            .body("grant_type=client_credentials"),
    )
    .await;
    assert_eq!((wrong_secret.status, wrong_secret.json["error"].as_str()), (401, Some("invalid_client")));
    let wrong_grant = reply(
        client()
            .post(ats.token_url().unwrap())
            .basic_auth(c.client_id.clone().unwrap(), c.client_secret.clone())
            .body("grant_type=password"),
    )
    .await;
    assert_eq!(wrong_grant.status, 400);

    // v1: Basic with the API key as user name.
    let v1 = format!("{}/v1/jobs", ats.base_url());
    assert_eq!(reply(client().get(&v1).basic_auth("wrong", Some(""))).await.status, 401);
    assert_eq!(reply(client().get(&v1).header("authorization", c.basic_auth())).await.status, 200);

    // An expired token is refused.
    let token = greenhouse_token(&ats, None).await;
    assert_eq!(reply(client().get(&url).bearer_auth(&token)).await.status, 200);
    ats.expire_tokens();
    assert_eq!(reply(client().get(&url).bearer_auth(&token)).await.status, 401);
}

/// Follows `Link rel="next"` from `first`; returns all items and the page count.
async fn crawl(first: String, token: &str) -> (Vec<Value>, usize) {
    let (mut items, mut pages, mut url) = (Vec::new(), 0, Some(first));
    while let Some(u) = url {
        let r = reply(client().get(&u).bearer_auth(token)).await;
        assert_eq!(r.status, 200, "{u}: {}", r.text);
        items.extend(r.json.as_array().unwrap().iter().cloned());
        pages += 1;
        url = next_link(r.header("link"));
        if let Some(next) = &url {
            let query = next.split_once('?').unwrap().1;
            assert!(query.starts_with("cursor=") && !query.contains('&'), "cursor must be the sole param: {next}");
        }
    }
    (items, pages)
}

#[tokio::test]
async fn v3_cursor_listing_returns_every_job_once() {
    let ats = start(Vendor::Greenhouse, config(1234)).await;
    let token = greenhouse_token(&ats, None).await;
    let (items, pages) = crawl(format!("{}/jobs?per_page=500", ats.api_base_url()), &token).await;
    assert_eq!(pages, 3);
    assert_same_set(ids(&Value::Array(items.clone()), "id"), ats.jobs().iter().map(|j| j.id.clone()).collect());
    let job = &items[0];
    for key in ["name", "requisition_id", "status", "updated_at", "offices", "departments", "hiring_team", "openings"] {
        assert!(job.get(key).is_some(), "job lacks {key}: {job}");
    }
    assert!(job["offices"][0]["location"]["name"].is_string());

    // Filters apply on the first call and are carried by the cursor.
    let (open, _) = crawl(format!("{}/jobs?per_page=100&status=open", ats.api_base_url()), &token).await;
    let want = ats.jobs().iter().filter(|j| j.status == JobStatus::Open).count();
    assert_eq!(open.len(), want);
    assert!(open.iter().all(|j| j["status"] == "open"));
}

#[tokio::test]
async fn v3_rejects_extra_params_with_cursor_and_oversized_pages() {
    let ats = start(Vendor::Greenhouse, config(30)).await;
    let token = greenhouse_token(&ats, None).await;
    let first = reply(client().get(format!("{}/jobs?per_page=10", ats.api_base_url())).bearer_auth(&token)).await;
    let next = next_link(first.header("link")).expect("a next link");
    let mixed = reply(client().get(format!("{next}&per_page=10")).bearer_auth(&token)).await;
    assert_eq!(mixed.status, 422);
    assert_eq!(mixed.json["errors"][0]["field"], "cursor");

    let big = reply(client().get(format!("{}/jobs?per_page=501", ats.api_base_url())).bearer_auth(&token)).await;
    assert_eq!(big.status, 422, "{}", big.text);
    assert_eq!(big.json["message"], "Validation error");
    let max = reply(client().get(format!("{}/jobs?per_page=500", ats.api_base_url())).bearer_auth(&token)).await;
    assert_eq!((max.status, max.json.as_array().unwrap().len()), (200, 30));
}

#[tokio::test]
async fn incremental_filters_return_only_changed_jobs() {
    let ats = start(Vendor::Greenhouse, config(200)).await;
    let token = greenhouse_token(&ats, None).await;

    // Seeded jobs change before 2025-06-01; run-time changes use the wall clock.
    let since = "2025-06-01T00:00:00Z";
    let url = format!("{}/jobs?updated_at=gte|{since}", ats.api_base_url());
    assert_eq!(reply(client().get(&url).bearer_auth(&token)).await.json, json!([]));

    let jobs = ats.jobs();
    ats.update_job(&jobs[3].id, |j| j.title = "Renamed".into()).unwrap();
    ats.close_job(&jobs[150].id).unwrap();
    let added = ats.add_jobs(1).remove(0);
    let (changed, _) = crawl(url, &token).await;
    assert_same_set(
        ids(&Value::Array(changed.clone()), "id"),
        vec![jobs[3].id.clone(), jobs[150].id.clone(), added.id.clone()],
    );
    assert!(changed.iter().any(|j| j["name"] == "Renamed"));

    // v1 spelling.
    let v1 = reply(
        client()
            .get(format!("{}/v1/jobs?updated_after={since}", ats.base_url()))
            .header("authorization", ats.credentials().basic_auth()),
    )
    .await;
    assert_eq!(v1.json.as_array().unwrap().len(), 3);
    // A bad operator is a validation error.
    let bad =
        reply(client().get(format!("{}/jobs?updated_at=after|{since}", ats.api_base_url())).bearer_auth(&token)).await;
    assert_eq!(bad.status, 422);
}

#[tokio::test]
async fn v1_page_numbers_and_link_header() {
    let ats = start(Vendor::Greenhouse, config(25)).await;
    let auth = ats.credentials().basic_auth();
    let first =
        reply(client().get(format!("{}/v1/jobs?per_page=10", ats.base_url())).header("authorization", &auth)).await;
    let link = first.header("link").unwrap().to_string();
    assert!(
        link.contains("page=2") && link.contains("rel=\"next\"") && link.contains("page=3>; rel=\"last\""),
        "{link}"
    );
    let mut all = ids(&first.json, "id");
    let mut next = next_link(Some(&link));
    while let Some(url) = next {
        let r = reply(client().get(&url).header("authorization", &auth)).await;
        all.extend(ids(&r.json, "id"));
        next = next_link(r.header("link"));
    }
    assert_same_set(all, ats.jobs().iter().map(|j| j.id.clone()).collect());
    let skip = reply(
        client().get(format!("{}/v1/jobs?per_page=10&skip_count=true", ats.base_url())).header("authorization", &auth),
    )
    .await;
    assert!(!skip.header("link").unwrap().contains("last"));
}

#[tokio::test]
async fn rate_limit_headers_and_429() {
    let limit = RateLimit { limit: 3, window: Duration::from_secs(60) };
    let ats = start(Vendor::Greenhouse, MockConfig { rate_limit: Some(limit), ..config(5) }).await;
    let token = greenhouse_token(&ats, None).await; // the token endpoint is not counted
    let url = format!("{}/jobs", ats.api_base_url());
    for remaining in ["2", "1", "0"] {
        let r = reply(client().get(&url).bearer_auth(&token)).await;
        assert_eq!(r.status, 200);
        assert_eq!((r.header("x-ratelimit-limit"), r.header("x-ratelimit-remaining")), (Some("3"), Some(remaining)));
    }
    let limited = reply(client().get(&url).bearer_auth(&token)).await;
    assert_eq!(limited.status, 429);
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "retry-after {retry}");
    let reset: i64 = limited.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(reset > 1_700_000_000, "reset is a unix timestamp: {reset}");
    assert!(limited.json["message"].is_string());
}

#[tokio::test]
async fn candidate_push_is_recorded_and_reconciles() {
    let ats = start(Vendor::Greenhouse, config(10)).await;
    let user = ats.credentials().user_id;
    let token = greenhouse_token(&ats, None).await;
    let job = ats.jobs()[2].clone();
    let stages = ats.stages(&job.id).unwrap();
    let resume = resume_bytes();
    let body = json!({
        "first_name": "Ada", "last_name": "Lovelace",
        "email_addresses": [{ "value": "ada@example.org", "type": "personal" }],
        "applications": [{ "job_id": job.id.parse::<u64>().unwrap(), "initial_stage_id": stages[1].id.parse::<u64>().unwrap() }],
        "attachments": [{ "filename": "ada.pdf", "type": "resume", "content": b64(&resume), "content_type": "application/pdf" }],
    });
    let post = |b: &Value, on_behalf: Option<&str>| {
        let mut req = client()
            .post(format!("{}/candidates", ats.api_base_url()))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(b.to_string());
        if let Some(u) = on_behalf {
            req = req.header("On-Behalf-Of", u);
        }
        req
    };
    // Writes need an acting user.
    assert_eq!(reply(post(&body, None)).await.status, 403);
    let missing = reply(post(&json!({ "first_name": "A", "applications": [] }), Some(&user))).await;
    assert_eq!(missing.status, 422);
    let no_type = json!({ "first_name": "A", "last_name": "B", "applications": [{ "job_id": job.id }],
                          "attachments": [{ "filename": "x.pdf", "type": "resume", "content": b64(b"x") }] });
    assert_eq!(reply(post(&no_type, Some(&user))).await.json["errors"][0]["field"], "attachments.content_type");
    assert!(ats.pushed_candidates().is_empty(), "rejected pushes are not recorded");

    let created = reply(post(&body, Some(&user))).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let app_id = created.json["application_ids"][0].to_string();
    let pushed = ats.pushed_candidates();
    assert_eq!(pushed.len(), 1);
    let p = &pushed[0];
    assert_eq!(
        (p.first_name.as_deref(), p.last_name.as_deref(), p.name.as_str()),
        (Some("Ada"), Some("Lovelace"), "Ada Lovelace")
    );
    assert_eq!(p.emails, vec!["ada@example.org"]);
    assert_eq!(p.job_id.as_deref(), Some(job.id.as_str()));
    assert_eq!(p.stage_id.as_deref(), Some(stages[1].id.as_str()));
    assert_eq!(p.application_id.as_deref(), Some(app_id.as_str()));
    let file = p.resume().unwrap();
    assert_eq!(
        (file.file_name.as_str(), file.content_type.as_deref(), &file.bytes),
        ("ada.pdf", Some("application/pdf"), &resume)
    );
    assert_eq!(p.body_json().unwrap(), body);

    // Dedupe lookup by e-mail.
    let found =
        reply(client().get(format!("{}/candidates?email=ada@example.org", ats.api_base_url())).bearer_auth(&token))
            .await;
    assert_eq!(found.json.as_array().unwrap().len(), 1);
    assert_eq!(found.json[0]["id"], created.json["id"]);

    // Reconciliation.
    let app_url = format!("{}/applications/{app_id}", ats.api_base_url());
    let app = reply(client().get(&app_url).bearer_auth(&token)).await.json;
    assert_eq!(
        (app["status"].as_str(), app["current_stage"]["name"].as_str()),
        (Some("active"), Some(stages[1].name.as_str()))
    );
    ats.set_application_stage(&app_id, &stages[3].id).unwrap();
    assert_eq!(
        reply(client().get(&app_url).bearer_auth(&token)).await.json["current_stage"]["id"].to_string(),
        stages[3].id
    );
    assert_eq!(ats.reject(&app_id).unwrap().status, ApplicationStatus::Rejected);
    let rejected = reply(client().get(&app_url).bearer_auth(&token)).await.json;
    assert_eq!(rejected["status"], "rejected");
    assert!(rejected["rejected_at"].is_string());
    assert!(ats.set_application_stage(&app_id, "999").is_err());

    // A token issued with `sub` may write without On-Behalf-Of.
    let acting = greenhouse_token(&ats, Some(&user)).await;
    let again = reply(
        client()
            .post(format!("{}/candidates", ats.api_base_url()))
            .bearer_auth(&acting)
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await;
    assert_eq!(again.status, 201);
    assert_eq!(ats.pushed_candidates().len(), 2, "Greenhouse does not dedupe on create");
}

#[tokio::test]
async fn stages_and_job_post_content() {
    let ats = start(Vendor::Greenhouse, config(3)).await;
    let token = greenhouse_token(&ats, None).await;
    let job = &ats.jobs()[0];
    let stages =
        reply(client().get(format!("{}/jobs/{}/stages", ats.api_base_url(), job.id)).bearer_auth(&token)).await.json;
    assert_eq!(stages.as_array().unwrap().len(), 6);
    assert_eq!(stages[0]["priority"], 0);
    let posts = reply(client().get(format!("{}/job_posts?job_id={}", ats.api_base_url(), job.id)).bearer_auth(&token))
        .await
        .json;
    assert_eq!(posts.as_array().unwrap().len(), 1);
    assert_eq!(posts[0]["content"].as_str(), ats.job_description(&job.id).as_deref());
    assert!(posts[0]["content"].as_str().unwrap().contains("<ul>"));
    let missing = reply(client().get(format!("{}/jobs/1/stages", ats.api_base_url())).bearer_auth(&token)).await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn v3_job_stages_lists_every_jobs_stages_across_cursor_pages() {
    let ats = start(Vendor::Greenhouse, config(7)).await;
    let token = greenhouse_token(&ats, None).await;
    let (stages, pages) = crawl(format!("{}/job_stages?per_page=5", ats.api_base_url()), &token).await;
    assert_eq!(pages, 9, "42 stages, 5 a page");
    let want: Vec<String> = ats.jobs().iter().flat_map(|j| ats.stages(&j.id).unwrap()).map(|s| s.id).collect();
    assert_eq!(ids(&Value::Array(stages.clone()), "id"), want, "listing order, each once");
    let job = &ats.jobs()[3];
    let job_num: u64 = job.id.parse().unwrap();
    let of_job: Vec<&Value> = stages.iter().filter(|s| s["job_id"] == job_num).collect();
    assert_eq!(of_job.iter().map(|s| s["priority"].as_u64().unwrap()).collect::<Vec<_>>(), (0..6).collect::<Vec<_>>());
    assert_eq!(of_job[0]["name"], "Application Review");

    let filtered =
        reply(client().get(format!("{}/job_stages?job_id={}", ats.api_base_url(), job.id)).bearer_auth(&token)).await;
    assert_eq!(filtered.json.as_array().unwrap().len(), 6);
    let unauthorized = reply(client().get(format!("{}/job_stages", ats.api_base_url()))).await;
    assert_eq!(unauthorized.status, 401);
}

#[tokio::test]
async fn v3_applications_adds_an_application_to_a_known_candidate() {
    let ats = start(Vendor::Greenhouse, config(5)).await;
    let user = ats.credentials().user_id;
    let token = greenhouse_token(&ats, Some(&user)).await;
    let jobs = ats.jobs();
    let post = |path: &str, body: Value| {
        client()
            .post(format!("{}{path}", ats.api_base_url()))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    let created = reply(post(
        "/candidates",
        json!({ "first_name": "Ada", "last_name": "Lovelace",
                "email_addresses": [{ "value": "ada@example.org", "type": "personal" }],
                "applications": [{ "job_id": jobs[0].id.parse::<u64>().unwrap() }] }),
    ))
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let candidate_id = created.json["id"].as_u64().unwrap();

    let stage = &ats.stages(&jobs[1].id).unwrap()[2];
    let resume = resume_bytes();
    let body = json!({
        "candidate_id": candidate_id, "job_id": jobs[1].id.parse::<u64>().unwrap(),
        "initial_stage_id": stage.id.parse::<u64>().unwrap(),
        "attachments": [{ "filename": "ada.pdf", "type": "resume", "content": b64(&resume), "content_type": "application/pdf" }],
    });
    let added = reply(post("/applications", body.clone())).await;
    assert_eq!(added.status, 201, "{}", added.text);
    assert_eq!(added.json["candidate_id"], candidate_id);
    assert_eq!(added.json["current_stage"]["id"].to_string(), stage.id);
    assert_eq!(added.json["jobs"][0]["id"].to_string(), jobs[1].id);

    let pushed = ats.pushed_candidates();
    assert_eq!(pushed.len(), 2);
    let p = &pushed[1];
    assert_eq!(p.endpoint, "POST /v3/applications");
    assert!(p.existing_person);
    assert_eq!(p.candidate_id, candidate_id.to_string());
    assert_eq!(p.application_id.as_deref(), Some(added.json["id"].to_string().as_str()));
    assert_eq!(p.job_id.as_deref(), Some(jobs[1].id.as_str()));
    assert_eq!(p.stage_id.as_deref(), Some(stage.id.as_str()));
    assert_eq!(p.resume().unwrap().bytes, resume);
    assert_eq!(p.body_json().unwrap(), body);
    let person =
        reply(client().get(format!("{}/candidates/{candidate_id}", ats.api_base_url())).bearer_auth(&token)).await;
    assert_eq!(person.json["application_ids"].as_array().unwrap().len(), 2);

    // Validation: no candidate, unknown candidate, unknown job, foreign stage.
    let job = jobs[2].id.parse::<u64>().unwrap();
    for (bad, field) in [
        (json!({ "job_id": job }), "candidate_id"),
        (json!({ "candidate_id": 1, "job_id": job }), "candidate_id"),
        (json!({ "candidate_id": candidate_id, "job_id": 1 }), "job_id"),
        (
            json!({ "candidate_id": candidate_id, "job_id": job, "initial_stage_id": stage.id.parse::<u64>().unwrap() }),
            "initial_stage_id",
        ),
    ] {
        let r = reply(post("/applications", bad)).await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.json["errors"][0]["field"], field);
    }
    assert_eq!(ats.pushed_candidates().len(), 2, "rejected writes are not recorded");
    // Writes need an acting user: a token without `sub` and no On-Behalf-Of.
    let plain = greenhouse_token(&ats, None).await;
    let anonymous = reply(
        client()
            .post(format!("{}/applications", ats.api_base_url()))
            .bearer_auth(&plain)
            .body(json!({ "candidate_id": candidate_id, "job_id": job }).to_string()),
    )
    .await;
    assert_eq!(anonymous.status, 403);
}

#[tokio::test]
async fn applications_move_from_their_current_stage_as_an_acting_user() {
    let ats = start(Vendor::Greenhouse, config(4)).await;
    let user = ats.credentials().user_id;
    let token = greenhouse_token(&ats, None).await;
    let job = ats.jobs()[1].clone();
    let stages = ats.stages(&job.id).unwrap();
    let body = json!({ "first_name": "Ada", "last_name": "Lovelace",
                       "applications": [{ "job_id": job.id.parse::<u64>().unwrap() }] });
    let created = reply(
        client()
            .post(format!("{}/candidates", ats.api_base_url()))
            .bearer_auth(&token)
            .header("On-Behalf-Of", &user)
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let app_id = created.json["application_ids"][0].to_string();
    let num = |s: &str| s.parse::<u64>().unwrap();
    let send = |app: &str, body: Value, on_behalf: bool| {
        let mut req = client()
            .post(format!("{}/applications/{app}/move", ats.api_base_url()))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.to_string());
        if on_behalf {
            req = req.header("On-Behalf-Of", &user);
        }
        reply(req)
    };
    let mv = json!({ "from_stage_id": num(&stages[0].id), "to_stage_id": num(&stages[2].id) });
    assert_eq!(send(&app_id, mv.clone(), false).await.status, 403, "writes need an acting user");
    assert_eq!(send("99999999", mv.clone(), true).await.status, 404);
    let wrong_from = json!({ "from_stage_id": num(&stages[1].id), "to_stage_id": num(&stages[2].id) });
    let r = send(&app_id, wrong_from, true).await;
    assert_eq!((r.status, r.json["errors"][0]["field"].as_str()), (422, Some("from_stage_id")), "{}", r.text);
    let other_job = ats.stages(&ats.jobs()[0].id).unwrap();
    let foreign = json!({ "from_stage_id": num(&stages[0].id), "to_stage_id": num(&other_job[2].id) });
    assert_eq!(send(&app_id, foreign, true).await.status, 422, "a stage of another job");
    assert_eq!(ats.applications().iter().find(|a| a.id == app_id).unwrap().stage_id, stages[0].id);

    let moved = send(&app_id, mv.clone(), true).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.json["current_stage"]["id"].to_string(), stages[2].id);
    assert_eq!(ats.applications().iter().find(|a| a.id == app_id).unwrap().stage_id, stages[2].id);
    // The move is seen by reconciliation, and the old stage is no longer "from".
    let app = reply(client().get(format!("{}/applications/{app_id}", ats.api_base_url())).bearer_auth(&token)).await;
    assert_eq!(app.json["current_stage"]["id"].to_string(), stages[2].id);
    assert_eq!(send(&app_id, mv, true).await.status, 422);
    ats.reject(&app_id).unwrap();
    let back = json!({ "from_stage_id": num(&stages[2].id), "to_stage_id": num(&stages[0].id) });
    assert_eq!(send(&app_id, back, true).await.status, 422, "a rejected application does not move");
}
