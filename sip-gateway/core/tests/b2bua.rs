//! B2BUA call flows through the endpoint in simulated time, with a recording fake of the media relay:
//! a caller (say, the carrier trunk) calls a registered user; the B2BUA answers with the relay's
//! address, forks to every contact, connects the first 200, cancels the rest, and tears down on BYE
//! or CANCEL from either side.

mod b2bua_harness;
use b2bua_harness::*;

#[test]
fn a_carrier_call_reaches_a_user_and_either_side_hangs_up() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    h.call_1002();
    let out = h.drain();
    let invites = requests(&out, Method::Invite);
    assert_eq!(invites.len(), 1);
    let (to, inv) = &invites[0];
    assert_eq!(
        to.to_string(),
        PHONE_A,
        "sent where the phone registered from (NAT)"
    );
    assert_eq!(inv.uri.to_string(), "sip:1002@10.0.0.5:5060");
    let offer = String::from_utf8_lossy(&inv.body).into_owned();
    assert!(
        offer.contains("m=audio 20004 RTP/AVP 8 0 101"),
        "the caller's codecs, the relay's port: {offer}"
    );
    assert!(offer.contains("c=IN IP4 127.0.0.1"));
    assert_ne!(
        inv.call_id(),
        Some("c1"),
        "the outbound leg is a dialog of its own"
    );

    let out = h.input(PHONE_A, reply(inv, 180, "phone1", ""));
    let r = responses(&out);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].status, 180);
    let caller_tag = to_tag(&r[0]);

    let out = h.input(PHONE_A, reply(inv, 200, "phone1", &answer_sdp(40000)));
    let acks = requests(&out, Method::Ack);
    assert_eq!(acks.len(), 1, "ACK for the callee's 2xx: {out:?}");
    assert_eq!(acks[0].0.to_string(), PHONE_A);
    assert!(acks[0].1.to().and_then(|t| t.tag().map(str::to_string)) == Some("phone1".into()));
    let ok = responses(&out);
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].status, 200);
    assert_eq!(to_tag(&ok[0]), caller_tag, "the same To tag as the 180");
    let answer = String::from_utf8_lossy(&ok[0].body).into_owned();
    assert!(
        answer.contains("m=audio 20002 RTP/AVP 8 101"),
        "the callee's codec, caller's numbering: {answer}"
    );
    {
        let log = h.media.0.lock().expect("log");
        assert_eq!(log.bridged, vec![(LegId(1), LegId(2))]);
        let callee = log
            .remotes
            .iter()
            .find(|(l, _)| *l == LegId(2))
            .expect("callee remote");
        assert_eq!(
            callee.1.rtp,
            Some("198.51.100.10:40000".parse().expect("addr"))
        );
        let caller = log
            .remotes
            .iter()
            .find(|(l, _)| *l == LegId(1))
            .expect("caller remote");
        assert_eq!(
            caller.1.rtp,
            Some("192.0.2.50:30000".parse().expect("addr"))
        );
        assert_eq!(caller.1.telephone_event_pt, Some(101));
    }
    assert!(h
        .events()
        .iter()
        .any(|e| matches!(e, CallEvent::Answered { by, .. } if by == "1002")));

    // No ACK yet: our 2xx is retransmitted.
    let out = h.advance(Duration::from_millis(600));
    assert_eq!(
        responses(&out).iter().filter(|r| r.status == 200).count(),
        1
    );
    h.input(
        CARRIER,
        carrier_request("ACK", Some(&caller_tag), "ack1", 1),
    );
    let out = h.advance(Duration::from_secs(5));
    assert!(
        responses(&out).is_empty(),
        "no retransmission after the ACK: {out:?}"
    );

    // The callee hangs up.
    let bye = format!(
        "BYE sip:switchboard@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE_A};branch=z9hG4bKbye1\r\nMax-Forwards: 70\r\nFrom: {};tag=phone1\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        String::from_utf8_lossy(inv.headers.get(&HeaderName::To).expect("To")),
        String::from_utf8_lossy(inv.headers.get(&HeaderName::From).expect("From")),
        inv.call_id().expect("call-id")
    );
    let out = h.input(PHONE_A, bye);
    assert!(responses(&out).iter().any(|r| r.status == 200));
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].0.to_string(), CARRIER);
    assert_eq!(byes[0].1.call_id(), Some("c1"));
    let ended: Vec<_> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            CallEvent::Ended { report, .. } => Some(report),
            _ => None,
        })
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].side, HangupSide::Callee);
    assert_eq!(ended[0].answered_by, Some("1002".into()));
    assert!(ended[0].ringing.is_some() && ended[0].answered.is_some());
    assert_eq!(h.media.0.lock().expect("log").released.len(), 2);
    assert_eq!(h.ep.active_calls(), 0);
}

#[test]
fn forked_contacts_ring_together_and_the_first_answer_cancels_the_rest() {
    let mut h = Harness::new(&[
        ("sip:1002@10.0.0.5:5060", PHONE_A),
        ("sip:1002@10.0.0.6:5062", PHONE_B),
    ]);
    h.call_1002();
    let out = h.drain();
    let invites = requests(&out, Method::Invite);
    assert_eq!(invites.len(), 2);
    let (inv_a, inv_b) = (&invites[0].1, &invites[1].1);
    h.input(PHONE_B, reply(inv_b, 180, "b", ""));
    let out = h.input(PHONE_A, reply(inv_a, 200, "a", &answer_sdp(40000)));
    let cancels = requests(&out, Method::Cancel);
    assert_eq!(cancels.len(), 1, "{out:?}");
    assert_eq!(cancels[0].0.to_string(), PHONE_B);
    assert_eq!(cancels[0].1.call_id(), inv_b.call_id());
    assert_eq!(
        cancels[0]
            .1
            .top_via()
            .and_then(|v| v.branch().map(str::to_string)),
        inv_b.top_via().and_then(|v| v.branch().map(str::to_string)),
        "§9.1: the INVITE's branch"
    );
    // B answered anyway (its 200 crossed our CANCEL): it gets an ACK and a BYE.
    let out = h.input(PHONE_B, reply(inv_b, 200, "b", &answer_sdp(40002)));
    assert_eq!(requests(&out, Method::Ack).len(), 1);
    assert_eq!(requests(&out, Method::Bye).len(), 1);
    assert!(responses(&out).is_empty(), "the caller hears nothing of it");
}

#[test]
fn the_caller_cancels_while_it_rings() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    h.call_1002();
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    h.input(PHONE_A, reply(&inv, 180, "p", ""));
    let out = h.input(CARRIER, carrier_request("CANCEL", None, "c1", 1));
    let statuses: Vec<u16> = responses(&out).iter().map(|r| r.status).collect();
    assert!(
        statuses.contains(&200) && statuses.contains(&487),
        "{statuses:?}"
    );
    let cancels = requests(&out, Method::Cancel);
    assert_eq!(cancels.len(), 1);
    let ended: Vec<_> = h
        .events()
        .into_iter()
        .filter_map(|e| match e {
            CallEvent::Ended { report, .. } => Some(report),
            _ => None,
        })
        .collect();
    assert_eq!(ended[0].side, HangupSide::Caller);
    assert_eq!(ended[0].cause, "487");
    assert_eq!(ended[0].branches[0].status, 487);
}

#[test]
fn a_phone_answering_across_the_callers_cancel_is_acked_and_hung_up() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    h.call_1002();
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    h.input(PHONE_A, reply(&inv, 180, "p", ""));
    h.input(CARRIER, carrier_request("CANCEL", None, "c1", 1));
    assert_eq!(h.ep.active_calls(), 0, "the call is over");
    // The phone's 200 crossed our CANCEL: the call is gone, the phone must not stay in it.
    let out = h.input(PHONE_A, reply(&inv, 200, "p", &answer_sdp(40000)));
    let acks = requests(&out, Method::Ack);
    let byes = requests(&out, Method::Bye);
    assert_eq!((acks.len(), byes.len()), (1, 1), "{out:?}");
    assert_eq!(byes[0].1.call_id(), inv.call_id());
    assert!(responses(&out).is_empty(), "the caller hears nothing of it");
    // A copy of the 200 later finds nothing to hang up twice.
    let again = h.input(PHONE_A, reply(&inv, 200, "p", &answer_sdp(40000)));
    assert!(requests(&again, Method::Bye).is_empty(), "{again:?}");
}

#[test]
fn a_branch_of_an_ended_call_is_forgotten_after_timer_b() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    h.call_1002();
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    h.input(PHONE_A, reply(&inv, 180, "p", ""));
    h.input(CARRIER, carrier_request("CANCEL", None, "c1", 1));
    // 64·T1 later it is forgotten (no final answer can come any more): a 200 now is a stray.
    h.advance(Duration::from_secs(33));
    let out = h.input(PHONE_A, reply(&inv, 200, "p", &answer_sdp(40000)));
    assert!(requests(&out, Method::Bye).is_empty(), "{out:?}");
}

#[test]
fn a_busy_callee_is_reported_and_the_caller_gets_busy() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let call = h.call_1002();
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    let out = h.input(PHONE_A, reply(&inv, 486, "p", ""));
    assert_eq!(
        requests(&out, Method::Ack).len(),
        1,
        "the transaction layer ACKs the 486"
    );
    let failed = h.events();
    assert!(
        matches!(
            &failed[..],
            [CallEvent::BranchFailed {
                status: 486,
                last: true,
                ..
            }]
        ),
        "{failed:?}"
    );
    h.ep.reject(h.now, call, 486);
    let out = h.drain();
    assert_eq!(
        responses(&out).iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![486]
    );
    assert_eq!(h.ep.active_calls(), 0);
}

#[test]
fn an_unanswered_branch_is_cancelled_after_its_ring_time() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    h.call_1002();
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    h.input(PHONE_A, reply(&inv, 180, "p", ""));
    let out = h.advance(Duration::from_millis(20_100));
    assert_eq!(requests(&out, Method::Cancel).len(), 1, "{out:?}");
    let out = h.input(PHONE_A, reply(&inv, 487, "p", ""));
    assert_eq!(requests(&out, Method::Ack).len(), 1);
    assert!(h.events().iter().any(|e| matches!(
        e,
        CallEvent::BranchFailed {
            status: 487,
            last: true,
            ..
        }
    )));
}

#[test]
fn an_invite_without_sdp_is_refused_with_488() {
    let mut h = Harness::new(&[]);
    let text = invite("c9").replace(OFFER, "").replace(
        &format!("Content-Length: {}", OFFER.len()),
        "Content-Length: 0",
    );
    let out = h.input(CARRIER, text);
    assert_eq!(
        responses(&out).iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![488]
    );
    assert!(h.media.0.lock().expect("log").allocated.is_empty());
}

#[test]
fn phones_prove_who_they_are_and_their_source_address_proves_nothing() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    // A stranger and a forged INVITE from the registered phone's own address alike are
    // challenged; nothing is routed and no media is taken for them.
    let from_stranger = invite("x1").replace("192.0.2.50:5060;branch", "203.0.113.66:5060;branch");
    let out = h.input("203.0.113.66:5060", from_stranger);
    let forged = invite("x0").replace("192.0.2.50:5060;branch", "198.51.100.10:5060;branch");
    let out_forged = h.input(PHONE_A, forged);
    for out in [out, out_forged] {
        let statuses: Vec<u16> = responses(&out).iter().map(|r| r.status).collect();
        assert_eq!(statuses, vec![407]);
        assert!(responses(&out)[0]
            .headers
            .get(&HeaderName::ProxyAuthenticate)
            .is_some());
    }
    assert!(h.events().is_empty());
    assert!(
        h.media.0.lock().expect("log").allocated.is_empty(),
        "no media for unproven callers"
    );
    // The phone that answers the challenge calls as user 1002.
    let from_phone = invite("x2").replace("192.0.2.50:5060;branch", "198.51.100.10:5060;branch");
    let out = h.input_as_1002(PHONE_A, from_phone);
    assert!(responses(&out).iter().any(|r| r.status == 100));
    assert!(matches!(
        &h.events()[..],
        [CallEvent::Incoming { caller: sip_core::b2bua::Caller::User(u), .. }] if u == "1002"
    ));
}

#[test]
fn hold_and_resume_from_the_caller_are_answered_by_the_relay_side() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (_, tag) = connected_call(&mut h);
    let version = |r: &Response| -> u64 {
        let body = String::from_utf8_lossy(&r.body).into_owned();
        body.lines()
            .find_map(|l| l.strip_prefix("o="))
            .and_then(|o| o.split_whitespace().nth(2))
            .and_then(|v| v.parse().ok())
            .expect("o= version")
    };
    let out = h.input(CARRIER, caller_reinvite(&tag, "hold", 2, "sendonly"));
    let ok = responses(&out)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("200 for the hold");
    let hold_body = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(hold_body.contains("a=recvonly"), "{hold_body}");
    assert!(
        hold_body.contains("m=audio 20002 RTP/AVP 8 101"),
        "same port, same codec: {hold_body}"
    );
    let hold_version = version(&ok);
    assert!(
        requests(&out, Method::Invite).is_empty(),
        "the callee is not bothered: the relay stops sending to the held side"
    );
    {
        let log = h.media.0.lock().expect("log");
        let last = log
            .remotes
            .iter()
            .rev()
            .find(|(l, _)| *l == LegId(1))
            .expect("caller leg");
        assert_eq!(
            last.1.direction,
            switchboard_media::relay::Direction::SendOnly
        );
    }
    let out = h.input(CARRIER, caller_reinvite(&tag, "resume", 3, "sendrecv"));
    let ok = responses(&out)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("200 for the resume");
    assert!(String::from_utf8_lossy(&ok.body).contains("a=sendrecv"));
    assert_eq!(
        version(&ok),
        hold_version + 1,
        "o= version grows once per change"
    );
    let log = h.media.0.lock().expect("log");
    let last = log
        .remotes
        .iter()
        .rev()
        .find(|(l, _)| *l == LegId(1))
        .expect("caller leg");
    assert_eq!(
        last.1.direction,
        switchboard_media::relay::Direction::SendRecv
    );
}

#[test]
fn a_reinvite_for_an_unknown_dialog_gets_481() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let out = h.input(
        CARRIER,
        caller_reinvite("nosuchtag", "x", 2, "sendonly").replace("Call-ID: c1", "Call-ID: zz"),
    );
    assert_eq!(
        responses(&out).iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![481]
    );
}

/// Call control says what the call came through: the phone's INVITE names the queue in From's
/// display name (quoted, escaped) and the number the citizen dialled in P-Called-Party-ID.
#[test]
fn the_callee_sees_what_the_call_came_through() {
    let mut h = Harness::new(&[("sip:1002@198.51.100.10:5060", PHONE_A)]);
    let out = h.input(CARRIER, invite("c1"));
    assert!(responses(&out).iter().any(|r| r.status == 100));
    let call = match &h.events()[..] {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("{other:?}"),
    };
    h.ep.handle_call_command(
        h.now,
        sip_core::b2bua::CallCommand::ShowVia {
            call,
            name: "Servicetorget \"Sentrum\"".into(),
            number: "+4764000000".into(),
        },
    );
    let targets = h.ep.targets_for_user("1002", Some(Duration::from_secs(20)));
    h.ep.ring(h.now, call, targets);
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    let from = String::from_utf8_lossy(inv.headers.get(&HeaderName::From).expect("From"));
    assert!(
        from.starts_with(r#""Servicetorget \"Sentrum\"" <sip:+4791234567@"#),
        "{from}"
    );
    let called = inv
        .headers
        .get(&HeaderName::PCalledPartyId)
        .map(|v| String::from_utf8_lossy(v).into_owned());
    assert_eq!(called.as_deref(), Some("<sip:+4764000000@192.0.2.1:5060>"));
    // What went on the wire parses back with its From tag: the quoted-string is well formed.
    assert!(
        inv.from()
            .and_then(|f| f.tag().map(str::to_string))
            .is_some(),
        "{from}"
    );
}
