//! `atsbridge positions ...`

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};

use crate::app::App;
use crate::store::{FieldEdit, FieldName, Position, Tracked};

#[derive(Debug, Subcommand)]
pub enum PositionsCommand {
    /// List positions of a connection or an account.
    List {
        #[arg(long, conflicts_with = "account")]
        connection: Option<String>,
        #[arg(long)]
        account: Option<String>,
    },
    /// Show one position, with local edits beside the ATS values.
    Show { id: u64 },
    /// Edit synced fields locally; the edit survives later syncs.
    Edit {
        id: u64,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Replaces the locations (repeatable).
        #[arg(long = "location")]
        locations: Vec<String>,
    },
    /// Drop a local edit so the field follows the ATS again.
    ClearEdit { id: u64, field: Field },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Field {
    Name,
    Description,
    Locations,
    AuthorizedUsers,
}

pub fn run(cmd: PositionsCommand, app: &App, json: bool) -> anyhow::Result<()> {
    match cmd {
        PositionsCommand::List { connection, account } => {
            let positions = match (connection, account) {
                (Some(c), _) => app.store.positions_of_connection(&c)?,
                (None, Some(a)) => app.store.positions_of_account(&a)?,
                (None, None) => bail!("pass --connection ID or --account ID"),
            };
            if json {
                return super::print_json(&positions);
            }
            println!(
                "{:<7} {:<24} {:<14} {:<9} {:<9} {:<24} NAME",
                "ID", "CONNECTION", "ATS JOB", "STATUS", "PUBLISHED", "LOCATION"
            );
            for p in positions {
                let edited = if p.name.local.is_some() { " (edited)" } else { "" };
                println!(
                    "{:<7} {:<24} {:<14} {:<9} {:<9} {:<24} {}{edited}",
                    p.id,
                    p.connection_id,
                    p.ats_job_code,
                    status(&p),
                    p.published,
                    truncate(&p.locations.effective().join("; "), 24),
                    p.name.effective()
                );
            }
        }
        PositionsCommand::Show { id } => {
            let p = position(app, id)?;
            if json {
                return super::print_json(&p);
            }
            println!("position #{} · {} · ATS job {}", p.id, p.connection_id, p.ats_job_code);
            println!(
                "  status:      {} (ATS: {}){}",
                status(&p),
                p.ats_raw_status,
                p.closed_reason.as_ref().map(|r| format!(", {r:?}")).unwrap_or_default()
            );
            println!("  published:   {}", p.published);
            show("name", &p.name, |v| v.clone());
            show("locations", &p.locations, |v| v.join("; "));
            show("description", &p.description, |v| truncate(v, 80));
            show("users", &p.authorized_users, |v| v.iter().map(|u| u.name.clone()).collect::<Vec<_>>().join(", "));
            for (k, v) in &p.extra {
                println!("  {k}: {v}");
            }
        }
        PositionsCommand::Edit { id, name, description, locations } => {
            let mut edits = Vec::new();
            edits.extend(name.map(FieldEdit::Name));
            edits.extend(description.map(FieldEdit::Description));
            if !locations.is_empty() {
                edits.push(FieldEdit::Locations(locations));
            }
            if edits.is_empty() {
                bail!("nothing to edit: pass --name, --description or --location");
            }
            let mut p = position(app, id)?;
            for edit in edits {
                p = app.store.edit_position(id, edit)?;
            }
            if json {
                return super::print_json(&p);
            }
            println!("edited position #{id}; the edit survives syncs (clear it with `positions clear-edit`)");
        }
        PositionsCommand::ClearEdit { id, field } => {
            position(app, id)?;
            let field = match field {
                Field::Name => FieldName::Name,
                Field::Description => FieldName::Description,
                Field::Locations => FieldName::Locations,
                Field::AuthorizedUsers => FieldName::AuthorizedUsers,
            };
            let p = app.store.clear_edit(id, field)?;
            if json {
                return super::print_json(&p);
            }
            println!("cleared; position #{id} follows the ATS again for that field");
        }
    }
    Ok(())
}

fn position(app: &App, id: u64) -> anyhow::Result<Position> {
    app.store.position(id)?.with_context(|| format!("position #{id} does not exist"))
}

fn status(p: &Position) -> String {
    format!("{:?}", p.status).to_lowercase()
}

fn show<T>(label: &str, field: &Tracked<T>, render: impl Fn(&T) -> String) {
    match &field.local {
        Some(local) => println!("  {label:<12} {}   [local edit; ATS: {}]", render(local), render(&field.ats)),
        None => println!("  {label:<12} {}", render(&field.ats)),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { format!("{}…", s.chars().take(max - 1).collect::<String>()) }
}
