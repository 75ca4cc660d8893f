//! Workable's records onto the contract's, and back for new candidates.
//!
//! Pure functions only: everything here runs in native unit tests.

use atsbridge_sdk::prelude::*;
use atsbridge_sdk::time;

use crate::api;

/// A Workable job as a contract job.
///
/// | contract | Workable |
/// |---|---|
/// | `code` | `shortcode` |
/// | `status` | `draft` → draft, `published` → open, `closed` and `archived` → closed |
/// | `locations` | `location.location_str`, then each of `locations[]` |
/// | `description` | see [`description_html`] |
/// | `assigned-users` | `team`: the job's members, see [`hiring_team`] |
/// | `updated-at` | `updated_at` when Workable sends it |
/// | `extra` | see [`extra`] |
pub fn job(job: api::Job, team: Vec<AtsUser>) -> Job {
    Job {
        status: status(&job.state),
        raw_status: job.state.clone(),
        title: job.title.clone(),
        locations: locations(&job),
        description: description_html(&job),
        assigned_users: team,
        updated_at: job.updated_at.as_deref().and_then(time::to_rfc3339_lenient),
        extra: extra(&job),
        code: job.shortcode,
    }
}

/// The job's members (`GET /jobs/{shortcode}/members`) as assigned users,
/// in Workable's order, each id once. A member without a name is named by
/// their e-mail address, else their id; a blank e-mail address is none.
pub fn hiring_team(members: Vec<api::Member>) -> Vec<AtsUser> {
    let mut team: Vec<AtsUser> = Vec::new();
    for member in members {
        let id = member.id.trim();
        if id.is_empty() || team.iter().any(|u| u.ats_id == id) {
            continue;
        }
        let email = member.email.map(|e| e.trim().to_string()).filter(|e| !e.is_empty());
        let name = member
            .name
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .or_else(|| email.clone())
            .unwrap_or_else(|| id.to_string());
        team.push(AtsUser::new(id, name, email));
    }
    team
}

/// Whether a job on an incremental listing is a change at or after
/// `changed_since_ms` (epoch ms): its `updated_at` is that late, or it has
/// none to tell (Workable's `updated_after` filter let it through, and
/// `updated_at` is not in Workable's published field list).
pub fn changed_since(job: &api::Job, changed_since_ms: i64) -> bool {
    job.updated_at
        .as_deref()
        .and_then(time::to_rfc3339_lenient)
        .and_then(|t| time::rfc3339_to_epoch_ms(&t).ok())
        .is_none_or(|updated| updated >= changed_since_ms)
}

/// `draft`, `published`, `closed`, `archived`; anything else is kept as
/// [`JobStatus::Other`]. A `closed` Workable job is still visible
/// internally (confidential), but takes no applications from the public.
pub fn status(state: &str) -> JobStatus {
    match state.to_ascii_lowercase().as_str() {
        "draft" => JobStatus::Draft,
        "published" => JobStatus::Open,
        "closed" | "archived" => JobStatus::Closed,
        _ => JobStatus::Other(state.to_string()),
    }
}

/// The job's locations, most relevant (the primary `location`) first,
/// without duplicates. A remote job without a place reads "Remote".
pub fn locations(job: &api::Job) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for location in job.location.iter().chain(&job.locations) {
        let name = match location.location_str.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => s.to_string(),
            _ if location.telecommuting == Some(true) => "Remote".to_string(),
            _ => continue,
        };
        if !out.contains(&name) {
            out.push(name);
        }
    }
    out
}

/// The ad's HTML: `full_description` (description, requirements and
/// benefits together) when Workable sent it, else `description`, else
/// empty. The listing asks for both with `include_fields`, so no per-job
/// request is needed.
pub fn description_html(job: &api::Job) -> String {
    [&job.full_description, &job.description]
        .into_iter()
        .flatten()
        .find(|html| !html.trim().is_empty())
        .cloned()
        .unwrap_or_default()
}

/// Workable fields worth keeping, under stable kebab-case keys:
/// `workable-id`, `code` (the editor's job code, usually a requisition id),
/// `full-title`, `department`, `employment-type`, `workplace-type`, `url`,
/// `application-url`, `created-at` (RFC 3339).
pub fn extra(job: &api::Job) -> Vec<Field> {
    let workplace = job.location.as_ref().and_then(|l| l.workplace_type.clone());
    let created = job.created_at.as_deref().and_then(time::to_rfc3339_lenient);
    [
        ("workable-id", job.id.clone()),
        ("code", job.code.clone()),
        ("full-title", job.full_title.clone()),
        ("department", job.department.clone()),
        ("employment-type", job.employment_type.clone()),
        ("workplace-type", workplace),
        ("url", job.url.clone()),
        ("application-url", job.application_url.clone()),
        ("created-at", created),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.filter(|v| !v.trim().is_empty()).map(|v| Field::new(key, v)))
    .collect()
}

/// `updated_after` for `GET /jobs`: ISO 8601 basic format in UTC, whole
/// seconds (`20260501T100000Z`). Dropping the fraction moves the bound
/// earlier, so "changed at or after" still holds.
pub fn updated_after(changed_since: &str) -> Result<String, ConnectorError> {
    time::rfc3339_to_iso_basic(changed_since)
}

/// Workable stages in pipeline order; the slug is the id.
pub fn stages(mut stages: Vec<api::Stage>, job_code: Option<&str>) -> Vec<Stage> {
    // `position` is documented zero-based; sort on it anyway and renumber,
    // so a gap or a missing value cannot produce duplicate positions.
    stages.sort_by_key(|s| s.position.unwrap_or(u32::MAX));
    stages
        .into_iter()
        .zip(0u32..)
        .map(|(s, position)| Stage { id: s.slug, name: s.name, position, job_code: job_code.map(str::to_string) })
        .collect()
}

/// Profile link types Workable's `social_profiles[].type` accepts, by the
/// host the link points to.
const SOCIAL_PROFILE_HOSTS: &[(&str, &str)] = &[
    ("linkedin.com", "linkedin"),
    ("github.com", "github"),
    ("twitter.com", "twitter"),
    ("x.com", "twitter"),
    ("facebook.com", "facebook"),
    ("dribbble.com", "dribbble"),
    ("behance.net", "behance"),
    ("stackoverflow.com", "stackoverflow"),
    ("xing.com", "xing"),
];

/// The body of `POST /jobs/{shortcode}/candidates` for a push.
///
/// - `sourced: false`: the candidate applied through atsbridge, so Workable
///   files them as an applicant (stage "Applied" unless the push names one).
/// - Known profile links become `social_profiles`; other links and the
///   application's answers go to `summary` as text, because Workable's
///   `answers[]` need question keys of the job's form that a push does not
///   carry.
/// - The source goes to `domain`, Workable's "where the candidate came from".
/// - A resume is sent inline as `{name, data (base64)}`.
pub fn new_candidate(candidate: &Candidate) -> api::NewCandidateBody {
    let mut social_profiles = Vec::new();
    let mut other_links = Vec::new();
    for link in &candidate.links {
        match social_profile_type(link) {
            Some(kind) => social_profiles.push(api::SocialProfile { kind: kind.to_string(), url: link.clone() }),
            None => other_links.push(link.as_str()),
        }
    }
    let mut summary: Vec<String> = Vec::new();
    if !other_links.is_empty() {
        summary.push(format!("Links: {}", other_links.join(" ")));
    }
    summary.extend(candidate.answers.iter().map(|a| format!("{}: {}", a.question.trim(), a.answer.trim())));
    api::NewCandidateBody {
        sourced: false,
        candidate: api::NewCandidate {
            firstname: candidate.first_name.clone(),
            lastname: candidate.last_name.clone(),
            email: candidate.email.trim().to_string(),
            phone: candidate.phone.clone().filter(|p| !p.trim().is_empty()),
            summary: (!summary.is_empty()).then(|| summary.join("\n")),
            social_profiles,
            resume: candidate
                .resume
                .as_ref()
                .map(|r| api::Resume { name: r.file_name.clone(), data: r.content_base64() }),
        },
        domain: candidate.source.clone().filter(|s| !s.trim().is_empty()),
    }
}

/// The Workable profile type of a link, by its host (subdomains included).
fn social_profile_type(link: &str) -> Option<&'static str> {
    let rest = link.split_once("://").map_or(link, |(_, rest)| rest);
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .rsplit('@')
        .next()
        .unwrap_or_default()
        .split(':')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    SOCIAL_PROFILE_HOSTS
        .iter()
        .find(|(domain, _)| host == *domain || host.ends_with(&format!(".{domain}")))
        .map(|(_, kind)| *kind)
}

/// A pushed candidate as Workable reports it. Workable has one record per
/// candidate and job, so both ids of the reference are its `id`.
pub fn candidate_ref(candidate: &api::Candidate) -> CandidateRef {
    CandidateRef::new(candidate.id.clone(), candidate.id.clone())
}

/// Whether a listed candidate is the one with this e-mail on this job
/// (`GET /candidates?email=&shortcode=` filters, but check what came back).
pub fn is_same_candidate(candidate: &api::Candidate, email: &str, shortcode: &str) -> bool {
    let same_email = candidate.email.as_deref().is_none_or(|e| e.trim().eq_ignore_ascii_case(email.trim()));
    let same_job = candidate.job.as_ref().and_then(|j| j.shortcode.as_deref()).is_none_or(|s| s == shortcode);
    same_email && same_job
}

/// Where a candidate stands: withdrew → withdrawn, disqualified →
/// rejected, `hired_at` set → hired, otherwise active.
pub fn application_state(candidate: &api::Candidate) -> ApplicationState {
    if candidate.withdrew == Some(true) {
        ApplicationState::Withdrawn
    } else if candidate.disqualified == Some(true) {
        ApplicationState::Rejected
    } else if candidate.hired_at.as_deref().is_some_and(|h| !h.trim().is_empty()) {
        ApplicationState::Hired
    } else {
        ApplicationState::Active
    }
}

/// The status of a pushed candidate; `stage_name` comes from the job's
/// stages (the candidate record carries only the slug).
pub fn candidate_status(
    reference: CandidateRef,
    candidate: &api::Candidate,
    stage_name: Option<String>,
) -> CandidateStatus {
    CandidateStatus {
        ref_: reference,
        state: application_state(candidate),
        stage_id: candidate.stage.clone(),
        stage_name,
        updated_at: candidate.updated_at.as_deref().and_then(time::to_rfc3339_lenient),
    }
}

/// The status reported for a reference Workable no longer knows (deleted
/// or out of the token's reach), so one missing candidate does not fail
/// the whole batch.
pub fn missing_candidate_status(reference: CandidateRef) -> CandidateStatus {
    CandidateStatus {
        ref_: reference,
        state: ApplicationState::Other("not-found".to_string()),
        stage_id: None,
        stage_name: None,
        updated_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `GET /jobs?include_fields=description,full_description` page, as
    /// Workable documents it (plus `updated_at`, which the mock serves).
    const JOBS_PAGE: &str = r#"{
      "jobs": [
        {"id": "61884e2", "title": "Backend Engineer", "full_title": "Backend Engineer - REQ-42",
         "shortcode": "GROOV003", "code": "REQ-42", "state": "published", "sample": false,
         "department": "Engineering", "department_hierarchy": [{"id": 1, "name": "Engineering"}],
         "url": "https://acme.workable.com/j/GROOV003", "application_url": "https://acme.workable.com/j/GROOV003/apply",
         "location": {"location_str": "Berlin, Germany", "country": "Germany", "country_code": "DE",
                      "city": "Berlin", "telecommuting": false, "workplace_type": "hybrid"},
         "locations": [{"location_str": "Berlin, Germany"}, {"location_str": "Lisbon, Portugal"}],
         "created_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-02T12:30:00+02:00",
         "description": "<p>About</p>", "full_description": "<p>About</p><h3>Requirements</h3>"},
        {"id": "61884e3", "title": "Remote Designer", "shortcode": "GROOV004", "code": null,
         "state": "archived", "department": null, "location": {"location_str": "", "telecommuting": true},
         "created_at": "2024-05-03T10:00:00Z", "description": "<p>Design</p>"}
      ],
      "paging": {"next": "https://acme.workable.com/spi/v3/jobs?limit=100&since_id=61884e4"}
    }"#;

    fn page() -> api::JobsPage {
        serde_json::from_str(JOBS_PAGE).unwrap()
    }

    #[test]
    fn maps_a_published_job() {
        let mut page = page();
        assert_eq!(
            page.paging.as_ref().and_then(|p| p.next.as_deref()),
            Some("https://acme.workable.com/spi/v3/jobs?limit=100&since_id=61884e4")
        );
        let team = vec![AtsUser::new("13e0eb0e", "Eduardo Vallente", None)];
        let j = job(page.jobs.remove(0), team.clone());
        assert_eq!(j.code, "GROOV003");
        assert_eq!(j.status, JobStatus::Open);
        assert_eq!(j.raw_status, "published");
        assert_eq!(j.title, "Backend Engineer");
        assert_eq!(j.locations, vec!["Berlin, Germany", "Lisbon, Portugal"]);
        assert_eq!(j.description, "<p>About</p><h3>Requirements</h3>");
        assert_eq!(j.assigned_users, team);
        assert_eq!(j.updated_at.as_deref(), Some("2024-05-02T10:30:00Z"));
        let get = |key: &str| j.extra.iter().find(|f| f.key == key).map(|f| f.value.as_str());
        assert_eq!(get("code"), Some("REQ-42"));
        assert_eq!(get("workable-id"), Some("61884e2"));
        assert_eq!(get("department"), Some("Engineering"));
        assert_eq!(get("workplace-type"), Some("hybrid"));
        assert_eq!(get("created-at"), Some("2024-05-01T10:00:00Z"));
        assert_eq!(get("employment-type"), None);
    }

    #[test]
    fn maps_an_archived_remote_job_without_optional_fields() {
        let j = job(page().jobs.remove(1), Vec::new());
        assert_eq!(j.status, JobStatus::Closed);
        assert_eq!(j.raw_status, "archived");
        assert_eq!(j.locations, vec!["Remote"]);
        assert_eq!(j.description, "<p>Design</p>", "falls back to description");
        assert_eq!(j.updated_at, None);
        assert!(!j.extra.iter().any(|f| f.key == "code"), "null code is left out");
    }

    /// `GET /jobs/{shortcode}/members`, shaped like the account's
    /// `GET /members` (`role` and `headline` are not mapped).
    const MEMBERS: &str = r#"{"members": [
        {"id": "13e0eb0e", "name": "Eduardo Vallente", "headline": "Operations Manager",
         "email": "eduardo.vallente@workabledemo.com", "role": "admin"},
        {"id": "19782abc", "name": " Nadia Sawahla ", "headline": null, "email": " ", "role": "recruiter"},
        {"id": "13e0eb0e", "name": "Eduardo again", "email": "dup@example.com", "role": "admin"},
        {"id": "3247e8c7", "name": null, "email": "alexia@workabledemo.com", "role": "simple"},
        {"id": "3c00c3ac", "role": "simple"},
        {"id": " ", "name": "No Id", "role": "simple"}
    ]}"#;

    fn members(body: &str) -> Vec<api::Member> {
        serde_json::from_str::<api::MembersBody>(body).unwrap().into_members()
    }

    #[test]
    fn hiring_team_maps_members_to_assigned_users() {
        assert_eq!(
            hiring_team(members(MEMBERS)),
            vec![
                AtsUser::new("13e0eb0e", "Eduardo Vallente", Some("eduardo.vallente@workabledemo.com".into())),
                AtsUser::new("19782abc", "Nadia Sawahla", None),
                AtsUser::new("3247e8c7", "alexia@workabledemo.com", Some("alexia@workabledemo.com".into())),
                AtsUser::new("3c00c3ac", "3c00c3ac", None),
            ]
        );
    }

    #[test]
    fn hiring_team_reads_a_bare_array_and_empty_bodies() {
        let bare = members(r#"[{"id": "13e0eb0e", "name": "Ed", "email": "ed@x.io"}]"#);
        assert_eq!(hiring_team(bare), vec![AtsUser::new("13e0eb0e", "Ed", Some("ed@x.io".into()))]);
        assert!(hiring_team(members(r#"{"members": []}"#)).is_empty());
        assert!(hiring_team(members("{}")).is_empty());
    }

    #[test]
    fn changed_since_compares_updated_at_and_keeps_jobs_without_it() {
        let mut jobs = page().jobs;
        // 2024-05-02T12:30:00+02:00 is 10:30:00Z.
        let at = |t: &str| time::rfc3339_to_epoch_ms(t).unwrap();
        assert!(changed_since(&jobs[0], at("2024-05-02T10:30:00Z")));
        assert!(changed_since(&jobs[0], at("2024-05-02T10:29:59.500Z")));
        assert!(!changed_since(&jobs[0], at("2024-05-02T10:30:00.001Z")));
        assert_eq!(jobs[1].updated_at, None);
        assert!(changed_since(&jobs[1], at("2099-01-01T00:00:00Z")));
        jobs[1].updated_at = Some("not a time".into());
        assert!(changed_since(&jobs[1], at("2099-01-01T00:00:00Z")));
    }

    #[test]
    fn statuses() {
        assert_eq!(status("draft"), JobStatus::Draft);
        assert_eq!(status("published"), JobStatus::Open);
        assert_eq!(status("closed"), JobStatus::Closed);
        assert_eq!(status("archived"), JobStatus::Closed);
        assert_eq!(status("on_hold"), JobStatus::Other("on_hold".into()));
    }

    #[test]
    fn updated_after_is_iso_basic_utc() {
        assert_eq!(updated_after("2026-05-01T12:00:00.750+02:00").unwrap(), "20260501T100000Z");
        assert_eq!(updated_after("yesterday").unwrap_err().kind(), "permanent");
    }

    #[test]
    fn stages_are_ordered_by_position_with_slug_ids() {
        let body: api::StagesBody = serde_json::from_str(
            r#"{"stages": [
                {"slug": "interview", "name": "Interview", "kind": "interview", "position": 2},
                {"slug": "sourced", "name": "Sourced", "kind": "sourced", "position": 0},
                {"slug": "applied", "name": "Applied", "kind": "applied", "position": 1}
            ]}"#,
        )
        .unwrap();
        let stages = stages(body.stages, Some("GROOV003"));
        let ids: Vec<_> = stages.iter().map(|s| (s.id.as_str(), s.position)).collect();
        assert_eq!(ids, vec![("sourced", 0), ("applied", 1), ("interview", 2)]);
        assert_eq!(stages[0].job_code.as_deref(), Some("GROOV003"));
    }

    fn push_candidate() -> Candidate {
        Candidate {
            first_name: "Ada".into(),
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
            links: vec![
                "https://www.linkedin.com/in/ada".into(),
                "https://github.com/ada".into(),
                "https://ada.dev".into(),
            ],
            answers: vec![Answer { question: "Notice period?".into(), answer: "1 month".into() }],
        }
    }

    #[test]
    fn new_candidate_body_follows_workable_create() {
        let body = serde_json::to_value(new_candidate(&push_candidate())).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "sourced": false,
                "domain": "jobs.example.com",
                "candidate": {
                    "firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com",
                    "phone": "+44 20 0000",
                    "summary": "Links: https://ada.dev\nNotice period?: 1 month",
                    "social_profiles": [
                        {"type": "linkedin", "url": "https://www.linkedin.com/in/ada"},
                        {"type": "github", "url": "https://github.com/ada"}
                    ],
                    "resume": {"name": "cv.pdf", "data": "JVBERg=="}
                }
            })
        );
    }

    #[test]
    fn minimal_candidate_leaves_optional_fields_out() {
        let c =
            Candidate { phone: None, resume: None, source: None, links: vec![], answers: vec![], ..push_candidate() };
        let body = serde_json::to_value(new_candidate(&c)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"sourced": false, "candidate": {
                "firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com"}})
        );
    }

    #[test]
    fn social_profile_types_match_whole_host_labels() {
        assert_eq!(social_profile_type("https://de.linkedin.com/in/x"), Some("linkedin"));
        assert_eq!(social_profile_type("github.com/x"), Some("github"));
        assert_eq!(social_profile_type("https://x.com/ada"), Some("twitter"));
        assert_eq!(social_profile_type("https://notgithub.com/x"), None);
        assert_eq!(social_profile_type("https://github.com.evil.example/x"), None);
    }

    const CANDIDATE: &str = r#"{"candidate": {
        "id": "ce4da98", "name": "Ada Lovelace", "firstname": "Ada", "lastname": "Lovelace",
        "account": {"subdomain": "acme", "name": "Acme"}, "job": {"shortcode": "GROOV003", "title": "Backend Engineer"},
        "stage": "phone-screen", "stage_kind": "phone-screen", "disqualified": false, "withdrew": false,
        "disqualification_reason": null, "sourced": false, "email": "ada@example.com",
        "created_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-04T09:00:00Z", "hired_at": null}}"#;

    fn candidate(patch: serde_json::Value) -> api::Candidate {
        let mut v: serde_json::Value = serde_json::from_str(CANDIDATE).unwrap();
        for (k, val) in patch.as_object().unwrap() {
            v["candidate"][k] = val.clone();
        }
        serde_json::from_value::<api::CandidateBody>(v).unwrap().candidate
    }

    #[test]
    fn candidate_status_reads_stage_and_state() {
        let s = candidate_status(
            CandidateRef::new("ce4da98", "ce4da98"),
            &candidate(serde_json::json!({})),
            Some("Phone Screen".into()),
        );
        assert_eq!(s.ref_, CandidateRef::new("ce4da98", "ce4da98"));
        assert_eq!(s.state, ApplicationState::Active);
        assert_eq!(s.stage_id.as_deref(), Some("phone-screen"));
        assert_eq!(s.stage_name.as_deref(), Some("Phone Screen"));
        assert_eq!(s.updated_at.as_deref(), Some("2024-05-04T09:00:00Z"));
    }

    #[test]
    fn application_states() {
        let state = |patch| application_state(&candidate(patch));
        assert_eq!(state(serde_json::json!({"disqualified": true})), ApplicationState::Rejected);
        assert_eq!(state(serde_json::json!({"hired_at": "2024-06-01T00:00:00Z"})), ApplicationState::Hired);
        assert_eq!(state(serde_json::json!({"withdrew": true, "disqualified": true})), ApplicationState::Withdrawn);
        assert_eq!(state(serde_json::json!({"disqualified": null})), ApplicationState::Active);
    }

    #[test]
    fn same_candidate_checks_email_and_job() {
        let c = candidate(serde_json::json!({}));
        assert!(is_same_candidate(&c, "ADA@example.com ", "GROOV003"));
        assert!(!is_same_candidate(&c, "bob@example.com", "GROOV003"));
        assert!(!is_same_candidate(&c, "ada@example.com", "OTHER"));
    }

    #[test]
    fn missing_candidates_are_reported_not_failed() {
        let s = missing_candidate_status(CandidateRef::new("x", "x"));
        assert_eq!(s.state, ApplicationState::Other("not-found".into()));
    }
}
