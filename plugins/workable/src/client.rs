//! Requests to Workable SPI v3: base URL, authentication, pagination and
//! error handling.
//!
//! - Base URL `https://{subdomain}.workable.com/spi/v3`, or the `base-url`
//!   setting (sandboxes, proxies, the mock).
//! - `Authorization: Bearer <api-token>`, attached by the host.
//! - Pages: `limit` (at most [`PAGE_SIZE`]) and the absolute URL in
//!   `paging.next`. The next URL comes from the response body, so it is
//!   checked against the base URL's origin (scheme, host, port) before it
//!   is followed or handed to the host as a cursor: a page must never send
//!   the token somewhere else.
//! - Errors: Workable's statuses map through the SDK
//!   ([`Response::status_error`]): 401/403 unauthorized, 404 not found,
//!   429 rate limited, 5xx transient, other 4xx permanent. Bodies are
//!   `{"error": "..."}` and are quoted in the message. A 429 asks the host
//!   to wait for `Retry-After`, or else until `X-Rate-Limit-Reset` (see
//!   [`reset_wait_ms`]): Workable documents only the latter.

use std::time::{SystemTime, UNIX_EPOCH};

use atsbridge_sdk::prelude::*;
use serde::de::DeserializeOwned;

use crate::api;
use crate::map;

/// Requests an account token may make per 10-second window (OAuth and
/// partner tokens get 50).
pub const RATE_LIMIT_REQUESTS: u32 = 10;
/// Jobs per listing page. A page costs its own request plus one members
/// request per job (see the crate docs), so 9 jobs make exactly
/// [`RATE_LIMIT_REQUESTS`]: a page that ran into the limit completes when
/// the host retries it in the next window. Workable serves up to 100, but
/// such a page would need 101 requests and could never complete.
pub const PAGE_SIZE: u32 = RATE_LIMIT_REQUESTS - 1;
/// Added to the wait until `X-Rate-Limit-Reset`: the reset is given in
/// whole seconds, and Workable's clock and ours differ a little.
const RESET_MARGIN_MS: u64 = 1_000;
/// The ad's text comes with the listing, so no per-job request is needed.
const JOB_LIST_FIELDS: &str = "description,full_description";
/// Workable's own domain; accounts are subdomains of it.
const WORKABLE_DOMAIN: &str = "workable.com";

/// A configured Workable account.
#[derive(Debug)]
pub struct Workable {
    base: String,
    origin: Origin,
    token: SecretRef,
}

impl Workable {
    /// Reads `subdomain`, `api-token` and `base-url` (see the crate docs).
    pub fn from_config(config: &Config) -> Result<Self, ConnectorError> {
        let token = config.secret("api-token")?;
        let base = match config.url("base-url") {
            Some(_) => config.require_url("base-url")?.to_string(),
            None => default_base_url(config.require_text("subdomain")?)?,
        };
        let origin = Origin::of(&base).ok_or_else(|| {
            ConnectorError::InvalidConfig(format!("setting `base-url`: `{base}` has no usable scheme, host and port"))
        })?;
        Ok(Workable { base, origin, token })
    }

    /// A GET to an absolute URL with the token and `Accept: application/json`.
    fn get(&self, url: impl Into<String>) -> Request {
        Request::get(url).bearer(&self.token).header("accept", "application/json")
    }

    /// Sends `request` and decodes a 2xx JSON answer; `what` names the
    /// endpoint in decoding errors.
    fn fetch<T: DeserializeOwned>(request: Request, what: &str) -> Result<T, ConnectorError> {
        decode(&success(request.send()?)?, what)
    }

    /// `GET /jobs?limit=1`: the cheapest call that proves the token can
    /// read jobs.
    pub fn check(&self) -> Result<(), ConnectorError> {
        let url = format!("{}/jobs", self.base);
        let _: api::JobsPage = Self::fetch(self.get(url).query(&[("limit", "1")]), "GET /jobs")?;
        Ok(())
    }

    /// The first page's URL: `GET /jobs?limit=100&include_fields=...`
    /// `[&updated_after=<ISO basic>]`. Later pages use `paging.next`, which
    /// keeps these parameters.
    pub fn first_jobs_url(&self, changed_since: Option<&str>) -> Result<String, ConnectorError> {
        let updated_after = changed_since.map(map::updated_after).transpose()?;
        Ok(Request::get(format!("{}/jobs", self.base))
            .query(&[("limit", PAGE_SIZE.to_string().as_str()), ("include_fields", JOB_LIST_FIELDS)])
            .query_opt("updated_after", updated_after.as_deref())
            .url()
            .to_string())
    }

    /// One page of jobs from `url` and the next page's URL, both checked to
    /// be on the base URL's origin.
    pub fn jobs_page(&self, url: &str) -> Result<(Vec<api::Job>, Option<String>), ConnectorError> {
        self.check_origin(url)?;
        let page: api::JobsPage = Self::fetch(self.get(url), "GET /jobs")?;
        let next = page.paging.and_then(|p| p.next).filter(|next| !next.trim().is_empty());
        if let Some(next) = &next {
            self.check_origin(next)?;
        }
        Ok((page.jobs, next))
    }

    /// `GET /jobs/{shortcode}/stages`, or the account's `GET /stages`.
    pub fn stages(&self, job_code: Option<&str>) -> Result<Vec<api::Stage>, ConnectorError> {
        let (url, what) = match job_code {
            Some(code) => (format!("{}/jobs/{}/stages", self.base, path_segment(code)), "GET /jobs/{shortcode}/stages"),
            None => (format!("{}/stages", self.base), "GET /stages"),
        };
        let body: api::StagesBody = Self::fetch(self.get(url), what)?;
        Ok(body.stages)
    }

    /// `GET /jobs/{shortcode}/members`: the job's hiring team.
    pub fn job_members(&self, shortcode: &str) -> Result<Vec<api::Member>, ConnectorError> {
        let url = format!("{}/jobs/{}/members", self.base, path_segment(shortcode));
        let body: api::MembersBody = Self::fetch(self.get(url), "GET /jobs/{shortcode}/members")?;
        Ok(body.into_members())
    }

    /// `GET /members`: every account member.
    pub fn members(&self) -> Result<Vec<api::Member>, ConnectorError> {
        let url = format!("{}/members", self.base);
        let body: api::MembersBody = Self::fetch(self.get(url), "GET /members")?;
        Ok(body.into_members())
    }

    /// `POST /candidates/{id}/move`: to the stage `slug`, as `member_id`.
    pub fn move_candidate(&self, id: &str, member_id: &str, slug: &str) -> Result<(), ConnectorError> {
        let url = format!("{}/candidates/{}/move", self.base, path_segment(id));
        let body = api::Move { member_id: member_id.to_string(), target_stage: slug.to_string() };
        let request = Request::post(url).bearer(&self.token).header("accept", "application/json").json(&body);
        success(request.send()?).map(drop)
    }

    /// `GET /candidates?shortcode=&email=`: the candidate with this e-mail
    /// on this job, if Workable has one.
    pub fn find_candidate(&self, shortcode: &str, email: &str) -> Result<Option<api::Candidate>, ConnectorError> {
        let request =
            self.get(format!("{}/candidates", self.base)).query(&[("shortcode", shortcode), ("email", email)]);
        let page: api::CandidatesPage = Self::fetch(request, "GET /candidates")?;
        Ok(page.candidates.into_iter().find(|c| map::is_same_candidate(c, email, shortcode)))
    }

    /// `POST /jobs/{shortcode}/candidates[?stage=<slug>]`. A `422` comes
    /// back as `Ok(Err(..))` so the caller can tell a duplicate (created by
    /// a concurrent push) from other failures.
    pub fn create_candidate(
        &self,
        shortcode: &str,
        stage: Option<&str>,
        body: &api::NewCandidateBody,
    ) -> Result<Result<api::Candidate, ConnectorError>, ConnectorError> {
        let url = format!("{}/jobs/{}/candidates", self.base, path_segment(shortcode));
        let response = Request::post(url)
            .bearer(&self.token)
            .header("accept", "application/json")
            .query_opt("stage", stage)
            .json(body)
            .send()?;
        if response.status == 422 {
            return Ok(Err(success(response).unwrap_err()));
        }
        let created: api::Created = decode(&success(response)?, "POST /jobs/{shortcode}/candidates")?;
        Ok(Ok(created.candidate))
    }

    /// `GET /candidates/{id}`; `Ok(None)` for a 404.
    pub fn candidate(&self, id: &str) -> Result<Option<api::Candidate>, ConnectorError> {
        let url = format!("{}/candidates/{}", self.base, path_segment(id));
        match Self::fetch::<api::CandidateBody>(self.get(url), "GET /candidates/{id}") {
            Ok(body) => Ok(Some(body.candidate)),
            Err(ConnectorError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Refuses a URL that is not on the base URL's origin.
    fn check_origin(&self, url: &str) -> Result<(), ConnectorError> {
        if Origin::of(url).as_ref() == Some(&self.origin) {
            Ok(())
        } else {
            Err(ConnectorError::Permanent(format!(
                "Workable's next-page URL `{url}` is not on {}://{}:{}, the configured base URL's origin; refusing to follow it",
                self.origin.scheme, self.origin.host, self.origin.port
            )))
        }
    }
}

/// `https://{subdomain}.workable.com/spi/v3`. Accepts the subdomain as
/// typed or pasted (`acme`, `acme.workable.com`, `https://acme.workable.com/`).
pub fn default_base_url(subdomain: &str) -> Result<String, ConnectorError> {
    let mut name = subdomain.trim().to_ascii_lowercase();
    for prefix in ["https://", "http://"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest.to_string();
        }
    }
    let name = name.trim_end_matches('/');
    let name = name.strip_suffix(&format!(".{WORKABLE_DOMAIN}")).unwrap_or(name);
    let valid = !name.is_empty()
        && !name.starts_with('-')
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        return Err(ConnectorError::InvalidConfig(format!(
            "setting `subdomain`: `{subdomain}` is not a Workable subdomain (the `acme` of acme.workable.com)"
        )));
    }
    Ok(format!("https://{name}.{WORKABLE_DOMAIN}/spi/v3"))
}

/// `Ok` for a 2xx response, else its error ([`Response::status_error`]);
/// a 429 without `Retry-After` waits until `X-Rate-Limit-Reset`.
fn success(response: Response) -> Result<Response, ConnectorError> {
    match response.status_error() {
        None => Ok(response),
        Some(ConnectorError::RateLimited(limit)) if limit.retry_after_ms.is_none() => {
            let wait = reset_wait_ms(response.header("x-rate-limit-reset"), SystemTime::now());
            Err(ConnectorError::rate_limited(wait, limit.message))
        }
        Some(error) => Err(error),
    }
}

/// How long to wait for Workable's next rate-limit window: from `now` to
/// `X-Rate-Limit-Reset` (Unix seconds), plus [`RESET_MARGIN_MS`]. `None`
/// when the header is missing or not a number.
fn reset_wait_ms(reset: Option<&str>, now: SystemTime) -> Option<u64> {
    let reset_secs: u64 = reset?.trim().parse().ok()?;
    let now_ms = now.duration_since(UNIX_EPOCH).ok()?.as_millis();
    let wait = u128::from(reset_secs).saturating_mul(1_000).saturating_sub(now_ms);
    Some(u64::try_from(wait).unwrap_or(u64::MAX).saturating_add(RESET_MARGIN_MS))
}

/// Decodes a JSON body; the error names the endpoint.
fn decode<T: DeserializeOwned>(response: &Response, what: &str) -> Result<T, ConnectorError> {
    response
        .json()
        .map_err(|e| ConnectorError::Permanent(format!("malformed Workable `{what}` response: {}", e.message())))
}

/// Percent-encodes one path segment (shortcodes and ids are alphanumeric,
/// but a stray `/` or `?` must not change the endpoint).
fn path_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The origin of an http(s) URL: scheme, lower-case host and port (the
/// scheme's default when none is written).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// `None` for anything but an absolute http(s) URL with a host. URLs
    /// with user info (`https://acme.workable.com@evil.example/`) or
    /// backslashes are refused: parsers disagree on where their host is.
    fn of(url: &str) -> Option<Origin> {
        let (scheme, rest) = url.trim().split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "https" => 443,
            "http" => 80,
            _ => return None,
        };
        let authority = rest.split(['/', '?', '#']).next()?;
        if authority.is_empty() || authority.contains(['@', '\\']) {
            return None;
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']')?;
            (format!("[{host}]"), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host.to_string(), Some(port)),
                None => (authority.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => p.parse().ok()?,
            None => default_port,
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        (!host.is_empty()).then_some(Origin { scheme, host, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workable(base: &str) -> Workable {
        Workable::from_config(&Config::from(vec![
            Setting::text("subdomain", "acme"),
            Setting::secret("api-token"),
            Setting::text("base-url", base),
        ]))
        .unwrap()
    }

    #[test]
    fn base_url_defaults_to_the_subdomain() {
        let w = Workable::from_config(&Config::from(vec![
            Setting::text("subdomain", "acme"),
            Setting::secret("api-token"),
        ]))
        .unwrap();
        assert_eq!(w.base, "https://acme.workable.com/spi/v3");
        assert_eq!(default_base_url(" https://Acme.workable.com/ ").unwrap(), w.base);
        assert_eq!(default_base_url("acme.workable.com").unwrap(), w.base);
        for bad in ["", "acme.example.com", "-x", "a/b", "acme.workable.com/x"] {
            assert_eq!(default_base_url(bad).unwrap_err().kind(), "invalid-config", "{bad}");
        }
    }

    #[test]
    fn base_url_setting_wins_and_must_be_http() {
        assert_eq!(workable("http://127.0.0.1:9000/spi/v3/").base, "http://127.0.0.1:9000/spi/v3");
        let err = Workable::from_config(&Config::from(vec![
            Setting::text("subdomain", "acme"),
            Setting::secret("api-token"),
            Setting::text("base-url", "ftp://x"),
        ]))
        .unwrap_err();
        assert_eq!(err.kind(), "invalid-config");
        let err = Workable::from_config(&Config::from(vec![Setting::text("subdomain", "acme")])).unwrap_err();
        assert!(err.message().contains("api-token"), "{err:?}");
    }

    #[test]
    fn first_jobs_url_asks_for_descriptions_and_changes() {
        let w = workable("https://acme.workable.com/spi/v3");
        assert_eq!(
            w.first_jobs_url(None).unwrap(),
            "https://acme.workable.com/spi/v3/jobs?limit=9&include_fields=description%2Cfull_description"
        );
        assert!(w.first_jobs_url(Some("2026-05-01T10:00:00Z")).unwrap().ends_with("&updated_after=20260501T100000Z"));
    }

    #[test]
    fn next_page_urls_must_stay_on_the_base_origin() {
        let w = workable("https://acme.workable.com/spi/v3");
        for ok in [
            "https://acme.workable.com/spi/v3/jobs?since_id=1",
            "HTTPS://ACME.workable.com:443/spi/v3/jobs",
            "https://acme.workable.com./spi/v3/jobs",
        ] {
            assert!(w.check_origin(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://evil.example/spi/v3/jobs",
            "http://acme.workable.com/spi/v3/jobs",
            "https://acme.workable.com:8443/spi/v3/jobs",
            "https://other.workable.com/spi/v3/jobs",
            "https://acme.workable.com@evil.example/jobs",
            "https://acme.workable.com\\@evil.example/jobs",
            "/spi/v3/jobs?since_id=1",
            "",
        ] {
            let err = w.check_origin(bad).unwrap_err();
            assert_eq!(err.kind(), "permanent", "{bad}");
        }
        let local = workable("http://127.0.0.1:4010/spi/v3");
        assert!(local.check_origin("http://127.0.0.1:4010/spi/v3/jobs?since_id=2").is_ok());
        assert!(local.check_origin("http://127.0.0.1:4011/spi/v3/jobs").is_err());
    }

    #[test]
    fn origins() {
        let o = Origin::of("http://[::1]:8080/x").unwrap();
        assert_eq!((o.host.as_str(), o.port), ("[::1]", 8080));
        assert_eq!(Origin::of("https://a.example").unwrap().port, 443);
        assert!(Origin::of("https://a.example:x/").is_none());
        assert!(Origin::of("mailto:a@b").is_none());
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(path_segment("GROOV003"), "GROOV003");
        assert_eq!(path_segment("a/b?c"), "a%2Fb%3Fc");
    }

    fn response(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: br#"{"error": "Too Many Requests"}"#.to_vec(),
        }
    }

    fn retry_after_ms(error: ConnectorError) -> Option<u64> {
        match error {
            ConnectorError::RateLimited(limit) => limit.retry_after_ms,
            other => panic!("expected rate-limited, got {other:?}"),
        }
    }

    #[test]
    fn a_429_waits_for_retry_after_or_the_rate_limit_reset() {
        let reset = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() + 5;
        let reset = reset.to_string();
        let both = success(response(429, &[("Retry-After", "7"), ("X-Rate-Limit-Reset", &reset)]));
        assert_eq!(retry_after_ms(both.unwrap_err()), Some(7_000));
        let wait = retry_after_ms(success(response(429, &[("X-Rate-Limit-Reset", &reset)])).unwrap_err()).unwrap();
        assert!((4_000..=6_000).contains(&wait), "{wait}");
        assert_eq!(retry_after_ms(success(response(429, &[])).unwrap_err()), None);
        assert_eq!(success(response(200, &[])).unwrap().status, 200);
        assert_eq!(success(response(404, &[])).unwrap_err().kind(), "not-found");
    }

    #[test]
    fn reset_waits() {
        let now = UNIX_EPOCH + std::time::Duration::from_millis(1_000_000_500);
        assert_eq!(reset_wait_ms(Some("1000003"), now), Some(2_500 + RESET_MARGIN_MS));
        assert_eq!(reset_wait_ms(Some(" 999999 "), now), Some(RESET_MARGIN_MS), "past");
        assert_eq!(reset_wait_ms(Some("soon"), now), None);
        assert_eq!(reset_wait_ms(None, now), None);
    }

    #[test]
    fn malformed_json_names_the_endpoint() {
        let response = Response { status: 200, headers: vec![], body: b"{\"jobs\": 5}".to_vec() };
        let err = decode::<api::JobsPage>(&response, "GET /jobs").unwrap_err();
        assert_eq!(err.kind(), "permanent");
        assert!(err.message().contains("`GET /jobs`"), "{}", err.message());
    }
}
