//! Lever's Data API v1 over the host's HTTP import: authentication,
//! pagination, error bodies, and one function per endpoint.
//!
//! | endpoint | used by |
//! |---|---|
//! | `GET /postings?limit=100&include=content&include=followers&expand=owner&expand=hiringManager&expand=followers&confidentiality=all[&updated_at_start=ms][&offset=…]` | `list-jobs` (`limit=1`: `check`) |
//! | `GET /users?includeDeactivated=true&limit=100[&offset=…]` | `list-jobs`, to name people Lever did not expand |
//! | `GET /stages?limit=100[&offset=…]` | `list-stages`, `candidate-statuses` (stage names) |
//! | `GET /archive_reasons?limit=100[&offset=…]` | `candidate-statuses` (which reason means hired) |
//! | `GET /opportunities?email=…&expand=applications&limit=100[&offset=…]` | `push-candidate` (dedupe) |
//! | `POST /opportunities?perform_as=…` (JSON, or multipart with `resumeFile`) | `push-candidate` |
//! | `POST /opportunities/{id}/notes?perform_as=…` | `push-candidate` (answers) |
//! | `GET /opportunities/{id}?expand=stage` | `candidate-statuses` |
//! | `PUT /opportunities/{id}/stage?perform_as=…` | `move-application` |
//!
//! Every request uses HTTP Basic with the `api-key` secret as the user name
//! and an empty password. Lists answer `{"data", "hasNext", "next"}`; the
//! next page repeats the filters and passes `next` as `offset`.

use atsbridge_sdk::prelude::*;
use serde::de::DeserializeOwned;

use atsbridge_sdk::multipart;

use crate::api;

/// Lever's Data API.
pub const DEFAULT_BASE_URL: &str = "https://api.lever.co/v1";

/// Lever's largest page.
const LIMIT: &str = "100";
/// Pages one call follows through a secondary listing (users, stages,
/// archive reasons, a person's opportunities). Each call runs under the
/// host's time limit; 20 pages are 2,000 records.
const MAX_PAGES_PER_CALL: usize = 20;

/// An authenticated Lever client for one connection.
pub struct Lever {
    base: String,
    api_key: SecretRef,
    perform_as: Option<String>,
}

impl Lever {
    /// Reads the connection's settings (see the crate docs).
    pub fn new(config: &Config) -> Result<Self, ConnectorError> {
        Ok(Lever {
            base: config.base_url("base-url", DEFAULT_BASE_URL).to_string(),
            api_key: config.secret("api-key")?,
            perform_as: config.text("perform-as").map(|p| p.trim().to_string()),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn get(&self, path: &str) -> Request {
        Request::get(self.url(path)).basic(&self.api_key, None)
    }

    /// A write, performed as the `perform-as` user (required for writes).
    fn post(&self, path: &str) -> Result<Request, ConnectorError> {
        let user = self.perform_as.as_deref().ok_or_else(|| {
            ConnectorError::InvalidConfig("setting `perform-as` is required to create candidates in Lever".to_string())
        })?;
        Ok(Request::post(self.url(path)).basic(&self.api_key, None).query(&[("perform_as", user)]))
    }

    /// One page of postings, every state and confidentiality, with content
    /// and people. `offset` is the `next` token of the page before.
    pub fn postings_page(
        &self,
        offset: Option<&str>,
        changed_since: Option<&str>,
    ) -> Result<api::Page<api::Posting>, ConnectorError> {
        let start = changed_since.map(atsbridge_sdk::time::rfc3339_to_epoch_ms).transpose()?.map(|ms| ms.to_string());
        let request = self
            .get("/postings")
            .query(&[
                ("limit", LIMIT),
                ("include", "content"),
                ("include", "followers"),
                ("expand", "owner"),
                ("expand", "hiringManager"),
                ("expand", "followers"),
                ("confidentiality", "all"),
            ])
            .query_opt("updated_at_start", start.as_deref())
            .query_opt("offset", offset);
        decode(&self.send(request)?, "the postings (GET /postings)")
    }

    /// Checks the key and its postings permission with the smallest listing.
    pub fn check(&self) -> Result<(), ConnectorError> {
        let request = self.get("/postings").query(&[("limit", "1")]);
        decode::<api::Page<api::Posting>>(&self.send(request)?, "the postings (GET /postings)")?;
        Ok(())
    }

    /// Every user, deactivated ones too (they may still own postings).
    pub fn users(&self) -> Result<Vec<api::User>, ConnectorError> {
        self.all_pages(self.get("/users").query(&[("includeDeactivated", "true")]), "the users (GET /users)")
    }

    /// The account's pipeline.
    pub fn stages(&self) -> Result<Vec<api::Stage>, ConnectorError> {
        self.all_pages(self.get("/stages"), "the stages (GET /stages)")
    }

    /// The reasons an opportunity can be archived for.
    pub fn archive_reasons(&self) -> Result<Vec<api::ArchiveReason>, ConnectorError> {
        self.all_pages(self.get("/archive_reasons"), "the archive reasons (GET /archive_reasons)")
    }

    /// The opportunities of the person with this e-mail address, with
    /// their applications (and so their postings).
    pub fn opportunities_by_email(&self, email: &str) -> Result<Vec<api::Opportunity>, ConnectorError> {
        let first = self.get("/opportunities").query(&[("email", email), ("expand", "applications")]);
        self.all_pages(first, "the opportunities with the e-mail address (GET /opportunities)")
    }

    /// Creates the opportunity: JSON, or multipart when there is a resume
    /// to upload (Lever takes files only as `multipart/form-data`).
    pub fn create_opportunity(
        &self,
        body: &api::NewOpportunity,
        resume: Option<&Attachment>,
    ) -> Result<api::Opportunity, ConnectorError> {
        let request = self.post("/opportunities")?;
        let request = match resume {
            None => request.json(body),
            Some(file) => {
                let mut parts: Vec<multipart::Part> = crate::map::form_fields(body)
                    .into_iter()
                    .map(|(name, value)| multipart::Part::Text { name, value })
                    .collect();
                parts.push(multipart::Part::File {
                    name: "resumeFile".into(),
                    file_name: file.file_name.clone(),
                    content_type: file.content_type.clone(),
                    content: file.content.clone(),
                });
                let (bytes, content_type) = multipart::encode(&parts);
                request.body(bytes, &content_type)
            }
        };
        let created: api::Single<api::Opportunity> =
            decode(&self.send(request)?, "the created opportunity (POST /opportunities)")?;
        Ok(created.data)
    }

    /// Adds a note to an opportunity.
    pub fn add_note(&self, opportunity_id: &str, note: &api::NewNote) -> Result<(), ConnectorError> {
        let request = self.post(&format!("/opportunities/{opportunity_id}/notes"))?.json(note);
        self.send(request)?;
        Ok(())
    }

    /// Moves an opportunity to `stage_id` (Lever's stages are global).
    pub fn change_stage(&self, opportunity_id: &str, stage_id: &str) -> Result<(), ConnectorError> {
        let user = self.perform_as.as_deref().ok_or_else(|| {
            ConnectorError::InvalidConfig("setting `perform-as` is required to move candidates in Lever".to_string())
        })?;
        let path = format!("/opportunities/{}/stage", http::path_segment(opportunity_id));
        let request = Request::put(self.url(&path))
            .basic(&self.api_key, None)
            .query(&[("perform_as", user)])
            .json(&api::StageChange { stage: stage_id.to_string() });
        self.send(request)?;
        Ok(())
    }

    /// One opportunity with its stage expanded; `None` when Lever has none
    /// with this id.
    pub fn opportunity(&self, id: &str) -> Result<Option<api::Opportunity>, ConnectorError> {
        let request = self.get(&format!("/opportunities/{id}")).query(&[("expand", "stage")]);
        match self.send(request) {
            Ok(response) => {
                let single: api::Single<api::Opportunity> =
                    decode(&response, "the opportunity (GET /opportunities/{id})")?;
                Ok(Some(single.data))
            }
            Err(ConnectorError::NotFound(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Sends `request`; a non-2xx answer becomes the SDK's error for the
    /// status, worded with Lever's own message.
    fn send(&self, request: Request) -> Result<Response, ConnectorError> {
        let response = request.send()?;
        match response.status_error() {
            None => Ok(response),
            Some(error) => Err(vendor_error(error, &response)),
        }
    }

    /// Every page of a list, at most [`MAX_PAGES_PER_CALL`].
    fn all_pages<T: DeserializeOwned>(&self, first: Request, what: &str) -> Result<Vec<T>, ConnectorError> {
        let first = first.query(&[("limit", LIMIT)]);
        let mut all = Vec::new();
        let mut offset: Option<String> = None;
        for _ in 0..MAX_PAGES_PER_CALL {
            let request = first.clone().query_opt("offset", offset.as_deref());
            let page: api::Page<T> = decode(&self.send(request)?, what)?;
            all.extend(page.data);
            match page.next.filter(|n| page.has_next && !n.is_empty()) {
                Some(next) => offset = Some(next),
                None => return Ok(all),
            }
        }
        log::warn(format!("stopped reading {what} after {MAX_PAGES_PER_CALL} pages"));
        Ok(all)
    }
}

/// Decodes a Lever answer; a body that does not decode is a permanent
/// error naming what was being read.
pub fn decode<T: DeserializeOwned>(response: &Response, what: &str) -> Result<T, ConnectorError> {
    response
        .json()
        .map_err(|e| ConnectorError::Permanent(format!("Lever sent malformed JSON for {what}: {}", e.message())))
}

/// `error` (the SDK's mapping of the status) with its message replaced by
/// Lever's own words when the body is a Lever error.
pub fn vendor_error(error: ConnectorError, response: &Response) -> ConnectorError {
    let Ok(body) = serde_json::from_slice::<api::ErrorBody>(&response.body) else {
        return error;
    };
    let Some(message) = body.message.filter(|m| !m.is_empty()) else {
        return error;
    };
    let text = match body.code.filter(|c| !c.is_empty()) {
        Some(code) => format!("Lever answered HTTP {} {code}: {message}", response.status),
        None => format!("Lever answered HTTP {}: {message}", response.status),
    };
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
    fn errors_quote_lever_and_keep_their_kind() {
        let r = response(400, &[], r#"{"code": "BadRequestError", "message": "Posting p1 not found"}"#);
        assert_eq!(
            error_of(&r),
            ConnectorError::Permanent("Lever answered HTTP 400 BadRequestError: Posting p1 not found".into())
        );
        let r = response(401, &[], r#"{"code": "UnauthorizedError", "message": "Invalid API key"}"#);
        assert_eq!(error_of(&r).kind(), "unauthorized");
        let r = response(429, &[("retry-after", "2")], r#"{"code": "TooManyRequests", "message": "slow down"}"#);
        assert!(matches!(error_of(&r), ConnectorError::RateLimited(l) if l.retry_after_ms == Some(2000)));
        let r = response(503, &[], "<html>503</html>");
        assert_eq!(error_of(&r).kind(), "transient");
        assert!(error_of(&r).message().contains("<html>503</html>"));
    }

    #[test]
    fn malformed_json_names_what_was_read() {
        let r = response(200, &[], r#"{"data": [{"id": "x""#);
        let e = decode::<api::Page<api::Posting>>(&r, "the postings (GET /postings)").unwrap_err();
        assert_eq!(e.kind(), "permanent");
        assert!(
            e.message().starts_with("Lever sent malformed JSON for the postings (GET /postings)"),
            "{}",
            e.message()
        );
    }

    #[test]
    fn writes_need_perform_as() {
        let config = Config::new(vec![Setting::secret("api-key"), Setting::text("base-url", "http://127.0.0.1:1/v1/")]);
        let lever = Lever::new(&config).unwrap();
        assert_eq!(lever.url("/postings"), "http://127.0.0.1:1/v1/postings");
        assert_eq!(lever.post("/opportunities").unwrap_err().kind(), "invalid-config");
        let config = Config::new(vec![Setting::secret("api-key"), Setting::text("perform-as", "u-1")]);
        let write = Lever::new(&config).unwrap().post("/opportunities").unwrap();
        assert_eq!(write.url(), "https://api.lever.co/v1/opportunities?perform_as=u-1");
    }
}
