//! A run's metering: the meter its plugin calls go through, and its totals
//! taken into the run record when the run ends.

use crate::runtime::Plugin;
use crate::runtime::meter::{Activity, Meter};
use crate::store::SyncRun;

/// `plugin` with a fresh meter for one sync run: every call of the run
/// (pages, retries, the stage refresh) adds to it.
pub(super) fn metered(plugin: Plugin) -> Plugin {
    let meter = Meter::new(plugin.manifest(), Activity::Sync);
    plugin.with_meter(meter)
}

/// `run` with what its calls through `plugin` cost so far; the store bytes
/// its page commits counted go to the Prometheus counter once, here.
pub(super) fn stamp(plugin: &Plugin, mut run: SyncRun) -> SyncRun {
    run.metering = plugin.meter().report();
    if run.metering.is_some() {
        crate::metrics::global().sync_store_bytes(plugin.id(), run.counts.bytes_written);
    }
    run
}
