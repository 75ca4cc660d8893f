//! Ashby's RPC API: `POST /<resource>.<method>` with a JSON body, HTTP Basic
//! with the API key as user name (missing → 401, wrong → 403).
//!
//! Success is `{"success":true,"results":…}`; would-be 4xx errors are HTTP
//! 200 `{"success":false,"errors":[code],"errorInfo":{code,message,requestId}}`.
//!
//! - `job.list {limit ≤100, cursor, syncToken, status[], createdAfter, expand[]}`
//!   → `{results, moreDataAvailable, nextCursor?, syncToken?}`. Drafts only when
//!   `status` asks for them. The last page of every sync returns a
//!   `syncToken`; a later call with it returns only jobs changed since
//!   (removed jobs are not reported). Unknown / expired tokens →
//!   `sync_token_expired`; more than `max_incremental_changes` changes →
//!   `incremental_sync_too_large`. `job.info {id}`.
//! - Descriptions: `jobPosting.list` (no cursor, one posting per non-draft
//!   job) then `jobPosting.info {jobPostingId}` → `descriptionHtml`, `descriptionPlain`.
//! - `interviewPlan.list`, `interviewStage.list {interviewPlanId}`.
//! - `candidate.search {email|name}`, `candidate.create {name*, email, …}`,
//!   `candidate.info {id}`, `application.create {candidateId*, jobId*,
//!   interviewStageId?}` (default: the plan's first Lead stage;
//!   `"FirstPreInterviewScreen"` allowed), `application.info {applicationId}`,
//!   `application.changeStage {applicationId*, interviewStageId*, archiveReasonId}`
//!   (a stage of the job's plan; `archiveReasonId` required for the
//!   `Archived` stage) → the application.
//! - Resumes: `file.createFileUploadHandle {filename (or fileName),
//!   contentType, contentLength?, fileUploadContext?}` →
//!   `{handle, url, fields}`; PUT the bytes to `url` (a mock endpoint, no
//!   auth; POST multipart with a `file` field also works); then
//!   `candidate.uploadResume {candidateId, resumeHandle}`. The deprecated
//!   multipart `candidate.uploadResume` (`candidateId`, file `resume`) is accepted too.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{post, put};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::data::{Job, JobStatus, mix, uuid};
use crate::envelope::ashby_error;
use crate::http::{PageRule, basic_auth, decode_cursor, encode_cursor, is_multipart, multipart_form, ok};
use crate::recorder::PushedFile;
use crate::server::UPLOAD_PREFIX;
use crate::state::Shared;

mod people;

pub(crate) use people::job_stages;

const PAGE: PageRule = PageRule { default: 100, max: 100 };

type Resp = Result<Response, Response>;
/// An RPC method: the parsed body in, the whole success body out.
type Method = fn(&Shared, &Value, &Bytes) -> Result<Value, Response>;

pub(crate) fn routes() -> Router<Arc<Shared>> {
    let methods: &[(&str, Method)] = &[
        ("job.list", job_list),
        ("job.info", job_info),
        ("jobPosting.list", posting_list),
        ("jobPosting.info", posting_info),
        ("interviewPlan.list", people::plan_list),
        ("interviewStage.list", people::stage_list),
        ("candidate.search", people::candidate_search),
        ("candidate.create", people::candidate_create),
        ("candidate.info", people::candidate_info),
        ("application.create", people::application_create),
        ("application.info", people::application_info),
        ("application.changeStage", people::application_change_stage),
        ("file.createFileUploadHandle", people::upload_handle),
    ];
    let mut router = Router::new()
        .route("/candidate.uploadResume", post(upload_resume))
        .route(&format!("{UPLOAD_PREFIX}{{handle}}"), put(people::upload).post(people::upload));
    for (name, method) in methods {
        let method = *method;
        router = router.route(
            &format!("/{name}"),
            post(move |s: State<Arc<Shared>>, h: HeaderMap, b: Bytes| async move { rpc(&s, &h, &b, method) }),
        );
    }
    router
}

/// An Ashby failure (HTTP 200 unless auth / throttling / server error).
pub(crate) fn fail(code: &str, message: &str) -> Response {
    ashby_error(StatusCode::OK, code, message)
}

fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    match basic_auth(headers) {
        None => Err(ashby_error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Missing API key: use HTTP Basic auth with the key as user name",
        )),
        Some((key, _)) if shared.key_ok(&key) => Ok(()),
        Some(_) => Err(ashby_error(StatusCode::FORBIDDEN, "invalid_api_key", "The API key is invalid or deactivated")),
    }
}

fn rpc(shared: &Shared, headers: &HeaderMap, body: &Bytes, method: Method) -> Resp {
    authorize(shared, headers)?;
    let params: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| fail("invalid_input", &format!("Request body is not valid JSON: {e}")))?
    };
    if !params.is_object() {
        return Err(fail("invalid_input", "Request body must be a JSON object"));
    }
    Ok(ok(&method(shared, &params, body)?))
}

async fn upload_resume(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Resp {
    if !is_multipart(&headers) {
        return rpc(&shared, &headers, &body, people::upload_resume);
    }
    authorize(&shared, &headers)?;
    let form = multipart_form(&headers, &body).await.map_err(|m| fail("invalid_input", &m))?;
    let candidate_id = form.fields.iter().find(|(k, _)| k == "candidateId").map(|(_, v)| v.clone());
    let file = form.files.into_iter().find(|(k, _)| k == "resume").map(|(_, f)| f);
    let (Some(candidate_id), Some(file)) = (candidate_id, file) else {
        return Err(fail("invalid_input", "candidateId and a resume file are required"));
    };
    Ok(ok(&people::attach_resume(&shared, &candidate_id, file, &body)?))
}

/// `limit` from the body.
pub(crate) fn limit(shared: &Shared, params: &Value) -> Result<usize, Response> {
    let raw = params.get("limit").map(|v| v.to_string());
    crate::http::page_size(PAGE, &shared.config, raw.as_deref()).map_err(|m| fail("invalid_input", &m))
}

fn status_str(s: JobStatus) -> &'static str {
    match s {
        JobStatus::Open => "Open",
        JobStatus::Closed => "Closed",
        JobStatus::Draft => "Draft",
        JobStatus::Archived => "Archived",
    }
}

/// Where a `job.list` run continues: after `after`, and for an incremental
/// run only jobs changed after version `since`.
#[derive(Serialize, Deserialize)]
struct Cursor {
    after: u64,
    since: Option<u64>,
}

fn job_list(shared: &Shared, params: &Value, _: &Bytes) -> Result<Value, Response> {
    let limit = limit(shared, params)?;
    let statuses: Vec<String> = match params.get("status") {
        None | Some(Value::Null) => ["Open", "Closed", "Archived"].map(String::from).to_vec(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
        Some(_) => {
            return Err(fail("invalid_input", "status must be a string or an array of strings"));
        }
    };
    let created_after = params.get("createdAfter").and_then(Value::as_i64);
    let expand: Vec<&str> =
        params.get("expand").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let mut store = shared.store();
    let cursor = match params.get("cursor").and_then(Value::as_str) {
        Some(c) => decode_cursor::<Cursor>(c).ok_or_else(|| fail("invalid_input", "Invalid cursor"))?,
        None => match params.get("syncToken").and_then(Value::as_str) {
            None => Cursor { after: 0, since: None },
            Some(token) => {
                let since = *store.sync_tokens.get(token).ok_or_else(|| {
                    fail("sync_token_expired", "The sync token is unknown or expired; run a full sync without it")
                })?;
                let changed = store.data.jobs.iter().filter(|j| j.version > since).count();
                if changed > shared.config.max_incremental_changes {
                    return Err(fail(
                        "incremental_sync_too_large",
                        "Too many changes since this sync token; run a full sync",
                    ));
                }
                Cursor { after: 0, since: Some(since) }
            }
        },
    };
    let keep = |j: &Job| {
        statuses.iter().any(|s| s == status_str(j.status))
            && created_after.is_none_or(|t| j.created_at >= t)
            && cursor.since.is_none_or(|v| j.version > v)
    };
    let (page, more) = store.data.page_after(cursor.after, limit, keep);
    let results: Vec<Value> = page.iter().map(|j| job_json(shared, &store.data, j, &expand)).collect();
    let next_after = page.last().map_or(cursor.after, |j| j.seq);
    let mut body = json!({ "success": true, "results": results, "moreDataAvailable": more });
    if more {
        body["nextCursor"] = json!(encode_cursor(&Cursor { after: next_after, since: cursor.since }));
    } else {
        let token = format!("st_{:x}{:06x}", mix(shared.config.seed) & 0xFFFF_FFFF, store.next_serial());
        let version = store.data.version;
        store.sync_tokens.insert(token.clone(), version);
        body["syncToken"] = json!(token);
    }
    Ok(body)
}

fn job_info(shared: &Shared, params: &Value, _: &Bytes) -> Result<Value, Response> {
    let id = params.get("id").and_then(Value::as_str).ok_or_else(|| fail("invalid_input", "id is required"))?;
    let store = shared.store();
    let job = store.data.job(id).ok_or_else(|| fail("not_found", "Job not found"))?;
    let expand: Vec<&str> =
        params.get("expand").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    Ok(json!({ "success": true, "results": job_json(shared, &store.data, job, &expand) }))
}

fn job_json(shared: &Shared, data: &crate::data::Dataset, job: &Job, expand: &[&str]) -> Value {
    let seed = shared.config.seed;
    let office = &data.offices[job.office];
    let dept = &data.departments[job.department];
    let plan = people::plan_id(seed, people::plan_of(job));
    let user = |i: usize, role: &str| {
        let u = &data.users[i];
        json!({ "userId": u.uuid, "firstName": u.first_name, "lastName": u.last_name, "email": u.email, "role": role })
    };
    let ms = |t: Option<i64>| t.map(crate::time_fmt::iso_millis);
    let mut v = json!({
        "id": job.id, "title": job.title, "confidential": job.confidential, "status": status_str(job.status),
        "employmentType": format!("{:?}", job.employment_type), "locationId": office.uuid, "departmentId": dept.uuid,
        "defaultInterviewPlanId": plan, "interviewPlanIds": [plan], "customFields": [],
        "jobPostingIds": if job.status == JobStatus::Draft { json!([]) } else { json!([posting_id(seed, job.seq)]) },
        "customRequisitionId": job.requisition_id,
        "hiringTeam": [user(job.recruiter, "Recruiter"), user(job.hiring_manager, "Hiring Manager")],
        "author": { "id": data.users[job.recruiter].uuid, "firstName": data.users[job.recruiter].first_name,
                    "lastName": data.users[job.recruiter].last_name, "email": data.users[job.recruiter].email },
        "createdAt": ms(Some(job.created_at)), "updatedAt": ms(Some(job.updated_at)),
        "openedAt": ms(job.opened_at), "closedAt": ms(job.closed_at),
    });
    if expand.contains(&"location") {
        v["location"] = json!({ "id": office.uuid, "name": office.name, "externalName": office.location(), "isArchived": false,
            "address": { "postalAddress": { "addressLocality": office.name, "addressRegion": office.region, "addressCountry": office.country } },
            "workplaceType": format!("{:?}", job.workplace) });
    }
    if expand.contains(&"openings") {
        let state = if job.status == JobStatus::Open { "Open" } else { "Closed" };
        v["openings"] = (0..job.openings)
            .map(|k| {
                json!({ "id": uuid(seed, 12, job.seq * 16 + k as u64), "openingState": state, "isArchived": false,
                             "openedAt": ms(job.opened_at), "closedAt": ms(job.closed_at), "jobIds": [job.id] })
            })
            .collect();
    }
    v
}

/// Posting ids are UUID-shaped with the job's creation number in the last
/// group, so `jobPosting.info` finds the job without a table.
fn posting_id(seed: u64, seq: u64) -> String {
    let u = uuid(seed, 11, seq);
    format!("{}-{seq:012x}", &u[..23])
}

fn posting_json(shared: &Shared, data: &crate::data::Dataset, job: &Job) -> Value {
    let office = &data.offices[job.office];
    let id = posting_id(shared.config.seed, job.seq);
    json!({
        "id": id, "title": job.title, "jobId": job.id, "departmentName": data.departments[job.department].name,
        "teamName": data.departments[job.department].name, "locationName": office.name,
        "locationIds": { "primaryLocationId": office.uuid, "secondaryLocationIds": [] },
        "workplaceType": format!("{:?}", job.workplace), "employmentType": format!("{:?}", job.employment_type),
        "isListed": job.status == JobStatus::Open && !job.confidential,
        "publishedDate": job.opened_at.map(crate::time_fmt::iso_millis),
        "applyLink": format!("{}/jobs/{id}/application", shared.base_url), "externalLink": null,
        "updatedAt": crate::time_fmt::iso_millis(job.updated_at),
    })
}

fn posting_list(shared: &Shared, params: &Value, _: &Bytes) -> Result<Value, Response> {
    let listed_only = params.get("listedOnly").and_then(Value::as_bool).unwrap_or(false);
    let store = shared.store();
    let results: Vec<Value> = store
        .data
        .jobs
        .iter()
        .filter(|j| j.status != JobStatus::Draft)
        .map(|j| posting_json(shared, &store.data, j))
        .filter(|p| !listed_only || p["isListed"] == json!(true))
        .collect();
    Ok(json!({ "success": true, "results": results, "moreDataAvailable": false }))
}

fn posting_info(shared: &Shared, params: &Value, _: &Bytes) -> Result<Value, Response> {
    let id = params
        .get("jobPostingId")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("invalid_input", "jobPostingId is required"))?;
    let store = shared.store();
    let job = id
        .rsplit('-')
        .next()
        .and_then(|seq| u64::from_str_radix(seq, 16).ok())
        .and_then(|seq| {
            store.data.jobs.iter().find(|j| j.seq == seq).filter(|j| posting_id(shared.config.seed, j.seq) == id)
        })
        .filter(|j| j.status != JobStatus::Draft)
        .ok_or_else(|| fail("not_found", "Job posting not found"))?;
    let html = store.data.description_html(job);
    let mut v = posting_json(shared, &store.data, job);
    v["descriptionHtml"] = json!(html);
    v["descriptionPlain"] = json!(
        html.replace("</li>", "\n")
            .replace("</p>", "\n\n")
            .split('<')
            .map(|s| s.split_once('>').map_or(s, |x| x.1))
            .collect::<String>()
    );
    v["applicationFormDefinition"] = json!({ "sections": [] });
    v["compensation"] = json!({ "compensationTierSummary": null, "compensationTiers": [] });
    Ok(json!({ "success": true, "results": v }))
}

/// The uploaded file behind a handle, if the upload happened.
pub(crate) fn take_upload(shared: &Shared, handle: &str) -> Option<PushedFile> {
    shared.store().uploads.get(handle).filter(|(_, uploaded)| *uploaded).map(|(file, _)| file.clone())
}
