//! One call's hunt through a group.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::{
    BusyPolicy, FailReason, GroupState, HuntAction, HuntGroup, HuntOutcome, Leg, MemberPresence,
    Strategy,
};
use crate::RoutingError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegState {
    Idle,
    /// Starts ringing at this instant.
    Pending(Instant),
    Ringing,
    /// Picked up; call control is asking for 1.
    Confirming,
}

impl LegState {
    /// Call control has a leg out there that must be connected, cancelled or reported failed.
    fn live(self) -> bool {
        matches!(self, LegState::Ringing | LegState::Confirming)
    }
}

/// One member's part in this call.
#[derive(Debug, Clone)]
struct Run {
    presence: MemberPresence,
    app: LegState,
    cellular: LegState,
    /// Not to be rung again in this call.
    app_retired: bool,
    cellular_retired: bool,
}

impl Run {
    fn leg(&self, leg: Leg) -> LegState {
        match leg {
            Leg::App => self.app,
            Leg::Cellular => self.cellular,
        }
    }

    fn set(&mut self, leg: Leg, state: LegState) {
        match leg {
            Leg::App => self.app = state,
            Leg::Cellular => self.cellular = state,
        }
    }

    fn retire(&mut self, leg: Leg) {
        match leg {
            Leg::App => self.app_retired = true,
            Leg::Cellular => self.cellular_retired = true,
        }
    }

    /// Has a leg ringing, confirming or about to ring.
    fn active(&self) -> bool {
        self.app != LegState::Idle || self.cellular != LegState::Idle
    }

    fn confirming(&self) -> bool {
        self.app == LegState::Confirming || self.cellular == LegState::Confirming
    }
}

/// The hunt for one incoming call. See the [module documentation](super) for the model and the rules.
#[derive(Debug, Clone)]
pub struct HuntCall {
    group: HuntGroup,
    /// Member indices in the order this call rings them.
    order: Vec<usize>,
    /// Indexed like `group.members`.
    runs: Vec<Run>,
    /// `None` when the timeout is too far away for `Instant` to hold: never.
    deadline: Option<Instant>,
    /// Sequential strategies: position in `order` of the member whose turn it is, or was last.
    cursor: Option<usize>,
    turn_end: Option<Instant>,
    first_rung: Option<usize>,
    outcome: Option<HuntOutcome>,
    actions: VecDeque<HuntAction>,
}

impl HuntCall {
    /// Starts the hunt: decides the ring order from `state`, rings the first members, and for round robin
    /// records in `state` whom this call rang first. `presence` is asked once per member.
    pub fn start(
        group: &HuntGroup,
        state: &mut GroupState,
        now: Instant,
        mut presence: impl FnMut(&str) -> MemberPresence,
    ) -> Result<Self, RoutingError> {
        group.validate()?;
        let runs = group
            .members
            .iter()
            .map(|m| Run {
                presence: presence(&m.id),
                app: LegState::Idle,
                cellular: LegState::Idle,
                app_retired: false,
                cellular_retired: false,
            })
            .collect();
        let mut call = HuntCall {
            order: ring_order(group, state),
            group: group.clone(),
            runs,
            deadline: now.checked_add(group.timeout),
            cursor: None,
            turn_end: None,
            first_rung: None,
            outcome: None,
            actions: VecDeque::new(),
        };
        call.settle(now);
        if group.strategy == Strategy::RoundRobin {
            if let Some(first) = call.first_rung {
                state.last_rung = Some(group.members[first].id.clone());
            }
        }
        Ok(call)
    }

    /// A leg answered (for a leg with confirmation: the person pressed 1). The first answer wins.
    pub fn handle_answered(&mut self, member: &str, leg: Leg, _now: Instant) {
        if let Some(HuntOutcome::Connected { member: m, leg: l }) = &self.outcome {
            if m == member && *l == leg {
                return;
            }
        }
        let ringing = self.index(member).filter(|&i| self.runs[i].leg(leg).live());
        let (Some(i), None) = (ringing, &self.outcome) else {
            // A dialog exists now (an answer that crossed our cancel); nobody will use it.
            self.actions.push_back(HuntAction::Cancel {
                member: member.to_owned(),
                leg,
            });
            return;
        };
        self.runs[i].set(leg, LegState::Idle);
        self.actions.push_back(HuntAction::Connect {
            member: member.to_owned(),
            leg,
        });
        self.end_all();
        self.outcome = Some(HuntOutcome::Connected {
            member: member.to_owned(),
            leg,
        });
    }

    /// A cellular leg was picked up and the confirmation prompt is playing. Until it resolves, the member's
    /// ring time does not end their turn; only the group timeout does.
    pub fn handle_confirming(&mut self, member: &str, _now: Instant) {
        if self.outcome.is_some() {
            return;
        }
        if let Some(i) = self.index(member) {
            if self.runs[i].cellular == LegState::Ringing {
                self.runs[i].cellular = LegState::Confirming;
            }
        }
    }

    /// A leg ended without being answered.
    pub fn handle_failed(&mut self, member: &str, leg: Leg, reason: FailReason, now: Instant) {
        if self.outcome.is_some() {
            return;
        }
        let Some(i) = self.index(member).filter(|&i| self.runs[i].leg(leg).live()) else {
            return;
        };
        self.runs[i].set(leg, LegState::Idle);
        match reason {
            FailReason::Busy | FailReason::Rejected => {
                self.runs[i].retire(Leg::App);
                self.runs[i].retire(Leg::Cellular);
                self.end_member(i);
            }
            FailReason::Unreachable | FailReason::Declined => self.runs[i].retire(leg),
            FailReason::NoAnswer => {}
        }
        // The delay only gives the app a head start; once the app leg is over there is nothing to wait for.
        if leg == Leg::App && matches!(self.runs[i].cellular, LegState::Pending(_)) {
            self.start_cellular(i);
        }
        self.settle(now);
    }

    /// New presence for a member. Logging out, or becoming busy when the group skips busy members, ends the
    /// member's legs in this call; becoming available lets a ring-all hunt ring them.
    pub fn handle_presence(&mut self, member: &str, presence: MemberPresence, now: Instant) {
        if self.outcome.is_some() {
            return;
        }
        let Some(i) = self.index(member) else {
            return;
        };
        self.runs[i].presence = presence;
        if !presence.logged_in || (presence.busy && self.group.busy == BusyPolicy::Skip) {
            self.end_member(i);
        } else if matches!(self.runs[i].cellular, LegState::Pending(_))
            && !self.can_ring(i, Leg::Cellular)
        {
            self.runs[i].cellular = LegState::Idle;
        }
        self.settle(now);
    }

    /// Call at or after [`HuntCall::poll_timeout`]; calling early is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.settle(now);
    }

    /// The caller gave up: every leg is cancelled, and the hunt ends without `Exhausted`.
    pub fn handle_caller_hung_up(&mut self, _now: Instant) {
        if self.outcome.is_some() {
            return;
        }
        self.end_all();
        self.outcome = Some(HuntOutcome::CallerHungUp);
    }

    /// The next thing call control should do; drain until `None` after every input.
    pub fn poll_action(&mut self) -> Option<HuntAction> {
        self.actions.pop_front()
    }

    /// When [`HuntCall::handle_timeout`] must be called next; `None` once the hunt is over.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.outcome.is_some() {
            return None;
        }
        let pending = self.runs.iter().filter_map(|r| match r.cellular {
            LegState::Pending(at) => Some(at),
            _ => None,
        });
        let turn_end = self
            .current()
            .filter(|&i| self.runs[i].active() && !self.runs[i].confirming())
            .and(self.turn_end);
        pending.chain(turn_end).chain(self.deadline).min()
    }

    /// How the hunt ended, once it has.
    pub fn outcome(&self) -> Option<&HuntOutcome> {
        self.outcome.as_ref()
    }

    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }

    pub fn group(&self) -> &HuntGroup {
        &self.group
    }

    fn index(&self, member: &str) -> Option<usize> {
        self.group.members.iter().position(|m| m.id == member)
    }

    /// The member whose turn it is in the sequential strategies.
    fn current(&self) -> Option<usize> {
        self.cursor.and_then(|k| self.order.get(k).copied())
    }

    fn can_ring(&self, i: usize, leg: Leg) -> bool {
        let run = &self.runs[i];
        let p = run.presence;
        if !p.logged_in || (p.busy && self.group.busy == BusyPolicy::Skip) {
            return false;
        }
        match leg {
            Leg::App => p.registered && !run.app_retired,
            Leg::Cellular => {
                p.cellular && self.group.members[i].cellular.is_some() && !run.cellular_retired
            }
        }
    }

    fn eligible(&self, i: usize) -> bool {
        self.can_ring(i, Leg::App) || self.can_ring(i, Leg::Cellular)
    }

    /// Runs after every input: the group timeout, the end of a member's turn, delayed cellular legs, and
    /// whom to ring next.
    fn settle(&mut self, now: Instant) {
        if self.outcome.is_some() {
            return;
        }
        if self.deadline.is_some_and(|d| now >= d) {
            self.exhaust();
            return;
        }
        // End a finished turn before starting delayed legs, so a leg due at the same instant is not rung
        // only to be cancelled.
        if let Some(i) = self.current() {
            let time_up = self.turn_end.is_some_and(|t| now >= t);
            if time_up && !self.runs[i].confirming() {
                self.end_member(i);
            }
        }
        for k in 0..self.order.len() {
            let i = self.order[k];
            if matches!(self.runs[i].cellular, LegState::Pending(at) if at <= now) {
                self.start_cellular(i);
            }
        }
        match self.group.strategy {
            Strategy::RingAll => self.ring_all(now),
            Strategy::Sequential | Strategy::RoundRobin | Strategy::LongestIdle => {
                if self.current().is_none_or(|i| !self.runs[i].active()) {
                    self.next_turn(now);
                }
            }
        }
    }

    fn ring_all(&mut self, now: Instant) {
        for k in 0..self.order.len() {
            let i = self.order[k];
            if !self.runs[i].active() && self.eligible(i) {
                self.begin_member(i, now);
            }
        }
        if !self.runs.iter().any(Run::active) {
            self.exhaust();
        }
    }

    /// Gives the turn to the next eligible member after the current one, going round the list.
    fn next_turn(&mut self, now: Instant) {
        let n = self.order.len();
        let from = self.cursor.map_or(0, |k| k + 1);
        for step in 0..n {
            let k = (from + step) % n;
            let i = self.order[k];
            if self.eligible(i) && self.begin_member(i, now) {
                let ring_time = self.group.members[i]
                    .ring_time
                    .unwrap_or(self.group.ring_time);
                self.cursor = Some(k);
                self.turn_end = now.checked_add(ring_time);
                return;
            }
        }
        self.exhaust();
    }

    /// Rings the member's app leg and starts or schedules the cellular leg; false if nothing could ring.
    fn begin_member(&mut self, i: usize, now: Instant) -> bool {
        let app = self.can_ring(i, Leg::App);
        if app {
            self.ring(i, Leg::App);
        }
        if self.can_ring(i, Leg::Cellular) {
            let delay = match (app, self.group.members[i].cellular) {
                (true, Some(c)) => c.delay,
                _ => Duration::ZERO,
            };
            if delay.is_zero() {
                self.ring(i, Leg::Cellular);
            } else if let Some(at) = now.checked_add(delay) {
                self.runs[i].cellular = LegState::Pending(at);
            }
        }
        let active = self.runs[i].active();
        if active && self.first_rung.is_none() {
            self.first_rung = Some(i);
        }
        active
    }

    fn start_cellular(&mut self, i: usize) {
        if self.can_ring(i, Leg::Cellular) {
            self.ring(i, Leg::Cellular);
        } else {
            self.runs[i].cellular = LegState::Idle;
        }
    }

    fn ring(&mut self, i: usize, leg: Leg) {
        let member = &self.group.members[i];
        let confirm = leg == Leg::Cellular && member.cellular.is_some_and(|c| c.confirm);
        let presence = self.runs[i].presence;
        self.runs[i].set(leg, LegState::Ringing);
        self.actions.push_back(HuntAction::Ring {
            member: member.id.clone(),
            leg,
            confirm,
            call_waiting: presence.busy && self.group.busy == BusyPolicy::CallWaiting,
        });
    }

    /// Cancels the member's live legs and drops a pending one.
    fn end_member(&mut self, i: usize) {
        for leg in [Leg::App, Leg::Cellular] {
            if self.runs[i].leg(leg).live() {
                self.actions.push_back(HuntAction::Cancel {
                    member: self.group.members[i].id.clone(),
                    leg,
                });
            }
            self.runs[i].set(leg, LegState::Idle);
        }
    }

    fn end_all(&mut self) {
        for k in 0..self.order.len() {
            self.end_member(self.order[k]);
        }
    }

    fn exhaust(&mut self) {
        self.end_all();
        self.actions.push_back(HuntAction::Exhausted {
            no_answer: self.group.no_answer.clone(),
        });
        self.outcome = Some(HuntOutcome::Exhausted);
    }
}

fn ring_order(group: &HuntGroup, state: &GroupState) -> Vec<usize> {
    let mut order: Vec<usize> = (0..group.members.len()).collect();
    match group.strategy {
        Strategy::RingAll | Strategy::Sequential => {}
        Strategy::RoundRobin => {
            let last = state.last_rung.as_deref();
            if let Some(pos) = group
                .members
                .iter()
                .position(|m| Some(m.id.as_str()) == last)
            {
                order.rotate_left(pos + 1);
            }
        }
        Strategy::LongestIdle => {
            // `None` (never had a call) sorts first; the sort is stable, so ties keep the configured order.
            order.sort_by_key(|&i| state.last_call_end.get(&group.members[i].id).copied());
        }
    }
    order
}
