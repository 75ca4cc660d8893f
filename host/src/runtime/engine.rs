//! The wasmtime engine shared by every plugin, and its epoch ticker.

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

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
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            pooling_instances: Some(DEFAULT_POOLED_INSTANCES),
            max_memory_bytes: 256 << 20,
            keep_resident_bytes: DEFAULT_KEEP_RESIDENT,
        }
    }
}

/// Builds the engine and starts its epoch ticker.
pub fn build(options: &EngineOptions) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // The default 4 GiB reservation (plus guard) per linear memory is kept on
    // purpose: it lets Cranelift drop the bounds check on every load and
    // store, which made the 500-job benchmark page markedly faster than a
    // 256 MiB reservation did. It is address space, not memory: the memory
    // cap is enforced by the store's limiter.
    if let Some(instances) = options.pooling_instances {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(instances)
            // Components built by componentize-py have dozens of core
            // instances and several memories; Rust ones a handful.
            .total_core_instances(instances * 32)
            .total_memories(instances * 4)
            .total_tables(instances * 8)
            .total_stacks(instances)
            .max_core_instances_per_component(64)
            .max_memories_per_component(16)
            .max_tables_per_component(64)
            .max_memory_size(options.max_memory_bytes as usize)
            .linear_memory_keep_resident(options.keep_resident_bytes)
            .table_keep_resident(options.keep_resident_bytes.min(1 << 20));
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        if options.keep_resident_bytes > 0 {
            // Resident slots are reset with memset; initialising memory by
            // copy then avoids a page fault per touched page of data.
            config.memory_init_cow(false);
        }
    }
    let engine = Engine::new(&config)?;
    start_epoch_ticker(&engine).map_err(|e| wasmtime::format_err!("cannot start the epoch thread: {e}"))?;
    Ok(engine)
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
