//! A run's page loop: each page fetched (the next one while this one is
//! committed), committed as the plugin listed it or from its replay record,
//! and the run's bounds and cursor-cycle check between pages.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Listing, SyncEngine, SyncProgress, unix_now};
use crate::contract::JobPage;
use crate::runtime::Plugin;
use crate::store::{Checkpoint, Connection, JobPatch, PageCommit, PageResult, ReplayedJob, SyncRun};
use crate::sync::fetch::{FetchError, Fetched, PageFetcher, PendingPage, cursor_refused};
use crate::sync::page_replay::{PendingRecord, Replayed, Replayer};
use crate::sync::plan::{CursorLog, patches_of};
use crate::sync::{RunBound, RunLimits, SyncError};

/// A page that changed nothing is checkpointed at most this often: an
/// unchanged resync then writes almost nothing, and a crash re-lists at most
/// this much already-applied (unchanged) data.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(2);

/// Where a run's listing stands between pages.
struct Chain {
    /// The cursor of the page being committed (`None`: the first page).
    cursor: Option<String>,
    /// Pages of this listing committed so far (a resumed listing counts
    /// the pages its earlier runs committed).
    pages_done: u32,
    /// The next cursors followed so far, to notice a listing that comes
    /// back to one.
    cursors: CursorLog,
    /// Jobs received in this run, for the per-run jobs bound.
    jobs_received: u64,
    /// When a page last wrote something, for the checkpoint interval.
    last_commit: Instant,
}

impl Chain {
    /// Where `listing` starts: its resumed checkpoint, or the first page.
    fn starting(listing: &Listing) -> Self {
        let resume = listing.plan.resume.as_ref();
        Chain {
            cursor: resume.and_then(|c| c.cursor.clone()),
            pages_done: resume.map_or(0, |c| c.pages_done),
            cursors: CursorLog::default(),
            jobs_received: 0,
            last_commit: Instant::now(),
        }
    }

    /// The number of the page being fetched or committed.
    fn page_no(&self) -> u32 {
        self.pages_done + 1
    }

    /// The cursor this page leads to, checked not to come back to one the
    /// run already followed. `None` on the last page, and for a next cursor
    /// equal to this page's own (which `patches_of` refuses with its own
    /// error).
    fn follow(&mut self, next: Option<&String>) -> Result<Option<String>, SyncError> {
        let Some(next) = next.filter(|n| Some(n.as_str()) != self.cursor.as_deref()) else { return Ok(None) };
        if !self.cursors.first_visit(next) {
            let cursor = next.escape_debug().to_string().chars().take(80).collect();
            return Err(SyncError::CursorCycle { page: self.page_no(), cursor });
        }
        Ok(Some(next.clone()))
    }

    /// The cursor a re-listed page leads to, in place of `followed`, the
    /// one its record led to (which [`Chain::follow`] took): `None` when it
    /// is the same (the page after it stands). Otherwise the record's
    /// cursor is forgotten, so that coming to it later is not taken for a
    /// cycle, and the new one is followed like any other.
    fn refollow(&mut self, followed: Option<&String>, next: Option<&String>) -> Result<Option<String>, SyncError> {
        if next == followed {
            return Ok(None);
        }
        if let Some(old) = followed {
            self.cursors.forget(old);
        }
        self.follow(next)
    }

    /// Whether the page after this one (which lists `jobs`) may be fetched
    /// before this one is committed: not past the pages or jobs bound.
    fn may_fetch_next(&self, jobs: u64, limits: &RunLimits) -> bool {
        self.page_no() < limits.max_pages && self.jobs_received + jobs < limits.max_jobs
    }

    /// The per-run bound the run reached after committing this page.
    fn bound_reached(&self, run: &SyncRun, limits: &RunLimits) -> Option<SyncError> {
        let page = self.page_no();
        let (bound, limit) = if page >= limits.max_pages {
            (RunBound::Pages, u64::from(limits.max_pages))
        } else if self.jobs_received >= limits.max_jobs {
            (RunBound::Jobs, limits.max_jobs)
        } else if run.counts.bytes_written >= limits.max_bytes_per_run {
            (RunBound::Bytes, limits.max_bytes_per_run)
        } else {
            return None;
        };
        Some(SyncError::RunBound { bound, limit, page })
    }
}

/// A committed page, the cursor of the page after it, and whether a
/// shutdown stops the run after it.
struct Committed {
    done: PageResult,
    next: Option<String>,
    stopping: bool,
}

impl SyncEngine {
    /// Lists every page and commits each one in listing order. Returns the
    /// run, or the run so far and the error.
    pub(super) async fn list_and_apply(
        &self,
        connection: &Connection,
        plugin: &Plugin,
        mut run: SyncRun,
        listing: &mut Listing,
        progress: &dyn SyncProgress,
    ) -> Result<SyncRun, (SyncRun, SyncError)> {
        let ctx = match self.connection_context(connection) {
            Ok(ctx) => ctx,
            Err(e) => return Err((run, e)),
        };
        let limits = self.options.limits;
        let replay = Replayer::for_run(&self.store, plugin, &ctx, listing.plan.changed_since.as_deref()); // replay
        let fetcher = PageFetcher {
            plugin: plugin.clone(),
            ctx,
            changed_since: listing.plan.changed_since.clone(),
            retry: self.retry,
            replay,
        };
        let mut chain = Chain::starting(listing);
        let mut next_fetch = fetcher.spawn(chain.cursor.clone(), chain.page_no());
        loop {
            let fetched = match next_fetch.join().await {
                Ok(fetched) => fetched,
                Err(FetchError::Call(e)) if restartable(listing, &run) && cursor_refused(&e) => {
                    tracing::warn!(connection = %connection.id, error = %e, "the ATS refused the resumed cursor; listing from the first page");
                    restart_from_first_page(listing, &run, &mut chain);
                    next_fetch = fetcher.spawn(None, 1);
                    continue;
                }
                Err(e) => return Err((run, e.into_sync(chain.page_no()))),
            };
            // Fetch the next page while this one is turned into patches and
            // applied: the plugin and the ATS work while the host does. Not
            // past a bound or a cycle.
            let followed = match chain.follow(fetched.next_cursor()) {
                Ok(next) => next,
                Err(e) => return Err((run, e)),
            };
            let may_fetch_ahead = chain.may_fetch_next(fetched.jobs(), &limits);
            let prefetched = followed.clone().filter(|_| may_fetch_ahead);
            if let Some(next) = &prefetched {
                next_fetch = fetcher.spawn(Some(next.clone()), chain.page_no() + 1);
            }
            chain.jobs_received += fetched.jobs();
            let committed = match fetched {
                Fetched::Replayed(replayed) => {
                    let relisted =
                        Relisted { fetcher: &fetcher, followed, may_fetch_ahead, next_fetch: &mut next_fetch };
                    self.commit_replayed(connection, &run, listing, &mut chain, replayed, relisted).await
                }
                Fetched::Listed { page, record } => {
                    self.commit_listed(connection, &run, listing, &chain, &fetcher, page, record).await
                }
            };
            let Committed { done, next, stopping } = match committed {
                Ok(committed) => committed,
                Err(e) => return Err((run, e)),
            };
            run = record_page(listing, &mut chain, done, progress);
            if stopping {
                return Err((run, SyncError::Stopped));
            }
            let Some(next) = next else {
                self.prune_replays(fetcher.replay.as_ref(), listing).await;
                return Ok(run);
            };
            if let Some(bound) = chain.bound_reached(&run, &limits) {
                return Err((run, bound));
            }
            chain.pages_done += 1;
            chain.cursor = Some(next);
        }
    }

    /// Commits a page the plugin listed, and (replay) saves what a later
    /// replay of it needs with the commit.
    #[allow(clippy::too_many_arguments)]
    async fn commit_listed(
        &self,
        connection: &Connection,
        run: &SyncRun,
        listing: &Listing,
        chain: &Chain,
        fetcher: &PageFetcher,
        page: JobPage,
        record: Option<PendingRecord>,
    ) -> Result<Committed, SyncError> {
        let page_no = chain.page_no();
        let (patches, next) = patches_of(page, chain.cursor.as_deref())
            .map_err(|message| SyncError::BadData { page: page_no, message })?;
        // replay: what a later replay of this page needs, saved with its commit.
        let replay = fetcher.replay.clone().zip(record).map(|(replayer, record)| {
            let jobs = patches
                .iter()
                .map(|p| ReplayedJob { code: p.code.clone(), content_hash: p.content_hash.clone() })
                .collect::<Vec<_>>();
            (replayer, record, jobs, next.clone())
        });
        let (commit, stopping) = self.page_commit(connection, run, listing, patches, &next, page_no, chain.last_commit);
        let done = self
            .on_store(move |s| {
                let done = s.commit_page(commit)?;
                if let Some((replayer, record, jobs, next)) = replay {
                    replayer.save(s, record, jobs, next); // replay
                }
                Ok(done)
            })
            .await?;
        Ok(Committed { done, next, stopping })
    }

    /// Commits a page from its replay record; if a job moved since it was
    /// recorded, the plugin lists the page after all and that answer is
    /// committed instead.
    async fn commit_replayed(
        &self,
        connection: &Connection,
        run: &SyncRun,
        listing: &Listing,
        chain: &mut Chain,
        replayed: Replayed,
        relisted: Relisted<'_>,
    ) -> Result<Committed, SyncError> {
        let page_no = chain.page_no();
        let next = replayed.record.next_cursor.clone();
        let (commit, stopping) =
            self.page_commit(connection, run, listing, Vec::new(), &next, page_no, chain.last_commit);
        let jobs = replayed.record.jobs;
        if let Some(done) = self.on_store(move |s| s.commit_replayed_page(commit, &jobs)).await? {
            return Ok(Committed { done, next, stopping });
        }
        let fetcher = relisted.fetcher;
        match relist(chain, relisted).await? {
            Fetched::Listed { page, record } => {
                self.commit_listed(connection, run, listing, chain, fetcher, page, record).await
            }
            Fetched::Replayed(_) => {
                Err(SyncError::BadData { page: page_no, message: "a page was neither listed nor replayed".into() })
            }
        }
    }

    /// After a complete listing (replay): drops the connection's replay
    /// records this run did not use. Failures are logged by the prune.
    async fn prune_replays(&self, replay: Option<&Arc<Replayer>>, listing: &Listing) {
        if let Some(replayer) = replay.filter(|_| !listing.resumed()) {
            let replayer = replayer.clone();
            let _ = self
                .on_store(move |s| {
                    replayer.prune(s);
                    Ok(())
                })
                .await;
        }
    }

    /// A page's commit (its patches and the checkpoint after it), and
    /// whether a shutdown stops the run after it.
    #[allow(clippy::too_many_arguments)]
    fn page_commit(
        &self,
        connection: &Connection,
        run: &SyncRun,
        listing: &Listing,
        patches: Vec<JobPatch>,
        next: &Option<String>,
        pages_done: u32,
        last_commit: Instant,
    ) -> (PageCommit, bool) {
        let checkpoint = Checkpoint {
            run_seq: run.seq,
            cursor: next.clone(),
            pages_done,
            full_listing: listing.plan.full_listing,
            listing_started_unix: listing.started_unix,
            written_unix: unix_now(),
        };
        // A shutdown stops here, after committing this page with the
        // cursor of the next, so the next start resumes there.
        let stopping = self.stop.is_stopping() && next.is_some();
        let commit = PageCommit {
            connection_id: connection.id.clone(),
            run: run.clone(),
            patches,
            // The last page's checkpoint is the run's end.
            checkpoint_due: (last_commit.elapsed() >= CHECKPOINT_INTERVAL || stopping) && next.is_some(),
            checkpoint: Some(checkpoint),
            quota: self.options.limits.quota(),
        };
        (commit, stopping)
    }
}

/// What re-listing a replayed page needs: the fetcher, the cursor the
/// record led to (which the chain has followed), whether the page after it
/// may be fetched ahead (not at a bound), and that fetch (replaced when the
/// re-listed page leads elsewhere).
struct Relisted<'a> {
    fetcher: &'a PageFetcher,
    followed: Option<String>,
    may_fetch_ahead: bool,
    next_fetch: &'a mut PendingPage,
}

/// Lists a replayed page through the plugin (a job moved since it was
/// recorded). When the ATS now leads elsewhere than the record did, the
/// page fetched ahead is replaced by the page the new answer leads to.
async fn relist(chain: &mut Chain, relisted: Relisted<'_>) -> Result<Fetched, SyncError> {
    let page_no = chain.page_no();
    let listed = relisted.fetcher.spawn_listed(chain.cursor.clone(), page_no).join().await;
    let listed = listed.map_err(|e| e.into_sync(page_no))?;
    if let Some(next) = chain.refollow(relisted.followed.as_ref(), listed.next_cursor())?
        && relisted.may_fetch_ahead
    {
        *relisted.next_fetch = relisted.fetcher.spawn(Some(next), page_no + 1);
    }
    Ok(listed)
}

/// Whether a failed page may be the ATS refusing the resumed cursor: the
/// first page of a resumed listing, before this run committed anything.
fn restartable(listing: &Listing, run: &SyncRun) -> bool {
    listing.resumed() && run.counts.pages == 0
}

/// The ATS refused the resumed cursor (expired, or unknown after an ATS
/// change): the listing starts over from the first page, in this run, as a
/// listing of its own.
fn restart_from_first_page(listing: &mut Listing, run: &SyncRun, chain: &mut Chain) {
    listing.plan.resume = None;
    listing.started_unix = run.started_unix;
    chain.cursor = None;
    chain.pages_done = 0;
    chain.cursors.clear();
}

/// Takes a committed page into the listing (the jobs seen, the positions
/// written) and reports it; returns the run as the commit left it.
fn record_page(listing: &mut Listing, chain: &mut Chain, done: PageResult, progress: &dyn SyncProgress) -> SyncRun {
    if done.written {
        chain.last_commit = Instant::now();
    }
    for change in done.changes {
        if change.change.writes() {
            listing.changed.push(change.id);
        }
        listing.seen.insert(change.id, !change.closed);
    }
    progress.page(&done.run.counts);
    done.run
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain_at(cursor: &str) -> Chain {
        let mut cursors = CursorLog::default();
        assert!(cursors.first_visit(cursor));
        Chain { cursor: Some(cursor.into()), pages_done: 1, cursors, jobs_received: 0, last_commit: Instant::now() }
    }

    #[test]
    fn a_relisted_page_leading_where_its_record_led_is_no_cycle() {
        let mut chain = chain_at("p2");
        let followed = chain.follow(Some(&"p3".to_string())).unwrap();
        assert_eq!(followed.as_deref(), Some("p3"));
        // Nothing was fetched ahead (a bound, say): the same cursor again
        // is the page the chain already follows, not a cycle.
        assert_eq!(chain.refollow(followed.as_ref(), Some(&"p3".to_string())).unwrap(), None);
        assert_eq!(chain.refollow(None, None).unwrap(), None);
    }

    #[test]
    fn a_relisted_page_leading_elsewhere_forgets_the_records_cursor_and_checks_the_new_one() {
        let mut chain = chain_at("p2");
        let followed = chain.follow(Some(&"p3".to_string())).unwrap();
        let new = chain.refollow(followed.as_ref(), Some(&"p2b".to_string())).unwrap();
        assert_eq!(new.as_deref(), Some("p2b"));
        // The record's cursor may still come later in the listing.
        chain.cursor = new;
        assert_eq!(chain.follow(Some(&"p3".to_string())).unwrap().as_deref(), Some("p3"));
        // A cursor the run did follow is still a cycle.
        let cycle = chain.refollow(Some(&"p3".to_string()), Some(&"p2".to_string())).unwrap_err();
        assert!(matches!(cycle, SyncError::CursorCycle { .. }), "{cycle}");
    }
}
