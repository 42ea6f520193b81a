//! The fixtures read through the typed accessors, and printed back.

use std::net::{IpAddr, Ipv4Addr};

use super::fixtures::{self, parse};
use super::*;

fn round_trip(text: &str) {
    let parsed = parse(text);
    let printed = parsed.to_string();
    assert!(printed.ends_with("\r\n") && !printed.replace("\r\n", "").contains('\n'));
    assert_eq!(parse(&printed), parsed, "printed:\n{printed}");
}

#[test]
fn fixtures_round_trip() {
    for text in [
        fixtures::CARRIER_OFFER,
        fixtures::BARESIP_OFFER,
        fixtures::ASTERISK_ANSWER,
        fixtures::CHROMIUM_OFFER,
        fixtures::AUDIO_VIDEO_OFFER,
        fixtures::RFC2543_HOLD_OFFER,
    ] {
        round_trip(text);
    }
}

#[test]
fn crlf_fixtures_print_byte_for_byte() {
    // These are written in RFC 8866 order with single spaces, so nothing is normalised away.
    for text in [
        fixtures::CARRIER_OFFER,
        fixtures::ASTERISK_ANSWER,
        fixtures::AUDIO_VIDEO_OFFER,
    ] {
        assert_eq!(parse(text).to_string(), text);
    }
    // Chromium writes t= before its session attributes but no c= at session level; also in order.
    assert_eq!(
        parse(fixtures::CHROMIUM_OFFER).to_string(),
        fixtures::CHROMIUM_OFFER
    );
    // baresip's bare LF becomes CRLF, nothing else changes.
    assert_eq!(
        parse(fixtures::BARESIP_OFFER).to_string(),
        fixtures::BARESIP_OFFER.replace('\n', "\r\n")
    );
}

#[test]
fn carrier_offer() {
    let sdp = parse(fixtures::CARRIER_OFFER);
    assert_eq!(sdp.origin.username, "Sonus_UAC");
    assert_eq!(
        (sdp.origin.session_id, sdp.origin.session_version),
        (417_213, 802_654)
    );
    assert_eq!(sdp.session_name, "SIP Media Capabilities");
    let view = sdp.media_view(0).expect("one section");
    assert_eq!(
        view.connection().and_then(Connection::ip),
        Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 20)))
    );
    assert_eq!(view.port(), 27528);
    assert_eq!(view.proto(), "RTP/AVP");
    assert_eq!(view.direction(), Direction::SendRecv);
    let media = view.media;
    assert_eq!(media.payload_types(), vec![8, 0, 101]);
    assert_eq!((media.ptime(), media.maxptime()), (Some(20), Some(40)));
    let event = media.telephone_event().expect("events");
    assert_eq!((event.payload_type, event.clock_rate), (101, 8000));
    assert_eq!(event.events, Some(vec![EventRange { first: 0, last: 15 }]));
    assert!(!media.rtcp_mux());
    assert_eq!(media.rtcp(), None);
}

#[test]
fn baresip_offer_with_static_pcmu_and_opus_fmtp() {
    let sdp = parse(fixtures::BARESIP_OFFER);
    assert_eq!(sdp.attribute("tool"), Some("baresip 3.10.1"));
    let media = &sdp.media[0];
    let formats = media.payload_formats();
    let names: Vec<(u8, &str, u32, u16)> = formats
        .iter()
        .map(|f| {
            let map = f.rtpmap.as_ref().expect("all mapped");
            (
                f.payload_type,
                map.encoding.as_str(),
                map.clock_rate,
                map.channels,
            )
        })
        .collect();
    assert_eq!(
        names,
        vec![
            (96, "opus", 48_000, 2),
            (0, "PCMU", 8000, 1),
            (8, "PCMA", 8000, 1),
            (101, "telephone-event", 8000, 1),
        ]
    );
    assert_eq!(
        media.fmtp(96),
        Some("stereo=1;sprop-stereo=1;maxaveragebitrate=28000")
    );
    assert_eq!(media.fmtp(0), None);
    assert!(media.rtcp_mux());
    assert_eq!(
        media.bandwidths,
        vec![Bandwidth {
            kind: "AS".into(),
            value: 128
        }]
    );
}

#[test]
fn chromium_offer_exposes_ice_and_dtls() {
    let sdp = parse(fixtures::CHROMIUM_OFFER);
    assert_eq!(sdp.origin.session_id, 4_611_731_400_430_051_336);
    assert_eq!(sdp.attribute("group"), Some("BUNDLE 0"));
    // The value is kept with its leading space, as Chromium wrote it.
    assert!(sdp
        .attribute("msid-semantic")
        .is_some_and(|v| v.starts_with(" WMS ")));
    let view = sdp.media_view(0).expect("audio");
    assert_eq!(view.proto(), "UDP/TLS/RTP/SAVPF");
    assert_eq!(view.ice_ufrag(), Some("Q1Xf"));
    assert_eq!(view.ice_pwd(), Some("pXzWFyCuzMDD3qkq6K2pwmg4"));
    assert_eq!(view.setup(), Some("actpass"));
    assert!(view
        .fingerprint()
        .is_some_and(|f| f.starts_with("sha-256 7B:8B:")));
    assert!(view.uses_ice());
    let media = view.media;
    assert_eq!(media.mid(), Some("0"));
    assert_eq!(media.candidates().count(), 3);
    assert!(media
        .candidates()
        .any(|c| c.contains("typ srflx raddr 192.0.2.196")));
    assert!(media.rtcp_mux());
    assert_eq!(
        media.rtcp(),
        Some(RtcpAttribute {
            port: 9,
            connection: Some(Connection::from_ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED))),
        })
    );
    assert_eq!(media.payload_types(), vec![111, 63, 9, 0, 8, 13, 110, 126]);
    assert_eq!(media.fmtp(111), Some("minptime=10;useinbandfec=1"));
    assert_eq!(media.attributes_named("extmap").count(), 4);
    assert_eq!(media.attributes_named("ssrc").count(), 2);
    let events: Vec<(u8, u32)> = media
        .telephone_events()
        .iter()
        .map(|e| (e.payload_type, e.clock_rate))
        .collect();
    assert_eq!(events, vec![(110, 48_000), (126, 8000)]);
}

#[test]
fn section_attributes_override_session_ones() {
    let text = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
                a=sendonly\r\na=ice-ufrag:session\r\n\
                m=audio 4000 RTP/AVP 0\r\nc=IN IP4 192.0.2.2\r\na=inactive\r\na=ice-ufrag:media\r\n\
                m=audio 4002 RTP/AVP 0\r\n";
    let sdp = parse(text);
    let first = sdp.media_view(0).expect("first");
    let second = sdp.media_view(1).expect("second");
    assert_eq!(first.direction(), Direction::Inactive);
    assert_eq!(second.direction(), Direction::SendOnly);
    assert_eq!(first.ice_ufrag(), Some("media"));
    assert_eq!(second.ice_ufrag(), Some("session"));
    assert_eq!(
        first.connection().map(|c| c.address.as_str()),
        Some("192.0.2.2")
    );
    assert_eq!(
        second.connection().map(|c| c.address.as_str()),
        Some("192.0.2.1")
    );
    assert_eq!(sdp.media_view(2).map(|v| v.port()), None);
}

#[test]
fn direction_defaults_to_sendrecv() {
    let sdp = parse(fixtures::RFC2543_HOLD_OFFER);
    let view = sdp.media_view(0).expect("audio");
    assert_eq!(view.direction(), Direction::SendRecv);
    assert!(view.connection().is_some_and(Connection::is_unspecified));
    assert!(!view.uses_ice());
}

#[test]
fn unknown_lines_keep_their_order() {
    let sdp = parse(fixtures::CHROMIUM_OFFER);
    let names: Vec<&str> = sdp.media[0]
        .attributes
        .iter()
        .map(|a| a.name.as_str())
        .take(6)
        .collect();
    assert_eq!(
        names,
        [
            "rtcp",
            "candidate",
            "candidate",
            "candidate",
            "ice-ufrag",
            "ice-pwd"
        ]
    );
}

#[test]
fn connection_ip_needs_a_matching_literal() {
    let connection = |net: &str, kind: &str, address: &str| Connection {
        net_type: net.into(),
        addr_type: kind.into(),
        address: address.into(),
    };
    assert!(connection("IN", "IP4", "192.0.2.1").ip().is_some());
    assert!(connection("IN", "IP6", "2001:db8::1").ip().is_some());
    assert_eq!(connection("IN", "IP6", "192.0.2.1").ip(), None);
    assert_eq!(connection("IN", "IP4", "224.2.1.1/127").ip(), None);
    assert_eq!(connection("IN", "IP4", "pbx.example.net").ip(), None);
    assert_eq!(connection("ATM", "IP4", "192.0.2.1").ip(), None);
}

#[test]
fn direction_algebra() {
    use Direction::*;
    assert_eq!(SendOnly.reversed(), RecvOnly);
    assert_eq!(RecvOnly.reversed(), SendOnly);
    assert_eq!(SendRecv.reversed(), SendRecv);
    assert_eq!(Inactive.reversed(), Inactive);
    assert_eq!(SendRecv.intersect(SendOnly), SendOnly);
    assert_eq!(RecvOnly.intersect(SendOnly), Inactive);
    assert_eq!(Direction::from_attribute_name("RecvOnly"), Some(RecvOnly));
    assert_eq!(Direction::from_attribute_name("sendrecv2"), None);
}
