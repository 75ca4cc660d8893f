//! Run retention and the unfinished-run index.

use super::testutil::{commit_jobs, connection, temp_store};
use super::{RunOutcome, Trigger};

#[test]
fn old_runs_are_pruned_to_the_configured_number() {
    let (_dir, store) = temp_store();
    let store = store.with_runs_kept(3);
    let c = connection(&store, "Greenhouse");
    for _ in 0..7 {
        commit_jobs(&store, &c.id, &[("J1", "Engineer")]);
    }
    let runs = store.runs(&c.id, 100).unwrap();
    assert_eq!(runs.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![7, 6, 5]);
    // Positions and their history are untouched.
    assert_eq!(store.positions_of_connection(&c.id).unwrap().len(), 1);
}

#[test]
fn unfinished_runs_come_from_the_index() {
    let (_dir, store) = temp_store();
    let c = connection(&store, "Greenhouse");
    commit_jobs(&store, &c.id, &[("J1", "Engineer")]);
    let running = store.start_run(&c.id, Trigger::Scheduled, "greenhouse", "1.0.0", true).unwrap();
    let unfinished = store.unfinished_runs().unwrap();
    assert_eq!(unfinished.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![running.seq]);
    // A finished run never appears there, even though its record is in `sync_runs`.
    assert_eq!(store.trees.runs_unfinished.len(), 1);
    let mut ended = running;
    ended.outcome = RunOutcome::Interrupted;
    store.commit_run_end(ended, |_| {}, &[]).unwrap();
    assert!(store.unfinished_runs().unwrap().is_empty());
    assert!(store.trees.runs_unfinished.is_empty());
}
