//! A browser's offer answered as a WebRTC leg: ICE-lite, DTLS passive, BUNDLE, rtcp-mux, the codec
//! chosen; and what the relay needs from the browser's description.

use std::net::{IpAddr, Ipv4Addr};

use super::fixtures::parse;
use super::*;

/// Chromium's audio offer as JsSIP sends it (trimmed of nothing that matters here).
pub(super) const CHROME_OFFER: &str = "v=0\r\n\
o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n\
s=-\r\n\
t=0 0\r\n\
a=group:BUNDLE 0\r\n\
a=extmap-allow-mixed\r\n\
a=msid-semantic: WMS 1b0e\r\n\
m=audio 46243 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126\r\n\
c=IN IP4 10.200.0.1\r\n\
a=rtcp:9 IN IP4 0.0.0.0\r\n\
a=candidate:1467250027 1 udp 2122260223 10.200.0.1 46243 typ host generation 0 network-id 1\r\n\
a=ice-ufrag:Fz5V\r\n\
a=ice-pwd:VOvg+K4ZrkGyuaDqRvR3Ehfz\r\n\
a=ice-options:trickle\r\n\
a=fingerprint:sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:36:DD:D5:97:D2:7D:62:C9:9A:7F:B9:A3:F4:70:03:E7:43:91:73:23:5E\r\n\
a=setup:actpass\r\n\
a=mid:0\r\n\
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n\
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid\r\n\
a=sendrecv\r\n\
a=msid:1b0e 9f1d\r\n\
a=rtcp-mux\r\n\
a=rtcp-rsize\r\n\
a=rtpmap:111 opus/48000/2\r\n\
a=rtcp-fb:111 transport-cc\r\n\
a=fmtp:111 minptime=10;useinbandfec=1\r\n\
a=rtpmap:63 red/48000/2\r\n\
a=fmtp:63 111/111\r\n\
a=rtpmap:9 G722/8000\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:13 CN/8000\r\n\
a=rtpmap:110 telephone-event/48000\r\n\
a=rtpmap:126 telephone-event/8000\r\n\
a=ssrc:3907 cname:abc\r\n\
a=ssrc:3907 msid:1b0e 9f1d\r\n";

const RELAY: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 200, 0, 1));

fn webrtc_caps(codecs: Vec<Codec>) -> LocalCapabilities {
    let mut caps = LocalCapabilities::new(RELAY, 20_000, codecs);
    caps.rtcp_mux = true;
    caps.webrtc = Some(LocalWebRtc {
        ufrag: "srvU".into(),
        pwd: "server-password-0123456789".into(),
        fingerprint: "sha-256 AA:BB".into(),
    });
    caps
}

#[test]
fn a_browser_offer_is_answered_as_an_ice_lite_dtls_server() {
    let offer = parse(CHROME_OFFER);
    let (answer, n) = answer(
        &offer,
        &webrtc_caps(vec![Codec::PCMU]),
        &mut SessionOrigin::new(9, RELAY),
    )
    .expect("acceptable");
    let text = answer.to_string();
    for line in [
        "a=ice-lite\r\n",
        "a=group:BUNDLE 0\r\n",
        "m=audio 20000 UDP/TLS/RTP/SAVPF 0 126\r\n",
        "a=mid:0\r\n",
        "a=rtcp-mux\r\n",
        "a=ice-ufrag:srvU\r\n",
        "a=ice-pwd:server-password-0123456789\r\n",
        "a=fingerprint:sha-256 AA:BB\r\n",
        "a=setup:passive\r\n",
        "a=candidate:1 1 udp 2130706431 10.200.0.1 20000 typ host\r\n",
    ] {
        assert!(text.contains(line), "{line:?} missing in\n{text}");
    }
    assert!(!text.contains("a=crypto"), "{text}");
    assert_eq!(parse(&text), answer);
    let remote = n.webrtc.expect("the browser's parameters");
    assert_eq!(remote.ufrag, "Fz5V");
    assert_eq!(remote.pwd, "VOvg+K4ZrkGyuaDqRvR3Ehfz");
    assert!(remote.fingerprint.starts_with("sha-256 49:66:12"));
    assert_eq!((remote.ssrc, remote.mid.as_str()), (Some(3907), "0"));
    assert!(n.rtcp_mux);
    assert_eq!(n.send_codec.name, "PCMU");
}

#[test]
fn a_leg_without_webrtc_refuses_a_browser_offer() {
    let offer = parse(CHROME_OFFER);
    let plain = LocalCapabilities::new(RELAY, 20_000, vec![Codec::PCMU]);
    assert!(answer(&offer, &plain, &mut SessionOrigin::new(9, RELAY)).is_err());
    // And one without its ICE credentials is no usable WebRTC stream.
    let broken = parse(&CHROME_OFFER.replace("a=ice-pwd:VOvg+K4ZrkGyuaDqRvR3Ehfz\r\n", ""));
    assert!(answer(
        &broken,
        &webrtc_caps(vec![Codec::PCMU]),
        &mut SessionOrigin::new(9, RELAY)
    )
    .is_err());
}
