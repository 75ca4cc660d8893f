//! A stored file sent as a download: the résumé route of the API and the
//! signed résumé links share it.
//!
//! The file was uploaded by an applicant, so nothing about it is trusted:
//! the content type is one of the résumé types the upload was sniffed as
//! (anything else goes out as `application/octet-stream`), the browser is
//! told not to sniff (`nosniff`) and to download rather than display
//! (`attachment`), and the file name is the applicant's text, so it is
//! reduced to what a quoted-string can carry (`filename`) and, for clients
//! that read it, percent-encoded UTF-8 (`filename*`, RFC 6266 / RFC 8187).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::service::candidates::RESUME_TYPES;

/// The longest file name sent, in characters: enough for any real résumé
/// name, bounded whatever the store holds.
const MAX_FILE_NAME_CHARS: usize = 100;

/// The name used when nothing printable is left of the applicant's.
const FALLBACK_FILE_NAME: &str = "resume";

/// What RFC 8187's `attr-char` allows unencoded, besides letters and digits.
const ATTR_CHAR: &AsciiSet =
    &NON_ALPHANUMERIC.remove(b'!').remove(b'#').remove(b'$').remove(b'&').remove(b'+').remove(b'-').remove(b'.');
const ATTR_CHAR_MORE: &AsciiSet = &ATTR_CHAR.remove(b'^').remove(b'_').remove(b'`').remove(b'|').remove(b'~');

/// `bytes` as a download named `file_name` of type `content_type`, not
/// cached (a résumé is personal data).
pub fn attachment(content_type: &str, file_name: &str, bytes: Vec<u8>) -> Response {
    let content_type = RESUME_TYPES
        .iter()
        .find(|(known, _)| *known == content_type)
        .map_or("application/octet-stream", |(known, _)| known);
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, content_disposition(file_name)),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        bytes,
    )
        .into_response()
}

/// `attachment; filename="..."; filename*=UTF-8''...` for an untrusted name.
pub fn content_disposition(file_name: &str) -> HeaderValue {
    let name: String = file_name
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .take(MAX_FILE_NAME_CHARS)
        .collect::<String>()
        .trim()
        .to_string();
    let name = if name.is_empty() { FALLBACK_FILE_NAME.to_string() } else { name };
    let ascii = ascii_file_name(&name);
    let encoded = utf8_percent_encode(&name, ATTR_CHAR_MORE);
    let value = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    // Only printable ASCII is left in `value`; the fallback is for safety.
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("attachment"))
}

/// The name for clients that read only `filename`: letters, digits, spaces
/// and a few harmless marks; anything else (quotes, backslashes, `;`, `=`,
/// `%`, non-ASCII) becomes `_`, so no parser, however naive, reads a second
/// parameter or an encoded character out of it.
fn ascii_file_name(name: &str) -> String {
    let cleaned: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || " ._-()+,@[]".contains(c) { c } else { '_' }).collect();
    if cleaned.trim_matches(|c| c == '_' || c == ' ').is_empty() { FALLBACK_FILE_NAME.to_string() } else { cleaned }
}

/// Characters that reorder displayed text (`cv\u{202e}fdp.exe` shows as
/// `cvexe.pdf`): dropped, so a name cannot pretend to another extension.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disposition(name: &str) -> String {
        content_disposition(name).to_str().unwrap().to_string()
    }

    #[test]
    fn plain_names_pass_and_both_forms_are_given() {
        assert_eq!(disposition("cv.pdf"), "attachment; filename=\"cv.pdf\"; filename*=UTF-8''cv.pdf");
        assert_eq!(
            disposition("Zoë Müller CV.pdf"),
            "attachment; filename=\"Zo_ M_ller CV.pdf\"; filename*=UTF-8''Zo%C3%AB%20M%C3%BCller%20CV.pdf"
        );
    }

    #[test]
    fn names_cannot_break_the_header_or_hide_their_extension() {
        let d = disposition("cv \"x\".pdf\r\nSet-Cookie: a=b; filename=evil.exe");
        assert!(!d.contains('\r') && !d.contains('\n'), "{d}");
        assert!(d.starts_with("attachment; filename=\"cv _x_.pdfSet-Cookie_ a_b_ filename_evil.exe\""), "{d}");
        assert_eq!((d.matches("filename=").count(), d.matches("filename*=").count()), (1, 1), "{d}");
        // The only quotes are the two around the ASCII name; `;` and `=` of
        // the name are percent-encoded in the extended form.
        assert_eq!(d.matches('"').count(), 2, "{d}");
        assert!(d.ends_with("Set-Cookie%3A%20a%3Db%3B%20filename%3Devil.exe"), "{d}");
        assert_eq!(disposition("\u{202e}fdp.exe"), "attachment; filename=\"fdp.exe\"; filename*=UTF-8''fdp.exe");
        assert_eq!(disposition(""), "attachment; filename=\"resume\"; filename*=UTF-8''resume");
        assert_eq!(disposition("\u{7}\u{0}"), "attachment; filename=\"resume\"; filename*=UTF-8''resume");
        assert!(disposition(&"a".repeat(10_000)).len() < 300);
        assert!(disposition("../../etc/passwd").contains("filename*=UTF-8''..%2F..%2Fetc%2Fpasswd"));
    }

    #[test]
    fn only_resume_types_are_sent_as_themselves() {
        let response = attachment("text/html", "x.html", b"<script>".to_vec());
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/octet-stream");
        assert_eq!(response.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let response = attachment("application/pdf", "x.pdf", b"%PDF-".to_vec());
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/pdf");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }
}
