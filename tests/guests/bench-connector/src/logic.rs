//! The connector's pure decode path: a Greenhouse Harvest v1 job page in,
//! neutral jobs out. Plain Rust and serde, no bindings, so the same code
//! runs natively (benchmark baseline) and inside the component.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A job in the contract's terms, before conversion to the WIT type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// Greenhouse's job id.
    pub code: String,
    /// The normalised status.
    pub status: JobStatus,
    /// Greenhouse's status as sent.
    pub raw_status: String,
    /// The job's name.
    pub title: String,
    /// Office locations (office name when the location has none), deduplicated.
    pub locations: Vec<String>,
    /// The HTML job description.
    pub description: String,
    /// The hiring team, deduplicated by user id.
    pub users: Vec<User>,
    /// Last change, RFC 3339.
    pub updated_at: Option<String>,
    /// Requisition id, departments, openings and keyed custom fields.
    pub extra: Vec<(String, String)>,
}

/// A job status in the contract's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobStatus {
    /// Accepting applications.
    Open,
    /// Filled or cancelled.
    Closed,
    /// Not yet opened.
    Draft,
    /// Paused.
    OnHold,
    /// Anything else, as sent.
    Other(String),
}

/// A member of the hiring team.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Greenhouse's user id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Not in Harvest's hiring team; kept for the contract.
    pub email: Option<String>,
}

#[derive(Deserialize)]
struct GhJob {
    id: u64,
    name: String,
    requisition_id: Option<String>,
    status: String,
    updated_at: Option<String>,
    #[serde(default)]
    departments: Vec<GhNamed>,
    #[serde(default)]
    offices: Vec<GhOffice>,
    #[serde(default)]
    hiring_team: GhHiringTeam,
    #[serde(default)]
    openings: Vec<GhOpening>,
    #[serde(default)]
    keyed_custom_fields: BTreeMap<String, GhCustomField>,
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct GhNamed {
    name: String,
}

#[derive(Deserialize)]
struct GhOffice {
    name: String,
    location: Option<GhLocation>,
}

#[derive(Deserialize)]
struct GhLocation {
    name: Option<String>,
}

#[derive(Deserialize, Default)]
struct GhHiringTeam {
    #[serde(default)]
    hiring_managers: Vec<GhUser>,
    #[serde(default)]
    recruiters: Vec<GhUser>,
    #[serde(default)]
    coordinators: Vec<GhUser>,
    #[serde(default)]
    sourcers: Vec<GhUser>,
}

#[derive(Deserialize)]
struct GhUser {
    id: u64,
    name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
struct GhOpening {
    opening_id: Option<String>,
    status: String,
}

#[derive(Deserialize)]
struct GhCustomField {
    value: serde_json::Value,
}

/// Decodes a Harvest `GET /v1/jobs` page (a bare JSON array) and maps each
/// job. The error names the position of malformed JSON.
pub fn decode_page(json: &str) -> Result<Vec<Job>, String> {
    let jobs: Vec<GhJob> = serde_json::from_str(json).map_err(|e| format!("invalid Greenhouse job page: {e}"))?;
    Ok(jobs.into_iter().map(map_job).collect())
}

fn map_job(job: GhJob) -> Job {
    let mut locations: Vec<String> = Vec::with_capacity(job.offices.len());
    for office in job.offices {
        let location = office.location.and_then(|l| l.name).unwrap_or(office.name);
        if !locations.contains(&location) {
            locations.push(location);
        }
    }

    let team = job.hiring_team;
    let mut users: Vec<User> = Vec::new();
    for user in [team.hiring_managers, team.recruiters, team.coordinators, team.sourcers].into_iter().flatten() {
        let id = user.id.to_string();
        if users.iter().any(|u| u.id == id) {
            continue;
        }
        let name = user.name.unwrap_or_else(|| {
            format!("{} {}", user.first_name.unwrap_or_default(), user.last_name.unwrap_or_default()).trim().to_string()
        });
        users.push(User { id, name, email: user.email });
    }

    let mut extra = Vec::new();
    if let Some(requisition_id) = job.requisition_id {
        extra.push(("requisition_id".to_string(), requisition_id));
    }
    if !job.departments.is_empty() {
        let names: Vec<String> = job.departments.into_iter().map(|d| d.name).collect();
        extra.push(("department".to_string(), names.join(", ")));
    }
    let open_openings: Vec<String> =
        job.openings.into_iter().filter(|o| o.status == "open").filter_map(|o| o.opening_id).collect();
    extra.push(("open_openings".to_string(), open_openings.join(", ")));
    for (key, field) in job.keyed_custom_fields {
        let value = match field.value {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        extra.push((key, value));
    }

    let status = match job.status.as_str() {
        "open" => JobStatus::Open,
        "closed" => JobStatus::Closed,
        "draft" => JobStatus::Draft,
        other => JobStatus::Other(other.to_string()),
    };

    Job {
        code: job.id.to_string(),
        status,
        raw_status: job.status,
        title: job.name,
        locations,
        description: job.content.unwrap_or_default(),
        users,
        updated_at: job.updated_at,
        extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_generated_page() {
        let jobs = decode_page(crate::PAGE_500).unwrap();
        assert_eq!(jobs.len(), 500);
        let first = &jobs[0];
        assert_eq!(first.code, "4000000");
        assert!(first.description.starts_with("<div class=\"content-intro\">"), "{}", first.description);
        assert!(first.description.len() > 1200, "{}", first.description.len());
        assert!(!first.locations.is_empty());
        assert!(first.extra.iter().any(|(k, _)| k == "employment_type"));
        assert!(!first.extra.iter().any(|(k, _)| k == "remote_policy"), "null custom fields are skipped");
        assert!(jobs.iter().any(|j| j.status == JobStatus::Closed));
        assert!(jobs.iter().any(|j| !j.users.is_empty()));
    }

    #[test]
    fn maps_the_documented_example() {
        let json = r#"[{"id": 101, "name": "Backend Engineer", "requisition_id": "REQ-42", "status": "open",
            "updated_at": "2024-05-01T10:00:00Z",
            "offices": [{"id": 7, "name": "Berlin", "location": {"name": "Berlin, DE"}}, {"id": 8, "name": "Remote", "location": {"name": null}}],
            "hiring_team": {"hiring_managers": [{"id": 5, "name": "A B"}], "recruiters": [{"id": 6, "first_name": "C", "last_name": "D", "responsible": true}, {"id": 5, "name": "A B"}], "coordinators": [], "sourcers": []},
            "openings": [{"id": 900, "opening_id": "1-1", "status": "open"}, {"id": 901, "opening_id": "1-2", "status": "closed"}]}]"#;
        let jobs = decode_page(json).unwrap();
        let job = &jobs[0];
        assert_eq!(job.code, "101");
        assert_eq!(job.status, JobStatus::Open);
        assert_eq!(job.locations, vec!["Berlin, DE", "Remote"]);
        assert_eq!(job.users.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), vec!["A B", "C D"]);
        assert_eq!(job.extra, vec![("requisition_id".into(), "REQ-42".into()), ("open_openings".into(), "1-1".into())]);
    }

    #[test]
    fn malformed_json_names_the_position() {
        let err = decode_page("[{\"id\": }]").unwrap_err();
        assert!(err.contains("line 1 column"), "{err}");
    }
}
