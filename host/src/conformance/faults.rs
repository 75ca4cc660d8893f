//! How HTTP failures reach the host: 429 as `rate-limited` with the delay
//! the ATS asked for (or none), 5xx, a dropped connection and a slow answer
//! as `transient` (or the host's timeout), a body that is not JSON as an
//! error rather than an empty page. Needs a server the kit can break on
//! purpose: a mock, or any server behind the kit's fault proxy. The faults
//! the mock cannot serve (429 without `Retry-After`, a connection dropped
//! mid-body, garbled JSON) go through the proxy in front of the mock too.

use std::time::{Duration, Instant};

use atsbridge_mock_ats::{Fault, FaultRule, MockAts};

use super::proxy::{Exchange, FaultProxy, MAX_SLOW, ProxyFault};
use super::{Checked, Run, Verdict, fail, skip};
use crate::contract::{ConnectorError, JobPage, SettingInput};
use crate::plugin::allowed_hosts::AllowedHosts;
use crate::runtime::{CallError, ConnectionContext, Plugin};

/// The `Retry-After` the mock sends, in seconds. Not a round number, so a
/// connector that invents its own delay does not match it by chance.
const RETRY_AFTER_SECS: u64 = 7;
/// A connector may wait longer than asked (rounding, jitter), up to this
/// factor; shorter would be impolite to the ATS, much longer a unit mix-up.
const RETRY_AFTER_MAX_FACTOR: u64 = 2;

pub(super) const NEEDS_BREAKER: &str =
    "needs a server the kit can make fail on purpose (run with --mock, or --base-url with a `base-url` setting)";

/// What the kit breaks: the mock itself, or the proxy in front of a server.
enum Breaker<'a> {
    Mock(&'a MockAts),
    Proxy(&'a FaultProxy),
}

/// The breaker and a connection through it, or the skip verdict.
fn breaker<'a>(run: &'a Run<'_>, purpose: &str) -> Result<(Breaker<'a>, ConnectionContext), Verdict> {
    let mut conn = run.connection(purpose)?;
    if let Some(mock) = run.mock {
        return Ok((Breaker::Mock(mock), conn));
    }
    let proxy = run.proxy.as_ref().ok_or_else(|| skip(NEEDS_BREAKER))?;
    // The connector reaches the server through the proxy: its base URL is
    // the proxy's, and the proxy's origin is granted for this connection only.
    through(proxy, &mut conn)?;
    Ok((Breaker::Proxy(proxy), conn))
}

/// Lists the first page while every API request fails with `fault`
/// (answered with `status`). Fails the check unless a request actually got
/// that answer: an error the connector made up proves nothing.
async fn list_under(
    breaker: &Breaker<'_>,
    plugin: &Plugin,
    conn: &ConnectionContext,
    fault: Fault,
    status: u16,
) -> Result<Result<JobPage, CallError>, Verdict> {
    let got_it = match breaker {
        Breaker::Mock(mock) => {
            let before = mock.request_count();
            // Every request, not just the next: a connector may make several.
            mock.inject(FaultRule::new(fault).times(u32::MAX));
            let result = plugin.list_jobs(conn, None, None).await;
            mock.clear_faults();
            let got = mock.requests().iter().skip(before).any(|r| r.status == Some(status));
            (result, got)
        }
        Breaker::Proxy(proxy) => {
            let before = proxy.answered().len();
            proxy.inject(match fault {
                Fault::RateLimit { retry_after_secs } => {
                    ProxyFault::RateLimit { retry_after_secs: Some(retry_after_secs) }
                }
                _ => ProxyFault::Status(status),
            });
            let result = plugin.list_jobs(conn, None, None).await;
            proxy.clear();
            let got = proxy.answered().iter().skip(before).any(|s| *s == status);
            (result, got)
        }
    };
    let (result, got) = got_it;
    if !got {
        let said = match &result {
            Ok(page) => format!("{} jobs", page.jobs.len()),
            Err(e) => e.to_string(),
        };
        return Err(fail(format!(
            "no request got the HTTP {status} the kit was set to answer; the listing gave {said}"
        )));
    }
    Ok(result)
}

/// The delay a `rate-limited` answer to a 429 without `Retry-After` may
/// carry: none (the host backs off), or one the host would wait.
const MAX_INVENTED_DELAY_MS: u64 = super::patience::MAX_WAIT.as_millis() as u64;
/// The server errors the `transient` check injects, each on its own.
const SERVER_ERRORS: [u16; 4] = [500, 502, 503, 504];
/// Time past the slow-response deadline for the call to end: the host
/// drops the instance, which takes a moment on a loaded machine.
const DEADLINE_GRACE: Duration = Duration::from_secs(3);

/// An HTTP 429 with `Retry-After: 7` becomes `rate-limited` carrying 7 s
/// (up to twice that).
pub(super) async fn rate_limited(run: &Run<'_>) -> Checked {
    let (breaker, conn) = breaker(run, "rate-limited")?;
    let asked = RETRY_AFTER_SECS * 1000;
    let result =
        list_under(&breaker, run.plugin, &conn, Fault::RateLimit { retry_after_secs: RETRY_AFTER_SECS }, 429).await?;
    match result {
        Err(CallError::Connector { error: ConnectorError::RateLimited(limit), .. }) => match limit.retry_after_ms {
            Some(ms) if (asked..=asked * RETRY_AFTER_MAX_FACTOR).contains(&ms) => Ok(format!(
                "injected 429 with Retry-After: {RETRY_AFTER_SECS} → answered rate-limited, retry after {ms} ms"
            )),
            Some(ms) => Err(fail(format!(
                "injected 429 with Retry-After: {RETRY_AFTER_SECS} ({asked} ms), the error says {ms} ms"
            ))),
            None => Err(fail(format!("injected 429 with Retry-After: {RETRY_AFTER_SECS}, the error carries no delay"))),
        },
        Ok(page) => Err(fail(format!(
            "injected 429 with Retry-After: {RETRY_AFTER_SECS} on every request → answered a listing of {} jobs",
            page.jobs.len()
        ))),
        Err(e) => Err(fail(format!(
            "injected 429 with Retry-After: {RETRY_AFTER_SECS} → answered `{}` ({e}), should be `rate-limited`",
            e.kind()
        ))),
    }
}

/// HTTP 500, 502, 503 and 504, each on its own, all become `transient`. On
/// a mock 500 carries the vendor's JSON error body and the others a load
/// balancer's HTML page; through the proxy every one is an HTML page.
pub(super) async fn transient(run: &Run<'_>) -> Checked {
    let (breaker, conn) = breaker(run, "transient")?;
    let mut answered = Vec::new();
    for status in SERVER_ERRORS {
        match list_under(&breaker, run.plugin, &conn, Fault::Status(status), status).await? {
            Err(CallError::Connector { error: ConnectorError::Transient(_), .. }) => {
                answered.push(format!("{status} → transient"));
            }
            Ok(page) => {
                return Err(fail(format!(
                    "injected HTTP {status} on every request → answered a listing of {} jobs, should be `transient`",
                    page.jobs.len()
                )));
            }
            Err(e) => {
                return Err(fail(format!(
                    "injected HTTP {status} → answered `{}` ({e}), should be `transient`",
                    e.kind()
                )));
            }
        }
    }
    Ok(format!("injected HTTP {}", answered.join(", ")))
}

/// The proxy, and a connection through it; the skip verdict without one.
fn proxied<'a>(run: &'a Run<'_>, purpose: &str) -> Result<(&'a FaultProxy, ConnectionContext), Verdict> {
    let proxy = run.proxy.as_ref().ok_or_else(|| skip(NEEDS_BREAKER))?;
    let mut conn = run.connection(purpose)?;
    through(proxy, &mut conn)?;
    Ok((proxy, conn))
}

/// Points `conn`'s `base-url` at the proxy and grants its origin.
pub(super) fn through(proxy: &FaultProxy, conn: &mut ConnectionContext) -> Result<(), Verdict> {
    for (key, value) in &mut conn.settings {
        if key == "base-url" {
            *value = SettingInput::Text(proxy.url());
        }
    }
    let origin = AllowedHosts::parse(&[proxy.origin()]).map_err(|e| fail(format!("the fault proxy: {e}")))?;
    conn.extra_hosts = conn.extra_hosts.union(&origin);
    Ok(())
}

/// Lists the first page through the proxy while it applies `fault` to every
/// request; the answer, the exchanges it made, and how long it took.
async fn list_through(
    proxy: &FaultProxy,
    plugin: &Plugin,
    conn: &ConnectionContext,
    fault: ProxyFault,
    deadline: Option<Duration>,
) -> (Result<JobPage, CallError>, Vec<Exchange>, Duration) {
    let before = proxy.exchanges().len();
    proxy.inject(fault);
    let started = Instant::now();
    let result = match deadline {
        Some(d) => plugin.list_jobs_within(conn, None, None, d).await,
        None => plugin.list_jobs(conn, None, None).await,
    };
    let took = started.elapsed();
    proxy.clear();
    let exchanges = proxy.exchanges().into_iter().skip(before).collect();
    (result, exchanges, took)
}

/// What the connector answered, for a detail.
fn answer(result: &Result<JobPage, CallError>) -> String {
    match result {
        Ok(page) => format!("a listing of {} jobs", page.jobs.len()),
        Err(e) => format!("`{}` ({e})", e.kind()),
    }
}

/// No request reached the proxy during the call: the fault was never served.
fn unserved(injected: &str, result: &Result<JobPage, CallError>) -> Verdict {
    fail(format!("injected {injected}, but no request reached the kit's proxy; the listing gave {}", answer(result)))
}

/// An HTTP 429 without `Retry-After` becomes `rate-limited`, with no delay
/// (the host backs off) or one the host would wait.
pub(super) async fn rate_limited_without_delay(run: &Run<'_>) -> Checked {
    let (proxy, conn) = proxied(run, "rate-limited-no-delay")?;
    let injected = "429 without Retry-After";
    let fault = ProxyFault::RateLimit { retry_after_secs: None };
    let (result, exchanges, _) = list_through(proxy, run.plugin, &conn, fault, None).await;
    if !exchanges.iter().any(|e| e.status == Some(429)) {
        return Err(unserved(injected, &result));
    }
    match result {
        Err(CallError::Connector { error: ConnectorError::RateLimited(limit), .. }) => match limit.retry_after_ms {
            None => Ok(format!("injected {injected} → answered rate-limited, no delay (the host backs off)")),
            Some(ms) if ms <= MAX_INVENTED_DELAY_MS => {
                Ok(format!("injected {injected} → answered rate-limited, retry after {ms} ms"))
            }
            Some(ms) => Err(fail(format!(
                "injected {injected} → answered rate-limited with {ms} ms, more than the {MAX_INVENTED_DELAY_MS} ms \
                 the host waits at most"
            ))),
        },
        other => Err(fail(format!("injected {injected} → answered {}, should be `rate-limited`", answer(&other)))),
    }
}

/// The ATS's connection drops, before any answer and in the middle of one:
/// both become `transient`, never a listing.
pub(super) async fn dropped_connection(run: &Run<'_>) -> Checked {
    let (proxy, conn) = proxied(run, "dropped-connection")?;
    let mut answered = Vec::new();
    for (fault, injected) in [
        (ProxyFault::DropConnection, "a connection closed without an answer"),
        (ProxyFault::DropMidBody, "a connection closed halfway through the body"),
    ] {
        let (result, exchanges, _) = list_through(proxy, run.plugin, &conn, fault, None).await;
        if exchanges.is_empty() {
            return Err(unserved(injected, &result));
        }
        match &result {
            Err(CallError::Connector { error: ConnectorError::Transient(_), .. }) => {
                answered.push(format!("{injected} → transient"));
            }
            other => {
                return Err(fail(format!("injected {injected} → answered {}, should be `transient`", answer(other))));
            }
        }
    }
    Ok(format!("injected {}", answered.join("; ")))
}

/// An answer slower than the call's deadline ends the call by the deadline:
/// the connector's own request timeout (`transient`) or the host's
/// (`timeout`), never a listing.
pub(super) async fn slow_response(run: &Run<'_>) -> Checked {
    let (proxy, conn) = proxied(run, "slow-response")?;
    let deadline = run.slow_deadline.min(MAX_SLOW / 2);
    // Held twice as long as the deadline: the answer surely comes after it.
    let held = deadline.saturating_mul(2);
    let injected = format!("an answer held {} ms, the call's deadline {} ms", held.as_millis(), deadline.as_millis());
    let (result, exchanges, took) =
        list_through(proxy, run.plugin, &conn, ProxyFault::Slow(held), Some(deadline)).await;
    if exchanges.is_empty() {
        return Err(unserved(&injected, &result));
    }
    if took > deadline + DEADLINE_GRACE {
        return Err(fail(format!(
            "injected {injected} → the call took {} ms and answered {}",
            took.as_millis(),
            answer(&result)
        )));
    }
    match &result {
        Err(CallError::Connector { error: ConnectorError::Transient(_), .. }) | Err(CallError::Timeout { .. }) => {
            Ok(format!("injected {injected} → answered {} after {} ms", answer(&result), took.as_millis()))
        }
        other => Err(fail(format!(
            "injected {injected} → answered {}, should be `transient` or the host's `timeout`",
            answer(other)
        ))),
    }
}

/// A page whose body is not JSON, truncated or garbled, is an error
/// (`transient` or `permanent`), never an empty or partial listing and
/// never a trap.
pub(super) async fn malformed_json(run: &Run<'_>) -> Checked {
    let (proxy, conn) = proxied(run, "malformed-json")?;
    let mut answered = Vec::new();
    for (fault, injected) in [
        (ProxyFault::MalformedJson, "a 200 whose JSON body is cut off halfway"),
        (ProxyFault::GarbledJson, "a 200 whose body is not JSON (unquoted key, trailing comma)"),
    ] {
        let (result, exchanges, _) = list_through(proxy, run.plugin, &conn, fault, None).await;
        if exchanges.is_empty() {
            return Err(unserved(injected, &result));
        }
        match &result {
            Err(
                e @ CallError::Connector { error: ConnectorError::Transient(_) | ConnectorError::Permanent(_), .. },
            ) => {
                answered.push(format!("{injected} → {}", e.kind()));
            }
            other => {
                return Err(fail(format!(
                    "injected {injected} → answered {}, should be `transient` or `permanent`",
                    answer(other)
                )));
            }
        }
    }
    Ok(format!("injected {}", answered.join("; ")))
}
