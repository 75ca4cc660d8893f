//! The candidate records: a person applying to a position, their résumé,
//! where they are in the account's stages, whether they reached the ATS,
//! and every stage move.
//!
//! Records are JSON (see `codec`): a field added later must be
//! `#[serde(default)]`, and enum variant names are part of the format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StoreError;

/// The largest résumé the store keeps, whatever a form or the API allows
/// (the form's own limit is configurable below it): bytes live in sled,
/// which holds a value in memory while writing it.
pub const MAX_RESUME_BYTES: usize = 25 << 20;
/// The longest candidate name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// The longest email address (RFC 5321's path limit).
pub const MAX_EMAIL_BYTES: usize = 254;
/// The longest phone number, in characters (with spaces and punctuation).
pub const MAX_PHONE_CHARS: usize = 50;
/// The most links one candidate may give (profile, portfolio, ...).
pub const MAX_LINKS: usize = 20;
/// The longest link, in bytes.
pub const MAX_LINK_BYTES: usize = 2048;
/// The most answers one candidate may give: a form has a few questions.
pub const MAX_ANSWERS: usize = 100;
/// The longest question id, in bytes.
pub const MAX_QUESTION_ID_BYTES: usize = 100;
/// The longest answer, in characters: a paragraph or a cover letter.
pub const MAX_ANSWER_CHARS: usize = 10_000;
/// The longest source label (`careers-page`, `referral`), in characters.
pub const MAX_SOURCE_CHARS: usize = 100;
/// The longest résumé file name kept, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 255;
/// The longest content type, in bytes.
pub const MAX_CONTENT_TYPE_BYTES: usize = 100;
/// The longest name a mover (user or key label, rule id) is kept with.
pub const MAX_ACTOR_CHARS: usize = 200;

/// A stored résumé's metadata; the bytes are in their own tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResumeMeta {
    /// The file name as uploaded, without any directory part.
    pub file_name: String,
    /// The content type, as checked by the caller.
    pub content_type: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
}

/// Whether a candidate reached the ATS. The push worker owns the
/// transitions after [`PushState::NotSent`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushState {
    /// Never sent.
    #[default]
    NotSent,
    /// A push is queued or running.
    Queued,
    /// The ATS has the candidate.
    Pushed {
        /// The ATS's candidate id.
        ats_candidate_id: String,
        /// The ATS's application id.
        application_id: String,
        /// When recorded, Unix seconds.
        at_unix: i64,
    },
    /// The last push failed.
    Failed {
        /// What the ATS or the host said.
        message: String,
        /// When, Unix seconds.
        at_unix: i64,
        /// Whether trying again may succeed.
        retryable: bool,
    },
}

/// A person applying to a position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// Store-assigned id.
    pub id: u64,
    /// The account the position belongs to.
    pub account_id: String,
    /// The position applied to.
    pub position_id: u64,
    /// The connection the position came from (where a push goes).
    pub connection_id: String,
    /// Full name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Links (profile, portfolio).
    #[serde(default)]
    pub links: Vec<String>,
    /// The résumé, if one was given.
    #[serde(default)]
    pub resume: Option<ResumeMeta>,
    /// Answers by question id.
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
    /// Where the candidate came from (`api`, `careers-page`, ...).
    #[serde(default)]
    pub source: Option<String>,
    /// The account's stage the candidate is in.
    pub stage_id: String,
    /// Creation time, Unix seconds.
    pub created_at_unix: i64,
    /// Last change, Unix seconds.
    pub updated_at_unix: i64,
    /// Whether the candidate reached the ATS.
    #[serde(default)]
    pub push: PushState,
    /// Stage moves recorded (the creation counts as the first); the next
    /// move's number.
    #[serde(default)]
    pub moves: u64,
    /// The pushes that ended, with their cost, newest last (`push_record`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pushes: Vec<super::push_record::PushRecord>,
}

/// Who or what moved a candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MovedBy {
    /// A person or client through the API: the operator, or an API key's
    /// label.
    User {
        /// The name or key label.
        name: String,
    },
    /// An automatic rule.
    Rule {
        /// The rule's id.
        rule_id: String,
    },
    /// Reconciliation with the ATS.
    Ats,
    /// The public application form.
    Form,
}

/// Whether a move reached the ATS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Propagation {
    /// Nothing to propagate (not in the ATS, or the move came from it).
    #[default]
    NotApplicable,
    /// Queued for the ATS.
    Pending,
    /// The ATS moved the application too.
    Propagated {
        /// When, Unix seconds.
        at_unix: i64,
    },
    /// The ATS could not be told.
    NotPropagated {
        /// Why (the connector cannot move applications, the ATS refused...).
        reason: String,
    },
}

/// One recorded stage move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageMove {
    /// The candidate moved.
    pub candidate_id: u64,
    /// The move's number for the candidate, from 0 (the creation).
    pub seq: u64,
    /// When, Unix seconds.
    pub at_unix: i64,
    /// The stage before; `None` for the creation.
    pub from: Option<String>,
    /// The stage after.
    pub to: String,
    /// Who or what moved it.
    pub by: MovedBy,
    /// Whether the ATS followed.
    #[serde(default)]
    pub propagation: Propagation,
    /// What telling the ATS took (attempts, and what they cost), once the
    /// outbox finished with it; `None` for a move nothing was sent for
    /// (`push_record`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<super::push_record::PropagationCost>,
}

/// A résumé as uploaded.
#[derive(Clone, PartialEq, Eq)]
pub struct NewResume {
    /// The file name given (a directory part is dropped).
    pub file_name: String,
    /// The content type, checked by the caller against the bytes.
    pub content_type: String,
    /// The file.
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for NewResume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewResume")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

/// What [`Store::create_candidate`](super::Store::create_candidate) needs.
#[derive(Debug, Clone)]
pub struct NewCandidate {
    /// The position applied to; must exist.
    pub position_id: u64,
    /// Full name.
    pub name: String,
    /// Email address.
    pub email: String,
    /// Phone number.
    pub phone: Option<String>,
    /// Links (http or https).
    pub links: Vec<String>,
    /// The résumé.
    pub resume: Option<NewResume>,
    /// Answers by question id.
    pub answers: BTreeMap<String, String>,
    /// Where the candidate came from.
    pub source: Option<String>,
    /// The stage to start in; `None`: the account's first stage.
    pub stage_id: Option<String>,
    /// Who creates the candidate (recorded as the first move).
    pub by: MovedBy,
}

fn invalid(reason: impl Into<String>) -> StoreError {
    StoreError::InvalidCandidate { reason: reason.into() }
}

/// Checks a one-line text field: trimmed, bounded, no control characters.
fn line(field: &str, value: &str, max_chars: usize) -> Result<String, StoreError> {
    let value = value.trim();
    if value.chars().count() > max_chars {
        return Err(invalid(format!("{field} is longer than {max_chars} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(format!("{field} contains control characters")));
    }
    Ok(value.to_string())
}

/// Checks an email address's shape (one `@`, a dot in the domain, no
/// spaces); whether it exists is not this store's business.
fn email(value: &str) -> Result<String, StoreError> {
    let value = line("email", value, MAX_EMAIL_BYTES)?;
    let shape_ok = value.len() <= MAX_EMAIL_BYTES
        && !value.contains(char::is_whitespace)
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.contains('@') && domain.contains('.') && !domain.ends_with('.')
        });
    if !shape_ok {
        return Err(invalid("email is not an email address"));
    }
    Ok(value)
}

/// The last component of an uploaded file name: a client's path (`C:\..`,
/// `../../etc`) is never kept.
fn file_name(value: &str) -> Result<String, StoreError> {
    let base = value.rsplit(['/', '\\']).next().unwrap_or_default();
    let base = line("resume file name", base, MAX_FILE_NAME_CHARS)?;
    if base.is_empty() || base == "." || base == ".." {
        return Err(invalid("the resume has no file name"));
    }
    Ok(base)
}

/// Checks who moved a candidate.
pub(crate) fn check_mover(by: &MovedBy) -> Result<(), StoreError> {
    match by {
        MovedBy::User { name: s } | MovedBy::Rule { rule_id: s } => {
            line("the mover's name", s, MAX_ACTOR_CHARS)?;
        }
        MovedBy::Ats | MovedBy::Form => {}
    }
    Ok(())
}

impl NewCandidate {
    /// Checks and normalises every field; what the store will keep.
    /// Returns the candidate (id 0, stage and position fields empty) and
    /// the résumé bytes.
    pub(crate) fn check(&self) -> Result<(Candidate, Option<Vec<u8>>), StoreError> {
        let name = line("name", &self.name, MAX_NAME_CHARS)?;
        if name.is_empty() {
            return Err(invalid("name is empty"));
        }
        let email = email(&self.email)?;
        let phone =
            self.phone.as_deref().map(|p| line("phone", p, MAX_PHONE_CHARS)).transpose()?.filter(|p| !p.is_empty());
        if self.links.len() > MAX_LINKS {
            return Err(invalid(format!("more than {MAX_LINKS} links")));
        }
        let mut links = Vec::with_capacity(self.links.len());
        for link in &self.links {
            let link = line("a link", link, MAX_LINK_BYTES)?;
            let parsed = url::Url::parse(&link).map_err(|_| invalid("a link is not a URL"))?;
            if !matches!(parsed.scheme(), "http" | "https") || link.len() > MAX_LINK_BYTES {
                return Err(invalid("a link must be an http or https URL"));
            }
            links.push(link);
        }
        if self.answers.len() > MAX_ANSWERS {
            return Err(invalid(format!("more than {MAX_ANSWERS} answers")));
        }
        for (question, answer) in &self.answers {
            if question.is_empty() || question.len() > MAX_QUESTION_ID_BYTES || question.chars().any(char::is_control) {
                return Err(invalid(format!("a question id is 1 to {MAX_QUESTION_ID_BYTES} bytes of text")));
            }
            if answer.chars().count() > MAX_ANSWER_CHARS {
                return Err(invalid(format!("an answer is longer than {MAX_ANSWER_CHARS} characters")));
            }
            if answer.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
                return Err(invalid("an answer contains control characters"));
            }
        }
        let source =
            self.source.as_deref().map(|s| line("source", s, MAX_SOURCE_CHARS)).transpose()?.filter(|s| !s.is_empty());
        check_mover(&self.by)?;
        let (resume, bytes) = match &self.resume {
            None => (None, None),
            Some(r) => {
                if r.bytes.is_empty() {
                    return Err(invalid("the resume is empty"));
                }
                if r.bytes.len() > MAX_RESUME_BYTES {
                    return Err(invalid(format!("the resume is larger than {MAX_RESUME_BYTES} bytes")));
                }
                let content_type = line("resume content type", &r.content_type, MAX_CONTENT_TYPE_BYTES)?;
                if content_type.is_empty() || content_type.len() > MAX_CONTENT_TYPE_BYTES {
                    return Err(invalid("the resume has no content type"));
                }
                let meta = ResumeMeta {
                    file_name: file_name(&r.file_name)?,
                    content_type,
                    size: r.bytes.len() as u64,
                    sha256: hex::encode(Sha256::digest(&r.bytes)),
                };
                (Some(meta), Some(r.bytes.clone()))
            }
        };
        let candidate = Candidate {
            id: 0,
            account_id: String::new(),
            position_id: self.position_id,
            connection_id: String::new(),
            name,
            email,
            phone,
            links,
            resume,
            answers: self.answers.clone(),
            source,
            stage_id: String::new(),
            created_at_unix: 0,
            updated_at_unix: 0,
            push: PushState::NotSent,
            moves: 0,
            pushes: Vec::new(),
        };
        Ok((candidate, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_candidate(position_id: u64) -> NewCandidate {
        NewCandidate {
            position_id,
            name: " Ada Lovelace ".into(),
            email: "ada@example.com".into(),
            phone: Some("+44 20 7946 0000".into()),
            links: vec!["https://ada.example.com/".into()],
            resume: Some(NewResume {
                file_name: "C:\\Users\\ada\\cv.pdf".into(),
                content_type: "application/pdf".into(),
                bytes: b"%PDF-1.7 ...".to_vec(),
            }),
            answers: BTreeMap::from([("why".to_string(), "Engines.\nAnalytical ones.".to_string())]),
            source: Some("api".into()),
            stage_id: None,
            by: MovedBy::User { name: "platform".into() },
        }
    }

    #[test]
    fn fields_are_normalised_and_the_resume_hashed() {
        let (c, bytes) = new_candidate(1).check().unwrap();
        assert_eq!(c.name, "Ada Lovelace");
        let resume = c.resume.unwrap();
        assert_eq!(resume.file_name, "cv.pdf");
        assert_eq!(resume.size, 12);
        assert_eq!(resume.sha256, hex::encode(Sha256::digest(b"%PDF-1.7 ...")));
        assert_eq!(bytes.unwrap(), b"%PDF-1.7 ...");
    }

    #[test]
    fn hostile_fields_are_refused() {
        type Change = Box<dyn Fn(&mut NewCandidate)>;
        let cases: Vec<(&str, Change)> = vec![
            ("empty name", Box::new(|c| c.name = "  ".into())),
            ("long name", Box::new(|c| c.name = "x".repeat(MAX_NAME_CHARS + 1))),
            ("control in name", Box::new(|c| c.name = "Ada\u{1b}[31m".into())),
            ("bad email", Box::new(|c| c.email = "ada at example".into())),
            ("two @", Box::new(|c| c.email = "a@b@example.com".into())),
            ("header injection", Box::new(|c| c.email = "ada@example.com\r\nBcc: x@y.z".into())),
            ("javascript link", Box::new(|c| c.links = vec!["javascript:alert(1)".into()])),
            ("too many links", Box::new(|c| c.links = vec!["https://a.example/".into(); MAX_LINKS + 1])),
            ("long answer", Box::new(|c| c.answers = BTreeMap::from([("q".into(), "x".repeat(MAX_ANSWER_CHARS + 1))]))),
            ("empty question", Box::new(|c| c.answers = BTreeMap::from([(String::new(), "x".into())]))),
            ("control in answer", Box::new(|c| c.answers = BTreeMap::from([("q".into(), "a\u{0}b".into())]))),
            ("dot-dot file", Box::new(|c| c.resume.as_mut().unwrap().file_name = "../..".into())),
            ("empty resume", Box::new(|c| c.resume.as_mut().unwrap().bytes.clear())),
            ("huge resume", Box::new(|c| c.resume.as_mut().unwrap().bytes = vec![0; MAX_RESUME_BYTES + 1])),
            ("long mover", Box::new(|c| c.by = MovedBy::User { name: "x".repeat(MAX_ACTOR_CHARS + 1) })),
        ];
        for (what, change) in cases {
            let mut c = new_candidate(1);
            change(&mut c);
            let err = c.check().unwrap_err();
            assert!(matches!(err, StoreError::InvalidCandidate { .. }), "{what}: {err}");
        }
    }
}
