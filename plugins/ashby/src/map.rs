//! Ashby's records onto the contract's, and back for new candidates.
//!
//! Pure functions only: everything here runs in native unit tests.

use atsbridge_sdk::prelude::*;
use atsbridge_sdk::time::{self, OffsetDateTime};

use crate::api;

/// An Ashby job (with its posting, when it has one) as a contract job.
///
/// | contract | Ashby |
/// |---|---|
/// | `code` | `id` |
/// | `status` | `Draft` → draft, `Open` → open, `Closed` and `Archived` → closed |
/// | `locations` | the expanded `location.name`, else the posting's `locationName` |
/// | `description` | see [`description_html`] |
/// | `assigned-users` | `hiringTeam[]`, one entry per user |
/// | `updated-at` | `updatedAt` |
/// | `extra` | see [`extra`] |
pub fn job(job: api::Job, posting: Option<&api::Posting>) -> Job {
    Job {
        status: status(&job.status),
        raw_status: job.status.clone(),
        title: job.title.clone(),
        locations: locations(&job, posting),
        description: description_html(posting),
        assigned_users: hiring_team(&job.hiring_team),
        updated_at: job.updated_at.as_deref().and_then(time::to_rfc3339_lenient),
        extra: extra(&job, posting),
        code: job.id,
    }
}

/// `Draft`, `Open`, `Closed`, `Archived`; anything else is kept as
/// [`JobStatus::Other`].
pub fn status(status: &str) -> JobStatus {
    match status {
        "Draft" => JobStatus::Draft,
        "Open" => JobStatus::Open,
        "Closed" | "Archived" => JobStatus::Closed,
        other => JobStatus::from_common(other),
    }
}

fn locations(job: &api::Job, posting: Option<&api::Posting>) -> Vec<String> {
    let from_job = job.location.as_ref().and_then(|l| l.name.clone());
    let from_posting = posting.and_then(|p| p.location_name.clone());
    from_job.or(from_posting).filter(|name| !name.trim().is_empty()).into_iter().collect()
}

/// The ad's HTML: `descriptionHtml` of the job's first posting
/// (`jobPosting.info`); empty for a job without a posting (drafts).
pub fn description_html(posting: Option<&api::Posting>) -> String {
    posting.and_then(|p| p.description_html.clone()).unwrap_or_default()
}

/// The hiring team, each user once (a user can hold several roles).
pub fn hiring_team(team: &[api::HiringTeamMember]) -> Vec<AtsUser> {
    let mut users: Vec<AtsUser> = Vec::new();
    for member in team {
        if users.iter().any(|u| u.ats_id == member.user_id) {
            continue;
        }
        let name = [&member.first_name, &member.last_name]
            .into_iter()
            .flatten()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let name = if name.is_empty() { member.email.clone().unwrap_or_else(|| member.user_id.clone()) } else { name };
        users.push(AtsUser::new(&member.user_id, name, member.email.clone()));
    }
    users
}

/// Ashby fields worth keeping, under stable kebab-case keys:
/// `requisition-id` (`customRequisitionId`), `employment-type`,
/// `department` and `team` (from the posting), `department-id`,
/// `location-id`, `workplace-type`, `confidential`, `job-posting-id`,
/// `job-posting-listed` (whether the ad is public), `interview-plan-id`, `created-at`, `opened-at`, `closed-at` (RFC 3339).
pub fn extra(job: &api::Job, posting: Option<&api::Posting>) -> Vec<Field> {
    let instant = |t: &Option<String>| t.as_deref().and_then(time::to_rfc3339_lenient);
    let workplace = job
        .location
        .as_ref()
        .and_then(|l| l.workplace_type.clone())
        .or_else(|| posting.and_then(|p| p.workplace_type.clone()));
    [
        ("requisition-id", job.custom_requisition_id.clone()),
        ("employment-type", job.employment_type.clone()),
        ("department", posting.and_then(|p| p.department_name.clone())),
        ("team", posting.and_then(|p| p.team_name.clone())),
        ("department-id", job.department_id.clone()),
        ("location-id", job.location_id.clone()),
        ("workplace-type", workplace),
        ("confidential", job.confidential.map(|c| c.to_string())),
        ("job-posting-id", posting.map(|p| p.id.clone())),
        ("job-posting-listed", posting.and_then(|p| p.is_listed).map(|l| l.to_string())),
        ("interview-plan-id", job.default_interview_plan_id.clone()),
        ("created-at", instant(&job.created_at)),
        ("opened-at", instant(&job.opened_at)),
        ("closed-at", instant(&job.closed_at)),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.filter(|v| !v.trim().is_empty()).map(|v| Field::new(key, v)))
    .collect()
}

/// Whether a job belongs in a listing asked for changes at or after
/// `since`. `job.list` has no "updated after" filter, so the connector
/// filters on `updatedAt` itself; a job without a readable `updatedAt` is
/// kept (a spurious update is cheaper than a missed one).
pub fn changed_since(job: &api::Job, since: Option<OffsetDateTime>) -> bool {
    let Some(since) = since else { return true };
    job.updated_at
        .as_deref()
        .and_then(time::to_rfc3339_lenient)
        .and_then(|t| time::parse_rfc3339(&t).ok())
        .is_none_or(|updated| updated >= since)
}

/// An interview plan's stages in order (`orderInInterviewPlan`,
/// renumbered from 0).
pub fn stages(mut stages: Vec<api::InterviewStage>, job_code: Option<&str>) -> Vec<Stage> {
    stages.sort_by_key(|s| s.order_in_interview_plan.unwrap_or(i64::MAX));
    stages
        .into_iter()
        .zip(0u32..)
        .map(|(s, position)| Stage { id: s.id, name: s.title, position, job_code: job_code.map(str::to_string) })
        .collect()
}

/// The `candidate.create` body for a push: the full name, the e-mail,
/// the phone, and the profile links Ashby has fields for (the first
/// LinkedIn and GitHub link, the first other link as `website`).
pub fn new_candidate(candidate: &Candidate) -> api::NewCandidate {
    let mut new = api::NewCandidate {
        name: format!("{} {}", candidate.first_name.trim(), candidate.last_name.trim()).trim().to_string(),
        email: candidate.email.trim().to_string(),
        phone_number: candidate.phone.clone().filter(|p| !p.trim().is_empty()),
        linked_in_url: None,
        github_url: None,
        website: None,
    };
    for link in &candidate.links {
        let slot = match link_host(link) {
            h if is_domain(&h, "linkedin.com") => &mut new.linked_in_url,
            h if is_domain(&h, "github.com") => &mut new.github_url,
            _ => &mut new.website,
        };
        slot.get_or_insert_with(|| link.clone());
    }
    new
}

/// The lower-case host of a link, with or without a scheme.
fn link_host(link: &str) -> String {
    let rest = link.split_once("://").map_or(link, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    host.split(':').next().unwrap_or_default().to_ascii_lowercase()
}

/// `host` is `domain` or one of its subdomains.
fn is_domain(host: &str, domain: &str) -> bool {
    host == domain || host.strip_suffix(domain).is_some_and(|rest| rest.ends_with('.'))
}

/// The candidate among `candidate.search` results that has `email`.
pub fn candidate_with_email(candidates: Vec<api::Candidate>, email: &str) -> Option<api::Candidate> {
    let email = email.trim();
    candidates.into_iter().find(|c| {
        c.primary_email_address.iter().chain(&c.email_addresses).any(|e| e.value.trim().eq_ignore_ascii_case(email))
    })
}

/// Where an application stands: `Hired` → hired; `Archived` → withdrawn
/// when the archive reason is the candidate's, rejected otherwise;
/// `Active` and `Lead` → active (the stage says how far).
pub fn application_state(application: &api::Application) -> ApplicationState {
    match application.status.as_str() {
        "Hired" => ApplicationState::Hired,
        "Archived" => {
            let by_candidate = application.archive_reason.as_ref().and_then(|r| r.reason_type.as_deref())
                == Some("RejectedByCandidate");
            if by_candidate { ApplicationState::Withdrawn } else { ApplicationState::Rejected }
        }
        "Active" | "Lead" => ApplicationState::Active,
        other => ApplicationState::Other(other.to_string()),
    }
}

/// The status of a pushed candidate's application.
pub fn candidate_status(reference: CandidateRef, application: &api::Application) -> CandidateStatus {
    let stage = application.current_interview_stage.as_ref();
    CandidateStatus {
        ref_: reference,
        state: application_state(application),
        stage_id: stage.map(|s| s.id.clone()),
        stage_name: stage.map(|s| s.title.clone()),
        updated_at: application.updated_at.as_deref().and_then(time::to_rfc3339_lenient),
    }
}

/// The status reported for an application Ashby no longer shows (deleted,
/// or hidden from the key), so one missing application does not fail the
/// whole batch.
pub fn missing_application_status(reference: CandidateRef) -> CandidateStatus {
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

    /// A `job.list` page with `expand: ["location"]`, as Ashby documents it.
    const JOB_LIST: &str = r#"{
      "success": true, "moreDataAvailable": false, "syncToken": "tok1",
      "results": [
        {"id": "3ae2b801-19f6-41ef-ad28-214bd731948f", "title": "Backend Engineer", "confidential": false,
         "status": "Open", "employmentType": "FullTime", "locationId": "loc1", "departmentId": "dep1",
         "defaultInterviewPlanId": "plan1", "interviewPlanIds": ["plan1"], "customFields": [],
         "jobPostingIds": ["post1"], "customRequisitionId": "REQ-42",
         "hiringTeam": [
           {"userId": "u1", "firstName": "Ann", "lastName": "Bell", "email": "ann@x.io", "role": "Recruiter"},
           {"userId": "u1", "firstName": "Ann", "lastName": "Bell", "email": "ann@x.io", "role": "Coordinator"},
           {"userId": "u2", "firstName": null, "lastName": null, "email": "cy@x.io", "role": "Hiring Manager"}
         ],
         "author": {"id": "u1"}, "createdAt": "2024-04-01T10:00:00.000Z", "updatedAt": "2024-05-01T10:00:00.000Z",
         "openedAt": "2024-04-02T10:00:00.000Z", "closedAt": null,
         "location": {"id": "loc1", "name": "Berlin", "externalName": "Berlin, Germany", "isArchived": false,
                      "workplaceType": "Hybrid"}},
        {"id": "job2", "title": "Draft Role", "status": "Draft", "jobPostingIds": [], "hiringTeam": [],
         "updatedAt": "2024-03-01T10:00:00.000Z"}
      ]
    }"#;

    const POSTING: &str = r#"{"success": true, "results": {
        "id": "post1", "title": "Backend Engineer", "jobId": "3ae2b801-19f6-41ef-ad28-214bd731948f",
        "departmentName": "Engineering", "teamName": "Platform", "locationName": "Berlin",
        "workplaceType": "Hybrid", "employmentType": "FullTime", "isListed": true,
        "descriptionHtml": "<p>Build things</p>", "descriptionPlain": "Build things"}}"#;

    fn jobs() -> Vec<api::Job> {
        serde_json::from_str::<api::Envelope<Vec<api::Job>>>(JOB_LIST).unwrap().results.unwrap()
    }

    fn posting() -> api::Posting {
        serde_json::from_str::<api::Envelope<api::Posting>>(POSTING).unwrap().results.unwrap()
    }

    #[test]
    fn maps_an_open_job_with_its_posting() {
        let posting = posting();
        let j = job(jobs().remove(0), Some(&posting));
        assert_eq!(j.code, "3ae2b801-19f6-41ef-ad28-214bd731948f");
        assert_eq!(j.status, JobStatus::Open);
        assert_eq!(j.raw_status, "Open");
        assert_eq!(j.title, "Backend Engineer");
        assert_eq!(j.locations, vec!["Berlin"]);
        assert_eq!(j.description, "<p>Build things</p>");
        assert_eq!(
            j.assigned_users,
            vec![
                AtsUser::new("u1", "Ann Bell", Some("ann@x.io".into())),
                AtsUser::new("u2", "cy@x.io", Some("cy@x.io".into())),
            ]
        );
        assert_eq!(j.updated_at.as_deref(), Some("2024-05-01T10:00:00Z"));
        let get = |key: &str| j.extra.iter().find(|f| f.key == key).map(|f| f.value.as_str());
        assert_eq!(get("requisition-id"), Some("REQ-42"));
        assert_eq!(get("employment-type"), Some("FullTime"));
        assert_eq!(get("department"), Some("Engineering"));
        assert_eq!(get("team"), Some("Platform"));
        assert_eq!(get("workplace-type"), Some("Hybrid"));
        assert_eq!(get("confidential"), Some("false"));
        assert_eq!(get("job-posting-id"), Some("post1"));
        assert_eq!(get("job-posting-listed"), Some("true"));
        assert_eq!(get("opened-at"), Some("2024-04-02T10:00:00Z"));
        assert_eq!(get("closed-at"), None);
    }

    #[test]
    fn maps_a_draft_without_posting() {
        let j = job(jobs().remove(1), None);
        assert_eq!(j.status, JobStatus::Draft);
        assert!(j.locations.is_empty());
        assert_eq!(j.description, "");
        assert!(j.assigned_users.is_empty());
    }

    #[test]
    fn statuses() {
        assert_eq!(status("Draft"), JobStatus::Draft);
        assert_eq!(status("Open"), JobStatus::Open);
        assert_eq!(status("Closed"), JobStatus::Closed);
        assert_eq!(status("Archived"), JobStatus::Closed);
        assert_eq!(status("Paused"), JobStatus::Other("Paused".into()));
    }

    #[test]
    fn changed_since_filters_on_updated_at() {
        let jobs = jobs();
        let since = |t: &str| Some(time::parse_rfc3339(t).unwrap());
        assert!(changed_since(&jobs[0], None));
        assert!(changed_since(&jobs[0], since("2024-05-01T10:00:00Z")), "inclusive");
        assert!(!changed_since(&jobs[0], since("2024-05-01T10:00:00.001Z")));
        assert!(!changed_since(&jobs[1], since("2024-04-01T00:00:00Z")));
        let mut undated = jobs.into_iter().next().unwrap();
        undated.updated_at = None;
        assert!(changed_since(&undated, since("2030-01-01T00:00:00Z")), "kept when unknown");
    }

    #[test]
    fn stages_follow_the_interview_plan_order() {
        let body: api::Envelope<Vec<api::InterviewStage>> = serde_json::from_str(
            r#"{"success": true, "moreDataAvailable": false, "results": [
                {"id": "s3", "title": "Offer", "type": "Offer", "orderInInterviewPlan": 1006, "interviewPlanId": "p"},
                {"id": "s1", "title": "Lead", "type": "Lead", "orderInInterviewPlan": 0, "interviewPlanId": "p"},
                {"id": "s2", "title": "Onsite", "type": "Active", "orderInInterviewPlan": 4, "interviewPlanId": "p"}
            ]}"#,
        )
        .unwrap();
        let stages = stages(body.results.unwrap(), Some("job1"));
        let got: Vec<_> = stages.iter().map(|s| (s.id.as_str(), s.name.as_str(), s.position)).collect();
        assert_eq!(got, vec![("s1", "Lead", 0), ("s2", "Onsite", 1), ("s3", "Offer", 2)]);
        assert_eq!(stages[0].job_code.as_deref(), Some("job1"));
    }

    #[test]
    fn new_candidate_uses_ashby_fields() {
        let c = Candidate {
            first_name: " Ada ".into(),
            last_name: "Lovelace".into(),
            email: "ada@example.com".into(),
            phone: Some("+44 1".into()),
            resume: None,
            resume_url: None,
            source: Some("Board".into()),
            links: vec![
                "https://ada.dev".into(),
                "https://uk.linkedin.com/in/ada".into(),
                "github.com/ada".into(),
                "https://github.com/other".into(),
                "https://blog.ada.dev".into(),
            ],
            answers: vec![],
        };
        assert_eq!(
            serde_json::to_value(new_candidate(&c)).unwrap(),
            serde_json::json!({
                "name": "Ada Lovelace", "email": "ada@example.com", "phoneNumber": "+44 1",
                "linkedInUrl": "https://uk.linkedin.com/in/ada", "githubUrl": "github.com/ada",
                "website": "https://ada.dev"
            })
        );
        assert!(!is_domain("notlinkedin.com", "linkedin.com"));
    }

    #[test]
    fn search_results_must_have_the_email() {
        let found: api::Envelope<Vec<api::Candidate>> = serde_json::from_str(
            r#"{"success": true, "results": [
                {"id": "c1", "name": "Ada L", "primaryEmailAddress": {"value": "other@example.com", "type": "Personal", "isPrimary": true},
                 "emailAddresses": [], "applicationIds": []},
                {"id": "c2", "name": "Ada Lovelace", "primaryEmailAddress": null,
                 "emailAddresses": [{"value": "ADA@example.com", "type": "Work", "isPrimary": false}],
                 "applicationIds": ["a1"], "resumeFileHandle": {"id": "f", "name": "cv.pdf", "handle": "h"}}
            ]}"#,
        )
        .unwrap();
        let c = candidate_with_email(found.results.unwrap(), " ada@example.com").unwrap();
        assert_eq!(c.id, "c2");
        assert_eq!(c.application_ids, vec!["a1"]);
        assert!(c.resume_file_handle.is_some());
        assert!(candidate_with_email(vec![], "ada@example.com").is_none());
    }

    const APPLICATION: &str = r#"{"success": true, "results": {
        "id": "a1", "createdAt": "2024-05-01T10:00:00.000Z", "updatedAt": "2024-05-03T08:00:00.000Z",
        "status": "Active", "customFields": [], "candidate": {"id": "c2", "name": "Ada Lovelace"},
        "currentInterviewStage": {"id": "s2", "title": "Recruiter Screen", "type": "Active",
                                  "orderInInterviewPlan": 2, "interviewStageGroupId": "g", "interviewPlanId": "p"},
        "source": null, "archiveReason": null, "archivedAt": null, "job": {"id": "job1", "title": "Backend"},
        "hiringTeam": []}}"#;

    fn application(patch: serde_json::Value) -> api::Application {
        let mut v: serde_json::Value = serde_json::from_str(APPLICATION).unwrap();
        for (k, val) in patch.as_object().unwrap() {
            v["results"][k] = val.clone();
        }
        serde_json::from_value::<api::Envelope<api::Application>>(v).unwrap().results.unwrap()
    }

    #[test]
    fn candidate_status_reads_the_application() {
        let s = candidate_status(CandidateRef::new("c2", "a1"), &application(serde_json::json!({})));
        assert_eq!(s.ref_, CandidateRef::new("c2", "a1"));
        assert_eq!(s.state, ApplicationState::Active);
        assert_eq!(s.stage_id.as_deref(), Some("s2"));
        assert_eq!(s.stage_name.as_deref(), Some("Recruiter Screen"));
        assert_eq!(s.updated_at.as_deref(), Some("2024-05-03T08:00:00Z"));
    }

    #[test]
    fn application_states() {
        let state = |patch| application_state(&application(patch));
        assert_eq!(state(serde_json::json!({"status": "Hired"})), ApplicationState::Hired);
        assert_eq!(state(serde_json::json!({"status": "Lead"})), ApplicationState::Active);
        assert_eq!(
            state(serde_json::json!({"status": "Archived",
                "archiveReason": {"id": "r", "text": "Not a fit", "reasonType": "RejectedByOrg"}})),
            ApplicationState::Rejected
        );
        assert_eq!(
            state(serde_json::json!({"status": "Archived",
                "archiveReason": {"id": "r", "text": "Took another offer", "reasonType": "RejectedByCandidate"}})),
            ApplicationState::Withdrawn
        );
        assert_eq!(state(serde_json::json!({"status": "Archived"})), ApplicationState::Rejected);
        assert_eq!(state(serde_json::json!({"status": "Converted"})), ApplicationState::Other("Converted".into()));
    }

    #[test]
    fn missing_applications_are_reported_not_failed() {
        let s = missing_application_status(CandidateRef::new("c", "a"));
        assert_eq!(s.state, ApplicationState::Other("not-found".into()));
    }
}
