//! Parser throughput: Switchboard's `sip-message` against `rsip` 0.4 and `rsipstack` 0.7, on the same
//! four realistic messages (`sip_parser_bench::messages()`: REGISTER with digest credentials and an
//! outbound Contact, INVITE through two proxies with a 15-line SDP offer, its 200 OK with an SDP answer,
//! and an in-dialog BYE).
//!
//! Run: `cargo bench -p sip-parser-bench --bench parse_compare` (about 1 minute 45 s after the build).
//!
//! # What each variant does (per message, all timed, including dropping what it built)
//!
//! | id           | parse                                              | then reads                              |
//! |--------------|----------------------------------------------------|-----------------------------------------|
//! | `ours_slice` | `sip_message::parse_slice(&[u8], &Limits::default())`: one copy into `Bytes`, full parse with grammar checks of Via/From/To/Contact/CSeq/Call-ID/Max-Forwards/Expires/Content-Length | `top_via()`, `from()`, `to()`, `call_id()`, `cseq()` of `SipHeaders` (each re-parses its header into a typed struct) |
//! | `ours_bytes` | `sip_message::parse(Bytes, …)`: the same without the copy (the `Bytes` is a refcounted clone of the datagram, as in Switchboard's endpoint) | the same |
//! | `rsip`       | `rsip::SipMessage::try_from(&[u8])`: nom tokenizer, typed start line, headers kept as `String`s | `via_header()?.typed()`, `from_header()?.typed()`, `to_header()?.typed()`, `cseq_header()?.typed()`, `call_id_header()?.value()` |
//! | `rsipstack`  | `rsipstack::sip::SipMessage::try_from(&[u8])` (what its UDP/stream/WebSocket transports call): memchr line splitter, typed start line, headers kept as `String`s | `top_via_header()?.typed()`, `from_header()?.typed()`, `to_header()?.typed()`, `cseq_header()?.typed()`, `call_id_header()?.value()` |
//!
//! From each, the variant takes the top Via branch, From tag, To tag, Call-ID, CSeq number and method
//! and the body length, and passes them to `black_box`. The exact code is in `parse_compare/variants.rs`;
//! the unit tests of the crate run that same code on every message and check the values read.
//!
//! # Groups
//!
//! One group per message (`register`, `invite`, `ok200`, `bye`, `Throughput::Elements(1)`), and
//! `all_four`, which parses the four messages in turn per iteration (`Throughput::Elements(4)`): its
//! throughput is messages per second over an even mix of the four. `all_four` also times the parse step
//! alone (`*_parse_only`: the entry point above, the message dropped, no header read) to show how the
//! cost splits between parsing and the header reads.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sip_parser_bench::{messages, Sample};

#[path = "parse_compare/variants.rs"]
mod variants;

/// Consumes what a variant read, so none of the reads can be optimised away.
fn sink(r: variants::Read<'_>) {
    black_box(&r);
}

fn bench_one(c: &mut Criterion, s: &Sample) {
    let slice: &[u8] = &s.bytes;
    let owned = Bytes::from(s.bytes.clone());
    let mut g = c.benchmark_group(s.name);
    g.throughput(Throughput::Elements(1));
    g.bench_function("ours_slice", |b| {
        b.iter(|| variants::ours_slice(black_box(slice), sink))
    });
    g.bench_function("ours_bytes", |b| {
        b.iter(|| variants::ours_bytes(black_box(owned.clone()), sink))
    });
    g.bench_function("rsip", |b| {
        b.iter(|| variants::rsip(black_box(slice), sink))
    });
    g.bench_function("rsipstack", |b| {
        b.iter(|| variants::rsipstack(black_box(slice), sink))
    });
    g.finish();
}

fn bench_all(c: &mut Criterion) {
    let all = messages();
    for s in &all {
        bench_one(c, s);
    }

    let slices: Vec<&[u8]> = all.iter().map(|s| s.bytes.as_slice()).collect();
    let owned: Vec<Bytes> = all.iter().map(|s| Bytes::from(s.bytes.clone())).collect();
    let mut g = c.benchmark_group("all_four");
    g.throughput(Throughput::Elements(all.len() as u64));
    g.bench_function("ours_slice", |b| {
        b.iter(|| {
            for m in &slices {
                variants::ours_slice(black_box(m), sink);
            }
        })
    });
    g.bench_function("ours_bytes", |b| {
        b.iter(|| {
            for m in &owned {
                variants::ours_bytes(black_box(m.clone()), sink);
            }
        })
    });
    g.bench_function("rsip", |b| {
        b.iter(|| {
            for m in &slices {
                variants::rsip(black_box(m), sink);
            }
        })
    });
    g.bench_function("rsipstack", |b| {
        b.iter(|| {
            for m in &slices {
                variants::rsipstack(black_box(m), sink);
            }
        })
    });
    // Breakdown: the parse step alone, without reading any header afterwards.
    g.bench_function("ours_slice_parse_only", |b| {
        b.iter(|| {
            for m in &slices {
                black_box(variants::ours_slice_parse_only(black_box(m)));
            }
        })
    });
    g.bench_function("rsip_parse_only", |b| {
        b.iter(|| {
            for m in &slices {
                black_box(variants::rsip_parse_only(black_box(m)));
            }
        })
    });
    g.bench_function("rsipstack_parse_only", |b| {
        b.iter(|| {
            for m in &slices {
                black_box(variants::rsipstack_parse_only(black_box(m)));
            }
        })
    });
    g.finish();
}

fn config() -> Criterion {
    // 23 benchmarks x (1 s warm-up + 3 s measurement) plus analysis: about 1 minute 45 s.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(60)
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_all
}
criterion_main!(benches);
