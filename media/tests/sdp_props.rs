//! Property tests for the SDP layer: no input panics the parser or the offer/answer functions, and
//! whatever parses (or is generated as a valid description) prints and parses back to itself.

use std::net::{IpAddr, Ipv4Addr};

use proptest::prelude::*;
use switchboard_media::sdp::{
    answer, negotiated, Attribute, Bandwidth, Codec, Connection, Direction, LocalCapabilities,
    MediaDescription, Origin, SdpError, SessionDescription, SessionOrigin, Timing,
    MAX_DESCRIPTION_LEN, MAX_LINE_LEN,
};

/// Parse, and if that works, print and parse again: the two descriptions must be equal, and the
/// printed text must itself be within the limits the parser enforces.
fn check_round_trip(input: &[u8]) -> Result<Option<SessionDescription>, TestCaseError> {
    let Ok(parsed) = SessionDescription::parse(input) else {
        return Ok(None);
    };
    let printed = parsed.to_string();
    prop_assert!(printed.len() <= MAX_DESCRIPTION_LEN);
    prop_assert!(printed.split("\r\n").all(|line| line.len() <= MAX_LINE_LEN));
    prop_assert_eq!(
        SessionDescription::parse(printed.as_bytes()),
        Ok(parsed.clone())
    );
    Ok(Some(parsed))
}

/// Answering anything that parses must not panic, and an answer must be readable SDP that agrees with
/// the summary returned beside it.
fn check_answer(offer: &SessionDescription) -> Result<(), TestCaseError> {
    let relay = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let mut caps =
        LocalCapabilities::new(relay, 40_000, vec![Codec::OPUS, Codec::PCMU, Codec::PCMA]);
    caps.rtcp_mux = true;
    let mut origin = SessionOrigin::new(1, relay);
    match answer(offer, &caps, &mut origin) {
        Ok((ours, summary)) => {
            prop_assert_eq!(ours.media.len(), offer.media.len());
            prop_assert_eq!(
                SessionDescription::parse(ours.to_string().as_bytes()),
                Ok(ours.clone())
            );
            prop_assert_eq!(negotiated(&ours, offer), Ok(summary));
        }
        Err(e) => prop_assert!(matches!(e, SdpError::NoAcceptableMedia), "{e:?}"),
    }
    Ok(())
}

/// Lines that look like SDP often enough to get past the first checks, mixed with near misses.
fn sdp_like_line() -> impl Strategy<Value = String> {
    let valid = prop_oneof![
        Just("a=rtpmap:0 PCMU/8000"),
        Just("a=rtpmap:96 opus/48000/2"),
        Just("a=rtpmap:97 PCMA/8000"),
        Just("a=rtpmap:101 telephone-event/8000"),
        Just("a=rtpmap:110 telephone-event/48000"),
        Just("a=fmtp:101 0-15"),
        Just("a=rtcp-mux"),
        Just("a=rtcp:4001 IN IP4 198.51.100.2"),
        Just("a=ptime:20"),
        Just("a=sendonly"),
        Just("a=recvonly"),
        Just("a=inactive"),
        Just("a=ice-ufrag:x"),
        Just("b=AS:64"),
    ]
    .prop_map(str::to_owned);
    let media = (
        0u16..3,
        prop::collection::vec(
            prop_oneof![
                Just(0u8),
                Just(8),
                Just(96),
                Just(97),
                Just(101),
                Just(110),
                0u8..130
            ],
            1..5,
        ),
    )
        .prop_map(|(port, pts)| {
            let pts: Vec<String> = pts.iter().map(u8::to_string).collect();
            format!("m=audio {} RTP/AVP {}", port * 2000, pts.join(" "))
        });
    prop_oneof![
        12 => valid,
        4 => media,
        1 => prop_oneof![Just("v=0"), Just("t=0 0"), Just("c=IN IP4 0.0.0.0"), Just("m=video 0 RTP/AVP 96")].prop_map(str::to_owned),
        1 => "[a-z]=[ -~]{0,20}",
        1 => "[ -~]{0,12}",
    ]
}

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9!#$%&'*+.^_`{|}~-]{1,10}"
}

/// No whitespace: usernames, network and address types, addresses.
fn word() -> impl Strategy<Value = String> {
    "[!-~]{1,12}"
}

/// Free text: anything but the line breaks and NUL that SDP text excludes.
fn text() -> impl Strategy<Value = String> {
    "[^\r\n\x00]{0,24}"
}

fn attribute() -> impl Strategy<Value = Attribute> {
    (token(), prop::option::of(text())).prop_map(|(name, value)| Attribute { name, value })
}

fn connection() -> impl Strategy<Value = Connection> {
    (word(), word(), word()).prop_map(|(net_type, addr_type, address)| Connection {
        net_type,
        addr_type,
        address,
    })
}

fn bandwidth() -> impl Strategy<Value = Bandwidth> {
    (token(), any::<u64>()).prop_map(|(kind, value)| Bandwidth { kind, value })
}

fn media() -> impl Strategy<Value = MediaDescription> {
    let formats = prop_oneof![
        (
            "RTP/AVP|RTP/SAVP|UDP/TLS/RTP/SAVPF|RTP/AVPF",
            prop::collection::vec(0u8..128, 1..6)
        )
            .prop_map(|(proto, pts)| (proto, pts.iter().map(u8::to_string).collect::<Vec<_>>())),
        (
            "udptl|UDP/DTLS/SCTP|TCP/MRCPv2",
            prop::collection::vec(word(), 1..4)
        ),
    ];
    (
        (
            word(),
            any::<u16>(),
            prop::option::of(any::<u16>()),
            formats,
        ),
        prop::option::of(text()),
        prop::option::of(connection()),
        prop::collection::vec(bandwidth(), 0..2),
        prop::option::of(text()),
        prop::collection::vec(attribute(), 0..6),
    )
        .prop_map(
            |(
                (media, port, port_count, (proto, formats)),
                information,
                connection,
                bandwidths,
                key,
                attributes,
            )| {
                MediaDescription {
                    media,
                    port,
                    port_count,
                    proto,
                    formats,
                    information,
                    connection,
                    bandwidths,
                    encryption_key: key,
                    attributes,
                }
            },
        )
}

fn description() -> impl Strategy<Value = SessionDescription> {
    let origin = (word(), any::<u64>(), any::<u64>(), word(), word(), word()).prop_map(
        |(username, session_id, session_version, net_type, addr_type, address)| Origin {
            username,
            session_id,
            session_version,
            net_type,
            addr_type,
            address,
        },
    );
    let timing = (
        any::<u64>(),
        any::<u64>(),
        prop::collection::vec(text(), 0..2),
    )
        .prop_map(|(start, stop, repeats)| Timing {
            start,
            stop,
            repeats,
        });
    (
        (
            origin,
            text(),
            prop::option::of(text()),
            prop::option::of(text()),
        ),
        (
            prop::collection::vec(text(), 0..2),
            prop::collection::vec(text(), 0..2),
        ),
        (
            prop::option::of(connection()),
            prop::collection::vec(bandwidth(), 0..2),
        ),
        (
            prop::collection::vec(timing, 1..3),
            prop::option::of(text()),
            prop::option::of(text()),
        ),
        prop::collection::vec(attribute(), 0..6),
        prop::collection::vec(media(), 0..4),
    )
        .prop_map(
            |(
                (origin, session_name, information, uri),
                (emails, phones),
                (connection, bandwidths),
                (timings, time_zones, encryption_key),
                attributes,
                media,
            )| SessionDescription {
                origin,
                session_name,
                information,
                uri,
                emails,
                phones,
                connection,
                bandwidths,
                timings,
                time_zones,
                encryption_key,
                attributes,
                media,
            },
        )
}

/// One offered payload format: number, rtpmap (None for a static type written without one).
type Offered = (u8, Option<&'static str>);

fn offered_formats() -> impl Strategy<Value = Vec<Offered>> {
    let pool: Vec<Offered> = vec![
        (0, None),
        (8, Some("PCMA/8000")),
        (9, None),
        (18, Some("G729/8000")),
        (13, None),
        (96, Some("opus/48000/2")),
        (97, Some("PCMU/8000")),
        (98, Some("iLBC/8000")),
        (99, Some("speex/16000")),
        (100, Some("OPUS/48000")),
        (101, Some("telephone-event/8000")),
        (110, Some("telephone-event/48000")),
    ];
    prop::sample::subsequence(pool, 1..6).prop_shuffle()
}

/// What our caps ([`Codec::OPUS`], PCMU, PCMA) make of an rtpmap (or a static type).
fn is_ours(format: &Offered) -> bool {
    match format {
        (0, None) => true,
        (_, Some(map)) => ["PCMA/8000", "opus/48000/2", "PCMU/8000"].contains(map),
        _ => false,
    }
}

fn offer_text(
    formats: &[Offered],
    direction: Option<&str>,
    rtcp_mux: bool,
    rfc2543_hold: bool,
    video_first: bool,
) -> String {
    let address = if rfc2543_hold {
        "0.0.0.0"
    } else {
        "198.51.100.1"
    };
    let mut text =
        format!("v=0\r\no=- 1 1 IN IP4 198.51.100.1\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\n");
    if video_first {
        text.push_str("m=video 5000 RTP/AVP 120\r\na=rtpmap:120 VP8/90000\r\n");
    }
    let numbers: Vec<String> = formats.iter().map(|(pt, _)| pt.to_string()).collect();
    text.push_str(&format!("m=audio 6000 RTP/AVP {}\r\n", numbers.join(" ")));
    for (pt, map) in formats {
        if let Some(map) = map {
            text.push_str(&format!("a=rtpmap:{pt} {map}\r\n"));
        }
    }
    if let Some(direction) = direction {
        text.push_str(&format!("a={direction}\r\n"));
    }
    if rtcp_mux {
        text.push_str("a=rtcp-mux\r\n");
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Some(parsed) = check_round_trip(&data)? {
            check_answer(&parsed)?;
        }
    }

    #[test]
    fn sdp_like_lines_never_panic_and_round_trip(
        with_header in prop::bool::weighted(0.85),
        lines in prop::collection::vec(sdp_like_line(), 0..16),
        bare_lf in any::<bool>(),
    ) {
        // A proper header half of the time, so that most cases get past the mandatory lines.
        let header = ["v=0", "o=- 1 2 IN IP4 198.51.100.1", "s=-", "c=IN IP4 198.51.100.1", "t=0 0"];
        let lines: Vec<&str> = header
            .iter()
            .copied()
            .filter(|_| with_header)
            .chain(lines.iter().map(String::as_str))
            .collect();
        let text = lines.join(if bare_lf { "\n" } else { "\r\n" });
        if let Some(parsed) = check_round_trip(text.as_bytes())? {
            check_answer(&parsed)?;
        }
    }

    #[test]
    fn offers_are_answered_by_the_rules(
        formats in offered_formats(),
        direction in prop::option::of(prop::sample::select(vec!["sendrecv", "sendonly", "recvonly", "inactive"])),
        rtcp_mux in any::<bool>(),
        rfc2543_hold in any::<bool>(),
        video_first in any::<bool>(),
    ) {
        let text = offer_text(&formats, direction, rtcp_mux, rfc2543_hold, video_first);
        let offer = SessionDescription::parse(text.as_bytes()).expect("generated offers are valid");
        let relay = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let mut caps = LocalCapabilities::new(relay, 40_000, vec![Codec::OPUS, Codec::PCMU, Codec::PCMA]);
        caps.rtcp_mux = true;
        let result = answer(&offer, &caps, &mut SessionOrigin::new(1, relay));
        let Some(first_ours) = formats.iter().find(|f| is_ours(f)) else {
            prop_assert_eq!(result, Err(SdpError::NoAcceptableMedia));
            return Ok(());
        };
        let (ours, summary) = result.expect("a common codec was offered");
        prop_assert_eq!(ours.media.len(), offer.media.len());
        let audio_index = usize::from(video_first);
        if video_first {
            prop_assert_eq!(ours.media[0].port, 0);
            prop_assert_eq!(&ours.media[0].formats, &offer.media[0].formats);
        }
        let audio = &ours.media[audio_index];
        // Offer numbers, codecs both have in offer order, then at most one telephone-event.
        let offered_numbers: Vec<String> = formats.iter().map(|(pt, _)| pt.to_string()).collect();
        prop_assert!(audio.formats.iter().all(|f| offered_numbers.contains(f)));
        let expected_codecs: Vec<String> = formats.iter().filter(|f| is_ours(f)).map(|(pt, _)| pt.to_string()).collect();
        let answered_codecs: Vec<String> = audio.formats.iter().filter(|f| !["101", "110"].contains(&f.as_str())).cloned().collect();
        prop_assert_eq!(answered_codecs, expected_codecs);
        let events_offered = formats.iter().filter(|(pt, _)| [101, 110].contains(pt)).count();
        let events_answered = audio.formats.len() - audio.payload_formats().iter().filter(|f| f.rtpmap.as_ref().is_some_and(|m| m.encoding != "telephone-event")).count();
        prop_assert_eq!(events_answered, events_offered.min(1));
        prop_assert_eq!(summary.send_codec.payload_type, first_ours.0);
        prop_assert_eq!(summary.media_index, audio_index);
        prop_assert_eq!(audio.rtcp_mux(), rtcp_mux);
        let offered = match direction.unwrap_or("sendrecv") {
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => Direction::SendRecv,
        };
        let offered = if rfc2543_hold { offered.intersect(Direction::SendOnly) } else { offered };
        let expected = match offered {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        };
        prop_assert_eq!(audio.direction(), Some(expected));
        prop_assert_eq!(summary.held_by_remote(), !offered.receives());
    }

    #[test]
    fn generated_descriptions_round_trip(generated in description()) {
        let printed = generated.to_string();
        prop_assert_eq!(SessionDescription::parse(printed.as_bytes()), Ok(generated.clone()));
        check_answer(&generated)?;
    }
}

#[test]
fn sdp_like_lines_reach_answers() {
    // Guards the generator above: an offer made of its lines gets a real answer.
    let text = "v=0\r\no=- 1 2 IN IP4 198.51.100.1\r\ns=-\r\nt=0 0\r\nc=IN IP4 198.51.100.1\r\n\
                m=audio 2000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n";
    let offer = SessionDescription::parse(text.as_bytes()).expect("valid");
    let relay = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let caps = LocalCapabilities::new(relay, 40_000, vec![Codec::PCMU]);
    let (_, summary) =
        answer(&offer, &caps, &mut SessionOrigin::new(1, relay)).expect("acceptable");
    assert!(summary.held_by_remote());
}
