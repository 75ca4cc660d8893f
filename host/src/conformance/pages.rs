//! A listing whose pages change between requests.
//!
//! The ATS's list of jobs is live: a recruiter opens or deletes a job while
//! a sync is between page 1 and page 2. A connector that pages by position
//! (`offset=15`) then sees the list shift under it: an insertion at the
//! front serves the last job of page 1 again on page 2, a deletion skips
//! the first job of page 2. A duplicate is noise, but a skipped job is
//! worse than it looks: the sync takes a job missing from a complete
//! listing for one deleted in the ATS and closes its position.
//!
//! What a correct connector must do (`docs/conformance.md`): within one
//! listing no job is listed twice, and no job that was in the ATS for the
//! whole listing is missing (jobs created or deleted meanwhile may or may
//! not appear; the next sync settles them). A connector that cannot keep
//! that promise must say so: an error answer (`transient`, `permanent`)
//! ends the run incomplete, and an incomplete run closes nothing.
//!
//! On a mock the kit really changes the data between page 1 and page 2. On
//! a server it cannot, so it makes the proxy answer as the server would:
//! when page 2 was asked for by position (a query parameter that advanced
//! by the number of jobs on page 1), the proxy serves every later page one
//! position earlier, which is what an offset-paged server does once a job
//! was inserted at the front. A page asked for by a cursor the server
//! issued is not shifted by an insertion at the front, so nothing changes.

use std::collections::{BTreeSet, HashSet};

use super::faults::through;
use super::proxy::{Exchange, FaultProxy, ProxyFault};
use super::{Checked, Run, fail, sample, skip};
use crate::contract::{ConnectorError, Job, JobPage};
use crate::runtime::{CallError, ConnectionContext};

/// Pages the changed listing may take: the same bound as the full listing.
const MAX_PAGES: usize = 1_000;
/// Codes quoted in a failure message.
const QUOTED: usize = 5;
/// Characters of page 2's query quoted in a detail: enough to show the
/// cursor's shape, not a whole token.
const QUERY_SHOWN: usize = 80;

/// How the rest of a listing went after the change.
enum Rest {
    /// Every page came, with these jobs (page 1 included).
    Listed(Vec<Job>),
    /// The connector answered an error on this page (2 or later).
    Surfaced(usize, CallError),
}

/// Follows `cursor` to the end from page 2, after `first`.
async fn rest_of(run: &Run<'_>, conn: &ConnectionContext, first: JobPage) -> Result<Rest, String> {
    let mut jobs = first.jobs;
    let mut cursor = first.next_cursor;
    let mut followed = HashSet::new();
    let mut page = 1;
    while let Some(next) = cursor {
        page += 1;
        if page > MAX_PAGES || !followed.insert(next.clone()) {
            return Err(format!("the cursor did not end (page {page}: {next})"));
        }
        match run.patience.call(|| run.plugin.list_jobs(conn, Some(&next), None)).await {
            Ok(p) => {
                jobs.extend(p.jobs);
                cursor = p.next_cursor;
            }
            Err(e) => return Ok(Rest::Surfaced(page, e)),
        }
    }
    Ok(Rest::Listed(jobs))
}

/// Judges the listing under the change against the jobs that were there
/// throughout: none twice, none missing; or an error the connector gave.
fn judge(injected: &str, rest: Rest, throughout: &BTreeSet<String>) -> Checked {
    let jobs = match rest {
        Rest::Surfaced(page, e) => {
            return match &e {
                CallError::Connector { error: ConnectorError::Transient(_) | ConnectorError::Permanent(_), .. } => {
                    Ok(format!("{injected} → answered `{}` on page {page}, so the run ends incomplete: {e}", e.kind()))
                }
                _ => Err(fail(format!(
                    "{injected} → answered `{}` on page {page} ({e}), should be a consistent listing or \
                     `transient`/`permanent`",
                    e.kind()
                ))),
            };
        }
        Rest::Listed(jobs) => jobs,
    };
    let mut seen = HashSet::new();
    let twice: BTreeSet<&str> = jobs.iter().map(|j| j.code.as_str()).filter(|c| !seen.insert(*c)).collect();
    if !twice.is_empty() {
        let twice: Vec<&str> = twice.into_iter().collect();
        return Err(fail(format!(
            "{injected} → listed {} jobs more than once: {}",
            twice.len(),
            sample(&twice, QUOTED)
        )));
    }
    let missing: Vec<&String> = throughout.iter().filter(|c| !seen.contains(c.as_str())).collect();
    if !missing.is_empty() {
        return Err(fail(format!(
            "{injected} → {} jobs that were there all along are missing (the sync would close them): {}",
            missing.len(),
            sample(&missing, QUOTED)
        )));
    }
    Ok(format!(
        "{injected} → listed {} jobs, each once, none of the {} there all along missing",
        jobs.len(),
        throughout.len()
    ))
}

/// The listing stays consistent by ids while its pages change.
pub(super) async fn changing_pages(run: &Run<'_>) -> Checked {
    if run.listed.is_none() {
        return Err(skip("needs the full listing (see `full-listing`)"));
    }
    match run.mock {
        Some(mock) => on_mock(run, mock).await,
        None => on_server(run).await,
    }
}

async fn on_mock(run: &Run<'_>, mock: &atsbridge_mock_ats::MockAts) -> Checked {
    let conn = run.connection("changing-pages")?;
    let first = run
        .patience
        .call(|| run.plugin.list_jobs(&conn, None, None))
        .await
        .map_err(|e| fail(format!("page 1 failed: {e}")))?;
    if first.next_cursor.is_none() {
        return Err(skip(format!(
            "the listing fits on one page ({} jobs): nothing can change between pages",
            first.jobs.len()
        )));
    }
    let Some(removed) = first.jobs.first().map(|j| j.code.clone()) else {
        return Err(fail("page 1 is empty but has a next cursor"));
    };
    mock.remove_job(&removed)
        .map_err(|e| fail(format!("cannot delete job {removed} (listed first on page 1) from the mock: {e}")))?;
    let added = mock.add_jobs(1).into_iter().map(|j| j.id).collect::<Vec<_>>().join(", ");
    let throughout: BTreeSet<String> = mock.jobs().into_iter().map(|j| j.id).filter(|id| *id != added).collect();
    let injected = format!("deleted job {removed} (first on page 1) and created job {added} between page 1 and page 2");
    let rest = rest_of(run, &conn, first).await.map_err(fail)?;
    judge(&injected, rest, &throughout)
}

/// How page 2 was asked for.
enum Paging {
    /// By this query parameter of requests to this path, counting jobs.
    Offset { path: String, param: String },
    /// By this query parameter counting pages.
    PageNumber { param: String },
    /// By something the server handed out.
    Cursor,
}

/// Compares the requests of page 1 and page 2: a parameter of the same
/// path that advanced by the number of jobs on page 1 is an offset, one
/// that advanced by one a page number.
fn paging(page1: &[Exchange], page2: &[Exchange], jobs_on_page1: usize) -> Paging {
    let number = |v: &str| v.parse::<u64>().ok();
    for second in page2 {
        for first in page1.iter().filter(|f| f.method == second.method && f.path == second.path) {
            let before = first.params();
            for (key, value) in second.params() {
                let Some(now) = number(&value) else { continue };
                let was = before.iter().find(|(k, _)| *k == key).and_then(|(_, v)| number(v));
                let step = now.saturating_sub(was.unwrap_or(0));
                if now > was.unwrap_or(0) && step == jobs_on_page1 as u64 {
                    return Paging::Offset { path: second.path.clone(), param: key };
                }
                // Page 1 often names no page number at all: absent is page 1.
                if step == 1 || (was.is_none() && now == 2) {
                    return Paging::PageNumber { param: key };
                }
            }
        }
    }
    Paging::Cursor
}

/// Lists through the proxy: one page, and the exchanges it made.
async fn page_through(
    run: &Run<'_>,
    proxy: &FaultProxy,
    conn: &ConnectionContext,
    cursor: Option<&str>,
) -> Result<(JobPage, Vec<Exchange>), String> {
    let before = proxy.exchanges().len();
    let page = run.patience.call(|| run.plugin.list_jobs(conn, cursor, None)).await.map_err(|e| e.to_string())?;
    Ok((page, proxy.exchanges().into_iter().skip(before).collect()))
}

async fn on_server(run: &Run<'_>) -> Checked {
    let proxy = run.proxy.as_ref().ok_or_else(|| skip(super::faults::NEEDS_BREAKER))?;
    let mut conn = run.connection("changing-pages")?;
    through(proxy, &mut conn)?;
    let throughout: BTreeSet<String> =
        run.listed.as_ref().map(|(jobs, _)| jobs.iter().map(|j| j.code.clone()).collect()).unwrap_or_default();
    // First as it is, to see how page 2 is asked for.
    let (first, page1) =
        page_through(run, proxy, &conn, None).await.map_err(|e| fail(format!("page 1 failed: {e}")))?;
    let Some(cursor) = first.next_cursor.clone() else {
        return Err(skip(format!(
            "the listing fits on one page ({} jobs): nothing can change between pages",
            first.jobs.len()
        )));
    };
    let (second, page2) =
        page_through(run, proxy, &conn, Some(&cursor)).await.map_err(|e| fail(format!("page 2 failed: {e}")))?;
    if page2.is_empty() {
        return Err(skip(
            "page 2 was not fetched through the kit's proxy (the ATS hands out absolute next-page URLs), so the \
             kit cannot change it",
        ));
    }
    match paging(&page1, &page2, first.jobs.len()) {
        Paging::Offset { path, param } => {
            let (first, _) =
                page_through(run, proxy, &conn, None).await.map_err(|e| fail(format!("page 1 failed: {e}")))?;
            let injected = format!(
                "a job inserted at the front between page 1 and page 2 (from page 2 on, the proxy served `{param}` \
                 one lower, as an offset-paged server does)"
            );
            proxy.inject(ProxyFault::ShiftOffset { path, param });
            let rest = rest_of(run, &conn, first).await;
            proxy.clear();
            judge(&injected, rest.map_err(fail)?, &throughout)
        }
        Paging::PageNumber { param } => Err(skip(format!(
            "page 2 is asked for by page number (`{param}`); the kit shifts listings paged by offset or cursor only"
        ))),
        Paging::Cursor => {
            let mut codes = HashSet::new();
            let twice: Vec<&str> =
                first.jobs.iter().chain(&second.jobs).map(|j| j.code.as_str()).filter(|c| !codes.insert(*c)).collect();
            if !twice.is_empty() {
                return Err(fail(format!("pages 1 and 2 list the same jobs: {}", sample(&twice, QUOTED))));
            }
            let query: String = page2
                .iter()
                .filter_map(|e| e.query.as_deref())
                .next()
                .unwrap_or("")
                .chars()
                .take(QUERY_SHOWN)
                .collect();
            Ok(format!(
                "page 2 is asked for by a cursor the server issued (`{query}`), not by position: a job inserted at \
                 the front does not shift it, so the proxy changed nothing; pages 1 and 2 hold {} jobs, each once",
                codes.len()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(path: &str, query: &str) -> Exchange {
        Exchange { method: "GET".into(), path: path.into(), query: Some(query.into()), status: Some(200) }
    }

    #[test]
    fn offsets_page_numbers_and_cursors_are_told_apart() {
        let p1 = [exchange("/jobs", "limit=15&offset=0"), exchange("/jobs/1/ads", "")];
        let p2 = [exchange("/jobs", "limit=15&offset=15"), exchange("/jobs/16/ads", "")];
        assert!(matches!(paging(&p1, &p2, 15), Paging::Offset { path, param } if path == "/jobs" && param == "offset"));
        // The first page often carries no offset at all.
        assert!(matches!(paging(&[exchange("/jobs", "limit=15")], &p2, 15), Paging::Offset { .. }));
        let p2 = [exchange("/jobs", "page=2&per_page=15")];
        assert!(
            matches!(paging(&[exchange("/jobs", "per_page=15")], &p2, 15), Paging::PageNumber { param } if param == "page")
        );
        let p2 = [exchange("/postings", "limit=15&offset=eyJhZnRlciI6MTV9")];
        assert!(matches!(paging(&[exchange("/postings", "limit=15")], &p2, 15), Paging::Cursor));
        // A parameter of another path proves nothing.
        assert!(matches!(paging(&[exchange("/a", "offset=0")], &[exchange("/b", "offset=15")], 15), Paging::Cursor));
    }

    #[test]
    fn a_duplicate_or_a_missing_job_fails_and_an_error_is_an_answer() {
        let job = |code: &str| Job {
            code: code.into(),
            status: crate::contract::JobStatus::Open,
            raw_status: "open".into(),
            title: "T".into(),
            locations: vec![],
            description: String::new(),
            assigned_users: vec![],
            updated_at: None,
            extra: vec![],
        };
        let all: BTreeSet<String> = ["1", "2", "3"].iter().map(|c| c.to_string()).collect();
        let ok = judge("x", Rest::Listed(vec![job("1"), job("2"), job("3"), job("4")]), &all);
        assert!(ok.is_ok());
        let twice = judge("x", Rest::Listed(vec![job("1"), job("2"), job("2"), job("3")]), &all);
        assert!(matches!(twice, Err(super::super::Verdict::Fail(d)) if d.contains("more than once: 2")));
        let skipped = judge("x", Rest::Listed(vec![job("1"), job("3")]), &all);
        assert!(matches!(skipped, Err(super::super::Verdict::Fail(d)) if d.contains("missing") && d.ends_with(": 2")));
        let surfaced = CallError::Connector { plugin: "p".into(), error: ConnectorError::Transient("moved".into()) };
        assert!(judge("x", Rest::Surfaced(2, surfaced), &all).is_ok());
    }
}
