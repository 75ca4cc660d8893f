//! `move-application`: the pushed candidate moves to another stage of its
//! job, and the move reads back.

use super::{Checked, Run, fail, skip};
use crate::contract::{CandidateRef, Capability, MoveRequest, Stage};

/// Moves the candidate `push` created to the stage after the one it is in
/// (the first, when it is in the last), reads it back through
/// `candidate-statuses` (and, on a mock, in the ATS's own data), then moves
/// it to that stage again, which must succeed and change nothing.
pub(super) async fn move_application(run: &Run<'_>) -> Checked {
    run.require(Capability::MoveApplication)?;
    run.require(Capability::CandidateStatus)?;
    run.require(Capability::Stages)?;
    let conn = run.connection("move-application")?;
    let (pushed, job) = match (&run.pushed, &run.pushed_job) {
        (Some(pushed), Some(job)) => (&pushed.ref_, job.clone()),
        _ => return Err(skip("needs the candidate created by `push`")),
    };
    let stages = run
        .patience
        .call(|| run.plugin.list_stages(&conn, Some(&job)))
        .await
        .map_err(|e| fail(format!("list-stages for job {job} failed: {e}")))?;
    let current = current_stage(run, &conn, pushed).await?;
    let target = next_stage(&stages, current.as_deref())
        .ok_or_else(|| fail(format!("job {job} has no stage other than {current:?} to move to")))?;
    let request = MoveRequest { ref_: pushed.clone(), stage_id: target.id.clone(), job_code: job.clone() };
    run.patience
        .call(|| run.plugin.move_application(&conn, &request))
        .await
        .map_err(|e| fail(format!("moving to stage {} ({}) failed: {e}", target.id, target.name)))?;
    let now = current_stage(run, &conn, pushed).await?;
    if now.as_deref() != Some(target.id.as_str()) {
        return Err(fail(format!("moved to stage {}, but candidate-statuses reads {now:?}", target.id)));
    }
    if let Some(mock) = run.mock {
        let app = mock
            .applications()
            .into_iter()
            .find(|a| a.id == pushed.application_id)
            .ok_or_else(|| fail(format!("the mock has no application {}", pushed.application_id)))?;
        if app.stage_id != target.id {
            return Err(fail(format!(
                "moved to stage {}, but the ATS has the application in {}",
                target.id, app.stage_id
            )));
        }
    }
    run.patience
        .call(|| run.plugin.move_application(&conn, &request))
        .await
        .map_err(|e| fail(format!("moving again to the stage it is in ({}) failed: {e}", target.id)))?;
    let again = current_stage(run, &conn, pushed).await?;
    if again.as_deref() != Some(target.id.as_str()) {
        return Err(fail(format!("after a repeated move to {}, candidate-statuses reads {again:?}", target.id)));
    }
    let from = current.as_deref().unwrap_or("no stage");
    Ok(format!(
        "job {job}: from stage {from} to {} ({}), read back; moving there again succeeds",
        target.id, target.name
    ))
}

/// The stage `candidate-statuses` reports for `pushed`.
async fn current_stage(
    run: &Run<'_>,
    conn: &crate::runtime::ConnectionContext,
    pushed: &CandidateRef,
) -> Result<Option<String>, super::Verdict> {
    let statuses = run
        .patience
        .call(|| run.plugin.candidate_statuses(conn, std::slice::from_ref(pushed)))
        .await
        .map_err(|e| fail(format!("candidate-statuses failed: {e}")))?;
    match statuses.as_slice() {
        [status] if &status.ref_ == pushed => Ok(status.stage_id.clone()),
        other => Err(fail(format!("asked for 1 candidate, got {} statuses", other.len()))),
    }
}

/// The stage after `current` in pipeline order, or the first when `current`
/// is the last or not listed.
fn next_stage<'a>(stages: &'a [Stage], current: Option<&str>) -> Option<&'a Stage> {
    let mut ordered: Vec<&Stage> = stages.iter().collect();
    ordered.sort_by_key(|s| s.position);
    let at = ordered.iter().position(|s| Some(s.id.as_str()) == current);
    let after = at.map_or(0, |i| i + 1);
    ordered[after..].iter().chain(ordered[..after].iter()).copied().find(|s| Some(s.id.as_str()) != current)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(id: &str, position: u32) -> Stage {
        Stage { id: id.into(), name: id.to_uppercase(), position, job_code: None }
    }

    #[test]
    fn the_next_stage_follows_the_current_one_and_wraps() {
        let stages = [stage("c", 2), stage("a", 0), stage("b", 1)];
        assert_eq!(next_stage(&stages, Some("a")).map(|s| s.id.as_str()), Some("b"));
        assert_eq!(next_stage(&stages, Some("c")).map(|s| s.id.as_str()), Some("a"));
        assert_eq!(next_stage(&stages, None).map(|s| s.id.as_str()), Some("a"));
        assert!(next_stage(&[stage("a", 0)], Some("a")).is_none());
    }
}
