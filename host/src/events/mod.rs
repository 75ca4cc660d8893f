//! Outbound events: webhooks to the platform when a sync creates,
//! updates, closes, reopens or removes a position.
//!
//! The store writes each event in the same transaction as the change
//! (`store::events`); this module delivers them. The [`worker`] runs in
//! `serve`: it fans new events out into one delivery per endpoint, POSTs
//! each signed ([`signing`]), and retries failures with exponential
//! backoff until a 2xx or [`worker::MAX_ATTEMPTS`]. Delivery is at least
//! once: an event may arrive twice (a crash between the POST and its
//! record), never not at all while its endpoint exists; receivers drop
//! duplicates by the event's `id`.

pub mod signing;
pub mod worker;

pub use worker::{DeliveryPolicy, WebhookWorker};
