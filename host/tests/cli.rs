//! The `atsbridge` binary's command line: help, empty states and errors
//! that name the problem. (Cargo builds the binary for these tests, which
//! also makes it available to the workspace's integration tests.)

use std::process::Command;

fn atsbridge(data: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_atsbridge"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("ATSBRIDGE_SECRET_KEY")
        .output()
        .expect("run atsbridge");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_every_command_group() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, _) = atsbridge(dir.path(), &["--help"]);
    assert!(ok);
    for cmd in ["plugin", "account", "connection", "positions", "serve", "demo", "mock-ats"] {
        assert!(out.contains(cmd), "`{cmd}` missing from help:\n{out}");
    }
}

#[test]
fn empty_states_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, out, _) = atsbridge(dir.path(), &["plugin", "list"]);
    assert!(ok);
    assert!(out.contains("no plugins installed"), "{out}");
    let (ok, out, _) = atsbridge(dir.path(), &["--json", "account", "list"]);
    assert!(ok);
    assert_eq!(out.trim(), "[]");
}

#[test]
fn errors_name_the_problem_and_fail() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, err) = atsbridge(dir.path(), &["connection", "sync", "nope"]);
    assert!(!ok);
    assert!(err.contains("connection `nope` does not exist"), "{err}");
    let (ok, _, err) = atsbridge(dir.path(), &["plugin", "install", "/no/such/plugin"]);
    assert!(!ok);
    assert!(err.contains("/no/such/plugin"), "{err}");
    let (ok, _, err) = atsbridge(dir.path(), &["account", "add", "Acme", "--time-zone", "Mars/Base"]);
    assert!(!ok);
    assert!(err.contains("Mars/Base"), "{err}");
    let (ok, _, err) = atsbridge(dir.path(), &["plugin", "install", "--bundled", "taleo"]);
    assert!(!ok);
    assert!(err.contains("taleo"), "{err}");
}
