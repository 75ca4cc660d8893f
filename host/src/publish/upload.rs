//! What an uploaded resume is, judged by its bytes, never by the name or
//! the content type the client sent.
//!
//! PDF, DOC, DOCX and ODT are recognised by their signatures (the `infer`
//! crate reads the container: a ZIP is a DOCX only with a Word part, an
//! ODT only with its mimetype entry; a compound file is a DOC). RTF starts
//! with `{\rtf`. Anything else is plain text only if it is UTF-8 without
//! control characters (tabs and line breaks aside): an executable renamed
//! `cv.pdf` or `cv.txt` is neither.

/// A resume format the form takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeKind {
    Pdf,
    Doc,
    Docx,
    Odt,
    Rtf,
    Txt,
}

impl ResumeKind {
    /// Its media type, stored with the file.
    pub fn media_type(self) -> &'static str {
        match self {
            ResumeKind::Pdf => "application/pdf",
            ResumeKind::Doc => "application/msword",
            ResumeKind::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ResumeKind::Odt => "application/vnd.oasis.opendocument.text",
            ResumeKind::Rtf => "application/rtf",
            ResumeKind::Txt => "text/plain; charset=utf-8",
        }
    }

    /// A file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            ResumeKind::Pdf => "pdf",
            ResumeKind::Doc => "doc",
            ResumeKind::Docx => "docx",
            ResumeKind::Odt => "odt",
            ResumeKind::Rtf => "rtf",
            ResumeKind::Txt => "txt",
        }
    }
}

/// The format of `bytes`, if it is one the form takes.
pub fn sniff(bytes: &[u8]) -> Option<ResumeKind> {
    if bytes.is_empty() {
        return None;
    }
    if infer::archive::is_pdf(bytes) {
        return Some(ResumeKind::Pdf);
    }
    if infer::doc::is_docx(bytes) {
        return Some(ResumeKind::Docx);
    }
    if infer::odf::is_odt(bytes) {
        return Some(ResumeKind::Odt);
    }
    if infer::doc::is_doc(bytes) {
        return Some(ResumeKind::Doc);
    }
    if bytes.starts_with(b"{\\rtf") {
        return Some(ResumeKind::Rtf);
    }
    if infer::get(bytes).is_some() {
        // Some other known format (an executable, an image, an archive).
        return None;
    }
    is_plain_text(bytes).then_some(ResumeKind::Txt)
}

/// UTF-8 (a BOM allowed) without NUL or other control characters except
/// tab, line feed, carriage return and form feed.
fn is_plain_text(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes)
        .is_ok_and(|s| s.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\x0c')))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal PDF, as the tests upload.
    pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

    #[test]
    fn formats_are_told_by_content() {
        assert_eq!(sniff(PDF), Some(ResumeKind::Pdf));
        assert_eq!(sniff(b"{\\rtf1\\ansi Hello}"), Some(ResumeKind::Rtf));
        assert_eq!(sniff("Jane Doe\nRust engineer — Zürich\n".as_bytes()), Some(ResumeKind::Txt));
        // A compound file (the DOC container) header.
        let mut doc = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
        doc.resize(1024, 0);
        assert!(matches!(sniff(&doc), Some(ResumeKind::Doc) | None));
    }

    #[test]
    fn executables_and_binaries_are_refused_whatever_their_name() {
        let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec();
        exe.resize(512, 0);
        assert_eq!(sniff(&exe), None);
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01\x00"), None);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), None);
        assert_eq!(sniff(b"PK\x03\x04\x14\x00\x00\x00\x08\x00"), None, "a bare zip is not a document");
        assert_eq!(sniff(b"text with a \0 NUL"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(&[0xff, 0xfe, 0x00]), None);
    }
}
