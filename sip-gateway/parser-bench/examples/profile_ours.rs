//! Loops our parser over the four messages for `perf record` (not a benchmark: it prints nothing useful).
//!
//! Run: `cargo build -p sip-parser-bench --example profile_ours --release && perf record -g target/release/examples/profile_ours`

use std::hint::black_box;

#[allow(dead_code)]
#[path = "../benches/parse_compare/variants.rs"]
mod variants;

fn main() {
    let all = sip_parser_bench::messages();
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    for i in 0..n {
        let s = &all[i % all.len()];
        variants::ours_slice(black_box(&s.bytes), |r| {
            black_box(&r);
        });
    }
}
