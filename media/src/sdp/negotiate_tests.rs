//! Offer/answer against the fixtures: codec intersection, payload numbering, hold, rejection, 488.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::fixtures::{self, parse};
use super::*;

const RELAY: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

fn carrier_caps() -> LocalCapabilities {
    LocalCapabilities::new(RELAY, 40_000, vec![Codec::PCMU, Codec::PCMA])
}

fn softphone_caps() -> LocalCapabilities {
    let mut caps =
        LocalCapabilities::new(RELAY, 40_002, vec![Codec::OPUS, Codec::PCMU, Codec::PCMA]);
    caps.rtcp_mux = true;
    caps
}

fn origin() -> SessionOrigin {
    SessionOrigin::new(5000, RELAY)
}

fn socket(text: &str) -> SocketAddr {
    text.parse().expect("socket address")
}

/// The answer must be something we can print and read back, or the peer could not read it either.
fn answer_ok(
    offer: &str,
    caps: &LocalCapabilities,
    origin: &mut SessionOrigin,
) -> (SessionDescription, Negotiated) {
    let (answer, summary) = answer(&parse(offer), caps, origin).expect("acceptable");
    assert_eq!(parse(&answer.to_string()), answer);
    (answer, summary)
}

fn with_direction(offer: &str, direction: &str) -> String {
    offer.replace("a=sendrecv", direction)
}

#[test]
fn carrier_offer_is_answered_in_its_own_order() {
    let mut origin = origin();
    let (answer, summary) = answer_ok(fixtures::CARRIER_OFFER, &carrier_caps(), &mut origin);
    let expected = "v=0\r\n\
        o=- 5000 5000 IN IP4 192.0.2.1\r\n\
        s=-\r\n\
        c=IN IP4 192.0.2.1\r\n\
        t=0 0\r\n\
        m=audio 40000 RTP/AVP 8 0 101\r\n\
        a=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-16\r\n\
        a=ptime:20\r\n\
        a=sendrecv\r\n";
    assert_eq!(answer.to_string(), expected);
    assert_eq!(summary.media_index, 0);
    assert_eq!(summary.remote_rtp, socket("203.0.113.20:27528"));
    assert_eq!(summary.remote_rtcp, socket("203.0.113.20:27529"));
    assert!(!summary.rtcp_mux);
    let codec = &summary.send_codec;
    assert_eq!(
        (
            codec.payload_type,
            codec.local_payload_type,
            codec.name.as_str(),
            codec.clock_rate,
            codec.channels
        ),
        (8, 8, "PCMA", 8000, 1)
    );
    assert_eq!(
        summary.telephone_event,
        Some(NegotiatedEvent {
            payload_type: 101,
            local_payload_type: 101,
            clock_rate: 8000
        })
    );
    assert_eq!(summary.ptime, Some(20));
    assert_eq!(
        (summary.local_direction, summary.remote_direction),
        (Direction::SendRecv, Direction::SendRecv)
    );
    assert!(!summary.is_on_hold() && summary.should_send() && summary.should_receive());
}

#[test]
fn baresip_opus_keeps_the_offerers_dynamic_number() {
    let (answer, summary) = answer_ok(fixtures::BARESIP_OFFER, &softphone_caps(), &mut origin());
    let media = &answer.media[0];
    assert_eq!(media.formats, ["96", "0", "8", "101"]);
    assert_eq!(media.attribute("rtpmap"), Some("96 opus/48000/2"));
    assert_eq!(media.fmtp(96), Some("useinbandfec=1"));
    assert!(media.rtcp_mux());
    assert_eq!(summary.send_codec.payload_type, 96);
    assert_eq!(summary.send_codec.name, "opus");
    assert_eq!(
        summary.send_codec.fmtp.as_deref(),
        Some("stereo=1;sprop-stereo=1;maxaveragebitrate=28000")
    );
    assert!(summary.rtcp_mux);
    assert_eq!(summary.remote_rtcp, summary.remote_rtp);
    // No 48 kHz events offered: the 8 kHz ones are used.
    assert_eq!(
        summary
            .telephone_event
            .map(|e| (e.payload_type, e.clock_rate)),
        Some((101, 8000))
    );
}

#[test]
fn g711_only_leg_takes_the_static_types_from_baresip() {
    let (answer, summary) = answer_ok(fixtures::BARESIP_OFFER, &carrier_caps(), &mut origin());
    assert_eq!(answer.media[0].formats, ["0", "8", "101"]);
    // rtcp-mux was offered but this leg does not support it.
    assert!(!answer.media[0].rtcp_mux());
    assert_eq!(summary.remote_rtcp, socket("198.51.100.50:10331"));
    assert_eq!(
        (
            summary.send_codec.payload_type,
            summary.send_codec.name.as_str()
        ),
        (0, "PCMU")
    );
}

#[test]
fn dynamic_types_match_by_name_in_any_case() {
    let offer = "v=0\r\no=- 1 1 IN IP4 198.51.100.9\r\ns=-\r\nc=IN IP4 198.51.100.9\r\nt=0 0\r\n\
                 m=audio 5004 RTP/AVP 120 121\r\na=rtpmap:120 OPUS/48000/2\r\na=rtpmap:121 pcma/8000\r\n";
    let (answer, summary) = answer_ok(offer, &softphone_caps(), &mut origin());
    assert_eq!(answer.media[0].formats, ["120", "121"]);
    assert_eq!(
        (
            summary.send_codec.payload_type,
            summary.send_codec.clock_rate
        ),
        (120, 48_000)
    );
    // Opus announced as mono is a different format and must not match.
    let mono = offer.replace("OPUS/48000/2", "opus/48000");
    let (answer, _) = answer_ok(&mono, &softphone_caps(), &mut origin());
    assert_eq!(answer.media[0].formats, ["121"]);
}

#[test]
fn chromium_offer_needs_a_webrtc_leg() {
    let offer = parse(fixtures::CHROMIUM_OFFER);
    assert_eq!(
        answer(&offer, &softphone_caps(), &mut origin()),
        Err(SdpError::NoAcceptableMedia)
    );
    let mut caps = softphone_caps();
    caps.proto = "UDP/TLS/RTP/SAVPF".into();
    caps.extra_media_attributes = vec![Attribute::new("setup", "active")];
    let (answer, summary) = answer(&offer, &caps, &mut origin()).expect("acceptable");
    let media = &answer.media[0];
    // Opus, then μ-law and A-law in Chromium's order, then the 48 kHz events that match Opus.
    assert_eq!(media.formats, ["111", "0", "8", "110"]);
    assert_eq!(media.mid(), Some("0"));
    assert_eq!(media.attribute("setup"), Some("active"));
    assert_eq!(summary.telephone_event.map(|e| e.payload_type), Some(110));
    // c=0.0.0.0 with ICE is a placeholder, not hold.
    assert!(!summary.is_on_hold());
    assert_eq!(summary.remote_rtp, socket("0.0.0.0:9"));
}

#[test]
fn video_is_rejected_with_port_zero_and_its_formats() {
    let (answer, summary) = answer_ok(fixtures::AUDIO_VIDEO_OFFER, &carrier_caps(), &mut origin());
    assert_eq!(answer.media.len(), 2);
    let video = &answer.media[0];
    assert_eq!(
        (video.media.as_str(), video.port, video.formats.clone()),
        ("video", 0, vec!["96".to_owned()])
    );
    assert!(video.attributes.is_empty());
    assert_eq!(answer.media[1].port, 40_000);
    assert_eq!(summary.media_index, 1);
    // RFC 3605 a=rtcp with its own address.
    assert_eq!(summary.remote_rtcp, socket("198.51.100.61:49175"));
    assert_eq!(summary.remote_rtp, socket("198.51.100.60:49170"));
}

#[test]
fn only_the_first_acceptable_audio_stream_is_taken() {
    let offer = format!(
        "{}m=audio 27600 RTP/AVP 0\r\nm=audio 0 RTP/AVP 0\r\n",
        fixtures::CARRIER_OFFER
    );
    let (answer, summary) = answer_ok(&offer, &carrier_caps(), &mut origin());
    let ports: Vec<u16> = answer.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, [40_000, 0, 0]);
    assert_eq!(summary.media_index, 0);
    // A disabled first stream leaves the second one to be taken.
    let offer = fixtures::CARRIER_OFFER.replace("m=audio 27528", "m=audio 0");
    let offer = format!("{offer}m=audio 27600 RTP/AVP 0\r\n");
    let (answer, summary) = answer_ok(&offer, &carrier_caps(), &mut origin());
    let ports: Vec<u16> = answer.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, [0, 40_000]);
    assert_eq!(summary.remote_rtp, socket("203.0.113.20:27600"));
}

#[test]
fn nothing_in_common_is_488() {
    let only_g729 = fixtures::CARRIER_OFFER
        .replace("RTP/AVP 8 0 101", "RTP/AVP 18 101")
        .replace("a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n", "");
    let only_events = fixtures::CARRIER_OFFER.replace("RTP/AVP 8 0 101", "RTP/AVP 101");
    let srtp = fixtures::CARRIER_OFFER.replace("RTP/AVP", "RTP/SAVP");
    let unreachable =
        fixtures::CARRIER_OFFER.replace("IN IP4 203.0.113.20", "IN IP4 sbc.example.net");
    for offer in [only_g729, only_events, srtp, unreachable] {
        assert_eq!(
            answer(&parse(&offer), &carrier_caps(), &mut origin()),
            Err(SdpError::NoAcceptableMedia),
            "{offer}"
        );
    }
    let video_only =
        "v=0\r\no=- 1 1 IN IP4 198.51.100.9\r\ns=-\r\nc=IN IP4 198.51.100.9\r\nt=0 0\r\n\
                      m=video 5006 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n";
    assert_eq!(
        answer(&parse(video_only), &carrier_caps(), &mut origin()),
        Err(SdpError::NoAcceptableMedia)
    );
}

#[test]
fn hold_and_resume_reinvites() {
    let caps = carrier_caps();
    let mut origin = origin();
    let (first, _) = answer_ok(fixtures::CARRIER_OFFER, &caps, &mut origin);
    assert_eq!(first.origin.session_version, 5000);

    let (held, summary) = answer_ok(
        &with_direction(fixtures::CARRIER_OFFER, "a=sendonly"),
        &caps,
        &mut origin,
    );
    assert_eq!(held.media[0].direction(), Some(Direction::RecvOnly));
    assert_eq!(held.origin.session_version, 5001);
    assert_eq!(
        held.media[0].formats, first.media[0].formats,
        "payload mapping stays"
    );
    assert!(summary.held_by_remote() && !summary.held_by_local());
    assert!(!summary.should_send() && summary.should_receive());

    let (inactive, summary) = answer_ok(
        &with_direction(fixtures::CARRIER_OFFER, "a=inactive"),
        &caps,
        &mut origin,
    );
    assert_eq!(inactive.media[0].direction(), Some(Direction::Inactive));
    assert_eq!(inactive.origin.session_version, 5002);
    assert!(!summary.should_send() && !summary.should_receive());

    let (resumed, summary) = answer_ok(fixtures::CARRIER_OFFER, &caps, &mut origin);
    assert_eq!(resumed.media[0].direction(), Some(Direction::SendRecv));
    assert_eq!(resumed.origin.session_version, 5003);
    assert!(!summary.is_on_hold());
    let mut without_origin = resumed.clone();
    without_origin.origin = first.origin.clone();
    assert_eq!(
        without_origin, first,
        "resumed answer equals the first one but for o="
    );

    // A session refresh re-offers the same thing: same answer, same version.
    let (refreshed, _) = answer_ok(fixtures::CARRIER_OFFER, &caps, &mut origin);
    assert_eq!(refreshed, resumed);
    assert_eq!(origin.version(), 5003);

    let (answer, _) = answer_ok(
        &with_direction(fixtures::CARRIER_OFFER, "a=recvonly"),
        &caps,
        &mut origin,
    );
    assert_eq!(answer.media[0].direction(), Some(Direction::SendOnly));
}

#[test]
fn local_hold_narrows_the_answer() {
    let mut caps = carrier_caps();
    caps.direction = Direction::SendOnly;
    let (answer, summary) = answer_ok(fixtures::CARRIER_OFFER, &caps, &mut origin());
    assert_eq!(answer.media[0].direction(), Some(Direction::SendOnly));
    assert!(summary.held_by_local() && !summary.held_by_remote());
    let (answer, _) = answer_ok(
        &with_direction(fixtures::CARRIER_OFFER, "a=sendonly"),
        &caps,
        &mut origin(),
    );
    assert_eq!(answer.media[0].direction(), Some(Direction::Inactive));
}

#[test]
fn rfc2543_hold_is_recognised() {
    let (answer, summary) = answer_ok(fixtures::RFC2543_HOLD_OFFER, &carrier_caps(), &mut origin());
    assert_eq!(answer.media[0].direction(), Some(Direction::RecvOnly));
    assert_eq!(summary.remote_rtp, socket("0.0.0.0:20000"));
    assert_eq!(summary.remote_direction, Direction::SendOnly);
    assert!(summary.held_by_remote() && !summary.should_send());
}

#[test]
fn our_offer_and_asterisks_answer() {
    let mut caps = carrier_caps();
    let mut origin = origin();
    let offer = create_offer(&caps, &mut origin).expect("valid caps");
    let expected = "v=0\r\n\
        o=- 5000 5000 IN IP4 192.0.2.1\r\n\
        s=-\r\n\
        c=IN IP4 192.0.2.1\r\n\
        t=0 0\r\n\
        m=audio 40000 RTP/AVP 0 8 101\r\n\
        a=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-16\r\n\
        a=ptime:20\r\n\
        a=sendrecv\r\n";
    assert_eq!(offer.to_string(), expected);

    let summary = negotiated(&offer, &parse(fixtures::ASTERISK_ANSWER)).expect("agreed");
    assert_eq!(summary.remote_rtp, socket("198.51.100.7:14508"));
    assert_eq!(summary.remote_rtcp, socket("198.51.100.7:14509"));
    assert_eq!(
        (
            summary.send_codec.payload_type,
            summary.send_codec.name.as_str()
        ),
        (0, "PCMU")
    );
    assert_eq!(summary.telephone_event.map(|e| e.payload_type), Some(101));
    assert_eq!(summary.ptime, Some(20));

    // An answerer may renumber (RFC 3264 §6.1 says SHOULD NOT): we send under its numbers.
    let renumbered = fixtures::ASTERISK_ANSWER
        .replace(" 101", " 100")
        .replace(":101", ":100");
    let summary = negotiated(&offer, &parse(&renumbered)).expect("agreed");
    assert_eq!(
        summary.telephone_event,
        Some(NegotiatedEvent {
            payload_type: 100,
            local_payload_type: 101,
            clock_rate: 8000
        })
    );

    // Re-offering the same is not a change; putting the leg on hold is.
    let again = create_offer(&caps, &mut origin).expect("valid caps");
    assert_eq!(again.origin.session_version, 5000);
    caps.direction = Direction::SendOnly;
    let hold = create_offer(&caps, &mut origin).expect("valid caps");
    assert_eq!(hold.origin.session_version, 5001);
    assert_eq!(hold.media[0].direction(), Some(Direction::SendOnly));
    let held_answer = with_direction(fixtures::ASTERISK_ANSWER, "a=recvonly");
    let summary = negotiated(&hold, &parse(&held_answer)).expect("agreed");
    assert!(summary.held_by_local() && !summary.held_by_remote() && summary.should_send());
}

#[test]
fn negotiated_needs_matching_answers() {
    let offer = parse(fixtures::AUDIO_VIDEO_OFFER);
    let answer_text = parse(fixtures::ASTERISK_ANSWER);
    assert_eq!(
        negotiated(&offer, &answer_text),
        Err(SdpError::MediaCountMismatch {
            local: 2,
            remote: 1
        })
    );
    let rejected = fixtures::ASTERISK_ANSWER.replace("m=audio 14508", "m=audio 0");
    assert_eq!(
        negotiated(&parse(fixtures::CARRIER_OFFER), &parse(&rejected)),
        Err(SdpError::NoAcceptableMedia)
    );
}

#[test]
fn invalid_capabilities_are_refused() {
    let mut origin = origin();
    let broken = |change: fn(&mut LocalCapabilities)| {
        let mut caps = carrier_caps();
        change(&mut caps);
        caps
    };
    let cases: [fn(&mut LocalCapabilities); 7] = [
        |c| c.codecs.clear(),
        |c| {
            c.codecs.push(Codec {
                name: "X".into(),
                ..Codec::PCMU
            })
        },
        |c| c.telephone_event = Some(8),
        |c| c.telephone_event = Some(128),
        |c| c.codecs[0].fmtp = Some("a\r\na=evil".into()),
        |c| c.proto = "udptl".into(),
        |c| c.extra_media_attributes.push(Attribute::flag("bad name")),
    ];
    for change in cases {
        let caps = broken(change);
        assert!(matches!(
            create_offer(&caps, &mut origin),
            Err(SdpError::InvalidCapabilities { .. })
        ));
        assert!(matches!(
            answer(&parse(fixtures::CARRIER_OFFER), &caps, &mut origin),
            Err(SdpError::InvalidCapabilities { .. })
        ));
    }
    assert!(origin.last_sent().is_none(), "nothing was stamped");
}
