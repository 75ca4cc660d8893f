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

/// `run` with what its calls through `plugin` cost so far. The bytes the
/// run wrote outside its commits (counted in the meter) join those its
/// commits counted in `run.counts.store_bytes`.
pub(super) fn stamp(plugin: &Plugin, mut run: SyncRun) -> SyncRun {
    run.metering = plugin.meter().report();
    if let Some(m) = &mut run.metering {
        run.counts.store_bytes = run.counts.store_bytes.saturating_add(std::mem::take(&mut m.store_bytes_written));
    }
    run
}

/// `run` as its end stored it: the bytes it wrote go to the Prometheus
/// counter once, here (its end's own commit included).
pub(super) fn ended(run: &SyncRun) {
    if run.metering.is_some() {
        crate::metrics::global().sync_store_bytes(&run.plugin_id, run.counts.store_bytes);
    }
}
