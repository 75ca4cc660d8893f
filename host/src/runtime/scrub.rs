//! Removes secret values from everything that flows from the host toward a
//! plugin or toward output.
//!
//! A secret can come back in many shapes: an endpoint (or a host the plugin
//! controls, reading back what it recorded earlier) may echo it verbatim,
//! lower-cased, base64-encoded (also as part of `user:secret` in a Basic
//! header), URL-encoded, JSON-escaped, hex-encoded, or in pieces. One
//! [`Scrubber`] is built per call from the connection's secret values and
//! the OAuth tokens in use, and finds every such form in one pass
//! (Aho-Corasick, overlapping matches), replacing each covered run of bytes
//! with `[redacted]`.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

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

/// Finds and removes secret values in their common encodings.
#[derive(Debug, Default)]
pub struct Scrubber {
    /// Forms compared ignoring ASCII case: the value, its pieces, hex, URL
    /// and JSON escapes.
    folded: Option<AhoCorasick>,
    /// Base64 forms: case matters there (a case-folded match would redact
    /// innocent data far more often).
    exact: Option<AhoCorasick>,
}

impl Scrubber {
    /// A scrubber for these secret values; empty values are ignored.
    pub fn new<I, S>(secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut folded = Vec::new();
        let mut exact = Vec::new();
        for secret in secrets {
            let secret = secret.as_ref();
            if secret.is_empty() {
                continue;
            }
            folded.push(secret.to_vec());
            if secret.len() < MIN_ENCODED_SECRET_BYTES {
                continue;
            }
            folded.extend(secret.windows(MIN_SECRET_WINDOW).map(<[u8]>::to_vec));
            folded.push(hex::encode(secret).into_bytes());
            folded.extend(url_encodings(secret));
            folded.extend(json_escapes(secret));
            exact.extend(base64_forms(secret));
        }
        Scrubber { folded: build(folded, true), exact: build(exact, false) }
    }

    /// Bytes of memory the matchers use.
    pub fn memory_usage(&self) -> usize {
        [&self.folded, &self.exact].into_iter().flatten().map(AhoCorasick::memory_usage).sum()
    }

    /// True when there is nothing to scrub.
    pub fn is_empty(&self) -> bool {
        self.folded.is_none() && self.exact.is_none()
    }

    /// `data` with every secret form replaced by [`REDACTED`].
    pub fn scrub_bytes(&self, data: Vec<u8>) -> Vec<u8> {
        // Most data holds no secret: one plain scan says so, cheaper than
        // collecting overlapping matches.
        if ![&self.folded, &self.exact].into_iter().flatten().any(|m| m.is_match(&data)) {
            return data;
        }
        let mut covered: Vec<(usize, usize)> = Vec::new();
        for matcher in [&self.folded, &self.exact].into_iter().flatten() {
            covered.extend(matcher.find_overlapping_iter(&data).map(|m| (m.start(), m.end())));
        }
        if covered.is_empty() {
            return data;
        }
        covered.sort_unstable();
        let mut out = Vec::with_capacity(data.len());
        let mut written = 0;
        let mut run: Option<(usize, usize)> = None;
        for (start, end) in covered {
            match &mut run {
                Some((_, run_end)) if start <= *run_end => *run_end = (*run_end).max(end),
                _ => {
                    if let Some((s, e)) = run.take() {
                        out.extend_from_slice(&data[written..s]);
                        out.extend_from_slice(REDACTED.as_bytes());
                        written = e;
                    }
                    run = Some((start, end));
                }
            }
        }
        if let Some((s, e)) = run {
            out.extend_from_slice(&data[written..s]);
            out.extend_from_slice(REDACTED.as_bytes());
            written = e;
        }
        out.extend_from_slice(&data[written..]);
        out
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

fn build(mut patterns: Vec<Vec<u8>>, fold_case: bool) -> Option<AhoCorasick> {
    patterns.sort_unstable();
    patterns.dedup();
    if patterns.is_empty() {
        return None;
    }
    let built = AhoCorasickBuilder::new()
        // A DFA scans several times faster than the default NFA; its larger
        // build cost is paid once per set of secrets (the runtime keeps
        // scrubbers across calls).
        .kind(Some(AhoCorasickKind::DFA))
        .match_kind(MatchKind::Standard)
        .ascii_case_insensitive(fold_case)
        .build(&patterns);
    match built {
        Ok(matcher) => Some(matcher),
        // Only a pattern set beyond the automaton's size limits fails; a
        // scrubber that silently matches nothing would leak, so fall back to
        // the plain values alone.
        Err(e) => {
            tracing::error!(error = %e, "cannot build the secret scrubber for every encoding; scrubbing plain values");
            AhoCorasickBuilder::new().ascii_case_insensitive(fold_case).build(patterns.iter().take(64)).ok()
        }
    }
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

/// Percent-encoded forms: every byte but alphanumerics escaped, form
/// encoding (`+` for space), and JavaScript's `encodeURIComponent`.
fn url_encodings(secret: &[u8]) -> Vec<Vec<u8>> {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
    const URI_COMPONENT: &AsciiSet =
        &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'!').remove(b'~').remove(b'*').remove(b'\'');
    const URI_COMPONENT_PARENS: &AsciiSet = &URI_COMPONENT.remove(b'(').remove(b')');
    let mut forms = vec![form_urlencoded::byte_serialize(secret).collect::<String>().into_bytes()];
    for set in [NON_ALPHANUMERIC, URI_COMPONENT, URI_COMPONENT_PARENS] {
        forms.push(percent_encode(secret, set).to_string().into_bytes());
    }
    forms.retain(|f| f.as_slice() != secret);
    forms
}

/// JSON string escapes: as `serde_json` writes them, with `/` escaped, and
/// with everything outside printable ASCII as `\uXXXX`.
fn json_escapes(secret: &[u8]) -> Vec<Vec<u8>> {
    let Ok(text) = std::str::from_utf8(secret) else { return Vec::new() };
    let mut forms = Vec::new();
    if let Ok(quoted) = serde_json::to_string(text) {
        let inner = &quoted[1..quoted.len() - 1];
        forms.push(inner.as_bytes().to_vec());
        forms.push(inner.replace('/', "\\/").into_bytes());
    }
    let mut ascii = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        match c {
            '"' => ascii.push_str("\\\""),
            '\\' => ascii.push_str("\\\\"),
            ' '..='~' => ascii.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    ascii.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    forms.push(ascii.into_bytes());
    forms.retain(|f| f.as_slice() != secret);
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

    #[test]
    fn clean_data_and_short_secrets() {
        let s = Scrubber::new(["pin1"]);
        assert_eq!(s.scrub_str("id 70696e31 PIN1 x"), "id 70696e31 [redacted] x");
        assert_eq!(scrubbed("nothing to see"), "nothing to see");
        assert!(Scrubber::new([""]).is_empty());
        assert_eq!(Scrubber::default().scrub_str("x"), "x");
    }
}
