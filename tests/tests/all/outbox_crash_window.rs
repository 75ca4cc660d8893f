//! A push whose create is still being worked on by the ATS when the host
//! dies is not repeated after the restart: the mock Greenhouse holds the
//! create (and finishes it after the client is gone, as a real server
//! would), the host is killed with SIGKILL meanwhile and started again, and
//! in the end the candidate is in the ATS once and recorded here once.
//!
//! Greenhouse takes no idempotency key: a retry is safe only because the
//! connector looks the e-mail address up first. Had the restarted host
//! retried at once, its look-up would have found nobody (the first create
//! still held) and created a second candidate.

use std::time::{Duration, Instant};

use atsbridge::store::PushState;
use atsbridge_mock_ats::MockAts;

use crate::ops_support::{Host, eventually};
use crate::outbox_support::{GhSetup, push, wait_for_state};

/// The hosts' call deadline (`--max-call-secs`): short, so the wait after
/// the restart is seconds.
const CALL_SECS: u64 = 3;
/// How long the mock works on a create: longer than a restart takes (so a
/// retry at once would look up before the create took effect), shorter
/// than the call deadline and its margins (the ATS finishes within them).
const HOLD: Duration = Duration::from_secs(6);

/// `serve` with the short call deadline, logging to `<dir>/<name>.log`.
fn serve(gh: &GhSetup, name: &str) -> Host {
    use std::io::BufRead as _;
    let log = gh.log(name);
    let mut cmd = gh.setup.cli(&["--log-format", "json", "serve", "--listen", "127.0.0.1:0"]);
    cmd.env("ATSBRIDGE_LOG", "warn,atsbridge=info")
        .env("ATSBRIDGE_MAX_CALL_SECS", CALL_SECS.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line
        .trim()
        .strip_prefix("atsbridge listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}; log: {}", std::fs::read_to_string(&log).unwrap()));
    Host { child, base: base.to_string() }
}

/// Creates sent to the mock (`POST` of a candidate or an application).
fn creates(mock: &MockAts) -> usize {
    mock.requests().iter().filter(|r| r.method == "POST" && !r.path.starts_with("/auth/")).count()
}

/// E-mail look-ups sent to the mock (`GET /v3/candidates?email=`).
fn lookups(mock: &MockAts) -> usize {
    mock.requests().iter().filter(|r| r.method == "GET" && r.path.contains("email=")).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_still_running_at_the_ats_when_the_host_dies_is_not_repeated() {
    let gh = GhSetup::new(1).await;
    let id = gh.create_candidates(1, "held")[0];
    gh.mock.hold_creates(HOLD);

    let mut host = serve(&gh, "host-killed");
    let (status, body) = push(&host, id).await;
    assert_eq!(status, 202, "{body}");
    eventually(Duration::from_secs(30), "the create to reach the ATS", || async {
        (creates(&gh.mock) == 1).then_some(())
    })
    .await;
    host.child.kill().unwrap(); // SIGKILL, while the ATS holds the create
    host.child.wait().unwrap();
    let killed = Instant::now();
    assert!(gh.mock.pushed_candidates().is_empty(), "the create took effect before the kill: hold it longer");
    assert_eq!(lookups(&gh.mock), 1);

    let host = serve(&gh, "host-restarted");
    // When the held create takes effect, the restarted host must not have
    // looked the candidate up yet: that look-up would have found nobody.
    let lookups_then = eventually(HOLD + Duration::from_secs(10), "the held create to take effect", || async {
        (!gh.mock.pushed_candidates().is_empty()).then(|| lookups(&gh.mock))
    })
    .await;
    assert_eq!(lookups_then, 1, "the restarted host retried while the ATS was still creating the candidate");
    wait_for_state(&host, id, "pushed", Duration::from_secs(60)).await;
    let waited = killed.elapsed();

    // Once in the ATS ...
    let pushed = gh.mock.pushed_candidates();
    assert_eq!(pushed.len(), 1, "candidates in the ATS: {pushed:?}");
    assert_eq!(creates(&gh.mock), 1, "the retry created nothing: it found the first create's candidate");
    assert_eq!(lookups(&gh.mock), 2);
    let apps = gh.mock.applications();
    assert_eq!(apps.len(), 1);
    // ... and recorded here once, with its ids.
    let mut host = host;
    let (status, _) = host.terminate(Duration::from_secs(30));
    assert!(status.success());
    gh.with_store(|store| {
        let candidate = store.candidate(id).unwrap().unwrap();
        let PushState::Pushed { ats_candidate_id, application_id, .. } = &candidate.push else {
            panic!("candidate {id} ended {:?}", candidate.push);
        };
        assert_eq!(ats_candidate_id, &pushed[0].candidate_id);
        assert_eq!(application_id, &apps[0].id);
        assert_eq!(candidate.pushes.len(), 1, "one push record: {:?}", candidate.pushes);
        assert_eq!(candidate.pushes[0].outcome, "pushed");
        assert!(store.outbox_candidates().unwrap().is_empty());
    });
    // The wait is bounded by the call deadline and its margins, not more.
    assert!(waited < Duration::from_secs(CALL_SECS + 20), "pushed {waited:?} after the kill");
}
