//! The wasmtime engine shared by every plugin, and its epoch ticker.

use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy};

use super::slots::PoolSize;

/// How often the epoch advances. Guests yield to the executor at each tick,
/// so this bounds how late a timeout fires and how long a CPU-bound guest
/// can hold a tokio worker without yielding.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Concurrent plugin calls the default pool holds; more wait for a slot.
/// The scheduler runs at most 16 syncs (each with one page prefetched), the
/// API the rest.
pub const DEFAULT_POOLED_INSTANCES: u32 = 48;
/// Heap kept resident per memory slot between calls: a 500-job page needs
/// about 8 MiB of guest heap. Resident memory is bounded by the slots in use.
pub const DEFAULT_KEEP_RESIDENT: usize = 8 << 20;

/// Pool slots per pooled instance. Components built by componentize-py
/// have dozens of core instances and several memories; Rust ones a handful.
/// A component may define more than this (up to the per-component maximums
/// below); it then waits for, and holds, the slots of several instances
/// (see `slots.rs`), so it cannot exhaust the pool unnoticed.
pub const CORE_INSTANCES_PER_INSTANCE: u32 = 32;
pub const MEMORIES_PER_INSTANCE: u32 = 4;
pub const TABLES_PER_INSTANCE: u32 = 8;
/// Most core instances, memories and tables one component may define.
pub const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 64;
pub const MAX_MEMORIES_PER_COMPONENT: u32 = 16;
pub const MAX_TABLES_PER_COMPONENT: u32 = 64;

/// Engine-wide settings.
#[derive(Debug, Clone, Copy)]
pub struct EngineOptions {
    /// Use the pooling allocator, sized for this many concurrent instances;
    /// `None` allocates on demand. Pooling is the default: it halves
    /// instantiation time and, with memory kept resident, speeds up calls
    /// that build large pages (docs/benchmarks.md).
    pub pooling_instances: Option<u32>,
    /// Largest linear memory any plugin may be granted (pooling slot size).
    pub max_memory_bytes: u64,
    /// With pooling: bytes of each memory slot kept resident between calls
    /// and reset with memset, so a call's heap does not page-fault in anew.
    pub keep_resident_bytes: usize,
    /// Name each plugin function's compiled code in `/tmp/perf-<pid>.map`,
    /// where `perf report` finds it, so that a profile of the host shows
    /// where a connector spends its time (`--perf-map`; the runtime then
    /// also reads artifacts into memory, see `ArtifactCache`). Off by
    /// default: the file grows with every component loaded, and its names
    /// come from the plugin.
    pub perf_map: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            pooling_instances: Some(DEFAULT_POOLED_INSTANCES),
            max_memory_bytes: 256 << 20,
            keep_resident_bytes: DEFAULT_KEEP_RESIDENT,
            perf_map: false,
        }
    }
}

impl EngineOptions {
    /// The pool's slot counts, when pooling.
    pub fn pool_size(&self) -> Option<PoolSize> {
        self.pooling_instances.map(|n| PoolSize {
            instances: n,
            memories: n.saturating_mul(MEMORIES_PER_INSTANCE),
            tables: n.saturating_mul(TABLES_PER_INSTANCE),
        })
    }
}

/// Builds the engine and starts its epoch ticker.
pub fn build(options: &EngineOptions) -> wasmtime::Result<Engine> {
    let engine = Engine::new(&config(options, true))?;
    start_epoch_ticker(&engine).map_err(|e| wasmtime::format_err!("cannot start the epoch thread: {e}"))?;
    Ok(engine)
}

/// An engine that only compiles, for the compiler process: the same
/// compilation settings as [`build`]'s (so its artifacts load there) but no
/// instance pool, whose address-space reservation would not fit under the
/// compiler's memory limit.
pub fn build_for_compiling(options: &EngineOptions) -> wasmtime::Result<Engine> {
    // One thread (wasmtime is built without `parallel-compilation`): the
    // process's CPU limit is then a bound on wall time too.
    Engine::new(&config(options, false))
}

fn config(options: &EngineOptions, pooling: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    if options.perf_map {
        // Functions are named as their code is loaded, not compiled: the
        // compiler process does without it, and its artifacts serve both.
        config.profiler(ProfilingStrategy::PerfMap);
    }
    // The default 4 GiB reservation (plus guard) per linear memory is kept on
    // purpose: it lets Cranelift drop the bounds check on every load and
    // store, which made the 500-job benchmark page markedly faster than a
    // 256 MiB reservation did. It is address space, not memory: the memory
    // cap is enforced by the store's limiter.
    //
    // Within that reservation a 32-bit memory grows in place and never
    // moves, so Cranelift is told so: a memory's base address is then a
    // constant of the call that it loads once and keeps in a register,
    // instead of reloading it after every call that might have grown the
    // memory. (A compilation setting: the compiler process agrees, and
    // artifacts cached before are keyed by the older settings' hash, so
    // they miss and are compiled anew.)
    config.memory_may_move(false);
    if let Some(size) = options.pool_size()
        && pooling
    {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(size.instances)
            .total_core_instances(size.instances.saturating_mul(CORE_INSTANCES_PER_INSTANCE))
            .total_memories(size.memories)
            .total_tables(size.tables)
            .total_stacks(size.instances)
            .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
            .max_memories_per_component(MAX_MEMORIES_PER_COMPONENT)
            .max_tables_per_component(MAX_TABLES_PER_COMPONENT)
            .max_memory_size(options.max_memory_bytes as usize)
            .linear_memory_keep_resident(options.keep_resident_bytes)
            .table_keep_resident(options.keep_resident_bytes.min(1 << 20))
            // Reset only the pages a call wrote (Linux 6.7+ `PAGEMAP_SCAN`).
            // Without it, every call's end memsets the low
            // `keep_resident_bytes` of its memory whole, written or not;
            // where the ioctl is missing that remains the fallback.
            .pagemap_scan(Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    if options.pooling_instances.is_some() && options.keep_resident_bytes > 0 {
        // Resident slots are reset with memset; initialising memory by
        // copy then avoids a page fault per touched page of data. (A
        // compilation setting: the compiler process must agree.)
        config.memory_init_cow(false);
    }
    config
}

/// A plain thread holding only a weak handle: it stops when the engine is
/// dropped, so tests that build many runtimes do not leak tickers.
fn start_epoch_ticker(engine: &Engine) -> std::io::Result<()> {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("atsbridge-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use wasmtime::component::Component;
    use wasmtime::{Instance, Module, Store};

    use super::*;

    /// The smallest valid component: its preamble alone.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\x00\x01\x00";

    /// `(module (memory (export "m") 1) (func (export "grow") (param i32)
    /// (result i32) local.get 0 memory.grow))`, encoded by hand (the
    /// engine has no text parser).
    const GROWING_MODULE: &[u8] = &[
        0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // preamble
        0x01, 0x06, 0x01, 0x60, 0x01, 0x7f, 0x01, 0x7f, // type: (i32) -> i32
        0x03, 0x02, 0x01, 0x00, // function 0 of type 0
        0x05, 0x03, 0x01, 0x00, 0x01, // memory: min 1 page
        0x07, 0x0c, 0x02, 0x04, b'g', b'r', b'o', b'w', 0x00, 0x00, 0x01, b'm', 0x02, 0x00, // exports
        0x0a, 0x08, 0x01, 0x06, 0x00, 0x20, 0x00, 0x40, 0x00, 0x0b, // code
    ];

    fn options(pooling_instances: Option<u32>) -> EngineOptions {
        EngineOptions { pooling_instances, max_memory_bytes: 64 << 20, keep_resident_bytes: 1 << 20, perf_map: false }
    }

    #[test]
    fn what_the_compiler_engine_compiles_loads_in_the_running_engine() {
        for pooling in [Some(2), None] {
            let compiler = build_for_compiling(&options(pooling)).unwrap();
            let artifact = compiler.precompile_component(EMPTY_COMPONENT).unwrap();
            let engine = build(&options(pooling)).unwrap();
            // SAFETY: the artifact was just compiled, by the compiler engine.
            let loaded = unsafe { Component::deserialize(&engine, &artifact) };
            assert!(loaded.is_ok(), "pooling {pooling:?}: {:?}", loaded.err());
        }
    }

    #[test]
    fn a_memory_grows_in_place_up_to_the_cap() {
        for pooling in [Some(2), None] {
            let engine = build(&options(pooling)).unwrap();
            assert!(!engine.get_memory_may_move());
            let module = Module::new(&engine, GROWING_MODULE).unwrap();
            let mut store = Store::new(&engine, ());
            store.set_epoch_deadline(u64::MAX / 2);
            let instance = Instance::new(&mut store, &module, &[]).unwrap();
            let grow = instance.get_typed_func::<i32, i32>(&mut store, "grow").unwrap();
            let memory = instance.get_memory(&mut store, "m").unwrap();
            let base = memory.data_ptr(&store);
            // To 63 MiB of the 64 MiB cap, in steps, each in place.
            for step in 0..63 {
                assert_eq!(grow.call(&mut store, 16).unwrap(), 1 + 16 * step, "pooling {pooling:?}");
                assert_eq!(memory.data_ptr(&store), base, "pooling {pooling:?}: the memory moved");
            }
            if pooling.is_some() {
                // The pool's slot is the cap: past it, growth is refused.
                assert_eq!(grow.call(&mut store, 64).unwrap(), -1);
            }
        }
    }
}
