//! What the public side of publishing is given: its settings (configuration
//! `[publish]`) and an application as its form delivers it. The routes
//! themselves (`/p/{public id}`) are the API's (`api::public_pages`).

use super::upload::ResumeKind;

/// Default largest resume: 10 MiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 10 << 20;
/// Default sustained submissions per client address and minute.
pub const DEFAULT_APPLY_PER_MINUTE: u32 = 10;
/// Default burst of submissions per client address.
pub const DEFAULT_APPLY_BURST: u32 = 5;

/// The public side's settings (configuration `[publish]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicSettings {
    /// The largest resume accepted, bytes.
    pub max_upload_bytes: u64,
    /// Sustained submissions per client address and minute.
    pub apply_per_minute: u32,
    /// Submissions a client address may make at once.
    pub apply_burst: u32,
}

impl Default for PublicSettings {
    fn default() -> Self {
        PublicSettings {
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            apply_per_minute: DEFAULT_APPLY_PER_MINUTE,
            apply_burst: DEFAULT_APPLY_BURST,
        }
    }
}

/// An application sent through a position's public form.
#[derive(Debug)]
pub struct Application {
    /// The candidate's name.
    pub name: String,
    /// The candidate's email.
    pub email: String,
    /// The uploaded file's name, as the browser sent it.
    pub file_name: String,
    /// Its type, from its content.
    pub kind: ResumeKind,
    /// The resume.
    pub bytes: Vec<u8>,
}
