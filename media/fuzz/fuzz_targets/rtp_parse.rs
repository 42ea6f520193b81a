//! Parse arbitrary bytes as RTP and as an RFC 4733 telephone-event payload: never a panic, and whatever
//! parses writes back to the same bytes (padding octets other than the count are written as zeros, so
//! only the count and the rest are compared).

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_media::dtmf::TelephoneEvent;
use switchboard_media::rtp::RtpPacket;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = RtpPacket::parse(data) {
        let mut out = vec![0u8; p.wire_len()];
        let n = p.write(&mut out).expect("a parsed packet writes");
        assert_eq!(n, data.len(), "written length differs from the datagram");
        let pad = usize::from(p.padding);
        let body = data.len() - pad;
        assert_eq!(out[..body], data[..body], "header or payload differs");
        let again = RtpPacket::parse(&out).expect("written packet parses");
        assert_eq!(again, p);
    }
    let _ = TelephoneEvent::parse(data);
});
