//! Property tests: arbitrary datagrams never panic the RTP parser, and what parses writes back identically.

use proptest::prelude::*;
use switchboard_media::rtp::RtpPacket;

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(p) = RtpPacket::parse(&data) {
            let mut out = vec![0u8; p.wire_len()];
            let n = p.write(&mut out).expect("a parsed packet can be written");
            // Padding octets other than the count are not kept; compare with them zeroed.
            let mut expect = data.clone();
            if p.padding > 0 {
                let end = expect.len() - 1;
                let start = expect.len() - usize::from(p.padding);
                expect[start..end].fill(0);
            }
            prop_assert_eq!(&out[..n], &expect[..]);
        }
    }

    #[test]
    fn rtp_shaped_packets_round_trip(
        marker in any::<bool>(), pt in 0u8..128, seq in any::<u16>(), ts in any::<u32>(), ssrc in any::<u32>(),
        csrcs in proptest::collection::vec(any::<u32>(), 0..16),
        ext in proptest::option::of((any::<u16>(), proptest::collection::vec(any::<u32>(), 0..4))),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        padding in 0u8..8,
    ) {
        let csrc: Vec<u8> = csrcs.iter().flat_map(|c| c.to_be_bytes()).collect();
        let ext_body: Option<(u16, Vec<u8>)> = ext.map(|(p, w)| (p, w.iter().flat_map(|x| x.to_be_bytes()).collect()));
        let pkt = RtpPacket {
            marker, payload_type: pt, sequence: seq, timestamp: ts, ssrc,
            csrc: &csrc,
            extension: ext_body.as_ref().map(|(p, b)| (*p, b.as_slice())),
            payload: &payload,
            padding,
        };
        let mut out = vec![0u8; pkt.wire_len()];
        let n = pkt.write(&mut out).expect("fits");
        let back = RtpPacket::parse(&out[..n]).expect("what we write parses");
        prop_assert_eq!(back, pkt);
    }
}
