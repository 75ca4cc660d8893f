//! How HTTP failures reach the host: 429 as `rate-limited` with the delay
//! the ATS asked for, 5xx as `transient`. Needs a server the kit can break
//! on purpose: a mock, or any server behind the kit's fault proxy.

use atsbridge_mock_ats::{Fault, FaultRule, MockAts};

use super::proxy::{FaultProxy, ProxyFault};
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

const NEEDS_BREAKER: &str =
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
    for (key, value) in &mut conn.settings {
        if key == "base-url" {
            *value = SettingInput::Text(proxy.url());
        }
    }
    let origin = AllowedHosts::parse(&[proxy.origin()]).map_err(|e| fail(format!("the fault proxy: {e}")))?;
    conn.extra_hosts = conn.extra_hosts.union(&origin);
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
        Ok(_) => Err(fail("injected 429 on every request, the listing succeeded")),
        Err(e) => Err(fail(format!("injected 429, should give `rate-limited`, got `{}`: {e}", e.kind()))),
    }
}

/// HTTP 500 (the vendor's JSON error body on a mock) and 503 (a load
/// balancer's HTML page) both become `transient`.
pub(super) async fn transient(run: &Run<'_>) -> Checked {
    let (breaker, conn) = breaker(run, "transient")?;
    for status in [500, 503] {
        match list_under(&breaker, run.plugin, &conn, Fault::Status(status), status).await? {
            Err(CallError::Connector { error: ConnectorError::Transient(_), .. }) => {}
            Ok(_) => return Err(fail(format!("injected HTTP {status} on every request, the listing succeeded"))),
            Err(e) => {
                return Err(fail(format!("injected HTTP {status}, should give `transient`, got `{}`: {e}", e.kind())));
            }
        }
    }
    Ok("injected HTTP 500 and 503 → answered transient".into())
}
