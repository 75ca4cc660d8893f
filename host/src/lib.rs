//! atsbridge: the host between a recruiting platform and the Applicant
//! Tracking Systems its customers use.
//!
//! - [`runtime`]: the wasmtime sandbox that runs connector plugins.
//! - [`plugin`]: manifests, allow-lists, installing and caching plugins.
//! - [`contract`]: the connector contract's data types.
//! - [`conformance`]: the conformance kit, a standard suite every connector should pass.
//! - [`recording`]: record a connector's I/O in a sync run and replay another build against it.

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod conformance;
pub mod contract;
pub mod display;
pub mod events;
pub mod metrics;
pub mod outbox;
pub mod plugin;
pub mod publish;
pub mod recording;
pub mod runtime;
pub mod scheduler;
pub mod service;
pub mod store;
pub mod sync;

// The layers these modules form, and the test that keeps them.
#[cfg(test)]
mod layers;
