//! Callers and agents through their lifecycle: priorities, wrap-up, misses, overflow, callbacks,
//! announcements, repairs, configuration.

use std::time::Duration;

use super::*;
use crate::numbers::Target;
use crate::RoutingError;

fn one_agent(adjust: impl FnOnce(&mut QueueConfig)) -> Sim {
    let mut c = config(1, Strategy::Linear, &["a"]);
    adjust(&mut c);
    Sim::new(vec![c], &["a"])
}

/// Puts `user` into a queue call (call id 1000+) so that callers queue up behind them.
fn occupy(sim: &mut Sim, user: &str, call: u64) {
    sim.join(1, call, 9);
    assert_eq!(offered(&sim.drain()), [user]);
    sim.answer(call, user);
}

#[test]
fn a_priority_caller_jumps_ahead_and_equal_priorities_keep_join_order() {
    let mut sim = one_agent(|_| {});
    occupy(&mut sim, "a", 1000);
    assert_eq!(sim.join(1, 1, 0).position, 1);
    assert_eq!(sim.join(1, 2, 0).position, 2);
    assert_eq!(sim.join(1, 3, 5).position, 1);
    assert_eq!(sim.join(1, 4, 5).position, 2);
    assert_eq!(sim.join(1, 5, 0).position, 5);
    assert_eq!(sim.acd.position(CallId(2)), Some(4));
    let mut served = Vec::new();
    for _ in 0..5 {
        let actions = sim.end("a");
        let Some(QueueAction::Offer { call, .. }) = actions.first().cloned() else {
            panic!("no offer: {actions:?}");
        };
        sim.answer(call.0, "a");
        served.push(call.0);
    }
    assert_eq!(served, [3, 4, 1, 2, 5]);
}

#[test]
fn five_callers_behind_two_agents_are_answered_in_join_order() {
    let mut sim = Sim::new(
        vec![config(1, Strategy::LongestIdle, &["a", "b"])],
        &["a", "b"],
    );
    let mut answered = Vec::new();
    let mut pending = Vec::new();
    for call in 1..=5 {
        sim.join(1, call, 0);
        pending.extend(sim.drain());
        pending.extend(sim.advance(1));
    }
    let mut turn = 0;
    while answered.len() < 5 {
        for action in std::mem::take(&mut pending) {
            if let QueueAction::Offer { call, user, .. } = action {
                sim.answer(call.0, &user);
                answered.push(call.0);
            }
        }
        sim.advance(40 + turn);
        turn += 7;
        let busy: Vec<String> = ["a", "b"]
            .into_iter()
            .filter(|u| matches!(sim.state(u), AgentState::InCall { .. }))
            .map(str::to_owned)
            .collect();
        if let Some(u) = busy.first() {
            pending = sim.end(u);
        }
    }
    assert_eq!(answered, [1, 2, 3, 4, 5]);
    let stats = sim.acd.queue_stats(1).unwrap();
    assert_eq!((stats.joined, stats.answered, stats.abandoned), (5, 5, 0));
}

#[test]
fn no_offer_during_wrap_up() {
    let mut sim = one_agent(|c| c.wrap_up = Duration::from_secs(10));
    occupy(&mut sim, "a", 1000);
    sim.join(1, 1, 0);
    sim.advance(60);
    assert_eq!(sim.end("a"), []);
    let until = sim.now + Duration::from_secs(10);
    assert_eq!(sim.state("a"), AgentState::WrapUp { until });
    assert_eq!(sim.acd.poll_timeout(), Some(until));
    let snap = sim
        .acd
        .snapshot(sim.now + Duration::from_secs(4), 1)
        .unwrap();
    assert_eq!(
        snap.agents[0].status,
        AgentStatus::WrapUp {
            remaining: Duration::from_secs(6)
        }
    );
    assert_eq!(sim.advance(9), []);
    assert_eq!(sim.advance(1), [offer(1, "a")]);
}

#[test]
fn ring_timeout_is_a_missed_offer_and_the_next_agent_is_tried() {
    let mut sim = Sim::new(vec![config(1, Strategy::Linear, &["a", "b"])], &["a", "b"]);
    sim.join(1, 1, 0);
    assert_eq!(sim.drain(), [offer(1, "a")]);
    assert_eq!(sim.advance(19), []);
    assert_eq!(sim.advance(1), [cancel(1, "a"), offer(1, "b")]);
    // A failure reported by call control is a miss too, without a cancel.
    sim.acd.handle_offer_failed(sim.now, CallId(1), "b");
    assert_eq!(sim.drain(), [offer(1, "a")]);
    assert_eq!(sim.acd.queue_stats(1).unwrap().missed_offers, 2);
    assert_eq!(sim.acd.agent_stats("a").unwrap().missed_offers, 1);
    // A late failure report about an offer no longer out is ignored.
    sim.acd.handle_offer_failed(sim.now, CallId(1), "b");
    assert_eq!(sim.drain(), []);
}

#[test]
fn missing_offers_in_a_row_pauses_the_agent_and_says_so() {
    let mut sim = Sim::new(
        vec![{
            let mut c = config(1, Strategy::Linear, &["a", "b"]);
            c.auto_pause_after = Some(3);
            c
        }],
        &["a"],
    );
    sim.join(1, 1, 0);
    assert_eq!(sim.drain(), [offer(1, "a")]);
    assert_eq!(sim.advance(20), [cancel(1, "a"), offer(1, "a")]);
    sim.acd.handle_offer_failed(sim.now, CallId(1), "a");
    assert_eq!(sim.drain(), [offer(1, "a")]);
    assert_eq!(
        sim.advance(20),
        [
            cancel(1, "a"),
            QueueAction::AgentAutoPaused {
                user: "a".into(),
                queue: 1,
                missed: 3
            }
        ]
    );
    assert_eq!(
        sim.state("a"),
        AgentState::Paused {
            reason: AUTO_PAUSE_REASON.into()
        }
    );
    assert_eq!(sim.advance(120), []);
    sim.acd.handle_login(sim.now, "b");
    assert_eq!(sim.drain(), [offer(1, "b")]);
    // An answer resets the count.
    sim.answer(1, "b");
    sim.acd.handle_unpause(sim.now, "a");
    assert_eq!(
        sim.acd.snapshot(sim.now, 1).unwrap().agents[0].missed_in_row,
        0
    );
}

#[test]
fn max_wait_sends_the_caller_to_overflow_even_while_ringing() {
    let mut sim = one_agent(|c| {
        c.max_wait = Some(Duration::from_secs(60));
        c.overflow = Some(Target::Queue(2));
        c.ring_timeout = Duration::from_secs(50);
    });
    sim.join(1, 1, 0);
    assert_eq!(offered(&sim.drain()), ["a"]);
    assert_eq!(
        sim.advance(50),
        [
            cancel(1, "a"),
            QueueAction::Offer {
                call: CallId(1),
                user: "a".into(),
                ring_timeout: Duration::from_secs(50)
            }
        ]
    );
    assert_eq!(
        sim.advance(10),
        [
            cancel(1, "a"),
            QueueAction::Overflow {
                call: CallId(1),
                target: Some(Target::Queue(2)),
                reason: OverflowReason::MaxWait
            }
        ]
    );
    assert_eq!(sim.acd.waiting_count(1), Some(0));
    assert_eq!(sim.state("a"), AgentState::Available);
    assert_eq!(sim.acd.queue_stats(1).unwrap().overflowed, 1);
}

#[test]
fn a_full_queue_refuses_with_the_overflow_target() {
    let mut sim = one_agent(|c| {
        c.max_callers = Some(2);
        c.overflow = Some(Target::User("reception".into()));
    });
    occupy(&mut sim, "a", 1000);
    sim.join(1, 1, 0);
    sim.join(1, 2, 0);
    let refused = sim.acd.handle_join(sim.now, 1, CallId(3), 0).unwrap_err();
    assert_eq!(
        refused,
        JoinRefused {
            reason: RefuseReason::Full,
            overflow: Some(Target::User("reception".into()))
        }
    );
    assert_eq!(sim.acd.queue_stats(1).unwrap().refused, 1);
    let err = sim.acd.handle_join(sim.now, 9, CallId(3), 0).unwrap_err();
    assert_eq!(err.reason, RefuseReason::UnknownQueue);
    let err = sim.acd.handle_join(sim.now, 1, CallId(2), 0).unwrap_err();
    assert_eq!(err.reason, RefuseReason::AlreadyQueued);
}

#[test]
fn join_empty_decides_whether_callers_may_wait_for_nobody() {
    let mut sim = one_agent(|c| c.join_empty = false);
    sim.acd.handle_logout(sim.now, "a");
    let err = sim.acd.handle_join(sim.now, 1, CallId(1), 0).unwrap_err();
    assert_eq!(err.reason, RefuseReason::NoAgents);
    // Paused still counts as logged in: the agent will be back.
    sim.acd.handle_login(sim.now, "a");
    sim.acd.handle_pause(sim.now, "a", "lunch");
    assert_eq!(sim.join(1, 1, 0).position, 1);
    sim.acd.handle_unpause(sim.now, "a");
    assert_eq!(sim.drain(), [offer(1, "a")]);
}

#[test]
fn leave_empty_sends_holding_callers_away_when_the_last_agent_logs_out() {
    let mut c = config(1, Strategy::Linear, &["a", "b"]);
    c.leave_empty = true;
    c.overflow = Some(Target::Menu(4));
    c.callback = Some(CallbackConfig {
        offer_after: Duration::ZERO,
    });
    let mut sim = Sim::new(vec![c], &["a", "b"]);
    occupy(&mut sim, "a", 1000);
    occupy(&mut sim, "b", 1001);
    sim.join(1, 1, 0);
    sim.join(1, 2, 0);
    sim.join(1, 3, 0);
    sim.advance(1);
    assert!(sim
        .acd
        .handle_callback_request(sim.now, CallId(2), "+4799999999"));
    sim.acd.handle_logout(sim.now, "a");
    assert_eq!(sim.drain(), []);
    sim.acd.handle_logout(sim.now, "b");
    let overflow = |call| QueueAction::Overflow {
        call: CallId(call),
        target: Some(Target::Menu(4)),
        reason: OverflowReason::NoAgents,
    };
    assert_eq!(sim.drain(), [overflow(1), overflow(3)]);
    // The callback request keeps its place for whoever logs in next.
    assert_eq!(sim.acd.waiting_count(1), Some(1));
}

#[test]
fn a_callback_keeps_its_place_and_starts_with_the_agent() {
    let mut sim = one_agent(|c| {
        c.callback = Some(CallbackConfig {
            offer_after: Duration::from_secs(30),
        })
    });
    occupy(&mut sim, "a", 1000);
    for call in 1..=3 {
        sim.join(1, call, 0);
        sim.advance(1);
    }
    let offers = sim.advance(30);
    assert_eq!(
        offers,
        (1..=3)
            .map(|c| QueueAction::OfferCallback { call: CallId(c) })
            .collect::<Vec<_>>()
    );
    assert!(sim
        .acd
        .handle_callback_request(sim.now, CallId(2), "+4791234567"));
    assert!(!sim
        .acd
        .handle_callback_request(sim.now, CallId(2), "+4791234567"));
    assert!(!sim.acd.handle_callback_request(sim.now, CallId(3), ""));
    // Caller 2 holds its place, although nobody is holding on the line.
    let snap = sim.acd.snapshot(sim.now, 1).unwrap();
    let order: Vec<(u64, u32, bool)> = snap
        .waiting
        .iter()
        .map(|w| (w.call.0, w.position, w.callback))
        .collect();
    assert_eq!(order, [(1, 1, false), (2, 2, true), (3, 3, false)]);

    assert_eq!(sim.end("a"), [offer(1, "a")]);
    sim.answer(1, "a");
    assert_eq!(
        sim.end("a"),
        [QueueAction::StartCallback {
            call: CallId(2),
            user: "a".into(),
            number: "+4791234567".into(),
            ring_timeout: DEFAULT_RING_TIMEOUT
        }]
    );
    assert_eq!(
        sim.answer(2, "a"),
        [QueueAction::Connect {
            call: CallId(2),
            user: "a".into(),
            callback: Some("+4791234567".into())
        }]
    );
    assert_eq!(sim.end("a"), [offer(3, "a")]);
    assert_eq!(sim.acd.queue_stats(1).unwrap().callbacks_requested, 1);
}

#[test]
fn a_callback_requested_while_ringing_cancels_the_ring_and_restarts_as_callback() {
    let mut sim = one_agent(|c| {
        c.callback = Some(CallbackConfig {
            offer_after: Duration::ZERO,
        })
    });
    sim.join(1, 1, 0);
    assert_eq!(sim.drain(), [offer(1, "a")]);
    assert_eq!(
        sim.advance(0),
        [QueueAction::OfferCallback { call: CallId(1) }]
    );
    assert!(sim
        .acd
        .handle_callback_request(sim.now, CallId(1), "+4790000000"));
    let actions = sim.drain();
    assert_eq!(actions[0], cancel(1, "a"));
    assert!(matches!(
        &actions[1],
        QueueAction::StartCallback { call: CallId(1), user, .. } if user == "a"
    ));
    // Cancelled, not missed.
    assert_eq!(sim.acd.agent_stats("a").unwrap().missed_offers, 0);
}

#[test]
fn abandon_while_ringing_cancels_the_offer_and_frees_the_agent() {
    let mut sim = one_agent(|_| {});
    sim.join(1, 1, 0);
    sim.join(1, 2, 0);
    assert_eq!(sim.drain(), [offer(1, "a")]);
    sim.advance(7);
    assert!(sim.acd.handle_abandon(sim.now, CallId(1)));
    assert_eq!(sim.drain(), [cancel(1, "a"), offer(2, "a")]);
    assert!(!sim.acd.handle_abandon(sim.now, CallId(1)));
    let stats = sim.acd.queue_stats(1).unwrap();
    assert_eq!(stats.abandoned, 1);
    assert_eq!(stats.longest_abandon_wait, Duration::from_secs(7));
    assert_eq!(sim.acd.agent_stats("a").unwrap().missed_offers, 0);
}

#[test]
fn announcements_keep_their_cadence_and_positions_move_up() {
    let mut sim = one_agent(|c| {
        c.announce_every = Some(Duration::from_secs(20));
        c.first_announce_after = Duration::from_secs(10);
    });
    // One ended call of 120 s gives the handle time for the estimate.
    occupy(&mut sim, "a", 1000);
    sim.advance(120);
    sim.end("a");
    occupy(&mut sim, "a", 1001);
    for call in 1..=3 {
        sim.join(1, call, 0);
    }
    let announce = |call, position, secs: Option<u64>| QueueAction::Announce {
        call: CallId(call),
        position,
        expected_wait: secs.map(Duration::from_secs),
    };
    assert_eq!(sim.advance(9), []);
    assert_eq!(
        sim.advance(1),
        [
            announce(1, 1, Some(120)),
            announce(2, 2, Some(240)),
            announce(3, 3, Some(360))
        ]
    );
    assert_eq!(sim.advance(10), []);
    // The call in progress ends after 20 s; caller 1 is answered.
    assert_eq!(sim.end("a"), [offer(1, "a")]);
    sim.answer(1, "a");
    // Handle times 120 s and 20 s: 70 s per position.
    assert_eq!(
        sim.advance(10),
        [announce(2, 1, Some(70)), announce(3, 2, Some(140))]
    );
    assert_eq!(sim.advance(19), []);
    assert_eq!(sim.advance(1).len(), 2);
    // With nobody present there is no estimate.
    sim.acd.handle_pause(sim.now, "a", "break");
    assert_eq!(
        sim.advance(20),
        [announce(2, 1, None), announce(3, 2, None)]
    );
}

#[test]
fn a_busy_agent_is_not_offered_and_ringing_ends_when_they_get_busy() {
    let mut sim = Sim::new(vec![config(1, Strategy::Linear, &["a", "b"])], &["a", "b"]);
    sim.acd.handle_agent_busy(sim.now, "a", true);
    sim.join(1, 1, 0);
    assert_eq!(sim.drain(), [offer(1, "b")]);
    sim.acd.handle_agent_busy(sim.now, "b", true);
    assert_eq!(sim.drain(), [cancel(1, "b")]);
    sim.acd.handle_agent_busy(sim.now, "a", false);
    assert_eq!(sim.drain(), [offer(1, "a")]);
}

#[test]
fn pause_dnd_and_logout_during_a_queue_call_keep_its_talk_time() {
    let mut sim = one_agent(|_| {});
    occupy(&mut sim, "a", 1000);
    sim.acd.handle_dnd(sim.now, "a", true);
    sim.advance(30);
    sim.acd.handle_dnd(sim.now, "a", false);
    assert_eq!(sim.state("a"), AgentState::InCall { call: CallId(1000) });
    sim.acd.handle_logout(sim.now, "a");
    sim.advance(30);
    sim.end("a");
    assert_eq!(sim.state("a"), AgentState::LoggedOut);
    assert_eq!(
        sim.acd.agent_stats("a").unwrap().talk_time,
        Duration::from_secs(60)
    );
    assert_eq!(
        sim.acd.queue_stats(1).unwrap().talk_time,
        Duration::from_secs(60)
    );
}

#[test]
fn statistics_count_waits_service_level_and_talk() {
    let mut sim = Sim::new(vec![config(1, Strategy::Linear, &["a", "b"])], &["a"]);
    sim.join(1, 1, 0);
    sim.drain();
    sim.advance(5);
    sim.answer(1, "a");
    sim.join(1, 2, 0);
    sim.advance(40);
    sim.end("a");
    sim.drain();
    sim.answer(2, "a");
    let s = sim.acd.queue_stats(1).unwrap();
    assert_eq!(s.answered, 2);
    assert_eq!(s.answered_within_service_level, 1);
    assert_eq!(s.longest_wait, Duration::from_secs(40));
    assert_eq!(s.average_wait, Duration::from_millis(22_500));
    assert_eq!(s.talk_time, Duration::from_secs(40));
    let json = serde_json::to_value(sim.acd.snapshot(sim.now, 1).unwrap()).unwrap();
    assert_eq!(json["stats"]["average_wait"], 22.5);
    assert_eq!(json["agents"][0]["status"]["state"], "in_call");
    assert_eq!(json["agents"][1]["status"]["state"], "logged_out");
}

#[test]
fn reconcile_undoes_what_call_control_does_not_have() {
    let mut sim = Sim::new(
        vec![config(1, Strategy::Linear, &["a", "b", "c"])],
        &["a", "b", "c"],
    );
    sim.join(1, 1, 0);
    sim.join(1, 2, 0);
    assert_eq!(offered(&sim.drain()), ["a", "b"]);
    occupy(&mut sim, "c", 1000);
    let in_step = [
        LiveLeg::Caller(CallId(1)),
        LiveLeg::Caller(CallId(2)),
        LiveLeg::Offer {
            call: CallId(1),
            user: "a".into(),
        },
        LiveLeg::Offer {
            call: CallId(2),
            user: "b".into(),
        },
        LiveLeg::Connected {
            call: CallId(1000),
            user: "c".into(),
        },
    ];
    assert_eq!(sim.acd.reconcile(sim.now, &in_step), 0);
    assert_eq!(sim.drain(), []);
    // Call control lost caller 2, the offer to a and c's call; b is in a call (555) the core never saw,
    // and an offer to b for a call 7 nobody knows.
    let live = [
        LiveLeg::Caller(CallId(1)),
        LiveLeg::Offer {
            call: CallId(7),
            user: "b".into(),
        },
        LiveLeg::Connected {
            call: CallId(555),
            user: "b".into(),
        },
    ];
    // Caller 2 removed (cancel to b), a freed (cancel), c's call ended, b adopted in call 555, the offer
    // for call 7 cancelled.
    let fixes = sim.acd.reconcile(sim.now, &live);
    let actions = sim.drain();
    assert!(actions.contains(&cancel(2, "b")), "{actions:?}");
    assert!(actions.contains(&cancel(1, "a")), "{actions:?}");
    assert!(actions.contains(&cancel(7, "b")), "{actions:?}");
    assert_eq!(fixes, 5);
    assert_eq!(sim.state("b"), AgentState::InCall { call: CallId(555) });
    assert_eq!(sim.acd.waiting_count(1), Some(1));
    assert_eq!(sim.acd.queue_stats(1).unwrap().abandoned, 1);
    // Caller 1 ends up ringing somebody: the state is consistent again.
    assert_eq!(
        sim.acd.snapshot(sim.now, 1).unwrap().waiting[0]
            .offered_to
            .len(),
        1
    );
}

#[test]
fn force_reset_frees_a_stuck_agent() {
    let mut sim = one_agent(|_| {});
    occupy(&mut sim, "a", 1000);
    sim.join(1, 1, 0);
    assert!(sim.acd.force_reset(sim.now, "a"));
    assert_eq!(sim.drain(), [offer(1, "a")]);
    assert!(!sim.acd.force_reset(sim.now, "nobody"));
}

#[test]
fn reconfiguring_keeps_callers_and_removing_overflows_them() {
    let mut sim = one_agent(|c| c.overflow = Some(Target::Message("closed".into())));
    occupy(&mut sim, "a", 1000);
    sim.join(1, 1, 0);
    let mut c = config(1, Strategy::Linear, &["a", "b"]);
    c.overflow = Some(Target::Message("closed".into()));
    sim.acd.upsert_queue(sim.now, c).unwrap();
    sim.acd.handle_login(sim.now, "b");
    assert_eq!(sim.drain(), [offer(1, "b")]);
    assert!(sim.acd.remove_queue(sim.now, 1));
    assert_eq!(
        sim.drain(),
        [
            cancel(1, "b"),
            QueueAction::Overflow {
                call: CallId(1),
                target: Some(Target::Message("closed".into())),
                reason: OverflowReason::QueueRemoved
            }
        ]
    );
    // a's call from the removed queue still ends cleanly.
    sim.end("a");
    assert_eq!(sim.state("a"), AgentState::Available);
    assert!(sim.acd.snapshot(sim.now, 1).is_none());
}

#[test]
fn config_json_has_defaults_round_trips_and_is_validated() {
    let c: QueueConfig = serde_json::from_str(
        r#"{"id": 3, "name": "Servicetorget", "members": [{"user": "kari"}, {"user": "ola", "penalty": 2}],
            "overflow": {"hunt_group": 9}, "max_wait": 300, "tier_wait": 12.5,
            "callback": {"offer_after": 60}}"#,
    )
    .unwrap();
    assert_eq!(c.strategy, Strategy::LongestIdle);
    assert_eq!(c.ring_timeout, DEFAULT_RING_TIMEOUT);
    assert_eq!(c.wrap_up, DEFAULT_WRAP_UP);
    assert_eq!(c.overflow, Some(Target::HuntGroup(9)));
    assert_eq!(c.tier_wait, Some(Duration::from_millis(12_500)));
    assert_eq!(c.members[1], QueueMember::new("ola", 2));
    c.validate().unwrap();
    let json = serde_json::to_string(&c).unwrap();
    assert!(json.contains(r#""max_wait":300"#), "{json}");
    assert_eq!(serde_json::from_str::<QueueConfig>(&json).unwrap(), c);

    assert!(serde_json::from_str::<QueueConfig>(
        r#"{"id":1,"name":"x","members":[],"ringtimeout":5}"#
    )
    .is_err());
    assert!(serde_json::from_str::<QueueConfig>(
        r#"{"id":1,"name":"x","members":[],"max_wait":-5}"#
    )
    .is_err());

    let mut bad = config(4, Strategy::Linear, &["a", "a"]);
    assert_eq!(
        bad.validate(),
        Err(RoutingError::DuplicateQueueMember {
            queue: 4,
            member: "a".into()
        })
    );
    bad.members.pop();
    bad.ring_timeout = Duration::ZERO;
    assert!(matches!(
        bad.validate(),
        Err(RoutingError::InvalidQueue { queue: 4, .. })
    ));
    let mut acd = Acd::new(1);
    assert!(acd.upsert_queue(Instant::now(), bad).is_err());
    assert_eq!(acd.queue_ids().count(), 0);
}
