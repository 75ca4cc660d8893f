//! Stages: one job's pipeline, and the account's.

use std::collections::{HashMap, HashSet};

use super::{Checked, Run, fail};
use crate::contract::{Capability, Stage};

/// Stages of one job, and of the account: non-empty, positions 0..n in
/// order; on a mock, the job's pipeline as the mock has it.
pub(super) async fn stages(run: &Run<'_>) -> Checked {
    run.require(Capability::Stages)?;
    let conn = run.connection("stages")?;
    let mut verified = Vec::new();
    let job = run.listed.as_ref().and_then(|(jobs, _)| jobs.first()).map(|j| j.code.clone());
    if let Some(code) = &job {
        let stages = run
            .patience
            .call(|| run.plugin.list_stages(&conn, Some(code)))
            .await
            .map_err(|e| fail(format!("list-stages for job {code} failed: {e}")))?;
        check_pipeline(&stages, Some(code)).map_err(|e| fail(format!("job {code}: {e}")))?;
        if let Some(mock) = run.mock {
            let want: Vec<String> =
                mock.stages(code).map_err(|e| fail(e.to_string()))?.into_iter().map(|s| s.id).collect();
            let got: Vec<String> = stages.iter().map(|s| s.id.clone()).collect();
            if got != want {
                return Err(fail(format!("job {code}: stage ids {got:?}, but the mock's pipeline is {want:?}")));
            }
        }
        verified.push(format!("job {code}: {} stages in order", stages.len()));
    }
    let account = run
        .patience
        .call(|| run.plugin.list_stages(&conn, None))
        .await
        .map_err(|e| fail(format!("list-stages without a job failed: {e}")))?;
    check_runs(&account).map_err(|e| fail(format!("account stages: {e}")))?;
    verified.push(format!("account: {} stages", account.len()));
    Ok(verified.join("; "))
}

/// One pipeline: non-empty, positions exactly 0..n in the order returned,
/// unique non-empty ids, names, and the requested job (or none).
fn check_pipeline(stages: &[Stage], job: Option<&str>) -> Result<(), String> {
    if stages.is_empty() {
        return Err("no stages".into());
    }
    let positions: Vec<u32> = stages.iter().map(|s| s.position).collect();
    if positions.iter().copied().ne(0..stages.len() as u32) {
        return Err(format!("positions {positions:?}, expected 0..{} in order", stages.len()));
    }
    check_ids(stages)?;
    if let Some(other) = stages.iter().find(|s| s.job_code.is_some() && s.job_code.as_deref() != job) {
        return Err(format!("stage {} belongs to job {:?}, not the one asked for", other.id, other.job_code));
    }
    Ok(())
}

/// Stages of several pipelines (per job, or per interview plan): non-empty,
/// and within each job the positions count up from 0, starting over at 0
/// where a new pipeline begins.
fn check_runs(stages: &[Stage]) -> Result<(), String> {
    if stages.is_empty() {
        return Err("no stages".into());
    }
    let mut next: HashMap<Option<&str>, u32> = HashMap::new();
    for s in stages {
        let expected = next.entry(s.job_code.as_deref()).or_insert(0);
        if s.position != *expected && s.position != 0 {
            return Err(format!(
                "stage {} has position {}, expected {} or 0 (a new pipeline)",
                s.id, s.position, expected
            ));
        }
        *expected = s.position + 1;
    }
    if stages.iter().any(|s| s.id.trim().is_empty() || s.name.trim().is_empty()) {
        return Err("a stage has an empty id or name".into());
    }
    Ok(())
}

fn check_ids(stages: &[Stage]) -> Result<(), String> {
    let mut seen = HashSet::new();
    for s in stages {
        if s.id.trim().is_empty() || s.name.trim().is_empty() {
            return Err(format!("a stage has an empty id or name: {:?} / {:?}", s.id, s.name));
        }
        if !seen.insert(s.id.as_str()) {
            return Err(format!("stage id {} appears twice", s.id));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(id: &str, position: u32, job: Option<&str>) -> Stage {
        Stage { id: id.into(), name: format!("Stage {id}"), position, job_code: job.map(str::to_string) }
    }

    #[test]
    fn a_pipeline_counts_from_zero_in_order_for_the_job_asked() {
        let good = [stage("a", 0, Some("7")), stage("b", 1, Some("7")), stage("c", 2, None)];
        assert_eq!(check_pipeline(&good, Some("7")), Ok(()));
        assert_eq!(check_pipeline(&[], Some("7")), Err("no stages".into()));
        let gap = [stage("a", 0, None), stage("b", 2, None)];
        assert!(check_pipeline(&gap, None).unwrap_err().contains("expected 0..2"));
        let reversed = [stage("a", 1, None), stage("b", 0, None)];
        assert!(check_pipeline(&reversed, None).is_err());
        let twice = [stage("a", 0, None), stage("a", 1, None)];
        assert!(check_pipeline(&twice, None).unwrap_err().contains("appears twice"));
        let foreign = [stage("a", 0, Some("8"))];
        assert!(check_pipeline(&foreign, Some("7")).unwrap_err().contains("belongs to job"));
        let unnamed = [Stage { name: " ".into(), ..stage("a", 0, None) }];
        assert!(check_pipeline(&unnamed, None).is_err());
    }

    #[test]
    fn account_stages_may_hold_several_pipelines() {
        // Per job (Greenhouse), per interview plan without a job (Ashby).
        let per_job =
            [stage("a", 0, Some("1")), stage("b", 1, Some("1")), stage("c", 0, Some("2")), stage("d", 1, Some("2"))];
        assert_eq!(check_runs(&per_job), Ok(()));
        let per_plan = [stage("a", 0, None), stage("b", 1, None), stage("c", 0, None), stage("d", 1, None)];
        assert_eq!(check_runs(&per_plan), Ok(()));
        let skipping = [stage("a", 0, None), stage("b", 2, None)];
        assert!(check_runs(&skipping).unwrap_err().contains("expected 1 or 0"));
        assert!(check_runs(&[]).is_err());
    }
}
