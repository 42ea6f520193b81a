//! Session timers (RFC 4028), UPDATE (RFC 3311), reliable provisionals (RFC 3262), early media and
//! the media timeout, through the endpoint in simulated time.

mod b2bua_harness;
use b2bua_harness::*;

/// The carrier's INVITE to 1002 with `extra` header lines.
fn invite_with(extra: &str) -> String {
    invite("c1").replace(
        "Content-Type: application/sdp",
        &format!("{extra}Content-Type: application/sdp"),
    )
}

fn statuses(out: &[Out]) -> Vec<u16> {
    responses(out).iter().map(|r| r.status).collect()
}

fn header(r: &Response, name: HeaderName) -> String {
    r.headers
        .get(&name)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

/// Rings 1002 for a call already routed (the INVITE was sent), answers it, ACKs our 200; returns our
/// tag towards the caller and the 200.
fn answer_and_ack(h: &mut Harness) -> (String, Response) {
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    answer_invite(h, &inv)
}

fn answer_invite(h: &mut Harness, inv: &Request) -> (String, Response) {
    let out = h.input(PHONE_A, reply(inv, 200, "phone1", &answer_sdp(40000)));
    let ok = responses(&out)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("200 to the caller");
    let tag = to_tag(&ok);
    h.input(CARRIER, carrier_request("ACK", Some(&tag), "ack1", 1));
    h.events();
    (tag, ok)
}

fn route_to_1002(h: &mut Harness, invite: String) -> sip_core::b2bua::CallRef {
    h.input(CARRIER, invite);
    let call = match &h.events()[..] {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("{other:?}"),
    };
    let targets = h.ep.targets_for_user("1002", Some(Duration::from_secs(20)));
    h.ep.ring(h.now, call, targets);
    call
}

#[test]
fn a_session_interval_below_the_minimum_gets_422() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let out = h.input(
        CARRIER,
        invite_with("Supported: timer\r\nSession-Expires: 30\r\n"),
    );
    let r = responses(&out);
    assert_eq!(r.iter().map(|r| r.status).collect::<Vec<_>>(), vec![422]);
    assert_eq!(header(&r[0], HeaderName::MinSe), "90");
    assert!(h.events().is_empty(), "no call was created");
}

#[test]
fn a_caller_that_stops_refreshing_is_hung_up_and_refreshes_keep_the_call() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    route_to_1002(
        &mut h,
        invite_with("Supported: timer\r\nSession-Expires: 120;refresher=uac\r\n"),
    );
    let (tag, ok) = answer_and_ack(&mut h);
    assert_eq!(header(&ok, HeaderName::SessionExpires), "120;refresher=uac");
    assert_eq!(header(&ok, HeaderName::Require), "timer");
    // A refresh by UPDATE without a body at 60 s: 200, the timer starts again.
    let out = h.advance(Duration::from_secs(60));
    assert!(requests(&out, Method::Bye).is_empty());
    let update = carrier_request("UPDATE", Some(&tag), "upd1", 2);
    let out = h.input(CARRIER, update);
    let r = responses(&out);
    assert_eq!(r.iter().map(|r| r.status).collect::<Vec<_>>(), vec![200]);
    assert_eq!(
        header(&r[0], HeaderName::SessionExpires),
        "120;refresher=uac"
    );
    assert!(r[0].body.is_empty(), "a refresh changes no media");
    // 87 s after the refresh (120 − 32 − 1) the call still stands…
    let out = h.advance(Duration::from_secs(87));
    assert!(requests(&out, Method::Bye).is_empty(), "{out:?}");
    // …and at 88 s without another refresh both sides get a BYE.
    let out = h.advance(Duration::from_secs(1));
    let byes = requests(&out, Method::Bye);
    let mut to: Vec<String> = byes.iter().map(|(a, _)| a.to_string()).collect();
    to.sort();
    assert_eq!(to, vec![CARRIER.to_string(), PHONE_A.to_string()]);
    match &h.events()[..] {
        [CallEvent::Ended { report, .. }] => assert_eq!(report.cause, "session expired"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn update_holds_and_resumes_like_a_reinvite() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (_, tag) = connected_call(&mut h);
    let sdp = OFFER.replace("o=carrier 1 1", "o=carrier 1 2") + "a=sendonly\r\n";
    let update = carrier_request("UPDATE", Some(&tag), "upd1", 2).replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ),
    );
    let out = h.input(CARRIER, update);
    let r = responses(&out);
    assert_eq!(r.iter().map(|r| r.status).collect::<Vec<_>>(), vec![200]);
    assert!(String::from_utf8_lossy(&r[0].body).contains("a=recvonly"));
    assert!(matches!(
        &h.events()[..],
        [CallEvent::Held { leg: LegId(2), .. }]
    ));
    // Unknown dialog: 481.
    let stray =
        carrier_request("UPDATE", Some("nope"), "upd2", 3).replace("Call-ID: c1", "Call-ID: zz");
    assert_eq!(statuses(&h.input(CARRIER, stray)), vec![481]);
}

#[test]
fn a_callee_requiring_100rel_gets_a_prack_once_per_rseq() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    h.call_1002();
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    assert!(header_of(&inv, HeaderName::Supported).contains("100rel"));
    let ringing = reply(&inv, 180, "phone1", "").replace(
        "Content-Length: 0",
        "Require: 100rel\r\nRSeq: 7\r\nContent-Length: 0",
    );
    let out = h.input(PHONE_A, ringing.clone());
    let pracks = requests(&out, Method::Prack);
    assert_eq!(pracks.len(), 1);
    let (to, prack) = &pracks[0];
    assert_eq!(to.to_string(), PHONE_A);
    assert_eq!(header_of(prack, HeaderName::Rack), "7 1 INVITE");
    assert!(
        header_of(prack, HeaderName::To).contains("tag=phone1"),
        "in the early dialog"
    );
    assert_eq!(prack.cseq().map(|c| c.seq), Some(2));
    assert!(
        statuses(&out).contains(&180),
        "the caller hears ringing: {out:?}"
    );
    let out = h.input(PHONE_A, ringing);
    assert!(
        requests(&out, Method::Prack).is_empty(),
        "a retransmission is not PRACKed again"
    );
}

fn header_of(r: &Request, name: HeaderName) -> String {
    r.headers
        .get(&name)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

#[test]
fn early_media_from_the_only_callee_reaches_the_caller_in_a_183() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    h.call_1002();
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    let out = h.input(PHONE_A, reply(&inv, 183, "phone1", &answer_sdp(40000)));
    let r = responses(&out);
    assert_eq!(r.iter().map(|r| r.status).collect::<Vec<_>>(), vec![183]);
    let body = String::from_utf8_lossy(&r[0].body).into_owned();
    assert!(body.contains("m=audio 20002 RTP/AVP 8 101"), "{body}");
    {
        let log = h.media.0.lock().expect("log");
        assert_eq!(
            log.bridged,
            vec![(LegId(1), LegId(2))],
            "bridged before the answer"
        );
    }
    // The 200 that follows carries the same answer (same o= version).
    let out = h.input(PHONE_A, reply(&inv, 200, "phone1", &answer_sdp(40000)));
    let ok = responses(&out)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("200");
    assert_eq!(String::from_utf8_lossy(&ok.body), body);
}

#[test]
fn a_caller_requiring_100rel_gets_reliable_ringing_until_its_prack() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    h.call_1002_with(invite_with("Require: 100rel\r\nSupported: 100rel\r\n"));
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    let out = h.input(PHONE_A, reply(&inv, 180, "phone1", ""));
    let r = responses(&out);
    assert_eq!(r.iter().map(|r| r.status).collect::<Vec<_>>(), vec![180]);
    assert_eq!(header(&r[0], HeaderName::Require), "100rel");
    assert_eq!(header(&r[0], HeaderName::Rseq), "1");
    let tag = to_tag(&r[0]);
    // Not PRACKed: sent again after T1 (500 ms), then 1 s.
    assert_eq!(statuses(&h.advance(Duration::from_millis(500))), vec![180]);
    assert_eq!(statuses(&h.advance(Duration::from_millis(1000))), vec![180]);
    let prack = carrier_request("PRACK", Some(&tag), "pr1", 2)
        .replace("Content-Length: 0", "RAck: 1 1 INVITE\r\nContent-Length: 0");
    assert_eq!(statuses(&h.input(CARRIER, prack)), vec![200]);
    assert!(
        statuses(&h.advance(Duration::from_secs(5))).is_empty(),
        "no more 180s"
    );
    let wrong = carrier_request("PRACK", Some(&tag), "pr2", 3)
        .replace("Content-Length: 0", "RAck: 9 1 INVITE\r\nContent-Length: 0");
    assert_eq!(statuses(&h.input(CARRIER, wrong)), vec![481]);
}

#[test]
fn a_caller_that_never_pracks_is_refused_after_64_t1() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    h.call_1002_with(invite_with("Require: 100rel\r\n"));
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    h.input(PHONE_A, reply(&inv, 180, "phone1", ""));
    let out = h.advance(Duration::from_secs(33));
    assert!(statuses(&out).contains(&504), "{:?}", statuses(&out));
    // (The CANCEL is retransmitted: the fake phone never answers it.)
    let cancels = requests(&out, Method::Cancel);
    assert!(
        !cancels.is_empty() && cancels.iter().all(|(to, _)| to.to_string() == PHONE_A),
        "the callee stops ringing"
    );
}

#[test]
fn a_dead_media_path_hangs_up_an_answered_call_only() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    route_to_1002(&mut h, invite("c1"));
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    h.ep.media_timeout(h.now, LegId(1));
    assert!(
        requests(&h.drain(), Method::Bye).is_empty() && h.events().is_empty(),
        "a ringing call may be silent"
    );
    answer_invite(&mut h, &inv);
    h.ep.media_timeout(h.now, LegId(2));
    let out = h.drain();
    assert_eq!(requests(&out, Method::Bye).len(), 2);
    match &h.events()[..] {
        [CallEvent::Ended { report, .. }] => assert_eq!(report.cause, "media timeout"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_call_answered_by_us_waits_then_joins_the_staff_member_who_answers() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    h.input(CARRIER, invite("c1"));
    let call = match &h.events()[..] {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("{other:?}"),
    };
    h.ep.answer_locally(h.now, call);
    let out = h.drain();
    let ok = responses(&out)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("we answer the caller");
    let body = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(
        body.contains("m=audio 20002 RTP/AVP 8 101"),
        "one playable codec (the caller's first) and telephone-event: {body}"
    );
    match &h.events()[..] {
        [CallEvent::AnsweredLocally { leg, codec, .. }] => {
            assert_eq!(*leg, LegId(1));
            assert_eq!(codec, &("PCMA".to_string(), 8));
        }
        other => panic!("{other:?}"),
    }
    let tag = to_tag(&ok);
    h.input(CARRIER, carrier_request("ACK", Some(&tag), "ack1", 1));
    // A staff member is rung from the answered call, offered the caller's codec first, then what
    // the relay could transcode it to.
    let targets = h.ep.targets_for_user("1002", Some(Duration::from_secs(20)));
    h.ep.ring(h.now, call, targets);
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    let offer = String::from_utf8_lossy(&inv.body).into_owned();
    assert!(offer.contains("RTP/AVP 8 0 111 101"), "{offer}");
    // A first ring that fails is reported so the queue can move on…
    let out = h.input(PHONE_A, reply(&inv, 486, "phone1", ""));
    assert!(
        responses(&out).iter().all(|r| r.status != 486),
        "not passed to the caller"
    );
    assert!(matches!(
        &h.events()[..],
        [CallEvent::BranchFailed {
            status: 486,
            last: true,
            ..
        }]
    ));
    // …and the next one that answers is joined on the relay, without a second 200 to the caller.
    let targets = h.ep.targets_for_user("1002", Some(Duration::from_secs(20)));
    h.ep.ring(h.now, call, targets);
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    let out = h.input(PHONE_A, reply(&inv, 200, "phone2", &answer_sdp(40000)));
    assert!(responses(&out).is_empty(), "{out:?}");
    assert_eq!(requests(&out, Method::Ack).len(), 1);
    assert!(matches!(&h.events()[..], [CallEvent::Answered { by, .. }] if by == "1002"));
    {
        let log = h.media.0.lock().expect("log");
        assert_eq!(log.bridged, vec![(LegId(1), LegId(2))]);
    }
    // The caller hangs up: the staff member gets the BYE.
    let out = h.input(CARRIER, carrier_request("BYE", Some(&tag), "bye1", 2));
    assert_eq!(requests(&out, Method::Bye)[0].0.to_string(), PHONE_A);
}

#[test]
fn a_call_answered_by_us_is_hung_up_when_call_control_gives_up() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    h.input(CARRIER, invite("c1"));
    let call = match &h.events()[..] {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("{other:?}"),
    };
    h.ep.answer_locally(h.now, call);
    h.drain();
    h.events();
    h.ep.reject(h.now, call, 480);
    let out = h.drain();
    assert_eq!(requests(&out, Method::Bye)[0].0.to_string(), CARRIER);
    assert!(matches!(&h.events()[..], [CallEvent::Ended { .. }]));
}

#[test]
fn a_phone_switching_codec_by_reinvite_is_transcoded_and_switching_back_stops_it() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (inv, _) = connected_call(&mut h);
    // Phone A (on PCMA, the call's codec) re-offers PCMU only.
    let pcmu = |v: u32| {
        format!("v=0\r\no=phone 5 {v} IN IP4 198.51.100.10\r\ns=-\r\nc=IN IP4 198.51.100.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")
    };
    let reinvite = |cseq: u32, body: &str| {
        let our_from =
            String::from_utf8_lossy(inv.headers.get(&HeaderName::From).expect("From")).into_owned();
        format!(
            "INVITE sip:switchboard@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE_A};branch=z9hG4bKre{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:1002@10.0.0.5>;tag=phone1\r\nTo: {our_from}\r\nCall-ID: {}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:1002@{PHONE_A}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            inv.call_id().expect("Call-ID"),
            body.len()
        )
    };
    let out = h.input(PHONE_A, reinvite(2, &pcmu(6)));
    let ok = responses(&out)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("accepted with transcoding");
    assert!(String::from_utf8_lossy(&ok.body).contains("RTP/AVP 0 101"));
    {
        let log = h.media.0.lock().expect("log");
        let pcma = ("PCMA".to_string(), 8);
        let pcmu = ("PCMU".to_string(), 0);
        assert_eq!(
            log.transcodes,
            vec![
                (LegId(2), Some((pcmu.clone(), pcma.clone()))),
                (LegId(1), Some((pcma, pcmu))),
            ],
            "the phone's leg decodes PCMU into the caller's PCMA, and back"
        );
    }
    // Back to PCMA: both transcoders go.
    let back = answer_sdp(40000).replace("o=phone 5 5", "o=phone 5 7");
    let out = h.input(PHONE_A, reinvite(3, &back));
    assert!(responses(&out).iter().any(|r| r.status == 200));
    let log = h.media.0.lock().expect("log");
    assert_eq!(&log.transcodes[2..], &[(LegId(2), None), (LegId(1), None)]);
}

#[test]
fn a_call_we_place_rings_the_agent_first_then_joins_the_citizen() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let call =
        h.ep.originate(h.now, "1002", "+4764000000", Some(Duration::from_secs(20)))
            .expect("1002 is registered");
    let out = h.drain();
    let (to, inv) = requests(&out, Method::Invite).remove(0);
    assert_eq!(to.to_string(), PHONE_A, "the agent first");
    assert!(header_of(&inv, HeaderName::From).contains("sip:+4764000000@"));
    let offer = String::from_utf8_lossy(&inv.body).into_owned();
    assert!(
        offer.contains("RTP/AVP 8 0 101"),
        "G.711 for the carrier leg: {offer}"
    );
    let out = h.input(PHONE_A, reply(&inv, 200, "agent1", &answer_sdp(40000)));
    assert_eq!(requests(&out, Method::Ack).len(), 1);
    match &h.events()[..] {
        [CallEvent::AnsweredLocally {
            call: c,
            leg,
            codec,
        }] => {
            assert_eq!((*c, *leg), (call, LegId(1)));
            assert_eq!(codec, &("PCMA".to_string(), 8));
        }
        other => panic!("{other:?}"),
    }
    // Now the citizen, through the carrier, offered the agent's codec.
    let citizen = sip_core::b2bua::RingTarget {
        uri: sip_message::Uri::parse(b"sip:+4791234567@192.0.2.50:5060").expect("uri"),
        peer: udp(CARRIER),
        label: "carrier".into(),
        ring_timeout: Some(Duration::from_secs(30)),
        confirm: false,
        caller_id: Some("+4764000000".into()),
        srtp: Default::default(),
    };
    h.ep.ring(h.now, call, vec![citizen]);
    let (to, inv_c) = requests(&h.drain(), Method::Invite).remove(0);
    assert_eq!(to.to_string(), CARRIER);
    let offer = String::from_utf8_lossy(&inv_c.body).into_owned();
    assert!(
        offer.contains("RTP/AVP 8 0 111 101"),
        "the agent's PCMA first: {offer}"
    );
    h.input(CARRIER, reply(&inv_c, 200, "citizen1", &answer_sdp(30000)));
    assert!(matches!(&h.events()[..], [CallEvent::Answered { by, .. }] if by == "carrier"));
    assert_eq!(
        h.media.0.lock().expect("log").bridged,
        vec![(LegId(1), LegId(2))]
    );
    // The agent hangs up: the citizen gets the BYE.
    let bye = format!(
        "BYE sip:switchboard@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE_A};branch=z9hG4bKagentbye\r\nMax-Forwards: 70\r\nFrom: <sip:1002@10.0.0.5>;tag=agent1\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n",
        header_of(&inv, HeaderName::From),
        inv.call_id().expect("Call-ID")
    );
    let out = h.input(PHONE_A, bye);
    assert!(responses(&out).iter().any(|r| r.status == 200));
    assert_eq!(requests(&out, Method::Bye)[0].0.to_string(), CARRIER);
    assert!(matches!(&h.events()[..], [CallEvent::Ended { .. }]));
}

#[test]
fn a_call_we_place_that_the_agent_refuses_or_ignores_ends() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    h.ep.originate(h.now, "1002", "x", Some(Duration::from_secs(5)));
    let inv = requests(&h.drain(), Method::Invite).remove(0).1;
    h.input(PHONE_A, reply(&inv, 486, "agent1", ""));
    match &h.events()[..] {
        [CallEvent::Ended { report, .. }] => assert_eq!(report.cause, "486"),
        other => panic!("{other:?}"),
    }
    // Ringing past its time: CANCEL.
    h.ep.originate(h.now, "1002", "x", Some(Duration::from_secs(5)));
    let inv = requests(&h.drain(), Method::Invite).remove(0).1;
    h.input(PHONE_A, reply(&inv, 180, "agent2", ""));
    let out = h.advance(Duration::from_secs(6));
    assert!(!requests(&out, Method::Cancel).is_empty());
    assert!(h.ep.originate(h.now, "nobody", "x", None).is_none());
}

#[test]
fn a_silent_callee_leg_before_anyone_answers_does_not_drop_a_caller_we_answered() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    h.input(CARRIER, invite("c1"));
    let call = match &h.events()[..] {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("{other:?}"),
    };
    h.ep.answer_locally(h.now, call);
    h.drain();
    h.events();
    // A queue rings an agent: the callee leg exists but carries nothing until someone answers.
    let targets = h.ep.targets_for_user("1002", Some(Duration::from_secs(20)));
    h.ep.ring(h.now, call, targets);
    h.drain();
    h.ep.media_timeout(h.now, LegId(2));
    assert!(requests(&h.drain(), Method::Bye).is_empty());
    assert!(h.events().is_empty(), "the caller stays");
    // The caller's own leg going silent does end it.
    h.ep.media_timeout(h.now, LegId(1));
    assert_eq!(requests(&h.drain(), Method::Bye).len(), 1);
}
