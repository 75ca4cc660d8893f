//! Candidates and applications created through the mock, in a vendor-neutral
//! shape that each vendor module renders in its own JSON.

use serde_json::{Map, Value};

use crate::Vendor;
use crate::data::{mix, uuid};
use crate::recorder::PushedFile;

/// Where an application stands, for reconciliation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplicationStatus {
    /// In process (Greenhouse `active`, Ashby `Active`, Lever not archived, Workable not disqualified).
    Active,
    /// Rejected / archived / disqualified.
    Rejected,
    /// Hired.
    Hired,
}

/// A snapshot of one application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Application {
    /// Application id (Lever: the opportunity id, Workable: the candidate id,
    /// since those vendors have one record per person and job).
    pub id: String,
    /// The person.
    pub candidate_id: String,
    /// The job.
    pub job_id: String,
    /// Current stage id (Workable: slug).
    pub stage_id: String,
    /// Status.
    pub status: ApplicationStatus,
}

/// A stage of a job's pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    /// Id (Workable: slug).
    pub id: String,
    /// Display name.
    pub name: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Person {
    pub(crate) id: String,
    pub(crate) first_name: String,
    pub(crate) last_name: String,
    pub(crate) emails: Vec<String>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    pub(crate) files: Vec<PushedFile>,
    /// Vendor-specific fields echoed back as sent (phones, tags, ...).
    pub(crate) extra: Map<String, Value>,
}

impl Person {
    pub(crate) fn name(&self) -> String {
        match (self.first_name.is_empty(), self.last_name.is_empty()) {
            (false, false) => format!("{} {}", self.first_name, self.last_name),
            (true, _) => self.last_name.clone(),
            (_, true) => self.first_name.clone(),
        }
    }

    pub(crate) fn has_email(&self, email: &str) -> bool {
        self.emails.iter().any(|e| e.eq_ignore_ascii_case(email))
    }
}

#[derive(Clone, Debug)]
pub(crate) struct AppRec {
    pub(crate) id: String,
    pub(crate) candidate_id: String,
    pub(crate) job_id: String,
    pub(crate) stage_id: String,
    pub(crate) status: ApplicationStatus,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
    /// When rejected or hired.
    pub(crate) closed_at: Option<i64>,
    /// (stage id, entered at ms), oldest first.
    pub(crate) history: Vec<(String, i64)>,
}

impl AppRec {
    pub(crate) fn snapshot(&self) -> Application {
        Application {
            id: self.id.clone(),
            candidate_id: self.candidate_id.clone(),
            job_id: self.job_id.clone(),
            stage_id: self.stage_id.clone(),
            status: self.status,
        }
    }
}

/// Splits "Ada King Lovelace" into ("Ada King", "Lovelace").
pub(crate) fn split_name(name: &str) -> (String, String) {
    let name = name.trim();
    match name.rsplit_once(' ') {
        Some((first, last)) => (first.trim().to_string(), last.to_string()),
        None => (name.to_string(), String::new()),
    }
}

/// All people and applications of one mock.
#[derive(Debug)]
pub(crate) struct People {
    vendor: Vendor,
    seed: u64,
    counter: u64,
    pub(crate) persons: Vec<Person>,
    pub(crate) apps: Vec<AppRec>,
}

/// Id kinds, for distinct id spaces.
#[derive(Clone, Copy)]
pub(crate) enum IdKind {
    Candidate = 1,
    Application = 2,
}

impl People {
    pub(crate) fn new(vendor: Vendor, seed: u64) -> Self {
        Self { vendor, seed, counter: 0, persons: Vec::new(), apps: Vec::new() }
    }

    /// A fresh id in the vendor's style.
    pub(crate) fn next_id(&mut self, kind: IdKind) -> String {
        self.counter += 1;
        let n = self.counter;
        match self.vendor {
            // Greenhouse candidate ids 50_000_001.., application ids 60_000_001..
            Vendor::Greenhouse => (40_000_000 + 10_000_000 * kind as u64 + n).to_string(),
            Vendor::Lever | Vendor::Ashby | Vendor::SmartRecruiters => uuid(self.seed, 100 + kind as u64, n),
            // BambooHR applicant ids 100001.., application ids 200001..: integers.
            Vendor::BambooHr => (100_000 * kind as u64 + n).to_string(),
            // Workable ids are short hex strings ("ce4da98").
            Vendor::Workable => format!("{:x}", (mix(self.seed ^ kind as u64) & 0xFF_0000_0000) + 0x1000_0000 + n),
        }
    }

    pub(crate) fn person(&self, id: &str) -> Option<&Person> {
        self.persons.iter().find(|p| p.id == id)
    }

    pub(crate) fn person_mut(&mut self, id: &str) -> Option<&mut Person> {
        self.persons.iter_mut().find(|p| p.id == id)
    }

    pub(crate) fn app(&self, id: &str) -> Option<&AppRec> {
        self.apps.iter().find(|a| a.id == id)
    }

    pub(crate) fn app_mut(&mut self, id: &str) -> Option<&mut AppRec> {
        self.apps.iter_mut().find(|a| a.id == id)
    }

    pub(crate) fn apps_of<'a>(&'a self, candidate_id: &'a str) -> impl Iterator<Item = &'a AppRec> + 'a {
        self.apps.iter().filter(move |a| a.candidate_id == candidate_id)
    }

    /// Moves application `id` to `stage_id` (recorded in its history, its
    /// `updated_at` bumped); `None` when there is no such application.
    /// Moving to the current stage changes nothing.
    pub(crate) fn move_app(&mut self, id: &str, stage_id: &str, now: i64) -> Option<&AppRec> {
        let app = self.apps.iter_mut().find(|a| a.id == id)?;
        if app.stage_id != stage_id {
            app.stage_id = stage_id.to_string();
            app.updated_at = now;
            app.history.push((stage_id.to_string(), now));
        }
        Some(app)
    }

    /// Creates a person with the given names and e-mails.
    pub(crate) fn add_person(&mut self, first: &str, last: &str, emails: Vec<String>, now: i64) -> &mut Person {
        let id = self.next_id(IdKind::Candidate);
        self.persons.push(Person {
            id,
            first_name: first.to_string(),
            last_name: last.to_string(),
            emails,
            created_at: now,
            updated_at: now,
            files: Vec::new(),
            extra: Map::new(),
        });
        self.persons.last_mut().expect("just pushed")
    }

    /// Creates an application of `candidate_id` to `job_id` in `stage_id`.
    pub(crate) fn add_app(&mut self, candidate_id: &str, job_id: &str, stage_id: &str, now: i64) -> &mut AppRec {
        let id = self.next_id(IdKind::Application);
        self.add_app_with_id(id, candidate_id, job_id, stage_id, now)
    }

    /// Like [`People::add_app`] with a given id (Lever and Workable reuse the
    /// opportunity / candidate id).
    pub(crate) fn add_app_with_id(
        &mut self,
        id: String,
        candidate_id: &str,
        job_id: &str,
        stage_id: &str,
        now: i64,
    ) -> &mut AppRec {
        self.apps.push(AppRec {
            id,
            candidate_id: candidate_id.to_string(),
            job_id: job_id.to_string(),
            stage_id: stage_id.to_string(),
            status: ApplicationStatus::Active,
            created_at: now,
            updated_at: now,
            closed_at: None,
            history: vec![(stage_id.to_string(), now)],
        });
        self.apps.last_mut().expect("just pushed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_vendor_shaped_and_unique() {
        let mut gh = People::new(Vendor::Greenhouse, 1);
        assert_eq!(gh.next_id(IdKind::Candidate), "50000001");
        assert_eq!(gh.next_id(IdKind::Application), "60000002");
        let mut wk = People::new(Vendor::Workable, 1);
        let a = wk.next_id(IdKind::Candidate);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, wk.next_id(IdKind::Candidate));
        assert_eq!(split_name("Ada King Lovelace"), ("Ada King".into(), "Lovelace".into()));
        assert_eq!(split_name("Cher"), ("Cher".into(), String::new()));
    }
}
