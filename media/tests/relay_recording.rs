//! Recording a relayed call in simulated time: each side's audio lands in its own channel (or both in
//! the mix), at the right place on the timeline, and the file the relay's output makes is a valid WAV.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use switchboard_media::g711;
use switchboard_media::recording::Layout;
use switchboard_media::relay::{Channel, LegId, RecordingId, Relay, RelayConfig, RemoteMedia};
use switchboard_media::rtp::RtpPacket;
use switchboard_media::transcode::{Codec, CodecSpec};
use switchboard_media::wav::{self, ReadOptions};

/// The relay with the whole packet as its buffer (no room for an SRTP tag: these legs are plain).
fn feed(
    r: &mut Relay,
    leg: switchboard_media::relay::LegIndex,
    channel: Channel,
    src: std::net::SocketAddr,
    p: &mut [u8],
    now: std::time::Instant,
) -> switchboard_media::relay::Forward {
    let len = p.len();
    r.handle_packet(leg, channel, src, p, len, now)
}

const A: LegId = LegId(1);
const B: LegId = LegId(2);

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn packet(pt: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
    let p = RtpPacket {
        marker: false,
        payload_type: pt,
        sequence: seq,
        timestamp: u32::from(seq) * 160,
        ssrc: u32::from(pt) + 1,
        csrc: &[],
        extension: None,
        payload,
        padding: 0,
    };
    let mut out = vec![0u8; p.wire_len()];
    p.write(&mut out).expect("fits");
    out
}

fn tone_frame(freq: f32, frame: usize) -> Vec<i16> {
    (frame * 160..(frame + 1) * 160)
        .map(|i| (6000.0 * (2.0 * std::f32::consts::PI * freq * i as f32 / 8000.0).sin()) as i16)
        .collect()
}

fn share(samples: &[i16], freq: f32) -> f64 {
    switchboard_media::tone::tone_share(samples, f64::from(freq), 8000.0)
}

/// Runs a 2 s call: the caller says 440 Hz (PCMU) throughout, the callee 1000 Hz (PCMA) only in the
/// second second. Returns the finished WAV file.
fn record_call(layout: Layout) -> Vec<u8> {
    let t0 = Instant::now();
    let mut r = Relay::new(RelayConfig::default(), t0);
    let a = r.add_leg(A, t0);
    let b = r.add_leg(B, t0);
    r.set_remote(
        A,
        RemoteMedia {
            rtp: Some(addr("192.0.2.1:4000")),
            ..RemoteMedia::default()
        },
    )
    .expect("A");
    r.set_remote(
        B,
        RemoteMedia {
            rtp: Some(addr("192.0.2.2:4000")),
            ..RemoteMedia::default()
        },
    )
    .expect("B");
    r.bridge(A, B).expect("bridge");
    let pcmu = CodecSpec {
        codec: Codec::Pcmu,
        payload_type: 0,
    };
    let pcma = CodecSpec {
        codec: Codec::Pcma,
        payload_type: 8,
    };
    r.start_recording(RecordingId(7), (A, pcmu), (B, pcma), layout, 8000, t0)
        .expect("record");
    let mut file = Vec::new();
    for i in 0..100u16 {
        let now = t0 + Duration::from_millis(20 * u64::from(i));
        let caller: Vec<u8> = tone_frame(440.0, i.into())
            .iter()
            .map(|&s| g711::ulaw_encode(s))
            .collect();
        let mut p = packet(0, i, &caller);
        feed(&mut r, a, Channel::Rtp, addr("192.0.2.1:4000"), &mut p, now);
        if i >= 50 {
            let callee: Vec<u8> = tone_frame(1000.0, i.into())
                .iter()
                .map(|&s| g711::alaw_encode(s))
                .collect();
            let mut p = packet(8, i, &callee);
            feed(&mut r, b, Channel::Rtp, addr("192.0.2.2:4000"), &mut p, now);
        }
        while r.poll_recording(&mut file).is_some() {}
    }
    r.stop_recording(RecordingId(7), t0 + Duration::from_secs(2))
        .expect("stop");
    let mut header = None;
    while let Some(out) = r.poll_recording(&mut file) {
        if out.finished.is_some() {
            header = out.finished;
        }
    }
    let header = header.expect("finished recording carries its header");
    assert_eq!(header.total_len as usize, file.len());
    file[..header.header.len()].copy_from_slice(&header.header);
    assert!(
        r.poll_recording(&mut file).is_none(),
        "gone after its last output"
    );
    file
}

#[test]
fn a_stereo_recording_keeps_each_side_in_its_channel_on_one_timeline() {
    let file = record_call(Layout::Stereo);
    let audio = wav::read_with(
        &file,
        &ReadOptions {
            downmix: false,
            ..ReadOptions::default()
        },
    )
    .expect("valid WAV");
    assert_eq!((audio.rate, audio.channels), (8000, 2));
    let frames = audio.samples.len() / 2;
    assert!(
        (15_900..=16_000).contains(&frames),
        "2 s of audio, got {frames} frames"
    );
    let left: Vec<i16> = audio.samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = audio.samples.iter().skip(1).step_by(2).copied().collect();
    assert!(share(&left[2000..6000], 440.0) > 0.8);
    assert!(share(&left[10000..14000], 440.0) > 0.8);
    // The callee was silent for the first second: silence there, its tone after.
    let first: f64 = right[1000..7000]
        .iter()
        .map(|&s| f64::from(s).abs())
        .sum::<f64>()
        / 6000.0;
    assert!(
        first < 10.0,
        "callee channel before it spoke: mean level {first}"
    );
    assert!(share(&right[10000..14000], 1000.0) > 0.8);
}

#[test]
fn a_mixed_recording_holds_both_sides() {
    let file = record_call(Layout::Mixed);
    let audio = wav::read(&file).expect("valid WAV");
    assert_eq!(audio.channels, 1);
    let second = &audio.samples[10000..14000];
    assert!(share(second, 440.0) > 0.3 && share(second, 1000.0) > 0.3);
    assert!(share(&audio.samples[2000..6000], 1000.0) < 0.01);
}
