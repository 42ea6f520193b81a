//! Tests of the ACD core with simulated time.

mod lifecycle;
mod props;
mod strategies;

use std::time::{Duration, Instant};

use super::*;

/// A queue with `users` as members at penalty 0, no wrap-up, callers may join an empty queue.
pub(super) fn config(id: u64, strategy: Strategy, users: &[&str]) -> QueueConfig {
    let members = users.iter().map(|u| QueueMember::new(*u, 0)).collect();
    let mut c = QueueConfig::new(id, format!("queue {id}"), strategy, members);
    c.wrap_up = Duration::ZERO;
    c.join_empty = true;
    c
}

/// Drives an [`Acd`] with a hand-advanced clock.
pub(super) struct Sim {
    pub acd: Acd,
    pub now: Instant,
}

impl Sim {
    pub fn new(configs: Vec<QueueConfig>, logged_in: &[&str]) -> Self {
        let start = Instant::now();
        let mut acd = Acd::new(7);
        for c in configs {
            acd.upsert_queue(start, c).unwrap();
        }
        for u in logged_in {
            acd.handle_login(start, u);
        }
        let mut sim = Sim { acd, now: start };
        assert_eq!(sim.drain(), vec![]);
        sim
    }

    pub fn drain(&mut self) -> Vec<QueueAction> {
        std::iter::from_fn(|| self.acd.poll_action()).collect()
    }

    /// Advances the clock by `secs`, firing every timer on the way in order.
    pub fn advance(&mut self, secs: u64) -> Vec<QueueAction> {
        let end = self.now + Duration::from_secs(secs);
        let mut out = Vec::new();
        while let Some(t) = self.acd.poll_timeout().filter(|&t| t <= end) {
            self.now = t.max(self.now);
            self.acd.handle_timeout(self.now);
            out.extend(self.drain());
        }
        self.now = end;
        self.acd.handle_timeout(end);
        out.extend(self.drain());
        out
    }

    pub fn join(&mut self, queue: u64, call: u64, priority: u8) -> Joined {
        self.acd
            .handle_join(self.now, queue, CallId(call), priority)
            .unwrap()
    }

    pub fn answer(&mut self, call: u64, user: &str) -> Vec<QueueAction> {
        assert!(self.acd.handle_offer_answered(self.now, CallId(call), user));
        self.drain()
    }

    pub fn end(&mut self, user: &str) -> Vec<QueueAction> {
        self.acd.handle_queue_call_ended(self.now, user);
        self.drain()
    }

    pub fn state(&self, user: &str) -> AgentState {
        self.acd.agent_state(user).cloned().unwrap()
    }
}

pub(super) fn offer(call: u64, user: &str) -> QueueAction {
    QueueAction::Offer {
        call: CallId(call),
        user: user.to_owned(),
        ring_timeout: DEFAULT_RING_TIMEOUT,
    }
}

pub(super) fn cancel(call: u64, user: &str) -> QueueAction {
    QueueAction::CancelOffer {
        call: CallId(call),
        user: user.to_owned(),
    }
}

pub(super) fn connect(call: u64, user: &str) -> QueueAction {
    QueueAction::Connect {
        call: CallId(call),
        user: user.to_owned(),
        callback: None,
    }
}

/// The users offered in these actions, in order.
pub(super) fn offered(actions: &[QueueAction]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            QueueAction::Offer { user, .. } | QueueAction::StartCallback { user, .. } => {
                Some(user.clone())
            }
            _ => None,
        })
        .collect()
}
