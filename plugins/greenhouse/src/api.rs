//! The Harvest JSON this connector reads and writes, field for field.
//!
//! Harvest v3 keeps the v1 field names for the objects used here (`name`
//! for a job's title, `offices[].location.name`, `hiring_team`,
//! `current_stage`). Every field the connector does not strictly need is
//! optional or defaults when absent or `null`, so a leaner v3 object (ids
//! instead of embedded objects) still decodes. Ids are integers in Harvest;
//! they are read as numbers or strings and kept as strings, the contract's
//! type for ids.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A Harvest id: an integer on the wire, a string here.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Number(u64),
            Text(String),
        }
        Ok(Id(match Repr::deserialize(deserializer)? {
            Repr::Number(n) => n.to_string(),
            Repr::Text(s) => s,
        }))
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `null` and absence both give the default (Harvest writes `null` for
/// empty lists and objects in places).
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Free text that some accounts fill with numbers (`requisition_id`).
fn text_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// `GET /v3/jobs` (a bare array) and `GET /v3/jobs/{id}`.
#[derive(Debug, Deserialize)]
pub struct Job {
    pub id: Id,
    /// The job's title.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "text_or_number")]
    pub requisition_id: Option<String>,
    /// `open`, `closed` or `draft`.
    #[serde(default, deserialize_with = "nullable")]
    pub status: String,
    pub confidential: Option<bool>,
    pub created_at: Option<String>,
    pub opened_at: Option<String>,
    pub closed_at: Option<String>,
    pub updated_at: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub departments: Vec<Department>,
    #[serde(default, deserialize_with = "nullable")]
    pub offices: Vec<Office>,
    #[serde(default, deserialize_with = "nullable")]
    pub hiring_team: HiringTeam,
    #[serde(default, deserialize_with = "nullable")]
    pub openings: Vec<Opening>,
    /// Custom field values by field key (`{"employment_type": "Full-time"}`).
    #[serde(default, deserialize_with = "nullable")]
    pub custom_fields: BTreeMap<String, Value>,
}

#[derive(Debug, Deserialize)]
pub struct Department {
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Office {
    pub name: Option<String>,
    pub location: Option<Location>,
}

#[derive(Debug, Deserialize)]
pub struct Location {
    pub name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct HiringTeam {
    #[serde(default, deserialize_with = "nullable")]
    pub hiring_managers: Vec<TeamMember>,
    #[serde(default, deserialize_with = "nullable")]
    pub recruiters: Vec<TeamMember>,
    #[serde(default, deserialize_with = "nullable")]
    pub coordinators: Vec<TeamMember>,
    #[serde(default, deserialize_with = "nullable")]
    pub sourcers: Vec<TeamMember>,
}

#[derive(Debug, Deserialize)]
pub struct TeamMember {
    pub id: Id,
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Opening {
    /// The customer's opening code (`"1-1"`), not the numeric `id`.
    pub opening_id: Option<String>,
}

/// `GET /v3/job_posts`: a job's advertisement, which carries the
/// description. A job has zero or more posts (external, internal, one per
/// board or location).
#[derive(Debug, Deserialize)]
pub struct JobPost {
    pub job_id: Option<Id>,
    /// The description, HTML.
    pub content: Option<String>,
    /// The description shown on the internal job board, HTML.
    pub internal_content: Option<String>,
    pub live: Option<bool>,
    pub active: Option<bool>,
    pub external: Option<bool>,
}

/// `GET /v3/jobs/{id}/stages` and `GET /v3/job_stages`.
#[derive(Debug, Deserialize)]
pub struct Stage {
    pub id: Id,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    pub job_id: Option<Id>,
    /// Order in the job's pipeline, 0 first.
    pub priority: Option<i64>,
    /// `false` for a deleted stage.
    pub active: Option<bool>,
}

/// `GET /v3/candidates?email=` and the answer of `POST /v3/candidates`
/// (which may be truncated to the ids while Greenhouse builds the record).
#[derive(Debug, Deserialize)]
pub struct Candidate {
    pub id: Id,
    #[serde(default, deserialize_with = "nullable")]
    pub application_ids: Vec<Id>,
    /// Embedded applications (absent from truncated and lean answers).
    #[serde(default, deserialize_with = "nullable")]
    pub applications: Vec<Application>,
}

/// `GET /v3/applications/{id}` and the answer of `POST /v3/applications`.
#[derive(Debug, Deserialize)]
pub struct Application {
    pub id: Id,
    pub candidate_id: Option<Id>,
    /// `active`, `rejected`, `hired` or `converted`.
    pub status: Option<String>,
    pub current_stage: Option<StageRef>,
    /// The job(s) applied to (v1 shape).
    #[serde(default, deserialize_with = "nullable")]
    pub jobs: Vec<JobRef>,
    /// The job applied to (flat shape).
    pub job_id: Option<Id>,
    pub last_activity_at: Option<String>,
    pub updated_at: Option<String>,
}

/// The body of `POST /v3/applications/{id}/move`.
#[derive(Debug, Serialize)]
pub struct MoveApplication {
    pub from_stage_id: u64,
    pub to_stage_id: u64,
}

#[derive(Debug, Deserialize)]
pub struct StageRef {
    pub id: Option<Id>,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct JobRef {
    pub id: Id,
}

/// Harvest's error body: `{"message"}`, and for 422 also
/// `{"errors": [{"message", "field"}]}`.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub message: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Deserialize)]
pub struct FieldError {
    pub message: Option<String>,
    pub field: Option<String>,
}

/// `POST /v3/candidates`: a new person with one application.
#[derive(Debug, PartialEq, Serialize)]
pub struct NewCandidate {
    pub first_name: String,
    pub last_name: String,
    pub email_addresses: Vec<TypedValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phone_numbers: Vec<TypedValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub website_addresses: Vec<TypedValue>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub social_media_addresses: Vec<Address>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<NewAttachment>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub activity_feed_notes: Vec<NewNote>,
    pub applications: Vec<NewApplication>,
}

/// An application inside [`NewCandidate`].
#[derive(Debug, PartialEq, Serialize)]
pub struct NewApplication {
    pub job_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_stage_id: Option<u64>,
}

/// `POST /v3/applications`: an application for a person Greenhouse knows.
#[derive(Debug, PartialEq, Serialize)]
pub struct NewCandidateApplication {
    pub candidate_id: u64,
    pub job_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_stage_id: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<NewAttachment>,
}

/// `{"value": "...", "type": "personal"}`, the shape of e-mail, phone and
/// website entries.
#[derive(Debug, PartialEq, Serialize)]
pub struct TypedValue {
    pub value: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// `{"value": "..."}`, a social media address.
#[derive(Debug, PartialEq, Serialize)]
pub struct Address {
    pub value: String,
}

/// A file sent inline, base64 with its content type.
#[derive(Debug, PartialEq, Serialize)]
pub struct NewAttachment {
    pub filename: String,
    /// `resume` here.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Standard base64.
    pub content: String,
    pub content_type: String,
}

/// A note on the candidate's activity feed.
#[derive(Debug, PartialEq, Serialize)]
pub struct NewNote {
    pub user_id: u64,
    pub body: String,
    /// `admin_only`, `private` or `public`.
    pub visibility: &'static str,
}
