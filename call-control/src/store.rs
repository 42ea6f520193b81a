//! Live state that outlives one call and is shared by calls — and, once several nodes share the
//! load, by nodes: who is in a call, what each hunt group remembers between calls, who logged out
//! of the queues, and the queues themselves (waiting callers, agents, statistics).
//!
//! Call control reaches that state only through these two interfaces, and synchronously: it is a
//! core, so nothing here may wait. [`InProcess`] and routing's [`Acd`] keep it in this process.
//! A shared implementation (Redis, when several nodes run side by side) keeps a replica here that
//! its shell synchronises, so reads stay synchronous and writes leave in the order made.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use sip_core::b2bua::CallRef;
use switchboard_routing::hunt::GroupState;
use switchboard_routing::queue::{
    Acd, AgentState, CallId, JoinRefused, Joined, LiveLeg, QueueAction, QueueConfig, QueueSnapshot,
    QueueStats,
};
use switchboard_routing::RoutingError;

use crate::presence::{Presence, PresenceStatus};

/// Who is in a call, hunt groups' memory, and agents who logged out.
pub trait LiveStore: Send {
    /// `user` is now talking in `call` (`true`), or no longer (`false`).
    fn set_in_call(&mut self, user: &str, call: CallRef, in_call: bool);
    /// Whether `user` is talking in any call: a hunt group skips them (or rings anyway).
    fn in_call(&self, user: &str) -> bool;
    /// What hunt group `group` remembers (round robin, when members last finished a call), lent
    /// to the group's next hunt.
    fn group_memory(&mut self, group: i64) -> &mut GroupState;
    /// The user logged out of the queues through the API: queues do not log them in again by
    /// themselves.
    fn logged_out(&self, user: &str) -> bool;
    fn set_logged_out(&mut self, user: &str, logged_out: bool);
    /// A user's presence, when other than plain available.
    fn presence(&self, user: &str) -> Option<Presence>;
    /// Sets (`Some`) or clears (`None`: plain available) a user's presence.
    fn set_presence(&mut self, user: &str, presence: Option<Presence>);
    /// Every presence set, in no particular order.
    fn presences(&self) -> Vec<(String, Presence)>;
    /// A user's presence status (available when none was set); no copy of the note.
    fn presence_status(&self, user: &str) -> PresenceStatus;
    /// The earliest end (`until`, unix ms) of any presence. Asked on every turn of call control's
    /// loop (its timers), so it must not copy the presences.
    fn next_presence_end(&self) -> Option<i64>;
}

/// [`LiveStore`] for one node: plain maps.
#[derive(Debug, Default)]
pub struct InProcess {
    in_call: HashMap<String, HashSet<CallRef>>,
    groups: HashMap<i64, GroupState>,
    logged_out: HashSet<String>,
    presence: HashMap<String, Presence>,
}

impl LiveStore for InProcess {
    fn set_in_call(&mut self, user: &str, call: CallRef, in_call: bool) {
        if in_call {
            self.in_call
                .entry(user.to_owned())
                .or_default()
                .insert(call);
        } else if let Some(calls) = self.in_call.get_mut(user) {
            calls.remove(&call);
            if calls.is_empty() {
                self.in_call.remove(user);
            }
        }
    }

    fn in_call(&self, user: &str) -> bool {
        self.in_call.contains_key(user)
    }

    fn group_memory(&mut self, group: i64) -> &mut GroupState {
        self.groups.entry(group).or_default()
    }

    fn logged_out(&self, user: &str) -> bool {
        self.logged_out.contains(user)
    }

    fn set_logged_out(&mut self, user: &str, logged_out: bool) {
        if logged_out {
            self.logged_out.insert(user.to_owned());
        } else {
            self.logged_out.remove(user);
        }
    }

    fn presence(&self, user: &str) -> Option<Presence> {
        self.presence.get(user).cloned()
    }

    fn set_presence(&mut self, user: &str, presence: Option<Presence>) {
        match presence {
            Some(p) => {
                self.presence.insert(user.to_owned(), p);
            }
            None => {
                self.presence.remove(user);
            }
        }
    }

    fn presences(&self) -> Vec<(String, Presence)> {
        self.presence
            .iter()
            .map(|(u, p)| (u.clone(), p.clone()))
            .collect()
    }

    fn presence_status(&self, user: &str) -> PresenceStatus {
        self.presence
            .get(user)
            .map(|p| p.status)
            .unwrap_or_default()
    }

    fn next_presence_end(&self) -> Option<i64> {
        self.presence.values().filter_map(|p| p.until_ms).min()
    }
}

/// The queues: which waiting caller is offered to which agent, and what they count. A state
/// machine like the rest (inputs with `now`, actions polled); routing's [`Acd`] is the one for a
/// single node.
pub trait QueueEngine: Send {
    fn upsert_queue(&mut self, now: Instant, config: QueueConfig) -> Result<(), RoutingError>;
    fn queue_ids(&self) -> Vec<u64>;
    fn handle_join(
        &mut self,
        now: Instant,
        queue: u64,
        call: CallId,
        priority: u8,
    ) -> Result<Joined, JoinRefused>;
    fn handle_abandon(&mut self, now: Instant, call: CallId) -> bool;
    fn handle_offer_answered(&mut self, now: Instant, call: CallId, user: &str) -> bool;
    fn handle_offer_failed(&mut self, now: Instant, call: CallId, user: &str);
    fn handle_queue_call_ended(&mut self, now: Instant, user: &str);
    fn handle_callback_request(&mut self, now: Instant, call: CallId, number: &str) -> bool;
    fn handle_login(&mut self, now: Instant, user: &str);
    fn handle_logout(&mut self, now: Instant, user: &str);
    fn handle_pause(&mut self, now: Instant, user: &str, reason: &str);
    fn handle_unpause(&mut self, now: Instant, user: &str);
    fn handle_dnd(&mut self, now: Instant, user: &str, on: bool);
    fn handle_agent_busy(&mut self, now: Instant, user: &str, busy: bool);
    fn force_reset(&mut self, now: Instant, user: &str) -> bool;
    /// Checks the queues against the calls that really exist; returns how many it mended.
    fn reconcile(&mut self, now: Instant, live: &[LiveLeg]) -> usize;
    fn handle_timeout(&mut self, now: Instant);
    fn poll_timeout(&self) -> Option<Instant>;
    fn poll_action(&mut self) -> Option<QueueAction>;
    fn agent_state(&self, user: &str) -> Option<&AgentState>;
    fn queue_stats(&self, id: u64) -> Option<QueueStats>;
    fn waiting_count(&self, id: u64) -> Option<usize>;
    fn snapshot(&self, now: Instant, id: u64) -> Option<QueueSnapshot>;
}

impl QueueEngine for Acd {
    fn upsert_queue(&mut self, now: Instant, config: QueueConfig) -> Result<(), RoutingError> {
        Acd::upsert_queue(self, now, config)
    }
    fn queue_ids(&self) -> Vec<u64> {
        Acd::queue_ids(self).collect()
    }
    fn handle_join(
        &mut self,
        now: Instant,
        queue: u64,
        call: CallId,
        priority: u8,
    ) -> Result<Joined, JoinRefused> {
        Acd::handle_join(self, now, queue, call, priority)
    }
    fn handle_abandon(&mut self, now: Instant, call: CallId) -> bool {
        Acd::handle_abandon(self, now, call)
    }
    fn handle_offer_answered(&mut self, now: Instant, call: CallId, user: &str) -> bool {
        Acd::handle_offer_answered(self, now, call, user)
    }
    fn handle_offer_failed(&mut self, now: Instant, call: CallId, user: &str) {
        Acd::handle_offer_failed(self, now, call, user)
    }
    fn handle_queue_call_ended(&mut self, now: Instant, user: &str) {
        Acd::handle_queue_call_ended(self, now, user)
    }
    fn handle_callback_request(&mut self, now: Instant, call: CallId, number: &str) -> bool {
        Acd::handle_callback_request(self, now, call, number)
    }
    fn handle_login(&mut self, now: Instant, user: &str) {
        Acd::handle_login(self, now, user)
    }
    fn handle_logout(&mut self, now: Instant, user: &str) {
        Acd::handle_logout(self, now, user)
    }
    fn handle_pause(&mut self, now: Instant, user: &str, reason: &str) {
        Acd::handle_pause(self, now, user, reason)
    }
    fn handle_unpause(&mut self, now: Instant, user: &str) {
        Acd::handle_unpause(self, now, user)
    }
    fn handle_dnd(&mut self, now: Instant, user: &str, on: bool) {
        Acd::handle_dnd(self, now, user, on)
    }
    fn handle_agent_busy(&mut self, now: Instant, user: &str, busy: bool) {
        Acd::handle_agent_busy(self, now, user, busy)
    }
    fn force_reset(&mut self, now: Instant, user: &str) -> bool {
        Acd::force_reset(self, now, user)
    }
    fn reconcile(&mut self, now: Instant, live: &[LiveLeg]) -> usize {
        Acd::reconcile(self, now, live)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Acd::handle_timeout(self, now)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Acd::poll_timeout(self)
    }
    fn poll_action(&mut self) -> Option<QueueAction> {
        Acd::poll_action(self)
    }
    fn agent_state(&self, user: &str) -> Option<&AgentState> {
        Acd::agent_state(self, user)
    }
    fn queue_stats(&self, id: u64) -> Option<QueueStats> {
        Acd::queue_stats(self, id)
    }
    fn waiting_count(&self, id: u64) -> Option<usize> {
        Acd::waiting_count(self, id)
    }
    fn snapshot(&self, now: Instant, id: u64) -> Option<QueueSnapshot> {
        Acd::snapshot(self, now, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_in_two_calls_stays_in_a_call_until_both_end() {
        let mut store = InProcess::default();
        store.set_in_call("1001", CallRef(1), true);
        store.set_in_call("1001", CallRef(2), true);
        store.set_in_call("1001", CallRef(1), false);
        assert!(store.in_call("1001"));
        store.set_in_call("1001", CallRef(2), false);
        assert!(!store.in_call("1001"));
        store.set_in_call("1002", CallRef(3), false);
        assert!(!store.in_call("1002"), "leaving a call never joined");
    }

    #[test]
    fn hunt_group_memory_and_logouts_are_kept() {
        let mut store = InProcess::default();
        store.group_memory(5).last_rung = Some("1002".into());
        assert_eq!(store.group_memory(5).last_rung.as_deref(), Some("1002"));
        assert_eq!(store.group_memory(6).last_rung, None);
        store.set_logged_out("1001", true);
        assert!(store.logged_out("1001"));
        store.set_logged_out("1001", false);
        assert!(!store.logged_out("1001"));
    }
}
