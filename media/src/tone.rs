//! How much of a block of audio is at one frequency (Goertzel). The DTMF detector uses it, and so do
//! tests and tools that must check *what* audio arrived — a tone at the frequency sent — rather than
//! merely that packets came.

/// Goertzel power at `freq` in `samples` (sampled at `rate` Hz). A sine of amplitude A over N samples
/// gives about (A·N/2)².
pub fn goertzel_power(samples: &[i16], freq: f64, rate: f64) -> f64 {
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / rate).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0)
}

/// Share of the block's energy at `freq`: about 1 for a pure sine at `freq`, about 0 for silence or
/// other frequencies.
pub fn tone_share(samples: &[i16], freq: f64, rate: f64) -> f64 {
    let energy: f64 = samples.iter().map(|&x| f64::from(x).powi(2)).sum();
    goertzel_power(samples, freq, rate) / (energy * samples.len() as f64 / 2.0).max(1.0)
}

/// Peak amplitude of the `freq` component (a sine of amplitude A gives about A).
pub fn tone_amplitude(samples: &[i16], freq: f64, rate: f64) -> f64 {
    2.0 * goertzel_power(samples, freq, rate).sqrt() / samples.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amplitude: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (amplitude * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn a_sine_is_found_at_its_frequency_and_nowhere_else() {
        let s = sine(1000.0, 8000.0, 8000);
        assert!(tone_share(&s, 1000.0, 8000.0) > 0.99);
        assert!(tone_share(&s, 1300.0, 8000.0) < 0.001);
        assert!((tone_amplitude(&s, 1000.0, 8000.0) - 8000.0).abs() < 40.0);
        assert_eq!(tone_share(&[0; 160], 1000.0, 8000.0), 0.0);
    }
}
