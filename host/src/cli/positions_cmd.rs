//! `atsbridge positions ...`

use anyhow::bail;
use axum::http::Method;
use clap::{Subcommand, ValueEnum};

use super::client::{Backend, query_value};
use crate::service::dto::{EditPositionRequest, PositionDto, TrackedDto};
use crate::service::publish_dto::PublishRequest;

#[derive(Debug, Subcommand)]
pub enum PositionsCommand {
    /// List positions of a connection or an account.
    List {
        #[arg(long)]
        connection: Option<String>,
        #[arg(long)]
        account: Option<String>,
        /// open, closed, draft, on_hold or other.
        #[arg(long)]
        status: Option<String>,
        /// Only published (true) or unpublished (false) ones.
        #[arg(long)]
        published: Option<bool>,
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
    /// Publish a position (show it to candidates); beats the rules.
    Publish {
        id: u64,
        /// The platform user deciding (recorded with the credential).
        #[arg(long)]
        user: Option<String>,
        /// Why (recorded and shown).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Unpublish a position; no rule publishes it again until handed back.
    Unpublish {
        id: u64,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Drop a person's publication decision: the rules decide again.
    FollowRules { id: u64 },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Field {
    Name,
    Description,
    Locations,
    AuthorizedUsers,
}

impl Field {
    fn api_name(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::Description => "description",
            Field::Locations => "locations",
            Field::AuthorizedUsers => "authorized_users",
        }
    }
}

pub async fn run(cmd: PositionsCommand, api: &Backend, json: bool) -> anyhow::Result<()> {
    match cmd {
        PositionsCommand::List { connection, account, status, published } => {
            if connection.is_none() && account.is_none() {
                bail!("pass --connection ID or --account ID");
            }
            let mut query = String::new();
            for (k, v) in [("connection", connection), ("account", account), ("status", status)] {
                if let Some(v) = v {
                    query.push_str(&format!("{k}={}&", query_value(&v)));
                }
            }
            if let Some(p) = published {
                query.push_str(&format!("published={p}&"));
            }
            let positions: Vec<PositionDto> = super::all_pages(api, &format!("/api/v1/positions?{query}")).await?;
            if json {
                return super::print_json(&positions);
            }
            println!(
                "{:<7} {:<24} {:<14} {:<9} {:<9} {:<24} NAME",
                "ID", "CONNECTION", "ATS JOB", "STATUS", "PUBLISHED", "LOCATION"
            );
            for p in positions {
                let edited = if p.name.edited { " (edited)" } else { "" };
                println!(
                    "{:<7} {:<24} {:<14} {:<9} {:<9} {:<24} {}{edited}",
                    p.id,
                    p.connection,
                    p.ats_job_code,
                    p.status,
                    p.published,
                    truncate(&p.locations.value.join("; "), 24),
                    p.name.value
                );
            }
        }
        PositionsCommand::Show { id } => {
            let p: PositionDto = api.get(&format!("/api/v1/positions/{id}")).await?;
            if json {
                return super::print_json(&p);
            }
            println!("position #{} · {} · ATS job {}", p.id, p.connection, p.ats_job_code);
            println!(
                "  status:      {} (ATS: {}){}",
                p.status,
                p.ats_raw_status,
                p.closed_reason.as_ref().map(|r| format!(", {r}")).unwrap_or_default()
            );
            println!("  published:   {} — {}", p.published, p.publication.explanation);
            if let Some(url) = &p.publication.public_url {
                println!("  public URL:  {url}");
            }
            if let Some(ad) = &p.publication.ad {
                println!("  ad ({}):   {}", ad.rule_id, ad.title);
            }
            show("name", &p.name, |v| v.clone());
            show("locations", &p.locations, |v| v.join("; "));
            show("description", &p.description, |v| truncate(v, 80));
            show("users", &p.authorized_users, |v| v.iter().map(|u| u.name.clone()).collect::<Vec<_>>().join(", "));
            for (k, v) in &p.extra {
                println!("  {k}: {v}");
            }
        }
        PositionsCommand::Edit { id, name, description, locations } => {
            let req =
                EditPositionRequest { name, description, locations: (!locations.is_empty()).then_some(locations) };
            if req.name.is_none() && req.description.is_none() && req.locations.is_none() {
                bail!("nothing to edit: pass --name, --description or --location");
            }
            let p: PositionDto = api.send(Method::PATCH, &format!("/api/v1/positions/{id}"), Some(&req)).await?;
            if json {
                return super::print_json(&p);
            }
            println!("edited position #{id}; the edit survives syncs (clear it with `positions clear-edit`)");
        }
        PositionsCommand::ClearEdit { id, field } => {
            let path = format!("/api/v1/positions/{id}/edits/{}", field.api_name());
            let p: PositionDto = api.send(Method::DELETE, &path, None::<&()>).await?;
            if json {
                return super::print_json(&p);
            }
            println!("cleared; position #{id} follows the ATS again for that field");
        }
        PositionsCommand::Publish { id, user, reason } => {
            let req = PublishRequest { user, reason };
            let p: PositionDto = api.post(&format!("/api/v1/positions/{id}/publish"), &req).await?;
            if json {
                return super::print_json(&p);
            }
            println!("position #{id} ({}): {}", p.name.value, p.publication.explanation);
            if let Some(url) = &p.publication.public_url {
                println!("public page: {url}");
            }
        }
        PositionsCommand::Unpublish { id, user, reason } => {
            let req = PublishRequest { user, reason };
            let p: PositionDto = api.post(&format!("/api/v1/positions/{id}/unpublish"), &req).await?;
            if json {
                return super::print_json(&p);
            }
            println!("position #{id} ({}): {}", p.name.value, p.publication.explanation);
        }
        PositionsCommand::FollowRules { id } => {
            let path = format!("/api/v1/positions/{id}/publication");
            let p: PositionDto = api.send(Method::DELETE, &path, None::<&()>).await?;
            if json {
                return super::print_json(&p);
            }
            println!("position #{id} ({}) follows the rules again: {}", p.name.value, p.publication.explanation);
        }
    }
    Ok(())
}

fn show<T>(label: &str, field: &TrackedDto<T>, render: impl Fn(&T) -> String) {
    if field.edited {
        println!("  {label:<12} {}   [local edit; ATS: {}]", render(&field.value), render(&field.ats));
    } else {
        println!("  {label:<12} {}", render(&field.value));
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { format!("{}…", s.chars().take(max - 1).collect::<String>()) }
}
