//! Ashby's JSON, as its RPC endpoints send and take it.
//!
//! Every endpoint is `POST /<resource>.<method>` with a JSON body and
//! answers with the [`Envelope`]. Field names are Ashby's (camel case).
//! Everything the connector does not strictly need is optional, and
//! unknown fields are ignored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Every answer: `{"success": true, "results": ...}` with paging fields on
/// list endpoints, or `{"success": false, "errors": [...], "errorInfo":
/// {...}}` (HTTP 200) for what would be a 4xx elsewhere.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<T> {
    pub success: Option<bool>,
    pub results: Option<T>,
    pub error_info: Option<ErrorInfo>,
    /// Error codes; strings in every documented answer, kept loose.
    #[serde(default)]
    pub errors: Vec<serde_json::Value>,
    #[serde(default)]
    pub more_data_available: bool,
    pub next_cursor: Option<String>,
    /// Minor problems of a request that succeeded. (The `syncToken` of a
    /// listing's last page is not read: see the crate docs.)
    #[serde(default)]
    pub warnings: Vec<serde_json::Value>,
}

/// What went wrong: `{"code": "application_not_found", "message": "...", "requestId": "..."}`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInfo {
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
}

/// `job.list` body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobListRequest<'a> {
    pub limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<&'a str>,
    /// Drafts are left out unless asked for.
    pub status: &'a [&'a str],
    pub expand: &'a [&'a str],
}

/// A job of `job.list` / `job.info`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    pub title: String,
    /// `Draft`, `Open`, `Closed` or `Archived`.
    pub status: String,
    pub confidential: Option<bool>,
    /// `FullTime`, `PartTime`, `Intern`, `Contract`, `Temporary`.
    pub employment_type: Option<String>,
    pub location_id: Option<String>,
    pub department_id: Option<String>,
    pub default_interview_plan_id: Option<String>,
    #[serde(default)]
    pub interview_plan_ids: Vec<String>,
    #[serde(default)]
    pub job_posting_ids: Vec<String>,
    pub custom_requisition_id: Option<String>,
    #[serde(default)]
    pub hiring_team: Vec<HiringTeamMember>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub opened_at: Option<String>,
    pub closed_at: Option<String>,
    /// Present with `expand: ["location"]`.
    pub location: Option<Location>,
}

/// A member of a job's hiring team (`hiringTeam[]`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HiringTeamMember {
    pub user_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
}

/// An expanded location.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    /// The location's name in Ashby ("Berlin").
    pub name: Option<String>,
    /// `OnSite`, `Hybrid` or `Remote`.
    pub workplace_type: Option<String>,
}

/// `jobPosting.info`: the published ad of a job.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Posting {
    pub id: String,
    pub department_name: Option<String>,
    pub team_name: Option<String>,
    pub location_name: Option<String>,
    pub workplace_type: Option<String>,
    pub is_listed: Option<bool>,
    pub description_html: Option<String>,
}

/// `interviewPlan.list` item.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterviewPlan {
    pub id: String,
    pub is_archived: Option<bool>,
}

/// `interviewStage.list` item, also an application's `currentInterviewStage`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InterviewStage {
    pub id: String,
    pub title: String,
    pub order_in_interview_plan: Option<i64>,
}

/// A candidate of `candidate.search` / `candidate.create` / `candidate.info`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub id: String,
    pub primary_email_address: Option<Contact>,
    #[serde(default)]
    pub email_addresses: Vec<Contact>,
    #[serde(default)]
    pub application_ids: Vec<String>,
    /// Set once the candidate has a resume.
    pub resume_file_handle: Option<serde_json::Value>,
}

/// An e-mail address or phone number.
#[derive(Debug, Deserialize)]
pub struct Contact {
    pub value: String,
}

/// `candidate.create` body.
#[derive(Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewCandidate {
    pub name: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linked_in_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub github_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

/// `application.create` body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewApplication<'a> {
    pub candidate_id: &'a str,
    pub job_id: &'a str,
    /// Without it Ashby uses the first Lead stage of the job's default plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interview_stage_id: Option<&'a str>,
}

/// An application of `application.info` / `application.create`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub id: String,
    /// `Active`, `Lead`, `Hired` or `Archived`.
    pub status: String,
    pub current_interview_stage: Option<InterviewStage>,
    pub archive_reason: Option<ArchiveReason>,
    pub updated_at: Option<String>,
    pub job: Option<IdOnly>,
}

/// Why an application was archived.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchiveReason {
    /// `RejectedByCandidate`, `RejectedByOrg` or `Other`.
    pub reason_type: Option<String>,
}

/// A reference to another object: `{"id": "..."}` (more fields ignored).
#[derive(Debug, Deserialize)]
pub struct IdOnly {
    pub id: String,
}

/// `file.createFileUploadHandle` body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileUploadRequest<'a> {
    /// `CandidateResume`, `CandidateFiles` or `ApplicationForm`.
    pub file_upload_context: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub content_length: usize,
}

/// A presigned upload: POST `fields` and then the file (as `file`) to
/// `url` as `multipart/form-data`, then pass `handle` on. Valid 10 minutes.
#[derive(Debug, Deserialize)]
pub struct FileUploadHandle {
    pub handle: String,
    pub url: String,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
}
