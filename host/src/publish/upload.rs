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

    /// A ZIP archive of stored (uncompressed) entries, in order, with CRCs
    /// and a central directory: what an office suite writes, minus deflate.
    fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        fn crc32(bytes: &[u8]) -> u32 {
            let mut crc = !0u32;
            for b in bytes {
                crc ^= u32::from(*b);
                for _ in 0..8 {
                    crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
                }
            }
            !crc
        }
        let (mut out, mut central): (Vec<u8>, Vec<u8>) = (Vec::new(), Vec::new());
        for (name, data) in entries {
            let offset = out.len() as u32;
            let (crc, len, name_len) = (crc32(data), data.len() as u32, name.len() as u16);
            out.extend(b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00");
            out.extend(crc.to_le_bytes().iter().chain(&len.to_le_bytes()).chain(&len.to_le_bytes()));
            out.extend(name_len.to_le_bytes().iter().chain(&[0, 0]));
            out.extend(name.as_bytes());
            out.extend(*data);
            central.extend(b"PK\x01\x02\x14\x00\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00");
            central.extend(crc.to_le_bytes().iter().chain(&len.to_le_bytes()).chain(&len.to_le_bytes()));
            central.extend(name_len.to_le_bytes().iter().chain(&[0; 12]).chain(&offset.to_le_bytes()));
            central.extend(name.as_bytes());
        }
        let (at, size, n) = (out.len() as u32, central.len() as u32, entries.len() as u16);
        out.extend(central);
        out.extend(b"PK\x05\x06\x00\x00\x00\x00");
        out.extend(n.to_le_bytes().iter().chain(&n.to_le_bytes()).chain(&size.to_le_bytes()).chain(&at.to_le_bytes()));
        out.extend([0, 0]);
        out
    }

    /// An OOXML package with its entries in the order Word writes them,
    /// the main parts under `dir` (`word`, `xl`, `ppt`).
    fn ooxml(dir: &str) -> Vec<u8> {
        let (main, rels, styles) =
            (format!("{dir}/document.xml"), format!("{dir}/_rels/document.xml.rels"), format!("{dir}/styles.xml"));
        zip(&[
            ("[Content_Types].xml", b"<?xml version=\"1.0\"?><Types/>"),
            ("_rels/.rels", b"<?xml version=\"1.0\"?><Relationships/>"),
            (&main, b"<?xml version=\"1.0\"?><w:document/>"),
            (&rels, b"<?xml version=\"1.0\"?><Relationships/>"),
            (&styles, b"<?xml version=\"1.0\"?><w:styles/>"),
            ("docProps/core.xml", b"<?xml version=\"1.0\"?><cp:coreProperties/>"),
        ])
    }

    /// An OpenDocument package: the stored `mimetype` entry first.
    fn odf(mimetype: &str) -> Vec<u8> {
        zip(&[
            ("mimetype", mimetype.as_bytes()),
            ("content.xml", b"<?xml version=\"1.0\"?><office:document-content/>"),
            ("META-INF/manifest.xml", b"<?xml version=\"1.0\"?><manifest:manifest/>"),
        ])
    }

    /// A compound file whose root storage has `clsid`, with a
    /// `WordDocument` stream, as Word 97-2003 writes a `.doc`.
    fn compound_file(clsid: &str) -> Vec<u8> {
        use std::io::Write as _;
        let mut file = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).unwrap();
        file.set_storage_clsid("/", uuid::Uuid::parse_str(clsid).unwrap()).unwrap();
        file.create_stream("/WordDocument").unwrap().write_all(&[0xEC, 0xA5, 0xC1, 0x00]).unwrap();
        file.flush().unwrap();
        file.into_inner().into_inner()
    }

    /// Word's CLSID (a `.doc`) and Excel's (a `.xls`).
    const WORD_CLSID: &str = "00020906-0000-0000-c000-000000000046";
    const EXCEL_CLSID: &str = "00020820-0000-0000-c000-000000000046";

    #[test]
    fn office_documents_are_told_by_their_containers() {
        assert_eq!(sniff(&ooxml("word")), Some(ResumeKind::Docx));
        assert_eq!(sniff(&odf("application/vnd.oasis.opendocument.text")), Some(ResumeKind::Odt));
        assert_eq!(sniff(&compound_file(WORD_CLSID)), Some(ResumeKind::Doc));
        // The same containers holding something else are not resumes.
        assert_eq!(sniff(&ooxml("xl")), None, "a spreadsheet");
        assert_eq!(sniff(&ooxml("ppt")), None, "a presentation");
        assert_eq!(sniff(&odf("application/vnd.oasis.opendocument.spreadsheet")), None);
        assert_eq!(sniff(&compound_file(EXCEL_CLSID)), None, "an Excel 97 workbook");
        assert_eq!(sniff(&zip(&[("word/document.exe", b"MZ\x90\x00")])[..4]), None, "a cut-off archive");
        // Each kind has the media type and extension stored with the file.
        let kinds = [ResumeKind::Pdf, ResumeKind::Doc, ResumeKind::Docx, ResumeKind::Odt, ResumeKind::Rtf];
        let types: Vec<_> = kinds.iter().map(|k| (k.extension(), k.media_type())).collect();
        assert_eq!(
            types,
            [
                ("pdf", "application/pdf"),
                ("doc", "application/msword"),
                ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
                ("odt", "application/vnd.oasis.opendocument.text"),
                ("rtf", "application/rtf"),
            ]
        );
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
