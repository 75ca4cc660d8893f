//! Hostile guests: each misbehaviour is stopped or refused, confined to its
//! own call, and the host carries on.

use std::time::{Duration, Instant};

use atsbridge::plugin::allowed_hosts::AllowedHosts;
use atsbridge::runtime::{CallError, ConnectionContext, Plugin, Runtime};
use atsbridge_tests::guests;

use crate::support::{self, API_KEY};

/// Installs `hostile` with a 1 s call budget and a 32 MiB memory cap.
async fn hostile(rt: &Runtime, root: &std::path::Path) -> Plugin {
    let limits = "[limits]\nmemory-mib = 32\ntimeout-secs = 1\n";
    support::install(rt, root, "hostile", "0.1.0", guests::HOSTILE, limits).await;
    rt.plugin("hostile").await.unwrap()
}

fn mode(mode: &str) -> ConnectionContext {
    ConnectionContext::new("conn-h").text("mode", mode)
}

/// The hostile guest reports what it observed as a permanent error.
fn report(result: Result<(), CallError>) -> String {
    match result {
        Err(CallError::Connector { error, .. }) => error.message().to_string(),
        other => panic!("expected the guest's report, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_infinite_loop_is_interrupted_and_others_go_on() {
    let (dir, rt) = support::runtime();
    let p = hostile(&rt, dir.path()).await;
    support::install(&rt, dir.path(), "well-behaved", "1.2.3", guests::WELL_BEHAVED, "").await;
    let good = rt.plugin("well-behaved").await.unwrap();

    let looping = {
        let p = p.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            (p.check(&mode("loop")).await, started.elapsed())
        })
    };
    // While the loop burns its budget, another plugin's calls complete.
    let during = Instant::now();
    for _ in 0..20 {
        good.info().await.unwrap();
    }
    assert!(during.elapsed() < Duration::from_millis(900), "other calls were held up: {:?}", during.elapsed());

    let (result, took) = looping.await.unwrap();
    assert!(matches!(result, Err(CallError::Timeout { .. })), "{result:?}");
    // The budget is 1 s; the guest yields every 10 ms epoch tick, so the
    // timeout fires promptly even with other tests loading both cores.
    assert!(took >= Duration::from_secs(1) && took < Duration::from_secs(2), "interrupted after {took:?}");
    // The next call on the same plugin succeeds.
    let ok = p.info().await.unwrap();
    assert_eq!(ok.name, "Hostile");
    assert_eq!(rt.metrics().plugin("hostile").failures.get("timeout"), Some(&1));
}

/// Runs the memory bomb in a process of its own, so other tests running in
/// parallel in this process do not disturb the RSS measurement.
#[test]
fn a_memory_bomb_fails_at_the_cap_and_host_memory_stays_bounded() {
    support::run_in_own_process("sandbox::memory_bomb_in_own_process");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "run in its own process by a_memory_bomb_fails_at_the_cap_and_host_memory_stays_bounded"]
async fn memory_bomb_in_own_process() {
    let (dir, rt) = support::runtime();
    let p = hostile(&rt, dir.path()).await;
    // Warm up once, then measure across repeated bombs.
    let first = p.check(&mode("alloc")).await;
    assert!(matches!(first, Err(CallError::MemoryLimit { limit_bytes, .. }) if limit_bytes == 32 << 20), "{first:?}");
    let before = support::rss_bytes();
    for _ in 0..10 {
        let r = p.check(&mode("alloc")).await;
        assert!(matches!(r, Err(CallError::MemoryLimit { .. })), "{r:?}");
    }
    let growth = support::rss_bytes().saturating_sub(before);
    println!("RSS growth over 10 memory bombs of 32 MiB: {} KiB", growth >> 10);
    // If instances leaked, RSS would grow by ~320 MiB.
    assert!(growth < 16 << 20, "host RSS grew by {} MiB", growth >> 20);
    assert_eq!(p.info().await.unwrap().name, "Hostile");
}

#[tokio::test(flavor = "multi_thread")]
async fn files_and_environment_are_out_of_reach() {
    // SAFETY: set before any other thread of this test reads the environment.
    unsafe { std::env::set_var("ATSBRIDGE_TEST_HOST_SECRET", "host-env-value-91") };
    let (dir, rt) = support::runtime();
    let p = hostile(&rt, dir.path()).await;

    let files = report(p.check(&mode("read-file")).await);
    assert!(!files.contains("root:"), "the guest read /etc/passwd: {files}");
    assert!(
        files.to_lowercase().contains("no such file") || files.contains("denied") || files.contains("error"),
        "{files}"
    );

    let env = report(p.check(&mode("env")).await);
    assert!(!env.contains("host-env-value-91"), "the guest saw the host's environment: {env}");
    assert!(!env.contains("PATH"), "the guest saw the host's environment: {env}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_outside_the_manifest_are_refused() {
    let (dir, rt) = support::runtime();
    let p = hostile(&rt, dir.path()).await;
    let target = support::echo_server().await;
    let conn = mode("forbidden-host").text("target-url", format!("{}/steal", target.base()));
    let r = report(p.check(&conn).await);
    assert!(r.contains("not in the plugin's allowed hosts"), "{r}");
    assert_eq!(target.hits(), 0, "the request left the host");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_never_learns_a_secret_value() {
    let (dir, rt) = support::runtime();
    let p = hostile(&rt, dir.path()).await;
    let outside = support::echo_server().await;

    // From its config, or by attaching it to a request to a host it may not reach.
    let conn = mode("secret-snoop").secret("api-key", API_KEY).text("target-url", format!("{}/x", outside.base()));
    let r = report(p.check(&conn).await);
    assert!(!r.contains(API_KEY), "secret leaked: {r}");
    assert!(r.contains("api-key"), "the guest should have seen the reference: {r}");
    assert_eq!(outside.hits(), 0, "a request carrying the secret left for a host not allowed");

    // Even from an allowed host that echoes the request headers back.
    let echo = support::echo_server().await;
    let conn = mode("echo-secret")
        .secret("api-key", API_KEY)
        .text("target-url", format!("{}/echo", echo.base()))
        .with_extra_hosts(AllowedHosts::parse(&[support::url_origin(&echo.base())]).unwrap());
    let r = report(p.check(&conn).await);
    assert_eq!(echo.hits(), 1);
    let sent = &echo.requests()[0].headers["authorization"];
    assert_eq!(sent, &format!("Bearer {API_KEY}"), "the host attaches the secret");
    assert!(!r.contains(API_KEY), "secret echoed back into the guest: {r}");
    assert!(r.contains("[redacted]"), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_is_a_typed_error_and_the_host_is_fine() {
    let (dir, rt) = support::runtime();
    let p = hostile(&rt, dir.path()).await;
    let r = p.check(&mode("panic")).await;
    // A panic is a trap; the panic message is shown as the guest's stderr.
    match r {
        Err(CallError::Trap { guest_stderr: Some(stderr), .. }) => {
            assert!(stderr.contains("hostile guest panicked on purpose"), "{stderr}")
        }
        other => panic!("expected a trap with the guest's stderr, got {other:?}"),
    }
    assert_eq!(p.info().await.unwrap().name, "Hostile");
    let m = rt.metrics().plugin("hostile");
    assert_eq!((m.traps, m.failures.get("trap")), (1, Some(&1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_log_flood_is_bounded() {
    let (dir, rt) = support::runtime();
    // log-flood needs more than the 1 s budget of the other tests.
    support::install(&rt, dir.path(), "hostile", "0.1.0", guests::HOSTILE, "").await;
    let p = rt.plugin("hostile").await.unwrap();
    let started = Instant::now();
    let r = p.check(&mode("log-flood")).await;
    assert!(r.is_ok(), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_caps_what_a_manifest_asks_for() {
    use atsbridge::runtime::limits::OperatorLimits;
    let dir = tempfile::tempdir().unwrap();
    let operator = OperatorLimits { max_memory_bytes: 16 << 20, max_call_timeout: Duration::from_secs(1) };
    let rt = Runtime::open(dir.path(), atsbridge::runtime::RuntimeOptions { operator, ..Default::default() }).unwrap();
    let greedy = "[limits]\nmemory-mib = 1024\ntimeout-secs = 600\n";
    support::install(&rt, dir.path(), "hostile", "0.1.0", guests::HOSTILE, greedy).await;
    let p = rt.plugin("hostile").await.unwrap();
    assert_eq!((p.limits().memory_bytes, p.limits().call_timeout), (16 << 20, Duration::from_secs(1)));
    let r = p.check(&mode("alloc")).await;
    assert!(matches!(r, Err(CallError::MemoryLimit { limit_bytes, .. }) if limit_bytes == 16 << 20), "{r:?}");
    let r = p.check(&mode("loop")).await;
    assert!(matches!(r, Err(CallError::Timeout { limit, .. }) if limit == Duration::from_secs(1)), "{r:?}");
}
