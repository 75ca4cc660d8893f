//! Where a host keeps its recordings: `<data dir>/recordings/`, one
//! directory per connection (`<connection>/run-<seq>.jsonl`), and the
//! connections whose next run is to be recorded (`armed/<connection>`, an
//! empty file, so the request survives a restart and reaches a host that
//! runs in another process). Directories are 0700, files 0600, and every
//! file is written whole (temporary file, then rename).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{MAX_RECORDING_BYTES, RecordingError};

/// The recordings directory under the data directory.
pub const RECORDINGS_DIR: &str = "recordings";
/// Recordings kept per connection; older ones are deleted when a new one
/// is written. Each can be up to [`MAX_RECORDING_BYTES`]; ten of them are
/// a week and a half of nightly runs without filling a disk.
pub const RECORDINGS_KEPT: usize = 10;
/// Longest connection id used in a file name.
const MAX_NAME_BYTES: usize = 128;
/// Slack over [`MAX_RECORDING_BYTES`] for the header and end lines.
const MAX_FILE_SLACK: u64 = 1 << 20;
/// The armed-run markers' directory.
const ARMED_DIR: &str = "armed";

/// A host's recordings directory.
#[derive(Debug, Clone)]
pub struct RecordingDir {
    root: PathBuf,
}

/// A connection id as a file name: refused unless it is plain.
fn checked(id: &str) -> Result<&str, RecordingError> {
    let plain = !id.is_empty()
        && id.len() <= MAX_NAME_BYTES
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !id.starts_with('-');
    if plain { Ok(id) } else { Err(RecordingError::BadName(crate::display::escape_capped(id))) }
}

fn private_dir(path: &Path) -> Result<(), RecordingError> {
    let write = |source| RecordingError::Write { path: path.to_path_buf(), source };
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).map_err(write)
}

/// Writes `bytes` to `path` readable by the owner only, in one piece: a
/// temporary file in the same directory, flushed, then renamed over
/// `path`. A reader sees the old file or the whole new one.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> Result<(), RecordingError> {
    let write = |source| RecordingError::Write { path: path.to_path_buf(), source };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| write(std::io::Error::other(e.to_string())))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", hex::encode(nonce)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(write)
}

impl RecordingDir {
    /// The recordings directory of a data directory.
    pub fn new(data_dir: &Path) -> Self {
        RecordingDir { root: data_dir.join(RECORDINGS_DIR) }
    }

    fn armed_path(&self, connection: &str) -> Result<PathBuf, RecordingError> {
        Ok(self.root.join(ARMED_DIR).join(checked(connection)?))
    }

    /// The file of one run's recording.
    pub fn path(&self, connection: &str, run: u64) -> Result<PathBuf, RecordingError> {
        Ok(self.root.join(checked(connection)?).join(format!("run-{run}.jsonl")))
    }

    /// Asks for the next run of `connection` (whatever starts it) to be
    /// recorded.
    pub fn arm(&self, connection: &str) -> Result<(), RecordingError> {
        let path = self.armed_path(connection)?;
        private_dir(&self.root.join(ARMED_DIR))?;
        write_private_atomic(&path, b"")
    }

    /// Whether the next run of `connection` is to be recorded.
    pub fn is_armed(&self, connection: &str) -> bool {
        self.armed_path(connection).is_ok_and(|p| p.exists())
    }

    /// Takes the request to record `connection`'s next run: true once per
    /// request, even with several processes looking.
    pub fn take_armed(&self, connection: &str) -> bool {
        self.armed_path(connection).is_ok_and(|p| std::fs::remove_file(p).is_ok())
    }

    /// Writes one run's recording and deletes all but the newest
    /// [`RECORDINGS_KEPT`] of the connection.
    pub fn write(&self, connection: &str, run: u64, bytes: &[u8]) -> Result<PathBuf, RecordingError> {
        let path = self.path(connection, run)?;
        let dir = self.root.join(checked(connection)?);
        private_dir(&dir)?;
        write_private_atomic(&path, bytes)?;
        self.prune(&dir);
        Ok(path)
    }

    fn prune(&self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        let mut runs: Vec<(u64, PathBuf)> = entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let seq = name.strip_prefix("run-")?.strip_suffix(".jsonl")?.parse().ok()?;
                Some((seq, e.path()))
            })
            .collect();
        runs.sort_unstable_by_key(|r| std::cmp::Reverse(r.0));
        for (_, old) in runs.into_iter().skip(RECORDINGS_KEPT) {
            if let Err(e) = std::fs::remove_file(&old) {
                tracing::warn!(path = %old.display(), error = %e, "cannot delete an old recording");
            }
        }
    }

    /// One run's recording, if it was recorded (and not pruned since).
    pub fn read(&self, connection: &str, run: u64) -> Result<Option<Vec<u8>>, RecordingError> {
        let path = self.path(connection, run)?;
        if !path.exists() {
            return Ok(None);
        }
        read_bounded(&path).map(Some)
    }
}

/// A recording file, refused when larger than any this host writes.
pub fn read_bounded(path: &Path) -> Result<Vec<u8>, RecordingError> {
    let limit = MAX_RECORDING_BYTES as u64 + MAX_FILE_SLACK;
    crate::plugin::files::read_bounded(path, limit).map_err(|e| match e {
        crate::plugin::files::FileError::TooLarge { .. } => {
            RecordingError::TooLarge { path: path.to_path_buf(), limit }
        }
        other => RecordingError::Read { path: path.to_path_buf(), source: std::io::Error::other(other.to_string()) },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_could_leave_the_directory_are_refused() {
        let dir = RecordingDir::new(Path::new("/tmp/x"));
        for bad in ["", "../etc", "a/b", "a\\b", ".", "..", "-rf", &"a".repeat(200), "é"] {
            assert!(matches!(dir.path(bad, 1), Err(RecordingError::BadName(_))), "{bad:?}");
            assert!(matches!(dir.arm(bad), Err(RecordingError::BadName(_))), "{bad:?}");
        }
        assert!(dir.path("acme-greenhouse_2", 3).unwrap().ends_with("acme-greenhouse_2/run-3.jsonl"));
    }

    #[test]
    fn arming_is_taken_once_and_files_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = RecordingDir::new(tmp.path());
        assert!(!dir.take_armed("c"));
        dir.arm("c").unwrap();
        assert!(dir.is_armed("c"));
        assert!(dir.take_armed("c"));
        assert!(!dir.take_armed("c"));
        for run in 1..=(RECORDINGS_KEPT as u64 + 2) {
            dir.write("c", run, b"{}\n").unwrap();
        }
        assert!(dir.read("c", 1).unwrap().is_none(), "pruned");
        assert_eq!(dir.read("c", RECORDINGS_KEPT as u64 + 2).unwrap().unwrap(), b"{}\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path("c", 12).unwrap()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = std::fs::metadata(tmp.path().join(RECORDINGS_DIR).join("c")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }
}
