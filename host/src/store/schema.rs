//! The store's schema version and the forward migrations between versions.
//!
//! The version lives in the `meta` tree. [`Store::open`](super::Store::open)
//! reads it (a new store is version 0), runs every migration above it in
//! order, and writes each step's version as soon as that step is done, so an
//! upgrade interrupted midway resumes at the step it was in. A step must
//! therefore be safe to run again over its own partial work. A store whose
//! version is newer than this binary knows is refused untouched: an older
//! binary cannot know what the newer schema means, and writing to it could
//! corrupt it.
//!
//! To change the schema: add a step to [`MIGRATIONS`] with the next
//! version, and test it on a store written by the previous version.

use tracing::info;

use super::StoreError;
use super::keys;

/// One forward step of the schema.
pub(crate) struct Migration {
    /// The version the store is at after this step.
    pub to: u32,
    /// A short name for logs and errors.
    pub name: &'static str,
    /// The step itself; must be idempotent (see the module docs).
    pub apply: fn(&sled::Db) -> Result<(), StoreError>,
}

/// Every migration, in order; the last one's `to` is the current version.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration { to: 1, name: "create", apply: create_v1 },
    Migration { to: 2, name: "connection totals", apply: count_connection_totals_v2 },
    Migration { to: 3, name: "unfinished-runs-index-and-events", apply: index_unfinished_runs_v3 },
    Migration { to: 4, name: "publication provenance", apply: super::publication::migrate_publication_v4 },
    Migration { to: 5, name: "event batches", apply: event_batches_v5 },
    Migration { to: 6, name: "events refer to position versions", apply: position_versions_v6 },
    Migration { to: 7, name: "job fingerprints and grouped position index", apply: fingerprints_and_index_v7 },
    Migration { to: 8, name: "xxh3 content hashes", apply: xxh3_content_hashes_v8 },
    Migration { to: 9, name: "job map in groups", apply: super::job_groups::group_job_map_v9 },
    Migration { to: 10, name: "binary position events", apply: binary_position_events_v10 },
];

/// The schema version this binary writes.
pub const CURRENT_VERSION: u32 = 10;

/// v10: position events are written in a binary form (`event_record`).
/// Events written before stay JSON and read as before; the step only raises
/// the version, so an older atsbridge, which cannot read binary events,
/// refuses the store instead of failing on its event log.
fn binary_position_events_v10(_db: &sled::Db) -> Result<(), StoreError> {
    Ok(())
}

/// v8: content hashes are XXH3-128 (`store/content_hash.rs`), in positions
/// and in `job_map` fingerprints (a flag tells the form). Fingerprints
/// written before stay in the SHA-256 form and are upgraded one by one as a
/// resync finds their jobs unchanged (`job_entry::upgraded_sha256`): telling
/// so needs the listed job, which a migration does not have. The step only
/// raises the version, so an older atsbridge, which would count every job as
/// updated and cannot read the new fingerprints, refuses the store instead.
fn xxh3_content_hashes_v8(_db: &sled::Db) -> Result<(), StoreError> {
    Ok(())
}

/// v7: every `job_map` entry gets its job's fingerprint
/// ([`super::job_entry::fingerprint_jobs_v7`]), so a resync tells an
/// unchanged job without reading its position; and the
/// `positions_by_connection` index of one entry per position is grouped
/// into entries of many ids ([`super::position_index::compact_v7`]), as a
/// commit now writes it. Both halves are idempotent and independent, so an
/// interrupted step is simply run again.
fn fingerprints_and_index_v7(db: &sled::Db) -> Result<(), StoreError> {
    super::job_entry::fingerprint_jobs_v7(db)?;
    super::position_index::compact_v7(db)
}

/// v6: a position's event refers to a version of its record instead of
/// holding a copy (`position_versions`), and such a record carries its
/// version (`codec`'s versioned format). Events and records written before
/// stay as they are (an event with its copy reads as before); the step
/// creates the tree and raises the version, so an older atsbridge, which
/// cannot read either, refuses the store instead of misreading it.
fn position_versions_v6(db: &sled::Db) -> Result<(), StoreError> {
    db.open_tree(keys::POSITION_VERSIONS)?;
    Ok(())
}

/// v5: a commit's events are stored as one batch record with one pending
/// mark (`event_batch`). Records written before stay as they are (single
/// events and their empty marks read as before); the step only raises the
/// version, so an older atsbridge, which cannot read batches, refuses the
/// store instead of misreading it.
fn event_batches_v5(_db: &sled::Db) -> Result<(), StoreError> {
    Ok(())
}

/// v3: creates the trees added since v1 (unfinished-run index, events,
/// webhooks) and indexes the runs still marked running. This step reads
/// every run once; afterwards startup reads only the index.
fn index_unfinished_runs_v3(db: &sled::Db) -> Result<(), StoreError> {
    for tree in keys::ALL_TREES {
        db.open_tree(tree)?;
    }
    let runs = db.open_tree(keys::SYNC_RUNS)?;
    let index = db.open_tree(keys::SYNC_RUNS_UNFINISHED)?;
    for entry in runs.iter() {
        let (key, bytes) = entry?;
        let run: super::SyncRun = super::codec::decode(keys::SYNC_RUNS, "run", &bytes)?;
        if run.outcome == super::RunOutcome::Running {
            index.insert(key, &[])?;
        }
    }
    Ok(())
}

/// v1: creates every tree. (sled creates a tree on first open; doing it here
/// makes the layout of a fresh store explicit and complete.)
fn create_v1(db: &sled::Db) -> Result<(), StoreError> {
    for tree in keys::ALL_TREES {
        db.open_tree(tree)?;
    }
    Ok(())
}

/// v2: each connection's state holds how many positions it stores and how
/// many bytes they take (page commits keep them from then on; the sync
/// bounds them). Sets absolute values, so running it again is harmless.
fn count_connection_totals_v2(db: &sled::Db) -> Result<(), StoreError> {
    use std::collections::BTreeMap;

    use super::model::ConnectionState;

    let mut totals: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for entry in db.open_tree(keys::POSITIONS)?.iter() {
        let (key, bytes) = entry?;
        let id = keys::decode_position(&key)?;
        let position = super::stored_position::decode(keys::POSITIONS, id, &bytes)?;
        let total = totals.entry(position.connection_id).or_default();
        total.0 += 1;
        total.1 += bytes.len() as u64;
    }
    let states = db.open_tree(keys::CONNECTION_STATE)?;
    for (connection_id, (count, bytes)) in totals {
        let mut state: ConnectionState = match states.get(keys::id(&connection_id))? {
            Some(stored) => super::codec::decode(keys::CONNECTION_STATE, &connection_id, &stored)?,
            None => ConnectionState { connection_id: connection_id.clone(), ..Default::default() },
        };
        state.position_count = count;
        state.stored_bytes = bytes;
        states.insert(keys::id(&connection_id), super::codec::encode("connection state", &state)?)?;
    }
    Ok(())
}

/// The version stored in `meta`; 0 for a new store.
pub(crate) fn stored_version(db: &sled::Db) -> Result<u32, StoreError> {
    let meta = db.open_tree(keys::META)?;
    match meta.get(keys::SCHEMA_VERSION_KEY)? {
        None => Ok(0),
        Some(bytes) => {
            let bytes: [u8; 4] = bytes.as_ref().try_into().map_err(|_| StoreError::Corrupt {
                tree: keys::META,
                key: "schema_version".into(),
                reason: format!("{} bytes where a 4-byte version belongs", bytes.len()),
            })?;
            Ok(u32::from_be_bytes(bytes))
        }
    }
}

/// Brings the store up to the last version of `migrations`; returns it.
pub(crate) fn migrate(db: &sled::Db, migrations: &[Migration]) -> Result<u32, StoreError> {
    let supported = migrations.last().map_or(0, |m| m.to);
    let found = stored_version(db)?;
    if found > supported {
        return Err(StoreError::SchemaTooNew { found, supported });
    }
    let meta = db.open_tree(keys::META)?;
    let mut version = found;
    for step in migrations.iter().filter(|m| m.to > found) {
        if step.to != version + 1 {
            // A gap or a duplicate in the list is a programming error; refuse
            // rather than skip a step on someone's data.
            return Err(StoreError::Migration {
                to: step.to,
                name: step.name,
                reason: format!("migrations are out of order: expected a step to {}", version + 1),
            });
        }
        info!(from = version, to = step.to, step = step.name, "migrating the store's schema");
        (step.apply)(db)?;
        meta.insert(keys::SCHEMA_VERSION_KEY, &step.to.to_be_bytes())?;
        // Durable before the next step starts, so a crash never re-runs a
        // finished step on top of later ones.
        db.flush()?;
        version = step.to;
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db() -> (tempfile::TempDir, sled::Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        (dir, db)
    }

    /// A step after the last real one, for the test: counts its runs in `meta`.
    fn count_runs(db: &sled::Db) -> Result<(), StoreError> {
        let meta = db.open_tree(keys::META)?;
        meta.update_and_fetch(b"test_runs", |old| {
            let n = old.map_or(0, |b| b.first().copied().unwrap_or(0));
            Some(vec![n + 1])
        })?;
        Ok(())
    }

    fn runs_of_step(db: &sled::Db) -> u8 {
        let meta = db.open_tree(keys::META).unwrap();
        meta.get(b"test_runs").unwrap().map_or(0, |b| b[0])
    }

    const WITH_NEXT: &[Migration] = &[
        Migration { to: 1, name: "create", apply: create_v1 },
        Migration { to: 2, name: "connection totals", apply: count_connection_totals_v2 },
        Migration { to: 3, name: "unfinished-runs-index-and-events", apply: index_unfinished_runs_v3 },
        Migration { to: 4, name: "publication provenance", apply: super::super::publication::migrate_publication_v4 },
        Migration { to: 5, name: "event batches", apply: event_batches_v5 },
        Migration { to: 6, name: "events refer to position versions", apply: position_versions_v6 },
        Migration { to: 7, name: "job fingerprints and grouped position index", apply: fingerprints_and_index_v7 },
        Migration { to: 8, name: "xxh3 content hashes", apply: xxh3_content_hashes_v8 },
        Migration { to: 9, name: "job map in groups", apply: super::super::job_groups::group_job_map_v9 },
        Migration { to: 10, name: "binary position events", apply: binary_position_events_v10 },
        Migration { to: 11, name: "count", apply: count_runs },
    ];

    #[test]
    fn the_list_ends_at_the_current_version() {
        assert_eq!(MIGRATIONS.last().map(|m| m.to), Some(CURRENT_VERSION));
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.to as usize, i + 1);
        }
    }

    #[test]
    fn a_new_store_gets_every_tree_and_the_version() {
        let (_dir, db) = temp_db();
        assert_eq!(migrate(&db, MIGRATIONS).unwrap(), CURRENT_VERSION);
        assert_eq!(stored_version(&db).unwrap(), CURRENT_VERSION);
        let names: Vec<_> = db.tree_names().into_iter().map(|n| String::from_utf8(n.to_vec()).unwrap()).collect();
        for tree in keys::ALL_TREES {
            assert!(names.iter().any(|n| n == tree), "{tree} missing from {names:?}");
        }
    }

    #[test]
    fn each_step_runs_once_and_only_the_missing_ones_run() {
        let (_dir, db) = temp_db();
        assert_eq!(migrate(&db, MIGRATIONS).unwrap(), CURRENT_VERSION);
        assert_eq!(runs_of_step(&db), 0);
        assert_eq!(migrate(&db, WITH_NEXT).unwrap(), CURRENT_VERSION + 1);
        assert_eq!(migrate(&db, WITH_NEXT).unwrap(), CURRENT_VERSION + 1);
        assert_eq!(runs_of_step(&db), 1);
    }

    #[test]
    fn a_newer_store_is_refused_untouched() {
        let (_dir, db) = temp_db();
        migrate(&db, WITH_NEXT).unwrap();
        let err = migrate(&db, MIGRATIONS).unwrap_err();
        assert!(
            matches!(err, StoreError::SchemaTooNew { found, supported: CURRENT_VERSION } if found == CURRENT_VERSION + 1),
            "{err}"
        );
        assert!(err.to_string().contains("newer"), "{err}");
        assert_eq!(stored_version(&db).unwrap(), CURRENT_VERSION + 1);
    }

    #[test]
    fn a_gap_in_the_steps_is_refused() {
        let (_dir, db) = temp_db();
        let gappy = [Migration { to: 2, name: "skip", apply: count_runs }];
        assert!(matches!(migrate(&db, &gappy), Err(StoreError::Migration { to: 2, .. })));
        assert_eq!(runs_of_step(&db), 0);
    }

    #[test]
    fn a_v1_store_gets_its_connection_totals() {
        use crate::store::model::ConnectionState;
        use crate::store::testutil::{commit_jobs, connection, temp_store};

        let (dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        commit_jobs(&store, &c.id, &[("J1", "A"), ("J2", "B")]);
        let expected = store.state(&c.id).unwrap();
        drop(store);
        let db = crate::store::testutil::reopen_db(dir.path());
        // As a v1 store held it: no totals.
        let states = db.open_tree(keys::CONNECTION_STATE).unwrap();
        let v1 = ConnectionState { position_count: 0, stored_bytes: 0, ..expected.clone() };
        states.insert(keys::id(&c.id), super::super::codec::encode("state", &v1).unwrap()).unwrap();
        count_connection_totals_v2(&db).unwrap();
        let got: ConnectionState =
            super::super::codec::decode("t", "k", &states.get(keys::id(&c.id)).unwrap().unwrap()).unwrap();
        assert_eq!((got.position_count, got.stored_bytes), (2, expected.stored_bytes));
        assert_eq!(runs_of_step(&db), 0);
    }

    #[test]
    fn a_v2_store_gets_its_unfinished_runs_indexed_once() {
        use crate::store::Trigger;
        use crate::store::testutil::{commit_jobs, connection, temp_store};

        let (dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        commit_jobs(&store, &c.id, &[("J1", "A")]);
        let running = store.start_run(&c.id, Trigger::Manual, "greenhouse", "1.0.0", true).unwrap();
        drop(store);
        let db = crate::store::testutil::reopen_db(dir.path());
        // As a v2 store held it: no index of unfinished runs.
        let index = db.open_tree(keys::SYNC_RUNS_UNFINISHED).unwrap();
        index.clear().unwrap();
        index_unfinished_runs_v3(&db).unwrap();
        index_unfinished_runs_v3(&db).unwrap();
        let indexed: Vec<_> = index.iter().keys().map(|k| k.unwrap()).collect();
        assert_eq!(indexed, vec![sled::IVec::from(keys::run(&c.id, running.seq))]);
    }

    #[test]
    fn a_v6_store_gets_its_job_fingerprints_grouped_job_map_and_index_and_resyncs_without_writing() {
        use crate::store::testutil::{commit_jobs, connection, job_entries, temp_store};

        let (dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let made = commit_jobs(&store, &c.id, &[("J1", "A"), ("J2", "B"), ("J3", "C")]);
        let fingerprinted = job_entries(&store, &c.id);
        let grouped: Vec<_> = store.trees.by_connection.iter().map(|e| e.unwrap()).collect();
        assert_eq!(grouped.len(), 1, "one commit's new positions are one index entry");
        store.flush().unwrap();
        drop(store);
        let db = crate::store::testutil::reopen_db(dir.path());
        // As a v6 store held it: each job maps to its position id alone in
        // a record of its own, and the index has one empty-valued entry per
        // position.
        db.open_tree(keys::JOB_GROUPS).unwrap().clear().unwrap();
        let job_map = db.open_tree(keys::JOB_MAP).unwrap();
        for (code, entry) in &fingerprinted {
            job_map.insert(keys::job(&c.id, code), &keys::position(entry.position)).unwrap();
        }
        let index = db.open_tree(keys::POSITIONS_BY_CONNECTION).unwrap();
        index.clear().unwrap();
        for p in &made {
            index.insert(keys::connection_position(&c.id, p.id), &[]).unwrap();
        }
        db.open_tree(keys::META).unwrap().insert(keys::SCHEMA_VERSION_KEY, &6u32.to_be_bytes()).unwrap();
        db.flush().unwrap();
        drop((job_map, index, db));

        let store = crate::store::Store::open(dir.path(), None).unwrap();
        assert_eq!(stored_version(&store.db).unwrap(), CURRENT_VERSION);
        assert_eq!(job_entries(&store, &c.id), fingerprinted, "the steps write the job entries a commit writes");
        assert!(!store.db.tree_names().iter().any(|t| t.as_ref() == keys::JOB_MAP.as_bytes()), "job_map is gone");
        let index: Vec<_> = store.trees.by_connection.iter().map(|e| e.unwrap()).collect();
        assert_eq!(index, grouped, "and the index entry a commit writes");
        fingerprints_and_index_v7(&store.db).unwrap();
        super::super::job_groups::group_job_map_v9(&store.db).unwrap();
        assert_eq!(job_entries(&store, &c.id), fingerprinted, "running the steps again changes nothing");
        let again: Vec<_> = store.trees.by_connection.iter().map(|e| e.unwrap()).collect();
        assert_eq!(again, grouped, "running the step again changes nothing");
        let listed: Vec<u64> = store.positions_of_connection(&c.id).unwrap().iter().map(|p| p.id).collect();
        assert_eq!(listed, made.iter().map(|p| p.id).collect::<Vec<_>>());
        let unchanged = commit_jobs(&store, &c.id, &[("J1", "A"), ("J2", "B"), ("J3", "C")]);
        assert_eq!(unchanged, made);
    }

    #[test]
    fn a_v3_store_keeps_its_published_and_closed_published_positions() {
        use crate::store::testutil::{commit_jobs, connection, temp_store};

        let (dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let made = commit_jobs(&store, &c.id, &[("J1", "A"), ("J2", "B"), ("J3", "C")]);
        drop(store);
        let db = crate::store::testutil::reopen_db(dir.path());
        // As a v3 store held them: J1 published, J2 closed by the sync
        // while published, J3 never published; no publication record.
        let positions = db.open_tree(keys::POSITIONS).unwrap();
        for (p, published, republish) in [(&made[0], true, false), (&made[1], false, true), (&made[2], false, false)] {
            let stored = positions.get(keys::position(p.id)).unwrap().unwrap();
            let stored = super::super::stored_position::decode(keys::POSITIONS, p.id, &stored).unwrap();
            let mut v = serde_json::to_value(&stored).unwrap();
            v.as_object_mut().unwrap().remove("publication");
            v["published"] = published.into();
            v["republish_on_reopen"] = republish.into();
            if republish {
                v["status"] = "closed".into();
                v["closed_reason"] = "closed_in_ats".into();
            }
            let mut bytes = vec![1u8];
            bytes.extend(serde_json::to_vec(&v).unwrap());
            positions.insert(keys::position(p.id), bytes).unwrap();
        }
        super::super::publication::migrate_publication_v4(&db).unwrap();
        let first: Vec<_> = positions.iter().values().map(|v| v.unwrap()).collect();
        super::super::publication::migrate_publication_v4(&db).unwrap();
        let again: Vec<_> = positions.iter().values().map(|v| v.unwrap()).collect();
        assert_eq!(first, again, "running the step again changes nothing");
        db.flush().unwrap();
        drop((positions, db));
        let store = crate::store::Store::open(dir.path(), None).unwrap();
        let p1 = store.position(made[0].id).unwrap().unwrap();
        assert!(p1.published && p1.wants_published() && p1.decided_by_user());
        let public_id = p1.publication.public_id.clone().unwrap();
        assert_eq!(store.position_by_public_id(&public_id).unwrap().unwrap().id, p1.id);
        let p2 = store.position(made[1].id).unwrap().unwrap();
        assert!(!p2.published && p2.wants_published(), "closed by the sync; published again on reopen");
        let p3 = store.position(made[2].id).unwrap().unwrap();
        assert!(!p3.published && p3.publication.decision.is_none() && p3.publication.public_id.is_none());
    }
}
