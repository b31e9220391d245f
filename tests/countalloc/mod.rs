//! A counting global allocator for the memory tests (tests/engine_memory.rs,
//! tests/shadow_memory.rs): live bytes as requested (malloc's own overhead
//! not counted), live allocations, and the peak of live bytes. A test
//! binary that declares `mod countalloc;` allocates through it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering::Relaxed};

/// Counts live bytes (as requested), live allocations and the peak.
struct Counting;

pub static LIVE: AtomicIsize = AtomicIsize::new(0);
pub static COUNT: AtomicIsize = AtomicIsize::new(0);
pub static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size() as isize, Relaxed) + layout.size() as isize;
        COUNT.fetch_add(1, Relaxed);
        PEAK.fetch_max(live.max(0) as usize, Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        COUNT.fetch_sub(1, Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static A: Counting = Counting;
