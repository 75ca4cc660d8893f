//! `multipart/form-data` bodies (RFC 7578), the only way many ATS APIs take
//! a file: Lever's `resumeFile`, BambooHR's `resume`, SmartRecruiters'
//! attachments.
//!
//! ```
//! use atsbridge_sdk::http::Request;
//! use atsbridge_sdk::multipart::Part;
//!
//! let request = Request::post("https://ats.example/apply").multipart(&[
//!     Part::text("firstName", "Ada"),
//!     Part::file("resume", "cv.pdf", "application/pdf", b"%PDF".to_vec()),
//! ]);
//! assert!(request.header_value("content-type").unwrap().starts_with("multipart/form-data; boundary="));
//! ```

/// One part: a text field, or a file with its name and content type.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// A text field.
    Text {
        /// Field name.
        name: String,
        /// Field value.
        value: String,
    },
    /// A file.
    File {
        /// Field name.
        name: String,
        /// The file name sent in `Content-Disposition`.
        file_name: String,
        /// The part's `Content-Type`.
        content_type: String,
        /// The file's bytes.
        content: Vec<u8>,
    },
}

impl Part {
    /// A text field.
    pub fn text(name: impl Into<String>, value: impl Into<String>) -> Self {
        Part::Text { name: name.into(), value: value.into() }
    }

    /// A file field.
    pub fn file(
        name: impl Into<String>,
        file_name: impl Into<String>,
        content_type: impl Into<String>,
        content: Vec<u8>,
    ) -> Self {
        Part::File { name: name.into(), file_name: file_name.into(), content_type: content_type.into(), content }
    }

    fn content(&self) -> &[u8] {
        match self {
            Part::Text { value, .. } => value.as_bytes(),
            Part::File { content, .. } => content,
        }
    }
}

/// Encodes `parts` and returns the body with its `content-type` header
/// value. The boundary is chosen so that it occurs in no part.
pub fn encode(parts: &[Part]) -> (Vec<u8>, String) {
    let boundary = (0u32..)
        .map(|n| format!("atsbridge-form-boundary-{n:08x}"))
        .find(|b| !parts.iter().any(|p| contains(p.content(), b.as_bytes())))
        .expect("some boundary is free");
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match part {
            Part::Text { name, value } => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{}\"\r\n\r\n", quoted(name)).as_bytes(),
                );
                body.extend_from_slice(value.as_bytes());
            }
            Part::File { name, file_name, content_type, content } => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
                        quoted(name),
                        quoted(file_name),
                        header_safe(content_type),
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(content);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

/// A name inside double quotes: quotes and line breaks percent-encoded, as
/// browsers do (WHATWG HTML, "multipart/form-data encoding algorithm").
fn quoted(name: &str) -> String {
    name.replace('"', "%22").replace('\r', "%0D").replace('\n', "%0A")
}

/// A header value without line breaks (a content type from elsewhere).
fn header_safe(value: &str) -> String {
    let cleaned: String = value.chars().filter(|c| !c.is_control()).collect();
    if cleaned.trim().is_empty() { "application/octet-stream".to_string() } else { cleaned }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_fields_and_files() {
        let (body, content_type) = encode(&[
            Part::Text { name: "emails[]".into(), value: "ada@example.com".into() },
            Part::File {
                name: "resumeFile".into(),
                file_name: "c\"v.pdf".into(),
                content_type: "application/pdf\r\nX-Evil: 1".into(),
                content: b"%PDF".to_vec(),
            },
        ]);
        assert_eq!(content_type, "multipart/form-data; boundary=atsbridge-form-boundary-00000000");
        let b = "--atsbridge-form-boundary-00000000";
        assert_eq!(
            String::from_utf8(body).unwrap(),
            format!(
                "{b}\r\nContent-Disposition: form-data; name=\"emails[]\"\r\n\r\nada@example.com\r\n\
                 {b}\r\nContent-Disposition: form-data; name=\"resumeFile\"; filename=\"c%22v.pdf\"\r\n\
                 Content-Type: application/pdfX-Evil: 1\r\n\r\n%PDF\r\n{b}--\r\n"
            )
        );
    }

    #[test]
    fn the_boundary_avoids_the_content() {
        let sneaky = b"--atsbridge-form-boundary-00000000\r\n".to_vec();
        let (_, content_type) = encode(&[Part::File {
            name: "f".into(),
            file_name: "f".into(),
            content_type: String::new(),
            content: sneaky,
        }]);
        assert!(content_type.ends_with("boundary=atsbridge-form-boundary-00000001"));
    }
}
