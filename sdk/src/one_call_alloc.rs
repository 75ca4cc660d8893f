//! The allocator of a connector component: the system allocator, except
//! that memory is no longer freed once the call's answer is built.
//!
//! The host runs every call in a fresh instance and throws the instance
//! away when the call returns. After a call's answer is built, the only
//! code left to run is the canonical ABI's post-return cleanup, which frees
//! every string of the answer one by one (about 10,000 frees for a page of
//! 500 jobs) in memory that is about to be discarded anyway. Skipping those
//! frees is safe: nothing can use the memory afterwards, and an instance
//! reused for a second call (which the host never does) would only leak.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

static ANSWERED: AtomicBool = AtomicBool::new(false);

/// Delegates to [`System`] and ignores frees after [`answered`].
pub struct OneCallAllocator;

// SAFETY: every method delegates to `System`; skipping `dealloc` only leaks.
unsafe impl GlobalAlloc for OneCallAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !ANSWERED.load(Ordering::Relaxed) {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static GLOBAL: OneCallAllocator = OneCallAllocator;

/// Marks the call's answer as built; called by [`export_connector!`](crate::export_connector).
#[doc(hidden)]
pub fn answered<T>(answer: T) -> T {
    ANSWERED.store(true, Ordering::Relaxed);
    answer
}
