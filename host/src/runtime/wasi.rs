//! The WASI context of a call, kept for the plugin's next call.
//!
//! Building a [`WasiCtx`] took about 4 µs per call, a sixth of instantiating
//! and calling a small plugin (docs/benchmarks.md, "Runtime"):
//! `WasiCtxBuilder` builds its default context twice (once when created,
//! once more in `build()`), and each default seeds two random generators
//! from the thread's CSPRNG (a ChaCha12 `StdRng` for `wasi:random/random`, a
//! `SmallRng` for `wasi:random/insecure`), draws a fresh `insecure-seed` and
//! reads the clocks, with a dozen boxed trait objects. wasmtime-wasi offers
//! no way to reseed or rebuild a context in place.
//!
//! So each plugin keeps the contexts of its finished calls and hands them
//! to its next calls. This keeps the sandbox's guarantees:
//!
//! - The context grants nothing: no preopened directories, environment,
//!   arguments, sockets or stdin; stdout is discarded. None of that changes
//!   between calls, and a guest cannot change it.
//! - Per-call state is not in the context: streams, pollables and every
//!   other resource a guest opens live in the call's own `ResourceTable`,
//!   dropped with the call. The stderr tail is cleared before reuse, so a
//!   call's error never carries an earlier call's output.
//! - `wasi:random/random` stays unpredictable: the next call continues the
//!   same ChaCha12 stream, seeded from the operating system's entropy via
//!   the thread CSPRNG. Outputs of a CSPRNG reveal nothing about its other
//!   outputs, so what one call read tells it nothing about what the next
//!   call gets; the state itself never enters guest memory.
//! - What a reused context does carry over is its `insecure-seed` (a fixed
//!   value per context, meant for hash-table seeding and documented as not
//!   secret) and its monotonic clock's origin (the guest reads elapsed
//!   time). Neither is something a guest can write to, so reuse opens no
//!   channel from one call to the next. Contexts are never shared between
//!   plugins.
//!
//! Only contexts of calls that finished normally (an answer or a
//! connector error) are kept; a trapped or timed-out call's context is
//! dropped.

use std::sync::Mutex;

use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use super::stderr_tail::StderrTail;

/// Idle contexts one plugin keeps: as many calls of a plugin as run at once
/// (half the default pool, see `slots.rs`); more are built when needed and
/// dropped when they finish.
pub const MAX_IDLE_CONTEXTS: usize = 32;

/// A call's WASI context and the stderr tail it writes to.
pub struct CallWasi {
    pub ctx: WasiCtx,
    pub stderr: StderrTail,
    /// Replay: whether the call read a clock or randomness (cleared on reuse).
    pub watch: super::replay_watch::Watch,
}

impl CallWasi {
    /// A new context: nothing granted, stderr kept as a bounded tail.
    fn build() -> Self {
        let stderr = StderrTail::default();
        let mut builder = WasiCtxBuilder::new();
        builder.stderr(stderr.clone());
        let watch = super::replay_watch::Watch::default(); // replay: clocks and randomness watched
        super::replay_watch::watch_builder(&mut builder, &watch);
        CallWasi { ctx: builder.build(), stderr, watch }
    }
}

/// One plugin's idle WASI contexts.
#[derive(Default)]
pub struct WasiContexts {
    idle: Mutex<Vec<CallWasi>>,
}

impl WasiContexts {
    /// A context for a new call: an idle one with its stderr cleared, or a
    /// new one.
    pub fn take(&self) -> CallWasi {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(wasi) => {
                wasi.stderr.clear();
                wasi.watch.clear(); // replay
                wasi
            }
            None => CallWasi::build(),
        }
    }

    /// Keeps a finished call's context for the next call.
    pub fn give_back(&self, wasi: CallWasi) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_CONTEXTS {
            idle.push(wasi);
        }
    }

    /// Contexts waiting for a call.
    #[cfg(test)]
    fn idle(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_context_starts_with_an_empty_stderr() {
        let contexts = WasiContexts::default();
        let first = contexts.take();
        first.stderr.append(b"secret from the first call");
        contexts.give_back(first);
        let second = contexts.take();
        assert_eq!(second.stderr.contents(), "");
        assert_eq!(contexts.idle(), 0);
    }

    #[test]
    fn idle_contexts_are_bounded() {
        let contexts = WasiContexts::default();
        let taken: Vec<_> = (0..MAX_IDLE_CONTEXTS + 5).map(|_| contexts.take()).collect();
        for wasi in taken {
            contexts.give_back(wasi);
        }
        assert_eq!(contexts.idle(), MAX_IDLE_CONTEXTS);
    }
}
