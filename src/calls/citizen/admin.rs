//! The citizen's path and the rest of the node: the admin API's questions and orders about live
//! queues, checking the queues against the calls in progress, and the ACD's view of a stored queue.

use std::time::{Duration, Instant};

use mobile_api::{AgentStateChange, QueueRequest};
use sip_core::b2bua::CallRef;
use switchboard_media_rt::MediaRuntime;
use switchboard_routing::queue::{
    AgentState, CallId, CallbackConfig, LiveLeg, QueueConfig, QueueMember, Strategy,
};
use switchboard_schema::{Db, Queue, QueueStrategy};

use super::{Citizen, Stage};

impl Citizen {
    /// A question or an order from the admin API about live queues.
    pub(in crate::calls) async fn handle_request(
        &mut self,
        db: &Db,
        media: &MediaRuntime,
        request: QueueRequest,
    ) {
        let now = Instant::now();
        match request {
            QueueRequest::Snapshot { queue, reply } => {
                let snapshot = self
                    .acd
                    .snapshot(now, queue as u64)
                    .and_then(|s| serde_json::to_value(s).ok());
                let _ = reply.send(snapshot);
            }
            QueueRequest::Stats { reply } => {
                let queues: Vec<serde_json::Value> = self
                    .acd
                    .queue_ids()
                    .filter_map(|id| {
                        let stats = self.acd.queue_stats(id)?;
                        let waiting = self.acd.waiting_count(id).unwrap_or(0);
                        Some(serde_json::json!({ "queue": id, "waiting": waiting, "stats": stats }))
                    })
                    .collect();
                let _ = reply.send(serde_json::json!({ "queues": queues }));
            }
            QueueRequest::SetAgentState { user, state, reply } => {
                tracing::info!(%user, ?state, "agent state set through the API");
                match state {
                    AgentStateChange::Available => {
                        self.logged_out.remove(&user);
                        match self.acd.agent_state(&user) {
                            None | Some(AgentState::LoggedOut) => self.acd.handle_login(now, &user),
                            Some(AgentState::Paused { .. }) => self.acd.handle_unpause(now, &user),
                            Some(AgentState::DoNotDisturb) => {
                                self.acd.handle_dnd(now, &user, false)
                            }
                            Some(_) => {}
                        }
                    }
                    AgentStateChange::Paused { reason } => {
                        let reason = reason.unwrap_or_else(|| "paused".to_string());
                        self.acd.handle_pause(now, &user, &reason);
                    }
                    AgentStateChange::LoggedOut => {
                        self.logged_out.insert(user.clone());
                        self.acd.handle_logout(now, &user);
                    }
                    AgentStateChange::Dnd => self.acd.handle_dnd(now, &user, true),
                    AgentStateChange::Reset => {
                        self.acd.force_reset(now, &user);
                    }
                }
                let _ = reply.send(Ok(()));
                self.carry_out_acd(db, media).await;
            }
        }
    }

    /// Brings the queues in line with the calls call control really has: `offers` are the queue
    /// offers still ringing (call, member), `busy` the staff in calls that are not queue calls. Run
    /// now and then, so no agent or caller state can outlive a lost event.
    pub(in crate::calls) async fn reconcile(
        &mut self,
        db: &Db,
        media: &MediaRuntime,
        offers: impl Iterator<Item = (CallRef, String)>,
        busy: impl Iterator<Item = String>,
    ) {
        let mut live: Vec<LiveLeg> = Vec::new();
        for (call, local) in &self.calls {
            match (&local.stage, &local.agent) {
                (Stage::Queue { .. }, _) => live.push(LiveLeg::Caller(CallId(call.0))),
                (Stage::Handed, Some(user)) => live.push(LiveLeg::Connected {
                    call: CallId(call.0),
                    user: user.clone(),
                }),
                _ => {}
            }
        }
        for cb in self.callbacks.values() {
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
        live.extend(offers.map(|(call, user)| LiveLeg::Offer {
            call: CallId(call.0),
            user,
        }));
        live.extend(busy.map(|user| LiveLeg::Busy { user }));
        let fixed = self.acd.reconcile(Instant::now(), &live);
        if fixed > 0 {
            tracing::warn!(corrections = fixed, "queues reconciled with the live calls");
        }
        self.carry_out_acd(db, media).await;
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
