//! Which connections have a sync run that has not wholly ended. A run's
//! record says how it ended as soon as its end is committed, but the run
//! still has work after that: the publish rules' pass over what it changed
//! and, when recorded, writing its recording. Whoever follows a run reads
//! it as running until that work is done too, so what they read next
//! (positions, rules, the recording) is what the run left.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Shared by every clone of a [`SyncEngine`](super::SyncEngine).
#[derive(Clone, Default)]
pub struct InFlight {
    /// Connection id to the runs of it in progress (the CLI and a host may
    /// each run one against the same engine clone in tests).
    runs: Arc<Mutex<HashMap<String, usize>>>,
}

/// Held by a run from its first step to its last; counts it in flight.
pub struct InFlightRun {
    runs: Arc<Mutex<HashMap<String, usize>>>,
    connection: String,
}

fn lock(runs: &Mutex<HashMap<String, usize>>) -> MutexGuard<'_, HashMap<String, usize>> {
    // The map stays consistent whatever panicked while holding it.
    runs.lock().unwrap_or_else(|e| e.into_inner())
}

impl InFlight {
    /// Counts a run of `connection` in flight until the guard drops.
    pub fn enter(&self, connection: &str) -> InFlightRun {
        *lock(&self.runs).entry(connection.to_string()).or_default() += 1;
        InFlightRun { runs: self.runs.clone(), connection: connection.to_string() }
    }

    /// Whether a run of `connection` is in flight.
    pub fn contains(&self, connection: &str) -> bool {
        lock(&self.runs).contains_key(connection)
    }
}

impl Drop for InFlightRun {
    fn drop(&mut self) {
        let mut runs = lock(&self.runs);
        if let Some(n) = runs.get_mut(&self.connection) {
            *n -= 1;
            if *n == 0 {
                runs.remove(&self.connection);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_in_flight_while_any_of_its_runs_is() {
        let in_flight = InFlight::default();
        assert!(!in_flight.contains("c1"));
        let first = in_flight.enter("c1");
        let second = in_flight.enter("c1");
        assert!(in_flight.contains("c1"));
        assert!(!in_flight.contains("c2"), "other connections are not");
        drop(first);
        assert!(in_flight.contains("c1"), "one run is still going");
        drop(second);
        assert!(!in_flight.contains("c1"));
        assert!(lock(&in_flight.runs).is_empty(), "nothing is kept for ended runs");
    }
}
