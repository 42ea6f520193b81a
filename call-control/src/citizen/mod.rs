//! The citizen's path: calls Switchboard answers itself — voice menus, queues and messages — with
//! prompts by name (uploads override the built-in Norwegian ones), keys from the relay, and the
//! ACD (`switchboard_routing::queue`) deciding which agent is offered which caller. Ringing an
//! agent is the same "ring a user" as hunt groups (app, browser, cellular).

use std::time::{Duration, Instant};

use sip_core::b2bua::{CallRef, LegId};
use switchboard_media::playback::PlayMode;
use switchboard_media::prompts as nb;
use switchboard_media::transcode::CodecSpec;
use switchboard_routing::menu::{MenuAction, MenuSession};
use switchboard_routing::numbers::Target;
use switchboard_routing::queue::CallId;
use switchboard_schema::{HoldMusic, Queue, QueueOutcome};

use crate::{codec_spec, CallControl, MediaCommand};

mod admin;
mod callback;
mod queue;

use callback::Keying;

/// What a call answered by us is doing.
enum Stage {
    /// Our 200 is on its way; then this starts.
    Answering(Box<Start>),
    Menu(Box<MenuSession>),
    Queue {
        music: HoldMusic,
        /// An announcement or the greeting is playing; music resumes when it ends.
        speaking: bool,
        /// "Press 2 to be called back" was offered: a 2 starts booking the callback.
        callback_offered: bool,
        /// The caller is telling us which number to call back.
        keying: Option<Box<Keying>>,
    },
    /// The caller booked a callback: the confirmation plays, then we hang up; the queue keeps their
    /// place.
    CallbackBooked,
    /// A message plays, then the call is hung up.
    Message,
    /// Joined to a staff member (or being rung outside a queue): nothing more to play.
    Handed,
}

/// How a call answered by us begins.
pub(crate) enum Start {
    /// A menu, and the queue priority the caller has (a priority number's).
    Menu(switchboard_schema::Menu, u8),
    /// A queue, and the priority to join it with (the caller's may be higher already).
    Queue(Queue, u8),
    Message(String),
    /// Call control rings staff itself (a hunt group): nothing to play.
    Handed,
}

/// A call answered by us.
pub(crate) struct Local {
    /// The agent a queue call was connected to.
    agent: Option<String>,
    pub(crate) leg: Option<LegId>,
    codec: Option<CodecSpec>,
    stage: Stage,
    /// The queue priority the caller has earned so far: a priority number, a menu key.
    priority: u8,
    /// The queue the caller came to, for the record.
    queue: Option<QueueVisit>,
}

impl Local {
    /// The menu's or the keying caller's next deadline.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match &self.stage {
            Stage::Menu(s) => s.poll_timeout(),
            Stage::Queue {
                keying: Some(k), ..
            } => k.deadline(),
            _ => None,
        }
    }
}

/// A caller's stay in a queue, for the call record and historical statistics.
#[derive(Debug, Clone, Copy)]
struct QueueVisit {
    id: u64,
    joined: Instant,
    /// How the stay ended, and when; `None` while the caller waits.
    outcome: Option<(QueueOutcome, Instant)>,
    /// Times the caller was told their place.
    announcements: u32,
}

/// What the call record says of a call's stay in a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueRecord {
    pub queue_id: i64,
    pub wait: Duration,
    pub outcome: QueueOutcome,
    /// Times the caller was told their place (and the expected wait).
    pub announcements: u32,
}

/// What the citizen's path asks call control to do once the current step is done.
pub(crate) enum Todo {
    /// Ring this user for the call (a queue offer).
    RingUser {
        call: CallRef,
        user: String,
        ring_timeout: Duration,
    },
    /// Stop ringing this user for the call.
    CancelUser {
        call: CallRef,
        user: String,
    },
    /// Route the call to a target (a menu choice, an overflow).
    Route {
        call: CallRef,
        target: Target,
    },
    /// Route the call by what the caller keyed (an extension).
    Dial {
        call: CallRef,
        digits: String,
    },
    HangUp {
        call: CallRef,
        cause: &'static str,
    },
    /// A callback's turn: ring the agent (a call we place).
    Originate {
        callback: CallId,
        user: String,
        ring_timeout: Duration,
    },
    /// The agent took the callback: dial the citizen on `number` from the agent's call.
    DialCitizen {
        call: CallRef,
        number: String,
    },
}

/// A callback being carried out: the call we placed to the agent, then to the citizen.
pub(crate) struct Callback {
    id: CallId,
    user: String,
    agent_answered: bool,
}

impl CallControl {
    pub(crate) fn local(&self, call: CallRef) -> Option<&Local> {
        self.calls.get(&call).and_then(|c| c.local.as_ref())
    }

    fn local_mut(&mut self, call: CallRef) -> Option<&mut Local> {
        self.calls.get_mut(&call).and_then(|c| c.local.as_mut())
    }

    fn stage_mut(&mut self, call: CallRef) -> Option<&mut Stage> {
        self.local_mut(call).map(|l| &mut l.stage)
    }

    pub(crate) fn is_local(&self, call: CallRef) -> bool {
        self.local(call).is_some()
    }

    pub(crate) fn is_callback(&self, call: CallRef) -> bool {
        self.calls.get(&call).is_some_and(|c| c.callback.is_some())
    }

    /// A call we are about to answer (the answer command is on its way).
    pub(crate) fn expect(&mut self, call: CallRef, start: Start) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.local = Some(Local {
                agent: None,
                leg: None,
                codec: None,
                stage: Stage::Answering(Box::new(start)),
                priority: 0,
                queue: None,
            });
        }
    }

    /// The queue a call waits in, and since when (for the record when it is answered).
    pub(crate) fn queue_of(&self, call: CallRef) -> Option<(u64, Instant)> {
        self.local(call)
            .and_then(|l| l.queue)
            .map(|v| (v.id, v.joined))
    }

    /// Raises the caller's queue priority (a priority number, a menu key); it never drops.
    fn raise_priority(&mut self, call: CallRef, priority: u8) {
        if let Some(l) = self.local_mut(call) {
            l.priority = l.priority.max(priority);
        }
    }

    /// Our 200 went to the caller: start the menu, the queue or the message.
    pub(crate) fn answered_locally(
        &mut self,
        now: Instant,
        call: CallRef,
        leg: LegId,
        codec: (String, u8),
    ) {
        let Some(local) = self.local_mut(call) else {
            return;
        };
        local.leg = Some(leg);
        local.codec = codec_spec(&codec);
        let start = std::mem::replace(&mut local.stage, Stage::Handed);
        self.by_leg.insert(leg, call);
        self.media(MediaCommand::SetDtmf {
            leg,
            forward: true,
            inband: None,
        });
        if let Stage::Answering(start) = start {
            self.begin(now, call, *start, 0);
        }
    }

    /// Starts what a call does next (also when a menu leads to another menu or a queue).
    pub(crate) fn begin(&mut self, now: Instant, call: CallRef, start: Start, depth: u32) {
        match start {
            Start::Menu(menu, priority) => {
                self.raise_priority(call, priority);
                tracing::info!(call = call.0, menu = %menu.name, "menu");
                let session = MenuSession::nested(menu.config, now, depth);
                if let Some(stage) = self.stage_mut(call) {
                    *stage = Stage::Menu(Box::new(session));
                }
                self.drive_menu(call);
            }
            Start::Queue(queue, priority) => {
                self.raise_priority(call, priority);
                self.join(now, call, queue)
            }
            Start::Handed => self.handed(call),
            Start::Message(prompt) => {
                if let Some(stage) = self.stage_mut(call) {
                    *stage = Stage::Message;
                }
                self.play(call, &[prompt.as_str()], PlayMode::Once, false);
            }
        }
    }

    /// The call now rings staff outside a queue (a menu's choice of a user or group).
    pub(crate) fn handed(&mut self, call: CallRef) {
        if let Some(stage) = self.stage_mut(call) {
            *stage = Stage::Handed;
        }
    }

    fn hold_music(&mut self, call: CallRef) {
        let music = match self.local(call).map(|l| &l.stage) {
            Some(Stage::Queue { music, .. }) => *music,
            _ => return,
        };
        let name = match music {
            HoldMusic::Moh => nb::MUSIC_ON_HOLD,
            HoldMusic::Ringback => nb::RINGBACK,
        };
        self.play(call, &[name], PlayMode::Loop, false);
    }

    /// A key from a caller's leg.
    pub(crate) fn digit(&mut self, now: Instant, leg: LegId, digit: char) {
        let Some(&call) = self.by_leg.get(&leg) else {
            return;
        };
        match self.stage_mut(call) {
            Some(Stage::Menu(session)) => {
                tracing::info!(call = call.0, %digit, "menu key");
                session.handle_digit(now, digit);
                self.drive_menu(call);
            }
            Some(Stage::Queue {
                keying: Some(_), ..
            }) => {
                self.callback_key(call, digit, now);
            }
            Some(Stage::Queue {
                callback_offered: true,
                ..
            }) if digit == '2' => self.ask_callback_number(call),
            _ => {}
        }
    }

    /// A prompt on a caller's leg ended (played out, stopped, or cut short by a key).
    pub(crate) fn playback_done(&mut self, now: Instant, leg: LegId, interrupted_by: Option<char>) {
        let Some(&call) = self.by_leg.get(&leg) else {
            return;
        };
        match self.stage_mut(call) {
            // A key that cut the prompt short arrives as its own DTMF event.
            Some(Stage::Menu(session)) if interrupted_by.is_none() => {
                session.handle_playback_done(now);
                self.drive_menu(call);
            }
            Some(Stage::Queue {
                keying: Some(_), ..
            }) => {
                self.callback_question_heard(call, now);
            }
            Some(Stage::Queue { speaking, .. }) if *speaking => {
                *speaking = false;
                self.hold_music(call);
            }
            Some(Stage::Message) => self.todo.push(Todo::HangUp {
                call,
                cause: "message played",
            }),
            Some(Stage::CallbackBooked) => self.todo.push(Todo::HangUp {
                call,
                cause: "callback booked",
            }),
            _ => {}
        }
    }

    /// Timers: menus waiting for a key, keying callers, and the ACD's own.
    pub(crate) fn citizen_timeouts(&mut self, now: Instant) {
        let due: Vec<CallRef> = self
            .calls
            .iter_mut()
            .filter_map(|(call, c)| match c.local.as_mut().map(|l| &mut l.stage) {
                Some(Stage::Menu(s)) if s.poll_timeout().is_some_and(|t| t <= now) => {
                    s.handle_timeout(now);
                    Some(*call)
                }
                _ => None,
            })
            .collect();
        for call in due {
            self.drive_menu(call);
        }
        if self.acd.poll_timeout().is_some_and(|t| t <= now) {
            self.acd.handle_timeout(now);
            self.carry_out_acd(now);
        }
        self.keying_timeouts(now);
    }

    fn drive_menu(&mut self, call: CallRef) {
        loop {
            let action = match self.stage_mut(call) {
                Some(Stage::Menu(session)) => session.poll_action(),
                _ => None,
            };
            let Some(action) = action else {
                return;
            };
            match action {
                MenuAction::Play {
                    prompt,
                    interruptible,
                } => self.play(call, &[prompt.as_str()], PlayMode::Once, interruptible),
                MenuAction::StopPlayback => {
                    if let Some(leg) = self.local(call).and_then(|l| l.leg) {
                        self.media(MediaCommand::StopPlayback { leg });
                    }
                }
                MenuAction::Route(target) => {
                    let priority = match self.local(call).map(|l| &l.stage) {
                        Some(Stage::Menu(session)) => session.chosen_priority(),
                        _ => 0,
                    };
                    self.raise_priority(call, priority);
                    tracing::info!(call = call.0, ?target, priority, "menu choice");
                    self.todo.push(Todo::Route { call, target });
                    return;
                }
                MenuAction::DialExtension(digits) => {
                    self.todo.push(Todo::Dial { call, digits });
                    return;
                }
                MenuAction::Hangup => {
                    self.todo.push(Todo::HangUp {
                        call,
                        cause: "menu ended",
                    });
                    return;
                }
            }
        }
    }

    /// The depth of the menu a call is in (for a nested menu's loop guard).
    pub(crate) fn menu_depth(&self, call: CallRef) -> u32 {
        match self.local(call).map(|l| &l.stage) {
            Some(Stage::Menu(s)) => s.depth(),
            _ => 0,
        }
    }

    /// Plays prompts by name to the caller.
    fn play(&mut self, call: CallRef, names: &[&str], mode: PlayMode, interruptible: bool) {
        let Some((leg, codec)) = self.local(call).and_then(|l| Some((l.leg?, l.codec?))) else {
            return;
        };
        if names.is_empty() {
            return;
        }
        self.media(MediaCommand::Play {
            leg,
            prompts: names.iter().map(|n| n.to_string()).collect(),
            mode,
            interruptible,
            codec,
        });
    }

    /// A staff member answered a call of ours: the ACD hears it if it was a queue offer.
    pub(crate) fn answered_by(&mut self, now: Instant, call: CallRef, user: &str) {
        if let Some(Stage::Queue { .. }) = self.local(call).map(|l| &l.stage) {
            self.acd.handle_offer_answered(now, CallId(call.0), user);
            self.carry_out_acd(now);
        } else if let Some(leg) = self.local(call).and_then(|l| l.leg) {
            self.media(MediaCommand::StopPlayback { leg });
        }
    }

    /// Ringing a staff member failed (no answer, busy, unreachable); true when it was a queue
    /// offer.
    pub(crate) fn ring_failed(&mut self, now: Instant, call: CallRef, user: &str) -> bool {
        if let Some(Stage::Queue { .. }) = self.local(call).map(|l| &l.stage) {
            self.acd.handle_offer_failed(now, CallId(call.0), user);
            self.carry_out_acd(now);
            return true;
        }
        false
    }

    /// The call ended: a waiting caller abandoned, an agent starts wrap-up, a callback is done
    /// with. Returns what the call record says of the caller's stay in a queue, if there was one.
    pub(crate) fn citizen_ended(
        &mut self,
        now: Instant,
        call: CallRef,
        answered_by: Option<&str>,
    ) -> Option<QueueRecord> {
        if let Some(cb) = self.calls.get_mut(&call).and_then(|c| c.callback.take()) {
            self.callback_numbers.remove(&cb.id);
            if cb.agent_answered {
                self.acd.handle_queue_call_ended(now, &cb.user);
            } else {
                self.acd.handle_offer_failed(now, cb.id, &cb.user);
            }
            self.carry_out_acd(now);
            return None;
        }
        if matches!(
            self.local(call).map(|l| &l.stage),
            Some(Stage::Queue { .. })
        ) {
            self.queue_left(call, QueueOutcome::Abandoned, now);
        }
        let local = self.calls.get_mut(&call).and_then(|c| c.local.take())?;
        if let Some(leg) = local.leg {
            self.by_leg.remove(&leg);
        }
        let answered_here = matches!(
            local.queue.and_then(|v| v.outcome),
            Some((QueueOutcome::Answered, _))
        );
        match (&local.stage, answered_by) {
            (Stage::Queue { .. }, _) => {
                self.acd.handle_abandon(now, CallId(call.0));
            }
            (Stage::Handed, Some(user)) if answered_here => {
                self.acd.handle_queue_call_ended(now, user);
            }
            _ => {}
        }
        self.carry_out_acd(now);
        local.queue.map(|v| {
            let (outcome, left) = v.outcome.unwrap_or((QueueOutcome::Abandoned, now));
            QueueRecord {
                queue_id: i64::try_from(v.id).unwrap_or(i64::MAX),
                wait: left.saturating_duration_since(v.joined),
                outcome,
                announcements: v.announcements,
            }
        })
    }
}
