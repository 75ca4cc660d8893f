//! SmartRecruiters Customer API at the base URL (real:
//! `https://api.smartrecruiters.com`), `X-SmartToken: <api key>`.
//!
//! - `GET /jobs?limit=&offset=&pageId=&q=&status=&postingStatus=&updatedAfter=`
//!   → `{"limit","offset","totalFound","nextPageId"?,"content":[job summary]}`;
//!   `limit` 1–100 (default 10). Both paging styles are served: `offset`,
//!   and the opaque `pageId` from the previous page's `nextPageId` (which
//!   one the real `GET /jobs` uses is **unconfirmed**). `updatedAfter` is
//!   ISO 8601 and inclusive.
//! - `GET /jobs/{id}` adds `hiringProcessId` (**unconfirmed**: how a job
//!   names its hiring process is not documented) and `typeOfEmployment`.
//! - `GET /jobs/{id}/hiring-team` → `{"totalFound","content":[{id, role}]}`
//!   (the wrapper and the role names are **unconfirmed**): the recruiter
//!   (`RECRUITER`), then the hiring manager (`HIRING_MANAGER`).
//! - `GET /user-api/v201804/users/{id}` → `{id, email, firstName, lastName, role, active}`.
//! - `GET /jobs/{id}/jobads` → `{"totalFound","content":[{id, title, language,
//!   postingStatus, jobAd:{sections:{companyDescription, jobDescription,
//!   qualifications, additionalInformation}}}]}`, each section `{title, text}` (HTML).
//! - `GET /configuration/hiring-processes` → `{"totalFound","content":[process]}`,
//!   `GET /configuration/hiring-processes/{id}` → `{id, name, active,
//!   subStatuses:{inReview:[…], interview:[…], offered:[…]}}`.
//! - `POST /jobs/{id}/candidates` `{firstName*, lastName*, email*, phoneNumber,
//!   web{…}, tags[], sourceDetails{…}}` → `201` candidate, status `NEW`. The
//!   same e-mail on the same job again → `409` (duplicate handling is
//!   **unconfirmed**).
//! - `GET /candidates?q=&jobId=&limit=&offset=` (`q` matches e-mail or name),
//!   `GET /candidates/{id}` → `{id, firstName, lastName, email, …,
//!   primaryAssignment:{job:{id,title}, status, subStatus}}`.
//! - `POST /candidates/{id}/attachments` (multipart: `attachmentType`
//!   `RESUME|COVER_LETTER|OTHER`, file `file`; field names **unconfirmed**) → `201`;
//!   `GET /candidates/{id}/attachments` → `{"totalFound","content":[{id, name, type, contentType}]}`
//!   (shape **unconfirmed**).
//! - `PUT /candidates/{id}/jobs/{jobId}/status {"status","subStatus"}` → `204`.
//!
//! SmartRecruiters has no application id: a candidate's application is its
//! assignment to a job. The mock names it `<candidate id>:<job id>` in
//! [`crate::MockAts::applications`] and the push records. Stage ids are the
//! status (`INTERVIEW`) or status and sub-status (`INTERVIEW:Phone interview`).

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use crate::Vendor;
use crate::data::{Dataset, Job, JobStatus, uuid};
use crate::envelope::error;
use crate::http::{PageRule, Query, decode_cursor, encode_cursor, header_str, json, multipart_form, ok, page_size};
use crate::people::{AppRec, ApplicationStatus};
use crate::recorder::PushedCandidate;
use crate::state::{Shared, Store};
use crate::time_fmt::{iso_millis, parse_iso};

const V: Vendor = Vendor::SmartRecruiters;
const PAGE: PageRule = PageRule { default: 10, max: 100 };
/// The auth header.
const TOKEN_HEADER: &str = "x-smarttoken";
/// Salt of hiring-process ids (see [`crate::data::uuid`]).
const PROCESS_SALT: u64 = 20;

/// A hiring process: name and sub-statuses of `IN_REVIEW`, `INTERVIEW`, `OFFER`.
struct Process {
    name: &'static str,
    in_review: &'static [&'static str],
    interview: &'static [&'static str],
    offered: &'static [&'static str],
}

/// The account's hiring processes; job `seq` picks one (`seq % len`).
const PROCESSES: &[Process] = &[
    Process {
        name: "Standard hiring process",
        in_review: &["Screening"],
        interview: &["Phone interview", "Onsite interview"],
        offered: &[],
    },
    Process {
        name: "Engineering",
        in_review: &["Resume review", "Coding exercise"],
        interview: &["Technical interview", "Team interview"],
        offered: &["Offer approval"],
    },
];

type Resp = Result<Response, Response>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/jobs", get(list_jobs))
        .route("/jobs/{id}", get(get_job))
        .route("/jobs/{id}/hiring-team", get(hiring_team))
        .route("/jobs/{id}/jobads", get(job_ads))
        .route("/jobs/{id}/candidates", post(create_candidate))
        .route("/configuration/hiring-processes", get(list_processes))
        .route("/configuration/hiring-processes/{id}", get(get_process))
        .route("/candidates", get(list_candidates))
        .route("/candidates/{id}", get(get_candidate))
        .route("/candidates/{id}/attachments", post(add_attachment).get(list_attachments))
        .route("/candidates/{id}/jobs/{job}/status", put(set_status))
        .route("/user-api/v201804/users/{id}", get(get_user))
}

fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    match header_str(headers, TOKEN_HEADER) {
        Some(token) if shared.key_ok(token.trim()) => Ok(()),
        _ => Err(error(V, StatusCode::UNAUTHORIZED, "Authentication failed: missing or invalid X-SmartToken")),
    }
}

fn bad_request(message: &str) -> Response {
    error(V, StatusCode::BAD_REQUEST, message)
}

fn not_found(what: &str) -> Response {
    error(V, StatusCode::NOT_FOUND, &format!("{what} not found"))
}

fn process_index(job: &Job) -> usize {
    (job.seq % PROCESSES.len() as u64) as usize
}

fn process_id(seed: u64, index: usize) -> String {
    uuid(seed, PROCESS_SALT, index as u64)
}

/// Status and display name of the pipeline's statuses, in order.
const PIPELINE: &[(&str, &str)] =
    &[("NEW", "New"), ("IN_REVIEW", "In review"), ("INTERVIEW", "Interview"), ("OFFER", "Offer"), ("HIRED", "Hired")];

fn sub_statuses(process: &Process, status: &str) -> &'static [&'static str] {
    match status {
        "IN_REVIEW" => process.in_review,
        "INTERVIEW" => process.interview,
        "OFFER" => process.offered,
        _ => &[],
    }
}

/// A job's pipeline: each status, followed by its sub-statuses in the job's
/// hiring process.
pub(crate) fn job_stages(job: &Job) -> Vec<crate::Stage> {
    let process = &PROCESSES[process_index(job)];
    let mut out = Vec::new();
    for (status, name) in PIPELINE {
        out.push(crate::Stage { id: status.to_string(), name: name.to_string() });
        for sub in sub_statuses(process, status) {
            out.push(crate::Stage { id: format!("{status}:{sub}"), name: format!("{name}: {sub}") });
        }
    }
    out
}

fn status_str(job: &Job) -> &'static str {
    match job.status {
        JobStatus::Open => ["SOURCING", "INTERVIEW", "OFFER"][(job.seq % 3) as usize],
        JobStatus::Closed => "FILLED",
        JobStatus::Draft => "CREATED",
        JobStatus::Archived => "CANCELLED",
    }
}

fn posting_status(job: &Job) -> &'static str {
    match job.status {
        JobStatus::Open if job.confidential => "INTERNAL",
        JobStatus::Open => "PUBLIC",
        _ => "NOT_PUBLISHED",
    }
}

fn job_json(data: &Dataset, job: &Job) -> Value {
    let office = &data.offices[job.office];
    let dept = &data.departments[job.department];
    json!({
        "id": job.id, "title": job.title, "refNumber": job.requisition_id,
        "createdOn": iso_millis(job.created_at), "updatedOn": iso_millis(job.updated_at),
        "lastActivityOn": iso_millis(job.updated_at),
        "department": { "id": dept.id.to_string(), "label": dept.name },
        "location": {
            "country": office.country, "countryCode": office.country_code.to_lowercase(), "region": office.region,
            "regionCode": null, "city": office.name, "address": null, "postalCode": null,
            "remote": job.workplace == crate::data::Workplace::Remote,
        },
        "status": status_str(job), "postingStatus": posting_status(job),
        "language": { "code": "en", "label": "English", "labelNative": "English (US)" },
    })
}

/// Where a listing starts: `pageId` (an opaque offset) or `offset`.
fn start_offset(q: &Query) -> Result<usize, Response> {
    if let Some(page_id) = q.get("pageId") {
        return decode_cursor::<usize>(page_id).ok_or_else(|| bad_request("Invalid pageId"));
    }
    q.get("offset")
        .map_or(Ok(0), |o| o.trim().parse().map_err(|_| bad_request("offset must be a non-negative integer")))
}

async fn list_jobs(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    authorize(&shared, &headers)?;
    let q = Query::parse(raw.as_deref());
    let limit = page_size(PAGE, &shared.config, q.get("limit")).map_err(|m| bad_request(&m))?;
    let offset = start_offset(&q)?;
    let updated_after = q
        .get("updatedAfter")
        .map(|v| parse_iso(v).ok_or_else(|| bad_request("updatedAfter must be an ISO 8601 date-time")))
        .transpose()?;
    let text = q.get("q").map(str::to_lowercase);
    let store = shared.store();
    let keep = |j: &&Job| {
        updated_after.is_none_or(|t| j.updated_at >= t)
            && q.get("status").is_none_or(|s| s.eq_ignore_ascii_case(status_str(j)))
            && q.get("postingStatus").is_none_or(|s| s.eq_ignore_ascii_case(posting_status(j)))
            && text.as_deref().is_none_or(|t| j.title.to_lowercase().contains(t))
    };
    let matching: Vec<&Job> = store.data.jobs.iter().filter(keep).collect();
    let total = matching.len();
    let content: Vec<Value> = matching.iter().skip(offset).take(limit).map(|j| job_json(&store.data, j)).collect();
    let mut body = json!({ "limit": limit, "offset": offset, "totalFound": total, "content": content });
    if offset + limit < total {
        body["nextPageId"] = json!(encode_cursor(&(offset + limit)));
    }
    Ok(ok(&body))
}

async fn get_job(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Resp {
    authorize(&shared, &headers)?;
    let store = shared.store();
    let job = store.data.job(&id).ok_or_else(|| not_found("Job"))?;
    let mut v = job_json(&store.data, job);
    v["hiringProcessId"] = json!(process_id(store.data.seed(), process_index(job)));
    v["typeOfEmployment"] = json!({ "id": "permanent", "label": "Full-time" });
    Ok(ok(&v))
}

async fn hiring_team(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Resp {
    authorize(&shared, &headers)?;
    let store = shared.store();
    let job = store.data.job(&id).ok_or_else(|| not_found("Job"))?;
    let users = &store.data.users;
    let mut content = vec![json!({ "id": users[job.recruiter].uuid, "role": "RECRUITER" })];
    if job.hiring_manager != job.recruiter {
        content.push(json!({ "id": users[job.hiring_manager].uuid, "role": "HIRING_MANAGER" }));
    }
    Ok(ok(&json!({ "totalFound": content.len(), "content": content })))
}

async fn get_user(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Resp {
    authorize(&shared, &headers)?;
    let store = shared.store();
    let (i, u) = store.data.users.iter().enumerate().find(|(_, u)| u.uuid == id).ok_or_else(|| not_found("User"))?;
    let role = if i == 0 { "ADMINISTRATOR" } else { "EMPLOYEE" };
    Ok(ok(&json!({
        "id": u.uuid, "email": u.email, "firstName": u.first_name, "lastName": u.last_name,
        "role": role, "active": true, "language": { "code": "en" },
    })))
}

async fn job_ads(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Resp {
    authorize(&shared, &headers)?;
    let store = shared.store();
    let job = store.data.job(&id).ok_or_else(|| not_found("Job"))?;
    let html = store.data.description_html(job);
    // The seeded text has "what we are looking for" and "benefits" parts;
    // they become the ad's sections as in the real API.
    let (desc, rest) = html.split_once("<h3>What we are looking for</h3>").unwrap_or((&html, ""));
    let (qualifications, benefits) = rest.split_once("<h3>Benefits</h3>").unwrap_or((rest, ""));
    let section = |title: &str, text: &str| json!({ "title": title, "text": text });
    let ad = json!({
        "id": uuid(store.data.seed(), 21, job.seq), "title": job.title, "language": { "code": "en" },
        "postingStatus": posting_status(job), "createdOn": iso_millis(job.created_at),
        "updatedOn": iso_millis(job.updated_at),
        "jobAd": { "sections": {
            "companyDescription": section("Company Description", "<p>Mock Inc. makes hiring software.</p>"),
            "jobDescription": section("Job Description", desc),
            "qualifications": section("Qualifications", qualifications),
            "additionalInformation": section("Additional Information", benefits),
        }},
    });
    Ok(ok(&json!({ "totalFound": 1, "content": [ad] })))
}

fn process_json(seed: u64, index: usize) -> Value {
    let p = &PROCESSES[index];
    json!({
        "id": process_id(seed, index), "name": p.name, "active": true,
        "subStatuses": { "inReview": p.in_review, "interview": p.interview, "offered": p.offered },
    })
}

async fn list_processes(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Resp {
    authorize(&shared, &headers)?;
    let seed = shared.store().data.seed();
    let content: Vec<Value> = (0..PROCESSES.len()).map(|i| process_json(seed, i)).collect();
    Ok(ok(&json!({ "totalFound": content.len(), "content": content })))
}

async fn get_process(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Resp {
    authorize(&shared, &headers)?;
    let seed = shared.store().data.seed();
    let index = (0..PROCESSES.len()).find(|&i| process_id(seed, i) == id).ok_or_else(|| not_found("Hiring process"))?;
    Ok(ok(&process_json(seed, index)))
}

/// `(status, subStatus)` of an application.
fn assignment_status(a: &AppRec) -> (String, Option<String>) {
    match a.status {
        ApplicationStatus::Rejected => ("REJECTED".into(), None),
        ApplicationStatus::Hired => ("HIRED".into(), None),
        ApplicationStatus::Active => match a.stage_id.split_once(':') {
            Some((status, sub)) => (status.to_string(), Some(sub.to_string())),
            None => (a.stage_id.clone(), None),
        },
    }
}

/// The mock's id of a candidate's application to a job.
pub(crate) fn application_id(candidate_id: &str, job_id: &str) -> String {
    format!("{candidate_id}:{job_id}")
}

fn assignment_json(store: &Store, a: &AppRec) -> Value {
    let (status, sub_status) = assignment_status(a);
    json!({
        "job": { "id": a.job_id, "title": store.data.job(&a.job_id).map(|j| &j.title) },
        "status": status, "subStatus": sub_status, "startsOn": null,
    })
}

/// A candidate with its first application as the primary assignment and
/// any later ones as secondary assignments.
fn candidate_json(store: &Store, a: &AppRec) -> Value {
    let p = store.people.person(&a.candidate_id);
    let extra = |k: &str| p.and_then(|p| p.extra.get(k)).cloned().unwrap_or(Value::Null);
    let secondary: Vec<Value> =
        store.people.apps_of(&a.candidate_id).filter(|o| o.id != a.id).map(|o| assignment_json(store, o)).collect();
    json!({
        "id": a.candidate_id, "firstName": p.map(|p| &p.first_name), "lastName": p.map(|p| &p.last_name),
        "email": p.and_then(|p| p.emails.first()), "phoneNumber": extra("phoneNumber"), "location": extra("location"),
        "web": extra("web"), "tags": extra("tags"), "createdOn": iso_millis(a.created_at),
        "updatedOn": iso_millis(a.updated_at),
        "primaryAssignment": assignment_json(store, a),
        "secondaryAssignments": secondary,
    })
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    crate::http::str_field(v, key)
}

async fn create_candidate(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(job_id): Path<String>,
    body: Bytes,
) -> Resp {
    authorize(&shared, &headers)?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| bad_request(&format!("Malformed JSON: {e}")))?;
    let mut store = shared.store();
    let job = store.data.job(&job_id).ok_or_else(|| not_found("Job"))?.clone();
    let missing: Vec<&str> =
        ["firstName", "lastName", "email"].into_iter().filter(|k| str_field(&v, k).is_none()).collect();
    if !missing.is_empty() {
        let errors: Vec<Value> =
            missing.iter().map(|k| json!({ "code": "REQUIRED", "message": format!("{k} may not be empty") })).collect();
        return Err(json(StatusCode::BAD_REQUEST, &json!({ "message": "Validation failed", "errors": errors })));
    }
    let [first, last, email] =
        ["firstName", "lastName", "email"].map(|k| str_field(&v, k).unwrap_or_default().to_string());
    let duplicate = store
        .people
        .apps
        .iter()
        .any(|a| a.job_id == job.id && store.people.person(&a.candidate_id).is_some_and(|p| p.has_email(&email)));
    if duplicate {
        return Err(error(V, StatusCode::CONFLICT, "Candidate with this e-mail already applied to the job"));
    }
    let now = store.data.stamp();
    let person = store.people.add_person(&first, &last, vec![email.clone()], now);
    for key in ["phoneNumber", "location", "web", "tags", "education", "experience", "sourceDetails"] {
        if let Some(val) = v.get(key) {
            person.extra.insert(key.to_string(), val.clone());
        }
    }
    let id = person.id.clone();
    let app_id = application_id(&id, &job.id);
    store.people.add_app_with_id(app_id.clone(), &id, &job.id, "NEW", now);
    store.pushed.push(PushedCandidate {
        vendor: V,
        endpoint: "POST /jobs/{id}/candidates".into(),
        candidate_id: id.clone(),
        application_id: Some(app_id.clone()),
        job_id: Some(job.id.clone()),
        first_name: Some(first.clone()),
        last_name: Some(last.clone()),
        name: format!("{first} {last}"),
        emails: vec![email],
        stage_id: Some("NEW".into()),
        files: Vec::new(),
        existing_person: false,
        notes: Vec::new(),
        raw_bodies: vec![body.to_vec()],
    });
    let app = store.people.app(&app_id).expect("created");
    Ok(json(StatusCode::CREATED, &candidate_json(&store, app)))
}

async fn list_candidates(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    authorize(&shared, &headers)?;
    let q = Query::parse(raw.as_deref());
    let limit = page_size(PAGE, &shared.config, q.get("limit")).map_err(|m| bad_request(&m))?;
    let offset = start_offset(&q)?;
    let text = q.get("q").map(|t| t.trim().to_lowercase());
    let store = shared.store();
    let keep = |a: &&AppRec| {
        let p = store.people.person(&a.candidate_id);
        q.get("jobId").is_none_or(|j| a.job_id == j)
            && text.as_deref().is_none_or(|t| {
                p.is_some_and(|p| {
                    p.emails.iter().any(|e| e.to_lowercase().contains(t)) || p.name().to_lowercase().contains(t)
                })
            })
    };
    // One entry per candidate (their first application is the primary one).
    let mut seen = std::collections::HashSet::new();
    let matching: Vec<&AppRec> =
        store.people.apps.iter().filter(keep).filter(|a| seen.insert(a.candidate_id.clone())).collect();
    let content: Vec<Value> = matching.iter().skip(offset).take(limit).map(|a| candidate_json(&store, a)).collect();
    Ok(ok(&json!({ "limit": limit, "offset": offset, "totalFound": matching.len(), "content": content })))
}

async fn get_candidate(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Resp {
    authorize(&shared, &headers)?;
    let store = shared.store();
    let app = store.people.apps_of(&id).next().ok_or_else(|| not_found("Candidate"))?;
    Ok(ok(&candidate_json(&store, app)))
}

async fn add_attachment(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Resp {
    authorize(&shared, &headers)?;
    let form = multipart_form(&headers, &body)
        .await
        .map_err(|m| bad_request(&format!("Expected multipart/form-data: {m}")))?;
    let kind = form.fields.iter().find(|(k, _)| k == "attachmentType").map_or("OTHER", |(_, v)| v.as_str());
    let kind = match kind {
        "RESUME" => "resume",
        "COVER_LETTER" => "cover_letter",
        "OTHER" => "other",
        other => return Err(bad_request(&format!("Unknown attachmentType {other}"))),
    };
    let Some((_, mut file)) = form.files.into_iter().find(|(name, _)| name == "file") else {
        return Err(bad_request("file is required"));
    };
    file.kind = kind.to_string();
    let mut store = shared.store();
    store.people.person(&id).ok_or_else(|| not_found("Candidate"))?;
    let reply = attachment_json(store.people.person(&id).map_or(0, |p| p.files.len()), &file);
    if let Some(person) = store.people.person_mut(&id) {
        person.files.push(file.clone());
    }
    if let Some(record) = store.pushed.iter_mut().find(|p| p.candidate_id == id) {
        record.files.push(file);
        record.raw_bodies.push(body.to_vec());
    }
    Ok(json(StatusCode::CREATED, &reply))
}

/// An attachment as the API shows it; `index` is its place among the
/// candidate's files (the id is derived from it).
fn attachment_json(index: usize, file: &crate::recorder::PushedFile) -> Value {
    json!({
        "id": format!("{:024x}", index + 1), "name": file.file_name, "type": file.kind.to_uppercase(),
        "contentType": file.content_type,
    })
}

async fn list_attachments(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Resp {
    authorize(&shared, &headers)?;
    let store = shared.store();
    let person = store.people.person(&id).ok_or_else(|| not_found("Candidate"))?;
    let content: Vec<Value> = person.files.iter().enumerate().map(|(i, f)| attachment_json(i, f)).collect();
    Ok(ok(&json!({ "totalFound": content.len(), "content": content })))
}

async fn set_status(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((id, job_id)): Path<(String, String)>,
    body: Bytes,
) -> Resp {
    authorize(&shared, &headers)?;
    let v: Value = serde_json::from_slice(&body).map_err(|e| bad_request(&format!("Malformed JSON: {e}")))?;
    let status = str_field(&v, "status").ok_or_else(|| bad_request("status is required"))?;
    let stage = match str_field(&v, "subStatus") {
        Some(sub) => format!("{status}:{sub}"),
        None => status.to_string(),
    };
    let mut store = shared.store();
    let job = store.data.job(&job_id).ok_or_else(|| not_found("Job"))?;
    if !job_stages(job).iter().any(|s| s.id == stage) {
        return Err(bad_request(&format!("Status {stage} is not in the job's hiring process")));
    }
    let now = store.data.stamp();
    store
        .people
        .move_app(&application_id(&id, &job_id), &stage, now)
        .ok_or_else(|| not_found("Candidate's application"))?;
    let mut resp = Response::new(axum::body::Body::empty());
    *resp.status_mut() = StatusCode::NO_CONTENT;
    Ok(resp)
}
