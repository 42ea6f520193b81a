//! A caller in a queue: joining (with their priority), leaving (how, for the record and the
//! receptionists' feed), and carrying out what the ACD decides — offers, connections,
//! announcements, callbacks, overflow, auto-pause.

use std::time::{Duration, Instant};

use sip_core::b2bua::CallRef;
use switchboard_media::playback::PlayMode;
use switchboard_media::prompts as nb;
use switchboard_routing::numbers::Target;
use switchboard_routing::queue::{AgentState, CallId, QueueAction};
use switchboard_schema::{Queue, QueueOutcome};

use super::admin::queue_config;
use super::{QueueVisit, Stage, Todo};
use crate::{CallControl, MediaCommand, Notice};

impl CallControl {
    /// The caller's stay in a queue has ended this way (the first ending counts).
    pub(crate) fn queue_left(&mut self, call: CallRef, outcome: QueueOutcome, now: Instant) {
        let Some(visit) = self.local_mut(call).and_then(|l| l.queue.as_mut()) else {
            return;
        };
        if visit.outcome.is_some() {
            return;
        }
        visit.outcome = Some((outcome, now));
        let wait = now.saturating_duration_since(visit.joined);
        let queue = i64::try_from(visit.id).unwrap_or(i64::MAX);
        self.notice(Notice::CallerLeft {
            queue,
            call: call.0,
            outcome,
            wait_ms: i64::try_from(wait.as_millis()).unwrap_or(i64::MAX),
        });
    }

    pub(crate) fn join(&mut self, now: Instant, call: CallRef, queue: Queue) {
        self.show_via(call, &queue.name);
        let id = queue.id as u64;
        let config = queue_config(&queue);
        if let Err(e) = self.acd.upsert_queue(now, config) {
            tracing::warn!(queue = %queue.name, error = %e, "queue configuration unusable");
            self.todo.push(Todo::HangUp {
                call,
                cause: "queue unusable",
            });
            return;
        }
        for m in &queue.members {
            let logged_out = matches!(
                self.acd.agent_state(&m.user),
                None | Some(AgentState::LoggedOut)
            );
            if logged_out && !self.live.logged_out(&m.user) {
                self.acd.handle_login(now, &m.user);
                // The queues learn of a do-not-disturb set before the agent was logged in.
                if self.on_dnd(&m.user) {
                    self.acd.handle_dnd(now, &m.user, true);
                }
            }
        }
        let priority = self.local(call).map_or(0, |l| l.priority);
        if let Some(l) = self.local_mut(call) {
            l.queue = Some(QueueVisit {
                id,
                joined: now,
                outcome: None,
                announcements: 0,
            });
        }
        match self.acd.handle_join(now, id, CallId(call.0), priority) {
            Ok(joined) => {
                tracing::info!(call = call.0, queue = %queue.name, position = joined.position, priority, "queued");
                let caller = self
                    .calls
                    .get(&call)
                    .map(|c| c.caller.clone())
                    .unwrap_or_default();
                self.notice(Notice::CallerQueued {
                    queue: queue.id,
                    call: call.0,
                    caller,
                    priority,
                    position: joined.position,
                });
                if let Some(l) = self.local_mut(call) {
                    l.stage = Stage::Queue {
                        music: queue.hold_music,
                        speaking: queue.greeting_prompt.is_some(),
                        callback_offered: false,
                        keying: None,
                    };
                }
                match &queue.greeting_prompt {
                    Some(g) => self.play(call, &[g.as_str()], PlayMode::Once, false),
                    None => self.hold_music(call),
                }
            }
            Err(refused) => {
                tracing::info!(call = call.0, queue = %queue.name, ?refused, "queue refused the caller");
                self.queue_left(call, QueueOutcome::Overflow, now);
                self.overflow(call, refused.overflow);
            }
        }
        self.carry_out_acd(now);
    }

    pub(crate) fn overflow(&mut self, call: CallRef, target: Option<Target>) {
        match target {
            Some(target) => {
                self.handed(call);
                self.todo.push(Todo::Route { call, target });
            }
            None => {
                if let Some(l) = self.local_mut(call) {
                    l.stage = Stage::Message;
                }
                self.todo.push(Todo::Route {
                    call,
                    target: Target::Message("goodbye".to_string()),
                });
            }
        }
    }

    /// Carries out what the ACD decided.
    pub(crate) fn carry_out_acd(&mut self, now: Instant) {
        while let Some(action) = self.acd.poll_action() {
            match action {
                QueueAction::Offer {
                    call,
                    user,
                    ring_timeout,
                } => self.todo.push(Todo::RingUser {
                    call: CallRef(call.0),
                    user,
                    ring_timeout,
                }),
                QueueAction::CancelOffer { call, user } => self.todo.push(Todo::CancelUser {
                    call: CallRef(call.0),
                    user,
                }),
                QueueAction::Connect {
                    call: id,
                    user,
                    callback: Some(number),
                } => {
                    tracing::info!(callback = id.0, %user, %number, "callback: the agent answered, dialling the citizen");
                    let placed = self
                        .calls
                        .iter()
                        .find(|(_, c)| c.callback.as_ref().is_some_and(|cb| cb.id == id))
                        .map(|(call, _)| *call);
                    if let Some(call) = placed {
                        self.todo.push(Todo::DialCitizen { call, number });
                    }
                }
                QueueAction::Connect { call, user, .. } => {
                    tracing::info!(call = call.0, %user, "queue call connected");
                    let call = CallRef(call.0);
                    self.queue_left(call, QueueOutcome::Answered, now);
                    if let Some(l) = self.local_mut(call) {
                        l.agent = Some(user.clone());
                    }
                    if let Some(leg) = self.local(call).and_then(|l| l.leg) {
                        self.media(MediaCommand::StopPlayback { leg });
                    }
                    self.handed(call);
                }
                QueueAction::Announce {
                    call,
                    position,
                    expected_wait,
                } => self.announce(CallRef(call.0), position, expected_wait),
                QueueAction::OfferCallback { call } => self.offer_callback(CallRef(call.0)),
                QueueAction::StartCallback {
                    call,
                    user,
                    number,
                    ring_timeout,
                } => {
                    tracing::info!(callback = call.0, %user, "callback's turn: ringing the agent");
                    self.callback_numbers.insert(call, number);
                    self.todo.push(Todo::Originate {
                        callback: call,
                        user,
                        ring_timeout,
                    });
                }
                QueueAction::Overflow {
                    call,
                    target,
                    reason,
                } => {
                    tracing::info!(call = call.0, ?reason, "queue overflow");
                    self.queue_left(CallRef(call.0), QueueOutcome::Overflow, now);
                    self.overflow(CallRef(call.0), target);
                }
                QueueAction::AgentAutoPaused {
                    user,
                    queue,
                    missed,
                } => {
                    tracing::warn!(%user, queue, missed, "agent paused after missed calls");
                    self.notice(Notice::AgentAutoPaused {
                        user,
                        queue: i64::try_from(queue).unwrap_or(i64::MAX),
                        missed,
                    });
                }
            }
        }
    }

    fn announce(&mut self, call: CallRef, position: u32, expected_wait: Option<Duration>) {
        let Some(Stage::Queue { speaking, .. }) = self.stage_mut(call) else {
            return;
        };
        if *speaking {
            return; // The greeting is still playing.
        }
        *speaking = true;
        if let Some(visit) = self.local_mut(call).and_then(|l| l.queue.as_mut()) {
            visit.announcements += 1;
        }
        let mut clips = nb::queue_position(position);
        if let Some(wait) = expected_wait {
            clips.extend(nb::expected_wait_for(wait));
        }
        tracing::info!(call = call.0, position, "queue announcement");
        self.play(call, &clips, PlayMode::Once, false);
    }
}
