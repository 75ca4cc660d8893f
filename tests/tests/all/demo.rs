//! The README's main command: `atsbridge demo`, run twice on one data
//! directory.

use std::process::Command;

use crate::support;

fn demo(data: &std::path::Path, port: u16) -> String {
    let out = Command::new(support::atsbridge_bin())
        .arg("--data-dir")
        .arg(data)
        .args(["demo", "--once", "--greenhouse-jobs", "120", "--lever-jobs", "40", "--mock-port", &port.to_string()])
        .env_remove("ATSBRIDGE_SECRET_KEY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[test]
fn the_demo_syncs_two_ats_and_resumes_from_its_store() {
    let dir = tempfile::tempdir().unwrap();
    let port = two_free_ports();
    let first = demo(dir.path(), port);
    assert!(first.contains("installed plugin greenhouse") && first.contains("installed plugin lever"), "{first}");
    assert!(first.contains("demo-agency-greenhouse: run 1 succeeded"), "{first}");
    assert!(first.contains("120 created") && first.contains("40 created"), "{first}");
    assert!(
        first.contains("demo-agency-greenhouse: 120 positions") && first.contains("demo-agency-lever: 40 positions"),
        "{first}"
    );

    // Same store: nothing to install or create again, and nothing changed.
    let second = demo(dir.path(), port);
    assert!(!second.contains("installed plugin"), "{second}");
    assert!(second.contains("demo-agency-greenhouse: run 2 succeeded"), "{second}");
    assert!(second.contains("0 created"), "{second}");
    assert!(second.contains("demo-agency-greenhouse: 120 positions"), "{second}");
}

/// A port `p` such that `p` and `p + 1` are free now (the demo's two mocks
/// listen on consecutive ports); chosen by the OS, so concurrent tests do
/// not collide on it.
fn two_free_ports() -> u16 {
    for _ in 0..100 {
        let first = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = first.local_addr().unwrap().port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no two consecutive free ports on 127.0.0.1");
}
