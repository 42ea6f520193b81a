//! SDES SRTP in the B2BUA, in simulated time: which legs offer and take it, the keys the relay is
//! given, and what is refused.

mod b2bua_harness;
use b2bua_harness::*;
use sip_core::b2bua::{RingTarget, SrtpPolicy};
use switchboard_media::srtp::MasterKey;

const PHONE_KEY: &str = "inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm";

fn tls_phone_target(policy: SrtpPolicy) -> RingTarget {
    RingTarget {
        uri: sip_message::Uri::parse(b"sip:1002@198.51.100.10:5061;transport=tls").expect("uri"),
        peer: Peer {
            transport: TransportKind::Tls,
            addr: PHONE_A.parse().expect("addr"),
            connection: None,
        },
        label: "1002".into(),
        ring_timeout: Some(Duration::from_secs(20)),
        confirm: false,
        caller_id: None,
        srtp: policy,
    }
}

/// The carrier calls 1002 and the call rings `target`; returns our INVITE to it.
fn ring(h: &mut Harness, target: RingTarget) -> Request {
    let out = h.input(CARRIER, invite("c1"));
    assert!(
        matches!(&out[..], [Out::Resp(r)] if r.status == 100),
        "{out:?}"
    );
    let call = match &h.events()[..] {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("{other:?}"),
    };
    h.ep.ring(h.now, call, vec![target]);
    let out = h.drain();
    let invites = requests(&out, Method::Invite);
    assert_eq!(invites.len(), 1, "{out:?}");
    invites[0].1.clone()
}

fn body(r: &Request) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

fn crypto_lines(sdp: &str) -> Vec<String> {
    sdp.lines()
        .filter_map(|l| l.strip_prefix("a=crypto:"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_tls_phone_is_offered_srtp_and_its_answer_keys_the_relay() {
    let mut h = Harness::new(&[]);
    let inv = ring(&mut h, tls_phone_target(SrtpPolicy::Preferred));
    let offer = body(&inv);
    // Preferred: RTP/AVP with both suites, so a phone without SRTP still talks.
    assert!(offer.contains("m=audio 20004 RTP/AVP "), "{offer}");
    let lines = crypto_lines(&offer);
    assert_eq!(lines.len(), 2, "{offer}");
    assert!(lines[0].starts_with("1 AES_CM_128_HMAC_SHA1_80 inline:"));
    assert!(lines[1].starts_with("2 AES_CM_128_HMAC_SHA1_32 inline:"));
    let our_key = MasterKey::from_key_params(lines[0].split(' ').nth(2).expect("key"))
        .expect("our key parses");

    let answer = answer_sdp(7000) + &format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 {PHONE_KEY}\r\n");
    h.input(PHONE_A, reply(&inv, 200, "phone", &answer));
    let log = h.media.0.lock().expect("log");
    let callee = log
        .remotes
        .iter()
        .find(|(_, r)| r.rtp == Some("198.51.100.10:7000".parse().expect("addr")))
        .expect("the callee leg was pointed at the phone");
    let keys = callee.1.srtp.expect("the phone's leg speaks SRTP");
    assert_eq!(keys.outbound, our_key);
    assert_eq!(
        keys.inbound,
        MasterKey::from_key_params(PHONE_KEY).expect("key")
    );
    let caller = log
        .remotes
        .iter()
        .find(|(_, r)| r.rtp == Some("192.0.2.50:30000".parse().expect("addr")))
        .expect("the caller leg");
    assert_eq!(caller.1.srtp, None, "the carrier stays plain RTP");
}

#[test]
fn required_offers_savp_and_a_plain_answer_does_not_connect() {
    let mut h = Harness::new(&[]);
    let inv = ring(&mut h, tls_phone_target(SrtpPolicy::Required));
    assert!(body(&inv).contains(" RTP/SAVP "), "{}", body(&inv));
    let out = h.input(PHONE_A, reply(&inv, 200, "phone", &answer_sdp(7000)));
    assert!(
        !responses(&out).iter().any(|r| r.status == 200),
        "the caller is not connected to a leg it could not hear: {out:?}"
    );
    // The phone is acknowledged and hung up, and call control hears the branch failed.
    assert_eq!(requests(&out, Method::Ack).len(), 1, "{out:?}");
    assert_eq!(requests(&out, Method::Bye).len(), 1, "{out:?}");
    assert!(
        h.events()
            .iter()
            .any(|e| matches!(e, CallEvent::BranchFailed { status: 488, .. })),
        "a failed branch"
    );
    assert!(h
        .media
        .0
        .lock()
        .expect("log")
        .remotes
        .iter()
        .all(|(_, r)| r.rtp != Some("198.51.100.10:7000".parse().expect("addr"))));
}

#[test]
fn keys_never_go_over_plain_signalling() {
    // A UDP contact is offered plain RTP even when SRTP is preferred.
    let mut h = Harness::new(&[]);
    let mut target = tls_phone_target(SrtpPolicy::Preferred);
    target.peer = udp(PHONE_A);
    let inv = ring(&mut h, target);
    assert!(crypto_lines(&body(&inv)).is_empty(), "{}", body(&inv));

    // A user who requires SRTP is not rung on a contact registered over UDP.
    let mut h = Harness::new(&[("sip:1002@198.51.100.10:5060", PHONE_A)]);
    h.ep.set_srtp_policies([("1002".to_owned(), SrtpPolicy::Required)].into());
    assert!(h.ep.targets_for_user("1002", None).is_empty());
    h.ep.set_srtp_policies(Default::default());
    assert_eq!(h.ep.targets_for_user("1002", None).len(), 1);

    // An RTP/SAVP offer over UDP cannot be answered: 488 before anything is routed.
    let savp = OFFER.replace("RTP/AVP", "RTP/SAVP")
        + &format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 {PHONE_KEY}\r\n");
    let inv = invite("c9").replace(OFFER, &savp).replace(
        &format!("Content-Length: {}", OFFER.len()),
        &format!("Content-Length: {}", savp.len()),
    );
    let out = h.input(CARRIER, inv);
    assert!(responses(&out).iter().any(|r| r.status == 488), "{out:?}");
    assert!(h.events().is_empty());
}
