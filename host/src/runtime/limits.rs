//! Per-call resource limits and the store's resource limiter.

use std::time::Duration;

use serde::Serialize;

use crate::plugin::manifest::RequestedLimits;

/// Linear memory per instance unless the plugin asks for less: enough for a
/// Python or JS connector decoding a large page, small enough that hundreds
/// of concurrent calls fit in the host.
pub const DEFAULT_MEMORY_BYTES: u64 = 64 << 20;
/// Wall-clock budget per call: ATS pages can be slow, a stuck call must not
/// hold a sync for minutes.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Core instances per component: a wasip2 Rust component has a handful, a
/// componentize-py one a few dozen.
pub const DEFAULT_MAX_INSTANCES: usize = 64;
/// Tables and memories per store, for the same reason.
pub const DEFAULT_MAX_TABLES: usize = 64;
pub const DEFAULT_MAX_MEMORIES: usize = 16;
/// Elements per table: function tables of large guests stay far below this.
pub const DEFAULT_MAX_TABLE_ELEMENTS: usize = 1 << 20;
/// Highest operator ceiling on a plugin's memory, MiB
/// (`--max-plugin-memory-mib`): a wasm32 linear memory cannot exceed
/// 4 GiB, and the pool reserves a slot of this size per memory.
pub const MAX_PLUGIN_MEMORY_MIB: u64 = 4096;
/// Highest operator ceiling on a call's time, seconds (`--max-call-secs`):
/// one day. Beyond that a call is stuck, and a deadline far in the future
/// would overflow the clock's arithmetic.
pub const MAX_CALL_SECS: u64 = 86_400;

/// The operator's ceilings; a plugin's requests are capped by them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OperatorLimits {
    pub max_memory_bytes: u64,
    pub max_call_timeout: Duration,
}

impl Default for OperatorLimits {
    fn default() -> Self {
        OperatorLimits { max_memory_bytes: 256 << 20, max_call_timeout: Duration::from_secs(300) }
    }
}

/// The limits one plugin's calls run under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CallLimits {
    pub memory_bytes: u64,
    pub call_timeout: Duration,
    pub max_instances: usize,
    pub max_tables: usize,
    pub max_memories: usize,
    pub max_table_elements: usize,
}

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits {
            memory_bytes: DEFAULT_MEMORY_BYTES,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            max_instances: DEFAULT_MAX_INSTANCES,
            max_tables: DEFAULT_MAX_TABLES,
            max_memories: DEFAULT_MAX_MEMORIES,
            max_table_elements: DEFAULT_MAX_TABLE_ELEMENTS,
        }
    }
}

impl CallLimits {
    /// The defaults, replaced by what the plugin requested, capped by the
    /// operator's maximums.
    pub fn resolve(requested: &RequestedLimits, operator: &OperatorLimits) -> Self {
        let memory = requested.memory_mib.map(|m| u64::from(m) << 20).unwrap_or(DEFAULT_MEMORY_BYTES);
        let timeout = requested.timeout_secs.map(|s| Duration::from_secs(u64::from(s))).unwrap_or(DEFAULT_CALL_TIMEOUT);
        CallLimits {
            memory_bytes: memory.min(operator.max_memory_bytes),
            call_timeout: timeout.min(operator.max_call_timeout),
            ..CallLimits::default()
        }
    }
}

/// Host bytes counted per table element against the memory cap: a
/// funcref slot is a pointer-sized word in the instance's tables.
pub const TABLE_ELEMENT_BYTES: u64 = 8;

impl CallLimits {
    /// Most bytes the host copies out of the guest in one lift (a call's
    /// result, or the arguments of one import call): the memory cap. Without
    /// it, strings aliasing one buffer in guest memory would each become a
    /// separate host allocation, many times the guest's own cap.
    pub fn hostcall_copy_bytes(&self) -> usize {
        usize::try_from(self.memory_bytes).unwrap_or(usize::MAX)
    }
}

/// Enforces [`CallLimits`] inside one store and remembers whether a limit
/// was hit, so the caller can report "memory limit" rather than a bare trap.
///
/// The memory cap is for the whole instance: a component may define many
/// core modules, each with its own linear memory and tables, so the limiter
/// keeps the sum of every memory and table it has granted and refuses the
/// growth that would take the sum past the cap.
#[derive(Debug)]
pub struct Limiter {
    limits: CallLimits,
    /// Set when the guest tried to grow memory past the cap.
    pub memory_exceeded: bool,
    /// Bytes of linear memory and tables granted to the instance so far.
    pub total_bytes: u64,
    /// Largest `total_bytes` seen.
    pub peak_memory: u64,
}

impl Limiter {
    pub fn new(limits: CallLimits) -> Self {
        Limiter { limits, memory_exceeded: false, total_bytes: 0, peak_memory: 0 }
    }

    /// Grants `added` more bytes if the instance's total stays within the cap.
    fn grant(&mut self, added: u64, what: &str) -> wasmtime::Result<()> {
        let total = self.total_bytes.saturating_add(added);
        if total > self.limits.memory_bytes {
            self.memory_exceeded = true;
            // Trapping (rather than letting memory.grow return -1) gives the
            // caller a definite error instead of whatever the guest's
            // allocator does on failure.
            return Err(wasmtime::format_err!(
                "memory limit exceeded: growing a {what} would bring the instance to {total} bytes, the limit is {} bytes",
                self.limits.memory_bytes
            ));
        }
        self.total_bytes = total;
        self.peak_memory = self.peak_memory.max(total);
        Ok(())
    }
}

impl wasmtime::ResourceLimiter for Limiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.grant(desired.saturating_sub(current) as u64, "linear memory")?;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        // The growth counted above did not happen; the instance is about to
        // trap or see -1 either way, so the over-count is harmless.
        Ok(())
    }

    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limits.max_table_elements {
            return Ok(false);
        }
        self.grant((desired.saturating_sub(current) as u64).saturating_mul(TABLE_ELEMENT_BYTES), "table")?;
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.limits.max_instances
    }

    fn tables(&self) -> usize {
        self.limits.max_tables
    }

    fn memories(&self) -> usize {
        self.limits.max_memories
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_capped_by_the_operator() {
        let operator = OperatorLimits { max_memory_bytes: 128 << 20, max_call_timeout: Duration::from_secs(60) };
        let asked = RequestedLimits { memory_mib: Some(1024), timeout_secs: Some(10) };
        let l = CallLimits::resolve(&asked, &operator);
        assert_eq!(l.memory_bytes, 128 << 20);
        assert_eq!(l.call_timeout, Duration::from_secs(10));
        let l = CallLimits::resolve(&RequestedLimits::default(), &operator);
        assert_eq!(l.memory_bytes, DEFAULT_MEMORY_BYTES);
        assert_eq!(l.call_timeout, DEFAULT_CALL_TIMEOUT);
    }

    #[test]
    fn the_cap_is_for_all_memories_of_the_instance() {
        use wasmtime::ResourceLimiter as _;
        let mut limiter = Limiter::new(CallLimits { memory_bytes: 64 << 20, ..CallLimits::default() });
        let each = 62 << 20;
        // A component of 16 core modules, each asking for 62 MiB.
        assert!(limiter.memory_growing(0, each, None).is_ok());
        assert!(limiter.memory_growing(0, each, None).is_err());
        assert!(limiter.memory_exceeded);
        assert_eq!(limiter.total_bytes, each as u64);
        // Growth of one memory counts only what it adds.
        let mut limiter = Limiter::new(CallLimits { memory_bytes: 64 << 20, ..CallLimits::default() });
        assert!(limiter.memory_growing(0, 32 << 20, None).is_ok());
        assert!(limiter.memory_growing(32 << 20, 64 << 20, None).is_ok());
        assert!(limiter.table_growing(0, 1, None).is_err());
    }
}
