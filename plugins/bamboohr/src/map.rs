//! BambooHR's records onto the contract's, and back for new applications.
//!
//! Pure functions only: everything here runs in native unit tests.

use atsbridge_sdk::multipart::Part;
use atsbridge_sdk::prelude::*;
use atsbridge_sdk::time;

use crate::api;

/// A BambooHR job opening as a contract job.
///
/// | contract | BambooHR |
/// |---|---|
/// | `code` | `id` |
/// | `status` | `status.label`, see [`status`] |
/// | `title` | `title.label` |
/// | `locations` | `location.label` (else its address) |
/// | `description` | empty: the API serves none |
/// | `assigned-users` | `hiringLead` (an employee; no e-mail address) |
/// | `updated-at` | none: BambooHR keeps no change time for jobs |
/// | `extra` | `department`, `posted-date`, `posting-url` |
pub fn job(job: api::Job) -> Job {
    let raw_status = job.status.as_ref().and_then(|s| s.label.clone()).unwrap_or_default();
    Job {
        status: status(&raw_status),
        raw_status,
        title: job.title.as_ref().and_then(|t| t.label.clone()).unwrap_or_default(),
        locations: locations(job.location.as_ref()),
        description: String::new(),
        assigned_users: job.hiring_lead.as_ref().and_then(hiring_lead).into_iter().collect(),
        updated_at: None,
        extra: extra(&job),
        code: job.id.0,
    }
}

/// `Open` → open, `Draft` → draft, `On Hold` → on hold, `Filled`,
/// `Canceled`, `Deleted` → closed; anything else is kept as
/// [`JobStatus::Other`].
pub fn status(label: &str) -> JobStatus {
    match label.to_ascii_lowercase().replace(['_', '-'], " ").trim() {
        "open" => JobStatus::Open,
        "draft" => JobStatus::Draft,
        "on hold" => JobStatus::OnHold,
        "filled" | "canceled" | "cancelled" | "deleted" | "closed" => JobStatus::Closed,
        _ => JobStatus::Other(label.to_string()),
    }
}

/// The location's label, or "City, State, Country" from its address.
pub fn locations(location: Option<&api::JobLocation>) -> Vec<String> {
    let Some(location) = location else { return Vec::new() };
    if let Some(label) = location.label.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        return vec![label.to_string()];
    }
    let parts: Vec<&str> = location
        .address
        .iter()
        .flat_map(|a| [&a.city, &a.state, &a.country])
        .flatten()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() { Vec::new() } else { vec![parts.join(", ")] }
}

/// The hiring lead as an assigned user (`ats-id` is the employee id).
pub fn hiring_lead(lead: &api::HiringLead) -> Option<AtsUser> {
    let id = lead.employee_id.as_ref()?.0.clone();
    let name = [&lead.first_name, &lead.last_name]
        .into_iter()
        .flatten()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Some(AtsUser::new(id.clone(), if name.is_empty() { id } else { name }, None))
}

/// `department`, `posted-date` (RFC 3339), `posting-url`.
pub fn extra(job: &api::Job) -> Vec<Field> {
    [
        ("department", job.department.as_ref().and_then(|d| d.label.clone())),
        ("posted-date", job.posted_date.as_deref().and_then(time::to_rfc3339_lenient)),
        ("posting-url", job.posting_url.clone()),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.filter(|v| !v.trim().is_empty()).map(|v| Field::new(key, v)))
    .collect()
}

/// The enabled statuses, in BambooHR's order: the company's one pipeline
/// (BambooHR has no per-job pipelines, so no stage names a job).
pub fn stages(statuses: &[api::Status]) -> Vec<Stage> {
    statuses
        .iter()
        .filter(|s| s.enabled != Some(false))
        .zip(0u32..)
        .map(|(s, position)| Stage { id: s.id.0.clone(), name: s.name.clone(), position, job_code: None })
        .collect()
}

/// The form fields of `POST /applicant_tracking/application` for a push.
///
/// - A LinkedIn link goes to `linkedinUrl`, the first other link to
///   `websiteUrl`; further links are not sent.
/// - The application's answers are not sent: the form has no field for
///   free text.
/// - The resume is the file part `resume`.
pub fn application_form(job_id: &str, candidate: &Candidate) -> Vec<Part> {
    let mut parts = vec![
        Part::text("firstName", candidate.first_name.trim()),
        Part::text("lastName", candidate.last_name.trim()),
        Part::text("jobId", job_id),
        Part::text("email", candidate.email.trim()),
    ];
    let optional = |value: Option<&String>| value.map(|v| v.trim()).filter(|v| !v.is_empty()).map(str::to_string);
    if let Some(phone) = optional(candidate.phone.as_ref()) {
        parts.push(Part::text("phoneNumber", phone));
    }
    if let Some(source) = optional(candidate.source.as_ref()) {
        parts.push(Part::text("source", source));
    }
    let links: Vec<&str> = candidate.links.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect();
    if let Some(linkedin) = links.iter().find(|l| is_linkedin(l)) {
        parts.push(Part::text("linkedinUrl", *linkedin));
    }
    if let Some(website) = links.iter().find(|l| !is_linkedin(l)) {
        parts.push(Part::text("websiteUrl", *website));
    }
    if let Some(resume) = &candidate.resume {
        parts.push(Part::file("resume", resume.file_name.clone(), resume.content_type.clone(), resume.content.clone()));
    }
    parts
}

/// A link to linkedin.com or one of its subdomains.
fn is_linkedin(link: &str) -> bool {
    let rest = link.split_once("://").map_or(link, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default().split(':').next().unwrap_or_default();
    let host = host.to_ascii_lowercase();
    host == "linkedin.com" || host.ends_with(".linkedin.com")
}

/// Whether a listed application is this e-mail's on this job.
pub fn is_same_application(application: &api::Application, email: &str, job_id: &str) -> bool {
    let same_email = application
        .applicant
        .as_ref()
        .and_then(|a| a.email.as_deref())
        .is_some_and(|e| e.trim().eq_ignore_ascii_case(email.trim()));
    let same_job = application.job.as_ref().and_then(|j| j.id.as_ref()).is_some_and(|id| id.0 == job_id);
    same_email && same_job
}

/// The reference of a listed application (`None` without an applicant id).
pub fn application_ref(application: &api::Application) -> Option<CandidateRef> {
    let applicant = application.applicant.as_ref()?.id.as_ref()?;
    Some(CandidateRef::new(applicant.0.clone(), application.id.0.clone()))
}

/// An application's state from its status code: `HIRED` → hired;
/// `NOT_A_FIT`, `NOT_QUALIFIED`, `OVER_QUALIFIED`, `HIRED_ELSEWHERE` →
/// rejected; `DECLINED_OFFER` → withdrawn (the candidate said no); any other
/// status, custom ones included, active. The codes are **unconfirmed**.
pub fn application_state(code: Option<&str>) -> ApplicationState {
    match code.unwrap_or_default().to_ascii_uppercase().as_str() {
        "HIRED" => ApplicationState::Hired,
        "NOT_A_FIT" | "NOT_QUALIFIED" | "OVER_QUALIFIED" | "HIRED_ELSEWHERE" => ApplicationState::Rejected,
        "DECLINED_OFFER" => ApplicationState::Withdrawn,
        _ => ApplicationState::Active,
    }
}

/// The status of a reference from its application; `statuses` gives each
/// status id's code and name.
pub fn candidate_status(
    reference: CandidateRef,
    application: &api::Application,
    statuses: &[api::Status],
) -> CandidateStatus {
    let status = application.status.as_ref();
    let id = status.and_then(|s| s.id.as_ref()).map(|id| id.0.clone());
    let known = id.as_deref().and_then(|id| statuses.iter().find(|s| s.id.0 == id));
    CandidateStatus {
        ref_: reference,
        state: application_state(known.and_then(|s| s.code.as_deref())),
        stage_name: status.and_then(|s| s.label.clone()).or_else(|| known.map(|s| s.name.clone())),
        stage_id: id,
        updated_at: status.and_then(|s| s.date_changed.as_deref()).and_then(time::to_rfc3339_lenient),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `GET /applicant_tracking/jobs`, as BambooHR documents it.
    const JOBS: &str = r#"[
        {"id": 17, "title": {"id": null, "label": "Backend Engineer"}, "postedDate": "2024-05-01 10:00:00",
         "location": {"id": 3, "label": "Berlin", "address": {"city": "Berlin", "country": "Germany"}},
         "department": {"id": 4, "label": "Engineering"}, "status": {"id": 1, "label": "Open"},
         "hiringLead": {"employeeId": 9, "firstName": "A", "lastName": "B", "avatar": "x", "jobTitle": "CTO"},
         "newApplicantsCount": 1, "activeApplicantsCount": 2, "totalApplicantsCount": 12,
         "postingUrl": "https://acme.bamboohr.com/careers/17"},
        {"id": "18", "title": {"label": "Designer"}, "status": {"label": "On Hold"},
         "location": {"label": null, "address": {"city": "Lisbon", "state": " ", "country": "Portugal"}},
         "hiringLead": {"employeeId": null}}
    ]"#;

    fn jobs() -> Vec<api::Job> {
        serde_json::from_str(JOBS).unwrap()
    }

    #[test]
    fn maps_an_open_job() {
        let j = job(jobs().remove(0));
        assert_eq!(j.code, "17");
        assert_eq!((j.status, j.raw_status.as_str()), (JobStatus::Open, "Open"));
        assert_eq!(j.title, "Backend Engineer");
        assert_eq!(j.locations, vec!["Berlin"]);
        assert_eq!(j.description, "");
        assert_eq!(j.assigned_users, vec![AtsUser::new("9", "A B", None)]);
        assert_eq!(j.updated_at, None, "BambooHR has no change time");
        let get = |key: &str| j.extra.iter().find(|f| f.key == key).map(|f| f.value.as_str());
        assert_eq!(get("department"), Some("Engineering"));
        assert_eq!(get("posted-date"), Some("2024-05-01T10:00:00Z"));
        assert_eq!(get("posting-url"), Some("https://acme.bamboohr.com/careers/17"));
    }

    #[test]
    fn maps_a_job_with_string_ids_and_an_address_only() {
        let j = job(jobs().remove(1));
        assert_eq!((j.code.as_str(), j.status), ("18", JobStatus::OnHold));
        assert_eq!(j.locations, vec!["Lisbon, Portugal"]);
        assert!(j.assigned_users.is_empty(), "a lead without an employee id is nobody to authorize");
        assert!(serde_json::from_str::<Vec<api::Job>>(r#"[{"id": null}]"#).is_err());
    }

    #[test]
    fn statuses() {
        assert_eq!(status("Open"), JobStatus::Open);
        assert_eq!(status("Draft"), JobStatus::Draft);
        assert_eq!(status("On Hold"), JobStatus::OnHold);
        for closed in ["Filled", "Canceled", "Deleted"] {
            assert_eq!(status(closed), JobStatus::Closed, "{closed}");
        }
        assert_eq!(status("Evergreen"), JobStatus::Other("Evergreen".into()));
    }

    const STATUSES: &str = r#"[
        {"id": 1, "code": "NEW", "name": "New", "translatedName": "New", "enabled": true, "manageable": false},
        {"id": 2, "code": null, "name": "Custom", "enabled": true},
        {"id": 3, "code": "OLD", "name": "Old", "enabled": false},
        {"id": 10, "code": "HIRED", "name": "Hired", "enabled": true},
        {"id": 11, "code": "NOT_A_FIT", "name": "Not a Fit"}
    ]"#;

    fn status_list() -> Vec<api::Status> {
        serde_json::from_str(STATUSES).unwrap()
    }

    #[test]
    fn stages_are_the_enabled_statuses_in_order() {
        let stages = stages(&status_list());
        let ids: Vec<(&str, u32)> = stages.iter().map(|s| (s.id.as_str(), s.position)).collect();
        assert_eq!(ids, vec![("1", 0), ("2", 1), ("10", 2), ("11", 3)]);
        assert!(stages.iter().all(|s| s.job_code.is_none()));
    }

    fn push_candidate() -> Candidate {
        Candidate {
            first_name: "Ada ".into(),
            last_name: "Lovelace".into(),
            email: "ada@example.com".into(),
            phone: Some("+44 20 0000".into()),
            resume_url: None,
            resume: Some(Attachment {
                file_name: "cv.pdf".into(),
                content_type: "application/pdf".into(),
                content: b"%PDF".to_vec(),
            }),
            source: Some("jobs.example.com".into()),
            links: vec!["https://ada.dev".into(), "https://uk.linkedin.com/in/ada".into(), "https://x.com/a".into()],
            answers: vec![Answer { question: "Notice?".into(), answer: "1 month".into() }],
        }
    }

    #[test]
    fn the_application_form_follows_the_create() {
        assert_eq!(
            application_form("17", &push_candidate()),
            vec![
                Part::text("firstName", "Ada"),
                Part::text("lastName", "Lovelace"),
                Part::text("jobId", "17"),
                Part::text("email", "ada@example.com"),
                Part::text("phoneNumber", "+44 20 0000"),
                Part::text("source", "jobs.example.com"),
                Part::text("linkedinUrl", "https://uk.linkedin.com/in/ada"),
                Part::text("websiteUrl", "https://ada.dev"),
                Part::file("resume", "cv.pdf", "application/pdf", b"%PDF".to_vec()),
            ]
        );
        let minimal = Candidate { phone: None, resume: None, source: None, links: vec![], ..push_candidate() };
        assert_eq!(application_form("17", &minimal).len(), 4);
        assert!(!is_linkedin("https://linkedin.com.evil.example/x"));
    }

    const APPLICATIONS: &str = r#"{"paginationComplete": false, "nextPageUrl": "https://x/next", "applications": [
        {"id": 901, "appliedDate": "2024-05-01", "status": {"id": 1, "label": "New"}, "rating": null,
         "applicant": {"id": 701, "firstName": "Ada", "lastName": "L", "email": "Ada@Example.com", "source": null},
         "job": {"id": 17, "title": {"id": null, "label": "Backend"}}},
        {"id": 902, "status": {"id": 10, "label": "Hired", "dateChanged": "2024-06-01T08:00:00+00:00"},
         "applicant": {"id": 702, "email": "bob@example.com"}, "job": {"id": 18}}
    ]}"#;

    fn applications() -> api::ApplicationsPage {
        serde_json::from_str(APPLICATIONS).unwrap()
    }

    #[test]
    fn applications_are_matched_by_email_and_job() {
        let page = applications();
        assert_eq!(page.next_page_url.as_deref(), Some("https://x/next"));
        let ada = &page.applications[0];
        assert!(is_same_application(ada, " ada@example.com", "17"));
        assert!(!is_same_application(ada, "ada@example.com", "18"));
        assert!(!is_same_application(&page.applications[1], "ada@example.com", "18"));
        assert_eq!(application_ref(ada), Some(CandidateRef::new("701", "901")));
    }

    #[test]
    fn candidate_statuses_read_the_status_and_its_code() {
        let page = applications();
        let statuses = status_list();
        let s = candidate_status(CandidateRef::new("701", "901"), &page.applications[0], &statuses);
        assert_eq!(
            (s.state, s.stage_id.as_deref(), s.stage_name.as_deref()),
            (ApplicationState::Active, Some("1"), Some("New"))
        );
        let s = candidate_status(CandidateRef::new("702", "902"), &page.applications[1], &statuses);
        assert_eq!(s.state, ApplicationState::Hired);
        assert_eq!(s.updated_at.as_deref(), Some("2024-06-01T08:00:00Z"));
        assert_eq!(application_state(Some("NOT_A_FIT")), ApplicationState::Rejected);
        assert_eq!(application_state(Some("DECLINED_OFFER")), ApplicationState::Withdrawn);
        assert_eq!(application_state(None), ApplicationState::Active);
    }
}
