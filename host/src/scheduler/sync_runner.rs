//! The scheduler's runner in the host: the sync engine.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{RunReport, Runner};
use crate::store::Trigger;
use crate::sync::{NoProgress, RunOptions, SyncEngine};

impl Runner for SyncEngine {
    fn run(&self, connection_id: Arc<str>, trigger: Trigger) -> Pin<Box<dyn Future<Output = RunReport> + Send>> {
        self.run_with(connection_id, RunOptions::new(trigger))
    }

    fn run_with(
        &self,
        connection_id: Arc<str>,
        options: RunOptions,
    ) -> Pin<Box<dyn Future<Output = RunReport> + Send>> {
        let engine = self.clone();
        Box::pin(async move {
            match engine.sync_with(&connection_id, options, &NoProgress).await {
                Ok(_) => RunReport::Succeeded,
                Err(e) => {
                    let (store, id) = (engine.store().clone(), connection_id.clone());
                    let failures =
                        tokio::task::spawn_blocking(move || store.state(&id).map(|s| s.consecutive_failures))
                            .await
                            .ok()
                            .and_then(Result::ok)
                            .unwrap_or(1);
                    RunReport::Failed {
                        retryable: e.is_retryable(),
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

    fn retry_scheduled(&self, connection_id: &str, at: DateTime<Utc>) {
        if let Err(e) = self.store().update_state(connection_id, |s| s.next_retry_unix = Some(at.timestamp())) {
            tracing::warn!(connection = connection_id, error = %e, "could not record the retry");
        }
    }

    fn flag(&self, connection_id: &str, reason: &str) {
        tracing::error!(connection = connection_id, reason, "connection keeps failing; flagged for attention");
        let update = |s: &mut crate::store::ConnectionState| {
            s.flagged = true;
            s.next_retry_unix = None;
            s.flag_reason.get_or_insert_with(|| reason.to_string());
        };
        if let Err(e) = self.store().update_state(connection_id, update) {
            tracing::error!(connection = connection_id, error = %e, "could not flag the connection");
        }
    }
}
