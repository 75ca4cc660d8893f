//! `--perf-map`: the host names plugins' compiled functions for `perf`
//! when asked, and writes nothing when not.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use crate::support;

/// Installs a bundled connector through the CLI in a fresh data directory
/// (compiling it and calling its `info()`), with `flags` before the
/// command. Returns the perf map that process wrote, if it wrote one.
fn install_bundled(id: &str, flags: &[&str]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let started = SystemTime::now();
    let child = Command::new(support::atsbridge_bin())
        .arg("--data-dir")
        .arg(dir.path())
        .args(flags)
        .args(["plugin", "install", "--bundled", id])
        .env_remove("ATSBRIDGE_PERF_MAP")
        .env_remove("ATSBRIDGE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let map = PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    written_since(&map, started)
}

/// The file's text if it was written since `started` (an older one is
/// another process's that had the same pid), removing it either way.
fn written_since(map: &Path, started: SystemTime) -> Option<String> {
    let fresh = std::fs::metadata(map).and_then(|m| m.modified()).is_ok_and(|t| t >= started);
    let text = std::fs::read_to_string(map).ok().filter(|_| fresh);
    if fresh {
        let _ = std::fs::remove_file(map);
    }
    text
}

#[test]
fn with_the_flag_the_plugins_functions_are_named_in_the_perf_map() {
    let map = install_bundled("greenhouse", &["--perf-map"]).expect("no perf map written");
    // perf's format: start address, size (both hex), name.
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).is_ok();
    let mut functions = 0;
    for line in map.lines() {
        let mut parts = line.splitn(3, ' ');
        let (start, size, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        assert!(hex(start) && hex(size) && !name.is_empty(), "not a perf map line: {line:?}");
        functions += usize::from(name.starts_with("wasm["));
    }
    assert!(functions > 100, "{functions} connector functions named in:\n{map}");
}

#[test]
fn without_it_nothing_is_written() {
    assert_eq!(install_bundled("lever", &[]), None);
}
