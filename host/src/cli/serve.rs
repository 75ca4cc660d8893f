//! `atsbridge serve`: the long-running host: scheduler and HTTP API.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Args;

use crate::app::App;
use crate::scheduler::SchedulerLimits;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the HTTP API. Port 0 picks a free port (printed on start).
    #[arg(long, env = "ATSBRIDGE_LISTEN", default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
}

pub async fn run(args: ServeArgs, app: App) -> anyhow::Result<()> {
    serve_until(app, args.listen, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Runs the scheduler and the API until `shutdown` completes.
pub async fn serve_until(
    app: App,
    listen: SocketAddr,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let scheduler = app.scheduler(SchedulerLimits::default())?;
    // Printed on stdout (not only logged) so scripts and tests can find the port.
    println!("atsbridge listening on http://{addr}");
    tracing::info!(%addr, connections = scheduler.len(), "serving");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let api = crate::api::router(crate::api::ApiState { app, scheduler: scheduler.clone() });
    let sched = tokio::spawn({
        let mut rx = stop_rx.clone();
        scheduler.run(async move {
            let _ = rx.changed().await;
        })
    });
    let mut rx = stop_rx;
    axum::serve(listener, api)
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = shutdown => {}
                _ = rx.changed() => {}
            }
            tracing::info!("shutting down");
        })
        .await?;
    let _ = stop_tx.send(true);
    let _ = sched.await;
    Ok(())
}
