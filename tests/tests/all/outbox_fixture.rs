//! Store fixtures for candidate pushes against a mock ATS, shared by the
//! push tests (`outbox_support`) and the push benchmark
//! (`benches/outbox.rs`, which includes this file by path): a job's
//! pipeline as the mock has it, cached with "New submission" mapped to its
//! first stage, and a candidate as the platform would create it.

use atsbridge::contract::Stage;
use atsbridge::store::{MovedBy, NewCandidate, Store};
use atsbridge_mock_ats::MockAts;

/// Caches `job_code`'s pipeline as `mock` has it for `connection` and maps
/// our "New submission" to its first stage, as `list-stages` and an operator
/// would.
pub fn map_first_stage(store: &Store, connection: &str, mock: &MockAts, job_code: &str) {
    let stages = mock.stages(job_code).expect("the mock knows the job");
    let first = stages.first().expect("a pipeline has stages").id.clone();
    let ats = stages
        .into_iter()
        .enumerate()
        .map(|(i, s)| Stage { id: s.id, name: s.name, position: i as u32, job_code: Some(job_code.to_string()) })
        .collect();
    store.put_ats_stages(connection, Some(job_code), ats).expect("cache the stages");
    store.set_stage_override(connection, Some(job_code), "new-submission", &first).expect("map the first stage");
}

/// A candidate for `position_id` with a name and an e-mail only, created by
/// a user named `by` (also the source).
pub fn new_candidate(position_id: u64, name: String, email: String, by: &str) -> NewCandidate {
    NewCandidate {
        position_id,
        name,
        email,
        phone: None,
        links: Vec::new(),
        resume: None,
        answers: Default::default(),
        source: Some(by.to_string()),
        stage_id: None,
        by: MovedBy::User { name: by.to_string() },
    }
}
