//! Pushing a candidate without creating duplicates.
//!
//! Lever links a new opportunity to an existing contact with the same
//! e-mail address by itself, but it takes no idempotency key: a create
//! repeated after a lost answer would make a second opportunity for the
//! same posting. So a push first reads the address's opportunities
//! (`GET /opportunities?email=`), and
//!
//! 1. an opportunity on the posting exists: it is returned
//!    (`existing: true`) and nothing is written. This also makes a retried
//!    push safe;
//! 2. otherwise the opportunity is created (`POST /opportunities`), and
//!    `existing` says whether Lever already had the person (it links the
//!    new opportunity to their contact).
//!
//! The application answers go into a note on the new opportunity. A failed
//! note does not fail the push (the candidate exists by then, and a retry
//! would find it and stop); it is logged.

use atsbridge_sdk::prelude::*;

use crate::client::Lever;
use crate::map;

/// Creates (or finds) the candidate's opportunity on the posting.
pub fn push(lever: &Lever, request: &PushRequest) -> Result<Pushed, ConnectorError> {
    let posting = request.job_code.as_str();
    let known = lever.opportunities_by_email(&request.candidate.email)?;
    if let Some(found) = map::opportunity_on(&known, posting) {
        log::info(format!("opportunity {} already exists on posting {posting}", found.id));
        return Ok(Pushed { ref_: reference(found), existing: true });
    }
    log::info(format!("creating an opportunity on posting {posting}"));
    let body = map::new_opportunity(request);
    let created = lever.create_opportunity(&body, request.candidate.resume.as_ref())?;
    if let Some(note) = map::answers_note(&request.candidate)
        && let Err(e) = lever.add_note(&created.id, &note)
    {
        log::warn(format!("opportunity {} created, but its answers note failed: {}", created.id, e.message()));
    }
    let existing = known.iter().any(|o| o.contact.is_some() && o.contact == created.contact);
    Ok(Pushed { ref_: reference(&created), existing })
}

/// Lever's ids for a candidate: the contact (the person) and the
/// opportunity (their candidacy for the posting).
fn reference(opportunity: &crate::api::Opportunity) -> CandidateRef {
    CandidateRef::new(opportunity.contact.clone().unwrap_or_else(|| opportunity.id.clone()), opportunity.id.clone())
}
