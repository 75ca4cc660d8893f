//! Workable SPI v3 under `/spi/v3`, `Authorization: Bearer <token>`.
//!
//! - `GET /jobs?limit=&since_id=&max_id=&state=&created_after=&updated_after=&include_fields=`
//!   → `{"jobs":[…],"paging":{"next":"<full URL>"}}`, oldest first; `limit`
//!   1–100 (default 50); `paging` is absent on the last page. `since_id` is
//!   inclusive (the next page's URL carries the first id of that page).
//!   `*_after` take ISO-8601 basic (`20150708T115616Z`), extended, or unix seconds.
//!   Jobs carry `updated_at` (not confirmed for the real API).
//! - `GET /jobs/{shortcode}` adds `description`, `full_description`,
//!   `requirements`, `benefits`, `employment_type`.
//! - `GET /stages`, `GET /jobs/{shortcode}/stages` → `{"stages":[{slug,name,kind,position}]}`.
//! - `POST /jobs/{shortcode}/candidates[?stage=<slug>]` with
//!   `{"sourced":bool,"candidate":{name|firstname+lastname, email*, resume{name,data}|resume_url, …}}`
//!   → `201 {"status":"created","candidate":{…}}`. The same e-mail on the
//!   same job again → `422` (duplicate handling is **unconfirmed**).
//! - `GET /candidates?email=&shortcode=&stage=&limit=&since_id=`, `GET /candidates/{id}` → `{"candidate":{…}}`.
//! - `POST /candidates/{id}/move` `{"member_id"*, "target_stage"* (slug)}` →
//!   `200 {}`; an unknown member or stage, or a disqualified candidate,
//!   `422`; an unknown candidate `404`.
//! - `GET /members` → `{"members":[{id,name,headline,email,role}]}`: every user.
//! - `GET /jobs/{shortcode}/members` → the job's hiring team in the same
//!   shape (its recruiter, then its hiring manager, each once);
//!   `GET /jobs/{shortcode}/recruiters` → `{"recruiters":[{id,name,email}]}`
//!   (the job's recruiter). Both wrappers are **unconfirmed**.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::Vendor;
use crate::data::{Dataset, EmploymentType, Job, JobStatus, User, Workplace};
use crate::envelope::error;
use crate::http::{PageRule, Query, bearer, decode_base64, json, ok, page_size, str_field};
use crate::people::{AppRec, ApplicationStatus, Person};
use crate::recorder::{PushedCandidate, PushedFile};
use crate::state::{Shared, Store};
use crate::time_fmt::{iso_seconds, parse_iso_or_unix_seconds};

const V: Vendor = Vendor::Workable;
const PAGE: PageRule = PageRule { default: 50, max: 100 };
/// Job `id`s are hex numbers from this base plus the creation number, so
/// `since_id` compares numerically.
const JOB_ID_BASE: u64 = 0x0618_8000;
const PREFIX: &str = "/spi/v3";
/// (slug, name, kind); `position` is the index.
const STAGES: &[(&str, &str, &str)] = &[
    ("sourced", "Sourced", "sourced"),
    ("applied", "Applied", "applied"),
    ("phone-screen", "Phone Screen", "phone-screen"),
    ("assessment", "Assessment", "assessment"),
    ("interview", "Interview", "interview"),
    ("offer", "Offer", "offer"),
    ("hired", "Hired", "hired"),
];

type Resp = Result<Response, Response>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/spi/v3/jobs", get(list_jobs))
        .route("/spi/v3/jobs/{shortcode}", get(get_job))
        .route("/spi/v3/jobs/{shortcode}/stages", get(job_stages))
        .route("/spi/v3/jobs/{shortcode}/members", get(job_members))
        .route("/spi/v3/jobs/{shortcode}/recruiters", get(job_recruiters))
        .route("/spi/v3/jobs/{shortcode}/candidates", post(create_candidate))
        .route("/spi/v3/stages", get(account_stages))
        .route("/spi/v3/candidates", get(list_candidates))
        .route("/spi/v3/candidates/{id}", get(get_candidate))
        .route("/spi/v3/candidates/{id}/move", post(move_candidate))
        .route("/spi/v3/members", get(members))
}

/// The account pipeline (jobs use the same one).
pub(crate) fn stages() -> Vec<crate::Stage> {
    STAGES.iter().map(|(slug, name, _)| crate::Stage { id: slug.to_string(), name: name.to_string() }).collect()
}

fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    match bearer(headers) {
        Some(token) if shared.key_ok(&token) => Ok(()),
        _ => Err(error(V, StatusCode::UNAUTHORIZED, "Not authorized")),
    }
}

fn unprocessable(message: &str) -> Response {
    error(V, StatusCode::UNPROCESSABLE_ENTITY, message)
}

fn not_found() -> Response {
    error(V, StatusCode::NOT_FOUND, "not-found")
}

fn job_hex_id(job: &Job) -> String {
    format!("{:x}", JOB_ID_BASE + job.seq)
}

fn state_str(s: JobStatus) -> &'static str {
    match s {
        JobStatus::Open => "published",
        JobStatus::Closed => "closed",
        JobStatus::Draft => "draft",
        JobStatus::Archived => "archived",
    }
}

fn time_param(q: &Query, key: &str) -> Result<Option<i64>, Response> {
    q.get(key)
        .map(|v| {
            parse_iso_or_unix_seconds(v)
                .ok_or_else(|| unprocessable(&format!("{key} must be ISO-8601 or unix seconds")))
        })
        .transpose()
}

fn hex_param(q: &Query, key: &str) -> Result<Option<u64>, Response> {
    q.get(key).map(|v| u64::from_str_radix(v, 16).map_err(|_| unprocessable(&format!("invalid {key}")))).transpose()
}

/// `{"<key>":[…],"paging":{"next":…}}` with `since_id` = the next item's id.
fn page_body(
    shared: &Shared,
    path: &str,
    q: &Query,
    key: &str,
    items: Vec<Value>,
    next_id: Option<String>,
) -> Response {
    let mut body = json!({ key: items });
    if let Some(id) = next_id {
        let rest = q.encode_without(&["since_id"]);
        let sep = if rest.is_empty() { "" } else { "&" };
        body["paging"] = json!({ "next": format!("{}{}?{rest}{sep}since_id={id}", shared.base_url, path) });
    }
    ok(&body)
}

async fn list_jobs(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    authorize(&shared, &headers)?;
    let q = Query::parse(raw.as_deref());
    let limit = page_size(PAGE, &shared.config, q.get("limit")).map_err(|m| unprocessable(&m))?;
    let (created_after, updated_after) = (time_param(&q, "created_after")?, time_param(&q, "updated_after")?);
    let since = hex_param(&q, "since_id")?.map_or(0, |id| id.saturating_sub(JOB_ID_BASE + 1));
    let max = hex_param(&q, "max_id")?;
    let state = q.get("state");
    let include: Vec<&str> = q.get("include_fields").map(|s| s.split(',').collect()).unwrap_or_default();
    let store = shared.store();
    let keep = |j: &Job| {
        created_after.is_none_or(|t| j.created_at >= t)
            && updated_after.is_none_or(|t| j.updated_at >= t)
            && state.is_none_or(|s| s == state_str(j.status))
            && max.is_none_or(|m| JOB_ID_BASE + j.seq <= m)
    };
    let (mut page, _) = store.data.page_after(since, limit + 1, keep);
    let next = (page.len() > limit).then(|| job_hex_id(page[limit]));
    page.truncate(limit);
    let jobs = page.iter().map(|j| job_json(&shared, &store.data, j, &include)).collect();
    Ok(page_body(&shared, &format!("{PREFIX}/jobs"), &q, "jobs", jobs, next))
}

async fn get_job(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(shortcode): Path<String>) -> Resp {
    authorize(&shared, &headers)?;
    let store = shared.store();
    let job = store.data.job(&shortcode).ok_or_else(not_found)?;
    let all = ["description", "full_description", "requirements", "benefits"];
    let mut v = job_json(&shared, &store.data, job, &all);
    v["employment_type"] = json!(match job.employment_type {
        EmploymentType::FullTime => "Full-time",
        EmploymentType::PartTime => "Part-time",
        EmploymentType::Contract => "Contract",
        EmploymentType::Intern => "Internship",
        EmploymentType::Temporary => "Temporary",
    });
    Ok(ok(&v))
}

fn stages_json() -> Value {
    let stages: Vec<Value> = STAGES
        .iter()
        .enumerate()
        .map(|(i, (slug, name, kind))| json!({ "slug": slug, "name": name, "kind": kind, "position": i }))
        .collect();
    json!({ "stages": stages })
}

async fn account_stages(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Resp {
    authorize(&shared, &headers)?;
    Ok(ok(&stages_json()))
}

async fn job_stages(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(shortcode): Path<String>) -> Resp {
    authorize(&shared, &headers)?;
    shared.store().data.job(&shortcode).ok_or_else(not_found)?;
    Ok(ok(&stages_json()))
}

/// A user as Workable's member lists show it. The first user is the
/// account's admin, the others "simple" members.
fn member_json(users: &[User], index: usize) -> Value {
    let u = &users[index];
    let role = if index == 0 { "admin" } else { "simple" };
    json!({ "id": member_id(u), "name": u.name(), "headline": "Recruiter", "email": u.email, "role": role })
}

/// Workable member ids are 8 hex digits.
fn member_id(user: &User) -> &str {
    &user.uuid[..8]
}

async fn members(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Resp {
    authorize(&shared, &headers)?;
    let store = shared.store();
    let users = &store.data.users;
    let members: Vec<Value> = (0..users.len()).map(|i| member_json(users, i)).collect();
    Ok(ok(&json!({ "members": members })))
}

/// The job's hiring team as user indexes: its recruiter, then its hiring
/// manager (once when they are the same user).
fn hiring_team(job: &Job) -> Vec<usize> {
    let mut team = vec![job.recruiter];
    if job.hiring_manager != job.recruiter {
        team.push(job.hiring_manager);
    }
    team
}

/// An entry of `/jobs/{shortcode}/recruiters`.
fn recruiter_json(users: &[User], index: usize) -> Value {
    let u = &users[index];
    json!({ "id": member_id(u), "name": u.name(), "email": u.email })
}

/// A job's team endpoint: the list's key, whom it lists, how each shows.
struct TeamList {
    key: &'static str,
    team: fn(&Job) -> Vec<usize>,
    item: fn(&[User], usize) -> Value,
}

/// `/jobs/{shortcode}/members`: the hiring team.
const MEMBERS: TeamList = TeamList { key: "members", team: hiring_team, item: member_json };
/// `/jobs/{shortcode}/recruiters`: Workable lists a job's external (agency)
/// recruiters here; the mock has none of its own and serves the recruiter.
const RECRUITERS: TeamList = TeamList { key: "recruiters", team: |job| vec![job.recruiter], item: recruiter_json };

/// `{"<key>": [...]}` of `list` for the job.
fn job_users(shared: &Shared, headers: &HeaderMap, shortcode: &str, list: &TeamList) -> Resp {
    authorize(shared, headers)?;
    let store = shared.store();
    let job = store.data.job(shortcode).ok_or_else(not_found)?;
    let items: Vec<Value> = (list.team)(job).into_iter().map(|i| (list.item)(&store.data.users, i)).collect();
    Ok(ok(&json!({ list.key: items })))
}

async fn job_members(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(shortcode): Path<String>) -> Resp {
    job_users(&shared, &headers, &shortcode, &MEMBERS)
}

async fn job_recruiters(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(shortcode): Path<String>) -> Resp {
    job_users(&shared, &headers, &shortcode, &RECRUITERS)
}

fn job_json(shared: &Shared, data: &Dataset, job: &Job, include: &[&str]) -> Value {
    let office = &data.offices[job.office];
    let dept = &data.departments[job.department];
    let url = format!("{}/j/{}", shared.base_url, job.id);
    let location = json!({
        "location_str": office.location(), "country": office.country, "country_code": office.country_code,
        "region": office.region, "region_code": null, "city": office.name, "zip_code": null,
        "telecommuting": job.workplace == Workplace::Remote,
        "workplace_type": match job.workplace { Workplace::OnSite => "on_site", Workplace::Hybrid => "hybrid", Workplace::Remote => "remote" },
    });
    let mut v = json!({
        "id": job_hex_id(job), "title": job.title,
        "full_title": job.requisition_id.as_ref().map_or_else(|| job.title.clone(), |c| format!("{} - {c}", job.title)),
        "shortcode": job.id, "code": job.requisition_id, "state": state_str(job.status), "sample": false,
        "department": dept.name, "department_hierarchy": [{ "id": dept.id, "name": dept.name }],
        "url": url, "application_url": format!("{url}/apply"), "shortlink": url,
        "location": location, "locations": [location],
        "created_at": iso_seconds(job.created_at), "updated_at": iso_seconds(job.updated_at),
    });
    let html = data.description_html(job);
    // The seeded HTML has "what we are looking for" and "benefits" sections;
    // split there so the fields differ as in the real API.
    let (desc, rest) = html.split_once("<h3>What we are looking for</h3>").unwrap_or((&html, ""));
    let (requirements, benefits) = rest.split_once("<h3>Benefits</h3>").unwrap_or((rest, ""));
    for field in include {
        v[*field] = json!(match *field {
            "description" => desc.to_string(),
            "full_description" => html.clone(),
            "requirements" => requirements.to_string(),
            "benefits" => benefits.to_string(),
            _ => continue,
        });
    }
    v
}

async fn create_candidate(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(shortcode): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Resp {
    authorize(&shared, &headers)?;
    let q = Query::parse(raw.as_deref());
    let v: Value =
        serde_json::from_slice(&body).map_err(|e| error(V, StatusCode::BAD_REQUEST, &format!("Invalid JSON: {e}")))?;
    let mut store = shared.store();
    let job = store.data.job(&shortcode).ok_or_else(not_found)?.clone();
    let c = v.get("candidate").filter(|c| c.is_object()).ok_or_else(|| unprocessable("candidate is required"))?;
    let email = str_field(c, "email").ok_or_else(|| unprocessable("Email can't be blank"))?.to_string();
    let (first, last) = match (str_field(c, "firstname"), str_field(c, "lastname"), str_field(c, "name")) {
        (Some(f), Some(l), _) => (f.to_string(), l.to_string()),
        (_, _, Some(name)) => crate::people::split_name(name),
        _ => return Err(unprocessable("Name can't be blank")),
    };
    let sourced = v.get("sourced").and_then(Value::as_bool).unwrap_or(true);
    let stage = q.get("stage").map_or(if sourced { "sourced" } else { "applied" }, |s| s).to_string();
    if !STAGES.iter().any(|(slug, ..)| *slug == stage) {
        return Err(unprocessable(&format!("Stage {stage} not found")));
    }
    if store
        .people
        .apps
        .iter()
        .any(|a| a.job_id == job.id && store.people.person(&a.candidate_id).is_some_and(|p| p.has_email(&email)))
    {
        return Err(unprocessable("Candidate with this email already exists in this job"));
    }
    let mut files = Vec::new();
    if let Some(resume) = c.get("resume").filter(|r| r.is_object()) {
        let name = str_field(resume, "name").ok_or_else(|| unprocessable("resume.name is required"))?;
        let data = str_field(resume, "data").ok_or_else(|| unprocessable("resume.data is required"))?;
        let bytes = decode_base64(data).ok_or_else(|| unprocessable("resume.data must be base64"))?;
        files.push(PushedFile { kind: "resume".into(), file_name: name.to_string(), content_type: None, bytes });
    } else if let Some(url) = str_field(c, "resume_url") {
        let name = url.rsplit('/').next().unwrap_or(url).to_string();
        files.push(PushedFile { kind: "resume".into(), file_name: name, content_type: None, bytes: Vec::new() });
    }
    let now = store.data.stamp();
    let person = store.people.add_person(&first, &last, vec![email.clone()], now);
    for key in ["headline", "summary", "address", "phone", "cover_letter", "skills", "tags", "social_profiles"] {
        if let Some(val) = c.get(key) {
            person.extra.insert(key.to_string(), val.clone());
        }
    }
    person.extra.insert("sourced".into(), json!(sourced));
    person.files = files.clone();
    let id = person.id.clone();
    store.people.add_app_with_id(id.clone(), &id, &job.id, &stage, now);
    store.pushed.push(PushedCandidate {
        vendor: V,
        endpoint: "POST /spi/v3/jobs/{shortcode}/candidates".into(),
        candidate_id: id.clone(),
        application_id: Some(id.clone()),
        job_id: Some(job.id.clone()),
        first_name: str_field(c, "firstname").map(str::to_string),
        last_name: str_field(c, "lastname").map(str::to_string),
        name: str_field(c, "name").map_or_else(|| format!("{first} {last}"), str::to_string),
        emails: vec![email],
        stage_id: Some(stage),
        files,
        existing_person: false,
        notes: Vec::new(),
        raw_bodies: vec![body.to_vec()],
    });
    let app = store.people.app(&id).expect("created");
    Ok(json(StatusCode::CREATED, &json!({ "status": "created", "candidate": candidate_json(&shared, &store, app) })))
}

async fn list_candidates(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    authorize(&shared, &headers)?;
    let q = Query::parse(raw.as_deref());
    let limit = page_size(PAGE, &shared.config, q.get("limit")).map_err(|m| unprocessable(&m))?;
    let (created_after, updated_after) = (time_param(&q, "created_after")?, time_param(&q, "updated_after")?);
    let since = hex_param(&q, "since_id")?;
    let store = shared.store();
    let keep = |a: &AppRec| {
        let p = store.people.person(&a.candidate_id);
        q.get("email").is_none_or(|e| p.is_some_and(|p| p.has_email(e)))
            && q.get("shortcode").is_none_or(|s| a.job_id == s)
            && q.get("stage").is_none_or(|s| a.stage_id == s)
            && since.is_none_or(|s| u64::from_str_radix(&a.id, 16).is_ok_and(|id| id >= s))
            && created_after.is_none_or(|t| a.created_at >= t)
            && updated_after.is_none_or(|t| a.updated_at >= t)
    };
    let mut page: Vec<&AppRec> = store.people.apps.iter().filter(|a| keep(a)).take(limit + 1).collect();
    let next = (page.len() > limit).then(|| page[limit].id.clone());
    page.truncate(limit);
    let items = page.iter().map(|a| candidate_json(&shared, &store, a)).collect();
    Ok(page_body(&shared, &format!("{PREFIX}/candidates"), &q, "candidates", items, next))
}

/// `POST /candidates/{id}/move`.
async fn move_candidate(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Resp {
    authorize(&shared, &headers)?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| unprocessable(&format!("invalid JSON: {e}")))?;
    let mut store = shared.store();
    let app = store.people.app(&id).ok_or_else(not_found)?;
    if app.status == ApplicationStatus::Rejected {
        return Err(unprocessable("a disqualified candidate cannot be moved"));
    }
    let member = str_field(&v, "member_id").ok_or_else(|| unprocessable("member_id is required"))?;
    if !store.data.users.iter().any(|u| member_id(u) == member) {
        return Err(unprocessable("member_id is not a member of the account"));
    }
    let target = str_field(&v, "target_stage").ok_or_else(|| unprocessable("target_stage is required"))?.to_string();
    if !STAGES.iter().any(|(slug, ..)| *slug == target) {
        return Err(unprocessable("target_stage is not a stage of the job"));
    }
    let now = store.data.stamp();
    store.people.move_app(&id, &target, now);
    Ok(ok(&json!({})))
}

async fn get_candidate(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Resp {
    authorize(&shared, &headers)?;
    let store = shared.store();
    let app = store.people.app(&id).ok_or_else(not_found)?;
    Ok(ok(&json!({ "candidate": candidate_json(&shared, &store, app) })))
}

fn candidate_json(shared: &Shared, store: &Store, a: &AppRec) -> Value {
    let p: Option<&Person> = store.people.person(&a.candidate_id);
    let extra = |k: &str| p.and_then(|p| p.extra.get(k)).cloned().unwrap_or(Value::Null);
    let job = store.data.job(&a.job_id);
    let kind = STAGES.iter().find(|(slug, ..)| *slug == a.stage_id).map(|s| s.2);
    let disqualified = a.status == ApplicationStatus::Rejected;
    json!({
        "id": a.id, "name": p.map(|p| p.name()), "firstname": p.map(|p| &p.first_name), "lastname": p.map(|p| &p.last_name),
        "headline": extra("headline"), "account": { "subdomain": "mock", "name": "Mock Inc." },
        "job": { "shortcode": a.job_id, "title": job.map(|j| &j.title) },
        "stage": a.stage_id, "stage_kind": kind, "disqualified": disqualified, "withdrew": false,
        "disqualification_reason": disqualified.then_some("Rejected"), "sourced": extra("sourced"),
        "profile_url": format!("{}/backend/candidates/{}", shared.base_url, a.id),
        "email": p.and_then(|p| p.emails.first()), "domain": null, "address": extra("address"), "phone": extra("phone"),
        "created_at": iso_seconds(a.created_at), "updated_at": iso_seconds(a.updated_at),
        "hired_at": (a.status == ApplicationStatus::Hired).then(|| a.closed_at.map(iso_seconds)).flatten(),
    })
}
