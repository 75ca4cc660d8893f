//! Greenhouse Harvest: v3 (OAuth bearer, cursor pages) and v1 (Basic key,
//! page numbers), with the v1 field names in both.
//!
//! - `POST /auth/token`: Basic `client_id:client_secret`, form
//!   `grant_type=client_credentials[&sub=<user id>]` →
//!   `{"access_token","token_type":"Bearer","expires_in"}`.
//! - `GET /v3/jobs`, `/v3/job_posts`, `/v3/candidates`: the first call takes
//!   filters + `per_page` (1–500, default 100); more pages are announced by
//!   `Link: <…?cursor=X>; rel="next"`, and a call with `cursor` must have no
//!   other parameter (else 422). Filters use operators: `updated_at=gte|<iso>`
//!   (also `gt|lt|lte|eq`, repeatable), `created_at=…`, `status=`, `ids=1,2`.
//! - `/v1/...`: Basic `key:`; `page`/`per_page` with `Link` next/prev/last
//!   (`skip_count=true` drops `last`); `updated_after`/`updated_before`,
//!   `created_after`/`created_before` filters.
//! - `GET /v3/job_stages` (also v1): every job's stages, paginated like
//!   the other lists; filters `job_id`, `created_at`/`updated_at` (a stage's
//!   timestamps are its job's creation time).
//! - Job descriptions live on job posts (one per job): `GET /v3/job_posts?job_id=`,
//!   `GET /v1/jobs/{id}/job_posts`, `content` is the HTML.
//! - Candidates and applications: see `greenhouse/candidates.rs`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::Vendor;
use crate::data::{Dataset, EmploymentType, JOB_ID_BASE, Job, JobStatus};
use crate::envelope::error;
use crate::http::{PageRule, Query, basic_auth, bearer, json, ok};
use crate::people::Stage;
use crate::server::TOKEN_PATH;
use crate::state::{IssuedToken, Shared};
use crate::time_fmt::iso_seconds;

mod candidates;
mod paging;

pub(crate) use paging::{TimeFilter, v1_page, v3_link, v3_request, v3_slice, with_link};

const V: Vendor = Vendor::Greenhouse;
const PAGE: PageRule = PageRule { default: 100, max: 500 };
/// Job post ids: this base plus the job's creation number.
const JOB_POST_ID_BASE: u64 = 7_000_000;
/// The stage template every job's pipeline is made from.
const STAGES: &[&str] =
    &["Application Review", "Preliminary Phone Screen", "Phone Interview", "Face to Face", "Reference Check", "Offer"];

/// Which Harvest version a route belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    V1,
    V3,
}

impl Api {
    fn prefix(self) -> &'static str {
        match self {
            Api::V1 => "/v1",
            Api::V3 => "/v3",
        }
    }
}

type Resp = Result<Response, Response>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    let mut router = Router::new().route(TOKEN_PATH, post(token));
    for api in [Api::V1, Api::V3] {
        let p = api.prefix();
        router = router
            .route(
                &format!("{p}/jobs"),
                get(move |s: State<Arc<Shared>>, h: HeaderMap, q: RawQuery| list_jobs(api, s, h, q)),
            )
            .route(
                &format!("{p}/jobs/{{id}}"),
                get(move |s: State<Arc<Shared>>, h: HeaderMap, id: Path<String>| get_job(api, s, h, id)),
            )
            .route(
                &format!("{p}/jobs/{{id}}/stages"),
                get(move |s: State<Arc<Shared>>, h: HeaderMap, id: Path<String>| stages_handler(api, s, h, id)),
            )
            .route(
                &format!("{p}/jobs/{{id}}/job_posts"),
                get(move |s: State<Arc<Shared>>, h: HeaderMap, id: Path<String>| job_posts_of(api, s, h, id)),
            )
            .route(
                &format!("{p}/job_posts"),
                get(move |s: State<Arc<Shared>>, h: HeaderMap, q: RawQuery| list_job_posts(api, s, h, q)),
            )
            .route(
                &format!("{p}/job_stages"),
                get(move |s: State<Arc<Shared>>, h: HeaderMap, q: RawQuery| list_job_stages(api, s, h, q)),
            );
        router = candidates::routes(router, api);
    }
    router
}

/// The acting user a write may name: the token's `sub` (v3) — the
/// `On-Behalf-Of` header is checked by the write handlers.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub(crate) sub: Option<String>,
}

pub(crate) fn authorize(shared: &Shared, headers: &HeaderMap, api: Api) -> Result<Caller, Response> {
    let unauthorized = || error(V, StatusCode::UNAUTHORIZED, "Unauthorized: missing or invalid credentials");
    match api {
        Api::V1 => match basic_auth(headers) {
            Some((key, _)) if shared.key_ok(&key) => Ok(Caller { sub: None }),
            _ => Err(unauthorized()),
        },
        Api::V3 => {
            let token = bearer(headers).ok_or_else(unauthorized)?;
            let store = shared.store();
            match store.tokens.get(&token) {
                Some(t) if t.expires > std::time::Instant::now() => Ok(Caller { sub: t.sub.clone() }),
                Some(_) => Err(error(V, StatusCode::UNAUTHORIZED, "Unauthorized: access token expired")),
                None => Err(unauthorized()),
            }
        }
    }
}

/// OAuth 2.0 client-credentials grant (auth.greenhouse.io/token in reality).
async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let form = Query(url::form_urlencoded::parse(&body).into_owned().collect());
    let oauth_error = |status, code: &str| json(status, &json!({ "error": code }));
    let (id, secret) = basic_auth(&headers)
        .or_else(|| Some((form.get("client_id")?.to_string(), form.get("client_secret")?.to_string())))
        .unwrap_or_default();
    // One lock for the check and the issue: a rotation in between would
    // otherwise see a token granted for the secret it just retired.
    let mut store = shared.store();
    if Some(&id) != shared.credentials.client_id.as_ref() || Some(&secret) != store.client_secret.as_ref() {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if form.get("grant_type") != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let sub = form.get("sub").map(str::to_string);
    if let Some(sub) = &sub
        && !store.data.users.iter().any(|u| u.id.to_string() == *sub)
    {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let ttl = shared.config.token_ttl;
    let token = format!("ghat_{:016x}{:08x}", crate::data::mix(shared.config.seed ^ 0x70CE), store.next_serial());
    store.tokens.insert(token.clone(), IssuedToken { expires: std::time::Instant::now() + ttl, sub });
    ok(&json!({ "access_token": token, "token_type": "Bearer", "expires_in": ttl.as_secs() }))
}

fn status_str(s: JobStatus) -> &'static str {
    match s {
        JobStatus::Open => "open",
        JobStatus::Closed | JobStatus::Archived => "closed",
        JobStatus::Draft => "draft",
    }
}

/// All job filters of `GET /jobs`.
fn job_filter(api: Api, q: &Query) -> Result<impl Fn(&Job) -> bool + use<>, Response> {
    let times = TimeFilter::parse(api, q)?;
    let status = q.get("status").map(str::to_string);
    let req = q.get("requisition_id").map(str::to_string);
    let dept = q.get("department_id").map(str::to_string);
    let office = q.get("office_id").map(str::to_string);
    let ids: Option<Vec<String>> = q.get("ids").map(|s| s.split(',').map(|x| x.trim().to_string()).collect());
    Ok(move |job: &Job| {
        times.matches(job.created_at, job.updated_at)
            && status.as_deref().is_none_or(|s| s == status_str(job.status))
            && req.as_deref().is_none_or(|r| job.requisition_id.as_deref() == Some(r))
            && dept
                .as_deref()
                .is_none_or(|d| d == (crate::data::DEPARTMENT_ID_BASE + job.department as u64).to_string())
            && office.as_deref().is_none_or(|o| o == (crate::data::OFFICE_ID_BASE + job.office as u64).to_string())
            && ids.as_ref().is_none_or(|ids| ids.contains(&job.id))
    })
}

async fn list_jobs(api: Api, State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    authorize(&shared, &headers, api)?;
    let q = Query::parse(raw.as_deref());
    let path = format!("{}/jobs", api.prefix());
    list_rendered(&shared, api, &path, &q, job_json)
}

/// Lists jobs (or job posts, via `render`) with the version's pagination.
fn list_rendered(shared: &Shared, api: Api, path: &str, q: &Query, render: fn(&Dataset, &Job) -> Value) -> Resp {
    let store = shared.store();
    match api {
        Api::V3 => {
            let (query, per_page, after) = v3_request(shared, q)?;
            let filter = job_filter(api, &query)?;
            let job_id = query.get("job_id").map(str::to_string);
            // `job_ids=1,2,3`: the posts of several jobs in one listing (the
            // v3 name of this filter is unconfirmed; see README).
            let job_ids: Option<std::collections::HashSet<&str>> =
                query.get("job_ids").map(|ids| ids.split(',').map(str::trim).collect());
            let (page, more) = store.data.page_after(after, per_page, |j| {
                filter(j)
                    && job_id.as_deref().is_none_or(|id| id == j.id)
                    && job_ids.as_ref().is_none_or(|ids| ids.contains(j.id.as_str()))
            });
            let body: Vec<Value> = page.iter().map(|j| render(&store.data, j)).collect();
            let mut resp = ok(&Value::Array(body));
            v3_link(&mut resp, shared, path, &query, per_page, more.then(|| page.last().map_or(after, |j| j.seq)));
            Ok(resp)
        }
        Api::V1 => {
            let filter = job_filter(api, q)?;
            let all: Vec<&Job> = store.data.jobs.iter().filter(|j| filter(j)).collect();
            let (page, link) = v1_page(shared, path, q, all)?;
            let body: Vec<Value> = page.iter().map(|j| render(&store.data, j)).collect();
            Ok(with_link(ok(&Value::Array(body)), link))
        }
    }
}

async fn get_job(api: Api, State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Resp {
    authorize(&shared, &headers, api)?;
    let store = shared.store();
    let job = store.data.job(&id).ok_or_else(not_found)?;
    Ok(ok(&job_json(&store.data, job)))
}

async fn stages_handler(
    api: Api,
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Resp {
    authorize(&shared, &headers, api)?;
    let store = shared.store();
    let job = store.data.job(&id).ok_or_else(not_found)?;
    let stages: Vec<Value> =
        job_stages(job).into_iter().enumerate().map(|(priority, s)| stage_json(job, priority, &s)).collect();
    Ok(ok(&Value::Array(stages)))
}

/// A Harvest job stage object.
fn stage_json(job: &Job, priority: usize, s: &Stage) -> Value {
    let id = stage_num(s);
    json!({
        "id": id, "name": s.name, "job_id": job_num(job),
        "priority": priority, "active": true,
        "created_at": iso_seconds(job.created_at), "updated_at": iso_seconds(job.created_at),
        "interviews": [{ "id": id * 10, "name": s.name, "schedulable": priority > 0, "estimated_minutes": 30, "default_interviewer_users": [], "interview_kit": null }],
    })
}

fn stage_num(s: &Stage) -> u64 {
    s.id.parse::<u64>().unwrap_or_default()
}

/// `GET /job_stages`: every job's stages in listing order. The v3 cursor
/// continues after the last stage id served (ids grow with the job's
/// creation number and the position, so they follow listing order).
async fn list_job_stages(
    api: Api,
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    authorize(&shared, &headers, api)?;
    let q = Query::parse(raw.as_deref());
    let path = format!("{}/job_stages", api.prefix());
    let (query, per_page, after) = match api {
        Api::V3 => v3_request(&shared, &q)?,
        Api::V1 => (q.clone(), 0, 0),
    };
    let times = TimeFilter::parse(api, &query)?;
    let job_id = query.get("job_id").map(str::to_string);
    let store = shared.store();
    let rows = store
        .data
        .jobs
        .iter()
        .filter(|j| job_id.as_deref().is_none_or(|id| id == j.id))
        .filter(|j| times.matches(j.created_at, j.created_at))
        .flat_map(|job| {
            job_stages(job)
                .into_iter()
                .enumerate()
                .map(move |(priority, s)| (stage_num(&s), stage_json(job, priority, &s)))
        });
    match api {
        Api::V3 => {
            let (page, next) = v3_slice(rows, after, per_page);
            let mut resp = ok(&Value::Array(page));
            v3_link(&mut resp, &shared, &path, &query, per_page, next);
            Ok(resp)
        }
        Api::V1 => {
            let all: Vec<Value> = rows.map(|(_, v)| v).collect();
            let (page, link) = v1_page(&shared, &path, &q, all)?;
            Ok(with_link(ok(&Value::Array(page)), link))
        }
    }
}

async fn job_posts_of(api: Api, State(shared): State<Arc<Shared>>, headers: HeaderMap, Path(id): Path<String>) -> Resp {
    authorize(&shared, &headers, api)?;
    let store = shared.store();
    let job = store.data.job(&id).ok_or_else(not_found)?;
    Ok(ok(&json!([job_post_json(&store.data, job)])))
}

async fn list_job_posts(
    api: Api,
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Resp {
    authorize(&shared, &headers, api)?;
    let q = Query::parse(raw.as_deref());
    let path = format!("{}/job_posts", api.prefix());
    list_rendered(&shared, api, &path, &q, job_post_json)
}

pub(crate) fn not_found() -> Response {
    error(V, StatusCode::NOT_FOUND, "Resource not found")
}

fn job_num(job: &Job) -> u64 {
    JOB_ID_BASE + job.seq
}

/// The job's pipeline: stage ids are `job id * 10 + position`.
pub(crate) fn job_stages(job: &Job) -> Vec<Stage> {
    if let Some(stages) = &job.stages {
        return stages.clone();
    }
    STAGES
        .iter()
        .enumerate()
        .map(|(i, name)| Stage { id: (job_num(job) * 10 + i as u64).to_string(), name: name.to_string() })
        .collect()
}

fn user_json(data: &Dataset, idx: usize, responsible: Option<bool>) -> Value {
    let u = &data.users[idx];
    let mut v = json!({ "id": u.id, "first_name": u.first_name, "last_name": u.last_name, "name": u.name(), "employee_id": null });
    if let Some(r) = responsible {
        v["responsible"] = json!(r);
    }
    v
}

fn employment_label(t: EmploymentType) -> &'static str {
    match t {
        EmploymentType::FullTime => "Full-time",
        EmploymentType::PartTime => "Part-time",
        EmploymentType::Contract => "Contract",
        EmploymentType::Intern => "Intern",
        EmploymentType::Temporary => "Temporary",
    }
}

/// A Harvest job object (v1 field names).
fn job_json(data: &Dataset, job: &Job) -> Value {
    let dept = &data.departments[job.department];
    let office = &data.offices[job.office];
    let ts = |t: Option<i64>| t.map(iso_seconds);
    let openings: Vec<Value> = (0..job.openings)
        .map(|k| {
            let open = job.status == JobStatus::Open;
            json!({ "id": job_num(job) * 10 + k as u64, "opening_id": format!("{}-{}", job.seq, k + 1),
                    "status": if open { "open" } else { "closed" }, "opened_at": ts(job.opened_at),
                    "closed_at": if open { None } else { ts(job.closed_at) }, "application_id": null, "close_reason": null })
        })
        .collect();
    let employment = employment_label(job.employment_type);
    json!({
        "id": job_num(job), "name": job.title, "requisition_id": job.requisition_id,
        "notes": "<p>Internal notes: budget approved.</p>", "confidential": job.confidential,
        "status": status_str(job.status), "created_at": iso_seconds(job.created_at),
        "opened_at": ts(job.opened_at), "closed_at": ts(job.closed_at), "updated_at": iso_seconds(job.updated_at),
        "is_template": false, "copied_from_id": null,
        "departments": [{ "id": dept.id, "name": dept.name, "parent_id": null, "child_ids": [], "external_id": null }],
        "offices": [{ "id": office.id, "name": office.name, "location": { "name": office.location() },
                      "primary_contact_user_id": null, "parent_id": null, "child_ids": [], "external_id": null }],
        "hiring_team": {
            "hiring_managers": [user_json(data, job.hiring_manager, None)],
            "recruiters": [user_json(data, job.recruiter, Some(true))],
            "coordinators": [], "sourcers": [],
        },
        "openings": openings,
        "custom_fields": { "employment_type": employment },
        "keyed_custom_fields": { "employment_type": { "name": "Employment Type", "type": "single_select", "value": employment } },
    })
}

/// The job's (single) job post, carrying the HTML description in `content`.
fn job_post_json(data: &Dataset, job: &Job) -> Value {
    let live = job.status == JobStatus::Open && !job.confidential;
    json!({
        "id": JOB_POST_ID_BASE + job.seq, "title": job.title,
        "location": { "name": data.offices[job.office].location() },
        "internal": false, "external": true, "active": job.status == JobStatus::Open, "live": live,
        "first_published_at": job.opened_at.map(iso_seconds), "job_id": job_num(job),
        "content": data.description_html(job), "internal_content": null, "questions": [],
        "created_at": iso_seconds(job.created_at), "updated_at": iso_seconds(job.updated_at),
    })
}
