//! Transfers from the calling side, through the endpoint in simulated time: phone A (registered as
//! 1002) calls out to a citizen through the carrier and then sends REFER in its own dialog — blind to
//! 1003 (phone B), or attended, replacing a consultation call it placed to 1003. The citizen is the
//! party kept: it hears music while B rings and is bridged to B.

mod b2bua_harness;
use b2bua_harness::*;

use sip_core::b2bua::{CallRef, Caller, RingTarget};

const A_TAG: &str = "aout";

/// Phone A's INVITE to `to` (Call-ID `call_id`), offering PCMA and PCMU.
fn invite_from_a(call_id: &str, to: &str) -> String {
    let sdp = "v=0\r\no=a 7 7 IN IP4 198.51.100.10\r\ns=-\r\nc=IN IP4 198.51.100.10\r\nt=0 0\r\nm=audio 41000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    format!(
        "INVITE sip:{to}@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE_A};branch=z9hG4bK{call_id}inv\r\nMax-Forwards: 70\r\nFrom: <sip:1002@192.0.2.1>;tag={A_TAG}\r\nTo: <sip:{to}@192.0.2.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:1002@{PHONE_A}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// A request from phone A in its dialog `call_id` (our tag `our_tag`).
fn from_a(call_id: &str, our_tag: &str, to: &str, method: &str, cseq: u32, extra: &str) -> String {
    format!(
        "{method} sip:switchboard@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE_A};branch=z9hG4bK{call_id}{method}{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:1002@192.0.2.1>;tag={A_TAG}\r\nTo: <sip:{to}@192.0.2.1>;tag={our_tag}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: <sip:1002@{PHONE_A}>\r\n{extra}Content-Length: 0\r\n\r\n"
    )
}

fn carrier_target() -> RingTarget {
    RingTarget {
        uri: sip_message::Uri::parse(b"sip:+4791234567@192.0.2.50").expect("uri"),
        peer: udp(CARRIER),
        label: "carrier".into(),
        ring_timeout: None,
        confirm: false,
        caller_id: Some("+4764000000".into()),
        srtp: Default::default(),
    }
}

/// Phone A calls `to` (Call-ID `call_id`); call control rings `target`, which answers from `addr`
/// with `answer_port`; A ACKs. Returns the call, our INVITE to the callee and our tag towards A.
fn a_calls(
    h: &mut Harness,
    call_id: &str,
    to: &str,
    target: RingTarget,
    answer_port: u16,
) -> (CallRef, Request, String) {
    let addr = target.peer.addr.to_string();
    h.input_as_1002(PHONE_A, invite_from_a(call_id, to));
    let call = match &h.events()[..] {
        [CallEvent::Incoming { call, caller, .. }] => {
            assert_eq!(*caller, Caller::User("1002".into()));
            *call
        }
        other => panic!("{other:?}"),
    };
    h.ep.ring(h.now, call, vec![target]);
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    let out = h.input(&addr, reply(&inv, 200, "callee1", &answer_sdp(answer_port)));
    let ok = responses(&out)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("A's call answered");
    let our_tag = to_tag(&ok);
    h.input(PHONE_A, from_a(call_id, &our_tag, to, "ACK", 1, ""));
    h.events();
    (call, inv, our_tag)
}

/// A, who called the citizen, asks for a blind transfer to 1003: 202, NOTIFY 100, and the request
/// for call control with the citizen's leg to play music to.
fn blind_refer(h: &mut Harness, our_tag: &str) {
    let refer = from_a(
        "out1",
        our_tag,
        "+4791234567",
        "REFER",
        2,
        "Refer-To: <sip:1003@192.0.2.1>\r\n",
    );
    let out = h.input_as_1002(PHONE_A, refer);
    assert_blind_transfer_accepted(h, &out, Some("out1"), LegId(2));
}

#[test]
fn a_caller_transfers_the_citizen_it_called_to_a_colleague() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (call, inv_c, our_tag) = a_calls(&mut h, "out1", "+4791234567", carrier_target(), 30002);
    blind_refer(&mut h, &our_tag);
    h.ep.ring(h.now, call, vec![phone_b_target()]);
    let invites = requests(&h.drain(), Method::Invite);
    assert_eq!(invites.len(), 1);
    let (to, inv_b) = &invites[0];
    assert_eq!(to.to_string(), PHONE_B);
    let offer = String::from_utf8_lossy(&inv_b.body).into_owned();
    assert!(
        offer.contains("m=audio 20002 RTP/AVP 8 101"),
        "offered from the transferor's relay leg, in the call's codec: {offer}"
    );
    h.input(PHONE_B, reply(inv_b, 180, "phoneb", ""));
    let out = h.input(PHONE_B, reply(inv_b, 200, "phoneb", &answer_sdp(40002)));
    assert_eq!(requests(&out, Method::Ack).len(), 1, "B's 200 is ACKed");
    assert_eq!(notify_bodies(&out), vec!["SIP/2.0 200 OK"]);
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1, "{out:?}");
    assert_eq!(byes[0].0.to_string(), PHONE_A, "the transferor is released");
    assert_eq!(byes[0].1.call_id(), Some("out1"));
    assert!(
        requests(&out, Method::Bye)
            .iter()
            .all(|(to, _)| to.to_string() != CARRIER),
        "the citizen stays"
    );
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
            .find(|(l, _)| *l == LegId(1))
            .expect("the transferor's old leg");
        assert_eq!(last.1.rtp.map(|a| a.port()), Some(40002), "now sends to B");
        assert!(log.bridged.contains(&(LegId(1), LegId(2))));
    }
    // A's late BYE for its ended dialog changes nothing.
    let out = h.input(
        PHONE_A,
        from_a("out1", &our_tag, "+4791234567", "BYE", 3, ""),
    );
    assert!(requests(&out, Method::Bye).is_empty());
    // The citizen hangs up: B gets the BYE, in B's dialog.
    let out = h.input(CARRIER, from_callee(&inv_c, CARRIER, "callee1", "BYE", 2));
    assert_eq!(
        responses(&out).iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![200]
    );
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].0.to_string(), PHONE_B);
    assert_eq!(byes[0].1.call_id(), inv_b.call_id());
    match &h.events()[..] {
        [CallEvent::Ended { report, .. }] => {
            assert_eq!(report.answered_by, Some("1003".into()));
            assert!(report
                .branches
                .iter()
                .any(|b| b.label == "carrier" && b.status == 200));
            let mut legs = report.media_legs.clone();
            legs.sort();
            assert_eq!(legs, vec![LegId(1), LegId(2)]);
        }
        other => panic!("{other:?}"),
    }
    let log = h.media.0.lock().expect("log");
    assert!(log.released.contains(&LegId(1)) && log.released.contains(&LegId(2)));
}

#[test]
fn a_failed_transfer_gives_the_citizen_back_to_the_caller() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (call, inv_c, our_tag) = a_calls(&mut h, "out1", "+4791234567", carrier_target(), 30002);
    blind_refer(&mut h, &our_tag);
    h.ep.ring(h.now, call, vec![phone_b_target()]);
    let inv_b = requests(&h.drain(), Method::Invite)[0].1.clone();
    let out = h.input(PHONE_B, reply(&inv_b, 486, "phoneb", ""));
    assert_eq!(notify_bodies(&out), vec!["SIP/2.0 486 Busy Here"]);
    assert!(requests(&out, Method::Bye).is_empty(), "nobody is hung up");
    assert!(matches!(
        &h.events()[..],
        [CallEvent::TransferFailed {
            status: 486,
            hold_leg: LegId(2),
            ..
        }]
    ));
    // Still A's call, whichever side hangs up: the citizen's BYE reaches A in A's dialog…
    let out = h.input(CARRIER, from_callee(&inv_c, CARRIER, "callee1", "BYE", 2));
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1, "{out:?}");
    assert_eq!(byes[0].0.to_string(), PHONE_A);
    assert_eq!(byes[0].1.call_id(), Some("out1"));
    assert!(matches!(&h.events()[..], [CallEvent::Ended { .. }]));
}

#[test]
fn after_a_failed_transfer_the_caller_may_hang_up_or_try_again() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (call, inv_c, our_tag) = a_calls(&mut h, "out1", "+4791234567", carrier_target(), 30002);
    blind_refer(&mut h, &our_tag);
    h.ep.reject(h.now, call, 404);
    assert_eq!(notify_bodies(&h.drain()), vec!["SIP/2.0 404 Not Found"]);
    h.events();
    // A second REFER in A's dialog works the same (A is the call's callee side by now).
    let refer = from_a(
        "out1",
        &our_tag,
        "+4791234567",
        "REFER",
        3,
        "Refer-To: <sip:1003@192.0.2.1>\r\n",
    );
    let out = h.input_as_1002(PHONE_A, refer);
    assert_eq!(
        responses(&out).iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![202]
    );
    assert!(matches!(
        &h.events()[..],
        [CallEvent::TransferRequested { by, hold_leg: LegId(2), .. }] if by == "1002"
    ));
    h.ep.reject(h.now, call, 404);
    h.drain();
    h.events();
    // A hangs up: the citizen gets the BYE, in the citizen's dialog.
    let out = h.input(
        PHONE_A,
        from_a("out1", &our_tag, "+4791234567", "BYE", 4, ""),
    );
    assert_eq!(
        responses(&out).iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![200]
    );
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1, "{out:?}");
    assert_eq!(byes[0].0.to_string(), CARRIER);
    assert_eq!(byes[0].1.call_id(), inv_c.call_id());
    assert!(matches!(&h.events()[..], [CallEvent::Ended { .. }]));
}

#[test]
fn the_transferor_may_leave_before_the_target_answers_and_the_citizen_waits() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (call, _, our_tag) = a_calls(&mut h, "out1", "+4791234567", carrier_target(), 30002);
    blind_refer(&mut h, &our_tag);
    h.ep.ring(h.now, call, vec![phone_b_target()]);
    let inv_b = requests(&h.drain(), Method::Invite)[0].1.clone();
    let out = h.input(
        PHONE_A,
        from_a("out1", &our_tag, "+4791234567", "BYE", 3, ""),
    );
    assert_eq!(
        responses(&out).iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![200]
    );
    assert!(requests(&out, Method::Bye).is_empty(), "the citizen waits");
    // B does not answer: the citizen is not left alone.
    let out = h.input(PHONE_B, reply(&inv_b, 603, "phoneb", ""));
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].0.to_string(), CARRIER);
    assert!(matches!(
        &h.events()[..],
        [
            CallEvent::TransferFailed { status: 603, .. },
            CallEvent::Ended { .. }
        ]
    ));
}

#[test]
fn a_citizen_calling_in_may_not_transfer_and_a_ringing_call_cannot_be() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (_, tag) = connected_call(&mut h);
    let from_carrier = carrier_request("REFER", Some(&tag), "ref1", 7).replace(
        "Content-Length: 0",
        "Refer-To: <sip:+4799999999@192.0.2.1>\r\nContent-Length: 0",
    );
    let out = h.input(CARRIER, from_carrier);
    assert_eq!(
        responses(&out).iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![403]
    );
    assert!(h.events().is_empty());
    // A's call out still ringing: nothing to transfer yet.
    h.input_as_1002(PHONE_A, invite_from_a("out2", "+4791234567"));
    let call = match &h.events()[..] {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("{other:?}"),
    };
    h.ep.ring(h.now, call, vec![carrier_target()]);
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    let ringing = h.input(CARRIER, reply(&inv, 180, "callee1", ""));
    let our_tag = responses(&ringing)
        .iter()
        .find(|r| r.status == 180)
        .map(to_tag)
        .expect("180 to A");
    let refer = from_a(
        "out2",
        &our_tag,
        "+4791234567",
        "REFER",
        2,
        "Refer-To: <sip:1003@192.0.2.1>\r\n",
    );
    let out = h.input_as_1002(PHONE_A, refer);
    assert_eq!(
        responses(&out).iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![481]
    );
}

#[test]
fn an_attended_transfer_from_the_caller_joins_the_citizen_with_the_colleague() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (_, inv_c, our_tag) = a_calls(&mut h, "out1", "+4791234567", carrier_target(), 30002);
    // A consults 1003 in a second call of its own.
    let (consultation, inv_b, cons_tag) = a_calls(&mut h, "cons", "1003", phone_b_target(), 42000);
    let consulted_leg = {
        let log = h.media.0.lock().expect("log");
        *log.allocated.last().expect("the consultation's callee leg")
    };
    let refer = from_a(
        "out1",
        &our_tag,
        "+4791234567",
        "REFER",
        2,
        &format!(
            "Refer-To: <sip:1003@192.0.2.1?Replaces=cons%3Bto-tag%3D{cons_tag}%3Bfrom-tag%3D{A_TAG}>\r\n"
        ),
    );
    let out = h.input_as_1002(PHONE_A, refer);
    assert_eq!(
        responses(&out).iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![202]
    );
    assert_eq!(notify_bodies(&out), vec!["SIP/2.0 200 OK"]);
    let byes = requests(&out, Method::Bye);
    let mut ended: Vec<&str> = byes.iter().filter_map(|(_, r)| r.call_id()).collect();
    ended.sort();
    assert_eq!(ended, vec!["cons", "out1"], "both of A's dialogs end");
    assert!(byes.iter().all(|(to, _)| to.to_string() == PHONE_A));
    let events = h.events();
    assert!(
        events.iter().any(|e| matches!(e, CallEvent::Ended { call, report } if *call == consultation && report.cause == "transferred")),
        "{events:?}"
    );
    assert!(events.iter().any(
        |e| matches!(e, CallEvent::Transferred { from, to, .. } if from == "1002" && to == "1003")
    ));
    // B is re-INVITEd to a fresh relay leg beside the citizen's.
    let reinvites = requests(&out, Method::Invite);
    assert_eq!(reinvites.len(), 1, "{out:?}");
    let (to, reinvite) = &reinvites[0];
    assert_eq!(to.to_string(), PHONE_B);
    assert_eq!(reinvite.call_id(), inv_b.call_id());
    let new_leg = {
        let log = h.media.0.lock().expect("log");
        assert!(log.released.contains(&consulted_leg));
        assert!(log.released.contains(&LegId(1)), "A's old leg is given up");
        *log.allocated.last().expect("a new leg")
    };
    let offer = String::from_utf8_lossy(&reinvite.body).into_owned();
    assert!(
        offer.contains(&format!("m=audio {} RTP/AVP 8 101", 20000 + 2 * new_leg.0)),
        "{offer}"
    );
    let out = h.input(PHONE_B, reply(reinvite, 200, "callee1", &answer_sdp(42002)));
    assert_eq!(requests(&out, Method::Ack).len(), 1);
    assert_eq!(
        h.media.0.lock().expect("log").bridged.last(),
        Some(&(LegId(2), new_leg)),
        "the citizen's leg is bridged to B's new one"
    );
    // The citizen hangs up: B gets the BYE in its own dialog.
    let out = h.input(CARRIER, from_callee(&inv_c, CARRIER, "callee1", "BYE", 2));
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].0.to_string(), PHONE_B);
    assert_eq!(byes[0].1.call_id(), inv_b.call_id());
}

fn notify_bodies(out: &[Out]) -> Vec<String> {
    notify_bodies_in(out, Some("out1"))
}
