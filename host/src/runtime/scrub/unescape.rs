//! A decoded view of text in which some characters are escaped one by one.
//!
//! An echo of a secret can have any of its characters escaped and the rest
//! left as they are: `s3cr\u0065t`, `s3cr%65t`, `s3cr&#x65;t`, or all of
//! these in one string. No list of whole-value encodings covers every such
//! mix, so the text is decoded instead: each per-character escape (JSON's
//! `\uXXXX`, surrogate pairs included, and its short escapes `\"` `\\` `\/`
//! `\b` `\f` `\n` `\r` `\t`; `\xXX`; percent `%XX`; HTML and XML character
//! references `&#NN;`, `&#xNN;` and the five named ones) becomes the bytes
//! of its character, and the secret's forms are looked for in that view.
//! A match maps back to the original bytes it came from, whole escapes
//! included, so the redaction never leaves half an escape behind.
//!
//! Only the parts of the text near an escape that decodes to a byte some
//! form holds are decoded (a *window*): a match with no escape in it is
//! found in the text as written, and a match cannot run through an escape
//! whose bytes no form holds (`\n`, `\u003c` for most secrets). Windows
//! are cut at [`WINDOW_BYTES`] with an overlap as long as the longest form,
//! so the memory used is bounded whatever the text, and the work is linear
//! in its length. Escapes are decoded once, left to right: `\\u0065` is an
//! escaped backslash followed by `u0065`, not an `e`. Nested encodings
//! (`%5Cu0065`, a percent-encoded JSON escape) are not decoded.

use std::ops::Range;

/// Decoded bytes a window holds before it is handed on and restarted from
/// its last `context` bytes: bounds the memory of one window (its bytes
/// plus a [`Placed`] for each escape, about 600 KiB at most) while keeping
/// the overlap a small share of the work.
pub const WINDOW_BYTES: usize = 16 << 10;
/// Most digits read in a numeric character reference: enough for any
/// code point with a few leading zeros, and a bound on what one `&#` reads.
const MAX_REFERENCE_DIGITS: usize = 8;
/// The escapes that start with `&`, and the byte each stands for.
const NAMED_REFERENCES: [(&[u8], u8); 5] =
    [(b"&amp;", b'&'), (b"&lt;", b'<'), (b"&gt;", b'>'), (b"&quot;", b'"'), (b"&apos;", b'\'')];

/// The bytes the secret forms hold, in both ASCII cases (forms are matched
/// ignoring case).
#[derive(Debug, Clone)]
pub struct ByteSet([u64; 4]);

impl ByteSet {
    pub fn of<'a>(forms: impl Iterator<Item = &'a [u8]>) -> Self {
        let mut set = ByteSet([0; 4]);
        for &b in forms.flatten() {
            for b in [b, b.to_ascii_lowercase(), b.to_ascii_uppercase()] {
                set.0[usize::from(b / 64)] |= 1 << (b % 64);
            }
        }
        set
    }

    fn contains(&self, b: u8) -> bool {
        self.0[usize::from(b / 64)] & (1 << (b % 64)) != 0
    }
}

/// One escape in the original text and the bytes of what it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Escape {
    original: Range<usize>,
    decoded: [u8; 4],
    len: u8,
}

impl Escape {
    fn byte(original: Range<usize>, b: u8) -> Self {
        Escape { original, decoded: [b, 0, 0, 0], len: 1 }
    }

    fn char(original: Range<usize>, c: char) -> Self {
        let mut decoded = [0u8; 4];
        let len = c.encode_utf8(&mut decoded).len() as u8;
        Escape { original, decoded, len }
    }

    fn bytes(&self) -> &[u8] {
        &self.decoded[..usize::from(self.len)]
    }
}

/// The value of `digits` in base `radix`, if they are all digits of it.
fn number(digits: &[u8], radix: u32) -> Option<u32> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u32, |n, &d| Some(n * radix + char::from(d).to_digit(radix)?))
}

/// The four hex digits of a `\uXXXX` at `at`.
fn json_unit(data: &[u8], at: usize) -> Option<u32> {
    if data.get(at..at + 2)? != b"\\u" {
        return None;
    }
    number(data.get(at + 2..at + 6)?, 16)
}

/// The escape that starts at `at` (a `\`, `%` or `&`), if it is one.
fn escape_at(data: &[u8], at: usize) -> Option<Escape> {
    match *data.get(at)? {
        b'%' => Some(Escape::byte(at..at + 3, number(data.get(at + 1..at + 3)?, 16)? as u8)),
        b'\\' => match *data.get(at + 1)? {
            b'u' => {
                let unit = json_unit(data, at)?;
                match unit {
                    0xD800..=0xDBFF => {
                        let low = json_unit(data, at + 6).filter(|low| (0xDC00..=0xDFFF).contains(low))?;
                        let c = char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?;
                        Some(Escape::char(at..at + 12, c))
                    }
                    _ => Some(Escape::char(at..at + 6, char::from_u32(unit)?)),
                }
            }
            b'x' => Some(Escape::byte(at..at + 4, number(data.get(at + 2..at + 4)?, 16)? as u8)),
            short => {
                let b = match short {
                    b'"' | b'\\' | b'/' => short,
                    b'b' => 0x08,
                    b'f' => 0x0C,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    _ => return None,
                };
                Some(Escape::byte(at..at + 2, b))
            }
        },
        b'&' => {
            if data.get(at + 1) != Some(&b'#') {
                let (name, b) = NAMED_REFERENCES.iter().find(|(name, _)| data[at..].starts_with(name))?;
                return Some(Escape::byte(at..at + name.len(), *b));
            }
            let (first, radix) = match data.get(at + 2) {
                Some(b'x' | b'X') => (at + 3, 16),
                _ => (at + 2, 10),
            };
            let limit = data.len().min(first + MAX_REFERENCE_DIGITS + 1);
            let semicolon = first + data.get(first..limit)?.iter().position(|&b| b == b';')?;
            let c = char::from_u32(number(&data[first..semicolon], radix)?)?;
            Some(Escape::char(at..semicolon + 1, c))
        }
        _ => None,
    }
}

/// An escape's place in a window.
#[derive(Debug, Clone)]
struct Placed {
    /// Where its decoded bytes start in the window.
    at: usize,
    len: usize,
    original: Range<usize>,
}

/// A decoded stretch of the original text: plain bytes as they are and the
/// escapes among them decoded.
#[derive(Debug, Default)]
pub struct View {
    /// Where `bytes` begins in the original text.
    start: usize,
    /// Where the last byte or escape in `bytes` ends in the original text.
    end: usize,
    bytes: Vec<u8>,
    escapes: Vec<Placed>,
}

impl View {
    /// The decoded text.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The original bytes a range of the decoded text came from, whole
    /// escapes included.
    pub fn original(&self, decoded: Range<usize>) -> Range<usize> {
        let start = self.original_of(decoded.start, |e| e.original.start);
        let end = match decoded.end.checked_sub(1) {
            Some(last) if decoded.end > decoded.start => self.original_of(last, |e| e.original.end - 1) + 1,
            _ => start,
        };
        start..end
    }

    /// The original offset of decoded byte `at`; `inside` says which for a
    /// byte that is part of an escape.
    fn original_of(&self, at: usize, inside: impl Fn(&Placed) -> usize) -> usize {
        let i = self.escapes.partition_point(|e| e.at <= at);
        match i.checked_sub(1).map(|i| &self.escapes[i]) {
            Some(e) if at < e.at + e.len => inside(e),
            Some(e) => e.original.end + (at - (e.at + e.len)),
            None => self.start + at,
        }
    }

    fn open(&mut self, data: &[u8], start: usize, end: usize) {
        self.bytes.clear();
        self.escapes.clear();
        self.start = start;
        self.end = start;
        self.push_plain(data, end);
    }

    fn push_plain(&mut self, data: &[u8], end: usize) {
        self.bytes.extend_from_slice(&data[self.end..end]);
        self.end = end;
    }

    fn push_escape(&mut self, escape: &Escape) {
        self.escapes.push(Placed {
            at: self.bytes.len(),
            len: escape.bytes().len(),
            original: escape.original.clone(),
        });
        self.bytes.extend_from_slice(escape.bytes());
        self.end = escape.original.end;
    }

    /// Drops all but the last `keep` decoded bytes (from the start of the
    /// escape the cut falls in), so a match across the cut is still seen.
    fn keep_tail(&mut self, keep: usize) {
        let mut cut = self.bytes.len().saturating_sub(keep);
        let i = self.escapes.partition_point(|e| e.at + e.len <= cut);
        if let Some(e) = self.escapes.get(i).filter(|e| e.at < cut) {
            cut = e.at;
        }
        self.start = self.original_of(cut, |e| e.original.start);
        self.bytes.drain(..cut);
        self.escapes.drain(..i);
        for e in &mut self.escapes {
            e.at -= cut;
        }
    }
}

/// Hands `scan` a decoded [`View`] of every part of `data` where an escape
/// decodes to a byte of `relevant`, with at least `context` bytes around
/// it (up to the ends of `data` or an escape that decodes to none of
/// them). Every stretch of up to `context` decoded bytes that has such an
/// escape in it, and no other escape, lies whole in one view.
pub fn decoded_windows(data: &[u8], relevant: &ByteSet, context: usize, mut scan: impl FnMut(&View)) {
    let window_bytes = WINDOW_BYTES.max(context.saturating_mul(4));
    let mut view = View::default();
    let mut open = false;
    // The end of the last escape seen: a match that reaches back past an
    // escape whose bytes no form holds cannot exist.
    let mut barrier = 0;
    let mut pos = 0;
    while let Some(found) = memchr::memchr3(b'\\', b'%', b'&', &data[pos..]) {
        let at = pos + found;
        let Some(escape) = escape_at(data, at) else {
            pos = at + 1;
            continue;
        };
        pos = escape.original.end;
        let wanted = escape.bytes().iter().any(|&b| relevant.contains(b));
        if open && (!wanted || at - view.end >= context) {
            view.push_plain(data, at.min(view.end + context));
            scan(&view);
            open = false;
        }
        if wanted {
            if open {
                view.push_plain(data, at);
            } else {
                view.open(data, at.saturating_sub(context).max(barrier), at);
                open = true;
            }
            view.push_escape(&escape);
            if view.bytes.len() >= window_bytes {
                scan(&view);
                view.keep_tail(context);
            }
        }
        barrier = escape.original.end;
    }
    if open {
        view.push_plain(data, data.len().min(view.end + context));
        scan(&view);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_bytes() -> ByteSet {
        ByteSet([u64::MAX; 4])
    }

    /// Every view of `data`, as (original range, decoded text).
    fn views(data: &str, relevant: &ByteSet, context: usize) -> Vec<(Range<usize>, String)> {
        let mut out = Vec::new();
        decoded_windows(data.as_bytes(), relevant, context, |v| {
            out.push((v.start..v.end, String::from_utf8_lossy(v.bytes()).into_owned()));
        });
        out
    }

    #[test]
    fn each_kind_of_escape_decodes_to_its_character() {
        let cases: [(&str, &str); 16] = [
            (r"\u0065", "e"),
            (r"\u0045", "E"),
            (r"\u00E9", "é"),
            (r"\uD83D\uDE00", "😀"),
            (r"\ud83d\ude00", "😀"),
            (r#"\""#, "\""),
            (r"\/", "/"),
            (r"\\", "\\"),
            (r"\n", "\n"),
            (r"\x41", "A"),
            ("%2f", "/"),
            ("%2F", "/"),
            ("&#x65;", "e"),
            ("&#X000065;", "e"),
            ("&#101;", "e"),
            ("&amp;", "&"),
        ];
        for (escape, decoded) in cases {
            let found = escape_at(escape.as_bytes(), 0).unwrap_or_else(|| panic!("{escape}"));
            assert_eq!((found.bytes(), found.original.clone()), (decoded.as_bytes(), 0..escape.len()), "{escape}");
        }
    }

    #[test]
    fn what_is_not_an_escape_stays_as_written() {
        for text in [
            r"\q",
            r"\u00",
            r"\u00g1",
            r"\uD83D",
            r"\uD83Dx",
            r"\uDE00",
            r"\x4",
            "%4",
            "%g1",
            "&#;",
            "&#x;",
            "&#65",
            "&#xD800;",
            "&#x110000;",
            "&#0000000065;",
            "&nbsp;",
            "&",
        ] {
            assert_eq!(escape_at(text.as_bytes(), 0), None, "{text}");
        }
    }

    #[test]
    fn escapes_are_read_left_to_right() {
        // An escaped backslash, then `u0065` as written.
        assert_eq!(views(r"ab\\u0065cd", &all_bytes(), 4), vec![(0..8, r"ab\u006".into())]);
        assert_eq!(views(r"ab\\\u0065cd", &all_bytes(), 4), vec![(0..12, r"ab\ecd".into())]);
    }

    #[test]
    fn windows_hold_context_and_stop_at_unwanted_escapes() {
        let relevant = ByteSet::of([&b"secret"[..]].into_iter());
        // Context on both sides, cut at the ends of the text.
        assert_eq!(views(r"xxxxxxxxs\u0065cretyyyyyyyy", &relevant, 4), vec![(5..19, "xxxsecret".into())]);
        assert_eq!(views(r"s\u0065c", &relevant, 4), vec![(0..8, "sec".into())]);
        // An escape of a byte no form holds is a wall, and needs no view.
        assert_eq!(views(r"ab\nse\u0063\nxy", &relevant, 8), vec![(4..12, "sec".into())]);
        assert!(views(r"one\ntwo\u003cthree&lt;%0A", &relevant, 8).is_empty());
        // Escapes further apart than the context get views of their own.
        let two = views(r"\u0065.........\u0065", &relevant, 4);
        assert_eq!(two, vec![(0..10, "e....".into()), (11..21, "....e".into())]);
        let joined = views(r"\u0065...\u0065", &relevant, 4);
        assert_eq!(joined, vec![(0..15, "e...e".into())]);
    }

    #[test]
    fn decoded_ranges_map_back_to_whole_escapes() {
        let data = r"ab\u00e9c%41d";
        let mut mapped = Vec::new();
        decoded_windows(data.as_bytes(), &all_bytes(), 16, |v| {
            assert_eq!(v.bytes(), "abécAd".as_bytes());
            // `é` is two bytes: a range that starts or ends inside it takes
            // the whole `\u00e9`.
            for r in [0..2, 1..3, 2..3, 3..4, 3..5, 4..5, 5..6, 5..7, 0..7, 4..4] {
                mapped.push(v.original(r));
            }
        });
        assert_eq!(mapped, vec![0..2, 1..8, 2..8, 2..8, 2..9, 8..9, 9..12, 9..13, 0..13, 8..8]);
    }

    #[test]
    fn long_windows_are_cut_with_an_overlap() {
        // Every stretch of `context` decoded bytes lies whole in one view,
        // wherever the cuts fall: each is checked against the text decoded
        // by hand.
        let context = 40;
        let letter = |i: usize| if i.is_multiple_of(3) { b'a' + (i % 26) as u8 } else { b'b' };
        let n = 3 * WINDOW_BYTES;
        let data: String =
            (0..n).map(|i| if i.is_multiple_of(3) { format!("%{:02x}", letter(i)) } else { "b".into() }).collect();
        let decoded: Vec<u8> = (0..n).map(letter).collect();
        let mut covered = vec![false; n - context + 1];
        let mut views = 0;
        decoded_windows(data.as_bytes(), &all_bytes(), context, |v| {
            views += 1;
            assert!(v.bytes().len() < WINDOW_BYTES + context + 4, "{}", v.bytes().len());
            for start in 0..=v.bytes().len().saturating_sub(context) {
                let at = decoded_offset(&data, v.original(start..start + 1).start);
                assert_eq!(&decoded[at..at + context], &v.bytes()[start..start + context], "at {at}");
                covered[at] = true;
            }
        });
        assert!(views >= 3, "{views}");
        assert!(covered.iter().all(|&c| c), "a stretch lies in no view");
    }

    /// The decoded offset of an original offset, in data where each `%`
    /// escape is 3 bytes and decodes to 1.
    fn decoded_offset(data: &str, original: usize) -> usize {
        original - 2 * data.as_bytes()[..original].iter().filter(|&&b| b == b'%').count()
    }
}
