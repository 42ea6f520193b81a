//! An SRTP leg bridged to a plain one in the relay core: what a TLS softphone and a carrier trunk
//! exchange. Packets are protected with the keys each side gave in its SDP.

use std::net::SocketAddr;
use std::time::Instant;

use switchboard_media::relay::{Channel, Forward, LegId, Relay, RelayConfig, RemoteMedia};
use switchboard_media::rtp::RtpPacket;
use switchboard_media::srtp::{MasterKey, SrtpContext, SrtpKeys, SrtpSuite};

const PHONE: &str = "10.0.0.7:7000";
const TRUNK: &str = "192.0.2.50:20000";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let p = RtpPacket {
        marker: false,
        payload_type: 0,
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

struct Setup {
    relay: Relay,
    phone: u32,
    trunk: u32,
    /// The phone's own contexts: it protects with its key and unprotects with ours.
    phone_tx: SrtpContext,
    phone_rx: SrtpContext,
}

fn setup(suite: SrtpSuite) -> Setup {
    let now = Instant::now();
    let phone_key = MasterKey::from_bytes([1; 30]);
    let relay_key = MasterKey::from_bytes([2; 30]);
    let mut relay = Relay::new(RelayConfig::default(), now);
    let phone = relay.add_leg(LegId(1), now);
    let trunk = relay.add_leg(LegId(2), now);
    let keys = SrtpKeys {
        suite,
        inbound: phone_key,
        outbound: relay_key,
    };
    relay
        .set_remote(
            LegId(1),
            RemoteMedia {
                rtp: Some(addr(PHONE)),
                srtp: Some(keys),
                ..RemoteMedia::default()
            },
        )
        .expect("leg");
    relay
        .set_remote(
            LegId(2),
            RemoteMedia {
                rtp: Some(addr(TRUNK)),
                ..RemoteMedia::default()
            },
        )
        .expect("leg");
    relay.bridge(LegId(1), LegId(2)).expect("bridge");
    Setup {
        relay,
        phone,
        trunk,
        phone_tx: SrtpContext::new(suite, phone_key),
        phone_rx: SrtpContext::new(suite, relay_key),
    }
}

#[test]
fn srtp_from_the_phone_reaches_the_trunk_plain_and_back_protected() {
    for suite in SrtpSuite::ALL {
        let mut s = setup(suite);
        let now = Instant::now();
        for seq in 0..5u16 {
            // Phone → trunk: the relay strips the protection.
            let plain = rtp(seq, 0xaaaa, &[0x55; 160]);
            let mut buf = [0u8; 1536];
            buf[..plain.len()].copy_from_slice(&plain);
            let n = s
                .phone_tx
                .protect_rtp(&mut buf, plain.len())
                .expect("protect");
            match s
                .relay
                .handle_packet(s.phone, Channel::Rtp, addr(PHONE), &mut buf, n, now)
            {
                Forward::To { leg, dst, len, .. } => {
                    assert_eq!((leg, dst), (s.trunk, addr(TRUNK)));
                    assert_eq!(buf[..len], plain[..], "the trunk gets plain RTP");
                }
                Forward::Drop => panic!("phone's SRTP dropped"),
            }
            // Trunk → phone: the relay protects with its key, the phone can read it.
            let plain = rtp(seq, 0xbbbb, &[0x66; 160]);
            let mut buf = [0u8; 1536];
            buf[..plain.len()].copy_from_slice(&plain);
            match s.relay.handle_packet(
                s.trunk,
                Channel::Rtp,
                addr(TRUNK),
                &mut buf,
                plain.len(),
                now,
            ) {
                Forward::To { leg, dst, len, .. } => {
                    assert_eq!((leg, dst), (s.phone, addr(PHONE)));
                    assert_eq!(len, plain.len() + suite.rtp_tag_len());
                    assert_ne!(buf[12..plain.len()], plain[12..], "encrypted on the wire");
                    let n = s
                        .phone_rx
                        .unprotect_rtp(&mut buf[..len])
                        .expect("phone reads it");
                    assert_eq!(buf[..n], plain[..]);
                }
                Forward::Drop => panic!("trunk's RTP dropped"),
            }
        }
        let c = s.relay.counters(LegId(1)).expect("leg");
        assert_eq!((c.rtp_in, c.rtp_out, c.dropped_srtp), (5, 5, 0));
    }
}

#[test]
fn forged_or_replayed_srtp_is_dropped_and_moves_no_latch() {
    let mut s = setup(SrtpSuite::AesCm128HmacSha1_80);
    let now = Instant::now();
    let mut genuine = Vec::new();
    for seq in 0..3u16 {
        let plain = rtp(seq, 0xaaaa, &[0x55; 160]);
        let mut buf = [0u8; 1536];
        buf[..plain.len()].copy_from_slice(&plain);
        let n = s
            .phone_tx
            .protect_rtp(&mut buf, plain.len())
            .expect("protect");
        genuine = buf[..n].to_vec();
        assert!(matches!(
            s.relay
                .handle_packet(s.phone, Channel::Rtp, addr(PHONE), &mut buf, n, now),
            Forward::To { .. }
        ));
    }
    // A stranger sprays plain RTP, then the genuine packet again, from another address.
    let stranger = addr("203.0.113.9:7000");
    for seq in 3..10u16 {
        let mut p = rtp(seq, 0xaaaa, &[0; 160]);
        let len = p.len();
        assert_eq!(
            s.relay
                .handle_packet(s.phone, Channel::Rtp, stranger, &mut p, len, now),
            Forward::Drop
        );
    }
    let mut replay = genuine.clone();
    let len = replay.len();
    assert_eq!(
        s.relay
            .handle_packet(s.phone, Channel::Rtp, addr(PHONE), &mut replay, len, now),
        Forward::Drop
    );
    let c = s.relay.counters(LegId(1)).expect("leg");
    assert_eq!(c.dropped_srtp, 8);
    assert_eq!(c.rtp_in, 3);
    // The trunk's media still goes to the phone's real address.
    let mut p = rtp(0, 0xbbbb, &[0x66; 160]);
    let len = p.len();
    let mut buf = [0u8; 1536];
    buf[..len].copy_from_slice(&p);
    p.clear();
    assert!(matches!(
        s.relay.handle_packet(s.trunk, Channel::Rtp, addr(TRUNK), &mut buf, len, now),
        Forward::To { dst, .. } if dst == addr(PHONE)
    ));
}

#[test]
fn srtcp_is_unprotected_from_the_phone_and_protected_towards_it() {
    let mut s = setup(SrtpSuite::AesCm128HmacSha1_32);
    let now = Instant::now();
    // A receiver report from the phone (SSRC 0xaaaa, no blocks) on its RTCP port.
    let rr = [0x80u8, 201, 0, 1, 0, 0, 0xaa, 0xaa];
    let mut buf = [0u8; 1536];
    buf[..8].copy_from_slice(&rr);
    let n = s.phone_tx.protect_rtcp(&mut buf, 8).expect("protect");
    match s.relay.handle_packet(
        s.phone,
        Channel::Rtcp,
        addr("10.0.0.7:7001"),
        &mut buf,
        n,
        now,
    ) {
        Forward::To { len, .. } => assert_eq!(buf[..len], rr[..]),
        Forward::Drop => panic!("SRTCP dropped"),
    }
    let mut buf = [0u8; 1536];
    let rr = [0x80u8, 201, 0, 1, 0, 0, 0xbb, 0xbb];
    buf[..8].copy_from_slice(&rr);
    match s.relay.handle_packet(
        s.trunk,
        Channel::Rtcp,
        addr("192.0.2.50:20001"),
        &mut buf,
        8,
        now,
    ) {
        Forward::To { len, .. } => {
            assert_eq!(len, 8 + 4 + 10);
            let n = s
                .phone_rx
                .unprotect_rtcp(&mut buf[..len])
                .expect("phone reads it");
            assert_eq!(buf[..n], rr[..]);
        }
        Forward::Drop => panic!("RTCP dropped"),
    }
}
