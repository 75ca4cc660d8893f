//! Reconciliation: reading back what the ATS decided about the candidates
//! we pushed, and bringing our stages in line.
//!
//! # The rule: the ATS wins
//!
//! Once a candidate is in the ATS, the hiring team works there: a stage the
//! ATS reports is recorded as a move by the ATS, whatever our stage was.
//! Two exceptions keep the rule from undoing our own work: a candidate with
//! an outbox entry still pending (a push or a move on its way to the ATS)
//! is skipped until that entry is done, and an ATS stage that maps to none
//! of ours changes nothing (it is counted as unmapped).
//!
//! The ATS's application state comes before its stage: `rejected` and
//! `withdrawn` map to our stage named "Rejected", `hired` to the one named
//! "Hired", when the account has such stages; otherwise, and for active
//! applications, the ATS stage maps back through the connection's mapping.

use std::collections::HashMap;

use crate::contract::{ApplicationState, CandidateRef, CandidateStatus};
use crate::runtime::CallError;
use crate::store::{Candidate, CandidateFilter, Connection, HiringStage, PushState, StoreError};
use crate::sync::SyncEngine;

/// Candidates per `candidate-statuses` call: the ATS APIs answer one
/// application per request, so a batch is that many requests inside one
/// plugin call, which must finish within the call's deadline.
pub const STATUS_BATCH: usize = 50;
/// Candidates read from the store per page while looking for pushed ones.
const SCAN_PAGE: usize = 500;

/// Why a reconciliation could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReconcileError {
    /// No such connection.
    #[error("connection `{0}` does not exist")]
    UnknownConnection(String),
    /// The connection is disabled.
    #[error("connection `{0}` is disabled")]
    Disabled(String),
    /// The plugin or the ATS failed; changes already recorded stay.
    #[error("reading candidate statuses failed: {0}")]
    Call(#[from] CallError),
    /// The connection's settings or plugin could not be prepared.
    #[error("connection `{connection}` cannot be used: {reason}")]
    Connection {
        /// The connection.
        connection: String,
        /// Why.
        reason: String,
    },
    /// Reading or writing the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a reconciliation found.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReconcileReport {
    /// The connection reconciled.
    pub connection_id: String,
    /// Pushed candidates whose status was asked for.
    pub checked: usize,
    /// Candidates moved to the stage the ATS reported.
    pub moved: usize,
    /// Statuses whose ATS stage maps to none of our stages.
    pub unmapped: usize,
    /// Candidates skipped because an outbox entry of theirs is pending.
    pub skipped_pending: usize,
    /// Pushed candidates the ATS did not report on.
    pub missing: usize,
}

/// Reads the status of every candidate pushed through `connection_id`, in
/// batches, and records each stage the ATS changed as a move by the ATS.
pub async fn reconcile(engine: &SyncEngine, connection_id: &str) -> Result<ReconcileReport, ReconcileError> {
    let store = engine.store();
    let connection =
        store.connection(connection_id)?.ok_or_else(|| ReconcileError::UnknownConnection(connection_id.into()))?;
    if !connection.enabled {
        return Err(ReconcileError::Disabled(connection_id.to_string()));
    }
    let refuse = |reason: String| ReconcileError::Connection { connection: connection_id.to_string(), reason };
    let plugin = engine.runtime().plugin(&connection.plugin_id).await.map_err(|e| refuse(e.to_string()))?;
    reconcile_through(engine, &connection, &plugin).await
}

/// [`reconcile`] through `plugin`, the connection's loaded plugin. A daily
/// run passes its own metered handle: the calls, and the bytes the moves
/// write ([`Meter::stored`](crate::runtime::meter::Meter::stored)), count
/// in the run's cost.
pub async fn reconcile_through(
    engine: &SyncEngine,
    connection: &Connection,
    plugin: &crate::runtime::Plugin,
) -> Result<ReconcileReport, ReconcileError> {
    let (store, connection_id) = (engine.store(), connection.id.as_str());
    let refuse = |reason: String| ReconcileError::Connection { connection: connection_id.to_string(), reason };
    let context = engine.connection_context(connection).map_err(|e| refuse(e.to_string()))?;
    let stages = store.hiring_stages(&connection.account_id)?;
    let mut report = ReconcileReport { connection_id: connection_id.to_string(), ..ReconcileReport::default() };
    let filter = CandidateFilter { account_id: Some(connection.account_id.clone()), ..CandidateFilter::default() };
    let mut after = None;
    let mut batch: Vec<Candidate> = Vec::new();
    loop {
        let page = store.candidates_page(&filter, after, SCAN_PAGE)?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for candidate in page {
            if candidate.connection_id != connection_id || !matches!(candidate.push, PushState::Pushed { .. }) {
                continue;
            }
            batch.push(candidate);
            if batch.len() == STATUS_BATCH {
                reconcile_batch(engine, plugin, &context, &stages, std::mem::take(&mut batch), &mut report).await?;
            }
        }
    }
    if !batch.is_empty() {
        reconcile_batch(engine, plugin, &context, &stages, batch, &mut report).await?;
    }
    tracing::info!(
        connection = connection_id,
        checked = report.checked,
        moved = report.moved,
        unmapped = report.unmapped,
        skipped_pending = report.skipped_pending,
        missing = report.missing,
        "candidates reconciled with the ATS"
    );
    Ok(report)
}

async fn reconcile_batch(
    engine: &SyncEngine,
    plugin: &crate::runtime::Plugin,
    context: &crate::runtime::ConnectionContext,
    stages: &[HiringStage],
    batch: Vec<Candidate>,
    report: &mut ReconcileReport,
) -> Result<(), ReconcileError> {
    let store = engine.store();
    // Candidates linked to one application (the same person applying twice,
    // found by the connector's dedupe) share its status: it is asked for
    // once and applies to each of them.
    let mut by_application: HashMap<String, Vec<Candidate>> = HashMap::new();
    let mut refs = Vec::with_capacity(batch.len());
    for candidate in batch {
        let PushState::Pushed { ats_candidate_id, application_id, .. } = &candidate.push else { continue };
        let (ats_candidate_id, application_id) = (ats_candidate_id.clone(), application_id.clone());
        report.checked += 1;
        let linked = by_application.entry(application_id.clone()).or_default();
        if linked.is_empty() {
            refs.push(CandidateRef { candidate_id: ats_candidate_id, application_id });
        }
        linked.push(candidate);
    }
    let statuses = plugin.candidate_statuses(context, &refs).await;
    crate::recording::observe_candidate_statuses(context, &refs, &statuses); // record and replay
    let statuses = statuses?;
    for status in statuses {
        // A connector may only answer about what it was asked.
        let Some(linked) = by_application.remove(&status.ref_.application_id) else { continue };
        for candidate in linked {
            if !store.outbox_of_candidate(candidate.id)?.is_empty() {
                report.skipped_pending += 1;
                continue;
            }
            let job_code = store.position(candidate.position_id)?.map(|p| p.ats_job_code);
            let Some(ours) = our_stage(engine, &candidate.connection_id, job_code.as_deref(), stages, &status)? else {
                report.unmapped += 1;
                continue;
            };
            if ours.id == candidate.stage_id {
                continue;
            }
            match store.record_ats_move_counted(candidate.id, &ours.id) {
                Ok((.., bytes)) => {
                    plugin.meter().stored(bytes); // metering: the move counts in the daily run's store bytes
                    report.moved += 1;
                }
                // Moved there meanwhile: nothing to record.
                Err(StoreError::AlreadyInStage { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    report.missing += by_application.values().map(Vec::len).sum::<usize>();
    Ok(())
}

/// Our stage for what the ATS reported (see the module docs).
fn our_stage(
    engine: &SyncEngine,
    connection_id: &str,
    job_code: Option<&str>,
    stages: &[HiringStage],
    status: &CandidateStatus,
) -> Result<Option<HiringStage>, StoreError> {
    let named = |name: &str| stages.iter().find(|s| s.name.trim().eq_ignore_ascii_case(name)).cloned();
    let by_state = match status.state {
        ApplicationState::Rejected | ApplicationState::Withdrawn => named("Rejected"),
        ApplicationState::Hired => named("Hired"),
        ApplicationState::Active | ApplicationState::Other(_) => None,
    };
    if by_state.is_some() {
        return Ok(by_state);
    }
    match &status.stage_id {
        Some(ats_stage) => engine.store().stage_for_ats(connection_id, job_code, ats_stage),
        None => Ok(None),
    }
}

/// Reconciles inside a daily sync run, after its job listing, through the
/// run's metered `plugin`: its calls and store writes are part of the run's
/// cost. A failure is logged (the next run or a request tries again) and
/// never fails the sync.
pub async fn in_daily_run(engine: &SyncEngine, connection: &Connection, plugin: &crate::runtime::Plugin) {
    if let Err(e) = reconcile_through(engine, connection, plugin).await {
        tracing::warn!(connection = %connection.id, error = %e, "reconciling candidates in the daily sync failed");
    }
}
