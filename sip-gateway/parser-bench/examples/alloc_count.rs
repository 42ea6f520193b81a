//! Heap allocations per message for each variant of the `parse_compare` benchmark (same code, same
//! messages), counted with a wrapping global allocator. Explains much of the time difference.
//!
//! Run: `cargo run -p sip-parser-bench --example alloc_count --release`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

#[path = "../benches/parse_compare/variants.rs"]
mod variants;

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; it only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size(), Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size, Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn count(f: impl FnOnce()) -> (usize, usize) {
    let (a, b) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    f();
    (ALLOCS.load(Relaxed) - a, BYTES.load(Relaxed) - b)
}

fn main() {
    let sink = |r: variants::Read<'_>| {
        std::hint::black_box(&r);
    };
    println!("| message | bytes | variant | allocations | bytes allocated |");
    println!("|---|---:|---|---:|---:|");
    for s in sip_parser_bench::messages() {
        let owned = bytes::Bytes::from(s.bytes.clone());
        let owned2 = owned.clone(); // promote the Vec-backed Bytes before counting
        drop(owned2);
        let rows: [(&str, (usize, usize)); 7] = [
            ("ours_slice", count(|| variants::ours_slice(&s.bytes, sink))),
            (
                "ours_bytes",
                count(|| variants::ours_bytes(owned.clone(), sink)),
            ),
            ("rsip", count(|| variants::rsip(&s.bytes, sink))),
            ("rsipstack", count(|| variants::rsipstack(&s.bytes, sink))),
            (
                "ours_slice_parse_only",
                count(|| drop(variants::ours_slice_parse_only(&s.bytes))),
            ),
            (
                "rsip_parse_only",
                count(|| drop(variants::rsip_parse_only(&s.bytes))),
            ),
            (
                "rsipstack_parse_only",
                count(|| drop(variants::rsipstack_parse_only(&s.bytes))),
            ),
        ];
        for (name, (n, b)) in rows {
            println!("| {} | {} | {name} | {n} | {b} |", s.name, s.bytes.len());
        }
    }
}
