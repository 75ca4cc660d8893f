//! `atsbridge serve`: the long-running host: scheduler and HTTP API.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use secrecy::SecretString;

use crate::app::App;
use crate::config::Config;
use crate::events::{DeliveryPolicy, WebhookWorker};
use crate::scheduler::SchedulerLimits;

/// How long a shutdown waits for running syncs to reach a page commit.
/// A page that takes longer is left to the next start, which resumes from
/// the last commit anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the HTTP API [default: 127.0.0.1:7878]. Port 0 picks a
    /// free port (printed on start).
    #[arg(long, env = "ATSBRIDGE_LISTEN")]
    pub listen: Option<SocketAddr>,
}

/// What `serve` runs with beyond the app.
#[derive(Default)]
pub struct ServeOptions {
    /// Scheduler concurrency and retries.
    pub limits: SchedulerLimits,
    /// Webhook retry timing.
    pub delivery: DeliveryPolicy,
    /// Guards the operating routes when set.
    pub operator_token: Option<SecretString>,
}

pub async fn run(_args: ServeArgs, config: &Config) -> anyhow::Result<()> {
    let app = App::open_config(config)?;
    // A store with secrets and no key would fail every sync: refuse now.
    app.store.require_key()?;
    let options = ServeOptions {
        limits: SchedulerLimits {
            global_concurrency: config.scheduler_concurrency,
            per_plugin_concurrency: config.per_plugin_concurrency,
            ..SchedulerLimits::default()
        },
        delivery: DeliveryPolicy::default(),
        operator_token: config.operator_token()?,
    };
    serve_with(app, config.listen, options, shutdown_signal()).await
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

/// Runs the scheduler and the API until `shutdown` completes.
pub async fn serve_until(
    app: App,
    listen: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(app, listen, ServeOptions::default(), shutdown).await
}

/// Runs the scheduler, the webhook worker and the API until `shutdown`
/// completes; then stops accepting work, lets running syncs reach their
/// next page commit, and returns.
pub async fn serve_with(
    app: App,
    listen: SocketAddr,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let scheduler = app.scheduler(options.limits)?;
    let readiness = Arc::new(crate::api::ops::Readiness::default());
    readiness.plugins_loaded.store(preload_plugins(&app).await, Ordering::SeqCst);
    // Printed on stdout (not only logged) so scripts and tests can find the port.
    println!("atsbridge listening on http://{addr}");
    tracing::info!(%addr, connections = scheduler.len(), "serving");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let ops = crate::api::ops::OpsState::new(app.clone(), readiness.clone(), options.operator_token.as_ref());
    let api = crate::api::router(crate::api::ApiState { app: app.clone(), scheduler: scheduler.clone() })
        .merge(crate::api::ops::router(ops));
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
    axum::serve(listener, api)
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
        .await?;
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
