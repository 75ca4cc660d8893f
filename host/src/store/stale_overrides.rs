//! Stage overrides gone stale: overrides that point at ATS stages no
//! cached list applying to them has. A stale override is never used to
//! map a stage; the connection's stage view lists each one and its summary
//! counts them.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::{CachedStages, StageIdsListed, StageMapping, Store, StoreError};

/// The most cached lists a connection's summary reads to find the ATS
/// stages its connection-wide overrides point at: the summary is part of
/// every connection read, and an ATS with per-job pipelines has one list
/// per open job (thousands). Stage views read them all.
pub const MAX_LISTS_READ_FOR_SUMMARY: usize = 2_000;

/// An override that points at an ATS stage the ATS no longer lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleOverride {
    /// The job of a per-job override; `None` for a connection-wide one.
    pub job_code: Option<String>,
    pub stage: String,
    pub ats_stage_id: String,
}

/// Where [`stale_overrides`] looks the ATS's stages up: the lists a view
/// already read ([`ReadLists`]), or the store, a list at a time
/// ([`StoredLists`]).
pub trait StageLookup {
    /// The stage ids of the list that applies to `job` (its own pipeline,
    /// else the account's); `None` when neither is cached.
    fn job_ids(&mut self, job: &str) -> Result<Option<HashSet<String>>, StoreError>;
    /// Which of `ids` some cached list has.
    fn listed(&mut self, ids: &BTreeSet<String>) -> Result<StageIdsListed, StoreError>;
}

/// Every list of a connection, already read.
pub struct ReadLists<'a> {
    pub account_wide: Option<&'a CachedStages>,
    pub per_job: &'a BTreeMap<String, CachedStages>,
}

fn ids_of(list: &CachedStages) -> impl Iterator<Item = &String> {
    list.stages.iter().map(|s| &s.id)
}

impl StageLookup for ReadLists<'_> {
    fn job_ids(&mut self, job: &str) -> Result<Option<HashSet<String>>, StoreError> {
        Ok(self.per_job.get(job).or(self.account_wide).map(|l| ids_of(l).cloned().collect()))
    }

    fn listed(&mut self, ids: &BTreeSet<String>) -> Result<StageIdsListed, StoreError> {
        let lists: Vec<&CachedStages> = self.account_wide.into_iter().chain(self.per_job.values()).collect();
        Ok(StageIdsListed {
            any_list: !lists.is_empty(),
            found: lists.iter().flat_map(|l| ids_of(l)).filter(|id| ids.contains(*id)).cloned().collect(),
            lists_read: lists.len(),
            complete: true,
        })
    }
}

/// A connection's lists read from the store as needed: one point read per
/// job with overrides, and a bounded scan for connection-wide ones.
pub struct StoredLists<'a> {
    pub store: &'a Store,
    pub connection: &'a str,
    /// The account-wide list's ids, once read.
    pub account_wide: Option<Option<HashSet<String>>>,
}

impl StageLookup for StoredLists<'_> {
    fn job_ids(&mut self, job: &str) -> Result<Option<HashSet<String>>, StoreError> {
        if let Some(own) = self.store.ats_stages(self.connection, Some(job))? {
            return Ok(Some(ids_of(&own).cloned().collect()));
        }
        if self.account_wide.is_none() {
            let list = self.store.ats_stages(self.connection, None)?;
            self.account_wide = Some(list.map(|l| ids_of(&l).cloned().collect()));
        }
        Ok(self.account_wide.clone().flatten())
    }

    fn listed(&mut self, ids: &BTreeSet<String>) -> Result<StageIdsListed, StoreError> {
        self.store.ats_stage_ids_listed(self.connection, ids, MAX_LISTS_READ_FOR_SUMMARY)
    }
}

/// Overrides found stale, and connection-wide ones the lookup could not
/// check (a bounded lookup leaves some unchecked).
pub struct StaleOverrides {
    pub stale: Vec<StaleOverride>,
    pub unchecked: usize,
}

/// Overrides that point at ATS stages no cached list applying to them has.
/// A job override is checked against its job's pipeline (or the account's
/// list); a connection-wide one is stale when no cached list has its stage.
pub fn stale_overrides(mapping: &StageMapping, lookup: &mut impl StageLookup) -> Result<StaleOverrides, StoreError> {
    let mut out = StaleOverrides { stale: Vec::new(), unchecked: 0 };
    if !mapping.overrides.is_empty() {
        let listed = lookup.listed(&mapping.overrides.values().cloned().collect())?;
        for (stage, ats) in &mapping.overrides {
            if !listed.any_list || listed.found.contains(ats) {
                continue;
            }
            if listed.complete {
                out.stale.push(StaleOverride { job_code: None, stage: stage.clone(), ats_stage_id: ats.clone() });
            } else {
                out.unchecked += 1;
            }
        }
    }
    for (job, overrides) in &mapping.job_overrides {
        let Some(ids) = lookup.job_ids(job)? else { continue };
        for (stage, ats) in overrides {
            if !ids.contains(ats) {
                out.stale.push(StaleOverride {
                    job_code: Some(job.clone()),
                    stage: stage.clone(),
                    ats_stage_id: ats.clone(),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Stage;
    use crate::store::testutil::{connection, temp_store};

    fn list(job: Option<&str>, ids: &[&str]) -> CachedStages {
        CachedStages {
            connection_id: "c".into(),
            job_code: job.map(str::to_string),
            stages: ids
                .iter()
                .zip(0..)
                .map(|(id, position)| Stage { id: id.to_string(), name: id.to_string(), position, job_code: None })
                .collect(),
            fetched_at_unix: 1,
        }
    }

    #[test]
    fn overrides_to_stages_no_list_has_are_stale() {
        let mapping = StageMapping {
            overrides: BTreeMap::from([("offer".into(), "gone".into()), ("hired".into(), "j2-5".into())]),
            job_overrides: BTreeMap::from([
                ("J1".into(), BTreeMap::from([("screening".into(), "j2-5".into())])),
                ("J2".into(), BTreeMap::from([("screening".into(), "j2-5".into())])),
                ("J9".into(), BTreeMap::from([("screening".into(), "x".into())])),
            ]),
        };
        let per_job =
            BTreeMap::from([("J1".into(), list(Some("J1"), &["j1-1"])), ("J2".into(), list(Some("J2"), &["j2-5"]))]);
        let stale = |per_job: &BTreeMap<String, CachedStages>| {
            stale_overrides(&mapping, &mut ReadLists { account_wide: None, per_job }).unwrap().stale
        };
        assert_eq!(
            stale(&per_job),
            [
                StaleOverride { job_code: None, stage: "offer".into(), ats_stage_id: "gone".into() },
                StaleOverride { job_code: Some("J1".into()), stage: "screening".into(), ats_stage_id: "j2-5".into() },
            ],
            "J9 has no list: not fetched, not stale"
        );
        assert!(stale(&BTreeMap::new()).is_empty(), "nothing fetched, nothing known stale");
    }

    fn stage(id: &str) -> Stage {
        Stage { id: id.into(), name: id.into(), position: 0, job_code: None }
    }

    #[test]
    fn the_summary_read_from_the_store_finds_what_the_view_finds() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse").id;
        let lists = vec![(Some("J1".into()), vec![stage("a")]), (Some("J2".into()), vec![stage("b")])];
        store.put_ats_stage_lists(&c, lists).unwrap();
        store.set_stage_override(&c, None, "offer", "b").unwrap();
        store.set_stage_override(&c, None, "hired", "gone").unwrap();
        store.set_stage_override(&c, Some("J1"), "screening", "b").unwrap();
        store.set_stage_override(&c, Some("J2"), "screening", "b").unwrap();
        store.set_stage_override(&c, Some("J9"), "screening", "x").unwrap();
        let mapping = store.stage_mapping(&c).unwrap();

        let mut stored = StoredLists { store: &store, connection: &c, account_wide: None };
        let summary = stale_overrides(&mapping, &mut stored).unwrap();
        let per_job: BTreeMap<String, CachedStages> =
            store.ats_stage_lists(&c).unwrap().into_iter().map(|l| (l.job_code.clone().unwrap(), l)).collect();
        let view = stale_overrides(&mapping, &mut ReadLists { account_wide: None, per_job: &per_job }).unwrap();
        assert_eq!(summary.stale, view.stale);
        assert_eq!(
            summary.stale,
            [
                StaleOverride { job_code: None, stage: "hired".into(), ats_stage_id: "gone".into() },
                StaleOverride { job_code: Some("J1".into()), stage: "screening".into(), ats_stage_id: "b".into() },
            ]
        );
        assert_eq!(summary.unchecked, 0);
    }

    #[test]
    fn past_its_bound_the_summary_leaves_connection_wide_overrides_unchecked_not_stale() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse").id;
        let lists: Vec<(Option<String>, Vec<Stage>)> = (0..=MAX_LISTS_READ_FOR_SUMMARY)
            .map(|n| (Some(format!("J{n:05}")), vec![stage(&format!("s{n}"))]))
            .collect();
        assert_eq!(store.put_ats_stage_lists(&c, lists).unwrap().written, MAX_LISTS_READ_FOR_SUMMARY + 1);
        // In the last list only, and in none: neither is known stale within the bound.
        let last = format!("s{MAX_LISTS_READ_FOR_SUMMARY}");
        store.set_stage_override(&c, None, "offer", &last).unwrap();
        store.set_stage_override(&c, None, "hired", "gone").unwrap();
        // In the first list: found, whatever the bound.
        store.set_stage_override(&c, None, "screening", "s0").unwrap();
        let mapping = store.stage_mapping(&c).unwrap();
        let summary = stale_overrides(&mapping, &mut StoredLists { store: &store, connection: &c, account_wide: None });
        let summary = summary.unwrap();
        assert_eq!((summary.stale.len(), summary.unchecked), (0, 2));

        let per_job: BTreeMap<String, CachedStages> =
            store.ats_stage_lists(&c).unwrap().into_iter().map(|l| (l.job_code.clone().unwrap(), l)).collect();
        let view = stale_overrides(&mapping, &mut ReadLists { account_wide: None, per_job: &per_job }).unwrap();
        assert_eq!(view.stale.len(), 1, "the view reads every list: {:?}", view.stale);
        assert_eq!(view.stale[0].ats_stage_id, "gone");
    }
}
