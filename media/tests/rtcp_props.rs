//! RTCP against sample packets, property tests and round trips: arbitrary datagrams never panic the
//! reader, and what the writers build reads back as written.

use proptest::prelude::*;
use switchboard_media::rtcp::*;
use switchboard_media::MediaError;

fn collect(buf: &[u8]) -> Vec<Result<RtcpPacket<'_>, MediaError>> {
    packets(buf).collect()
}

/// Reads `data` as RTCP, touching every accessor, and rebuilds each packet of a kind the writers
/// produce: the rebuilt packet must read back the same, and be the same octets when the original had
/// no padding or SR/RR extension (the writers emit neither).
fn check_round_trip(data: &[u8]) {
    let _ = validate_compound(data);
    let mut it = packets(data);
    let mut start = 0;
    let mut out = [0u8; 1024];
    while let Some(item) = it.next() {
        let Ok(packet) = item else { break };
        let raw = &data[start..it.position()];
        start = it.position();
        let plain = raw[0] & 0x20 == 0;
        match packet {
            RtcpPacket::SenderReport(sr) => {
                let blocks: Vec<ReportBlock> = sr.reports.iter().collect();
                assert_eq!(blocks.len(), sr.reports.len());
                let n = write_sender_report(&mut out, sr.ssrc, &sr.info, &blocks).expect("fits");
                if plain && sr.extension.is_empty() {
                    assert_eq!(&out[..n], raw);
                }
                let Some(Ok(RtcpPacket::SenderReport(back))) = packets(&out[..n]).next() else {
                    panic!("rebuilt SR does not read back")
                };
                assert_eq!(
                    (back.ssrc, back.info, back.reports),
                    (sr.ssrc, sr.info, sr.reports)
                );
            }
            RtcpPacket::ReceiverReport(rr) => {
                let blocks: Vec<ReportBlock> = rr.reports.iter().collect();
                let n = write_receiver_report(&mut out, rr.ssrc, &blocks).expect("fits");
                if plain && rr.extension.is_empty() {
                    assert_eq!(&out[..n], raw);
                }
                let Some(Ok(RtcpPacket::ReceiverReport(back))) = packets(&out[..n]).next() else {
                    panic!("rebuilt RR does not read back")
                };
                assert_eq!((back.ssrc, back.reports), (rr.ssrc, rr.reports));
            }
            RtcpPacket::Sdes(sdes) => {
                assert_eq!(sdes.chunks().count(), sdes.count());
                let _ = sdes.cname();
                let only: Vec<(u32, Vec<SdesItem<'_>>)> = sdes
                    .chunks()
                    .map(|c| (c.ssrc, c.items().collect()))
                    .collect();
                if let [(ssrc, items)] = &only[..] {
                    if let [item] = &items[..] {
                        if item.kind == SDES_CNAME {
                            let n = write_sdes_cname(&mut out, *ssrc, item.value).expect("fits");
                            if plain {
                                assert_eq!(&out[..n], raw);
                            }
                            let Some(Ok(RtcpPacket::Sdes(back))) = packets(&out[..n]).next() else {
                                panic!("rebuilt SDES does not read back")
                            };
                            assert_eq!(back.cname(), Some((*ssrc, item.value)));
                        }
                    }
                }
            }
            RtcpPacket::Bye(bye) => {
                let ssrcs: Vec<u32> = bye.ssrcs().collect();
                assert_eq!(ssrcs.len(), bye.len());
                let n = write_bye(&mut out, &ssrcs, bye.reason).expect("fits");
                if plain {
                    assert_eq!(&out[..n], raw);
                }
                let Some(Ok(RtcpPacket::Bye(back))) = packets(&out[..n]).next() else {
                    panic!("rebuilt BYE does not read back")
                };
                assert_eq!(back, bye);
            }
            RtcpPacket::App(_) => {}
            RtcpPacket::Other(raw) => {
                let _ = raw.feedback();
            }
        }
    }
}

fn block() -> impl Strategy<Value = ReportBlock> {
    (
        any::<u32>(),
        any::<u8>(),
        -0x80_0000i32..=0x7f_ffff,
        any::<[u32; 4]>(),
    )
        .prop_map(
            |(ssrc, fraction_lost, cumulative_lost, [highest_seq, jitter, lsr, dlsr])| {
                ReportBlock {
                    ssrc,
                    fraction_lost,
                    cumulative_lost,
                    highest_seq,
                    jitter,
                    lsr,
                    dlsr,
                }
            },
        )
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        check_round_trip(&data);
    }

    #[test]
    fn mutated_reports_never_panic(
        ssrc in any::<u32>(),
        blocks in proptest::collection::vec(block(), 0..4),
        cname in proptest::collection::vec(any::<u8>(), 0..40),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        cut in any::<usize>(),
    ) {
        let mut out = [0u8; 1024];
        let n = write_report(&mut out, ssrc, None, &blocks, &cname).expect("fits");
        let mut data = out[..n].to_vec();
        for (at, byte) in flips {
            let len = data.len();
            data[at % len] ^= byte;
        }
        data.truncate(cut % (n + 1));
        check_round_trip(&data);
    }

    #[test]
    fn built_reports_read_back(
        ssrc in any::<u32>(),
        info in proptest::option::of(any::<[u32; 5]>()),
        blocks in proptest::collection::vec(block(), 0..=31),
        cname in proptest::collection::vec(any::<u8>(), 0..=255),
    ) {
        let info = info.map(|[hi, lo, ts, p, o]| SenderInfo {
            ntp: u64::from(hi) << 32 | u64::from(lo),
            rtp_timestamp: ts,
            packet_count: p,
            octet_count: o,
        });
        let mut out = [0u8; 2048];
        let n = write_report(&mut out, ssrc, info.as_ref(), &blocks, &cname).expect("fits");
        prop_assert_eq!(n % 4, 0);
        prop_assert_eq!(validate_compound(&out[..n]), Ok(()));
        let got: Vec<_> = packets(&out[..n]).collect::<Result<_, _>>().expect("reads back");
        prop_assert_eq!(got.len(), 2);
        let (from, reports) = match (got[0], info) {
            (RtcpPacket::SenderReport(sr), Some(info)) => {
                prop_assert_eq!(sr.info, info);
                (sr.ssrc, sr.reports)
            }
            (RtcpPacket::ReceiverReport(rr), None) => (rr.ssrc, rr.reports),
            (other, _) => panic!("unexpected {other:?}"),
        };
        prop_assert_eq!(from, ssrc);
        prop_assert_eq!(reports.iter().collect::<Vec<_>>(), blocks);
        let RtcpPacket::Sdes(sdes) = got[1] else { panic!("SDES expected") };
        prop_assert_eq!(sdes.cname(), Some((ssrc, &cname[..])));
        check_round_trip(&out[..n]);
    }

    #[test]
    fn built_bye_reads_back(
        ssrcs in proptest::collection::vec(any::<u32>(), 0..=31),
        reason in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..=255)),
    ) {
        let mut out = [0u8; 512];
        let n = write_bye(&mut out, &ssrcs, reason.as_deref()).expect("fits");
        let Some(Ok(RtcpPacket::Bye(bye))) = packets(&out[..n]).next() else { panic!("BYE") };
        prop_assert_eq!(bye.ssrcs().collect::<Vec<_>>(), ssrcs);
        prop_assert_eq!(bye.reason, reason.as_deref());
    }
}

#[test]
fn rr_only_and_bye_with_reason() {
    let rr = [
        0x81, 0xc9, 0x00, 0x07, 0, 0, 0, 9, // RR from SSRC 9, one block
        0, 0, 0, 7, 0xff, 0xff, 0xff, 0xfe, 0, 0, 0x10, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let Some(Ok(RtcpPacket::ReceiverReport(r))) = packets(&rr).next() else {
        panic!("RR")
    };
    let b = r.reports.get(0).expect("block");
    // 0xfffffe is −2 in 24-bit two's complement: duplicates outnumbered losses.
    assert_eq!(
        (r.ssrc, b.ssrc, b.cumulative_lost, b.highest_seq),
        (9, 7, -2, 0x1000)
    );
    assert_eq!(b.fraction_lost, 0xff);
    let mut out = [0u8; 64];
    let n = write_receiver_report(&mut out, 9, &[b]).expect("fits");
    assert_eq!(&out[..n], &rr[..]);

    let bye = [
        0x81, 0xcb, 0x00, 0x04, 0x12, 0x34, 0x56, 0x78, 10, b'H', b'a', b'n', b'g', b'i', b'n',
        b'g', b' ', b'u', b'p', 0,
    ];
    let Some(Ok(RtcpPacket::Bye(b))) = packets(&bye).next() else {
        panic!("BYE")
    };
    assert_eq!(b.ssrcs().collect::<Vec<_>>(), [0x1234_5678]);
    assert_eq!(b.reason, Some(&b"Hanging up"[..]));
    let n = write_bye(&mut out, &[0x1234_5678], b.reason).expect("fits");
    assert_eq!(&out[..n], &bye[..]);
}

#[test]
fn reduced_size_feedback_is_read_but_not_a_compound() {
    // RFC 5506 datagrams: a lone PLI (PSFB FMT 1), then a generic NACK (RTPFB FMT 1).
    let pli = [0x81, 0xce, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
    let Some(Ok(RtcpPacket::Other(raw))) = packets(&pli).next() else {
        panic!("raw")
    };
    assert_eq!((raw.packet_type, raw.count), (PT_PSFB, 1));
    assert_eq!(raw.feedback(), Some((1, 2, &[][..])));
    assert_eq!(validate_compound(&pli), Err(MediaError::RtcpNotCompound));
    let nack = [
        0x81, 0xcd, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0x00, 0x10, 0x00, 0x03,
    ];
    let Some(Ok(RtcpPacket::Other(raw))) = packets(&nack).next() else {
        panic!("raw")
    };
    assert_eq!(raw.feedback(), Some((1, 2, &[0x00, 0x10, 0x00, 0x03][..])));
}

#[test]
fn app_packet() {
    let app = [
        0x83, 0xcc, 0, 3, 0, 0, 0, 5, b'S', b'W', b'B', b'D', 1, 2, 3, 4,
    ];
    assert_eq!(
        packets(&app).next(),
        Some(Ok(RtcpPacket::App(App {
            subtype: 3,
            ssrc: 5,
            name: *b"SWBD",
            data: &[1, 2, 3, 4],
        })))
    );
}

#[test]
fn built_compound_round_trips() {
    let info = SenderInfo {
        ntp: 0xe89b_2a1c_8000_0000,
        rtp_timestamp: 160_000,
        packet_count: 1000,
        octet_count: 160_000,
    };
    let blocks: Vec<ReportBlock> = (0..31)
        .map(|i| ReportBlock {
            ssrc: i,
            fraction_lost: i as u8,
            cumulative_lost: -(i as i32) * 1000,
            highest_seq: 70_000 + i,
            jitter: i * 3,
            lsr: i * 7,
            dlsr: i * 11,
        })
        .collect();
    let mut out = [0u8; 1024];
    let n = write_report(&mut out, 77, Some(&info), &blocks, b"switchboard@node1").expect("fits");
    validate_compound(&out[..n]).expect("valid");
    let got = collect(&out[..n]);
    let Ok(RtcpPacket::SenderReport(sr)) = got[0] else {
        panic!("SR")
    };
    assert_eq!((sr.ssrc, sr.info), (77, info));
    assert_eq!(sr.reports.iter().collect::<Vec<_>>(), blocks);
    let Ok(RtcpPacket::Sdes(sdes)) = got[1] else {
        panic!("SDES")
    };
    assert_eq!(sdes.cname(), Some((77, &b"switchboard@node1"[..])));
    // RR variant, and an empty RR is still a valid compound head.
    let n = write_report(&mut out, 78, None, &[], b"x").expect("fits");
    validate_compound(&out[..n]).expect("valid");
    assert_eq!(n, 8 + 12);
}

#[test]
fn writers_refuse_what_does_not_fit() {
    let mut out = [0u8; 2048];
    let blocks = [ReportBlock::default(); 32];
    assert_eq!(
        write_receiver_report(&mut out, 1, &blocks),
        Err(MediaError::RtcpFieldTooLarge)
    );
    assert_eq!(
        write_sdes_cname(&mut out, 1, &[b'a'; 256]),
        Err(MediaError::RtcpFieldTooLarge)
    );
    assert_eq!(
        write_bye(&mut out, &[1], Some(&[b'a'; 256])),
        Err(MediaError::RtcpFieldTooLarge)
    );
    assert_eq!(
        write_sender_report(&mut out[..51], 1, &SenderInfo::default(), &blocks[..1]),
        Err(MediaError::BufferTooSmall)
    );
    // Clamped, not wrapped: a loss count beyond 24 bits stays at the maximum.
    let mut b = [0u8; 24];
    ReportBlock {
        cumulative_lost: i32::MAX,
        ..ReportBlock::default()
    }
    .write(&mut b);
    assert_eq!(ReportBlock::parse(&b).cumulative_lost, 0x7f_ffff);
}

#[test]
fn demultiplexes_rtp_and_rtcp() {
    assert_eq!(demux(&[0x80, 0x00, 0, 1]), Demux::Rtp); // PCMU
    assert_eq!(demux(&[0x80, 0xe0, 0, 1]), Demux::Rtp); // marker + PT 96
    assert_eq!(demux(&[0x81, 0xc8, 0, 6]), Demux::Rtcp); // SR
    assert_eq!(demux(&[0x81, 0xcd, 0, 6]), Demux::Rtcp); // RTPFB
    assert_eq!(demux(&[0x00, 0x01, 0, 0]), Demux::Other); // STUN binding request
    assert_eq!(demux(&[0x16, 0xfe, 0xfd]), Demux::Other); // DTLS
    assert_eq!(demux(&[0x80]), Demux::Other);
}
