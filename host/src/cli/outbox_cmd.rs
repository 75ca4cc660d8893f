//! `atsbridge outbox ...`: send candidates to the ATS, follow their pushes,
//! set auto-push rules, reconcile with the ATS.

use axum::http::Method;
use clap::Subcommand;

use super::client::{Backend, segment};
use crate::display::escape_capped;
use crate::service::outbox::{
    AutoPushDto, AutoPushRequest, OutboxEntryDto, PushCandidateRequest, PushStatusDto, ReconcileReportDto,
};

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Send a candidate to the ATS ("send to ATS"): queued durably, pushed
    /// in the background by the running host.
    Push {
        /// The candidate's id.
        candidate: u64,
        /// Our stage the application starts in (default: the candidate's).
        #[arg(long)]
        stage: Option<String>,
    },
    /// A candidate's push state and pending outbox entries.
    Show {
        /// The candidate's id.
        candidate: u64,
    },
    /// Pending outbox entries (pushes and moves waiting for the ATS).
    List,
    /// Show, set or clear a connection's auto-push stage.
    AutoPush {
        /// The connection.
        connection: String,
        /// Candidates reaching this stage (or a later one) are pushed.
        #[arg(long, conflicts_with = "clear")]
        stage: Option<String>,
        /// Remove the rule.
        #[arg(long)]
        clear: bool,
    },
    /// Read the ATS's status of the connection's pushed candidates now.
    Reconcile {
        /// The connection.
        connection: String,
    },
}

pub async fn run(cmd: OutboxCommand, api: &Backend, json: bool) -> anyhow::Result<()> {
    match cmd {
        OutboxCommand::Push { candidate, stage } => {
            let request = PushCandidateRequest { stage_id: stage };
            let status: PushStatusDto = api.post(&format!("/api/v1/candidates/{candidate}/push"), &request).await?;
            if json {
                return super::print_json(&status);
            }
            print_status(&status);
            if !api.is_remote() {
                println!("(no host is serving: the push runs when `atsbridge serve` starts)");
            }
        }
        OutboxCommand::Show { candidate } => {
            let status: PushStatusDto = api.get(&format!("/api/v1/candidates/{candidate}/push")).await?;
            if json {
                return super::print_json(&status);
            }
            print_status(&status);
        }
        OutboxCommand::List => {
            let entries: Vec<OutboxEntryDto> = super::all_pages(api, "/api/v1/outbox?").await?;
            if json {
                return super::print_json(&entries);
            }
            println!(
                "{:<10} {:<10} {:<5} {:<24} {:<16} {:<8} LAST ERROR",
                "ENTRY", "CANDIDATE", "KIND", "CONNECTION", "STAGE", "TRIES"
            );
            for e in entries {
                println!(
                    "{:<10} {:<10} {:<5} {:<24} {:<16} {:<8} {}",
                    e.id,
                    e.candidate_id,
                    e.kind,
                    e.connection_id,
                    e.stage_id,
                    e.attempts,
                    escape_capped(e.last_error.as_deref().unwrap_or("-"))
                );
            }
        }
        OutboxCommand::AutoPush { connection, stage, clear } => {
            let path = format!("/api/v1/connections/{}/auto-push", segment(&connection));
            let rule: AutoPushDto = if stage.is_some() || clear {
                api.send(Method::PUT, &path, Some(&AutoPushRequest { stage_id: stage })).await?
            } else {
                api.get(&path).await?
            };
            if json {
                return super::print_json(&rule);
            }
            match &rule.stage_id {
                Some(stage) => {
                    println!("{}: candidates reaching `{stage}` are pushed automatically", rule.connection_id)
                }
                None => println!("{}: no auto-push rule; candidates are pushed on request", rule.connection_id),
            }
        }
        OutboxCommand::Reconcile { connection } => {
            let path = format!("/api/v1/connections/{}/reconcile", segment(&connection));
            let report: ReconcileReportDto = api.post(&path, &serde_json::json!({})).await?;
            if json {
                return super::print_json(&report);
            }
            println!(
                "{}: {} checked, {} moved to the ATS's stage, {} unmapped, {} skipped (pending), {} not reported",
                report.connection_id,
                report.checked,
                report.moved,
                report.unmapped,
                report.skipped_pending,
                report.missing
            );
        }
    }
    Ok(())
}

fn print_status(s: &PushStatusDto) {
    println!("candidate #{} · {} · stage {}", s.candidate_id, s.connection_id, s.stage_id);
    println!("  push:        {}", s.state);
    if let (Some(c), Some(a)) = (&s.ats_candidate_id, &s.ats_application_id) {
        println!("  in the ATS:  candidate {}, application {}", escape_capped(c), escape_capped(a));
    }
    if let Some(e) = &s.error {
        println!("  error:       {}", escape_capped(e));
    }
    for e in &s.outbox {
        println!(
            "  pending:     {} to `{}` (entry {}, {} failed attempts){}",
            e.kind,
            e.stage_id,
            e.id,
            e.attempts,
            e.last_error.as_deref().map(|m| format!(": {}", escape_capped(m))).unwrap_or_default()
        );
    }
}
