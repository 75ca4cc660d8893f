use clap::Parser;
use tracing_subscriber::EnvFilter;

use atsbridge::cli::{Cli, Command, LogFormat};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // A long-running host logs what it does; one-shot commands print their
    // own results and log only problems. ATSBRIDGE_LOG overrides both.
    let default = match cli.command {
        Command::Serve(_) | Command::MockAts(_) => "warn,atsbridge=info,atsbridge_mock_ats=info",
        _ => "warn",
    };
    let filter = EnvFilter::try_from_env("ATSBRIDGE_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        // One JSON object per line; every field (`plugin`, `connection`,
        // ...) is a JSON field, and messages are JSON strings, so nothing a
        // plugin logs can forge a line.
        LogFormat::Json => logs.json().flatten_event(true).with_current_span(false).init(),
        LogFormat::Text => logs.init(),
    }
    match cli.run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Our error messages often already name their cause; print each
            // link of the chain only once.
            let mut message = e.to_string();
            for cause in e.chain().skip(1) {
                let cause = cause.to_string();
                if !message.contains(&cause) {
                    message = format!("{message}: {cause}");
                }
            }
            // Errors may carry a plugin's or a manifest's text.
            eprintln!("error: {}", atsbridge::display::escape(&message));
            std::process::ExitCode::FAILURE
        }
    }
}
