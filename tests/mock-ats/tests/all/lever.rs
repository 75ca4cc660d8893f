//! Lever Data API v1 against the mock.

use std::time::Duration;

use atsbridge_mock_ats::{MockConfig, RateLimit, Vendor};
use serde_json::{Value, json};

use crate::common::*;

fn config(jobs: usize) -> MockConfig {
    MockConfig { jobs, seed: 21, ..Default::default() }
}

/// Follows `hasNext`/`next` from `query`; returns all postings and pages.
async fn crawl(ats: &atsbridge_mock_ats::MockAts, query: &str) -> (Vec<Value>, usize) {
    let key = ats.credentials().api_key;
    let (mut all, mut pages, mut offset) = (Vec::new(), 0, None::<String>);
    loop {
        let mut url = format!("{}/postings?{query}", ats.api_base_url());
        if let Some(o) = &offset {
            url.push_str(&format!("&offset={o}"));
        }
        let r = reply(client().get(&url).basic_auth(&key, Some(""))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        all.extend(r.json["data"].as_array().unwrap().iter().cloned());
        pages += 1;
        if r.json["hasNext"] != true {
            assert!(r.json.get("next").is_none());
            return (all, pages);
        }
        offset = Some(r.json["next"].as_str().unwrap().to_string());
    }
}

#[tokio::test]
async fn auth_rejects_bad_key() {
    let ats = start(Vendor::Lever, config(3)).await;
    let url = format!("{}/postings", ats.api_base_url());
    for req in [client().get(&url), client().get(&url).basic_auth("wrong", Some(""))] {
        let r = reply(req).await;
        assert_eq!(r.status, 401);
        assert!(r.json["code"].is_string() && r.json["message"].is_string(), "{}", r.text);
    }
}

#[tokio::test]
async fn offset_pagination_lists_every_posting_once() {
    let ats = start(Vendor::Lever, config(345)).await;
    let (all, pages) = crawl(&ats, "limit=100&confidentiality=all").await;
    assert_eq!(pages, 4);
    assert_same_set(ids(&Value::Array(all.clone()), "id"), ats.jobs().iter().map(|j| j.id.clone()).collect());
    assert!(all[0]["categories"]["location"].is_string() && all[0]["updatedAt"].is_i64());
    assert!(all[0].get("content").is_none(), "content only with include=content");

    // Default: non-confidential postings only.
    let (public, _) = crawl(&ats, "limit=100").await;
    assert_eq!(public.len(), ats.jobs().iter().filter(|j| !j.confidential).count());

    let (with_content, _) = crawl(&ats, "limit=50&include=content&state=published").await;
    assert!(with_content.iter().all(|p| p["state"] == "published" && p["content"]["descriptionHtml"].is_string()));

    let r = reply(
        client()
            .get(format!("{}/postings?limit=101", ats.api_base_url()))
            .basic_auth(ats.credentials().api_key, Some("")),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json["message"].as_str().unwrap().contains("100"));
}

#[tokio::test]
async fn updated_at_start_returns_only_changed_postings() {
    let ats = start(Vendor::Lever, config(120)).await;
    let jobs = ats.jobs();
    let before = ats.update_job(&jobs[0].id, |_| {}).unwrap().updated_at; // marks "now"
    ats.update_job(&jobs[7].id, |j| j.title = "Changed".into()).unwrap();
    ats.close_job(&jobs[80].id).unwrap();
    let (changed, _) = crawl(&ats, &format!("limit=100&confidentiality=all&updated_at_start={}", before + 1)).await;
    assert_same_set(ids(&Value::Array(changed), "id"), vec![jobs[7].id.clone(), jobs[80].id.clone()]);
}

#[tokio::test]
async fn rate_limit_gives_429_with_retry_after() {
    let ats = start(
        Vendor::Lever,
        MockConfig { rate_limit: Some(RateLimit { limit: 2, window: Duration::from_secs(30) }), ..config(3) },
    )
    .await;
    let url = format!("{}/stages", ats.api_base_url());
    let key = ats.credentials().api_key;
    for _ in 0..2 {
        assert_eq!(reply(client().get(&url).basic_auth(&key, Some(""))).await.status, 200);
    }
    let r = reply(client().get(&url).basic_auth(&key, Some(""))).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    assert_eq!(r.json["code"], "TooManyRequests");
}

fn multipart(boundary: &str, fields: &[(&str, &str)], file: (&str, &str, &str, &[u8])) -> Vec<u8> {
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
    }
    let (name, file_name, content_type, bytes) = file;
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes());
    body.extend(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[tokio::test]
async fn opportunities_json_and_multipart_with_email_dedupe() {
    let ats = start(Vendor::Lever, config(5)).await;
    let c = ats.credentials();
    let posting = ats.jobs()[1].id.clone();
    let url = format!("{}/opportunities?perform_as={}", ats.api_base_url(), c.user_id);

    let no_actor = reply(
        client().post(format!("{}/opportunities", ats.api_base_url())).basic_auth(&c.api_key, Some("")).body("{}"),
    )
    .await;
    assert_eq!(no_actor.status, 400);
    let two = json!({ "name": "X", "postings": [posting, posting] });
    assert_eq!(
        reply(
            client()
                .post(&url)
                .basic_auth(&c.api_key, Some(""))
                .header("content-type", "application/json")
                .body(two.to_string())
        )
        .await
        .status,
        400
    );

    let body = json!({ "name": "Grace Hopper", "emails": ["grace@example.org"], "postings": [posting], "origin": "applied", "stage": "applicant-new" });
    let first = reply(
        client()
            .post(&url)
            .basic_auth(&c.api_key, Some(""))
            .header("content-type", "application/json")
            .body(body.to_string()),
    )
    .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let opp = &first.json["data"];
    assert_eq!((opp["stage"].as_str(), opp["name"].as_str()), (Some("applicant-new"), Some("Grace Hopper")));

    // Multipart with a resume, same e-mail: linked to the existing contact.
    let resume = resume_bytes();
    let mp = multipart(
        "XyZ",
        &[("name", "G. Hopper"), ("emails[]", "grace@example.org"), ("postings[]", &posting)],
        ("resumeFile", "grace.pdf", "application/pdf", &resume),
    );
    let second = reply(
        client()
            .post(&url)
            .basic_auth(&c.api_key, Some(""))
            .header("content-type", "multipart/form-data; boundary=XyZ")
            .body(mp.clone()),
    )
    .await;
    assert_eq!(second.status, 201, "{}", second.text);
    let opp2 = &second.json["data"];
    assert_eq!(opp2["contact"], opp["contact"], "dedupe links to the same contact");
    assert_ne!(opp2["id"], opp["id"]);
    assert_eq!(opp2["name"], "Grace Hopper", "existing contact data wins");
    assert_eq!(opp2["stage"], "lead-new", "default stage is New Lead");

    let pushed = ats.pushed_candidates();
    assert_eq!(pushed.len(), 2);
    assert!(!pushed[0].existing_person && pushed[1].existing_person);
    assert_eq!(pushed[1].name, "G. Hopper", "recorded as sent");
    assert_eq!(pushed[1].emails, vec!["grace@example.org"]);
    assert_eq!(pushed[1].job_id.as_deref(), Some(posting.as_str()));
    let file = pushed[1].resume().unwrap();
    assert_eq!(
        (file.file_name.as_str(), file.content_type.as_deref(), &file.bytes),
        ("grace.pdf", Some("application/pdf"), &resume)
    );
    assert_eq!(pushed[1].raw_bodies[0], mp);

    // Lookup and reconciliation.
    let by_email = reply(
        client()
            .get(format!("{}/opportunities?email=grace@example.org", ats.api_base_url()))
            .basic_auth(&c.api_key, Some("")),
    )
    .await;
    assert_eq!(by_email.json["data"].as_array().unwrap().len(), 2);
    let id = opp["id"].as_str().unwrap();
    ats.hire(id).unwrap();
    let got = reply(
        client()
            .get(format!("{}/opportunities/{id}?expand=stage", ats.api_base_url()))
            .basic_auth(&c.api_key, Some("")),
    )
    .await;
    assert_eq!(got.json["data"]["stage"]["text"], "New applicant");
    let reasons =
        reply(client().get(format!("{}/archive_reasons", ats.api_base_url())).basic_auth(&c.api_key, Some("")))
            .await
            .json;
    let hired = reasons["data"].as_array().unwrap().iter().find(|r| r["status"] == "hired").unwrap();
    assert_eq!(got.json["data"]["archived"]["reason"], hired["id"]);
}

#[tokio::test]
async fn notes_are_added_to_an_opportunity() {
    let ats = start(Vendor::Lever, config(3)).await;
    let c = ats.credentials();
    let posting = ats.jobs()[0].id.clone();
    let created = reply(
        client()
            .post(format!("{}/opportunities?perform_as={}", ats.api_base_url(), c.user_id))
            .basic_auth(&c.api_key, Some(""))
            .header("content-type", "application/json")
            .body(json!({ "name": "Alan Turing", "emails": ["alan@example.org"], "postings": [posting] }).to_string()),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["data"]["id"].as_str().unwrap().to_string();
    let note = |opportunity: &str, perform_as: &str, body: Value| {
        client()
            .post(format!("{}/opportunities/{opportunity}/notes?perform_as={perform_as}", ats.api_base_url()))
            .basic_auth(&c.api_key, Some(""))
            .header("content-type", "application/json")
            .body(body.to_string())
    };

    let added = reply(note(&id, &c.user_id, json!({ "value": "Q: Why?\nA: Because." }))).await;
    assert_eq!(added.status, 201, "{}", added.text);
    assert!(added.json["data"]["noteId"].as_str().is_some_and(|n| !n.is_empty()));
    let pushed = ats.pushed_candidates();
    assert_eq!(pushed[0].notes, vec!["Q: Why?\nA: Because."]);
    assert_eq!(pushed[0].raw_bodies.len(), 2, "the note's body is appended");

    assert_eq!(reply(note(&id, &c.user_id, json!({}))).await.status, 400);
    assert_eq!(reply(note(&id, &c.user_id, json!({ "value": "x", "secret": "yes" }))).await.status, 400);
    assert_eq!(reply(note(&id, "nobody", json!({ "value": "x" }))).await.status, 400);
    assert_eq!(reply(note("missing", &c.user_id, json!({ "value": "x" }))).await.status, 404);
    let unauthorized = reply(
        client()
            .post(format!("{}/opportunities/{id}/notes", ats.api_base_url()))
            .body(json!({ "value": "x" }).to_string()),
    )
    .await;
    assert_eq!(unauthorized.status, 401);
    assert_eq!(ats.pushed_candidates()[0].notes.len(), 1, "rejected notes are not recorded");
}

#[tokio::test]
async fn opportunities_change_stage() {
    let ats = start(Vendor::Lever, config(3)).await;
    let c = ats.credentials();
    let posting = ats.jobs()[0].id.clone();
    let stages = ats.stages(&posting).unwrap();
    let created = reply(
        client()
            .post(format!("{}/opportunities?perform_as={}", ats.api_base_url(), c.user_id))
            .basic_auth(&c.api_key, Some(""))
            .header("content-type", "application/json")
            .body(json!({ "name": "Alan Turing", "emails": ["alan@example.org"], "postings": [posting] }).to_string()),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["data"]["id"].as_str().unwrap().to_string();
    let put = |opportunity: &str, key: &str, body: Value| {
        reply(
            client()
                .put(format!("{}/opportunities/{opportunity}/stage?perform_as={}", ats.api_base_url(), c.user_id))
                .basic_auth(key, Some(""))
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
    };
    let to = json!({ "stage": stages[5].id });
    assert_eq!(put(&id, "wrong", to.clone()).await.status, 401);
    assert_eq!(put("00000000-0000-0000-0000-000000000000", &c.api_key, to.clone()).await.status, 404);
    assert_eq!(put(&id, &c.api_key, json!({ "stage": "no-such-stage" })).await.status, 400);
    let moved = put(&id, &c.api_key, to).await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(ats.applications().iter().find(|a| a.id == id).unwrap().stage_id, stages[5].id);
    let got = reply(
        client()
            .get(format!("{}/opportunities/{id}?expand=stage", ats.api_base_url()))
            .basic_auth(&c.api_key, Some("")),
    )
    .await;
    assert_eq!(got.json["data"]["stage"]["id"].as_str(), Some(stages[5].id.as_str()));
    ats.reject(&id).unwrap();
    assert_eq!(put(&id, &c.api_key, json!({ "stage": stages[1].id })).await.status, 400, "archived");
}
