//! Operation-sequence property test: random inputs never panic, and the state stays consistent.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::{config, Sim};
use crate::numbers::Target;
use crate::queue::acd::Acd as Core;
use crate::queue::{
    AgentState, CallId, CallbackConfig, LiveLeg, QueueConfig, QueueMember, Strategy as Policy,
};

const USERS: [&str; 5] = ["a", "b", "c", "d", "e"];

#[derive(Debug, Clone)]
enum Op {
    Join { queue: u64, call: u64, priority: u8 },
    Abandon { call: u64 },
    AnswerRinging { user: usize },
    Answer { call: u64, user: usize },
    Fail { call: u64, user: usize },
    FailRinging { user: usize },
    End { user: usize },
    Login { user: usize },
    Logout { user: usize },
    Pause { user: usize },
    Unpause { user: usize },
    Dnd { user: usize, on: bool },
    Busy { user: usize, busy: bool },
    Callback { call: u64 },
    Advance { secs: u64 },
    Reset { user: usize },
    Reconcile { drop: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..USERS.len();
    let call = 0u64..12;
    prop_oneof![
        4 => (1u64..=2, call.clone(), 0u8..3)
            .prop_map(|(queue, call, priority)| Op::Join { queue, call, priority }),
        1 => call.clone().prop_map(|call| Op::Abandon { call }),
        4 => user.clone().prop_map(|user| Op::AnswerRinging { user }),
        1 => (call.clone(), user.clone()).prop_map(|(call, user)| Op::Answer { call, user }),
        1 => (call.clone(), user.clone()).prop_map(|(call, user)| Op::Fail { call, user }),
        2 => user.clone().prop_map(|user| Op::FailRinging { user }),
        3 => user.clone().prop_map(|user| Op::End { user }),
        2 => user.clone().prop_map(|user| Op::Login { user }),
        1 => user.clone().prop_map(|user| Op::Logout { user }),
        1 => user.clone().prop_map(|user| Op::Pause { user }),
        1 => user.clone().prop_map(|user| Op::Unpause { user }),
        1 => (user.clone(), any::<bool>()).prop_map(|(user, on)| Op::Dnd { user, on }),
        1 => (user.clone(), any::<bool>()).prop_map(|(user, busy)| Op::Busy { user, busy }),
        1 => call.prop_map(|call| Op::Callback { call }),
        4 => (0u64..45).prop_map(|secs| Op::Advance { secs }),
        1 => user.prop_map(|user| Op::Reset { user }),
        1 => any::<u8>().prop_map(|drop| Op::Reconcile { drop }),
    ]
}

fn strategy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        Just(Policy::RingAll),
        Just(Policy::Linear),
        Just(Policy::RoundRobin),
        Just(Policy::LongestIdle),
        Just(Policy::FewestCalls),
        Just(Policy::Random),
    ]
}

fn queues(s1: Policy, s2: Policy, leave_empty: bool) -> Vec<QueueConfig> {
    let mut q1 = config(1, s1, &[]);
    q1.members = vec![
        QueueMember::new("a", 0),
        QueueMember::new("b", 0),
        QueueMember::new("c", 1),
        QueueMember::new("d", 2),
    ];
    q1.wrap_up = Duration::from_secs(5);
    q1.tier_wait = Some(Duration::from_secs(25));
    q1.auto_pause_after = Some(2);
    q1.announce_every = Some(Duration::from_secs(15));
    q1.first_announce_after = Duration::from_secs(10);
    q1.callback = Some(CallbackConfig {
        offer_after: Duration::from_secs(20),
    });
    q1.max_callers = Some(6);
    q1.max_wait = Some(Duration::from_secs(200));
    q1.leave_empty = leave_empty;
    q1.overflow = Some(Target::Queue(2));
    let mut q2 = config(2, s2, &[]);
    q2.members = vec![
        QueueMember::new("c", 0),
        QueueMember::new("d", 0),
        QueueMember::new("e", 3),
    ];
    q2.join_empty = !leave_empty;
    q2.ring_timeout = Duration::from_secs(15);
    vec![q1, q2]
}

/// What call control would report to `reconcile` if it were in step, minus the legs picked by `drop`.
fn live_legs(acd: &Core, drop: u8) -> Vec<LiveLeg> {
    let mut legs = Vec::new();
    let mut callers: Vec<CallId> = acd
        .callers
        .iter()
        .filter(|(_, c)| c.callback.is_none())
        .map(|(id, _)| *id)
        .collect();
    callers.sort();
    legs.extend(callers.into_iter().map(LiveLeg::Caller));
    for a in &acd.agents {
        if let AgentState::Ringing { call } = a.state {
            legs.push(LiveLeg::Offer {
                call,
                user: a.user.clone(),
            });
        }
        if let Some(c) = a.current {
            legs.push(LiveLeg::Connected {
                call: c.call,
                user: a.user.clone(),
            });
        }
        if a.busy_elsewhere {
            legs.push(LiveLeg::Busy {
                user: a.user.clone(),
            });
        }
    }
    legs.into_iter()
        .enumerate()
        .filter(|(i, _)| drop & (1 << (i % 8)) == 0)
        .map(|(_, l)| l)
        .collect()
}

fn check(acd: &Core, now: Instant) {
    let timeout = acd.poll_timeout();
    for (a, agent) in acd.agents.iter().enumerate() {
        match &agent.state {
            AgentState::Ringing { call } => {
                let caller = acd
                    .callers
                    .get(call)
                    .expect("ringing for a caller who exists");
                assert!(caller.offers.contains(&a), "caller knows the offer");
                let until = agent.ring_until.expect("an offer has a deadline");
                assert!(timeout.is_some_and(|t| t <= until), "offer deadline armed");
                assert!(until > now, "offer outlived its ring timeout");
                assert!(!agent.busy_elsewhere, "a busy agent rings");
            }
            AgentState::InCall { call } => {
                assert_eq!(agent.current.map(|c| c.call), Some(*call));
            }
            AgentState::WrapUp { until } => {
                assert!(
                    timeout.is_some_and(|t| t <= *until),
                    "wrap-up deadline armed"
                );
                assert!(*until > now, "wrap-up outlived its deadline");
            }
            _ => {}
        }
    }
    let mut waiting = 0;
    for (qid, q) in &acd.queues {
        waiting += q.waiting.len();
        for (key, call) in &q.waiting {
            let c = acd.callers.get(call).expect("waiting caller exists");
            assert_eq!((c.queue, c.key), (*qid, *key));
            assert_eq!(q.unoffered.contains_key(key), c.offers.is_empty());
            if q.config.strategy != Policy::RingAll {
                assert!(c.offers.len() <= 1, "two offers for one caller");
            }
            for (i, &a) in c.offers.iter().enumerate() {
                assert_eq!(acd.agents[a].state, AgentState::Ringing { call: *call });
                assert!(!c.offers[..i].contains(&a));
            }
        }
        assert!(q.unoffered.len() <= q.waiting.len());
        // Nothing left undecided: a caller without an offer means no member is free.
        if q.config.strategy != Policy::RingAll && !q.unoffered.is_empty() {
            for m in &q.members {
                let agent = &acd.agents[m.agent];
                assert!(
                    !(agent.is_free()),
                    "queue {qid}: {} is free while callers wait without an offer",
                    agent.user
                );
            }
        }
    }
    assert_eq!(waiting, acd.callers.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn random_operation_sequences_keep_the_state_consistent(
        s1 in strategy(),
        s2 in strategy(),
        leave_empty in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let mut sim = Sim::new(queues(s1, s2, leave_empty), &["a", "b"]);
        for op in ops {
            let now = sim.now;
            let acd = &mut sim.acd;
            match op {
                Op::Join { queue, call, priority } => {
                    let _ = acd.handle_join(now, queue, CallId(call), priority);
                }
                Op::Abandon { call } => {
                    acd.handle_abandon(now, CallId(call));
                }
                Op::AnswerRinging { user } => {
                    if let Some(AgentState::Ringing { call }) = acd.agent_state(USERS[user]).cloned() {
                        prop_assert!(acd.handle_offer_answered(now, call, USERS[user]));
                    }
                }
                Op::Answer { call, user } => {
                    acd.handle_offer_answered(now, CallId(call), USERS[user]);
                }
                Op::Fail { call, user } => acd.handle_offer_failed(now, CallId(call), USERS[user]),
                Op::FailRinging { user } => {
                    if let Some(AgentState::Ringing { call }) = acd.agent_state(USERS[user]).cloned() {
                        acd.handle_offer_failed(now, call, USERS[user]);
                    }
                }
                Op::End { user } => acd.handle_queue_call_ended(now, USERS[user]),
                Op::Login { user } => acd.handle_login(now, USERS[user]),
                Op::Logout { user } => acd.handle_logout(now, USERS[user]),
                Op::Pause { user } => acd.handle_pause(now, USERS[user], "break"),
                Op::Unpause { user } => acd.handle_unpause(now, USERS[user]),
                Op::Dnd { user, on } => acd.handle_dnd(now, USERS[user], on),
                Op::Busy { user, busy } => acd.handle_agent_busy(now, USERS[user], busy),
                Op::Callback { call } => {
                    acd.handle_callback_request(now, CallId(call), "+4712345678");
                }
                Op::Advance { secs } => {
                    sim.advance(secs);
                }
                Op::Reset { user } => {
                    acd.force_reset(now, USERS[user]);
                }
                Op::Reconcile { drop } => {
                    let legs = live_legs(acd, drop);
                    acd.reconcile(now, &legs);
                    if drop == 0 {
                        // In step: nothing to correct.
                        prop_assert_eq!(acd.reconcile(now, &legs), 0);
                    }
                }
            }
            sim.drain();
            check(&sim.acd, sim.now);
        }
        // Hours later nothing is stuck: every offer and wrap-up has ended (fresh offers may ring).
        sim.advance(3600);
        check(&sim.acd, sim.now);
        for a in &sim.acd.agents {
            let wrapping = matches!(a.state, AgentState::WrapUp { .. });
            prop_assert!(!wrapping, "{} still in wrap-up", a.user);
        }
    }
}
