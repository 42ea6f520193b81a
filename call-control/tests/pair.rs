//! The SIP endpoint and call control stepped together in one process, in simulated time (like
//! quinn-proto's `Pair`): SIP messages from a carrier and a phone go in as bytes; call events flow
//! to call control and its typed commands back to the endpoint; the messages the endpoint sends are
//! what the tests read. The endpoint is the B2BUA tests' harness (a carrier at 192.0.2.50, user
//! 1002 registered at 198.51.100.10, a recording fake of the relay).

#[path = "../../sip-gateway/core/tests/b2bua_harness/mod.rs"]
mod b2bua_harness;
mod sim;

use std::sync::Arc as StdArc;

use b2bua_harness::*;
use call_control::{CallControl, Output, Record};
use switchboard_schema::{HuntStrategy, TargetKind};

struct Pair {
    h: Harness,
    cc: CallControl,
    /// Call control's outputs other than SIP commands (media, records, notices), in order.
    other: Vec<Output>,
}

impl Pair {
    fn new(config: call_control::Snapshot) -> Pair {
        let h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
        let cc = CallControl::new(StdArc::new(config), h.now, sim::MONDAY_10_OSLO_MS, 1);
        Pair {
            h,
            cc,
            other: Vec::new(),
        }
    }

    /// Passes events and commands between the two until both are quiet; returns what the endpoint
    /// sent meanwhile.
    fn step(&mut self) -> Vec<Out> {
        let mut wire = Vec::new();
        loop {
            let mut moved = false;
            for event in self.h.events() {
                self.cc.handle_call_event(self.h.now, event);
                moved = true;
            }
            while let Some(output) = self.cc.poll_output() {
                match output {
                    Output::Sip(command) => {
                        self.h.ep.handle_call_command(self.h.now, command);
                        moved = true;
                    }
                    other => self.other.push(other),
                }
            }
            wire.extend(self.h.drain());
            if !moved {
                return wire;
            }
        }
    }

    fn input(&mut self, from: &str, text: String) -> Vec<Out> {
        let mut wire = self.h.input(from, text);
        wire.extend(self.step());
        wire
    }

    /// Moves the clock on, running both machines' timers as they fall due.
    fn advance(&mut self, d: Duration) -> Vec<Out> {
        let until = self.h.now + d;
        let mut wire = Vec::new();
        loop {
            let next = [self.h.ep.poll_timeout(), self.cc.poll_timeout()]
                .into_iter()
                .flatten()
                .filter(|&t| t <= until)
                .min();
            let Some(at) = next else { break };
            self.h.now = self.h.now.max(at);
            self.h.ep.handle_timeout(self.h.now);
            self.cc.handle_timeout(self.h.now);
            wire.extend(self.h.drain());
            wire.extend(self.step());
        }
        self.h.now = until;
        wire
    }

    fn records(&self) -> Vec<Record> {
        sim::records(&self.other)
    }
}

/// The carrier's INVITE to `number` instead of 1002.
fn invite_to(call_id: &str, number: &str) -> String {
    invite(call_id).replace("sip:1002@192.0.2.1", &format!("sip:{number}@192.0.2.1"))
}

fn statuses(out: &[Out]) -> Vec<u16> {
    responses(out).iter().map(|r| r.status).collect()
}

#[test]
fn a_hunt_skips_an_unregistered_member_and_the_registered_phone_answers() {
    let cfg = sim::config(
        vec![sim::user("1002"), sim::user("1003")],
        vec![sim::number(sim::MAIN, TargetKind::HuntGroup, "5")],
        vec![sim::group(5, HuntStrategy::Sequential, &["1003", "1002"])],
        vec![],
        vec![],
        vec![],
    );
    let mut p = Pair::new(cfg);
    let out = p.input(CARRIER, invite_to("c1", sim::MAIN));
    // 1003 has no phone: the hunt moves on at once and 1002's phone rings.
    let sent = requests(&out, Method::Invite);
    assert_eq!(sent.len(), 1, "{out:?}");
    assert_eq!(sent[0].0.to_string(), PHONE_A);
    let inv = sent[0].1.clone();
    let out = p.input(PHONE_A, reply(&inv, 180, "phone1", ""));
    assert!(statuses(&out).contains(&180));
    p.advance(Duration::from_secs(3));
    let out = p.input(PHONE_A, reply(&inv, 200, "phone1", &answer_sdp(40000)));
    assert!(
        statuses(&out).contains(&200),
        "the carrier gets our 200: {out:?}"
    );
    let ok = responses(&out)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("200");
    p.input(
        CARRIER,
        carrier_request("ACK", Some(&to_tag(&ok)), "ack1", 1),
    );
    let views = p.cc.calls_in_progress();
    assert_eq!(views[0].answered_by.as_deref(), Some("1002"));
    assert_eq!(
        views[0].answered_at_ms,
        Some(sim::MONDAY_10_OSLO_MS + 3_000)
    );
    // The carrier hangs up: the phone gets BYE, the record closes, nothing is left.
    let out = p.input(
        CARRIER,
        carrier_request("BYE", Some(&to_tag(&ok)), "bye1", 2),
    );
    assert_eq!(requests(&out, Method::Bye)[0].0.to_string(), PHONE_A);
    assert!(p.records().iter().any(
        |r| matches!(r, Record::Closed { report, .. } if report.answered_by == Some("1002".into()))
    ));
    assert_eq!(p.cc.active_calls(), 0);
}

#[test]
fn a_phone_that_does_not_answer_is_cancelled_each_ring_time_and_the_caller_hears_480_at_the_timeout(
) {
    let cfg = sim::config(
        vec![sim::user("1002"), sim::user("1003")],
        vec![sim::number(sim::MAIN, TargetKind::HuntGroup, "5")],
        vec![sim::group(5, HuntStrategy::Sequential, &["1002", "1003"])],
        vec![],
        vec![],
        vec![],
    );
    let mut p = Pair::new(cfg);
    let start = p.h.now;
    let out = p.input(CARRIER, invite_to("c1", sim::MAIN));
    let inv = requests(&out, Method::Invite)[0].1.clone();
    p.input(PHONE_A, reply(&inv, 180, "phone1", ""));
    assert!(requests(&p.advance(Duration::from_secs(9)), Method::Cancel).is_empty());
    // Ten seconds (the group's ring time): CANCEL to the phone. 1003 has none, so the hunt goes
    // round to 1002 again until the group's timeout (60 s), and then the caller hears 480.
    let out = p.advance(Duration::from_secs(1));
    assert_eq!(requests(&out, Method::Cancel).len(), 1, "{out:?}");
    let mut wire = out;
    let mut invites = vec![inv];
    let mut rounds = 1;
    let answered_480 = loop {
        for (_, cancel) in requests(&wire, Method::Cancel) {
            let invite = invites
                .iter()
                .find(|i| i.call_id() == cancel.call_id())
                .expect("the INVITE cancelled")
                .clone();
            p.input(PHONE_A, reply(&cancel, 200, "phone1", ""));
            wire.extend(p.input(PHONE_A, reply(&invite, 487, "phone1", "")));
        }
        for (_, again) in requests(&wire, Method::Invite) {
            rounds += 1;
            p.input(PHONE_A, reply(&again, 180, "phone1", ""));
            invites.push(again);
        }
        if statuses(&wire).contains(&480) {
            break true;
        }
        if p.h.now - start > Duration::from_secs(90) {
            break false;
        }
        wire = p.advance(Duration::from_secs(1));
    };
    assert!(answered_480, "the caller is told 480");
    let took = p.h.now - start;
    assert!(
        (Duration::from_secs(60)..Duration::from_secs(62)).contains(&took),
        "at the group's timeout: {took:?}"
    );
    assert!(rounds >= 3, "1002 is rung again each round: {rounds}");
    assert_eq!(p.cc.active_calls(), 0);
    assert!(p
        .records()
        .iter()
        .any(|r| matches!(r, Record::Closed { report, .. } if report.cause == "480")));
}

#[test]
fn a_queue_call_is_answered_by_switchboard_then_by_the_agents_phone() {
    let cfg = sim::config(
        vec![sim::user("1002")],
        vec![sim::number(sim::MAIN, TargetKind::Queue, "7")],
        vec![],
        vec![sim::queue(7, &["1002"])],
        vec![],
        vec![],
    );
    let mut p = Pair::new(cfg);
    let out = p.input(CARRIER, invite_to("c1", sim::MAIN));
    // Switchboard answers the caller itself (music on hold), then rings the agent.
    assert!(statuses(&out).contains(&200), "{out:?}");
    assert!(sim::prompts(&p.other).contains(&"moh".to_string()));
    let inv = requests(&out, Method::Invite)[0].1.clone();
    p.advance(Duration::from_secs(4));
    let out = p.input(PHONE_A, reply(&inv, 200, "phone1", &answer_sdp(40000)));
    assert!(!requests(&out, Method::Ack).is_empty(), "{out:?}");
    match p.records().as_slice() {
        [Record::Open { .. }, Record::Answered { answer, .. }] => {
            assert_eq!(answer.queue_id, Some(7));
            assert_eq!(answer.queue_wait_ms, Some(4_000));
        }
        other => panic!("{other:?}"),
    }
    let snapshot = p.cc.queue_snapshot(p.h.now, 7).expect("queue");
    assert!(
        snapshot["waiting"].as_array().is_some_and(Vec::is_empty),
        "{snapshot}"
    );
}

impl Pair {
    /// A key pressed on relay leg `leg`, as the media runtime reports it.
    fn key(&mut self, leg: LegId, digit: char) -> Vec<Out> {
        self.cc
            .handle_media_event(self.h.now, call_control::MediaInput::Dtmf { leg, digit });
        self.step()
    }

    /// Legs call control asked the confirmation question on, in order.
    fn asked(&self) -> Vec<LegId> {
        sim::media(&self.other)
            .into_iter()
            .filter_map(|m| match m {
                call_control::MediaCommand::Play { leg, prompts, .. } if prompts == ["confirm"] => {
                    Some(leg)
                }
                _ => None,
            })
            .collect()
    }

    /// The citizen calls the main number, routed to 1002, whose phone answers; the carrier ACKs.
    /// Returns our INVITE to the phone and our To tag towards the carrier.
    fn connected_to_1002(&mut self) -> (Request, String) {
        let out = self.input(CARRIER, invite_to("c1", sim::MAIN));
        let inv = requests(&out, Method::Invite)[0].1.clone();
        let out = self.input(PHONE_A, reply(&inv, 200, "phone1", &answer_sdp(40000)));
        let ok = responses(&out)
            .into_iter()
            .find(|r| r.status == 200)
            .expect("the citizen is connected");
        let tag = to_tag(&ok);
        self.input(CARRIER, carrier_request("ACK", Some(&tag), "ack1", 1));
        (inv, tag)
    }

    fn closed(&self) -> Option<sip_core::b2bua::CallReport> {
        self.records().into_iter().find_map(|r| match r {
            Record::Closed { report, .. } => Some(report),
            _ => None,
        })
    }
}

/// The carrier as the municipality's trunk: calls out (members' mobiles, numbers) go to it.
fn carrier_trunk(name: &str, priority: i64, port: i64) -> switchboard_schema::Trunk {
    let mut t = sim::trunk(name, priority, port);
    t.host = "192.0.2.50".into();
    t
}

#[test]
fn two_mobiles_answer_at_once_and_the_first_to_press_1_gets_the_caller() {
    let cfg = sim::config(
        vec![
            sim::cellular_user("1004", "+4790001004", 0),
            sim::cellular_user("1005", "+4790001005", 0),
        ],
        vec![sim::number(sim::MAIN, TargetKind::HuntGroup, "5")],
        vec![sim::group(5, HuntStrategy::RingAll, &["1004", "1005"])],
        vec![],
        vec![],
        vec![carrier_trunk("carrier", 1, 5060)],
    );
    let mut p = Pair::new(cfg);
    let out = p.input(CARRIER, invite_to("c1", sim::MAIN));
    // Neither has the app registered: both mobiles ring through the trunk, asked to confirm.
    let invites: Vec<Request> = requests(&out, Method::Invite)
        .into_iter()
        .map(|(to, r)| {
            assert_eq!(to.to_string(), CARRIER);
            r
        })
        .collect();
    let mut numbers: Vec<String> = invites.iter().map(|i| i.uri.to_string()).collect();
    numbers.sort();
    assert!(
        numbers[0].contains("+4790001004") && numbers[1].contains("+4790001005"),
        "{numbers:?}"
    );
    // Both answer (their voicemail would too): both are asked, nobody is connected yet.
    for (i, inv) in invites.iter().enumerate() {
        let sdp = answer_sdp(30100 + 2 * i as u16);
        let out = p.input(CARRIER, reply(inv, 200, &format!("m{i}"), &sdp));
        assert!(statuses(&out).iter().all(|&s| s != 200), "{out:?}");
    }
    let asked = p.asked();
    assert_eq!(asked.len(), 2, "{:?}", p.other);
    p.advance(Duration::from_secs(2));
    // The second to answer presses 1 first: the caller gets 200, the other mobile a BYE.
    let out = p.key(asked[1], '1');
    assert!(statuses(&out).contains(&200), "{out:?}");
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1, "{out:?}");
    assert_eq!(
        byes[0].1.call_id(),
        invites[0].call_id(),
        "the other mobile"
    );
    // The loser's key comes too late: nothing more is sent.
    assert!(p.key(asked[0], '1').is_empty());
    // The carrier hangs up: the record names the mobile that confirmed.
    let ok = responses(&out)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("200");
    let tag = to_tag(&ok);
    p.input(CARRIER, carrier_request("ACK", Some(&tag), "ack1", 1));
    p.input(CARRIER, carrier_request("BYE", Some(&tag), "bye1", 2));
    let report = p.closed().expect("record closed");
    let answered = report.answered_by.expect("answered").to_string();
    let second = invites[1].uri.to_string();
    let expected = if second.contains("+4790001005") {
        "1005/cellular"
    } else {
        "1004/cellular"
    };
    assert_eq!(answered, expected);
}

#[test]
fn a_staff_call_out_fails_over_to_the_next_trunk_when_the_first_answers_503() {
    let cfg = sim::config(
        vec![sim::user("1002")],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![
            carrier_trunk("primary", 1, 5060),
            carrier_trunk("backup", 2, 5070),
        ],
    );
    let mut p = Pair::new(cfg);
    let call = invite_from_1002("out1", "+4722334455");
    let mut out = p.h.input_as_1002(PHONE_A, call);
    out.extend(p.step());
    let first = requests(&out, Method::Invite);
    assert_eq!(first.len(), 1, "{out:?}");
    assert_eq!(
        first[0].0.to_string(),
        "192.0.2.50:5060",
        "the primary first"
    );
    assert!(first[0].1.uri.to_string().contains("+4722334455"));
    let out = p.input("192.0.2.50:5060", reply(&first[0].1, 503, "p1", ""));
    let second = requests(&out, Method::Invite);
    assert_eq!(second.len(), 1, "{out:?}");
    assert_eq!(
        second[0].0.to_string(),
        "192.0.2.50:5070",
        "then the backup"
    );
    let out = p.input(
        "192.0.2.50:5070",
        reply(&second[0].1, 200, "b1", &answer_sdp(30200)),
    );
    assert!(
        statuses(&out).contains(&200),
        "the staff phone is connected"
    );
    let report_legs = |p: &Pair| {
        p.records()
            .iter()
            .any(|r| matches!(r, Record::Answered { answer, .. } if answer.answered_by == "backup"))
    };
    assert!(report_legs(&p), "{:?}", p.records());
}

#[test]
fn the_caller_hanging_up_while_the_group_rings_cancels_the_phone_and_closes_the_record() {
    let cfg = sim::config(
        vec![sim::user("1002")],
        vec![sim::number(sim::MAIN, TargetKind::HuntGroup, "5")],
        vec![sim::group(5, HuntStrategy::Sequential, &["1002"])],
        vec![],
        vec![],
        vec![],
    );
    let mut p = Pair::new(cfg);
    let out = p.input(CARRIER, invite_to("c1", sim::MAIN));
    let inv = requests(&out, Method::Invite)[0].1.clone();
    p.input(PHONE_A, reply(&inv, 180, "phone1", ""));
    p.advance(Duration::from_secs(3));
    // The citizen gives up: CANCEL from the carrier.
    let out = p.input(CARRIER, carrier_request("CANCEL", None, "c1", 1));
    assert!(
        statuses(&out).contains(&487),
        "the INVITE ends 487: {out:?}"
    );
    let cancels = requests(&out, Method::Cancel);
    assert_eq!(cancels.len(), 1, "the phone is cancelled: {out:?}");
    // The phone's answer crosses the CANCEL: too late, it is let go.
    let out = p.input(PHONE_A, reply(&inv, 200, "phone1", &answer_sdp(40000)));
    assert_eq!(requests(&out, Method::Bye).len(), 1, "{out:?}");
    let report = p.closed().expect("record closed");
    assert_eq!(report.answered_by, None);
    assert_eq!(p.cc.active_calls(), 0);
    // Nothing is left to ring later.
    assert!(requests(&p.advance(Duration::from_secs(60)), Method::Invite).is_empty());
}

/// 1002's phone calls `number` (a call out through the trunks).
fn invite_from_1002(call_id: &str, number: &str) -> String {
    format!(
        "INVITE sip:{number}@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE_A};branch=z9hG4bK{call_id}\r\nMax-Forwards: 70\r\nFrom: <sip:1002@192.0.2.1>;tag=a1\r\nTo: <sip:{number}@192.0.2.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:1002@{PHONE_A}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER}",
        OFFER.len()
    )
}

#[test]
fn staff_blind_transfer_the_citizen_to_a_colleague_who_answers() {
    let cfg = sim::config(
        vec![sim::user("1002"), sim::user("1003")],
        vec![sim::number(sim::MAIN, TargetKind::User, "1002")],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    let mut p = Pair::new(cfg);
    // 1003's phone is registered at phone B.
    let mut b = binding("sip:1003@10.0.0.6:5062", PHONE_B);
    b.aor = "1003".into();
    p.h.ep.registrar_mut().restore(vec![b]);
    let (inv_a, tag) = p.connected_to_1002();
    p.advance(Duration::from_secs(20));
    // 1002 presses transfer to 1003: call control rings 1003, the citizen waits with music.
    let refer = from_phone_a(&inv_a, "REFER", 1, "Refer-To: <sip:1003@192.0.2.1>\r\n", "");
    let mut out = p.h.input_as_1002(PHONE_A, refer);
    out.extend(p.step());
    assert!(statuses(&out).contains(&202), "{out:?}");
    assert!(sim::prompts(&p.other).contains(&"moh".to_string()));
    assert!(p.cc.calls_in_progress()[0].on_hold);
    let invites = requests(&out, Method::Invite);
    assert_eq!(invites.len(), 1, "{out:?}");
    assert_eq!(invites[0].0.to_string(), PHONE_B);
    let inv_b = invites[0].1.clone();
    let out = p.input(PHONE_B, reply(&inv_b, 200, "phoneb", &answer_sdp(40002)));
    // B answered: 1002 is released, the citizen talks with 1003.
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1, "{out:?}");
    assert_eq!(byes[0].0.to_string(), PHONE_A);
    let view = &p.cc.calls_in_progress()[0];
    assert_eq!(view.answered_by.as_deref(), Some("1003"));
    assert!(!view.on_hold);
    // The citizen hangs up: B gets the BYE, and the record names 1003.
    let out = p.input(CARRIER, carrier_request("BYE", Some(&tag), "bye1", 2));
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1, "{out:?}");
    assert_eq!(byes[0].0.to_string(), PHONE_B);
    let report = p.closed().expect("record closed");
    assert_eq!(report.answered_by, Some("1003".into()));
    assert_eq!(p.cc.active_calls(), 0);
}

#[test]
fn silence_past_the_media_timeout_hangs_up_both_sides() {
    let cfg = sim::config(
        vec![sim::user("1002")],
        vec![sim::number(sim::MAIN, TargetKind::User, "1002")],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    let mut p = Pair::new(cfg);
    p.connected_to_1002();
    // The relay hears nothing from the caller's leg (the first leg taken) for its timeout.
    let caller_leg = p.h.media.0.lock().expect("log").allocated[0];
    p.cc.handle_media_event(
        p.h.now,
        call_control::MediaInput::MediaTimeout { leg: caller_leg },
    );
    let out = p.step();
    let mut to: Vec<String> = requests(&out, Method::Bye)
        .iter()
        .map(|(a, _)| a.to_string())
        .collect();
    to.sort();
    assert_eq!(
        to,
        vec![CARRIER.to_string(), PHONE_A.to_string()],
        "{out:?}"
    );
    assert!(p.closed().is_some(), "the record is closed");
    assert_eq!(p.cc.active_calls(), 0);
}
