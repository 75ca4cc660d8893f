//! BambooHR applicant tracking under `/api/gateway.php/acme/v1` (real:
//! `https://api.bamboohr.com/api/gateway.php/{companyDomain}/v1`; the mock's
//! company domain is `acme`, any other is a `404`). Basic auth with the API
//! key as the user name and any password (`x` by convention).
//!
//! - Every answer is JSON only when the request says `Accept: application/json`;
//!   otherwise BambooHR may answer XML, and the mock answers a small XML
//!   document, so a client that forgets the header fails to parse it.
//! - `GET /applicant_tracking/jobs?statusGroups=&sortBy=&sortOrder=` → a plain
//!   array, **no pagination**. `statusGroups` is a comma list of `ALL`,
//!   `DRAFT_AND_OPEN`, `Open`, `Filled`, `Draft`, `Deleted`, `On Hold`,
//!   `Canceled` (default: every job that is not deleted); anything else → `400`.
//!   Jobs have no change timestamp.
//! - `GET /applicant_tracking/statuses` → the company-wide applicant statuses
//!   `[{id, code, name, translatedName, description, enabled, manageable}]`.
//! - `POST /applicant_tracking/application` (`multipart/form-data`):
//!   `firstName*`, `lastName*`, `jobId*`, `email`, `phoneNumber`, `source`,
//!   `linkedinUrl`, `websiteUrl`, …, files `resume`, `coverLetter` →
//!   `200 {"candidateId","applicationId"}` (the body is **unconfirmed**). A
//!   second application with the same e-mail is accepted and counted in
//!   `duplicateApplicationCount` (**unconfirmed**), never rejected.
//! - `GET /applicant_tracking/applications?page=&jobId=&applicationStatusId=&applicationStatus=&searchString=`
//!   → `{"paginationComplete","nextPageUrl","applications":[…]}`, 50 a page
//!   (**unconfirmed**). `applicationStatus` defaults to `ALL_ACTIVE`
//!   (**unconfirmed**); `searchString` matches name or e-mail.
//! - `GET /applicant_tracking/applications/{id}` → the detail, `status{id,label,dateChanged,changedByUser}`.
//! - `POST /applicant_tracking/applications/{id}/status {"status": <statusId>}`.
//! - Errors carry no body; the message is in `X-BambooHR-Error-Message`
//!   (**unconfirmed**). Throttling (the configured limiter) is `503` with
//!   `Retry-After`; [`crate::Fault::RateLimit`] answers the rarer `429`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::Vendor;
use crate::data::{Dataset, Job, JobStatus};
use crate::envelope::bamboohr_error;
use crate::http::{Query, basic_auth, header_str, multipart_form, ok};
use crate::people::{AppRec, ApplicationStatus};
use crate::recorder::PushedCandidate;
use crate::state::{Shared, Store};
use crate::time_fmt::iso_seconds;

const V: Vendor = Vendor::BambooHr;
/// The API's path prefix for the mock's company, `acme`.
pub(crate) const PREFIX: &str = "/api/gateway.php/acme/v1";
/// The job listing.
pub(crate) const JOBS_PATH: &str = "/api/gateway.php/acme/v1/applicant_tracking/jobs";
/// Applications per page of `GET /applicant_tracking/applications`; BambooHR
/// takes no page size. `MockConfig::page_size_max` lowers it.
const APPLICATIONS_PAGE: usize = 50;

/// The company's applicant statuses: (id, code, name, enabled). Codes of
/// custom statuses are `null` in BambooHR; these are the built-ins
/// (**unconfirmed** codes and ids). "Deprecated" is disabled and not a stage.
const STATUSES: &[(u32, &str, &str, bool)] = &[
    (1, "NEW", "New", true),
    (2, "REVIEWED", "Reviewed", true),
    (3, "SCHEDULE_PHONE_SCREEN", "Schedule Phone Screen", true),
    (4, "PHONE_SCREENED", "Phone Screened", true),
    (5, "SCHEDULE_INTERVIEW", "Schedule Interview", true),
    (6, "INTERVIEWED", "Interviewed", true),
    (7, "PUT_ON_HOLD", "Put on Hold", true),
    (8, "CHECKING_REFERENCES", "Checking References", true),
    (9, "OFFER_SENT", "Offer Sent", true),
    (10, "HIRED", "Hired", true),
    (11, "NOT_A_FIT", "Not a Fit", true),
    (12, "DECLINED_OFFER", "Declined Offer", true),
    (13, "NOT_QUALIFIED", "Not Qualified", true),
    (14, "OVER_QUALIFIED", "Over Qualified", true),
    (15, "HIRED_ELSEWHERE", "Hired Elsewhere", true),
    (16, "DEPRECATED", "Deprecated", false),
];
/// Status ids that end an application (for `applicationStatus` filters).
const INACTIVE: &[u32] = &[10, 11, 12, 13, 14, 15];
/// Job statuses: (id, label) (**unconfirmed** ids).
const JOB_STATUSES: &[(u32, &str)] =
    &[(1, "Draft"), (2, "Open"), (3, "On Hold"), (4, "Filled"), (5, "Canceled"), (6, "Deleted")];

type Resp = Result<Response, Response>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    let at = |path: &str| format!("{PREFIX}/applicant_tracking{path}");
    Router::new()
        .route(&at("/jobs"), get(list_jobs))
        .route(&at("/statuses"), get(statuses))
        .route(&at("/application"), post(create_application))
        .route(&at("/applications"), get(list_applications))
        .route(&at("/applications/{id}"), get(get_application))
        .route(&at("/applications/{id}/status"), post(set_status))
}

/// The company's enabled statuses, in order: its (only) pipeline.
pub(crate) fn stages() -> Vec<crate::Stage> {
    STATUSES
        .iter()
        .filter(|s| s.3)
        .map(|(id, _, name, _)| crate::Stage { id: id.to_string(), name: name.to_string() })
        .collect()
}

fn error(status: StatusCode, message: &str) -> Response {
    bamboohr_error(status, message)
}

/// Checks Basic auth and `Accept`. The password is not checked (BambooHR
/// ignores it).
fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    match basic_auth(headers) {
        Some((user, _)) if shared.key_ok(&user) => {}
        _ => return Err(error(StatusCode::UNAUTHORIZED, "Invalid or missing API key")),
    }
    if !header_str(headers, "accept").is_some_and(|a| a.contains("application/json")) {
        let mut resp = Response::new(axum::body::Body::from(
            "<?xml version=\"1.0\"?>\n<response><message>Send Accept: application/json for JSON</message></response>\n",
        ));
        resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml"));
        return Err(resp);
    }
    Ok(())
}

fn job_status(job: &Job) -> (u32, &'static str) {
    let label = match job.status {
        JobStatus::Open => "Open",
        JobStatus::Closed => "Filled",
        JobStatus::Draft => "Draft",
        JobStatus::Archived => "Canceled",
    };
    JOB_STATUSES.iter().copied().find(|(_, l)| *l == label).unwrap_or((0, label))
}

/// Which statuses a `statusGroups` value admits; `Err` names an unknown group.
fn status_groups(raw: Option<&str>) -> Result<Vec<&'static str>, String> {
    let Some(raw) = raw.filter(|r| !r.trim().is_empty()) else {
        return Ok(JOB_STATUSES.iter().map(|s| s.1).filter(|l| *l != "Deleted").collect());
    };
    let mut out = Vec::new();
    for group in raw.split(',').map(str::trim) {
        match group {
            "ALL" => out.extend(JOB_STATUSES.iter().map(|s| s.1)),
            "DRAFT_AND_OPEN" => out.extend(["Draft", "Open"]),
            other => match JOB_STATUSES.iter().find(|s| s.1 == other) {
                Some(s) => out.push(s.1),
                None => return Err(format!("Invalid statusGroups value: {other}")),
            },
        }
    }
    Ok(out)
}

fn job_json(shared: &Shared, store: &Store, job: &Job) -> Value {
    let data: &Dataset = &store.data;
    let office = &data.offices[job.office];
    let dept = &data.departments[job.department];
    let lead = &data.users[job.hiring_manager];
    let (status_id, status_label) = job_status(job);
    let apps: Vec<&AppRec> = store.people.apps.iter().filter(|a| a.job_id == job.id).collect();
    let active = apps.iter().filter(|a| a.status == ApplicationStatus::Active).count();
    let new = apps.iter().filter(|a| a.status == ApplicationStatus::Active && a.stage_id == "1").count();
    json!({
        "id": job.seq, "title": { "id": null, "label": job.title },
        "postedDate": job.opened_at.map(iso_seconds),
        "location": { "id": office.id, "label": office.name, "address": {
            "city": office.name, "state": office.region, "country": office.country,
        }},
        "department": { "id": dept.id, "label": dept.name },
        "status": { "id": status_id, "label": status_label },
        "hiringLead": {
            "employeeId": lead.id, "firstName": lead.first_name, "lastName": lead.last_name,
            "avatar": format!("{}/images/photo_person_150x150.png", shared.base_url), "jobTitle": "Hiring Manager",
        },
        "newApplicantsCount": new, "activeApplicantsCount": active, "totalApplicantsCount": apps.len(),
        "postingUrl": format!("{}/careers/{}", shared.base_url, job.seq),
    })
}

async fn list_jobs(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    authorize(&shared, &headers)?;
    let q = Query::parse(raw.as_deref());
    let groups = status_groups(q.get("statusGroups")).map_err(|m| error(StatusCode::BAD_REQUEST, &m))?;
    let store = shared.store();
    let mut jobs: Vec<&Job> = store.data.jobs.iter().filter(|j| groups.contains(&job_status(j).1)).collect();
    if q.get("sortBy") == Some("title") {
        jobs.sort_by(|a, b| a.title.cmp(&b.title));
    }
    if q.get("sortOrder").is_some_and(|o| o.eq_ignore_ascii_case("DESC")) {
        jobs.reverse();
    }
    let body: Vec<Value> = jobs.iter().map(|j| job_json(&shared, &store, j)).collect();
    Ok(ok(&Value::Array(body)))
}

fn status_json(id: u32) -> Value {
    let (id, code, name, _) = STATUSES.iter().copied().find(|s| s.0 == id).unwrap_or((id, "", "", false));
    json!({ "id": id, "label": name, "code": code })
}

async fn statuses(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Resp {
    authorize(&shared, &headers)?;
    let body: Vec<Value> = STATUSES
        .iter()
        .map(|(id, code, name, enabled)| {
            json!({ "id": id, "code": code, "name": name, "translatedName": name, "description": "",
                    "enabled": enabled, "manageable": false })
        })
        .collect();
    Ok(ok(&Value::Array(body)))
}

/// The application's status id (its stage).
fn status_id(a: &AppRec) -> u32 {
    a.stage_id.parse().unwrap_or(1)
}

fn application_json(store: &Store, a: &AppRec, detail: bool) -> Value {
    let p = store.people.person(&a.candidate_id);
    let extra = |k: &str| p.and_then(|p| p.extra.get(k)).cloned().unwrap_or(Value::Null);
    let job = store.data.job(&a.job_id);
    let mut status = status_json(status_id(a));
    let mut v = json!({
        "id": a.id.parse::<u64>().unwrap_or_default(), "appliedDate": iso_seconds(a.created_at),
        "rating": null,
        "applicant": {
            "id": a.candidate_id.parse::<u64>().unwrap_or_default(), "firstName": p.map(|p| &p.first_name),
            "lastName": p.map(|p| &p.last_name), "avatar": null, "email": p.and_then(|p| p.emails.first()),
            "source": extra("source"),
        },
        "job": { "id": job.map(|j| j.seq), "title": { "id": null, "label": job.map(|j| &j.title) } },
    });
    if detail {
        status["dateChanged"] = json!(iso_seconds(a.updated_at));
        status["changedByUser"] = Value::Null;
        let email = p.and_then(|p| p.emails.first()).cloned().unwrap_or_default();
        let earlier = store
            .people
            .apps
            .iter()
            .take_while(|o| o.id != a.id)
            .filter(|o| store.people.person(&o.candidate_id).is_some_and(|p| p.has_email(&email)))
            .count();
        v["duplicateApplicationCount"] = json!(earlier);
        v["applicant"]["phoneNumber"] = extra("phoneNumber");
        v["resumeFileId"] = p.filter(|p| p.files.iter().any(|f| f.kind == "resume")).map_or(Value::Null, |_| json!(1));
    }
    v["status"] = status;
    v
}

async fn create_application(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Resp {
    authorize(&shared, &headers)?;
    let form = multipart_form(&headers, &body)
        .await
        .map_err(|m| error(StatusCode::BAD_REQUEST, &format!("Expected multipart/form-data: {m}")))?;
    let field = |k: &str| form.fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim()).filter(|v| !v.is_empty());
    let (Some(first), Some(last), Some(job_id)) = (field("firstName"), field("lastName"), field("jobId")) else {
        return Err(error(StatusCode::UNPROCESSABLE_ENTITY, "firstName, lastName and jobId are required"));
    };
    let email = field("email").map(str::to_string);
    let mut store = shared.store();
    let job = store.data.job(job_id).ok_or_else(|| error(StatusCode::NOT_FOUND, "Job opening not found"))?.clone();
    let now = store.data.stamp();
    let person = store.people.add_person(first, last, email.clone().into_iter().collect(), now);
    for key in ["phoneNumber", "source", "address", "city", "state", "zip", "country", "linkedinUrl", "websiteUrl"] {
        if let Some(value) = field(key) {
            person.extra.insert(key.to_string(), json!(value));
        }
    }
    let mut files = Vec::new();
    for (name, mut file) in form.files {
        file.kind = match name.as_str() {
            "resume" => "resume",
            "coverLetter" => "cover_letter",
            _ => continue,
        }
        .to_string();
        files.push(file);
    }
    person.files = files.clone();
    let candidate_id = person.id.clone();
    let app_id = store.people.add_app(&candidate_id, &job.id, "1", now).id.clone();
    store.pushed.push(PushedCandidate {
        vendor: V,
        endpoint: "POST /applicant_tracking/application".into(),
        candidate_id: candidate_id.clone(),
        application_id: Some(app_id.clone()),
        job_id: Some(job.id.clone()),
        first_name: Some(first.to_string()),
        last_name: Some(last.to_string()),
        name: format!("{first} {last}"),
        emails: email.into_iter().collect(),
        stage_id: Some("1".into()),
        files,
        existing_person: false,
        notes: Vec::new(),
        raw_bodies: vec![body.to_vec()],
    });
    let ids = |s: &str| s.parse::<u64>().unwrap_or_default();
    Ok(ok(&json!({ "candidateId": ids(&candidate_id), "applicationId": ids(&app_id) })))
}

/// Whether an application passes `applicationStatus` (default `ALL_ACTIVE`).
fn status_filter(filter: Option<&str>, a: &AppRec) -> Result<bool, String> {
    let id = status_id(a);
    let inactive = INACTIVE.contains(&id) || a.status != ApplicationStatus::Active;
    Ok(match filter.unwrap_or("ALL_ACTIVE") {
        "ALL" => true,
        "ALL_ACTIVE" | "ACTIVE" => !inactive,
        "NEW" => id == 1 && !inactive,
        "INACTIVE" => inactive,
        "HIRED" => id == 10 || a.status == ApplicationStatus::Hired,
        other => return Err(format!("Invalid applicationStatus: {other}")),
    })
}

async fn list_applications(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    authorize(&shared, &headers)?;
    let q = Query::parse(raw.as_deref());
    let bad = |m: String| error(StatusCode::BAD_REQUEST, &m);
    let page: usize = q.get("page").map_or(Ok(1), |p| p.parse().map_err(|_| bad(format!("Invalid page: {p}"))))?;
    if page == 0 {
        return Err(bad("page starts at 1".into()));
    }
    let per_page = shared.config.page_size_max.unwrap_or(APPLICATIONS_PAGE).clamp(1, APPLICATIONS_PAGE);
    let search = q.get("searchString").map(|s| s.trim().to_lowercase());
    let store = shared.store();
    let mut matching = Vec::new();
    for a in &store.people.apps {
        let p = store.people.person(&a.candidate_id);
        let job_seq = store.data.job(&a.job_id).map(|j| j.seq.to_string());
        let keep = status_filter(q.get("applicationStatus"), a).map_err(bad)?
            && q.get("jobId").is_none_or(|j| job_seq.as_deref() == Some(j))
            && q.get("applicationStatusId").is_none_or(|s| a.stage_id == s)
            && search.as_deref().is_none_or(|s| {
                p.is_some_and(|p| {
                    p.name().to_lowercase().contains(s) || p.emails.iter().any(|e| e.to_lowercase().contains(s))
                })
            });
        if keep {
            matching.push(a);
        }
    }
    let items: Vec<Value> = matching
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|a| application_json(&store, a, false))
        .collect();
    let complete = page * per_page >= matching.len();
    let next = (!complete).then(|| {
        let rest = q.encode_without(&["page"]);
        let sep = if rest.is_empty() { "" } else { "&" };
        format!("{}{PREFIX}/applicant_tracking/applications?{rest}{sep}page={}", shared.base_url, page + 1)
    });
    Ok(ok(&json!({ "paginationComplete": complete, "nextPageUrl": next, "applications": items })))
}

async fn get_application(State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Resp {
    authorize(&shared, &headers)?;
    let store = shared.store();
    let app = store.people.app(&id).ok_or_else(|| error(StatusCode::NOT_FOUND, "Application not found"))?;
    Ok(ok(&application_json(&store, app, true)))
}

async fn set_status(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Resp {
    authorize(&shared, &headers)?;
    let v: Value = serde_json::from_slice(&body)
        .map_err(|_| error(StatusCode::BAD_REQUEST, "Body must be JSON: {\"status\": id}"))?;
    let status = crate::http::id_field(&v, "status")
        .and_then(|s| s.parse::<u32>().ok())
        .filter(|s| STATUSES.iter().any(|(id, _, _, enabled)| id == s && *enabled))
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "Unknown or disabled status"))?;
    let mut store = shared.store();
    let now = store.data.stamp();
    let app = store.people.app_mut(&id).ok_or_else(|| error(StatusCode::NOT_FOUND, "Application not found"))?;
    app.stage_id = status.to_string();
    app.history.push((app.stage_id.clone(), now));
    app.updated_at = now;
    app.status = match status {
        10 => ApplicationStatus::Hired,
        s if INACTIVE.contains(&s) => ApplicationStatus::Rejected,
        _ => ApplicationStatus::Active,
    };
    let snapshot = app.clone();
    Ok(ok(&application_json(&store, &snapshot, true)))
}
