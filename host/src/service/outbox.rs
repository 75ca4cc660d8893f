//! Sending candidates to the ATS, the outbox, auto-push rules and
//! reconciliation: the rules, written once for the API and the CLI.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::page::{MAX_LIMIT, Page, PageQuery};
use super::{Caller, Service, ServiceError};
use crate::outbox::prepare::{PushRefusal, check_push};
use crate::outbox::reconcile::{ReconcileError, ReconcileReport, reconcile};
use crate::store::{Candidate, MappingError, OutboxEntry, OutboxKind, PushState, StoreError};

/// `POST /candidates/{id}/push`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushCandidateRequest {
    /// Our stage the application starts in, mapped to the ATS's; default:
    /// the candidate's current stage.
    #[serde(default)]
    pub stage_id: Option<String>,
}

/// A candidate's push state and pending outbox entries.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PushStatusDto {
    pub candidate_id: u64,
    pub connection_id: String,
    /// Our stage the candidate is in.
    pub stage_id: String,
    /// `not_sent`, `queued`, `pushed` or `failed`.
    pub state: String,
    /// The ATS's candidate id, once pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ats_candidate_id: Option<String>,
    /// The ATS's application id, once pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ats_application_id: Option<String>,
    /// Why the last push failed (the ATS's message, escaped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When pushed or failed, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_unix: Option<i64>,
    /// Entries still waiting, oldest first.
    pub outbox: Vec<OutboxEntryDto>,
}

/// One outbox entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutboxEntryDto {
    pub id: u64,
    pub candidate_id: u64,
    pub account_id: String,
    pub connection_id: String,
    /// `push` or `move`.
    pub kind: String,
    /// Our stage the push starts in, or the move goes to.
    pub stage_id: String,
    /// For a move: the move's number in the candidate's history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub move_seq: Option<u64>,
    pub queued_at_ms: u64,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not tried again before this, Unix milliseconds (0: at once).
    pub not_before_ms: u64,
    /// The last attempt's error, escaped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl From<OutboxEntry> for OutboxEntryDto {
    fn from(e: OutboxEntry) -> Self {
        let (kind, stage_id, move_seq) = match e.kind {
            OutboxKind::Push { stage_id, .. } => ("push", stage_id, None),
            OutboxKind::Move { move_seq, to_stage } => ("move", to_stage, Some(move_seq)),
        };
        OutboxEntryDto {
            id: e.id,
            candidate_id: e.candidate_id,
            account_id: e.account_id,
            connection_id: e.connection_id,
            kind: kind.to_string(),
            stage_id,
            move_seq,
            queued_at_ms: e.queued_at_ms,
            attempts: e.attempts,
            not_before_ms: e.not_before_ms,
            last_error: e.last_error,
        }
    }
}

/// `PUT /connections/{id}/auto-push`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutoPushRequest {
    /// Our stage whose reaching pushes a candidate; `null` clears the rule.
    pub stage_id: Option<String>,
}

/// A connection's auto-push rule.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AutoPushDto {
    pub connection_id: String,
    /// Our stage whose reaching pushes a candidate (or any later stage);
    /// absent: no rule, candidates are pushed only on request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_id: Option<String>,
}

/// What a reconciliation found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReconcileReportDto {
    pub connection_id: String,
    /// Pushed candidates whose status was asked for.
    pub checked: usize,
    /// Candidates moved to the stage the ATS reported (the ATS wins).
    pub moved: usize,
    /// Statuses whose ATS stage maps to none of our stages.
    pub unmapped: usize,
    /// Candidates skipped because a push or move of theirs is still pending.
    pub skipped_pending: usize,
    /// Pushed candidates the ATS did not report on.
    pub missing: usize,
}

impl From<ReconcileReport> for ReconcileReportDto {
    fn from(r: ReconcileReport) -> Self {
        ReconcileReportDto {
            connection_id: r.connection_id,
            checked: r.checked,
            moved: r.moved,
            unmapped: r.unmapped,
            skipped_pending: r.skipped_pending,
            missing: r.missing,
        }
    }
}

impl From<PushRefusal> for ServiceError {
    fn from(e: PushRefusal) -> Self {
        let code = match &e {
            PushRefusal::CandidateGone(id) => return ServiceError::NotFound { what: "candidate", id: id.to_string() },
            PushRefusal::PositionGone(id) => return ServiceError::NotFound { what: "position", id: id.to_string() },
            PushRefusal::Store(_) => return ServiceError::internal(e),
            PushRefusal::JobClosed { .. } => "job_closed",
            PushRefusal::Mapping { source: MappingError::StaleMapping { .. }, .. } => "stage_mapping_stale",
            PushRefusal::Mapping { source: MappingError::NotFetched { .. }, .. } => "ats_stages_not_fetched",
            PushRefusal::Mapping { .. } => "stage_not_mapped",
            PushRefusal::Connection { .. } => "connection_unusable",
            PushRefusal::NotPushed(_) => "not_pushed",
        };
        ServiceError::PushRefused { code, message: e.to_string() }
    }
}

impl Service {
    /// "Send to ATS": checks at once that the push can be made (the job is
    /// open, our stage maps to a current ATS stage, or the job's stages were
    /// never fetched and the push reads them first), then queues it durably
    /// (on disk before this returns) and wakes the worker. Asking again
    /// while a push is queued changes nothing; a candidate already in the
    /// ATS is refused.
    pub fn push_candidate(
        &self,
        caller: &Caller,
        id: u64,
        request: PushCandidateRequest,
    ) -> Result<PushStatusDto, ServiceError> {
        let candidate = self.visible_candidate(caller, id)?;
        let stage = request.stage_id.unwrap_or_else(|| candidate.stage_id.clone());
        check_push(&self.app.store, &candidate, &stage)?;
        let (candidate, _entry) = self.app.store.queue_push(id, &stage).map_err(|e| match e {
            e @ StoreError::AlreadyPushed { .. } => {
                ServiceError::PushRefused { code: "already_pushed", message: e.to_string() }
            }
            e => e.into(),
        })?;
        // The caller is told "queued": it must survive a crash from now on.
        self.app.store.flush().map_err(ServiceError::internal)?;
        self.wake_outbox(id);
        self.push_status_of(candidate)
    }

    /// After a write that may have queued an outbox entry: makes it durable
    /// before the caller is answered, and wakes the worker.
    pub(crate) fn after_queueing(&self, candidate_id: u64, queued: bool) -> Result<(), ServiceError> {
        if queued {
            self.app.store.flush().map_err(ServiceError::internal)?;
            self.wake_outbox(candidate_id);
        }
        Ok(())
    }

    /// Wakes the worker for a candidate whose entries changed. Without a
    /// running host (the CLI on the store) there is no worker: the entries
    /// wait on disk and the next `serve` picks them up.
    pub(crate) fn wake_outbox(&self, candidate_id: u64) {
        if let Some(outbox) = &self.outbox {
            outbox.wake(candidate_id);
        }
    }

    /// A candidate's push state and pending entries.
    pub fn push_status(&self, caller: &Caller, id: u64) -> Result<PushStatusDto, ServiceError> {
        let candidate = self.visible_candidate(caller, id)?;
        self.push_status_of(candidate)
    }

    fn push_status_of(&self, c: Candidate) -> Result<PushStatusDto, ServiceError> {
        let outbox = self.app.store.outbox_of_candidate(c.id).map_err(ServiceError::internal)?;
        let (state, ats_candidate_id, ats_application_id, error, at_unix) = match c.push {
            PushState::NotSent => ("not_sent", None, None, None, None),
            PushState::Queued => ("queued", None, None, None, None),
            PushState::Pushed { ats_candidate_id, application_id, at_unix } => {
                ("pushed", Some(ats_candidate_id), Some(application_id), None, Some(at_unix))
            }
            PushState::Failed { message, at_unix, .. } => ("failed", None, None, Some(message), Some(at_unix)),
        };
        Ok(PushStatusDto {
            candidate_id: c.id,
            connection_id: c.connection_id,
            stage_id: c.stage_id,
            state: state.to_string(),
            ats_candidate_id,
            ats_application_id,
            error,
            at_unix,
            outbox: outbox.into_iter().map(OutboxEntryDto::from).collect(),
        })
    }

    /// Pending outbox entries the caller sees, oldest first.
    pub fn outbox_entries(&self, caller: &Caller, page: &PageQuery) -> Result<Page<OutboxEntryDto>, ServiceError> {
        let limit = page.limit();
        let mut after = match &page.cursor {
            Some(c) => c.parse::<u64>().map_err(|_| ServiceError::Invalid(format!("bad cursor `{c}`")))?,
            None => 0,
        };
        let mut items = Vec::new();
        // Read in store pages until the caller's page is full: an account's
        // entries may be sparse among everyone's.
        loop {
            let batch = self.app.store.outbox_entries(after, MAX_LIMIT).map_err(ServiceError::internal)?;
            let Some(last) = batch.last() else { break };
            after = last.id;
            for entry in batch {
                if caller.sees(&entry.account_id) {
                    items.push(OutboxEntryDto::from(entry));
                }
                if items.len() > limit {
                    break;
                }
            }
            if items.len() > limit {
                break;
            }
        }
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = if more { items.last().map(|e| e.id.to_string()) } else { None };
        Ok(Page { items, next_cursor })
    }

    /// A connection's auto-push rule.
    pub fn auto_push(&self, caller: &Caller, connection_id: &str) -> Result<AutoPushDto, ServiceError> {
        let connection = self.visible_connection(caller, connection_id)?;
        let rule = self.app.store.auto_push_rule(&connection.id).map_err(ServiceError::internal)?;
        Ok(AutoPushDto { connection_id: connection.id, stage_id: rule.map(|r| r.stage_id) })
    }

    /// Sets or clears a connection's auto-push rule; the stage must be one
    /// of the account's.
    pub fn set_auto_push(
        &self,
        caller: &Caller,
        connection_id: &str,
        request: AutoPushRequest,
    ) -> Result<AutoPushDto, ServiceError> {
        let connection = self.visible_connection(caller, connection_id)?;
        if let Some(stage) = &request.stage_id {
            let stages = self.app.store.hiring_stages(&connection.account_id).map_err(ServiceError::internal)?;
            if !stages.iter().any(|s| s.id == *stage) {
                return Err(ServiceError::NotFound { what: "stage", id: stage.clone() });
            }
        }
        self.app.store.set_auto_push_rule(&connection.id, request.stage_id.as_deref())?;
        Ok(AutoPushDto { connection_id: connection.id, stage_id: request.stage_id })
    }

    /// Reconciles a connection's pushed candidates with the ATS now.
    pub async fn reconcile_now(
        &self,
        caller: &Caller,
        connection_id: &str,
    ) -> Result<ReconcileReportDto, ServiceError> {
        let connection = self.visible_connection(caller, connection_id)?;
        match reconcile(&self.app.engine, &connection.id).await {
            Ok(report) => Ok(report.into()),
            Err(ReconcileError::Disabled(id)) => Err(ServiceError::Disabled(id)),
            Err(ReconcileError::UnknownConnection(id)) => Err(ServiceError::NotFound { what: "connection", id }),
            Err(ReconcileError::Call(e)) => Err(match e.connector_error() {
                Some(c) => ServiceError::Connector { kind: c.kind().to_string(), message: c.message().to_string() },
                None => ServiceError::Plugin(e.to_string()),
            }),
            Err(e @ ReconcileError::Connection { .. }) => Err(ServiceError::Plugin(e.to_string())),
            Err(e) => Err(ServiceError::internal(e)),
        }
    }
}
