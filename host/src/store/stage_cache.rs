//! Storing a whole `list-stages` answer at once: the refresh after every
//! daily run hands over one list per job of an ATS with per-job pipelines
//! (thousands), nearly all of them the same as yesterday.
//!
//! A list equal to the cached one is not rewritten: a daily refresh of an
//! unchanged ATS writes nothing, where storing every list again cost one
//! connection lookup, one encode and one sled insert per job (most of the
//! disk writes and a third of the CPU of a no-change resync of 20,000 jobs).
//! The cached list then keeps the time it was fetched with that content.
//! The lists that did change go into one sled batch.

use serde::Deserialize;
use tracing::info;

use super::stage_map::{CachedStages, check_stages};
use super::{Store, StoreError, codec, keys, now_unix};
use crate::contract::Stage;

/// What [`Store::put_ats_stage_lists`] did.
#[derive(Debug, Default)]
pub struct StageListsStored {
    /// Lists written (new or changed).
    pub written: usize,
    /// Lists equal to the cached ones, left as they were.
    pub unchanged: usize,
    /// Lists refused for breaking a limit ([`StoreError::InvalidAtsStages`]),
    /// by job (`None`: the account-wide list); the others are still stored.
    pub refused: Vec<(Option<String>, StoreError)>,
    /// Bytes (keys and values) of the lists written, for the metering of
    /// the run that refreshed them.
    pub bytes_written: u64,
}

/// The part of a cached list compared with a new answer, decoded without
/// the rest.
#[derive(Deserialize)]
struct StoredStages {
    stages: Vec<Stage>,
}

impl Store {
    /// Caches each `(job, stages)` list of `connection_id` (job `None`: the
    /// account-wide list), as [`Store::put_ats_stages`] does one, but writes
    /// only the lists that differ from what is cached, in one batch. A list
    /// breaking a limit is refused alone (in `refused`).
    pub fn put_ats_stage_lists(
        &self,
        connection_id: &str,
        lists: Vec<(Option<String>, Vec<Stage>)>,
    ) -> Result<StageListsStored, StoreError> {
        if self.connection(connection_id)?.is_none() {
            return Err(StoreError::UnknownConnection(connection_id.to_string()));
        }
        let now = now_unix();
        let mut out = StageListsStored::default();
        let mut batch = sled::Batch::default();
        for (job_code, mut stages) in lists {
            if let Err(e) = check_stages(connection_id, &stages) {
                out.refused.push((job_code, e));
                continue;
            }
            stages.sort_by_key(|s| s.position);
            let key = keys::ats_stages(connection_id, job_code.as_deref());
            if let Some(bytes) = self.trees.ats_stages.get(&key)? {
                let what = format!("{connection_id}/{}", job_code.as_deref().unwrap_or("*"));
                // A record that no longer decodes is replaced, not kept.
                let stored: Option<StoredStages> = codec::decode(keys::ATS_STAGES, what, &bytes).ok();
                if stored.is_some_and(|s| s.stages == stages) {
                    out.unchanged += 1;
                    continue;
                }
            }
            let cached =
                CachedStages { connection_id: connection_id.to_string(), job_code, stages, fetched_at_unix: now };
            let value = codec::encode("ats stages", &cached)?;
            out.bytes_written += (key.len() + value.len()) as u64;
            batch.insert(key, value);
            out.written += 1;
        }
        if out.written > 0 {
            let _gate = self.write_gate();
            self.trees.ats_stages.apply_batch(batch)?;
        }
        info!(
            connection = connection_id,
            written = out.written,
            unchanged = out.unchanged,
            refused = out.refused.len(),
            "ATS stage lists cached"
        );
        Ok(out)
    }

    /// The job codes of `connection_id`'s positions that are not closed.
    /// Reads the job map, whose fingerprints say whether a position is
    /// closed; only an entry without one reads its position's status.
    pub fn open_job_codes(&self, connection_id: &str) -> Result<Vec<String>, StoreError> {
        let mut open = Vec::new();
        super::job_groups::for_each_job(&self.trees.job_groups, connection_id, |code, job| {
            // resync: the fingerprint says whether the position is closed
            if let Some(f) = job.fingerprint {
                if !f.closed {
                    open.push(code.to_string());
                }
                return Ok(());
            }
            let Some(bytes) = self.trees.positions.get(keys::position(job.position))? else { return Ok(()) };
            let head = super::stored_position::decode_head(keys::POSITIONS, job.position, &bytes)?;
            if head.status != super::PositionStatus::Closed {
                open.push(code.to_string());
            }
            Ok(())
        })?;
        open.sort_unstable();
        Ok(open)
    }
}

#[cfg(test)]
mod tests {
    use crate::contract::{JobStatus, Stage};
    use crate::store::JobPatch;
    use crate::store::testutil::{commit_jobs, commit_patches, connection, inserted_bytes, job, temp_store};

    fn stage(id: &str, position: u32) -> Stage {
        Stage { id: id.into(), name: format!("Stage {id}"), position, job_code: None }
    }

    #[test]
    fn unchanged_lists_are_not_rewritten_and_changed_ones_are() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse").id;
        let lists = || {
            vec![
                (None, vec![stage("a", 1)]),
                (Some("J1".to_string()), vec![stage("x", 2), stage("w", 1)]),
                (Some("J2".to_string()), vec![stage("y", 1)]),
            ]
        };
        let first = store.put_ats_stage_lists(&c, lists()).unwrap();
        assert_eq!((first.written, first.unchanged), (3, 0));
        let j1 = store.ats_stages(&c, Some("J1")).unwrap().unwrap();
        assert_eq!(j1.stages.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["w", "x"], "sorted by position");

        // The same answer again: nothing written, the stored records as they were.
        let before = store.ats_stages(&c, Some("J2")).unwrap().unwrap();
        let again = store.put_ats_stage_lists(&c, lists()).unwrap();
        assert_eq!((again.written, again.unchanged), (0, 3));
        assert_eq!(store.ats_stages(&c, Some("J2")).unwrap().unwrap(), before);

        // One list changed, one new: only those written.
        let mut changed = lists();
        changed[2].1.push(stage("z", 2));
        changed.push((Some("J3".to_string()), vec![stage("q", 1)]));
        let third = store.put_ats_stage_lists(&c, changed).unwrap();
        assert_eq!((third.written, third.unchanged), (2, 2));
        assert_eq!(store.ats_stages(&c, Some("J2")).unwrap().unwrap().stages.len(), 2);
        assert!(store.ats_stages(&c, Some("J3")).unwrap().is_some());
    }

    #[test]
    fn the_bytes_written_are_those_sled_inserted_and_none_for_unchanged_lists() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse").id;
        let lists = || vec![(None, vec![stage("a", 1)]), (Some("J1".to_string()), vec![stage("x", 2), stage("w", 1)])];
        let mut watched = [store.trees.ats_stages.watch_prefix(Vec::new())];
        let first = store.put_ats_stage_lists(&c, lists()).unwrap();
        assert!(first.bytes_written > 100, "{first:?}");
        assert_eq!(first.bytes_written, inserted_bytes(&mut watched));
        let again = store.put_ats_stage_lists(&c, lists()).unwrap();
        assert_eq!((again.bytes_written, inserted_bytes(&mut watched)), (0, 0));
        let (_, one) = store.put_ats_stages_counted(&c, Some("J2"), vec![stage("y", 1)]).unwrap();
        assert_eq!(one, inserted_bytes(&mut watched));
        assert!(one > 50, "{one}");
    }

    #[test]
    fn a_list_past_the_limit_is_refused_alone_and_an_unknown_connection_is_an_error() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse").id;
        let huge: Vec<Stage> =
            (0..=crate::store::MAX_ATS_STAGES_PER_LIST as u32).map(|i| stage(&i.to_string(), i)).collect();
        let stored =
            store.put_ats_stage_lists(&c, vec![(Some("big".into()), huge), (Some("ok".into()), vec![stage("a", 1)])]);
        let stored = stored.unwrap();
        assert_eq!(stored.written, 1);
        assert_eq!(stored.refused.len(), 1);
        assert_eq!(stored.refused[0].0.as_deref(), Some("big"));
        assert!(store.ats_stages(&c, Some("big")).unwrap().is_none());
        assert!(store.put_ats_stage_lists("nope", vec![(None, vec![])]).is_err());
    }

    #[test]
    fn open_job_codes_leave_out_closed_positions() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse").id;
        commit_jobs(&store, &c, &[("OPEN", "A"), ("SHUT", "B")]);
        let mut closed = job("SHUT", "B");
        closed.status = JobStatus::Closed;
        commit_patches(&store, &c, vec![JobPatch::from_job(&closed)]);
        assert!(store.position_by_job(&c, "SHUT").unwrap().unwrap().is_closed());
        let mut open = store.open_job_codes(&c).unwrap();
        open.sort();
        assert_eq!(open, ["OPEN"]);
    }
}
