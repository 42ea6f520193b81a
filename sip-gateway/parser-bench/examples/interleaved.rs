//! A cross-check of `parse_compare` that holds up on a shared, loaded machine: the variants run in
//! short interleaved batches (round-robin, `ROUNDS` rounds of `BATCH` parses each), so a burst of load
//! from other processes hits every variant alike. Prints, per message, the median and the minimum
//! nanoseconds per message of each variant, and the throughput ratios of the medians. Same code and
//! messages as the benchmark.
//!
//! Run: `cargo run -p sip-parser-bench --example interleaved --release`

use std::hint::black_box;
use std::time::Instant;

#[path = "../benches/parse_compare/variants.rs"]
mod variants;

const ROUNDS: usize = 300;
const BATCH: usize = 100;

const NAMES: [&str; 7] = [
    "ours_slice",
    "ours_bytes",
    "rsip",
    "rsipstack",
    "ours_slice_parse_only",
    "rsip_parse_only",
    "rsipstack_parse_only",
];

struct Input {
    name: &'static str,
    slices: Vec<&'static [u8]>,
    owned: Vec<bytes::Bytes>,
}

fn sink(r: variants::Read<'_>) {
    black_box(&r);
}

/// Runs variant `v` once over every message of `input`.
fn run(v: usize, input: &Input) {
    for (m, o) in input.slices.iter().zip(&input.owned) {
        let m = black_box(*m);
        match v {
            0 => variants::ours_slice(m, sink),
            1 => variants::ours_bytes(black_box(o.clone()), sink),
            2 => variants::rsip(m, sink),
            3 => variants::rsipstack(m, sink),
            4 => drop(black_box(variants::ours_slice_parse_only(m))),
            5 => drop(black_box(variants::rsip_parse_only(m))),
            _ => drop(black_box(variants::rsipstack_parse_only(m))),
        }
    }
}

/// ns per message of one batch.
fn batch(v: usize, input: &Input) -> f64 {
    let t = Instant::now();
    for _ in 0..BATCH {
        run(v, input);
    }
    t.elapsed().as_nanos() as f64 / (BATCH * input.slices.len()) as f64
}

fn main() {
    // Leaked so the slices are 'static; a one-shot program.
    let all: &'static [sip_parser_bench::Sample] = Vec::leak(sip_parser_bench::messages());
    let mut inputs: Vec<Input> = all
        .iter()
        .map(|s| Input {
            name: s.name,
            slices: vec![s.bytes.as_slice()],
            owned: vec![bytes::Bytes::from(s.bytes.clone())],
        })
        .collect();
    inputs.push(Input {
        name: "all_four",
        slices: all.iter().map(|s| s.bytes.as_slice()).collect(),
        owned: all
            .iter()
            .map(|s| bytes::Bytes::from(s.bytes.clone()))
            .collect(),
    });

    println!("ns per message, median / min of {ROUNDS} interleaved batches of {BATCH}");
    println!();
    print!("| message |");
    for n in NAMES {
        print!(" {n} |");
    }
    println!(" ours_slice/rsip | ours_slice/rsipstack | ours_bytes/rsip | ours_bytes/rsipstack |");
    println!("|---|{}---:|---:|---:|---:|", "---:|".repeat(NAMES.len()));
    for input in &inputs {
        for v in 0..NAMES.len() {
            batch(v, input); // warm-up
        }
        let mut times = vec![Vec::with_capacity(ROUNDS); NAMES.len()];
        for _ in 0..ROUNDS {
            for (v, t) in times.iter_mut().enumerate() {
                t.push(batch(v, input));
            }
        }
        let mut med = Vec::new();
        print!("| {} |", input.name);
        for t in &mut times {
            t.sort_by(f64::total_cmp);
            med.push(t[t.len() / 2]);
            print!(" {:.0} / {:.0} |", t[t.len() / 2], t[0]);
        }
        // Throughput ratio = inverse time ratio.
        println!(
            " {:.2}x | {:.2}x | {:.2}x | {:.2}x |",
            med[2] / med[0],
            med[3] / med[0],
            med[2] / med[1],
            med[3] / med[1]
        );
    }
}
