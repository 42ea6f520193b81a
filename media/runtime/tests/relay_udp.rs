//! The media runtime over real loopback sockets: two "phones" (plain UDP sockets) exchange RTP through a
//! relayed call, the relay latches to where packets really come from, and released ports close.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use switchboard_media::rtp::RtpPacket;
use switchboard_media_rt::{MediaConfig, MediaEvent, MediaRuntime, RelayEvent, RemoteMedia};

fn rtp(pt: u8, seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let p = RtpPacket {
        marker: false,
        payload_type: pt,
        sequence: seq,
        timestamp: u32::from(seq) * 160,
        ssrc,
        csrc: &[],
        extension: None,
        payload,
        padding: 0,
    };
    let mut out = vec![0u8; p.wire_len()];
    p.write(&mut out).expect("fits");
    out
}

fn phone() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    s
}

fn config(port_min: u16) -> MediaConfig {
    MediaConfig {
        bind: "127.0.0.1".parse().expect("ip"),
        port_min,
        port_max: port_min + 99,
        threads: 2,
        ..MediaConfig::default()
    }
}

fn recv(s: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = s.recv_from(&mut buf).expect("a relayed packet");
    (buf[..n].to_vec(), from)
}

#[test]
fn rtp_crosses_the_relay_both_ways_and_latches_to_the_real_source() {
    let (rt, mut events) = MediaRuntime::start(config(21000)).expect("runtime");
    let caller = phone();
    let agent = phone();
    let a = rt.allocate_leg().expect("leg A");
    let b = rt.allocate_leg_near(a.id).expect("leg B");
    assert_ne!(a.rtp.port(), b.rtp.port());
    assert_eq!(a.rtp.port() % 2, 0);
    // The caller's SDP is honest; the agent's SDP names an address it does not send from (NAT).
    rt.set_remote(
        a.id,
        RemoteMedia {
            rtp: Some(caller.local_addr().expect("addr")),
            ..RemoteMedia::default()
        },
    )
    .expect("remote A");
    rt.set_remote(
        b.id,
        RemoteMedia {
            rtp: Some("127.0.0.1:9".parse().expect("addr")),
            ..RemoteMedia::default()
        },
    )
    .expect("remote B");
    rt.set_payload_map(a.id, vec![(0, 0), (101, 126)])
        .expect("map");
    rt.bridge_blocking(a.id, b.id).expect("bridge");

    // The agent speaks first: two packets latch leg B to the agent's real address.
    for seq in 0..2 {
        agent
            .send_to(&rtp(0, seq, 0xb, &[0x55; 160]), b.rtp)
            .expect("send");
        let (got, from) = recv(&caller);
        assert_eq!(from, a.rtp, "relayed out of leg A's socket");
        let p = RtpPacket::parse(&got).expect("rtp");
        assert_eq!(
            (p.sequence, p.ssrc, p.payload),
            (seq, 0xb, &[0x55; 160][..])
        );
    }
    // Now the caller's audio reaches the agent, and telephone-event 101 arrives as 126.
    caller
        .send_to(&rtp(0, 7, 0xa, &[0x11; 160]), a.rtp)
        .expect("send");
    let (got, from) = recv(&agent);
    assert_eq!(from, b.rtp);
    assert_eq!(
        RtpPacket::parse(&got).expect("rtp").payload,
        &[0x11; 160][..]
    );
    caller
        .send_to(&rtp(101, 8, 0xa, &[1, 10, 0, 160]), a.rtp)
        .expect("send");
    let (got, _) = recv(&agent);
    assert_eq!(RtpPacket::parse(&got).expect("rtp").payload_type, 126);

    let latched = events.blocking_recv().expect("event");
    assert_eq!(
        latched,
        MediaEvent::Relay(RelayEvent::Latched {
            leg: b.id,
            channel: switchboard_media::relay::Channel::Rtp,
            addr: agent.local_addr().expect("addr"),
        })
    );

    let counters = rt
        .release(a.id)
        .expect("release")
        .blocking_recv()
        .expect("reply");
    let counters = counters.expect("leg A existed");
    assert_eq!((counters.rtp_in, counters.rtp_out), (2, 2));
    rt.release(b.id).expect("release B");
    // The released port is closed: nothing relays from it any more.
    std::thread::sleep(Duration::from_millis(50));
    caller
        .send_to(&rtp(0, 9, 0xa, &[0; 160]), a.rtp)
        .expect("send");
    agent
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let mut buf = [0u8; 64];
    assert!(agent.recv_from(&mut buf).is_err());
    rt.shutdown();
}

#[test]
fn legs_on_different_threads_cannot_be_bridged() {
    let (rt, _events) = MediaRuntime::start(config(21200)).expect("runtime");
    let a = rt.allocate_leg().expect("A");
    let b = rt.allocate_leg().expect("B");
    assert!(rt.bridge_blocking(a.id, b.id).is_err());
    let c = rt.allocate_leg_near(a.id).expect("C");
    assert!(rt.bridge_blocking(a.id, c.id).is_ok());
    assert_eq!(rt.load_blocking().iter().map(|l| l.legs).sum::<usize>(), 3);
}

#[test]
fn the_port_range_runs_out_cleanly() {
    let cfg = MediaConfig {
        port_max: 21403,
        ..config(21400)
    };
    let (rt, _events) = MediaRuntime::start(cfg).expect("runtime");
    let a = rt.allocate_leg().expect("first pair");
    rt.allocate_leg().expect("second pair");
    assert!(matches!(
        rt.allocate_leg(),
        Err(switchboard_media_rt::MediaRtError::PortsExhausted)
    ));
    rt.release(a.id).expect("release");
    std::thread::sleep(Duration::from_millis(50));
    rt.allocate_leg().expect("the released pair again");
}

#[test]
fn a_prompt_reaches_the_phone_paced_and_reports_its_end() {
    use switchboard_media_rt::{Codec, CodecSpec, PlayMode, Playlist, Prompt};
    let (rt, mut events) = MediaRuntime::start(config(21600)).expect("runtime");
    let caller = phone();
    let a = rt.allocate_leg().expect("leg");
    rt.set_remote(
        a.id,
        RemoteMedia {
            rtp: Some(caller.local_addr().expect("addr")),
            ..RemoteMedia::default()
        },
    )
    .expect("remote");
    let prompt = Prompt::new(vec![3000i16; 3200], 8000).expect("0.4 s prompt");
    rt.play(
        a.id,
        Playlist::new([prompt]),
        PlayMode::Once,
        false,
        CodecSpec {
            codec: Codec::Pcmu,
            payload_type: 0,
        },
    )
    .expect("play");
    let mut seqs = Vec::new();
    for _ in 0..20 {
        let (got, from) = recv(&caller);
        assert_eq!(from, a.rtp);
        let p = RtpPacket::parse(&got).expect("rtp");
        assert_eq!((p.payload_type, p.payload.len()), (0, 160));
        seqs.push(p.sequence);
    }
    assert_eq!(seqs, (0..20).collect::<Vec<u16>>());
    let end = events.blocking_recv().expect("event");
    assert_eq!(
        end,
        MediaEvent::Relay(RelayEvent::PlaybackFinished {
            leg: a.id,
            interrupted_by: None
        })
    );
}

#[test]
fn a_recorded_call_ends_up_as_a_wav_file() {
    use switchboard_media_rt::{Codec, CodecSpec, Layout, RecordingId};
    let dir = tempfile::tempdir().expect("tempdir");
    let (rt, mut events) = MediaRuntime::start(config(21800)).expect("runtime");
    let (caller, agent) = (phone(), phone());
    let a = rt.allocate_leg().expect("A");
    let b = rt.allocate_leg_near(a.id).expect("B");
    for (leg, sock) in [(a.id, &caller), (b.id, &agent)] {
        rt.set_remote(
            leg,
            RemoteMedia {
                rtp: sock.local_addr().ok(),
                ..RemoteMedia::default()
            },
        )
        .expect("remote");
    }
    rt.bridge_blocking(a.id, b.id).expect("bridge");
    let pcmu = CodecSpec {
        codec: Codec::Pcmu,
        payload_type: 0,
    };
    let path = dir.path().join("call.wav");
    rt.start_recording(
        RecordingId(1),
        (a.id, pcmu),
        (b.id, pcmu),
        Layout::Stereo,
        8000,
        path.clone(),
    )
    .expect("record");
    for seq in 0..25u16 {
        caller
            .send_to(&rtp(0, seq, 0xa, &[0x10; 160]), a.rtp)
            .expect("send");
        agent
            .send_to(&rtp(0, seq, 0xb, &[0x90; 160]), b.rtp)
            .expect("send");
        recv(&agent);
        recv(&caller);
        std::thread::sleep(Duration::from_millis(20));
    }
    rt.stop_recording(RecordingId(1), a.id).expect("stop");
    let done = loop {
        match events.blocking_recv().expect("events") {
            MediaEvent::RecordingFinished { id, path, bytes } => break (id, path, bytes),
            _ => continue,
        }
    };
    assert_eq!(done.0, RecordingId(1));
    assert_eq!(done.1, path);
    let file = std::fs::read(&path).expect("recording on disk");
    assert_eq!(file.len() as u64, done.2);
    let audio = switchboard_media::wav::read_with(
        &file,
        &switchboard_media::wav::ReadOptions {
            downmix: false,
            ..Default::default()
        },
    )
    .expect("a valid WAV file");
    assert_eq!((audio.rate, audio.channels), (8000, 2));
    // About half a second of audio; both channels carry sound (μ-law 0x10 and 0x90 are loud).
    assert!(
        audio.samples.len() / 2 >= 3000,
        "{} frames",
        audio.samples.len() / 2
    );
    let loud = |ch: usize| {
        audio
            .samples
            .iter()
            .skip(ch)
            .step_by(2)
            .filter(|s| s.abs() > 1000)
            .count()
    };
    assert!(
        loud(0) > 2000 && loud(1) > 2000,
        "left {} right {}",
        loud(0),
        loud(1)
    );
}
