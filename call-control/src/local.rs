//! Calls Switchboard answers or takes back (menus, queues, messages) as call control carries them
//! out: what the citizen's path asks for (ring a member, dial the citizen back, hang up), where
//! such a call goes next, queue offers' legs, and the calls we place for callbacks.

use std::time::{Duration, Instant};

use sip_core::b2bua::{BranchLabel, CallCommand, CallRef};
use switchboard_routing::queue::CallId;
use switchboard_schema::{CallDirection, CdrOpen};

use crate::citizen::{Start, Todo};
use crate::{CallControl, DelayedMobile, Record, Route, USER_RING_TIMEOUT};

impl CallControl {
    /// Sends a call on after a hunt group found nobody (its no-answer target): still ringing, it is
    /// answered by us first for a queue, menu or message; answered by us already, the citizen's
    /// path takes it on.
    pub(crate) fn route_onward(&mut self, now: Instant, call: CallRef, next: Route) {
        if self.is_local(call) {
            return self.local_route(now, call, next);
        }
        match next {
            Route::User(user) => self.sip(CallCommand::RingMember {
                call,
                user,
                ring_timeout: Some(USER_RING_TIMEOUT),
            }),
            Route::Group(group) => self.start_hunt(now, call, &group),
            Route::Queue(q, p) => self.answer_locally(call, Start::Queue(q, p)),
            Route::Menu(m, p) => self.answer_locally(call, Start::Menu(m, p)),
            Route::Message(p) => self.answer_locally(call, Start::Message(p)),
            Route::Trunk { .. } | Route::Reject(_) => {
                self.sip(CallCommand::Reject { call, status: 480 })
            }
        }
    }

    /// One leg of a queue offer failed; true while the member's other leg still rings.
    pub(crate) fn queue_leg_failed(&mut self, call: CallRef, label: &BranchLabel) -> bool {
        let member = label.name.clone();
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        match c.offer_legs.get_mut(&member) {
            Some(n) if *n > 1 => {
                *n -= 1;
                true
            }
            Some(_) => {
                c.offer_legs.remove(&member);
                false
            }
            None => false,
        }
    }

    /// A transfer to a menu, queue or group: the transferor is released and the caller is ours.
    pub(crate) fn take_back(
        &mut self,
        now: Instant,
        call: CallRef,
        start: Start,
        transferor: &str,
    ) {
        tracing::info!(call = call.0, %transferor, "transferred to a menu, queue or group");
        self.leave_talk(call, transferor);
        self.acd.handle_agent_busy(now, transferor, false);
        self.expect(call, start);
        self.sip(CallCommand::TransferToUs { call });
    }

    /// Answers the caller ourselves; the citizen's path takes over when our 200 is out.
    pub(crate) fn answer_locally(&mut self, call: CallRef, start: Start) {
        self.expect(call, start);
        self.sip(CallCommand::AnswerLocally { call });
    }

    /// Carries out what the citizen's path asked for, until it asks for nothing more.
    pub(crate) fn run_todo(&mut self, now: Instant) {
        loop {
            let todo = std::mem::take(&mut self.todo);
            if todo.is_empty() {
                return;
            }
            for t in todo {
                self.carry_out(now, t);
            }
        }
    }

    fn carry_out(&mut self, now: Instant, todo: Todo) {
        match todo {
            Todo::RingUser {
                call,
                user,
                ring_timeout,
            } => self.offer(now, call, user, ring_timeout),
            Todo::CancelUser { call, user } => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.offer_legs.remove(&user);
                    c.delayed.retain(|d| d.user != user);
                }
                let labels = [
                    BranchLabel::direct(user.clone()),
                    BranchLabel::cellular(user),
                ];
                for label in labels {
                    self.sip(CallCommand::CancelBranch { call, label });
                }
            }
            Todo::HangUp { call, cause } => self.sip(CallCommand::HangUp {
                call,
                cause: cause.to_string(),
            }),
            Todo::Route { call, target } => {
                let next = self.config.route_routing_target(&target, self.wall(now));
                self.local_route(now, call, next);
            }
            Todo::Dial { call, digits } => {
                let next = self.config.route(&digits, self.wall(now));
                self.local_route(now, call, next);
            }
            Todo::Originate {
                callback,
                user,
                ring_timeout,
            } => {
                let from = self.config.main_number.clone().unwrap_or_default();
                self.sip(CallCommand::Originate {
                    tag: callback.0,
                    user: user.clone(),
                    from,
                    ring_timeout: Some(ring_timeout),
                });
                self.originating.insert(callback.0, user);
            }
            Todo::DialCitizen { call, number } => {
                let main = self.config.main_number.clone();
                let trunks = self
                    .config
                    .trunk_targets(&number)
                    .into_iter()
                    .map(|mut t| {
                        t.caller_id = main.clone();
                        t
                    })
                    .collect();
                self.ring_trunks(call, trunks);
            }
        }
    }

    /// A queue rings a member as a hunt group does: their phones and, if they chose so, their
    /// mobile (which must press 1: a queue call). A mobile whose delay is the whole ring time
    /// would ring for no time at all: it is left out.
    fn offer(&mut self, now: Instant, call: CallRef, user: String, ring_timeout: Duration) {
        let cellular = self.config.cellular_target(&user);
        let delay = cellular.as_ref().map_or(Duration::ZERO, |(_, d)| *d);
        let mobile = cellular
            .filter(|(_, delay)| *delay < ring_timeout)
            .map(|(mut t, delay)| {
                t.label = BranchLabel::cellular(user.clone());
                t.ring_timeout = Some(ring_timeout - delay);
                t.confirm = true;
                t
            });
        let legs = 1 + u8::from(mobile.is_some());
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        c.offer_legs.insert(user.clone(), legs);
        if let Some(target) = mobile.clone().filter(|_| !delay.is_zero()) {
            c.delayed.push(DelayedMobile {
                at: now + delay,
                user: user.clone(),
                target,
            });
        }
        self.sip(CallCommand::RingMember {
            call,
            user,
            ring_timeout: Some(ring_timeout),
        });
        if let Some(t) = mobile.filter(|_| delay.is_zero()) {
            self.sip(CallCommand::Ring {
                call,
                targets: vec![t],
            });
        }
    }

    /// Rings the mobiles whose delay has passed, if their offer still stands.
    pub(crate) fn ring_delayed_mobiles(&mut self, now: Instant) {
        let mut due = Vec::new();
        for (call, c) in &mut self.calls {
            let (ready, waiting) = std::mem::take(&mut c.delayed)
                .into_iter()
                .partition(|d| d.at <= now);
            c.delayed = waiting;
            for d in ready {
                if c.offer_legs.contains_key(&d.user) {
                    due.push((*call, d));
                }
            }
        }
        for (call, d) in due {
            tracing::info!(call = call.0, user = %d.user, "queue offer: ringing the mobile after its delay");
            self.sip(CallCommand::Ring {
                call,
                targets: vec![d.target],
            });
        }
    }

    /// The answer to a callback's call to the agent: placed (its record opens) or not.
    pub(crate) fn originated(&mut self, now: Instant, tag: u64, call: Option<CallRef>) {
        if self.click_originated(now, tag, call) {
            return;
        }
        let Some(user) = self.originating.remove(&tag) else {
            return;
        };
        let callback = CallId(tag);
        if let Some(call) = call {
            let open = CdrOpen {
                call_id: format!("callback-{tag}"),
                direction: CallDirection::Outbound,
                from_number: user.clone(),
                to_number: self.callback_number(callback).unwrap_or_default(),
                target_kind: None,
                target_ref: None,
                started_at_ms: self.unix_ms(now),
            };
            self.record(Record::Open { call, open });
        }
        self.callback_started(now, callback, user, call);
    }

    /// Sends a call we answered on to where a menu, an overflow or a dialled extension leads.
    pub(crate) fn local_route(&mut self, now: Instant, call: CallRef, next: Route) {
        let depth = self.menu_depth(call) + 1;
        match next {
            Route::User(user) => {
                self.handed(call);
                self.sip(CallCommand::RingMember {
                    call,
                    user,
                    ring_timeout: Some(USER_RING_TIMEOUT),
                });
            }
            Route::Group(group) => {
                self.handed(call);
                self.start_hunt(now, call, &group);
            }
            Route::Queue(q, p) => self.begin(now, call, Start::Queue(q, p), depth),
            Route::Menu(m, p) => self.begin(now, call, Start::Menu(m, p), depth),
            Route::Message(p) => self.begin(now, call, Start::Message(p), depth),
            Route::Trunk { .. } | Route::Reject(_) => self.sip(CallCommand::HangUp {
                call,
                cause: "nowhere to go".to_string(),
            }),
        }
    }
}
