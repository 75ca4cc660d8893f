//! The Lever JSON this connector reads and writes, field for field
//! (<https://hire.lever.co/developer/documentation>).
//!
//! Lists are `{"data": [...], "hasNext": bool, "next": "<token>"}`, single
//! objects `{"data": {...}}`; instants are epoch milliseconds. People and
//! stages are ids unless the request expands them into objects, so those
//! fields accept both. Fields the connector does not strictly need are
//! optional or default when absent or `null`.

use serde::{Deserialize, Deserializer, Serialize};

/// `null` and absence both give the default.
fn nullable<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// One page of a list.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "T: Deserialize<'de>"))]
pub struct Page<T> {
    #[serde(default, deserialize_with = "nullable")]
    pub data: Vec<T>,
    #[serde(default, deserialize_with = "nullable")]
    pub has_next: bool,
    /// Pass as `offset` for the next page.
    pub next: Option<String>,
}

/// A single object.
#[derive(Debug, Deserialize)]
pub struct Single<T> {
    pub data: T,
}

/// `GET /postings`: a job.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Posting {
    pub id: String,
    /// The title.
    #[serde(default, deserialize_with = "nullable")]
    pub text: String,
    /// `published`, `internal`, `closed`, `draft`, `pending` or `rejected`.
    #[serde(default, deserialize_with = "nullable")]
    pub state: String,
    #[serde(default, deserialize_with = "nullable")]
    pub categories: Categories,
    /// Present with `include=content`.
    pub content: Option<Content>,
    pub owner: Option<UserRef>,
    pub hiring_manager: Option<UserRef>,
    /// Present with `include=followers` (ids) or `expand=followers`.
    #[serde(default, deserialize_with = "nullable")]
    pub followers: Vec<UserRef>,
    /// Epoch milliseconds.
    pub updated_at: Option<i64>,
    #[serde(default, deserialize_with = "nullable")]
    pub requisition_codes: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub tags: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub distribution_channels: Vec<String>,
    pub confidentiality: Option<String>,
    pub workplace_type: Option<String>,
    pub country: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Categories {
    pub team: Option<String>,
    pub department: Option<String>,
    pub location: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub all_locations: Vec<String>,
    pub commitment: Option<String>,
    pub level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    pub description_html: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub lists: Vec<ContentList>,
    pub closing_html: Option<String>,
}

/// A titled list of the description ("Requirements"); `content` is the
/// list items as HTML (`<li>…</li>`).
#[derive(Debug, Deserialize)]
pub struct ContentList {
    #[serde(default, deserialize_with = "nullable")]
    pub text: String,
    #[serde(default, deserialize_with = "nullable")]
    pub content: String,
}

/// A user: an id, or the object when expanded.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum UserRef {
    Id(String),
    User(User),
}

/// `GET /users`.
#[derive(Clone, Debug, Deserialize)]
pub struct User {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
}

/// `GET /stages`.
#[derive(Clone, Debug, Deserialize)]
pub struct Stage {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub text: String,
}

/// `GET /archive_reasons`.
#[derive(Debug, Deserialize)]
pub struct ArchiveReason {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub text: String,
    /// `hired` or `non-hired`.
    pub status: Option<String>,
}

/// `GET /opportunities`, `GET /opportunities/{id}`, `POST /opportunities`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Opportunity {
    pub id: String,
    /// The person (contact) the opportunity belongs to.
    pub contact: Option<String>,
    /// The current stage: an id, or the object with `expand=stage`.
    pub stage: Option<StageRef>,
    pub archived: Option<Archived>,
    /// Ids, or the objects with `expand=applications`.
    #[serde(default, deserialize_with = "nullable")]
    pub applications: Vec<ApplicationRef>,
    /// Epoch milliseconds.
    pub updated_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum StageRef {
    Id(String),
    Stage(Stage),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Archived {
    /// An archive reason id.
    pub reason: Option<String>,
    pub archived_at: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ApplicationRef {
    Id(String),
    Application(Application),
}

#[derive(Debug, Deserialize)]
pub struct Application {
    pub id: String,
    /// The posting applied to, if any.
    pub posting: Option<String>,
}

/// Lever's error body.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub code: Option<String>,
    pub message: Option<String>,
}

/// `POST /opportunities`: a candidate for one posting.
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOpportunity {
    pub name: String,
    pub emails: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<Phone>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// `applied`: the candidate applied to the posting.
    pub origin: &'static str,
    /// Exactly one posting id.
    pub postings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
}

#[derive(Debug, PartialEq, Serialize)]
pub struct Phone {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: String,
}

/// `POST /opportunities/{id}/notes`.
#[derive(Debug, PartialEq, Serialize)]
pub struct NewNote {
    pub value: String,
}

/// `PUT /opportunities/{id}/stage`.
#[derive(Debug, PartialEq, Serialize)]
pub struct StageChange {
    pub stage: String,
}
