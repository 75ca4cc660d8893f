//! The scheduler's runner in the host: the sync engine.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{RunReport, Runner};
use crate::store::Trigger;
use crate::sync::{NoProgress, SyncEngine};

/// Failure kinds worth retrying within the hour: the ATS was busy or down,
/// or the host stopped the run for a shutdown (never a reason to flag).
const RETRYABLE: &[&str] = &["transient", "rate-limited", "timeout", "stopped"];

impl Runner for SyncEngine {
    fn run(&self, connection_id: Arc<str>, trigger: Trigger) -> Pin<Box<dyn Future<Output = RunReport> + Send>> {
        let engine = self.clone();
        Box::pin(async move {
            match engine.sync(&connection_id, trigger, &NoProgress).await {
                Ok(_) => RunReport::Succeeded,
                Err(e) => {
                    let failures = engine.store().state(&connection_id).map(|s| s.consecutive_failures).unwrap_or(1);
                    RunReport::Failed {
                        retryable: RETRYABLE.contains(&e.kind().as_str()),
                        consecutive_failures: failures.max(1),
                        message: e.to_string(),
                    }
                }
            }
        })
    }

    fn scheduled(&self, connection_id: &str, next: chrono::DateTime<chrono::Utc>) {
        if let Err(e) = self.store().update_state(connection_id, |s| s.next_run_unix = Some(next.timestamp())) {
            tracing::warn!(connection = connection_id, error = %e, "could not record the next run");
        }
    }

    fn flag(&self, connection_id: &str, reason: &str) {
        tracing::error!(connection = connection_id, reason, "connection keeps failing; flagged for attention");
        if let Err(e) = self.store().update_state(connection_id, |s| s.flagged = true) {
            tracing::error!(connection = connection_id, error = %e, "could not flag the connection");
        }
    }
}
