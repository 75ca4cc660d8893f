//! The Harvest JSON this connector reads and writes, field for field.
//!
//! Harvest v3 keeps the v1 field names for the objects used here (`name`
//! for a job's title, `offices[].location.name`, `hiring_team`,
//! `current_stage`). Every field the connector does not strictly need is
//! optional or defaults when absent or `null`, so a leaner v3 object (ids
//! instead of embedded objects) still decodes. Ids are integers in Harvest;
//! they are read as numbers or strings and kept as strings, the contract's
//! type for ids.
//!
//! The listing's objects ([`Job`], [`JobPost`]) borrow their text from the
//! response body ([`Text`]): most of it is read once and dropped (names
//! joined into one field, timestamps rewritten), so only what ends up in
//! a contract job is copied, once. Fields the listing does not read are
//! not declared, so the decoder skips them without allocating.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// A Harvest id: an integer on the wire, a string here.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(pub String);

impl<'de> Deserialize<'de> for Id {
    /// A non-negative integer or a string; anything else is an error.
    /// (A visitor rather than an untagged enum: no buffering of the value.)
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an id (a non-negative integer or a string)")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Id, E> {
                // Three ids a job on a listing: `itoa`, not `fmt`.
                Ok(Id(itoa::Buffer::new().format(n).to_owned()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Id, E> {
                u64::try_from(n)
                    .map(|n| Id(itoa::Buffer::new().format(n).to_owned()))
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(n), &self))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Id, E> {
                Ok(Id(s.to_string()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Id, E> {
                Ok(Id(s))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A JSON string borrowed from the body when it has no escapes, owned
/// (unescaped) otherwise.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Text<'a>(pub Cow<'a, str>);

impl Text<'_> {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same text, owning it (a copy when borrowed).
    pub fn into_owned(self) -> Text<'static> {
        Text(Cow::Owned(self.0.into_owned()))
    }

    /// The text as an owned string: a copy when borrowed, a move when not.
    pub fn into_string(self) -> String {
        self.0.into_owned()
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s.to_string())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// A value of a custom field (or a `requisition_id`), kept only as far as
/// the mapping reads it: scalars, lists of them; objects are skipped.
#[derive(Debug, PartialEq)]
pub enum Scalar<'a> {
    Text(Text<'a>),
    Number(serde_json::Number),
    Bool(bool),
    List(Vec<Scalar<'a>>),
    /// `null`, an object.
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Bool(b))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Number(n.into()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Number(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Scalar<'de>, E> {
                // As `serde_json::Value` reads it: a non-finite float is null.
                Ok(serde_json::Number::from_f64(n).map_or(Scalar::Other, Scalar::Number))
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Text(Text(Cow::Borrowed(s))))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Text(Text(Cow::Owned(s.to_string()))))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Text(Text(Cow::Owned(s))))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other)
            }
            fn visit_none<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Other)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar<'de>, D::Error> {
                Scalar::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Scalar::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        deserializer.deserialize_any(ScalarVisitor)
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

/// `GET /v3/jobs` (a bare array) and `GET /v3/jobs/{id}`.
#[derive(Debug, Deserialize)]
pub struct Job<'a> {
    pub id: Id,
    /// The job's title.
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub name: Text<'a>,
    /// Free text that some accounts fill with numbers.
    #[serde(default, borrow)]
    pub requisition_id: Option<Scalar<'a>>,
    /// `open`, `closed` or `draft`.
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub status: Text<'a>,
    pub confidential: Option<bool>,
    #[serde(default, borrow)]
    pub opened_at: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub closed_at: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub updated_at: Option<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub departments: Vec<Department<'a>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub offices: Vec<Office<'a>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub hiring_team: HiringTeam<'a>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub openings: Vec<Opening<'a>>,
    /// Custom field values by field key (`{"employment_type": "Full-time"}`).
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub custom_fields: BTreeMap<Text<'a>, Scalar<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct Department<'a> {
    #[serde(default, borrow)]
    pub name: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct Office<'a> {
    #[serde(default, borrow)]
    pub name: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub location: Option<Location<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct Location<'a> {
    #[serde(default, borrow)]
    pub name: Option<Text<'a>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct HiringTeam<'a> {
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub hiring_managers: Vec<TeamMember<'a>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub recruiters: Vec<TeamMember<'a>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub coordinators: Vec<TeamMember<'a>>,
    #[serde(default, borrow, deserialize_with = "nullable")]
    pub sourcers: Vec<TeamMember<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct TeamMember<'a> {
    pub id: Id,
    #[serde(default, borrow)]
    pub name: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub first_name: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub last_name: Option<Text<'a>>,
}

#[derive(Debug, Deserialize)]
pub struct Opening<'a> {
    /// The customer's opening code (`"1-1"`), not the numeric `id`.
    #[serde(default, borrow)]
    pub opening_id: Option<Text<'a>>,
}

/// `GET /v3/job_posts`: a job's advertisement, which carries the
/// description. A job has zero or more posts (external, internal, one per
/// board or location).
#[derive(Debug, Deserialize)]
pub struct JobPost<'a> {
    pub job_id: Option<Id>,
    /// The description, HTML.
    #[serde(default, borrow)]
    pub content: Option<Text<'a>>,
    /// The description shown on the internal job board, HTML.
    #[serde(default, borrow)]
    pub internal_content: Option<Text<'a>>,
    pub live: Option<bool>,
    pub active: Option<bool>,
    pub external: Option<bool>,
}

impl JobPost<'_> {
    /// The same post, owning its text.
    pub fn into_owned(self) -> JobPost<'static> {
        JobPost {
            job_id: self.job_id,
            content: self.content.map(Text::into_owned),
            internal_content: self.internal_content.map(Text::into_owned),
            live: self.live,
            active: self.active,
            external: self.external,
        }
    }
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
