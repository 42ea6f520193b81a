//! SDES in offers and answers: which offers are taken, the keys settled on, and what is refused.

use std::net::{IpAddr, Ipv4Addr};

use super::fixtures::parse;
use super::*;
use crate::srtp::{MasterKey, SrtpSuite};

const RELAY: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const PHONE_KEY: &str = "inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm";

/// As baresip's srtp module offers with `mediaenc=srtp-mand` (the 32-bit suite first).
fn phone_offer(proto: &str, crypto: bool) -> String {
    let mut sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 10.0.0.7\r\ns=-\r\nc=IN IP4 10.0.0.7\r\nt=0 0\r\n\
         m=audio 7000 {proto} 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
    );
    if crypto {
        sdp.push_str(&format!(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_32 {PHONE_KEY}\r\n\
             a=crypto:2 AES_CM_128_HMAC_SHA1_80 {PHONE_KEY}\r\n"
        ));
    }
    sdp
}

fn ours() -> MasterKey {
    MasterKey::from_bytes([0x42; 30])
}

fn caps(mode: Option<SrtpMode>) -> LocalCapabilities {
    let mut caps = LocalCapabilities::new(RELAY, 40_000, vec![Codec::PCMU, Codec::PCMA]);
    caps.crypto = mode.map(|mode| LocalCrypto { mode, key: ours() });
    caps
}

fn origin() -> SessionOrigin {
    SessionOrigin::new(5000, RELAY)
}

#[test]
fn a_savp_offer_is_answered_with_our_key_under_the_first_tag() {
    let offer = parse(&phone_offer("RTP/SAVP", true));
    let (answer, n) =
        answer(&offer, &caps(Some(SrtpMode::Optional)), &mut origin()).expect("acceptable");
    let media = &answer.media[0];
    assert_eq!(media.proto, "RTP/SAVP");
    let lines: Vec<&str> = media.attributes_named("crypto").collect();
    assert_eq!(
        lines,
        vec![format!("1 AES_CM_128_HMAC_SHA1_32 {}", ours().to_key_params()).as_str()]
    );
    let keys = n.srtp.expect("SRTP settled");
    assert_eq!(keys.suite, SrtpSuite::AesCm128HmacSha1_32);
    assert_eq!(keys.outbound, ours());
    assert_eq!(
        keys.inbound,
        MasterKey::from_key_params(PHONE_KEY).expect("key")
    );
    // The answer reads back, as the phone will read it.
    assert_eq!(parse(&answer.to_string()), answer);
}

#[test]
fn a_plain_leg_refuses_savp_and_ignores_crypto_on_avp() {
    let savp = parse(&phone_offer("RTP/SAVP", true));
    assert_eq!(
        answer(&savp, &caps(None), &mut origin()).map(|_| ()),
        Err(SdpError::NoAcceptableMedia)
    );
    let best_effort = parse(&phone_offer("RTP/AVP", true));
    let (answer, n) = answer(&best_effort, &caps(None), &mut origin()).expect("acceptable");
    assert_eq!(answer.media[0].proto, "RTP/AVP");
    assert_eq!(answer.media[0].attributes_named("crypto").count(), 0);
    assert_eq!(n.srtp, None);
}

#[test]
fn optional_srtp_takes_crypto_on_avp_and_plain_without_it() {
    let best_effort = parse(&phone_offer("RTP/AVP", true));
    let (a, n) =
        answer(&best_effort, &caps(Some(SrtpMode::Optional)), &mut origin()).expect("acceptable");
    assert_eq!(a.media[0].proto, "RTP/AVP");
    assert!(n.srtp.is_some());
    let plain = parse(&phone_offer("RTP/AVP", false));
    let (_, n) =
        answer(&plain, &caps(Some(SrtpMode::Optional)), &mut origin()).expect("acceptable");
    assert_eq!(n.srtp, None);
}

#[test]
fn required_srtp_refuses_plain_offers_and_savp_without_usable_keys() {
    let plain = parse(&phone_offer("RTP/AVP", false));
    assert!(answer(&plain, &caps(Some(SrtpMode::Required)), &mut origin()).is_err());
    let unusable = phone_offer("RTP/SAVP", false)
        + "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:AAAA\r\n\
           a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm|2^20|1:4\r\n";
    assert!(answer(
        &parse(&unusable),
        &caps(Some(SrtpMode::Optional)),
        &mut origin()
    )
    .is_err());
}

#[test]
fn offers_carry_both_suites_and_settle_on_the_answered_tag() {
    let required = create_offer(&caps(Some(SrtpMode::Required)), &mut origin()).expect("offer");
    assert_eq!(required.media[0].proto, "RTP/SAVP");
    let tags: Vec<String> = required.media[0]
        .attributes_named("crypto")
        .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        tags,
        vec!["1 AES_CM_128_HMAC_SHA1_80", "2 AES_CM_128_HMAC_SHA1_32"]
    );
    let optional = create_offer(&caps(Some(SrtpMode::Optional)), &mut origin()).expect("offer");
    assert_eq!(optional.media[0].proto, "RTP/AVP");

    // The phone answers tag 2 with its key.
    let phone_answer = parse(
        &(phone_offer("RTP/SAVP", false).replace(
            "m=audio 7000 RTP/SAVP 0 8 101",
            "m=audio 7000 RTP/SAVP 0 101",
        ) + &format!("a=crypto:2 AES_CM_128_HMAC_SHA1_32 {PHONE_KEY}\r\n")),
    );
    let n = negotiated(&required, &phone_answer).expect("stream");
    let keys = n.srtp.expect("keys");
    assert_eq!(keys.suite, SrtpSuite::AesCm128HmacSha1_32);
    assert_eq!(keys.outbound, ours());

    // A plain answer to a SAVP offer carries no media; to an optional one it is plain RTP.
    let plain_answer = parse(&phone_offer("RTP/AVP", false));
    assert!(negotiated(&required, &plain_answer).is_err());
    assert_eq!(
        negotiated(&optional, &plain_answer).expect("stream").srtp,
        None
    );
}
