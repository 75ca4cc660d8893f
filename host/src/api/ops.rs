//! Routes for operating the host, documented in the OpenAPI document with
//! the rest:
//!
//! | method | path | who |
//! | --- | --- | --- |
//! | GET | `/healthz` | anyone: alive (always 200 while the process serves) |
//! | GET | `/readyz` | anyone: 200 when the store is open, the scheduler running and plugins loaded; else 503 |
//! | GET | `/metrics` | operator: Prometheus text |
//! | GET | `/api/v1/backup` | operator: a consistent snapshot of the store, streamed |
//! | POST, GET | `/api/v1/accounts/{account}/webhooks` | operator or the account's key: register (the signing secret is answered once), list |
//! | DELETE | `/api/v1/accounts/{account}/webhooks/{webhook}` | operator or the account's key: remove an endpoint and its delivery log |
//! | GET | `/api/v1/accounts/{account}/webhooks/{webhook}/deliveries` | operator or the account's key: the delivery log, newest first |
//!
//! `serve` hands the readiness flags to the router with
//! [`serving_router`](super::serving_router).

use std::sync::atomic::{AtomicBool, Ordering};

use super::{ApiRouter, backup, health, metrics, webhooks};

/// What the readiness check reports, set by `serve` as it starts.
#[derive(Debug, Default)]
pub struct Readiness {
    /// The scheduler's loop is running.
    pub scheduler_running: AtomicBool,
    /// Every plugin an enabled connection uses loaded.
    pub plugins_loaded: AtomicBool,
}

impl Readiness {
    pub(super) fn scheduler(&self) -> bool {
        self.scheduler_running.load(Ordering::SeqCst)
    }

    pub(super) fn plugins(&self) -> bool {
        self.plugins_loaded.load(Ordering::SeqCst)
    }
}

/// The operating routes.
pub(super) fn routes() -> ApiRouter {
    ApiRouter::new().merge(health::routes()).merge(metrics::routes()).merge(backup::routes()).merge(webhooks::routes())
}
