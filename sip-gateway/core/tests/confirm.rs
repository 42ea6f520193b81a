//! Cellular legs that must confirm ("press 1") in simulated time: a carrier's call rings two
//! mobiles through the trunk; both answer; each is asked on its own relay leg, the first to confirm
//! is connected and the other is hung up.

mod b2bua_harness;
use b2bua_harness::*;

use sip_core::b2bua::{BranchLabel, CallRef, RingTarget};

fn mobile(number: &str, member: &str) -> RingTarget {
    RingTarget {
        uri: sip_message::Uri::parse(format!("sip:{number}@192.0.2.50").as_bytes()).expect("uri"),
        peer: udp(CARRIER),
        label: BranchLabel::cellular(member),
        ring_timeout: Some(Duration::from_secs(30)),
        confirm: true,
        caller_id: Some("+4764000000".into()),
        srtp: Default::default(),
    }
}

fn offered_port(inv: &Request) -> u16 {
    let body = String::from_utf8_lossy(&inv.body).into_owned();
    body.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|l| l.split(' ').next())
        .and_then(|p| p.parse().ok())
        .expect("m=audio port")
}

/// The carrier's call rings two mobiles (1004's and 1005's) and both answer. Returns the call, our
/// INVITEs to them and the legs each is asked on, in order.
fn two_mobiles_answer(h: &mut Harness) -> (CallRef, [Request; 2], [LegId; 2]) {
    h.input(CARRIER, invite("c1"));
    let call = match &h.events()[..] {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("{other:?}"),
    };
    h.ep.ring(
        h.now,
        call,
        vec![mobile("+4790001004", "1004"), mobile("+4790001005", "1005")],
    );
    let invites: Vec<Request> = requests(&h.drain(), Method::Invite)
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    assert_eq!(invites.len(), 2);
    let (p1, p2) = (offered_port(&invites[0]), offered_port(&invites[1]));
    assert_ne!(p1, p2, "each mobile is offered a relay leg of its own");
    let mut legs = Vec::new();
    for (i, inv) in invites.iter().enumerate() {
        let out = h.input(
            CARRIER,
            reply(
                inv,
                200,
                &format!("m{i}"),
                &answer_sdp(30100 + 2 * i as u16),
            ),
        );
        assert_eq!(requests(&out, Method::Ack).len(), 1, "{out:?}");
        assert!(requests(&out, Method::Bye).is_empty(), "nobody is let go");
        assert!(
            responses(&out).iter().all(|r| r.status < 200),
            "not connected yet"
        );
        match &h.events()[..] {
            [CallEvent::Confirming { label, leg, .. }] => {
                assert_eq!(label.to_string(), ["1004/cellular", "1005/cellular"][i]);
                legs.push(*leg);
            }
            other => panic!("{other:?}"),
        }
    }
    assert_ne!(legs[0], legs[1], "both are asked at once, apart");
    {
        let log = h.media.0.lock().expect("log");
        for (i, leg) in legs.iter().enumerate() {
            let remote = log
                .remotes
                .iter()
                .rev()
                .find(|(l, _)| l == leg)
                .expect("remote");
            assert_eq!(remote.1.rtp.map(|a| a.port()), Some(30100 + 2 * i as u16));
        }
        assert!(log.bridged.is_empty(), "the caller hears nobody yet");
    }
    let [a, b] = <[Request; 2]>::try_from(invites).expect("two");
    (call, [a, b], [legs[0], legs[1]])
}

#[test]
fn two_mobiles_answering_at_once_are_both_asked_and_the_first_to_confirm_wins() {
    let mut h = Harness::new(&[]);
    let (call, invites, legs) = two_mobiles_answer(&mut h);
    // 1005's mobile presses 1 first.
    h.ep.confirm_branch(h.now, call, &BranchLabel::cellular("1005"));
    let out = h.drain();
    let ok: Vec<Response> = responses(&out)
        .into_iter()
        .filter(|r| r.status == 200)
        .collect();
    assert_eq!(ok.len(), 1, "the caller is connected: {out:?}");
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1, "{out:?}");
    assert_eq!(
        byes[0].1.call_id(),
        invites[0].call_id(),
        "1004's mobile is let go"
    );
    assert!(
        matches!(&h.events()[..], [CallEvent::Answered { by, .. }] if *by == BranchLabel::cellular("1005"))
    );
    {
        let log = h.media.0.lock().expect("log");
        assert_eq!(
            log.bridged.last(),
            Some(&(LegId(1), legs[1])),
            "the caller is bridged to the winner's own leg"
        );
        assert!(
            log.released.contains(&legs[0]),
            "the loser's leg is given up"
        );
        assert!(!log.released.contains(&legs[1]));
    }
    // 1004 pressing 1 late changes nothing.
    h.ep.confirm_branch(h.now, call, &BranchLabel::cellular("1004"));
    assert!(h.drain().is_empty());
    assert!(h.events().is_empty());
    // The caller hangs up: the winner gets the BYE; every leg is released and reported.
    let tag = to_tag(&ok[0]);
    h.input(CARRIER, carrier_request("ACK", Some(&tag), "ack1", 1));
    let out = h.input(CARRIER, carrier_request("BYE", Some(&tag), "bye1", 2));
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].1.call_id(), invites[1].call_id());
    match &h.events()[..] {
        [CallEvent::Ended { report, .. }] => {
            assert_eq!(report.answered_by, Some(BranchLabel::cellular("1005")));
            let mut legs_reported = report.media_legs.clone();
            legs_reported.sort();
            let mut allocated = h.media.0.lock().expect("log").allocated.clone();
            allocated.sort();
            assert_eq!(legs_reported, allocated, "every leg the call used");
        }
        other => panic!("{other:?}"),
    }
    let log = h.media.0.lock().expect("log");
    for leg in &log.allocated {
        assert_eq!(
            log.released.iter().filter(|l| *l == leg).count(),
            1,
            "{leg:?} released once: {:?}",
            log.released
        );
    }
}

#[test]
fn a_mobile_that_declines_is_let_go_and_the_other_can_still_confirm() {
    let mut h = Harness::new(&[]);
    let (call, invites, legs) = two_mobiles_answer(&mut h);
    h.ep.decline_branch(h.now, call, &BranchLabel::cellular("1004"));
    let out = h.drain();
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].1.call_id(), invites[0].call_id());
    assert!(matches!(
        &h.events()[..],
        [CallEvent::BranchFailed { label, status: 603, .. }] if *label == BranchLabel::cellular("1004")
    ));
    assert!(h.media.0.lock().expect("log").released.contains(&legs[0]));
    h.ep.confirm_branch(h.now, call, &BranchLabel::cellular("1005"));
    let out = h.drain();
    assert!(responses(&out).iter().any(|r| r.status == 200));
    assert!(requests(&out, Method::Bye).is_empty());
    assert_eq!(
        h.media.0.lock().expect("log").bridged.last(),
        Some(&(LegId(1), legs[1]))
    );
}

#[test]
fn the_caller_hanging_up_while_mobiles_are_asked_releases_them_all() {
    let mut h = Harness::new(&[]);
    let (_, invites, _) = two_mobiles_answer(&mut h);
    let out = h.input(CARRIER, carrier_request("CANCEL", None, "c1", 1));
    let mut byes: Vec<String> = requests(&out, Method::Bye)
        .iter()
        .filter_map(|(_, r)| r.call_id().map(str::to_string))
        .collect();
    byes.sort();
    let mut expected: Vec<String> = invites
        .iter()
        .filter_map(|r| r.call_id().map(str::to_string))
        .collect();
    expected.sort();
    assert_eq!(byes, expected, "both mobiles are hung up");
    assert!(matches!(&h.events()[..], [CallEvent::Ended { .. }]));
    let log = h.media.0.lock().expect("log");
    let mut released = log.released.clone();
    released.sort();
    let mut allocated = log.allocated.clone();
    allocated.sort();
    assert_eq!(released, allocated);
}
