//! DTMF: RFC 4733 telephone-event payloads, and an in-band detector (Goertzel) for legs that send tones
//! as audio. Both are pure: samples and payloads in, digits out.

/// One RFC 4733 telephone-event payload (§2.3): event, end bit, volume, duration in timestamp units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    pub event: u8,
    pub end: bool,
    /// Power level in −dBm0 (0–63).
    pub volume: u8,
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first event of a payload (further events may follow in redundant form).
    pub fn parse(payload: &[u8]) -> Option<TelephoneEvent> {
        let b = payload.get(..4)?;
        Some(TelephoneEvent {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    pub fn write(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3f),
            d[0],
            d[1],
        ]
    }

    /// The DTMF digit of events 0–15 (`0`–`9`, `*`, `#`, `A`–`D`).
    pub fn digit(&self) -> Option<char> {
        event_digit(self.event)
    }
}

pub fn event_digit(event: u8) -> Option<char> {
    b"0123456789*#ABCD"
        .get(usize::from(event))
        .map(|&c| c as char)
}

const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
const KEYPAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

fn goertzel(samples: &[i16], freq: f32, rate: f32) -> f32 {
    crate::tone::goertzel_power(samples, f64::from(freq), f64::from(rate)) as f32
}

/// Finds the DTMF digit in one block of linear samples (ITU-T Q.24 style checks): one row and one column
/// tone clearly above the others, no large twist between them, and most of the block's energy in the two.
/// A block of 20–40 ms (160–320 samples at 8 kHz) suits Goertzel's resolution.
pub fn detect_digit(samples: &[i16], rate: u32) -> Option<char> {
    if samples.len() < 100 {
        return None;
    }
    let rate = rate as f32;
    // Arrays, not Vecs: the relay may run this on every packet of a leg without telephone-event.
    let row: [f32; 4] = ROWS.map(|f| goertzel(samples, f, rate));
    let col: [f32; 4] = COLS.map(|f| goertzel(samples, f, rate));
    let best = |v: &[f32]| -> (usize, f32, f32) {
        let mut idx = 0;
        for i in 1..v.len() {
            if v[i] > v[idx] {
                idx = i;
            }
        }
        let second = v
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != idx)
            .map(|(_, &p)| p)
            .fold(0.0, f32::max);
        (idx, v[idx], second)
    };
    let (r, rp, r2) = best(&row);
    let (c, cp, c2) = best(&col);
    let energy: f32 = samples
        .iter()
        .map(|&x| f32::from(x) * f32::from(x))
        .sum::<f32>()
        * samples.len() as f32;
    // Goertzel power of a sine of amplitude A over N samples is about (A·N/2)², and a two-tone block's
    // energy·N is about A²·N²: a clean digit puts about a quarter in each bin, half in the two together.
    // Accept 70 % of that, so noise and speech (energy spread over many frequencies) are refused.
    let in_band = (rp + cp) / energy.max(1.0);
    let twist_ok = rp < 8.0 * cp && cp < 8.0 * rp;
    let dominant = rp > 8.0 * r2 && cp > 8.0 * c2;
    (in_band > 0.35 && twist_ok && dominant && energy > 1e6).then(|| KEYPAD[r][c])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freqs: &[f32], amplitude: f32, n: usize, rate: f32) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f32 / rate;
                let v: f32 = freqs
                    .iter()
                    .map(|f| (2.0 * std::f32::consts::PI * f * t).sin())
                    .sum();
                (amplitude * v) as i16
            })
            .collect()
    }

    #[test]
    fn telephone_event_round_trip() {
        // RFC 4733 §2.3: digit 1, end, volume 10, duration 800.
        let e = TelephoneEvent::parse(&[1, 0x8a, 0x03, 0x20]).expect("4 bytes");
        assert_eq!(
            e,
            TelephoneEvent {
                event: 1,
                end: true,
                volume: 10,
                duration: 800
            }
        );
        assert_eq!(e.digit(), Some('1'));
        assert_eq!(e.write(), [1, 0x8a, 0x03, 0x20]);
        assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), None);
        assert_eq!(event_digit(11), Some('#'));
        assert_eq!(event_digit(16), None);
    }

    #[test]
    fn detects_every_key_and_nothing_else() {
        for (r, row) in ROWS.iter().enumerate() {
            for (c, col) in COLS.iter().enumerate() {
                let s = tone(&[*row, *col], 6000.0, 320, 8000.0);
                assert_eq!(detect_digit(&s, 8000), Some(KEYPAD[r][c]), "{row}+{col}");
            }
        }
        // A single tone, speech-like noise, silence, and a 1 kHz test tone are not digits.
        assert_eq!(
            detect_digit(&tone(&[697.0], 8000.0, 320, 8000.0), 8000),
            None
        );
        assert_eq!(
            detect_digit(&tone(&[1000.0], 8000.0, 320, 8000.0), 8000),
            None
        );
        assert_eq!(detect_digit(&vec![0; 320], 8000), None);
        let mut seed = 1u32;
        let noise: Vec<i16> = (0..320)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                ((seed >> 16) as i16) / 4
            })
            .collect();
        assert_eq!(detect_digit(&noise, 8000), None);
    }

    #[test]
    fn survives_g711_round_trip() {
        // A '1' sent through μ-law, as on a cellular leg, is still detected.
        let s = tone(&[697.0, 1209.0], 4000.0, 320, 8000.0);
        let through: Vec<i16> = s
            .iter()
            .map(|&x| crate::g711::ulaw_decode(crate::g711::ulaw_encode(x)))
            .collect();
        assert_eq!(detect_digit(&through, 8000), Some('1'));
    }
}
