//! `atsbridge demo`: the whole flow on one machine. Starts mock Greenhouse
//! and Lever servers with seeded jobs, installs the bundled connectors,
//! creates an agency account with one connection to each, syncs both with
//! progress, prints what happened, and keeps the scheduler and API serving.
//! Running it again reuses the same store: the second sync finds nothing
//! changed.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context;
use atsbridge_mock_ats::{MockAts, MockConfig, Vendor};
use clap::Args;
use secrecy::ExposeSecret;

use super::connection_cmd::print_run_summary;
use super::progress::SyncBar;
use crate::app::App;
use crate::plugin::bundled;
use crate::store::{SecretKey, Trigger};

const ACCOUNT: &str = "Demo Agency";
const KEY_FILE: &str = "demo-secret.key";

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Mock Greenhouse listens here, mock Lever on the next port (fixed so
    /// a second run finds the same servers at the same addresses).
    #[arg(long, default_value_t = 17801)]
    pub mock_port: u16,
    #[arg(long, default_value_t = 1200)]
    pub greenhouse_jobs: usize,
    #[arg(long, default_value_t = 300)]
    pub lever_jobs: usize,
    /// HTTP API address.
    #[arg(long, default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
    /// Exit after the first sync instead of serving.
    #[arg(long)]
    pub once: bool,
}

pub async fn run(args: DemoArgs, data_dir: &Path, options: crate::runtime::RuntimeOptions) -> anyhow::Result<()> {
    let key = demo_key(data_dir)?;
    let gh = start(Vendor::Greenhouse, args.greenhouse_jobs, 7, args.mock_port).await?;
    let lever = start(Vendor::Lever, args.lever_jobs, 11, args.mock_port + 1).await?;
    println!("mock Greenhouse: {} ({} jobs)", gh.base_url(), args.greenhouse_jobs);
    println!("mock Lever:      {} ({} jobs)", lever.base_url(), args.lever_jobs);

    let app = App::open_with(data_dir, Some(key), options)?;
    for id in ["greenhouse", "lever"] {
        let bundled = bundled::find(id).with_context(|| format!("connector `{id}` is not bundled in this build"))?;
        let installed = app.runtime.registry().current(id).ok();
        let sha = hex_sha256(bundled.component);
        if installed.is_none_or(|p| p.record.sha256 != sha) {
            let p = bundled::install_bundled(&app.runtime, id).await?;
            println!("installed plugin {} {}", p.id(), p.manifest.version);
        }
    }
    let account = match app.store.accounts()?.into_iter().find(|a| a.name == ACCOUNT) {
        Some(a) => a,
        None => app.store.add_account(ACCOUNT, "Europe/Berlin")?,
    };
    let mut connections = Vec::new();
    for (name, plugin, mock) in [("Greenhouse", "greenhouse", &gh), ("Lever", "lever", &lever)] {
        let existing = app.store.connections_of(&account.id)?.into_iter().find(|c| c.name == name);
        let connection = match existing {
            Some(c) => c,
            None => {
                let hosts = vec![mock.base_url().trim_end_matches('/').to_string()];
                app.add_connection(&account.id, name, plugin, &bundled::mock_settings(plugin, mock), hosts, None)?
            }
        };
        connections.push(connection.id);
    }

    for id in &connections {
        let bar = SyncBar::new(id, false);
        let result = app.engine.sync(id, Trigger::Manual, &bar).await;
        bar.finish();
        match result {
            Ok(run) => print_run_summary(&app, &run)?,
            Err(e) => eprintln!("{id}: sync failed: {e}"),
        }
    }
    println!();
    println!("positions by connection:");
    for id in &connections {
        // The stored count: no need to read every position.
        println!("  {id}: {} positions", app.store.state(id)?.position_count);
    }
    if args.once {
        return Ok(());
    }
    println!(
        "\nserving (scheduler + API); try `atsbridge --data-dir {} positions list --connection {}` in another terminal after Ctrl-C, or the API. Ctrl-C stops.",
        data_dir.display(),
        connections[0]
    );
    super::serve::serve_until(app, args.listen, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

async fn start(vendor: Vendor, jobs: usize, seed: u64, port: u16) -> anyhow::Result<MockAts> {
    MockAts::start(vendor, MockConfig { jobs, seed, port, ..Default::default() })
        .await
        .with_context(|| format!("cannot start the mock {vendor:?} on port {port} (pass --mock-port to use others)"))
}

/// The operator's key if set; otherwise a key kept in the data directory.
/// Keeping the key beside the data defeats encryption at rest: fine for a
/// demo on loopback, never for real connections.
fn demo_key(data_dir: &Path) -> anyhow::Result<SecretKey> {
    if let Some(key) = SecretKey::from_env()? {
        return Ok(key);
    }
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join(KEY_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Ok(SecretKey::parse(text.trim())?);
    }
    let key = SecretKey::generate()?;
    std::fs::write(&path, key.to_base64().expose_secret())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    eprintln!("demo: generated a store key in {} (set ATSBRIDGE_SECRET_KEY for real deployments)", path.display());
    Ok(key)
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}
