//! Call control's typed commands as the endpoint carries them out: placing a call answers with
//! `Originated` before any event of the new call, and `RingTrunk` takes the first trunk with room,
//! failing the branch with 503 when none has any.

mod b2bua_harness;
use b2bua_harness::*;

use sip_core::b2bua::{CallCommand, CallRef, RingTarget};
use sip_core::trunk::TrunkConfig;
use sip_core::{Peer, TransportKind};

#[test]
fn originate_answers_with_its_tag_before_anything_else_of_the_new_call() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    h.ep.handle_call_command(
        h.now,
        CallCommand::Originate {
            tag: 9,
            user: "1002".into(),
            from: "+4764000000".into(),
            ring_timeout: Some(Duration::from_secs(20)),
        },
    );
    let placed = match h.events().as_slice() {
        [CallEvent::Originated {
            tag: 9,
            call: Some(call),
        }] => *call,
        other => panic!("{other:?}"),
    };
    let inv = requests(&h.drain(), Method::Invite).remove(0).1;
    h.input(PHONE_A, reply(&inv, 486, "agent1", ""));
    assert!(matches!(
        h.events().as_slice(),
        [CallEvent::Ended { call, .. }] if *call == placed
    ));
    // Nobody registered as "nobody": the answer says so.
    h.ep.handle_call_command(
        h.now,
        CallCommand::Originate {
            tag: 10,
            user: "nobody".into(),
            from: "x".into(),
            ring_timeout: None,
        },
    );
    assert_eq!(
        h.events(),
        vec![CallEvent::Originated {
            tag: 10,
            call: None
        }]
    );
}

const TRUNK_A: &str = "203.0.113.1:5060";
const TRUNK_B: &str = "203.0.113.2:5060";

fn trunk(id: i64, name: &str, addr: &str) -> TrunkConfig {
    let addr: std::net::SocketAddr = addr.parse().expect("addr");
    TrunkConfig {
        id,
        name: name.into(),
        host: addr.ip().to_string(),
        port: addr.port(),
        transport: TransportKind::Udp,
        addr: Some(addr),
        registration: None,
        options_interval: None,
        max_cps: 0,
        max_calls: 1,
    }
}

fn target(name: &str, addr: &str) -> RingTarget {
    RingTarget {
        uri: sip_message::Uri::parse(format!("sip:+4722222222@{addr}").as_bytes()).expect("uri"),
        peer: Peer {
            transport: TransportKind::Udp,
            addr: addr.parse().expect("addr"),
            connection: None,
        },
        label: name.into(),
        ring_timeout: Some(Duration::from_secs(60)),
        confirm: false,
        caller_id: None,
        srtp: Default::default(),
    }
}

fn carrier_call(h: &mut Harness, call_id: &str) -> CallRef {
    h.input(CARRIER, invite(call_id));
    match h.events().as_slice() {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("{other:?}"),
    }
}

#[test]
fn ring_trunk_skips_a_full_trunk_and_fails_with_503_when_all_are_full() {
    let mut h = Harness::new(&[]);
    h.ep.set_trunks(h.now, vec![trunk(1, "a", TRUNK_A), trunk(2, "b", TRUNK_B)]);
    h.drain();
    let both = || vec![target("a", TRUNK_A), target("b", TRUNK_B)];
    // The first call takes a's one slot.
    let first = carrier_call(&mut h, "c1");
    h.ep.handle_call_command(
        h.now,
        CallCommand::RingTrunk {
            call: first,
            targets: both(),
        },
    );
    let sent = requests(&h.drain(), Method::Invite);
    assert_eq!(sent[0].0.to_string(), TRUNK_A);
    // The second finds a full and rings b.
    let second = carrier_call(&mut h, "c2");
    h.ep.handle_call_command(
        h.now,
        CallCommand::RingTrunk {
            call: second,
            targets: both(),
        },
    );
    let sent = requests(&h.drain(), Method::Invite);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0.to_string(), TRUNK_B);
    assert!(h.events().is_empty());
    // The third finds both full: nothing is sent, the branch fails at once with 503.
    let third = carrier_call(&mut h, "c3");
    h.ep.handle_call_command(
        h.now,
        CallCommand::RingTrunk {
            call: third,
            targets: both(),
        },
    );
    assert!(requests(&h.drain(), Method::Invite).is_empty());
    assert_eq!(
        h.events(),
        vec![CallEvent::BranchFailed {
            call: third,
            label: "b".into(),
            status: 503,
            last: true
        }]
    );
    // The first call's slot given back: a takes calls again.
    h.ep.handle_call_command(h.now, CallCommand::TrunkRelease { call: first });
    let fourth = carrier_call(&mut h, "c4");
    h.ep.handle_call_command(
        h.now,
        CallCommand::RingTrunk {
            call: fourth,
            targets: both(),
        },
    );
    assert_eq!(
        requests(&h.drain(), Method::Invite)[0].0.to_string(),
        TRUNK_A
    );
}

#[test]
fn a_relay_out_of_ports_refuses_calls_with_503_and_retry_after_until_ports_come_back() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    h.media.0.lock().expect("media").exhausted = true;
    // The legs reserved before run out; then every INVITE is refused at once.
    let mut refused = None;
    for n in 0..=sip_core::b2bua::MEDIA_POOL_TARGET {
        let out = h.input(CARRIER, invite(&format!("c{n}")));
        if let Some(r) = responses(&out).into_iter().find(|r| r.status == 503) {
            refused = Some(r);
            break;
        }
        h.events();
    }
    let refused = refused.expect("a 503 once the reserved legs are used up");
    assert_eq!(
        refused
            .headers
            .get(&HeaderName::RetryAfter)
            .map(|v| v.to_vec()),
        Some(b"5".to_vec()),
        "{refused:?}"
    );
    // Ports free up (calls ended): the next INVITE is taken.
    h.media.0.lock().expect("media").exhausted = false;
    h.drain();
    let out = h.input(CARRIER, invite("after"));
    assert!(
        matches!(&out[..], [Out::Resp(r)] if r.status == 100),
        "{out:?}"
    );
}
