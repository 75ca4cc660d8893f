//! Sharing instance capacity fairly between plugins and connections.
//!
//! With the pooling allocator the engine holds a fixed number of instance,
//! memory and table slots; a call that instantiates when they are used up
//! fails. So a call first waits for what its component needs (one instance,
//! and as many memory and table slots as the component defines), in FIFO
//! order. Before that it waits for its plugin's and its connection's share,
//! so one plugin or one connection cannot hold the whole pool while the
//! others' calls wait: each may use at most a fraction of every kind of
//! slot. A call's deadline starts once it holds its slots.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::ResourcesRequired;

/// One plugin may hold at most this fraction (1/N) of every kind of slot,
/// so half the pool is always left for the other plugins. (A smaller share
/// would throttle a host whose connections mostly use one connector: the
/// scheduler's 16 concurrent syncs each prefetch a page.)
pub const PLUGIN_SHARE_DIVISOR: u32 = 2;
/// Concurrent calls per connection: a sync runs one call and prefetches one
/// page; the API may add a check or a push.
pub const CALLS_PER_CONNECTION: u32 = 4;

/// Slot counts of the engine's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSize {
    pub instances: u32,
    pub memories: u32,
    pub tables: u32,
}

/// What one call of a component needs from the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Need {
    pub memories: u32,
    pub tables: u32,
}

impl Need {
    /// From the component's own declaration of its memories and tables.
    pub fn of(resources: Option<ResourcesRequired>) -> Need {
        // `None` means the component imports a module whose needs are not
        // known statically; no connector does, so count it as the most a
        // component may have.
        match resources {
            Some(r) => Need { memories: r.num_memories, tables: r.num_tables },
            None => Need { memories: u32::MAX, tables: u32::MAX },
        }
    }
}

/// The semaphores of one kind of holder (the whole pool, one plugin).
#[derive(Debug)]
struct Budget {
    instances: Arc<Semaphore>,
    memories: Arc<Semaphore>,
    tables: Arc<Semaphore>,
    size: PoolSize,
}

impl Budget {
    fn new(size: PoolSize) -> Self {
        Budget {
            instances: Arc::new(Semaphore::new(size.instances as usize)),
            memories: Arc::new(Semaphore::new(size.memories as usize)),
            tables: Arc::new(Semaphore::new(size.tables as usize)),
            size,
        }
    }

    /// Waits for one instance and `need`'s memories and tables. Needs larger
    /// than the budget are clamped to it (the pool itself refuses such a
    /// component at instantiation, with wasmtime's own message).
    async fn acquire(&self, need: Need) -> Vec<OwnedSemaphorePermit> {
        let memories = need.memories.min(self.size.memories);
        let tables = need.tables.min(self.size.tables);
        let mut permits = Vec::with_capacity(3);
        // The semaphores are never closed, so acquiring only waits.
        for (sem, n) in [(&self.instances, 1), (&self.memories, memories), (&self.tables, tables)] {
            if n > 0
                && let Ok(p) = sem.clone().acquire_many_owned(n).await
            {
                permits.push(p);
            }
        }
        permits
    }
}

/// Every semaphore of a runtime.
#[derive(Debug)]
pub struct Slots {
    pool: Option<Budget>,
    plugin_size: PoolSize,
    plugins: Mutex<HashMap<String, Arc<Budget>>>,
    connections: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// What a call holds while it runs; dropping it frees the slots.
#[derive(Debug)]
pub struct Held {
    _permits: Vec<OwnedSemaphorePermit>,
}

impl Slots {
    /// `pool` is the pooling allocator's size, `None` when instances are
    /// allocated on demand (then only the plugin and connection shares of
    /// [`on_demand_size`] apply).
    pub fn new(pool: Option<PoolSize>) -> Self {
        let base = pool.unwrap_or_else(on_demand_size);
        let share = |n: u32| (n / PLUGIN_SHARE_DIVISOR).max(1);
        let plugin_size =
            PoolSize { instances: share(base.instances), memories: share(base.memories), tables: share(base.tables) };
        Slots {
            pool: pool.map(Budget::new),
            plugin_size,
            plugins: Mutex::new(HashMap::new()),
            connections: Mutex::new(HashMap::new()),
        }
    }

    /// Waits, in order: the connection's share, the plugin's share, then
    /// the pool's slots.
    pub async fn acquire(&self, plugin: &str, connection: Option<&str>, need: Need) -> Held {
        let mut permits = Vec::new();
        if let Some(conn) = connection {
            let sem = {
                let mut map = self.connections.lock().unwrap_or_else(|e| e.into_inner());
                // Forget connections nobody is waiting on, so the map stays
                // as small as the set of busy connections.
                map.retain(|_, s| Arc::strong_count(s) > 1);
                map.entry(conn.to_string())
                    .or_insert_with(|| Arc::new(Semaphore::new(CALLS_PER_CONNECTION as usize)))
                    .clone()
            };
            if let Ok(p) = sem.acquire_owned().await {
                permits.push(p);
            }
        }
        let budget = {
            let mut map = self.plugins.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(plugin.to_string()).or_insert_with(|| Arc::new(Budget::new(self.plugin_size))).clone()
        };
        permits.extend(budget.acquire(need).await);
        if let Some(pool) = &self.pool {
            permits.extend(pool.acquire(need).await);
        }
        Held { _permits: permits }
    }
}

/// Shares applied without a pool: on-demand allocation has no slots to run
/// out of, but one plugin still must not take every worker.
fn on_demand_size() -> PoolSize {
    PoolSize { instances: 64, memories: 64 * 16, tables: 64 * 64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_greedy_plugin_leaves_room_for_others() {
        let slots = Slots::new(Some(PoolSize { instances: 8, memories: 32, tables: 64 }));
        let greedy = Need { memories: 16, tables: 1 };
        // The greedy plugin's share is 16 memories: its second call waits...
        let first = slots.acquire("greedy", None, greedy).await;
        let second = tokio::time::timeout(std::time::Duration::from_millis(50), slots.acquire("greedy", None, greedy));
        assert!(second.await.is_err());
        // ...while another plugin's call gets its slots at once.
        let other = slots.acquire("other", None, Need { memories: 1, tables: 1 });
        assert!(tokio::time::timeout(std::time::Duration::from_millis(50), other).await.is_ok());
        drop(first);
        let again = slots.acquire("greedy", None, greedy);
        assert!(tokio::time::timeout(std::time::Duration::from_millis(50), again).await.is_ok());
    }

    #[tokio::test]
    async fn one_connection_is_limited() {
        let slots = Slots::new(Some(PoolSize { instances: 64, memories: 256, tables: 512 }));
        let need = Need { memories: 1, tables: 1 };
        let mut held = Vec::new();
        for _ in 0..CALLS_PER_CONNECTION {
            held.push(slots.acquire("p", Some("c1"), need).await);
        }
        let more = tokio::time::timeout(std::time::Duration::from_millis(50), slots.acquire("p", Some("c1"), need));
        assert!(more.await.is_err());
        let other = tokio::time::timeout(std::time::Duration::from_millis(50), slots.acquire("p", Some("c2"), need));
        assert!(other.await.is_ok());
    }
}
