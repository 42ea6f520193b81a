//! G.711 (ITU-T): μ-law (PCMU, payload type 0) and A-law (PCMA, payload type 8) from and to 16-bit
//! linear PCM. Decoding is a 256-entry table built at compile time; encoding follows the segment search
//! of the reference algorithm (bias 0x84 for μ-law, 13-bit magnitude for A-law).

const fn ulaw_to_linear(code: u8) -> i16 {
    let u = !code;
    let exponent = (u >> 4) & 0x07;
    let mantissa = (u & 0x0f) as i32;
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    if u & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn alaw_to_linear(code: u8) -> i16 {
    let a = code ^ 0x55;
    let exponent = (a >> 4) & 0x07;
    let mantissa = (a & 0x0f) as i32;
    let magnitude = if exponent == 0 {
        (mantissa << 4) + 8
    } else {
        ((mantissa << 4) + 0x108) << (exponent - 1)
    };
    if a & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const fn table(alaw: bool) -> [i16; 256] {
    let mut t = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = if alaw {
            alaw_to_linear(i as u8)
        } else {
            ulaw_to_linear(i as u8)
        };
        i += 1;
    }
    t
}

static ULAW_DECODE: [i16; 256] = table(false);
static ALAW_DECODE: [i16; 256] = table(true);

pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_DECODE[usize::from(code)]
}

pub fn alaw_decode(code: u8) -> i16 {
    ALAW_DECODE[usize::from(code)]
}

/// The segment (exponent) of a magnitude: the position of its highest set bit above bit `base`.
fn segment(magnitude: i32, base: u32) -> u8 {
    let bits = 32 - (magnitude >> base).leading_zeros();
    bits.min(7) as u8
}

pub fn ulaw_encode(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let s = i32::from(sample);
    let sign = if s < 0 { 0x80 } else { 0 };
    let magnitude = s.abs().min(CLIP) + BIAS;
    let exponent = segment(magnitude, 8);
    let mantissa = ((magnitude >> (exponent + 3)) & 0x0f) as u8;
    !(sign | (exponent << 4) | mantissa)
}

pub fn alaw_encode(sample: i16) -> u8 {
    let s = i32::from(sample);
    let (sign, magnitude) = if s >= 0 {
        (0x80, s)
    } else {
        (0, (-s - 1).max(0))
    };
    let magnitude = magnitude.min(0x7fff) >> 3; // 13-bit linear
    let exponent = segment(magnitude, 5);
    let mantissa = if exponent == 0 {
        (magnitude >> 1) & 0x0f
    } else {
        (magnitude >> exponent) & 0x0f
    } as u8;
    (sign | (exponent << 4) | mantissa) ^ 0x55
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // Silence codes and extremes of both laws.
        assert_eq!(ulaw_decode(0xff), 0);
        assert_eq!(ulaw_decode(0x7f), 0);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(alaw_decode(0xd5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xaa), 32256);
        assert_eq!(alaw_decode(0x2a), -32256);
        assert_eq!(ulaw_encode(0), 0xff);
        assert_eq!(alaw_encode(0), 0xd5);
    }

    #[test]
    fn every_code_survives_decode_then_encode() {
        for code in 0..=255u8 {
            let u = ulaw_decode(code);
            // μ-law has two codes for zero (0x7f and 0xff); both decode to 0, which encodes to 0xff.
            let expect = if u == 0 { 0xff } else { code };
            assert_eq!(ulaw_encode(u), expect, "μ-law code {code:#04x}");
            assert_eq!(
                alaw_encode(alaw_decode(code)),
                code,
                "A-law code {code:#04x}"
            );
        }
    }

    #[test]
    fn quantisation_error_stays_within_the_segment_step() {
        for s in (i16::MIN..=i16::MAX).step_by(7) {
            let u = i32::from(ulaw_decode(ulaw_encode(s)));
            let a = i32::from(alaw_decode(alaw_encode(s)));
            let err_u = (u - i32::from(s)).abs();
            let err_a = (a - i32::from(s)).abs();
            // The largest step of either law is 1024 (μ) / 1024 (A) in the top segment.
            assert!(err_u <= 1024, "μ-law {s}: {u}");
            assert!(err_a <= 1024, "A-law {s}: {a}");
            assert!(
                err_u <= i32::from(s).abs() / 16 + 16,
                "μ-law relative error at {s}: {u}"
            );
        }
    }
}
