//! `atsbridge candidates ...`

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use base64::Engine as _;
use clap::Subcommand;

use super::client::{Backend, query_value};
use crate::service::candidates::{
    CandidateDto, CreateCandidateRequest, MAX_API_RESUME_BYTES, MoveCandidateRequest, MovedCandidateDto, ResumeUpload,
    StageMoveDto,
};

#[derive(Debug, Subcommand)]
pub enum CandidatesCommand {
    /// Create a candidate for a position (in the account's first stage
    /// unless --stage says otherwise).
    Create {
        /// The position applied to.
        #[arg(long)]
        position: u64,
        #[arg(long)]
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        phone: Option<String>,
        /// A link (repeatable).
        #[arg(long = "link")]
        links: Vec<String>,
        /// An answer, `question-id=text` (repeatable).
        #[arg(long = "answer")]
        answers: Vec<String>,
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        stage: Option<String>,
        /// The résumé file (PDF, DOC, DOCX, ODT, RTF or TXT).
        #[arg(long)]
        resume: Option<PathBuf>,
        /// Who creates it, for the history.
        #[arg(long)]
        by: Option<String>,
    },
    /// List candidates of a position or an account.
    List {
        #[arg(long)]
        position: Option<u64>,
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        stage: Option<String>,
    },
    /// Show one candidate.
    Get { id: u64 },
    /// Move a candidate to another stage.
    Move {
        id: u64,
        stage: String,
        /// Who moves it, for the history.
        #[arg(long)]
        by: Option<String>,
    },
    /// A candidate's stage moves, oldest first, with what telling the ATS
    /// of each cost.
    History { id: u64 },
    /// The candidate's pushes to the ATS that ended, with what each cost.
    Pushes { id: u64 },
}

/// Reads a résumé file, refusing one larger than the API takes before
/// reading it.
fn read_resume(path: &PathBuf) -> anyhow::Result<ResumeUpload> {
    let size = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?.len();
    if size > MAX_API_RESUME_BYTES as u64 {
        bail!("{} is {size} bytes; a resume is at most {MAX_API_RESUME_BYTES}", path.display());
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let file_name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "resume".into());
    Ok(ResumeUpload { file_name, content_base64: base64::engine::general_purpose::STANDARD.encode(bytes) })
}

fn print_candidate(c: &CandidateDto) {
    println!("candidate #{} · position {} · {}", c.id, c.position, c.connection);
    println!("  name:    {}", c.name.escape_debug());
    println!("  email:   {}", c.email.escape_debug());
    if let Some(p) = &c.phone {
        println!("  phone:   {}", p.escape_debug());
    }
    for l in &c.links {
        println!("  link:    {}", l.escape_debug());
    }
    if let Some(r) = &c.resume {
        println!("  resume:  {} ({}, {} bytes)", r.file_name.escape_debug(), r.content_type, r.size);
    }
    for (q, a) in &c.answers {
        println!("  answer {}: {}", q.escape_debug(), a.escape_debug());
    }
    println!("  stage:   {}", c.stage);
    println!(
        "  push:    {}{}",
        c.push.state,
        c.push.message.as_deref().map(|m| format!(" ({})", m.escape_debug())).unwrap_or_default()
    );
}

fn print_move(m: &StageMoveDto) {
    let by = match &m.by.name {
        Some(n) => format!("{} {}", m.by.kind, n.escape_debug()),
        None => m.by.kind.clone(),
    };
    let attempts = match m.attempts {
        None => String::new(),
        Some(1) => " · 1 attempt".to_string(),
        Some(n) => format!(" · {n} attempts"),
    };
    println!(
        "{:<4} {:<12} {:<20} -> {:<20} by {by} [{}]{attempts}",
        m.seq,
        m.at_unix,
        m.from.as_deref().unwrap_or("(created)"),
        m.to,
        m.propagation.state
    );
    // What telling the ATS cost, as `candidates pushes` shows a push's.
    if let Some(cost) = &m.metering {
        super::metering_view::detail(cost).iter().for_each(|line| println!("{line}"));
    }
}

pub async fn run(cmd: CandidatesCommand, api: &Backend, json: bool) -> anyhow::Result<()> {
    match cmd {
        CandidatesCommand::Create { position, name, email, phone, links, answers, source, stage, resume, by } => {
            let mut parsed = BTreeMap::new();
            for a in answers {
                let Some((q, text)) = a.split_once('=') else { bail!("--answer takes question-id=text, not {a:?}") };
                parsed.insert(q.to_string(), text.to_string());
            }
            let req = CreateCandidateRequest {
                position,
                name,
                email,
                phone,
                links,
                answers: parsed,
                source,
                stage,
                by,
                resume: resume.as_ref().map(read_resume).transpose()?,
            };
            let c: CandidateDto = api.post("/api/v1/candidates", &req).await?;
            if json {
                return super::print_json(&c);
            }
            println!("created candidate #{} in stage {}", c.id, c.stage);
        }
        CandidatesCommand::List { position, account, stage } => {
            if position.is_none() && account.is_none() {
                bail!("pass --position ID or --account ID");
            }
            let mut query = String::new();
            if let Some(p) = position {
                query.push_str(&format!("position={p}&"));
            }
            for (k, v) in [("account", account), ("stage", stage)] {
                if let Some(v) = v {
                    query.push_str(&format!("{k}={}&", query_value(&v)));
                }
            }
            let all: Vec<CandidateDto> = super::all_pages(api, &format!("/api/v1/candidates?{query}")).await?;
            if json {
                return super::print_json(&all);
            }
            println!("{:<7} {:<9} {:<20} {:<10} {:<30} NAME", "ID", "POSITION", "STAGE", "PUSH", "EMAIL");
            for c in all {
                println!(
                    "{:<7} {:<9} {:<20} {:<10} {:<30} {}",
                    c.id,
                    c.position,
                    c.stage,
                    c.push.state,
                    c.email.escape_debug(),
                    c.name.escape_debug()
                );
            }
        }
        CandidatesCommand::Get { id } => {
            let c: CandidateDto = api.get(&format!("/api/v1/candidates/{id}")).await?;
            if json {
                return super::print_json(&c);
            }
            print_candidate(&c);
        }
        CandidatesCommand::Move { id, stage, by } => {
            let req = MoveCandidateRequest { stage, by };
            let moved: MovedCandidateDto = api.post(&format!("/api/v1/candidates/{id}/move"), &req).await?;
            if json {
                return super::print_json(&moved);
            }
            println!(
                "moved candidate #{id} from {} to {}",
                moved.moved.from.as_deref().unwrap_or("-"),
                moved.candidate.stage
            );
        }
        CandidatesCommand::History { id } => {
            let moves: Vec<StageMoveDto> = api.get(&format!("/api/v1/candidates/{id}/history")).await?;
            if json {
                return super::print_json(&moves);
            }
            for m in &moves {
                print_move(m);
            }
        }
        CandidatesCommand::Pushes { id } => {
            let pushes: Vec<crate::service::push_history::PushRecordDto> =
                api.get(&format!("/api/v1/candidates/{id}/pushes")).await?;
            if json {
                return super::print_json(&pushes);
            }
            super::metering_view::pushes(&pushes).iter().for_each(|line| println!("{line}"));
        }
    }
    Ok(())
}
