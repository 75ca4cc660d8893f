//! Backups: a consistent copy of every tree, and loading one into an empty
//! store.
//!
//! [`Store::backup_to`] holds the store's write gate exclusively while it
//! copies, so no commit is half in the copy; it writes to a local file
//! (fast), and the caller streams that file wherever it goes afterwards,
//! so a slow client never holds up syncs.
//!
//! # Format
//!
//! ```text
//! "ATSBRIDGE-BACKUP\n" version:u8
//! ( 'T' len:u32 name | 'R' len:u32 key len:u32 value )*
//! 'E' records:u64 sha256:32 bytes (of everything before 'E')
//! ```
//!
//! All integers are big-endian. Restore reads it with every length
//! bounded, checks the digest before it writes anything, and refuses
//! trailing bytes.

use std::io::{BufWriter, Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{Store, StoreError};

/// What every backup starts with.
const MAGIC: &[u8] = b"ATSBRIDGE-BACKUP\n";
/// The format version written.
const VERSION: u8 = 1;
/// The longest tree name accepted on restore.
const MAX_NAME_BYTES: u32 = 1024;
/// The largest key or value accepted on restore: far above any record the
/// store writes (positions are a few KiB), low enough to bound memory.
const MAX_RECORD_BYTES: u32 = 64 << 20;

/// Why a backup could not be taken or restored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading or writing the backup file failed.
    #[error("backup I/O failed: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not a backup this atsbridge can read.
    #[error("not a valid atsbridge backup: {0}")]
    Invalid(String),
    /// The target already holds data.
    #[error(
        "{} already holds a store; restore into an empty data directory, or pass --force to replace it",
        .0.display()
    )]
    NotEmpty(std::path::PathBuf),
}

/// What a backup or restore copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BackupSummary {
    /// Trees copied.
    pub trees: u64,
    /// Records copied.
    pub records: u64,
}

/// Writes through a SHA-256 of everything written.
struct Hashing<W> {
    inner: W,
    digest: Sha256,
}

impl<W: Write> Hashing<W> {
    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.digest.update(bytes);
        self.inner.write_all(bytes)
    }

    fn put_len(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let len = u32::try_from(bytes.len()).map_err(|_| std::io::Error::other("record over 4 GiB"))?;
        self.put(&len.to_be_bytes())?;
        self.put(bytes)
    }
}

impl Store {
    /// Writes a consistent copy of every tree to `out`.
    pub fn backup_to(&self, out: impl Write) -> Result<BackupSummary, BackupError> {
        // Exclusive: every writer holds the gate shared for its duration.
        let _gate = self.gate.write().unwrap_or_else(|e| e.into_inner());
        let mut w = Hashing { inner: BufWriter::new(out), digest: Sha256::new() };
        w.put(MAGIC)?;
        w.put(&[VERSION])?;
        let mut summary = BackupSummary { trees: 0, records: 0 };
        for name in self.db.tree_names() {
            let tree = self.db.open_tree(&name).map_err(StoreError::Storage)?;
            w.put(b"T")?;
            w.put_len(&name)?;
            summary.trees += 1;
            for entry in tree.iter() {
                let (key, value) = entry.map_err(StoreError::Storage)?;
                w.put(b"R")?;
                w.put_len(&key)?;
                w.put_len(&value)?;
                summary.records += 1;
            }
        }
        let digest = w.digest.clone().finalize();
        w.inner.write_all(b"E")?;
        w.inner.write_all(&summary.records.to_be_bytes())?;
        w.inner.write_all(&digest)?;
        w.inner.flush()?;
        Ok(summary)
    }
}

/// Loads a backup into a new store at `store_path` (the `store` directory
/// of a data directory). Refuses a store that exists unless `force`, which
/// replaces it. The whole file is checked before anything is written.
/// Fails (with sled's lock error) while a host has the store open.
pub fn restore(backup: impl Read, store_path: &Path, force: bool) -> Result<BackupSummary, BackupError> {
    let records = read_backup(backup)?;
    if store_path.exists() && std::fs::read_dir(store_path)?.next().is_some() {
        if !force {
            return Err(BackupError::NotEmpty(store_path.to_path_buf()));
        }
        // Opening it first takes sled's lock: a running host keeps its store.
        drop(
            sled::Config::new()
                .path(store_path)
                .open()
                .map_err(|e| StoreError::Open { path: store_path.to_path_buf(), source: e })?,
        );
        std::fs::remove_dir_all(store_path)?;
    }
    let db = sled::Config::new()
        .path(store_path)
        .open()
        .map_err(|e| StoreError::Open { path: store_path.to_path_buf(), source: e })?;
    let mut summary = BackupSummary { trees: 0, records: 0 };
    for (name, entries) in records {
        let tree = db.open_tree(&name).map_err(StoreError::Storage)?;
        summary.trees += 1;
        let mut batch = sled::Batch::default();
        for (k, v) in entries {
            batch.insert(k, v);
            summary.records += 1;
        }
        tree.apply_batch(batch).map_err(StoreError::Storage)?;
    }
    db.flush().map_err(StoreError::Storage)?;
    Ok(summary)
}

/// Reads a whole backup and checks it, writing nothing.
pub fn verify(backup: impl Read) -> Result<BackupSummary, BackupError> {
    let trees = read_backup(backup)?;
    let records = trees.iter().map(|(_, r)| r.len() as u64).sum();
    Ok(BackupSummary { trees: trees.len() as u64, records })
}

/// Every tree of a backup as (name, records), after checking the digest.
type Trees = Vec<(Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>)>;

fn read_backup(input: impl Read) -> Result<Trees, BackupError> {
    let mut r = std::io::BufReader::new(input);
    let mut digest = Sha256::new();
    let mut magic = vec![0u8; MAGIC.len() + 1];
    r.read_exact(&mut magic).map_err(|_| invalid("too short"))?;
    if &magic[..MAGIC.len()] != MAGIC {
        return Err(invalid("it does not start with the atsbridge backup header"));
    }
    if magic[MAGIC.len()] != VERSION {
        return Err(invalid(&format!("format version {} is unknown (made by a newer atsbridge?)", magic[MAGIC.len()])));
    }
    digest.update(&magic);
    let mut trees: Trees = Vec::new();
    let mut records = 0u64;
    loop {
        let mut tag = [0u8; 1];
        r.read_exact(&mut tag).map_err(|_| invalid("truncated: no end marker"))?;
        match &tag {
            b"T" => {
                digest.update(tag);
                let name = read_len(&mut r, &mut digest, MAX_NAME_BYTES)?;
                trees.push((name, Vec::new()));
            }
            b"R" => {
                digest.update(tag);
                let key = read_len(&mut r, &mut digest, MAX_RECORD_BYTES)?;
                let value = read_len(&mut r, &mut digest, MAX_RECORD_BYTES)?;
                let (_, tree) = trees.last_mut().ok_or_else(|| invalid("a record before any tree"))?;
                tree.push((key, value));
                records += 1;
            }
            b"E" => {
                let mut count = [0u8; 8];
                let mut sum = [0u8; 32];
                r.read_exact(&mut count).map_err(|_| invalid("truncated end marker"))?;
                r.read_exact(&mut sum).map_err(|_| invalid("truncated end marker"))?;
                if u64::from_be_bytes(count) != records || digest.finalize().as_slice() != sum {
                    return Err(invalid("its checksum does not match: the file is damaged or incomplete"));
                }
                if r.read(&mut [0u8; 1])? != 0 {
                    return Err(invalid("bytes after the end marker"));
                }
                return Ok(trees);
            }
            _ => return Err(invalid("unknown record tag")),
        }
    }
}

fn read_len(r: &mut impl Read, digest: &mut Sha256, max: u32) -> Result<Vec<u8>, BackupError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len).map_err(|_| invalid("truncated"))?;
    digest.update(len);
    let len = u32::from_be_bytes(len);
    if len > max {
        return Err(invalid(&format!("a record of {len} bytes, over the {max}-byte limit")));
    }
    let mut bytes = Vec::new();
    r.take(u64::from(len)).read_to_end(&mut bytes)?;
    if bytes.len() != len as usize {
        return Err(invalid("truncated"));
    }
    digest.update(&bytes);
    Ok(bytes)
}

fn invalid(reason: &str) -> BackupError {
    BackupError::Invalid(reason.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::{HEX_KEY, commit_jobs, connection, temp_store};
    use crate::store::{SecretKey, Store};

    #[test]
    fn a_backup_restores_into_an_equal_store_and_damage_is_refused() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        commit_jobs(&store, &c.id, &[("J1", "Engineer"), ("J2", "Designer")]);
        let mut bytes = Vec::new();
        let summary = store.backup_to(&mut bytes).unwrap();
        assert!(summary.records > 5, "{summary:?}");

        let target = tempfile::tempdir().unwrap();
        let path = target.path().join("store");
        assert_eq!(restore(bytes.as_slice(), &path, false).unwrap(), summary);
        let restored = Store::open(&path, Some(SecretKey::parse(HEX_KEY).unwrap())).unwrap();
        assert_eq!(restored.connections().unwrap(), store.connections().unwrap());
        assert_eq!(restored.positions_of_connection(&c.id).unwrap(), store.positions_of_connection(&c.id).unwrap());
        assert_eq!(restored.runs(&c.id, 10).unwrap(), store.runs(&c.id, 10).unwrap());
        drop(restored);

        assert!(matches!(restore(bytes.as_slice(), &path, false), Err(BackupError::NotEmpty(_))));
        let mut damaged = bytes.clone();
        let mid = damaged.len() / 2;
        damaged[mid] ^= 1;
        let other = target.path().join("other");
        assert!(matches!(restore(damaged.as_slice(), &other, false), Err(BackupError::Invalid(_))));
        assert!(!other.exists(), "nothing written from a damaged file");
        let truncated = &bytes[..bytes.len() - 10];
        assert!(matches!(restore(truncated, &other, false), Err(BackupError::Invalid(_))));
        assert!(restore(&b"ATSBRIDGE-BACKUP\n\x01T\xff\xff\xff\xff"[..], &other, false).is_err(), "huge length");
    }
}
