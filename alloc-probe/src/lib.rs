//! A counting global allocator for tests that prove a hot path makes no
//! heap allocation (the runtime's policy step and wire codec, the ONNX
//! policy, the simulators' batched stepping).
//!
//! A test binary installs it and measures a closure:
//!
//! ```
//! use murmur_alloc_probe::{allocations_in, CountingAllocator};
//!
//! #[global_allocator]
//! static ALLOCATOR: CountingAllocator = CountingAllocator;
//!
//! fn main() {
//!     let mut buffer = vec![0.0f32; 64];
//!     let n = allocations_in(|| buffer.iter_mut().for_each(|x| *x += 1.0));
//!     assert_eq!(n, 0, "the hot path touched the heap");
//!     assert_eq!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 64]))), 1);
//! }
//! ```
//!
//! Only the calling thread is counted: the test harness's own threads
//! (output capture, slow-test notices) allocate whenever they like.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting allocations and reallocations made by a
/// thread inside [`allocations_in`].
pub struct CountingAllocator;

thread_local! {
    /// Allocations made by this thread while counting is on (`None`: off).
    static COUNT: Cell<Option<usize>> = const { Cell::new(None) };
}

fn note() {
    // `try_with`: an allocation during thread-local teardown is not counted
    // rather than a panic inside the allocator.
    let _ = COUNT.try_with(|c| {
        if let Some(n) = c.get() {
            c.set(Some(n + 1));
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`; counting touches
// only a thread-local `Cell` and never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Heap allocations (and reallocations) that `f` makes on this thread.
///
/// # Panics
///
/// If [`CountingAllocator`] is not the test binary's global allocator: a
/// probe allocation made first must be counted, so a test that forgot to
/// install it fails instead of passing with a count of zero.
pub fn allocations_in(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(Some(0)));
    drop(std::hint::black_box(Box::new(0u64)));
    let probe = COUNT.with(|c| c.replace(Some(0)));
    assert_eq!(
        probe,
        Some(1),
        "murmur_alloc_probe::CountingAllocator is not the global allocator: add \
         `#[global_allocator] static ALLOCATOR: CountingAllocator = CountingAllocator;`"
    );
    f();
    COUNT.with(|c| c.replace(None)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "is not the global allocator")]
    fn counting_without_the_allocator_installed_fails_loudly() {
        allocations_in(|| ());
    }
}
