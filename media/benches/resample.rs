//! One 20 ms frame through the converter in each direction the relay needs between G.711 (8 kHz) and
//! Opus (48 kHz): the cost per leg per frame.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use switchboard_media::resample::Resampler;

fn frame(rate: u32) -> Vec<i16> {
    (0..rate / 50)
        .map(|i| (8000.0 * (i as f64 * 0.37).sin()) as i16)
        .collect()
}

fn bench(c: &mut Criterion) {
    for (from, to) in [(48000, 8000), (8000, 48000), (16000, 8000), (8000, 16000)] {
        let input = frame(from);
        let mut r = Resampler::new(from, to).expect("supported");
        let mut out = Vec::with_capacity(r.max_output_len(input.len()));
        c.bench_function(&format!("resample {from}->{to}, 20 ms"), |b| {
            b.iter(|| {
                out.clear();
                r.process(black_box(&input), &mut out);
                black_box(out.len())
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
