//! The citizen's path in call control: calls Switchboard answers itself — voice menus, queues and
//! messages — with prompts from the prompt set (uploads override the built-in Norwegian ones), keys
//! from the relay, and the ACD (`switchboard_routing::queue`) deciding which agent is offered which
//! caller. Ringing an agent is the same "ring a user" as hunt groups (app, browser, cellular).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use sip_core::b2bua::CallRef;
use switchboard_media::prompts as nb;
use switchboard_media_rt::{CodecSpec, LegId, MediaRuntime, PlayMode, Playlist, Prompt};

use super::prompts::Prompts;

mod admin;
mod callback;
mod queue;
use callback::Keying;
use mobile_api::LiveEvent;
use switchboard_routing::menu::{MenuAction, MenuSession};
use switchboard_routing::numbers::Target;
use switchboard_routing::queue::{Acd, CallId};
use switchboard_schema::{Db, HoldMusic, Queue, QueueOutcome};
use tokio::sync::broadcast;

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
pub(super) enum Start {
    /// A menu, and the queue priority the caller has (a priority number's).
    Menu(switchboard_schema::Menu, u8),
    /// A queue, and the priority to join it with (the caller's may be higher already).
    Queue(Queue, u8),
    Message(String),
    /// Call control rings staff itself (a hunt group): nothing to play.
    Handed,
}

struct Local {
    /// Who called (the number a callback goes to).
    caller: String,
    /// The agent a queue call was connected to.
    agent: Option<String>,
    leg: Option<LegId>,
    codec: Option<CodecSpec>,
    stage: Stage,
    /// The queue priority the caller has earned so far: a priority number, a menu key.
    priority: u8,
    /// The queue the caller came to, for the record.
    queue: Option<QueueVisit>,
}

/// A caller's stay in a queue, for the call record and historical statistics.
#[derive(Debug, Clone, Copy)]
struct QueueVisit {
    id: u64,
    joined: Instant,
    /// How the stay ended, and when; `None` while the caller waits.
    outcome: Option<(QueueOutcome, Instant)>,
}

/// What the call record says of a call's stay in a queue.
#[derive(Debug, Clone, Copy)]
pub(super) struct QueueRecord {
    pub(super) queue_id: i64,
    pub(super) wait: Duration,
    pub(super) outcome: QueueOutcome,
}

/// What the orchestrator must do after the citizen's path handled something.
pub(super) enum Todo {
    /// Ring this user for the call (a queue offer, a menu choice).
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
    /// A callback's turn: ring the agent (a call we place); report it with
    /// [`Citizen::callback_started`].
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
struct Callback {
    id: CallId,
    user: String,
    agent_answered: bool,
}

pub(super) struct Citizen {
    acd: Acd,
    prompts: Prompts,
    calls: HashMap<CallRef, Local>,
    by_leg: HashMap<LegId, CallRef>,
    /// Agents who logged out through the API: queues do not log them in again by themselves.
    logged_out: HashSet<String>,
    /// Callbacks in progress, by the call placed to the agent.
    callbacks: HashMap<CallRef, Callback>,
    /// The number each booked callback goes to.
    callback_numbers: HashMap<CallId, String>,
    todo: Vec<Todo>,
    /// News for receptionists (`/events`); nobody listening is fine.
    live: broadcast::Sender<LiveEvent>,
}

impl Citizen {
    pub(super) fn new(seed: u64, live: broadcast::Sender<LiveEvent>) -> Citizen {
        Citizen {
            acd: Acd::new(seed),
            prompts: Prompts::new(),
            calls: HashMap::new(),
            by_leg: HashMap::new(),
            logged_out: HashSet::new(),
            callbacks: HashMap::new(),
            callback_numbers: HashMap::new(),
            todo: Vec::new(),
            live,
        }
    }

    pub(super) fn take_todo(&mut self) -> Vec<Todo> {
        std::mem::take(&mut self.todo)
    }

    /// A call we are about to answer (call control sent the answer command).
    pub(super) fn expect(&mut self, call: CallRef, start: Start, caller: &str) {
        self.calls.insert(
            call,
            Local {
                caller: caller.to_string(),
                agent: None,
                leg: None,
                codec: None,
                stage: Stage::Answering(Box::new(start)),
                priority: 0,
                queue: None,
            },
        );
    }

    pub(super) fn owns_leg(&self, leg: LegId) -> bool {
        self.by_leg.contains_key(&leg)
    }

    pub(super) fn is_local(&self, call: CallRef) -> bool {
        self.calls.contains_key(&call)
    }

    /// The queue a call waits in, and since when (for the record when it is answered).
    pub(super) fn queue_of(&self, call: CallRef) -> Option<(u64, Instant)> {
        self.calls
            .get(&call)
            .and_then(|l| l.queue)
            .map(|v| (v.id, v.joined))
    }

    /// Raises the caller's queue priority (a priority number, a menu key); it never drops.
    fn raise_priority(&mut self, call: CallRef, priority: u8) {
        if let Some(l) = self.calls.get_mut(&call) {
            l.priority = l.priority.max(priority);
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let menus = self.calls.values().filter_map(|l| match &l.stage {
            Stage::Menu(s) => s.poll_timeout(),
            _ => None,
        });
        menus
            .chain(self.acd.poll_timeout())
            .chain(self.keying_timeout())
            .min()
    }

    /// Our 200 went to the caller: start the menu, the queue or the message.
    pub(super) async fn answered(
        &mut self,
        db: &Db,
        media: &MediaRuntime,
        call: CallRef,
        leg: LegId,
        codec: (String, u8),
    ) {
        let now = Instant::now();
        let Some(local) = self.calls.get_mut(&call) else {
            return;
        };
        local.leg = Some(leg);
        local.codec = super::codec_spec(&codec);
        self.by_leg.insert(leg, call);
        let _ = media.set_dtmf(leg, true, None);
        let start = std::mem::replace(&mut local.stage, Stage::Handed);
        if let Stage::Answering(start) = start {
            self.begin(db, media, now, call, *start, 0).await;
        }
    }

    /// Starts what a call does next (also when a menu leads to another menu or a queue).
    pub(super) async fn begin(
        &mut self,
        db: &Db,
        media: &MediaRuntime,
        now: Instant,
        call: CallRef,
        start: Start,
        depth: u32,
    ) {
        match start {
            Start::Menu(menu, priority) => {
                self.raise_priority(call, priority);
                tracing::info!(call = call.0, menu = %menu.name, "menu");
                let session = MenuSession::nested(menu.config, now, depth);
                if let Some(l) = self.calls.get_mut(&call) {
                    l.stage = Stage::Menu(Box::new(session));
                }
                self.drive_menu(db, media, call).await;
            }
            Start::Queue(queue, priority) => {
                self.raise_priority(call, priority);
                self.join(db, media, now, call, queue).await
            }
            Start::Handed => self.handed(call),
            Start::Message(prompt) => {
                if let Some(l) = self.calls.get_mut(&call) {
                    l.stage = Stage::Message;
                }
                self.play(db, media, call, &[prompt.as_str()], PlayMode::Once, false)
                    .await;
            }
        }
    }

    /// The call now rings staff outside a queue (a menu's choice of a user or group).
    pub(super) fn handed(&mut self, call: CallRef) {
        if let Some(l) = self.calls.get_mut(&call) {
            l.stage = Stage::Handed;
        }
    }

    /// A prompt by name (uploaded or built in), for call control's own playing (music on hold, the
    /// press-1 question).
    pub(super) async fn prompt(&mut self, db: &Db, name: &str) -> Option<Prompt> {
        self.prompts.get(db, name).await
    }

    /// The admin API changed uploaded prompts: `None` means any of them.
    pub(super) fn prompts_changed(&mut self, name: Option<&str>) {
        match name {
            Some(n) => self.prompts.forget(n),
            None => self.prompts.forget_all(),
        }
    }

    async fn hold_music(&mut self, db: &Db, media: &MediaRuntime, call: CallRef) {
        let music = match self.calls.get(&call).map(|l| &l.stage) {
            Some(Stage::Queue { music, .. }) => *music,
            _ => return,
        };
        let name = match music {
            HoldMusic::Moh => nb::MUSIC_ON_HOLD,
            HoldMusic::Ringback => nb::RINGBACK,
        };
        self.play(db, media, call, &[name], PlayMode::Loop, false)
            .await;
    }

    /// A key from a caller's leg.
    pub(super) async fn digit(&mut self, db: &Db, media: &MediaRuntime, leg: LegId, digit: char) {
        let Some(&call) = self.by_leg.get(&leg) else {
            return;
        };
        let now = Instant::now();
        let Some(local) = self.calls.get_mut(&call) else {
            return;
        };
        match &mut local.stage {
            Stage::Menu(session) => {
                tracing::info!(call = call.0, %digit, "menu key");
                session.handle_digit(now, digit);
                self.drive_menu(db, media, call).await;
            }
            Stage::Queue {
                keying: Some(_), ..
            } => {
                self.callback_key(db, media, call, digit, now).await;
            }
            Stage::Queue {
                callback_offered: true,
                ..
            } if digit == '2' => self.ask_callback_number(db, media, call).await,
            _ => {}
        }
    }

    /// A prompt on a caller's leg ended (played out, stopped, or cut short by a key).
    pub(super) async fn playback_done(
        &mut self,
        db: &Db,
        media: &MediaRuntime,
        leg: LegId,
        interrupted_by: Option<char>,
    ) {
        let Some(&call) = self.by_leg.get(&leg) else {
            return;
        };
        let now = Instant::now();
        let Some(local) = self.calls.get_mut(&call) else {
            return;
        };
        match &mut local.stage {
            // A key that cut the prompt short arrives as its own DTMF event.
            Stage::Menu(session) if interrupted_by.is_none() => {
                session.handle_playback_done(now);
                self.drive_menu(db, media, call).await;
            }
            Stage::Queue {
                keying: Some(_), ..
            } => {
                self.callback_question_heard(call, now);
            }
            Stage::Queue { speaking, .. } if *speaking => {
                *speaking = false;
                self.hold_music(db, media, call).await;
            }
            Stage::Message => self.todo.push(Todo::HangUp {
                call,
                cause: "message played",
            }),
            Stage::CallbackBooked => self.todo.push(Todo::HangUp {
                call,
                cause: "callback booked",
            }),
            _ => {}
        }
    }

    /// Timers: menus waiting for a key, and the ACD's own.
    pub(super) async fn handle_timeout(&mut self, db: &Db, media: &MediaRuntime, now: Instant) {
        let due: Vec<CallRef> = self
            .calls
            .iter_mut()
            .filter_map(|(call, l)| match &mut l.stage {
                Stage::Menu(s) if s.poll_timeout().is_some_and(|t| t <= now) => {
                    s.handle_timeout(now);
                    Some(*call)
                }
                _ => None,
            })
            .collect();
        for call in due {
            self.drive_menu(db, media, call).await;
        }
        if self.acd.poll_timeout().is_some_and(|t| t <= now) {
            self.acd.handle_timeout(now);
            self.carry_out_acd(db, media).await;
        }
        self.keying_timeouts(db, media, now).await;
    }

    async fn drive_menu(&mut self, db: &Db, media: &MediaRuntime, call: CallRef) {
        loop {
            let action = match self.calls.get_mut(&call).map(|l| &mut l.stage) {
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
                } => {
                    self.play(
                        db,
                        media,
                        call,
                        &[prompt.as_str()],
                        PlayMode::Once,
                        interruptible,
                    )
                    .await
                }
                MenuAction::StopPlayback => {
                    if let Some(leg) = self.calls.get(&call).and_then(|l| l.leg) {
                        let _ = media.stop_playback(leg);
                    }
                }
                MenuAction::Route(target) => {
                    let priority = match self.calls.get(&call).map(|l| &l.stage) {
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
    pub(super) fn menu_depth(&self, call: CallRef) -> u32 {
        match self.calls.get(&call).map(|l| &l.stage) {
            Some(Stage::Menu(s)) => s.depth(),
            _ => 0,
        }
    }

    /// Plays prompts by name to the caller: an uploaded prompt wins over the built-in one.
    async fn play(
        &mut self,
        db: &Db,
        media: &MediaRuntime,
        call: CallRef,
        names: &[&str],
        mode: PlayMode,
        interruptible: bool,
    ) {
        let Some((leg, codec)) = self.calls.get(&call).and_then(|l| Some((l.leg?, l.codec?)))
        else {
            return;
        };
        let mut list = Vec::with_capacity(names.len());
        for name in names {
            if let Some(p) = self.prompts.get(db, name).await {
                list.push(p);
            }
        }
        if list.is_empty() {
            return;
        }
        if let Err(e) = media.play(leg, Playlist::new(list), mode, interruptible, codec) {
            tracing::warn!(error = %e, "prompt not played");
        }
    }

    /// A staff member answered a call of ours: the ACD hears it if it was a queue offer.
    pub(super) async fn answered_by(
        &mut self,
        db: &Db,
        media: &MediaRuntime,
        call: CallRef,
        user: &str,
    ) {
        if let Some(Stage::Queue { .. }) = self.calls.get(&call).map(|l| &l.stage) {
            self.acd
                .handle_offer_answered(Instant::now(), CallId(call.0), user);
            self.carry_out_acd(db, media).await;
        } else if let Some(leg) = self.calls.get(&call).and_then(|l| l.leg) {
            let _ = media.stop_playback(leg);
        }
    }

    /// Ringing a staff member failed (no answer, busy, unreachable).
    pub(super) async fn ring_failed(
        &mut self,
        db: &Db,
        media: &MediaRuntime,
        call: CallRef,
        user: &str,
    ) -> bool {
        if let Some(Stage::Queue { .. }) = self.calls.get(&call).map(|l| &l.stage) {
            self.acd
                .handle_offer_failed(Instant::now(), CallId(call.0), user);
            self.carry_out_acd(db, media).await;
            return true;
        }
        false
    }

    /// A staff member is in a call or free again: the ACD offers no queue callers to busy agents.
    pub(super) fn agent_busy(&mut self, user: &str, busy: bool) {
        self.acd.handle_agent_busy(Instant::now(), user, busy);
    }

    /// The call ended: a waiting caller abandoned, an agent starts wrap-up. Returns what the call
    /// record says of the caller's stay in a queue, if there was one.
    pub(super) async fn ended(
        &mut self,
        db: &Db,
        media: &MediaRuntime,
        call: CallRef,
        answered_by: Option<&str>,
    ) -> Option<QueueRecord> {
        let now = Instant::now();
        if let Some(cb) = self.callbacks.remove(&call) {
            self.callback_numbers.remove(&cb.id);
            if cb.agent_answered {
                self.acd.handle_queue_call_ended(now, &cb.user);
            } else {
                self.acd.handle_offer_failed(now, cb.id, &cb.user);
            }
            self.carry_out_acd(db, media).await;
            return None;
        }
        if matches!(
            self.calls.get(&call).map(|l| &l.stage),
            Some(Stage::Queue { .. })
        ) {
            self.queue_left(call, QueueOutcome::Abandoned, now);
        }
        let local = self.calls.remove(&call)?;
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
        self.carry_out_acd(db, media).await;
        local.queue.map(|v| {
            let (outcome, left) = v.outcome.unwrap_or((QueueOutcome::Abandoned, now));
            QueueRecord {
                queue_id: i64::try_from(v.id).unwrap_or(i64::MAX),
                wait: left.saturating_duration_since(v.joined),
                outcome,
            }
        })
    }
}
