//! Job listings: full, and incremental (`changed-since`).

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, SecondsFormat, Utc};

use super::{Checked, Run, fail, sample, skip};
use crate::contract::Job;
use crate::runtime::ConnectionContext;

/// Pages one listing may take before the kit decides the cursor never ends.
/// A real account of 100,000 jobs at 100 a page needs 1,000.
const MAX_PAGES: usize = 1_000;
/// Problems quoted in a failure message; the count says how many more.
const QUOTED: usize = 5;
/// Jobs the incremental check changes in the mock (see [`incremental`]).
const CHANGED_JOBS: usize = 2;

/// Every page of a listing.
struct Listing {
    jobs: Vec<Job>,
    pages: usize,
}

/// Follows the cursor to the end. Fails on a call error, on a cursor that
/// comes back (the listing would loop) and after [`MAX_PAGES`].
async fn list_all(run: &Run<'_>, conn: &ConnectionContext, changed_since: Option<&str>) -> Result<Listing, String> {
    let mut followed = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut listing = Listing { jobs: Vec::new(), pages: 0 };
    loop {
        if listing.pages == MAX_PAGES {
            return Err(format!("the cursor did not end after {MAX_PAGES} pages ({} jobs)", listing.jobs.len()));
        }
        let page = run
            .patience
            .call(|| run.plugin.list_jobs(conn, cursor.as_deref(), changed_since))
            .await
            .map_err(|e| format!("page {} failed: {e}", listing.pages + 1))?;
        listing.pages += 1;
        listing.jobs.extend(page.jobs);
        match page.next_cursor {
            None => return Ok(listing),
            Some(next) if !followed.insert(next.clone()) => {
                return Err(format!(
                    "page {} returned a cursor already followed, so the listing loops: {next}",
                    listing.pages
                ));
            }
            Some(next) => cursor = Some(next),
        }
    }
}

/// Codes listed more than once, each once.
fn duplicates(jobs: &[Job]) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut dup = BTreeSet::new();
    for job in jobs {
        if !seen.insert(job.code.as_str()) {
            dup.insert(job.code.clone());
        }
    }
    dup.into_iter().collect()
}

/// Jobs that break the contract's shape: no code, no title, an `updated-at`
/// that is not RFC 3339.
fn malformed(jobs: &[Job]) -> Vec<String> {
    jobs.iter()
        .filter_map(|j| {
            if j.code.trim().is_empty() {
                Some(format!("a job titled {:?} has no code", j.title))
            } else if j.title.trim().is_empty() {
                Some(format!("job {} has no title", j.code))
            } else {
                let stamp = j.updated_at.as_deref().filter(|t| DateTime::parse_from_rfc3339(t).is_err())?;
                Some(format!("job {} has updated-at {stamp:?}, not RFC 3339", j.code))
            }
        })
        .collect()
}

/// Duplicates and malformed jobs, as a failure message.
fn shape_problems(jobs: &[Job]) -> Result<(), String> {
    let dup = duplicates(jobs);
    if !dup.is_empty() {
        return Err(format!("{} jobs listed more than once: {}", dup.len(), sample(&dup, QUOTED)));
    }
    let bad = malformed(jobs);
    if !bad.is_empty() {
        return Err(format!("{} malformed jobs: {}", bad.len(), sample(&bad, QUOTED)));
    }
    Ok(())
}

/// Set differences, as "missing …; unexpected …".
fn difference(got: &BTreeSet<String>, want: &BTreeSet<String>) -> String {
    let missing: Vec<&String> = want.difference(got).collect();
    let extra: Vec<&String> = got.difference(want).collect();
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("{} missing ({})", missing.len(), sample(&missing, QUOTED)));
    }
    if !extra.is_empty() {
        parts.push(format!("{} not expected ({})", extra.len(), sample(&extra, QUOTED)));
    }
    parts.join("; ")
}

/// A listing for `changed-since` that returned all `full` jobs and dates
/// none of them: a connector whose ATS cannot filter by change (BambooHR)
/// ignores `changed-since`, which the contract allows, and every listing is
/// a full refresh. With a single `updated-at` the connector could have
/// filtered, so this does not apply.
fn full_refresh(listing: &[Job], full: usize) -> bool {
    full > 0 && listing.len() == full && listing.iter().all(|j| j.updated_at.is_none())
}

fn pages_text(pages: usize) -> String {
    if pages == 1 { "1 page".into() } else { format!("{pages} pages") }
}

fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A full listing returns every job exactly once and the cursor ends; on a
/// mock, exactly the mock's jobs.
pub(super) async fn full(run: &mut Run<'_>) -> Checked {
    let conn = run.connection("full-listing")?;
    let started = now_rfc3339();
    let listing = list_all(run, &conn, None).await.map_err(fail)?;
    let pages = listing.pages;
    let jobs = &listing.jobs;
    run.listed = Some((jobs.clone(), started));
    shape_problems(jobs).map_err(fail)?;
    let Some(mock) = run.mock else {
        return Ok(format!("{} jobs in {}, each once; the cursor ended", jobs.len(), pages_text(pages)));
    };
    let got: BTreeSet<String> = jobs.iter().map(|j| j.code.clone()).collect();
    let want: BTreeSet<String> = mock.jobs().into_iter().map(|j| j.id).collect();
    if got != want {
        return Err(fail(format!(
            "the listing differs from the mock's {} jobs: {}",
            want.len(),
            difference(&got, &want)
        )));
    }
    Ok(format!("all {} jobs of the mock in {}, each once", jobs.len(), pages_text(pages)))
}

/// `changed-since` returns the jobs changed since and no others. On a mock
/// the kit changes [`CHANGED_JOBS`] jobs after taking the watermark; on a
/// server it lists changes since the full listing began and checks that
/// nothing older comes back.
pub(super) async fn incremental(run: &Run<'_>) -> Checked {
    let conn = run.connection("incremental-listing")?;
    let Some(mock) = run.mock else {
        return incremental_on_server(run, &conn).await;
    };
    let all = mock.jobs();
    if all.len() < CHANGED_JOBS {
        return Err(skip(format!("the mock has fewer than {CHANGED_JOBS} jobs to change")));
    }
    // The mock stamps changes with the wall clock, so every change made now
    // is at or after this second.
    let watermark = now_rfc3339();
    let mut changed = BTreeSet::new();
    // A third and two thirds into the listing: distinct for two jobs or more,
    // and neither on the first page of a long listing.
    for index in [all.len() / 3, 2 * all.len() / 3] {
        let id = &all[index].id;
        mock.update_job(id, |j| j.title.push_str(" (changed)"))
            .map_err(|e| fail(format!("cannot change the mock: {e}")))?;
        changed.insert(id.clone());
    }
    let listing = list_all(run, &conn, Some(&watermark)).await.map_err(fail)?;
    shape_problems(&listing.jobs).map_err(fail)?;
    let got: BTreeSet<String> = listing.jobs.iter().map(|j| j.code.clone()).collect();
    let everything: BTreeSet<String> = mock.jobs().into_iter().map(|j| j.id).collect();
    if got == everything && full_refresh(&listing.jobs, everything.len()) {
        return Ok(format!(
            "changed-since {watermark} returned all {} jobs, none with updated-at: the connector ignores \
             changed-since (a full refresh, as the contract allows where the ATS cannot filter)",
            got.len()
        ));
    }
    if got != changed {
        return Err(fail(format!(
            "changed-since {watermark} after changing {} of {} jobs returned {} jobs: {}",
            changed.len(),
            all.len(),
            got.len(),
            difference(&got, &changed)
        )));
    }
    Ok(format!(
        "changed-since {watermark} returned exactly the {} changed jobs of {} ({})",
        changed.len(),
        all.len(),
        pages_text(listing.pages)
    ))
}

async fn incremental_on_server(run: &Run<'_>, conn: &ConnectionContext) -> Checked {
    let (full, since) = run.listed.as_ref().ok_or_else(|| skip("needs the full listing (see `full-listing`)"))?;
    let watermark = DateTime::parse_from_rfc3339(since).expect("written by now_rfc3339");
    let listing = list_all(run, conn, Some(since)).await.map_err(fail)?;
    shape_problems(&listing.jobs).map_err(fail)?;
    let stale: Vec<String> = listing
        .jobs
        .iter()
        .filter_map(|j| {
            let at = DateTime::parse_from_rfc3339(j.updated_at.as_deref()?).ok()?;
            (at < watermark).then(|| format!("{} ({})", j.code, j.updated_at.as_deref().unwrap_or_default()))
        })
        .collect();
    if !stale.is_empty() {
        return Err(fail(format!(
            "changed-since {since} returned {} jobs last changed before it: {}",
            stale.len(),
            sample(&stale, QUOTED)
        )));
    }
    if full_refresh(&listing.jobs, full.len()) && full.iter().all(|j| j.updated_at.is_none()) {
        return Ok(format!(
            "changed-since {since} returned all {} jobs, none with updated-at: a full refresh, as the contract \
             allows where the ATS cannot filter",
            listing.jobs.len()
        ));
    }
    // Without timestamps, a listing that ignores the filter shows as one
    // that returns everything the full listing had moments ago.
    if !full.is_empty() && listing.jobs.len() >= full.len() {
        return Err(fail(format!(
            "changed-since {since} (when the full listing began) returned all {} jobs: the filter looks ignored",
            listing.jobs.len()
        )));
    }
    Ok(format!("changed-since {since} returned {} of {} jobs, none older", listing.jobs.len(), full.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::JobStatus;

    fn job(code: &str, title: &str, updated_at: Option<&str>) -> Job {
        Job {
            code: code.into(),
            status: JobStatus::Open,
            raw_status: "open".into(),
            title: title.into(),
            locations: vec![],
            description: String::new(),
            assigned_users: vec![],
            updated_at: updated_at.map(str::to_string),
            extra: vec![],
        }
    }

    #[test]
    fn duplicates_and_malformed_jobs_are_named() {
        let ok = [job("1", "A", Some("2026-01-01T00:00:00Z")), job("2", "B", None)];
        assert_eq!(shape_problems(&ok), Ok(()));
        let twice = [job("1", "A", None), job("2", "B", None), job("1", "A", None), job("1", "A", None)];
        assert_eq!(shape_problems(&twice), Err("1 jobs listed more than once: 1".into()));
        let bad = [job("", "A", None), job("3", " ", None), job("4", "D", Some("yesterday"))];
        let message = shape_problems(&bad).unwrap_err();
        assert!(message.starts_with("3 malformed jobs:"), "{message}");
        assert!(
            message.contains("has no code")
                && message.contains("job 3 has no title")
                && message.contains("\"yesterday\""),
            "{message}"
        );
    }

    #[test]
    fn only_undated_complete_listings_are_full_refreshes() {
        let undated = [job("1", "A", None), job("2", "B", None)];
        assert!(full_refresh(&undated, 2));
        assert!(!full_refresh(&undated, 3), "a job is missing");
        assert!(!full_refresh(&[], 0));
        let dated = [job("1", "A", None), job("2", "B", Some("2026-01-01T00:00:00Z"))];
        assert!(!full_refresh(&dated, 2), "a dated job means the connector could filter");
    }

    #[test]
    fn differences_name_missing_and_unexpected_codes() {
        let set = |codes: &[&str]| codes.iter().map(|c| c.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(difference(&set(&["1", "3"]), &set(&["1", "2"])), "1 missing (2); 1 not expected (3)");
        let many: Vec<String> = (0..8).map(|n| n.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(difference(&set(&[]), &set(&many)), "8 missing (0, 1, 2, 3, 4 and 3 more)");
    }
}
