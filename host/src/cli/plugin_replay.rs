//! `atsbridge plugin replay`: a connector build against a recorded run
//! ([`crate::recording`]), with no network.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use sha2::{Digest, Sha256};

use crate::plugin::install::PluginSource;
use crate::recording::replay::{Recording, replay};
use crate::runtime::{Plugin, Runtime};

/// Replay a recorded sync run against a connector, with no network, and
/// print how its results differ from the recorded ones.
///
/// The host answers the connector's HTTP requests from the recording only:
/// a request matches a recorded one with the same method, URL and body
/// (repeated identical requests get the recorded answers in order). A
/// request the recording cannot answer fails in the connector and is listed;
/// the command then exits non-zero. The host's own OAuth token step is
/// answered from the recording too. Prints jobs added, removed and changed
/// (field by field) against the recorded results, differing stages, and
/// the candidate statuses of the recorded reconciliation that differ.
/// `--json` prints the report as JSON.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  atsbridge connection sync acme-lever --record run.jsonl\n  \
    atsbridge plugin replay run.jsonl ./my-lever-fix          # a plugin directory, not installed\n  \
    atsbridge plugin replay run.jsonl lever --json            # the installed plugin")]
pub struct ReplayArgs {
    /// A recording written by `connection sync --record` (or downloaded from
    /// `GET /api/v1/connections/{id}/runs/{run}/recording`).
    pub recording: PathBuf,
    /// The connector: a plugin directory, its manifest, or a `.wasm` with the
    /// manifest beside it (it need not be installed); or an installed
    /// plugin's id.
    pub plugin: String,
    /// With a plugin directory: the component to run instead of the one the
    /// manifest names or cargo built.
    #[arg(long)]
    pub component: Option<PathBuf>,
}

/// Loads `path`'s plugin without installing it (compiled through the
/// artifact cache, keyed by the component's hash).
async fn load_uninstalled(
    runtime: &Runtime,
    path: &std::path::Path,
    component: Option<&std::path::Path>,
) -> anyhow::Result<Plugin> {
    let source = PluginSource::locate(path, component)?;
    let wasm = crate::plugin::files::read_bounded(&source.component_path, crate::plugin::files::MAX_COMPONENT_BYTES)?;
    let sha = hex::encode(Sha256::digest(&wasm));
    let id = source.manifest.id.clone();
    let compiled = {
        let (runtime, id, sha) = (runtime.clone(), id.clone(), sha.clone());
        tokio::task::spawn_blocking(move || {
            runtime.artifacts().load_or_compile(runtime.engine(), &id, &sha, || Ok(wasm))
        })
        .await??
    };
    let name = format!("replay-{}-{}", source.manifest.version, &sha[..12]);
    runtime
        .prepare(source.manifest, &compiled, &name)
        .map_err(|e| anyhow::anyhow!("{} cannot run here: {e}", source.component_path.display()))
}

pub async fn run(args: ReplayArgs, runtime: &Runtime, json: bool) -> anyhow::Result<()> {
    let recording = Recording::load(&args.recording)?;
    let as_path = PathBuf::from(&args.plugin);
    let plugin = if as_path.exists() {
        load_uninstalled(runtime, &as_path, args.component.as_deref())
            .await
            .with_context(|| format!("cannot load the plugin at {}", as_path.display()))?
    } else {
        if args.component.is_some() {
            bail!("--component goes with a plugin directory, and {} is not one", as_path.display());
        }
        runtime.plugin(&args.plugin).await.with_context(|| {
            format!("`{}` is neither a plugin directory nor an installed plugin", crate::display::escape(&args.plugin))
        })?
    };
    let report = replay(&plugin, &recording).await;
    if json {
        super::print_json(&report)?;
    } else {
        print!("{}", report.text());
    }
    if !report.complete() {
        bail!(
            "{} request(s) could not be answered from the recording; the results above are incomplete",
            report.unanswered_total
        );
    }
    Ok(())
}
