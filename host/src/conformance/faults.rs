//! How HTTP failures reach the host: 429 as `rate-limited` with the delay
//! the ATS asked for, 5xx as `transient`. Needs a mock to break on purpose.

use atsbridge_mock_ats::{Fault, FaultRule, MockAts};

use super::{Checked, Run, Verdict, fail, skip};
use crate::contract::{ConnectorError, JobPage};
use crate::runtime::{CallError, ConnectionContext, Plugin};

/// The `Retry-After` the mock sends, in seconds. Not a round number, so a
/// connector that invents its own delay does not match it by chance.
const RETRY_AFTER_SECS: u64 = 7;
/// A connector may wait longer than asked (rounding, jitter), up to this
/// factor; shorter would be impolite to the ATS, much longer a unit mix-up.
const RETRY_AFTER_MAX_FACTOR: u64 = 2;

const NEEDS_MOCK: &str = "needs a server the kit can make fail on purpose (run with --mock)";

/// Lists the first page while every API request fails with `fault`
/// (answered with `status`). Fails the check unless a request actually got
/// that answer: an error the connector made up proves nothing.
async fn list_under(
    mock: &MockAts,
    plugin: &Plugin,
    conn: &ConnectionContext,
    fault: Fault,
    status: u16,
) -> Result<Result<JobPage, CallError>, Verdict> {
    let before = mock.request_count();
    // Every request, not just the next: a connector may make several.
    mock.inject(FaultRule::new(fault).times(u32::MAX));
    let result = plugin.list_jobs(conn, None, None).await;
    mock.clear_faults();
    if !mock.requests().iter().skip(before).any(|r| r.status == Some(status)) {
        let said = match &result {
            Ok(page) => format!("{} jobs", page.jobs.len()),
            Err(e) => e.to_string(),
        };
        return Err(fail(format!(
            "no request got the HTTP {status} the mock was set to answer; the listing gave {said}"
        )));
    }
    Ok(result)
}

/// An HTTP 429 with `Retry-After: 7` becomes `rate-limited` carrying 7 s
/// (up to twice that).
pub(super) async fn rate_limited(run: &Run<'_>) -> Checked {
    let mock = run.mock.ok_or_else(|| skip(NEEDS_MOCK))?;
    let conn = run.connection("rate-limited")?;
    let asked = RETRY_AFTER_SECS * 1000;
    let result =
        list_under(mock, run.plugin, &conn, Fault::RateLimit { retry_after_secs: RETRY_AFTER_SECS }, 429).await?;
    match result {
        Err(CallError::Connector { error: ConnectorError::RateLimited(limit), .. }) => match limit.retry_after_ms {
            Some(ms) if (asked..=asked * RETRY_AFTER_MAX_FACTOR).contains(&ms) => {
                Ok(format!("429 with Retry-After: {RETRY_AFTER_SECS} → rate-limited, retry after {ms} ms"))
            }
            Some(ms) => Err(fail(format!(
                "the ATS asked for {asked} ms (Retry-After: {RETRY_AFTER_SECS}), the error says {ms} ms"
            ))),
            None => Err(fail(format!("the ATS sent Retry-After: {RETRY_AFTER_SECS}, the error carries no delay"))),
        },
        Ok(_) => Err(fail("the listing succeeded although every request got 429")),
        Err(e) => Err(fail(format!("a 429 should give `rate-limited`, got `{}`: {e}", e.kind()))),
    }
}

/// HTTP 500 (the vendor's JSON error body) and 503 (a load balancer's HTML
/// page) both become `transient`.
pub(super) async fn transient(run: &Run<'_>) -> Checked {
    let mock = run.mock.ok_or_else(|| skip(NEEDS_MOCK))?;
    let conn = run.connection("transient")?;
    for status in [500, 503] {
        match list_under(mock, run.plugin, &conn, Fault::Status(status), status).await? {
            Err(CallError::Connector { error: ConnectorError::Transient(_), .. }) => {}
            Ok(_) => return Err(fail(format!("the listing succeeded although every request got {status}"))),
            Err(e) => return Err(fail(format!("HTTP {status} should give `transient`, got `{}`: {e}", e.kind()))),
        }
    }
    Ok("HTTP 500 (JSON body) and 503 (HTML page) → transient".into())
}
