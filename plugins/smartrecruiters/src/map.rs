//! SmartRecruiters' records onto the contract's, and back for new
//! candidates.
//!
//! Pure functions only: everything here runs in native unit tests.

use atsbridge_sdk::prelude::*;
use atsbridge_sdk::time;

use crate::api;

/// The application statuses every hiring process has, in pipeline order,
/// with their display names. `LEAD` (sourcing, before an application) and
/// the outcomes `REJECTED`, `WITHDRAWN`, `TRANSFERRED` are not stages.
pub const PIPELINE: &[(&str, &str)] =
    &[("NEW", "New"), ("IN_REVIEW", "In review"), ("INTERVIEW", "Interview"), ("OFFER", "Offer"), ("HIRED", "Hired")];

/// Separates a status from its sub-status in a stage id
/// (`INTERVIEW:Phone interview`).
pub const SUB_STATUS_SEPARATOR: char = ':';

/// Separates the candidate id from the job id in a reference's application
/// id (`<candidate id>:<job id>`, see [`candidate_ref`]).
pub const APPLICATION_ID_SEPARATOR: char = ':';

/// A SmartRecruiters job as a contract job.
///
/// | contract | SmartRecruiters |
/// |---|---|
/// | `code` | `id` |
/// | `status` | see [`status`]; `raw-status` is `status` as sent |
/// | `locations` | `location` (city, region, country; "Remote" when remote) |
/// | `description` | the job ad's sections, see [`description_html`] |
/// | `assigned-users` | the hiring team (`GET /jobs/{id}/hiring-team`) |
/// | `updated-at` | `updatedOn` |
/// | `extra` | `ref-number`, `posting-status`, `department`, `created-at` |
pub fn job(job: api::Job, description: String, team: Vec<AtsUser>) -> Job {
    let raw_status = job.status.clone().unwrap_or_default();
    Job {
        status: status(&raw_status),
        raw_status,
        title: job.title.clone(),
        locations: locations(job.location.as_ref()),
        description,
        assigned_users: team,
        updated_at: job.updated_on.as_deref().and_then(time::to_rfc3339_lenient),
        extra: extra(&job),
        code: job.id,
    }
}

/// `CREATED` → draft; `SOURCING`, `INTERVIEW`, `OFFER` (and the approval
/// states `PENDING_APPROVAL`, `APPROVED`) → open (the job is being worked
/// on); `FILLED`, `CANCELLED` → closed; `ON_HOLD` → on hold. Anything else
/// is kept as [`JobStatus::Other`].
pub fn status(raw: &str) -> JobStatus {
    match raw.to_ascii_uppercase().replace(['-', ' '], "_").as_str() {
        "CREATED" => JobStatus::Draft,
        "SOURCING" | "INTERVIEW" | "OFFER" | "PENDING_APPROVAL" | "APPROVED" => JobStatus::Open,
        "FILLED" | "CANCELLED" | "CANCELED" => JobStatus::Closed,
        "ON_HOLD" => JobStatus::OnHold,
        _ => JobStatus::Other(raw.to_string()),
    }
}

/// "City, Region, Country" (parts that are present and not repeated), and
/// "Remote" for a remote job.
pub fn locations(location: Option<&api::Location>) -> Vec<String> {
    let Some(location) = location else { return Vec::new() };
    let mut parts: Vec<&str> = Vec::new();
    for part in [&location.city, &location.region, &location.country].into_iter().flatten() {
        let part = part.trim();
        if !part.is_empty() && !parts.contains(&part) {
            parts.push(part);
        }
    }
    let mut out = Vec::new();
    if !parts.is_empty() {
        out.push(parts.join(", "));
    }
    if location.remote == Some(true) {
        out.push("Remote".to_string());
    }
    out
}

/// The first job ad's sections as one HTML document: each non-empty section
/// under its title (`<h3>`), in SmartRecruiters' order (company, job,
/// qualifications, additional information).
pub fn description_html(ads: &[api::JobAdItem]) -> String {
    let Some(sections) = ads.iter().find_map(|ad| ad.job_ad.as_ref()).map(|ad| &ad.sections) else {
        return String::new();
    };
    let mut html = String::new();
    for section in [
        &sections.company_description,
        &sections.job_description,
        &sections.qualifications,
        &sections.additional_information,
    ]
    .into_iter()
    .flatten()
    {
        let Some(text) = section.text.as_deref().filter(|t| !t.trim().is_empty()) else { continue };
        if let Some(title) = section.title.as_deref().filter(|t| !t.trim().is_empty()) {
            html.push_str(&format!("<h3>{}</h3>", escape_html(title.trim())));
        }
        html.push_str(text.trim());
    }
    html
}

/// Escapes text for HTML (section titles are plain text).
fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// SmartRecruiters fields worth keeping: `ref-number` (the requisition),
/// `posting-status`, `department`, `created-at` (RFC 3339).
pub fn extra(job: &api::Job) -> Vec<Field> {
    let department = job.department.as_ref().and_then(|d| d.label.clone());
    let created = job.created_on.as_deref().and_then(time::to_rfc3339_lenient);
    [
        ("ref-number", job.ref_number.clone()),
        ("posting-status", job.posting_status.clone()),
        ("department", department),
        ("created-at", created),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.filter(|v| !v.trim().is_empty()).map(|v| Field::new(key, v)))
    .collect()
}

/// A user as an assigned user: "First Last" (else the e-mail address, else
/// the id).
pub fn user(user: &api::User) -> AtsUser {
    let email = user.email.as_deref().map(str::trim).filter(|e| !e.is_empty()).map(str::to_string);
    let name = [&user.first_name, &user.last_name]
        .into_iter()
        .flatten()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let name = if name.is_empty() { email.clone().unwrap_or_else(|| user.id.clone()) } else { name };
    AtsUser::new(user.id.clone(), name, email)
}

/// A team member whose user record is gone: named by id.
pub fn unknown_user(id: &str) -> AtsUser {
    AtsUser::new(id, id, None)
}

/// The distinct user ids of a hiring team, in SmartRecruiters' order.
pub fn team_ids(members: Vec<api::TeamMember>) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for member in members {
        let id = member.id.trim();
        if !id.is_empty() && !ids.iter().any(|i| i == id) {
            ids.push(id.to_string());
        }
    }
    ids
}

/// A pipeline: each status of [`PIPELINE`] followed by the sub-statuses the
/// hiring process gives it, positions from 0. Without a process (the
/// account's stages) the statuses alone.
pub fn stages(process: Option<&api::HiringProcess>, job_code: Option<&str>) -> Vec<Stage> {
    let mut out = Vec::new();
    for (status, name) in PIPELINE {
        let subs: &[String] = match (process, *status) {
            (Some(p), "IN_REVIEW") => &p.sub_statuses.in_review,
            (Some(p), "INTERVIEW") => &p.sub_statuses.interview,
            (Some(p), "OFFER") => &p.sub_statuses.offered,
            _ => &[],
        };
        out.push((status.to_string(), name.to_string()));
        for sub in subs.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            out.push((format!("{status}{SUB_STATUS_SEPARATOR}{sub}"), format!("{name}: {sub}")));
        }
    }
    out.into_iter()
        .zip(0u32..)
        .map(|((id, name), position)| Stage { id, name, position, job_code: job_code.map(str::to_string) })
        .collect()
}

/// A stage id as SmartRecruiters' `{"status","subStatus"}`.
pub fn status_change(stage_id: &str) -> api::StatusChange {
    match stage_id.split_once(SUB_STATUS_SEPARATOR) {
        Some((status, sub)) => api::StatusChange { status: status.to_string(), sub_status: Some(sub.to_string()) },
        None => api::StatusChange { status: stage_id.to_string(), sub_status: None },
    }
}

/// The body of `POST /jobs/{id}/candidates` for a push.
///
/// - LinkedIn, Facebook and Twitter/X links go to their `web` slots, the
///   first other link to `web.website`; further links are not sent.
/// - The source becomes a tag `source: <text>`: SmartRecruiters' own
///   `sourceDetails` takes ids from its source configuration, which a push
///   does not carry.
/// - The application's answers are not sent: the create has no free-text
///   field for them.
pub fn new_candidate(candidate: &Candidate) -> api::NewCandidate {
    let mut web = api::Web::default();
    for link in candidate.links.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
        let slot = match link_host(link) {
            h if is_host(&h, "linkedin.com") => &mut web.linkedin,
            h if is_host(&h, "facebook.com") => &mut web.facebook,
            h if is_host(&h, "twitter.com") || is_host(&h, "x.com") => &mut web.twitter,
            _ => &mut web.website,
        };
        slot.get_or_insert_with(|| link.to_string());
    }
    api::NewCandidate {
        first_name: candidate.first_name.trim().to_string(),
        last_name: candidate.last_name.trim().to_string(),
        email: candidate.email.trim().to_string(),
        phone_number: candidate.phone.clone().filter(|p| !p.trim().is_empty()),
        web,
        tags: candidate
            .source
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| format!("source: {s}"))
            .into_iter()
            .collect(),
    }
}

/// The lower-case host of a link (`https://de.linkedin.com/in/x` → `de.linkedin.com`).
fn link_host(link: &str) -> String {
    let rest = link.split_once("://").map_or(link, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    host.split(':').next().unwrap_or_default().to_ascii_lowercase()
}

/// `host` is `domain` or one of its subdomains.
fn is_host(host: &str, domain: &str) -> bool {
    host == domain || host.ends_with(&format!(".{domain}"))
}

/// SmartRecruiters has no application id: a candidate's application is its
/// assignment to a job. The reference's application id is
/// `<candidate id>:<job id>`.
pub fn candidate_ref(candidate_id: &str, job_id: &str) -> CandidateRef {
    CandidateRef::new(candidate_id, format!("{candidate_id}{APPLICATION_ID_SEPARATOR}{job_id}"))
}

/// The job of a reference made by [`candidate_ref`].
pub fn job_of(reference: &CandidateRef) -> Result<&str, ConnectorError> {
    reference
        .application_id
        .strip_prefix(reference.candidate_id.as_str())
        .and_then(|rest| rest.strip_prefix(APPLICATION_ID_SEPARATOR))
        .filter(|job| !job.is_empty())
        .ok_or_else(|| {
            ConnectorError::Permanent(format!(
                "application id `{}` is not `<candidate id>:<job id>` for candidate {}",
                reference.application_id, reference.candidate_id
            ))
        })
}

/// Whether a candidate's attachments include a resume.
pub fn has_resume(attachments: &[api::AttachmentInfo]) -> bool {
    attachments.iter().any(|a| a.kind.as_deref().is_some_and(|k| k.eq_ignore_ascii_case(RESUME_ATTACHMENT)))
}

/// The attachment type of a resume.
pub const RESUME_ATTACHMENT: &str = "RESUME";

/// Whether a search hit is the candidate with this e-mail on this job.
pub fn is_same_candidate(candidate: &api::Candidate, email: &str, job_id: &str) -> bool {
    let same_email = candidate.email.as_deref().is_some_and(|e| e.trim().eq_ignore_ascii_case(email.trim()));
    same_email && candidate.assignment(job_id).is_some()
}

/// An assignment's state: `HIRED` → hired, `REJECTED` → rejected,
/// `WITHDRAWN` → withdrawn, `TRANSFERRED` → other, anything else active.
pub fn application_state(status: &str) -> ApplicationState {
    match status.to_ascii_uppercase().as_str() {
        "HIRED" | "HIRE" => ApplicationState::Hired,
        "REJECTED" => ApplicationState::Rejected,
        "WITHDRAWN" => ApplicationState::Withdrawn,
        "TRANSFERRED" => ApplicationState::Other("transferred".into()),
        _ => ApplicationState::Active,
    }
}

/// The status of a reference from its assignment: stage id
/// `STATUS[:subStatus]`, named like [`stages`] names it.
pub fn candidate_status(
    reference: CandidateRef,
    assignment: &api::Assignment,
    updated_on: Option<&str>,
) -> CandidateStatus {
    let status = assignment.status.clone().unwrap_or_default();
    let sub = assignment.sub_status.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let name = PIPELINE.iter().find(|(s, _)| *s == status).map(|(_, n)| n.to_string());
    let (stage_id, stage_name) = match sub {
        Some(sub) => (format!("{status}{SUB_STATUS_SEPARATOR}{sub}"), name.map(|n| format!("{n}: {sub}"))),
        None => (status.clone(), name),
    };
    CandidateStatus {
        ref_: reference,
        state: application_state(&status),
        stage_id: (!stage_id.is_empty()).then_some(stage_id),
        stage_name,
        updated_at: updated_on.and_then(time::to_rfc3339_lenient),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `GET /jobs` page as SmartRecruiters documents it.
    const JOBS_PAGE: &str = r#"{"limit": 2, "offset": 0, "totalFound": 7, "content": [
        {"id": "3b1c9c1e-1f8d-4a5e-9f00-000000000001", "title": "Backend Engineer", "refNumber": "REQ-42",
         "createdOn": "2024-05-01T10:00:00.000Z", "updatedOn": "2024-05-02T12:30:00.000+02:00",
         "lastActivityOn": "2024-05-03T00:00:00.000Z",
         "department": {"id": "12", "label": "Engineering"},
         "location": {"country": "Germany", "countryCode": "de", "region": "Berlin", "city": "Berlin", "remote": true},
         "status": "SOURCING", "postingStatus": "PUBLIC", "language": {"code": "en"}},
        {"id": "j2", "title": "Designer", "status": "ON_HOLD", "location": null, "refNumber": null}
    ]}"#;

    fn page() -> api::Page<api::Job> {
        serde_json::from_str(JOBS_PAGE).unwrap()
    }

    #[test]
    fn maps_a_sourcing_job() {
        let mut page = page();
        assert_eq!(page.total_found, Some(7));
        let team = vec![AtsUser::new("u1", "Ann Lee", Some("ann@example.com".into()))];
        let j = job(page.content.remove(0), "<p>Ad</p>".into(), team.clone());
        assert_eq!(j.code, "3b1c9c1e-1f8d-4a5e-9f00-000000000001");
        assert_eq!((j.status, j.raw_status.as_str()), (JobStatus::Open, "SOURCING"));
        assert_eq!(j.title, "Backend Engineer");
        assert_eq!(j.locations, vec!["Berlin, Germany", "Remote"], "region equal to the city is not repeated");
        assert_eq!(j.description, "<p>Ad</p>");
        assert_eq!(j.assigned_users, team);
        assert_eq!(j.updated_at.as_deref(), Some("2024-05-02T10:30:00Z"));
        let get = |key: &str| j.extra.iter().find(|f| f.key == key).map(|f| f.value.as_str());
        assert_eq!(get("ref-number"), Some("REQ-42"));
        assert_eq!(get("posting-status"), Some("PUBLIC"));
        assert_eq!(get("department"), Some("Engineering"));
        assert_eq!(get("created-at"), Some("2024-05-01T10:00:00Z"));
    }

    #[test]
    fn maps_a_job_without_optional_fields() {
        let j = job(page().content.remove(1), String::new(), vec![]);
        assert_eq!(j.status, JobStatus::OnHold);
        assert!(j.locations.is_empty() && j.extra.is_empty() && j.updated_at.is_none());
    }

    #[test]
    fn statuses() {
        assert_eq!(status("CREATED"), JobStatus::Draft);
        for open in ["SOURCING", "INTERVIEW", "OFFER", "PENDING_APPROVAL", "approved"] {
            assert_eq!(status(open), JobStatus::Open, "{open}");
        }
        assert_eq!(status("FILLED"), JobStatus::Closed);
        assert_eq!(status("CANCELLED"), JobStatus::Closed);
        assert_eq!(status("On Hold"), JobStatus::OnHold);
        assert_eq!(status("ARCHIVED"), JobStatus::Other("ARCHIVED".into()));
        assert_eq!(status(""), JobStatus::Other(String::new()));
    }

    #[test]
    fn description_joins_the_ad_sections_under_their_titles() {
        let ads: api::Page<api::JobAdItem> = serde_json::from_str(
            r#"{"totalFound": 1, "content": [{"id": "ad1", "jobAd": {"sections": {
                "companyDescription": {"title": "About <us>", "text": "<p>We</p>"},
                "jobDescription": {"title": "The job", "text": " <p>Build</p> "},
                "qualifications": {"title": "You", "text": ""},
                "additionalInformation": null}}}]}"#,
        )
        .unwrap();
        assert_eq!(description_html(&ads.content), "<h3>About &lt;us&gt;</h3><p>We</p><h3>The job</h3><p>Build</p>");
        assert_eq!(description_html(&[]), "");
    }

    #[test]
    fn hiring_team_reads_both_shapes_and_users_get_names() {
        let wrapped: api::HiringTeam = serde_json::from_str(
            r#"{"totalFound": 3, "content": [{"id": "a", "role": "RECRUITER"},
                {"id": "b", "role": "HIRING_MANAGER"}, {"id": "a", "role": "INTERVIEWER"}, {"id": " "}]}"#,
        )
        .unwrap();
        assert_eq!(team_ids(wrapped.into_members()), vec!["a", "b"]);
        let bare: api::HiringTeam = serde_json::from_str(r#"[{"id": "c", "role": "EXECUTIVE"}]"#).unwrap();
        assert_eq!(team_ids(bare.into_members()), vec!["c"]);
        let u: api::User =
            serde_json::from_str(r#"{"id": "a", "firstName": "Ann", "lastName": " Lee ", "email": "ann@x.io"}"#)
                .unwrap();
        assert_eq!(user(&u), AtsUser::new("a", "Ann Lee", Some("ann@x.io".into())));
        let nameless: api::User = serde_json::from_str(r#"{"id": "b", "email": " "}"#).unwrap();
        assert_eq!(user(&nameless), AtsUser::new("b", "b", None));
        assert_eq!(unknown_user("z"), AtsUser::new("z", "z", None));
    }

    #[test]
    fn a_hiring_process_adds_sub_statuses_after_their_status() {
        let process: api::HiringProcess = serde_json::from_str(
            r#"{"id": "p", "name": "Eng", "active": true,
                "subStatuses": {"inReview": ["Screen"], "interview": ["Phone", "Onsite"], "offered": []}}"#,
        )
        .unwrap();
        let stages = stages(Some(&process), Some("j1"));
        let ids: Vec<(&str, u32)> = stages.iter().map(|s| (s.id.as_str(), s.position)).collect();
        assert_eq!(
            ids,
            vec![
                ("NEW", 0),
                ("IN_REVIEW", 1),
                ("IN_REVIEW:Screen", 2),
                ("INTERVIEW", 3),
                ("INTERVIEW:Phone", 4),
                ("INTERVIEW:Onsite", 5),
                ("OFFER", 6),
                ("HIRED", 7)
            ]
        );
        assert_eq!(stages[4].name, "Interview: Phone");
        assert!(stages.iter().all(|s| s.job_code.as_deref() == Some("j1")));
        let account = super::stages(None, None);
        assert_eq!(account.len(), PIPELINE.len());
        assert!(account.iter().all(|s| s.job_code.is_none()));
    }

    #[test]
    fn stage_ids_become_status_changes() {
        let c = status_change("INTERVIEW:Phone: first");
        assert_eq!((c.status.as_str(), c.sub_status.as_deref()), ("INTERVIEW", Some("Phone: first")));
        assert_eq!(serde_json::to_value(status_change("NEW")).unwrap(), serde_json::json!({"status": "NEW"}));
    }

    fn push_candidate() -> Candidate {
        Candidate {
            first_name: " Ada ".into(),
            last_name: "Lovelace".into(),
            email: " ada@example.com".into(),
            phone: Some("+44 20 0000".into()),
            resume: None,
            resume_url: None,
            source: Some("jobs.example.com".into()),
            links: vec![
                "https://www.linkedin.com/in/ada".into(),
                "https://x.com/ada".into(),
                "https://ada.dev".into(),
                "https://github.com/ada".into(),
                "https://notlinkedin.com/ada".into(),
            ],
            answers: vec![Answer { question: "Notice?".into(), answer: "1 month".into() }],
        }
    }

    #[test]
    fn new_candidate_body_follows_the_create() {
        assert_eq!(
            serde_json::to_value(new_candidate(&push_candidate())).unwrap(),
            serde_json::json!({
                "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com", "phoneNumber": "+44 20 0000",
                "web": {"linkedin": "https://www.linkedin.com/in/ada", "twitter": "https://x.com/ada",
                        "website": "https://ada.dev"},
                "tags": ["source: jobs.example.com"]
            })
        );
        let minimal = Candidate { phone: None, source: None, links: vec![], ..push_candidate() };
        assert_eq!(
            serde_json::to_value(new_candidate(&minimal)).unwrap(),
            serde_json::json!({"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"})
        );
    }

    const CANDIDATE: &str = r#"{"id": "c1", "firstName": "Ada", "email": "Ada@Example.com",
        "updatedOn": "2024-05-04T09:00:00.000Z",
        "primaryAssignment": {"job": {"id": "j1", "title": "Backend"}, "status": "INTERVIEW", "subStatus": "Phone"},
        "secondaryAssignments": [{"job": {"id": "j2"}, "status": "REJECTED", "subStatus": null}]}"#;

    fn candidate() -> api::Candidate {
        serde_json::from_str(CANDIDATE).unwrap()
    }

    #[test]
    fn resumes_are_found_among_attachments() {
        let page: api::Page<api::AttachmentInfo> = serde_json::from_str(
            r#"{"totalFound": 2, "content": [{"id": "1", "type": "OTHER"}, {"id": "2", "type": "resume"}]}"#,
        )
        .unwrap();
        assert!(has_resume(&page.content));
        assert!(!has_resume(&page.content[..1]));
        assert!(!has_resume(&[]));
    }

    #[test]
    fn references_name_the_candidate_and_the_job() {
        let r = candidate_ref("c1", "j-1");
        assert_eq!(r, CandidateRef::new("c1", "c1:j-1"));
        assert_eq!(job_of(&r).unwrap(), "j-1");
        for bad in [CandidateRef::new("c1", "c1"), CandidateRef::new("c1", "c2:j"), CandidateRef::new("c1", "c1:")] {
            assert_eq!(job_of(&bad).unwrap_err().kind(), "permanent", "{bad:?}");
        }
    }

    #[test]
    fn candidate_statuses_read_the_assignment_of_the_job() {
        let c = candidate();
        assert!(is_same_candidate(&c, "ada@example.com ", "j2"));
        assert!(!is_same_candidate(&c, "ada@example.com", "j3"));
        assert!(!is_same_candidate(&c, "bob@example.com", "j1"));
        let s = candidate_status(candidate_ref("c1", "j1"), c.assignment("j1").unwrap(), c.updated_on.as_deref());
        assert_eq!(s.state, ApplicationState::Active);
        assert_eq!(
            (s.stage_id.as_deref(), s.stage_name.as_deref()),
            (Some("INTERVIEW:Phone"), Some("Interview: Phone"))
        );
        assert_eq!(s.updated_at.as_deref(), Some("2024-05-04T09:00:00Z"));
        let s = candidate_status(candidate_ref("c1", "j2"), c.assignment("j2").unwrap(), None);
        assert_eq!(
            (s.state, s.stage_id.as_deref(), s.stage_name),
            (ApplicationState::Rejected, Some("REJECTED"), None)
        );
        assert_eq!(application_state("HIRED"), ApplicationState::Hired);
        assert_eq!(application_state("WITHDRAWN"), ApplicationState::Withdrawn);
        assert_eq!(application_state("NEW"), ApplicationState::Active);
    }
}
