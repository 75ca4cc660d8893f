//! `atsbridge serve`: the long-running host: scheduler and HTTP API.
//!
//! On start it writes the API's address to `<data dir>/api-address` (so the
//! CLI finds it) and makes sure there is an operator token: from
//! `ATSBRIDGE_OPERATOR_TOKEN`, else `<data dir>/operator.token`, created
//! with mode 0600 on first start. Never from the command line, where other
//! users of the machine could read it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use secrecy::SecretString;

use crate::api::{ApiState, AuthConfig};
use crate::app::App;
use crate::config::Config;
use crate::events::{DeliveryPolicy, WebhookWorker};
use crate::scheduler::SchedulerLimits;
use crate::service::Service;

/// The environment variable that may hold the operator token.
pub const OPERATOR_TOKEN_ENV: &str = "ATSBRIDGE_OPERATOR_TOKEN";
/// The operator token's file in the data directory.
pub const OPERATOR_TOKEN_FILE: &str = "operator.token";
/// Where a serving host writes its API's base URL.
pub const ADDRESS_FILE: &str = "api-address";
/// Random bytes in a generated operator token: 256 bits.
const TOKEN_BYTES: usize = 32;
/// The largest token file read (a token is ~43 characters).
const MAX_TOKEN_FILE_BYTES: u64 = 4096;

/// How long a shutdown waits for running syncs to reach a page commit.
/// A page that takes longer is left to the next start, which resumes from
/// the last commit anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the HTTP API [default: the config file's `listen`, else
    /// 127.0.0.1:7878]. Port 0 picks a free port (printed on start).
    /// Loopback by default; another address is served without TLS, so put
    /// a TLS-terminating proxy in front of it.
    #[arg(long, env = "ATSBRIDGE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// A host name the API also answers to (`Host` header, e.g. the name a
    /// proxy forwards), besides the listen address (repeatable).
    #[arg(long = "public-host", env = "ATSBRIDGE_PUBLIC_HOST", value_delimiter = ',')]
    pub public_hosts: Vec<String>,
}

pub async fn run(args: ServeArgs, config: &Config) -> anyhow::Result<()> {
    let app = App::open_config(config)?;
    // A store with secrets and no key would fail every sync: refuse now.
    app.store.require_key()?;
    let options = ServeOptions {
        listen: args.listen.unwrap_or(config.listen),
        public_hosts: args.public_hosts,
        limits: SchedulerLimits {
            global_concurrency: config.scheduler_concurrency,
            per_plugin_concurrency: config.per_plugin_concurrency,
            ..SchedulerLimits::default()
        },
        delivery: DeliveryPolicy::default(),
        outbox: crate::outbox::OutboxOptions::default(),
        operator_token: config.operator_token()?,
        public: config.public,
    };
    serve_with(app, options, shutdown_signal()).await
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the host");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// How to serve.
pub struct ServeOptions {
    pub listen: SocketAddr,
    /// Extra `Host` names the API answers to.
    pub public_hosts: Vec<String>,
    /// Scheduler concurrency and retries.
    pub limits: SchedulerLimits,
    /// Webhook retry timing.
    pub delivery: DeliveryPolicy,
    /// Candidate push concurrency and retries.
    pub outbox: crate::outbox::OutboxOptions,
    /// From the config file's token file; else the environment's or the
    /// data directory's.
    pub operator_token: Option<SecretString>,
    /// The public application form's limits.
    pub public: crate::publish::public::PublicSettings,
}

impl ServeOptions {
    /// Defaults for everything but the address.
    pub fn new(listen: SocketAddr) -> ServeOptions {
        ServeOptions {
            listen,
            public_hosts: Vec::new(),
            limits: SchedulerLimits::default(),
            delivery: DeliveryPolicy::default(),
            outbox: crate::outbox::OutboxOptions::default(),
            operator_token: None,
            public: Default::default(),
        }
    }
}

/// Runs the scheduler and the API on `listen` until `shutdown` completes.
pub async fn serve_until(
    app: App,
    listen: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(app, ServeOptions::new(listen), shutdown).await
}

/// Runs the scheduler, the webhook worker and the API until `shutdown`
/// completes; then stops accepting work, lets running syncs reach their
/// next page commit, and returns.
pub async fn serve_with(
    app: App,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listen = options.listen;
    let data_dir = app.data_dir.clone();
    // The config file's token file wins; else the environment's or the
    // data directory's (created on first start).
    let token = match options.operator_token.clone() {
        Some(token) => token,
        None => operator_token(&data_dir, true)?.context("no operator token")?,
    };
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| {
        format!("cannot listen on {listen}; is another atsbridge serving there? Pick another with --listen")
    })?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "the API listens on a non-loopback address without TLS; put a TLS-terminating proxy in front of it"
        );
    }
    let readiness = Arc::new(crate::api::ops::Readiness::default());
    readiness.plugins_loaded.store(preload_plugins(&app).await, Ordering::SeqCst);
    let mut app = app;
    if app.public_base_url.is_none() {
        app.public_base_url = Some(format!("http://{addr}"));
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let public_base = app.public_base_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let resume_links = crate::outbox::ResumeLinks::load_or_create(&app.data_dir, &public_base)?;
    let mut outbox_options = options.outbox.clone();
    outbox_options.resume_links = Some(resume_links.clone());
    // Resumes the entries a previous run left, then pushes as they come.
    let outbox = crate::outbox::Outbox::start(app.engine.clone(), outbox_options, stop_rx.clone())?;
    let service = Service::serving(app.clone(), options.limits)?.with_outbox(outbox);
    let scheduler = service.scheduler.clone();
    let allowed_hosts = allowed_hosts(addr, &options.public_hosts);
    let state = ApiState {
        service,
        auth: Arc::new(AuthConfig { operator_token: token.clone(), allowed_hosts: Some(allowed_hosts) }),
    };
    let public = crate::api::public_pages::router(state.service.clone(), options.public)
        .merge(crate::api::resume_link::router(app.store.clone(), resume_links));
    let api = crate::api::serving_router(state, readiness.clone(), public);
    let base = format!("http://{addr}");
    let address_file = data_dir.join(ADDRESS_FILE);
    std::fs::write(&address_file, format!("{base}\n"))
        .with_context(|| format!("cannot write {}", address_file.display()))?;
    // Printed on stdout (not only logged) so scripts and tests can find the port.
    println!("atsbridge listening on {base}");
    tracing::info!(%addr, connections = scheduler.len(), "serving");
    let sched = tokio::spawn({
        let mut rx = stop_rx.clone();
        let readiness = readiness.clone();
        async move {
            readiness.scheduler_running.store(true, Ordering::SeqCst);
            scheduler
                .run(async move {
                    let _ = rx.changed().await;
                })
                .await;
            readiness.scheduler_running.store(false, Ordering::SeqCst);
        }
    });
    let worker = tokio::spawn(WebhookWorker::new(app.store.clone(), options.delivery)?.run(stop_rx.clone()));
    let stop = app.engine.stop_signal().clone();
    let mut rx = stop_rx;
    // With each client's address: the public form is rate-limited by it.
    let served = axum::serve(listener, api.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = shutdown => {}
                _ = rx.changed() => {}
            }
            tracing::info!("shutting down: no new syncs; running ones stop at their next page commit");
            // Before the server drains its requests: a "sync now" waiting on
            // a run returns once that run stops.
            stop.stop();
        })
        .await;
    let _ = std::fs::remove_file(&address_file);
    let _ = stop_tx.send(true);
    let stop = app.engine.stop_signal();
    if !stop.drained(SHUTDOWN_GRACE).await {
        tracing::warn!(
            running = stop.active(),
            "syncs still running after {SHUTDOWN_GRACE:?}; they resume from their last page commit on the next start"
        );
    }
    let _ = sched.await;
    let _ = worker.await;
    app.store.flush()?;
    tracing::info!("stopped");
    served?;
    Ok(())
}

/// Loads the plugin of every enabled connection, so the first sync does
/// not pay for compiling it and readiness means something. Whether all
/// loaded.
async fn preload_plugins(app: &App) -> bool {
    let mut ids: Vec<String> = match app.store.connections() {
        Ok(all) => all.into_iter().filter(|c| c.enabled).map(|c| c.plugin_id).collect(),
        Err(e) => {
            tracing::error!(error = %e, "cannot list connections");
            return false;
        }
    };
    ids.sort();
    ids.dedup();
    let mut all = true;
    for id in ids {
        if let Err(e) = app.runtime.plugin(&id).await {
            tracing::error!(plugin = %id, error = %e, "plugin does not load; its connections will fail");
            all = false;
        }
    }
    all
}

/// The `Host` values the API answers to.
fn allowed_hosts(addr: SocketAddr, public: &[String]) -> Vec<String> {
    let port = addr.port();
    let mut hosts = vec![addr.to_string()];
    // Bound to every interface, the host is also reached on loopback.
    if addr.ip().is_loopback() || addr.ip().is_unspecified() {
        hosts.extend([format!("localhost:{port}"), format!("127.0.0.1:{port}"), format!("[::1]:{port}")]);
    }
    hosts.extend(public.iter().map(|h| h.trim().to_string()).filter(|h| !h.is_empty()));
    hosts
}

/// The operator token: the environment's, else the data directory's file
/// (created with mode 0600 when `create` and there is none).
pub fn operator_token(data_dir: &Path, create: bool) -> anyhow::Result<Option<SecretString>> {
    if let Ok(token) = std::env::var(OPERATOR_TOKEN_ENV)
        && !token.trim().is_empty()
    {
        return Ok(Some(SecretString::from(token.trim().to_string())));
    }
    let path = token_path(data_dir);
    match read_token_file(&path) {
        Ok(token) => return Ok(Some(token)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(anyhow::anyhow!("cannot read the operator token from {}: {e}", path.display())),
    }
    if !create {
        return Ok(None);
    }
    std::fs::create_dir_all(data_dir)?;
    let token = new_token()?;
    write_private(&path, &token).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("created the operator token in {} (mode 0600)", path.display());
    Ok(Some(SecretString::from(token)))
}

pub fn token_path(data_dir: &Path) -> PathBuf {
    data_dir.join(OPERATOR_TOKEN_FILE)
}

fn read_token_file(path: &Path) -> std::io::Result<SecretString> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file.metadata()?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "the operator token file is readable by others; chmod 600 it");
        }
    }
    let mut text = String::new();
    file.take(MAX_TOKEN_FILE_BYTES).read_to_string(&mut text)?;
    let token = text.trim();
    if token.is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "the file is empty"));
    }
    Ok(SecretString::from(token.to_string()))
}

fn new_token() -> anyhow::Result<String> {
    use base64::Engine as _;
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("cannot draw random bytes: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Creates `path` readable by its owner only, from the first byte on.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}
