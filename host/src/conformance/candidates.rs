//! Candidate push (retried with the same idempotency key) and statuses.

use super::{Checked, Run, fail, skip};
use crate::contract::{
    Answer, ApplicationState, Attachment, Candidate, CandidateRef, Capability, JobStatus, PushRequest,
};

/// The test resume: a minimal but well-formed PDF, so vendors that sniff
/// the content accept it.
const RESUME_PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n\
2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

/// The candidate the kit pushes, unique to this run (the e-mail address is
/// what connectors dedupe on).
fn test_request(job_code: &str, run_tag: &str) -> PushRequest {
    PushRequest {
        job_code: job_code.to_string(),
        candidate: Candidate {
            first_name: "Ada".into(),
            last_name: format!("Conformance {run_tag}"),
            email: format!("conformance+{run_tag}@example.com"),
            phone: Some("+1 555 0100".into()),
            resume: Some(Attachment {
                file_name: "conformance-resume.pdf".into(),
                content_type: "application/pdf".into(),
                content: RESUME_PDF.to_vec(),
            }),
            resume_url: None,
            source: Some("atsbridge conformance kit".into()),
            links: vec!["https://www.linkedin.com/in/atsbridge-conformance".into()],
            answers: vec![Answer { question: "Why this job?".into(), answer: "A conformance check.".into() }],
        },
        stage_id: None,
        idempotency_key: format!("conformance-{run_tag}"),
    }
}

/// The job to push to: on a mock, its first open job; on a server, the
/// first open job of the full listing.
fn open_job(run: &Run<'_>) -> Option<String> {
    match run.mock {
        Some(mock) => mock.jobs().into_iter().find(|j| j.status == atsbridge_mock_ats::JobStatus::Open).map(|j| j.id),
        None => run.listed.as_ref()?.0.iter().find(|j| j.status == JobStatus::Open).map(|j| j.code.clone()),
    }
}

/// A push of a new person creates them (`existing = false`); the same push
/// again (same idempotency key) returns that candidate, not a second one.
/// On a mock, exactly one record reached the ATS, on the right job, with
/// the resume.
pub(super) async fn push(run: &mut Run<'_>) -> Checked {
    run.require(Capability::CandidatePush)?;
    if run.mock.is_none() && !run.allow_writes {
        return Err(skip("creates a test candidate: allow writes to this server first (--allow-writes)"));
    }
    let conn = run.connection("push")?;
    let job = open_job(run).ok_or_else(|| skip("no open job to push a candidate to"))?;
    let request = test_request(&job, &run.run_tag);
    let first = run
        .patience
        .call(|| run.plugin.push_candidate(&conn, &request))
        .await
        .map_err(|e| fail(format!("push to job {job} failed: {e}")))?;
    run.pushed = Some(first.clone());
    run.pushed_job = Some(job.clone());
    if first.existing {
        return Err(fail(format!(
            "the first push of the new address {} reported existing = true",
            request.candidate.email
        )));
    }
    let second = run
        .patience
        .call(|| run.plugin.push_candidate(&conn, &request))
        .await
        .map_err(|e| fail(format!("the retried push (same idempotency key) failed: {e}")))?;
    let same = second.ref_ == first.ref_;
    if !(second.existing || same) {
        return Err(fail(format!(
            "the retried push created a new candidate: {} then {}",
            show(&first.ref_),
            show(&second.ref_)
        )));
    }
    if second.ref_.application_id != first.ref_.application_id {
        return Err(fail(format!(
            "the retried push names another application: {} then {}",
            show(&first.ref_),
            show(&second.ref_)
        )));
    }
    let retry = format!("the retry returned {} with existing = {}", show(&second.ref_), second.existing);
    let Some(mock) = run.mock else {
        return Ok(format!("job {job}: created {}; {retry}", show(&first.ref_)));
    };
    let email = &request.candidate.email;
    let records: Vec<_> = mock
        .pushed_candidates()
        .into_iter()
        .filter(|p| p.emails.iter().any(|e| e.eq_ignore_ascii_case(email)))
        .collect();
    let [record] = records.as_slice() else {
        let endpoints: Vec<&str> = records.iter().map(|r| r.endpoint.as_str()).collect();
        return Err(fail(format!("the ATS received {} creates for one candidate: {endpoints:?}", records.len())));
    };
    if record.job_id.as_deref() != Some(job.as_str()) {
        return Err(fail(format!("the application is on job {:?}, not {job}", record.job_id)));
    }
    if record.application_id.as_deref() != Some(first.ref_.application_id.as_str()) {
        return Err(fail(format!(
            "the connector reports application {} but the ATS created {:?}",
            first.ref_.application_id, record.application_id
        )));
    }
    let resumes: Vec<_> = record.files.iter().filter(|f| f.kind == "resume").collect();
    match resumes.as_slice() {
        [resume] if resume.bytes == RESUME_PDF => {}
        [resume] => {
            return Err(fail(format!(
                "the resume reached the ATS with {} bytes, not the {} sent",
                resume.bytes.len(),
                RESUME_PDF.len()
            )));
        }
        other => return Err(fail(format!("the ATS holds {} resumes for the candidate, expected 1", other.len()))),
    }
    Ok(format!("job {job}: one candidate with its resume ({} via {}); {retry}", show(&first.ref_), record.endpoint))
}

/// `candidate-statuses` answers for the pushed candidate: one status, for
/// that reference, `active` (it was just created); on a mock, in the stage
/// the ATS has it in.
pub(super) async fn statuses(run: &Run<'_>) -> Checked {
    run.require(Capability::CandidateStatus)?;
    let conn = run.connection("candidate-statuses")?;
    let pushed = run.pushed.as_ref().ok_or_else(|| skip("needs the candidate created by `push`"))?;
    let wanted = &pushed.ref_;
    let statuses = run
        .patience
        .call(|| run.plugin.candidate_statuses(&conn, std::slice::from_ref(wanted)))
        .await
        .map_err(|e| fail(format!("candidate-statuses failed: {e}")))?;
    let [status] = statuses.as_slice() else {
        return Err(fail(format!("asked for 1 candidate, got {} statuses", statuses.len())));
    };
    if &status.ref_ != wanted {
        return Err(fail(format!("asked for {}, got a status for {}", show(wanted), show(&status.ref_))));
    }
    if status.state != ApplicationState::Active {
        return Err(fail(format!("a new application should be active, got {:?}", status.state)));
    }
    let stage = status.stage_id.clone().unwrap_or_default();
    if let Some(mock) = run.mock {
        let app = mock
            .applications()
            .into_iter()
            .find(|a| a.id == wanted.application_id)
            .ok_or_else(|| fail(format!("the mock has no application {}", wanted.application_id)))?;
        if status.stage_id.as_deref() != Some(app.stage_id.as_str()) {
            return Err(fail(format!(
                "stage {:?}, but the ATS has the application in {}",
                status.stage_id, app.stage_id
            )));
        }
    }
    let name = status.stage_name.as_deref().unwrap_or("no name");
    Ok(format!("{}: active, stage {stage} ({name})", show(wanted)))
}

fn show(r: &CandidateRef) -> String {
    format!("candidate {} / application {}", r.candidate_id, r.application_id)
}
