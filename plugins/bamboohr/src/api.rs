//! BambooHR applicant-tracking JSON, as the API sends it.
//!
//! Field names are BambooHR's (camel case). Ids arrive as numbers (and,
//! in some integrations, strings): [`Id`] reads both. Everything the
//! connector does not strictly need is optional, and unknown fields are
//! ignored.

use serde::{Deserialize, Deserializer};

/// An id sent as a number or a string, kept as its decimal text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Id(pub String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Number(n) => Ok(Id(n.to_string())),
            serde_json::Value::String(s) if !s.trim().is_empty() => Ok(Id(s.trim().to_string())),
            other => Err(serde::de::Error::custom(format!("expected an id, got {other}"))),
        }
    }
}

/// `{id, label}`: titles, departments, statuses.
#[derive(Debug, Deserialize)]
pub struct Labelled {
    pub label: Option<String>,
}

/// A job opening of `GET /applicant_tracking/jobs` (a plain array).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: Id,
    pub title: Option<Labelled>,
    pub posted_date: Option<String>,
    pub location: Option<JobLocation>,
    pub department: Option<Labelled>,
    /// `Open`, `Filled`, `Draft`, `Deleted`, `On Hold`, `Canceled`.
    pub status: Option<Labelled>,
    pub hiring_lead: Option<HiringLead>,
    pub posting_url: Option<String>,
}

/// A job's location: a label and, sometimes, an address.
#[derive(Debug, Deserialize)]
pub struct JobLocation {
    pub label: Option<String>,
    pub address: Option<Address>,
}

/// The parts of a location's address the connector shows.
#[derive(Debug, Deserialize)]
pub struct Address {
    pub city: Option<String>,
    pub state: Option<String>,
    pub country: Option<String>,
}

/// The job's hiring lead: an employee.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HiringLead {
    pub employee_id: Option<Id>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// A company-wide applicant status of `GET /applicant_tracking/statuses`.
#[derive(Debug, Deserialize)]
pub struct Status {
    pub id: Id,
    /// `NEW`, `HIRED`, ... for built-ins; `null` for custom statuses.
    pub code: Option<String>,
    pub name: String,
    pub enabled: Option<bool>,
}

/// `GET /applicant_tracking/applications`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationsPage {
    #[serde(default)]
    pub applications: Vec<Application>,
    pub next_page_url: Option<String>,
}

/// An application, in a list or as `GET /applicant_tracking/applications/{id}`.
#[derive(Debug, Deserialize)]
pub struct Application {
    pub id: Id,
    pub applicant: Option<Applicant>,
    pub job: Option<ApplicationJob>,
    pub status: Option<ApplicationStatus>,
}

/// The person who applied.
#[derive(Debug, Deserialize)]
pub struct Applicant {
    pub id: Option<Id>,
    pub email: Option<String>,
}

/// The job applied to.
#[derive(Debug, Deserialize)]
pub struct ApplicationJob {
    pub id: Option<Id>,
}

/// An application's status; the detail adds `dateChanged`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationStatus {
    pub id: Option<Id>,
    pub label: Option<String>,
    pub date_changed: Option<String>,
}

/// The answer to `POST /applicant_tracking/application`. Its body is not
/// documented (**unconfirmed**); integrations report the new ids.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Created {
    pub candidate_id: Option<Id>,
    pub application_id: Option<Id>,
}
