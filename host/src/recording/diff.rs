//! What a replayed connector answered differently from the recorded one:
//! jobs added, removed and changed field by field; stages and candidate
//! statuses likewise.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::contract::{CandidateStatus, Job, Stage};

/// Items listed one by one in each list of a diff; more are counted. A
/// connector change that touches every job says so in the first few
/// hundred, and the report stays readable.
pub const MAX_DIFF_ITEMS: usize = 500;

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The field's name in the contract (`title`, `locations`, `status`, ...).
    pub field: String,
    pub recorded: Value,
    pub replayed: Value,
}

/// A job present on one side only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobRef {
    pub code: String,
    pub title: String,
}

/// A job on both sides whose fields differ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobChange {
    pub code: String,
    pub title: String,
    pub fields: Vec<FieldChange>,
}

/// Recorded jobs against replayed jobs, by job code.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JobsDiff {
    pub recorded: usize,
    pub replayed: usize,
    /// Only in the replay.
    pub added: Vec<JobRef>,
    pub added_total: usize,
    /// Only in the recording.
    pub removed: Vec<JobRef>,
    pub removed_total: usize,
    pub changed: Vec<JobChange>,
    pub changed_total: usize,
    pub unchanged: usize,
}

impl JobsDiff {
    pub fn is_empty(&self) -> bool {
        self.added_total == 0 && self.removed_total == 0 && self.changed_total == 0
    }
}

/// The fields of two values of one record type that differ.
fn fields<T: Serialize>(recorded: &T, replayed: &T) -> Vec<FieldChange> {
    let (Ok(Value::Object(a)), Ok(Value::Object(b))) = (serde_json::to_value(recorded), serde_json::to_value(replayed))
    else {
        return Vec::new();
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| FieldChange {
            field: k.clone(),
            recorded: a.get(k).cloned().unwrap_or(Value::Null),
            replayed: b.get(k).cloned().unwrap_or(Value::Null),
        })
        .collect()
}

fn push_capped<T>(list: &mut Vec<T>, total: &mut usize, item: T) {
    *total += 1;
    if list.len() < MAX_DIFF_ITEMS {
        list.push(item);
    }
}

/// Compares two sets of jobs by code.
pub fn jobs(recorded: &BTreeMap<String, Job>, replayed: &BTreeMap<String, Job>) -> JobsDiff {
    let mut diff = JobsDiff { recorded: recorded.len(), replayed: replayed.len(), ..Default::default() };
    for (code, before) in recorded {
        match replayed.get(code) {
            None => push_capped(
                &mut diff.removed,
                &mut diff.removed_total,
                JobRef { code: code.clone(), title: before.title.clone() },
            ),
            Some(after) => {
                let changes = fields(before, after);
                if changes.is_empty() {
                    diff.unchanged += 1;
                } else {
                    let change = JobChange { code: code.clone(), title: before.title.clone(), fields: changes };
                    push_capped(&mut diff.changed, &mut diff.changed_total, change);
                }
            }
        }
    }
    for (code, after) in replayed {
        if !recorded.contains_key(code) {
            let job = JobRef { code: code.clone(), title: after.title.clone() };
            push_capped(&mut diff.added, &mut diff.added_total, job);
        }
    }
    diff
}

/// A stage present on one side only, or changed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageChange {
    pub id: String,
    pub fields: Vec<FieldChange>,
}

/// One recorded `list-stages` call against its replay.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StagesDiff {
    /// The call's argument.
    pub job_code: Option<String>,
    pub added: Vec<Stage>,
    pub removed: Vec<Stage>,
    pub changed: Vec<StageChange>,
    /// The replayed call failed (or the recorded one did): why.
    pub error: Option<String>,
}

impl StagesDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty() && self.error.is_none()
    }
}

/// Compares two answers of `list-stages` by stage id (and job).
pub fn stages(job_code: Option<String>, recorded: &[Stage], replayed: &[Stage]) -> StagesDiff {
    let key = |s: &Stage| (s.job_code.clone(), s.id.clone());
    let before: BTreeMap<_, &Stage> = recorded.iter().map(|s| (key(s), s)).collect();
    let after: BTreeMap<_, &Stage> = replayed.iter().map(|s| (key(s), s)).collect();
    let mut diff = StagesDiff { job_code, ..Default::default() };
    for (k, s) in &before {
        match after.get(k) {
            None => diff.removed.push((*s).clone()),
            Some(a) => {
                let changes = fields(*s, *a);
                if !changes.is_empty() {
                    diff.changed.push(StageChange { id: s.id.clone(), fields: changes });
                }
            }
        }
    }
    diff.added = after.iter().filter(|(k, _)| !before.contains_key(*k)).map(|(_, s)| (*s).clone()).collect();
    for list in [&mut diff.added, &mut diff.removed] {
        list.truncate(MAX_DIFF_ITEMS);
    }
    diff.changed.truncate(MAX_DIFF_ITEMS);
    diff
}

/// An application whose status differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusChange {
    pub application_id: String,
    pub fields: Vec<FieldChange>,
}

/// The recorded `candidate-statuses` answers against the replayed ones, by
/// application.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatusesDiff {
    pub recorded: usize,
    pub replayed: usize,
    /// Applications only the replay reported on.
    pub added: Vec<String>,
    /// Applications only the recording reported on.
    pub removed: Vec<String>,
    pub changed: Vec<StatusChange>,
    pub changed_total: usize,
    /// Calls that failed on one side only, or with another error: why.
    pub errors: Vec<String>,
}

impl StatusesDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed_total == 0 && self.errors.is_empty()
    }
}

/// Compares two sets of candidate statuses by application id (a later
/// answer about the same application wins).
pub fn statuses(recorded: &[CandidateStatus], replayed: &[CandidateStatus]) -> StatusesDiff {
    let by_app = |list: &[CandidateStatus]| -> BTreeMap<String, CandidateStatus> {
        list.iter().map(|s| (s.ref_.application_id.clone(), s.clone())).collect()
    };
    let (before, after) = (by_app(recorded), by_app(replayed));
    let mut diff = StatusesDiff { recorded: before.len(), replayed: after.len(), ..Default::default() };
    for (app, b) in &before {
        match after.get(app) {
            None => diff.removed.push(app.clone()),
            Some(a) => {
                let changes = fields(b, a);
                if !changes.is_empty() {
                    let change = StatusChange { application_id: app.clone(), fields: changes };
                    push_capped(&mut diff.changed, &mut diff.changed_total, change);
                }
            }
        }
    }
    diff.added = after.keys().filter(|k| !before.contains_key(*k)).cloned().collect();
    diff.added.truncate(MAX_DIFF_ITEMS);
    diff.removed.truncate(MAX_DIFF_ITEMS);
    diff
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::JobStatus;

    fn job(code: &str, title: &str) -> Job {
        Job {
            code: code.into(),
            status: JobStatus::Open,
            raw_status: "open".into(),
            title: title.into(),
            locations: vec!["Berlin".into()],
            description: String::new(),
            assigned_users: vec![],
            updated_at: None,
            extra: vec![],
        }
    }

    #[test]
    fn jobs_are_compared_by_code_and_field() {
        let recorded: BTreeMap<_, _> = [job("1", "Engineer"), job("2", "Designer"), job("3", "Same")]
            .into_iter()
            .map(|j| (j.code.clone(), j))
            .collect();
        let mut renamed = job("1", "ENGINEER");
        renamed.status = JobStatus::Closed;
        let replayed: BTreeMap<_, _> =
            [renamed, job("3", "Same"), job("4", "New")].into_iter().map(|j| (j.code.clone(), j)).collect();
        let d = jobs(&recorded, &replayed);
        assert_eq!(d.added, vec![JobRef { code: "4".into(), title: "New".into() }]);
        assert_eq!(d.removed, vec![JobRef { code: "2".into(), title: "Designer".into() }]);
        assert_eq!(d.changed.len(), 1);
        let names: Vec<&str> = d.changed[0].fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["status", "title"]);
        assert_eq!(d.unchanged, 1);
        assert!(!d.is_empty());
        assert!(jobs(&recorded, &recorded).is_empty());
    }

    #[test]
    fn stages_are_compared_by_job_and_id() {
        let s = |id: &str, name: &str| Stage { id: id.into(), name: name.into(), position: 0, job_code: None };
        let d = stages(None, &[s("a", "Applied"), s("b", "Offer")], &[s("a", "New"), s("c", "Hired")]);
        assert_eq!(d.removed, vec![s("b", "Offer")]);
        assert_eq!(d.added, vec![s("c", "Hired")]);
        assert_eq!(d.changed[0].fields[0].field, "name");
    }

    #[test]
    fn statuses_are_compared_by_application_and_field() {
        use crate::contract::{ApplicationState, CandidateRef};
        let s = |app: &str, stage: &str| CandidateStatus {
            ref_: CandidateRef { candidate_id: format!("c{app}"), application_id: app.into() },
            state: ApplicationState::Active,
            stage_id: Some(stage.into()),
            stage_name: Some(stage.to_uppercase()),
            updated_at: None,
        };
        let d = statuses(&[s("1", "offer"), s("2", "screen")], &[s("1", "hired"), s("3", "screen")]);
        assert_eq!((d.added.clone(), d.removed.clone()), (vec!["3".to_string()], vec!["2".to_string()]));
        let names: Vec<&str> = d.changed[0].fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["stage_id", "stage_name"]);
        assert!(statuses(&[s("1", "a")], &[s("1", "a")]).is_empty());
    }
}
