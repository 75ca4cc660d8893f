//! Candidates through the API: create (with a résumé), list, get, move
//! between the account's stages, and the history of moves.
//!
//! The store calls that create and move candidates are made in
//! [`Service::store_create_candidate`] and [`Service::store_move_candidate`]
//! only, so writes that must commit with them (a queued push, a move to
//! propagate) are added in one place.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::page::{Page, PageQuery};
use super::{Caller, Service, ServiceError};
use crate::store::{Candidate, CandidateFilter, MovedBy, NewCandidate, NewResume, Propagation, PushState, StageMove};

/// The largest résumé accepted through the API, decoded: the public form's
/// default cap, so the API is no easier way to fill the store.
pub const MAX_API_RESUME_BYTES: usize = 10 << 20;

/// A request body that carries the largest résumé (base64 adds a third)
/// and the candidate's other fields.
pub const MAX_CREATE_BODY_BYTES: usize = MAX_API_RESUME_BYTES / 3 * 4 + (256 << 10);

/// The longest name recorded for who made a move through the API.
pub const MAX_BY_CHARS: usize = 200;

/// The résumé file types accepted, by what their bytes are (not by what
/// the client says): (content type, file kind for messages).
pub const RESUME_TYPES: &[(&str, &str)] = &[
    ("application/pdf", "PDF"),
    ("application/msword", "DOC"),
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "DOCX"),
    ("application/vnd.oasis.opendocument.text", "ODT"),
    ("application/rtf", "RTF"),
    ("text/plain", "TXT"),
];

/// What a résumé's bytes are, among [`RESUME_TYPES`]; `None` for anything
/// else. Office formats that are zip archives are told apart by the member
/// names near the start (`word/` for DOCX, the ODF `mimetype` member).
pub fn sniff_resume_type(bytes: &[u8]) -> Option<&'static str> {
    const OLE: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    /// How much of a zip is searched for the member names that tell
    /// DOCX and ODT apart: both put them in the first entries.
    const ZIP_SNIFF_BYTES: usize = 64 << 10;
    if bytes.starts_with(b"%PDF-") {
        return Some("application/pdf");
    }
    if bytes.starts_with(OLE) {
        return Some("application/msword");
    }
    if bytes.starts_with(b"{\\rtf") {
        return Some("application/rtf");
    }
    if bytes.starts_with(b"PK\x03\x04") {
        let head = &bytes[..bytes.len().min(ZIP_SNIFF_BYTES)];
        let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
        if has(b"mimetypeapplication/vnd.oasis.opendocument.text") {
            return Some("application/vnd.oasis.opendocument.text");
        }
        if has(b"word/") {
            return Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document");
        }
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let printable = text.chars().all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t' | '\u{c}'));
    printable.then_some("text/plain")
}

/// A résumé sent through the API.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeUpload {
    pub file_name: String,
    /// The file, base64 (at most 10 MiB decoded). PDF, DOC, DOCX, ODT, RTF
    /// or TXT, checked by content.
    pub content_base64: String,
}

/// Creates a candidate for a position.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCandidateRequest {
    /// The position applied to.
    pub position: u64,
    pub name: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// http(s) links: profile, portfolio.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// Answers by question id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub answers: BTreeMap<String, String>,
    /// Where the candidate came from (`api` when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The stage to start in; the account's first when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// Who creates it, recorded in the history (a platform user's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ResumeUpload>,
}

/// Moves a candidate to another stage.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveCandidateRequest {
    pub stage: String,
    /// Who moves it, recorded in the history (a platform user's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// `GET /candidates` filters (at least one of account and position for an
/// operator is not required; an account key sees its own).
#[derive(Debug, Default, Clone, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CandidateQuery {
    pub account: Option<String>,
    pub position: Option<u64>,
    pub stage: Option<String>,
}

/// A stored résumé.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ResumeDto {
    pub file_name: String,
    pub content_type: String,
    pub size: u64,
    pub sha256: String,
}

/// Whether the candidate reached the ATS.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PushStateDto {
    /// `not_sent`, `queued`, `pushed` or `failed`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ats_candidate_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_unix: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

/// A candidate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CandidateDto {
    pub id: u64,
    pub account: String,
    pub position: u64,
    pub connection: String,
    pub name: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub links: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<ResumeDto>,
    pub answers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The account's stage it is in.
    pub stage: String,
    pub push: PushStateDto,
    pub created_at_unix: i64,
    pub updated_at_unix: i64,
}

/// Who or what moved a candidate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MovedByDto {
    /// `user`, `rule`, `ats` or `form`.
    pub kind: String,
    /// The user's name or the rule's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Whether a move reached the ATS.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PropagationDto {
    /// `not_applicable`, `pending`, `propagated` or `not_propagated`.
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_unix: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One recorded stage move (the creation is the first, with no `from`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StageMoveDto {
    pub seq: u64,
    pub at_unix: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub to: String,
    pub by: MovedByDto,
    pub propagation: PropagationDto,
    /// Attempts the outbox made to tell the ATS, the last included; absent
    /// for a move nothing was sent for, or not finished yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
    /// What telling the ATS cost, summed over the attempts (`retries`: the
    /// attempts before the last; `store_bytes_written`: the outbox entry's
    /// retries and this move's record). Absent when no attempt called the
    /// plugin, and on moves recorded before moves were metered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metering: Option<super::metering_dto::RunMeteringDto>,
}

/// A move and the candidate after it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MovedCandidateDto {
    pub candidate: CandidateDto,
    #[serde(rename = "move")]
    pub moved: StageMoveDto,
}

pub fn push_dto(p: &PushState) -> PushStateDto {
    let mut dto = PushStateDto {
        state: String::new(),
        ats_candidate_id: None,
        application_id: None,
        at_unix: None,
        message: None,
        retryable: None,
    };
    dto.state = match p {
        PushState::NotSent => "not_sent".into(),
        PushState::Queued => "queued".into(),
        PushState::Pushed { ats_candidate_id, application_id, at_unix } => {
            dto.ats_candidate_id = Some(ats_candidate_id.clone());
            dto.application_id = Some(application_id.clone());
            dto.at_unix = Some(*at_unix);
            "pushed".into()
        }
        PushState::Failed { message, at_unix, retryable } => {
            dto.message = Some(message.clone());
            dto.at_unix = Some(*at_unix);
            dto.retryable = Some(*retryable);
            "failed".into()
        }
    };
    dto
}

pub fn candidate_dto(c: &Candidate) -> CandidateDto {
    CandidateDto {
        id: c.id,
        account: c.account_id.clone(),
        position: c.position_id,
        connection: c.connection_id.clone(),
        name: c.name.clone(),
        email: c.email.clone(),
        phone: c.phone.clone(),
        links: c.links.clone(),
        resume: c.resume.as_ref().map(|r| ResumeDto {
            file_name: r.file_name.clone(),
            content_type: r.content_type.clone(),
            size: r.size,
            sha256: r.sha256.clone(),
        }),
        answers: c.answers.clone(),
        source: c.source.clone(),
        stage: c.stage_id.clone(),
        push: push_dto(&c.push),
        created_at_unix: c.created_at_unix,
        updated_at_unix: c.updated_at_unix,
    }
}

pub fn move_dto(m: &StageMove) -> StageMoveDto {
    let by = match &m.by {
        MovedBy::User { name } => MovedByDto { kind: "user".into(), name: Some(name.clone()) },
        MovedBy::Rule { rule_id } => MovedByDto { kind: "rule".into(), name: Some(rule_id.clone()) },
        MovedBy::Ats => MovedByDto { kind: "ats".into(), name: None },
        MovedBy::Form => MovedByDto { kind: "form".into(), name: None },
    };
    let propagation = match &m.propagation {
        Propagation::NotApplicable => PropagationDto { state: "not_applicable".into(), at_unix: None, reason: None },
        Propagation::Pending => PropagationDto { state: "pending".into(), at_unix: None, reason: None },
        Propagation::Propagated { at_unix } => {
            PropagationDto { state: "propagated".into(), at_unix: Some(*at_unix), reason: None }
        }
        Propagation::NotPropagated { reason } => {
            PropagationDto { state: "not_propagated".into(), at_unix: None, reason: Some(reason.clone()) }
        }
    };
    StageMoveDto {
        seq: m.seq,
        at_unix: m.at_unix,
        from: m.from.clone(),
        to: m.to.clone(),
        by,
        propagation,
        attempts: m.cost.as_ref().map(|c| c.attempts),
        metering: m.cost.as_ref().and_then(|c| c.metering.clone()).map(super::metering_dto::RunMeteringDto::of_push),
    }
}

/// Who a request is recorded as: the name it gives, else the operator or
/// the account's key.
pub fn mover(caller: &Caller, by: Option<&str>) -> Result<MovedBy, ServiceError> {
    let name = match by.map(str::trim).filter(|b| !b.is_empty()) {
        Some(b) if b.chars().count() > MAX_BY_CHARS || b.chars().any(char::is_control) => {
            return Err(ServiceError::Invalid(format!("`by` is at most {MAX_BY_CHARS} characters of text")));
        }
        Some(b) => b.to_string(),
        None => match caller {
            Caller::Operator => "operator".to_string(),
            Caller::Account(account) => format!("api key of {account}"),
        },
    };
    Ok(MovedBy::User { name })
}

fn resume(upload: &ResumeUpload) -> Result<NewResume, ServiceError> {
    if upload.content_base64.len() > MAX_API_RESUME_BYTES / 3 * 4 + 4 {
        return Err(ServiceError::Invalid(format!("the resume is larger than {MAX_API_RESUME_BYTES} bytes")));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(upload.content_base64.trim())
        .map_err(|_| ServiceError::Invalid("resume.content_base64 is not base64".into()))?;
    if bytes.len() > MAX_API_RESUME_BYTES {
        return Err(ServiceError::Invalid(format!("the resume is larger than {MAX_API_RESUME_BYTES} bytes")));
    }
    let content_type = sniff_resume_type(&bytes).ok_or_else(|| {
        let kinds: Vec<&str> = RESUME_TYPES.iter().map(|(_, k)| *k).collect();
        ServiceError::Invalid(format!("the resume is not one of {}", kinds.join(", ")))
    })?;
    Ok(NewResume { file_name: upload.file_name.clone(), content_type: content_type.to_string(), bytes })
}

/// A candidate's stored résumé, as uploaded (its content type is the one
/// its bytes were recognised as).
#[derive(Debug, Clone)]
pub struct ResumeFile {
    /// The applicant's file name (untrusted text: escape where shown).
    pub file_name: String,
    /// One of [`RESUME_TYPES`].
    pub content_type: String,
    pub bytes: Vec<u8>,
}

impl Service {
    /// A candidate the caller may see, or "does not exist".
    pub(crate) fn visible_candidate(&self, caller: &Caller, id: u64) -> Result<Candidate, ServiceError> {
        match self.app.store.candidate(id)? {
            Some(c) if caller.sees(&c.account_id) => Ok(c),
            _ => Err(ServiceError::NotFound { what: "candidate", id: id.to_string() }),
        }
    }

    /// The stored résumé of a candidate the caller sees; "not found" for a
    /// candidate without one.
    pub fn candidate_resume(&self, caller: &Caller, id: u64) -> Result<ResumeFile, ServiceError> {
        let candidate = self.visible_candidate(caller, id)?;
        let missing = || ServiceError::NotFound { what: "resume", id: id.to_string() };
        let meta = candidate.resume.ok_or_else(missing)?;
        let bytes = self.app.store.candidate_resume(id)?.ok_or_else(missing)?;
        Ok(ResumeFile { file_name: meta.file_name, content_type: meta.content_type, bytes })
    }

    /// Creates a candidate for a position the caller sees.
    pub fn create_candidate(&self, caller: &Caller, req: CreateCandidateRequest) -> Result<CandidateDto, ServiceError> {
        let position = self
            .app
            .store
            .position(req.position)?
            .filter(|p| caller.sees(&p.account_id))
            .ok_or_else(|| ServiceError::NotFound { what: "position", id: req.position.to_string() })?;
        let new = NewCandidate {
            position_id: position.id,
            name: req.name,
            email: req.email,
            phone: req.phone,
            links: req.links,
            resume: req.resume.as_ref().map(resume).transpose()?,
            answers: req.answers,
            source: Some(req.source.unwrap_or_else(|| "api".into())),
            stage_id: req.stage,
            by: mover(caller, req.by.as_deref())?,
        };
        let (candidate, _) = self.store_create_candidate(new)?;
        Ok(candidate_dto(&candidate))
    }

    /// Where every candidate is created (the API and the public form). The
    /// push an auto-push rule asks for is queued in the same transaction.
    pub fn store_create_candidate(&self, new: NewCandidate) -> Result<(Candidate, StageMove), ServiceError> {
        let (candidate, moved, queued) = self.app.store.create_candidate_queued(new)?;
        self.after_queueing(candidate.id, queued.is_some())?;
        Ok((candidate, moved))
    }

    /// Where every candidate is moved (the API, rules, reconciliation). A
    /// move of a candidate sent to the ATS, or a push an auto-push rule asks
    /// for, is queued in the same transaction.
    pub fn store_move_candidate(&self, id: u64, to: &str, by: MovedBy) -> Result<(Candidate, StageMove), ServiceError> {
        let (candidate, moved, queued) = self.app.store.move_candidate_queued(id, to, by)?;
        self.after_queueing(candidate.id, queued.is_some())?;
        Ok((candidate, moved))
    }

    /// One candidate.
    pub fn candidate(&self, caller: &Caller, id: u64) -> Result<CandidateDto, ServiceError> {
        Ok(candidate_dto(&self.visible_candidate(caller, id)?))
    }

    /// Candidates the caller sees, by id, filtered.
    pub fn list_candidates(
        &self,
        caller: &Caller,
        query: &CandidateQuery,
        page: &PageQuery,
    ) -> Result<Page<CandidateDto>, ServiceError> {
        let mut filter = CandidateFilter {
            account_id: query.account.clone(),
            position_id: query.position,
            stage_id: query.stage.clone(),
        };
        if let Some(a) = &query.account {
            self.visible_account(caller, a)?;
        }
        if let Some(p) = query.position {
            let position = self.app.store.position(p)?.filter(|pos| caller.sees(&pos.account_id));
            if position.is_none() {
                return Err(ServiceError::NotFound { what: "position", id: p.to_string() });
            }
        }
        if let Caller::Account(own) = caller {
            filter.account_id = Some(own.clone());
        }
        let after = match page.cursor.as_deref() {
            None => None,
            Some(c) => {
                Some(c.parse::<u64>().map_err(|_| ServiceError::Invalid("`cursor` is not from this list".into()))?)
            }
        };
        let limit = page.limit();
        // One more than asked tells whether another page follows.
        let mut items = self.app.store.candidates_page(&filter, after, limit + 1)?;
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = if more { items.last().map(|c| c.id.to_string()) } else { None };
        Ok(Page { items: items.iter().map(candidate_dto).collect(), next_cursor })
    }

    /// Moves a candidate to another of the account's stages.
    pub fn move_candidate(
        &self,
        caller: &Caller,
        id: u64,
        req: MoveCandidateRequest,
    ) -> Result<MovedCandidateDto, ServiceError> {
        self.visible_candidate(caller, id)?;
        let (candidate, moved) = self.store_move_candidate(id, req.stage.trim(), mover(caller, req.by.as_deref())?)?;
        Ok(MovedCandidateDto { candidate: candidate_dto(&candidate), moved: move_dto(&moved) })
    }

    /// A candidate's moves, oldest first.
    pub fn candidate_history(&self, caller: &Caller, id: u64) -> Result<Vec<StageMoveDto>, ServiceError> {
        self.visible_candidate(caller, id)?;
        Ok(self.app.store.stage_moves(id)?.iter().map(move_dto).collect())
    }
}
