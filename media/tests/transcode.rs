//! Transcoding in simulated time: a known tone in one codec comes out of the other at the same
//! frequency (checked by an independent decoder and a Goertzel filter), lost packets are concealed
//! without breaking the output clock, and output RTP numbering is continuous.

use std::time::{Duration, Instant};

use switchboard_media::g711;
use switchboard_media::rtp::RtpPacket;
use switchboard_media::transcode::{Codec, CodecSpec, OpusSettings, Transcoder};

const PCMU: CodecSpec = CodecSpec {
    codec: Codec::Pcmu,
    payload_type: 0,
};
const OPUS: CodecSpec = CodecSpec {
    codec: Codec::Opus,
    payload_type: 111,
};

fn tone(freq: f32, rate: u32, start: usize, n: usize) -> Vec<i16> {
    (start..start + n)
        .map(|i| {
            (8000.0 * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin()) as i16
        })
        .collect()
}

fn tone_share(samples: &[i16], freq: f32, rate: u32) -> f32 {
    switchboard_media::tone::tone_share(samples, f64::from(freq), f64::from(rate)) as f32
}

fn packet(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let p = RtpPacket {
        marker: false,
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
        ssrc: 0x1234,
        csrc: &[],
        extension: None,
        payload,
        padding: 0,
    };
    let mut out = vec![0u8; p.wire_len()];
    p.write(&mut out).expect("fits");
    out
}

/// Feeds `frames` 20 ms input packets (skipping those `lose` picks) in real-time order and collects
/// every output packet.
fn run(
    t: &mut Transcoder,
    frames: usize,
    input: impl Fn(usize) -> Vec<u8>,
    lose: impl Fn(usize) -> bool,
) -> Vec<Vec<u8>> {
    let t0 = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 1500];
    for i in 0..frames + 10 {
        let now = t0 + Duration::from_millis(20 * i as u64);
        if i < frames && !lose(i) {
            let raw = input(i);
            let p = RtpPacket::parse(&raw).expect("rtp");
            t.push(&p, now);
        }
        // Poll at the frame time and shortly after, as the runtime's timer would.
        for extra in [0u64, 5, 10, 15] {
            let at = now + Duration::from_millis(extra);
            while let Some(len) = t.poll_packet(at, &mut buf) {
                out.push(buf[..len].to_vec());
            }
        }
    }
    out
}

#[test]
fn a_pcmu_tone_comes_out_of_opus_at_the_same_frequency() {
    let mut t = Transcoder::new(PCMU, OPUS, &OpusSettings::default(), None).expect("transcoder");
    let out = run(
        &mut t,
        100,
        |i| {
            let pcm = tone(1000.0, 8000, i * 160, 160);
            let payload: Vec<u8> = pcm.iter().map(|&s| g711::ulaw_encode(s)).collect();
            packet(0, i as u16, (i * 160) as u32, &payload)
        },
        |_| false,
    );
    assert!(out.len() >= 95, "Opus packets out: {}", out.len());
    let mut dec = opus::Decoder::new(48000, opus::Channels::Mono).expect("decoder");
    let mut pcm = Vec::new();
    for (i, raw) in out.iter().enumerate() {
        let p = RtpPacket::parse(raw).expect("rtp");
        assert_eq!(p.payload_type, 111);
        assert_eq!(p.sequence, i as u16);
        assert_eq!(p.timestamp, (i * 960) as u32, "48 kHz RTP clock");
        assert_eq!(p.ssrc, 0x1234);
        assert_eq!(p.marker, i == 0);
        let mut frame = vec![0i16; 960];
        let n = dec
            .decode(p.payload, &mut frame, false)
            .expect("valid Opus");
        pcm.extend_from_slice(&frame[..n]);
    }
    // Skip the codec's start-up; look at one second in the middle.
    let window = &pcm[48000 / 2..48000 * 3 / 2];
    assert!(tone_share(window, 1000.0, 48000) > 0.8);
    assert!(tone_share(window, 1500.0, 48000) < 0.01);
}

#[test]
fn an_opus_tone_comes_out_of_pcmu_at_the_same_frequency() {
    let mut enc =
        opus::Encoder::new(48000, opus::Channels::Mono, opus::Application::Voip).expect("encoder");
    let mut t =
        Transcoder::new(OPUS, PCMU, &OpusSettings::default(), Some(77)).expect("transcoder");
    let packets: Vec<Vec<u8>> = (0..100)
        .map(|i| {
            let pcm = tone(700.0, 48000, i * 960, 960);
            let mut payload = vec![0u8; 400];
            let n = enc.encode(&pcm, &mut payload).expect("encode");
            packet(111, i as u16, (i * 960) as u32, &payload[..n])
        })
        .collect();
    let out = run(&mut t, 100, |i| packets[i].clone(), |_| false);
    assert!(out.len() >= 95);
    let mut pcm = Vec::new();
    for (i, raw) in out.iter().enumerate() {
        let p = RtpPacket::parse(raw).expect("rtp");
        assert_eq!((p.payload_type, p.ssrc), (0, 77));
        assert_eq!(p.timestamp, (i * 160) as u32, "8 kHz RTP clock");
        assert_eq!(p.payload.len(), 160);
        pcm.extend(p.payload.iter().map(|&c| g711::ulaw_decode(c)));
    }
    let window = &pcm[4000..12000];
    assert!(
        tone_share(window, 700.0, 8000) > 0.8,
        "{}",
        tone_share(window, 700.0, 8000)
    );
    assert!(tone_share(window, 1100.0, 8000) < 0.01);
}

#[test]
fn lost_packets_are_concealed_and_the_output_clock_runs_on() {
    let mut t = Transcoder::new(PCMU, OPUS, &OpusSettings::default(), None).expect("transcoder");
    let out = run(
        &mut t,
        100,
        |i| {
            let pcm = tone(1000.0, 8000, i * 160, 160);
            let payload: Vec<u8> = pcm.iter().map(|&s| g711::ulaw_encode(s)).collect();
            packet(0, i as u16, (i * 160) as u32, &payload)
        },
        |i| i % 10 == 5,
    );
    let c = t.counters();
    let j = t.jitter_counters();
    // Every lost frame is concealed, plus the frames the jitter buffer conceals after the stream ends
    // (`max_conceal`) and any it inserts to grow its delay.
    let trailing = u64::from(switchboard_media::jitter::JitterConfig::default().max_conceal);
    assert_eq!(c.frames_decoded, 90, "{c:?}");
    assert_eq!(
        c.frames_concealed,
        10 + trailing + j.expanded,
        "{c:?} {j:?}"
    );
    assert_eq!(c.packets_out, c.frames_decoded + c.frames_concealed);
    // One output packet per frame time, lost or not, numbered without gaps.
    assert_eq!(out.len() as u64, c.packets_out);
    assert!(out.len() >= 99, "{}", out.len());
    for (i, raw) in out.iter().enumerate() {
        let p = RtpPacket::parse(raw).expect("rtp");
        assert_eq!(p.sequence, i as u16);
        assert_eq!(p.timestamp, (i * 960) as u32);
    }
}

#[test]
fn garbage_opus_payloads_are_concealed_not_fatal() {
    let mut t = Transcoder::new(OPUS, PCMU, &OpusSettings::default(), None).expect("transcoder");
    let out = run(
        &mut t,
        20,
        |i| packet(111, i as u16, (i * 960) as u32, &[0xff; 3]),
        |_| false,
    );
    assert!(out.len() >= 19);
}
