//! `atsbridge plugin ...`

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;

use super::client::Backend;
use crate::app::App;
use crate::display::escape;
use crate::plugin::InstallOptions;
use crate::plugin::install::{PluginSource, install_from_with};
use crate::runtime::Runtime;
use crate::service::dto::{InstallPluginRequest, PluginDto};

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Validate and install a plugin (a directory with atsbridge-plugin.toml,
    /// the manifest itself, or a .wasm with the manifest beside it).
    Install {
        #[arg(required_unless_present = "bundled")]
        path: Option<PathBuf>,
        /// Install a connector shipped inside this binary (greenhouse, lever,
        /// workable, ashby) instead of one from disk.
        #[arg(long, conflicts_with_all = ["path", "component"])]
        bundled: Option<String>,
        /// The component to install, instead of the one the manifest names
        /// or the one cargo built (found through `cargo metadata`).
        #[arg(long)]
        component: Option<PathBuf>,
        /// Accept the new allowed hosts and secret bindings this version asks
        /// for over the installed one (the refusal lists them).
        #[arg(long)]
        approve: bool,
        /// Accept a downgrade, or different bytes under the installed version.
        #[arg(long)]
        force: bool,
    },
    /// Install a plugin from the operator's plugin directory (`plugin-dir`
    /// in the configuration) by the name of its subdirectory; through a
    /// running host's API when one serves.
    InstallFromDirectory {
        /// The subdirectory's name (shaped like a plugin id; not a path).
        name: String,
        /// Accept new allowed hosts and secret bindings over the installed one.
        #[arg(long)]
        approve: bool,
        /// Accept a downgrade, or different bytes under the installed version.
        #[arg(long)]
        force: bool,
    },
    /// List installed plugins.
    List,
    /// Scaffold a new connector crate (builds with one command).
    New {
        name: String,
        /// Directory to create it in.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Depend on an atsbridge SDK checkout at this path instead of the
        /// copy of the SDK this binary carries (written to vendor/atsbridge-sdk).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Show a plugin's world, version, capabilities, config schema and allowed hosts.
    Inspect { id: String },
    /// Run the conformance suite against an installed plugin, with a mock
    /// ATS in-process (`--mock greenhouse`) or against a server (`--base-url`).
    Test(super::plugin_test::TestArgs),
    /// Replay a recorded sync run against a connector build, with no
    /// network, and print how its results differ.
    Replay(super::plugin_replay::ReplayArgs),
    /// Remove a plugin.
    Remove {
        id: String,
        /// Remove even if connections use it (they fail until it is reinstalled).
        #[arg(long)]
        force: bool,
    },
}

/// What `plugin inspect` says of an ATS's hiring pipelines. Only a
/// manifest's `stages.per-job` is known before a connection lists stages;
/// without it, the connector's answer decides (a stage refresh reports
/// which it found): stages tagged with their job are cached per job
/// (Greenhouse), untagged ones as one list for the account (Lever).
pub fn pipelines(declared_per_job: bool) -> &'static str {
    if declared_per_job {
        "per job, each open job's asked for (manifest stages.per-job)"
    } else {
        "as list-stages answers: per job where it tags stages with their job, else one for the account \
         (`connection stages refresh` says which)"
    }
}

/// What `plugin inspect` says of the manifest's
/// `listing.replay-unchanged-pages`.
fn replay_pages(declared: bool) -> &'static str {
    if declared {
        "yes: a full listing's page whose requests and responses are unchanged is applied without calling list-jobs \
         (manifest listing.replay-unchanged-pages)"
    } else {
        "no: every page calls list-jobs"
    }
}

impl PluginCommand {
    /// Installs and removals go to a running host's API (removal needs the
    /// store, to see which connections use a plugin).
    pub fn goes_through_api(&self) -> bool {
        matches!(self, PluginCommand::Install { .. } | PluginCommand::Remove { .. })
    }
}

/// `plugin install` and `plugin remove` through a running host's API: the
/// plugin's files are read here and uploaded.
pub async fn run_through_api(cmd: PluginCommand, api: &Backend, json: bool) -> anyhow::Result<()> {
    use base64::Engine as _;
    match cmd {
        PluginCommand::Install { path, bundled, component, approve, force } => {
            let req = match (path, bundled) {
                (_, Some(id)) => InstallPluginRequest { bundled: Some(id), approve, force, ..Default::default() },
                (Some(path), None) => {
                    // The manifest as located (its version may come from the
                    // crate's Cargo.toml), and the component read with a cap.
                    let source = PluginSource::locate(&path, component.as_deref())?;
                    let wasm = crate::plugin::files::read_bounded(
                        &source.component_path,
                        crate::plugin::files::MAX_COMPONENT_BYTES,
                    )?;
                    InstallPluginRequest {
                        manifest: Some(source.manifest.to_toml()),
                        component_base64: Some(base64::engine::general_purpose::STANDARD.encode(wasm)),
                        bundled: None,
                        approve,
                        force,
                    }
                }
                (None, None) => bail!("pass a plugin path or --bundled ID"),
            };
            let p: PluginDto = api.post("/api/v1/plugins", &req).await.context("refused to install")?;
            if json {
                return super::print_json(&p);
            }
            println!("installed {} {} ({}, contract {})", p.id, p.version, p.name, p.contract);
        }
        PluginCommand::Remove { id, force } => {
            let path = format!("/api/v1/plugins/{}?force={force}", super::client::segment(&id));
            let () = api.send(axum::http::Method::DELETE, &path, None::<&()>).await?;
            if json {
                return super::print_json(&serde_json::json!({ "removed": id }));
            }
            println!("removed {id}");
        }
        _ => bail!("unexpected command"),
    }
    Ok(())
}

/// `plugin install-from-directory`: the running host's API, or the same
/// route in-process over the store.
pub async fn install_from_directory(cmd: PluginCommand, api: &Backend, json: bool) -> anyhow::Result<()> {
    let PluginCommand::InstallFromDirectory { name, approve, force } = cmd else { bail!("unexpected command") };
    let req = crate::service::plugin_dir::InstallFromDirectoryRequest { name, approve, force };
    let p: PluginDto = api.post("/api/v1/plugins/from-directory", &req).await.context("refused to install")?;
    if json {
        return super::print_json(&p);
    }
    println!("installed {} {} ({}, contract {})", p.id, p.version, escape(&p.name), p.contract);
    Ok(())
}

/// `plugin install` and `plugin remove` without a running host; removal
/// goes through the service layer's in-use check.
pub async fn run_with_store(cmd: PluginCommand, app: &App, json: bool) -> anyhow::Result<()> {
    let PluginCommand::Remove { id, force } = cmd else { return run_without_store(cmd, &app.runtime, json).await };
    let service = crate::service::Service::local(app.clone())?;
    service.remove_plugin(&crate::service::Caller::Operator, &id, force)?;
    if json {
        super::print_json(&serde_json::json!({ "removed": id }))?;
    } else {
        println!("removed {id}");
    }
    Ok(())
}

/// Every other plugin command.
pub async fn run_without_store(cmd: PluginCommand, runtime: &Runtime, json: bool) -> anyhow::Result<()> {
    match cmd {
        PluginCommand::Install { path, bundled, component, approve, force } => {
            let options = InstallOptions { approve, force };
            let installed = match (path, bundled) {
                (_, Some(id)) => crate::plugin::bundled::install_bundled_with(runtime, &id, &options)
                    .await
                    .with_context(|| format!("refused to install bundled connector `{}`", escape(&id)))?,
                (Some(path), None) => {
                    let source = PluginSource::locate(&path, component.as_deref())?;
                    install_from_with(runtime, source, &options)
                        .await
                        .with_context(|| format!("refused to install {}", path.display()))?
                }
                (None, None) => bail!("pass a plugin path or --bundled ID"),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&installed.to_json())?);
            } else {
                println!(
                    "installed {} {} ({}, contract {}, sha256 {})",
                    installed.id(),
                    installed.manifest.version,
                    escape(&installed.record.info.name),
                    installed.record.contract,
                    installed.record.sha256
                );
                println!("  allowed hosts: {}", installed.manifest.allowed_host_patterns.join(", "));
                println!("  secrets go to: {}", installed.manifest.describe_secret_bindings().join("; "));
            }
        }
        PluginCommand::List => {
            let all = runtime.registry().list()?;
            if json {
                let items: Vec<_> = all
                    .iter()
                    .map(|r| match r {
                        Ok(p) => p.to_json(),
                        Err(e) => serde_json::json!({ "error": e.to_string() }),
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&items)?);
                return Ok(());
            }
            if all.is_empty() {
                println!("no plugins installed (see `atsbridge plugin install --help`)");
            }
            println!("{:<20} {:<10} {:<24} {:<9} CAPABILITIES", "ID", "VERSION", "NAME", "CONTRACT");
            for entry in &all {
                match entry {
                    Ok(p) => {
                        let caps: Vec<_> = p.record.info.capabilities.iter().map(|c| c.wit_name()).collect();
                        println!(
                            "{:<20} {:<10} {:<24} {:<9} {}",
                            p.id(),
                            p.manifest.version.to_string(),
                            escape(&p.record.info.name),
                            p.record.contract.to_string(),
                            caps.join(", ")
                        );
                    }
                    Err(e) => println!("(damaged) {}", escape(&e.to_string())),
                }
            }
        }
        PluginCommand::Inspect { id } => {
            let p = runtime.registry().current(&id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&p.to_json())?);
                return Ok(());
            }
            let info = &p.record.info;
            println!("{} {} by {}", escape(&info.name), escape(&info.version), escape(&info.vendor));
            println!("  id:            {}", p.id());
            println!("  world:         atsbridge:connector/connector@{}", p.record.contract);
            let caps: Vec<_> = info.capabilities.iter().map(|c| c.wit_name()).collect();
            println!("  capabilities:  {}", if caps.is_empty() { "none".to_string() } else { caps.join(", ") });
            println!("  allowed hosts: {}", p.manifest.allowed_host_patterns.join(", "));
            println!("  secrets go to: {}", p.manifest.describe_secret_bindings().join("; "));
            println!("  pipelines:     {}", pipelines(p.manifest.stages.per_job));
            println!("  replay pages:  {}", replay_pages(p.manifest.listing.replay_unchanged_pages));
            println!("  sha256:        {}", p.record.sha256);
            println!("  settings:");
            for s in &info.config_schema {
                let req = if s.required { "required" } else { "optional" };
                let default = s.default_value.as_deref().map(|d| format!(", default {d}")).unwrap_or_default();
                let choices =
                    if s.choices.is_empty() { String::new() } else { format!(", one of {}", s.choices.join("|")) };
                let line = format!("{default}{choices}  {}: {}", s.label, s.help);
                println!("    {:<16} {:<7} {req}{}", s.key, s.kind.wit_name(), escape(&line));
            }
        }
        PluginCommand::New { name, dir, sdk } => super::plugin_new::run(&name, &dir, sdk.as_deref(), json)?,
        PluginCommand::Test(args) => super::plugin_test::run(args, runtime, json).await?,
        PluginCommand::Replay(args) => super::plugin_replay::run(args, runtime, json).await?,
        PluginCommand::Remove { .. } => bail!("`plugin remove` needs the store"),
        PluginCommand::InstallFromDirectory { .. } => bail!("`plugin install-from-directory` goes through the API"),
    }
    Ok(())
}
