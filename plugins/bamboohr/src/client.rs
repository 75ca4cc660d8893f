//! Requests to BambooHR's applicant-tracking API: base URL, authentication,
//! paging and error handling.
//!
//! - Base URL `https://api.bamboohr.com/api/gateway.php/{company-domain}/v1`;
//!   the `base-url` setting replaces `https://api.bamboohr.com` (proxies, the mock).
//! - HTTP Basic with the API key as the user name and `x` as the password
//!   (BambooHR ignores it): the host attaches the secret; the plugin never
//!   sees it. Every request says `Accept: application/json`, else BambooHR
//!   may answer XML.
//! - Errors: BambooHR sends no JSON error body; its message is in the
//!   `X-BambooHR-Error-Message` header, which is quoted. Statuses map through
//!   the SDK ([`Response::status_error`]), except that throttling is
//!   reported as `503` with `Retry-After`: a 503 that asks for a delay is
//!   `rate-limited`, a 503 without one `transient` (an outage).

use atsbridge_sdk::http::{excerpt, path_segment};
use atsbridge_sdk::multipart::Part;
use atsbridge_sdk::prelude::*;
use serde::de::DeserializeOwned;

use crate::api;

/// BambooHR's API gateway.
pub const DEFAULT_BASE_URL: &str = "https://api.bamboohr.com";
/// The Basic password; BambooHR ignores it and documents `x`.
const BASIC_PASSWORD: &str = "x";
/// The header BambooHR puts its error message in.
const ERROR_HEADER: &str = "x-bamboohr-error-message";
/// Pages of an application search a push follows before giving up: the
/// search is by e-mail on one job, so more than a handful of pages means
/// the filter was not applied.
const MAX_SEARCH_PAGES: usize = 20;

/// A configured BambooHR company.
#[derive(Debug)]
pub struct BambooHr {
    /// `{base-url}/api/gateway.php/{company}/v1`
    base: String,
    key: SecretRef,
}

impl BambooHr {
    /// Reads `company-domain`, `api-key` and `base-url` (see the crate docs).
    pub fn from_config(config: &Config) -> Result<Self, ConnectorError> {
        let key = config.secret("api-key")?;
        let company = company_domain(config.require_text("company-domain")?)?;
        let origin = match config.url("base-url") {
            Some(_) => config.require_url("base-url")?.trim_end_matches('/').to_string(),
            None => DEFAULT_BASE_URL.to_string(),
        };
        Ok(BambooHr { base: format!("{origin}/api/gateway.php/{company}/v1"), key })
    }

    /// Basic auth (key as user, `x` as password) and `Accept: application/json`.
    fn request(&self, request: Request) -> Request {
        request.basic(&self.key, Some(Credential::plain(BASIC_PASSWORD))).header("accept", "application/json")
    }

    fn get(&self, path: &str) -> Request {
        self.request(Request::get(format!("{}/applicant_tracking{path}", self.base)))
    }

    fn fetch<T: DeserializeOwned>(request: Request, what: &str) -> Result<T, ConnectorError> {
        decode(&success(request.send()?)?, what)
    }

    /// `GET /applicant_tracking/statuses`: a small answer that proves the
    /// key reaches the ATS (the job list has no paging and may be large).
    pub fn check(&self) -> Result<(), ConnectorError> {
        self.statuses().map(|_| ())
    }

    /// `GET /applicant_tracking/jobs?statusGroups=ALL`: every job opening,
    /// deleted ones included (they map to closed), in one answer.
    pub fn jobs(&self) -> Result<Vec<api::Job>, ConnectorError> {
        Self::fetch(self.get("/jobs").query(&[("statusGroups", "ALL")]), "GET /applicant_tracking/jobs")
    }

    /// `GET /applicant_tracking/statuses`.
    pub fn statuses(&self) -> Result<Vec<api::Status>, ConnectorError> {
        Self::fetch(self.get("/statuses"), "GET /applicant_tracking/statuses")
    }

    /// `GET /applicant_tracking/applications?jobId=&searchString=<email>&applicationStatus=ALL`,
    /// following `nextPageUrl`: this e-mail's application on this job, if any.
    pub fn find_application(&self, job_id: &str, email: &str) -> Result<Option<api::Application>, ConnectorError> {
        let mut request = Some(self.get("/applications").query(&[
            ("jobId", job_id),
            ("searchString", email),
            ("applicationStatus", "ALL"),
        ]));
        for _ in 0..MAX_SEARCH_PAGES {
            let Some(next) = request.take() else { return Ok(None) };
            let page: api::ApplicationsPage = Self::fetch(next, "GET /applicant_tracking/applications")?;
            if let Some(found) =
                page.applications.into_iter().find(|a| crate::map::is_same_application(a, email, job_id))
            {
                return Ok(Some(found));
            }
            if let Some(url) = page.next_page_url.filter(|u| !u.trim().is_empty()) {
                self.check_next_page(&url)?;
                request = Some(self.request(Request::get(url)));
            }
        }
        Err(ConnectorError::Permanent(format!(
            "the application search for {email} on job {job_id} did not end after {MAX_SEARCH_PAGES} pages"
        )))
    }

    /// `POST /applicant_tracking/application` (multipart).
    pub fn create_application(&self, parts: &[Part]) -> Result<api::Created, ConnectorError> {
        let url = format!("{}/applicant_tracking/application", self.base);
        let response = success(self.request(Request::post(url)).multipart(parts).send()?)?;
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(api::Created::default());
        }
        decode(&response, "POST /applicant_tracking/application")
    }

    /// `POST /applicant_tracking/applications/{id}/status {"status": <id>}`.
    pub fn set_status(&self, application_id: &str, status_id: &str) -> Result<(), ConnectorError> {
        let status: serde_json::Value = match status_id.trim().parse::<u64>() {
            Ok(n) => n.into(),
            Err(_) => status_id.into(),
        };
        let url = format!("{}/applicant_tracking/applications/{}/status", self.base, path_segment(application_id));
        success(self.request(Request::post(url)).json(&serde_json::json!({ "status": status })).send()?)?;
        Ok(())
    }

    /// `GET /applicant_tracking/applications/{id}`; `Ok(None)` for a 404.
    pub fn application(&self, id: &str) -> Result<Option<api::Application>, ConnectorError> {
        let request = self.get(&format!("/applications/{}", path_segment(id)));
        match Self::fetch(request, "GET /applicant_tracking/applications/{id}") {
            Ok(application) => Ok(Some(application)),
            Err(ConnectorError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A `nextPageUrl` comes from the response body: it must stay under the
    /// company's API, so the key is never sent anywhere else.
    fn check_next_page(&self, url: &str) -> Result<(), ConnectorError> {
        if url.starts_with(&format!("{}/", self.base)) {
            Ok(())
        } else {
            Err(ConnectorError::Permanent(format!(
                "BambooHR's next-page URL `{}` is not under {}; refusing to follow it",
                excerpt(url.as_bytes()),
                self.base
            )))
        }
    }
}

/// The company's BambooHR domain, as typed or pasted (`acme`,
/// `acme.bamboohr.com`, `https://acme.bamboohr.com/`).
pub fn company_domain(value: &str) -> Result<String, ConnectorError> {
    let mut name = value.trim().to_ascii_lowercase();
    for prefix in ["https://", "http://"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest.to_string();
        }
    }
    let name = name.trim_end_matches('/');
    let name = name.strip_suffix(".bamboohr.com").unwrap_or(name);
    let valid = !name.is_empty()
        && !name.starts_with('-')
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(name.to_string())
    } else {
        Err(ConnectorError::InvalidConfig(format!(
            "setting `company-domain`: `{value}` is not a BambooHR company domain (the `acme` of acme.bamboohr.com)"
        )))
    }
}

/// `Ok` for a 2xx response, else its error: the SDK's mapping, with
/// BambooHR's throttling (`503` + `Retry-After`) as `rate-limited` and the
/// `X-BambooHR-Error-Message` header in the message.
fn success(response: Response) -> Result<Response, ConnectorError> {
    let Some(error) = response.status_error() else { return Ok(response) };
    let error = match (response.status, response.retry_after_ms()) {
        (503, Some(wait)) => ConnectorError::rate_limited(Some(wait), error.message()),
        _ => error,
    };
    match response.header(ERROR_HEADER).map(str::trim).filter(|m| !m.is_empty()) {
        Some(message) => {
            let text = format!("{} ({})", error.message(), excerpt(message.as_bytes()));
            Err(error.with_message(text))
        }
        None => Err(error),
    }
}

/// Decodes a JSON body; the error names the endpoint.
fn decode<T: DeserializeOwned>(response: &Response, what: &str) -> Result<T, ConnectorError> {
    response
        .json()
        .map_err(|e| ConnectorError::Permanent(format!("malformed BambooHR `{what}` response: {}", e.message())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(domain: &str, base: Option<&str>) -> Config {
        let mut settings = vec![Setting::secret("api-key"), Setting::text("company-domain", domain)];
        settings.extend(base.map(|b| Setting::text("base-url", b)));
        Config::from(settings)
    }

    #[test]
    fn the_company_domain_is_in_the_path() {
        let b = BambooHr::from_config(&config("Acme", None)).unwrap();
        assert_eq!(b.base, "https://api.bamboohr.com/api/gateway.php/acme/v1");
        let mock = BambooHr::from_config(&config("acme", Some("http://127.0.0.1:9/"))).unwrap();
        assert_eq!(mock.base, "http://127.0.0.1:9/api/gateway.php/acme/v1");
        assert_eq!(company_domain(" https://acme.bamboohr.com/ ").unwrap(), "acme");
        for bad in ["", "a/b", "-x", "acme.example.com", "a?b"] {
            assert_eq!(company_domain(bad).unwrap_err().kind(), "invalid-config", "{bad}");
        }
    }

    #[test]
    fn the_key_is_the_basic_user_name_and_json_is_asked_for() {
        let b = BambooHr::from_config(&config("acme", None)).unwrap();
        let request = b.get("/jobs");
        assert_eq!(
            request.auth(),
            Some(&http::Auth::Basic(http::BasicAuth {
                username: Credential::Secret(SecretRef::new("api-key")),
                password: Some(Credential::plain("x")),
            }))
        );
        assert_eq!(request.header_value("accept"), Some("application/json"));
        assert_eq!(request.url(), "https://api.bamboohr.com/api/gateway.php/acme/v1/applicant_tracking/jobs");
    }

    #[test]
    fn next_pages_stay_under_the_company_api() {
        let b = BambooHr::from_config(&config("acme", None)).unwrap();
        assert!(
            b.check_next_page(
                "https://api.bamboohr.com/api/gateway.php/acme/v1/applicant_tracking/applications?page=2"
            )
            .is_ok()
        );
        for bad in [
            "https://api.bamboohr.com/api/gateway.php/other/v1/applicant_tracking/applications",
            "https://api.bamboohr.com/api/gateway.php/acme/v1.evil/x",
            "https://evil.example/api/gateway.php/acme/v1/x",
            "/api/gateway.php/acme/v1/x",
        ] {
            assert_eq!(b.check_next_page(bad).unwrap_err().kind(), "permanent", "{bad}");
        }
    }

    fn response(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn throttling_503_is_rate_limited_and_an_outage_transient() {
        let throttled = success(response(503, &[("retry-after", "9")])).unwrap_err();
        assert!(matches!(throttled, ConnectorError::RateLimited(RateLimit { retry_after_ms: Some(9_000), .. })));
        assert_eq!(success(response(503, &[])).unwrap_err().kind(), "transient");
        let limited = success(response(429, &[("retry-after", "7")])).unwrap_err();
        assert!(matches!(limited, ConnectorError::RateLimited(RateLimit { retry_after_ms: Some(7_000), .. })));
        assert_eq!(success(response(500, &[])).unwrap_err().kind(), "transient");
        assert_eq!(success(response(404, &[])).unwrap_err().kind(), "not-found");
        assert!(success(response(200, &[])).is_ok());
    }

    #[test]
    fn the_error_header_is_quoted() {
        let err = success(response(401, &[("X-BambooHR-Error-Message", "Invalid API key")])).unwrap_err();
        assert_eq!(err.kind(), "unauthorized");
        assert_eq!(err.message(), "HTTP 401 Unauthorized: (empty body) (Invalid API key)");
        let err = success(response(403, &[(ERROR_HEADER, "API access is off")])).unwrap_err();
        assert!(err.message().ends_with("(API access is off)"), "{}", err.message());
    }

    #[test]
    fn xml_instead_of_json_is_a_malformed_answer() {
        let response = Response { status: 200, headers: vec![], body: b"<?xml version=\"1.0\"?><jobs/>".to_vec() };
        let err = decode::<Vec<api::Job>>(&response, "GET /applicant_tracking/jobs").unwrap_err();
        assert_eq!(err.kind(), "permanent");
        assert!(err.message().contains("`GET /applicant_tracking/jobs`"), "{}", err.message());
    }
}
