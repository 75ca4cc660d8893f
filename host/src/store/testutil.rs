//! Helpers shared by the store's unit tests.

use secrecy::SecretString;

use super::model::{NewConnection, NewSetting};
use super::{
    Checkpoint, Connection, ConnectionQuota, JobPatch, PageCommit, Position, RunOutcome, SecretKey, Store, SyncRun,
    Trigger,
};
use crate::contract::{AtsUser, Field, Job, JobStatus};

/// A fixed test key (hex of 0x00..0x1f).
pub(crate) const HEX_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

/// A fresh store with the test key, in a directory deleted on drop.
pub(crate) fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Some(SecretKey::parse(HEX_KEY).expect("test key"))).expect("open store");
    (dir, store)
}

/// The database under a store this test just dropped. sled lets go of its
/// lock only when its last background thread is done, a moment after the
/// last handle (and the store's closing settle, `Settle`): a plain
/// `sled::open` then fails now and then on a loaded machine. This waits
/// as `Store::open` does.
pub(crate) fn reopen_db(path: &std::path::Path) -> sled::Db {
    super::open_waiting_for_lock(path).expect("reopen the store's database")
}

/// Adds account `acme` (if needed) and a connection named `name` to it,
/// with one text and one secret setting.
pub(crate) fn connection(store: &Store, name: &str) -> Connection {
    if store.account("acme").expect("read account").is_none() {
        store.add_account("acme", "UTC").expect("add account");
    }
    store
        .add_connection(NewConnection {
            account_id: "acme".into(),
            name: name.into(),
            plugin_id: "greenhouse".into(),
            settings: vec![
                ("board".into(), NewSetting::Text("acme-board".into())),
                ("api_key".into(), NewSetting::Secret(SecretString::from("sk-live-PLAINTEXT-42"))),
            ],
            extra_hosts: vec![],
            schedule: None,
        })
        .expect("add connection")
}

/// An open job as a connector would list it.
pub(crate) fn job(code: &str, title: &str) -> Job {
    Job {
        code: code.into(),
        status: JobStatus::Open,
        raw_status: "open".into(),
        title: title.into(),
        locations: vec!["Paris".into()],
        description: "<p>Build things</p>".into(),
        assigned_users: vec![AtsUser { ats_id: "u1".into(), name: "Ann".into(), email: None }],
        updated_at: Some("2026-05-01T10:00:00Z".into()),
        extra: vec![Field { key: "dept".into(), value: "R&D".into() }],
    }
}

/// One whole successful run listing `jobs` (code, title) in one page, as
/// the sync engine does it; returns the positions as stored.
pub(crate) fn commit_jobs(store: &Store, connection_id: &str, jobs: &[(&str, &str)]) -> Vec<Position> {
    let patches = jobs.iter().map(|(code, title)| JobPatch::from_job(&job(code, title))).collect();
    commit_patches(store, connection_id, patches)
}

/// One whole successful run committing `patches` in one page.
pub(crate) fn commit_patches(store: &Store, connection_id: &str, patches: Vec<JobPatch>) -> Vec<Position> {
    let run = store.start_run(connection_id, Trigger::Manual, "greenhouse", "1.0.0", true).expect("start run");
    let checkpoint = Checkpoint {
        run_seq: run.seq,
        cursor: None,
        pages_done: 1,
        full_listing: true,
        listing_started_unix: run.started_unix,
        written_unix: run.started_unix,
    };
    let done = store
        .commit_page(PageCommit {
            connection_id: connection_id.into(),
            run,
            patches,
            checkpoint: Some(checkpoint),
            checkpoint_due: true,
            quota: ConnectionQuota::UNLIMITED,
        })
        .expect("commit page");
    let mut run = done.run;
    run.outcome = RunOutcome::Succeeded;
    store.commit_run_end(run, |s| s.checkpoint = None, &[]).expect("end run");
    done.changes.iter().map(|c| store.position(c.id).expect("read").expect("stored")).collect()
}

/// Overwrites a run's record with bytes no decoder accepts, so a test can
/// show which reads never touch it.
pub(crate) fn corrupt_run(store: &Store, connection_id: &str, seq: u64) {
    store.trees.runs.insert(super::keys::run(connection_id, seq), &b"\xffnot a run"[..]).expect("write run");
}

/// The bytes (keys and values) inserted since `subscribers` were made, as
/// sled reports them: the oracle a count of bytes written is held to.
pub(crate) fn inserted_bytes(subscribers: &mut [sled::Subscriber]) -> u64 {
    let mut bytes = 0;
    for s in subscribers {
        while let Ok(event) = s.next_timeout(std::time::Duration::from_millis(50)) {
            if let sled::Event::Insert { key, value } = event {
                bytes += (key.len() + value.len()) as u64;
            }
        }
    }
    bytes
}

/// A new candidate for `position_id` with `email`, placed by a user.
pub(crate) fn new_candidate(position_id: u64, email: &str) -> super::NewCandidate {
    super::NewCandidate {
        position_id,
        name: "Ada Lovelace".into(),
        email: email.into(),
        phone: None,
        links: Vec::new(),
        resume: None,
        answers: Default::default(),
        source: None,
        stage_id: None,
        by: super::MovedBy::User { name: "t".into() },
    }
}

/// A page of `patches` for `run` that needs no checkpoint (as most pages of
/// a resync).
pub(crate) fn page_without_checkpoint(run: &SyncRun, patches: Vec<JobPatch>) -> PageCommit {
    PageCommit {
        connection_id: run.connection_id.clone(),
        run: run.clone(),
        patches,
        checkpoint: None,
        checkpoint_due: false,
        quota: ConnectionQuota::UNLIMITED,
    }
}

/// Every job of a connection's job map, in code order.
pub(crate) fn job_entries(store: &Store, connection_id: &str) -> Vec<(String, super::job_entry::JobEntry)> {
    let mut jobs = Vec::new();
    super::job_groups::for_each_job(&store.trees.job_groups, connection_id, |code, entry| {
        jobs.push((code.to_string(), entry));
        Ok(())
    })
    .unwrap();
    jobs.sort_by(|a, b| a.0.cmp(&b.0));
    jobs
}

/// The entry of one job of a connection's job map.
pub(crate) fn job_entry(store: &Store, connection_id: &str, code: &str) -> Option<super::job_entry::JobEntry> {
    job_entries(store, connection_id).into_iter().find(|(c, _)| c == code).map(|(_, e)| e)
}
