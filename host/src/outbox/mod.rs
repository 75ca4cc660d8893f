//! The durable candidate outbox: pushes and stage moves bound for an ATS.
//!
//! # Why an outbox
//!
//! "Send to ATS" must survive anything: a crash before the call, while the
//! ATS answers, after it accepted but before we recorded it. So a request
//! is only ever a record: the store writes the outbox entry in the same
//! transaction that marks the candidate queued, and answers once that is
//! on disk. A worker then makes the call; the answer (the ATS's candidate
//! and application ids, or its refusal) is written in one transaction with
//! the entry's removal. A crash anywhere leaves the entry in place, and the
//! next start tries it again.
//!
//! # Why that is exactly once
//!
//! A retry carries the same idempotency key ([`key::push_key`], derived
//! from the candidate and the position, never from the attempt), and the
//! connectors find a candidate they already created (the shipped ones by
//! e-mail address, as the ATS APIs take no idempotency key) and answer
//! `existing: true` with its ids instead of creating another. Pushes of one
//! candidate are serialized, so two attempts of the same push never race
//! each other to the ATS; and an attempt cut short by a crash (or ended by
//! a timeout) is not followed by another before its request can no longer
//! be running at the ATS ([`in_flight`]), so the look-up sees what it
//! created.
//!
//! # Order and concurrency
//!
//! Each candidate with entries has one task that works through them in the
//! order they were queued (a push before the moves that follow it); tasks of
//! different candidates run concurrently, at most
//! [`OutboxOptions::per_connection`] at a time per connection, and never
//! more than the runtime's calls per connection ([`max_in_flight`]).

pub mod in_flight;
pub mod key;
pub mod pipeline;
pub mod prepare;
pub mod reconcile;
pub mod resume_link;
pub mod retry;
mod worker;

pub use resume_link::ResumeLinks;
pub use retry::{Failure, RetryPolicy, Verdict};
pub use worker::{DEFAULT_PER_CONNECTION, Outbox, OutboxOptions, OutboxStats, PushPhases, max_in_flight};
