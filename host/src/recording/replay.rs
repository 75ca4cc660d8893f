//! Running a connector against a recording, with no network, and comparing
//! its results with the recorded ones.
//!
//! The replay does what the recorded run did, as the sync engine would do
//! it with this build of the connector: the listing starts from the first
//! recorded `list-jobs` call's cursor and `changed-since` and follows the
//! replayed connector's own cursors (a transient or rate-limited answer is
//! retried at once, taking the next recorded answer, as the engine retries
//! it after a delay); every recorded `list-stages` and `candidate-statuses`
//! call is made again with its arguments. The connector's `http` import is
//! answered only from the recording ([`Responder`](super::Responder)), and
//! so is the host's own OAuth token step.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::diff::{self, JobsDiff, StagesDiff, StatusesDiff};
use super::format::{
    End, Entry, Exchange, ExportArgs, ExportOutcome, FORMAT_NAME, FORMAT_VERSION, Header, RecordedSetting,
    TokenExchange,
};
use super::{RecordingError, RecordingIo, Responder, Unanswered};
use crate::contract::{ConnectorError, Job, JobPage};
use crate::display::escape_capped;
use crate::runtime::{CallError, ConnectionContext, Plugin};

/// Pages one replayed listing may take: ten times the recorded listing
/// (plus a few) lets a connector with smaller pages finish, and stops one
/// whose cursor never ends. Past the recording it cannot get answers anyway.
const REPLAY_PAGE_FACTOR: usize = 10;
/// Pages beyond that, for a recording with very few pages.
const REPLAY_PAGE_MARGIN: usize = 10;
/// Retries of one page after a transient or rate-limited answer, as the
/// sync engine's default retry policy allows.
pub const MAX_REPLAY_RETRIES: u32 = 5;
/// The value given to secret settings on replay. The host answers every
/// request from the recording, so no credential is attached or needed.
const REPLAY_SECRET: &str = "replay-placeholder";

/// A parsed recording.
#[derive(Debug, Clone)]
pub struct Recording {
    pub header: Header,
    pub exchanges: Vec<Exchange>,
    /// The host's requests to OAuth token endpoints.
    pub tokens: Vec<TokenExchange>,
    pub calls: Vec<(ExportArgs, ExportOutcome)>,
    pub end: Option<End>,
}

impl Recording {
    /// Reads a recording file (size-bounded).
    pub fn load(path: &Path) -> Result<Self, RecordingError> {
        Self::parse(path, &super::dir::read_bounded(path)?)
    }

    /// Parses a recording; `path` names it in errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Self, RecordingError> {
        let malformed =
            |line: usize, message: String| RecordingError::Malformed { path: path.to_path_buf(), line, message };
        let mut lines = bytes.split(|b| *b == b'\n').enumerate().filter(|(_, l)| !l.trim_ascii().is_empty());
        let header = match lines.next() {
            None => return Err(malformed(1, "empty file".into())),
            Some((n, line)) => match serde_json::from_slice::<serde_json::Value>(line) {
                Ok(v) if v.get("kind").and_then(|k| k.as_str()) == Some("header") => {
                    let format = v.get("format").and_then(|f| f.as_str()).unwrap_or("?");
                    let version = v.get("version").and_then(|f| f.as_u64()).unwrap_or(0);
                    if format != FORMAT_NAME || version != u64::from(FORMAT_VERSION) {
                        let found = escape_capped(&format!("`{format}` version {version}"));
                        return Err(RecordingError::Version { path: path.to_path_buf(), found });
                    }
                    match serde_json::from_value::<Entry>(v) {
                        Ok(Entry::Header(h)) => h,
                        Ok(_) => return Err(malformed(n + 1, "the first line is not a header".into())),
                        Err(e) => return Err(malformed(n + 1, e.to_string())),
                    }
                }
                Ok(_) => return Err(malformed(n + 1, "the first line is not a recording header".into())),
                Err(e) => return Err(malformed(n + 1, e.to_string())),
            },
        };
        let mut recording =
            Recording { header, exchanges: Vec::new(), tokens: Vec::new(), calls: Vec::new(), end: None };
        for (n, line) in lines {
            match serde_json::from_slice::<Entry>(line).map_err(|e| malformed(n + 1, e.to_string()))? {
                Entry::Http(e) => recording.exchanges.push(e),
                Entry::Token(t) => recording.tokens.push(t),
                Entry::Export(c) => recording.calls.push((c.call, c.outcome)),
                Entry::End(end) => recording.end = Some(end),
                Entry::Header(_) => return Err(malformed(n + 1, "a second header".into())),
            }
        }
        Ok(recording)
    }

    /// The jobs the recorded run listed, by code (a later page wins).
    pub fn recorded_jobs(&self) -> BTreeMap<String, Job> {
        let mut jobs = BTreeMap::new();
        for (_, outcome) in &self.calls {
            if let ExportOutcome::JobPage(page) = outcome {
                jobs.extend(page.jobs.iter().map(|j| (j.code.clone(), j.clone())));
            }
        }
        jobs
    }

    /// The settings to replay with: text values as recorded, secrets as a
    /// placeholder.
    fn context(&self, responder: Responder) -> ConnectionContext {
        let mut ctx = ConnectionContext::new(format!("replay-{}", self.header.connection));
        for s in &self.header.settings {
            ctx = match s {
                RecordedSetting::Text { key, value } => ctx.text(key, value),
                RecordedSetting::Secret { key } => ctx.secret(key, REPLAY_SECRET),
            };
        }
        ctx.recording = Some(RecordingIo::Replay(responder));
        ctx
    }
}

/// What a replay found.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    pub connection: String,
    pub run: Option<u64>,
    pub recorded_plugin: String,
    pub recorded_version: String,
    pub replayed_plugin: String,
    pub replayed_version: String,
    /// The recording stopped at its size bound.
    pub truncated: bool,
    pub jobs: JobsDiff,
    /// `list-stages` calls whose answers differ.
    pub stages: Vec<StagesDiff>,
    /// The `candidate-statuses` answers (the daily run's reconciliation).
    pub statuses: StatusesDiff,
    /// Pages the replayed listing took.
    pub pages: usize,
    /// Why the recorded listing failed, if it did.
    pub recorded_error: Option<String>,
    /// Why the replayed listing failed, if it did.
    pub replayed_error: Option<String>,
    /// Requests the recording could not answer (the first
    /// [`MAX_UNANSWERED_LISTED`](super::MAX_UNANSWERED_LISTED)).
    pub unanswered: Vec<Unanswered>,
    pub unanswered_total: u64,
    /// Recorded answers the replayed connector never asked for.
    pub unused_answers: usize,
    /// Recorded OAuth token requests the host's token step was answered
    /// from (none reached a token endpoint).
    pub token_requests: u64,
    /// Recorded token requests the replay never needed.
    pub unused_token_requests: usize,
}

impl ReplayReport {
    /// Every request was answered from the recording.
    pub fn complete(&self) -> bool {
        self.unanswered_total == 0
    }

    /// The results are the same as recorded.
    pub fn same_results(&self) -> bool {
        self.jobs.is_empty()
            && self.stages.is_empty()
            && self.statuses.is_empty()
            && self.recorded_error == self.replayed_error
    }

    /// The report for people; every text from a plugin or an ATS escaped.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let e = |s: &str| escape_capped(s);
        let _ = writeln!(
            out,
            "replayed {} {} against the recording of {} run {} ({} {}){}",
            e(&self.replayed_plugin),
            e(&self.replayed_version),
            e(&self.connection),
            self.run.map_or("?".to_string(), |r| r.to_string()),
            e(&self.recorded_plugin),
            e(&self.recorded_version),
            if self.truncated { "; the recording was truncated at its size bound" } else { "" }
        );
        let j = &self.jobs;
        let _ = writeln!(
            out,
            "jobs: {} recorded, {} replayed in {} page(s): {} added, {} removed, {} changed, {} unchanged",
            j.recorded, j.replayed, self.pages, j.added_total, j.removed_total, j.changed_total, j.unchanged
        );
        for a in &j.added {
            let _ = writeln!(out, "  + {} {}", e(&a.code), e(&a.title));
        }
        for r in &j.removed {
            let _ = writeln!(out, "  - {} {}", e(&r.code), e(&r.title));
        }
        for c in &j.changed {
            let _ = writeln!(out, "  ~ {} {}", e(&c.code), e(&c.title));
            field_lines(&mut out, &c.fields);
        }
        let shown = j.added.len() + j.removed.len() + j.changed.len();
        let total = j.added_total + j.removed_total + j.changed_total;
        if total > shown {
            let _ = writeln!(
                out,
                "  ... and {} more (--json lists the first {} of each)",
                total - shown,
                diff::MAX_DIFF_ITEMS
            );
        }
        for s in &self.stages {
            let job = s.job_code.as_deref().map_or("the account".to_string(), |c| format!("job {}", e(c)));
            let _ = writeln!(
                out,
                "stages of {job}: {} added, {} removed, {} changed{}",
                s.added.len(),
                s.removed.len(),
                s.changed.len(),
                s.error.as_deref().map(|m| format!("; {}", e(m))).unwrap_or_default()
            );
            for a in &s.added {
                let _ = writeln!(out, "  + {} {}", e(&a.id), e(&a.name));
            }
            for r in &s.removed {
                let _ = writeln!(out, "  - {} {}", e(&r.id), e(&r.name));
            }
            for c in &s.changed {
                let _ = writeln!(out, "  ~ {}", e(&c.id));
                field_lines(&mut out, &c.fields);
            }
        }
        let st = &self.statuses;
        if st.recorded + st.replayed > 0 || !st.errors.is_empty() {
            let _ = writeln!(
                out,
                "candidate statuses: {} recorded, {} replayed: {} added, {} removed, {} changed",
                st.recorded,
                st.replayed,
                st.added.len(),
                st.removed.len(),
                st.changed_total
            );
            for a in &st.added {
                let _ = writeln!(out, "  + application {}", e(a));
            }
            for r in &st.removed {
                let _ = writeln!(out, "  - application {}", e(r));
            }
            for c in &st.changed {
                let _ = writeln!(out, "  ~ application {}", e(&c.application_id));
                field_lines(&mut out, &c.fields);
            }
            for m in &st.errors {
                let _ = writeln!(out, "  ! {}", e(m));
            }
        }
        if self.recorded_error != self.replayed_error {
            let show = |m: &Option<String>| m.as_deref().map_or("succeeded".to_string(), e);
            let _ = writeln!(
                out,
                "listing: recorded {}; replayed {}",
                show(&self.recorded_error),
                show(&self.replayed_error)
            );
        }
        if self.unanswered_total > 0 {
            let _ = writeln!(out, "{} request(s) the recording cannot answer:", self.unanswered_total);
            for u in &self.unanswered {
                let _ = writeln!(out, "  ! {} {}: {}", u.method, e(&u.url), u.reason);
            }
        }
        if self.unused_answers > 0 {
            let _ = writeln!(out, "{} recorded answer(s) were not asked for", self.unused_answers);
        }
        if self.token_requests > 0 || self.unused_token_requests > 0 {
            let _ = writeln!(
                out,
                "OAuth token requests: {} answered from the recording, {} not needed",
                self.token_requests, self.unused_token_requests
            );
        }
        if self.same_results() && self.complete() {
            let _ = writeln!(out, "no differences");
        }
        out
    }
}

/// Longest field value shown in the text report, in characters.
const MAX_FIELD_SHOWN: usize = 200;

/// `      field: recorded -> replayed`, one line per field, escaped and cut.
fn field_lines(out: &mut String, fields: &[diff::FieldChange]) {
    for f in fields {
        let _ = writeln!(
            out,
            "      {}: {} -> {}",
            f.field,
            escape_capped(crate::display::truncate(&f.recorded.to_string(), MAX_FIELD_SHOWN)),
            escape_capped(crate::display::truncate(&f.replayed.to_string(), MAX_FIELD_SHOWN))
        );
    }
}

fn retryable(e: &CallError) -> bool {
    matches!(
        e,
        CallError::Timeout { .. }
            | CallError::Connector { error: ConnectorError::Transient(_) | ConnectorError::RateLimited(_), .. }
    )
}

/// A replayed call, retried at once after a transient answer.
async fn retried<T>(mut call: impl AsyncFnMut() -> Result<T, CallError>) -> Result<T, CallError> {
    let mut attempt = 0;
    loop {
        match call().await {
            Err(e) if retryable(&e) && attempt < MAX_REPLAY_RETRIES => attempt += 1,
            other => return other,
        }
    }
}

/// A replayed page.
async fn page(
    plugin: &Plugin,
    ctx: &ConnectionContext,
    cursor: Option<&str>,
    since: Option<&str>,
) -> Result<JobPage, CallError> {
    retried(async || plugin.list_jobs(ctx, cursor, since).await).await
}

/// Every recorded `candidate-statuses` call made again with its arguments.
async fn replay_statuses(plugin: &Plugin, ctx: &ConnectionContext, recording: &Recording) -> StatusesDiff {
    let (mut before, mut after, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for (args, outcome) in &recording.calls {
        let ExportArgs::CandidateStatuses { refs } = args else { continue };
        let answer = retried(async || plugin.candidate_statuses(ctx, refs).await).await;
        match (outcome, answer) {
            (ExportOutcome::Statuses(b), Ok(a)) => {
                before.extend(b.iter().cloned());
                after.extend(a);
            }
            (ExportOutcome::Error { message, .. }, Err(e)) if *message == e.to_string() => {}
            (ExportOutcome::Error { message, .. }, Err(e)) => {
                errors.push(format!("{} application(s): recorded error: {message}; replayed error: {e}", refs.len()))
            }
            (ExportOutcome::Error { message, .. }, Ok(a)) => {
                errors.push(format!("{} application(s): recorded error: {message}; replayed answered", refs.len()));
                after.extend(a);
            }
            (b, Err(e)) => {
                errors.push(format!("{} application(s): recorded answered; replayed error: {e}", refs.len()));
                if let ExportOutcome::Statuses(b) = b {
                    before.extend(b.iter().cloned());
                }
            }
            (_, Ok(a)) => after.extend(a),
        }
    }
    let mut diff = diff::statuses(&before, &after);
    errors.truncate(diff::MAX_DIFF_ITEMS);
    diff.errors = errors;
    diff
}

/// Runs `plugin` against `recording` and compares.
pub async fn replay(plugin: &Plugin, recording: &Recording) -> ReplayReport {
    let responder = Responder::new(&recording.exchanges).with_tokens(&recording.tokens);
    let ctx = recording.context(responder.clone());
    let listings: Vec<&ExportArgs> =
        recording.calls.iter().map(|(a, _)| a).filter(|a| matches!(a, ExportArgs::ListJobs { .. })).collect();
    let recorded_error = match recording.calls.iter().rev().find(|(a, _)| matches!(a, ExportArgs::ListJobs { .. })) {
        Some((_, ExportOutcome::Error { message, .. })) => Some(message.clone()),
        _ => None,
    };
    let mut replayed = BTreeMap::new();
    let mut pages = 0;
    let mut replayed_error = None;
    if let Some(ExportArgs::ListJobs { cursor, changed_since }) = listings.first() {
        let max_pages = listings.len() * REPLAY_PAGE_FACTOR + REPLAY_PAGE_MARGIN;
        let mut cursor = cursor.clone();
        loop {
            match page(plugin, &ctx, cursor.as_deref(), changed_since.as_deref()).await {
                Ok(p) => {
                    pages += 1;
                    replayed.extend(p.jobs.into_iter().map(|j| (j.code.clone(), j)));
                    match p.next_cursor {
                        Some(next) if pages < max_pages => cursor = Some(next),
                        Some(_) => {
                            replayed_error = Some(format!("the listing did not end within {max_pages} pages"));
                            break;
                        }
                        None => break,
                    }
                }
                Err(e) => {
                    replayed_error = Some(e.to_string());
                    break;
                }
            }
        }
    }
    let mut stages = Vec::new();
    for (args, outcome) in &recording.calls {
        let ExportArgs::ListStages { job_code } = args else { continue };
        let answer = plugin.list_stages(&ctx, job_code.as_deref()).await;
        let d = match (outcome, answer) {
            (ExportOutcome::Stages(before), Ok(after)) => diff::stages(job_code.clone(), before, &after),
            (ExportOutcome::Error { message, .. }, Err(e)) if *message == e.to_string() => continue,
            (before, after) => StagesDiff {
                job_code: job_code.clone(),
                error: Some(format!(
                    "recorded {}, replayed {}",
                    match before {
                        ExportOutcome::Error { message, .. } => format!("error: {message}"),
                        _ => "stages".to_string(),
                    },
                    match after {
                        Err(e) => format!("error: {e}"),
                        Ok(_) => "stages".to_string(),
                    }
                )),
                ..Default::default()
            },
        };
        if !d.is_empty() {
            stages.push(d);
        }
    }
    let statuses = replay_statuses(plugin, &ctx, recording).await;
    let (unanswered, unanswered_total) = responder.unanswered();
    let (_, unused_answers) = responder.usage();
    let (token_requests, unused_token_requests) = responder.token_usage();
    ReplayReport {
        connection: recording.header.connection.clone(),
        run: recording.header.run,
        recorded_plugin: recording.header.plugin.clone(),
        recorded_version: recording.header.plugin_version.clone(),
        replayed_plugin: plugin.id().to_string(),
        replayed_version: plugin.version().to_string(),
        truncated: recording.end.as_ref().is_some_and(|e| e.truncated),
        jobs: diff::jobs(&recording.recorded_jobs(), &replayed),
        stages,
        statuses,
        pages,
        recorded_error,
        replayed_error,
        unanswered,
        unanswered_total,
        unused_answers,
        token_requests,
        unused_token_requests,
    }
}
