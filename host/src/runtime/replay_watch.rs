//! Replay of unchanged pages: noticing a call's nondeterministic WASI use.
//!
//! A `list-jobs` call may be replayed ([`super::replay`]) only if its output
//! is a function of its arguments, its settings and its HTTP responses. A
//! guest that read the wall or monotonic clock, drew random bytes (secure or
//! insecure) or read the insecure seed (Rust's `HashMap` does, for its
//! hasher keys) may answer differently from the same inputs, so such a call
//! is never recorded for replay.
//!
//! Every one of those WASI imports goes through a wrapper here that sets the
//! call's [`Watch`] flag before answering as the default would. The WASI
//! context is kept across calls ([`super::wasi`]), so the flag lives beside
//! it in the call's state and is cleared when a call takes the context.
//! The insecure seed is a plain value in the context, not a trait object,
//! so its import is shadowed in the linker ([`watch_insecure_seed`]).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{HasData, Linker};
use wasmtime_wasi::random::WasiRandomCtx;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtxBuilder};

use super::state::PluginState;

/// Whether the current call used a nondeterministic WASI import. Shared
/// by the wrappers in one WASI context and the call's state.
#[derive(Debug, Clone, Default)]
pub struct Watch(Arc<AtomicBool>);

impl Watch {
    /// Marks the call as having used one.
    fn touch(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether the call used one since [`Watch::clear`].
    pub fn touched(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Forgets earlier calls' use: a reused context starts clean.
    pub fn clear(&self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// Puts watched clocks and generators into `builder`, each answering as
/// the default one would.
pub fn watch_builder(builder: &mut WasiCtxBuilder, watch: &Watch) {
    builder.wall_clock(Watched { inner: wasmtime_wasi::clocks::WallClock::new(), watch: watch.clone() });
    builder.monotonic_clock(Watched { inner: wasmtime_wasi::clocks::MonotonicClock::new(), watch: watch.clone() });
    builder.secure_random(Watched { inner: wasmtime_wasi::thread_rng(), watch: watch.clone() });
    builder.insecure_random(Watched { inner: wasmtime_wasi::thread_rng(), watch: watch.clone() });
}

/// A clock or generator that marks the call when read.
struct Watched<T> {
    inner: T,
    watch: Watch,
}

impl<T: HostWallClock> HostWallClock for Watched<T> {
    fn resolution(&self) -> Duration {
        self.watch.touch();
        self.inner.resolution()
    }
    fn now(&self) -> Duration {
        self.watch.touch();
        self.inner.now()
    }
}

impl<T: HostMonotonicClock> HostMonotonicClock for Watched<T> {
    fn resolution(&self) -> u64 {
        self.watch.touch();
        self.inner.resolution()
    }
    fn now(&self) -> u64 {
        self.watch.touch();
        self.inner.now()
    }
}

impl<T: rand_core::TryRng<Error = Infallible>> rand_core::TryRng for Watched<T> {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        self.watch.touch();
        self.inner.try_next_u32()
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.watch.touch();
        self.inner.try_next_u64()
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.watch.touch();
        self.inner.try_fill_bytes(dst)
    }
}

/// `wasi:random/insecure-seed` answered from the context's seed, marking
/// the call.
pub struct WatchedSeed<'a> {
    random: &'a mut WasiRandomCtx,
    watch: &'a Watch,
}

impl wasmtime_wasi::p2::bindings::random::insecure_seed::Host for WatchedSeed<'_> {
    fn insecure_seed(&mut self) -> wasmtime::Result<(u64, u64)> {
        self.watch.touch();
        wasmtime_wasi::p2::bindings::random::insecure_seed::Host::insecure_seed(self.random)
    }
}

/// [`HasData`] for [`WatchedSeed`].
struct SeedWatch;

impl HasData for SeedWatch {
    type Data<'a> = WatchedSeed<'a>;
}

/// Replaces the linker's `wasi:random/insecure-seed` (added by
/// `wasmtime_wasi`) with the watched one.
pub fn watch_insecure_seed(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let added = wasmtime_wasi::p2::bindings::random::insecure_seed::add_to_linker::<PluginState, SeedWatch>(
        linker,
        |s: &mut PluginState| WatchedSeed { random: s.wasi.random(), watch: &s.watch },
    );
    linker.allow_shadowing(false);
    added
}

#[cfg(test)]
mod tests {
    use rand_core::TryRng;

    use super::*;

    #[test]
    fn reading_a_clock_or_randomness_marks_the_call_until_cleared() {
        let watch = Watch::default();
        let wall = Watched { inner: wasmtime_wasi::clocks::WallClock::new(), watch: watch.clone() };
        let mono = Watched { inner: wasmtime_wasi::clocks::MonotonicClock::new(), watch: watch.clone() };
        let mut random = Watched { inner: wasmtime_wasi::thread_rng(), watch: watch.clone() };
        assert!(!watch.touched());
        let reads: [&mut dyn FnMut(); 3] = [
            &mut || {
                wall.now();
            },
            &mut || {
                mono.now();
            },
            &mut || {
                let _ = random.try_next_u64();
            },
        ];
        for read in reads {
            watch.clear();
            read();
            assert!(watch.touched());
        }
    }

    #[test]
    fn a_reused_context_starts_unmarked() {
        let contexts = super::super::wasi::WasiContexts::default();
        let first = contexts.take();
        first.watch.touch();
        contexts.give_back(first);
        assert!(!contexts.take().watch.touched());
    }
}
