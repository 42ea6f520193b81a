//! Transfers and hold through the endpoint in simulated time: the callee who answered a carrier's call
//! (phone A, user 1002) sends REFER — blind to 1003 (phone B), or attended, replacing a consultation
//! call it placed to 1003 — and re-INVITEs to hold and resume.

mod b2bua_harness;
use b2bua_harness::*;

use sip_core::b2bua::CallRef;

fn refer(inv: &Request, cseq: u32, refer_to: &str) -> String {
    from_phone_a(inv, "REFER", cseq, &format!("Refer-To: {refer_to}\r\n"), "")
}

fn call_ref(h: &mut Harness) -> CallRef {
    h.carrier_call
        .expect("connected_call routed the carrier's call")
}

/// Phone A asks for a blind transfer to 1003: 202, NOTIFY 100, and the request for call control.
fn blind_refer(h: &mut Harness, inv: &Request) {
    let out = h.input_as_1002(PHONE_A, refer(inv, 1, "<sip:1003@192.0.2.1>"));
    assert_blind_transfer_accepted(h, &out, None, LegId(1));
}

#[test]
fn a_blind_transfer_connects_the_caller_to_the_target_and_releases_the_transferor() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (inv, tag) = connected_call(&mut h);
    let call = call_ref(&mut h);
    blind_refer(&mut h, &inv);
    h.ep.ring(h.now, call, vec![phone_b_target()]);
    let out = h.drain();
    let invites = requests(&out, Method::Invite);
    assert_eq!(invites.len(), 1);
    let (to, inv_b) = &invites[0];
    assert_eq!(to.to_string(), PHONE_B);
    let offer = String::from_utf8_lossy(&inv_b.body).into_owned();
    assert!(
        offer.contains("m=audio 20004 RTP/AVP 8 101"),
        "offered from the callee leg, only the codec the caller talks: {offer}"
    );
    h.input(PHONE_B, reply(inv_b, 180, "phoneb", ""));
    assert!(h.events().is_empty());
    let out = h.input(PHONE_B, reply(inv_b, 200, "phoneb", &answer_sdp(40002)));
    assert_eq!(requests(&out, Method::Ack).len(), 1, "B's 200 is ACKed");
    assert_eq!(
        notify_bodies(&out),
        vec!["SIP/2.0 200 OK"],
        "the transferor hears it worked"
    );
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].0.to_string(), PHONE_A, "the transferor is released");
    match &h.events()[..] {
        [CallEvent::Transferred { from, to, .. }] => {
            assert_eq!(
                (from.to_string(), to.to_string()),
                ("1002".into(), "1003".into())
            )
        }
        other => panic!("{other:?}"),
    }
    {
        let log = h.media.0.lock().expect("log");
        let last = log
            .remotes
            .iter()
            .rev()
            .find(|(l, _)| *l == LegId(2))
            .expect("callee leg");
        assert_eq!(
            last.1.rtp.map(|a| a.port()),
            Some(40002),
            "the callee leg now sends to B"
        );
    }
    // The caller hangs up: B gets the BYE, not A.
    let out = h.input(CARRIER, carrier_request("BYE", Some(&tag), "bye9", 5));
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].0.to_string(), PHONE_B);
    match &h.events()[..] {
        [CallEvent::Ended { report, .. }] => {
            assert_eq!(report.answered_by, Some("1003".into()));
            assert!(report
                .branches
                .iter()
                .any(|b| b.label == "1003" && b.status == 200));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failed_blind_transfer_leaves_the_caller_with_the_transferor() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (inv, tag) = connected_call(&mut h);
    let call = call_ref(&mut h);
    blind_refer(&mut h, &inv);
    h.ep.ring(h.now, call, vec![phone_b_target()]);
    let inv_b = requests(&h.drain(), Method::Invite)[0].1.clone();
    let out = h.input(PHONE_B, reply(&inv_b, 486, "phoneb", ""));
    assert_eq!(notify_bodies(&out), vec!["SIP/2.0 486 Busy Here"]);
    assert!(requests(&out, Method::Bye).is_empty(), "nobody is hung up");
    assert!(matches!(
        &h.events()[..],
        [CallEvent::TransferFailed { status: 486, .. }]
    ));
    // Still A's call: the caller's BYE reaches A.
    let out = h.input(CARRIER, carrier_request("BYE", Some(&tag), "bye9", 5));
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].0.to_string(), PHONE_A);
}

#[test]
fn call_control_refusing_the_target_fails_the_transfer_not_the_call() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (inv, _) = connected_call(&mut h);
    let call = call_ref(&mut h);
    blind_refer(&mut h, &inv);
    h.ep.reject(h.now, call, 404);
    let out = h.drain();
    assert_eq!(notify_bodies(&out), vec!["SIP/2.0 404 Not Found"]);
    assert!(responses(&out).is_empty(), "the caller's call is untouched");
    assert!(matches!(
        &h.events()[..],
        [CallEvent::TransferFailed { status: 404, .. }]
    ));
    // An unregistered target fails the same way, through the ring-a-user path.
    blind_refer_again(&mut h, &inv);
    h.ep.ring_member(h.now, call, "1003", None);
    assert_eq!(
        notify_bodies(&h.drain()),
        vec!["SIP/2.0 480 Temporarily Unavailable"]
    );
}

fn blind_refer_again(h: &mut Harness, inv: &Request) {
    let out = h.input_as_1002(PHONE_A, refer(inv, 2, "<sip:1003@192.0.2.1>"));
    assert_eq!(
        responses(&out).iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![202]
    );
    h.events();
}

#[test]
fn the_transferor_may_hang_up_before_the_target_answers() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (inv, tag) = connected_call(&mut h);
    let call = call_ref(&mut h);
    blind_refer(&mut h, &inv);
    let out = h.input(PHONE_A, from_phone_a(&inv, "BYE", 2, "", ""));
    assert_eq!(
        responses(&out).iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![200]
    );
    assert!(
        requests(&out, Method::Bye).is_empty(),
        "the caller stays, waiting for the target"
    );
    assert!(h.events().is_empty());
    h.ep.ring(h.now, call, vec![phone_b_target()]);
    let inv_b = requests(&h.drain(), Method::Invite)[0].1.clone();
    let out = h.input(PHONE_B, reply(&inv_b, 200, "phoneb", &answer_sdp(40002)));
    assert!(
        notify_bodies(&out).is_empty() && requests(&out, Method::Bye).is_empty(),
        "nothing more for the transferor that left: {out:?}"
    );
    assert!(matches!(&h.events()[..], [CallEvent::Transferred { .. }]));
    let out = h.input(CARRIER, carrier_request("BYE", Some(&tag), "bye9", 5));
    assert_eq!(requests(&out, Method::Bye)[0].0.to_string(), PHONE_B);
}

#[test]
fn a_caller_whose_transferor_left_is_hung_up_when_the_target_fails() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (inv, _) = connected_call(&mut h);
    let call = call_ref(&mut h);
    blind_refer(&mut h, &inv);
    h.ep.ring(h.now, call, vec![phone_b_target()]);
    let inv_b = requests(&h.drain(), Method::Invite)[0].1.clone();
    h.input(PHONE_A, from_phone_a(&inv, "BYE", 2, "", ""));
    let out = h.input(PHONE_B, reply(&inv_b, 603, "phoneb", ""));
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(
        byes[0].0.to_string(),
        CARRIER,
        "the caller is not left alone"
    );
    let events = h.events();
    assert!(matches!(
        &events[..],
        [
            CallEvent::TransferFailed { status: 603, .. },
            CallEvent::Ended { .. }
        ]
    ));
}

#[test]
fn the_caller_hanging_up_during_a_transfer_cancels_the_target() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (inv, tag) = connected_call(&mut h);
    let call = call_ref(&mut h);
    blind_refer(&mut h, &inv);
    h.ep.ring(h.now, call, vec![phone_b_target()]);
    let inv_b = requests(&h.drain(), Method::Invite)[0].1.clone();
    h.input(PHONE_B, reply(&inv_b, 180, "phoneb", ""));
    let out = h.input(CARRIER, carrier_request("BYE", Some(&tag), "bye9", 5));
    let cancels = requests(&out, Method::Cancel);
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].0.to_string(), PHONE_B);
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].0.to_string(), PHONE_A);
}

#[test]
fn refers_that_cannot_be_carried_out_are_refused() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (inv, tag) = connected_call(&mut h);
    let status = |out: &[Out]| responses(out).iter().map(|r| r.status).collect::<Vec<_>>();
    let out = h.input_as_1002(PHONE_A, refer(&inv, 1, "<sip:@192.0.2.1>"));
    assert_eq!(status(&out), vec![400]);
    let out = h.input_as_1002(PHONE_A, from_phone_a(&inv, "REFER", 2, "", ""));
    assert_eq!(status(&out), vec![400], "no Refer-To");
    let out = h.input_as_1002(
        PHONE_A,
        refer(&inv, 3, "<sip:1003@192.0.2.1>").replace(
            &format!("Call-ID: {}", inv.call_id().expect("id")),
            "Call-ID: nosuch",
        ),
    );
    assert_eq!(status(&out), vec![481]);
    // From the carrier's side of the call: a citizen may not send our staff onward.
    let from_caller = carrier_request("REFER", Some(&tag), "ref1", 7).replace(
        "Content-Length: 0",
        "Refer-To: <sip:1003@192.0.2.1>\r\nContent-Length: 0",
    );
    let out = h.input(CARRIER, from_caller);
    assert_eq!(status(&out), vec![403]);
    // An attended transfer naming no call of ours.
    let out = h.input_as_1002(
        PHONE_A,
        refer(
            &inv,
            4,
            "<sip:1003@192.0.2.1?Replaces=zz%3Bto-tag%3D1%3Bfrom-tag%3D2>",
        ),
    );
    assert_eq!(status(&out), vec![202]);
    assert_eq!(
        notify_bodies(&out),
        vec!["SIP/2.0 481 Call/Transaction Does Not Exist"]
    );
}

/// Phone A (registered as 1002) calls 1003 through us — the consultation call — and B answers with
/// `codec` ("8 PCMA" or "0 PCMU"). Returns the call, our INVITE to B and A's dialog tags.
fn consultation_call(h: &mut Harness, codec: (u8, &str)) -> (CallRef, Request, String) {
    let sdp = format!(
        "v=0\r\no=a 7 7 IN IP4 198.51.100.10\r\ns=-\r\nc=IN IP4 198.51.100.10\r\nt=0 0\r\nm=audio 41000 RTP/AVP {pt} 101\r\na=rtpmap:{pt} {name}/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
        pt = codec.0,
        name = codec.1
    );
    let invite = format!(
        "INVITE sip:1003@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE_A};branch=z9hG4bKcons1\r\nMax-Forwards: 70\r\nFrom: <sip:1002@192.0.2.1>;tag=consA\r\nTo: <sip:1003@192.0.2.1>\r\nCall-ID: cons\r\nCSeq: 1 INVITE\r\nContact: <sip:1002@{PHONE_A}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    h.input_as_1002(PHONE_A, invite);
    let call = match &h.events()[..] {
        [CallEvent::Incoming { call, caller, .. }] => {
            assert_eq!(*caller, sip_core::b2bua::Caller::User("1002".into()));
            *call
        }
        other => panic!("{other:?}"),
    };
    h.ep.ring(h.now, call, vec![phone_b_target()]);
    let inv_b = requests(&h.drain(), Method::Invite)[0].1.clone();
    let answer = format!(
        "v=0\r\no=b 9 9 IN IP4 198.51.100.11\r\ns=-\r\nc=IN IP4 198.51.100.11\r\nt=0 0\r\nm=audio 42000 RTP/AVP {pt} 101\r\na=rtpmap:{pt} {name}/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
        pt = codec.0,
        name = codec.1
    );
    let out = h.input(PHONE_B, reply(&inv_b, 200, "phoneb", &answer));
    let ok = responses(&out)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("A's consultation call answered");
    let our_tag = to_tag(&ok);
    h.input(
        PHONE_A,
        format!("ACK sip:switchboard@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE_A};branch=z9hG4bKconsack\r\nMax-Forwards: 70\r\nFrom: <sip:1002@192.0.2.1>;tag=consA\r\nTo: <sip:1003@192.0.2.1>;tag={our_tag}\r\nCall-ID: cons\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"),
    );
    h.events();
    (call, inv_b, our_tag)
}

#[test]
fn an_attended_transfer_joins_the_caller_with_the_consulted_colleague() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (inv, tag) = connected_call(&mut h);
    let (consultation, inv_b, our_tag) = consultation_call(&mut h, (8, "PCMA"));
    let consulted_leg = {
        let log = h.media.0.lock().expect("log");
        *log.allocated.last().expect("the consultation's callee leg")
    };
    let out = h.input_as_1002(
        PHONE_A,
        refer(
            &inv,
            1,
            &format!("<sip:1003@192.0.2.1?Replaces=cons%3Bto-tag%3D{our_tag}%3Bfrom-tag%3DconsA>"),
        ),
    );
    assert_eq!(
        responses(&out).iter().filter(|r| r.status == 202).count(),
        1
    );
    assert_eq!(notify_bodies(&out), vec!["SIP/2.0 200 OK"]);
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 2, "both of A's dialogs end: {byes:?}");
    assert!(byes.iter().all(|(to, _)| to.to_string() == PHONE_A));
    let events = h.events();
    assert!(
        events.iter().any(|e| matches!(e, CallEvent::Ended { call, report } if *call == consultation && report.cause == "transferred")),
        "{events:?}"
    );
    assert!(events.iter().any(
        |e| matches!(e, CallEvent::Transferred { from, to, .. } if from == "1002" && to == "1003")
    ));
    // The colleague moves to a fresh relay leg beside the caller's (the consultation's leg may be on
    // another media thread): a re-INVITE in its dialog.
    let new_leg = {
        let log = h.media.0.lock().expect("log");
        assert!(log.released.contains(&consulted_leg));
        *log.allocated.last().expect("a new leg")
    };
    assert_ne!(new_leg, consulted_leg);
    let reinvites = requests(&out, Method::Invite);
    assert_eq!(reinvites.len(), 1, "{out:?}");
    let (to, reinvite) = &reinvites[0];
    assert_eq!(to.to_string(), PHONE_B);
    assert_eq!(reinvite.call_id(), inv_b.call_id());
    let offer = String::from_utf8_lossy(&reinvite.body).into_owned();
    assert!(
        offer.contains(&format!("m=audio {} RTP/AVP 8 101", 20000 + 2 * new_leg.0)),
        "{offer}"
    );
    let out = h.input(PHONE_B, reply(reinvite, 200, "phoneb", &answer_sdp(42002)));
    assert_eq!(requests(&out, Method::Ack).len(), 1);
    {
        let log = h.media.0.lock().expect("log");
        assert_eq!(
            log.bridged.last(),
            Some(&(LegId(1), new_leg)),
            "the caller's leg is bridged to the colleague's new one"
        );
    }
    // The caller hangs up: the colleague gets the BYE, in its own dialog.
    let out = h.input(CARRIER, carrier_request("BYE", Some(&tag), "bye9", 5));
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].0.to_string(), PHONE_B);
    assert_eq!(byes[0].1.call_id(), inv_b.call_id());
}

#[test]
fn an_attended_transfer_across_codecs_reinvites_the_colleague_with_the_callers_codec() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (inv, _) = connected_call(&mut h);
    let (_, inv_b, our_tag) = consultation_call(&mut h, (0, "PCMU"));
    let out = h.input_as_1002(
        PHONE_A,
        refer(
            &inv,
            1,
            &format!("<sip:1003@192.0.2.1?Replaces=cons%3Bto-tag%3D{our_tag}%3Bfrom-tag%3DconsA>"),
        ),
    );
    let reinvites = requests(&out, Method::Invite);
    assert_eq!(reinvites.len(), 1, "{out:?}");
    let (to, reinvite) = &reinvites[0];
    assert_eq!(to.to_string(), PHONE_B);
    assert_eq!(reinvite.call_id(), inv_b.call_id(), "in B's dialog");
    assert_eq!(reinvite.cseq().map(|c| c.seq), Some(2));
    let offer = String::from_utf8_lossy(&reinvite.body).into_owned();
    assert!(offer.contains("RTP/AVP 8 101"), "PCMA only: {offer}");
    let bridged_before = h.media.0.lock().expect("log").bridged.len();
    let out = h.input(PHONE_B, reply(reinvite, 200, "phoneb", &answer_sdp(42002)));
    let acks = requests(&out, Method::Ack);
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].1.cseq().map(|c| c.seq), Some(2));
    let log = h.media.0.lock().expect("log");
    assert_eq!(
        log.bridged.len(),
        bridged_before + 1,
        "bridged once B agreed"
    );
}

#[test]
fn hold_from_either_side_asks_for_music_for_the_other() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (inv, _) = connected_call(&mut h);
    let hold = |v: u32, dir: &str| {
        answer_sdp(40000).replace("o=phone 5 5", &format!("o=phone 5 {v}"))
            + &format!("a={dir}\r\n")
    };
    h.input(
        PHONE_A,
        from_phone_a(&inv, "INVITE", 2, "", &hold(6, "sendonly")),
    );
    match &h.events()[..] {
        [CallEvent::Held { leg, codec, .. }] => {
            assert_eq!(*leg, LegId(1), "the caller is held");
            assert_eq!(codec, &("PCMA".to_string(), 8));
        }
        other => panic!("{other:?}"),
    }
    // A second hold re-INVITE changes nothing.
    h.input(
        PHONE_A,
        from_phone_a(&inv, "INVITE", 3, "", &hold(6, "inactive")),
    );
    assert!(h.events().is_empty());
    h.input(
        PHONE_A,
        from_phone_a(&inv, "INVITE", 4, "", &hold(7, "sendrecv")),
    );
    assert!(matches!(
        &h.events()[..],
        [CallEvent::Resumed { leg: LegId(1), .. }]
    ));
}

#[test]
fn a_blind_transfer_to_a_queue_or_group_gives_the_caller_back_to_switchboard() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (inv, _) = connected_call(&mut h);
    let call = call_ref(&mut h);
    blind_refer(&mut h, &inv);
    h.ep.transfer_to_us(h.now, call);
    let out = h.drain();
    assert_eq!(notify_bodies(&out), vec!["SIP/2.0 200 OK"]);
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].0.to_string(), PHONE_A, "the transferor is released");
    assert!(matches!(
        &h.events()[..],
        [CallEvent::AnsweredLocally { leg: LegId(1), .. }]
    ));
    // The caller now waits as in a queue: a member who answers is joined.
    h.ep.ring(h.now, call, vec![phone_b_target()]);
    let inv_b = requests(&h.drain(), Method::Invite)[0].1.clone();
    h.input(PHONE_B, reply(&inv_b, 200, "phoneb", &answer_sdp(40002)));
    assert!(matches!(&h.events()[..], [CallEvent::Answered { by, .. }] if by == "1003"));
}

fn notify_bodies(out: &[Out]) -> Vec<String> {
    notify_bodies_in(out, None)
}
