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
