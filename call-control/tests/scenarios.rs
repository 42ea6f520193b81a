//! Whole calls through call control in simulated time: the citizen's path through a menu into a
//! queue, hunt groups, press-1 on mobiles, trunk failover, opening hours and overrides, transfers,
//! callbacks, media timeouts and hang-ups that race the ringing.

mod sim;

use std::time::Duration;

use call_control::{CallViewState, MediaCommand, Notice, QueueRecord, Record};
use sip_core::b2bua::{CallCommand, CallEvent, CallRef, Caller, LegId};
use switchboard_schema::{HuntStrategy, QueueOutcome, ScheduleEntry, TargetKind};

use sim::*;

const SECOND: Duration = Duration::from_secs(1);

fn menu_to_queue_config() -> call_control::Snapshot {
    config(
        vec![user("1001"), user("1002")],
        vec![number(MAIN, TargetKind::Menu, "3")],
        vec![],
        vec![queue(7, &["1001"])],
        vec![menu(
            3,
            serde_json::json!({"id": 3, "name": "Hovedmeny", "prompt": "main_menu", "options": {"1": "queue:7"}}),
        )],
        vec![],
    )
}

#[test]
fn a_citizen_goes_through_the_menu_into_the_queue_and_an_agent_answers() {
    let mut s = Sim::new(menu_to_queue_config());
    let out = s.incoming_from_trunk(1, MAIN);
    assert_eq!(
        sip(&out),
        vec![
            // Staff phones will show the number the citizen called.
            CallCommand::ShowVia {
                call: CallRef(1),
                name: "nummer".into(),
                number: MAIN.into()
            },
            CallCommand::AnswerLocally { call: CallRef(1) }
        ]
    );
    match records(&out).as_slice() {
        [Record::Open { call, open }] => {
            assert_eq!(*call, CallRef(1));
            assert_eq!(open.target_kind, Some(TargetKind::Menu));
            assert_eq!(open.target_ref.as_deref(), Some("3"));
            assert_eq!(open.started_at_ms, MONDAY_10_OSLO_MS);
        }
        other => panic!("one record opened: {other:?}"),
    }

    let out = s.answered_locally(1, 10);
    assert_eq!(prompts(&out), vec!["main_menu"]);
    assert_eq!(s.cc.calls_in_progress()[0].state, CallViewState::Local);

    s.advance(2 * SECOND);
    let out = s.key(10, '1');
    assert_eq!(rung(&out), vec!["1001"], "{out:?}");
    assert!(
        sip(&out).contains(&CallCommand::ShowVia {
            call: CallRef(1),
            name: "queue 7".into(),
            number: MAIN.into()
        }),
        "the agent sees the queue: {out:?}"
    );
    assert!(prompts(&out).contains(&"moh".to_string()), "{out:?}");
    assert!(matches!(
        notices(&out).as_slice(),
        [Notice::CallerQueued {
            queue: 7,
            call: 1,
            position: 1,
            ..
        }]
    ));

    s.advance(5 * SECOND);
    let out = s.answered(1, "1001");
    assert!(media(&out).contains(&MediaCommand::StopPlayback { leg: LegId(10) }));
    match records(&out).as_slice() {
        [Record::Answered { answer, .. }] => {
            assert_eq!(answer.queue_id, Some(7));
            assert_eq!(answer.queue_wait_ms, Some(5_000));
            assert_eq!(answer.answered_at_ms, MONDAY_10_OSLO_MS + 7_000);
        }
        other => panic!("answer recorded: {other:?}"),
    }
    let view = &s.cc.calls_in_progress()[0];
    assert_eq!(view.state, CallViewState::Answered);
    assert_eq!(view.answered_by.as_deref(), Some("1001"));

    s.advance(60 * SECOND);
    let out = s.ended(1, Some("1001"));
    match records(&out).as_slice() {
        [Record::Closed {
            queue, ended_at_ms, ..
        }] => {
            assert_eq!(
                *queue,
                Some(QueueRecord {
                    queue_id: 7,
                    wait: 5 * SECOND,
                    outcome: QueueOutcome::Answered,
                    announcements: 0,
                })
            );
            assert_eq!(*ended_at_ms, MONDAY_10_OSLO_MS + 67_000);
        }
        other => panic!("record closed: {other:?}"),
    }
    assert_eq!(s.cc.active_calls(), 0);
    assert!(s.cc.calls_in_progress().is_empty());
    // The agent is free again: the queue's next caller is offered to them at once.
    s.incoming_from_trunk(2, MAIN);
    s.answered_locally(2, 20);
    assert_eq!(rung(&s.key(20, '1')), vec!["1001"]);
}

/// A key the caller's phone sent as SIP INFO (the B2BUA reports it as a call event) chooses in the
/// menu just as one heard in the media does.
#[test]
fn a_menu_key_sent_as_sip_info_is_taken_like_one_in_the_media() {
    let mut s = Sim::new(menu_to_queue_config());
    s.incoming_from_trunk(1, MAIN);
    let out = s.answered_locally(1, 10);
    assert_eq!(prompts(&out), vec!["main_menu"]);
    s.advance(2 * SECOND);
    let out = s.event(CallEvent::Dtmf {
        call: CallRef(1),
        leg: LegId(10),
        digit: '1',
    });
    assert_eq!(rung(&out), vec!["1001"], "{out:?}");
    assert!(matches!(
        notices(&out).as_slice(),
        [Notice::CallerQueued {
            queue: 7,
            call: 1,
            ..
        }]
    ));
}

#[test]
fn a_waiting_caller_keeps_their_place_through_many_reconcile_rounds() {
    let mut s = Sim::new(menu_to_queue_config());
    s.cc.set_agent_state(s.now, "1001", call_control::AgentStateChange::LoggedOut);
    s.incoming_from_trunk(1, MAIN);
    s.answered_locally(1, 10);
    let out = s.key(10, '1');
    assert!(rung(&out).is_empty(), "the only agent is logged out");
    // Ten minutes of waiting: twenty checks of the queues against the calls.
    s.advance(600 * SECOND);
    let snapshot = s.cc.queue_snapshot(s.now, 7).expect("queue in use");
    assert_eq!(snapshot["waiting"][0]["call"], 1, "{snapshot}");
    assert_eq!(snapshot["waiting"][0]["position"], 1, "{snapshot}");
    // The agent logs in: the caller is offered at once.
    s.cc.set_agent_state(s.now, "1001", call_control::AgentStateChange::Available);
    assert_eq!(rung(&s.drain()), vec!["1001"]);
    assert!(s.elapsed() >= 600 * SECOND);
}

#[test]
fn a_waiting_caller_is_told_their_place_and_the_record_counts_it() {
    let mut cfg = menu_to_queue_config();
    let q = cfg.queues.get_mut(&7).expect("queue 7");
    q.announce_every_secs = Some(30);
    q.first_announce_after_secs = 10;
    let mut s = Sim::new(cfg);
    s.cc.set_agent_state(s.now, "1001", call_control::AgentStateChange::LoggedOut);
    s.incoming_from_trunk(1, MAIN);
    s.answered_locally(1, 10);
    s.key(10, '1');
    // 75 s of waiting, a second at a time; each announcement plays to its end.
    let mut told = 0;
    for _ in 0..75 {
        let out = s.advance(SECOND);
        if prompts(&out).iter().any(|p| p == "queue_position") {
            told += 1;
            s.played(10);
        }
    }
    assert!(told >= 2, "announced {told} times in 75 s");
    let out = s.ended(1, None);
    match records(&out).as_slice() {
        [Record::Closed { queue: Some(q), .. }] => {
            assert_eq!(q.outcome, QueueOutcome::Abandoned);
            assert_eq!(q.announcements, told, "{q:?}");
        }
        other => panic!("record closed: {other:?}"),
    }
}

#[test]
fn a_sequential_hunt_moves_on_after_the_ring_time_and_skips_a_member_in_a_call() {
    let cfg = config(
        vec![user("1001"), user("1002"), user("1003"), user("1004")],
        vec![number(MAIN, TargetKind::HuntGroup, "5")],
        vec![group(
            5,
            HuntStrategy::Sequential,
            &["1001", "1002", "1003"],
        )],
        vec![],
        vec![],
        vec![],
    );
    let mut s = Sim::new(cfg);
    let out = s.incoming_from_trunk(1, MAIN);
    assert_eq!(rung(&out), vec!["1001"]);
    let out = s.advance(10 * SECOND);
    assert_eq!(
        sip(&out)[0],
        CallCommand::CancelBranch {
            call: CallRef(1),
            label: "1001".into()
        }
    );
    assert_eq!(rung(&out), vec!["1002"]);
    s.answered(1, "1002");

    // 1002 is talking: the next call skips them (busy policy skip) and rings 1003 after 1001.
    let out = s.incoming_from_trunk(2, MAIN);
    assert_eq!(rung(&out), vec!["1001"]);
    let out = s.failed(2, "1001", 486, true);
    assert_eq!(rung(&out), vec!["1003"], "{out:?}");
    // Nobody else: the caller hears 480 when 1003 does not answer either.
    let out = s.failed(2, "1003", 480, true);
    assert!(
        sip(&out).contains(&CallCommand::Reject {
            call: CallRef(2),
            status: 480
        }),
        "{out:?}"
    );
}

fn one_hunt_group(strategy: HuntStrategy, members: &[&str]) -> call_control::Snapshot {
    config(
        members.iter().map(|m| user(m)).collect(),
        vec![number(MAIN, TargetKind::HuntGroup, "5")],
        vec![group(5, strategy, members)],
        vec![],
        vec![],
        vec![],
    )
}

#[test]
fn a_round_robin_group_starts_one_member_further_on_each_call() {
    let mut s = Sim::new(one_hunt_group(
        HuntStrategy::RoundRobin,
        &["1001", "1002", "1003"],
    ));
    let mut first = Vec::new();
    for call in 1..=4 {
        let out = s.incoming_from_trunk(call, MAIN);
        let rung = rung(&out);
        first.push(rung[0].clone());
        s.answered(call, &rung[0]);
        s.advance(30 * SECOND);
        s.ended(call, Some(&rung[0]));
    }
    assert_eq!(first, vec!["1001", "1002", "1003", "1001"]);
}

#[test]
fn a_longest_idle_group_rings_whoever_finished_a_call_longest_ago() {
    let mut s = Sim::new(one_hunt_group(HuntStrategy::LongestIdle, &["1001", "1002"]));
    // 1002 answers a first call, then 1001 a second one that ends later.
    s.talk(1, MAIN, "1002", 10 * SECOND);
    s.talk(2, MAIN, "1001", 10 * SECOND);
    // 1002 has been idle longest: rung first.
    let out = s.incoming_from_trunk(3, MAIN);
    assert_eq!(rung(&out), vec!["1002"]);
    s.answered(3, "1002");
    s.advance(10 * SECOND);
    s.ended(3, Some("1002"));
    // Now 1001 has.
    assert_eq!(rung(&s.incoming_from_trunk(4, MAIN)), vec!["1001"]);
}

#[test]
fn a_call_answered_on_a_members_mobile_counts_for_longest_idle() {
    let cfg = config(
        vec![user("1001"), cellular_user("1002", "+4790000002", 0)],
        vec![number(MAIN, TargetKind::HuntGroup, "5")],
        vec![group(5, HuntStrategy::LongestIdle, &["1001", "1002"])],
        vec![],
        vec![],
        vec![trunk("carrier", 1, 5090)],
    );
    let mut s = Sim::new(cfg);
    s.talk(1, MAIN, "1001", 10 * SECOND);
    // 1002 takes the next call on their mobile, and finishes it after 1001 finished theirs.
    s.talk(2, MAIN, "1002/cellular", 10 * SECOND);
    // 1001 has been idle longest: the mobile call counted as 1002's.
    assert_eq!(rung(&s.incoming_from_trunk(3, MAIN)), vec!["1001"]);
}

#[test]
fn a_member_talking_on_another_node_is_skipped_through_the_shared_store() {
    use call_control::{InProcess, LiveStore};
    let cfg = config(
        vec![user("1001"), user("1002")],
        vec![number(MAIN, TargetKind::HuntGroup, "5")],
        vec![group(5, HuntStrategy::Sequential, &["1001", "1002"])],
        vec![],
        vec![],
        vec![],
    );
    // Another node's call has 1001 talking: the store says so, not this node's calls.
    let mut shared = InProcess::default();
    shared.set_in_call("1001", CallRef(900), true);
    let mut s = Sim::with_live_store(cfg, Box::new(shared));
    let out = s.incoming_from_trunk(1, MAIN);
    assert_eq!(rung(&out), vec!["1002"], "{out:?}");
}

#[test]
fn two_mobiles_are_asked_to_press_1_and_the_first_to_press_it_is_connected() {
    let cfg = config(
        vec![
            cellular_user("1001", "+4790000001", 0),
            cellular_user("1002", "+4790000002", 0),
        ],
        vec![number(MAIN, TargetKind::HuntGroup, "5")],
        vec![group(5, HuntStrategy::RingAll, &["1001", "1002"])],
        vec![],
        vec![],
        vec![trunk("carrier", 1, 5090)],
    );
    let mut s = Sim::new(cfg);
    let out = s.incoming_from_trunk(1, MAIN);
    let mut targets = rung_targets(&out);
    targets.sort();
    assert_eq!(targets, vec!["1001/cellular", "1002/cellular"], "{out:?}");
    for c in sip(&out) {
        if let CallCommand::Ring { targets, .. } = c {
            assert!(targets[0].confirm, "a mobile must confirm");
        }
    }
    for (label, leg) in [("1001/cellular", 21), ("1002/cellular", 22)] {
        let out = s.event(CallEvent::Confirming {
            call: CallRef(1),
            label: label.into(),
            leg: LegId(leg),
            codec: ("PCMU".into(), 0),
        });
        assert_eq!(prompts(&out), vec!["confirm"]);
    }
    s.advance(3 * SECOND);
    let out = s.key(22, '1');
    assert_eq!(
        sip(&out),
        vec![CallCommand::Confirm {
            call: CallRef(1),
            label: "1002/cellular".into()
        }]
    );
    let stopped: Vec<_> = media(&out)
        .into_iter()
        .filter(|m| matches!(m, MediaCommand::StopPlayback { .. }))
        .collect();
    assert_eq!(stopped.len(), 2, "both questions stop: {out:?}");
    // The loser's key comes too late: nothing happens.
    assert!(sip(&s.key(21, '1')).is_empty());
    // Nor does its question time out later.
    assert!(sip(&s.advance(30 * SECOND)).is_empty());
}

#[test]
fn a_mobile_that_presses_nothing_is_declined_after_the_confirmation_time() {
    let cfg = config(
        vec![cellular_user("1001", "+4790000001", 0)],
        vec![number(MAIN, TargetKind::HuntGroup, "5")],
        vec![group(5, HuntStrategy::RingAll, &["1001"])],
        vec![],
        vec![],
        vec![trunk("carrier", 1, 5090)],
    );
    let mut s = Sim::new(cfg);
    s.incoming_from_trunk(1, MAIN);
    s.event(CallEvent::Confirming {
        call: CallRef(1),
        label: "1001/cellular".into(),
        leg: LegId(21),
        codec: ("PCMA".into(), 8),
    });
    assert!(sip(&s.advance(14 * SECOND)).is_empty());
    let out = s.advance(SECOND);
    assert_eq!(
        sip(&out),
        vec![CallCommand::Decline {
            call: CallRef(1),
            label: "1001/cellular".into()
        }]
    );
}

#[test]
fn a_call_out_fails_over_through_the_trunks_and_then_hears_503() {
    let cfg = config(
        vec![user("1001")],
        vec![],
        vec![],
        vec![],
        vec![],
        vec![trunk("backup", 2, 5092), trunk("primary", 1, 5091)],
    );
    let mut s = Sim::new(cfg);
    let out = s.incoming(1, Caller::User("1001".into()), "1001", "22222222");
    assert_eq!(rung_targets(&out), vec!["primary", "backup"]);
    match sip(&out).as_slice() {
        [CallCommand::RingTrunk { targets, .. }] => {
            // A staff call out presents the main number, never what the phone put in From.
            assert_eq!(targets[0].caller_id.as_deref(), Some(MAIN));
        }
        other => panic!("{other:?}"),
    }
    let out = s.failed(1, "primary", 503, true);
    assert_eq!(rung_targets(&out), vec!["backup"]);
    let out = s.failed(1, "backup", 500, true);
    assert_eq!(
        sip(&out),
        vec![CallCommand::Reject {
            call: CallRef(1),
            status: 503
        }]
    );
    // A busy callee is not trunk trouble: no failover, the caller hears busy.
    let out = s.incoming(2, Caller::User("1001".into()), "1001", "22222222");
    assert_eq!(rung_targets(&out), vec!["primary", "backup"]);
    let out = s.failed(2, "primary", 486, true);
    assert_eq!(
        sip(&out),
        vec![CallCommand::Reject {
            call: CallRef(2),
            status: 486
        }]
    );
}

fn office_hours(id: i64, override_json: Option<serde_json::Value>) -> ScheduleEntry {
    ScheduleEntry {
        id,
        name: "Rådhuset".into(),
        schedule: serde_json::from_value(serde_json::json!({
            "weekly": {"mon": [{"from": "08:00", "to": "15:30"}]},
        }))
        .expect("schedule"),
        emergency_override: override_json.map(|o| serde_json::from_value(o).expect("override")),
        created_at: 0,
    }
}

#[test]
fn opening_hours_and_an_override_decide_where_the_number_goes() {
    let mut main = number(MAIN, TargetKind::User, "1001");
    main.schedule_id = Some(1);
    let mut cfg = config(
        vec![user("1001")],
        vec![main],
        vec![],
        vec![queue(7, &["1001"])],
        vec![],
        vec![],
    );
    cfg.schedules.insert(1, office_hours(1, None));
    // 10:00 on a Monday: open.
    let mut s = Sim::new(cfg.clone());
    assert_eq!(rung(&s.incoming_from_trunk(1, MAIN)), vec!["1001"]);
    // Six hours later (16:00): closed, the closed message plays, then the call ends.
    s.advance(6 * 3600 * SECOND);
    let out = s.incoming_from_trunk(2, MAIN);
    assert_eq!(
        sip(&out).last(),
        Some(&CallCommand::AnswerLocally { call: CallRef(2) })
    );
    assert_eq!(prompts(&s.answered_locally(2, 20)), vec!["closed"]);
    let out = s.played(20);
    assert!(matches!(
        sip(&out).as_slice(),
        [CallCommand::HangUp {
            call: CallRef(2),
            ..
        }]
    ));
    // An override routes every call to the queue, whatever the hours say.
    let mut overridden = cfg;
    overridden.schedules.insert(
        1,
        office_hours(1, Some(serde_json::json!({"route_to": "queue:7"}))),
    );
    s.cc.handle_config(std::sync::Arc::new(overridden));
    s.incoming_from_trunk(3, MAIN);
    let out = s.answered_locally(3, 30);
    assert_eq!(rung(&out), vec!["1001"]);
    assert!(matches!(
        notices(&out).as_slice(),
        [Notice::CallerQueued { queue: 7, .. }]
    ));
}

#[test]
fn a_blind_transfer_to_the_queue_number_takes_the_caller_back_into_the_queue() {
    let cfg = config(
        vec![user("1001"), user("1002")],
        vec![
            number(MAIN, TargetKind::User, "1002"),
            number("+4764000007", TargetKind::Queue, "7"),
        ],
        vec![],
        vec![queue(7, &["1001"])],
        vec![],
        vec![],
    );
    let mut s = Sim::new(cfg);
    assert_eq!(rung(&s.incoming_from_trunk(1, MAIN)), vec!["1002"]);
    s.answered(1, "1002");
    let out = s.event(CallEvent::TransferRequested {
        call: CallRef(1),
        by: "1002".into(),
        target: "+4764000007".into(),
        hold_leg: LegId(11),
        codec: ("PCMA".into(), 8),
    });
    assert_eq!(prompts(&out), vec!["moh"]);
    assert_eq!(
        sip(&out),
        vec![CallCommand::TransferToUs { call: CallRef(1) }]
    );
    let out = s.answered_locally(1, 12);
    assert_eq!(rung(&out), vec!["1001"], "{out:?}");
}

#[test]
fn a_caller_books_a_callback_and_is_called_back_when_the_agent_is_free() {
    let mut q = queue(7, &["1001"]);
    q.callback_after_secs = Some(30);
    let cfg = config(
        vec![user("1001")],
        vec![number(MAIN, TargetKind::Queue, "7")],
        vec![],
        vec![q],
        vec![],
        vec![trunk("carrier", 1, 5090)],
    );
    let mut s = Sim::new(cfg);
    s.cc.set_agent_state(s.now, "1001", call_control::AgentStateChange::LoggedOut);
    s.incoming_from_trunk(1, MAIN);
    s.answered_locally(1, 10);
    let out = s.advance(30 * SECOND);
    assert_eq!(prompts(&out), vec!["callback_offer"], "{out:?}");
    assert_eq!(prompts(&s.key(10, '2')), vec!["callback_number"]);
    let out = s.key(10, '1');
    assert_eq!(prompts(&out), vec!["callback_confirmed"]);
    assert!(notices(&out).contains(&Notice::CallbackRequested {
        queue: 7,
        call: 1,
        number: CITIZEN.into()
    }));
    let out = s.played(10);
    assert!(matches!(
        sip(&out).as_slice(),
        [CallCommand::HangUp {
            call: CallRef(1),
            ..
        }]
    ));
    let out = s.ended(1, None);
    match records(&out).as_slice() {
        [Record::Closed { queue, .. }] => {
            assert_eq!(queue.map(|q| q.outcome), Some(QueueOutcome::Callback));
        }
        other => panic!("{other:?}"),
    }

    // The agent logs in: Switchboard rings them first, presenting the main number …
    s.advance(120 * SECOND);
    s.cc.set_agent_state(s.now, "1001", call_control::AgentStateChange::Available);
    let tag = match sip(&s.drain()).as_slice() {
        [CallCommand::Originate {
            tag, user, from, ..
        }] => {
            assert_eq!((user.as_str(), from.as_str()), ("1001", MAIN));
            *tag
        }
        other => panic!("the agent is rung: {other:?}"),
    };
    let out = s.event(CallEvent::Originated {
        tag,
        call: Some(CallRef(100)),
    });
    assert!(matches!(
        records(&out).as_slice(),
        [Record::Open { call: CallRef(100), open }] if open.to_number == CITIZEN
    ));
    // … and when they answer, the citizen's number through the trunk.
    let out = s.answered_locally(100, 40);
    match sip(&out).as_slice() {
        [CallCommand::RingTrunk { targets, .. }] => {
            assert_eq!(targets[0].label, "carrier");
            assert_eq!(targets[0].caller_id.as_deref(), Some(MAIN));
            assert!(targets[0].uri.to_string().contains("+4791234567"));
        }
        other => panic!("the citizen is dialled: {other:?}"),
    }
    s.answered(100, "carrier");
    s.ended(100, Some("carrier"));
    assert_eq!(s.cc.active_calls(), 0);
}

#[test]
fn a_queue_offer_rings_the_agents_mobile_after_their_delay_unless_answered_first() {
    let cfg = config(
        vec![cellular_user("1001", "+4790000001", 5)],
        vec![number(MAIN, TargetKind::Queue, "7")],
        vec![],
        vec![queue(7, &["1001"])],
        vec![],
        vec![trunk("carrier", 1, 5090)],
    );
    let mut s = Sim::new(cfg);
    s.incoming_from_trunk(1, MAIN);
    let out = s.answered_locally(1, 10);
    assert_eq!(rung(&out), vec!["1001"]);
    assert!(rung_targets(&out).is_empty(), "the mobile waits its delay");
    let out = s.advance(5 * SECOND);
    match sip(&out).as_slice() {
        [CallCommand::Ring { targets, .. }] => {
            assert_eq!(targets[0].label, "1001/cellular");
            assert!(targets[0].confirm);
            assert_eq!(targets[0].ring_timeout, Some(15 * SECOND));
        }
        other => panic!("the mobile rings after 5 s: {other:?}"),
    }
    // The app leg failing leaves the offer to the mobile; the mobile failing ends it.
    assert!(sip(&s.failed(1, "1001", 480, false)).is_empty());
    s.failed(1, "1001/cellular", 480, true);
    s.ended(1, None);
    // A second caller: the app answers before the delay, so the mobile never rings.
    s.incoming_from_trunk(2, MAIN);
    assert_eq!(rung(&s.answered_locally(2, 20)), vec!["1001"]);
    s.advance(2 * SECOND);
    s.answered(2, "1001");
    let out = s.advance(10 * SECOND);
    assert!(rung_targets(&out).is_empty(), "{out:?}");
}

#[test]
fn a_caller_hanging_up_while_the_group_rings_leaves_nothing_behind() {
    let cfg = config(
        vec![user("1001"), user("1002")],
        vec![number(MAIN, TargetKind::HuntGroup, "5")],
        vec![group(5, HuntStrategy::Sequential, &["1001", "1002"])],
        vec![],
        vec![],
        vec![],
    );
    let mut s = Sim::new(cfg);
    s.incoming_from_trunk(1, MAIN);
    s.advance(3 * SECOND);
    let out = s.ended(1, None);
    assert!(sip(&out).contains(&CallCommand::TrunkRelease { call: CallRef(1) }));
    assert_eq!(s.cc.active_calls(), 0);
    // The branch's late failure and the hunt's old timer do nothing.
    assert!(sip(&s.failed(1, "1001", 487, true)).is_empty());
    assert!(sip(&s.advance(60 * SECOND)).is_empty());
}

#[test]
fn a_silent_leg_is_reported_to_the_sip_core() {
    let mut s = Sim::new(menu_to_queue_config());
    let out = s.media(call_control::MediaInput::MediaTimeout { leg: LegId(9) });
    assert_eq!(sip(&out), vec![CallCommand::MediaTimeout { leg: LegId(9) }]);
}

#[test]
fn a_recording_is_started_in_two_steps_and_refused_when_it_cannot_be() {
    let cfg = config(
        vec![user("1001")],
        vec![number(MAIN, TargetKind::User, "1001")],
        vec![],
        vec![],
        vec![],
        vec![],
    );
    let mut s = Sim::new(cfg);
    use call_control::RecordingRefusal as R;
    assert_eq!(s.cc.begin_recording(1), Err(R::UnknownCall));
    s.incoming_from_trunk(1, MAIN);
    assert_eq!(s.cc.begin_recording(1), Err(R::NotAnswered));
    s.answered(1, "1001");
    assert_eq!(s.cc.begin_recording(1), Ok("call-1".to_string()));
    assert_eq!(s.cc.begin_recording(1), Err(R::AlreadyRecording));
    s.cc.recording_started(1, 55, LegId(3));
    assert_eq!(s.cc.calls_in_progress()[0].recording_id, Some(55));
    assert_eq!(s.cc.stop_recording(1), Ok(55));
    assert_eq!(s.cc.stop_recording(1), Err(R::NotRecording));
    // A recording that started after its call ended is stopped at once.
    s.cc.begin_recording(1).expect("allowed again");
    s.ended(1, Some("1001"));
    s.cc.recording_started(1, 56, LegId(3));
    assert!(media(&s.drain())
        .iter()
        .any(|m| matches!(m, MediaCommand::StopRecording { leg: LegId(3), .. })));
}
