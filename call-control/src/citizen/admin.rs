//! Checking the queues against the calls in progress, and the ACD's view of a stored queue.

use std::time::{Duration, Instant};

use switchboard_routing::queue::{
    CallId, CallbackConfig, LiveLeg, QueueConfig, QueueMember, Strategy,
};
use switchboard_schema::{Queue, QueueStrategy};

use super::Stage;
use crate::CallControl;

impl CallControl {
    /// Brings the queues in line with the calls call control really has: callers waiting, agents
    /// connected, offers still ringing, and staff in calls that are not queue calls. Run now and
    /// then, so no agent or caller state can outlive a lost event.
    pub(crate) fn reconcile_queues(&mut self, now: Instant) {
        let mut live: Vec<LiveLeg> = Vec::new();
        for (call, c) in &self.calls {
            let id = CallId(call.0);
            match c.local.as_ref().map(|l| (&l.stage, &l.agent)) {
                Some((Stage::Queue { .. }, _)) => live.push(LiveLeg::Caller(id)),
                Some((Stage::Handed, Some(user))) => live.push(LiveLeg::Connected {
                    call: id,
                    user: user.clone(),
                }),
                _ => {}
            }
            if let Some(cb) = &c.callback {
                live.push(if cb.agent_answered {
                    LiveLeg::Connected {
                        call: cb.id,
                        user: cb.user.clone(),
                    }
                } else {
                    LiveLeg::Offer {
                        call: cb.id,
                        user: cb.user.clone(),
                    }
                });
            }
            live.extend(c.offer_legs.keys().map(|user| LiveLeg::Offer {
                call: id,
                user: user.clone(),
            }));
            if c.local.is_none() && c.callback.is_none() {
                live.extend(
                    c.talking
                        .iter()
                        .map(|user| LiveLeg::Busy { user: user.clone() }),
                );
            }
        }
        let fixed = self.acd.reconcile(now, &live);
        if fixed > 0 {
            tracing::warn!(corrections = fixed, "queues reconciled with the live calls");
        }
        self.carry_out_acd(now);
    }
}

/// The ACD's view of a stored queue.
pub(super) fn queue_config(q: &Queue) -> QueueConfig {
    let secs = |s: i64| Duration::from_secs(s.max(0) as u64);
    let strategy = match q.strategy {
        QueueStrategy::RingAll => Strategy::RingAll,
        QueueStrategy::Linear => Strategy::Linear,
        QueueStrategy::RoundRobin => Strategy::RoundRobin,
        QueueStrategy::LongestIdle => Strategy::LongestIdle,
        QueueStrategy::FewestCalls => Strategy::FewestCalls,
        QueueStrategy::Random => Strategy::Random,
    };
    let members = q
        .members
        .iter()
        .map(|m| QueueMember::new(m.user.clone(), m.penalty.max(0) as u32))
        .collect();
    let mut c = QueueConfig::new(q.id as u64, q.name.clone(), strategy, members);
    c.ring_timeout = secs(q.ring_timeout_secs);
    c.wrap_up = secs(q.wrap_up_secs);
    c.max_callers = q.max_callers.map(|n| n.max(0) as u32);
    c.max_wait = q.max_wait_secs.map(secs);
    c.overflow = match (q.overflow_kind, q.overflow_ref.as_deref()) {
        (Some(kind), Some(r)) => {
            switchboard_routing::menu::parse_target(&format!("{}:{r}", kind.as_str()))
        }
        _ => None,
    };
    c.tier_wait = q.tier_wait_secs.map(secs);
    c.auto_pause_after = q.auto_pause_after.map(|n| n.max(0) as u32);
    c.announce_every = q.announce_every_secs.map(secs);
    c.first_announce_after = secs(q.first_announce_after_secs);
    c.service_level = secs(q.service_level_secs);
    c.join_empty = q.join_empty;
    c.leave_empty = q.leave_empty;
    c.callback = q.callback_after_secs.map(|s| CallbackConfig {
        offer_after: secs(s),
    });
    c
}
