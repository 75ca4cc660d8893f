//! A progress bar for syncs run from the terminal.

use indicatif::{ProgressBar, ProgressStyle};

use crate::store::{RunCounts, SyncRun};
use crate::sync::SyncProgress;

/// Shows pages and job counts as a run goes; silent with `--json`.
pub struct SyncBar {
    bar: ProgressBar,
}

impl SyncBar {
    pub fn new(label: &str, hidden: bool) -> Self {
        let bar = if hidden { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} [{elapsed_precise}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(label.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        SyncBar { bar }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl SyncProgress for SyncBar {
    fn started(&self, run: &SyncRun, resumed: bool) {
        let kind = if run.full_listing { "full listing" } else { "changes only" };
        let resumed = if resumed { ", resuming an interrupted listing" } else { "" };
        self.bar.set_message(format!("run {} ({kind}{resumed})", run.seq));
    }

    fn page(&self, c: &RunCounts) {
        self.bar.set_message(format!(
            "page {} · {} jobs · {} created · {} updated · {} closed · {} unchanged",
            c.pages, c.jobs_seen, c.created, c.updated, c.closed, c.unchanged
        ));
    }
}

impl SyncBar {
    /// Shows a run's progress as read from the API.
    pub fn show(&self, run: &crate::service::dto::RunDto) {
        let c = &run.counts;
        let kind = if run.full_listing { "full listing" } else { "changes only" };
        self.bar.set_message(format!(
            "run {} ({kind}, {}) · page {} · {} jobs · {} created · {} updated · {} closed · {} unchanged",
            run.seq, run.outcome, c.pages, c.jobs_seen, c.created, c.updated, c.closed, c.unchanged
        ));
    }
}
