//! Greenhouse objects onto the atsbridge contract, and candidates onto
//! Harvest's create bodies. Pure functions: no host calls, tested natively.
//!
//! | contract | Greenhouse |
//! |---|---|
//! | `job.code` | job `id` |
//! | `job.status` / `raw-status` | `status` (`open`, `closed`, `draft`) |
//! | `job.title` | `name` |
//! | `job.locations` | `offices[].location.name`, else `offices[].name` |
//! | `job.description` | the best job post's `content` (see [`descriptions_by_job`]) |
//! | `job.assigned-users` | `hiring_team`: hiring managers, recruiters, coordinators, sourcers |
//! | `job.updated-at` | `updated_at` |
//! | `job.extra` | `requisition-id`, `department`, `office`, `openings`, `confidential`, `opened-at`, `closed-at`, `custom.<field key>` |
//! | `stage` | job stage `id`, `name`, position by `priority`, `job_id` |
//! | `candidate-status` | application `status`, `current_stage`, `last_activity_at` |

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use atsbridge_sdk::prelude::*;
use atsbridge_sdk::time::to_rfc3339_lenient;

use crate::api;

/// The state reported for a pushed candidate whose application Greenhouse
/// no longer has (deleted, or merged away).
pub const DELETED_STATE: &str = "deleted";

/// Hosts whose profile links Greenhouse keeps as social media addresses;
/// every other link is a website address.
const SOCIAL_MEDIA_HOSTS: &[&str] =
    &["linkedin.com", "twitter.com", "x.com", "facebook.com", "instagram.com", "xing.com"];

/// A Harvest job, with the description taken from its job posts.
pub fn job(job: api::Job<'_>, description: String) -> Job {
    let extra = extra(&job);
    Job {
        status: JobStatus::from_common(&job.status),
        locations: locations(&job.offices),
        assigned_users: hiring_team(&job.hiring_team),
        updated_at: job.updated_at.as_deref().and_then(to_rfc3339_lenient),
        extra,
        code: job.id.0,
        raw_status: job.status.into_string(),
        title: job.name.into_string(),
        description,
    }
}

/// Office locations (the office's name when it has no location), without
/// repeats, in Greenhouse's order.
fn locations(offices: &[api::Office<'_>]) -> Vec<String> {
    let names = offices.iter().filter_map(|o| {
        o.location.as_ref().and_then(|l| l.name.as_deref()).or(o.name.as_deref()).filter(|n| !n.trim().is_empty())
    });
    unique(names).into_iter().map(str::to_string).collect()
}

/// Everyone on the hiring team, each once, managers first.
fn hiring_team(team: &api::HiringTeam<'_>) -> Vec<AtsUser> {
    // A team is a handful of people: a scan beats hashing every id.
    let mut seen: Vec<&str> = Vec::new();
    [&team.hiring_managers, &team.recruiters, &team.coordinators, &team.sourcers]
        .into_iter()
        .flatten()
        .filter(|m| {
            let new = !seen.contains(&m.id.0.as_str());
            if new {
                seen.push(&m.id.0);
            }
            new
        })
        .map(|m| {
            let name = match m.name.as_deref().filter(|n| !n.is_empty()) {
                Some(name) => name.to_string(),
                None => [m.first_name.as_deref(), m.last_name.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            AtsUser::new(m.id.0.clone(), name, None)
        })
        .collect()
}

fn extra(job: &api::Job<'_>) -> Vec<Field> {
    let mut extra = Vec::new();
    let mut add = |key: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
            extra.push(Field::new(key, value));
        }
    };
    add("requisition-id", job.requisition_id.as_ref().and_then(text_or_number));
    add("department", joined(job.departments.iter().filter_map(|d| d.name.as_deref())));
    add("office", joined(job.offices.iter().filter_map(|o| o.name.as_deref())));
    add("openings", joined(job.openings.iter().filter_map(|o| o.opening_id.as_deref())));
    add("confidential", job.confidential.map(|c| c.to_string()));
    add("opened-at", job.opened_at.as_deref().and_then(to_rfc3339_lenient));
    add("closed-at", job.closed_at.as_deref().and_then(to_rfc3339_lenient));
    for (key, value) in &job.custom_fields {
        add(&format!("custom.{}", key.as_str()), scalar_text(value));
    }
    extra
}

/// A requisition id as text: a string as written, a number in decimal,
/// anything else left out.
fn text_or_number(value: &api::Scalar<'_>) -> Option<String> {
    match value {
        api::Scalar::Text(s) => Some(s.to_string()),
        api::Scalar::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A custom field's value as text: scalars as written, lists of scalars
/// comma-separated, anything else (objects, nulls) left out.
fn scalar_text(value: &api::Scalar<'_>) -> Option<String> {
    match value {
        api::Scalar::Text(s) => Some(s.to_string()),
        api::Scalar::Number(n) => Some(n.to_string()),
        api::Scalar::Bool(b) => Some(b.to_string()),
        api::Scalar::List(items) => {
            let texts: Vec<String> = items
                .iter()
                .filter_map(|v| match v {
                    api::Scalar::List(_) => None,
                    scalar => scalar_text(scalar),
                })
                .collect();
            joined(texts.iter().map(String::as_str))
        }
        api::Scalar::Other => None,
    }
}

fn joined<'s>(items: impl Iterator<Item = &'s str>) -> Option<String> {
    let items = unique(items);
    (!items.is_empty()).then(|| items.join(", "))
}

/// The items without repeats, first occurrences in order. The lists are
/// a job's few offices, departments or openings: a scan of the kept items
/// is cheaper than hashing each one.
fn unique<'s>(items: impl Iterator<Item = &'s str>) -> Vec<&'s str> {
    let mut kept: Vec<&str> = Vec::new();
    for item in items {
        if !kept.contains(&item) {
            kept.push(item);
        }
    }
    kept
}

/// Where a post stands among a job's posts for its description, 0 best:
/// a live post first, then an active external one, then an active one,
/// then any.
fn post_rank(p: &api::JobPost<'_>) -> u8 {
    let live = p.live == Some(true);
    let active = p.active == Some(true);
    let external = p.external != Some(false);
    match (live, active, external) {
        (true, _, _) => 0,
        (false, true, true) => 1,
        (false, true, false) => 2,
        _ => 3,
    }
}

/// The hasher of the maps `list-jobs` uses: unseeded, so listing draws no
/// randomness (the default `RandomState` reads the host's random seed) and
/// the host may replay unchanged pages (manifest
/// `listing.replay-unchanged-pages`). The keys are the ATS's job ids of one
/// page, a few hundred at most, so flooding one bucket costs little; SipHash
/// with fixed (public) keys would not stop that either, and costs more.
pub(crate) type FixedState = rustc_hash::FxBuildHasher;

/// The best description found so far for each job of a page (see
/// [`Descriptions::offer`]), keyed by job id; the text borrows from the
/// job posts' response body where it can.
#[derive(Debug, Default)]
pub struct Descriptions<'a> {
    best: HashMap<String, (u8, Cow<'a, str>), FixedState>,
}

impl<'a> Descriptions<'a> {
    /// Considers `post` for its job: Greenhouse keeps the advertisement
    /// text on posts, not on the job. A job with several posts gets the one
    /// candidates most likely see (see [`post_rank`]); among equals the
    /// first. The post's `content` (HTML) is used, or its
    /// `internal_content` when `content` is empty. Posts without a job
    /// (prospect posts) are ignored.
    pub fn offer(&mut self, post: api::JobPost<'a>) {
        let rank = post_rank(&post);
        let Some(job_id) = post.job_id else {
            return;
        };
        if self.best.get(&job_id.0).is_some_and(|(held, _)| *held <= rank) {
            return;
        }
        // Moved, not copied: a description is kilobytes of HTML.
        let text = [post.content, post.internal_content]
            .into_iter()
            .flatten()
            .find(|t| !t.trim().is_empty())
            .map_or(Cow::Borrowed(""), |t| t.0);
        self.best.insert(job_id.0, (rank, text));
    }

    /// Takes the description of job `id`: empty when it has none.
    pub fn take(&mut self, id: &str) -> String {
        self.best.remove(id).map(|(_, text)| text.into_owned()).unwrap_or_default()
    }

    /// How many jobs have a description.
    pub fn len(&self) -> usize {
        self.best.len()
    }

    /// Whether no job has one.
    pub fn is_empty(&self) -> bool {
        self.best.is_empty()
    }
}

/// The description of each job, from its job posts (see
/// [`Descriptions::offer`]).
pub fn descriptions_by_job<'a>(posts: impl IntoIterator<Item = api::JobPost<'a>>) -> Descriptions<'a> {
    let mut descriptions = Descriptions::default();
    for post in posts {
        descriptions.offer(post);
    }
    descriptions
}

/// Job stages onto the contract: deleted stages (`active: false`) dropped,
/// each job's stages in `priority` order, positions counted per job from 0.
/// `job_code` names the job when the stages were listed for one job.
pub fn stages(list: Vec<api::Stage>, job_code: Option<&str>) -> Vec<Stage> {
    let mut by_job: BTreeMap<Option<String>, Vec<api::Stage>> = BTreeMap::new();
    for stage in list.into_iter().filter(|s| s.active != Some(false)) {
        let job = stage.job_id.as_ref().map(|j| j.0.clone()).or_else(|| job_code.map(str::to_string));
        by_job.entry(job).or_default().push(stage);
    }
    by_job
        .into_iter()
        .flat_map(|(job, mut stages)| {
            // Stable: stages without a priority keep Greenhouse's order, last.
            stages.sort_by_key(|s| s.priority.unwrap_or(i64::MAX));
            stages.into_iter().zip(0u32..).map(move |(s, position)| Stage {
                id: s.id.0,
                name: s.name,
                position,
                job_code: job.clone(),
            })
        })
        .collect()
}

/// Whether `application` is for the job `job_id`.
pub fn applied_to(application: &api::Application, job_id: &str) -> bool {
    application.job_id.as_ref().is_some_and(|j| j.0 == job_id) || application.jobs.iter().any(|j| j.id.0 == job_id)
}

/// An application's state and stage as the contract reports them.
pub fn candidate_status(candidate: CandidateRef, application: &api::Application) -> CandidateStatus {
    let stage = application.current_stage.as_ref();
    CandidateStatus {
        ref_: candidate,
        state: application
            .status
            .as_deref()
            .map_or(ApplicationState::Other(String::new()), ApplicationState::from_common),
        stage_id: stage.and_then(|s| s.id.as_ref()).map(|id| id.0.clone()),
        stage_name: stage.and_then(|s| s.name.clone()),
        updated_at: application
            .last_activity_at
            .as_deref()
            .or(application.updated_at.as_deref())
            .and_then(to_rfc3339_lenient),
    }
}

/// The status of a pushed candidate whose application is gone.
pub fn deleted_status(candidate: CandidateRef) -> CandidateStatus {
    CandidateStatus {
        ref_: candidate,
        state: ApplicationState::Other(DELETED_STATE.to_string()),
        stage_id: None,
        stage_name: None,
        updated_at: None,
    }
}

/// A Harvest id given as contract text (a job code, a stage id, the
/// acting user): Harvest wants integers.
pub fn harvest_id(what: &str, value: &str) -> Result<u64, ConnectorError> {
    value.trim().parse().map_err(|_| {
        ConnectorError::NotFound(format!("{what} `{value}` is not a Greenhouse id (Greenhouse ids are integers)"))
    })
}

/// The body of `POST /v3/candidates` for a pushed candidate: the person,
/// their resume, a note with the source and answers, and one application
/// on the job (in `stage_id` when given).
pub fn new_candidate(push: &PushRequest, acting_user: u64) -> Result<api::NewCandidate, ConnectorError> {
    let c = &push.candidate;
    let (social, websites): (Vec<&String>, Vec<&String>) =
        c.links.iter().filter(|l| !l.trim().is_empty()).partition(|l| is_social(l));
    Ok(api::NewCandidate {
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        email_addresses: vec![api::TypedValue { value: c.email.clone(), kind: "personal" }],
        phone_numbers: c
            .phone
            .iter()
            .filter(|p| !p.trim().is_empty())
            .map(|p| api::TypedValue { value: p.clone(), kind: "mobile" })
            .collect(),
        website_addresses: websites
            .into_iter()
            .map(|w| api::TypedValue { value: w.clone(), kind: "personal" })
            .collect(),
        social_media_addresses: social.into_iter().map(|s| api::Address { value: s.clone() }).collect(),
        attachments: resume(c),
        activity_feed_notes: note(c)
            .map(|body| api::NewNote { user_id: acting_user, body, visibility: "public" })
            .into_iter()
            .collect(),
        applications: vec![api::NewApplication {
            job_id: harvest_id("job code", &push.job_code)?,
            initial_stage_id: stage_id(push)?,
        }],
    })
}

/// The body of `POST /v3/applications` for a person Greenhouse already has.
pub fn new_application(
    push: &PushRequest,
    candidate_id: &api::Id,
) -> Result<api::NewCandidateApplication, ConnectorError> {
    Ok(api::NewCandidateApplication {
        candidate_id: harvest_id("candidate id", &candidate_id.0)?,
        job_id: harvest_id("job code", &push.job_code)?,
        initial_stage_id: stage_id(push)?,
        attachments: resume(&push.candidate),
    })
}

fn stage_id(push: &PushRequest) -> Result<Option<u64>, ConnectorError> {
    push.stage_id.as_deref().map(|s| harvest_id("stage id", s)).transpose()
}

fn resume(c: &Candidate) -> Vec<api::NewAttachment> {
    c.resume
        .iter()
        .map(|r| api::NewAttachment {
            filename: r.file_name.clone(),
            kind: "resume",
            content: r.content_base64(),
            content_type: r.content_type.clone(),
        })
        .collect()
}

/// The source and the application answers as a note: Harvest sets a
/// source only by id and has no free-form answers on a new candidate.
fn note(c: &Candidate) -> Option<String> {
    let mut lines = Vec::new();
    if let Some(source) = c.source.as_deref().filter(|s| !s.trim().is_empty()) {
        lines.push(format!("Source: {source}"));
    }
    for a in &c.answers {
        lines.push(format!("{}\n{}", a.question, a.answer));
    }
    (!lines.is_empty()).then(|| lines.join("\n\n"))
}

fn is_social(link: &str) -> bool {
    let rest = link.split_once("://").map_or(link, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default().to_ascii_lowercase();
    SOCIAL_MEDIA_HOSTS.iter().any(|s| host == *s || host.ends_with(&format!(".{s}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The job of ats-apis.md section 1.1, as Harvest serves it.
    const JOB: &str = r#"{"id": 101, "name": "Backend Engineer", "requisition_id": "REQ-42", "status": "open",
        "updated_at": "2024-05-01T10:00:00Z", "confidential": false,
        "departments": [{"id": 3, "name": "Engineering"}],
        "offices": [{"id": 7, "name": "Berlin", "location": {"name": "Berlin, DE"}}, {"id": 8, "name": "Remote", "location": null}],
        "hiring_team": {"hiring_managers": [{"id": 5, "name": "A B"}], "recruiters": [{"id": 6, "first_name": "C", "last_name": "D", "responsible": true}],
                        "coordinators": [{"id": 5, "name": "A B"}], "sourcers": []},
        "openings": [{"id": 900, "opening_id": "1-1", "status": "open"}],
        "custom_fields": {"employment_type": "Full-time", "budget": 120000, "tags": ["a", "b"], "approver": {"id": 1}, "empty": null}}"#;

    fn decode<'a, T: serde::Deserialize<'a>>(json: &'a str) -> T {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn maps_a_job() {
        let job = job(decode(JOB), "<p>Build things.</p>".into());
        assert_eq!(job.code, "101");
        assert_eq!(job.status, JobStatus::Open);
        assert_eq!(job.raw_status, "open");
        assert_eq!(job.title, "Backend Engineer");
        assert_eq!(job.locations, vec!["Berlin, DE", "Remote"]);
        assert_eq!(job.description, "<p>Build things.</p>");
        assert_eq!(
            job.assigned_users,
            vec![AtsUser::new("5", "A B", None), AtsUser::new("6", "C D", None)],
            "each member once, managers first, names built from parts"
        );
        assert_eq!(job.updated_at.as_deref(), Some("2024-05-01T10:00:00Z"));
        let extra: Vec<(&str, &str)> = job.extra.iter().map(|f| (f.key.as_str(), f.value.as_str())).collect();
        assert_eq!(
            extra,
            vec![
                ("requisition-id", "REQ-42"),
                ("department", "Engineering"),
                ("office", "Berlin, Remote"),
                ("openings", "1-1"),
                ("confidential", "false"),
                ("custom.budget", "120000"),
                ("custom.employment_type", "Full-time"),
                ("custom.tags", "a, b"),
            ]
        );
    }

    #[test]
    fn lean_jobs_decode_and_unknown_statuses_are_kept() {
        let job = job(
            decode(
                r#"{"id": "7", "name": null, "status": "archived", "departments": null, "hiring_team": null,
                                 "updated_at": "2024-05-01T12:00:00.000+02:00", "requisition_id": 42}"#,
            ),
            String::new(),
        );
        assert_eq!(job.code, "7");
        assert_eq!(job.status, JobStatus::Other("archived".into()));
        assert_eq!(job.updated_at.as_deref(), Some("2024-05-01T10:00:00Z"));
        assert!(job.assigned_users.is_empty() && job.locations.is_empty());
        assert_eq!(job.extra, vec![Field::new("requisition-id", "42")]);
    }

    #[test]
    fn the_description_comes_from_the_best_post() {
        let posts: Vec<api::JobPost> = decode(
            r#"[{"id": 1, "job_id": 101, "content": "<p>internal</p>", "live": false, "active": true, "external": false},
                {"id": 2, "job_id": 101, "content": "<p>live</p>", "live": true, "active": true, "external": true},
                {"id": 3, "job_id": 101, "content": "<p>old</p>", "live": false, "active": false},
                {"id": 4, "job_id": 102, "content": "", "internal_content": "<p>inside</p>", "active": true},
                {"id": 5, "job_id": null, "content": "<p>prospect post</p>", "live": true}]"#,
        );
        let mut d = descriptions_by_job(posts);
        assert_eq!(d.len(), 2, "posts without a job are prospect posts");
        assert_eq!(d.take("101"), "<p>live</p>");
        assert_eq!(d.take("102"), "<p>inside</p>");
        assert_eq!(d.take("103"), "");
    }

    #[test]
    fn stages_are_ordered_per_job_without_deleted_ones() {
        let list: Vec<api::Stage> = decode(
            r#"[{"id": 12, "name": "Offer", "job_id": 1, "priority": 2, "active": true},
                {"id": 10, "name": "Application Review", "job_id": 1, "priority": 0},
                {"id": 11, "name": "Old", "job_id": 1, "priority": 1, "active": false},
                {"id": 20, "name": "Screen", "job_id": 2, "priority": 0}]"#,
        );
        let stages = stages(list, None);
        let got: Vec<(&str, u32, Option<&str>)> =
            stages.iter().map(|s| (s.id.as_str(), s.position, s.job_code.as_deref())).collect();
        assert_eq!(got, vec![("10", 0, Some("1")), ("12", 1, Some("1")), ("20", 0, Some("2"))]);
        let one: Vec<api::Stage> = decode(r#"[{"id": 5, "name": "Screen"}]"#);
        assert_eq!(stages_job(one, "9"), Some("9".to_string()));
    }

    fn stages_job(list: Vec<api::Stage>, code: &str) -> Option<String> {
        stages(list, Some(code)).remove(0).job_code
    }

    #[test]
    fn application_status_and_job_matching() {
        let app: api::Application = decode(
            r#"{"id": 555, "candidate_id": 77, "status": "rejected", "jobs": [{"id": 101, "name": "Backend"}],
                "current_stage": {"id": 1010, "name": "Phone Interview"}, "last_activity_at": "2024-05-02T09:00:00.000Z"}"#,
        );
        assert!(applied_to(&app, "101") && !applied_to(&app, "102"));
        let r = CandidateRef::new("77", "555");
        let s = candidate_status(r.clone(), &app);
        assert_eq!(s.state, ApplicationState::Rejected);
        assert_eq!(s.stage_id.as_deref(), Some("1010"));
        assert_eq!(s.stage_name.as_deref(), Some("Phone Interview"));
        assert_eq!(s.updated_at.as_deref(), Some("2024-05-02T09:00:00Z"));
        let converted: api::Application = decode(r#"{"id": 1, "status": "converted", "job_id": 9}"#);
        assert!(applied_to(&converted, "9"));
        assert_eq!(candidate_status(r.clone(), &converted).state, ApplicationState::Other("converted".into()));
        assert_eq!(deleted_status(r).state, ApplicationState::Other(DELETED_STATE.into()));
    }

    fn push() -> PushRequest {
        PushRequest {
            job_code: "101".into(),
            candidate: Candidate {
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                email: "ada@example.com".into(),
                phone: Some("+44 20 1234".into()),
                resume_url: None,
                resume: Some(Attachment {
                    file_name: "cv.pdf".into(),
                    content_type: "application/pdf".into(),
                    content: b"hi".to_vec(),
                }),
                source: Some("Careers site".into()),
                links: vec!["https://www.linkedin.com/in/ada".into(), "https://ada.dev".into(), " ".into()],
                answers: vec![Answer { question: "Notice period?".into(), answer: "1 month".into() }],
            },
            stage_id: Some("1011".into()),
            idempotency_key: "k1".into(),
        }
    }

    #[test]
    fn builds_the_candidate_body() {
        let body = serde_json::to_value(new_candidate(&push(), 42).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "first_name": "Ada", "last_name": "Lovelace",
                "email_addresses": [{"value": "ada@example.com", "type": "personal"}],
                "phone_numbers": [{"value": "+44 20 1234", "type": "mobile"}],
                "website_addresses": [{"value": "https://ada.dev", "type": "personal"}],
                "social_media_addresses": [{"value": "https://www.linkedin.com/in/ada"}],
                "attachments": [{"filename": "cv.pdf", "type": "resume", "content": "aGk=", "content_type": "application/pdf"}],
                "activity_feed_notes": [{"user_id": 42, "body": "Source: Careers site\n\nNotice period?\n1 month", "visibility": "public"}],
                "applications": [{"job_id": 101, "initial_stage_id": 1011}],
            })
        );
    }

    #[test]
    fn a_minimal_candidate_sends_only_what_it_has() {
        let mut p = push();
        p.candidate.phone = None;
        p.candidate.resume = None;
        p.candidate.source = None;
        p.candidate.links.clear();
        p.candidate.answers.clear();
        p.stage_id = None;
        let body = serde_json::to_value(new_candidate(&p, 42).unwrap()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "first_name": "Ada", "last_name": "Lovelace",
                "email_addresses": [{"value": "ada@example.com", "type": "personal"}],
                "applications": [{"job_id": 101}],
            })
        );
    }

    #[test]
    fn builds_the_application_body_for_a_known_person() {
        let body = serde_json::to_value(new_application(&push(), &api::Id("77".into())).unwrap()).unwrap();
        assert_eq!(body["candidate_id"], 77);
        assert_eq!(body["job_id"], 101);
        assert_eq!(body["initial_stage_id"], 1011);
        assert_eq!(body["attachments"][0]["type"], "resume");
    }

    #[test]
    fn non_numeric_ids_are_not_found() {
        let mut p = push();
        p.job_code = "abc".into();
        let err = new_candidate(&p, 1).unwrap_err();
        assert_eq!(err.kind(), "not-found");
        assert!(err.message().contains("`abc`"), "{}", err.message());
    }

    #[test]
    fn social_links_are_recognised_by_host() {
        assert!(is_social("https://linkedin.com/in/x"));
        assert!(is_social("http://de.linkedin.com/in/x"));
        assert!(is_social("x.com/ada"));
        assert!(!is_social("https://notlinkedin.com/x"));
        assert!(!is_social("https://github.com/ada"));
    }
}
