//! The `log` import: guest log lines go into the host's tracing, tagged with
//! plugin and connection, within a per-call budget so a chatty or hostile
//! plugin cannot flood the host's log. Each message is cut to a size cap and
//! escaped ([`crate::display::escape`]), so a newline or an ANSI escape in it
//! cannot forge a host log line or rewrite the operator's terminal.

use super::bindings::LogLevel;
use crate::display::{escape, truncate};

/// Lines a plugin may log per call; the rest are counted and dropped.
pub const LOG_LINES_PER_CALL: u32 = 1_000;
/// Longest message kept; longer ones are cut at a character boundary.
pub const MAX_LOG_MESSAGE_BYTES: usize = 4 * 1024;

/// Per-call log state.
#[derive(Debug)]
pub struct GuestLog {
    plugin: String,
    connection: Option<String>,
    lines: u32,
    dropped: u64,
}

impl GuestLog {
    pub fn new(plugin: &str, connection: Option<&str>) -> Self {
        GuestLog { plugin: plugin.to_string(), connection: connection.map(str::to_string), lines: 0, dropped: 0 }
    }

    /// Emits one guest log line, or counts it when over budget.
    pub fn log(&mut self, level: LogLevel, message: &str) {
        if self.lines >= LOG_LINES_PER_CALL {
            if self.dropped == 0 {
                tracing::warn!(
                    plugin = %self.plugin,
                    connection = self.connection.as_deref().unwrap_or("-"),
                    "plugin exceeded {LOG_LINES_PER_CALL} log lines in one call; dropping the rest"
                );
            }
            self.dropped += 1;
            return;
        }
        self.lines += 1;
        let message = escape(truncate(message, MAX_LOG_MESSAGE_BYTES));
        let plugin = self.plugin.as_str();
        let connection = self.connection.as_deref().unwrap_or("-");
        // tracing needs the level at compile time, hence one arm per level.
        match level {
            LogLevel::Trace => tracing::trace!(target: "atsbridge::plugin", plugin, connection, "{message}"),
            LogLevel::Debug => tracing::debug!(target: "atsbridge::plugin", plugin, connection, "{message}"),
            LogLevel::Info => tracing::info!(target: "atsbridge::plugin", plugin, connection, "{message}"),
            LogLevel::Warn => tracing::warn!(target: "atsbridge::plugin", plugin, connection, "{message}"),
            LogLevel::Error => tracing::error!(target: "atsbridge::plugin", plugin, connection, "{message}"),
        }
    }

    /// Lines dropped over budget in this call.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_drops_excess_lines() {
        let mut log = GuestLog::new("p", Some("c"));
        for _ in 0..(LOG_LINES_PER_CALL + 10) {
            log.log(LogLevel::Debug, "x");
        }
        assert_eq!(log.dropped(), 10);
    }

    #[test]
    fn truncates_at_char_boundary() {
        let s = "é".repeat(10);
        assert_eq!(truncate(&s, 5), "éé");
        assert_eq!(truncate("abc", 5), "abc");
    }

    #[test]
    fn a_message_cannot_forge_a_host_line() {
        let forged = "ok\n2026-01-01T00:00:00Z  INFO atsbridge: plugin installed\x1b[2K";
        let logged = escape(truncate(forged, MAX_LOG_MESSAGE_BYTES));
        assert!(!logged.contains('\n') && !logged.contains('\x1b'), "{logged}");
    }
}
