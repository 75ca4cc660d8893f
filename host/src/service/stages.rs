//! Hiring stages: an account's own (list, add, rename, reorder, delete),
//! and a connection's view of the ATS's (refresh through `list-stages`,
//! show the cache with the mapping and what is stale, set or clear an
//! override).

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Caller, Service, ServiceError};
use crate::store::{
    CachedStages, HiringStage, MappingError, MappingSource, ReadLists, StaleOverride, StoredLists, resolve_stage_in,
    stale_overrides,
};
use crate::sync::stage_refresh::{RefreshError, refresh_stages};

/// The most cached per-job pipelines a connection's stage report names
/// (the total is given beside): a connection may have thousands of jobs.
pub const MAX_JOBS_LISTED: usize = 1000;
/// The most stale mappings one report lists (the total is given beside).
pub const MAX_STALE_LISTED: usize = 500;
/// The longest job code accepted in a request (ATS job codes are short ids).
const MAX_JOB_CODE_BYTES: usize = 256;
pub use crate::store::MAX_LISTS_READ_FOR_SUMMARY;

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

impl From<StaleOverride> for StaleMappingDto {
    fn from(o: StaleOverride) -> Self {
        StaleMappingDto { job_code: o.job_code, stage: o.stage, ats_stage_id: o.ats_stage_id }
    }
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
        let stale: Vec<StaleMappingDto> =
            stale_overrides(&mapping, &mut lookup)?.stale.into_iter().map(Into::into).collect();
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
