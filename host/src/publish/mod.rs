//! Publishing positions to candidates: auto-publish rules with ad
//! templates, the pass that applies them, and the public page of a
//! published position and what its application form delivers.
//!
//! - [`filter`]: which positions a rule matches (bounded patterns).
//! - [`template`]: the rule's ad, rendered in a sandbox.
//! - [`rules`]: compiling a connection's rules and applying them to its
//!   positions, after each sync and on request.
//! - [`upload`]: what a resume file is, by its content.
//! - [`page`]: the public HTML (autoescaped, ATS HTML sanitized).
//! - [`public`]: the public side's settings and an application as its
//!   form delivers it (the routes are the API's).
//!
//! Who decided what, and which decision wins, is recorded on the position
//! (see the store's `publication` module).

pub mod filter;
pub mod page;
pub mod public;
mod ratelimit;
pub mod rules;
pub mod template;
pub mod upload;

pub use ratelimit::RateLimit;
pub use rules::{ApplyReport, CompiledRules, apply_rules};

/// Why a rule, a template or a publication was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// A filter does not compile or names something unknown.
    #[error("filter: {0}")]
    Filter(String),
    /// A template is not allowed, does not compile, or failed to render.
    #[error("template: {0}")]
    Template(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
