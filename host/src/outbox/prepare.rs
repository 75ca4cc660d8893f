//! Everything a call needs, read and checked before it is made: the
//! candidate, the position and its job, the stage mapping, the plugin and
//! the connection's settings. What fails here fails at once, with a reason
//! that says which, and is never retried: a closed job, a missing or stale
//! mapping, a connection gone are for a person to fix.

use crate::contract::{Answer, Attachment, CandidateRef, Capability, MoveRequest, PushRequest};
use crate::runtime::{ConnectionContext, Plugin};
use crate::store::{
    Candidate, MappingError, OutboxEntry, OutboxKind, Position, PositionStatus, PushState, ResolvedStage, Store,
    StoreError,
};
use crate::sync::SyncEngine;

use super::key::push_key;

/// Why a push cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushRefusal {
    /// The candidate was deleted.
    #[error("candidate {0} does not exist")]
    CandidateGone(u64),
    /// The position was deleted.
    #[error("position {0} does not exist")]
    PositionGone(u64),
    /// The job is closed in the ATS: it takes no applications.
    #[error("the job `{job_code}` of position {position} is closed in the ATS; it takes no candidates")]
    JobClosed {
        /// The position.
        position: u64,
        /// Its ATS job code.
        job_code: String,
    },
    /// Our stage has no usable ATS stage (none mapped, a stale mapping, the
    /// ATS stages never fetched).
    #[error("no ATS stage for stage `{stage}`: {source}")]
    Mapping {
        /// Our stage.
        stage: String,
        /// Why.
        #[source]
        source: MappingError,
    },
    /// The connection was deleted, is disabled, or its plugin does not load.
    #[error("connection `{connection}` cannot be used: {reason}")]
    Connection {
        /// The connection.
        connection: String,
        /// Why.
        reason: String,
    },
    /// The candidate is not in the ATS yet, so an application cannot move.
    #[error("candidate {0} is not in the ATS yet")]
    NotPushed(u64),
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A push ready to call.
pub struct Prepared {
    pub plugin: Plugin,
    pub context: ConnectionContext,
    pub request: PushRequest,
    /// The questions whose answers the request leaves out because the
    /// connector does not declare `application-answers`: recorded on the
    /// push as not sent, never dropped silently.
    pub answers_not_sent: Vec<String>,
}

/// Checks that `candidate` can be pushed into our stage `stage_id` now: the
/// position exists and its job is not closed, and the stage maps to a
/// current ATS stage for the job. The same checks answer a "send to ATS"
/// request at once and are made again before each attempt. A job whose ATS
/// stages were never fetched passes: the worker reads its pipeline before
/// the push ([`super::pipeline`]) and checks the mapping then.
pub fn check_push(store: &Store, candidate: &Candidate, stage_id: &str) -> Result<(), PushRefusal> {
    match checked_position(store, candidate, stage_id) {
        Ok(_) | Err(PushRefusal::Mapping { source: MappingError::NotFetched { job_code: Some(_), .. }, .. }) => Ok(()),
        Err(refusal) => Err(refusal),
    }
}

/// [`check_push`], with the position it read (a push needs its job code).
fn checked_position(
    store: &Store,
    candidate: &Candidate,
    stage_id: &str,
) -> Result<(Position, ResolvedStage), PushRefusal> {
    let position = store.position(candidate.position_id)?.ok_or(PushRefusal::PositionGone(candidate.position_id))?;
    if position.status == PositionStatus::Closed {
        return Err(PushRefusal::JobClosed { position: position.id, job_code: position.ats_job_code });
    }
    let stage =
        store.resolve_stage(&candidate.connection_id, Some(&position.ats_job_code), stage_id).map_err(|source| {
            match source {
                MappingError::Store(e) => PushRefusal::Store(e),
                source => PushRefusal::Mapping { stage: stage_id.to_string(), source },
            }
        })?;
    Ok((position, stage))
}

/// Reads and checks everything for a push entry.
pub async fn push(
    engine: &SyncEngine,
    entry: &OutboxEntry,
    links: Option<&super::ResumeLinks>,
) -> Result<Prepared, PushRefusal> {
    let store = engine.store();
    let OutboxKind::Push { position_id, stage_id } = &entry.kind else {
        return Err(PushRefusal::Store(StoreError::InvalidCommit {
            connection: entry.connection_id.clone(),
            reason: format!("outbox entry {} is not a push", entry.id),
        }));
    };
    let candidate = store.candidate(entry.candidate_id)?.ok_or(PushRefusal::CandidateGone(entry.candidate_id))?;
    let (position, stage) = checked_position(store, &candidate, stage_id)?;
    // The entry's position is the candidate's (a candidate never moves to
    // another one), so it is read once; an entry that says otherwise is
    // pushed for the position it names, as queued.
    let position = if position.id == *position_id {
        position
    } else {
        store.position(*position_id)?.ok_or(PushRefusal::PositionGone(*position_id))?
    };
    let (plugin, context) = connection(engine, &entry.connection_id).await?;
    let resume = match &candidate.resume {
        Some(meta) => store.candidate_resume(candidate.id)?.map(|content| Attachment {
            file_name: meta.file_name.clone(),
            content_type: meta.content_type.clone(),
            content,
        }),
        None => None,
    };
    let (first_name, last_name) = split_name(&candidate.name);
    let resume_url = match (&resume, links) {
        (Some(_), Some(links)) => Some(links.url(candidate.id, crate::store::now_unix())),
        _ => None,
    };
    let request = PushRequest {
        job_code: position.ats_job_code.clone(),
        candidate: crate::contract::Candidate {
            first_name,
            last_name,
            email: candidate.email.clone(),
            phone: candidate.phone.clone(),
            resume,
            // The same file at a short-lived signed link, for ATS that
            // take a résumé only as a URL.
            resume_url,
            source: candidate.source.clone(),
            links: candidate.links.clone(),
            answers: candidate
                .answers
                .iter()
                .map(|(question, answer)| Answer { question: question.clone(), answer: answer.clone() })
                .collect(),
        },
        stage_id: Some(stage.ats_stage_id),
        idempotency_key: push_key(candidate.id, position.id),
    };
    let mut request = request;
    let answers_not_sent = withhold_answers(&plugin, &entry.connection_id, &mut request).await?;
    Ok(Prepared { plugin, context, request, answers_not_sent })
}

/// The contract version that added the `application-answers` capability.
const ANSWERS_DECLARED_SINCE: semver::Version = semver::Version::new(0, 2, 0);

/// Takes the answers out of `request` when the connector does not declare
/// `application-answers`, and returns their questions: contract 0.2.0 says
/// the host records them as not sent rather than let them be dropped
/// silently. A 0.1.0 connector, whose contract has no such capability and
/// hands every connector the answers, is given them as that contract says.
/// Pushes without answers never ask the connector.
async fn withhold_answers(
    plugin: &Plugin,
    connection: &str,
    request: &mut PushRequest,
) -> Result<Vec<String>, PushRefusal> {
    if request.candidate.answers.is_empty() || *plugin.contract() < ANSWERS_DECLARED_SINCE {
        return Ok(Vec::new());
    }
    let info = plugin.info().await.map_err(|e| PushRefusal::Connection {
        connection: connection.to_string(),
        reason: format!("the connector's info() failed: {e}"),
    })?;
    if info.capabilities.contains(&Capability::ApplicationAnswers) {
        return Ok(Vec::new());
    }
    Ok(std::mem::take(&mut request.candidate.answers).into_iter().map(|a| a.question).collect())
}

/// Why a move is not made.
#[derive(Debug)]
pub enum MoveRefusal {
    /// The ATS cannot be told, by design: recorded as not propagated.
    NotPropagated(String),
    /// It should have worked but cannot: recorded as failed.
    Failed(String),
    /// The ATS stages of this job were never fetched: read them, then
    /// prepare again ([`super::pipeline::prepare_move`]).
    NotFetched(String),
    /// Reading the job's stages failed; retried or recorded as a call's
    /// failure is.
    Stages(super::pipeline::PipelineFailure),
}

/// A move ready to call.
pub struct PreparedMove {
    pub plugin: Plugin,
    pub context: ConnectionContext,
    pub request: MoveRequest,
}

/// Reads and checks everything for a move entry. A connector that does not
/// declare `move-application` is not called: the move is recorded as not
/// propagated, with that reason.
pub async fn move_application(engine: &SyncEngine, entry: &OutboxEntry) -> Result<PreparedMove, MoveRefusal> {
    let failed = |e: &dyn std::fmt::Display| MoveRefusal::Failed(e.to_string());
    let store = engine.store();
    let OutboxKind::Move { to_stage, .. } = &entry.kind else {
        return Err(MoveRefusal::Failed(format!("outbox entry {} is not a move", entry.id)));
    };
    let candidate = store
        .candidate(entry.candidate_id)
        .map_err(|e| failed(&e))?
        .ok_or_else(|| failed(&PushRefusal::CandidateGone(entry.candidate_id)))?;
    let PushState::Pushed { ats_candidate_id, application_id, .. } = &candidate.push else {
        return Err(MoveRefusal::NotPropagated(PushRefusal::NotPushed(candidate.id).to_string()));
    };
    let position = store
        .position(candidate.position_id)
        .map_err(|e| failed(&e))?
        .ok_or_else(|| failed(&PushRefusal::PositionGone(candidate.position_id)))?;
    let (plugin, context) = connection(engine, &entry.connection_id).await.map_err(|e| failed(&e))?;
    let info = plugin.info().await.map_err(|e| failed(&e))?;
    if !info.capabilities.contains(&Capability::MoveApplication) {
        return Err(MoveRefusal::NotPropagated(format!(
            "the connector `{}` cannot move applications in the ATS (no move-application capability)",
            plugin.id()
        )));
    }
    let stage =
        store.resolve_stage(&entry.connection_id, Some(&position.ats_job_code), to_stage).map_err(|e| match e {
            MappingError::NotFetched { job_code: Some(job), .. } => MoveRefusal::NotFetched(job),
            source => failed(&PushRefusal::Mapping { stage: to_stage.clone(), source }),
        })?;
    let request = MoveRequest {
        ref_: CandidateRef { candidate_id: ats_candidate_id.clone(), application_id: application_id.clone() },
        stage_id: stage.ats_stage_id,
        job_code: position.ats_job_code,
    };
    Ok(PreparedMove { plugin, context, request })
}

/// The connection's plugin and call context.
pub(super) async fn connection(
    engine: &SyncEngine,
    connection_id: &str,
) -> Result<(Plugin, ConnectionContext), PushRefusal> {
    let refuse = |reason: String| PushRefusal::Connection { connection: connection_id.to_string(), reason };
    let connection =
        engine.store().connection(connection_id)?.ok_or_else(|| refuse("it does not exist".to_string()))?;
    if !connection.enabled {
        return Err(refuse("it is disabled".to_string()));
    }
    let context = engine.connection_context(&connection).map_err(|e| refuse(e.to_string()))?;
    let plugin = engine.runtime().plugin(&connection.plugin_id).await.map_err(|e| refuse(e.to_string()))?;
    Ok((plugin, context))
}

/// Splits a full name into first and last name at the last space; a single
/// word is the first name. ATS require both fields but people's names do
/// not split reliably, so the split is only a best effort.
fn split_name(name: &str) -> (String, String) {
    let name = name.trim();
    match name.rsplit_once(' ') {
        Some((first, last)) => (first.trim().to_string(), last.to_string()),
        None => (name.to_string(), String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_at_the_last_space() {
        assert_eq!(split_name(" Ada King Lovelace "), ("Ada King".into(), "Lovelace".into()));
        assert_eq!(split_name("Cher"), ("Cher".into(), String::new()));
    }
}
