//! Workable SPI v3 JSON, as the API sends and takes it.
//!
//! Field names are Workable's (snake case). Everything the connector does
//! not strictly need is optional, and unknown fields are ignored, so a new
//! field or a `null` in Workable's answer never fails a sync.

use serde::{Deserialize, Serialize};

/// `GET /jobs`: `{"jobs": [...], "paging": {"next": "<full URL>"}}`, oldest
/// first; `paging` is absent on the last page.
#[derive(Debug, Deserialize)]
pub struct JobsPage {
    #[serde(default)]
    pub jobs: Vec<Job>,
    pub paging: Option<Paging>,
}

/// Workable's pagination block: the absolute URL of the next page.
#[derive(Debug, Default, Deserialize)]
pub struct Paging {
    pub next: Option<String>,
}

/// A job of `GET /jobs` (with `include_fields`) or `GET /jobs/{shortcode}`.
#[derive(Debug, Deserialize)]
pub struct Job {
    /// Workable's internal id (hex string); paths use `shortcode`.
    pub id: Option<String>,
    pub title: String,
    /// The title with the job code appended, as shown in Workable.
    pub full_title: Option<String>,
    /// The system code used in every job path (`GROOV003`).
    pub shortcode: String,
    /// The code the job's editor typed in (a requisition id, in practice).
    pub code: Option<String>,
    /// `draft`, `published`, `closed` (internal/confidential) or `archived`.
    pub state: String,
    pub department: Option<String>,
    pub url: Option<String>,
    pub application_url: Option<String>,
    pub location: Option<Location>,
    #[serde(default)]
    pub locations: Vec<Location>,
    pub created_at: Option<String>,
    /// Not in Workable's published field list (served by the mock and
    /// reported by integrators); read when present.
    pub updated_at: Option<String>,
    /// The "about the job" part of the ad (HTML); `include_fields=description`.
    pub description: Option<String>,
    /// Description, requirements and benefits in one HTML document;
    /// `include_fields=full_description`.
    pub full_description: Option<String>,
    /// Only on `GET /jobs/{shortcode}`.
    pub employment_type: Option<String>,
}

/// A job location.
#[derive(Debug, Default, Deserialize)]
pub struct Location {
    /// "Berlin, Germany": the human-readable form.
    pub location_str: Option<String>,
    /// `true` for remote jobs.
    pub telecommuting: Option<bool>,
    /// `on_site`, `hybrid` or `remote`.
    pub workplace_type: Option<String>,
}

/// `GET /stages`, `GET /jobs/{shortcode}/stages`.
#[derive(Debug, Deserialize)]
pub struct StagesBody {
    #[serde(default)]
    pub stages: Vec<Stage>,
}

/// A pipeline stage; candidates reference stages by `slug`.
#[derive(Debug, Deserialize)]
pub struct Stage {
    pub slug: String,
    pub name: String,
    /// Zero-based order in the pipeline.
    pub position: Option<u32>,
}

/// `GET /jobs/{shortcode}/members`: the job's hiring team. Workable's
/// reference names the endpoint but shows no body; community clients read
/// `{"members": [...]}`, the shape of the account's `GET /members`. A bare
/// array is read too, in case the wrapper differs.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum MembersBody {
    Wrapped {
        #[serde(default)]
        members: Vec<Member>,
    },
    Bare(Vec<Member>),
}

impl MembersBody {
    /// The members, whichever shape they came in.
    pub fn into_members(self) -> Vec<Member> {
        match self {
            MembersBody::Wrapped { members } | MembersBody::Bare(members) => members,
        }
    }
}

/// A Workable user (an account member) on a job's hiring team.
#[derive(Debug, Deserialize)]
pub struct Member {
    /// Eight hex digits (`13e0eb0e`).
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// `admin` or `simple` (account member lists only).
    #[serde(default)]
    pub role: Option<String>,
}

/// The body of `POST /candidates/{id}/move`.
#[derive(Debug, serde::Serialize)]
pub struct Move {
    /// The member the move is made as.
    pub member_id: String,
    /// The stage's slug.
    pub target_stage: String,
}

/// `GET /candidates?email=&shortcode=`.
#[derive(Debug, Deserialize)]
pub struct CandidatesPage {
    #[serde(default)]
    pub candidates: Vec<Candidate>,
}

/// `GET /candidates/{id}`: `{"candidate": {...}}`.
#[derive(Debug, Deserialize)]
pub struct CandidateBody {
    pub candidate: Candidate,
}

/// `POST /jobs/{shortcode}/candidates` → `201 {"status": "created", "candidate": {...}}`.
#[derive(Debug, Deserialize)]
pub struct Created {
    pub candidate: Candidate,
}

/// A candidate. Workable keeps one candidate record per job, so its `id`
/// also identifies the application.
#[derive(Debug, Deserialize)]
pub struct Candidate {
    pub id: String,
    pub email: Option<String>,
    pub job: Option<CandidateJob>,
    /// The current stage's slug.
    pub stage: Option<String>,
    pub disqualified: Option<bool>,
    pub withdrew: Option<bool>,
    pub hired_at: Option<String>,
    pub updated_at: Option<String>,
}

/// The job a candidate applied to.
#[derive(Debug, Deserialize)]
pub struct CandidateJob {
    pub shortcode: Option<String>,
}

/// The body of `POST /jobs/{shortcode}/candidates`.
#[derive(Debug, Serialize)]
pub struct NewCandidateBody {
    /// `false`: the candidate applied (Workable shows them in "Applied" and
    /// sends its "thank you" e-mail); `true` (Workable's default): a
    /// recruiter uploaded them.
    pub sourced: bool,
    pub candidate: NewCandidate,
    /// The domain of the candidate's source, e.g. `indeed.com`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// The `candidate` object of [`NewCandidateBody`].
#[derive(Debug, Serialize)]
pub struct NewCandidate {
    pub firstname: String,
    pub lastname: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub social_profiles: Vec<SocialProfile>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
}

/// A profile link Workable knows the type of.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct SocialProfile {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
}

/// A resume sent inline: the file name and the content in base64.
#[derive(Debug, Serialize)]
pub struct Resume {
    pub name: String,
    pub data: String,
}
