//! Requests to the SmartRecruiters Customer API: base URL, authentication,
//! paging and error handling.
//!
//! - Base URL `https://api.smartrecruiters.com`, or the `base-url` setting
//!   (proxies, the mock).
//! - `X-SmartToken: <api-key>`: the host attaches the secret as that header
//!   ([`Request::header_auth`]); the plugin never sees it.
//! - Pages: `limit` and `offset`, with `totalFound` telling where the list
//!   ends (see [`PAGE_SIZE`] for why pages are small).
//! - Errors: statuses map through the SDK ([`Response::status_error`]):
//!   401/403 unauthorized, 404 not found, 429 rate limited, 5xx transient,
//!   other 4xx permanent; the `{"message","errors"}` body is quoted. A 429
//!   without `Retry-After` waits one window ([`RATE_LIMIT_WINDOW_MS`]).

use atsbridge_sdk::http::path_segment;
use atsbridge_sdk::multipart::Part;
use atsbridge_sdk::prelude::*;
use serde::de::DeserializeOwned;

use crate::api;

/// The Customer API.
pub const DEFAULT_BASE_URL: &str = "https://api.smartrecruiters.com";
/// The header the API key travels in.
const TOKEN_HEADER: &str = "X-SmartToken";
/// Requests a credential may make per second.
pub const RATE_LIMIT_REQUESTS: u32 = 10;
/// SmartRecruiters' rate-limit window, and how long a 429 without
/// `Retry-After` waits.
pub const RATE_LIMIT_WINDOW_MS: u64 = 1_000;
/// Jobs per listing page. A page costs one list request plus, per job, its
/// hiring team and its job ads, plus one user lookup per distinct team
/// member: with teams of two, 2 jobs make at most 1 + 2 + 2 + 4 = 9
/// requests, within one window of [`RATE_LIMIT_REQUESTS`]. A page that
/// needed more could never complete: the host retries a rate-limited page
/// whole, and it would run into the limit again every time.
pub const PAGE_SIZE: u64 = 2;
/// The most requests a page costs: the list, then per job its team, two
/// members to look up, and its ads.
const PAGE_COST: u64 = 1 + PAGE_SIZE * (1 + 2 + 1);
const _: () = assert!(PAGE_COST <= RATE_LIMIT_REQUESTS as u64, "a page must fit in one rate-limit window");
/// Where the user API lives (path-versioned).
const USERS_PATH: &str = "/user-api/v201804/users";

/// A configured SmartRecruiters account.
#[derive(Debug)]
pub struct SmartRecruiters {
    base: String,
    token: SecretRef,
}

impl SmartRecruiters {
    /// Reads `api-key` and `base-url` (see the crate docs).
    pub fn from_config(config: &Config) -> Result<Self, ConnectorError> {
        let token = config.secret("api-key")?;
        let base = match config.url("base-url") {
            Some(_) => config.require_url("base-url")?.trim_end_matches('/').to_string(),
            None => DEFAULT_BASE_URL.to_string(),
        };
        Ok(SmartRecruiters { base, token })
    }

    /// A request with the token and `Accept: application/json`.
    fn request(&self, request: Request) -> Request {
        request.header_auth(TOKEN_HEADER, &self.token).header("accept", "application/json")
    }

    fn get(&self, path: &str) -> Request {
        self.request(Request::get(format!("{}{path}", self.base)))
    }

    /// Sends `request` and decodes a 2xx JSON answer; `what` names the
    /// endpoint in decoding errors.
    fn fetch<T: DeserializeOwned>(request: Request, what: &str) -> Result<T, ConnectorError> {
        decode(&success(request.send()?)?, what)
    }

    /// `GET /jobs?limit=1`: the cheapest call that proves the token reads jobs.
    pub fn check(&self) -> Result<(), ConnectorError> {
        let _: api::Page<api::Job> = Self::fetch(self.get("/jobs").query(&[("limit", "1")]), "GET /jobs")?;
        Ok(())
    }

    /// `GET /jobs?limit=&offset=[&updatedAfter=]`: a page of job summaries
    /// and the total the query matches.
    pub fn jobs_page(
        &self,
        offset: u64,
        limit: u64,
        changed_since: Option<&str>,
    ) -> Result<(Vec<api::Job>, Option<u64>), ConnectorError> {
        let request = self
            .get("/jobs")
            .query(&[("limit", limit.to_string()), ("offset", offset.to_string())])
            .query_opt("updatedAfter", changed_since);
        let page: api::Page<api::Job> = Self::fetch(request, "GET /jobs")?;
        Ok((page.content, page.total_found))
    }

    /// `GET /jobs/{id}`.
    pub fn job(&self, id: &str) -> Result<api::Job, ConnectorError> {
        Self::fetch(self.get(&format!("/jobs/{}", path_segment(id))), "GET /jobs/{id}")
    }

    /// `GET /jobs/{id}/hiring-team`: the member ids, each once.
    pub fn hiring_team(&self, id: &str) -> Result<Vec<String>, ConnectorError> {
        let team: api::HiringTeam =
            Self::fetch(self.get(&format!("/jobs/{}/hiring-team", path_segment(id))), "GET /jobs/{id}/hiring-team")?;
        Ok(crate::map::team_ids(team.into_members()))
    }

    /// `GET /user-api/v201804/users/{id}`; `Ok(None)` for a 404.
    pub fn user(&self, id: &str) -> Result<Option<api::User>, ConnectorError> {
        let request = self.get(&format!("{USERS_PATH}/{}", path_segment(id)));
        not_found_as_none(Self::fetch(request, "GET /users/{id}"))
    }

    /// `GET /jobs/{id}/jobads`.
    pub fn job_ads(&self, id: &str) -> Result<Vec<api::JobAdItem>, ConnectorError> {
        let ads: api::Page<api::JobAdItem> =
            Self::fetch(self.get(&format!("/jobs/{}/jobads", path_segment(id))), "GET /jobs/{id}/jobads")?;
        Ok(ads.content)
    }

    /// `GET /configuration/hiring-processes/{id}`.
    pub fn hiring_process(&self, id: &str) -> Result<api::HiringProcess, ConnectorError> {
        let path = format!("/configuration/hiring-processes/{}", path_segment(id));
        Self::fetch(self.get(&path), "GET /configuration/hiring-processes/{id}")
    }

    /// `GET /candidates?q=<email>&jobId=`: the candidate with this e-mail
    /// on this job, if SmartRecruiters has one.
    pub fn find_candidate(&self, job_id: &str, email: &str) -> Result<Option<api::Candidate>, ConnectorError> {
        let request = self.get("/candidates").query(&[("q", email), ("jobId", job_id)]);
        let page: api::Page<api::Candidate> = Self::fetch(request, "GET /candidates")?;
        Ok(page.content.into_iter().find(|c| crate::map::is_same_candidate(c, email, job_id)))
    }

    /// `POST /jobs/{id}/candidates`. A `409` (the candidate is on the job
    /// already: a concurrent push won) comes back as `Ok(Err(..))` so the
    /// caller can look the candidate up.
    pub fn create_candidate(
        &self,
        job_id: &str,
        body: &api::NewCandidate,
    ) -> Result<Result<api::Candidate, ConnectorError>, ConnectorError> {
        let url = format!("{}/jobs/{}/candidates", self.base, path_segment(job_id));
        let response = self.request(Request::post(url)).json(body).send()?;
        if response.status == 409 {
            return Ok(Err(success(response).err().unwrap_or_else(|| ConnectorError::Permanent("HTTP 409".into()))));
        }
        Ok(Ok(decode(&success(response)?, "POST /jobs/{id}/candidates")?))
    }

    /// `POST /candidates/{id}/attachments`: the resume, as multipart with
    /// `attachmentType=RESUME` and the file in `file`.
    pub fn add_resume(&self, candidate_id: &str, resume: &Attachment) -> Result<(), ConnectorError> {
        let url = format!("{}/candidates/{}/attachments", self.base, path_segment(candidate_id));
        let parts = [
            Part::text("attachmentType", crate::map::RESUME_ATTACHMENT),
            Part::file("file", resume.file_name.clone(), resume.content_type.clone(), resume.content.clone()),
        ];
        success(self.request(Request::post(url)).multipart(&parts).send()?)?;
        Ok(())
    }

    /// `GET /candidates/{id}/attachments`: whether a resume is among them.
    pub fn has_resume(&self, candidate_id: &str) -> Result<bool, ConnectorError> {
        let path = format!("/candidates/{}/attachments", path_segment(candidate_id));
        let page: api::Page<api::AttachmentInfo> = Self::fetch(self.get(&path), "GET /candidates/{id}/attachments")?;
        Ok(crate::map::has_resume(&page.content))
    }

    /// `PUT /candidates/{id}/jobs/{jobId}/status`.
    pub fn set_status(
        &self,
        candidate_id: &str,
        job_id: &str,
        change: &api::StatusChange,
    ) -> Result<(), ConnectorError> {
        let url =
            format!("{}/candidates/{}/jobs/{}/status", self.base, path_segment(candidate_id), path_segment(job_id));
        success(self.request(Request::put(url)).json(change).send()?)?;
        Ok(())
    }

    /// `GET /candidates/{id}`; `Ok(None)` for a 404.
    pub fn candidate(&self, id: &str) -> Result<Option<api::Candidate>, ConnectorError> {
        not_found_as_none(Self::fetch(self.get(&format!("/candidates/{}", path_segment(id))), "GET /candidates/{id}"))
    }
}

/// `Ok(None)` for a not-found error.
fn not_found_as_none<T>(result: Result<T, ConnectorError>) -> Result<Option<T>, ConnectorError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ConnectorError::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `Ok` for a 2xx response, else its error ([`Response::status_error`]);
/// a 429 without `Retry-After` waits one rate-limit window.
fn success(response: Response) -> Result<Response, ConnectorError> {
    match response.status_error() {
        None => Ok(response),
        Some(ConnectorError::RateLimited(limit)) if limit.retry_after_ms.is_none() => {
            Err(ConnectorError::rate_limited(Some(RATE_LIMIT_WINDOW_MS), limit.message))
        }
        Some(error) => Err(error),
    }
}

/// Decodes a JSON body; the error names the endpoint.
fn decode<T: DeserializeOwned>(response: &Response, what: &str) -> Result<T, ConnectorError> {
    response
        .json()
        .map_err(|e| ConnectorError::Permanent(format!("malformed SmartRecruiters `{what}` response: {}", e.message())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: Option<&str>) -> Config {
        let mut settings = vec![Setting::secret("api-key")];
        settings.extend(base.map(|b| Setting::text("base-url", b)));
        Config::from(settings)
    }

    #[test]
    fn base_url_defaults_to_the_customer_api() {
        assert_eq!(SmartRecruiters::from_config(&config(None)).unwrap().base, DEFAULT_BASE_URL);
        let mock = SmartRecruiters::from_config(&config(Some("http://127.0.0.1:9000/"))).unwrap();
        assert_eq!(mock.base, "http://127.0.0.1:9000");
        assert_eq!(SmartRecruiters::from_config(&config(Some("ftp://x"))).unwrap_err().kind(), "invalid-config");
        let err = SmartRecruiters::from_config(&Config::from(vec![])).unwrap_err();
        assert!(err.message().contains("api-key"), "{err:?}");
    }

    #[test]
    fn the_token_is_attached_by_the_host_as_a_header() {
        let sr = SmartRecruiters::from_config(&config(None)).unwrap();
        let request = sr.get("/jobs");
        assert!(matches!(request.auth(), Some(http::Auth::Header(h))
            if h.name == "X-SmartToken" && h.value == Credential::Secret(SecretRef::new("api-key"))));
        assert_eq!(request.header_value("accept"), Some("application/json"));
    }

    fn response(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: br#"{"message": "Too many requests", "errors": [{"code": "RATE_LIMIT_EXCEEDED"}]}"#.to_vec(),
        }
    }

    fn retry_after_ms(error: ConnectorError) -> Option<u64> {
        match error {
            ConnectorError::RateLimited(limit) => limit.retry_after_ms,
            other => panic!("expected rate-limited, got {other:?}"),
        }
    }

    #[test]
    fn errors_map_through_the_sdk() {
        assert_eq!(retry_after_ms(success(response(429, &[("Retry-After", "7")])).unwrap_err()), Some(7_000));
        assert_eq!(retry_after_ms(success(response(429, &[])).unwrap_err()), Some(RATE_LIMIT_WINDOW_MS));
        let kind = |status| success(response(status, &[])).unwrap_err().kind();
        assert_eq!(kind(401), "unauthorized");
        assert_eq!(kind(404), "not-found");
        assert_eq!(kind(500), "transient");
        assert_eq!(kind(503), "transient");
        assert_eq!(kind(400), "permanent");
        let err = success(response(400, &[])).unwrap_err();
        assert!(err.message().contains("RATE_LIMIT_EXCEEDED"), "the body is quoted: {}", err.message());
        assert_eq!(not_found_as_none::<()>(Err(ConnectorError::NotFound("x".into()))).unwrap(), None);
    }

    #[test]
    fn malformed_json_names_the_endpoint() {
        let response = Response { status: 200, headers: vec![], body: b"{\"content\": 5}".to_vec() };
        let err = decode::<api::Page<api::Job>>(&response, "GET /jobs").unwrap_err();
        assert_eq!(err.kind(), "permanent");
        assert!(err.message().contains("`GET /jobs`"), "{}", err.message());
    }
}
