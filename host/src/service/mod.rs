//! The application service layer: every operation on plugins, accounts,
//! API keys, connections, runs and positions, with its rules — id checks,
//! validation against a plugin's schema, in-use checks, tenant scoping —
//! written once. The HTTP API and the CLI (directly, or through the API of
//! a running host) both call it, so they cannot drift apart.
//!
//! Every operation takes the [`Caller`]: the operator reaches everything;
//! an account's API key reaches that account's connections, positions and
//! runs only, and anything else answers "does not exist", exactly as an id
//! that does not exist would, so ids of other tenants cannot be probed.

pub mod accounts;
pub mod candidates;
pub mod connections;
pub mod dto;
mod error;
pub mod metering_dto;
pub mod outbox;
pub mod page;
pub mod plugin_dir;
pub mod plugins;
pub mod positions;
pub mod publish_dto;
pub mod publishing;
pub mod push_history;
pub mod recordings;
pub mod stages;
pub mod webhooks;

use crate::app::App;
use crate::scheduler::{Scheduler, SchedulerLimits};
use crate::store::Connection;
use crate::sync::SyncEngine;

pub use error::{ErrorKind, ServiceError};

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The operator of the host: every route.
    Operator,
    /// An API key of this account: its own connections, positions and runs.
    Account(String),
}

impl Caller {
    /// Whether the caller may see records of `account_id`.
    pub fn sees(&self, account_id: &str) -> bool {
        match self {
            Caller::Operator => true,
            Caller::Account(own) => own == account_id,
        }
    }

    /// Refuses anything but the operator.
    pub fn require_operator(&self) -> Result<(), ServiceError> {
        match self {
            Caller::Operator => Ok(()),
            Caller::Account(_) => Err(ServiceError::OperatorOnly),
        }
    }
}

/// The service: the assembled host and its scheduler. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    pub app: App,
    pub scheduler: Scheduler<SyncEngine>,
    /// The outbox worker of a serving host; `None` without one (entries
    /// then wait on disk for the next `serve`).
    pub outbox: Option<crate::outbox::Outbox>,
}

impl Service {
    /// A service whose scheduler holds every enabled connection (for
    /// `serve`; the caller runs the scheduler).
    pub fn serving(app: App, limits: SchedulerLimits) -> Result<Service, ServiceError> {
        let scheduler = app.scheduler(limits).map_err(ServiceError::internal)?;
        Ok(Service { app, scheduler, outbox: None })
    }

    /// The service with the serving host's outbox worker.
    pub fn with_outbox(mut self, outbox: crate::outbox::Outbox) -> Service {
        self.outbox = Some(outbox);
        self
    }

    /// A service for one command without a running host: its scheduler is
    /// never started, it only runs "sync now" under the usual rules.
    pub fn local(app: App) -> Result<Service, ServiceError> {
        app.engine.recover_interrupted().map_err(ServiceError::internal)?;
        let scheduler = Scheduler::new(app.engine.clone(), SchedulerLimits::default());
        Ok(Service { app, scheduler, outbox: None })
    }

    /// A connection the caller may see, or "does not exist".
    pub(crate) fn visible_connection(&self, caller: &Caller, id: &str) -> Result<Connection, ServiceError> {
        let not_found = || ServiceError::NotFound { what: "connection", id: id.to_string() };
        if !valid_record_id(id) {
            return Err(not_found());
        }
        match self.app.store.connection(id).map_err(ServiceError::internal)? {
            Some(c) if caller.sees(&c.account_id) => Ok(c),
            _ => Err(not_found()),
        }
    }

    /// An account the caller may see, or "does not exist".
    pub(crate) fn visible_account(&self, caller: &Caller, id: &str) -> Result<crate::store::Account, ServiceError> {
        let not_found = || ServiceError::NotFound { what: "account", id: id.to_string() };
        if !valid_record_id(id) || !caller.sees(id) {
            return Err(not_found());
        }
        self.app.store.account(id).map_err(ServiceError::internal)?.ok_or_else(not_found)
    }
}

/// The longest id of an account, connection or plugin accepted.
pub const MAX_ID_LEN: usize = 64;

/// Whether `id` is shaped like a plugin id: `[a-z0-9][a-z0-9-]*`, at most
/// [`MAX_ID_LEN`]. Checked before an id from a request reaches a path.
pub fn valid_plugin_id(id: &str) -> bool {
    valid_record_id(id)
}

/// Account and connection ids are slugs of the same shape.
fn valid_record_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    id.len() <= MAX_ID_LEN
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}
