//! Deciding where a run's listing starts, and checking what each page
//! brings before anything of it is stored.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::options::{ListingMode, RunOptions};
use crate::contract::JobPage;
use crate::store::{Checkpoint, ConnectionState, JobPatch, Trigger};

/// Where a run's listing starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Plan {
    pub full_listing: bool,
    /// The checkpoint of an interrupted run to continue from.
    pub resume: Option<Checkpoint>,
    pub changed_since: Option<String>,
}

/// Full or incremental, fresh or resumed. A checkpoint older than `ttl`
/// (or written before checkpoints carried their time) is not resumed.
pub(super) fn plan(state: &ConnectionState, options: &RunOptions, now_unix: i64, ttl: Duration) -> Plan {
    let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
    let resumable = state
        .checkpoint
        .clone()
        .filter(|cp| cp.cursor.is_some())
        .filter(|cp| cp.written_unix > 0 && now_unix.saturating_sub(cp.written_unix) <= ttl)
        .filter(|cp| match options.mode {
            ListingMode::Auto => true,
            ListingMode::Full => cp.full_listing,
            ListingMode::Incremental => !cp.full_listing,
        });
    if let Some(cp) = resumable {
        // "--full" asks for a listing that sees every job in this run.
        if options.mode != ListingMode::Full {
            return Plan {
                full_listing: cp.full_listing,
                changed_since: if cp.full_listing { None } else { state.changed_since.clone() },
                resume: Some(cp),
            };
        }
    }
    let incremental = !state.reset_requested
        && state.changed_since.is_some()
        && match options.mode {
            // Scheduled runs list everything (that is how removals are
            // noticed); on-demand runs ask only for changes.
            ListingMode::Auto => matches!(options.trigger, Trigger::Manual),
            ListingMode::Full => false,
            ListingMode::Incremental => true,
        };
    Plan {
        full_listing: !incremental,
        resume: None,
        changed_since: if incremental { state.changed_since.clone() } else { None },
    }
}

/// The cursors a run has followed, to notice a listing that comes back to
/// one (A -> B -> A). Kept as 16-byte digests: a plugin's cursors may be
/// long, and a run may follow many.
#[derive(Debug, Default)]
pub(super) struct CursorLog {
    seen: HashSet<[u8; 16]>,
}

impl CursorLog {
    /// Records `cursor`; false when the run already followed it.
    pub fn first_visit(&mut self, cursor: &str) -> bool {
        self.seen.insert(Self::key(cursor))
    }

    /// Forgets `cursor`: a page the run had been led to that it will not
    /// visit after all (a re-listed page now leads elsewhere).
    pub fn forget(&mut self, cursor: &str) {
        self.seen.remove(&Self::key(cursor));
    }

    fn key(cursor: &str) -> [u8; 16] {
        let digest = Sha256::digest(cursor.as_bytes());
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        key
    }

    pub fn clear(&mut self) {
        self.seen.clear();
    }
}

/// A page's jobs as patches, with the page's next cursor: codes trimmed,
/// a job repeated within the page kept once (its last version, at its
/// first place), or the problem that makes the page unusable. Takes the
/// page: the patches own its strings, nothing is copied.
pub(super) fn patches_of(page: JobPage, cursor: Option<&str>) -> Result<(Vec<JobPatch>, Option<String>), String> {
    if page.next_cursor.is_some() && page.next_cursor.as_deref() == cursor {
        return Err("the next cursor equals the current one; the listing would never end".into());
    }
    let mut patches: Vec<JobPatch> = Vec::with_capacity(page.jobs.len());
    for job in page.jobs {
        let patch = JobPatch::from_owned_job(job);
        if patch.code.is_empty() {
            return Err(format!("a job without a code (title `{}`)", patch.title.escape_debug()));
        }
        patches.push(patch);
    }
    keep_last_of_each_code(&mut patches);
    Ok((patches, page.next_cursor))
}

/// Keeps one patch per code: the last version, at the first one's place.
/// The codes are borrowed, not copied (a page rarely repeats a job).
fn keep_last_of_each_code(patches: &mut Vec<JobPatch>) {
    let mut first: HashMap<&str, usize> = HashMap::with_capacity(patches.len());
    // (a repeat, the place of its code's first version), in page order.
    let mut repeats: Vec<(usize, usize)> = Vec::new();
    for (i, patch) in patches.iter().enumerate() {
        match first.entry(patch.code.as_str()) {
            Entry::Occupied(at) => repeats.push((i, *at.get())),
            Entry::Vacant(slot) => {
                slot.insert(i);
            }
        }
    }
    drop(first);
    if repeats.is_empty() {
        return;
    }
    let mut repeated = vec![false; patches.len()];
    for &(i, at) in &repeats {
        // Each later version goes to the first place; the one it displaces
        // (an earlier version) goes out with the repeat's place.
        patches.swap(at, i);
        repeated[i] = true;
    }
    let mut i = 0;
    patches.retain(|_| {
        i += 1;
        !repeated[i - 1]
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::job;

    const HOUR: Duration = Duration::from_secs(3600);

    fn state() -> ConnectionState {
        ConnectionState::default()
    }

    fn checkpoint(written_unix: i64, full_listing: bool) -> Checkpoint {
        Checkpoint {
            run_seq: 3,
            cursor: Some("page-7".into()),
            pages_done: 6,
            full_listing,
            listing_started_unix: written_unix - 60,
            written_unix,
        }
    }

    fn opts(trigger: Trigger, mode: ListingMode) -> RunOptions {
        RunOptions { trigger, mode, confirm_removals: false }
    }

    #[test]
    fn first_and_scheduled_runs_list_everything() {
        let auto = |t| opts(t, ListingMode::Auto);
        assert!(plan(&state(), &auto(Trigger::Manual), 0, HOUR).full_listing);
        let mut s = state();
        s.changed_since = Some("2026-01-01T00:00:00Z".into());
        assert!(plan(&s, &auto(Trigger::Scheduled), 0, HOUR).full_listing);
        let p = plan(&s, &auto(Trigger::Manual), 0, HOUR);
        assert!(!p.full_listing);
        assert_eq!(p.changed_since.as_deref(), Some("2026-01-01T00:00:00Z"));
        assert!(plan(&s, &opts(Trigger::Manual, ListingMode::Full), 0, HOUR).full_listing);
        assert!(!plan(&s, &opts(Trigger::Scheduled, ListingMode::Incremental), 0, HOUR).full_listing);
        s.reset_requested = true;
        assert!(plan(&s, &auto(Trigger::Manual), 0, HOUR).full_listing);
        assert!(plan(&s, &opts(Trigger::Manual, ListingMode::Incremental), 0, HOUR).full_listing);
    }

    #[test]
    fn a_recent_checkpoint_resumes_an_old_one_does_not() {
        let mut s = state();
        let now = 1_000_000;
        s.checkpoint = Some(checkpoint(now - 60, true));
        let p = plan(&s, &opts(Trigger::Scheduled, ListingMode::Auto), now, HOUR);
        assert_eq!(p.resume.as_ref().and_then(|c| c.cursor.as_deref()), Some("page-7"));
        assert!(p.full_listing);

        s.checkpoint = Some(checkpoint(now - 2 * 3600, true));
        let p = plan(&s, &opts(Trigger::Scheduled, ListingMode::Auto), now, HOUR);
        assert_eq!(p.resume, None, "a two-hour-old cursor with a one-hour TTL");
        // Written before checkpoints had a time: never resumed.
        s.checkpoint = Some(checkpoint(0, true));
        assert_eq!(plan(&s, &opts(Trigger::Scheduled, ListingMode::Auto), now, HOUR).resume, None);
        // "--full" starts a complete listing from the first page.
        s.checkpoint = Some(checkpoint(now - 60, true));
        assert_eq!(plan(&s, &opts(Trigger::Manual, ListingMode::Full), now, HOUR).resume, None);
    }

    #[test]
    fn cursor_cycles_are_noticed() {
        let mut log = CursorLog::default();
        assert!(log.first_visit("A") && log.first_visit("B"));
        assert!(!log.first_visit("A"));
    }

    #[test]
    fn pages_become_unique_trimmed_patches() {
        let mut second = job("J1", "Engineer II");
        second.code = " J1 ".into();
        let page = JobPage { jobs: vec![job("J1", "Engineer"), job("J2", "x"), second], next_cursor: None };
        let (patches, next) = patches_of(page, None).unwrap();
        assert_eq!(next, None);
        assert_eq!(patches.iter().map(|p| p.code.as_str()).collect::<Vec<_>>(), ["J1", "J2"]);
        assert_eq!(patches[0].title, "Engineer II", "the last version wins");

        // Three versions of one job among others: the last, at the first place.
        let versions = |code: &str, n: usize| -> Vec<crate::contract::Job> {
            (1..=n).map(|v| job(code, &format!("{code} v{v}"))).collect()
        };
        let (a, b) = (versions("A", 3), versions("B", 2));
        let jobs = vec![a[0].clone(), b[0].clone(), job("C", "C v1"), a[1].clone(), b[1].clone(), a[2].clone()];
        let (patches, _) = patches_of(JobPage { jobs, next_cursor: None }, None).unwrap();
        let got: Vec<(&str, &str)> = patches.iter().map(|p| (p.code.as_str(), p.title.as_str())).collect();
        assert_eq!(got, [("A", "A v3"), ("B", "B v2"), ("C", "C v1")]);

        let blank = JobPage { jobs: vec![job("  ", "x")], next_cursor: None };
        assert!(patches_of(blank, None).unwrap_err().contains("without a code"));
        let stuck = JobPage { jobs: vec![], next_cursor: Some("c".into()) };
        assert!(patches_of(stuck, Some("c")).unwrap_err().contains("never end"));
    }
}
