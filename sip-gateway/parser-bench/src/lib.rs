//! The message set for `benches/parse_compare.rs`: four realistic SIP messages, as a softphone and a
//! carrier's SBC send them to the PBX (CRLF line endings, SDP bodies, digest credentials, GRUU/outbound
//! Contact parameters, several Via and Record-Route headers).
//!
//! The benchmark parses each of them with Switchboard's `sip-message`, with `rsip` 0.4 and with
//! `rsipstack` 0.7. The unit tests below run the exact code the benchmark times (the file
//! `benches/parse_compare/variants.rs`) on every message, and check that all three parsers accept it and
//! read the same Via branch, From tag, To tag, Call-ID, CSeq and body: a benchmark in which one parser
//! fails measures nothing.

/// One message of the set.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Short name used as the criterion group name (`register`, `invite`, `ok200`, `bye`).
    pub name: &'static str,
    /// The message as it arrives on the wire.
    pub bytes: Vec<u8>,
    /// What a SIP stack must read from it; the benchmark variants return the same facts.
    pub expect: Expect,
}

/// The facts a SIP stack reads from every message (transaction and dialog matching).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    pub top_via_branch: &'static str,
    pub from_tag: &'static str,
    /// `None` on an out-of-dialog request.
    pub to_tag: Option<&'static str>,
    pub call_id: &'static str,
    pub cseq: u32,
    pub cseq_method: &'static str,
    pub body_len: usize,
}

/// Builds a message from header lines (without Content-Length) and a body; the last header is a
/// Content-Length that matches the body, and all line ends are CRLF.
fn build(start_and_headers: &[&str], body_lines: &[&str]) -> Vec<u8> {
    let mut body = String::new();
    for l in body_lines {
        body.push_str(l);
        body.push_str("\r\n");
    }
    let mut out = String::new();
    for l in start_and_headers {
        out.push_str(l);
        out.push_str("\r\n");
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    out.push_str(&body);
    out.into_bytes()
}

/// REGISTER from a softphone answering a digest challenge (RFC 8760 SHA-256), with an RFC 5626 outbound
/// Contact (`+sip.instance`, `reg-id`) — what Linphone or a mobile client sends every renewal.
pub fn register() -> Sample {
    let bytes = build(
        &[
            "REGISTER sip:pbx.gemeente.example SIP/2.0",
            "Via: SIP/2.0/UDP 192.168.1.34:5060;branch=z9hG4bK.Lk3mP0qXr;rport",
            "From: \"Anna de Vries\" <sip:2001@pbx.gemeente.example>;tag=yT8pJ~2mQe",
            "To: \"Anna de Vries\" <sip:2001@pbx.gemeente.example>",
            "CSeq: 21 REGISTER",
            "Call-ID: 7cBq0zQ9sL-a8f3e2d1",
            "Max-Forwards: 70",
            "Supported: replaces, outbound, gruu, path",
            "Accept: application/sdp",
            "Accept: text/plain",
            "Contact: <sip:2001@192.168.1.34:5060;transport=udp>;+sip.instance=\"<urn:uuid:3f2a1c9e-8b4d-4e6f-9a0b-1c2d3e4f5a6b>\";reg-id=1;expires=3600",
            "Expires: 3600",
            "User-Agent: Linphone-Desktop/5.2.6 (belle-sip/5.3.0)",
            "Authorization: Digest realm=\"pbx.gemeente.example\", nonce=\"Z2a4bQAAAAC3xTg7kq0DaYk1rBHxW1Zs\", algorithm=SHA-256, opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", username=\"2001\", uri=\"sip:pbx.gemeente.example\", response=\"3e7a9f0c2b6d41e8a5f7c9b2d4e6f8a0c1b3d5e7f9a2c4e6b8d0f1a3c5e7b9d2\", cnonce=\"a91f3c2e\", nc=00000001, qop=auth",
        ],
        &[],
    );
    Sample {
        name: "register",
        bytes,
        expect: Expect {
            top_via_branch: "z9hG4bK.Lk3mP0qXr",
            from_tag: "yT8pJ~2mQe",
            to_tag: None,
            call_id: "7cBq0zQ9sL-a8f3e2d1",
            cseq: 21,
            cseq_method: "REGISTER",
            body_len: 0,
        },
    }
}

const INVITE_VIAS: [&str; 3] = [
    "Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK3f1e.0b6a2c4d5e6f7081.0",
    "Via: SIP/2.0/UDP 198.51.100.7:5060;received=198.51.100.7;rport=5060;branch=z9hG4bK-524287-1---7c1e9f3a2b4d6e8f",
    "Via: SIP/2.0/TCP 172.20.30.40:5060;branch=z9hG4bKa1b2c3d4e5",
];
const INVITE_RR: [&str; 2] = [
    "Record-Route: <sip:203.0.113.10;lr;ftag=as5f1c7a2e;did=3a1.b2c1>",
    "Record-Route: <sip:198.51.100.7;transport=udp;lr>",
];
const CALL_ID: &str = "4c9d2e0b1a7f6e5d3c2b1a0f9e8d7c6b@198.51.100.7";

/// INVITE from the carrier, after two proxies (three Via, two Record-Route), E.164 numbers with
/// `user=phone`, session timers, P-Asserted-Identity and a 15-line SDP offer.
pub fn invite() -> Sample {
    let mut head = vec!["INVITE sip:+31201234567@pbx.gemeente.example;user=phone SIP/2.0"];
    head.extend(INVITE_VIAS);
    head.extend(INVITE_RR);
    head.extend([
        "Max-Forwards: 68",
        "From: \"+31612345678\" <sip:+31612345678@carrier.example;user=phone>;tag=as5f1c7a2e",
        "To: <sip:+31201234567@pbx.gemeente.example;user=phone>",
        "Call-ID: 4c9d2e0b1a7f6e5d3c2b1a0f9e8d7c6b@198.51.100.7",
        "CSeq: 102 INVITE",
        "Contact: <sip:+31612345678@198.51.100.7:5060;transport=udp>",
        "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO, UPDATE, PRACK",
        "Supported: 100rel, timer, replaces, norefersub",
        "Session-Expires: 1800;refresher=uac",
        "Min-SE: 90",
        "P-Asserted-Identity: \"+31612345678\" <sip:+31612345678@carrier.example;user=phone>",
        "Privacy: none",
        "User-Agent: Carrier-SBC/4.2.1",
        "Content-Type: application/sdp",
    ]);
    let body = [
        "v=0",
        "o=- 1699887766 1699887766 IN IP4 198.51.100.7",
        "s=SBC call",
        "c=IN IP4 198.51.100.20",
        "t=0 0",
        "m=audio 31874 RTP/AVP 8 0 18 101",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:18 G729/8000",
        "a=fmtp:18 annexb=no",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=maxptime:40",
        "a=sendrecv",
    ];
    let body_len = body.iter().map(|l| l.len() + 2).sum();
    Sample {
        name: "invite",
        bytes: build(&head, &body),
        expect: Expect {
            top_via_branch: "z9hG4bK3f1e.0b6a2c4d5e6f7081.0",
            from_tag: "as5f1c7a2e",
            to_tag: None,
            call_id: CALL_ID,
            cseq: 102,
            cseq_method: "INVITE",
            body_len,
        },
    }
}

/// The PBX's 200 OK to that INVITE (as it arrives back at the carrier's edge proxy): the same Via and
/// Record-Route set, a To tag, `Require: timer` and an SDP answer.
pub fn ok200() -> Sample {
    let mut head = vec!["SIP/2.0 200 OK"];
    head.extend(INVITE_VIAS);
    head.extend(INVITE_RR);
    head.extend([
        "From: \"+31612345678\" <sip:+31612345678@carrier.example;user=phone>;tag=as5f1c7a2e",
        "To: <sip:+31201234567@pbx.gemeente.example;user=phone>;tag=sb-9f8e7d6c5b4a",
        "Call-ID: 4c9d2e0b1a7f6e5d3c2b1a0f9e8d7c6b@198.51.100.7",
        "CSeq: 102 INVITE",
        "Contact: <sip:gw@203.0.113.25:5060;transport=udp>",
        "Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO, UPDATE",
        "Supported: timer, replaces",
        "Require: timer",
        "Session-Expires: 1800;refresher=uac",
        "Server: Switchboard/0.1.0",
        "Content-Type: application/sdp",
    ]);
    let body = [
        "v=0",
        "o=switchboard 8841 8841 IN IP4 203.0.113.25",
        "s=Switchboard",
        "c=IN IP4 203.0.113.25",
        "t=0 0",
        "m=audio 40002 RTP/AVP 8 101",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        "a=sendrecv",
    ];
    let body_len = body.iter().map(|l| l.len() + 2).sum();
    Sample {
        name: "ok200",
        bytes: build(&head, &body),
        expect: Expect {
            top_via_branch: "z9hG4bK3f1e.0b6a2c4d5e6f7081.0",
            from_tag: "as5f1c7a2e",
            to_tag: Some("sb-9f8e7d6c5b4a"),
            call_id: CALL_ID,
            cseq: 102,
            cseq_method: "INVITE",
            body_len,
        },
    }
}

/// BYE from a staff softphone inside an established call (Route set, Reason), no body.
pub fn bye() -> Sample {
    let bytes = build(
        &[
            "BYE sip:+31612345678@198.51.100.7:5060;transport=udp SIP/2.0",
            "Via: SIP/2.0/UDP 192.168.1.34:5060;branch=z9hG4bK.q3Rn8vTz1;rport",
            "Route: <sip:203.0.113.10;lr;ftag=as5f1c7a2e;did=3a1.b2c1>",
            "Max-Forwards: 70",
            "From: <sip:2001@pbx.gemeente.example>;tag=Hk2Lw9sPq",
            "To: \"+31612345678\" <sip:+31612345678@carrier.example;user=phone>;tag=as5f1c7a2e",
            "Call-ID: 0d3f9a1c-5b7e-4a2d-8c6f-1e9b0a7d3c5f",
            "CSeq: 4 BYE",
            "Reason: Q.850;cause=16;text=\"Normal call clearing\"",
            "User-Agent: Linphone-Android/5.2.5 (belle-sip/5.3.0)",
        ],
        &[],
    );
    Sample {
        name: "bye",
        bytes,
        expect: Expect {
            top_via_branch: "z9hG4bK.q3Rn8vTz1",
            from_tag: "Hk2Lw9sPq",
            to_tag: Some("as5f1c7a2e"),
            call_id: "0d3f9a1c-5b7e-4a2d-8c6f-1e9b0a7d3c5f",
            cseq: 4,
            cseq_method: "BYE",
            body_len: 0,
        },
    }
}

/// The four messages, in the order REGISTER, INVITE, 200 OK, BYE.
pub fn messages() -> Vec<Sample> {
    vec![register(), invite(), ok200(), bye()]
}

#[cfg(test)]
#[path = "../benches/parse_compare/variants.rs"]
mod variants;

#[cfg(test)]
mod tests {
    use super::variants::{self, Read};
    use super::*;

    fn check(parser: &str, s: &Sample, got: Read<'_>) {
        let e = &s.expect;
        assert_eq!(
            got.top_via_branch, e.top_via_branch,
            "{parser} on {}",
            s.name
        );
        assert_eq!(got.from_tag, e.from_tag, "{parser} on {}", s.name);
        assert_eq!(got.to_tag, e.to_tag, "{parser} on {}", s.name);
        assert_eq!(got.call_id, e.call_id, "{parser} on {}", s.name);
        assert_eq!(got.cseq, e.cseq, "{parser} on {}", s.name);
        assert_eq!(got.cseq_method, e.cseq_method, "{parser} on {}", s.name);
        assert_eq!(got.body_len, e.body_len, "{parser} on {}", s.name);
    }

    #[test]
    fn the_set_is_four_crlf_messages_with_a_matching_content_length() {
        let all = messages();
        assert_eq!(all.len(), 4);
        for s in &all {
            let text = std::str::from_utf8(&s.bytes).unwrap();
            let head_end = text.find("\r\n\r\n").unwrap() + 4;
            assert!(
                !text[..head_end].replace("\r\n", "").contains('\n'),
                "{}: bare LF",
                s.name
            );
            let cl = text[..head_end]
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .unwrap();
            assert_eq!(
                cl.parse::<usize>().unwrap(),
                s.bytes.len() - head_end,
                "{}",
                s.name
            );
            assert_eq!(s.expect.body_len, s.bytes.len() - head_end, "{}", s.name);
        }
        // The INVITE carries the ~15-line SDP offer the benchmark is meant to include.
        let invite = invite();
        let body = &invite.bytes[invite.bytes.len() - invite.expect.body_len..];
        assert_eq!(
            body.split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count(),
            15
        );
    }

    #[test]
    fn every_message_parses_with_ours_and_the_headers_read_right() {
        for s in messages() {
            variants::ours_slice(&s.bytes, |r| check("sip-message (slice)", &s, r));
            let owned = bytes::Bytes::from(s.bytes.clone());
            variants::ours_bytes(owned, |r| check("sip-message (Bytes)", &s, r));
        }
    }

    #[test]
    fn every_message_parses_with_rsip_and_the_headers_read_right() {
        for s in messages() {
            variants::rsip(&s.bytes, |r| check("rsip", &s, r));
        }
    }

    #[test]
    fn every_message_parses_with_rsipstack_and_the_headers_read_right() {
        for s in messages() {
            variants::rsipstack(&s.bytes, |r| check("rsipstack", &s, r));
        }
    }

    #[test]
    fn all_three_parsers_see_the_same_headers_and_body() {
        for s in messages() {
            let ours = variants::ours_slice_parse_only(&s.bytes);
            let ours_n = sip_message::SipHeaders::headers(&ours).len();
            let r = variants::rsip_parse_only(&s.bytes);
            let r_n = rsip::message::HasHeaders::headers(&r).iter().count();
            let rs = variants::rsipstack_parse_only(&s.bytes);
            let rs_n = rsipstack::sip::HasHeaders::headers(&rs).iter().count();
            assert_eq!((ours_n, r_n, rs_n), (ours_n, ours_n, ours_n), "{}", s.name);
        }
    }
}
