//! `atsbridge account stages ...` (the account's hiring stages) and
//! `atsbridge connection stages ...` (the ATS's stages and the mapping).

use axum::http::Method;
use clap::Subcommand;

use super::client::{Backend, query_value, segment};
use crate::service::stages::{
    AddStageRequest, ConnectionStagesDto, HiringStageDto, RenameStageRequest, ReorderStagesRequest, SetMappingRequest,
    StageRefreshDto,
};

#[derive(Debug, Subcommand)]
pub enum AccountStagesCommand {
    /// List the account's hiring stages, in order, with candidates in each.
    List { account: String },
    /// Add a stage (last, or at --position, 0 being first).
    Add {
        account: String,
        name: String,
        #[arg(long)]
        position: Option<usize>,
    },
    /// Rename a stage; its id stays.
    Rename { account: String, stage: String, name: String },
    /// Put the stages in a new order: every stage id, once each.
    Reorder {
        account: String,
        #[arg(required = true, num_args = 1..)]
        order: Vec<String>,
    },
    /// Delete a stage no candidate is in.
    Delete { account: String, stage: String },
}

#[derive(Debug, Subcommand)]
pub enum ConnectionStagesCommand {
    /// Read the ATS's stages again through the connector.
    Refresh {
        connection: String,
        /// Only this ATS job's pipeline.
        #[arg(long)]
        job: Option<String>,
    },
    /// Show the cached ATS stages, how each hiring stage maps to them, and
    /// stale mappings.
    Show {
        connection: String,
        /// For this ATS job's pipeline (account-wide otherwise).
        #[arg(long)]
        job: Option<String>,
    },
    /// Map a hiring stage to an ATS stage id (for the connection, or one job).
    Map {
        connection: String,
        stage: String,
        ats_stage_id: String,
        #[arg(long)]
        job: Option<String>,
    },
    /// Drop a mapping override; the stage maps by name again.
    Unmap {
        connection: String,
        stage: String,
        #[arg(long)]
        job: Option<String>,
    },
}

/// Text from an ATS or a plugin, safe to print on a terminal: control
/// characters (escape sequences) are shown escaped, never interpreted.
pub fn shown(s: &str) -> String {
    s.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}

fn job_query(job: Option<&str>) -> String {
    job.map(|j| format!("?job={}", query_value(j))).unwrap_or_default()
}

fn print_stages(stages: &[HiringStageDto]) {
    println!("{:<4} {:<24} {:<10} NAME", "#", "ID", "CANDIDATES");
    for s in stages {
        println!("{:<4} {:<24} {:<10} {}", s.position, s.id, s.candidates, shown(&s.name));
    }
}

pub async fn run_account(cmd: AccountStagesCommand, api: &Backend, json: bool) -> anyhow::Result<()> {
    match cmd {
        AccountStagesCommand::List { account } => {
            let stages: Vec<HiringStageDto> =
                api.get(&format!("/api/v1/accounts/{}/stages", segment(&account))).await?;
            if json {
                return super::print_json(&stages);
            }
            print_stages(&stages);
        }
        AccountStagesCommand::Add { account, name, position } => {
            let path = format!("/api/v1/accounts/{}/stages", segment(&account));
            let stage: HiringStageDto = api.post(&path, &AddStageRequest { name, position }).await?;
            if json {
                return super::print_json(&stage);
            }
            println!("added stage {} ({}) at position {}", stage.id, shown(&stage.name), stage.position);
        }
        AccountStagesCommand::Rename { account, stage, name } => {
            let path = format!("/api/v1/accounts/{}/stages/{}", segment(&account), segment(&stage));
            let stage: HiringStageDto = api.send(Method::PATCH, &path, Some(&RenameStageRequest { name })).await?;
            if json {
                return super::print_json(&stage);
            }
            println!("renamed stage {} to {}", stage.id, shown(&stage.name));
        }
        AccountStagesCommand::Reorder { account, order } => {
            let path = format!("/api/v1/accounts/{}/stage-order", segment(&account));
            let stages: Vec<HiringStageDto> =
                api.send(Method::PUT, &path, Some(&ReorderStagesRequest { order })).await?;
            if json {
                return super::print_json(&stages);
            }
            print_stages(&stages);
        }
        AccountStagesCommand::Delete { account, stage } => {
            let path = format!("/api/v1/accounts/{}/stages/{}", segment(&account), segment(&stage));
            let _: serde_json::Value = api.send(Method::DELETE, &path, None::<&()>).await?;
            if json {
                return super::print_json(&serde_json::json!({ "deleted": stage }));
            }
            println!("deleted stage {stage}");
        }
    }
    Ok(())
}

fn print_connection_stages(view: &ConnectionStagesDto) {
    connection_stages_lines(view).iter().for_each(|line| println!("{line}"));
}

/// The job pipelines a view names as examples when none is asked for.
const JOBS_SHOWN: usize = 5;

/// What `connection stages show` prints of a view.
pub fn connection_stages_lines(view: &ConnectionStagesDto) -> Vec<String> {
    let mut out = Vec::new();
    let scope = view.job_code.as_deref().map(|j| format!("job {}", shown(j))).unwrap_or("account-wide".into());
    match &view.list {
        Some(list) => {
            let whose = list.job_code.as_deref().map(|j| format!("job {}", shown(j))).unwrap_or("the account".into());
            out.push(format!(
                "ATS stages of {whose} (fetched at {} Unix; pipeline: {}):",
                list.fetched_at_unix, view.pipeline
            ));
            for s in &list.stages {
                out.push(format!("  {:<4} {:<20} {}", s.position, shown(&s.id), shown(&s.name)));
            }
        }
        // Nothing to refresh: the stages are cached, one pipeline per job.
        None if view.pipeline == "per_job_only" => {
            let examples: Vec<String> = view.jobs.iter().take(JOBS_SHOWN).map(|j| shown(j)).collect();
            let more = if view.jobs_total > examples.len() { ", ..." } else { "" };
            out.push(format!(
                "the ATS has a hiring pipeline per job: {} job pipeline(s) cached ({}{more}), no account-wide stages",
                view.jobs_total,
                examples.join(", ")
            ));
            out.push(format!(
                "see how the stages map for one job: atsbridge connection stages show {} --job <job code>",
                view.connection
            ));
        }
        None => out.push(format!("no ATS stages cached for {scope}; run `connection stages refresh`")),
    }
    if view.pipeline != "per_job_only" {
        out.push(format!("mapping ({scope}):"));
        for e in &view.mapping {
            let target = match (&e.ats_stage_id, &e.problem) {
                (Some(id), _) => format!(
                    "{} ({}) [{}]",
                    shown(id),
                    shown(e.ats_stage_name.as_deref().unwrap_or("")),
                    e.source.as_deref().unwrap_or("")
                ),
                (None, Some(p)) => format!("UNMAPPED: {} ({})", p.code, shown(&p.message)),
                (None, None) => "UNMAPPED".into(),
            };
            out.push(format!("  {:<24} -> {target}", e.stage));
        }
        if view.jobs_total > 0 {
            out.push(format!("{} job(s) have their own pipeline cached", view.jobs_total));
        }
    }
    if view.stale_total > 0 {
        out.push(format!("STALE mappings ({}): the ATS no longer has these stages", view.stale_total));
        for s in &view.stale {
            let job = s.job_code.as_deref().map(|j| format!(" (job {})", shown(j))).unwrap_or_default();
            out.push(format!("  {}{job} -> {}", s.stage, shown(&s.ats_stage_id)));
        }
    }
    out
}

pub async fn run_connection(cmd: ConnectionStagesCommand, api: &Backend, json: bool) -> anyhow::Result<()> {
    match cmd {
        ConnectionStagesCommand::Refresh { connection, job } => {
            let path =
                format!("/api/v1/connections/{}/stages/refresh{}", segment(&connection), job_query(job.as_deref()));
            let report: StageRefreshDto = api.post(&path, &()).await?;
            if json {
                return super::print_json(&report);
            }
            if !report.supported {
                println!("the connector of {connection} does not list stages");
            } else {
                let kind = if report.per_job { "per-job pipelines" } else { "account-wide stages" };
                println!("refreshed {} stage list(s) of {connection} ({kind})", report.lists);
                if report.per_job {
                    println!(
                        "  {} job pipeline(s) fetched, {} left for the next refresh",
                        report.jobs_fetched, report.jobs_left
                    );
                }
            }
            for w in &report.warnings {
                println!("warning: {}", shown(w));
            }
        }
        ConnectionStagesCommand::Show { connection, job } => {
            let path = format!("/api/v1/connections/{}/stages{}", segment(&connection), job_query(job.as_deref()));
            let view: ConnectionStagesDto = api.get(&path).await?;
            if json {
                return super::print_json(&view);
            }
            print_connection_stages(&view);
        }
        ConnectionStagesCommand::Map { connection, stage, ats_stage_id, job } => {
            let path = format!("/api/v1/connections/{}/stage-mapping/{}", segment(&connection), segment(&stage));
            let req = SetMappingRequest { ats_stage_id, job_code: job };
            let view: ConnectionStagesDto = api.send(Method::PUT, &path, Some(&req)).await?;
            if json {
                return super::print_json(&view);
            }
            print_connection_stages(&view);
        }
        ConnectionStagesCommand::Unmap { connection, stage, job } => {
            let path = format!(
                "/api/v1/connections/{}/stage-mapping/{}{}",
                segment(&connection),
                segment(&stage),
                job_query(job.as_deref())
            );
            let _: serde_json::Value = api.send(Method::DELETE, &path, None::<&()>).await?;
            if json {
                return super::print_json(&serde_json::json!({ "cleared": stage }));
            }
            println!("cleared the mapping override of {stage}; it maps by name again");
        }
    }
    Ok(())
}
