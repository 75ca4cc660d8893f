//! Greenhouse candidates and applications (v1 and v3 share the shapes).
//!
//! - `POST /candidates`: `first_name`*, `last_name`*, `applications`* (≥1,
//!   `{job_id*, initial_stage_id?, attachments?}`), `email_addresses[{value,type}]`,
//!   `attachments[{filename, type resume|cover_letter|admin_only, content (base64) + content_type | url}]`.
//!   Writes need an acting user: `On-Behalf-Of` (v1: required; v3: the
//!   header or the token's `sub` — which one v3 requires is a guess).
//!   No dedupe, as documented: look up `GET /candidates?email=` first.
//! - `POST /candidates/{id}/applications` (v1 and v3) and `POST /v3/applications`
//!   (`{candidate_id*, job_id*, initial_stage_id?, attachments?}`, the v3
//!   name): another application for a known person.
//! - `GET /candidates[?email=&job_id=&updated_after=|updated_at=op|ts]`, `GET /candidates/{id}`.
//! - `GET /applications/{id}`: `status active|rejected|hired`, `current_stage{id,name}`.
//! - `POST /applications/{id}/move` + `On-Behalf-Of`: `{from_stage_id*, to_stage_id*}`
//!   (ids of the application's job); `from_stage_id` must be the current
//!   stage and the application active, else 422; unknown application 404.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use super::{
    Api, Caller, Resp, TimeFilter, V, authorize, job_stages, not_found, v1_page, v3_link, v3_request, v3_slice,
    with_link,
};
use crate::envelope::{error, greenhouse_validation};
use crate::http::{Query, decode_base64, header_str, id_field, json, ok, str_field};
use crate::people::{AppRec, ApplicationStatus, Person};
use crate::recorder::{PushedCandidate, PushedFile};
use crate::state::{Shared, Store};
use crate::time_fmt::iso_seconds;

const CANDIDATE_FILE_TYPES: &[&str] = &["resume", "cover_letter", "admin_only"];
const APPLICATION_FILE_TYPES: &[&str] =
    &["resume", "cover_letter", "other", "take_home_test", "offer_letter", "signed_offer_letter"];

pub(super) fn routes(router: Router<Arc<Shared>>, api: Api) -> Router<Arc<Shared>> {
    let p = api_prefix(api);
    let router = match api {
        // v3 names the candidate in the body instead of the path.
        Api::V3 => router.route(
            "/v3/applications",
            post(move |s: State<Arc<Shared>>, h: HeaderMap, b: axum::body::Bytes| {
                create(api, s, h, b, Target::KnownByBody)
            }),
        ),
        Api::V1 => router,
    };
    router
        .route(
            &format!("{p}/candidates"),
            post(move |s: State<Arc<Shared>>, h: HeaderMap, b: axum::body::Bytes| create(api, s, h, b, Target::New))
                .get(move |s: State<Arc<Shared>>, h: HeaderMap, q: RawQuery| list(api, s, h, q)),
        )
        .route(
            &format!("{p}/candidates/{{id}}"),
            get(move |s: State<Arc<Shared>>, h: HeaderMap, id: Path<String>| get_candidate(api, s, h, id)),
        )
        .route(
            &format!("{p}/candidates/{{id}}/applications"),
            post(move |s: State<Arc<Shared>>, h: HeaderMap, Path(id): Path<String>, b: axum::body::Bytes| {
                create(api, s, h, b, Target::KnownByPath(id))
            }),
        )
        .route(
            &format!("{p}/applications/{{id}}"),
            get(move |s: State<Arc<Shared>>, h: HeaderMap, id: Path<String>| get_application(api, s, h, id)),
        )
        .route(
            &format!("{p}/applications/{{id}}/move"),
            post(move |s: State<Arc<Shared>>, h: HeaderMap, id: Path<String>, b: axum::body::Bytes| {
                move_application(api, s, h, id, b)
            }),
        )
}

/// `POST /applications/{id}/move`: from the current stage to another of the
/// application's job.
async fn move_application(
    api: Api,
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Resp {
    let caller = authorize(&shared, &headers, api)?;
    let mut store = shared.store();
    acting_user(&store, &headers, &caller, api)?;
    let v: Value =
        serde_json::from_slice(&body).map_err(|e| error(V, StatusCode::BAD_REQUEST, &format!("Invalid JSON: {e}")))?;
    let app = store.people.app(&id).ok_or_else(not_found)?.clone();
    let from = id_field(&v, "from_stage_id")
        .ok_or_else(|| greenhouse_validation(Some("from_stage_id"), "from_stage_id is required"))?;
    let to = id_field(&v, "to_stage_id")
        .ok_or_else(|| greenhouse_validation(Some("to_stage_id"), "to_stage_id is required"))?;
    if app.status != ApplicationStatus::Active {
        return Err(greenhouse_validation(None, "Only active applications can be moved"));
    }
    if from != app.stage_id {
        return Err(greenhouse_validation(
            Some("from_stage_id"),
            "from_stage_id is not the application's current stage",
        ));
    }
    let job = store.data.job(&app.job_id).ok_or_else(not_found)?;
    if !job_stages(job).iter().any(|s| s.id == to) {
        return Err(greenhouse_validation(Some("to_stage_id"), "to_stage_id is not a stage of the application's job"));
    }
    let now = store.data.stamp();
    store.people.move_app(&id, &to, now);
    let app = store.people.app(&id).ok_or_else(not_found)?;
    Ok(ok(&application_json(&store, app)))
}

/// The acting user of a write: `On-Behalf-Of`, or (v3) the token's `sub`.
fn acting_user(
    store: &Store,
    headers: &HeaderMap,
    caller: &Caller,
    api: Api,
) -> Result<String, axum::response::Response> {
    let user = header_str(headers, "on-behalf-of").map(str::to_string).or(match api {
        Api::V3 => caller.sub.clone(),
        Api::V1 => None,
    });
    let user = user.ok_or_else(|| error(V, StatusCode::FORBIDDEN, "Missing required header: On-Behalf-Of"))?;
    if !store.data.users.iter().any(|u| u.id.to_string() == user) {
        return Err(error(V, StatusCode::FORBIDDEN, "On-Behalf-Of does not name a valid user"));
    }
    Ok(user)
}

fn files(list: Option<&Value>, allowed: &[&str], field: &str) -> Result<Vec<PushedFile>, axum::response::Response> {
    let mut out = Vec::new();
    for a in list.and_then(Value::as_array).into_iter().flatten() {
        let invalid = |what: &str| {
            greenhouse_validation(Some(&format!("{field}.{what}")), &format!("{what} is invalid or missing"))
        };
        let file_name = str_field(a, "filename").ok_or_else(|| invalid("filename"))?;
        let kind = str_field(a, "type").filter(|t| allowed.contains(t)).ok_or_else(|| invalid("type"))?;
        let content_type = str_field(a, "content_type").map(str::to_string);
        let bytes = match (str_field(a, "content"), str_field(a, "url")) {
            (Some(content), _) => {
                if content_type.is_none() {
                    return Err(invalid("content_type"));
                }
                decode_base64(content).ok_or_else(|| invalid("content"))?
            }
            // The mock cannot fetch URLs; the file is recorded without bytes.
            (None, Some(_)) => Vec::new(),
            (None, None) => return Err(invalid("content")),
        };
        out.push(PushedFile { kind: kind.to_string(), file_name: file_name.to_string(), content_type, bytes });
    }
    Ok(out)
}

struct NewApp {
    job_id: String,
    stage_id: String,
    files: Vec<PushedFile>,
}

fn parse_app(store: &Store, a: &Value) -> Result<NewApp, axum::response::Response> {
    let job_id = id_field(a, "job_id").ok_or_else(|| greenhouse_validation(Some("job_id"), "job_id is required"))?;
    let job = store.data.job(&job_id).ok_or_else(|| greenhouse_validation(Some("job_id"), "Job not found"))?;
    let stages = job_stages(job);
    let stage_id = match id_field(a, "initial_stage_id") {
        None => stages[0].id.clone(),
        Some(s) if stages.iter().any(|st| st.id == s) => s,
        Some(_) => {
            return Err(greenhouse_validation(Some("initial_stage_id"), "Stage does not belong to this job"));
        }
    };
    let files = files(a.get("attachments"), APPLICATION_FILE_TYPES, "attachments")?;
    Ok(NewApp { job_id, stage_id, files })
}

/// Who a create is for.
enum Target {
    /// `POST /candidates`: a new person with their applications.
    New,
    /// `POST /candidates/{id}/applications`: a known person, named in the path.
    KnownByPath(String),
    /// `POST /v3/applications`: a known person, named by `candidate_id` in the body.
    KnownByBody,
}

// --- held creates (`MockAts::hold_creates`) ---
/// `POST /candidates`, `POST /candidates/{id}/applications` or `POST /v3/applications`.
///
/// With a hold set, the create runs in a task of its own that waits the
/// hold first: the connection's end drops this handler, not the task, so
/// the candidate is created even if the client gave up or died meanwhile.
async fn create(
    api: Api,
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
    target: Target,
) -> Resp {
    let hold = *crate::state::lock(&shared.create_hold);
    if hold.is_zero() {
        return create_now(api, &shared, &headers, &body, target);
    }
    let task = tokio::spawn(async move {
        tokio::time::sleep(hold).await;
        create_now(api, &shared, &headers, &body, target)
    });
    task.await.unwrap_or_else(|_| Err(error(V, StatusCode::INTERNAL_SERVER_ERROR, "the held create failed")))
}
// --- end held creates ---

/// The create itself, at once.
fn create_now(api: Api, shared: &Shared, headers: &HeaderMap, body: &[u8], target: Target) -> Resp {
    let caller = authorize(shared, headers, api)?;
    let mut store = shared.store();
    acting_user(&store, headers, &caller, api)?;
    let v: Value =
        serde_json::from_slice(body).map_err(|e| error(V, StatusCode::BAD_REQUEST, &format!("Invalid JSON: {e}")))?;
    let (endpoint, existing) = match target {
        Target::New => (format!("POST {}/candidates", api_prefix(api)), None),
        Target::KnownByPath(id) => {
            store.people.person(&id).ok_or_else(not_found)?;
            let endpoint = format!("POST {}/candidates/{{id}}/applications", api_prefix(api));
            (endpoint, Some(id))
        }
        Target::KnownByBody => {
            let id = id_field(&v, "candidate_id")
                .ok_or_else(|| greenhouse_validation(Some("candidate_id"), "candidate_id is required"))?;
            // An unknown person is a validation error here (a guess), not
            // the 404 of the path form.
            if store.people.person(&id).is_none() {
                return Err(greenhouse_validation(Some("candidate_id"), "Candidate not found"));
            }
            (format!("POST {}/applications", api_prefix(api)), Some(id))
        }
    };
    let now = store.data.stamp();
    let (person_id, new_apps, candidate_files) = match &existing {
        Some(id) => (id.clone(), vec![parse_app(&store, &v)?], Vec::new()),
        None => {
            let first = str_field(&v, "first_name")
                .ok_or_else(|| greenhouse_validation(Some("first_name"), "first_name is required"))?;
            let last = str_field(&v, "last_name")
                .ok_or_else(|| greenhouse_validation(Some("last_name"), "last_name is required"))?;
            let apps = v.get("applications").and_then(Value::as_array).filter(|a| !a.is_empty());
            let apps = apps
                .ok_or_else(|| greenhouse_validation(Some("applications"), "at least one application is required"))?;
            let new_apps = apps.iter().map(|a| parse_app(&store, a)).collect::<Result<Vec<_>, _>>()?;
            let candidate_files = files(v.get("attachments"), CANDIDATE_FILE_TYPES, "attachments")?;
            let emails = v["email_addresses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| str_field(e, "value").map(str::to_string))
                .collect();
            let person = store.people.add_person(first, last, emails, now);
            for key in [
                "email_addresses",
                "phone_numbers",
                "addresses",
                "website_addresses",
                "social_media_addresses",
                "tags",
                "company",
                "title",
            ] {
                if let Some(val) = v.get(key) {
                    person.extra.insert(key.to_string(), val.clone());
                }
            }
            person.files = candidate_files.clone();
            (person.id.clone(), new_apps, candidate_files)
        }
    };
    let mut app_ids = Vec::new();
    for app in new_apps {
        let rec = store.people.add_app(&person_id, &app.job_id, &app.stage_id, now);
        app_ids.push(rec.id.clone());
        let person = store.people.person(&person_id).expect("created above").clone();
        store.pushed.push(PushedCandidate {
            vendor: V,
            endpoint: endpoint.clone(),
            candidate_id: person_id.clone(),
            application_id: app_ids.last().cloned(),
            job_id: Some(app.job_id),
            first_name: Some(person.first_name.clone()),
            last_name: Some(person.last_name.clone()),
            name: person.name(),
            emails: person.emails.clone(),
            stage_id: Some(app.stage_id),
            files: candidate_files.iter().cloned().chain(app.files).collect(),
            existing_person: existing.is_some(),
            notes: Vec::new(),
            raw_bodies: vec![body.to_vec()],
        });
    }
    let body = match existing {
        None => candidate_json(&store, store.people.person(&person_id).expect("created")),
        Some(_) => application_json(&store, store.people.app(&app_ids[0]).expect("created")),
    };
    Ok(json(StatusCode::CREATED, &body))
}

fn api_prefix(api: Api) -> &'static str {
    match api {
        Api::V1 => "/v1",
        Api::V3 => "/v3",
    }
}

async fn list(api: Api, State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    authorize(&shared, &headers, api)?;
    let q = Query::parse(raw.as_deref());
    let path = format!("{}/candidates", api_prefix(api));
    let store = shared.store();
    let (query, per_page, after) = match api {
        Api::V3 => v3_request(&shared, &q)?,
        Api::V1 => (q.clone(), 0, 0),
    };
    let times = TimeFilter::parse(api, &query)?;
    let email = query.get("email").map(str::to_string);
    let job_id = query.get("job_id").map(str::to_string);
    let ids: Option<Vec<String>> =
        query.get("candidate_ids").map(|s| s.split(',').map(|x| x.trim().to_string()).collect());
    let keep = |p: &Person| {
        times.matches(p.created_at, p.updated_at)
            && email.as_deref().is_none_or(|e| p.has_email(e))
            && job_id.as_deref().is_none_or(|j| store.people.apps_of(&p.id).any(|a| a.job_id == j))
            && ids.as_ref().is_none_or(|ids| ids.contains(&p.id))
    };
    let matching = store.people.persons.iter().enumerate().filter(|(_, p)| keep(p));
    match api {
        Api::V3 => {
            // Positions count from 1, so a cursor `after` 0 starts at the first.
            let rows = matching.map(|(i, p)| (i as u64 + 1, p));
            let (page, next) = v3_slice(rows, after, per_page);
            let body: Vec<Value> = page.iter().map(|p| candidate_json(&store, p)).collect();
            let mut resp = ok(&Value::Array(body));
            v3_link(&mut resp, &shared, &path, &query, per_page, next);
            Ok(resp)
        }
        Api::V1 => {
            let all: Vec<&Person> = matching.map(|(_, p)| p).collect();
            let (page, link) = v1_page(&shared, &path, &q, all)?;
            Ok(with_link(ok(&Value::Array(page.iter().map(|p| candidate_json(&store, p)).collect())), link))
        }
    }
}

async fn get_candidate(
    api: Api,
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Resp {
    authorize(&shared, &headers, api)?;
    let store = shared.store();
    let person = store.people.person(&id).ok_or_else(not_found)?;
    Ok(ok(&candidate_json(&store, person)))
}

async fn get_application(
    api: Api,
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Resp {
    authorize(&shared, &headers, api)?;
    let store = shared.store();
    let app = store.people.app(&id).ok_or_else(not_found)?;
    Ok(ok(&application_json(&store, app)))
}

fn file_json(f: &PushedFile, at: i64) -> Value {
    json!({ "filename": f.file_name, "url": format!("https://mock-ats.invalid/files/{}", f.file_name), "type": f.kind, "created_at": iso_seconds(at) })
}

fn candidate_json(store: &Store, p: &Person) -> Value {
    let apps: Vec<&AppRec> = store.people.apps_of(&p.id).collect();
    let mut v = json!({
        "id": p.id.parse::<u64>().unwrap_or_default(), "first_name": p.first_name, "last_name": p.last_name,
        "company": null, "title": null, "created_at": iso_seconds(p.created_at), "updated_at": iso_seconds(p.updated_at),
        "last_activity": iso_seconds(p.updated_at), "is_private": false, "photo_url": null, "can_email": true,
        "attachments": p.files.iter().map(|f| file_json(f, p.created_at)).collect::<Vec<_>>(),
        "application_ids": apps.iter().map(|a| a.id.parse::<u64>().unwrap_or_default()).collect::<Vec<_>>(),
        "phone_numbers": [], "addresses": [], "website_addresses": [], "social_media_addresses": [], "tags": [],
        "email_addresses": p.emails.iter().map(|e| json!({ "value": e, "type": "personal" })).collect::<Vec<_>>(),
        "recruiter": null, "coordinator": null,
        "applications": apps.iter().map(|a| application_json(store, a)).collect::<Vec<_>>(),
    });
    let obj: &mut Map<String, Value> = v.as_object_mut().expect("object");
    for (k, val) in &p.extra {
        obj.insert(k.clone(), val.clone());
    }
    v
}

fn application_json(store: &Store, a: &AppRec) -> Value {
    let job = store.data.job(&a.job_id);
    let stage_name = job.and_then(|j| job_stages(j).into_iter().find(|s| s.id == a.stage_id)).map(|s| s.name);
    let status = match a.status {
        ApplicationStatus::Active => "active",
        ApplicationStatus::Rejected => "rejected",
        ApplicationStatus::Hired => "hired",
    };
    let num = |s: &str| s.parse::<u64>().unwrap_or_default();
    json!({
        "id": num(&a.id), "candidate_id": num(&a.candidate_id), "prospect": false,
        "applied_at": iso_seconds(a.created_at), "last_activity_at": iso_seconds(a.updated_at),
        "rejected_at": (a.status == ApplicationStatus::Rejected).then(|| a.closed_at.map(iso_seconds)).flatten(),
        "location": null, "source": null, "credited_to": null, "rejection_reason": null, "rejection_details": null,
        "jobs": [{ "id": num(&a.job_id), "name": job.map(|j| j.title.clone()) }],
        "job_post_id": job.map(|j| super::JOB_POST_ID_BASE + j.seq),
        "status": status,
        "current_stage": { "id": num(&a.stage_id), "name": stage_name },
        "answers": [], "prospective_office": null, "prospective_department": null, "prospect_detail": null,
        "custom_fields": {}, "keyed_custom_fields": {}, "attachments": [],
    })
}
