//! Each connection's view of the ATS's stages, and how the account's hiring
//! stages map to them.
//!
//! The stages the connector's `list-stages` returned are cached per
//! connection: one account-wide list, and one list per job for an ATS whose
//! pipelines differ per job (Greenhouse, Teamtailor), each with when it was
//! fetched. Our stage maps to an ATS stage by an explicit override for the
//! job, else one for the whole connection, else by name (case-insensitive)
//! among the cached stages that apply to the job. A mapping whose ATS stage
//! is no longer in the cache is stale: it is reported, never used.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tracing::info;

use super::stages::HiringStage;
use super::{Store, StoreError, abort, codec, keys, now_unix, read};
use crate::contract::Stage;

/// The most stages one cached list keeps: an ATS pipeline is a handful of
/// steps; a connector returning thousands is broken, and the list is read
/// on every mapping.
pub const MAX_ATS_STAGES_PER_LIST: usize = 200;

/// The longest ATS stage id or name kept, in bytes: they come from the ATS
/// through a plugin and end up in responses and logs.
pub const MAX_ATS_STAGE_TEXT: usize = 512;

/// The most overrides one connection keeps, over all its jobs: each is a
/// person's explicit choice, so thousands mean a runaway client.
pub const MAX_STAGE_OVERRIDES: usize = 5_000;

/// One cached `list-stages` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedStages {
    /// The connection it was fetched through.
    pub connection_id: String,
    /// The job whose pipeline this is; `None`: the account-wide stages.
    pub job_code: Option<String>,
    /// The ATS's stages, in the ATS's order.
    pub stages: Vec<Stage>,
    /// When fetched, Unix seconds.
    pub fetched_at_unix: i64,
}

/// A connection's explicit mapping choices: our stage id -> ATS stage id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageMapping {
    /// For every job of the connection.
    #[serde(default)]
    pub overrides: BTreeMap<String, String>,
    /// For one job (by job code); wins over `overrides`.
    #[serde(default)]
    pub job_overrides: BTreeMap<String, BTreeMap<String, String>>,
}

/// What [`Store::ats_stage_ids_listed`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StageIdsListed {
    /// Whether the connection has any cached list.
    pub any_list: bool,
    /// The asked ids some list read has.
    pub found: std::collections::BTreeSet<String>,
    /// Lists read.
    pub lists_read: usize,
    /// `false` when the bound stopped the reading with ids not found and
    /// lists unread.
    pub complete: bool,
}

impl StageMapping {
    fn len(&self) -> usize {
        self.overrides.len() + self.job_overrides.values().map(BTreeMap::len).sum::<usize>()
    }
}

/// Where a resolved mapping came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingSource {
    /// An override for the job.
    JobOverride,
    /// An override for the whole connection.
    ConnectionOverride,
    /// Our stage's name equals the ATS stage's (ignoring case).
    ByName,
}

/// Our stage resolved to an ATS stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedStage {
    /// The ATS's stage id, to send to the ATS.
    pub ats_stage_id: String,
    /// Its name in the ATS.
    pub ats_stage_name: String,
    /// Why this one.
    pub source: MappingSource,
}

/// Why our stage has no usable ATS stage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// The account has no stage with this id.
    #[error("the account has no stage `{stage}`")]
    UnknownStage {
        /// Our stage id.
        stage: String,
    },
    /// The ATS's stages were never fetched for this connection (or job).
    #[error(
        "the ATS stages of connection `{connection}` have not been fetched{}; refresh them first",
        job_code.as_ref().map(|j| format!(" for job `{j}`")).unwrap_or_default()
    )]
    NotFetched {
        /// The connection.
        connection: String,
        /// The job, when per job.
        job_code: Option<String>,
    },
    /// No override and no ATS stage with the same name.
    #[error("stage `{stage}` is not mapped to an ATS stage (no override, and no ATS stage has its name)")]
    NoMapping {
        /// Our stage id.
        stage: String,
    },
    /// The override points at an ATS stage the ATS no longer lists.
    #[error("stage `{stage}` maps to ATS stage `{ats_stage_id}`, which the ATS no longer has; update the mapping")]
    StaleMapping {
        /// Our stage id.
        stage: String,
        /// The ATS stage id it points at.
        ats_stage_id: String,
    },
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Resolves our stage `stage_id` with the account's `stages`, the cached
/// list that applies (`cache`) and the connection's `mapping`. Pure: the
/// store and the reports share it.
pub fn resolve(
    connection_id: &str,
    job_code: Option<&str>,
    stages: &[HiringStage],
    cache: Option<&CachedStages>,
    mapping: &StageMapping,
    stage_id: &str,
) -> Result<ResolvedStage, MappingError> {
    let ours = stages
        .iter()
        .find(|s| s.id == stage_id)
        .ok_or_else(|| MappingError::UnknownStage { stage: stage_id.to_string() })?;
    let job_override = job_code.and_then(|j| mapping.job_overrides.get(j)).and_then(|m| m.get(stage_id));
    let explicit = match job_override {
        Some(id) => Some((id, MappingSource::JobOverride)),
        None => mapping.overrides.get(stage_id).map(|id| (id, MappingSource::ConnectionOverride)),
    };
    let Some(cache) = cache else {
        return Err(MappingError::NotFetched {
            connection: connection_id.to_string(),
            job_code: job_code.map(str::to_string),
        });
    };
    if let Some((ats_stage_id, source)) = explicit {
        return match cache.stages.iter().find(|s| s.id == *ats_stage_id) {
            Some(s) => Ok(ResolvedStage { ats_stage_id: s.id.clone(), ats_stage_name: s.name.clone(), source }),
            None => Err(MappingError::StaleMapping { stage: stage_id.to_string(), ats_stage_id: ats_stage_id.clone() }),
        };
    }
    let wanted = ours.name.trim().to_lowercase();
    cache
        .stages
        .iter()
        .find(|s| s.name.trim().to_lowercase() == wanted)
        .map(|s| ResolvedStage {
            ats_stage_id: s.id.clone(),
            ats_stage_name: s.name.clone(),
            source: MappingSource::ByName,
        })
        .ok_or_else(|| MappingError::NoMapping { stage: stage_id.to_string() })
}

/// Checks one ATS stage list before it is cached.
pub(super) fn check_stages(connection_id: &str, stages: &[Stage]) -> Result<(), StoreError> {
    let invalid = |reason: String| StoreError::InvalidAtsStages { connection: connection_id.to_string(), reason };
    if stages.len() > MAX_ATS_STAGES_PER_LIST {
        return Err(invalid(format!("{} stages, more than the {MAX_ATS_STAGES_PER_LIST} kept", stages.len())));
    }
    for s in stages {
        if s.id.is_empty() || s.id.len() > MAX_ATS_STAGE_TEXT || s.name.len() > MAX_ATS_STAGE_TEXT {
            return Err(invalid(format!("a stage id is empty or an id or name is over {MAX_ATS_STAGE_TEXT} bytes")));
        }
    }
    Ok(())
}

impl Store {
    /// Caches the ATS stages `list-stages` returned for a connection (for
    /// one job when `job_code` is given), replacing the previous list.
    pub fn put_ats_stages(
        &self,
        connection_id: &str,
        job_code: Option<&str>,
        stages: Vec<Stage>,
    ) -> Result<CachedStages, StoreError> {
        self.put_ats_stages_counted(connection_id, job_code, stages).map(|(cached, _)| cached)
    }

    /// [`Store::put_ats_stages`], with the bytes (key and value) it wrote,
    /// for the metering of the run that refreshed them.
    pub fn put_ats_stages_counted(
        &self,
        connection_id: &str,
        job_code: Option<&str>,
        mut stages: Vec<Stage>,
    ) -> Result<(CachedStages, u64), StoreError> {
        if self.connection(connection_id)?.is_none() {
            return Err(StoreError::UnknownConnection(connection_id.to_string()));
        }
        check_stages(connection_id, &stages)?;
        stages.sort_by_key(|s| s.position);
        let cached = CachedStages {
            connection_id: connection_id.to_string(),
            job_code: job_code.map(str::to_string),
            stages,
            fetched_at_unix: now_unix(),
        };
        let (key, value) = (keys::ats_stages(connection_id, job_code), codec::encode("ats stages", &cached)?);
        let written = (key.len() + value.len()) as u64;
        let _gate = self.write_gate();
        self.trees.ats_stages.insert(key, value)?;
        info!(connection = connection_id, job = job_code, stages = cached.stages.len(), "ATS stages cached");
        Ok((cached, written))
    }

    /// The cached list for a connection's job, or its account-wide list.
    pub fn ats_stages(&self, connection_id: &str, job_code: Option<&str>) -> Result<Option<CachedStages>, StoreError> {
        read(
            &self.trees.ats_stages,
            keys::ATS_STAGES,
            &keys::ats_stages(connection_id, job_code),
            format!("{connection_id}/{}", job_code.unwrap_or("*")),
        )
    }

    /// The list that applies to a job: its own pipeline if cached, else the
    /// connection's account-wide list.
    pub fn ats_stages_for_job(
        &self,
        connection_id: &str,
        job_code: Option<&str>,
    ) -> Result<Option<CachedStages>, StoreError> {
        if let Some(job) = job_code
            && let Some(cached) = self.ats_stages(connection_id, Some(job))?
        {
            return Ok(Some(cached));
        }
        self.ats_stages(connection_id, None)
    }

    /// Drops a cached list (the account-wide one when `job_code` is
    /// `None`), so that it is no longer used for jobs without their own
    /// pipeline; returns whether there was one.
    pub fn remove_ats_stages(&self, connection_id: &str, job_code: Option<&str>) -> Result<bool, StoreError> {
        let _gate = self.write_gate();
        let removed = self.trees.ats_stages.remove(keys::ats_stages(connection_id, job_code))?.is_some();
        if removed {
            info!(connection = connection_id, job = job_code, "cached ATS stages dropped");
        }
        Ok(removed)
    }

    /// Every cached list of a connection: the account-wide one first, then
    /// per job by job code.
    pub fn ats_stage_lists(&self, connection_id: &str) -> Result<Vec<CachedStages>, StoreError> {
        self.trees
            .ats_stages
            .scan_prefix(keys::connection_prefix(connection_id))
            .map(|entry| {
                let (_, bytes) = entry?;
                codec::decode(keys::ATS_STAGES, connection_id, &bytes)
            })
            .collect()
    }

    /// Which of `ids` some cached list of `connection_id` has, reading the
    /// lists (their stage ids only) in key order until every id is found
    /// or `max_lists` were read: a connection with per-job pipelines has
    /// thousands of lists, and a summary must not read them all.
    pub fn ats_stage_ids_listed(
        &self,
        connection_id: &str,
        ids: &std::collections::BTreeSet<String>,
        max_lists: usize,
    ) -> Result<StageIdsListed, StoreError> {
        /// The part of a cached list this reads.
        #[derive(Deserialize)]
        struct Ids {
            stages: Vec<IdOnly>,
        }
        #[derive(Deserialize)]
        struct IdOnly {
            id: String,
        }
        let mut out = StageIdsListed { complete: true, ..Default::default() };
        for entry in self.trees.ats_stages.scan_prefix(keys::connection_prefix(connection_id)) {
            if out.found.len() == ids.len() && out.any_list {
                return Ok(out);
            }
            if out.lists_read == max_lists {
                out.complete = false;
                return Ok(out);
            }
            let (_, bytes) = entry?;
            out.any_list = true;
            out.lists_read += 1;
            let list: Ids = codec::decode(keys::ATS_STAGES, connection_id, &bytes)?;
            out.found.extend(list.stages.into_iter().map(|s| s.id).filter(|id| ids.contains(id)));
        }
        Ok(out)
    }

    /// A connection's explicit mapping choices.
    pub fn stage_mapping(&self, connection_id: &str) -> Result<StageMapping, StoreError> {
        Ok(read(&self.trees.stage_mappings, keys::STAGE_MAPPINGS, keys::id(connection_id), connection_id)?
            .unwrap_or_default())
    }

    /// Maps our stage to an ATS stage id, for the whole connection or (with
    /// `job_code`) for one job. The ATS stage need not be cached yet; a
    /// mapping to one the ATS does not list is reported as stale.
    pub fn set_stage_override(
        &self,
        connection_id: &str,
        job_code: Option<&str>,
        stage_id: &str,
        ats_stage_id: &str,
    ) -> Result<StageMapping, StoreError> {
        let connection =
            self.connection(connection_id)?.ok_or_else(|| StoreError::UnknownConnection(connection_id.to_string()))?;
        if !self.hiring_stages(&connection.account_id)?.iter().any(|s| s.id == stage_id) {
            return Err(super::stages::unknown(&connection.account_id, stage_id));
        }
        if ats_stage_id.is_empty() || ats_stage_id.len() > MAX_ATS_STAGE_TEXT {
            return Err(StoreError::InvalidAtsStages {
                connection: connection_id.to_string(),
                reason: format!("an ATS stage id is 1 to {MAX_ATS_STAGE_TEXT} bytes"),
            });
        }
        let mapping = self.change_mapping(connection_id, |m| {
            let target = match job_code {
                Some(job) => m.job_overrides.entry(job.to_string()).or_default(),
                None => &mut m.overrides,
            };
            target.insert(stage_id.to_string(), ats_stage_id.to_string());
            if m.len() > MAX_STAGE_OVERRIDES {
                return Err(StoreError::InvalidAtsStages {
                    connection: connection_id.to_string(),
                    reason: format!("a connection keeps at most {MAX_STAGE_OVERRIDES} stage overrides"),
                });
            }
            Ok(())
        })?;
        info!(connection = connection_id, job = job_code, stage = stage_id, "stage mapping override set");
        Ok(mapping)
    }

    /// Drops an override; the stage maps by name again (or by the
    /// connection's override, for a job's). Returns whether there was one.
    pub fn clear_stage_override(
        &self,
        connection_id: &str,
        job_code: Option<&str>,
        stage_id: &str,
    ) -> Result<bool, StoreError> {
        if self.connection(connection_id)?.is_none() {
            return Err(StoreError::UnknownConnection(connection_id.to_string()));
        }
        let removed = std::cell::Cell::new(false);
        self.change_mapping(connection_id, |m| {
            let was = match job_code {
                Some(job) => {
                    let removed = m.job_overrides.get_mut(job).and_then(|o| o.remove(stage_id)).is_some();
                    m.job_overrides.retain(|_, o| !o.is_empty());
                    removed
                }
                None => m.overrides.remove(stage_id).is_some(),
            };
            removed.set(was);
            Ok(())
        })?;
        Ok(removed.get())
    }

    fn change_mapping(
        &self,
        connection_id: &str,
        change: impl Fn(&mut StageMapping) -> Result<(), StoreError>,
    ) -> Result<StageMapping, StoreError> {
        let _gate = self.write_gate();
        Ok(self.trees.stage_mappings.transaction(|tx| {
            let mut mapping: StageMapping = match tx.get(keys::id(connection_id))? {
                Some(bytes) => codec::decode(keys::STAGE_MAPPINGS, connection_id, &bytes).map_err(abort)?,
                None => StageMapping::default(),
            };
            change(&mut mapping).map_err(abort)?;
            tx.insert(keys::id(connection_id), codec::encode("stage mapping", &mapping).map_err(abort)?)?;
            Ok(mapping)
        })?)
    }

    /// The ATS stage our stage `stage_id` maps to for a connection's job
    /// (account-wide when `job_code` is `None`), or why there is none.
    pub fn resolve_stage(
        &self,
        connection_id: &str,
        job_code: Option<&str>,
        stage_id: &str,
    ) -> Result<ResolvedStage, MappingError> {
        let connection =
            self.connection(connection_id)?.ok_or_else(|| StoreError::UnknownConnection(connection_id.to_string()))?;
        let stages = self.hiring_stages(&connection.account_id)?;
        let cache = self.ats_stages_for_job(connection_id, job_code)?;
        let mapping = self.stage_mapping(connection_id)?;
        resolve(connection_id, job_code, &stages, cache.as_ref(), &mapping, stage_id)
    }

    /// The reverse, for reconciliation: the first of our stages (in the
    /// account's order) that maps to ATS stage `ats_stage_id` for the job;
    /// `None` when none does.
    pub fn stage_for_ats(
        &self,
        connection_id: &str,
        job_code: Option<&str>,
        ats_stage_id: &str,
    ) -> Result<Option<HiringStage>, StoreError> {
        let connection =
            self.connection(connection_id)?.ok_or_else(|| StoreError::UnknownConnection(connection_id.to_string()))?;
        let stages = self.hiring_stages(&connection.account_id)?;
        let cache = self.ats_stages_for_job(connection_id, job_code)?;
        let mapping = self.stage_mapping(connection_id)?;
        Ok(stages
            .iter()
            .find(|s| {
                resolve(connection_id, job_code, &stages, cache.as_ref(), &mapping, &s.id)
                    .is_ok_and(|r| r.ats_stage_id == ats_stage_id)
            })
            .cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::{connection, temp_store};

    fn stage(id: &str, name: &str, position: u32, job: Option<&str>) -> Stage {
        Stage { id: id.into(), name: name.into(), position, job_code: job.map(str::to_string) }
    }

    #[test]
    fn stages_map_by_name_ignoring_case_per_job_or_account_wide() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        assert!(matches!(store.resolve_stage(&c.id, None, "screening"), Err(MappingError::NotFetched { .. })));
        store
            .put_ats_stages(&c.id, None, vec![stage("s2", "INTERVIEW", 2, None), stage("s1", " screening ", 1, None)])
            .unwrap();
        store.put_ats_stages(&c.id, Some("J1"), vec![stage("j1-scr", "Screening", 1, Some("J1"))]).unwrap();

        let r = store.resolve_stage(&c.id, None, "screening").unwrap();
        assert_eq!((r.ats_stage_id.as_str(), r.source), ("s1", MappingSource::ByName));
        assert_eq!(store.resolve_stage(&c.id, Some("J1"), "screening").unwrap().ats_stage_id, "j1-scr");
        // A job without its own pipeline uses the account-wide one.
        assert_eq!(store.resolve_stage(&c.id, Some("J2"), "interview").unwrap().ats_stage_id, "s2");
        assert!(matches!(store.resolve_stage(&c.id, Some("J1"), "interview"), Err(MappingError::NoMapping { .. })));
        assert!(matches!(store.resolve_stage(&c.id, None, "nope"), Err(MappingError::UnknownStage { .. })));

        let lists = store.ats_stage_lists(&c.id).unwrap();
        assert_eq!(lists.len(), 2);
        assert_eq!(lists[0].job_code, None);
        assert_eq!(lists[0].stages[0].id, "s1", "kept in the ATS's order");

        assert_eq!(store.stage_for_ats(&c.id, Some("J1"), "j1-scr").unwrap().unwrap().id, "screening");
        assert_eq!(store.stage_for_ats(&c.id, None, "s2").unwrap().unwrap().id, "interview");
        assert_eq!(store.stage_for_ats(&c.id, None, "unknown").unwrap(), None);
    }

    #[test]
    fn overrides_win_per_job_then_connection_and_stale_ones_are_reported() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        store
            .put_ats_stages(&c.id, None, vec![stage("a", "Phone screen", 1, None), stage("b", "Offer", 2, None)])
            .unwrap();
        store.put_ats_stages(&c.id, Some("J1"), vec![stage("x", "Call", 1, Some("J1"))]).unwrap();

        store.set_stage_override(&c.id, None, "screening", "a").unwrap();
        let r = store.resolve_stage(&c.id, None, "screening").unwrap();
        assert_eq!((r.ats_stage_id.as_str(), r.source), ("a", MappingSource::ConnectionOverride));
        // The connection-wide override points at a stage job J1's pipeline lacks.
        let err = store.resolve_stage(&c.id, Some("J1"), "screening").unwrap_err();
        assert!(matches!(&err, MappingError::StaleMapping { ats_stage_id, .. } if ats_stage_id == "a"), "{err}");
        store.set_stage_override(&c.id, Some("J1"), "screening", "x").unwrap();
        let r = store.resolve_stage(&c.id, Some("J1"), "screening").unwrap();
        assert_eq!((r.ats_stage_id.as_str(), r.source), ("x", MappingSource::JobOverride));
        assert_eq!(store.stage_for_ats(&c.id, Some("J1"), "x").unwrap().unwrap().id, "screening");

        // The ATS drops stage `a`: the override is stale, not silently replaced.
        store
            .put_ats_stages(&c.id, None, vec![stage("b", "Offer", 2, None), stage("s", "Screening", 1, None)])
            .unwrap();
        let err = store.resolve_stage(&c.id, None, "screening").unwrap_err();
        assert!(matches!(err, MappingError::StaleMapping { .. }));
        assert!(err.to_string().contains("no longer has"), "{err}");
        assert!(store.clear_stage_override(&c.id, None, "screening").unwrap());
        assert!(!store.clear_stage_override(&c.id, None, "screening").unwrap());
        assert_eq!(store.resolve_stage(&c.id, None, "screening").unwrap().ats_stage_id, "s");

        assert!(store.clear_stage_override(&c.id, Some("J1"), "screening").unwrap());
        assert!(store.stage_mapping(&c.id).unwrap().job_overrides.is_empty());
        assert!(matches!(store.set_stage_override(&c.id, None, "nope", "a"), Err(StoreError::UnknownStage { .. })));
        assert!(store.set_stage_override(&c.id, None, "offer", "").is_err());
    }

    #[test]
    fn deleting_a_connection_drops_its_stage_cache_and_mapping() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let other = connection(&store, "Lever");
        for id in [&c.id, &other.id] {
            store.put_ats_stages(id, Some("J1"), vec![stage("a", "Offer", 1, None)]).unwrap();
            store.set_stage_override(id, None, "offer", "a").unwrap();
        }
        assert!(store.delete_connection(&c.id).unwrap());
        assert!(store.ats_stage_lists(&c.id).unwrap().is_empty());
        assert_eq!(store.stage_mapping(&c.id).unwrap(), StageMapping::default());
        assert_eq!(store.ats_stage_lists(&other.id).unwrap().len(), 1, "another connection's stay");
        assert_eq!(store.stage_mapping(&other.id).unwrap().overrides.len(), 1);
    }

    #[test]
    fn stage_ids_are_looked_up_list_by_list_until_found_or_the_bound() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<std::collections::BTreeSet<_>>();
        let none = store.ats_stage_ids_listed(&c.id, &ids(&["a"]), 10).unwrap();
        assert_eq!(none, StageIdsListed { complete: true, ..Default::default() }, "nothing cached");
        for (job, id) in [("J1", "a"), ("J2", "b"), ("J3", "c")] {
            store.put_ats_stages(&c.id, Some(job), vec![stage(id, "S", 1, Some(job))]).unwrap();
        }
        let first = store.ats_stage_ids_listed(&c.id, &ids(&["a"]), 10).unwrap();
        assert_eq!((first.lists_read, first.complete, first.found), (1, true, ids(&["a"])), "stops when found");
        let bounded = store.ats_stage_ids_listed(&c.id, &ids(&["c"]), 2).unwrap();
        assert_eq!((bounded.lists_read, bounded.complete, bounded.any_list), (2, false, true));
        assert!(bounded.found.is_empty());
        let gone = store.ats_stage_ids_listed(&c.id, &ids(&["b", "zz"]), 10).unwrap();
        assert_eq!((gone.lists_read, gone.complete, gone.found), (3, true, ids(&["b"])), "every list read");
        let any = store.ats_stage_ids_listed(&c.id, &ids(&[]), 10).unwrap();
        assert_eq!((any.any_list, any.lists_read), (true, 1));
    }

    #[test]
    fn oversized_ats_lists_are_refused() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let many: Vec<Stage> =
            (0..=MAX_ATS_STAGES_PER_LIST as u32).map(|i| stage(&i.to_string(), "S", i, None)).collect();
        assert!(matches!(store.put_ats_stages(&c.id, None, many), Err(StoreError::InvalidAtsStages { .. })));
        let long = vec![stage(&"x".repeat(MAX_ATS_STAGE_TEXT + 1), "S", 1, None)];
        assert!(store.put_ats_stages(&c.id, None, long).is_err());
        assert!(store.put_ats_stages("nope", None, vec![]).is_err());
    }
}
