//! Lever opportunities: create (JSON or multipart, e-mail dedupe), list,
//! get, and notes on them.

use std::sync::{Arc, MutexGuard};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{Resp, V, archive_reason_id, authorize, bad_request, list_body, paging, stages};
use crate::data::uuid;
use crate::envelope::error;
use crate::http::{Query, is_multipart, json, multipart_form, ok};
use crate::people::{AppRec, ApplicationStatus, Person, split_name};
use crate::recorder::{PushedCandidate, PushedFile};
use crate::state::{Shared, Store};

/// An opportunity as received, JSON or multipart alike.
#[derive(Default)]
struct NewOpportunity {
    fields: serde_json::Map<String, Value>,
    files: Vec<PushedFile>,
}

impl NewOpportunity {
    fn strings(&self, key: &str) -> Vec<String> {
        match self.fields.get(key) {
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }
}

async fn parse_multipart(headers: &HeaderMap, body: &Bytes) -> Result<NewOpportunity, Response> {
    let form = multipart_form(headers, body).await.map_err(|m| bad_request(&m))?;
    let mut out = NewOpportunity::default();
    for (name, value) in form.fields {
        let name = name.trim_end_matches("[]").to_string();
        let value = Value::String(value);
        match out.fields.get_mut(&name) {
            Some(Value::Array(a)) => a.push(value),
            Some(prev) => *prev = json!([prev.clone(), value]),
            None => {
                out.fields.insert(name, value);
            }
        }
    }
    for (name, mut file) in form.files {
        file.kind = if name == "resumeFile" { "resume" } else { "file" }.to_string();
        out.files.push(file);
    }
    Ok(out)
}

pub(super) async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Resp {
    authorize(&shared, &headers)?;
    let q = Query::parse(raw.as_deref());
    let perform_as =
        q.get("perform_as").ok_or_else(|| bad_request("perform_as query parameter is required"))?.to_string();
    let new = if is_multipart(&headers) {
        parse_multipart(&headers, &body).await?
    } else {
        let v: Value = serde_json::from_slice(&body).map_err(|e| bad_request(&format!("Invalid JSON body: {e}")))?;
        let fields = v.as_object().cloned().ok_or_else(|| bad_request("Body must be a JSON object"))?;
        NewOpportunity { fields, files: Vec::new() }
    };
    let mut store = shared.store();
    if !store.data.users.iter().any(|u| u.uuid == perform_as) {
        return Err(bad_request("perform_as must be the id of an active user"));
    }
    let postings = new.strings("postings");
    if postings.len() > 1 {
        return Err(bad_request("An opportunity can be applied to at most one posting"));
    }
    if let Some(p) = postings.first()
        && store.data.job(p).is_none()
    {
        return Err(bad_request(&format!("Posting {p} not found")));
    }
    let stage = new.fields.get("stage").and_then(Value::as_str).unwrap_or("lead-new").to_string();
    if !stages(shared.config.seed).iter().any(|s| s.id == stage) {
        return Err(bad_request(&format!("Stage {stage} not found")));
    }
    let emails = new.strings("emails");
    let name = new.fields.get("name").and_then(Value::as_str).unwrap_or("").to_string();
    let now = store.data.stamp();
    // Dedupe: an e-mail match links to the existing contact (its data wins).
    let existing = store.people.persons.iter().find(|p| emails.iter().any(|e| p.has_email(e))).map(|p| p.id.clone());
    let forced = new.fields.get("contact").and_then(Value::as_str).filter(|c| store.people.person(c).is_some());
    let contact_id = match forced.map(str::to_string).or(existing) {
        Some(id) => id,
        None => {
            let (first, last) = split_name(&name);
            let person = store.people.add_person(&first, &last, emails.clone(), now);
            for key in ["headline", "location", "phones", "links", "tags", "sources", "origin", "owner"] {
                if let Some(v) = new.fields.get(key) {
                    person.extra.insert(key.to_string(), v.clone());
                }
            }
            person.files = new.files.clone();
            person.id.clone()
        }
    };
    let linked = store.people.person(&contact_id).is_some_and(|p| p.created_at != now);
    let opp_id = store.people.next_id(crate::people::IdKind::Application);
    let job_id = postings.first().cloned().unwrap_or_default();
    store.people.add_app_with_id(opp_id.clone(), &contact_id, &job_id, &stage, now);
    let (first, last) = split_name(&name);
    store.pushed.push(PushedCandidate {
        vendor: V,
        endpoint: "POST /v1/opportunities".into(),
        candidate_id: opp_id.clone(),
        application_id: Some(opp_id.clone()),
        job_id: postings.first().cloned(),
        first_name: Some(first),
        last_name: Some(last),
        name,
        emails,
        stage_id: Some(stage),
        files: new.files,
        existing_person: linked,
        notes: Vec::new(),
        raw_bodies: vec![body.to_vec()],
    });
    let app = store.people.app(&opp_id).expect("created");
    Ok(json(StatusCode::CREATED, &json!({ "data": opportunity_json(&shared, &store, app, &[]) })))
}

/// What every write to an existing opportunity starts with: the caller
/// authorized, the JSON body parsed, the store locked, and `perform_as`,
/// when given, naming an active user (optional on these endpoints: Lever
/// then acts as the key's owner).
fn begin_write<'a>(
    shared: &'a Shared,
    headers: &HeaderMap,
    raw_query: Option<&str>,
    body: &[u8],
) -> Result<(Value, MutexGuard<'a, Store>), Response> {
    authorize(shared, headers)?;
    let q = Query::parse(raw_query);
    let v: Value = serde_json::from_slice(body).map_err(|e| bad_request(&format!("Invalid JSON body: {e}")))?;
    let store = shared.store();
    if let Some(user) = q.get("perform_as")
        && !store.data.users.iter().any(|u| u.uuid == user)
    {
        return Err(bad_request("perform_as must be the id of an active user"));
    }
    Ok((v, store))
}

/// `POST /opportunities/{id}/notes`. `perform_as` is optional here (Lever
/// then attributes the note to the key's owner) but must name a user when
/// given. The note text is added to the opportunity's push record.
pub(super) async fn add_note(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Resp {
    let (v, mut store) = begin_write(&shared, &headers, raw.as_deref(), &body)?;
    if store.people.app(&id).is_none() {
        return Err(error(V, StatusCode::NOT_FOUND, "Opportunity not found"));
    }
    let value = v
        .get("value")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| bad_request("value is required and must be a non-empty string"))?
        .to_string();
    for (key, ok_type) in [
        ("secret", Value::is_boolean as fn(&Value) -> bool),
        ("notifyFollowers", Value::is_boolean),
        ("score", Value::is_number),
    ] {
        if v.get(key).is_some_and(|x| !ok_type(x)) {
            return Err(bad_request(&format!("{key} has the wrong type")));
        }
    }
    let note_id = uuid(shared.config.seed, 33, store.next_serial());
    let now = store.data.stamp();
    if let Some(app) = store.people.app_mut(&id) {
        app.updated_at = now;
    }
    for rec in store.pushed.iter_mut().filter(|r| r.candidate_id == id) {
        rec.notes.push(value.clone());
        rec.raw_bodies.push(body.to_vec());
    }
    Ok(json(StatusCode::CREATED, &json!({ "data": { "noteId": note_id } })))
}

/// `PUT /opportunities/{id}/stage?perform_as=`: `{"stage": "<id>"}`.
pub(super) async fn change_stage(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Resp {
    let (v, mut store) = begin_write(&shared, &headers, raw.as_deref(), &body)?;
    let app = store.people.app(&id).ok_or_else(|| error(V, StatusCode::NOT_FOUND, "Opportunity not found"))?;
    if app.status != ApplicationStatus::Active {
        return Err(bad_request("Archived opportunities cannot change stage"));
    }
    let stage = v
        .get("stage")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_request("stage is required and must be a string"))?
        .to_string();
    if !stages(shared.config.seed).iter().any(|s| s.id == stage) {
        return Err(bad_request(&format!("Stage {stage} does not exist")));
    }
    let now = store.data.stamp();
    store.people.move_app(&id, &stage, now);
    let app = store.people.app(&id).ok_or_else(|| error(V, StatusCode::NOT_FOUND, "Opportunity not found"))?;
    Ok(ok(&json!({ "data": opportunity_json(&shared, &store, app, &[]) })))
}

pub(super) async fn list(State(shared): State<Arc<Shared>>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Resp {
    authorize(&shared, &headers)?;
    let q = Query::parse(raw.as_deref());
    let (limit, after) = paging(&shared, &q)?;
    let expand: Vec<&str> = q.all("expand").collect();
    let store = shared.store();
    let keep = |a: &AppRec| {
        let person = store.people.person(&a.candidate_id);
        q.all("email").all(|e| person.is_some_and(|p| p.has_email(e)))
            && q.get("posting_id").is_none_or(|p| a.job_id == p)
            && q.get("stage_id").is_none_or(|s| a.stage_id == s)
            && q.get("contact_id").is_none_or(|c| a.candidate_id == c)
            && q.get("archived").is_none_or(|x| (x == "true") == (a.status != ApplicationStatus::Active))
    };
    let mut page: Vec<(usize, &AppRec)> =
        store.people.apps.iter().enumerate().skip(after as usize).filter(|(_, a)| keep(a)).take(limit + 1).collect();
    let more = page.len() > limit;
    page.truncate(limit);
    let data = page.iter().map(|(_, a)| opportunity_json(&shared, &store, a, &expand)).collect();
    Ok(list_body(data, more.then(|| page.last().map_or(after, |(i, _)| *i as u64 + 1))))
}

pub(super) async fn get(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Resp {
    authorize(&shared, &headers)?;
    let q = Query::parse(raw.as_deref());
    let expand: Vec<&str> = q.all("expand").collect();
    let store = shared.store();
    let app = store.people.app(&id).ok_or_else(|| error(V, StatusCode::NOT_FOUND, "Opportunity not found"))?;
    Ok(ok(&json!({ "data": opportunity_json(&shared, &store, app, &expand) })))
}

fn opportunity_json(shared: &Shared, store: &Store, a: &AppRec, expand: &[&str]) -> Value {
    let seed = shared.config.seed;
    let all_stages = stages(seed);
    let person: Option<&Person> = store.people.person(&a.candidate_id);
    let extra = |k: &str| person.and_then(|p| p.extra.get(k)).cloned().unwrap_or(json!([]));
    let index = store.people.apps.iter().position(|x| x.id == a.id).unwrap_or_default();
    let application_id = uuid(seed, 32, index as u64);
    let archived = match a.status {
        ApplicationStatus::Active => Value::Null,
        status => {
            json!({ "reason": archive_reason_id(seed, if status == ApplicationStatus::Hired { 0 } else { 1 }), "archivedAt": a.closed_at })
        }
    };
    let stage_of = |id: &str| all_stages.iter().find(|s| s.id == id).map(|s| json!({ "id": s.id, "text": s.name }));
    let changes: Vec<Value> = a
        .history
        .iter()
        .map(|(stage, at)| json!({ "toStageId": stage, "toStageIndex": all_stages.iter().position(|s| &s.id == stage), "userId": shared.credentials.user_id, "updatedAt": at }))
        .collect();
    let application = json!({ "id": application_id, "opportunityId": a.id, "candidateId": a.candidate_id,
                              "type": if a.job_id.is_empty() { "user" } else { "posting" },
                              "posting": (!a.job_id.is_empty()).then_some(&a.job_id), "createdAt": a.created_at });
    json!({
        "id": a.id, "name": person.map(|p| p.name()), "contact": a.candidate_id,
        "headline": person.and_then(|p| p.extra.get("headline")).cloned().unwrap_or(json!("")),
        "emails": person.map(|p| p.emails.clone()).unwrap_or_default(),
        "phones": extra("phones"), "links": extra("links"), "tags": extra("tags"), "sources": extra("sources"),
        "origin": person.and_then(|p| p.extra.get("origin")).cloned().unwrap_or(json!("sourced")),
        "confidentiality": "non-confidential", "location": person.and_then(|p| p.extra.get("location")).cloned(),
        "stage": if expand.contains(&"stage") { stage_of(&a.stage_id).unwrap_or(Value::Null) } else { json!(a.stage_id) },
        "stageChanges": changes, "archived": archived,
        "applications": if expand.contains(&"applications") { json!([application]) } else { json!([application_id]) },
        "owner": shared.credentials.user_id, "followers": [], "createdAt": a.created_at, "updatedAt": a.updated_at,
        "lastInteractionAt": a.updated_at, "lastAdvancedAt": a.history.last().map(|h| h.1), "snoozedUntil": null,
        "urls": { "list": format!("{}/v1/opportunities", shared.base_url), "show": format!("{}/v1/opportunities/{}", shared.base_url, a.id) },
        "isAnonymized": false, "dataProtection": null,
    })
}
