//! `atsbridge key ...`: the store's secret key.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::app::App;
use crate::config::Config;
use crate::store::SecretKey;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Write a new random key to a new file (mode 0600) and print its id.
    Generate {
        /// The file to create; never overwritten.
        file: PathBuf,
    },
    /// Check the configured key against the store and print its id.
    Check,
    /// Re-seal every secret in the store with a new key (host stopped).
    /// Afterwards point `key-file` (or ATSBRIDGE_SECRET_KEY) at the new key.
    Rotate {
        /// The new key's file; created with a random key if it does not exist.
        #[arg(long)]
        new_key_file: PathBuf,
    },
}

pub fn run(cmd: KeyCommand, config: &Config, json: bool) -> anyhow::Result<()> {
    match cmd {
        KeyCommand::Generate { file } => {
            let key = SecretKey::generate()?;
            key.write_new_file(&file)?;
            if json {
                return super::print_json(&serde_json::json!({ "file": file, "key_id": key.id() }));
            }
            println!("wrote a new key (id {}) to {}", key.id(), file.display());
        }
        KeyCommand::Check => {
            let app = App::open_config(config)?;
            app.store.require_key()?;
            let id = app.store.key_id();
            if json {
                return super::print_json(&serde_json::json!({ "key_id": id, "ok": true }));
            }
            match id {
                Some(id) => println!("the configured key (id {id}) opens this store"),
                None => println!("no key configured, and this store holds no secrets"),
            }
        }
        KeyCommand::Rotate { new_key_file } => {
            let app = App::open_config(config)?;
            app.store.require_key()?;
            let new = if new_key_file.exists() {
                SecretKey::from_file(&new_key_file)?
            } else {
                let key = SecretKey::generate()?;
                key.write_new_file(&new_key_file)?;
                key
            };
            let report = app.store.rotate_key(&new).context("key rotation failed; the store still uses the old key")?;
            if json {
                return super::print_json(&report);
            }
            println!(
                "re-sealed {} secret(s): key {} -> {}\nnow set `key-file = \"{}\"` (or ATSBRIDGE_SECRET_KEY) and start the host; the old key is refused from now on",
                report.resealed,
                report.old_key_id,
                report.new_key_id,
                new_key_file.display()
            );
        }
    }
    Ok(())
}
