//! Reading a plugin's files from disk: confined to the plugin's own
//! directory, regular files only, bounded in size before a byte is read.
//!
//! A manifest is written by whoever publishes the plugin, so the paths it
//! names are untrusted: `component = "/dev/zero"` or a symlink to
//! `/etc/passwd` must be refused, not read. Paths the operator passes on
//! the command line (`--component`) are trusted to point anywhere, but are
//! still read through the same size-capped reader.

use std::fs::File;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Largest manifest accepted. Real manifests are under 2 KiB; this leaves
/// room for long host lists while keeping a hostile one from costing memory.
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024;
/// Largest component accepted. A Rust connector is about 200 KiB, a
/// componentize-py one about 40 MiB; anything far past that is not a
/// connector, and reading it would only cost memory.
pub const MAX_COMPONENT_BYTES: u64 = 128 << 20;

/// Why a plugin file was not read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    #[error("`{path}` must be a relative path inside the plugin's directory: {reason}")]
    Escapes { path: PathBuf, reason: &'static str },
    #[error("{path} is not a regular file")]
    NotRegular { path: PathBuf },
    #[error("{path} is larger than the limit of {limit} bytes")]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Resolves `relative` (as a manifest names it) inside `base`: no absolute
/// path, no `..`, and after following symlinks still inside `base`.
pub fn confined(base: &Path, relative: &Path) -> Result<PathBuf, FileError> {
    let escapes = |reason| FileError::Escapes { path: relative.to_path_buf(), reason };
    for part in relative.components() {
        match part {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err(escapes("`..` is not allowed")),
            Component::RootDir | Component::Prefix(_) => return Err(escapes("absolute paths are not allowed")),
        }
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| FileError::Io { path, source }
    };
    let base = base.canonicalize().map_err(io(base))?;
    let joined = base.join(relative);
    let resolved = joined.canonicalize().map_err(io(&joined))?;
    if !resolved.starts_with(&base) {
        return Err(escapes("it resolves (through a symlink) to a file outside the plugin's directory"));
    }
    Ok(resolved)
}

/// Reads a regular file of at most `limit` bytes. The checks run on the
/// opened handle, and the read itself is bounded, so a file that grows or
/// is swapped after the check still cannot make the host read more.
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>, FileError> {
    let io = |source| FileError::Io { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(FileError::NotRegular { path: path.to_path_buf() });
    }
    if meta.len() > limit {
        return Err(FileError::TooLarge { path: path.to_path_buf(), limit });
    }
    // `meta.len() <= limit` was just checked, so the capacity is bounded.
    let mut buf = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut buf).map_err(io)?;
    if buf.len() as u64 > limit {
        return Err(FileError::TooLarge { path: path.to_path_buf(), limit });
    }
    Ok(buf)
}

/// Reads a text file of at most `limit` bytes.
pub fn read_text_bounded(path: &Path, limit: u64) -> Result<String, FileError> {
    let bytes = read_bounded(path, limit)?;
    String::from_utf8(bytes).map_err(|e| FileError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_and_parent_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(confined(dir.path(), Path::new("/dev/zero")), Err(FileError::Escapes { .. })));
        assert!(matches!(confined(dir.path(), Path::new("a/../../x")), Err(FileError::Escapes { .. })));
    }

    #[test]
    fn a_symlink_out_is_refused_and_one_inside_is_followed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("real.wasm"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("out.wasm")).unwrap();
        std::os::unix::fs::symlink("real.wasm", dir.path().join("in.wasm")).unwrap();
        let err = confined(dir.path(), Path::new("out.wasm")).unwrap_err();
        assert!(err.to_string().contains("outside the plugin's directory"), "{err}");
        assert!(confined(dir.path(), Path::new("in.wasm")).unwrap().ends_with("real.wasm"));
    }

    #[test]
    fn devices_and_oversized_files_are_not_read() {
        assert!(matches!(read_bounded(Path::new("/dev/zero"), 1024), Err(FileError::NotRegular { .. })));
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, vec![0u8; 2048]).unwrap();
        assert!(matches!(read_bounded(&big, 1024), Err(FileError::TooLarge { limit: 1024, .. })));
        assert_eq!(read_bounded(&big, 4096).unwrap().len(), 2048);
    }
}
