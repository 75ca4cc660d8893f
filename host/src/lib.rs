//! atsbridge: the host between a recruiting platform and the Applicant
//! Tracking Systems its customers use.
//!
//! - [`runtime`]: the wasmtime sandbox that runs connector plugins.
//! - [`plugin`]: manifests, allow-lists, installing and caching plugins.
//! - [`contract`]: the connector contract's data types.
//! - [`conformance`]: the conformance kit, a standard suite every connector should pass.
//! - [`recording`]: record a connector's I/O in a sync run and replay another build against it.

pub mod app;
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
pub mod store;
pub mod sync;

// The three layers above the engine, left out of the unit-test build:
// their tests are integration tests (`tests/tests/all`: `service_rules`,
// `cli_text`, `api_attachment` and the rest), so compiling them a second
// time with `cfg(test)` would only cost time (about 100 CPU-seconds of
// every CI build, docs/benchmarks.md). Nothing below them names them: the
// `layers` test checks it.
#[cfg(not(test))]
pub mod api;
#[cfg(not(test))]
pub mod cli;
#[cfg(not(test))]
pub mod service;

// The layers these modules form, and the test that keeps them.
#[cfg(test)]
mod layers;
