//! Workable SPI v3 against the mock.

use std::time::Duration;

use atsbridge_mock_ats::{MockAts, MockConfig, RateLimit, Vendor};
use serde_json::{Value, json};

use crate::common::*;

fn config(jobs: usize) -> MockConfig {
    MockConfig { jobs, seed: 31, ..Default::default() }
}

/// Follows `paging.next` from `url`.
async fn crawl(ats: &MockAts, url: String) -> (Vec<Value>, usize) {
    let token = ats.credentials().api_key;
    let (mut all, mut pages, mut next) = (Vec::new(), 0, Some(url));
    while let Some(url) = next {
        let r = reply(client().get(&url).bearer_auth(&token)).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text);
        all.extend(r.json["jobs"].as_array().unwrap().iter().cloned());
        pages += 1;
        next = r.json["paging"]["next"].as_str().map(str::to_string);
    }
    (all, pages)
}

#[tokio::test]
async fn auth_rejects_bad_token() {
    let ats = start(Vendor::Workable, config(2)).await;
    let url = format!("{}/jobs", ats.api_base_url());
    for req in [client().get(&url), client().get(&url).bearer_auth("nope")] {
        let r = reply(req).await;
        assert_eq!((r.status, r.json["error"].as_str()), (401, Some("Not authorized")));
    }
}

#[tokio::test]
async fn paging_next_lists_every_job_once() {
    let ats = start(Vendor::Workable, config(230)).await;
    let (all, pages) = crawl(&ats, format!("{}/jobs?limit=100", ats.api_base_url())).await;
    assert_eq!(pages, 3);
    assert_same_set(ids(&Value::Array(all.clone()), "shortcode"), ats.jobs().iter().map(|j| j.id.clone()).collect());
    assert!(all[0]["location"]["location_str"].is_string() && all[0]["updated_at"].is_string());
    assert!(all[0].get("description").is_none());

    // Default page size is 50; the limit is 100.
    let (_, default_pages) = crawl(&ats, format!("{}/jobs", ats.api_base_url())).await;
    assert_eq!(default_pages, 5);
    let big =
        reply(client().get(format!("{}/jobs?limit=101", ats.api_base_url())).bearer_auth(ats.credentials().api_key))
            .await;
    assert_eq!(big.status, 422);
    assert!(big.json["error"].is_string());

    // Filters survive into paging.next; include_fields adds the description.
    let (published, _) =
        crawl(&ats, format!("{}/jobs?limit=20&state=published&include_fields=description", ats.api_base_url())).await;
    assert!(published.iter().all(|j| j["state"] == "published" && j["description"].is_string()));
    assert_eq!(published.len(), ats.jobs().iter().filter(|j| j.status == atsbridge_mock_ats::JobStatus::Open).count());
}

#[tokio::test]
async fn updated_after_accepts_basic_iso_and_unix_seconds() {
    let ats = start(Vendor::Workable, config(90)).await;
    let jobs = ats.jobs();
    ats.update_job(&jobs[10].id, |j| j.openings = 9).unwrap();
    let added = ats.add_jobs(2);
    let want: Vec<String> = [jobs[10].id.clone(), added[0].id.clone(), added[1].id.clone()].to_vec();
    let (basic, _) = crawl(&ats, format!("{}/jobs?updated_after=20250601T000000Z", ats.api_base_url())).await;
    assert_same_set(ids(&Value::Array(basic), "shortcode"), want.clone());
    let (unix, _) = crawl(&ats, format!("{}/jobs?updated_after=1748736000", ats.api_base_url())).await;
    assert_same_set(ids(&Value::Array(unix), "shortcode"), want);
    let bad = reply(
        client().get(format!("{}/jobs?updated_after=soon", ats.api_base_url())).bearer_auth(ats.credentials().api_key),
    )
    .await;
    assert_eq!(bad.status, 422);
}

#[tokio::test]
async fn rate_limit_headers_and_429() {
    let ats = start(
        Vendor::Workable,
        MockConfig { rate_limit: Some(RateLimit { limit: 2, window: Duration::from_secs(10) }), ..config(2) },
    )
    .await;
    let url = format!("{}/stages", ats.api_base_url());
    let token = ats.credentials().api_key;
    let first = reply(client().get(&url).bearer_auth(&token)).await;
    assert_eq!((first.header("x-rate-limit-limit"), first.header("x-rate-limit-remaining")), (Some("2"), Some("1")));
    assert!(first.header("x-rate-limit-reset").unwrap().parse::<i64>().unwrap() > 1_700_000_000);
    reply(client().get(&url).bearer_auth(&token)).await;
    let limited = reply(client().get(&url).bearer_auth(&token)).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("x-rate-limit-remaining"), Some("0"));
    assert!(limited.header("retry-after").is_some());
    assert!(limited.json["error"].is_string());
}

#[tokio::test]
async fn candidate_push_with_resume_is_recorded() {
    let ats = start(Vendor::Workable, config(4)).await;
    let token = ats.credentials().api_key;
    let shortcode = ats.jobs()[0].id.clone();
    let url = format!("{}/jobs/{shortcode}/candidates", ats.api_base_url());
    let resume = resume_bytes();
    let body = json!({ "sourced": false, "candidate": { "firstname": "Alan", "lastname": "Turing", "email": "alan@example.org",
                        "resume": { "name": "alan.pdf", "data": b64(&resume) } } });
    let post = |b: &Value, url: &str| {
        client().post(url).bearer_auth(&token).header("content-type", "application/json").body(b.to_string())
    };
    let no_email = json!({ "candidate": { "name": "No Mail" } });
    assert_eq!(reply(post(&no_email, &url)).await.status, 422);
    assert_eq!(reply(post(&body, &format!("{}/jobs/NOPE/candidates", ats.api_base_url()))).await.status, 404);

    let created = reply(post(&body, &url)).await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json["status"], "created");
    assert_eq!(created.json["candidate"]["stage"], "applied", "sourced:false lands in applied");
    let id = created.json["candidate"]["id"].as_str().unwrap().to_string();
    let dup = reply(post(&body, &url)).await;
    assert_eq!(dup.status, 422, "same e-mail on the same job");

    let pushed = ats.pushed_candidates();
    assert_eq!(pushed.len(), 1);
    let p = &pushed[0];
    assert_eq!(
        (p.first_name.as_deref(), p.last_name.as_deref(), p.emails.clone()),
        (Some("Alan"), Some("Turing"), vec!["alan@example.org".to_string()])
    );
    assert_eq!((p.job_id.as_deref(), p.stage_id.as_deref()), (Some(shortcode.as_str()), Some("applied")));
    assert_eq!(p.resume().unwrap().bytes, resume);
    assert_eq!(p.resume().unwrap().file_name, "alan.pdf");

    let found = reply(
        client()
            .get(format!("{}/candidates?email=alan@example.org&shortcode={shortcode}", ats.api_base_url()))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(found.json["candidates"][0]["id"], id.as_str());
    ats.set_application_stage(&id, "interview").unwrap();
    ats.reject(&id).unwrap();
    let got = reply(client().get(format!("{}/candidates/{id}", ats.api_base_url())).bearer_auth(&token)).await.json;
    assert_eq!(
        (got["candidate"]["stage"].as_str(), got["candidate"]["disqualified"].as_bool()),
        (Some("interview"), Some(true))
    );

    // A sourced push with an explicit stage.
    let sourced = json!({ "candidate": { "name": "Edsger Dijkstra", "email": "ewd@example.org" } });
    let r = reply(post(&sourced, &format!("{url}?stage=phone-screen"))).await;
    assert_eq!(r.json["candidate"]["stage"], "phone-screen");
    assert_eq!(ats.pushed_candidates()[1].name, "Edsger Dijkstra");
    let stages =
        reply(client().get(format!("{}/jobs/{shortcode}/stages", ats.api_base_url())).bearer_auth(&token)).await.json;
    assert_eq!(stages["stages"][0]["slug"], "sourced");
}

#[tokio::test]
async fn removed_jobs_disappear() {
    let ats = start(Vendor::Workable, config(12)).await;
    let gone = ats.jobs()[4].id.clone();
    ats.remove_job(&gone).unwrap();
    assert!(ats.remove_job(&gone).is_err());
    let (all, _) = crawl(&ats, format!("{}/jobs", ats.api_base_url())).await;
    assert_eq!(all.len(), 11);
    assert!(all.iter().all(|j| j["shortcode"] != gone.as_str()));
    let r =
        reply(client().get(format!("{}/jobs/{gone}", ats.api_base_url())).bearer_auth(ats.credentials().api_key)).await;
    assert_eq!((r.status, r.json["error"].as_str()), (404, Some("not-found")));
}

/// `GET {path}` with the mock's token.
async fn get(ats: &MockAts, path: &str) -> Reply {
    reply(client().get(format!("{}{path}", ats.api_base_url())).bearer_auth(ats.credentials().api_key)).await
}

#[tokio::test]
async fn job_members_are_the_seeded_hiring_team() {
    let ats = start(Vendor::Workable, config(30)).await;
    let users = ats.users();
    let member = |i: usize| {
        let u = &users[i];
        (u.uuid[..8].to_string(), u.name(), u.email.clone())
    };
    let jobs = ats.jobs();
    assert!(jobs.iter().any(|j| j.recruiter != j.hiring_manager), "the seed gives most jobs two team members");
    for job in &jobs {
        let r = get(&ats, &format!("/jobs/{}/members", job.id)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let got: Vec<(String, String, String)> = r.json["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                assert!(m["role"].is_string() && m["headline"].is_string(), "{m}");
                let s = |k: &str| m[k].as_str().unwrap().to_string();
                (s("id"), s("name"), s("email"))
            })
            .collect();
        let mut want = vec![member(job.recruiter)];
        if job.hiring_manager != job.recruiter {
            want.push(member(job.hiring_manager));
        }
        assert_eq!(got, want, "{}", job.id);
    }

    // The same seed gives the same teams; a changed team is served at once.
    let again = start(Vendor::Workable, config(30)).await;
    let path = format!("/jobs/{}/members", jobs[3].id);
    assert_eq!(get(&again, &path).await.json, get(&ats, &path).await.json);
    let (old, new) = (jobs[3].recruiter, (jobs[3].recruiter + 1) % users.len());
    ats.update_job(&jobs[3].id, |j| {
        j.recruiter = new;
        j.hiring_manager = new;
    })
    .unwrap();
    let changed = get(&ats, &path).await.json;
    assert_eq!(changed["members"].as_array().unwrap().len(), 1);
    assert_eq!(changed["members"][0]["id"], member(new).0.as_str());
    assert_ne!(member(old).0, member(new).0);

    // The account's members are every user; external recruiters per job.
    let all = get(&ats, "/members").await.json;
    assert_eq!(all["members"].as_array().unwrap().len(), users.len());
    let recruiters = get(&ats, &format!("/jobs/{}/recruiters", jobs[0].id)).await;
    assert_eq!(recruiters.status, 200);
    assert_eq!(recruiters.json["recruiters"][0]["email"], users[jobs[0].recruiter].email.as_str());
}

#[tokio::test]
async fn job_members_need_the_token_and_a_known_job() {
    let ats = start(Vendor::Workable, config(3)).await;
    let shortcode = ats.jobs()[0].id.clone();
    let url = format!("{}/jobs/{shortcode}/members", ats.api_base_url());
    let anonymous = reply(client().get(&url)).await;
    assert_eq!((anonymous.status, anonymous.json["error"].as_str()), (401, Some("Not authorized")));
    for path in ["/jobs/NOPE/members", "/jobs/NOPE/recruiters"] {
        let r = get(&ats, path).await;
        assert_eq!((r.status, r.json["error"].as_str()), (404, Some("not-found")), "{path}");
    }
    let recorded: Vec<(String, String, Option<u16>)> =
        ats.requests().into_iter().map(|r| (r.method, r.path, r.status)).collect();
    assert_eq!(
        recorded,
        vec![
            ("GET".into(), format!("/spi/v3/jobs/{shortcode}/members"), Some(401)),
            ("GET".into(), "/spi/v3/jobs/NOPE/members".into(), Some(404)),
            ("GET".into(), "/spi/v3/jobs/NOPE/recruiters".into(), Some(404)),
        ]
    );
}

#[tokio::test]
async fn job_members_count_against_the_rate_limit() {
    let ats = start(
        Vendor::Workable,
        MockConfig { rate_limit: Some(RateLimit { limit: 3, window: Duration::from_secs(10) }), ..config(5) },
    )
    .await;
    let jobs = ats.jobs();
    let first = get(&ats, "/jobs?limit=2").await;
    assert_eq!(first.header("x-rate-limit-remaining"), Some("2"));
    for (job, remaining) in jobs.iter().zip(["1", "0"]) {
        let r = get(&ats, &format!("/jobs/{}/members", job.id)).await;
        assert_eq!((r.status, r.header("x-rate-limit-remaining")), (200, Some(remaining)));
    }
    let limited = get(&ats, &format!("/jobs/{}/members", jobs[2].id)).await;
    assert_eq!(limited.status, 429);
    assert!(limited.header("retry-after").is_some());
    assert!(limited.header("x-rate-limit-reset").is_some());
    assert!(limited.json["error"].is_string());
    assert_eq!(ats.requests().last().unwrap().status, Some(429));
}

#[tokio::test]
async fn candidates_move_to_a_stage_as_a_member() {
    let ats = start(Vendor::Workable, config(2)).await;
    let token = ats.credentials().api_key;
    let shortcode = ats.jobs()[0].id.clone();
    let body = json!({ "sourced": false, "candidate": { "name": "Alan Turing", "email": "alan@example.org" } });
    let created = reply(
        client()
            .post(format!("{}/jobs/{shortcode}/candidates", ats.api_base_url()))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["candidate"]["id"].as_str().unwrap().to_string();
    let member = ats.users()[0].uuid[..8].to_string();
    let mv = |candidate: &str, body: Value| {
        reply(
            client()
                .post(format!("{}/candidates/{candidate}/move", ats.api_base_url()))
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
    };
    assert_eq!(mv("fffffff", json!({ "member_id": member, "target_stage": "interview" })).await.status, 404);
    assert_eq!(mv(&id, json!({ "member_id": "00000000", "target_stage": "interview" })).await.status, 422);
    assert_eq!(mv(&id, json!({ "member_id": member, "target_stage": "nowhere" })).await.status, 422);
    assert_eq!(mv(&id, json!({ "member_id": member })).await.status, 422);
    let moved = mv(&id, json!({ "member_id": member, "target_stage": "interview" })).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    let got = reply(client().get(format!("{}/candidates/{id}", ats.api_base_url())).bearer_auth(&token)).await;
    assert_eq!(got.json["candidate"]["stage"], "interview");
    ats.reject(&id).unwrap();
    assert_eq!(mv(&id, json!({ "member_id": member, "target_stage": "offer" })).await.status, 422, "disqualified");
}
