//! The relay core in simulated time: routing between bridged legs, latching, payload-type mapping,
//! hold, RTCP, DTMF and media timeouts. No sockets: datagrams are byte buffers and time is an Instant.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use switchboard_media::dtmf::TelephoneEvent;
use switchboard_media::g711;
use switchboard_media::relay::{
    Channel, Direction, Forward, InbandLaw, LegId, Relay, RelayConfig, RelayEvent, RemoteMedia,
};
use switchboard_media::rtp::RtpPacket;

/// The relay with the whole packet as its buffer (no room for an SRTP tag: these legs are plain).
fn feed(
    r: &mut Relay,
    leg: switchboard_media::relay::LegIndex,
    channel: Channel,
    src: SocketAddr,
    p: &mut [u8],
    now: Instant,
) -> Forward {
    let len = p.len();
    r.handle_packet(leg, channel, src, p, len, now)
}
fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let p = RtpPacket {
        marker: false,
        payload_type: pt,
        sequence: seq,
        timestamp: ts,
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

fn remote(rtp: &str) -> RemoteMedia {
    RemoteMedia {
        rtp: Some(addr(rtp)),
        telephone_event_rate: 8000,
        ..RemoteMedia::default()
    }
}

const A: LegId = LegId(1);
const B: LegId = LegId(2);
const CALLER: &str = "192.0.2.10:30000";
const AGENT: &str = "198.51.100.20:40000";

/// Two bridged legs: A faces the caller, B the agent.
fn bridged(now: Instant) -> (Relay, u32, u32) {
    let mut r = Relay::new(RelayConfig::default(), now);
    let a = r.add_leg(A, now);
    let b = r.add_leg(B, now);
    r.set_remote(A, remote(CALLER)).expect("leg A");
    r.set_remote(B, remote(AGENT)).expect("leg B");
    r.bridge(A, B).expect("bridge");
    (r, a, b)
}

#[test]
fn media_flows_both_ways_between_bridged_legs() {
    let now = Instant::now();
    let (mut r, a, b) = bridged(now);
    let mut p = rtp(0, 1, 160, 0xaaaa, &[0xff; 160]);
    assert_eq!(
        feed(&mut r, a, Channel::Rtp, addr(CALLER), &mut p, now),
        Forward::To {
            leg: b,
            channel: Channel::Rtp,
            dst: addr(AGENT),
            len: p.len(),
        }
    );
    let mut p = rtp(0, 9, 160, 0xbbbb, &[0x7f; 160]);
    assert_eq!(
        feed(&mut r, b, Channel::Rtp, addr(AGENT), &mut p, now),
        Forward::To {
            leg: a,
            channel: Channel::Rtp,
            dst: addr(CALLER),
            len: p.len(),
        }
    );
    let ca = r.counters(A).expect("A");
    assert_eq!((ca.rtp_in, ca.rtp_out), (1, 1));
    assert_eq!(ca.rtp_bytes_in, 172);
}

#[test]
fn a_natted_phone_is_reached_where_its_packets_come_from() {
    let now = Instant::now();
    let (mut r, a, b) = bridged(now);
    // The agent's SDP says 198.51.100.20:40000, but its NAT sends from another address.
    let nat = addr("203.0.113.7:61234");
    for seq in 0..2 {
        let mut p = rtp(0, seq, 0, 0xbbbb, &[0; 160]);
        feed(&mut r, b, Channel::Rtp, nat, &mut p, now);
    }
    let events: Vec<_> = std::iter::from_fn(|| r.poll_event()).collect();
    assert_eq!(
        events,
        vec![RelayEvent::Latched {
            leg: B,
            channel: Channel::Rtp,
            addr: nat
        }]
    );
    let mut p = rtp(0, 1, 0, 0xaaaa, &[0; 160]);
    assert_eq!(
        feed(&mut r, a, Channel::Rtp, addr(CALLER), &mut p, now),
        Forward::To {
            leg: b,
            channel: Channel::Rtp,
            dst: nat,
            len: p.len(),
        }
    );
    // A stranger on the agent's port is dropped and counted.
    let mut p = rtp(0, 5, 0, 0x1234, &[0; 160]);
    assert_eq!(
        feed(
            &mut r,
            b,
            Channel::Rtp,
            addr("192.0.2.99:5000"),
            &mut p,
            now
        ),
        Forward::Drop
    );
    assert_eq!(r.counters(B).expect("B").dropped_foreign, 1);
}

#[test]
fn payload_types_are_mapped_and_unknown_ones_dropped() {
    let now = Instant::now();
    let (mut r, a, _) = bridged(now);
    // The carrier sends telephone-event as 101; the agent's app expects 126. PCMU passes unchanged.
    r.set_payload_map(A, &[(0, 0), (101, 126)]).expect("map");
    let mut p = rtp(
        101,
        1,
        0,
        1,
        &TelephoneEvent {
            event: 5,
            end: false,
            volume: 10,
            duration: 160,
        }
        .write(),
    );
    assert!(matches!(
        feed(&mut r, a, Channel::Rtp, addr(CALLER), &mut p, now),
        Forward::To { .. }
    ));
    assert_eq!(RtpPacket::parse(&p).expect("rtp").payload_type, 126);
    let mut p = rtp(0, 2, 0, 1, &[0; 160]);
    feed(&mut r, a, Channel::Rtp, addr(CALLER), &mut p, now);
    assert_eq!(RtpPacket::parse(&p).expect("rtp").payload_type, 0);
    let mut p = rtp(18, 3, 0, 1, &[0; 20]);
    assert_eq!(
        feed(&mut r, a, Channel::Rtp, addr(CALLER), &mut p, now),
        Forward::Drop
    );
    assert_eq!(r.counters(A).expect("A").dropped_payload_type, 1);
}

#[test]
fn hold_stops_media_towards_the_held_side_and_resume_restores_it() {
    let now = Instant::now();
    let (mut r, a, b) = bridged(now);
    // The agent puts the caller on hold: the agent's SDP says sendonly (it sends music, receives nothing).
    r.set_remote(
        B,
        RemoteMedia {
            direction: Direction::SendOnly,
            ..remote(AGENT)
        },
    )
    .expect("re-INVITE");
    let mut p = rtp(0, 1, 0, 1, &[0; 160]);
    assert_eq!(
        feed(&mut r, a, Channel::Rtp, addr(CALLER), &mut p, now),
        Forward::Drop
    );
    let mut p = rtp(0, 1, 0, 2, &[0; 160]);
    assert!(matches!(
        feed(&mut r, b, Channel::Rtp, addr(AGENT), &mut p, now),
        Forward::To { .. }
    ));
    r.set_remote(B, remote(AGENT)).expect("resume");
    let mut p = rtp(0, 2, 0, 1, &[0; 160]);
    assert_eq!(
        feed(&mut r, a, Channel::Rtp, addr(CALLER), &mut p, now),
        Forward::To {
            leg: b,
            channel: Channel::Rtp,
            dst: addr(AGENT),
            len: p.len(),
        }
    );
}

#[test]
fn a_reinvite_with_the_same_address_keeps_the_latch() {
    let now = Instant::now();
    let (mut r, a, b) = bridged(now);
    let nat = addr("203.0.113.7:61234");
    for seq in 0..2 {
        let mut p = rtp(0, seq, 0, 0xbbbb, &[0; 160]);
        feed(&mut r, b, Channel::Rtp, nat, &mut p, now);
    }
    r.set_remote(B, remote(AGENT)).expect("re-INVITE");
    let mut p = rtp(0, 1, 0, 1, &[0; 160]);
    assert_eq!(
        feed(&mut r, a, Channel::Rtp, addr(CALLER), &mut p, now),
        Forward::To {
            leg: b,
            channel: Channel::Rtp,
            dst: nat,
            len: p.len(),
        }
    );
}

#[test]
fn rtcp_goes_to_the_peer_rtcp_port_or_its_muxed_rtp_port() {
    let now = Instant::now();
    let (mut r, a, b) = bridged(now);
    // A receiver report: V=2, RC=0, PT=201, length 1, sender SSRC.
    let rr = [0x80u8, 201, 0, 1, 0, 0, 0, 9];
    let mut p = rr;
    assert_eq!(
        feed(
            &mut r,
            a,
            Channel::Rtcp,
            addr("192.0.2.10:30001"),
            &mut p,
            now
        ),
        Forward::To {
            leg: b,
            channel: Channel::Rtcp,
            dst: addr("198.51.100.20:40001"),
            len: p.len(),
        }
    );
    r.set_remote(
        B,
        RemoteMedia {
            rtcp_mux: true,
            ..remote(AGENT)
        },
    )
    .expect("mux");
    let mut p = rr;
    assert_eq!(
        feed(
            &mut r,
            a,
            Channel::Rtcp,
            addr("192.0.2.10:30001"),
            &mut p,
            now
        ),
        Forward::To {
            leg: b,
            channel: Channel::Rtp,
            dst: addr(AGENT),
            len: p.len(),
        }
    );
    // RTCP arriving on B's muxed RTP port is told apart from RTP and sent to A's RTCP port.
    let mut p = rr;
    assert_eq!(
        feed(&mut r, b, Channel::Rtp, addr(AGENT), &mut p, now),
        Forward::To {
            leg: a,
            channel: Channel::Rtcp,
            dst: addr("192.0.2.10:30001"),
            len: p.len(),
        }
    );
    assert_eq!(r.counters(B).expect("B").rtcp_in, 1);
}

fn send_digit(
    r: &mut Relay,
    leg: u32,
    from: &str,
    ts: u32,
    digit: u8,
    now: Instant,
) -> Vec<Forward> {
    let mut out = Vec::new();
    for (i, end) in [false, false, true, true, true].into_iter().enumerate() {
        let ev = TelephoneEvent {
            event: digit,
            end,
            volume: 10,
            duration: 160 * (i as u16 + 1),
        };
        let mut p = rtp(101, ts as u16 + i as u16, ts, 7, &ev.write());
        out.push(feed(r, leg, Channel::Rtp, addr(from), &mut p, now));
    }
    out
}

#[test]
fn rfc4733_digits_are_reported_once_and_consumed_on_request() {
    let now = Instant::now();
    let (mut r, a, _) = bridged(now);
    r.set_remote(
        A,
        RemoteMedia {
            telephone_event_pt: Some(101),
            ..remote(CALLER)
        },
    )
    .expect("te");
    let fwd = send_digit(&mut r, a, CALLER, 8000, 1, now);
    assert!(fwd.iter().all(|f| matches!(f, Forward::To { .. })));
    let digits: Vec<_> = std::iter::from_fn(|| r.poll_event())
        .filter_map(|e| match e {
            RelayEvent::Dtmf {
                digit,
                duration_ms,
                inband,
                ..
            } => Some((digit, duration_ms, inband)),
            _ => None,
        })
        .collect();
    // Three end packets, one digit: duration 480 samples at 8 kHz = 60 ms (the first end packet's).
    assert_eq!(digits, vec![('1', 60, false)]);

    r.set_dtmf(A, false, None).expect("consume");
    let fwd = send_digit(&mut r, a, CALLER, 16000, 10, now);
    assert!(fwd.iter().all(|f| *f == Forward::Drop));
    assert!(std::iter::from_fn(|| r.poll_event())
        .any(|e| matches!(e, RelayEvent::Dtmf { digit: '*', .. })));
    assert_eq!(r.counters(A).expect("A").dtmf_consumed, 5);
}

#[test]
fn inband_dtmf_is_found_in_g711_audio() {
    let now = Instant::now();
    let (mut r, a, _) = bridged(now);
    r.set_dtmf(A, true, Some(InbandLaw::Pcmu)).expect("inband");
    // Digit 5: 770 Hz + 1336 Hz, 100 ms in 20 ms packets, then silence.
    let mut n = 0u32;
    for seq in 0..10u16 {
        let payload: Vec<u8> = (0..160)
            .map(|_| {
                let t = n as f32 / 8000.0;
                n += 1;
                let v = if seq < 5 {
                    8000.0
                        * ((2.0 * std::f32::consts::PI * 770.0 * t).sin()
                            + (2.0 * std::f32::consts::PI * 1336.0 * t).sin())
                } else {
                    0.0
                };
                g711::ulaw_encode(v as i16)
            })
            .collect();
        let mut p = rtp(0, seq, u32::from(seq) * 160, 3, &payload);
        feed(&mut r, a, Channel::Rtp, addr(CALLER), &mut p, now);
    }
    let digits: Vec<_> = std::iter::from_fn(|| r.poll_event())
        .filter_map(|e| match e {
            RelayEvent::Dtmf { digit, inband, .. } => Some((digit, inband)),
            _ => None,
        })
        .collect();
    assert_eq!(digits, vec![('5', true)]);
}

#[test]
fn silence_for_thirty_seconds_is_a_media_timeout_reported_once() {
    let t0 = Instant::now();
    let (mut r, a, _) = bridged(t0);
    let mut p = rtp(0, 1, 0, 1, &[0; 160]);
    feed(&mut r, a, Channel::Rtp, addr(CALLER), &mut p, t0);
    let mut timeouts = Vec::new();
    let mut now = t0;
    while now < t0 + Duration::from_secs(40) {
        now = r.poll_timeout();
        r.handle_timeout(now);
        timeouts.extend(
            std::iter::from_fn(|| r.poll_event()).filter_map(|e| match e {
                RelayEvent::MediaTimeout { leg } => Some((leg, now.duration_since(t0).as_secs())),
                _ => None,
            }),
        );
        // The agent keeps sending: leg B never times out.
        if now < t0 + Duration::from_secs(40) {
            let mut p = rtp(0, 2, 0, 2, &[0; 160]);
            feed(&mut r, 1, Channel::Rtp, addr(AGENT), &mut p, now);
        }
    }
    assert_eq!(timeouts, vec![(A, 30)]);
}

#[test]
fn a_held_leg_gets_the_longer_hold_timeout() {
    let t0 = Instant::now();
    let config = RelayConfig {
        hold_timeout: Duration::from_secs(120),
        ..RelayConfig::default()
    };
    let mut r = Relay::new(config, t0);
    r.add_leg(A, t0);
    r.set_remote(
        A,
        RemoteMedia {
            direction: Direction::RecvOnly,
            ..remote(CALLER)
        },
    )
    .expect("held");
    let mut first = None;
    let mut now = t0;
    while first.is_none() && now < t0 + Duration::from_secs(300) {
        now = r.poll_timeout();
        r.handle_timeout(now);
        if let Some(RelayEvent::MediaTimeout { .. }) = r.poll_event() {
            first = Some(now.duration_since(t0).as_secs());
        }
    }
    assert_eq!(first, Some(120));
}

#[test]
fn removed_legs_unbridge_and_their_slots_are_reused() {
    let now = Instant::now();
    let (mut r, a, b) = bridged(now);
    let (index, _) = r.remove_leg(B).expect("B existed");
    assert_eq!(index, b);
    let mut p = rtp(0, 1, 0, 1, &[0; 160]);
    assert_eq!(
        feed(&mut r, a, Channel::Rtp, addr(CALLER), &mut p, now),
        Forward::Drop
    );
    assert_eq!(r.counters(A).expect("A").dropped_unrouted, 1);
    assert_eq!(r.add_leg(LegId(3), now), b);
    assert!(r.set_remote(B, remote(AGENT)).is_err());
    // A packet for a slot nobody holds is dropped, not a panic.
    assert_eq!(
        feed(&mut r, 99, Channel::Rtp, addr(CALLER), &mut p, now),
        Forward::Drop
    );
}

proptest! {
    #[test]
    fn any_datagram_is_routed_or_dropped_never_a_panic(
        data in proptest::collection::vec(any::<u8>(), 0..300),
        rtcp_channel in any::<bool>(),
        mux in any::<bool>(),
    ) {
        let now = Instant::now();
        let (mut r, a, _) = bridged(now);
        r.set_remote(A, RemoteMedia { rtcp_mux: mux, telephone_event_pt: Some(101), ..remote(CALLER) }).expect("A");
        r.set_dtmf(A, true, Some(InbandLaw::Pcma)).expect("dtmf");
        let mut buf = data.clone();
        let channel = if rtcp_channel { Channel::Rtcp } else { Channel::Rtp };
        let verdict = feed(&mut r, a, channel, addr(CALLER), &mut buf, now);
        let c = r.counters(A).expect("A");
        match verdict {
            Forward::Drop => prop_assert!(c.dropped_malformed + c.dropped_unrouted + c.dropped_payload_type + c.dtmf_consumed + c.dropped_foreign == 1),
            Forward::To { .. } => prop_assert_eq!(c.rtp_in + c.rtcp_in, 1),
        }
        prop_assert_eq!(buf.len(), data.len());
    }
}

#[test]
fn transcoded_legs_send_one_packet_per_frame() {
    use switchboard_media::transcode::{Codec, CodecSpec, OpusSettings};
    let t0 = Instant::now();
    let (mut r, a, b) = bridged(t0);
    let pcmu = CodecSpec {
        codec: Codec::Pcmu,
        payload_type: 0,
    };
    let opus = CodecSpec {
        codec: Codec::Opus,
        payload_type: 111,
    };
    r.set_transcode(A, Some((pcmu, opus)), &OpusSettings::default())
        .expect("A");
    let mut sent = Vec::new();
    let mut buf = [0u8; 1500];
    let mut now = t0;
    for i in 0..100u32 {
        let at = t0 + Duration::from_millis(20 * u64::from(i));
        // Run the relay's timers up to this packet's arrival, as the media thread does.
        while r.poll_timeout() <= at {
            now = r.poll_timeout().max(now);
            r.handle_timeout(now);
            while let Some(t) = r.poll_transmit(now, &mut buf) {
                sent.push((t, now));
            }
        }
        now = at;
        let mut p = rtp(0, i as u16, i * 160, 9, &[0xff; 160]);
        assert_eq!(
            feed(&mut r, a, Channel::Rtp, addr(CALLER), &mut p, now),
            Forward::Drop
        );
        while let Some(t) = r.poll_transmit(now, &mut buf) {
            sent.push((t, now));
        }
    }
    assert!(sent.len() >= 95, "transcoded packets: {}", sent.len());
    assert!(sent.iter().all(|(t, _)| t.leg == b && t.dst == addr(AGENT)));
    assert_eq!(r.counters(A).expect("A").transcoded_in, 100);
}

fn drive(
    r: &mut Relay,
    from: Instant,
    until: Instant,
) -> Vec<(switchboard_media::relay::Transmit, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1500];
    let mut now = from;
    while now <= until {
        while let Some(t) = r.poll_transmit(now, &mut buf) {
            out.push((t, buf[..t.len].to_vec()));
        }
        now = r.poll_timeout().max(now + Duration::from_micros(1));
    }
    out
}

fn prompt_player(seconds: f32, start: Instant) -> switchboard_media::playback::Player {
    use switchboard_media::playback::{PlayMode, Player, Prompt};
    let samples: Vec<i16> = (0..(8000.0 * seconds) as usize)
        .map(|i| (6000.0 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 8000.0).sin()) as i16)
        .collect();
    let prompt = Prompt::new(samples, 8000).expect("prompt");
    Player::new(prompt, 8000, PlayMode::Once, true, start).expect("player")
}

#[test]
fn a_prompt_plays_to_a_leg_in_its_codec_and_holds_back_the_peer() {
    use switchboard_media::transcode::{Codec, CodecSpec, OpusSettings};
    let t0 = Instant::now();
    let (mut r, _a, b) = bridged(t0);
    let pcma = CodecSpec {
        codec: Codec::Pcma,
        payload_type: 8,
    };
    r.play(
        A,
        prompt_player(1.0, t0),
        pcma,
        &OpusSettings::default(),
        t0,
    )
    .expect("play");
    // The agent keeps talking meanwhile: held back from the caller.
    let mut p = rtp(8, 1, 0, 2, &[0xd5; 160]);
    assert_eq!(
        feed(&mut r, b, Channel::Rtp, addr(AGENT), &mut p, t0),
        Forward::Drop
    );
    let sent = drive(&mut r, t0, t0 + Duration::from_millis(1500));
    assert_eq!(sent.len(), 50, "one second of 20 ms frames");
    for (i, (t, bytes)) in sent.iter().enumerate() {
        assert_eq!(t.dst, addr(CALLER));
        let p = RtpPacket::parse(bytes).expect("rtp");
        assert_eq!(
            (p.payload_type, p.sequence, p.timestamp),
            (8, i as u16, 160 * i as u32)
        );
        assert_eq!(p.payload.len(), 160);
    }
    let events: Vec<_> = std::iter::from_fn(|| r.poll_event()).collect();
    assert!(
        events.contains(&RelayEvent::PlaybackFinished {
            leg: A,
            interrupted_by: None
        }),
        "{events:?}"
    );
    let c = r.counters(A).expect("A");
    assert_eq!((c.playback_out, c.held_for_playback), (50, 1));
    // After the prompt the agent is heard again.
    let mut p = rtp(8, 2, 160, 2, &[0xd5; 160]);
    assert!(matches!(
        feed(
            &mut r,
            b,
            Channel::Rtp,
            addr(AGENT),
            &mut p,
            t0 + Duration::from_secs(2)
        ),
        Forward::To { .. }
    ));
}

#[test]
fn a_digit_cuts_an_interruptible_prompt_short() {
    use switchboard_media::transcode::{Codec, CodecSpec, OpusSettings};
    let t0 = Instant::now();
    let (mut r, a, _) = bridged(t0);
    r.set_remote(
        A,
        RemoteMedia {
            telephone_event_pt: Some(101),
            ..remote(CALLER)
        },
    )
    .expect("te");
    let pcmu = CodecSpec {
        codec: Codec::Pcmu,
        payload_type: 0,
    };
    r.play(
        A,
        prompt_player(5.0, t0),
        pcmu,
        &OpusSettings::default(),
        t0,
    )
    .expect("play");
    let first = drive(&mut r, t0, t0 + Duration::from_millis(500));
    send_digit(&mut r, a, CALLER, 4000, 1, t0 + Duration::from_millis(500));
    let rest = drive(
        &mut r,
        t0 + Duration::from_millis(501),
        t0 + Duration::from_secs(6),
    );
    assert!(
        first.len() >= 25 && rest.len() <= 1,
        "{} then {}",
        first.len(),
        rest.len()
    );
    let events: Vec<_> = std::iter::from_fn(|| r.poll_event()).collect();
    assert!(
        events.contains(&RelayEvent::PlaybackFinished {
            leg: A,
            interrupted_by: Some('1')
        }),
        "{events:?}"
    );
}

#[test]
fn an_opus_leg_hears_prompts_as_opus() {
    use switchboard_media::playback::{PlayMode, Player, Prompt};
    use switchboard_media::transcode::{Codec, CodecSpec, OpusSettings};
    let t0 = Instant::now();
    let (mut r, _, _) = bridged(t0);
    let prompt = Prompt::new(vec![1000i16; 16000], 16000).expect("prompt");
    let player = Player::new(prompt, 48000, PlayMode::Once, false, t0).expect("player");
    let opus = CodecSpec {
        codec: Codec::Opus,
        payload_type: 111,
    };
    r.play(A, player, opus, &OpusSettings::default(), t0)
        .expect("play");
    let sent = drive(&mut r, t0, t0 + Duration::from_millis(1100));
    assert_eq!(sent.len(), 50);
    let mut dec = opus::Decoder::new(48000, opus::Channels::Mono).expect("decoder");
    for (i, (_, bytes)) in sent.iter().enumerate() {
        let p = RtpPacket::parse(bytes).expect("rtp");
        assert_eq!((p.payload_type, p.timestamp), (111, 960 * i as u32));
        let mut pcm = [0i16; 960];
        assert_eq!(
            dec.decode(p.payload, &mut pcm, false).expect("valid Opus"),
            960
        );
    }
    // A player at the wrong rate for the codec is refused, not played garbled.
    let prompt = Prompt::new(vec![0i16; 800], 8000).expect("prompt");
    let wrong = Player::new(prompt, 8000, PlayMode::Once, false, t0).expect("player");
    assert!(r
        .play(A, wrong, opus, &OpusSettings::default(), t0)
        .is_err());
}

#[test]
fn leg_counters_carry_loss_jitter_and_the_far_ends_reports() {
    let t0 = Instant::now();
    let (mut r, a, _) = bridged(t0);
    // 100 packets with every tenth missing, arriving on time.
    for i in 0..100u16 {
        if i % 10 == 3 {
            continue;
        }
        let mut p = rtp(0, i, u32::from(i) * 160, 0x77, &[0xff; 160]);
        let at = t0 + Duration::from_millis(20 * u64::from(i));
        feed(&mut r, a, Channel::Rtp, addr(CALLER), &mut p, at);
    }
    let c = r.counters(A).expect("A");
    assert_eq!(c.lost, 10);
    assert!(c.jitter_us < 1000, "on-time packets: {} µs", c.jitter_us);
    assert_eq!(c.remote_fraction_lost, None);
    // The caller's receiver report about our stream: 5 % lost (13/256), jitter 80 units = 10 ms.
    let mut rr = vec![0x81u8, 201, 0, 7, 0, 0, 0, 0x77];
    rr.extend_from_slice(&0x1234u32.to_be_bytes());
    rr.push(13);
    rr.extend_from_slice(&[0, 0, 5]);
    rr.extend_from_slice(&100u32.to_be_bytes());
    rr.extend_from_slice(&80u32.to_be_bytes());
    rr.extend_from_slice(&[0; 8]);
    feed(
        &mut r,
        a,
        Channel::Rtcp,
        addr("192.0.2.10:30001"),
        &mut rr,
        t0 + Duration::from_secs(3),
    );
    let c = r.counters(A).expect("A");
    assert_eq!(c.remote_fraction_lost, Some(13));
    assert_eq!(c.remote_jitter_us, Some(10_000));
}
