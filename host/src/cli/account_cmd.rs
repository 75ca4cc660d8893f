//! `atsbridge account ...`

use clap::Subcommand;

use crate::app::App;

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
}

pub fn run(cmd: AccountCommand, app: &App, json: bool) -> anyhow::Result<()> {
    match cmd {
        AccountCommand::Add { name, time_zone } => {
            let account = app.store.add_account(&name, &time_zone)?;
            if json {
                return super::print_json(&account);
            }
            println!("added account {} ({}, {})", account.id, account.name, account.time_zone);
        }
        AccountCommand::List => {
            let accounts = app.store.accounts()?;
            if json {
                return super::print_json(&accounts);
            }
            println!("{:<24} {:<32} TIME ZONE", "ID", "NAME");
            for a in accounts {
                println!("{:<24} {:<32} {}", a.id, a.name, a.time_zone);
            }
        }
    }
    Ok(())
}
