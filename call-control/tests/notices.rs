//! The calls' own news for the live feed: started, answered, ended, and agent state changes made
//! through the API, in simulated time.

mod sim;

use call_control::{AgentStateChange, Notice};
use sim::*;
use switchboard_schema::{HuntStrategy, TargetKind};

#[test]
fn a_call_is_announced_when_it_starts_is_answered_and_ends() {
    let mut s = Sim::new(config(
        vec![user("1001"), user("1002")],
        vec![number(MAIN, TargetKind::HuntGroup, "5")],
        vec![group(5, HuntStrategy::RingAll, &["1001", "1002"])],
        vec![],
        vec![],
        vec![],
    ));
    let out = s.incoming_from_trunk(1, MAIN);
    assert_eq!(
        call_notices(&out),
        vec![Notice::CallStarted {
            call: 1,
            from: "+4791234567".into(),
            to: MAIN.into()
        }]
    );
    assert_eq!(
        call_notices(&s.answered(1, "1002")),
        vec![Notice::CallAnswered {
            call: 1,
            by: "1002".into()
        }]
    );
    assert_eq!(
        call_notices(&s.ended(1, Some("1002"))),
        vec![Notice::CallEnded {
            call: 1,
            from: "+4791234567".into(),
            to: MAIN.into(),
            answered_by: Some("1002".into())
        }]
    );
}

#[test]
fn agent_state_changes_through_the_api_are_announced() {
    let mut s = Sim::new(config(
        vec![user("1003")],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![],
    ));
    s.cc.set_agent_state(
        s.now,
        "1003",
        AgentStateChange::Paused {
            reason: Some("lunsj".into()),
        },
    );
    assert_eq!(
        call_notices(&s.drain()),
        vec![Notice::AgentStateChanged {
            user: "1003".into(),
            state: "paused",
            reason: Some("lunsj".into())
        }]
    );
}
