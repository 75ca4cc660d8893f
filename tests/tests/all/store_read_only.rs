//! A read-only command must not rewrite the store: opening it for
//! `account list` after a sync of a few thousand jobs leaves the data
//! directory's files (their sizes and contents) as they were, within a
//! small bound.

use std::collections::BTreeMap;
use std::path::Path;

use atsbridge::app::App;
use atsbridge::plugin::bundled;
use atsbridge::store::{SecretKey, Trigger};
use atsbridge::sync::NoProgress;
use atsbridge_mock_ats::{MockAts, MockConfig, Vendor};

use crate::api_support::{cli, ok};

/// Jobs synced before the read-only command: enough for sled's snapshot
/// and log to be megabytes.
const JOBS: usize = 3_000;
/// Bytes a read-only open may change (sled may touch a few small files).
const MAX_CHANGED_BYTES: u64 = 64 << 10;

/// Every file under `dir` with its size and a digest of its contents.
fn files(dir: &Path) -> BTreeMap<String, (u64, u64)> {
    use std::hash::{Hash, Hasher};
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                let mut h = std::collections::hash_map::DefaultHasher::new();
                bytes.hash(&mut h);
                out.insert(path.strip_prefix(dir).unwrap().display().to_string(), (bytes.len() as u64, h.finish()));
            }
        }
    }
    out
}

/// Bytes of files that appeared, disappeared or changed between `a` and `b`.
fn changed_bytes(a: &BTreeMap<String, (u64, u64)>, b: &BTreeMap<String, (u64, u64)>) -> (u64, Vec<String>) {
    let mut bytes = 0;
    let mut names = Vec::new();
    for name in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
        match (a.get(name), b.get(name)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                bytes += x.map_or(0, |v| v.0).max(y.map_or(0, |v| v.0));
                names.push(name.clone());
            }
        }
    }
    (bytes, names)
}

/// A data directory after a sync of [`JOBS`] jobs whose writer has
/// closed; returns the directory's guard, the data path and the key.
async fn synced_data_dir() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = crate::api_support::secret_key();
    {
        let mock = MockAts::start(Vendor::Greenhouse, MockConfig { jobs: JOBS, ..Default::default() }).await.unwrap();
        let app = App::open(&data, Some(SecretKey::parse(&key).unwrap())).unwrap();
        bundled::install_bundled(&app.runtime, "greenhouse").await.unwrap();
        app.store.add_account("Acme", "UTC").unwrap();
        let hosts = vec![mock.base_url().trim_end_matches('/').to_string()];
        let settings = bundled::mock_settings("greenhouse", &mock);
        let c = app.add_connection("acme", "gh", "greenhouse", &settings, hosts, None).unwrap();
        let run = app.engine.sync(&c.id, Trigger::Scheduled, &NoProgress).await.unwrap();
        assert_eq!(run.counts.created as usize, JOBS);
        app.store.flush().unwrap();
    }
    (dir, data, key)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_read_only_command_after_a_sync_writes_no_snapshot() {
    let (_dir, data, key) = synced_data_dir().await;
    // The writer closed cleanly: sled's log is already folded into a
    // snapshot, so the first reader has nothing to recover or write.
    let written = files(&data);
    let out = ok(cli(&data, &key, &["account", "list"]));
    assert!(out.contains("acme"), "{out}");
    let (bytes, names) = changed_bytes(&written, &files(&data));
    assert!(
        bytes <= MAX_CHANGED_BYTES,
        "the first read-only command after a sync changed {bytes} bytes of the data directory: {names:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_command_leaves_the_store_files_as_they_were() {
    let (_dir, data, key) = synced_data_dir().await;
    // The first open after the writer may settle what the writer left
    // (sled folds its log into a snapshot); a read-only command after that
    // must change nothing.
    let written = files(&data);
    ok(cli(&data, &key, &["account", "list"]));
    let before = files(&data);
    let (first, names) = changed_bytes(&written, &before);
    eprintln!("the first open after the sync changed {first} bytes: {names:?}");
    for _ in 0..2 {
        let out = ok(cli(&data, &key, &["account", "list"]));
        assert!(out.contains("acme"), "{out}");
    }
    let (bytes, names) = changed_bytes(&before, &files(&data));
    assert!(bytes <= MAX_CHANGED_BYTES, "a read-only command changed {bytes} bytes of the data directory: {names:?}");
}
