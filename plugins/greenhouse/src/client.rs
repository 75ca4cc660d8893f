//! Harvest v3 over the host's HTTP import: authentication, pagination,
//! error bodies, and one function per endpoint.
//!
//! | endpoint | used by |
//! |---|---|
//! | `GET /v3/jobs?per_page=500[&updated_at=gte\|T]`, then `Link: rel="next"` | `check` (with `per_page=1`), `list-jobs` |
//! | `GET /v3/job_posts?job_ids=…&per_page=500`, then `Link: rel="next"` | `list-jobs` (descriptions) |
//! | `GET /v3/jobs/{id}/stages` | `list-stages` for one job |
//! | `GET /v3/job_stages?per_page=500`, then `Link: rel="next"` | `list-stages` for all jobs |
//! | `GET /v3/candidates?email=` | `push-candidate` (dedupe) |
//! | `GET /v3/applications/{id}` | `push-candidate` (lean candidates), `candidate-statuses` |
//! | `POST /v3/candidates` + `On-Behalf-Of` | `push-candidate` (new person) |
//! | `POST /v3/applications` + `On-Behalf-Of` | `push-candidate` (known person) |
//! | `POST /v3/applications/{id}/move` + `On-Behalf-Of` | `move-application` |
//!
//! Every request authenticates with OAuth 2.0 client credentials: the host
//! posts `client-id`/`client-secret` (HTTP Basic) and `sub=<user-id>` to
//! `token-url`, caches the token and sends it as a Bearer token.
//!
//! Pagination (<https://harvestdocs.greenhouse.io/docs/pagination>): filters
//! and `per_page` go on the first request only; each answer is a bare JSON
//! array, and a `Link: <…?cursor=…>; rel="next"` header names the next page,
//! requested exactly as given (the cursor must be the only parameter).

use atsbridge_sdk::prelude::*;
use std::collections::HashSet;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::api;
use crate::map::Descriptions;

/// Harvest's base URL (the `/v3` paths are appended).
pub const DEFAULT_BASE_URL: &str = "https://harvest.greenhouse.io";
/// Greenhouse's OAuth token endpoint.
pub const DEFAULT_TOKEN_URL: &str = "https://auth.greenhouse.io/token";

/// Harvest's largest page: fewer requests against a rate limit counted per
/// 10-second window.
const PER_PAGE: &str = "500";
/// Pages one call follows through a secondary listing (job posts, all job
/// stages). Each call runs under the host's time limit; 20 pages are
/// 10,000 records.
const MAX_PAGES_PER_CALL: usize = 20;
/// What the listing reads, for error messages.
const JOB_LIST: &str = "the job list (GET /v3/jobs)";
const JOB_POSTS: &str = "the job posts (GET /v3/job_posts)";
/// Applications of one person checked for a duplicate when Greenhouse does
/// not embed them in the candidate; people rarely have more.
const MAX_APPLICATIONS_CHECKED: usize = 50;

/// An authenticated Harvest v3 client for one connection.
pub struct Harvest {
    base: String,
    grant: ClientCredentials,
    user_id: String,
}

impl Harvest {
    /// Reads the connection's settings (see the crate docs).
    pub fn new(config: &Config) -> Result<Self, ConnectorError> {
        let user_id = config.require_text("user-id")?.trim().to_string();
        Ok(Harvest {
            base: config.base_url("base-url", DEFAULT_BASE_URL).to_string(),
            grant: ClientCredentials {
                token_url: config.base_url("token-url", DEFAULT_TOKEN_URL).to_string(),
                client_id: config.secret("client-id")?.into(),
                client_secret: config.secret("client-secret")?.into(),
                scope: None,
                extra_params: vec![("sub".to_string(), user_id.clone())],
            },
            user_id,
        })
    }

    /// The Greenhouse user the connection acts as.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v3{path}", self.base)
    }

    fn get(&self, url: impl Into<String>) -> Request {
        Request::get(url).client_credentials(self.grant.clone())
    }

    /// A write, attributed to the acting user.
    fn post<T: Serialize>(&self, path: &str, body: &T) -> Request {
        Request::post(self.url(path))
            .client_credentials(self.grant.clone())
            .header("On-Behalf-Of", self.user_id.as_str())
            .json(body)
    }

    /// One page of the job listing onto the contract: the page of jobs at
    /// `cursor` (the first, with the `updated_at` filter, when `None`),
    /// each with the description of its best job post, and the cursor of
    /// the next page.
    ///
    /// Jobs and posts are decoded borrowing from their response bodies,
    /// which live until the page is built: only text that ends up in a
    /// contract job is copied out of them.
    pub fn job_page(&self, cursor: Option<&str>, changed_since: Option<&str>) -> Result<JobPage, ConnectorError> {
        let request = match paging::next_url(cursor)? {
            Some(url) => self.get(url),
            None => {
                let updated =
                    changed_since.map(atsbridge_sdk::time::normalize_rfc3339).transpose()?.map(|t| format!("gte|{t}"));
                self.get(self.url("/jobs")).query(&[("per_page", PER_PAGE)]).query_opt("updated_at", updated.as_deref())
            }
        };
        let (response, next) = self.fetch(request)?;
        let jobs: Vec<api::Job<'_>> = decode(&response, JOB_LIST)?;
        log::info(format!("read {} jobs", jobs.len()));
        let ids: Vec<&str> = jobs.iter().map(|j| j.id.0.as_str()).collect();
        let mut first_posts = None;
        let mut descriptions =
            if ids.is_empty() { Default::default() } else { self.job_descriptions(&ids, &mut first_posts)? };
        let jobs = jobs
            .into_iter()
            .map(|job| {
                let description = descriptions.take(&job.id.0);
                crate::map::job(job, description)
            })
            .collect();
        Ok(JobPage { jobs, next_cursor: paging::next_url_cursor(next) })
    }

    /// Checks the credentials and the jobs permission with the smallest
    /// possible listing.
    pub fn check(&self) -> Result<(), ConnectorError> {
        let request = self.get(self.url("/jobs")).query(&[("per_page", "1")]);
        let (response, _) = self.fetch(request)?;
        decode::<Vec<api::Job<'_>>>(&response, JOB_LIST)?;
        Ok(())
    }

    /// The descriptions of `job_ids`, from their job posts. Follows pages
    /// until every job has a post or the listing ends, at most
    /// [`MAX_PAGES_PER_CALL`] pages. The first page's response is kept in
    /// `first_page` and its posts' text borrowed from it; later pages (rare:
    /// a page holds 500 posts) are copied.
    fn job_descriptions<'r>(
        &self,
        job_ids: &[&str],
        first_page: &'r mut Option<Response>,
    ) -> Result<Descriptions<'r>, ConnectorError> {
        // Looked up once per post: a set, not a scan of the 500 ids.
        let requested: HashSet<&str, crate::map::FixedState> = job_ids.iter().copied().collect(); // no random seed: replayable
        let mut missing = requested.clone();
        let mut descriptions = Descriptions::default();
        let mut offer = |post: api::JobPost<'r>, missing: &mut HashSet<&str, crate::map::FixedState>| {
            // Keep only the requested jobs' posts, whatever the server sent.
            if let Some(job) = post.job_id.as_ref().filter(|j| requested.contains(j.0.as_str())) {
                missing.remove(job.0.as_str());
                descriptions.offer(post);
            }
        };
        let first =
            self.get(self.url("/job_posts")).query(&[("job_ids", job_ids.join(",").as_str()), ("per_page", PER_PAGE)]);
        let (response, mut next) = self.fetch(first)?;
        let response: &'r Response = first_page.insert(response);
        for post in decode::<Vec<api::JobPost<'r>>>(response, JOB_POSTS)? {
            offer(post, &mut missing);
        }
        let mut pages = 1;
        while !missing.is_empty() {
            if pages == MAX_PAGES_PER_CALL {
                if next.is_some() {
                    log::warn(format!(
                        "stopped reading job posts after {pages} pages; {} jobs get no description",
                        missing.len()
                    ));
                }
                break;
            }
            let Some(url) = next.take() else {
                break;
            };
            let (response, following) = self.fetch(self.get(url))?;
            pages += 1;
            for post in decode::<Vec<api::JobPost<'_>>>(&response, JOB_POSTS)? {
                offer(post.into_owned(), &mut missing);
            }
            next = following;
        }
        Ok(descriptions)
    }

    /// The pipeline of one job.
    pub fn job_stages(&self, job_id: u64) -> Result<Vec<api::Stage>, ConnectorError> {
        let response = self.send(self.get(self.url(&format!("/jobs/{job_id}/stages"))))?;
        decode(&response, "the job's stages (GET /v3/jobs/{id}/stages)")
    }

    /// The stages of every job.
    pub fn all_job_stages(&self) -> Result<Vec<api::Stage>, ConnectorError> {
        let first = self.get(self.url("/job_stages")).query(&[("per_page", PER_PAGE)]);
        self.all_pages(first, "the job stages (GET /v3/job_stages)")
    }

    /// The people with this e-mail address.
    pub fn candidates_by_email(&self, email: &str) -> Result<Vec<api::Candidate>, ConnectorError> {
        let first = self.get(self.url("/candidates")).query(&[("email", email), ("per_page", PER_PAGE)]);
        self.all_pages(first, "the candidates with the e-mail address (GET /v3/candidates)")
    }

    /// The applications of `candidate`: the embedded ones, else each of
    /// `application_ids` read on its own.
    pub fn applications_of(&self, candidate: api::Candidate) -> Result<Vec<api::Application>, ConnectorError> {
        if !candidate.applications.is_empty() {
            return Ok(candidate.applications);
        }
        let mut applications = Vec::new();
        for id in candidate.application_ids.iter().take(MAX_APPLICATIONS_CHECKED) {
            if let Some(application) = self.application(&id.0)? {
                applications.push(application);
            }
        }
        Ok(applications)
    }

    /// One application; `None` when Greenhouse has none with this id.
    pub fn application(&self, id: &str) -> Result<Option<api::Application>, ConnectorError> {
        let id = crate::map::harvest_id("application id", id)?;
        match self.send(self.get(self.url(&format!("/applications/{id}")))) {
            Ok(response) => decode(&response, "the application (GET /v3/applications/{id})").map(Some),
            Err(ConnectorError::NotFound(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Creates a person with one application.
    pub fn create_candidate(&self, body: &api::NewCandidate) -> Result<api::Candidate, ConnectorError> {
        let response = self.send(self.post("/candidates", body))?;
        decode(&response, "the created candidate (POST /v3/candidates)")
    }

    /// Adds an application to a person Greenhouse knows.
    pub fn create_application(&self, body: &api::NewCandidateApplication) -> Result<api::Application, ConnectorError> {
        let response = self.send(self.post("/applications", body))?;
        decode(&response, "the created application (POST /v3/applications)")
    }

    /// Moves an application from its current stage to another of its job's.
    pub fn move_application(&self, id: u64, from_stage_id: u64, to_stage_id: u64) -> Result<(), ConnectorError> {
        let body = api::MoveApplication { from_stage_id, to_stage_id };
        self.send(self.post(&format!("/applications/{id}/move"), &body)).map(drop)
    }

    /// Sends `request`; a non-2xx answer becomes the SDK's error for the
    /// status, worded with Greenhouse's own message.
    fn send(&self, request: Request) -> Result<Response, ConnectorError> {
        let response = request.send()?;
        match response.status_error() {
            None => Ok(response),
            Some(error) => Err(vendor_error(error, &response)),
        }
    }

    /// The answer to one request of a v3 listing (2xx), and the next
    /// page's URL.
    fn fetch(&self, request: Request) -> Result<(Response, Option<String>), ConnectorError> {
        let url = request.url().to_string();
        let response = self.send(request)?;
        let next = paging::link_next(&response).map(|next| paging::resolve_url(&url, &next));
        Ok((response, next))
    }

    /// One page of a v3 listing and the next page's URL.
    fn page<T: DeserializeOwned>(
        &self,
        request: Request,
        what: &str,
    ) -> Result<(Vec<T>, Option<String>), ConnectorError> {
        let (response, next) = self.fetch(request)?;
        Ok((decode(&response, what)?, next))
    }

    /// Every page of a v3 listing, at most [`MAX_PAGES_PER_CALL`].
    fn all_pages<T: DeserializeOwned>(&self, first: Request, what: &str) -> Result<Vec<T>, ConnectorError> {
        let mut all = Vec::new();
        let mut request = Some(first);
        for _ in 0..MAX_PAGES_PER_CALL {
            let Some(current) = request.take() else {
                return Ok(all);
            };
            let (items, next) = self.page(current, what)?;
            all.extend(items);
            request = next.map(|url| self.get(url));
        }
        if request.is_some() {
            log::warn(format!("stopped reading {what} after {MAX_PAGES_PER_CALL} pages"));
        }
        Ok(all)
    }
}

/// Decodes a Harvest answer; a body that does not decode is a permanent
/// error naming what was being read.
pub fn decode<'a, T: Deserialize<'a>>(response: &'a Response, what: &str) -> Result<T, ConnectorError> {
    response
        .json()
        .map_err(|e| ConnectorError::Permanent(format!("Greenhouse sent malformed JSON for {what}: {}", e.message())))
}

/// `error` (the SDK's mapping of the status) with its message replaced by
/// Greenhouse's own words when the body is a Harvest error.
pub fn vendor_error(error: ConnectorError, response: &Response) -> ConnectorError {
    let Ok(body) = serde_json::from_slice::<api::ErrorBody>(&response.body) else {
        return error;
    };
    let details: Vec<String> = body
        .errors
        .iter()
        .filter_map(|e| match (&e.field, &e.message) {
            (Some(field), Some(message)) => Some(format!("{field}: {message}")),
            (None, Some(message)) => Some(message.clone()),
            _ => None,
        })
        .collect();
    let Some(message) = body.message.filter(|m| !m.is_empty()).or_else(|| details.first().cloned()) else {
        return error;
    };
    let mut text = format!("Greenhouse answered HTTP {}: {message}", response.status);
    if !details.is_empty() {
        text.push_str(&format!(" ({})", details.join("; ")));
    }
    error.with_message(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn error_of(r: &Response) -> ConnectorError {
        vendor_error(r.status_error().unwrap(), r)
    }

    #[test]
    fn validation_errors_quote_each_field() {
        let r = response(
            422,
            &[],
            r#"{"message": "Validation error", "errors": [{"message": "Job not found", "field": "job_id"}, {"message": "is invalid"}]}"#,
        );
        assert_eq!(
            error_of(&r),
            ConnectorError::Permanent(
                "Greenhouse answered HTTP 422: Validation error (job_id: Job not found; is invalid)".into()
            )
        );
    }

    #[test]
    fn statuses_keep_their_kind_and_retry_delay() {
        let r = response(401, &[], r#"{"message": "Unauthorized: access token expired"}"#);
        assert_eq!(
            error_of(&r),
            ConnectorError::Unauthorized("Greenhouse answered HTTP 401: Unauthorized: access token expired".into())
        );
        let r = response(429, &[("retry-after", "7")], r#"{"message": "Too Many Requests"}"#);
        assert!(
            matches!(error_of(&r), ConnectorError::RateLimited(l) if l.retry_after_ms == Some(7000) && l.message.contains("Too Many Requests"))
        );
        let r = response(404, &[], r#"{"message": "Resource not found"}"#);
        assert_eq!(error_of(&r).kind(), "not-found");
    }

    #[test]
    fn other_bodies_keep_the_sdk_message() {
        let r = response(502, &[], "<html><h1>502 Bad Gateway</h1></html>");
        let e = error_of(&r);
        assert_eq!(e.kind(), "transient");
        assert!(e.message().contains("502 Bad Gateway"), "{}", e.message());
    }

    #[test]
    fn malformed_json_names_what_was_read() {
        let r = response(200, &[], r#"[{"id": 1, "name": "Trunc"#);
        let e = decode::<Vec<api::Job<'_>>>(&r, JOB_LIST).unwrap_err();
        assert_eq!(e.kind(), "permanent");
        assert!(
            e.message().starts_with("Greenhouse sent malformed JSON for the job list (GET /v3/jobs)"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn settings_become_the_grant() {
        let config = Config::new(vec![
            Setting::secret("client-id"),
            Setting::secret("client-secret"),
            Setting::text("user-id", " 42 "),
            Setting::text("base-url", "http://127.0.0.1:9000/"),
        ]);
        let h = Harvest::new(&config).unwrap();
        assert_eq!(h.url("/jobs"), "http://127.0.0.1:9000/v3/jobs");
        assert_eq!(h.grant.token_url, DEFAULT_TOKEN_URL);
        assert_eq!(h.grant.extra_params, vec![("sub".to_string(), "42".to_string())]);
        let write = h.post("/candidates", &serde_json::json!({}));
        assert_eq!(write.header_value("on-behalf-of"), Some("42"));
        assert!(matches!(write.auth(), Some(http::Auth::ClientCredentials(_))));
        let missing = Harvest::new(&Config::new(vec![Setting::text("user-id", "1")])).err().unwrap();
        assert_eq!(missing.kind(), "invalid-config");
    }
}
