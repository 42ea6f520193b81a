//! Queue decision cost: how long from "an agent became free" to the `Offer` for the head caller, with
//! 1,000 callers waiting behind 200 agents who are all in calls.
//!
//! Each iteration ends one agent's queue call (no wrap-up, so they are free at once) and polls the offer;
//! only that is timed. Untimed, the agent then answers, a new caller joins at the back and the clock moves
//! on 50 ms (firing announcements), so every iteration starts from the same shape of state: 1,000 waiting,
//! 200 in calls.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use switchboard_routing::queue::{
    Acd, AgentState, CallId, QueueAction, QueueConfig, QueueMember, Strategy,
};

const AGENTS: usize = 200;
const WAITING: u64 = 1_000;

struct Bench {
    acd: Acd,
    users: Vec<String>,
    now: Instant,
    next_call: u64,
    turn: usize,
}

impl Bench {
    fn new(strategy: Strategy) -> Self {
        let users: Vec<String> = (0..AGENTS).map(|i| format!("agent{i:03}")).collect();
        // Three tiers, as a municipality might have: the front desk, case workers, and the back office.
        let members = users
            .iter()
            .enumerate()
            .map(|(i, u)| QueueMember::new(u.clone(), (i * 3 / AGENTS) as u32))
            .collect();
        let mut config = QueueConfig::new(1, "bench", strategy, members);
        config.wrap_up = Duration::ZERO;
        config.announce_every = Some(Duration::from_secs(30));
        config.tier_wait = Some(Duration::from_secs(60));
        config.auto_pause_after = Some(3);
        let now = Instant::now();
        let mut acd = Acd::new(1);
        acd.upsert_queue(now, config).expect("valid config");
        for u in &users {
            acd.handle_login(now, u);
        }
        let mut bench = Bench {
            acd,
            users,
            now,
            next_call: 0,
            turn: 0,
        };
        // Fill every agent with a call, then the queue behind them.
        while bench.acd.waiting_count(1) != Some(0) || bench.next_call < AGENTS as u64 {
            bench.join();
            bench.answer_all();
        }
        for _ in 0..WAITING {
            bench.join();
        }
        assert_eq!(bench.acd.waiting_count(1), Some(WAITING as usize));
        bench
    }

    fn join(&mut self) {
        let call = CallId(self.next_call);
        self.next_call += 1;
        self.acd
            .handle_join(self.now, 1, call, 0)
            .expect("queue has room");
    }

    fn answer_all(&mut self) {
        while let Some(action) = self.acd.poll_action() {
            // With ring-all the first answer cancels the caller's other offers, still queued here.
            if let QueueAction::Offer { call, user, .. } = action {
                if self.acd.agent_state(&user) == Some(&AgentState::Ringing { call }) {
                    assert!(self.acd.handle_offer_answered(self.now, call, &user));
                }
            }
        }
    }

    /// Timed: one agent's call ends and the core decides whom they get.
    fn decide(&mut self) -> (Duration, QueueAction) {
        let user = &self.users[self.turn % AGENTS];
        self.turn += 1;
        let start = Instant::now();
        self.acd.handle_queue_call_ended(self.now, black_box(user));
        let action = self.acd.poll_action();
        let elapsed = start.elapsed();
        (elapsed, black_box(action).expect("an offer"))
    }

    /// Untimed: back to 1,000 waiting and 200 in calls.
    fn restore(&mut self, offer: QueueAction) {
        let QueueAction::Offer { call, user, .. } = offer else {
            panic!("expected an offer, got {offer:?}");
        };
        assert!(self.acd.handle_offer_answered(self.now, call, &user));
        self.join();
        self.now += Duration::from_millis(50);
        self.acd.handle_timeout(self.now);
        while self.acd.poll_action().is_some() {}
    }
}

fn offer_decision(c: &mut Criterion) {
    let mut group = c.benchmark_group("offer_decision_1000_waiting_200_agents");
    for strategy in [
        Strategy::LongestIdle,
        Strategy::RoundRobin,
        Strategy::FewestCalls,
        Strategy::Random,
        Strategy::RingAll,
    ] {
        let mut bench = Bench::new(strategy);
        group.bench_function(BenchmarkId::from_parameter(format!("{strategy:?}")), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (elapsed, offer) = bench.decide();
                    total += elapsed;
                    bench.restore(offer);
                }
                total
            })
        });
        assert_eq!(bench.acd.waiting_count(1), Some(WAITING as usize));
    }
    group.finish();

    // The whole cycle per answered call, for scale: end, offer, answer, a new caller joins, timers.
    let mut bench = Bench::new(Strategy::LongestIdle);
    c.bench_function("full_cycle_1000_waiting_200_agents/LongestIdle", |b| {
        b.iter(|| {
            let (_, offer) = bench.decide();
            bench.restore(offer);
        })
    });
}

criterion_group!(benches, offer_decision);
criterion_main!(benches);
