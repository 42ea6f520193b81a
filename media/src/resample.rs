//! A band-limited sample-rate converter for 16-bit audio: a polyphase FIR whose prototype is a
//! Kaiser-windowed sinc, for any pair of rates 8000–48000 Hz whose ratio reduces to L/M with L and M at
//! most [`MAX_PHASES`] — 8000↔16000↔48000 (the product's rates) and also 44100, 22050, 11025 and 32000
//! Hz prompts.
//!
//! The converter is streaming: it keeps the input history across calls, so 20 ms frames fed one by one
//! give exactly the samples one call on the whole signal gives, with no seams at frame boundaries. Its
//! output is aligned with its input (output sample n sits at input time n·from/to); the price is a
//! look-ahead of [`ZERO_CROSSINGS`] samples at the lower rate (2 ms at 8 kHz), which [`Resampler::flush`]
//! releases at the end of a stream.

use crate::MediaError;

/// Largest L or M of the reduced ratio; bounds the coefficient table (at most about
/// 2·[`ZERO_CROSSINGS`]·`MAX_PHASES` coefficients, 128 KiB).
pub const MAX_PHASES: u32 = 1000;

/// Sinc zero crossings on each side of the centre, counted in samples of the lower rate. 16 gives 33
/// taps per phase when interpolating and a transition band of about 1.2 kHz at 8 kHz.
pub const ZERO_CROSSINGS: u32 = 16;

/// Kaiser β: about 80 dB of stopband attenuation.
const KAISER_BETA: f64 = 8.0;

/// Cut-off as a fraction of the lower rate's Nyquist frequency. At the Nyquist frequency itself the
/// telephone band stays flat at 8 kHz (3.5 kHz −0.1 dB) while 4.5 kHz, which would fold onto 3.5 kHz,
/// is already 42 dB down; a lower cut-off would dull speech to protect only the last few hundred Hz.
const CUTOFF: f64 = 1.0;

/// Samples kept ready at construction, so ordinary frames (up to 60 ms) never grow the buffers.
const RESERVE_MS: u32 = 60;

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn supported_rate(rate: u32) -> bool {
    (8000..=48000).contains(&rate)
}

/// The modified Bessel function of the first kind, order 0, by its power series (converges quickly for
/// the β used here).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..64 {
        term *= half / f64::from(k);
        let t2 = term * term;
        sum += t2;
        if t2 < sum * 1e-17 {
            break;
        }
    }
    sum
}

fn saturate(x: f32) -> i16 {
    // `as` saturates float-to-int conversions (and maps NaN to 0).
    x.round() as i16
}

/// A streaming sample-rate converter for one direction of one stream.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: u32,
    to: u32,
    /// Interpolation factor L of the reduced ratio to/from = L/M.
    up: u32,
    /// Decimation factor M.
    down: u32,
    /// Taps per phase.
    taps: usize,
    /// Centre of the prototype filter, in samples at the L·from rate.
    centre: u64,
    /// Phase-major; each phase's taps are stored reversed, so a phase is a plain dot product with the
    /// input window in time order.
    coeffs: Box<[f32]>,
    /// `taps - 1` samples of history followed by input not yet fully used.
    buf: Vec<f32>,
    /// Index in `buf` of the newest input sample the next output needs.
    next: usize,
    /// Phase (0..L) of the next output.
    phase: u32,
    total_in: u64,
    total_out: u64,
}

impl Resampler {
    /// Whether [`Resampler::new`] accepts this pair of rates.
    pub fn supports(from: u32, to: u32) -> bool {
        if !supported_rate(from) || !supported_rate(to) {
            return false;
        }
        let g = gcd(from, to);
        to / g <= MAX_PHASES && from / g <= MAX_PHASES
    }

    /// A converter from `from` Hz to `to` Hz; equal rates pass samples through untouched.
    pub fn new(from: u32, to: u32) -> Result<Resampler, MediaError> {
        for rate in [from, to] {
            if !supported_rate(rate) {
                return Err(MediaError::UnsupportedRate(rate));
            }
        }
        if !Resampler::supports(from, to) {
            return Err(MediaError::UnsupportedRate(to));
        }
        let g = gcd(from, to);
        let (up, down) = (to / g, from / g);
        let (coeffs, taps, centre) = if up == down {
            (vec![1.0f32].into_boxed_slice(), 1, 0)
        } else {
            design(up, down)
        };
        let reserve = taps * 2 + (from * RESERVE_MS / 1000) as usize;
        let mut r = Resampler {
            from,
            to,
            up,
            down,
            taps,
            centre,
            coeffs,
            buf: Vec::with_capacity(reserve),
            next: 0,
            phase: 0,
            total_in: 0,
            total_out: 0,
        };
        r.reset();
        Ok(r)
    }

    pub fn from_rate(&self) -> u32 {
        self.from
    }

    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// An upper bound on the samples one [`Resampler::process`] call on `input_len` samples appends
    /// (and, with 0, on what [`Resampler::flush`] appends), for sizing the caller's buffer once.
    pub fn max_output_len(&self, input_len: usize) -> usize {
        let held = self.taps as u64 + 1;
        let n = (input_len as u64 + held) * u64::from(self.up) / u64::from(self.down) + 1;
        usize::try_from(n).unwrap_or(usize::MAX)
    }

    /// Converts `input`, appending every output sample it completes to `out`. Allocates nothing once
    /// `out` has room and `input` is no longer than 60 ms.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        self.total_in += input.len() as u64;
        if self.is_identity() {
            out.extend_from_slice(input);
            self.total_out = self.total_in;
            return;
        }
        self.buf.extend(input.iter().map(|&s| f32::from(s)));
        self.run(out, u64::MAX);
    }

    /// Ends the stream: appends the outputs still owed for the input given so far (treating what would
    /// follow as silence), so that the whole stream yields ceil(input·to/from) samples, then resets.
    pub fn flush(&mut self, out: &mut Vec<i16>) {
        let owed =
            (u128::from(self.total_in) * u128::from(self.up)).div_ceil(u128::from(self.down));
        let owed = u64::try_from(owed).unwrap_or(u64::MAX);
        if !self.is_identity() {
            while self.total_out < owed {
                let zeros = self.taps;
                self.buf.resize(self.buf.len() + zeros, 0.0);
                self.run(out, owed);
            }
        }
        self.reset();
    }

    /// Forgets the history, as if the stream started now.
    pub fn reset(&mut self) {
        let history = self.taps - 1;
        self.buf.clear();
        self.buf.resize(history, 0.0);
        let up = u64::from(self.up);
        // Start at the filter's centre, so output 0 lines up with input 0 instead of lagging the
        // filter's group delay; the zeros stand for the silence before the stream.
        self.next = history + (self.centre / up) as usize;
        self.phase = (self.centre % up) as u32;
        self.total_in = 0;
        self.total_out = 0;
    }

    fn is_identity(&self) -> bool {
        self.up == self.down
    }

    fn run(&mut self, out: &mut Vec<i16>, limit: u64) {
        let k = self.taps;
        while self.next < self.buf.len() && self.total_out < limit {
            let p = self.phase as usize;
            let c = &self.coeffs[p * k..(p + 1) * k];
            let w = &self.buf[self.next + 1 - k..=self.next];
            out.push(saturate(dot(c, w)));
            self.total_out += 1;
            self.phase += self.down;
            self.next += (self.phase / self.up) as usize;
            self.phase %= self.up;
        }
        // Keep only the window the next output starts from; when decimating, the next output may lie
        // beyond what has arrived, and `next` then counts the samples still to skip.
        let used = (self.next + 1 - k).min(self.buf.len());
        self.buf.drain(..used);
        self.next -= used;
    }
}

/// Eight independent accumulators, so the compiler can vectorise without reassociating one sum.
fn dot(c: &[f32], w: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut cc = c.chunks_exact(8);
    let mut wc = w.chunks_exact(8);
    for (a, b) in (&mut cc).zip(&mut wc) {
        for i in 0..8 {
            acc[i] += a[i] * b[i];
        }
    }
    let tail: f32 = cc
        .remainder()
        .iter()
        .zip(wc.remainder())
        .map(|(a, b)| a * b)
        .sum();
    acc.iter().sum::<f32>() + tail
}

/// The polyphase table for to/from = up/down: (coefficients, taps per phase, centre).
fn design(up: u32, down: u32) -> (Box<[f32]>, usize, u64) {
    let l = up as usize;
    // Filter half-length in samples at the L·from rate: ZERO_CROSSINGS periods of the lower rate,
    // which is max(L, M) samples of the L·from rate.
    let half = (ZERO_CROSSINGS * up.max(down)) as usize;
    let len = 2 * half + 1;
    let taps = len.div_ceil(l);
    // Cut-off in cycles per sample at the L·from rate.
    let fc = CUTOFF * 0.5 / f64::from(up.max(down));
    let norm = bessel_i0(KAISER_BETA);
    let proto = |i: usize| -> f64 {
        if i >= len {
            return 0.0;
        }
        let x = i as f64 - half as f64;
        let sinc = if x == 0.0 {
            2.0 * fc
        } else {
            (2.0 * std::f64::consts::PI * fc * x).sin() / (std::f64::consts::PI * x)
        };
        let r = x / half as f64;
        let window = bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / norm;
        sinc * window
    };
    let mut coeffs = vec![0.0f32; l * taps];
    for p in 0..l {
        let phase: Vec<f64> = (0..taps).map(|k| proto(p + k * l)).collect();
        // Each phase on its own sums to 1, so a constant input comes out constant whatever the phase:
        // otherwise the phases' small gain differences would modulate silence offsets into a whine.
        let sum: f64 = phase.iter().sum();
        for (k, h) in phase.iter().enumerate() {
            coeffs[p * taps + (taps - 1 - k)] = (h / sum) as f32;
        }
    }
    (coeffs.into_boxed_slice(), taps, half as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tone(freq: f64, rate: u32, amplitude: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                (amplitude * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
            })
            .collect()
    }

    /// Amplitude of the `freq` component of `x` (Goertzel, normalised to the sine's peak).
    fn amplitude(x: &[i16], freq: f64, rate: u32) -> f64 {
        let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
        let coeff = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &v in x {
            let s = f64::from(v) + coeff * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        2.0 * power.max(0.0).sqrt() / x.len() as f64
    }

    fn db(ratio: f64) -> f64 {
        20.0 * ratio.log10()
    }

    fn convert(from: u32, to: u32, input: &[i16]) -> Vec<i16> {
        let mut r = Resampler::new(from, to).expect("supported");
        let mut out = Vec::new();
        r.process(input, &mut out);
        r.flush(&mut out);
        out
    }

    /// The middle 0.9 s of a 1 s signal: away from the ramps at both ends, and whole periods of any tone
    /// at a multiple of 10 Hz, so Goertzel sees no leakage.
    fn middle(x: &[i16], rate: u32) -> &[i16] {
        let skip = rate as usize / 20;
        &x[skip..x.len() - skip]
    }

    #[test]
    fn rates_and_ratios() {
        for (from, to) in [
            (8000, 48000),
            (48000, 8000),
            (16000, 8000),
            (44100, 8000),
            (11025, 48000),
        ] {
            assert!(Resampler::supports(from, to), "{from}->{to}");
        }
        assert_eq!(
            Resampler::new(8000, 96000).map(|_| ()),
            Err(MediaError::UnsupportedRate(96000))
        );
        assert_eq!(
            Resampler::new(7999, 8000).map(|_| ()),
            Err(MediaError::UnsupportedRate(7999))
        );
        // 8001/48000 does not reduce: 48000 phases would be needed.
        assert!(!Resampler::supports(8001, 48000));
    }

    #[test]
    fn lengths_are_exact_after_flush() {
        for (from, to) in [
            (8000, 48000),
            (48000, 8000),
            (16000, 48000),
            (48000, 16000),
            (44100, 8000),
            (8000, 8000),
        ] {
            for n in [0usize, 1, 7, 160, 16001] {
                let out = convert(from, to, &vec![100; n]);
                let expect = (n as u64 * u64::from(to)).div_ceil(u64::from(from)) as usize;
                assert_eq!(out.len(), expect, "{from}->{to} n={n}");
            }
        }
    }

    #[test]
    fn dc_passes_unchanged() {
        for (from, to) in [(8000, 48000), (48000, 8000), (16000, 8000), (44100, 16000)] {
            let out = convert(from, to, &vec![-1234; from as usize / 5]);
            let steady = middle(&out, to);
            assert!(
                steady.iter().all(|&s| (s + 1234).abs() <= 1),
                "{from}->{to}"
            );
        }
    }

    #[test]
    fn tone_survives_up_and_down() {
        let x = tone(1000.0, 8000, 10000.0, 8000);
        let up = convert(8000, 48000, &x);
        let back = convert(48000, 8000, &up);
        assert_eq!(back.len(), x.len());
        let a_up = amplitude(middle(&up, 48000), 1000.0, 48000);
        let a_back = amplitude(middle(&back, 8000), 1000.0, 8000);
        assert!(db(a_up / 10000.0).abs() < 0.1, "8k→48k: {a_up}");
        assert!(db(a_back / 10000.0).abs() < 0.1, "and back: {a_back}");
        // Aligned, not delayed: the round trip lands on the original samples.
        let worst = middle(&back, 8000)
            .iter()
            .zip(middle(&x, 8000))
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
            .max();
        assert!(
            worst.is_some_and(|w| w < 40),
            "round trip differs by {worst:?}"
        );
        // Interpolation leaves no images: nothing at 7 kHz (the 8 kHz image of 1 kHz) in 48 kHz.
        assert!(db(amplitude(middle(&up, 48000), 7000.0, 48000) / 10000.0) < -60.0);
    }

    #[test]
    fn passband_and_anti_aliasing_48k_to_8k() {
        let measure = |f: f64, alias: f64| {
            let out = convert(48000, 8000, &tone(f, 48000, 10000.0, 48000));
            db(amplitude(middle(&out, 8000), alias, 8000) / 10000.0)
        };
        let pass = measure(3400.0, 3400.0);
        assert!(pass.abs() < 0.5, "3.4 kHz: {pass:.2} dB");
        let edge = measure(3500.0, 3500.0);
        assert!(edge.abs() < 1.0, "3.5 kHz: {edge:.2} dB");
        // 6 kHz folds to 2 kHz at 8 kHz; 5 kHz folds to 3 kHz.
        let alias6 = measure(6000.0, 2000.0);
        assert!(alias6 < -40.0, "6 kHz leaks at {alias6:.1} dB");
        let alias5 = measure(5000.0, 3000.0);
        assert!(alias5 < -40.0, "5 kHz leaks at {alias5:.1} dB");
    }

    #[test]
    fn loud_input_saturates_instead_of_wrapping() {
        // A full-scale square wave overshoots (Gibbs); the overshoot must clip, not wrap negative.
        let square: Vec<i16> = (0..4800)
            .map(|i| {
                if (i / 40) % 2 == 0 {
                    i16::MAX
                } else {
                    i16::MIN
                }
            })
            .collect();
        let out = convert(48000, 8000, &square);
        for w in out.windows(2) {
            assert!(
                (i32::from(w[0]) - i32::from(w[1])).abs() < 60000,
                "wrapped: {w:?}"
            );
        }
        assert!(out.contains(&i16::MAX) && out.contains(&i16::MIN));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn frames_equal_one_shot(
            pair in prop::sample::select(vec![(8000u32, 48000u32), (48000, 8000), (8000, 16000), (16000, 8000),
                (16000, 48000), (48000, 16000), (44100, 8000), (8000, 44100), (8000, 8000)]),
            cuts in proptest::collection::vec(0usize..700, 1..12),
            seed in any::<u32>(),
        ) {
            let (from, to) = pair;
            let mut s = seed;
            let input: Vec<i16> = (0..cuts.iter().sum::<usize>())
                .map(|_| { s = s.wrapping_mul(1_103_515_245).wrapping_add(12345); (s >> 16) as i16 })
                .collect();
            let whole = convert(from, to, &input);
            let mut r = Resampler::new(from, to).expect("supported");
            let mut pieces = Vec::new();
            let mut at = 0;
            for c in cuts {
                let before = pieces.len();
                r.process(&input[at..at + c], &mut pieces);
                prop_assert!(pieces.len() - before <= r.max_output_len(c));
                at += c;
            }
            let before = pieces.len();
            r.flush(&mut pieces);
            prop_assert!(pieces.len() - before <= r.max_output_len(0));
            prop_assert_eq!(pieces, whole);
        }
    }
}
