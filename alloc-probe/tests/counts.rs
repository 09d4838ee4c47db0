//! With the allocator installed, allocations, zeroed allocations and
//! reallocations on the calling thread are counted; other threads' are not.

use murmur_alloc_probe::{allocations_in, CountingAllocator};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn counts_this_threads_allocations_and_reallocations() {
    assert_eq!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 64]))), 1);
    assert_eq!(allocations_in(|| drop(std::hint::black_box(vec![0u64; 64]))), 1);
    let grown = allocations_in(|| {
        let mut v = std::hint::black_box(Vec::<u8>::with_capacity(1));
        v.extend_from_slice(&[0; 4096]);
        drop(v);
    });
    assert_eq!(grown, 2, "one allocation and one reallocation");
    assert_eq!(allocations_in(|| assert_eq!(std::hint::black_box(2u64) * 21, 42)), 0);
}

#[test]
fn other_threads_are_not_counted() {
    use std::sync::{Arc, Barrier};
    // The barriers put the other thread's allocation inside this thread's
    // counting window, so a process-wide count would see it.
    let (start, end) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
    let (s, e) = (Arc::clone(&start), Arc::clone(&end));
    let handle = std::thread::spawn(move || {
        s.wait();
        drop(std::hint::black_box(vec![1u8; 64]));
        e.wait();
    });
    let n = allocations_in(|| {
        start.wait();
        end.wait();
    });
    handle.join().unwrap();
    assert_eq!(n, 0);
}
