//! Levelled logging into the host's log.
//!
//! The host tags every line with the plugin and the connection, and may cap
//! or sample a flood of lines, so log what helps an operator follow a sync
//! ("listing page 3", "candidate 42 already exists") and never credentials
//! (which a plugin cannot see anyway) or candidate personal data.
//!
//! ```no_run
//! use atsbridge_sdk::log;
//! log::info("checking the connection");
//! log::warn(format!("skipping job {} without a title", "J7"));
//! ```
//!
//! Off WebAssembly (in native unit tests) the host import is a stub that
//! panics, so keep logging out of code under native test.

use crate::bindings::atsbridge::connector::log as wit;

pub use crate::bindings::atsbridge::connector::log::Level;

/// Logs `message` at `level`.
pub fn log(level: Level, message: impl AsRef<str>) {
    wit::log(level, message.as_ref());
}

/// Logs at [`Level::Trace`]: step-by-step detail.
pub fn trace(message: impl AsRef<str>) {
    log(Level::Trace, message);
}

/// Logs at [`Level::Debug`]: detail for diagnosing a connection.
pub fn debug(message: impl AsRef<str>) {
    log(Level::Debug, message);
}

/// Logs at [`Level::Info`]: progress an operator wants to see.
pub fn info(message: impl AsRef<str>) {
    log(Level::Info, message);
}

/// Logs at [`Level::Warn`]: something odd the connector worked around.
pub fn warn(message: impl AsRef<str>) {
    log(Level::Warn, message);
}

/// Logs at [`Level::Error`]: a failure, usually also returned as an error.
pub fn error(message: impl AsRef<str>) {
    log(Level::Error, message);
}
