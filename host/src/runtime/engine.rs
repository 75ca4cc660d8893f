//! The wasmtime engine shared by every plugin, and its epoch ticker.

use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances. Guests yield to the executor at each tick,
/// so this bounds how late a timeout fires and how long a CPU-bound guest
/// can hold a tokio worker without yielding.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Engine-wide settings.
#[derive(Debug, Clone, Copy)]
pub struct EngineOptions {
    /// Use the pooling allocator, sized for this many concurrent instances.
    /// `None` allocates on demand (the default: on this workload pooling did
    /// not pay, see docs/benchmarks.md).
    pub pooling_instances: Option<u32>,
    /// Largest linear memory any plugin may be granted (pooling slot size).
    pub max_memory_bytes: u64,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { pooling_instances: None, max_memory_bytes: 256 << 20 }
    }
}

/// Builds the engine and starts its epoch ticker.
pub fn build(options: &EngineOptions) -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // Smaller than the 4 GiB default: connectors never need it, and it keeps
    // the address space per instance small enough for many concurrent calls.
    config.memory_reservation(options.max_memory_bytes.max(64 << 20));
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
            .max_memory_size(options.max_memory_bytes as usize);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
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
