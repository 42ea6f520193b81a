//! The order in which each strategy offers callers, and tiers.

use std::time::Duration;

use super::*;

/// Serves `calls` callers one after the other (join, answer, hang up) and returns whom each was offered to.
fn serve_one_by_one(sim: &mut Sim, queue: u64, calls: std::ops::Range<u64>) -> Vec<String> {
    let mut order = Vec::new();
    for call in calls {
        sim.join(queue, call, 0);
        let users = offered(&sim.drain());
        assert_eq!(users.len(), 1, "one offer per caller");
        sim.answer(call, &users[0]);
        sim.advance(30);
        sim.end(&users[0]);
        order.push(users[0].clone());
    }
    order
}

#[test]
fn round_robin_goes_round() {
    let mut sim = Sim::new(
        vec![config(1, Strategy::RoundRobin, &["a", "b", "c"])],
        &["a", "b", "c"],
    );
    let order = serve_one_by_one(&mut sim, 1, 0..9);
    assert_eq!(order, ["a", "b", "c", "a", "b", "c", "a", "b", "c"]);
}

#[test]
fn round_robin_skips_a_busy_agent_and_continues_after_the_one_offered() {
    let mut sim = Sim::new(
        vec![config(1, Strategy::RoundRobin, &["a", "b", "c"])],
        &["a", "b", "c"],
    );
    assert_eq!(serve_one_by_one(&mut sim, 1, 0..1), ["a"]);
    sim.acd.handle_agent_busy(sim.now, "b", true);
    assert_eq!(serve_one_by_one(&mut sim, 1, 1..3), ["c", "a"]);
    sim.acd.handle_agent_busy(sim.now, "b", false);
    assert_eq!(serve_one_by_one(&mut sim, 1, 3..6), ["b", "c", "a"]);
}

#[test]
fn linear_always_starts_at_the_top() {
    let mut sim = Sim::new(
        vec![config(1, Strategy::Linear, &["a", "b", "c"])],
        &["a", "b", "c"],
    );
    assert_eq!(serve_one_by_one(&mut sim, 1, 0..4), ["a", "a", "a", "a"]);
    // Three callers at once take the members in order.
    for call in 10..13 {
        sim.join(1, call, 0);
    }
    assert_eq!(offered(&sim.drain()), ["a", "b", "c"]);
}

#[test]
fn longest_idle_prefers_whoever_finished_longest_ago() {
    let mut sim = Sim::new(
        vec![config(1, Strategy::LongestIdle, &["a", "b", "c"])],
        &[],
    );
    // Login counts as the start of idleness: c, then a, then b.
    for u in ["c", "a", "b"] {
        sim.acd.handle_login(sim.now, u);
        sim.advance(1);
    }
    for call in 0..3 {
        sim.join(1, call, 0);
    }
    let first = sim.drain();
    assert_eq!(offered(&first), ["c", "a", "b"]);
    for (call, user) in [(0, "c"), (1, "a"), (2, "b")] {
        sim.answer(call, user);
    }
    // Calls end in the order b, c, a: that is the new idle order.
    for u in ["b", "c", "a"] {
        sim.advance(10);
        sim.end(u);
    }
    sim.advance(5);
    assert_eq!(
        serve_one_by_one(&mut sim, 1, 3..9),
        ["b", "c", "a", "b", "c", "a"]
    );
}

#[test]
fn fewest_calls_balances_answered_calls() {
    let mut sim = Sim::new(
        vec![config(1, Strategy::FewestCalls, &["a", "b", "c"])],
        &["a", "b", "c"],
    );
    sim.acd.handle_pause(sim.now, "b", "lunch");
    assert_eq!(serve_one_by_one(&mut sim, 1, 0..3), ["a", "c", "a"]);
    sim.acd.handle_unpause(sim.now, "b");
    // a has 2, c 1, b 0; ties go to member order.
    assert_eq!(
        serve_one_by_one(&mut sim, 1, 3..9),
        ["b", "b", "c", "a", "b", "c"]
    );
}

fn random_order(seed: u64, calls: u64) -> Vec<String> {
    let start = Instant::now();
    let mut acd = Acd::new(seed);
    acd.upsert_queue(start, config(1, Strategy::Random, &["a", "b", "c"]))
        .unwrap();
    for u in ["a", "b", "c"] {
        acd.handle_login(start, u);
    }
    let mut order = Vec::new();
    for call in 0..calls {
        acd.handle_join(start, 1, CallId(call), 0).unwrap();
        let users = offered(&std::iter::from_fn(|| acd.poll_action()).collect::<Vec<_>>());
        assert!(acd.handle_offer_answered(start, CallId(call), &users[0]));
        acd.handle_queue_call_ended(start, &users[0]);
        order.push(users[0].clone());
    }
    order
}

#[test]
fn random_is_reproducible_from_the_seed_and_reaches_everyone() {
    let first = random_order(42, 60);
    assert_eq!(first, random_order(42, 60));
    assert_ne!(first, random_order(43, 60));
    for u in ["a", "b", "c"] {
        let n = first.iter().filter(|x| *x == u).count();
        assert!(n >= 8, "{u} got {n} of 60 calls");
    }
}

fn tiered(strategy: Strategy, members: &[(&str, u32)]) -> QueueConfig {
    let mut c = config(1, strategy, &[]);
    c.members = members
        .iter()
        .map(|(u, p)| QueueMember::new(*u, *p))
        .collect();
    c
}

#[test]
fn the_lowest_tier_comes_first_whatever_the_member_order() {
    let mut sim = Sim::new(
        vec![tiered(Strategy::Linear, &[("a", 1), ("b", 0)])],
        &["a", "b"],
    );
    assert_eq!(serve_one_by_one(&mut sim, 1, 0..3), ["b", "b", "b"]);
    // A paused agent does not make up a tier: the next tier is the lowest present one.
    sim.acd.handle_pause(sim.now, "b", "meeting");
    assert_eq!(serve_one_by_one(&mut sim, 1, 3..4), ["a"]);
}

#[test]
fn a_higher_tier_gets_callers_when_the_lower_tier_is_all_busy() {
    let mut sim = Sim::new(
        vec![tiered(
            Strategy::Linear,
            &[("a", 0), ("b", 0), ("c", 5), ("d", 9)],
        )],
        &["a", "b", "c", "d"],
    );
    sim.join(1, 1, 0);
    sim.join(1, 2, 0);
    assert_eq!(offered(&sim.drain()), ["a", "b"]);
    // Tier 0 is ringing: busy. The next caller goes to tier 5, and only then to tier 9.
    sim.join(1, 3, 0);
    sim.join(1, 4, 0);
    assert_eq!(offered(&sim.drain()), ["c", "d"]);
    // In a call or in wrap-up counts as busy too.
    sim.answer(1, "a");
    sim.answer(2, "b");
    sim.answer(3, "c");
    sim.answer(4, "d");
    sim.end("d");
    sim.join(1, 5, 0);
    assert_eq!(offered(&sim.drain()), ["d"]);
    // When a tier-0 agent becomes free, the next caller waits for them, not for tier 9.
    sim.answer(5, "d");
    sim.end("d");
    sim.end("a");
    sim.join(1, 6, 0);
    assert_eq!(offered(&sim.drain()), ["a"]);
    sim.join(1, 7, 0);
    assert_eq!(offered(&sim.drain()), ["d"]);
}

#[test]
fn after_tier_wait_the_next_tier_is_tried() {
    let mut c = tiered(Strategy::Linear, &[("a", 0), ("b", 1)]);
    c.tier_wait = Some(Duration::from_secs(30));
    let mut sim = Sim::new(vec![c], &["a", "b"]);
    sim.join(1, 1, 0);
    assert_eq!(offered(&sim.drain()), ["a"]);
    // a does not answer; before tier_wait only tier 0 may be offered, so a again.
    assert_eq!(sim.advance(20), [cancel(1, "a"), offer(1, "a")]);
    // 30 s opens tier 1 but the offer to a is still out; at its end b gets the caller.
    assert_eq!(sim.advance(20), [cancel(1, "a"), offer(1, "b")]);
}

#[test]
fn without_tier_wait_a_higher_tier_is_never_offered_while_the_lower_is_free() {
    let mut sim = Sim::new(
        vec![tiered(Strategy::Linear, &[("a", 0), ("b", 1)])],
        &["a", "b"],
    );
    sim.join(1, 1, 0);
    assert_eq!(offered(&sim.drain()), ["a"]);
    for _ in 0..5 {
        assert_eq!(sim.advance(20), [cancel(1, "a"), offer(1, "a")]);
    }
}

#[test]
fn ring_all_rings_the_best_tier_and_the_first_answer_wins() {
    let mut sim = Sim::new(
        vec![tiered(
            Strategy::RingAll,
            &[("a", 0), ("b", 0), ("c", 0), ("d", 1)],
        )],
        &["a", "b", "c", "d"],
    );
    sim.join(1, 1, 0);
    assert_eq!(offered(&sim.drain()), ["a", "b", "c"]);
    assert_eq!(
        sim.answer(1, "b"),
        [connect(1, "b"), cancel(1, "a"), cancel(1, "c")]
    );
    // An answer that raced the cancel is refused and its leg cancelled.
    assert!(!sim.acd.handle_offer_answered(sim.now, CallId(1), "a"));
    assert_eq!(sim.drain(), [cancel(1, "a")]);
    assert_eq!(sim.state("a"), AgentState::Available);
    assert_eq!(sim.state("b"), AgentState::InCall { call: CallId(1) });
}

#[test]
fn ring_all_widens_to_the_next_tier_after_tier_wait() {
    let mut c = tiered(Strategy::RingAll, &[("a", 0), ("b", 0), ("c", 1)]);
    c.tier_wait = Some(Duration::from_secs(15));
    let mut sim = Sim::new(vec![c], &["a", "b", "c"]);
    sim.join(1, 1, 0);
    assert_eq!(offered(&sim.drain()), ["a", "b"]);
    assert_eq!(sim.advance(14), []);
    assert_eq!(sim.advance(1), [offer(1, "c")]);
    // A second caller meanwhile sees every agent busy and waits.
    sim.join(1, 2, 0);
    assert_eq!(sim.drain(), []);
    // a and b are free again: caller 2 rings both, c is busy.
    assert_eq!(
        sim.answer(1, "c"),
        [
            connect(1, "c"),
            cancel(1, "a"),
            cancel(1, "b"),
            offer(2, "a"),
            offer(2, "b")
        ]
    );
    let snap = sim.acd.snapshot(sim.now, 1).unwrap();
    assert_eq!(snap.waiting[0].offered_to, ["a", "b"]);
}

#[test]
fn an_agent_in_two_queues_goes_to_the_caller_who_came_first() {
    let mut sim = Sim::new(
        vec![
            config(1, Strategy::Linear, &["a", "x"]),
            config(2, Strategy::Linear, &["a", "y"]),
        ],
        &["a"],
    );
    sim.acd.handle_agent_busy(sim.now, "a", true);
    sim.join(2, 20, 0);
    sim.advance(5);
    sim.join(1, 10, 0);
    sim.join(2, 21, 0);
    assert_eq!(sim.drain(), []);
    sim.acd.handle_agent_busy(sim.now, "a", false);
    assert_eq!(sim.drain(), [offer(20, "a")]);
    // Ringing for queue 2, a is busy for queue 1.
    assert_eq!(sim.state("a"), AgentState::Ringing { call: CallId(20) });
    sim.answer(20, "a");
    assert_eq!(sim.end("a"), [offer(10, "a")]);
}
