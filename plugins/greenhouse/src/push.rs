//! Pushing a candidate without creating duplicates.
//!
//! Harvest neither dedupes people nor takes an idempotency key, so the
//! e-mail address is the key: a push first looks the address up
//! (`GET /v3/candidates?email=`), and
//!
//! 1. a person who already applied to the job: that application is returned
//!    (`existing: true`) and nothing is written. This is also what makes a
//!    retried push safe: a retry after a create whose answer was lost finds
//!    the application the first attempt made;
//! 2. a person without an application on the job: one application is added
//!    (`POST /v3/applications`, `existing: true`);
//! 3. nobody: the person is created with the application
//!    (`POST /v3/candidates`, `existing: false`).

use atsbridge_sdk::prelude::*;

use crate::client::Harvest;
use crate::map;

/// Creates (or finds) the candidate and their application on the job.
pub fn push(harvest: &Harvest, request: &PushRequest) -> Result<Pushed, ConnectorError> {
    let job_id = request.job_code.trim();
    map::harvest_id("job code", job_id)?;
    let known = harvest.candidates_by_email(&request.candidate.email)?;
    let mut first_known = None;
    for candidate in known {
        let candidate_id = candidate.id.clone();
        first_known.get_or_insert_with(|| candidate_id.clone());
        let applications = harvest.applications_of(candidate)?;
        if let Some(application) = applications.iter().find(|a| map::applied_to(a, job_id)) {
            log::info(format!(
                "candidate {candidate_id} already applied to job {job_id} (application {})",
                application.id
            ));
            return Ok(Pushed { ref_: CandidateRef::new(candidate_id.0, application.id.0.clone()), existing: true });
        }
    }
    if let Some(candidate_id) = first_known {
        log::info(format!("adding an application on job {job_id} to candidate {candidate_id}"));
        let created = harvest.create_application(&map::new_application(request, &candidate_id)?)?;
        return Ok(Pushed { ref_: CandidateRef::new(candidate_id.0, created.id.0), existing: true });
    }
    let acting_user = map::harvest_id("setting `user-id`", harvest.user_id())
        .map_err(|e| ConnectorError::InvalidConfig(e.message().to_string()))?;
    log::info(format!("creating a candidate with an application on job {job_id}"));
    let created = harvest.create_candidate(&map::new_candidate(request, acting_user)?)?;
    // The answer may be truncated to ids while Greenhouse builds the
    // record; a new person has exactly the one application we sent.
    let application_id = created
        .applications
        .iter()
        .find(|a| map::applied_to(a, job_id))
        .map(|a| a.id.clone())
        .or_else(|| created.application_ids.first().cloned())
        .ok_or_else(|| {
            ConnectorError::Permanent(format!("Greenhouse created candidate {} but named no application", created.id))
        })?;
    Ok(Pushed { ref_: CandidateRef::new(created.id.0, application_id.0), existing: false })
}
