//! `atsbridge account ...`

use clap::Subcommand;

use super::client::{Backend, segment};
use crate::service::dto::{
    AccountDto, ApiKeyDto, CreateAccountRequest, CreateApiKeyRequest, CreatedApiKey, UpdateAccountRequest,
};

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Add an account.
    Add {
        name: String,
        /// IANA time zone; schedules run in it.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
    },
    /// List accounts.
    List,
    /// Change an account's name or time zone (its connections are
    /// rescheduled in the new zone).
    Update {
        id: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        time_zone: Option<String>,
    },
    /// Delete an account that has no connections left (and its API keys).
    Delete { id: String },
    /// The account's API keys, for the platform.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The account's hiring stages.
    #[command(subcommand)]
    Stages(super::stages_cmd::AccountStagesCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Create a key; the token is printed once and cannot be shown again.
    Create {
        account: String,
        /// What the key is for.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List an account's keys (ids and labels, never tokens).
    List { account: String },
    /// Revoke a key at once.
    Revoke { account: String, key: String },
}

pub async fn run(cmd: AccountCommand, api: &Backend, json: bool) -> anyhow::Result<()> {
    match cmd {
        AccountCommand::Stages(cmd) => return super::stages_cmd::run_account(cmd, api, json).await,
        AccountCommand::Add { name, time_zone } => {
            let req = CreateAccountRequest { name, time_zone: Some(time_zone) };
            let account: AccountDto = api.post("/api/v1/accounts", &req).await?;
            if json {
                return super::print_json(&account);
            }
            println!("added account {} ({}, {})", account.id, account.name, account.time_zone);
        }
        AccountCommand::List => {
            let accounts: Vec<AccountDto> = super::all_pages(api, "/api/v1/accounts?").await?;
            if json {
                return super::print_json(&accounts);
            }
            println!("{:<24} {:<32} TIME ZONE", "ID", "NAME");
            for a in accounts {
                println!("{:<24} {:<32} {}", a.id, a.name, a.time_zone);
            }
        }
        AccountCommand::Update { id, name, time_zone } => {
            let req = UpdateAccountRequest { name, time_zone };
            let account: AccountDto =
                api.send(axum::http::Method::PATCH, &format!("/api/v1/accounts/{}", segment(&id)), Some(&req)).await?;
            if json {
                return super::print_json(&account);
            }
            println!("updated account {} ({}, {})", account.id, account.name, account.time_zone);
        }
        AccountCommand::Delete { id } => {
            let () = api
                .send(axum::http::Method::DELETE, &format!("/api/v1/accounts/{}", segment(&id)), None::<&()>)
                .await?;
            if json {
                return super::print_json(&serde_json::json!({ "deleted": id }));
            }
            println!("deleted account {id}");
        }
        AccountCommand::Key(KeyCommand::Create { account, label }) => {
            let path = format!("/api/v1/accounts/{}/keys", segment(&account));
            let created: CreatedApiKey = api.post(&path, &CreateApiKeyRequest { label }).await?;
            if json {
                return super::print_json(&created);
            }
            println!("created key {} for account {}; the token is shown only now:", created.key.id, account);
            println!("{}", created.token);
        }
        AccountCommand::Key(KeyCommand::List { account }) => {
            let keys: Vec<ApiKeyDto> =
                super::all_pages(api, &format!("/api/v1/accounts/{}/keys?", segment(&account))).await?;
            if json {
                return super::print_json(&keys);
            }
            println!("{:<14} {:<20} LABEL", "ID", "CREATED");
            for k in keys {
                println!("{:<14} {:<20} {}", k.id, super::connection_cmd::format_unix(k.created_at_unix), k.label);
            }
        }
        AccountCommand::Key(KeyCommand::Revoke { account, key }) => {
            let path = format!("/api/v1/accounts/{}/keys/{}", segment(&account), segment(&key));
            let () = api.send(axum::http::Method::DELETE, &path, None::<&()>).await?;
            if json {
                return super::print_json(&serde_json::json!({ "revoked": key }));
            }
            println!("revoked key {key} of account {account}");
        }
    }
    Ok(())
}
