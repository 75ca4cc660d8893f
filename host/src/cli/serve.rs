//! `atsbridge serve`: the long-running host.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Args;

use crate::runtime::Runtime;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the HTTP API. Port 0 picks a free port (printed on start).
    #[arg(long, env = "ATSBRIDGE_LISTEN", default_value = "127.0.0.1:7878")]
    pub listen: SocketAddr,
}

pub async fn run(args: ServeArgs, runtime: Runtime) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // Printed on stdout (not only logged) so scripts and tests can find the port.
    println!("atsbridge listening on http://{addr}");
    tracing::info!(%addr, "HTTP API listening");
    axum::serve(listener, crate::api::router(runtime))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("shutting down");
        })
        .await?;
    Ok(())
}
