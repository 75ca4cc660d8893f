//! Ashby interview plans, candidates, applications and resume uploads.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::fail;
use crate::Vendor;
use crate::data::{Job, uuid};
use crate::http::{header_str, is_multipart, multipart_form, str_field};
use crate::people::{AppRec, ApplicationStatus, Person};
use crate::recorder::{PushedCandidate, PushedFile};
use crate::server::UPLOAD_PREFIX;
use crate::state::{Shared, Store};
use crate::time_fmt::iso_millis;

const V: Vendor = Vendor::Ashby;
const PLANS: &[&str] = &["Engineering Interview Plan", "Standard Interview Plan"];
/// (title, type) of every plan's stages, in order.
const STAGES: &[(&str, &str)] = &[
    ("Lead", "Lead"),
    ("Application Review", "PreInterviewScreen"),
    ("Recruiter Screen", "Active"),
    ("Hiring Manager Interview", "Active"),
    ("Onsite", "Active"),
    ("Offer", "Offer"),
    ("Hired", "Hired"),
    ("Archived", "Archived"),
];

/// The `fileUploadContext` values Ashby documents.
const UPLOAD_CONTEXTS: &[&str] = &["CandidateResume", "CandidateFiles", "ApplicationForm"];

type R = Result<Value, Response>;

pub(crate) fn plan_id(seed: u64, plan: usize) -> String {
    uuid(seed, 40, plan as u64)
}

/// Engineering jobs use the engineering plan, everything else the standard one.
pub(crate) fn plan_of(job: &Job) -> usize {
    usize::from(job.department != 0)
}

fn stage_id(seed: u64, plan: usize, k: usize) -> String {
    uuid(seed, 41, (plan * 100 + k) as u64)
}

fn plan_stages(seed: u64, plan: usize) -> Vec<Value> {
    STAGES
        .iter()
        .enumerate()
        .map(|(k, (title, kind))| {
            json!({ "id": stage_id(seed, plan, k), "title": title, "type": kind, "orderInInterviewPlan": k,
                    "interviewStageGroupId": uuid(seed, 42, (plan * 100 + k) as u64), "interviewPlanId": plan_id(seed, plan) })
        })
        .collect()
}

/// The job's default plan's stages.
pub(crate) fn job_stages(seed: u64, job: &Job) -> Vec<crate::Stage> {
    let plan = plan_of(job);
    STAGES
        .iter()
        .enumerate()
        .map(|(k, (title, _))| crate::Stage { id: stage_id(seed, plan, k), name: title.to_string() })
        .collect()
}

fn results(v: Value) -> R {
    Ok(json!({ "success": true, "results": v }))
}

fn list(v: Vec<Value>) -> R {
    Ok(json!({ "success": true, "results": v, "moreDataAvailable": false }))
}

fn required<'a>(params: &'a Value, key: &str) -> Result<&'a str, Response> {
    str_field(params, key).ok_or_else(|| fail("invalid_input", &format!("{key} is required")))
}

pub(crate) fn plan_list(shared: &Shared, _: &Value, _: &Bytes) -> R {
    let seed = shared.config.seed;
    list(
        PLANS
            .iter()
            .enumerate()
            .map(|(i, t)| json!({ "id": plan_id(seed, i), "title": t, "isArchived": false }))
            .collect(),
    )
}

pub(crate) fn stage_list(shared: &Shared, params: &Value, _: &Bytes) -> R {
    let seed = shared.config.seed;
    let plan = required(params, "interviewPlanId")?;
    let idx = (0..PLANS.len())
        .find(|i| plan_id(seed, *i) == plan)
        .ok_or_else(|| fail("not_found", "Interview plan not found"))?;
    list(plan_stages(seed, idx))
}

fn candidate_json(shared: &Shared, store: &Store, p: &Person) -> Value {
    let emails: Vec<Value> = p
        .emails
        .iter()
        .enumerate()
        .map(|(i, e)| json!({ "value": e, "type": "Personal", "isPrimary": i == 0 }))
        .collect();
    let resume = p.files.iter().rev().find(|f| f.kind == "resume");
    json!({
        "id": p.id, "createdAt": iso_millis(p.created_at), "updatedAt": iso_millis(p.updated_at), "name": p.name(),
        "primaryEmailAddress": emails.first(), "emailAddresses": emails,
        "primaryPhoneNumber": p.extra.get("phoneNumber").map(|n| json!({ "value": n, "type": "Personal", "isPrimary": true })),
        "phoneNumbers": [], "socialLinks": [], "tags": [], "position": null, "company": null, "school": null,
        "applicationIds": store.people.apps_of(&p.id).map(|a| a.id.clone()).collect::<Vec<_>>(),
        "resumeFileHandle": resume.map(|f| json!({ "id": uuid(shared.config.seed, 43, f.bytes.len() as u64), "name": f.file_name, "handle": format!("h_{}", p.id) })),
        "fileHandles": [], "customFields": [], "profileUrl": format!("{}/candidates/{}", shared.base_url, p.id),
        "source": null, "creditedToUser": null, "location": p.extra.get("location"),
    })
}

pub(crate) fn candidate_search(shared: &Shared, params: &Value, _: &Bytes) -> R {
    let email = str_field(params, "email");
    let name = str_field(params, "name");
    if email.is_none() && name.is_none() {
        return Err(fail("invalid_input", "email or name is required"));
    }
    let store = shared.store();
    let found = store
        .people
        .persons
        .iter()
        .filter(|p| email.is_none_or(|e| p.has_email(e)) && name.is_none_or(|n| p.name().eq_ignore_ascii_case(n)))
        .take(100)
        .map(|p| candidate_json(shared, &store, p))
        .collect();
    list(found)
}

pub(crate) fn candidate_create(shared: &Shared, params: &Value, body: &Bytes) -> R {
    let name = required(params, "name")?;
    let mut emails: Vec<String> = str_field(params, "email").map(str::to_string).into_iter().collect();
    emails.extend(
        params
            .get("alternateEmailAddresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str().map(str::to_string)),
    );
    let (first, last) = crate::people::split_name(name);
    let mut store = shared.store();
    let now = store.data.stamp();
    let person = store.people.add_person(&first, &last, emails.clone(), now);
    for key in ["phoneNumber", "linkedInUrl", "githubUrl", "website", "sourceId", "creditedToUserId", "location"] {
        if let Some(v) = params.get(key) {
            person.extra.insert(key.to_string(), v.clone());
        }
    }
    let id = person.id.clone();
    store.pushed.push(PushedCandidate {
        vendor: V,
        endpoint: "POST /candidate.create".into(),
        candidate_id: id.clone(),
        application_id: None,
        job_id: None,
        first_name: None,
        last_name: None,
        name: name.to_string(),
        emails,
        stage_id: None,
        files: Vec::new(),
        existing_person: false,
        notes: Vec::new(),
        raw_bodies: vec![body.to_vec()],
    });
    let person = store.people.person(&id).expect("created");
    results(candidate_json(shared, &store, person))
}

pub(crate) fn candidate_info(shared: &Shared, params: &Value, _: &Bytes) -> R {
    let id = required(params, "id")?;
    let store = shared.store();
    let p = store.people.person(id).ok_or_else(|| fail("not_found", "Candidate not found"))?;
    results(candidate_json(shared, &store, p))
}

pub(crate) fn application_create(shared: &Shared, params: &Value, body: &Bytes) -> R {
    let seed = shared.config.seed;
    let candidate_id = required(params, "candidateId")?;
    let job_id = required(params, "jobId")?;
    let mut store = shared.store();
    let person = store.people.person(candidate_id).ok_or_else(|| fail("not_found", "Candidate not found"))?.clone();
    let job = store.data.job(job_id).ok_or_else(|| fail("not_found", "Job not found"))?.clone();
    let plan = plan_of(&job);
    if str_field(params, "interviewPlanId").is_some_and(|p| p != plan_id(seed, plan)) {
        return Err(fail("invalid_input", "interviewPlanId is not a plan of this job"));
    }
    let stage_idx = match str_field(params, "interviewStageId") {
        None => 0,
        Some("FirstPreInterviewScreen") => {
            STAGES.iter().position(|s| s.1 == "PreInterviewScreen").expect("in template")
        }
        Some(s) => (0..STAGES.len())
            .find(|k| stage_id(seed, plan, *k) == s)
            .ok_or_else(|| fail("invalid_input", "interviewStageId is not in the job's interview plan"))?,
    };
    if store.people.apps_of(candidate_id).any(|a| a.job_id == job_id) {
        return Err(fail("invalid_input", "The candidate already has an application for this job"));
    }
    let stage = stage_id(seed, plan, stage_idx);
    let now = store.data.stamp();
    let app_id = store.people.add_app(candidate_id, job_id, &stage, now).id.clone();
    // Fill the candidate.create record, or add one for an earlier candidate.
    let open = store.pushed.iter_mut().find(|r| r.candidate_id == candidate_id && r.job_id.is_none());
    match open {
        Some(rec) => {
            rec.job_id = Some(job_id.to_string());
            rec.application_id = Some(app_id.clone());
            rec.stage_id = Some(stage);
            rec.raw_bodies.push(body.to_vec());
        }
        None => store.pushed.push(PushedCandidate {
            vendor: V,
            endpoint: "POST /application.create".into(),
            candidate_id: candidate_id.to_string(),
            application_id: Some(app_id.clone()),
            job_id: Some(job_id.to_string()),
            first_name: None,
            last_name: None,
            name: person.name(),
            emails: person.emails.clone(),
            stage_id: Some(stage),
            files: person.files.clone(),
            existing_person: true,
            notes: Vec::new(),
            raw_bodies: vec![body.to_vec()],
        }),
    }
    let app = store.people.app(&app_id).expect("created");
    results(application_json(shared, &store, app))
}

pub(crate) fn application_info(shared: &Shared, params: &Value, _: &Bytes) -> R {
    let id = required(params, "applicationId")?;
    let store = shared.store();
    let app = store.people.app(id).ok_or_else(|| fail("not_found", "Application not found"))?;
    results(application_json(shared, &store, app))
}

/// `application.changeStage`: to a stage of the application's job's plan.
pub(crate) fn application_change_stage(shared: &Shared, params: &Value, _: &Bytes) -> R {
    let seed = shared.config.seed;
    let id = required(params, "applicationId")?;
    let stage = required(params, "interviewStageId")?;
    let mut store = shared.store();
    let app = store.people.app(id).ok_or_else(|| fail("not_found", "Application not found"))?;
    let job = store.data.job(&app.job_id).ok_or_else(|| fail("not_found", "Job not found"))?;
    let plan = plan_of(job);
    let k = (0..STAGES.len())
        .find(|&k| stage_id(seed, plan, k) == stage)
        .ok_or_else(|| fail("invalid_input", "interviewStageId is not in the application's interview plan"))?;
    let kind = STAGES[k].1;
    if kind == "Archived" && str_field(params, "archiveReasonId").is_none() {
        return Err(fail("invalid_input", "archiveReasonId is required to move to an Archived stage"));
    }
    let now = store.data.stamp();
    store.people.move_app(id, stage, now);
    if let Some(app) = store.people.app_mut(id) {
        app.status = match kind {
            "Archived" => ApplicationStatus::Rejected,
            "Hired" => ApplicationStatus::Hired,
            _ => ApplicationStatus::Active,
        };
        app.closed_at = (app.status != ApplicationStatus::Active).then_some(now);
    }
    let app = store.people.app(id).ok_or_else(|| fail("not_found", "Application not found"))?;
    results(application_json(shared, &store, app))
}

fn application_json(shared: &Shared, store: &Store, a: &AppRec) -> Value {
    let seed = shared.config.seed;
    let job = store.data.job(&a.job_id);
    let stage = job.map(|j| plan_stages(seed, plan_of(j))).into_iter().flatten().find(|s| s["id"] == json!(a.stage_id));
    let person = store.people.person(&a.candidate_id);
    let status = match a.status {
        ApplicationStatus::Active => "Active",
        ApplicationStatus::Rejected => "Archived",
        ApplicationStatus::Hired => "Hired",
    };
    let archived = a.status == ApplicationStatus::Rejected;
    json!({
        "id": a.id, "createdAt": iso_millis(a.created_at), "updatedAt": iso_millis(a.updated_at), "status": status,
        "customFields": [], "candidate": person.map(|p| json!({ "id": p.id, "name": p.name(),
            "primaryEmailAddress": p.emails.first().map(|e| json!({ "value": e, "type": "Personal", "isPrimary": true })) })),
        "currentInterviewStage": stage, "source": null,
        "archiveReason": archived.then(|| json!({ "id": uuid(seed, 44, 1), "text": "Not a fit", "reasonType": "RejectedByOrg", "isArchived": false })),
        "archivedAt": if archived { a.closed_at.map(iso_millis) } else { None },
        "job": job.map(|j| json!({ "id": j.id, "title": j.title, "locationId": store.data.offices[j.office].uuid, "departmentId": store.data.departments[j.department].uuid })),
        "creditedToUser": null, "hiringTeam": [], "appliedViaJobPostingId": null,
    })
}

/// `file.createFileUploadHandle`. Ashby documents `filename`,
/// `contentType`, `contentLength` and `fileUploadContext`; the older
/// `fileName` spelling is accepted too.
pub(crate) fn upload_handle(shared: &Shared, params: &Value, _: &Bytes) -> R {
    let file_name = str_field(params, "filename")
        .or_else(|| str_field(params, "fileName"))
        .ok_or_else(|| fail("invalid_input", "filename is required"))?
        .to_string();
    if params.get("contentLength").is_some_and(|n| n.as_u64().is_none()) {
        return Err(fail("invalid_input", "contentLength must be a non-negative integer"));
    }
    if let Some(context) = params.get("fileUploadContext")
        && !context.as_str().is_some_and(|c| UPLOAD_CONTEXTS.contains(&c))
    {
        return Err(fail("invalid_input", &format!("fileUploadContext must be one of {}", UPLOAD_CONTEXTS.join(", "))));
    }
    let mut store = shared.store();
    let handle = format!("fh_{:x}{:06x}", crate::data::mix(shared.config.seed) & 0xFFFF, store.next_serial());
    let file = PushedFile {
        kind: "resume".into(),
        file_name,
        content_type: str_field(params, "contentType").map(str::to_string),
        bytes: Vec::new(),
    };
    store.uploads.insert(handle.clone(), (file, false));
    results(json!({ "handle": handle, "url": format!("{}{UPLOAD_PREFIX}{handle}", shared.base_url), "fields": {} }))
}

/// The mock's "presigned URL": PUT raw bytes, or POST multipart with `file`.
pub(crate) async fn upload(
    State(shared): State<Arc<Shared>>,
    Path(handle): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let pending = shared.store().uploads.get(&handle).map(|(file, _)| file.clone());
    let Some(mut file) = pending else {
        return (
            StatusCode::FORBIDDEN,
            "<Error><Code>AccessDenied</Code><Message>Unknown upload handle</Message></Error>",
        )
            .into_response();
    };
    if is_multipart(&headers) {
        let Ok(form) = multipart_form(&headers, &body).await else {
            return (StatusCode::BAD_REQUEST, "<Error><Code>MalformedPOSTRequest</Code></Error>").into_response();
        };
        let Some((_, f)) = form.files.into_iter().find(|(k, _)| k == "file") else {
            return (StatusCode::BAD_REQUEST, "<Error><Code>MissingFile</Code></Error>").into_response();
        };
        file.bytes = f.bytes;
        file.content_type = f.content_type.or(file.content_type);
    } else {
        file.bytes = body.to_vec();
        file.content_type = header_str(&headers, "content-type").map(str::to_string).or(file.content_type);
    }
    shared.store().uploads.insert(handle, (file, true));
    StatusCode::OK.into_response()
}

pub(crate) fn upload_resume(shared: &Shared, params: &Value, body: &Bytes) -> R {
    let candidate_id = required(params, "candidateId")?;
    let handle = required(params, "resumeHandle")?;
    let file = super::take_upload(shared, handle)
        .ok_or_else(|| fail("invalid_input", "resumeHandle is unknown or nothing was uploaded to it"))?;
    attach_resume(shared, candidate_id, file, body)
}

/// Sets the candidate's resume and adds it to the candidate's push records.
pub(crate) fn attach_resume(shared: &Shared, candidate_id: &str, file: PushedFile, body: &Bytes) -> R {
    let mut store = shared.store();
    let now = store.data.stamp();
    let person = store.people.person_mut(candidate_id).ok_or_else(|| fail("not_found", "Candidate not found"))?;
    let file = PushedFile { kind: "resume".into(), ..file };
    person.files.push(file.clone());
    person.updated_at = now;
    for rec in store.pushed.iter_mut().filter(|r| r.candidate_id == candidate_id) {
        rec.files.push(file.clone());
        rec.raw_bodies.push(body.to_vec());
    }
    let person = store.people.person(candidate_id).expect("exists");
    results(candidate_json(shared, &store, person))
}
