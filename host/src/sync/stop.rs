//! Stopping syncs for a shutdown: no new run starts, running ones stop at
//! their next page commit (with the checkpoint, so the next start resumes
//! there), and the host waits for them to drain.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

/// Shared by every clone of a [`SyncEngine`](super::SyncEngine).
#[derive(Clone)]
pub struct StopSignal {
    stopping: Arc<AtomicBool>,
    /// Runs in progress.
    active: Arc<watch::Sender<usize>>,
}

impl Default for StopSignal {
    fn default() -> Self {
        StopSignal { stopping: Arc::default(), active: Arc::new(watch::Sender::new(0)) }
    }
}

/// Held by a run while it goes; counts it as active.
pub struct ActiveRun(Arc<watch::Sender<usize>>);

impl Drop for ActiveRun {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl StopSignal {
    /// Asks every run to stop at its next page commit; refuses new ones.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked for.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Counts a run as active, or `None` when stopping.
    pub fn enter(&self) -> Option<ActiveRun> {
        self.active.send_modify(|n| *n += 1);
        let guard = ActiveRun(self.active.clone());
        (!self.is_stopping()).then_some(guard)
    }

    /// Runs in progress.
    pub fn active(&self) -> usize {
        *self.active.borrow()
    }

    /// Waits until no run is active, at most `limit`; whether they drained.
    pub async fn drained(&self, limit: Duration) -> bool {
        let mut rx = self.active.subscribe();
        tokio::time::timeout(limit, rx.wait_for(|n| *n == 0)).await.is_ok_and(|r| r.is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stopping_refuses_new_runs_and_waits_for_running_ones() {
        let stop = StopSignal::default();
        let run = stop.enter().unwrap();
        stop.stop();
        assert!(stop.enter().is_none());
        assert_eq!(stop.active(), 1);
        assert!(!stop.drained(Duration::from_millis(20)).await);
        drop(run);
        assert!(stop.drained(Duration::from_millis(20)).await);
    }
}
