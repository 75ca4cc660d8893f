//! Lever Data API v1 under `/v1`, HTTP Basic with the API key as user name.
//!
//! - Lists are `{"data":[…],"hasNext":bool,"next":"<token>"}`; `limit` 1–100
//!   (default 100), pass `next` back as `offset` with the same filters.
//! - `GET /v1/postings`: `state` (repeatable), `team`, `department`,
//!   `location`, `commitment`, `updated_at_start`/`updated_at_end` (epoch ms,
//!   inclusive), `confidentiality` (default: non-confidential only; `all`),
//!   `include=content` (the `content` object) and `include=followers`.
//! - `GET /v1/stages`, `/v1/users`, `/v1/archive_reasons`.
//! - `POST /v1/opportunities?perform_as=<user id>`: JSON or multipart
//!   (`resumeFile`, `files[]`); e-mail dedupe links the new opportunity to
//!   the existing contact, whose data wins.
//! - `POST /v1/opportunities/{id}/notes[?perform_as=<user id>]`:
//!   `{"value": "...", "secret"?, "score"?, "notifyFollowers"?}` →
//!   `201 {"data":{"noteId":"..."}}`.
//! - `PUT /v1/opportunities/{id}/stage?perform_as=<user id>`:
//!   `{"stage": "<stage id>"}` → the opportunity; an unknown stage 400, an
//!   unknown opportunity 404, an archived one 400.
//! - `GET /v1/opportunities[?email=&posting_id=&stage_id=&archived=&contact_id=]`,
//!   `GET /v1/opportunities/{id}[?expand=stage&expand=applications]`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Vendor;
use crate::data::{Dataset, EmploymentType, Job, JobStatus, Workplace, uuid};
use crate::envelope::error;
use crate::http::{PageRule, Query, basic_auth, decode_cursor, encode_cursor, ok, page_size};
use crate::state::Shared;

mod opportunities;

const V: Vendor = Vendor::Lever;
const PAGE: PageRule = PageRule { default: 100, max: 100 };
/// (id or None for a generated uuid, text). Built-ins first, Offer last.
const STAGES: &[(Option<&str>, &str)] = &[
    (Some("lead-new"), "New lead"),
    (Some("lead-reached-out"), "Reached out"),
    (Some("lead-responded"), "Responded"),
    (Some("applicant-new"), "New applicant"),
    (None, "Recruiter screen"),
    (None, "Phone interview"),
    (None, "On-site interview"),
    (None, "Reference check"),
    (Some("offer"), "Offer"),
];
/// (text, status); the first is the "Hired" reason every account has.
const ARCHIVE_REASONS: &[(&str, &str)] =
    &[("Hired", "hired"), ("Underqualified", "non-hired"), ("Withdrew", "non-hired"), ("Position filled", "non-hired")];

type Resp = Result<Response, Response>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/postings", get(list_postings))
        .route("/v1/postings/{id}", get(get_posting))
        .route("/v1/stages", get(list_stages))
        .route("/v1/users", get(list_users))
        .route("/v1/archive_reasons", get(list_archive_reasons))
        .route("/v1/opportunities", get(opportunities::list).post(opportunities::create))
        .route("/v1/opportunities/{id}", get(opportunities::get))
        .route("/v1/opportunities/{id}/notes", axum::routing::post(opportunities::add_note))
        .route("/v1/opportunities/{id}/stage", axum::routing::put(opportunities::change_stage))
}

/// The global pipeline.
pub(crate) fn stages(seed: u64) -> Vec<crate::Stage> {
    STAGES
        .iter()
        .enumerate()
        .map(|(i, (id, text))| crate::Stage {
            id: id.map_or_else(|| uuid(seed, 30, i as u64), str::to_string),
            name: text.to_string(),
        })
        .collect()
}

fn archive_reason_id(seed: u64, i: usize) -> String {
    uuid(seed, 31, i as u64)
}

fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    match basic_auth(headers) {
        Some((key, _)) if shared.key_ok(&key) => Ok(()),
        _ => Err(error(V, StatusCode::UNAUTHORIZED, "Invalid API key")),
    }
}

fn bad_request(message: &str) -> Response {
    error(V, StatusCode::BAD_REQUEST, message)
}

#[derive(Serialize, Deserialize)]
struct Offset {
    after: u64,
}

/// `limit` and the position after which to continue.
fn paging(shared: &Shared, q: &Query) -> Result<(usize, u64), Response> {
    let limit = page_size(PAGE, &shared.config, q.get("limit")).map_err(|m| bad_request(&m))?;
    let after = match q.get("offset") {
        None => 0,
        Some(o) => decode_cursor::<Offset>(o).ok_or_else(|| bad_request("Invalid offset token"))?.after,
    };
    Ok((limit, after))
}

fn list_body(data: Vec<Value>, next_after: Option<u64>) -> Response {
    let mut body = json!({ "data": data, "hasNext": next_after.is_some() });
    if let Some(after) = next_after {
        body["next"] = json!(encode_cursor(&Offset { after }));
    }
    ok(&body)
}

fn state_str(s: JobStatus) -> &'static str {
    match s {
        JobStatus::Open => "published",
        JobStatus::Closed | JobStatus::Archived => "closed",
        JobStatus::Draft => "draft",
    }
}

fn parse_ms(q: &Query, key: &str) -> Result<Option<i64>, Response> {
    q.get(key)
        .map(|v| v.parse::<i64>().map_err(|_| bad_request(&format!("{key} must be epoch milliseconds"))))
        .transpose()
}

async fn list_postings(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    authorize(&shared, &headers)?;
    let q = Query::parse(raw.as_deref());
    let (limit, after) = paging(&shared, &q)?;
    let (start, end) = (parse_ms(&q, "updated_at_start")?, parse_ms(&q, "updated_at_end")?);
    let states: Vec<&str> = q.all("state").collect();
    let confidentiality = q.get("confidentiality").unwrap_or("non-confidential");
    let include: Vec<&str> = q.all("include").collect();
    let store = shared.store();
    let data = &store.data;
    let keep = |j: &Job| {
        let cats = categories(data, j);
        start.is_none_or(|s| j.updated_at >= s)
            && end.is_none_or(|e| j.updated_at <= e)
            && (states.is_empty() || states.contains(&state_str(j.status)))
            && match confidentiality {
                "all" => true,
                "confidential" => j.confidential,
                _ => !j.confidential,
            }
            && ["team", "department", "location", "commitment"].iter().all(|k| q.get(k).is_none_or(|v| cats[*k] == v))
    };
    let (page, more) = data.page_after(after, limit, keep);
    let body = page.iter().map(|j| posting_json(&shared, data, j, &include)).collect();
    Ok(list_body(body, more.then(|| page.last().map_or(after, |j| j.seq))))
}

async fn get_posting(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Resp {
    authorize(&shared, &headers)?;
    let q = Query::parse(raw.as_deref());
    let include: Vec<&str> = q.all("include").collect();
    let store = shared.store();
    let job = store.data.job(&id).ok_or_else(|| error(V, StatusCode::NOT_FOUND, "Posting not found"))?;
    Ok(ok(&json!({ "data": posting_json(&shared, &store.data, job, &include) })))
}

async fn list_stages(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Resp {
    authorize(&shared, &headers)?;
    let data: Vec<Value> =
        stages(shared.config.seed).into_iter().map(|s| json!({ "id": s.id, "text": s.name })).collect();
    Ok(ok(&json!({ "data": data, "hasNext": false })))
}

async fn list_users(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Resp {
    authorize(&shared, &headers)?;
    let store = shared.store();
    let data: Vec<Value> = store
        .data
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            json!({ "id": u.uuid, "name": u.name(), "username": u.email.split('@').next(), "email": u.email,
                    "accessRole": if i == 0 { "super admin" } else { "team member" }, "photo": null,
                    "createdAt": 1_700_000_000_000_i64, "deactivatedAt": null, "externalDirectoryId": null })
        })
        .collect();
    Ok(ok(&json!({ "data": data, "hasNext": false })))
}

async fn list_archive_reasons(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Resp {
    authorize(&shared, &headers)?;
    let seed = shared.config.seed;
    let data: Vec<Value> = ARCHIVE_REASONS
        .iter()
        .enumerate()
        .map(|(i, (text, status))| json!({ "id": archive_reason_id(seed, i), "text": text, "status": status }))
        .collect();
    Ok(ok(&json!({ "data": data, "hasNext": false })))
}

fn categories(data: &Dataset, job: &Job) -> Value {
    let office = &data.offices[job.office].name;
    let dept = &data.departments[job.department].name;
    let commitment = match job.employment_type {
        EmploymentType::FullTime => "Full-time",
        EmploymentType::PartTime => "Part-time",
        EmploymentType::Contract => "Contract",
        EmploymentType::Intern => "Internship",
        EmploymentType::Temporary => "Temporary",
    };
    json!({ "team": dept, "department": dept, "location": office, "allLocations": [office], "commitment": commitment, "level": null })
}

/// Very small tag stripper for the plain-text variants.
fn plain(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
}

fn posting_json(shared: &Shared, data: &Dataset, job: &Job, include: &[&str]) -> Value {
    let user = |i: usize| data.users[i].uuid.clone();
    let office = &data.offices[job.office];
    let show = format!("{}/postings/{}", shared.base_url, job.id);
    let mut v = json!({
        "id": job.id, "text": job.title, "state": state_str(job.status),
        "distributionChannels": if job.confidential { json!(["internal"]) } else { json!(["public", "internal"]) },
        "confidentiality": if job.confidential { "confidential" } else { "non-confidential" },
        "requisitionCodes": job.requisition_id.iter().collect::<Vec<_>>(),
        "categories": categories(data, job), "country": office.country_code,
        "workplaceType": match job.workplace { Workplace::OnSite => "onsite", Workplace::Hybrid => "hybrid", Workplace::Remote => "remote" },
        "user": user(job.recruiter), "owner": user(job.recruiter), "hiringManager": user(job.hiring_manager),
        "createdAt": job.created_at, "updatedAt": job.updated_at, "tags": [],
        "urls": { "list": format!("{}/postings", shared.base_url), "show": show, "apply": format!("{show}/apply") },
        "salaryRange": { "min": 60_000, "max": 90_000, "currency": "EUR", "interval": "per-year-salary" },
    });
    if include.contains(&"content") {
        let html = data.description_html(job);
        let closing = "We welcome applicants of all backgrounds.";
        v["content"] = json!({ "description": plain(&html), "descriptionHtml": html, "lists": [],
                               "closing": closing, "closingHtml": format!("<p>{closing}</p>") });
    }
    if include.contains(&"followers") {
        v["followers"] = json!([user(job.recruiter), user(job.hiring_manager)]);
    }
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn plain_strips_tags() {
        assert_eq!(super::plain("<p>a &amp; <b>b</b></p><ul><li>c</li></ul>"), "a & b c");
    }
}
