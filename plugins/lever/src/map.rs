//! Lever objects onto the atsbridge contract, and candidates onto Lever's
//! create body. Pure functions: no host calls, tested natively.
//!
//! | contract | Lever |
//! |---|---|
//! | `job.code` | posting `id` |
//! | `job.status` / `raw-status` | `state`: `published`, `internal` → open; `closed` → closed; `draft`, `pending`, `rejected` → draft |
//! | `job.title` | `text` |
//! | `job.locations` | `categories.allLocations`, else `categories.location` |
//! | `job.description` | `content.descriptionHtml`, each of `content.lists` as a titled list, `content.closingHtml` |
//! | `job.assigned-users` | `owner`, `hiringManager`, `followers` |
//! | `job.updated-at` | `updatedAt` (epoch ms) |
//! | `job.extra` | `requisition-id`, `team`, `department`, `commitment`, `level`, `workplace-type`, `country`, `confidentiality`, `distribution-channels`, `tags` |
//! | `stage` | `/stages` `id`, `text`, position in Lever's order |
//! | `candidate-status` | opportunity `stage`; `archived.reason` "Hired" → hired, any other → rejected |

use std::collections::{HashMap, HashSet};

use atsbridge_sdk::prelude::*;
use atsbridge_sdk::time::epoch_ms_to_rfc3339;

use crate::api;

/// The state reported for a pushed candidate whose opportunity Lever no
/// longer has (deleted, or merged away).
pub const DELETED_STATE: &str = "deleted";

/// A posting's state, normalised.
pub fn status(state: &str) -> JobStatus {
    match state {
        "published" | "internal" => JobStatus::Open,
        "closed" => JobStatus::Closed,
        "draft" | "pending" | "rejected" => JobStatus::Draft,
        other => JobStatus::Other(other.to_string()),
    }
}

/// A posting, with people named from `users` when the posting holds only
/// their ids.
pub fn job(posting: api::Posting, users: &HashMap<String, api::User>) -> Job {
    Job {
        code: posting.id.clone(),
        status: status(&posting.state),
        title: posting.text.clone(),
        locations: locations(&posting.categories),
        description: posting.content.as_ref().map(description).unwrap_or_default(),
        assigned_users: assigned_users(&posting, users),
        updated_at: posting.updated_at.and_then(|ms| epoch_ms_to_rfc3339(ms).ok()),
        extra: extra(&posting),
        raw_status: posting.state,
    }
}

fn locations(c: &api::Categories) -> Vec<String> {
    let all = unique(c.all_locations.iter().filter(|l| !l.trim().is_empty()).cloned());
    if all.is_empty() { c.location.iter().filter(|l| !l.trim().is_empty()).cloned().collect() } else { all }
}

/// The description as Lever's hosted posting page shows it: the opening,
/// each list under its title, the closing.
pub fn description(content: &api::Content) -> String {
    let mut html = content.description_html.clone().unwrap_or_default();
    for list in &content.lists {
        if !list.text.trim().is_empty() {
            html.push_str(&format!("<h3>{}</h3>", list.text));
        }
        if !list.content.trim().is_empty() {
            html.push_str(&format!("<ul>{}</ul>", list.content));
        }
    }
    if let Some(closing) = &content.closing_html {
        html.push_str(closing);
    }
    html
}

/// Owner, hiring manager and followers, each once.
fn assigned_users(posting: &api::Posting, users: &HashMap<String, api::User>) -> Vec<AtsUser> {
    let mut seen = HashSet::new();
    posting
        .owner
        .iter()
        .chain(&posting.hiring_manager)
        .chain(&posting.followers)
        .map(|r| user(r, users))
        .filter(|u| seen.insert(u.ats_id.clone()))
        .collect()
}

fn user(user: &api::UserRef, users: &HashMap<String, api::User>) -> AtsUser {
    let known = match user {
        api::UserRef::User(u) => Some(u),
        api::UserRef::Id(id) => users.get(id),
    };
    match (user, known) {
        (_, Some(u)) => AtsUser::new(u.id.clone(), u.name.clone().unwrap_or_else(|| u.id.clone()), u.email.clone()),
        // A user Lever no longer lists: the id is all there is.
        (api::UserRef::Id(id), None) => AtsUser::new(id.clone(), id.clone(), None),
        (api::UserRef::User(_), None) => unreachable!("an expanded user is known"),
    }
}

/// Whether any posting names a person by id only (Lever did not expand
/// them), so `/users` must be read to name them.
pub fn needs_user_lookup(postings: &[api::Posting]) -> bool {
    postings
        .iter()
        .any(|p| p.owner.iter().chain(&p.hiring_manager).chain(&p.followers).any(|u| matches!(u, api::UserRef::Id(_))))
}

fn extra(p: &api::Posting) -> Vec<Field> {
    let mut extra = Vec::new();
    let mut add = |key: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
            extra.push(Field::new(key, value));
        }
    };
    let c = &p.categories;
    add("requisition-id", joined(&p.requisition_codes));
    add("team", c.team.clone());
    add("department", c.department.clone());
    add("commitment", c.commitment.clone());
    add("level", c.level.clone());
    add("workplace-type", p.workplace_type.clone());
    add("country", p.country.clone());
    add("confidentiality", p.confidentiality.clone());
    add("distribution-channels", joined(&p.distribution_channels));
    add("tags", joined(&p.tags));
    extra
}

fn joined(items: &[String]) -> Option<String> {
    let items = unique(items.iter().filter(|i| !i.trim().is_empty()).cloned());
    (!items.is_empty()).then(|| items.join(", "))
}

fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    items.filter(|i| seen.insert(i.clone())).collect()
}

/// The account's pipeline, in Lever's order (New lead first, Offer last).
pub fn stages(list: Vec<api::Stage>) -> Vec<Stage> {
    list.into_iter()
        .zip(0u32..)
        .map(|(s, position)| Stage { id: s.id, name: s.text, position, job_code: None })
        .collect()
}

/// An opportunity of this person on `posting_id`, if they have one.
pub fn opportunity_on<'a>(opportunities: &'a [api::Opportunity], posting_id: &str) -> Option<&'a api::Opportunity> {
    opportunities.iter().find(|o| {
        o.applications
            .iter()
            .any(|a| matches!(a, api::ApplicationRef::Application(a) if a.posting.as_deref() == Some(posting_id)))
    })
}

/// The create body for a pushed candidate.
pub fn new_opportunity(push: &PushRequest) -> api::NewOpportunity {
    let c = &push.candidate;
    api::NewOpportunity {
        name: [c.first_name.trim(), c.last_name.trim()]
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        emails: vec![c.email.clone()],
        phones: c
            .phone
            .iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| api::Phone { kind: "mobile", value: p.clone() })
            .collect(),
        links: c.links.iter().filter(|l| !l.trim().is_empty()).cloned().collect(),
        sources: c.source.iter().filter(|s| !s.trim().is_empty()).cloned().collect(),
        origin: "applied",
        postings: vec![push.job_code.clone()],
        stage: push.stage_id.clone(),
    }
}

/// The create body as `multipart/form-data` fields, in Lever's bracket
/// notation (`emails[]`, `phones[0][type]`), for a create that uploads the
/// resume in the same request.
pub fn form_fields(o: &api::NewOpportunity) -> Vec<(String, String)> {
    let mut fields = vec![("name".to_string(), o.name.clone())];
    let list = |fields: &mut Vec<(String, String)>, name: &str, items: &[String]| {
        fields.extend(items.iter().map(|v| (format!("{name}[]"), v.clone())));
    };
    list(&mut fields, "emails", &o.emails);
    for (i, phone) in o.phones.iter().enumerate() {
        fields.push((format!("phones[{i}][type]"), phone.kind.to_string()));
        fields.push((format!("phones[{i}][value]"), phone.value.clone()));
    }
    list(&mut fields, "links", &o.links);
    list(&mut fields, "sources", &o.sources);
    fields.push(("origin".to_string(), o.origin.to_string()));
    list(&mut fields, "postings", &o.postings);
    if let Some(stage) = &o.stage {
        fields.push(("stage".to_string(), stage.clone()));
    }
    fields
}

/// The application answers as one note: Lever has no field for them on
/// the opportunity.
pub fn answers_note(c: &Candidate) -> Option<api::NewNote> {
    let text: Vec<String> = c.answers.iter().map(|a| format!("{}\n{}", a.question, a.answer)).collect();
    (!text.is_empty()).then(|| api::NewNote { value: text.join("\n\n") })
}

/// The reasons that mean "hired": Lever's built-in "Hired" reason, or any
/// reason whose status says so.
pub fn hired_reasons(reasons: &[api::ArchiveReason]) -> HashSet<String> {
    reasons
        .iter()
        .filter(|r| r.status.as_deref() == Some("hired") || r.text.eq_ignore_ascii_case("hired"))
        .map(|r| r.id.clone())
        .collect()
}

/// An opportunity's state and stage. `stages` names a stage Lever gave by
/// id only.
pub fn candidate_status(
    candidate: CandidateRef,
    opportunity: &api::Opportunity,
    hired: &HashSet<String>,
    stages: &HashMap<String, String>,
) -> CandidateStatus {
    let state = match &opportunity.archived {
        None => ApplicationState::Active,
        Some(a) if a.reason.as_ref().is_some_and(|r| hired.contains(r)) => ApplicationState::Hired,
        Some(_) => ApplicationState::Rejected,
    };
    let (stage_id, stage_name) = match &opportunity.stage {
        Some(api::StageRef::Stage(s)) => (Some(s.id.clone()), Some(s.text.clone())),
        Some(api::StageRef::Id(id)) => (Some(id.clone()), stages.get(id).cloned()),
        None => (None, None),
    };
    CandidateStatus {
        ref_: candidate,
        state,
        stage_id,
        stage_name,
        updated_at: opportunity.updated_at.and_then(|ms| epoch_ms_to_rfc3339(ms).ok()),
    }
}

/// The status of a pushed candidate whose opportunity is gone.
pub fn deleted_status(candidate: CandidateRef) -> CandidateStatus {
    CandidateStatus {
        ref_: candidate,
        state: ApplicationState::Other(DELETED_STATE.to_string()),
        stage_id: None,
        stage_name: None,
        updated_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The posting of ats-apis.md section 2.1, with content included.
    const POSTING: &str = r#"{"id": "6a1f", "text": "Backend Engineer", "state": "published", "distributionChannels": ["public"],
        "categories": {"team": "Platform", "department": "Engineering", "location": "Berlin", "allLocations": ["Berlin", "Remote", "Berlin"], "commitment": "Full-time", "level": null},
        "requisitionCodes": ["REQ-42"], "owner": "u1", "hiringManager": "u2", "followers": ["u1", "u3"], "updatedAt": 1714557600000,
        "workplaceType": "hybrid", "country": "DE", "confidentiality": "non-confidential", "tags": [],
        "content": {"description": "We build.", "descriptionHtml": "<p>We build.</p>",
                    "lists": [{"text": "Requirements", "content": "<li>Rust</li><li>SQL</li>"}, {"text": "", "content": ""}],
                    "closing": "Apply!", "closingHtml": "<p>Apply!</p>"}}"#;

    fn decode<T: serde::de::DeserializeOwned>(json: &str) -> T {
        serde_json::from_str(json).unwrap()
    }

    fn users() -> HashMap<String, api::User> {
        let list: Vec<api::User> = decode(
            r#"[{"id": "u1", "name": "Ann Owner", "email": "ann@example.com"}, {"id": "u2", "name": "Hal Manager"}]"#,
        );
        list.into_iter().map(|u| (u.id.clone(), u)).collect()
    }

    #[test]
    fn maps_a_posting() {
        let posting: api::Posting = decode(POSTING);
        assert!(needs_user_lookup(std::slice::from_ref(&posting)));
        let job = job(posting, &users());
        assert_eq!(job.code, "6a1f");
        assert_eq!(job.status, JobStatus::Open);
        assert_eq!(job.raw_status, "published");
        assert_eq!(job.title, "Backend Engineer");
        assert_eq!(job.locations, vec!["Berlin", "Remote"]);
        assert_eq!(
            job.description,
            "<p>We build.</p><h3>Requirements</h3><ul><li>Rust</li><li>SQL</li></ul><p>Apply!</p>"
        );
        assert_eq!(
            job.assigned_users,
            vec![
                AtsUser::new("u1", "Ann Owner", Some("ann@example.com".into())),
                AtsUser::new("u2", "Hal Manager", None),
                AtsUser::new("u3", "u3", None),
            ]
        );
        assert_eq!(job.updated_at.as_deref(), Some("2024-05-01T10:00:00Z"));
        let extra: Vec<(&str, &str)> = job.extra.iter().map(|f| (f.key.as_str(), f.value.as_str())).collect();
        assert_eq!(
            extra,
            vec![
                ("requisition-id", "REQ-42"),
                ("team", "Platform"),
                ("department", "Engineering"),
                ("commitment", "Full-time"),
                ("workplace-type", "hybrid"),
                ("country", "DE"),
                ("confidentiality", "non-confidential"),
                ("distribution-channels", "public"),
            ]
        );
    }

    #[test]
    fn expanded_people_need_no_lookup() {
        let posting: api::Posting = decode(
            r#"{"id": "p", "text": "T", "state": "internal", "categories": {"location": "Oslo", "allLocations": []},
                "owner": {"id": "u9", "name": "Olga", "email": "olga@example.com"}, "hiringManager": null, "followers": null}"#,
        );
        assert!(!needs_user_lookup(std::slice::from_ref(&posting)));
        let job = job(posting, &HashMap::new());
        assert_eq!(job.status, JobStatus::Open);
        assert_eq!(job.locations, vec!["Oslo"]);
        assert_eq!(job.assigned_users, vec![AtsUser::new("u9", "Olga", Some("olga@example.com".into()))]);
        assert_eq!(job.description, "", "no content without include=content");
        assert_eq!(job.updated_at, None);
    }

    #[test]
    fn states_map_as_documented() {
        assert_eq!(status("published"), JobStatus::Open);
        assert_eq!(status("internal"), JobStatus::Open);
        assert_eq!(status("closed"), JobStatus::Closed);
        for draft in ["draft", "pending", "rejected"] {
            assert_eq!(status(draft), JobStatus::Draft);
        }
        assert_eq!(status("archived"), JobStatus::Other("archived".into()));
    }

    #[test]
    fn stages_keep_lever_order() {
        let list: Vec<api::Stage> =
            decode(r#"[{"id": "lead-new", "text": "New lead"}, {"id": "offer", "text": "Offer"}]"#);
        let stages = stages(list);
        assert_eq!(stages[1], Stage { id: "offer".into(), name: "Offer".into(), position: 1, job_code: None });
    }

    fn push() -> PushRequest {
        PushRequest {
            job_code: "6a1f".into(),
            candidate: Candidate {
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                email: "ada@example.com".into(),
                phone: Some("+44 20 1234".into()),
                resume: None,
                resume_url: None,
                source: Some("Careers site".into()),
                links: vec!["https://ada.dev".into(), "".into()],
                answers: vec![Answer { question: "Notice?".into(), answer: "1 month".into() }],
            },
            stage_id: Some("applicant-new".into()),
            idempotency_key: "k1".into(),
        }
    }

    #[test]
    fn builds_the_create_body_as_json_and_form() {
        let o = new_opportunity(&push());
        assert_eq!(
            serde_json::to_value(&o).unwrap(),
            serde_json::json!({
                "name": "Ada Lovelace", "emails": ["ada@example.com"],
                "phones": [{"type": "mobile", "value": "+44 20 1234"}],
                "links": ["https://ada.dev"], "sources": ["Careers site"], "origin": "applied",
                "postings": ["6a1f"], "stage": "applicant-new",
            })
        );
        let fields = form_fields(&o);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            fields,
            vec![
                ("name", "Ada Lovelace"),
                ("emails[]", "ada@example.com"),
                ("phones[0][type]", "mobile"),
                ("phones[0][value]", "+44 20 1234"),
                ("links[]", "https://ada.dev"),
                ("sources[]", "Careers site"),
                ("origin", "applied"),
                ("postings[]", "6a1f"),
                ("stage", "applicant-new"),
            ]
        );
        assert_eq!(answers_note(&push().candidate).unwrap().value, "Notice?\n1 month");
    }

    #[test]
    fn finds_an_opportunity_on_the_posting() {
        let list: Vec<api::Opportunity> = decode(
            r#"[{"id": "o1", "contact": "c1", "applications": ["a1"]},
                {"id": "o2", "contact": "c1", "applications": [{"id": "a2", "posting": "other"}]},
                {"id": "o3", "contact": "c1", "applications": [{"id": "a3", "posting": "6a1f", "type": "posting"}]}]"#,
        );
        assert_eq!(opportunity_on(&list, "6a1f").map(|o| o.id.as_str()), Some("o3"));
        assert!(opportunity_on(&list, "nope").is_none());
    }

    #[test]
    fn opportunity_states() {
        let reasons: Vec<api::ArchiveReason> = decode(
            r#"[{"id": "r1", "text": "Hired", "status": "hired"}, {"id": "r2", "text": "Underqualified", "status": "non-hired"},
                {"id": "r3", "text": "hired"}]"#,
        );
        let hired = hired_reasons(&reasons);
        assert_eq!(hired, HashSet::from(["r1".to_string(), "r3".to_string()]));
        let stages = HashMap::from([("s1".to_string(), "Phone screen".to_string())]);
        let r = CandidateRef::new("c1", "o1");
        let active: api::Opportunity =
            decode(r#"{"id": "o1", "stage": "s1", "archived": null, "updatedAt": 1714557600000}"#);
        let s = candidate_status(r.clone(), &active, &hired, &stages);
        assert_eq!(s.state, ApplicationState::Active);
        assert_eq!((s.stage_id.as_deref(), s.stage_name.as_deref()), (Some("s1"), Some("Phone screen")));
        assert_eq!(s.updated_at.as_deref(), Some("2024-05-01T10:00:00Z"));
        let won: api::Opportunity = decode(
            r#"{"id": "o1", "stage": {"id": "offer", "text": "Offer"}, "archived": {"reason": "r1", "archivedAt": 1}}"#,
        );
        let s = candidate_status(r.clone(), &won, &hired, &stages);
        assert_eq!(s.state, ApplicationState::Hired);
        assert_eq!(s.stage_name.as_deref(), Some("Offer"));
        let lost: api::Opportunity = decode(r#"{"id": "o1", "archived": {"reason": "r2"}}"#);
        assert_eq!(candidate_status(r.clone(), &lost, &hired, &stages).state, ApplicationState::Rejected);
        assert_eq!(deleted_status(r).state, ApplicationState::Other(DELETED_STATE.into()));
    }
}
