//! `atsbridge backup <file>` and `atsbridge restore <file>`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use secrecy::ExposeSecret as _;

use crate::config::Config;
use crate::store::backup;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the snapshot (replaced atomically when complete).
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A snapshot written by `atsbridge backup`.
    pub file: PathBuf,
    /// Replace the store already in the data directory (never a running one).
    #[arg(long)]
    pub force: bool,
}

/// Asks the running host for a snapshot and streams it into `file`; with
/// no host running, copies the store directly.
pub async fn backup(args: BackupArgs, config: &Config, json: bool) -> anyhow::Result<()> {
    let partial = partial_path(&args.file);
    let url = format!("http://{}/api/v1/backup", config.listen);
    let mut request = reqwest::Client::new().get(&url);
    // The same token the host serves with: the config file's token file,
    // else the environment's or the data directory's.
    let token = match config.operator_token()? {
        Some(token) => Some(token),
        None => super::serve::operator_token(&config.data_dir, false)?,
    };
    if let Some(token) = token {
        request = request.bearer_auth(token.expose_secret());
    }
    let source = match request.send().await {
        Ok(response) => {
            let status = response.status();
            if !status.is_success() {
                bail!("the host at {} refused the backup: HTTP {status}", config.listen);
            }
            let mut out = tokio::fs::File::create(&partial)
                .await
                .with_context(|| format!("cannot create {}", partial.display()))?;
            let mut response = response;
            while let Some(chunk) = response.chunk().await.context("the backup stream broke off")? {
                tokio::io::AsyncWriteExt::write_all(&mut out, &chunk).await?;
            }
            out.sync_all().await?;
            format!("the host at {}", config.listen)
        }
        Err(e) if e.is_connect() => {
            let app = crate::app::App::open_config(config)
                .context("no host answers at the configured address, and the store cannot be opened directly")?;
            let file =
                std::fs::File::create(&partial).with_context(|| format!("cannot create {}", partial.display()))?;
            app.store.backup_to(&file)?;
            file.sync_all()?;
            format!("the store in {}", config.data_dir.display())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot reach the host at {}", config.listen)),
    };
    // Checked before it replaces anything: a snapshot that does not read
    // back is no backup.
    let summary = backup::verify(std::fs::File::open(&partial)?)
        .with_context(|| format!("the snapshot from {source} does not verify"))?;
    std::fs::rename(&partial, &args.file)?;
    if json {
        return super::print_json(&serde_json::json!({ "file": args.file, "from": source, "summary": summary }));
    }
    println!(
        "backed up {} records in {} trees from {source} to {}",
        summary.records,
        summary.trees,
        args.file.display()
    );
    Ok(())
}

/// Loads a snapshot into the data directory's store.
pub fn restore(args: RestoreArgs, config: &Config, json: bool) -> anyhow::Result<()> {
    let file = std::fs::File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    std::fs::create_dir_all(&config.data_dir)?;
    let store = config.data_dir.join("store");
    let summary = backup::restore(file, &store, args.force).map_err(|e| match e {
        backup::BackupError::Store(crate::store::StoreError::Open { .. }) => {
            anyhow::anyhow!("{e}\n(is a host running on {}? stop it before restoring)", config.data_dir.display())
        }
        other => other.into(),
    })?;
    if json {
        return super::print_json(&serde_json::json!({ "data_dir": config.data_dir, "summary": summary }));
    }
    println!("restored {} records in {} trees into {}", summary.records, summary.trees, store.display());
    Ok(())
}

fn partial_path(file: &std::path::Path) -> PathBuf {
    let mut name = file.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".partial");
    file.with_file_name(name)
}
