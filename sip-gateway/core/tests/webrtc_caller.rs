//! A browser's WebRTC offer in the B2BUA, in simulated time: answered as an ICE-lite DTLS server once
//! the callee answers, with the relay told the browser's ICE and DTLS parameters before it is pointed
//! at it; refused (488) by a node without a DTLS certificate.

mod b2bua_harness;
use b2bua_harness::*;

const BROWSER_OFFER: &str = "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\nm=audio 46243 UDP/TLS/RTP/SAVPF 111 0 8 126\r\nc=IN IP4 10.200.0.1\r\na=candidate:1 1 udp 2122260223 10.200.0.1 46243 typ host\r\na=ice-ufrag:Fz5V\r\na=ice-pwd:VOvg+K4ZrkGyuaDqRvR3Ehfz\r\na=fingerprint:sha-256 49:66:12:17\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\na=ssrc:3907 cname:abc\r\n";

fn browser_invite() -> String {
    invite("c1").replace(OFFER, BROWSER_OFFER).replace(
        &format!("Content-Length: {}", OFFER.len()),
        &format!("Content-Length: {}", BROWSER_OFFER.len()),
    )
}

/// Phone A answers the relay's offer `inv` in PCMU; returns the relay's 200 to the browser.
fn phone_answers_in_pcmu(h: &mut Harness, inv: &Request) -> Response {
    let out = h.input(
        PHONE_A,
        reply(
            inv,
            200,
            "phone1",
            &answer_sdp(40000)
                .replace("RTP/AVP 8 101", "RTP/AVP 0 101")
                .replace("a=rtpmap:8 PCMA/8000", "a=rtpmap:0 PCMU/8000"),
        ),
    );
    responses(&out)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("200 to the browser")
}

#[test]
fn a_browser_caller_gets_an_ice_lite_answer_and_the_relay_its_parameters() {
    let mut h = Harness::with_config(&[("sip:1002@198.51.100.10:5060", PHONE_A)], |cfg| {
        cfg.calls.dtls_fingerprint = Some("sha-256 AA:BB:CC".into());
    });
    h.call_1002_with(browser_invite());
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    // The phone is offered what the browser can do, in plain RTP.
    let offer = String::from_utf8_lossy(&inv.body).into_owned();
    assert!(offer.contains(" RTP/AVP "), "{offer}");
    assert!(!offer.contains("ice-ufrag"), "{offer}");
    let ok = phone_answers_in_pcmu(&mut h, &inv);
    let answer = String::from_utf8_lossy(&ok.body).into_owned();
    for line in [
        "a=ice-lite",
        "a=group:BUNDLE 0",
        // The browser keeps Opus, its first choice; the relay transcodes to the phone's PCMU.
        " UDP/TLS/RTP/SAVPF 111 126",
        "a=rtpmap:111 opus/48000/2",
        "a=fingerprint:sha-256 AA:BB:CC",
        "a=setup:passive",
        "a=rtcp-mux",
        "a=candidate:1 1 udp 2130706431 127.0.0.1 ",
    ] {
        assert!(answer.contains(line), "{line:?} missing in\n{answer}");
    }
    let ufrag = answer
        .lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .expect("our ufrag")
        .to_owned();
    let log = h.media.0.lock().expect("log");
    let (leg, params) = log.webrtc.first().expect("the relay was told").clone();
    assert_eq!(params.remote_ufrag, "Fz5V");
    assert_eq!(params.remote_ssrc, Some(3907));
    assert_eq!(params.local_ufrag, ufrag);
    assert!(!params.dtls_active);
    assert!(log.remotes.iter().any(|(l, r)| *l == leg && r.rtcp_mux));
    let opus = ("opus".to_string(), 111);
    let pcmu = ("PCMU".to_string(), 0);
    assert_eq!(
        log.transcodes,
        vec![
            (leg, Some((opus.clone(), pcmu.clone()))),
            (LegId(2), Some((pcmu, opus))),
        ],
        "the browser's Opus becomes the phone's PCMU, and back"
    );
}

/// A browser that chose G.711 itself (its offer lists PCMU first) gets it: nothing is transcoded.
#[test]
fn a_browser_preferring_g711_is_not_transcoded() {
    let mut h = Harness::with_config(&[("sip:1002@198.51.100.10:5060", PHONE_A)], |cfg| {
        cfg.calls.dtls_fingerprint = Some("sha-256 AA:BB:CC".into());
    });
    let pcmu_first = browser_invite().replace("SAVPF 111 0 8 126", "SAVPF 0 111 8 126");
    h.call_1002_with(pcmu_first);
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    let ok = phone_answers_in_pcmu(&mut h, &inv);
    assert!(String::from_utf8_lossy(&ok.body).contains(" UDP/TLS/RTP/SAVPF 0 126"));
    assert!(h.media.0.lock().expect("log").transcodes.is_empty());
}

#[test]
fn without_a_dtls_certificate_a_browser_offer_is_refused() {
    let mut h = Harness::new(&[("sip:1002@198.51.100.10:5060", PHONE_A)]);
    let out = h.input(CARRIER, browser_invite());
    assert!(responses(&out).iter().any(|r| r.status == 488), "{out:?}");
}

/// A citizen (PCMA from the carrier) calling a staff member whose app registered over WSS: the
/// app is offered Opus first, answers in it, and the relay transcodes to the carrier's PCMA.
#[test]
fn a_browser_callee_is_offered_opus_and_transcoded_to_the_carriers_g711() {
    let mut h = Harness::with_config(&[], |cfg| {
        cfg.calls.dtls_fingerprint = Some("sha-256 AA:BB:CC".into());
    });
    let out = h.input(CARRIER, invite("c1"));
    assert!(responses(&out).iter().any(|r| r.status == 100));
    let call = match &h.events()[..] {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("{other:?}"),
    };
    let app = sip_core::Peer {
        transport: sip_core::TransportKind::Wss,
        addr: PHONE_A.parse().expect("addr"),
        connection: Some(sip_core::ConnectionId(7)),
    };
    let target = sip_core::b2bua::RingTarget {
        uri: sip_message::Uri::parse(b"sip:abc@df7jal23ls0d.invalid;transport=ws").expect("uri"),
        peer: app,
        label: "1002".into(),
        ring_timeout: Some(Duration::from_secs(20)),
        confirm: false,
        caller_id: None,
        srtp: Default::default(),
    };
    h.ep.ring(h.now, call, vec![target]);
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    let offer = String::from_utf8_lossy(&inv.body).into_owned();
    assert!(
        offer.contains(" UDP/TLS/RTP/SAVPF 111 8 0 101"),
        "Opus first, then the carrier's codecs: {offer}"
    );
    assert!(offer.contains("a=rtpmap:111 opus/48000/2"), "{offer}");
    let browser_answer = BROWSER_OFFER
        .replace("SAVPF 111 0 8 126", "SAVPF 111 101")
        .replace("a=setup:actpass", "a=setup:active")
        .replace(
            "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000",
            "a=rtpmap:101 telephone-event/8000",
        );
    h.ep.handle_input(
        h.now,
        app,
        Bytes::from(reply(&inv, 200, "app1", &browser_answer)),
    );
    let out = h.drain();
    let ok = responses(&out)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("200 to the carrier");
    let answer = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(
        answer.contains("RTP/AVP 8 101"),
        "the carrier keeps PCMA: {answer}"
    );
    let log = h.media.0.lock().expect("log");
    let opus = ("opus".to_string(), 111);
    let pcma = ("PCMA".to_string(), 8);
    assert_eq!(
        log.transcodes,
        vec![
            (LegId(1), Some((pcma.clone(), opus.clone()))),
            (LegId(2), Some((opus, pcma))),
        ]
    );
    assert_eq!(log.webrtc.first().map(|(leg, _)| *leg), Some(LegId(2)));
}

/// A browser answered by us (a menu or queue) talks Opus; a G.711 phone rung later is offered the
/// browser's Opus with G.711 beside it, answers PCMA, and the relay transcodes between the two.
#[test]
fn a_browser_in_a_queue_reaches_a_g711_phone_through_the_transcoder() {
    let mut h = Harness::with_config(&[("sip:1002@198.51.100.10:5060", PHONE_A)], |cfg| {
        cfg.calls.dtls_fingerprint = Some("sha-256 AA:BB:CC".into());
    });
    let out = h.input(CARRIER, browser_invite());
    assert!(responses(&out).iter().any(|r| r.status == 100));
    let call = match &h.events()[..] {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("{other:?}"),
    };
    h.ep.answer_locally(h.now, call);
    let ok = responses(&h.drain())
        .into_iter()
        .find(|r| r.status == 200)
        .expect("answered by us");
    assert!(
        String::from_utf8_lossy(&ok.body).contains(" UDP/TLS/RTP/SAVPF 111 "),
        "the browser is answered in Opus"
    );
    h.events();
    let targets = h.ep.targets_for_user("1002", Some(Duration::from_secs(20)));
    h.ep.ring(h.now, call, targets);
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    let offer = String::from_utf8_lossy(&inv.body).into_owned();
    assert!(
        offer.contains(" RTP/AVP 111 8 0 "),
        "Opus, then G.711: {offer}"
    );
    // Phone A answers PCMA.
    h.input(PHONE_A, reply(&inv, 200, "phone1", &answer_sdp(40000)));
    let log = h.media.0.lock().expect("log");
    let opus = ("opus".to_string(), 111);
    let pcma = ("PCMA".to_string(), 8);
    let caller_leg = log
        .webrtc
        .first()
        .map(|(leg, _)| *leg)
        .expect("browser leg");
    let transcodes = log.transcodes.to_vec();
    assert_eq!(
        transcodes,
        vec![
            (caller_leg, Some((opus.clone(), pcma.clone()))),
            (LegId(2), Some((pcma, opus))),
        ]
    );
    assert!(log.bridged.contains(&(caller_leg, LegId(2))));
}
