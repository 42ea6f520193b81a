//! Read arbitrary bytes as RTCP: never a panic, and every packet of a kind the writers build (SR, RR,
//! SDES with one CNAME-only chunk, BYE) rebuilds to a packet that reads back the same, and to the very
//! same octets when the original carried no padding and no SR/RR extension (the writers emit neither).

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_media::rtcp::{
    packets, validate_compound, write_bye, write_receiver_report, write_sdes_cname,
    write_sender_report, ReportBlock, RtcpPacket, MAX_REPORT_BLOCKS, SDES_CNAME,
};

fuzz_target!(|data: &[u8]| {
    let _ = validate_compound(data);
    let mut it = packets(data);
    let mut start = 0;
    let mut out = [0u8; 1024];
    let mut blocks = [ReportBlock::default(); MAX_REPORT_BLOCKS];
    let mut ssrcs = [0u32; MAX_REPORT_BLOCKS];
    while let Some(item) = it.next() {
        let Ok(packet) = item else { break };
        let raw = &data[start..it.position()];
        start = it.position();
        let plain = raw[0] & 0x20 == 0;
        match packet {
            RtcpPacket::SenderReport(sr) => {
                let n = sr.reports.len();
                assert!(n <= MAX_REPORT_BLOCKS);
                for (dst, b) in blocks.iter_mut().zip(sr.reports.iter()) {
                    *dst = b;
                }
                let len = write_sender_report(&mut out, sr.ssrc, &sr.info, &blocks[..n])
                    .expect("a read SR rebuilds");
                if plain && sr.extension.is_empty() {
                    assert_eq!(&out[..len], raw, "SR octets differ");
                }
                let Some(Ok(RtcpPacket::SenderReport(back))) = packets(&out[..len]).next() else {
                    panic!("rebuilt SR does not read back");
                };
                assert_eq!(
                    (back.ssrc, back.info, back.reports),
                    (sr.ssrc, sr.info, sr.reports)
                );
            }
            RtcpPacket::ReceiverReport(rr) => {
                let n = rr.reports.len();
                for (dst, b) in blocks.iter_mut().zip(rr.reports.iter()) {
                    *dst = b;
                }
                let len = write_receiver_report(&mut out, rr.ssrc, &blocks[..n])
                    .expect("a read RR rebuilds");
                if plain && rr.extension.is_empty() {
                    assert_eq!(&out[..len], raw, "RR octets differ");
                }
                let Some(Ok(RtcpPacket::ReceiverReport(back))) = packets(&out[..len]).next() else {
                    panic!("rebuilt RR does not read back");
                };
                assert_eq!((back.ssrc, back.reports), (rr.ssrc, rr.reports));
            }
            RtcpPacket::Sdes(sdes) => {
                assert_eq!(sdes.chunks().count(), sdes.count());
                let _ = sdes.cname();
                let mut chunks = sdes.chunks();
                let (Some(chunk), None) = (chunks.next(), chunks.next()) else {
                    continue;
                };
                let mut items = chunk.items();
                let (Some(item), None) = (items.next(), items.next()) else {
                    continue;
                };
                if item.kind != SDES_CNAME {
                    continue;
                }
                let len = write_sdes_cname(&mut out, chunk.ssrc, item.value)
                    .expect("a read CNAME rebuilds");
                if plain {
                    assert_eq!(&out[..len], raw, "SDES octets differ");
                }
                let Some(Ok(RtcpPacket::Sdes(back))) = packets(&out[..len]).next() else {
                    panic!("rebuilt SDES does not read back");
                };
                assert_eq!(back.cname(), Some((chunk.ssrc, item.value)));
            }
            RtcpPacket::Bye(bye) => {
                let n = bye.len();
                for (dst, s) in ssrcs.iter_mut().zip(bye.ssrcs()) {
                    *dst = s;
                }
                let len =
                    write_bye(&mut out, &ssrcs[..n], bye.reason).expect("a read BYE rebuilds");
                if plain {
                    assert_eq!(&out[..len], raw, "BYE octets differ");
                }
                let Some(Ok(RtcpPacket::Bye(back))) = packets(&out[..len]).next() else {
                    panic!("rebuilt BYE does not read back");
                };
                assert_eq!(back, bye);
            }
            RtcpPacket::App(_) => {}
            RtcpPacket::Other(raw) => {
                let _ = raw.feedback();
            }
        }
    }
});
