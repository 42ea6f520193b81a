//! Staff presence in simulated time: do-not-disturb is skipped by hunt groups and gets no queue
//! offers, "busy" meets a group's busy policy, an end ("until") returns the member to available by
//! itself, and receptionists are told each change.

mod sim;

use std::time::Duration;

use call_control::{AgentStateChange, Notice, Presence, PresenceStatus};
use sim::*;
use sip_core::b2bua::CallCommand;
use switchboard_schema::{HuntStrategy, TargetKind};

const MINUTE: Duration = Duration::from_secs(60);

fn ring_all_of_three() -> call_control::Snapshot {
    config(
        vec![user("1001"), user("1002"), user("1003")],
        vec![number(MAIN, TargetKind::HuntGroup, "5")],
        vec![group(5, HuntStrategy::RingAll, &["1001", "1002", "1003"])],
        vec![],
        vec![],
        vec![],
    )
}

fn presence(status: PresenceStatus, until_ms: Option<i64>) -> Presence {
    Presence {
        status,
        note: Some("i møte".into()),
        until_ms,
    }
}

#[test]
fn a_ring_all_group_skips_a_member_on_do_not_disturb_until_it_ends_by_itself() {
    let mut s = Sim::new(ring_all_of_three());
    let until = MONDAY_10_OSLO_MS + 30 * 60 * 1000;
    s.cc.set_presence(
        s.now,
        "1002",
        presence(PresenceStatus::DoNotDisturb, Some(until)),
    );
    assert_eq!(
        notices(&s.drain()),
        vec![Notice::PresenceChanged {
            user: "1002".into(),
            status: "dnd"
        }]
    );
    assert_eq!(s.cc.presence("1002").note.as_deref(), Some("i møte"));
    assert_eq!(rung(&s.incoming_from_trunk(1, MAIN)), vec!["1001", "1003"]);
    s.ended(1, None);

    // Half an hour later the presence ends on its own, and the next call rings all three.
    let out = s.advance(29 * MINUTE);
    assert!(notices(&out).is_empty(), "{out:?}");
    let out = s.advance(MINUTE);
    assert_eq!(
        notices(&out),
        vec![Notice::PresenceChanged {
            user: "1002".into(),
            status: "available"
        }]
    );
    assert_eq!(s.cc.presence("1002"), Presence::default());
    assert!(s.cc.presences().is_empty());
    assert_eq!(
        rung(&s.incoming_from_trunk(2, MAIN)),
        vec!["1001", "1002", "1003"]
    );
}

#[test]
fn busy_meets_the_busy_policy_and_away_changes_nothing() {
    let mut s = Sim::new(ring_all_of_three());
    s.cc.set_presence(s.now, "1001", presence(PresenceStatus::Busy, None));
    s.cc.set_presence(s.now, "1003", presence(PresenceStatus::Away, None));
    // The test group's busy policy is "skip".
    assert_eq!(rung(&s.incoming_from_trunk(1, MAIN)), vec!["1002", "1003"]);
    let listed: Vec<(String, PresenceStatus)> =
        s.cc.presences()
            .into_iter()
            .map(|(u, p)| (u, p.status))
            .collect();
    assert_eq!(
        listed,
        vec![
            ("1001".to_owned(), PresenceStatus::Busy),
            ("1003".to_owned(), PresenceStatus::Away)
        ]
    );
}

fn queue_of_two() -> call_control::Snapshot {
    config(
        vec![user("1001"), user("1002")],
        vec![number(MAIN, TargetKind::Queue, "7")],
        vec![],
        vec![queue(7, &["1001", "1002"])],
        vec![],
        vec![],
    )
}

#[test]
fn a_queue_offers_nothing_to_an_agent_on_do_not_disturb() {
    let mut s = Sim::new(queue_of_two());
    // Set before the queue has ever seen the agent: the queue must still leave them out.
    s.cc.set_presence(s.now, "1001", presence(PresenceStatus::DoNotDisturb, None));
    s.incoming_from_trunk(1, MAIN);
    let out = s.answered_locally(1, 10);
    assert_eq!(rung(&out), vec!["1002"]);
    // 1002 turns on do-not-disturb while it rings: the offer is withdrawn and nobody is rung.
    s.cc.set_presence(s.now, "1002", presence(PresenceStatus::DoNotDisturb, None));
    let out = s.drain();
    assert!(
        sip(&out)
            .iter()
            .any(|c| matches!(c, CallCommand::CancelBranch { .. })),
        "{out:?}"
    );
    assert!(rung(&out).is_empty(), "{out:?}");
    let out = s.advance(MINUTE);
    assert!(rung(&out).is_empty(), "{out:?}");
    // 1001 back to available: the waiting caller is offered to them at once.
    s.cc.set_presence(s.now, "1001", Presence::default());
    assert_eq!(rung(&s.drain()), vec!["1001"]);
}

#[test]
fn the_agent_state_do_not_disturb_is_the_presence_and_available_clears_it() {
    let mut s = Sim::new(ring_all_of_three());
    s.cc.set_agent_state(s.now, "1003", AgentStateChange::Dnd);
    assert_eq!(s.cc.presence("1003").status, PresenceStatus::DoNotDisturb);
    assert_eq!(rung(&s.incoming_from_trunk(1, MAIN)), vec!["1001", "1002"]);
    s.ended(1, None);
    s.cc.set_agent_state(s.now, "1003", AgentStateChange::Available);
    assert_eq!(s.cc.presence("1003").status, PresenceStatus::Available);
    assert_eq!(
        rung(&s.incoming_from_trunk(2, MAIN)),
        vec!["1001", "1002", "1003"]
    );
}
