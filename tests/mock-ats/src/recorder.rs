//! What reached the mock: every request line, and every candidate pushed.

use crate::Vendor;

/// One request as the mock received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query exactly as sent (`/v3/jobs?per_page=500`).
    pub path: String,
    /// The status answered; `None` while in flight or when the connection
    /// was dropped by [`crate::Fault::DropConnection`].
    pub status: Option<u16>,
    /// Request body bytes, as the request's `Content-Length` announced them
    /// (0 without one).
    pub request_bytes: u64,
    /// Response body bytes answered; `None` while in flight, when the
    /// connection was dropped, or for a body whose length is not known
    /// before it is sent.
    pub response_bytes: Option<u64>,
}

/// A file that came with a candidate (resume, cover letter, ...), decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedFile {
    /// The vendor's file kind: `resume`, `cover_letter`, ... (Greenhouse
    /// attachment `type`; `resume` for Lever's `resumeFile`, Workable's
    /// `resume` and Ashby's `candidate.uploadResume`).
    pub kind: String,
    /// File name as sent.
    pub file_name: String,
    /// Content type as sent (Workable's inline resume has none).
    pub content_type: Option<String>,
    /// The decoded bytes (base64 already undone).
    pub bytes: Vec<u8>,
}

/// A candidate or application created through the API, exactly as received.
///
/// One record per person-and-job push: Greenhouse `POST /candidates`
/// (one record per application in it), `POST /candidates/{id}/applications`
/// and `POST /v3/applications`,
/// Lever `POST /opportunities`, Workable `POST /jobs/{shortcode}/candidates`.
/// Ashby needs several calls for one push: `candidate.create` makes the
/// record (with `job_id: None`), the first `application.create` for that
/// candidate fills in job, application and stage (later ones add records),
/// and `candidate.uploadResume` adds the resume. `raw_bodies` keeps every
/// request body that contributed, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushedCandidate {
    /// Which mock received it.
    pub vendor: Vendor,
    /// The creating call, e.g. `POST /v3/candidates`.
    pub endpoint: String,
    /// The candidate (Lever: opportunity) id the mock assigned.
    pub candidate_id: String,
    /// The application id, where the vendor has one (Lever: the opportunity's application).
    pub application_id: Option<String>,
    /// The job (Greenhouse id, Lever posting id, Workable shortcode, Ashby job id).
    pub job_id: Option<String>,
    /// Given name, when sent separately.
    pub first_name: Option<String>,
    /// Family name, when sent separately.
    pub last_name: Option<String>,
    /// Full name as stored.
    pub name: String,
    /// E-mail addresses as sent.
    pub emails: Vec<String>,
    /// Initial stage id (or Workable slug) the candidate landed in.
    pub stage_id: Option<String>,
    /// Files sent with the candidate.
    pub files: Vec<PushedFile>,
    /// True when the vendor linked the push to a person it already had
    /// (Lever e-mail dedupe; Greenhouse `POST /candidates/{id}/applications`
    /// and `POST /v3/applications`;
    /// Ashby `application.create` for a candidate created earlier by a
    /// different push).
    pub existing_person: bool,
    /// Notes added to the candidate after the create, as sent (Lever
    /// `POST /opportunities/{id}/notes` `value`).
    pub notes: Vec<String>,
    /// The request bodies, byte for byte (later calls that add to the
    /// record, such as notes and resume uploads, append theirs).
    pub raw_bodies: Vec<Vec<u8>>,
}

impl PushedCandidate {
    /// The first file of kind `resume`.
    pub fn resume(&self) -> Option<&PushedFile> {
        self.files.iter().find(|f| f.kind == "resume")
    }

    /// The first raw body parsed as JSON (`None` for multipart bodies).
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(self.raw_bodies.first()?).ok()
    }
}
