//! Configuration changes, repairs (force reset, reconcile) and introspection for the console and admin API.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use super::acd::{Acd, CurrentCall, Member, OfferEnd, Queue};
use super::config::QueueConfig;
use super::stats::{
    AgentSnapshot, AgentStats, AgentStatus, QueueSnapshot, QueueStats, QueueTally, WaitingCaller,
};
use super::types::{AgentState, CallId, LiveLeg, OverflowReason};
use crate::RoutingError;

impl Acd {
    /// Adds a queue or replaces its configuration. Waiting callers, statistics and each member's call count
    /// are kept; membership, strategy and tiers apply at once, timers already running for waiting callers
    /// (max wait, announcements) keep their old settings.
    pub fn upsert_queue(&mut self, now: Instant, config: QueueConfig) -> Result<(), RoutingError> {
        config.validate()?;
        let id = config.id;
        let old_calls: HashMap<usize, u64> = self
            .queues
            .get(&id)
            .map(|q| q.members.iter().map(|m| (m.agent, m.calls)).collect())
            .unwrap_or_default();
        let members: Vec<Member> = config
            .members
            .iter()
            .map(|m| {
                let agent = self.agent_or_create(&m.user);
                Member {
                    agent,
                    penalty: m.penalty,
                    calls: old_calls.get(&agent).copied().unwrap_or(0),
                }
            })
            .collect();
        for agent in &mut self.agents {
            agent.queues.retain(|&q| q != id);
        }
        for m in &members {
            self.agents[m.agent].queues.push(id);
        }
        match self.queues.get_mut(&id) {
            Some(q) => {
                q.config = config;
                q.members = members;
            }
            None => {
                self.queues.insert(
                    id,
                    Queue {
                        config,
                        members,
                        waiting: BTreeMap::new(),
                        unoffered: BTreeMap::new(),
                        rr_last: None,
                        tally: QueueTally::default(),
                    },
                );
            }
        }
        self.dirty.insert(id);
        self.settle(now);
        Ok(())
    }

    /// Removes a queue; its waiting callers leave with [`OverflowReason::QueueRemoved`]. False if unknown.
    pub fn remove_queue(&mut self, now: Instant, id: u64) -> bool {
        let Some(q) = self.queues.get(&id) else {
            return false;
        };
        let calls: Vec<CallId> = q.waiting.values().copied().collect();
        for call in calls {
            self.overflow(call, OverflowReason::QueueRemoved);
        }
        self.queues.remove(&id);
        for agent in &mut self.agents {
            agent.queues.retain(|&q| q != id);
        }
        self.settle(now);
        true
    }

    /// An administrator's reset of a user who looks stuck: a ringing offer is cancelled, a queue call or
    /// wrap-up is forgotten (without statistics), the busy flag and missed count are cleared. Logged out,
    /// paused and do-not-disturb stay as they are. False if the user is unknown.
    pub fn force_reset(&mut self, now: Instant, user: &str) -> bool {
        let Some(&a) = self.agent_index.get(user) else {
            return false;
        };
        self.cancel_ringing(a);
        let agent = &mut self.agents[a];
        agent.current = None;
        agent.busy_elsewhere = false;
        agent.missed_in_row = 0;
        if matches!(
            agent.state,
            AgentState::InCall { .. } | AgentState::WrapUp { .. } | AgentState::Ringing { .. }
        ) {
            agent.state = AgentState::Available;
        }
        self.mark_agent_dirty(a);
        self.settle(now);
        true
    }

    /// Brings the core in line with the legs call control really has (after a restart of call control, a
    /// lost event, a crash of a leg). `live` lists every queue-related leg; anything the core believes that
    /// is not there is undone, anything there that the core does not know is adopted or cancelled:
    /// - a holding caller with no `Caller` leg is removed (counted as abandoned);
    /// - an agent ringing with no matching `Offer` leg is freed (not a miss), with a `CancelOffer` to be safe;
    /// - an agent in a queue call with no matching `Connected` leg has the call ended (wrap-up follows);
    /// - a `Connected` leg the core does not know puts the agent in that call;
    /// - the busy flag follows the `Busy` legs;
    /// - an `Offer` leg the core does not know gets a `CancelOffer`.
    ///
    /// Returns how many corrections were made (zero when everything agreed).
    pub fn reconcile(&mut self, now: Instant, live: &[LiveLeg]) -> usize {
        let mut callers = HashSet::new();
        let mut offers = HashSet::new();
        let mut connected: HashMap<&str, CallId> = HashMap::new();
        let mut busy = HashSet::new();
        for leg in live {
            match leg {
                LiveLeg::Caller(call) => {
                    callers.insert(*call);
                }
                LiveLeg::Offer { call, user } => {
                    offers.insert((*call, user.as_str()));
                }
                LiveLeg::Connected { call, user } => {
                    connected.insert(user.as_str(), *call);
                }
                LiveLeg::Busy { user } => {
                    busy.insert(user.as_str());
                }
            }
        }
        let mut fixes = 0;

        let mut gone: Vec<(CallId, u64, Instant)> = self
            .callers
            .iter()
            .filter(|(call, c)| c.callback.is_none() && !callers.contains(*call))
            .map(|(call, c)| (*call, c.queue, c.joined))
            .collect();
        gone.sort_unstable_by_key(|g| g.0);
        for (call, queue, joined) in gone {
            self.remove_caller(call);
            if let Some(q) = self.queues.get_mut(&queue) {
                q.tally.abandoned(now.saturating_duration_since(joined));
            }
            fixes += 1;
        }

        for a in 0..self.agents.len() {
            let user = self.agents[a].user.clone();
            if let AgentState::Ringing { call } = self.agents[a].state {
                if !offers.contains(&(call, user.as_str())) {
                    self.end_offer(a, call, OfferEnd::Cancelled);
                    fixes += 1;
                }
            }
            let real = connected.get(user.as_str()).copied();
            let believed = self.agents[a].current.map(|c| c.call);
            if believed.is_some() && believed != real {
                self.end_current_call(now, a);
                fixes += 1;
            }
            if let Some(call) = real.filter(|&c| Some(c) != believed) {
                self.cancel_ringing(a);
                let agent = &mut self.agents[a];
                agent.current = Some(CurrentCall {
                    call,
                    queue: None,
                    answered_at: now,
                });
                if agent.state.is_present() {
                    agent.state = AgentState::InCall { call };
                }
                fixes += 1;
            }
            let is_busy = busy.contains(user.as_str());
            if self.agents[a].busy_elsewhere != is_busy {
                if is_busy {
                    self.cancel_ringing(a);
                }
                self.agents[a].busy_elsewhere = is_busy;
                fixes += 1;
            }
            self.mark_agent_dirty(a);
        }

        let mut unknown: Vec<(CallId, &str)> = offers
            .iter()
            .filter(|(call, user)| {
                self.ringing_for(user, *call).is_none() && connected.get(user) != Some(call)
            })
            .copied()
            .collect();
        unknown.sort_unstable();
        for (call, user) in unknown {
            self.actions
                .push_back(super::types::QueueAction::CancelOffer {
                    call,
                    user: user.to_owned(),
                });
            fixes += 1;
        }
        self.settle(now);
        fixes
    }

    // ----- introspection -----

    pub fn queue_config(&self, id: u64) -> Option<&QueueConfig> {
        self.queues.get(&id).map(|q| &q.config)
    }

    /// The ids of all queues, ascending.
    pub fn queue_ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.queues.keys().copied()
    }

    pub fn agent_state(&self, user: &str) -> Option<&AgentState> {
        self.agent_index.get(user).map(|&a| &self.agents[a].state)
    }

    pub fn agent_stats(&self, user: &str) -> Option<AgentStats> {
        self.agent_index
            .get(user)
            .map(|&a| self.agents[a].stats.clone())
    }

    pub fn queue_stats(&self, id: u64) -> Option<QueueStats> {
        self.queues.get(&id).map(|q| q.tally.snapshot())
    }

    /// How many callers wait in the queue, callback requests included.
    pub fn waiting_count(&self, id: u64) -> Option<usize> {
        self.queues.get(&id).map(|q| q.waiting.len())
    }

    /// The caller's place in their queue (1 = next), if waiting.
    pub fn position(&self, call: CallId) -> Option<u32> {
        let c = self.callers.get(&call)?;
        let q = self.queues.get(&c.queue)?;
        u32::try_from(q.waiting.range(..c.key).count() + 1).ok()
    }

    /// Waiting callers in serving order and members in member order, with statistics.
    pub fn snapshot(&self, now: Instant, id: u64) -> Option<QueueSnapshot> {
        let q = self.queues.get(&id)?;
        let waiting = q
            .waiting
            .values()
            .enumerate()
            .filter_map(|(i, call)| {
                let c = self.callers.get(call)?;
                Some(WaitingCaller {
                    call: *call,
                    position: u32::try_from(i + 1).unwrap_or(u32::MAX),
                    waited: now.saturating_duration_since(c.joined),
                    priority: c.key.rank.0,
                    callback: c.callback.is_some(),
                    offered_to: c
                        .offers
                        .iter()
                        .map(|&a| self.agents[a].user.clone())
                        .collect(),
                })
            })
            .collect();
        let agents = q
            .members
            .iter()
            .map(|m| {
                let a = &self.agents[m.agent];
                AgentSnapshot {
                    user: a.user.clone(),
                    penalty: m.penalty,
                    status: status(&a.state, now),
                    busy_elsewhere: a.busy_elsewhere,
                    current_call: a.current.map(|c| c.call),
                    missed_in_row: a.missed_in_row,
                    stats: a.stats.clone(),
                }
            })
            .collect();
        Some(QueueSnapshot {
            id,
            name: q.config.name.clone(),
            waiting,
            agents,
            stats: q.tally.snapshot(),
        })
    }
}

fn status(state: &AgentState, now: Instant) -> AgentStatus {
    match state {
        AgentState::LoggedOut => AgentStatus::LoggedOut,
        AgentState::Available => AgentStatus::Available,
        AgentState::Ringing { call } => AgentStatus::Ringing { call: *call },
        AgentState::InCall { call } => AgentStatus::InCall { call: *call },
        AgentState::WrapUp { until } => AgentStatus::WrapUp {
            remaining: until.saturating_duration_since(now),
        },
        AgentState::Paused { reason } => AgentStatus::Paused {
            reason: reason.clone(),
        },
        AgentState::DoNotDisturb => AgentStatus::DoNotDisturb,
    }
}
