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
