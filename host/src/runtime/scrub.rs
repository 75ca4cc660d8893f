//! Removes secret values from everything that flows from the host toward a
//! plugin or toward output.
//!
//! A secret can come back in many shapes: an endpoint (or a host the plugin
//! controls, reading back what it recorded earlier) may echo it verbatim,
//! lower-cased, base64-encoded (also as part of `user:secret` in a Basic
//! header), URL-encoded, JSON-escaped, hex-encoded, in pieces, or with only
//! some of its characters escaped (`s3cr\u0065t`, `s3cr%65t`, `s3cr&#101;t`).
//! One [`Scrubber`] is built for each set of secret values (a connection's
//! secrets and the OAuth tokens in use) and kept across calls; it finds
//! every such form in one pass over the text as written (one Aho-Corasick
//! automaton, overlapping matches, run only where a cheap prefilter sees a
//! possible form) and one over a decoded view of the parts where escapes
//! are (`unescape`), replacing each covered run of bytes with `[redacted]`.

mod prefilter;
mod unescape;

use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Input, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use self::prefilter::Prefilter;
use self::unescape::ByteSet;
use super::CallError;
use crate::contract::ConnectorError;

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";
/// Any piece of a secret at least this long is scrubbed, so a response that
/// returns the secret split up (or truncated) gives away at most 7 bytes in
/// a row. Eight bytes of a random secret are too many to stumble upon in
/// ordinary data, so this does not damage real responses.
pub const MIN_SECRET_WINDOW: usize = 8;
/// Secrets shorter than this are scrubbed verbatim and case-folded only:
/// the encoded forms of a few bytes (say a 4-digit PIN in hex) would match
/// ordinary data far too often.
pub const MIN_ENCODED_SECRET_BYTES: usize = 8;
/// Most forms the fallback automaton keeps when the full set is beyond the
/// automaton's size limits: the plain values come first.
const FALLBACK_FORMS: usize = 64;

/// The shapes a secret is looked for in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// The value itself.
    Plain,
    /// Every [`MIN_SECRET_WINDOW`]-byte piece of it.
    Piece,
    Hex,
    /// Form encoding, `+` for a space: percent escapes are decoded in the
    /// decoded view (`unescape`), a `+` is not.
    UrlEncoded,
    /// Base64 in both alphabets, alone or inside a longer base64 text.
    Base64,
}

impl Form {
    /// Base64 is compared with its case: a case-folded match would redact
    /// innocent data far more often, and no encoder changes its case.
    /// Everything else is compared ignoring ASCII case.
    fn case_sensitive(self) -> bool {
        self == Form::Base64
    }
}

/// Every form of one secret value, tagged with its shape.
fn forms(secret: &[u8]) -> Vec<(Form, Vec<u8>)> {
    if secret.is_empty() {
        return Vec::new();
    }
    let mut out = vec![(Form::Plain, secret.to_vec())];
    if secret.len() < MIN_ENCODED_SECRET_BYTES {
        return out;
    }
    out.extend(secret.windows(MIN_SECRET_WINDOW).map(|w| (Form::Piece, w.to_vec())));
    out.push((Form::Hex, hex::encode(secret).into_bytes()));
    // Percent-encoded and JSON-escaped forms need no pattern of their own:
    // they are found in the decoded view, whichever characters are escaped.
    if secret.contains(&b' ') {
        out.push((Form::UrlEncoded, form_urlencoded::byte_serialize(secret).collect::<String>().into_bytes()));
    }
    out.extend(base64_forms(secret).into_iter().map(|f| (Form::Base64, f)));
    out
}

/// Finds and removes secret values in their common encodings.
///
/// Every form of every secret is in one case-insensitive automaton; a
/// case-sensitive form (base64) is re-checked byte for byte when it
/// matches, which is rare. A [`Prefilter`] probes a few bytes in five and
/// hands the automaton only the spans that can hold a form, so a body with
/// no secret in it costs a fraction of one automaton pass.
#[derive(Debug, Default)]
pub struct Scrubber {
    matcher: Option<Matcher>,
}

#[derive(Debug)]
struct Matcher {
    automaton: AhoCorasick,
    /// By pattern id: the exact bytes of a case-sensitive form, `None` for
    /// forms compared ignoring ASCII case.
    exact: Vec<Option<Box<[u8]>>>,
    /// `None` when a form is too short to prefilter: every byte is scanned.
    prefilter: Option<Prefilter>,
    /// The bytes the forms hold: an escape of any other byte cannot be
    /// part of a match, so it needs no decoding.
    relevant: ByteSet,
    /// The longest form: how much decoded text around an escape a match
    /// through it can reach.
    longest: usize,
}

impl Scrubber {
    /// A scrubber for these secret values; empty values are ignored.
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        Self::from_forms(secrets.into_iter().flat_map(|s| forms(s.as_ref())))
    }

    /// A scrubber that misses one shape, to show that each is needed.
    #[cfg(test)]
    fn without<S: AsRef<[u8]>>(secrets: &[S], missing: Form) -> Self {
        Self::from_forms(secrets.iter().flat_map(|s| forms(s.as_ref())).filter(|(f, _)| *f != missing))
    }

    fn from_forms(forms: impl Iterator<Item = (Form, Vec<u8>)>) -> Self {
        // Plain values first (a stable sort), so a fallback keeps them.
        let mut forms: Vec<(Form, Vec<u8>)> = forms.collect();
        forms.sort_by_key(|(form, _)| *form != Form::Plain);
        // One entry per distinct form; a form that is also wanted without
        // case sensitivity needs no exact re-check.
        let mut index: std::collections::HashMap<Vec<u8>, usize> = std::collections::HashMap::new();
        let (mut patterns, mut case_sensitive) = (Vec::<Vec<u8>>::new(), Vec::<bool>::new());
        for (form, bytes) in forms {
            match index.get(&bytes) {
                Some(&i) => case_sensitive[i] &= form.case_sensitive(),
                None => {
                    index.insert(bytes.clone(), patterns.len());
                    patterns.push(bytes);
                    case_sensitive.push(form.case_sensitive());
                }
            }
        }
        if patterns.is_empty() {
            return Scrubber::default();
        }
        let exact: Vec<Option<Box<[u8]>>> =
            patterns.iter().zip(case_sensitive).map(|(p, cs)| cs.then(|| p.clone().into_boxed_slice())).collect();
        let prefilter = Prefilter::new(patterns.iter().map(Vec::as_slice));
        match Matcher::new(&patterns, exact.clone(), prefilter) {
            Ok(matcher) => Scrubber { matcher: Some(matcher) },
            // Only a pattern set beyond the automaton's size limits fails; a
            // scrubber that silently matches nothing would leak, so fall back
            // to the first forms only, without prefilter.
            Err(e) => {
                tracing::error!(error = %e, "cannot build the secret scrubber for every encoding; scrubbing fewer forms");
                let few: Vec<Vec<u8>> = patterns.into_iter().take(FALLBACK_FORMS).collect();
                let exact = exact.into_iter().take(few.len()).collect();
                Scrubber { matcher: Matcher::new(&few, exact, None).ok() }
            }
        }
    }

    /// Bytes of memory the matcher uses.
    pub fn memory_usage(&self) -> usize {
        self.matcher
            .as_ref()
            .map_or(0, |m| m.automaton.memory_usage() + m.prefilter.as_ref().map_or(0, Prefilter::memory_usage))
    }

    /// True when there is nothing to scrub.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// `data` with every secret form replaced by [`REDACTED`]. Data with no
    /// secret in it is handed back as it came, without a copy.
    pub fn scrub_bytes(&self, data: Vec<u8>) -> Vec<u8> {
        let Some(matcher) = &self.matcher else { return data };
        let covered = matcher.covered(&data);
        if covered.is_empty() {
            return data;
        }
        redact(&data, covered)
    }

    /// `text` with every secret form replaced by [`REDACTED`].
    pub fn scrub_str(&self, text: &str) -> String {
        if self.is_empty() {
            return text.to_string();
        }
        let bytes = self.scrub_bytes(text.as_bytes().to_vec());
        match String::from_utf8(bytes) {
            Ok(s) => s,
            // A case-folded match may end inside a multi-byte character.
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        }
    }

    /// Scrubs a string in place.
    pub fn scrub_in_place(&self, text: &mut String) {
        if !self.is_empty() {
            *text = self.scrub_str(text);
        }
    }
}

impl Matcher {
    fn new(
        patterns: &[Vec<u8>],
        exact: Vec<Option<Box<[u8]>>>,
        prefilter: Option<Prefilter>,
    ) -> Result<Self, aho_corasick::BuildError> {
        Ok(Matcher {
            automaton: build(patterns)?,
            exact,
            prefilter,
            relevant: ByteSet::of(patterns.iter().map(Vec::as_slice)),
            longest: patterns.iter().map(Vec::len).max().unwrap_or(0),
        })
    }

    /// Every byte range a form covers (overlapping matches: a form that
    /// starts inside another is covered too), as written and with some of
    /// its characters escaped.
    fn covered(&self, data: &[u8]) -> Vec<Range<usize>> {
        let mut covered = self.covered_as_written(data);
        let mut found = Vec::new();
        unescape::decoded_windows(data, &self.relevant, self.longest, |view| {
            found.clear();
            self.covered_into(view.bytes(), &mut found);
            covered.extend(found.iter().map(|r| view.original(r.clone())));
        });
        covered
    }

    /// Every byte range a form covers in the text as written.
    fn covered_as_written(&self, data: &[u8]) -> Vec<Range<usize>> {
        let mut covered = Vec::new();
        self.covered_into(data, &mut covered);
        covered
    }

    fn covered_into(&self, data: &[u8], covered: &mut Vec<Range<usize>>) {
        match &self.prefilter {
            Some(pre) => pre.spans(data, |span| self.search(data, span, covered)),
            None => self.search(data, 0..data.len(), covered),
        }
    }

    fn search(&self, data: &[u8], span: Range<usize>, covered: &mut Vec<Range<usize>>) {
        for m in self.automaton.find_overlapping_iter(Input::new(data).span(span)) {
            let exact = self.exact.get(m.pattern().as_usize()).and_then(Option::as_deref);
            if exact.is_some_and(|bytes| data.get(m.range()) != Some(bytes)) {
                continue;
            }
            covered.push(m.range());
        }
    }
}

/// `data` with each run of bytes covered by a range replaced by one
/// [`REDACTED`]. A range that starts or ends inside a JSON escape (`\/`,
/// `\u00e4`) takes the whole escape: replacing half of one (`\[redacted]`)
/// would make a JSON body the plugin can no longer parse.
fn redact(data: &[u8], covered: Vec<Range<usize>>) -> Vec<u8> {
    let mut covered: Vec<Range<usize>> = covered.into_iter().map(|r| whole_escapes(data, r)).collect();
    covered.sort_unstable_by_key(|r| (r.start, r.end));
    let mut out = Vec::with_capacity(data.len());
    let mut written = 0;
    let mut run: Option<Range<usize>> = None;
    for range in covered {
        match &mut run {
            Some(open) if range.start <= open.end => open.end = open.end.max(range.end),
            _ => {
                if let Some(done) = run.replace(range) {
                    out.extend_from_slice(&data[written..done.start]);
                    out.extend_from_slice(REDACTED.as_bytes());
                    written = done.end;
                }
            }
        }
    }
    if let Some(done) = run {
        out.extend_from_slice(&data[written..done.start]);
        out.extend_from_slice(REDACTED.as_bytes());
        written = done.end;
    }
    out.extend_from_slice(&data[written..]);
    out
}

/// The longest JSON escape: `\uXXXX`.
const JSON_ESCAPE_LEN: usize = 6;

/// Whether the backslash at `at` starts an escape: it is not itself
/// escaped (an odd run of backslashes ends at it).
fn starts_escape(data: &[u8], at: usize) -> bool {
    data[..=at].iter().rev().take_while(|&&b| b == b'\\').count() % 2 == 1
}

/// Where the escape that starts at the backslash `at` ends: `\u` and four
/// hex digits, or the backslash and one byte.
fn escape_end(data: &[u8], at: usize) -> usize {
    let end = if data.get(at + 1) == Some(&b'u') { at + JSON_ESCAPE_LEN } else { at + 2 };
    end.min(data.len())
}

/// `range` widened to whole JSON escapes at both ends.
fn whole_escapes(data: &[u8], range: Range<usize>) -> Range<usize> {
    let Range { mut start, mut end } = range;
    // An escape that began before the range and reaches into it.
    let back = start.saturating_sub(JSON_ESCAPE_LEN - 1);
    if let Some(at) = (back..start).rev().find(|&i| data[i] == b'\\' && starts_escape(data, i))
        && escape_end(data, at) > start
    {
        start = at;
    }
    // An escape that begins inside the range and reaches past its end.
    let back = end.saturating_sub(JSON_ESCAPE_LEN).max(start);
    if let Some(at) = (back..end).rev().find(|&i| data[i] == b'\\' && starts_escape(data, i)) {
        end = end.max(escape_end(data, at));
    }
    start..end
}

/// A call's error with every text the plugin (or the ATS through it) wrote
/// scrubbed, before it reaches logs, output and stored run records.
pub fn scrub_call_error(error: CallError, scrubber: &Scrubber) -> CallError {
    if scrubber.is_empty() {
        return error;
    }
    match error {
        CallError::Connector { plugin, mut error } => {
            match &mut error {
                ConnectorError::InvalidConfig(m)
                | ConnectorError::Unauthorized(m)
                | ConnectorError::NotFound(m)
                | ConnectorError::Transient(m)
                | ConnectorError::Permanent(m)
                | ConnectorError::Unsupported(m) => scrubber.scrub_in_place(m),
                ConnectorError::RateLimited(r) => scrubber.scrub_in_place(&mut r.message),
            }
            CallError::Connector { plugin, error }
        }
        CallError::Trap { plugin, function, message, guest_stderr } => CallError::Trap {
            plugin,
            function,
            message: scrubber.scrub_str(&message),
            guest_stderr: guest_stderr.map(|text| scrubber.scrub_str(&text)),
        },
        CallError::Instantiate { plugin, message } => {
            CallError::Instantiate { plugin, message: scrubber.scrub_str(&message) }
        }
        other => other,
    }
}

/// One case-insensitive automaton over every form.
fn build(patterns: &[Vec<u8>]) -> Result<AhoCorasick, aho_corasick::BuildError> {
    AhoCorasickBuilder::new()
        // A DFA scans several times faster than the default NFA; its larger
        // build cost is paid once per set of secrets (the runtime keeps
        // scrubbers across calls).
        .kind(Some(AhoCorasickKind::DFA))
        .match_kind(MatchKind::Standard)
        .ascii_case_insensitive(true)
        .build(patterns)
}

/// Base64 of the secret in both alphabets, padded or not, and as it appears
/// inside a longer base64 text (`user:secret` in a Basic header) at each of
/// the three byte offsets: only the characters made from the secret's own
/// bits, which do not depend on its neighbours.
fn base64_forms(secret: &[u8]) -> Vec<Vec<u8>> {
    let mut forms = Vec::new();
    for engine in [&STANDARD, &URL_SAFE] {
        forms.push(engine.encode(secret).into_bytes());
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3usize {
            let mut shifted = vec![0u8; offset];
            shifted.extend_from_slice(secret);
            let encoded = engine.encode(&shifted).into_bytes();
            // Character i holds bits [6i, 6i + 6) of the input.
            let first = (8 * offset).div_ceil(6);
            let end = (8 * (offset + secret.len())) / 6;
            if first < end && end <= encoded.len() {
                forms.push(encoded[first..end].to_vec());
            }
        }
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "sk-live/7f3a9c+1e5b Zq\"x";

    fn scrubbed(text: &str) -> String {
        Scrubber::new([SECRET]).scrub_str(text)
    }

    fn assert_gone(echo: &str) {
        let out = scrubbed(&format!("before {echo} after"));
        assert!(out.contains(REDACTED), "not redacted: {echo} -> {out}");
        assert!(out.starts_with("before ") && out.ends_with(" after"), "{out}");
    }

    #[test]
    fn every_encoding_is_scrubbed() {
        assert_gone(SECRET);
        assert_gone(&SECRET.to_lowercase());
        assert_gone(&SECRET.to_uppercase());
        assert_gone(&hex::encode(SECRET));
        assert_gone(&hex::encode_upper(SECRET));
        for engine in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            assert_gone(&engine.encode(SECRET));
            for user in ["u", "us", "use", "a-longer-user"] {
                let basic = engine.encode(format!("{user}:{SECRET}"));
                let out = scrubbed(&basic);
                assert!(out.contains(REDACTED), "{basic} -> {out}");
                // At most the user's characters and the final group remain.
                assert!(out.len() < user.len() * 2 + REDACTED.len() + 6, "{basic} -> {out}");
            }
        }
        assert_gone(&form_urlencoded::byte_serialize(SECRET.as_bytes()).collect::<String>());
        assert_gone(&percent_encoding::utf8_percent_encode(SECRET, percent_encoding::NON_ALPHANUMERIC).to_string());
        let json = serde_json::to_string(SECRET).unwrap();
        assert_gone(&json[1..json.len() - 1]);
        assert_gone(&json[1..json.len() - 1].replace('/', "\\/"));
    }

    #[test]
    fn split_and_partial_echoes_are_scrubbed() {
        let (a, b) = SECRET.split_at(12);
        let out = scrubbed(&format!("{a}---{b}"));
        assert!(!out.contains(&a[..MIN_SECRET_WINDOW]) && !out.contains(&b[b.len() - MIN_SECRET_WINDOW..]), "{out}");
        // Any window of the minimum length is gone; shorter ones may stay.
        for start in 0..=SECRET.len() - MIN_SECRET_WINDOW {
            let piece = &SECRET[start..start + MIN_SECRET_WINDOW];
            assert_eq!(scrubbed(piece), REDACTED, "{piece}");
        }
    }

    #[test]
    fn unicode_secrets_are_scrubbed_in_json_escapes() {
        let secret = "pässwörd-geheim-ü";
        let s = Scrubber::new([secret]);
        let escaped: String =
            secret.chars().map(|c| if c.is_ascii() { c.to_string() } else { format!("\\u{:04x}", c as u32) }).collect();
        assert_eq!(s.scrub_str(&escaped), REDACTED);
        assert_eq!(s.scrub_str(&escaped.to_uppercase().replace("\\U", "\\u")), REDACTED);
    }

    /// The strings of a JSON body, decoded: what a plugin would read.
    fn decoded(json: &str) -> String {
        let value: serde_json::Value =
            serde_json::from_str(json).unwrap_or_else(|e| panic!("no longer JSON ({e}): {json}"));
        value.to_string()
    }

    #[test]
    fn a_redaction_never_leaves_half_a_json_escape() {
        // A piece of the secret starting at an escaped `/`, and one
        // starting inside `\u0041`.
        let cases = [("ab/cdefghijkl", r#"{"m":"--\/cdefghijkl--"}"#), ("41abcdefgh", r#"{"m":"x\u0041abcdefgh"}"#)];
        for (secret, body) in cases {
            let out = Scrubber::new([secret]).scrub_str(body);
            assert!(out.contains(REDACTED), "{body} -> {out}");
            let text = decoded(&out);
            assert!(!text.contains("cdefghij") && !text.contains("abcdefgh"), "{out}");
        }
        // Ranges are widened to whole escapes at either end, and only to
        // escapes: an escaped backslash is not one.
        assert_eq!(whole_escapes(br"x\u0041ab", 5..8), 1..8);
        assert_eq!(whole_escapes(br"x\/ab", 2..4), 1..4);
        assert_eq!(whole_escapes(br"ab\u00e9cd", 0..4), 0..8);
        assert_eq!(whole_escapes(br"ab\/cd", 0..3), 0..4);
        assert_eq!(whole_escapes(br"\\ab", 2..4), 2..4);
        assert_eq!(whole_escapes(br"ab\u00", 0..3), 0..6, "an escape cut off by the end of the data");
        // Escaped backslashes before a piece are not an escape of it.
        let out = Scrubber::new(["ab/cdefghijkl"]).scrub_str(r#"{"m":"\\cdefghijkl"}"#);
        assert_eq!(out, format!(r#"{{"m":"\\{REDACTED}"}}"#));
    }

    #[test]
    fn a_secret_escaped_character_by_character_is_scrubbed() {
        let secret = "tok-9f8e7d6c5b4a";
        let escaped: String = secret.chars().map(|c| format!("\\u{:04X}", c as u32)).collect();
        let body = format!(r#"{{"echo":"{escaped}"}}"#);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&body).unwrap()["echo"], secret, "the test's own escape");
        let out = Scrubber::new([secret]).scrub_str(&body);
        assert!(!decoded(&out).contains(secret), "{out}");
        assert_eq!(out, format!(r#"{{"echo":"{REDACTED}"}}"#));
    }

    /// Every echo of the secret a test body holds, as independent code
    /// (not the scrubber's own) writes them.
    fn echoes() -> Vec<(Form, String)> {
        vec![
            (Form::Piece, SECRET[3..13].to_string()),
            (Form::Hex, hex::encode_upper(SECRET)),
            (Form::UrlEncoded, form_urlencoded::byte_serialize(SECRET.as_bytes()).collect()),
            (Form::Base64, STANDARD.encode(SECRET)),
            (Form::Base64, URL_SAFE_NO_PAD.encode(SECRET)),
        ]
    }

    /// Echoes found in the decoded view, with no form of their own.
    fn decoded_echoes() -> Vec<String> {
        let json = serde_json::to_string(SECRET).unwrap();
        vec![
            percent_encoding::utf8_percent_encode(SECRET, percent_encoding::NON_ALPHANUMERIC).to_string(),
            json[1..json.len() - 1].to_string(),
            json[1..json.len() - 1].replace('/', "\\/"),
        ]
    }

    #[test]
    fn several_encodings_in_one_body_are_all_scrubbed() {
        let mut body = String::from("{\"jobs\": [");
        let mut expected = body.clone();
        let plain = [SECRET.to_string(), SECRET.to_lowercase(), SECRET.to_uppercase()];
        let all = plain.into_iter().chain(echoes().into_iter().map(|(_, e)| e)).chain(decoded_echoes());
        for (i, echo) in all.enumerate() {
            body.push_str(&format!("{{\"id\": {i}, \"note\": \"{echo}\"}}, "));
            expected.push_str(&format!("{{\"id\": {i}, \"note\": \"{REDACTED}\"}}, "));
        }
        body.push_str("{}]}");
        expected.push_str("{}]}");
        assert_eq!(scrubbed(&body), expected);
    }

    #[test]
    fn each_form_is_needed() {
        // Without a form, its echo survives (in part); with all, it is gone.
        for (form, echo) in echoes() {
            assert_eq!(scrubbed(&echo), REDACTED, "{form:?}: {echo}");
            let partial = Scrubber::without(&[SECRET], form).scrub_str(&echo);
            assert_ne!(partial, REDACTED, "{form:?} is not needed for {echo}");
        }
        // The decoded view is needed for the escaped ones.
        for echo in decoded_echoes() {
            assert_eq!(scrubbed(&echo), REDACTED, "{echo}");
            assert_ne!(scrubbed_as_written(&echo), REDACTED, "{echo} needs no decoding");
        }
        // The plain value matters for secrets too short to have pieces.
        assert_eq!(Scrubber::new(["pin1"]).scrub_str("PIN1"), REDACTED);
        assert_eq!(Scrubber::without(&["pin1"], Form::Plain).scrub_str("PIN1"), "PIN1");
        // Case folding: an upper-cased echo of the whole value.
        assert_eq!(scrubbed(&SECRET.to_uppercase()), REDACTED);
    }

    #[test]
    fn the_prefilter_finds_what_a_full_scan_finds() {
        let s = Scrubber::new([SECRET, "another-Secret-9x", "pässwörd-geheim-ü"]);
        let m = s.matcher.as_ref().unwrap();
        assert!(m.prefilter.is_some());
        let mut forms: Vec<Vec<u8>> = [SECRET, "another-Secret-9x", "pässwörd-geheim-ü"]
            .iter()
            .flat_map(|secret| forms(secret.as_bytes()))
            .map(|(_, f)| f)
            .collect();
        forms.push(SECRET.to_uppercase().into_bytes());
        // A small deterministic generator: filler text with forms dropped
        // in at every kind of offset, some overlapping each other.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200 {
            let mut data = Vec::new();
            while data.len() < 2000 {
                match next() % 4 {
                    0 => {
                        let form = &forms[(next() % forms.len() as u64) as usize];
                        let cut = (next() % 3) as usize;
                        data.extend_from_slice(&form[..form.len() - cut.min(form.len() - 1)]);
                    }
                    _ => {
                        const FILLER: &[u8] = b" abcdefxyz/+\"%0123";
                        data.extend((0..next() % 40).map(|_| FILLER[(next() % FILLER.len() as u64) as usize]));
                    }
                }
            }
            let mut fast = m.covered_as_written(&data);
            let mut full = Vec::new();
            m.search(&data, 0..data.len(), &mut full);
            fast.sort_unstable_by_key(|r| (r.start, r.end));
            full.sort_unstable_by_key(|r| (r.start, r.end));
            assert_eq!(fast, full);
        }
    }

    /// How a test writes one escaped character: independent of the
    /// scrubber's own decoding.
    type Escaper = fn(char) -> String;

    fn json_lower(c: char) -> String {
        c.encode_utf16(&mut [0; 2]).iter().map(|u| format!("\\u{u:04x}")).collect()
    }
    fn json_upper(c: char) -> String {
        c.encode_utf16(&mut [0; 2]).iter().map(|u| format!("\\u{u:04X}")).collect()
    }
    fn percent_lower(c: char) -> String {
        c.to_string().bytes().map(|b| format!("%{b:02x}")).collect()
    }
    fn percent_upper(c: char) -> String {
        c.to_string().bytes().map(|b| format!("%{b:02X}")).collect()
    }
    fn html_hex(c: char) -> String {
        format!("&#x{:x};", c as u32)
    }
    fn html_decimal(c: char) -> String {
        format!("&#{};", c as u32)
    }
    fn c_hex(c: char) -> String {
        c.to_string().bytes().map(|b| format!("\\x{b:02x}")).collect()
    }

    const ESCAPERS: [Escaper; 7] =
        [json_lower, json_upper, percent_lower, percent_upper, html_hex, html_decimal, c_hex];

    /// `text` with every `n`th character written by `escape` (by the
    /// escapers in turn when there are several): with `n` below
    /// [`MIN_SECRET_WINDOW`] no piece of it is left as written.
    fn escape_every(text: &str, n: usize, escapers: &[Escaper]) -> String {
        let mut turn = 0;
        let mut out = String::new();
        for (i, c) in text.chars().enumerate() {
            if i % n == n - 1 {
                out.push_str(&escapers[turn % escapers.len()](c));
                turn += 1;
            } else {
                out.push(c);
            }
        }
        out
    }

    /// What a scrubber that looks at the text as written only (no decoded
    /// view) leaves of `text`.
    fn scrubbed_as_written(text: &str) -> String {
        let s = Scrubber::new([SECRET]);
        let covered = s.matcher.as_ref().unwrap().covered_as_written(text.as_bytes());
        String::from_utf8(redact(text.as_bytes(), covered)).unwrap()
    }

    /// `echo` is redacted whole, and would not be without the decoded view.
    fn assert_redacted_whole(echo: &str) {
        let text = format!("before {echo} after");
        assert_eq!(scrubbed(&text), format!("before {REDACTED} after"), "{echo}");
        assert_ne!(scrubbed_as_written(&text), format!("before {REDACTED} after"), "{echo} needs no decoding");
    }

    #[test]
    fn a_secret_with_some_characters_escaped_is_scrubbed() {
        for variant in [SECRET.to_string(), SECRET.to_lowercase(), SECRET.to_uppercase()] {
            for n in [2, 3, 4, 7] {
                for escape in ESCAPERS {
                    assert_redacted_whole(&escape_every(&variant, n, &[escape]));
                }
                // Several kinds of escape in one echo.
                assert_redacted_whole(&escape_every(&variant, n, &ESCAPERS));
            }
        }
        // `S3CR\u0045T`: an upper-cased echo whose escapes name upper-case
        // characters, in upper-case hex.
        let secret = "s3cret-value-77";
        let echo = escape_every(&secret.to_uppercase(), 3, &[json_upper]);
        assert!(echo.starts_with(r"S3\u0043RE\u0054"), "{echo}");
        assert_eq!(Scrubber::new([secret]).scrub_str(&echo), REDACTED);
    }

    /// A JSON body echoing `secret` with every `n`th character `\u`-escaped
    /// and the characters JSON escapes (`"`, `\`) and `/` short-escaped:
    /// a valid document whose string is the secret.
    fn json_echo(secret: &str, n: usize) -> String {
        let mut inner = String::new();
        for (i, c) in secret.chars().enumerate() {
            match c {
                '"' | '\\' | '/' => inner.push_str(&format!("\\{c}")),
                _ if i % n == n - 1 => inner.push_str(&json_lower(c)),
                _ => inner.push(c),
            }
        }
        let body = format!(r#"{{"id": 7, "echo": "{inner}", "next": null}}"#);
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["echo"], secret, "the test's own escapes: {body}");
        body
    }

    #[test]
    fn a_json_body_with_a_partly_escaped_secret_stays_json_without_it() {
        for n in [2, 3, 5] {
            let body = json_echo(SECRET, n);
            let expected = format!(r#"{{"id": 7, "echo": "{REDACTED}", "next": null}}"#);
            assert_eq!(scrubbed(&body), expected, "{body}");
            assert_ne!(scrubbed_as_written(&body), expected, "{body}");
        }
        // Short escapes alone, one `/` escaped and the other not: neither
        // whole JSON form, and the ends shorter than a piece.
        let secret = "sk-live/7f3a9c/1e5b\"Zq";
        let body = r#"{"echo": "sk-live\/7f3a9c/1e5b\"Zq"}"#;
        assert_eq!(serde_json::from_str::<serde_json::Value>(body).unwrap()["echo"], secret);
        assert_eq!(Scrubber::new([secret]).scrub_str(body), format!(r#"{{"echo": "{REDACTED}"}}"#));
    }

    #[test]
    fn partly_escaped_non_ascii_secrets_are_scrubbed() {
        let secret = "pässwörd-😀-geheim";
        let s = Scrubber::new([secret]);
        for escape in [json_lower, json_upper, percent_upper, html_hex] {
            for n in [2, 3] {
                let echo = escape_every(secret, n, &[escape]);
                assert_eq!(s.scrub_str(&format!("<{echo}>")), format!("<{REDACTED}>"), "{echo}");
            }
        }
        let echo = r"p\u00e4ssw\u00F6rd-\uD83D\ude00-geheim";
        assert_eq!(s.scrub_str(echo), REDACTED);
    }

    #[test]
    fn a_partly_escaped_secret_is_found_across_window_cuts() {
        // A long run of escapes that decode to characters the forms hold,
        // with the echo at offsets all around the first window cut.
        let filler = "%61".repeat(unescape::WINDOW_BYTES);
        let echo = escape_every(SECRET, 3, &[percent_upper, json_lower]);
        for at in (unescape::WINDOW_BYTES - 40..unescape::WINDOW_BYTES + 8).map(|i| 3 * (i - 8)) {
            let body = format!("{}{echo}{}", &filler[..at], &filler[..300]);
            let out = scrubbed(&body);
            assert_eq!(out, format!("{}{REDACTED}{}", &filler[..at], &filler[..300]), "at {at}");
        }
    }

    #[test]
    fn decoding_redacts_nothing_but_the_secret() {
        // Escapes of every kind and no secret: handed back as it came.
        let body = r#"{"content": "\u003cp\u003eWe \u0026amp; you\u003c/p\u003e\n\"quoted\" \/path", "url": "https://x.example/a%20b?q=%E2%82%AC&amp;r=1&#x27;", "s": "s\\u006b-live"}"#;
        assert_eq!(scrubbed(body), body);
        let s = Scrubber::new([SECRET]);
        let bytes = body.as_bytes().to_vec();
        let ptr = bytes.as_ptr();
        let out = s.scrub_bytes(bytes);
        assert_eq!(out.as_ptr(), ptr, "copied");
        // An escaped backslash before `u0065` is not an escape of `e`.
        let s = Scrubber::new(["abcdefghij"]);
        let out = s.scrub_str(r"abcd\\u0065fghij");
        assert_eq!(out, r"abcd\\u0065fghij");
        // Text around a partly escaped echo is kept byte for byte.
        let echo = escape_every("abcdefghij", 3, &[json_lower]);
        assert_eq!(s.scrub_str(&format!(r#"%41\n{echo}\n&amp;"#)), format!(r#"%41\n{REDACTED}\n&amp;"#));
        // A short secret: scrubbed as written and case-folded everywhere
        // already, and so when some of it is escaped; escapes of other text
        // stay.
        let s = Scrubber::new(["pin1"]);
        assert_eq!(s.scrub_str(r"id p\u0069n1 P%49N1 x"), format!("id {REDACTED} {REDACTED} x"));
        assert_eq!(s.scrub_str(r"p\u0069n \u0070in2 %70%69%6e"), r"p\u0069n \u0070in2 %70%69%6e");
    }

    #[test]
    fn clean_data_and_short_secrets() {
        let s = Scrubber::new(["pin1"]);
        assert_eq!(s.scrub_str("id 70696e31 PIN1 x"), "id 70696e31 [redacted] x");
        assert_eq!(scrubbed("nothing to see"), "nothing to see");
        assert!(Scrubber::new([""]).is_empty());
        assert_eq!(Scrubber::default().scrub_str("x"), "x");
    }
}
