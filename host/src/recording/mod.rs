//! Record and replay of a connector's I/O.
//!
//! A sync run can be recorded: every HTTP exchange its plugin makes through
//! the host's `http` import (as the plugin saw it, secrets removed, the
//! host's own auth headers as markers) and every export call with its
//! arguments and result, in a versioned JSON-lines file ([`format`]). Any
//! build of a connector can then be replayed against that file with no
//! network: the host answers the `http` import from the recording
//! ([`Responder`]), and the results are compared with the recorded ones
//! ([`diff`]). So a connector fix is checked against last night's real run
//! before it is installed.
//!
//! The runtime and the sync engine know only three small hooks: a
//! connection context may carry a [`RecordingIo`]; the `http` import hands
//! each request to it ([`RecordingIo::exchange`]); the sync engine reports
//! export results ([`observe_list_jobs`], [`observe_list_stages`],
//! [`observe_candidate_statuses`]) and starts and ends a run's recording
//! ([`RunRecordings`]); the OAuth token cache shows each request it makes
//! to a token endpoint ([`RecordingIo::token_observer`]).

pub mod diff;
mod dir;
pub mod format;
mod recorder;
pub mod replay;
mod responder;
mod session;

use std::path::PathBuf;
use std::sync::Arc;

pub use dir::{RECORDINGS_DIR, RECORDINGS_KEPT, RecordingDir, write_private_atomic};
pub use recorder::{MAX_RECORDING_BYTES, Recorder};
pub use responder::{MAX_UNANSWERED_LISTED, Responder, Unanswered};
pub use session::{ActiveRecording, RunRecordings};

use self::format::{ExportArgs, ExportOutcome};
use crate::contract::{CandidateRef, CandidateStatus, JobPage, Stage};
use crate::runtime::bindings::{HttpError, HttpRequest, HttpResponse};
use crate::runtime::oauth::TokenObserver;
use crate::runtime::scrub::Scrubber;
use crate::runtime::{CallError, ConnectionContext};

/// Why a recording could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordingError {
    #[error("`{0}` cannot name a recording (letters, digits, `-` and `_` only, at most 128 bytes)")]
    BadName(String),
    #[error("cannot write the recording {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the recording {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is larger than {limit} bytes, more than any recording this host writes")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("{path} line {line}: {message}")]
    Malformed { path: PathBuf, line: usize, message: String },
    #[error(
        "{path} is recording format {found}; this host reads `{}` version {}",
        format::FORMAT_NAME,
        format::FORMAT_VERSION
    )]
    Version { path: PathBuf, found: String },
}

/// What a connection context's I/O goes to: a recording being made, or a
/// recording being replayed.
#[derive(Debug, Clone)]
pub enum RecordingIo {
    Record(Recorder),
    Replay(Responder),
}

impl RecordingIo {
    /// Sends `req` through `live` and records what the plugin gets back
    /// (scrubbed by `live` already), or answers it from the recording
    /// being replayed without sending anything.
    pub async fn exchange<F>(
        &self,
        req: HttpRequest,
        live: impl FnOnce(HttpRequest) -> F,
        scrubber: impl FnOnce() -> Arc<Scrubber>,
    ) -> Result<HttpResponse, HttpError>
    where
        F: Future<Output = Result<HttpResponse, HttpError>>,
    {
        match self {
            RecordingIo::Replay(responder) => responder.answer(&req),
            RecordingIo::Record(recorder) => {
                let asked = req.clone();
                let result = live(req).await;
                recorder.http(&asked, &result, &scrubber());
                result
            }
        }
    }
}

impl RecordingIo {
    /// Where the host's requests to OAuth token endpoints for this
    /// connection are recorded, when it is being recorded. (On replay the
    /// host never gets that far: [`Responder::answer`] answers the token
    /// step from the recording.)
    pub fn token_observer(&self) -> Option<&dyn TokenObserver> {
        match self {
            RecordingIo::Record(r) => Some(r),
            RecordingIo::Replay(_) => None,
        }
    }
}

fn recorder_of(ctx: &ConnectionContext) -> Option<&Recorder> {
    match &ctx.recording {
        Some(RecordingIo::Record(r)) => Some(r),
        _ => None,
    }
}

fn call_error(e: &CallError) -> ExportOutcome {
    ExportOutcome::Error { kind: e.kind().to_string(), message: e.to_string() }
}

/// Records a `list-jobs` call made for `ctx`, when its run is recorded.
pub fn observe_list_jobs(
    ctx: &ConnectionContext,
    cursor: Option<&str>,
    changed_since: Option<&str>,
    result: &Result<JobPage, CallError>,
) {
    if let Some(r) = recorder_of(ctx) {
        let call = ExportArgs::ListJobs {
            cursor: cursor.map(str::to_string),
            changed_since: changed_since.map(str::to_string),
        };
        r.export(call, result.as_ref().map_or_else(call_error, |page| ExportOutcome::JobPage(page.clone())));
    }
}

/// Records a `list-stages` call made for `ctx`, when its run is recorded.
pub fn observe_list_stages(ctx: &ConnectionContext, job_code: Option<&str>, result: &Result<Vec<Stage>, CallError>) {
    if let Some(r) = recorder_of(ctx) {
        let call = ExportArgs::ListStages { job_code: job_code.map(str::to_string) };
        r.export(call, result.as_ref().map_or_else(call_error, |stages| ExportOutcome::Stages(stages.clone())));
    }
}

/// Records a `candidate-statuses` call made for `ctx`, when its run is
/// recorded (the daily run's reconciliation).
pub fn observe_candidate_statuses(
    ctx: &ConnectionContext,
    refs: &[CandidateRef],
    result: &Result<Vec<CandidateStatus>, CallError>,
) {
    if let Some(r) = recorder_of(ctx) {
        let call = ExportArgs::CandidateStatuses { refs: refs.to_vec() };
        r.export(call, result.as_ref().map_or_else(call_error, |s| ExportOutcome::Statuses(s.clone())));
    }
}
