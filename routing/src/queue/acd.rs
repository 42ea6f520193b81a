//! The [`Acd`] state machine: its state, and the inputs about callers and agents.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
use std::time::Instant;

use super::config::QueueConfig;
use super::rng::SplitMix64;
use super::stats::{AgentStats, QueueTally};
use super::types::{
    AgentState, CallId, JoinRefused, Joined, QueueAction, RefuseReason, AUTO_PAUSE_REASON,
};

pub(super) type AgentIdx = usize;

/// Serving order: higher priority first, then join order. `seq` is global, so keys of different queues
/// compare too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct WaitKey {
    pub rank: Reverse<u8>,
    pub seq: u64,
}

/// A queue call an agent is in. Kept apart from [`AgentState`] so that pausing or logging out during the
/// call does not lose its talk time.
#[derive(Debug, Clone, Copy)]
pub(super) struct CurrentCall {
    pub call: CallId,
    /// `None` when only [`Acd::reconcile`] knew of the call.
    pub queue: Option<u64>,
    pub answered_at: Instant,
}

#[derive(Debug, Clone)]
pub(super) struct Agent {
    pub user: String,
    pub state: AgentState,
    pub busy_elsewhere: bool,
    /// While `Ringing`: when the offer times out.
    pub ring_until: Option<Instant>,
    pub current: Option<CurrentCall>,
    /// When their last queue call ended or they logged in; `None` sorts first for longest idle.
    pub idle_since: Option<Instant>,
    pub missed_in_row: u32,
    /// Queues this agent is a member of.
    pub queues: Vec<u64>,
    pub stats: AgentStats,
}

impl Agent {
    /// Can take an offer now.
    pub fn is_free(&self) -> bool {
        self.state == AgentState::Available && !self.busy_elsewhere
    }

    /// The state to return to when an offer, pause or do-not-disturb ends.
    pub fn resumed(&self) -> AgentState {
        match self.current {
            Some(c) => AgentState::InCall { call: c.call },
            None => AgentState::Available,
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Caller {
    pub queue: u64,
    pub key: WaitKey,
    pub joined: Instant,
    /// Agents ringing for this caller: at most one except with ring-all.
    pub offers: Vec<AgentIdx>,
    /// Agents offered this caller in the current round; skipped until every eligible agent was tried.
    pub tried: Vec<AgentIdx>,
    /// The number to call back on, once requested.
    pub callback: Option<String>,
    // Each timer the caller has pending; a heap entry fires only if it still matches.
    pub max_wait_at: Option<Instant>,
    pub next_announce: Option<Instant>,
    pub callback_offer_at: Option<Instant>,
    pub next_escalate: Option<Instant>,
}

#[derive(Debug, Clone)]
pub(super) struct Member {
    pub agent: AgentIdx,
    pub penalty: u32,
    /// Calls answered from this queue, for fewest calls.
    pub calls: u64,
}

#[derive(Debug, Clone)]
pub(super) struct Queue {
    pub config: QueueConfig,
    pub members: Vec<Member>,
    pub waiting: BTreeMap<WaitKey, CallId>,
    /// The waiting callers with no offer out, so finding the next caller to offer skips those ringing.
    pub unoffered: BTreeMap<WaitKey, CallId>,
    /// Round robin: the agent this queue offered last.
    pub rr_last: Option<AgentIdx>,
    pub tally: QueueTally,
}

impl Queue {
    pub fn member(&self, agent: AgentIdx) -> Option<&Member> {
        self.members.iter().find(|m| m.agent == agent)
    }
}

/// A deadline in the timer heap. Entries are never removed early: each is checked against the state when
/// it comes due (see `Acd::timer_live`), and stale heads are pruned after every input so that
/// [`Acd::poll_timeout`] is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Timer {
    RingEnd(AgentIdx, CallId),
    WrapEnd(AgentIdx),
    MaxWait(CallId),
    Announce(CallId),
    CallbackOffer(CallId),
    Escalate(CallId),
}

/// Every queue, waiting caller and agent of one node. See the [module documentation](super).
#[derive(Debug, Clone)]
pub struct Acd {
    pub(super) queues: BTreeMap<u64, Queue>,
    pub(super) callers: HashMap<CallId, Caller>,
    pub(super) agents: Vec<Agent>,
    pub(super) agent_index: HashMap<String, AgentIdx>,
    pub(super) timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    pub(super) actions: VecDeque<QueueAction>,
    /// Queues to look at for new offers before the input returns.
    pub(super) dirty: BTreeSet<u64>,
    pub(super) rng: SplitMix64,
    pub(super) next_seq: u64,
}

impl Acd {
    /// An empty ACD; `seed` drives [`Strategy::Random`](super::Strategy::Random).
    pub fn new(seed: u64) -> Self {
        Acd {
            queues: BTreeMap::new(),
            callers: HashMap::new(),
            agents: Vec::new(),
            agent_index: HashMap::new(),
            timers: BinaryHeap::new(),
            actions: VecDeque::new(),
            dirty: BTreeSet::new(),
            rng: SplitMix64::new(seed),
            next_seq: 0,
        }
    }

    /// The next thing call control should do; drain until `None` after every input.
    pub fn poll_action(&mut self) -> Option<QueueAction> {
        self.actions.pop_front()
    }

    /// When [`Acd::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Call at or after [`Acd::poll_timeout`]; calling early is harmless. Ends offers at their ring
    /// timeout (a missed offer), wrap-ups at their deadline, callers at max wait, and makes announcements.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, timer))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            if self.timer_live(at, timer) {
                self.fire(now, at, timer);
            }
        }
        self.settle(now);
    }

    // ----- callers -----

    /// A caller arrives at `queue` with `priority` (higher is served first; equal priorities in join order).
    /// On refusal the caller is not in the queue; call control sends them to the overflow target.
    pub fn handle_join(
        &mut self,
        now: Instant,
        queue: u64,
        call: CallId,
        priority: u8,
    ) -> Result<Joined, JoinRefused> {
        let Some(q) = self.queues.get(&queue) else {
            return Err(JoinRefused {
                reason: RefuseReason::UnknownQueue,
                overflow: None,
            });
        };
        let refuse = |reason| {
            Err(JoinRefused {
                reason,
                overflow: q.config.overflow.clone(),
            })
        };
        let refusal = if self.callers.contains_key(&call) {
            Some(RefuseReason::AlreadyQueued)
        } else if q
            .config
            .max_callers
            .is_some_and(|max| q.waiting.len() >= max as usize)
        {
            Some(RefuseReason::Full)
        } else if !q.config.join_empty && !self.anyone_logged_in(q) {
            Some(RefuseReason::NoAgents)
        } else {
            None
        };
        if let Some(reason) = refusal {
            let result = refuse(reason);
            if reason != RefuseReason::AlreadyQueued {
                if let Some(q) = self.queues.get_mut(&queue) {
                    q.tally.stats.refused += 1;
                }
            }
            return result;
        }

        let config = &q.config;
        let key = WaitKey {
            rank: Reverse(priority),
            seq: self.next_seq,
        };
        self.next_seq += 1;
        let distinct_tiers = {
            let mut p: Vec<u32> = config.members.iter().map(|m| m.penalty).collect();
            p.sort_unstable();
            p.dedup();
            p.len()
        };
        let caller = Caller {
            queue,
            key,
            joined: now,
            offers: Vec::new(),
            tried: Vec::new(),
            callback: None,
            max_wait_at: config.max_wait.and_then(|d| now.checked_add(d)),
            next_announce: config
                .announce_every
                .and_then(|_| now.checked_add(config.first_announce_after)),
            callback_offer_at: config.callback.and_then(|c| now.checked_add(c.offer_after)),
            next_escalate: config
                .tier_wait
                .filter(|_| distinct_tiers > 1)
                .and_then(|d| now.checked_add(d)),
        };
        let position = q.waiting.range(..key).count() + 1;
        for (at, timer) in [
            (caller.max_wait_at, Timer::MaxWait(call)),
            (caller.next_announce, Timer::Announce(call)),
            (caller.callback_offer_at, Timer::CallbackOffer(call)),
            (caller.next_escalate, Timer::Escalate(call)),
        ] {
            if let Some(at) = at {
                self.timers.push(Reverse((at, timer)));
            }
        }
        self.callers.insert(call, caller);
        if let Some(q) = self.queues.get_mut(&queue) {
            q.waiting.insert(key, call);
            q.unoffered.insert(key, call);
            q.tally.stats.joined += 1;
        }
        self.dirty.insert(queue);
        self.settle(now);
        Ok(Joined {
            position: u32::try_from(position).unwrap_or(u32::MAX),
        })
    }

    /// The caller hung up (or, for a callback request, it was cancelled). Offers out for them are
    /// cancelled. False if the call was not waiting.
    pub fn handle_abandon(&mut self, now: Instant, call: CallId) -> bool {
        let Some(caller) = self.remove_caller(call) else {
            return false;
        };
        if let Some(q) = self.queues.get_mut(&caller.queue) {
            q.tally
                .abandoned(now.saturating_duration_since(caller.joined));
        }
        self.settle(now);
        true
    }

    /// `user` answered the offer of `call` (for a callback: the agent's leg answered). The first answer
    /// wins: the caller leaves the queue with [`QueueAction::Connect`] and other offers are cancelled. An
    /// answer to an offer that is no longer out (the caller left, another agent won) gets
    /// [`QueueAction::CancelOffer`] so call control ends that leg; returns false then.
    pub fn handle_offer_answered(&mut self, now: Instant, call: CallId, user: &str) -> bool {
        let ringing = self
            .agent_index
            .get(user)
            .copied()
            .filter(|&a| self.agents[a].state == AgentState::Ringing { call })
            .filter(|_| self.callers.contains_key(&call));
        let Some(a) = ringing else {
            self.actions.push_back(QueueAction::CancelOffer {
                call,
                user: user.to_owned(),
            });
            return false;
        };
        if let Some(caller) = self.callers.get_mut(&call) {
            caller.offers.retain(|&o| o != a);
        }
        let callback = self.callers.get(&call).and_then(|c| c.callback.clone());
        self.actions.push_back(QueueAction::Connect {
            call,
            user: user.to_owned(),
            callback,
        });
        let Some(caller) = self.remove_caller(call) else {
            return false;
        };
        let agent = &mut self.agents[a];
        agent.current = Some(CurrentCall {
            call,
            queue: Some(caller.queue),
            answered_at: now,
        });
        agent.state = AgentState::InCall { call };
        agent.ring_until = None;
        agent.missed_in_row = 0;
        agent.stats.answered += 1;
        if let Some(q) = self.queues.get_mut(&caller.queue) {
            let wait = now.saturating_duration_since(caller.joined);
            q.tally.answered(wait, q.config.service_level);
            if let Some(m) = q.members.iter_mut().find(|m| m.agent == a) {
                m.calls += 1;
            }
        }
        self.settle(now);
        true
    }

    /// The offer of `call` to `user` ended unanswered (no answer, declined, unreachable): a missed offer.
    /// The caller is offered to the next agent. Reports about offers no longer out are ignored.
    pub fn handle_offer_failed(&mut self, now: Instant, call: CallId, user: &str) {
        if let Some(a) = self.ringing_for(user, call) {
            self.end_offer(a, call, OfferEnd::Missed);
        }
        self.settle(now);
    }

    /// `user`'s queue call ended: talk time is recorded and the agent goes to wrap-up.
    pub fn handle_queue_call_ended(&mut self, now: Instant, user: &str) {
        let Some(&a) = self.agent_index.get(user) else {
            return;
        };
        self.end_current_call(now, a);
        self.settle(now);
    }

    /// The caller asked to be called back on `number`: they keep their place, hang up, and get
    /// [`QueueAction::StartCallback`] when their turn comes. Offers out for them are cancelled (their turn
    /// comes again at once if an agent is free). False if the call is not waiting, already a callback, or
    /// the number is empty.
    pub fn handle_callback_request(&mut self, now: Instant, call: CallId, number: &str) -> bool {
        let Some(caller) = self.callers.get(&call) else {
            return false;
        };
        if caller.callback.is_some() || number.is_empty() {
            return false;
        }
        let (queue, offers) = (caller.queue, caller.offers.clone());
        for a in offers {
            self.end_offer(a, call, OfferEnd::Cancelled);
        }
        if let Some(caller) = self.callers.get_mut(&call) {
            caller.callback = Some(number.to_owned());
            // Nobody is holding to hear announcements, and nobody to overflow.
            caller.next_announce = None;
            caller.max_wait_at = None;
            caller.callback_offer_at = None;
        }
        if let Some(q) = self.queues.get_mut(&queue) {
            q.tally.stats.callbacks_requested += 1;
        }
        self.dirty.insert(queue);
        self.settle(now);
        true
    }

    // ----- agents -----

    /// The user logs in to every queue they are a member of (or later become one of).
    pub fn handle_login(&mut self, now: Instant, user: &str) {
        let a = self.agent_or_create(user);
        let agent = &mut self.agents[a];
        if agent.state == AgentState::LoggedOut {
            agent.state = agent.resumed();
            agent.idle_since = Some(now);
            agent.missed_in_row = 0;
            self.mark_agent_dirty(a);
        }
        self.settle(now);
    }

    /// The user logs out; an offer ringing them is cancelled. Queues with `leave_empty` send their callers
    /// to overflow when this was their last logged-in member.
    pub fn handle_logout(&mut self, now: Instant, user: &str) {
        let Some(&a) = self.agent_index.get(user) else {
            return;
        };
        if self.agents[a].state == AgentState::LoggedOut {
            return;
        }
        self.leave_state(a, AgentState::LoggedOut);
        self.overflow_if_empty(a);
        self.settle(now);
    }

    /// The agent takes no offers until [`Acd::handle_unpause`]. Ignored when logged out.
    pub fn handle_pause(&mut self, now: Instant, user: &str, reason: &str) {
        if let Some(a) = self.logged_in(user) {
            self.leave_state(
                a,
                AgentState::Paused {
                    reason: reason.to_owned(),
                },
            );
        }
        self.settle(now);
    }

    /// Ends a pause (also an automatic one); the missed-offer count starts over.
    pub fn handle_unpause(&mut self, now: Instant, user: &str) {
        if let Some(&a) = self.agent_index.get(user) {
            let agent = &mut self.agents[a];
            if matches!(agent.state, AgentState::Paused { .. }) {
                agent.state = agent.resumed();
                agent.missed_in_row = 0;
                self.mark_agent_dirty(a);
            }
        }
        self.settle(now);
    }

    /// Do-not-disturb on or off; like a pause without a reason. Ignored when logged out.
    pub fn handle_dnd(&mut self, now: Instant, user: &str, on: bool) {
        if on {
            if let Some(a) = self.logged_in(user) {
                self.leave_state(a, AgentState::DoNotDisturb);
            }
        } else if let Some(&a) = self.agent_index.get(user) {
            let agent = &mut self.agents[a];
            if agent.state == AgentState::DoNotDisturb {
                agent.state = agent.resumed();
                self.mark_agent_dirty(a);
            }
        }
        self.settle(now);
    }

    /// The user is (or is no longer) in a call that is not a queue call. A busy agent gets no offers and
    /// counts as busy for tiers; an offer ringing them when they become busy is cancelled, not missed.
    pub fn handle_agent_busy(&mut self, now: Instant, user: &str, busy: bool) {
        let a = self.agent_or_create(user);
        if self.agents[a].busy_elsewhere != busy {
            if busy {
                self.cancel_ringing(a);
            }
            self.agents[a].busy_elsewhere = busy;
            self.mark_agent_dirty(a);
        }
        self.settle(now);
    }

    // ----- helpers shared with the other files -----

    pub(super) fn agent_or_create(&mut self, user: &str) -> AgentIdx {
        if let Some(&a) = self.agent_index.get(user) {
            return a;
        }
        let a = self.agents.len();
        self.agents.push(Agent {
            user: user.to_owned(),
            state: AgentState::LoggedOut,
            busy_elsewhere: false,
            ring_until: None,
            current: None,
            idle_since: None,
            missed_in_row: 0,
            queues: Vec::new(),
            stats: AgentStats::default(),
        });
        self.agent_index.insert(user.to_owned(), a);
        a
    }

    fn logged_in(&self, user: &str) -> Option<AgentIdx> {
        self.agent_index
            .get(user)
            .copied()
            .filter(|&a| self.agents[a].state != AgentState::LoggedOut)
    }

    pub(super) fn ringing_for(&self, user: &str, call: CallId) -> Option<AgentIdx> {
        self.agent_index
            .get(user)
            .copied()
            .filter(|&a| self.agents[a].state == AgentState::Ringing { call })
    }

    pub(super) fn anyone_logged_in(&self, q: &Queue) -> bool {
        q.members
            .iter()
            .any(|m| self.agents[m.agent].state != AgentState::LoggedOut)
    }

    /// Cancels an offer ringing the agent (not a miss: the agent did not let it ring out).
    pub(super) fn cancel_ringing(&mut self, a: AgentIdx) {
        if let AgentState::Ringing { call } = self.agents[a].state {
            self.end_offer(a, call, OfferEnd::Cancelled);
        }
    }

    /// Moves the agent to a pause, do-not-disturb or logged out, cancelling a ringing offer first.
    fn leave_state(&mut self, a: AgentIdx, state: AgentState) {
        self.cancel_ringing(a);
        self.agents[a].state = state;
        self.mark_agent_dirty(a);
    }

    /// Records the end of the agent's queue call and starts wrap-up if they were in it.
    pub(super) fn end_current_call(&mut self, now: Instant, a: AgentIdx) {
        let Some(current) = self.agents[a].current.take() else {
            return;
        };
        let talk = now.saturating_duration_since(current.answered_at);
        let queue = current.queue.and_then(|q| self.queues.get_mut(&q));
        let wrap_up = queue.as_ref().map(|q| q.config.wrap_up).unwrap_or_default();
        if let Some(q) = queue {
            q.tally.call_ended(talk, wrap_up);
        }
        let agent = &mut self.agents[a];
        agent.stats.talk_time = agent.stats.talk_time.saturating_add(talk);
        agent.idle_since = Some(now);
        if agent.state == (AgentState::InCall { call: current.call }) {
            match now.checked_add(wrap_up).filter(|_| !wrap_up.is_zero()) {
                Some(until) => {
                    agent.state = AgentState::WrapUp { until };
                    self.timers.push(Reverse((until, Timer::WrapEnd(a))));
                }
                None => agent.state = AgentState::Available,
            }
        }
        self.mark_agent_dirty(a);
    }

    /// Ends one offer. The agent returns to what they were doing; a miss counts towards auto-pause.
    pub(super) fn end_offer(&mut self, a: AgentIdx, call: CallId, how: OfferEnd) {
        let agent = &mut self.agents[a];
        if agent.state != (AgentState::Ringing { call }) {
            return;
        }
        agent.state = agent.resumed();
        agent.ring_until = None;
        let queue = self.callers.get_mut(&call).map(|caller| {
            caller.offers.retain(|&o| o != a);
            (caller.queue, caller.key, caller.offers.is_empty())
        });
        if how != OfferEnd::Missed {
            self.actions.push_back(QueueAction::CancelOffer {
                call,
                user: self.agents[a].user.clone(),
            });
        }
        if let Some((qid, key, now_unoffered)) = queue {
            if let Some(q) = self.queues.get_mut(&qid) {
                if now_unoffered {
                    q.unoffered.insert(key, call);
                }
                if how != OfferEnd::Cancelled {
                    q.tally.stats.missed_offers += 1;
                    let agent = &mut self.agents[a];
                    agent.stats.missed_offers += 1;
                    agent.missed_in_row += 1;
                    if q.config
                        .auto_pause_after
                        .is_some_and(|n| agent.missed_in_row >= n)
                        && agent.state == AgentState::Available
                    {
                        agent.state = AgentState::Paused {
                            reason: AUTO_PAUSE_REASON.to_owned(),
                        };
                        self.actions.push_back(QueueAction::AgentAutoPaused {
                            user: agent.user.clone(),
                            queue: qid,
                            missed: agent.missed_in_row,
                        });
                    }
                }
            }
        }
        self.mark_agent_dirty(a);
    }

    pub(super) fn mark_agent_dirty(&mut self, a: AgentIdx) {
        self.dirty.extend(self.agents[a].queues.iter().copied());
    }
}

/// How an offer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OfferEnd {
    /// Ended by the core or by the agent's other state; call control must stop ringing.
    Cancelled,
    /// Failed out there (call control reported it): counts as a miss, nothing to cancel.
    Missed,
    /// Rang until the ring timeout: a miss, and call control must stop ringing.
    TimedOut,
}
