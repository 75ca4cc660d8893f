//! Hiring stages: an account's own (list, add, rename, reorder, delete),
//! and a connection's view of the ATS's (refresh through `list-stages`,
//! show the cache with the mapping and what is stale, set or clear an
//! override).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Caller, Service, ServiceError};
use crate::store::{
    CachedStages, HiringStage, MappingError, MappingSource, StageIdsListed, StageMapping, Store, resolve_stage_in,
};
use crate::sync::stage_refresh::{RefreshError, refresh_stages};

/// The most cached per-job pipelines a connection's stage report names
/// (the total is given beside): a connection may have thousands of jobs.
pub const MAX_JOBS_LISTED: usize = 1000;
/// The most stale mappings one report lists (the total is given beside).
pub const MAX_STALE_LISTED: usize = 500;
/// The longest job code accepted in a request (ATS job codes are short ids).
const MAX_JOB_CODE_BYTES: usize = 256;
/// The most cached lists a connection's summary reads to find the ATS
/// stages its connection-wide overrides point at: the summary is part of
/// every connection read, and an ATS with per-job pipelines has one list
/// per open job (thousands). Stage views read them all.
pub const MAX_LISTS_READ_FOR_SUMMARY: usize = 2_000;

/// One of an account's hiring stages.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HiringStageDto {
    /// Stable slug; never changes, even on rename.
    pub id: String,
    pub name: String,
    /// Its place in the account's order, from 0.
    pub position: usize,
    /// Candidates in it now (a stage with candidates cannot be deleted).
    pub candidates: u64,
}

/// Adds a stage.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddStageRequest {
    pub name: String,
    /// Where to insert it (0: first); at the end when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<usize>,
}

/// Renames a stage.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameStageRequest {
    pub name: String,
}

/// A new order: every stage id exactly once.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReorderStagesRequest {
    pub order: Vec<String>,
}

/// A stage in the ATS.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AtsStageDto {
    pub id: String,
    pub name: String,
    pub position: u32,
}

/// One cached `list-stages` answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AtsStageListDto {
    /// The job whose pipeline this is; absent for the account's stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_code: Option<String>,
    pub fetched_at_unix: i64,
    pub stages: Vec<AtsStageDto>,
}

/// Why one of our stages has no usable ATS stage.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MappingProblemDto {
    /// `no_mapping`, `stale_mapping` or `not_fetched`.
    pub code: String,
    pub message: String,
    /// For `stale_mapping`: the ATS stage the mapping points at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ats_stage_id: Option<String>,
}

/// How one of our stages maps, for a job or the account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MappingEntryDto {
    pub stage: String,
    pub stage_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ats_stage_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ats_stage_name: Option<String>,
    /// `job_override`, `connection_override` or `by_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Set when the stage cannot be mapped; such a mapping is never used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<MappingProblemDto>,
}

/// An override that points at an ATS stage the ATS no longer lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StaleMappingDto {
    /// The job of a per-job override; absent for a connection-wide one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_code: Option<String>,
    pub stage: String,
    pub ats_stage_id: String,
}

/// One of our stages with a stale mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StaleStageDto {
    pub stage: String,
    pub stage_name: String,
}

/// A connection's stale stage mappings in short: overrides that point at
/// ATS stages the ATS no longer lists. Such a mapping is never used;
/// `GET /api/v1/connections/{id}/stages` lists each one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StaleMappingSummaryDto {
    /// Stale overrides, for the connection or one of its jobs (the
    /// `stale_total` of the connection's stage view).
    pub count: usize,
    /// Our stages with at least one stale override, in the account's order.
    #[serde(default)]
    pub stages: Vec<StaleStageDto>,
    /// Connection-wide overrides not checked: none of the first 2000 cached
    /// lists has their ATS stage, and more lists are cached. The stage view
    /// checks them against every list.
    #[serde(default)]
    pub unchecked: usize,
}

/// A connection's cached ATS stages and how the account's stages map to
/// them (for one job, or account-wide).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConnectionStagesDto {
    pub connection: String,
    /// The job asked about; absent: account-wide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_code: Option<String>,
    /// The cached list that applies (the job's own pipeline if cached, else
    /// the account's); absent if never fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<AtsStageListDto>,
    /// Which list the mapping resolves against: `per_job` (the job's own
    /// pipeline), `account_wide`, `not_fetched`, or `per_job_only` (asked
    /// for no job, and the ATS has only per-job pipelines, listed in
    /// `jobs`: ask for one of them).
    pub pipeline: String,
    /// Each of our stages, in order, and what it maps to.
    pub mapping: Vec<MappingEntryDto>,
    /// Jobs with their own cached pipeline (at most 1000; see `jobs_total`).
    pub jobs: Vec<String>,
    pub jobs_total: usize,
    /// Explicit overrides for the whole connection: our stage -> ATS stage.
    pub overrides: BTreeMap<String, String>,
    /// Explicit overrides per job (only the asked job's when one is given).
    pub job_overrides: BTreeMap<String, BTreeMap<String, String>>,
    /// Overrides that point at ATS stages the ATS no longer lists (at most
    /// 500; see `stale_total`).
    pub stale: Vec<StaleMappingDto>,
    pub stale_total: usize,
}

/// Maps one of our stages to an ATS stage explicitly.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMappingRequest {
    pub ats_stage_id: String,
    /// Only for this job; for the whole connection when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_code: Option<String>,
}

/// What a refresh did.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StageRefreshDto {
    pub connection: String,
    /// `false` when the connector does not list stages.
    pub supported: bool,
    /// Whether the ATS has per-job pipelines.
    pub per_job: bool,
    /// Lists cached.
    pub lists: usize,
    /// Jobs whose own pipeline this refresh fetched.
    #[serde(default)]
    pub jobs_fetched: usize,
    /// Open jobs whose pipeline was left for the next refresh (a bound per
    /// refresh, or the ATS rate-limited the listing); the oldest go first.
    #[serde(default)]
    pub jobs_left: usize,
    /// Problems that did not stop the refresh.
    pub warnings: Vec<String>,
}

fn stage_dtos(stages: Vec<HiringStage>, counts: &BTreeMap<String, u64>) -> Vec<HiringStageDto> {
    stages
        .into_iter()
        .enumerate()
        .map(|(position, s)| {
            let candidates = counts.get(&s.id).copied().unwrap_or(0);
            HiringStageDto { id: s.id, name: s.name, position, candidates }
        })
        .collect()
}

fn list_dto(c: &CachedStages) -> AtsStageListDto {
    AtsStageListDto {
        job_code: c.job_code.clone(),
        fetched_at_unix: c.fetched_at_unix,
        stages: c
            .stages
            .iter()
            .map(|s| AtsStageDto { id: s.id.clone(), name: s.name.clone(), position: s.position })
            .collect(),
    }
}

fn source_name(source: MappingSource) -> &'static str {
    match source {
        MappingSource::JobOverride => "job_override",
        MappingSource::ConnectionOverride => "connection_override",
        MappingSource::ByName => "by_name",
    }
}

fn problem_dto(e: MappingError) -> Result<MappingProblemDto, ServiceError> {
    let message = e.to_string();
    let (code, ats_stage_id) = match e {
        MappingError::NoMapping { .. } => ("no_mapping", None),
        MappingError::StaleMapping { ats_stage_id, .. } => ("stale_mapping", Some(ats_stage_id)),
        MappingError::NotFetched { .. } => ("not_fetched", None),
        MappingError::UnknownStage { .. } => ("unknown_stage", None),
        MappingError::Store(e) => return Err(e.into()),
    };
    Ok(MappingProblemDto { code: code.to_string(), message, ats_stage_id })
}

/// Where [`stale_overrides`] looks the ATS's stages up: the lists a view
/// already read ([`ReadLists`]), or the store, a list at a time
/// ([`StoredLists`]).
trait StageLookup {
    /// The stage ids of the list that applies to `job` (its own pipeline,
    /// else the account's); `None` when neither is cached.
    fn job_ids(&mut self, job: &str) -> Result<Option<HashSet<String>>, ServiceError>;
    /// Which of `ids` some cached list has.
    fn listed(&mut self, ids: &BTreeSet<String>) -> Result<StageIdsListed, ServiceError>;
}

/// Every list of a connection, already read.
struct ReadLists<'a> {
    account_wide: Option<&'a CachedStages>,
    per_job: &'a BTreeMap<String, CachedStages>,
}

fn ids_of(list: &CachedStages) -> impl Iterator<Item = &String> {
    list.stages.iter().map(|s| &s.id)
}

impl StageLookup for ReadLists<'_> {
    fn job_ids(&mut self, job: &str) -> Result<Option<HashSet<String>>, ServiceError> {
        Ok(self.per_job.get(job).or(self.account_wide).map(|l| ids_of(l).cloned().collect()))
    }

    fn listed(&mut self, ids: &BTreeSet<String>) -> Result<StageIdsListed, ServiceError> {
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
struct StoredLists<'a> {
    store: &'a Store,
    connection: &'a str,
    /// The account-wide list's ids, once read.
    account_wide: Option<Option<HashSet<String>>>,
}

impl StageLookup for StoredLists<'_> {
    fn job_ids(&mut self, job: &str) -> Result<Option<HashSet<String>>, ServiceError> {
        if let Some(own) = self.store.ats_stages(self.connection, Some(job))? {
            return Ok(Some(ids_of(&own).cloned().collect()));
        }
        if self.account_wide.is_none() {
            let list = self.store.ats_stages(self.connection, None)?;
            self.account_wide = Some(list.map(|l| ids_of(&l).cloned().collect()));
        }
        Ok(self.account_wide.clone().flatten())
    }

    fn listed(&mut self, ids: &BTreeSet<String>) -> Result<StageIdsListed, ServiceError> {
        Ok(self.store.ats_stage_ids_listed(self.connection, ids, MAX_LISTS_READ_FOR_SUMMARY)?)
    }
}

/// Overrides found stale, and connection-wide ones the lookup could not
/// check (see [`StaleMappingSummaryDto::unchecked`]).
struct StaleOverrides {
    stale: Vec<StaleMappingDto>,
    unchecked: usize,
}

/// Overrides that point at ATS stages no cached list applying to them has.
/// A job override is checked against its job's pipeline (or the account's
/// list); a connection-wide one is stale when no cached list has its stage.
fn stale_overrides(mapping: &StageMapping, lookup: &mut impl StageLookup) -> Result<StaleOverrides, ServiceError> {
    let mut out = StaleOverrides { stale: Vec::new(), unchecked: 0 };
    if !mapping.overrides.is_empty() {
        let listed = lookup.listed(&mapping.overrides.values().cloned().collect())?;
        for (stage, ats) in &mapping.overrides {
            if !listed.any_list || listed.found.contains(ats) {
                continue;
            }
            if listed.complete {
                out.stale.push(StaleMappingDto { job_code: None, stage: stage.clone(), ats_stage_id: ats.clone() });
            } else {
                out.unchecked += 1;
            }
        }
    }
    for (job, overrides) in &mapping.job_overrides {
        let Some(ids) = lookup.job_ids(job)? else { continue };
        for (stage, ats) in overrides {
            if !ids.contains(ats) {
                out.stale.push(StaleMappingDto {
                    job_code: Some(job.clone()),
                    stage: stage.clone(),
                    ats_stage_id: ats.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// Why none of our stages maps when no job is asked for and the ATS keeps
/// only per-job pipelines: a refresh would not help, one job's view would.
fn job_needed(jobs: usize) -> MappingProblemDto {
    MappingProblemDto {
        code: "job_needed".to_string(),
        message: format!(
            "the ATS has a hiring pipeline per job ({jobs} cached) and no account-wide stages; \
             ask for one job's mapping"
        ),
        ats_stage_id: None,
    }
}

fn check_job_code(job: Option<&str>) -> Result<(), ServiceError> {
    if let Some(j) = job
        && (j.is_empty() || j.len() > MAX_JOB_CODE_BYTES || j.chars().any(char::is_control))
    {
        return Err(ServiceError::Invalid(format!("a job code is 1 to {MAX_JOB_CODE_BYTES} bytes of text")));
    }
    Ok(())
}

impl Service {
    /// An account's stages, in order, with how many candidates each has.
    pub fn hiring_stages(&self, caller: &Caller, account: &str) -> Result<Vec<HiringStageDto>, ServiceError> {
        self.visible_account(caller, account)?;
        let store = &self.app.store;
        Ok(stage_dtos(store.hiring_stages(account)?, &store.candidates_per_stage(account)?))
    }

    /// Adds a stage to an account.
    pub fn add_hiring_stage(
        &self,
        caller: &Caller,
        account: &str,
        req: AddStageRequest,
    ) -> Result<HiringStageDto, ServiceError> {
        self.visible_account(caller, account)?;
        let added = self.app.store.add_hiring_stage(account, &req.name, req.position)?;
        self.stage_dto(caller, account, &added.id)
    }

    /// Renames a stage (its id stays).
    pub fn rename_hiring_stage(
        &self,
        caller: &Caller,
        account: &str,
        stage: &str,
        req: RenameStageRequest,
    ) -> Result<HiringStageDto, ServiceError> {
        self.visible_account(caller, account)?;
        self.app.store.rename_hiring_stage(account, stage, &req.name)?;
        self.stage_dto(caller, account, stage)
    }

    /// Puts an account's stages in a new order.
    pub fn reorder_hiring_stages(
        &self,
        caller: &Caller,
        account: &str,
        req: ReorderStagesRequest,
    ) -> Result<Vec<HiringStageDto>, ServiceError> {
        self.visible_account(caller, account)?;
        self.app.store.reorder_hiring_stages(account, &req.order)?;
        self.hiring_stages(caller, account)
    }

    /// Deletes a stage no candidate is in (409 otherwise).
    pub fn delete_hiring_stage(&self, caller: &Caller, account: &str, stage: &str) -> Result<(), ServiceError> {
        self.visible_account(caller, account)?;
        Ok(self.app.store.delete_hiring_stage(account, stage)?)
    }

    fn stage_dto(&self, caller: &Caller, account: &str, stage: &str) -> Result<HiringStageDto, ServiceError> {
        self.hiring_stages(caller, account)?
            .into_iter()
            .find(|s| s.id == stage)
            .ok_or_else(|| ServiceError::NotFound { what: "stage", id: stage.to_string() })
    }

    /// Reads the connection's ATS stages again through `list-stages`: every
    /// list, or one job's pipeline.
    pub async fn refresh_connection_stages(
        &self,
        caller: &Caller,
        id: &str,
        job: Option<&str>,
    ) -> Result<StageRefreshDto, ServiceError> {
        check_job_code(job)?;
        let c = self.visible_connection(caller, id)?;
        let ctx = self.app.engine.connection_context(&c).map_err(ServiceError::internal)?;
        let plugin = self.app.runtime.plugin(&c.plugin_id).await?;
        let report = refresh_stages(&self.app.store, &plugin, &ctx, &c.id, job).await.map_err(|e| match e {
            RefreshError::Call(call) => super::plugins::call_error(call),
            RefreshError::Store(s) => s.into(),
            other => ServiceError::internal(other),
        })?;
        Ok(StageRefreshDto {
            connection: c.id,
            supported: report.supported,
            per_job: report.per_job,
            lists: report.lists,
            jobs_fetched: report.jobs_fetched,
            jobs_left: report.jobs_left,
            warnings: report.warnings,
        })
    }

    /// The connection's cached ATS stages, how each of the account's stages
    /// maps (for `job`, or account-wide), and every stale override.
    pub fn connection_stages(
        &self,
        caller: &Caller,
        id: &str,
        job: Option<&str>,
    ) -> Result<ConnectionStagesDto, ServiceError> {
        check_job_code(job)?;
        let c = self.visible_connection(caller, id)?;
        let store = &self.app.store;
        let stages = store.hiring_stages(&c.account_id)?;
        let mapping = store.stage_mapping(&c.id)?;
        let mut account_wide = None;
        let mut per_job = BTreeMap::new();
        for list in store.ats_stage_lists(&c.id)? {
            match list.job_code.clone() {
                None => account_wide = Some(list),
                Some(code) => {
                    per_job.insert(code, list);
                }
            }
        }
        let applying = job.and_then(|j| per_job.get(j)).or(account_wide.as_ref());
        let per_job_only = job.is_none() && account_wide.is_none() && !per_job.is_empty();
        let entries = stages
            .iter()
            .map(|s| {
                let resolved = match per_job_only {
                    true => Err(Ok(job_needed(per_job.len()))),
                    false => resolve_stage_in(&c.id, job, &stages, applying, &mapping, &s.id).map_err(problem_dto),
                };
                let mut entry = MappingEntryDto {
                    stage: s.id.clone(),
                    stage_name: s.name.clone(),
                    ats_stage_id: None,
                    ats_stage_name: None,
                    source: None,
                    problem: None,
                };
                match resolved {
                    Ok(r) => {
                        entry.ats_stage_id = Some(r.ats_stage_id);
                        entry.ats_stage_name = Some(r.ats_stage_name);
                        entry.source = Some(source_name(r.source).to_string());
                    }
                    Err(problem) => entry.problem = Some(problem?),
                }
                Ok(entry)
            })
            .collect::<Result<Vec<_>, ServiceError>>()?;
        let mut lookup = ReadLists { account_wide: account_wide.as_ref(), per_job: &per_job };
        let stale = stale_overrides(&mapping, &mut lookup)?.stale;
        let job_overrides = match job {
            Some(j) => {
                mapping.job_overrides.get(j).map(|o| BTreeMap::from([(j.to_string(), o.clone())])).unwrap_or_default()
            }
            None => mapping.job_overrides.clone(),
        };
        let pipeline = match applying {
            Some(list) if list.job_code.is_some() => "per_job",
            Some(_) => "account_wide",
            None if per_job_only => "per_job_only",
            None => "not_fetched",
        };
        Ok(ConnectionStagesDto {
            connection: c.id.clone(),
            job_code: job.map(str::to_string),
            list: applying.map(list_dto),
            pipeline: pipeline.to_string(),
            mapping: entries,
            jobs_total: per_job.len(),
            jobs: per_job.keys().take(MAX_JOBS_LISTED).cloned().collect(),
            overrides: mapping.overrides.clone(),
            job_overrides,
            stale_total: stale.len(),
            stale: stale.into_iter().take(MAX_STALE_LISTED).collect(),
        })
    }

    /// The connection's stale stage mappings in short, for its DTO. The
    /// work is bounded by its overrides, not by its pipelines: one read of
    /// the mapping (nothing more without overrides), one list per job with
    /// overrides, and at most [`MAX_LISTS_READ_FOR_SUMMARY`] lists' stage
    /// ids for the connection-wide ones.
    pub(super) fn stale_mapping_summary(
        &self,
        connection_id: &str,
        account: &str,
    ) -> Result<StaleMappingSummaryDto, ServiceError> {
        let store = &self.app.store;
        let mapping = store.stage_mapping(connection_id)?;
        if mapping.overrides.is_empty() && mapping.job_overrides.is_empty() {
            return Ok(StaleMappingSummaryDto::default());
        }
        let mut lookup = StoredLists { store, connection: connection_id, account_wide: None };
        let found = stale_overrides(&mapping, &mut lookup)?;
        let mut summary =
            StaleMappingSummaryDto { count: found.stale.len(), unchecked: found.unchecked, ..Default::default() };
        if !found.stale.is_empty() {
            let stale: HashSet<&str> = found.stale.iter().map(|s| s.stage.as_str()).collect();
            summary.stages = store
                .hiring_stages(account)?
                .into_iter()
                .filter(|s| stale.contains(s.id.as_str()))
                .map(|s| StaleStageDto { stage: s.id, stage_name: s.name })
                .collect();
        }
        Ok(summary)
    }

    /// Maps one of the account's stages to an ATS stage for the connection
    /// (or one of its jobs); answers with the mapping as it now resolves.
    pub fn set_stage_mapping(
        &self,
        caller: &Caller,
        id: &str,
        stage: &str,
        req: SetMappingRequest,
    ) -> Result<ConnectionStagesDto, ServiceError> {
        check_job_code(req.job_code.as_deref())?;
        let c = self.visible_connection(caller, id)?;
        self.app.store.set_stage_override(&c.id, req.job_code.as_deref(), stage, req.ats_stage_id.trim())?;
        self.connection_stages(caller, id, req.job_code.as_deref())
    }

    /// Drops an override (404 when there was none).
    pub fn clear_stage_mapping(
        &self,
        caller: &Caller,
        id: &str,
        stage: &str,
        job: Option<&str>,
    ) -> Result<(), ServiceError> {
        check_job_code(job)?;
        let c = self.visible_connection(caller, id)?;
        if self.app.store.clear_stage_override(&c.id, job, stage)? {
            Ok(())
        } else {
            Err(ServiceError::NotFound { what: "stage mapping", id: stage.to_string() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Stage;

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
                StaleMappingDto { job_code: None, stage: "offer".into(), ats_stage_id: "gone".into() },
                StaleMappingDto { job_code: Some("J1".into()), stage: "screening".into(), ats_stage_id: "j2-5".into() },
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
        let (_dir, store) = crate::store::testutil::temp_store();
        let c = crate::store::testutil::connection(&store, "Greenhouse").id;
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
                StaleMappingDto { job_code: None, stage: "hired".into(), ats_stage_id: "gone".into() },
                StaleMappingDto { job_code: Some("J1".into()), stage: "screening".into(), ats_stage_id: "b".into() },
            ]
        );
        assert_eq!(summary.unchecked, 0);
    }

    #[test]
    fn past_its_bound_the_summary_leaves_connection_wide_overrides_unchecked_not_stale() {
        let (_dir, store) = crate::store::testutil::temp_store();
        let c = crate::store::testutil::connection(&store, "Greenhouse").id;
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
