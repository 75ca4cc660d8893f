//! What the tests of the example connectors in `examples/` (JavaScript and
//! Python, both written against the Workable API) share: building them with
//! their own `build.sh`, a connection to the Workable mock, a full listing
//! and the error a failed call carried.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use atsbridge::contract::ConnectorError;
use atsbridge::plugin::allowed_hosts::AllowedHosts;
use atsbridge::runtime::{CallError, ConnectionContext, Plugin};
use atsbridge_mock_ats::MockAts;

use crate::support;

/// `examples/<name>` in this repository.
pub fn example_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name);
    dir.canonicalize().unwrap_or(dir)
}

/// Runs `examples/<name>/build.sh <args>` and returns the component path it
/// prints last, or `None` (after saying why) when `tool` is not on PATH.
/// Under CI (`CI` set) a missing tool fails the test instead: there the
/// example must be built and pass, never be skipped without anyone noticing.
pub fn build_component(name: &str, tool: &str, args: &[&str]) -> Option<PathBuf> {
    if Command::new(tool).arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "{name}: `{tool}` is not on PATH, and CI must build this example");
        eprintln!("SKIPPED {name}: `{tool}` is not on PATH, so the example connector cannot be built");
        return None;
    }
    let started = Instant::now();
    let script = example_dir(name).join("build.sh");
    let out = Command::new("bash").arg(&script).args(args).output().expect("run the example's build.sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{} failed ({}):\n{stderr}", script.display(), out.status);
    eprintln!("{} ({:.1?}):\n{stderr}", script.display(), started.elapsed());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = PathBuf::from(stdout.lines().last().expect("build.sh prints the component path").trim());
    assert!(path.is_file(), "build.sh printed {path:?}, which is not a file");
    Some(path)
}

/// A connection `id` to the Workable mock: its base URL and token, the
/// mock's origin granted by the operator (the examples' manifests only allow
/// `*.workable.com`).
pub fn workable_connection(id: &str, mock: &MockAts, token: &str) -> ConnectionContext {
    let base = mock.api_base_url();
    ConnectionContext::new(id)
        .text("subdomain", "mock")
        .text("base-url", &base)
        .secret("api-token", token)
        .with_extra_hosts(AllowedHosts::parse(&[support::url_origin(&base)]).unwrap())
}

/// Every job code of a full listing, following cursors to the end, and the
/// number of pages it took.
pub async fn list_all(plugin: &Plugin, conn: &ConnectionContext, changed_since: Option<&str>) -> (Vec<String>, usize) {
    let (mut codes, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let page = plugin.list_jobs(conn, cursor.as_deref(), changed_since).await.unwrap();
        pages += 1;
        codes.extend(page.jobs.into_iter().map(|j| j.code));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return (codes, pages),
        }
    }
}

/// The connector's own error of a call that must have failed with one.
pub fn connector_error(result: Result<impl std::fmt::Debug, CallError>) -> ConnectorError {
    let err = result.expect_err("the call should fail");
    err.connector_error().cloned().unwrap_or_else(|| panic!("not a connector error: {err}"))
}
