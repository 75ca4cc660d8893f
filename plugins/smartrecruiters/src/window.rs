//! Offset paging that holds when the job list changes between pages.
//!
//! `GET /jobs` pages by `offset`. A job deleted before the current offset
//! between two requests shifts every later job one place back, so plain
//! offset paging would skip one; a job created in front shifts them forward
//! and one would come twice. A skipped job is the dangerous case: the sync
//! would close its position. So the cursor carries, besides the offset,
//! the ids of the last jobs served (the anchors); the next request reads a
//! window reaching a few jobs ([`BEHIND`], [`AHEAD`]) either side of where the previous page
//! ended, finds the anchors in it, and continues right after them. When no
//! anchor is found the list moved by more than that: the page fails
//! as transient rather than guess, and a failed listing closes nothing.

use atsbridge_sdk::paging;
use atsbridge_sdk::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api;

/// How many jobs may be deleted in front of the place between two pages
/// (a page of 2 jobs takes about a second) and the place still be found.
pub const BEHIND: u64 = 5;
/// How many jobs may be created in front of the place between two pages.
/// The window is 1 + [`BEHIND`] + [`AHEAD`] + the page size long: a list
/// request costs the same whatever its length, and 13 stays under any
/// server's page size cap seen (the API allows 100).
pub const AHEAD: u64 = 5;
/// How many of the last served ids the cursor keeps: one deleted anchor
/// must not lose the place.
const ANCHORS: usize = 3;

/// Where the next page starts: the offset after the last job served and
/// the ids of the last jobs served, newest last.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Resume {
    offset: u64,
    anchors: Vec<String>,
}

/// What to request for a page, and how to read the answer.
#[derive(Debug, PartialEq)]
pub struct Window {
    /// The `offset` to request.
    pub offset: u64,
    /// The `limit` to request.
    pub limit: u64,
    anchors: Vec<String>,
}

/// A page's jobs, and the cursor of the page after it.
pub struct Served {
    pub jobs: Vec<api::Job>,
    pub next_cursor: Option<String>,
}

impl Window {
    /// The window for `cursor` (`None`: the first page) and pages of `page_size`.
    pub fn of(cursor: Option<&str>, page_size: u64) -> Result<Window, ConnectorError> {
        let Some(token) = paging::vendor_token(cursor)? else {
            return Ok(Window { offset: 0, limit: page_size, anchors: Vec::new() });
        };
        let resume: Resume = serde_json::from_str(&token)
            .map_err(|e| ConnectorError::Permanent(format!("not a SmartRecruiters listing cursor ({e})")))?;
        if resume.anchors.is_empty() || resume.anchors.len() > ANCHORS {
            return Err(ConnectorError::Permanent("a SmartRecruiters listing cursor without its anchors".into()));
        }
        // The last anchor stood at `offset - 1`; it may have moved BEHIND
        // places back or AHEAD places forward.
        let offset = resume.offset.saturating_sub(1 + BEHIND);
        let limit = (resume.offset - offset) + AHEAD + page_size;
        Ok(Window { offset, limit, anchors: resume.anchors })
    }

    /// Up to `page_size` jobs of `listed` (this window's answer) that come
    /// after the anchors, and the next cursor (`None` after the last page;
    /// `total` is the API's `totalFound`).
    pub fn serve(self, listed: Vec<api::Job>, total: Option<u64>, page_size: u64) -> Result<Served, ConnectorError> {
        let skip = if self.anchors.is_empty() {
            0
        } else {
            let last_anchor = listed.iter().rposition(|job| self.anchors.contains(&job.id)).ok_or_else(|| {
                ConnectorError::Transient(format!(
                    "the job list changed by more than {BEHIND} jobs in front of this page since the last; list again"
                ))
            })?;
            last_anchor + 1
        };
        // A full window may end right at the anchor (jobs were created in
        // front): then the next page starts there, with nothing served now.
        let window_full = listed.len() as u64 >= self.limit;
        let jobs: Vec<api::Job> =
            listed.into_iter().skip(skip).take(usize::try_from(page_size).unwrap_or(usize::MAX)).collect();
        let next = self.offset + (skip + jobs.len()) as u64;
        let more = (!jobs.is_empty() || window_full) && total.is_none_or(|total| next < total);
        let next_cursor = match more {
            true => {
                let mut anchors = self.anchors;
                anchors.extend(jobs.iter().map(|job| job.id.clone()));
                let anchors = anchors.split_off(anchors.len().saturating_sub(ANCHORS));
                let token = serde_json::to_string(&Resume { offset: next, anchors })
                    .map_err(|e| ConnectorError::Permanent(format!("cannot write the listing cursor: {e}")))?;
                paging::vendor_token_cursor(Some(token))
            }
            false => None,
        };
        Ok(Served { jobs, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: u64 = 2;

    fn job(id: &str) -> api::Job {
        serde_json::from_value(serde_json::json!({"id": id, "title": id})).unwrap()
    }

    /// Lists all of `list` page by page, calling `between` with the page
    /// number after each page, as the host follows cursors.
    fn list_all(
        list: &mut Vec<String>,
        mut between: impl FnMut(usize, &mut Vec<String>),
    ) -> Result<Vec<String>, ConnectorError> {
        let (mut served, mut cursor, mut page) = (Vec::new(), None::<String>, 0);
        loop {
            let window = Window::of(cursor.as_deref(), PAGE)?;
            let start = usize::try_from(window.offset).unwrap().min(list.len());
            let end = (start + usize::try_from(window.limit).unwrap()).min(list.len());
            let listed = list[start..end].iter().map(|id| job(id)).collect();
            let out = window.serve(listed, Some(list.len() as u64), PAGE)?;
            served.extend(out.jobs.into_iter().map(|j| j.id));
            page += 1;
            match out.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(served),
            }
            between(page, list);
        }
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("job-{i}")).collect()
    }

    #[test]
    fn an_unchanging_list_is_served_once_in_order() {
        let mut list = ids(7);
        assert_eq!(list_all(&mut list.clone(), |_, _| {}).unwrap(), list);
        list.clear();
        assert_eq!(list_all(&mut list, |_, _| {}).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn a_deletion_in_front_skips_nothing_and_an_insertion_repeats_nothing() {
        let mut list = ids(9);
        let served = list_all(&mut list, |page, list| match page {
            1 => drop(list.remove(0)),
            2 => list.insert(0, "new-front".into()),
            3 => drop(list.remove(3)),
            _ => {}
        })
        .unwrap();
        // Every job there all along comes exactly once, in order; the job
        // created in front after its place was passed is for the next run.
        assert_eq!(served, ids(9));
    }

    #[test]
    fn jobs_created_in_front_up_to_the_window_repeat_nothing() {
        let mut list = ids(12);
        let served = list_all(&mut list, |page, list| {
            if page == 2 {
                for n in 0..usize::try_from(AHEAD).unwrap() + 1 {
                    list.insert(0, format!("new-{n}"));
                }
            }
        })
        .unwrap();
        assert_eq!(served, ids(12));
    }

    #[test]
    fn a_list_moved_past_the_overlap_fails_as_transient() {
        let mut list = ids(60);
        let err = list_all(&mut list, |page, list| {
            if page == 1 {
                list.drain(0..usize::try_from(BEHIND).unwrap() + 5);
            }
        })
        .unwrap_err();
        assert!(matches!(err, ConnectorError::Transient(_)), "{err:?}");
    }

    #[test]
    fn a_foreign_cursor_is_refused() {
        assert!(matches!(Window::of(Some("offset:4"), PAGE), Err(ConnectorError::Permanent(_))));
        assert!(matches!(
            Window::of(Some("token:{\"offset\":4,\"anchors\":[]}"), PAGE),
            Err(ConnectorError::Permanent(_))
        ));
    }
}
