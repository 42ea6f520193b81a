//! RFC 4733 key presses as a pcap file for SIPp's `play_pcap_audio`: SIPp ships one pcap per key,
//! but a caller keying a phone number presses many, each a separate event (its own RTP timestamp).

use std::path::Path;

/// Payload type of telephone-event in our scenarios' offers.
const EVENT_PT: u8 = 101;

/// Writes `keys` (0–9, `*`, `#`) as RFC 4733 events, 100 ms each with 100 ms between keys, paced by
/// the pcap timestamps (SIPp sends them at these times). SIPp sends the RTP headers as they are, and
/// a receiver takes an event with a timestamp it has seen as a repeat: pcaps played into one call
/// need different `first_timestamp`s.
pub fn write_keys_pcap(path: &Path, keys: &str, first_timestamp: u32) {
    let mut out = Vec::new();
    // pcap global header: magic, v2.4, tz 0, sigfigs 0, snaplen, Ethernet.
    out.extend_from_slice(&0xa1b2_c3d4_u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&1u32.to_le_bytes());
    let mut seq: u16 = 1000;
    let mut at_ms: u32 = 0;
    let mut timestamp = first_timestamp;
    for key in keys.chars() {
        let event = match key {
            '0'..='9' => key as u8 - b'0',
            '*' => 10,
            '#' => 11,
            other => panic!("no DTMF key {other:?}"),
        };
        // Five updates every 20 ms, then the end packet three times (RFC 4733 §2.5.1.4).
        for i in 0..8u16 {
            let end = i >= 5;
            let duration = (i.min(5) + 1) * 160;
            let mut rtp = vec![0x80, EVENT_PT | if i == 0 { 0x80 } else { 0 }];
            rtp.extend_from_slice(&seq.to_be_bytes());
            rtp.extend_from_slice(&timestamp.to_be_bytes());
            rtp.extend_from_slice(&0x1234_5678u32.to_be_bytes());
            rtp.push(event);
            rtp.push(if end { 0x80 | 10 } else { 10 });
            rtp.extend_from_slice(&duration.to_be_bytes());
            write_packet(&mut out, at_ms, &rtp);
            seq = seq.wrapping_add(1);
            if i < 5 {
                at_ms += 20;
            }
        }
        at_ms += 100;
        timestamp = timestamp.wrapping_add(1600);
    }
    std::fs::write(path, out).expect("write the DTMF pcap");
}

/// One Ethernet/IPv4/UDP frame with `payload`, at `at_ms` from the start.
fn write_packet(out: &mut Vec<u8>, at_ms: u32, payload: &[u8]) {
    let udp_len = 8 + payload.len();
    let ip_len = 20 + udp_len;
    let frame_len = 14 + ip_len;
    out.extend_from_slice(&(at_ms / 1000).to_le_bytes());
    out.extend_from_slice(&((at_ms % 1000) * 1000).to_le_bytes());
    out.extend_from_slice(&(frame_len as u32).to_le_bytes());
    out.extend_from_slice(&(frame_len as u32).to_le_bytes());
    // Ethernet: zero MACs, IPv4.
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(&[0x08, 0x00]);
    // IPv4 header (checksum left 0: SIPp reads the UDP payload and rewrites the addresses).
    out.extend_from_slice(&[0x45, 0x00]);
    out.extend_from_slice(&(ip_len as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
    out.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
    // UDP header.
    out.extend_from_slice(&6000u16.to_be_bytes());
    out.extend_from_slice(&6002u16.to_be_bytes());
    out.extend_from_slice(&(udp_len as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
}
