//! Deciding whom to offer which caller, and the timers.

use std::cmp::Reverse;
use std::ops::Bound;
use std::time::Instant;

use super::acd::{Acd, AgentIdx, Caller, OfferEnd, Queue, Timer, WaitKey};
use super::config::Strategy;
use super::types::{AgentState, CallId, OverflowReason, QueueAction};

/// A free member who could take an offer.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    penalty: u32,
    /// Position in the queue's member list.
    pos: usize,
    agent: AgentIdx,
}

impl Acd {
    /// Runs at the end of every input: offers waiting callers to free agents in every queue something
    /// happened to, then drops stale timers.
    pub(super) fn settle(&mut self, now: Instant) {
        // The queue whose best caller comes first picks first, so an agent in several queues goes to the
        // caller who has the strongest claim (priority, then join order, across queues).
        while let Some(qid) = self.next_dirty() {
            self.dirty.remove(&qid);
            self.dispatch(now, qid);
        }
        self.prune_timers();
    }

    fn next_dirty(&self) -> Option<u64> {
        let head = |qid: &u64| {
            self.queues
                .get(qid)
                .and_then(|q| q.waiting.keys().next().copied())
                .map_or((1, None), |k| (0, Some(k)))
        };
        self.dirty.iter().copied().min_by_key(head)
    }

    fn dispatch(&mut self, now: Instant, qid: u64) {
        let Some(q) = self.queues.get(&qid) else {
            return;
        };
        if q.waiting.is_empty() {
            return;
        }
        // Tiers are the penalties of present members; the free ones are the candidates. One pass over the
        // members (not the callers) per decision.
        let mut tiers = Vec::new();
        let mut free = Vec::new();
        for (pos, m) in q.members.iter().enumerate() {
            let agent = &self.agents[m.agent];
            if !agent.state.is_present() {
                continue;
            }
            tiers.push(m.penalty);
            if agent.is_free() {
                free.push(Candidate {
                    penalty: m.penalty,
                    pos,
                    agent: m.agent,
                });
            }
        }
        if free.is_empty() {
            return;
        }
        tiers.sort_unstable();
        tiers.dedup();
        if q.config.strategy == Strategy::RingAll {
            self.dispatch_ring_all(now, qid, &tiers, free);
        } else {
            self.dispatch_one_each(now, qid, &tiers, free);
        }
    }

    /// One agent per caller: the first caller without an offer takes the best candidate, until no free
    /// agent or no such caller is left. Every caller can use a free agent of the lowest free tier, so
    /// each round makes an offer.
    fn dispatch_one_each(
        &mut self,
        now: Instant,
        qid: u64,
        tiers: &[u32],
        mut free: Vec<Candidate>,
    ) {
        while !free.is_empty() {
            let Some(q) = self.queues.get(&qid) else {
                return;
            };
            let Some((_, &call)) = q.unoffered.first_key_value() else {
                return;
            };
            let strategy = q.config.strategy;
            let Some(caller) = self.callers.get_mut(&call) else {
                return;
            };
            let eligible = eligible(now, q, caller, tiers, &free, None);
            let mut pool: Vec<Candidate> = eligible
                .iter()
                .filter(|c| !caller.tried.contains(&c.agent))
                .copied()
                .collect();
            if pool.is_empty() {
                // Everyone eligible has had a go: start a new round.
                caller.tried.clear();
                pool = eligible;
            }
            let Some(best) = pool.iter().map(|c| c.penalty).min() else {
                return;
            };
            pool.retain(|c| c.penalty == best);
            let chosen = match strategy {
                Strategy::Random => Some(pool[self.rng.below(pool.len())]),
                _ => self.by_strategy(q, strategy, &pool),
            };
            let Some(chosen) = chosen else {
                return;
            };
            free.retain(|c| c.agent != chosen.agent);
            self.offer(now, call, chosen.agent);
        }
    }

    /// Ring-all: callers in order; each rings every eligible free agent of their best tier, next to those
    /// already ringing for them.
    fn dispatch_ring_all(
        &mut self,
        now: Instant,
        qid: u64,
        tiers: &[u32],
        mut free: Vec<Candidate>,
    ) {
        let mut after: Option<WaitKey> = None;
        while !free.is_empty() {
            let Some(q) = self.queues.get(&qid) else {
                return;
            };
            let next = match after {
                None => q.waiting.iter().next(),
                Some(k) => q
                    .waiting
                    .range((Bound::Excluded(k), Bound::Unbounded))
                    .next(),
            };
            let Some((&key, &call)) = next else {
                return;
            };
            after = Some(key);
            let Some(caller) = self.callers.get_mut(&call) else {
                continue;
            };
            // The caller's own ringing agents are not "busy" for them: otherwise ringing the first tier would
            // at once open the next.
            let own_best = caller
                .offers
                .iter()
                .filter_map(|&a| q.member(a).map(|m| m.penalty))
                .min();
            let eligible = eligible(now, q, caller, tiers, &free, own_best);
            let mut pool: Vec<Candidate> = eligible
                .iter()
                .filter(|c| !caller.tried.contains(&c.agent))
                .copied()
                .collect();
            if pool.is_empty() && caller.offers.is_empty() {
                caller.tried.clear();
                pool = eligible;
            }
            for c in pool {
                free.retain(|f| f.agent != c.agent);
                self.offer(now, call, c.agent);
            }
        }
    }

    /// The deterministic strategies' choice among candidates of one tier.
    fn by_strategy(&self, q: &Queue, strategy: Strategy, pool: &[Candidate]) -> Option<Candidate> {
        let n = q.members.len().max(1);
        match strategy {
            Strategy::RoundRobin => {
                let start = q
                    .rr_last
                    .and_then(|a| q.members.iter().position(|m| m.agent == a))
                    .map_or(0, |p| p + 1);
                pool.iter()
                    .copied()
                    .min_by_key(|c| (c.pos + n - start % n) % n)
            }
            Strategy::LongestIdle => pool
                .iter()
                .copied()
                .min_by_key(|c| (self.agents[c.agent].idle_since, c.pos)),
            Strategy::FewestCalls => pool
                .iter()
                .copied()
                .min_by_key(|c| (q.members[c.pos].calls, c.pos)),
            Strategy::Linear | Strategy::RingAll | Strategy::Random => {
                pool.iter().copied().min_by_key(|c| c.pos)
            }
        }
    }

    /// Rings `a` for `call`.
    fn offer(&mut self, now: Instant, call: CallId, a: AgentIdx) {
        let Some(caller) = self.callers.get_mut(&call) else {
            return;
        };
        let Some(q) = self.queues.get_mut(&caller.queue) else {
            return;
        };
        caller.offers.push(a);
        if !caller.tried.contains(&a) {
            caller.tried.push(a);
        }
        q.unoffered.remove(&caller.key);
        q.tally.stats.offered += 1;
        if q.config.strategy == Strategy::RoundRobin {
            q.rr_last = Some(a);
        }
        let ring_timeout = q.config.ring_timeout;
        let agent = &mut self.agents[a];
        agent.state = AgentState::Ringing { call };
        agent.ring_until = now.checked_add(ring_timeout);
        agent.stats.offered += 1;
        if let Some(at) = agent.ring_until {
            self.timers.push(Reverse((at, Timer::RingEnd(a, call))));
        }
        let user = agent.user.clone();
        self.actions.push_back(match &caller.callback {
            Some(number) => QueueAction::StartCallback {
                call,
                user,
                number: number.clone(),
                ring_timeout,
            },
            None => QueueAction::Offer {
                call,
                user,
                ring_timeout,
            },
        });
    }

    /// Takes a caller out of its queue, cancelling the offers out for them.
    pub(super) fn remove_caller(&mut self, call: CallId) -> Option<Caller> {
        let offers = self.callers.get(&call)?.offers.clone();
        for a in offers {
            self.end_offer(a, call, OfferEnd::Cancelled);
        }
        let caller = self.callers.remove(&call)?;
        if let Some(q) = self.queues.get_mut(&caller.queue) {
            q.waiting.remove(&caller.key);
            q.unoffered.remove(&caller.key);
            // The caller's leaving can change nothing for others, except that position counts shift.
        }
        Some(caller)
    }

    /// Sends a caller to their queue's overflow target.
    pub(super) fn overflow(&mut self, call: CallId, reason: OverflowReason) {
        let Some(caller) = self.remove_caller(call) else {
            return;
        };
        let target = self.queues.get_mut(&caller.queue).and_then(|q| {
            q.tally.stats.overflowed += 1;
            q.config.overflow.clone()
        });
        self.actions.push_back(QueueAction::Overflow {
            call,
            target,
            reason,
        });
    }

    /// After the agent logged out: queues with `leave_empty` that now have nobody logged in send their
    /// holding callers away. Callback requests stay; someone will log in to call them back.
    pub(super) fn overflow_if_empty(&mut self, a: AgentIdx) {
        for qid in self.agents[a].queues.clone() {
            let Some(q) = self.queues.get(&qid) else {
                continue;
            };
            if !q.config.leave_empty || self.anyone_logged_in(q) {
                continue;
            }
            let leaving: Vec<CallId> = q
                .waiting
                .values()
                .copied()
                .filter(|c| self.callers.get(c).is_some_and(|c| c.callback.is_none()))
                .collect();
            for call in leaving {
                self.overflow(call, OverflowReason::NoAgents);
            }
        }
    }

    /// Whether a heap entry still means something: the state it was set for has not moved on.
    pub(super) fn timer_live(&self, at: Instant, timer: Timer) -> bool {
        let caller = |call: &CallId| self.callers.get(call);
        match timer {
            Timer::RingEnd(a, call) => {
                let agent = &self.agents[a];
                agent.state == AgentState::Ringing { call } && agent.ring_until == Some(at)
            }
            Timer::WrapEnd(a) => self.agents[a].state == AgentState::WrapUp { until: at },
            Timer::MaxWait(call) => caller(&call).is_some_and(|c| c.max_wait_at == Some(at)),
            Timer::Announce(call) => caller(&call).is_some_and(|c| c.next_announce == Some(at)),
            Timer::CallbackOffer(call) => {
                caller(&call).is_some_and(|c| c.callback_offer_at == Some(at))
            }
            Timer::Escalate(call) => caller(&call).is_some_and(|c| c.next_escalate == Some(at)),
        }
    }

    pub(super) fn fire(&mut self, now: Instant, at: Instant, timer: Timer) {
        match timer {
            Timer::RingEnd(a, call) => self.end_offer(a, call, OfferEnd::TimedOut),
            Timer::WrapEnd(a) => {
                self.agents[a].state = AgentState::Available;
                self.mark_agent_dirty(a);
            }
            Timer::MaxWait(call) => self.overflow(call, OverflowReason::MaxWait),
            Timer::Announce(call) => self.announce(at, call),
            Timer::CallbackOffer(call) => {
                if let Some(c) = self.callers.get_mut(&call) {
                    c.callback_offer_at = None;
                    self.actions.push_back(QueueAction::OfferCallback { call });
                }
            }
            Timer::Escalate(call) => {
                let Some(c) = self.callers.get_mut(&call) else {
                    return;
                };
                let q = self.queues.get(&c.queue);
                let tier_wait = q.and_then(|q| q.config.tier_wait);
                let tiers = q.map_or(0, |q| {
                    let mut p: Vec<u32> = q.members.iter().map(|m| m.penalty).collect();
                    p.sort_unstable();
                    p.dedup();
                    p.len()
                });
                let steps = escalation(now, c.joined, tier_wait);
                // No more timers once every tier is open to this caller.
                c.next_escalate = tier_wait
                    .filter(|_| steps + 1 < tiers)
                    .and_then(|tw| at.checked_add(tw));
                if let Some(next) = c.next_escalate {
                    self.timers.push(Reverse((next, Timer::Escalate(call))));
                }
                self.dirty.insert(c.queue);
            }
        }
    }

    /// Announces position and expected wait to a holding caller. Skipped while an agent is ringing for
    /// them (they are about to be answered); the cadence continues either way.
    fn announce(&mut self, at: Instant, call: CallId) {
        let Some(c) = self.callers.get(&call) else {
            return;
        };
        let Some(q) = self.queues.get(&c.queue) else {
            return;
        };
        if c.offers.is_empty() && c.callback.is_none() {
            let position = q.waiting.range(..c.key).count() + 1;
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            let present = q
                .members
                .iter()
                .filter(|m| self.agents[m.agent].state.is_present())
                .count();
            self.actions.push_back(QueueAction::Announce {
                call,
                position,
                expected_wait: q.tally.expected_wait(position, present),
            });
        }
        let next = q
            .config
            .announce_every
            .and_then(|every| at.checked_add(every));
        if let Some(c) = self.callers.get_mut(&call) {
            c.next_announce = next;
        }
        if let Some(next) = next {
            self.timers.push(Reverse((next, Timer::Announce(call))));
        }
    }

    fn prune_timers(&mut self) {
        while let Some(&Reverse((at, timer))) = self.timers.peek() {
            if self.timer_live(at, timer) {
                break;
            }
            self.timers.pop();
        }
    }
}

/// How many tiers beyond the lowest free one this caller's wait has opened.
fn escalation(now: Instant, joined: Instant, tier_wait: Option<std::time::Duration>) -> usize {
    tier_wait.map_or(0, |tw| {
        let steps = now.saturating_duration_since(joined).as_nanos() / tw.as_nanos().max(1);
        usize::try_from(steps).unwrap_or(usize::MAX)
    })
}

/// The free agents this caller may be offered: those of the lowest tier with a free agent (or one ringing
/// for this caller, `own_best`), plus one tier more per `tier_wait` waited. Lower tiers with no free agent
/// are all busy, which is what opens the tiers above them.
fn eligible(
    now: Instant,
    q: &Queue,
    caller: &Caller,
    tiers: &[u32],
    free: &[Candidate],
    own_best: Option<u32>,
) -> Vec<Candidate> {
    let Some(lowest) = free.iter().map(|c| c.penalty).chain(own_best).min() else {
        return Vec::new();
    };
    let base = tiers.partition_point(|&p| p < lowest);
    let steps = escalation(now, caller.joined, q.config.tier_wait);
    let top = base
        .saturating_add(steps)
        .min(tiers.len().saturating_sub(1));
    let max_penalty = tiers.get(top).copied().unwrap_or(lowest);
    free.iter()
        .filter(|c| c.penalty <= max_penalty)
        .copied()
        .collect()
}
