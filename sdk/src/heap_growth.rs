//! How a connector component's heap grows: in steps that double with the
//! heap, instead of one 64 KiB page at a time.
//!
//! The system allocator (wasi-libc's dlmalloc) asks `sbrk` for exactly the
//! bytes it is short, rounded up to a page, so a call that builds a page of
//! jobs grows its memory a page at a time, over and over (about 18
//! `memory.grow` for a 500-job page). Each `memory.grow` costs the host a
//! system call (the pooled memory slot's next pages are made accessible).
//!
//! This `sbrk` replaces wasi-libc's: it hands the allocator the same
//! contiguous memory, but when memory has to grow it grows by at least as
//! much as this `sbrk` has grown it so far (at least the shortfall, at most
//! [`MAX_STEP_PAGES`] more than the shortfall). A call that allocates little
//! grows as before (the first growth is just the shortfall: a trivial call
//! must not pay for a large heap it never touches); a call that builds a
//! large answer grows a handful of times. Memory reserved but never written
//! costs nothing at the call's end: the host resets only written pages.
//!
//! If the host refuses a step (its memory cap), the growth is retried with
//! just the shortfall; the host may also trap at its cap, which is why the
//! step above the need is capped at [`MAX_STEP_PAGES`].
//!
//! Memory grown by anyone else (no code in a connector does) is noticed and
//! never handed out: the break restarts at the end of memory.
//!
//! The linker takes this `sbrk` instead of wasi-libc's because the SDK's
//! object comes first; as an unmangled function of a `cdylib` it is also
//! exported by the component's core module, where the host never sees it
//! (only the world's exports reach the host).

#[cfg(target_arch = "wasm32")]
pub use wasm::sbrk;

/// A WebAssembly page.
pub const PAGE_BYTES: usize = 64 * 1024;

/// Most pages one growth reserves beyond the allocator's shortfall (1 MiB):
/// large enough that a call building a megabyte-sized answer grows a few
/// times rather than dozens, small against the host's default 64 MiB cap so
/// that a call near the cap is not refused for memory it would not use.
pub const MAX_STEP_PAGES: usize = 16;

/// Pages to grow by when the allocator is `shortfall_pages` short and this
/// `sbrk` has grown memory by `grown_pages` so far: the shortfall, or the
/// heap grown so far if that is more (doubling it), capped at the shortfall
/// plus [`MAX_STEP_PAGES`].
pub fn growth_pages(shortfall_pages: usize, grown_pages: usize) -> usize {
    shortfall_pages.max(grown_pages.min(shortfall_pages.saturating_add(MAX_STEP_PAGES)))
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    use core::arch::wasm32::{memory_grow, memory_size};
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::{PAGE_BYTES, growth_pages};

    /// What `sbrk` returns on failure (`(void *)-1`), as dlmalloc expects.
    const FAILED: *mut u8 = usize::MAX as *mut u8;

    /// The allocator's break: the end of what it has been handed.
    static BREAK: AtomicUsize = AtomicUsize::new(0);
    /// The end of linear memory as this `sbrk` last left it (0: not yet used).
    static RESERVED_END: AtomicUsize = AtomicUsize::new(0);
    /// Pages this `sbrk` has grown memory by.
    static GROWN_PAGES: AtomicUsize = AtomicUsize::new(0);

    /// `sbrk(3)` for wasi-libc's dlmalloc: `increment` bytes, a multiple of
    /// the page size and not negative (dlmalloc asks for nothing else;
    /// anything else fails as out of memory).
    ///
    /// # Safety
    ///
    /// Only the allocator calls it (an instance runs one thread).
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn sbrk(increment: isize) -> *mut u8 {
        let memory_end = memory_size(0) * PAGE_BYTES;
        if RESERVED_END.load(Ordering::Relaxed) != memory_end {
            // First use, or memory grown by someone else: what lies below the
            // end of memory is not ours to hand out.
            BREAK.store(memory_end, Ordering::Relaxed);
            RESERVED_END.store(memory_end, Ordering::Relaxed);
        }
        let brk = BREAK.load(Ordering::Relaxed);
        let Ok(increment) = usize::try_from(increment) else { return FAILED };
        if increment % PAGE_BYTES != 0 {
            return FAILED;
        }
        let Some(new_break) = brk.checked_add(increment) else { return FAILED };
        if new_break > memory_end {
            let shortfall = (new_break - memory_end).div_ceil(PAGE_BYTES);
            let step = growth_pages(shortfall, GROWN_PAGES.load(Ordering::Relaxed));
            let grown = if memory_grow(0, step) != usize::MAX {
                step
            } else if step > shortfall && memory_grow(0, shortfall) != usize::MAX {
                shortfall
            } else {
                return FAILED;
            };
            GROWN_PAGES.fetch_add(grown, Ordering::Relaxed);
            RESERVED_END.store(memory_end + grown * PAGE_BYTES, Ordering::Relaxed);
        }
        BREAK.store(new_break, Ordering::Relaxed);
        brk as *mut u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_growth_is_just_the_shortfall() {
        assert_eq!(growth_pages(1, 0), 1);
        assert_eq!(growth_pages(3, 0), 3);
    }

    #[test]
    fn later_growths_double_the_heap() {
        assert_eq!(growth_pages(1, 1), 1);
        assert_eq!(growth_pages(1, 2), 2);
        assert_eq!(growth_pages(1, 8), 8);
        assert_eq!(growth_pages(14, 8), 14);
    }

    #[test]
    fn the_step_beyond_the_shortfall_is_capped() {
        assert_eq!(growth_pages(1, 1000), 1 + MAX_STEP_PAGES);
        assert_eq!(growth_pages(40, 1000), 40 + MAX_STEP_PAGES);
    }
}
