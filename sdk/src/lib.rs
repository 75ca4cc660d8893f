//! Write [atsbridge] connector plugins in Rust.
//!
//! A connector is a WebAssembly component that teaches the atsbridge host to
//! talk to one applicant tracking system (ATS). The host runs it in a
//! sandbox: the plugin has no files, no environment, no clock-driven threads
//! and no sockets. It reaches the ATS only through the host's [`http`]
//! import, which checks every request against the plugin's allowed hosts and
//! attaches secrets (API keys, OAuth tokens) itself, so a plugin never sees a
//! credential's value.
//!
//! This crate hides the generated WIT bindings (contract
//! `atsbridge:connector@0.2.0`) behind one trait, [`Connector`], and one
//! macro, [`export_connector!`]. Around them it offers what every connector
//! needs:
//!
//! - [`Config`]: typed access to the connection's settings
//!   ([`Config::require_text`], [`Config::base_url`], [`Config::secret`]);
//! - [`http`]: a request builder over the host import, JSON in and out, and a
//!   mapping from HTTP statuses and transport failures to [`ConnectorError`]
//!   ([`http::Response::error_for_status`]);
//! - [`paging`]: the `Link: <...>; rel="next"` header and a [`PageCursor`]
//!   that turns page numbers, offsets, next-page URLs and vendor tokens into
//!   the contract's opaque cursor string;
//! - [`multipart`]: `multipart/form-data` bodies for file uploads;
//! - [`time`]: RFC 3339, epoch milliseconds and ISO 8601 basic format, the
//!   three ways ATS APIs write an instant;
//! - [`log`]: levelled logging into the host's log.
//!
//! # A complete connector
//!
//! The "Acme" ATS lists jobs at `GET /v1/jobs?page=N`, authenticates with
//! HTTP Basic (API key as the user name) and answers
//! `{"jobs": [...], "has_more": true}`.
//!
//! ```no_run
//! use atsbridge_sdk::prelude::*;
//! use serde::Deserialize;
//!
//! struct Acme;
//!
//! #[derive(Deserialize)]
//! struct JobsBody {
//!     jobs: Vec<AcmeJob>,
//!     has_more: bool,
//! }
//!
//! #[derive(Deserialize)]
//! struct AcmeJob {
//!     id: String,
//!     title: String,
//!     state: String,
//!     city: Option<String>,
//!     updated_at: Option<String>,
//! }
//!
//! /// Every request carries the API key; the host fills in its value.
//! fn get(config: &Config, path: &str) -> Result<Request, ConnectorError> {
//!     let base = config.base_url("base-url", "https://api.acme.example");
//!     Ok(Request::get(format!("{base}{path}")).basic(config.secret("api-key")?, None))
//! }
//!
//! impl Connector for Acme {
//!     fn info() -> ConnectorInfo {
//!         ConnectorInfo {
//!             name: "Acme".into(),
//!             version: "1.0.0".into(),
//!             vendor: "Example Inc.".into(),
//!             capabilities: vec![],
//!             config_schema: vec![
//!                 SettingSpec::secret("api-key", "API key")
//!                     .required()
//!                     .help("Settings > API in Acme."),
//!                 SettingSpec::url("base-url", "Base URL")
//!                     .default_value("https://api.acme.example"),
//!             ],
//!         }
//!     }
//!
//!     fn check(config: &Config) -> Result<(), ConnectorError> {
//!         get(config, "/v1/me")?.send()?.error_for_status()?;
//!         Ok(())
//!     }
//!
//!     fn list_jobs(
//!         config: &Config,
//!         cursor: Option<String>,
//!         changed_since: Option<String>,
//!     ) -> Result<JobPage, ConnectorError> {
//!         let page = paging::page_number(cursor.as_deref())?;
//!         log::info(format!("listing page {page}"));
//!         let body: JobsBody = get(config, "/v1/jobs")?
//!             .query(&[("page", page.to_string())])
//!             .query_opt("updated_since", changed_since.as_deref())
//!             .send()?
//!             .error_for_status()?
//!             .json()?;
//!         let jobs = body
//!             .jobs
//!             .into_iter()
//!             .map(|j| Job {
//!                 status: JobStatus::from_common(&j.state),
//!                 raw_status: j.state,
//!                 code: j.id,
//!                 title: j.title,
//!                 locations: j.city.into_iter().collect(),
//!                 description: String::new(),
//!                 assigned_users: vec![],
//!                 updated_at: j.updated_at,
//!                 extra: vec![],
//!             })
//!             .collect();
//!         Ok(JobPage { jobs, next_cursor: paging::next_page_cursor(page, body.has_more) })
//!     }
//! }
//!
//! atsbridge_sdk::export_connector!(Acme);
//! ```
//!
//! Build the component with
//! `cargo build --target wasm32-wasip2 --profile wasm` (the workspace's
//! `wasm` profile optimises for size, strips symbols and aborts on panic).
//!
//! # Rate limits and retries: return, do not sleep
//!
//! When the ATS answers HTTP 429, return
//! [`ConnectorError::RateLimited`] with the delay it asked for
//! ([`http::Response::error_for_status`] does this, reading `Retry-After` in
//! seconds or as an HTTP date). Do not sleep inside a call: the call's
//! deadline keeps running and the instance holds its memory while it waits.
//! The host waits instead: a sync retries the page after the asked delay
//! (bounded), and the same goes for [`ConnectorError::Transient`] (5xx,
//! timeouts, dropped connections), which it retries with backoff.
//!
//! # Testing a connector
//!
//! Off WebAssembly the host imports are stubs that panic, so unit tests
//! exercise the pure parts: decode a recorded response with
//! [`http::Response::json`], map it, check [`http::Response::error_for_status`]
//! on hand-made responses. End-to-end tests load the built component in the
//! host against a mock ATS.
//!
//! [atsbridge]: https://example.invalid/atsbridge

#![warn(missing_docs)]

/// The code `wit-bindgen` generates for the `connector` world. Connector
/// authors never name it; [`export_connector!`] does.
#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit/v0.2.0",
        world: "connector",
        // The export macro is invoked from the connector's crate.
        pub_export_macro: true,
        default_bindings_module: "atsbridge_sdk::bindings",
        // Lets tests and connectors compare contract values with `==`.
        additional_derives: [PartialEq],
    });
}

pub mod config;
mod connector;
#[doc(hidden)]
pub mod heap_growth;
pub mod http;
pub mod log;
pub mod multipart;
#[doc(hidden)]
pub mod one_call_alloc;
pub mod paging;
pub mod time;
pub mod types;

pub use config::Config;
pub use connector::Connector;
pub use paging::PageCursor;
pub use types::ConnectorError;

/// Everything a connector usually needs, in one import:
/// `use atsbridge_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::config::Config;
    pub use crate::connector::Connector;
    pub use crate::http::{self, ClientCredentials, Credential, Request, Response};
    pub use crate::log;
    pub use crate::paging::{self, PageCursor};
    pub use crate::types::*;
}

/// Support for [`export_connector!`]; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::one_call_alloc::answered;
    pub use std::option::Option;
    pub use std::result::Result;
    pub use std::string::String;
    pub use std::vec::Vec;
}

/// Compiles the README's example as a doctest, so it cannot rot.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
