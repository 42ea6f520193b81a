//! Known tones for media tests: a μ-law WAV to feed SIPp's rtp_stream (the measuring side is
//! `switchboard_media::tone`).

use std::path::Path;

use switchboard_media::g711;

/// An 8 kHz μ-law WAV (what SIPp's rtp_stream plays) with a sine at `freq`.
pub fn write_tone_wav(path: &Path, freq: f32, seconds: f32) {
    let n = (8000.0 * seconds) as usize;
    let data: Vec<u8> = (0..n)
        .map(|i| {
            let v = 8000.0 * (2.0 * std::f32::consts::PI * freq * i as f32 / 8000.0).sin();
            g711::ulaw_encode(v as i16)
        })
        .collect();
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&7u16.to_le_bytes());
    fmt.extend_from_slice(&1u16.to_le_bytes());
    fmt.extend_from_slice(&8000u32.to_le_bytes());
    fmt.extend_from_slice(&8000u32.to_le_bytes());
    fmt.extend_from_slice(&1u16.to_le_bytes());
    fmt.extend_from_slice(&8u16.to_le_bytes());
    let mut riff = b"WAVEfmt ".to_vec();
    riff.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    riff.extend_from_slice(&fmt);
    riff.extend_from_slice(b"data");
    riff.extend_from_slice(&(data.len() as u32).to_le_bytes());
    riff.extend_from_slice(&data);
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(riff.len() as u32).to_le_bytes());
    file.extend_from_slice(&riff);
    std::fs::write(path, file).expect("write tone");
}

/// A 48 kHz 16-bit PCM WAV with a sine at `freq`: what Chromium's fake microphone plays
/// (`--use-file-for-fake-audio-capture` reads PCM only).
pub fn write_pcm_tone_wav(path: &Path, freq: f32, seconds: f32) {
    let rate = 48_000u32;
    let n = (rate as f32 * seconds) as usize;
    let mut data = Vec::with_capacity(n * 2);
    for i in 0..n {
        let v = 8000.0 * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin();
        data.extend_from_slice(&(v as i16).to_le_bytes());
    }
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&1u16.to_le_bytes());
    fmt.extend_from_slice(&1u16.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&(rate * 2).to_le_bytes());
    fmt.extend_from_slice(&2u16.to_le_bytes());
    fmt.extend_from_slice(&16u16.to_le_bytes());
    let mut riff = b"WAVEfmt ".to_vec();
    riff.extend_from_slice(&(fmt.len() as u32).to_le_bytes());
    riff.extend_from_slice(&fmt);
    riff.extend_from_slice(b"data");
    riff.extend_from_slice(&(data.len() as u32).to_le_bytes());
    riff.extend_from_slice(&data);
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(riff.len() as u32).to_le_bytes());
    file.extend_from_slice(&riff);
    std::fs::write(path, file).expect("write tone");
}

/// Quarter seconds of `audio` where `hz` is most of the signal (a phone "heard" a tone).
pub fn tone_quarters(audio: &switchboard_media::wav::WavAudio, hz: f64) -> usize {
    let quarter = audio.rate as usize / 4;
    audio
        .samples
        .chunks(quarter)
        .filter(|w| {
            w.len() == quarter
                && switchboard_media::tone::tone_share(w, hz, f64::from(audio.rate)) > 0.6
        })
        .count()
}
