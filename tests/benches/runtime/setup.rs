//! What each piece of a call's setup costs outside wasmtime's instantiation,
//! timed alone in a tight loop (wall time per piece, this thread only):
//! which parts are worth building once per plugin instead of per call.

use std::hint::black_box;
use std::time::Instant;

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use super::row;

/// Iterations per piece.
const N: u32 = 20_000;

fn time(what: &str, mut f: impl FnMut()) {
    for _ in 0..N / 10 {
        f();
    }
    let t = Instant::now();
    for _ in 0..N {
        f();
    }
    row(&format!("  setup piece: {what}"), t.elapsed() / N, "wall, one thread");
}

pub fn pieces(engine: &Engine) {
    time("WasiCtxBuilder::new() + stderr + build()", || {
        let mut builder = WasiCtxBuilder::new();
        builder.stderr(tokio::io::empty());
        black_box(builder.build());
    });
    time("WasiCtx::default() (one default context)", || {
        black_box(WasiCtx::default());
    });
    time("ResourceTable::new()", || {
        black_box(ResourceTable::new());
    });
    time("Store::new + epoch deadline + hostcall fuel", || {
        let mut store = Store::new(engine, ());
        store.set_hostcall_fuel(64 << 20);
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        black_box(store);
    });
}
