//! SmartRecruiters Customer API JSON, as the API sends and takes it.
//!
//! Field names are SmartRecruiters' (camel case). Everything the connector
//! does not strictly need is optional, and unknown fields are ignored, so a
//! new field or a `null` never fails a sync.

use serde::{Deserialize, Serialize};

/// An offset-paged list: `{"limit","offset","totalFound","content":[...]}`.
/// Newer endpoints add `nextPageId`; the connector pages by offset.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub content: Vec<T>,
    /// Items matching the query across all pages.
    pub total_found: Option<u64>,
}

/// A job of `GET /jobs` (summary) or `GET /jobs/{id}` (details).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    pub title: String,
    /// The requisition / job reference number.
    pub ref_number: Option<String>,
    /// `CREATED`, `SOURCING`, `INTERVIEW`, `OFFER`, `FILLED`, `CANCELLED`,
    /// `ON_HOLD`, ... (the exact enum is not published).
    pub status: Option<String>,
    /// `PUBLIC`, `INTERNAL`, `PRIVATE`, `NOT_PUBLISHED`.
    pub posting_status: Option<String>,
    pub created_on: Option<String>,
    /// Changes to the job itself (what `updatedAfter` compares).
    pub updated_on: Option<String>,
    pub department: Option<Labelled>,
    pub location: Option<Location>,
    /// Only on the details; how a job names its hiring process is not
    /// documented (**unconfirmed**).
    pub hiring_process_id: Option<String>,
}

/// `{id, label}` of departments and other properties.
#[derive(Debug, Deserialize)]
pub struct Labelled {
    pub label: Option<String>,
}

/// A job's location.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub city: Option<String>,
    pub region: Option<String>,
    pub country: Option<String>,
    pub remote: Option<bool>,
}

/// `GET /jobs/{id}/hiring-team`: `[{id, role}]`, bare or in a page
/// envelope (the wrapper is **unconfirmed**).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum HiringTeam {
    Page(Page<TeamMember>),
    Bare(Vec<TeamMember>),
}

impl HiringTeam {
    /// The members, whichever shape they came in.
    pub fn into_members(self) -> Vec<TeamMember> {
        match self {
            HiringTeam::Page(page) => page.content,
            HiringTeam::Bare(members) => members,
        }
    }
}

/// A hiring-team member: a user id (and a `role`: `RECRUITER`,
/// `HIRING_MANAGER`, ...; the names are **unconfirmed**, and every member is
/// an assigned user whatever the role, so it is not read).
#[derive(Debug, Deserialize)]
pub struct TeamMember {
    pub id: String,
}

/// `GET /user-api/v201804/users/{id}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
}

/// An entry of `GET /jobs/{id}/jobads`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobAdItem {
    pub job_ad: Option<JobAd>,
}

/// The ad's text, in sections.
#[derive(Debug, Deserialize)]
pub struct JobAd {
    #[serde(default)]
    pub sections: Sections,
}

/// The four sections of a job ad, in the order they are shown.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sections {
    pub company_description: Option<Section>,
    pub job_description: Option<Section>,
    pub qualifications: Option<Section>,
    pub additional_information: Option<Section>,
}

/// One section: a title and HTML text.
#[derive(Debug, Deserialize)]
pub struct Section {
    pub title: Option<String>,
    pub text: Option<String>,
}

/// `GET /configuration/hiring-processes/{id}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HiringProcess {
    #[serde(default)]
    pub sub_statuses: SubStatuses,
}

/// The sub-statuses a hiring process adds to `IN_REVIEW`, `INTERVIEW` and
/// `OFFER`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubStatuses {
    #[serde(default)]
    pub in_review: Vec<String>,
    #[serde(default)]
    pub interview: Vec<String>,
    #[serde(default)]
    pub offered: Vec<String>,
}

/// A candidate of `GET /candidates`, `GET /candidates/{id}` or the create.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub id: String,
    pub email: Option<String>,
    pub updated_on: Option<String>,
    pub primary_assignment: Option<Assignment>,
    #[serde(default)]
    pub secondary_assignments: Vec<Assignment>,
}

impl Candidate {
    /// The candidate's assignment to `job_id`, primary or secondary.
    pub fn assignment(&self, job_id: &str) -> Option<&Assignment> {
        self.primary_assignment
            .iter()
            .chain(&self.secondary_assignments)
            .find(|a| a.job.as_ref().is_some_and(|j| j.id == job_id))
    }
}

/// A candidate's application to one job.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    pub job: Option<JobRef>,
    /// `LEAD`, `NEW`, `IN_REVIEW`, `INTERVIEW`, `OFFER`, `HIRED`,
    /// `REJECTED`, `WITHDRAWN`, `TRANSFERRED`.
    pub status: Option<String>,
    pub sub_status: Option<String>,
}

/// A job named by an assignment.
#[derive(Debug, Deserialize)]
pub struct JobRef {
    pub id: String,
}

/// The body of `POST /jobs/{id}/candidates`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewCandidate {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Web::is_empty")]
    pub web: Web,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// Profile links SmartRecruiters keeps in named slots.
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
pub struct Web {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linkedin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facebook: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub twitter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

impl Web {
    fn is_empty(&self) -> bool {
        self == &Web::default()
    }
}

/// The body of `PUT /candidates/{id}/jobs/{jobId}/status`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_status: Option<String>,
}

/// An entry of `GET /candidates/{id}/attachments` (shape **unconfirmed**).
#[derive(Debug, Deserialize)]
pub struct AttachmentInfo {
    /// `RESUME`, `COVER_LETTER`, `OTHER`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}
