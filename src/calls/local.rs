//! The citizen's path as call control carries it out: calls Switchboard answers or takes back
//! (menus, queues, messages), what the citizen's path asks for (ring a member, dial the citizen back,
//! hang up), and where such a call goes next.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use sip_core::b2bua::{CallRef, RingTarget};
use sip_transport::Command;
use switchboard_media_rt::MediaRuntime;
use switchboard_routing::queue::CallId;
use switchboard_schema::{CallDirection, CdrOpen, Db};
use tokio::sync::mpsc;

use super::cdr::CdrOp;
use super::citizen::{Start, Todo};
use super::hunt::cellular_target;
use super::routes::{route, route_routing_target, take_trunk, trunk_targets, Route};
use super::{parse_label, unix_ms, Orchestrator, CELLULAR, USER_RING_TIMEOUT};

impl Orchestrator {
    /// Sends a call on after a hunt group found nobody (its no-answer target): still ringing, it is
    /// answered by us first for a queue, menu or message; answered by us already, the citizen's path
    /// takes it on.
    pub(super) async fn route_onward(
        &mut self,
        db: &Db,
        sip: &mpsc::Sender<Command>,
        call: CallRef,
        next: Route,
    ) {
        if self.citizen.is_local(call) {
            let media = self.media.clone();
            self.local_route(db, sip, &media, call, next).await;
            return self.citizen_todo(db, sip).await;
        }
        match next {
            Route::User(user) => {
                let cmd = Command::RingMember {
                    call,
                    user,
                    ring_timeout: Some(USER_RING_TIMEOUT),
                };
                let _ = sip.send(cmd).await;
            }
            Route::Group(group) => self.start_hunt(db, sip, call, &group).await,
            Route::Queue(q, p) => self.answer_locally(sip, call, Start::Queue(q, p)).await,
            Route::Menu(m, p) => self.answer_locally(sip, call, Start::Menu(m, p)).await,
            Route::Message(p) => self.answer_locally(sip, call, Start::Message(p)).await,
            Route::Trunk { .. } | Route::Reject(_) => {
                let _ = sip.send(Command::Reject { call, status: 480 }).await;
            }
        }
    }

    /// Checks the queues' view of callers and agents against the calls in progress.
    pub(super) async fn reconcile_queues(&mut self, db: &Db, media: &MediaRuntime) {
        let offers: Vec<(CallRef, String)> = self.offer_legs.keys().cloned().collect();
        let busy: Vec<String> = self
            .talking
            .iter()
            .filter(|(call, _)| !self.citizen.is_local(**call) && !self.citizen.is_callback(**call))
            .flat_map(|(_, members)| members.iter().cloned())
            .collect();
        self.citizen
            .reconcile(db, media, offers.into_iter(), busy.into_iter())
            .await;
    }

    /// One leg of a queue offer failed; true while the member's other leg still rings.
    pub(super) fn queue_leg_failed(&mut self, call: CallRef, label: &str) -> bool {
        let key = (call, parse_label(label).0);
        match self.offer_legs.get_mut(&key) {
            Some(n) if *n > 1 => {
                *n -= 1;
                true
            }
            Some(_) => {
                self.offer_legs.remove(&key);
                false
            }
            None => false,
        }
    }

    /// A transfer to a menu, queue or group: the transferor is released and the caller is ours.
    pub(super) async fn take_back(
        &mut self,
        sip: &mpsc::Sender<Command>,
        call: CallRef,
        start: Start,
        transferor: &str,
    ) {
        tracing::info!(call = call.0, %transferor, "transferred to a menu, queue or group");
        if let Some(members) = self.talking.get_mut(&call) {
            members.retain(|m| m != transferor);
        }
        self.citizen.agent_busy(transferor, false);
        let caller = self.callers.get(&call).cloned().unwrap_or_default();
        self.citizen.expect(call, start, &caller);
        let _ = sip.send(Command::TransferToUs { call }).await;
    }

    /// Answers the caller ourselves; the citizen's path takes over when our 200 is out.
    pub(super) async fn answer_locally(
        &mut self,
        sip: &mpsc::Sender<Command>,
        call: CallRef,
        start: Start,
    ) {
        let caller = self.callers.get(&call).cloned().unwrap_or_default();
        self.citizen.expect(call, start, &caller);
        let _ = sip.send(Command::AnswerLocally { call }).await;
    }

    /// Carries out what the citizen's path asked for, until it asks for nothing more.
    pub(super) async fn citizen_todo(&mut self, db: &Db, sip: &mpsc::Sender<Command>) {
        let media = self.media.clone();
        loop {
            let todo = self.citizen.take_todo();
            if todo.is_empty() {
                return;
            }
            for t in todo {
                match t {
                    Todo::RingUser {
                        call,
                        user,
                        ring_timeout,
                    } => {
                        // A queue rings a member as a hunt group does: their phones and, if they
                        // chose so, their mobile (which must press 1: a queue call).
                        // A mobile whose delay is the whole ring time would ring for no time at
                        // all: it is left out.
                        let cellular = cellular_target(db, &user).await;
                        let delay = cellular.as_ref().map_or(Duration::ZERO, |(_, d)| *d);
                        let mobile = cellular.filter(|(_, delay)| *delay < ring_timeout).map(
                            |(mut t, delay)| {
                                t.label = format!("{user}{CELLULAR}");
                                t.ring_timeout = Some(ring_timeout - delay);
                                t.confirm = true;
                                t
                            },
                        );
                        let legs = 1 + u8::from(mobile.is_some());
                        self.offer_legs.insert((call, user.clone()), legs);
                        let cmd = Command::RingMember {
                            call,
                            user: user.clone(),
                            ring_timeout: Some(ring_timeout),
                        };
                        let _ = sip.send(cmd).await;
                        match mobile {
                            Some(t) if delay.is_zero() => {
                                let _ = sip
                                    .send(Command::Ring {
                                        call,
                                        targets: vec![t],
                                    })
                                    .await;
                            }
                            Some(target) => self.delayed_mobiles.push(DelayedMobile {
                                at: Instant::now() + delay,
                                call,
                                user,
                                target,
                            }),
                            None => {}
                        }
                    }
                    Todo::CancelUser { call, user } => {
                        self.offer_legs.remove(&(call, user.clone()));
                        let mobile = format!("{user}{CELLULAR}");
                        for label in [user, mobile] {
                            let _ = sip.send(Command::CancelBranch { call, label }).await;
                        }
                    }
                    Todo::HangUp { call, cause } => {
                        let cmd = Command::HangUp {
                            call,
                            cause: cause.to_string(),
                        };
                        let _ = sip.send(cmd).await;
                    }
                    Todo::Route { call, target } => {
                        let next = route_routing_target(db, &target).await;
                        self.local_route(db, sip, &media, call, next).await;
                    }
                    Todo::Dial { call, digits } => {
                        let next = route(db, &digits).await;
                        self.local_route(db, sip, &media, call, next).await;
                    }
                    Todo::Originate {
                        callback,
                        user,
                        ring_timeout,
                    } => {
                        let from = db.main_number().await.ok().flatten().unwrap_or_default();
                        let (reply, answer) = tokio::sync::oneshot::channel();
                        let cmd = Command::Originate {
                            user: user.clone(),
                            from,
                            ring_timeout: Some(ring_timeout),
                            reply,
                        };
                        let placed = match sip.send(cmd).await {
                            Ok(()) => answer.await.ok().flatten(),
                            Err(_) => None,
                        };
                        if let Some(call) = placed {
                            self.open_callback_cdr(call, &user, callback.0);
                        }
                        self.citizen
                            .callback_started(db, &media, callback, user, placed)
                            .await;
                    }
                    Todo::DialCitizen { call, number } => {
                        let main = db.main_number().await.ok().flatten();
                        let mut trunks: VecDeque<RingTarget> = trunk_targets(db, &number)
                            .await
                            .into_iter()
                            .map(|mut t| {
                                t.caller_id = main.clone();
                                t
                            })
                            .collect();
                        let cmd = match take_trunk(sip, call, &mut trunks).await {
                            Some(first) => Command::Ring {
                                call,
                                targets: vec![first],
                            },
                            None => Command::HangUp {
                                call,
                                cause: "no trunk for the callback".to_string(),
                            },
                        };
                        let _ = sip.send(cmd).await;
                    }
                }
            }
        }
    }

    /// The record of a callback: placed by Switchboard to the agent, then to the citizen.
    pub(super) fn open_callback_cdr(&mut self, call: CallRef, agent: &str, callback: u64) {
        let open = CdrOpen {
            call_id: format!("callback-{callback}"),
            direction: CallDirection::Outbound,
            from_number: agent.to_string(),
            to_number: self
                .citizen
                .callback_number(CallId(callback))
                .unwrap_or_default(),
            target_kind: None,
            target_ref: None,
            started_at_ms: unix_ms(),
        };
        let _ = self.cdr.send(CdrOp::Open { call, open });
    }

    /// Sends a call we answered on to where a menu, an overflow or a dialled extension leads.
    pub(super) async fn local_route(
        &mut self,
        db: &Db,
        sip: &mpsc::Sender<Command>,
        media: &MediaRuntime,
        call: CallRef,
        next: Route,
    ) {
        let now = Instant::now();
        let depth = self.citizen.menu_depth(call) + 1;
        match next {
            Route::User(user) => {
                self.citizen.handed(call);
                let cmd = Command::RingMember {
                    call,
                    user,
                    ring_timeout: Some(USER_RING_TIMEOUT),
                };
                let _ = sip.send(cmd).await;
            }
            Route::Group(group) => {
                self.citizen.handed(call);
                self.start_hunt(db, sip, call, &group).await;
            }
            Route::Queue(q, p) => {
                self.citizen
                    .begin(db, media, now, call, Start::Queue(q, p), depth)
                    .await
            }
            Route::Menu(m, p) => {
                self.citizen
                    .begin(db, media, now, call, Start::Menu(m, p), depth)
                    .await
            }
            Route::Message(p) => {
                self.citizen
                    .begin(db, media, now, call, Start::Message(p), depth)
                    .await
            }
            Route::Trunk { .. } | Route::Reject(_) => {
                let cmd = Command::HangUp {
                    call,
                    cause: "nowhere to go".to_string(),
                };
                let _ = sip.send(cmd).await;
            }
        }
    }
}

/// A queue offer's mobile leg waiting for the member's delay to pass.
pub(super) struct DelayedMobile {
    pub(super) at: Instant,
    call: CallRef,
    user: String,
    target: RingTarget,
}

impl Orchestrator {
    /// Rings the mobiles whose delay has passed, if their offer still stands.
    pub(super) async fn ring_delayed_mobiles(&mut self, sip: &mpsc::Sender<Command>, now: Instant) {
        let (due, waiting) = std::mem::take(&mut self.delayed_mobiles)
            .into_iter()
            .partition(|d| d.at <= now);
        self.delayed_mobiles = waiting;
        for d in due {
            if self.offer_legs.contains_key(&(d.call, d.user.clone())) {
                tracing::info!(call = d.call.0, user = %d.user, "queue offer: ringing the mobile after its delay");
                let cmd = Command::Ring {
                    call: d.call,
                    targets: vec![d.target],
                };
                let _ = sip.send(cmd).await;
            }
        }
    }
}
