//! Click-to-call in simulated time: the staff member's phone rings first, showing the number; when
//! they answer, the number is dialled through the trunk with their caller ID; a number they may not
//! call is refused before anything rings; a busy far end ends their call.

mod sim;

use call_control::{ClickRefusal, Notice, Record};
use sim::*;
use sip_core::b2bua::{CallCommand, CallEvent, CallRef};

fn staff_and_trunk() -> call_control::Snapshot {
    let mut cfg = config(
        vec![user("1003"), user("1004")],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![trunk("primary", 1, 5091)],
    );
    cfg.main_number = Some(MAIN.into());
    cfg
}

fn originate_tag(out: &[call_control::Output]) -> (u64, String, String) {
    sip(out)
        .into_iter()
        .find_map(|c| match c {
            CallCommand::Originate {
                tag, user, from, ..
            } => Some((tag, user, from)),
            _ => None,
        })
        .expect("an Originate")
}

#[test]
fn the_staff_phone_rings_first_then_the_number_is_dialled_with_the_main_number() {
    let mut s = Sim::new(staff_and_trunk());
    let tag =
        s.cc.click_to_call(s.now, "1003", "91234567", Some("main"))
            .unwrap();
    let (origin_tag, user, shown) = originate_tag(&s.drain());
    assert_eq!(
        (origin_tag, user.as_str(), shown.as_str()),
        (tag, "1003", "91234567")
    );

    let out = s.event(CallEvent::Originated {
        tag,
        call: Some(CallRef(50)),
    });
    assert!(
        records(&out)
            .iter()
            .any(|r| matches!(r, Record::Open { call: CallRef(50), open }
            if open.from_number == "1003" && open.to_number == "91234567")),
        "{out:?}"
    );
    // Nothing is dialled before the staff member answers.
    assert!(rung_targets(&out).is_empty(), "{out:?}");
    let out = s.answered_locally(50, 500);
    assert_eq!(rung_targets(&out), vec!["primary"]);
    let caller_ids: Vec<Option<String>> = sip(&out)
        .into_iter()
        .filter_map(|c| match c {
            CallCommand::RingTrunk { targets, .. } => Some(targets[0].caller_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(caller_ids, vec![Some(MAIN.to_owned())]);
    assert_eq!(
        call_notices(&s.answered(50, "91234567")),
        vec![Notice::CallAnswered {
            call: 50,
            by: "91234567".into()
        }]
    );
    s.ended(50, Some("91234567"));
}

#[test]
fn a_colleague_is_rung_on_their_phones() {
    let mut s = Sim::new(staff_and_trunk());
    let tag = s.cc.click_to_call(s.now, "1003", "1004", None).unwrap();
    s.drain();
    s.event(CallEvent::Originated {
        tag,
        call: Some(CallRef(51)),
    });
    assert_eq!(rung(&s.answered_locally(51, 510)), vec!["1004"]);
}

#[test]
fn numbers_the_staff_member_may_not_call_are_refused_before_anything_rings() {
    let mut s = Sim::new(staff_and_trunk());
    // Abroad is not allowed by default.
    assert_eq!(
        s.cc.click_to_call(s.now, "1003", "004646000000", None),
        Err(ClickRefusal::NotPermitted(403))
    );
    assert_eq!(
        s.cc.click_to_call(s.now, "9999", "91234567", None),
        Err(ClickRefusal::UnknownUser)
    );
    assert!(sip(&s.drain()).is_empty());
}

#[test]
fn a_busy_number_ends_the_staff_members_call_and_no_phone_ends_it_at_once() {
    let mut s = Sim::new(staff_and_trunk());
    let tag = s.cc.click_to_call(s.now, "1003", "91234567", None).unwrap();
    s.drain();
    s.event(CallEvent::Originated {
        tag,
        call: Some(CallRef(52)),
    });
    let out = s.answered_locally(52, 520);
    let label = sip(&out)
        .into_iter()
        .find_map(|c| match c {
            CallCommand::RingTrunk { targets, .. } => Some(targets[0].label.to_string()),
            _ => None,
        })
        .expect("dialled");
    let out = s.failed(52, &label, 486, true);
    assert!(
        sip(&out).iter().any(|c| matches!(
            c,
            CallCommand::HangUp {
                call: CallRef(52),
                ..
            }
        )),
        "{out:?}"
    );

    // Without a registered phone the B2BUA places nothing: the app hears the call ended.
    let tag = s.cc.click_to_call(s.now, "1004", "91234567", None).unwrap();
    s.drain();
    let out = s.event(CallEvent::Originated { tag, call: None });
    assert!(
        call_notices(&out).iter().any(
            |n| matches!(n, Notice::CallEnded { call, answered_by: None, .. } if *call == tag)
        ),
        "{out:?}"
    );
}
