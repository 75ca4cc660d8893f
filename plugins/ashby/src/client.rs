//! Requests to Ashby's RPC API: authentication, the response envelope and
//! its error codes, cursor pagination and file uploads.
//!
//! - `POST {base-url}/<resource>.<method>`, JSON body,
//!   `Accept: application/json; version=1`, HTTP Basic with the API key as
//!   user name and no password (attached by the host).
//! - Auth failures, throttling and server errors keep their HTTP status
//!   (401/403, 429 with `Retry-After`, 5xx) and map through the SDK.
//! - Everything else is HTTP 200 with `success: false` and an
//!   `errorInfo.code`; [`Failure::into_error`] maps the code to what the
//!   host should do (table there).

use atsbridge_sdk::http::HttpError;
use atsbridge_sdk::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::api;

/// Ashby's API host.
pub const DEFAULT_BASE_URL: &str = "https://api.ashbyhq.com";
/// Jobs per `job.list` page. Ashby allows 100, but each job with a posting
/// costs one more request (`jobPosting.info`) for its description, and a
/// page must finish within the host's call deadline and Ashby's
/// (unpublished) rate limit; 25 keeps a page to 26 requests.
pub const JOB_PAGE_SIZE: u32 = 25;
/// Every status, drafts included: a job that goes back to draft must not
/// look deleted to a full listing.
const JOB_STATUSES: &[&str] = &["Draft", "Open", "Closed", "Archived"];
/// `location` gives the job's location name in the listing.
const JOB_EXPAND: &[&str] = &["location"];
/// Pages followed by [`Ashby::list_all`] before giving up on a cursor that
/// never ends (interview plans and stages are a handful of items).
const MAX_SMALL_LIST_PAGES: usize = 100;

/// A configured Ashby organisation.
#[derive(Debug)]
pub struct Ashby {
    base: String,
    key: SecretRef,
}

/// A `success: false` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The RPC method that failed, for messages.
    pub method: String,
    /// `errorInfo.code`, else the first of `errors`, else `unknown_error`.
    pub code: String,
    pub message: String,
}

/// What a `job.list` page gave.
#[derive(Debug)]
pub struct JobsPage {
    pub jobs: Vec<api::Job>,
    /// Ashby's `nextCursor` while `moreDataAvailable`.
    pub next_cursor: Option<String>,
}

impl Ashby {
    /// Reads `api-key` and `base-url` (see the crate docs).
    pub fn from_config(config: &Config) -> Result<Self, ConnectorError> {
        let key = config.secret("api-key")?;
        let base = match config.url("base-url") {
            Some(_) => config.require_url("base-url")?,
            None => DEFAULT_BASE_URL,
        };
        Ok(Ashby { base: base.to_string(), key })
    }

    /// An authenticated `POST /<method>`.
    fn post(&self, method: &str) -> Request {
        Request::post(format!("{}/{method}", self.base))
            .basic(&self.key, None)
            .header("accept", "application/json; version=1")
    }

    /// Calls `method`: transport and HTTP errors are `Err`, a `success:
    /// false` answer is `Ok(Err(failure))`.
    pub fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: &str,
        body: &B,
    ) -> Result<Result<api::Envelope<T>, Failure>, ConnectorError> {
        read_envelope(method, &self.post(method).json(body).send()?)
    }

    /// Calls `method` and returns its `results`, every failure mapped.
    pub fn rpc<B: Serialize + ?Sized, T: DeserializeOwned>(&self, method: &str, body: &B) -> Result<T, ConnectorError> {
        results(method, self.call(method, body)?)
    }

    /// Every item of a small paginated list, following `nextCursor`.
    pub fn list_all<T: DeserializeOwned>(&self, method: &str, mut params: Value) -> Result<Vec<T>, ConnectorError> {
        let mut items = Vec::new();
        for _ in 0..MAX_SMALL_LIST_PAGES {
            let page = self.call::<_, Vec<T>>(method, &params)?.map_err(Failure::into_error)?;
            items.extend(page.results.unwrap_or_default());
            match page.next_cursor.filter(|_| page.more_data_available) {
                Some(cursor) => params["cursor"] = json!(cursor),
                None => return Ok(items),
            }
        }
        Err(ConnectorError::Permanent(format!("Ashby `{method}` returned more than {MAX_SMALL_LIST_PAGES} pages")))
    }

    /// `job.list {limit: 1}`: proves the key works and may read jobs.
    pub fn check(&self) -> Result<(), ConnectorError> {
        let _: Vec<Value> = self.rpc("job.list", &json!({ "limit": 1 }))?;
        Ok(())
    }

    /// One `job.list` page of every status, locations expanded.
    ///
    /// No `syncToken` is ever sent (see the crate docs), but if Ashby ends
    /// a listing with `incremental_sync_too_large` or `sync_token_expired`
    /// anyway (a stale cursor), the listing restarts from the first page:
    /// the host upserts, so jobs seen twice are harmless.
    pub fn job_page(&self, cursor: Option<&str>) -> Result<JobsPage, ConnectorError> {
        let body = api::JobListRequest { limit: JOB_PAGE_SIZE, cursor, status: JOB_STATUSES, expand: JOB_EXPAND };
        let page = match self.call::<_, Vec<api::Job>>("job.list", &body)? {
            Ok(page) => page,
            Err(failure) if failure.restarts_listing() && cursor.is_some() => {
                log::warn(format!("Ashby refused to continue the job listing ({}); starting over", failure.code));
                return self.job_page(None);
            }
            Err(failure) => return Err(failure.into_error()),
        };
        let next_cursor = match (page.more_data_available, page.next_cursor) {
            (false, _) => None,
            (true, Some(cursor)) if !cursor.is_empty() => Some(cursor),
            (true, _) => {
                return Err(ConnectorError::Permanent(
                    "Ashby `job.list` says more data is available but sent no nextCursor".into(),
                ));
            }
        };
        Ok(JobsPage { jobs: page.results.unwrap_or_default(), next_cursor })
    }

    /// `jobPosting.info {jobPostingId}`: the ad (description, department);
    /// `None` when the posting is gone.
    pub fn posting(&self, posting_id: &str) -> Result<Option<api::Posting>, ConnectorError> {
        let body = json!({ "jobPostingId": posting_id });
        not_found_as_none(self.rpc("jobPosting.info", &body))
    }

    /// `job.info {id}`.
    pub fn job(&self, id: &str) -> Result<api::Job, ConnectorError> {
        self.rpc("job.info", &json!({ "id": id }))
    }

    /// `interviewPlan.list` (archived plans left out by Ashby's default).
    pub fn interview_plans(&self) -> Result<Vec<api::InterviewPlan>, ConnectorError> {
        self.list_all("interviewPlan.list", json!({}))
    }

    /// `interviewStage.list {interviewPlanId}`.
    pub fn interview_stages(&self, plan_id: &str) -> Result<Vec<api::InterviewStage>, ConnectorError> {
        self.list_all("interviewStage.list", json!({ "interviewPlanId": plan_id }))
    }

    /// `candidate.search {email}`.
    pub fn search_candidates(&self, email: &str) -> Result<Vec<api::Candidate>, ConnectorError> {
        self.rpc("candidate.search", &json!({ "email": email }))
    }

    /// `candidate.create`.
    pub fn create_candidate(&self, candidate: &api::NewCandidate) -> Result<api::Candidate, ConnectorError> {
        self.rpc("candidate.create", candidate)
    }

    /// `application.info {applicationId}`; `None` when Ashby has no such
    /// application (or the key may not see it).
    pub fn application(&self, id: &str) -> Result<Option<api::Application>, ConnectorError> {
        let body = json!({ "applicationId": id });
        not_found_as_none(self.rpc("application.info", &body))
    }

    /// `application.changeStage {applicationId, interviewStageId}`.
    pub fn change_stage(&self, application_id: &str, stage_id: &str) -> Result<(), ConnectorError> {
        let body = json!({ "applicationId": application_id, "interviewStageId": stage_id });
        self.rpc::<_, Value>("application.changeStage", &body).map(drop)
    }

    /// `application.create`.
    pub fn create_application(
        &self,
        application: &api::NewApplication<'_>,
    ) -> Result<api::Application, ConnectorError> {
        self.rpc("application.create", application)
    }

    /// Attaches a resume to a candidate.
    ///
    /// First the documented flow: `file.createFileUploadHandle`, a
    /// multipart POST of the file to the presigned URL, then
    /// `candidate.uploadResume {candidateId, resumeHandle}`. The presigned
    /// URL is on Ashby's storage host, which a connection may not reach
    /// (the manifest allows only the API host); when the host denies it, or
    /// Ashby refuses to create the handle as invalid input, the file goes
    /// through the older multipart `candidate.uploadResume` on the API host.
    pub fn upload_resume(&self, candidate_id: &str, resume: &Attachment) -> Result<(), ConnectorError> {
        match self.upload_resume_with_handle(candidate_id, resume)? {
            None => Ok(()),
            Some(reason) => {
                log::info(format!("uploading the resume as multipart to candidate.uploadResume: {reason}"));
                let (body, content_type) = multipart_form(&[("candidateId", candidate_id)], "resume", resume);
                let response = self.post("candidate.uploadResume").body(body, &content_type).send()?;
                results::<Value>("candidate.uploadResume", read_envelope("candidate.uploadResume", &response)?)
                    .map(drop)
            }
        }
    }

    /// The presigned-upload flow; `Ok(Some(reason))` when it is not
    /// available and the multipart upload should be used instead.
    fn upload_resume_with_handle(
        &self,
        candidate_id: &str,
        resume: &Attachment,
    ) -> Result<Option<String>, ConnectorError> {
        let request = api::FileUploadRequest {
            file_upload_context: "CandidateResume",
            filename: &resume.file_name,
            content_type: content_type(resume),
            content_length: resume.content.len(),
        };
        let method = "file.createFileUploadHandle";
        let upload: api::FileUploadHandle = match self.call(method, &request)? {
            Err(failure) if failure.code == "invalid_input" => {
                return Ok(Some(format!("{method} refused: {}", failure.message)));
            }
            answer => results(method, answer)?,
        };
        let fields: Vec<(&str, &str)> = upload.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let (body, form_type) = multipart_form(&fields, "file", resume);
        // No credentials: the URL itself is the authorisation.
        match Request::post(&upload.url).body(body, &form_type).send_raw() {
            Err(HttpError::Denied(reason)) => return Ok(Some(reason)),
            Err(other) => return Err(other.into()),
            Ok(response) => match response.status_error() {
                None => {}
                Some(e @ (ConnectorError::Transient(_) | ConnectorError::RateLimited(_))) => {
                    return Err(e);
                }
                // A storage 4xx says nothing about the Ashby key; a retry
                // gets a fresh handle.
                Some(e) => {
                    return Err(ConnectorError::Permanent(format!(
                        "the presigned resume upload failed: {}",
                        e.message()
                    )));
                }
            },
        }
        let body = json!({ "candidateId": candidate_id, "resumeHandle": upload.handle });
        let _: Value = self.rpc("candidate.uploadResume", &body)?;
        Ok(None)
    }
}

/// The envelope of an answer; HTTP errors (Ashby keeps real statuses for
/// auth, throttling and server errors) and undecodable bodies are `Err`.
pub fn read_envelope<T: DeserializeOwned>(
    method: &str,
    response: &Response,
) -> Result<Result<api::Envelope<T>, Failure>, ConnectorError> {
    if let Some(error) = response.status_error() {
        return Err(error);
    }
    let envelope: api::Envelope<T> = response
        .json()
        .map_err(|e| ConnectorError::Permanent(format!("malformed Ashby `{method}` response: {}", e.message())))?;
    let failed = envelope.success == Some(false) || (envelope.success.is_none() && envelope.error_info.is_some());
    if !failed {
        if !envelope.warnings.is_empty() {
            log::warn(format!("Ashby `{method}` succeeded with warnings: {:?}", envelope.warnings));
        }
        return Ok(Ok(envelope));
    }
    let info = envelope.error_info.unwrap_or_default();
    let code = info
        .code
        .or_else(|| envelope.errors.iter().find_map(|e| e.as_str().map(str::to_string)))
        .unwrap_or_else(|| "unknown_error".to_string());
    let mut message = info.message.unwrap_or_else(|| "no message".to_string());
    if let Some(request_id) = info.request_id {
        message.push_str(&format!(" (request {request_id})"));
    }
    Ok(Err(Failure { method: method.to_string(), code, message }))
}

/// The `results` of an answer, every failure mapped.
fn results<T>(method: &str, answer: Result<api::Envelope<T>, Failure>) -> Result<T, ConnectorError> {
    answer
        .map_err(Failure::into_error)?
        .results
        .ok_or_else(|| ConnectorError::Permanent(format!("Ashby `{method}` succeeded without results")))
}

fn not_found_as_none<T>(result: Result<T, ConnectorError>) -> Result<Option<T>, ConnectorError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ConnectorError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

impl Failure {
    /// Codes that end an incremental sync: the caller should list from scratch.
    pub fn restarts_listing(&self) -> bool {
        matches!(self.code.as_str(), "incremental_sync_too_large" | "sync_token_expired")
    }

    /// The contract error for Ashby's code.
    ///
    /// | code | error |
    /// |---|---|
    /// | `unauthenticated`, `unauthorized`, `invalid_api_key`, `forbidden`, `missing_endpoint_permission`, anything with `permission` or `api_key` | unauthorized |
    /// | `not_found`, `*_not_found` | not-found |
    /// | `rate_limit_exceeded`, `rate_limited`, `too_many_requests` | rate-limited (no delay known) |
    /// | `internal_error`, `internal_server_error`, `service_unavailable`, `timeout` | transient |
    /// | `incremental_sync_too_large`, `sync_token_expired` | permanent, asking for a full sync |
    /// | `invalid_input` and anything else | permanent, naming the code |
    pub fn into_error(self) -> ConnectorError {
        let text = format!("Ashby `{}` failed with `{}`: {}", self.method, self.code, self.message);
        let code = self.code.as_str();
        match code {
            "unauthenticated" | "unauthorized" | "invalid_api_key" | "forbidden" | "missing_endpoint_permission" => {
                ConnectorError::Unauthorized(text)
            }
            c if c.contains("permission") || c.contains("api_key") => ConnectorError::Unauthorized(text),
            "not_found" => ConnectorError::NotFound(text),
            c if c.ends_with("_not_found") => ConnectorError::NotFound(text),
            "rate_limit_exceeded" | "rate_limited" | "too_many_requests" => ConnectorError::rate_limited(None, text),
            "internal_error" | "internal_server_error" | "service_unavailable" | "timeout" => {
                ConnectorError::Transient(text)
            }
            _ if self.restarts_listing() => ConnectorError::Permanent(format!("{text}; a full sync is needed")),
            _ => ConnectorError::Permanent(text),
        }
    }
}

/// The attachment's MIME type, `application/octet-stream` when unknown.
fn content_type(file: &Attachment) -> &str {
    match file.content_type.trim() {
        "" => "application/octet-stream",
        t => t,
    }
}

/// A `multipart/form-data` body: the text `fields` in order, then the file
/// under `file_field` (S3 presigned POSTs require the file last). Returns
/// the body and its `content-type` with the boundary.
pub fn multipart_form(fields: &[(&str, &str)], file_field: &str, file: &Attachment) -> (Vec<u8>, String) {
    let boundary = boundary_for(fields, &file.content);
    let mut body = Vec::with_capacity(file.content.len() + 256 * (fields.len() + 1));
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{value}\r\n", quoted(name))
                .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            quoted(file_field),
            quoted(&file.file_name),
            content_type(file)
        )
        .as_bytes(),
    );
    body.extend_from_slice(&file.content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

/// A boundary that occurs in none of the parts: derived from the content
/// (FNV-1a), with a counter for the unlikely collision.
fn boundary_for(fields: &[(&str, &str)], content: &[u8]) -> String {
    let hash =
        content.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3));
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    (0u32..)
        .map(|n| format!("atsbridge-{hash:016x}-{n}"))
        .find(|b| !contains(content, b.as_bytes()) && !fields.iter().any(|(_, v)| contains(v.as_bytes(), b.as_bytes())))
        .expect("some counter value is absent from a finite input")
}

/// A value for a quoted header parameter, as browsers write it: `"` as
/// `%22`, line breaks as spaces.
fn quoted(value: &str) -> String {
    value.replace('"', "%22").replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: vec![], body: body.as_bytes().to_vec() }
    }

    fn failure(body: &str) -> Failure {
        read_envelope::<Value>("job.list", &response(200, body)).unwrap().unwrap_err()
    }

    fn kind_of(code: &str) -> &'static str {
        Failure { method: "x.y".into(), code: code.into(), message: "m".into() }.into_error().kind()
    }

    #[test]
    fn config_reads_key_and_base_url() {
        let a = Ashby::from_config(&Config::from(vec![Setting::secret("api-key")])).unwrap();
        assert_eq!(a.base, DEFAULT_BASE_URL);
        let a = Ashby::from_config(&Config::from(vec![
            Setting::secret("api-key"),
            Setting::text("base-url", "http://127.0.0.1:9/"),
        ]))
        .unwrap();
        assert_eq!(a.base, "http://127.0.0.1:9");
        assert_eq!(a.post("job.list").url(), "http://127.0.0.1:9/job.list");
        let err = Ashby::from_config(&Config::default()).unwrap_err();
        assert_eq!(err.kind(), "invalid-config");
    }

    #[test]
    fn success_envelopes_carry_results_and_paging() {
        let page = read_envelope::<Vec<Value>>(
            "job.list",
            &response(
                200,
                r#"{"success": true, "results": [{"id": "a"}], "moreDataAvailable": true, "nextCursor": "c2"}"#,
            ),
        )
        .unwrap()
        .unwrap();
        assert_eq!(page.results.unwrap().len(), 1);
        assert!(page.more_data_available);
        assert_eq!(page.next_cursor.as_deref(), Some("c2"));
    }

    #[test]
    fn http_200_failures_are_decoded() {
        let f = failure(
            r#"{"success": false, "errors": ["application_not_found"],
                "errorInfo": {"code": "application_not_found", "message": "Application not found", "requestId": "01JS"}}"#,
        );
        assert_eq!(f.code, "application_not_found");
        assert_eq!(f.message, "Application not found (request 01JS)");
        let err = f.into_error();
        assert_eq!(err.kind(), "not-found");
        assert!(err.message().contains("`job.list`") && err.message().contains("application_not_found"));
        // Only `errors`, no `errorInfo`.
        assert_eq!(failure(r#"{"success": false, "errors": ["invalid_input"]}"#).code, "invalid_input");
        assert_eq!(failure(r#"{"success": false}"#).code, "unknown_error");
    }

    #[test]
    fn error_codes_map_by_what_to_do() {
        for code in [
            "unauthenticated",
            "invalid_api_key",
            "forbidden",
            "missing_endpoint_permission",
            "insufficient_permissions",
        ] {
            assert_eq!(kind_of(code), "unauthorized", "{code}");
        }
        for code in ["not_found", "job_not_found", "application_not_found"] {
            assert_eq!(kind_of(code), "not-found", "{code}");
        }
        assert_eq!(kind_of("rate_limit_exceeded"), "rate-limited");
        assert_eq!(kind_of("internal_error"), "transient");
        for code in ["invalid_input", "incremental_sync_too_large", "sync_token_expired", "brand_new_code"] {
            assert_eq!(kind_of(code), "permanent", "{code}");
        }
        let unknown = Failure { method: "m".into(), code: "brand_new_code".into(), message: "x".into() };
        assert!(unknown.into_error().message().contains("brand_new_code"));
    }

    #[test]
    fn sync_codes_restart_the_listing() {
        let f = |code: &str| Failure { method: "job.list".into(), code: code.into(), message: String::new() };
        assert!(f("incremental_sync_too_large").restarts_listing());
        assert!(f("sync_token_expired").restarts_listing());
        assert!(!f("invalid_input").restarts_listing());
        assert!(f("sync_token_expired").into_error().message().contains("full sync"));
    }

    #[test]
    fn http_statuses_keep_their_meaning() {
        let err = read_envelope::<Value>(
            "job.list",
            &response(403, r#"{"success":false,"errorInfo":{"code":"invalid_api_key"}}"#),
        )
        .unwrap_err();
        assert_eq!(err.kind(), "unauthorized");
        let throttled = Response { status: 429, headers: vec![("retry-after".into(), "3".into())], body: vec![] };
        assert_eq!(
            read_envelope::<Value>("job.list", &throttled).unwrap_err(),
            ConnectorError::rate_limited(Some(3000), "HTTP 429 Too Many Requests: (empty body)")
        );
        assert_eq!(read_envelope::<Value>("x", &response(502, "<html>")).unwrap_err().kind(), "transient");
    }

    #[test]
    fn malformed_json_names_the_method() {
        let err = read_envelope::<Vec<api::Job>>("job.list", &response(200, "{\"success\": true, \"results\": 7}"))
            .unwrap_err();
        assert_eq!(err.kind(), "permanent");
        assert!(err.message().contains("`job.list`"), "{}", err.message());
        let err = results::<Value>("job.info", Ok(serde_json::from_str(r#"{"success": true}"#).unwrap())).unwrap_err();
        assert!(err.message().contains("without results"));
    }

    #[test]
    fn multipart_puts_fields_first_and_the_file_last() {
        let file = Attachment {
            file_name: "my \"cv\".pdf".into(),
            content_type: String::new(),
            content: b"%PDF-1.7".to_vec(),
        };
        let (body, content_type) = multipart_form(&[("key", "uploads/1"), ("policy", "p")], "file", &file);
        let boundary = content_type.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8(body).unwrap();
        assert_eq!(
            text,
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nuploads/1\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"policy\"\r\n\r\np\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"my %22cv%22.pdf\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n%PDF-1.7\r\n--{boundary}--\r\n"
            )
        );
    }

    #[test]
    fn boundaries_avoid_every_part() {
        let first = boundary_for(&[], b"abc");
        assert!(first.ends_with("-0"));
        assert_ne!(first, boundary_for(&[], b"abd"));
        // A field that happens to contain the boundary moves it on.
        let moved = boundary_for(&[("f", &first)], b"abc");
        assert_eq!(moved, format!("{}1", first.trim_end_matches('0')));
    }
}
