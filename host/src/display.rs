//! Making text from plugins safe to print and to log.
//!
//! A plugin chooses its name, vendor, setting labels, error messages and
//! log lines. Printed raw, a newline forges a host log line and an ANSI
//! escape rewrites the operator's terminal. Every such text goes through
//! [`escape`] (or [`escape_capped`]) before it reaches a terminal or a log:
//! control characters, ANSI escapes and bidirectional overrides become
//! visible `\u{..}` escapes, and long texts are cut with a marker.

use std::fmt::Write as _;

/// Longest plugin text printed in one place (a name, an error): enough for
/// any honest message, short enough that a hostile one cannot flood a
/// terminal, a log or a stored run record.
pub const MAX_PLUGIN_TEXT_BYTES: usize = 4 * 1024;

/// `text` with every character that could change how a terminal or a log
/// line reads replaced by a visible escape.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if needs_escape(c) {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// [`escape`], cut to at most [`MAX_PLUGIN_TEXT_BYTES`] of input with a
/// note of how much was left out.
pub fn escape_capped(text: &str) -> String {
    cap(&escape(truncate(text, MAX_PLUGIN_TEXT_BYTES)), text.len())
}

fn cap(escaped: &str, original_len: usize) -> String {
    if original_len <= MAX_PLUGIN_TEXT_BYTES {
        escaped.to_string()
    } else {
        format!("{escaped}... ({} more bytes not shown)", original_len - MAX_PLUGIN_TEXT_BYTES)
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        // Bidirectional embeddings, overrides and isolates reorder what a
        // terminal shows (Trojan Source).
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
        // Line and paragraph separators end a line in some viewers.
        || matches!(c, '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_ansi_and_bidi_are_made_visible() {
        assert_eq!(escape("a\nINFO forged"), "a\\u{a}INFO forged");
        assert_eq!(escape("\x1b[31mred\x1b[0m"), "\\u{1b}[31mred\\u{1b}[0m");
        assert_eq!(escape("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(escape("Grünhaus 1.0"), "Grünhaus 1.0");
    }

    #[test]
    fn long_texts_are_cut_with_a_note() {
        let long = "é".repeat(MAX_PLUGIN_TEXT_BYTES);
        let shown = escape_capped(&long);
        assert!(shown.len() < MAX_PLUGIN_TEXT_BYTES + 64, "{}", shown.len());
        assert!(shown.ends_with(&format!("({} more bytes not shown)", MAX_PLUGIN_TEXT_BYTES)));
    }
}
