//! The B2BUA's call events: a new call is routed, branches fail or answer, holds, transfers and
//! the end of a call.

use std::collections::VecDeque;
use std::time::Instant;

use sip_core::b2bua::{BranchLabel, CallCommand, CallEvent, CallRef, Caller, RingTarget};
use switchboard_schema::{CallDirection, CdrAnswer, CdrOpen, TargetKind};

use crate::citizen::Start;
use crate::hunt::fail_reason;
use crate::live::{CallViewState, Entry, Recording};
use crate::{
    hunt_leg, Call, CallControl, CallView, MediaCommand, Notice, Record, Route,
    TRANSFER_RING_TIMEOUT, USER_RING_TIMEOUT,
};

impl CallControl {
    /// An event from the B2BUA.
    pub fn handle_call_event(&mut self, now: Instant, event: CallEvent) {
        match event {
            CallEvent::Incoming {
                call,
                call_id,
                caller,
                from_user,
                to_user,
                source,
                caller_id_request,
            } => {
                tracing::info!(%call_id, ?caller, from = %from_user, to = %to_user, %source, "incoming call");
                self.incoming(
                    now,
                    call,
                    &call_id,
                    &caller,
                    &from_user,
                    &to_user,
                    caller_id_request.as_deref(),
                );
            }
            CallEvent::AnsweredLocally { call, leg, codec } => {
                if let Some(e) = self.view_mut(call) {
                    if e.view.state == CallViewState::Ringing {
                        e.view.state = CallViewState::Local;
                    }
                }
                if self.is_callback(call) {
                    self.callback_agent_answered(now, call);
                } else if self.is_click(call) {
                    self.click_answered(now, call);
                } else {
                    self.answered_locally(now, call, leg, codec);
                }
            }
            CallEvent::BranchFailed {
                call,
                label,
                status,
                last,
            } => self.branch_failed(now, call, &label, status, last),
            CallEvent::Answered { call, by } => self.answered(now, call, &by),
            CallEvent::Confirming {
                call,
                label,
                leg,
                codec,
            } => self.start_confirmation(now, call, label, leg, codec),
            CallEvent::Held { call, leg, codec } => {
                tracing::info!(call = call.0, "on hold: music on hold");
                self.view_held(call, true);
                self.play_music_on_hold(leg, &codec);
            }
            // A key sent as SIP INFO counts as one the relay heard on the leg.
            CallEvent::Dtmf { leg, digit, .. } => {
                self.handle_media_event(now, crate::MediaInput::Dtmf { leg, digit })
            }
            CallEvent::Resumed { call, leg } => {
                tracing::info!(call = call.0, "resumed");
                self.view_held(call, false);
                self.media(MediaCommand::StopPlayback { leg });
            }
            CallEvent::TransferRequested {
                call,
                by,
                target,
                hold_leg,
                codec,
            } => {
                self.view_held(call, true);
                self.play_music_on_hold(hold_leg, &codec);
                let transferor = by.name;
                tracing::info!(%transferor, %target, "transfer requested");
                self.ring_transfer_target(now, call, &transferor, &target);
            }
            CallEvent::Transferred {
                call,
                from,
                to,
                hold_leg,
            } => {
                self.media(MediaCommand::StopPlayback { leg: hold_leg });
                let (from, to) = (from.name, to.name);
                tracing::info!(%from, %to, "call transferred");
                self.view_held(call, false);
                self.view_answered(now, call, &to);
                self.leave_talk(call, &from);
                self.join_talk(call, &to);
            }
            CallEvent::TransferFailed {
                call,
                status,
                hold_leg,
            } => {
                self.view_held(call, false);
                self.media(MediaCommand::StopPlayback { leg: hold_leg });
                tracing::info!(status, "transfer failed");
            }
            CallEvent::Originated { tag, call } => self.originated(now, tag, call),
            CallEvent::Ended { call, report } => self.ended(now, call, report),
        }
        self.run_todo(now);
    }

    #[allow(clippy::too_many_arguments)]
    fn incoming(
        &mut self,
        now: Instant,
        call: CallRef,
        call_id: &str,
        caller: &Caller,
        from_user: &str,
        to_user: &str,
        caller_id_request: Option<&str>,
    ) {
        let shown = match caller {
            Caller::User(user) => user.as_str(),
            Caller::Trunk => from_user,
        };
        let view = CallView {
            id: call.0,
            call_id: call_id.to_owned(),
            from: shown.to_owned(),
            to: to_user.to_owned(),
            state: CallViewState::Ringing,
            answered_by: None,
            started_at_ms: self.unix_ms(now),
            answered_at_ms: None,
            recording: false,
            recording_id: None,
            on_hold: false,
        };
        let entry = Call {
            caller: from_user.to_string(),
            view: Some(Entry {
                view,
                recording: Recording::Off,
            }),
            ..Call::default()
        };
        let at = self.wall(now);
        let route = match caller {
            Caller::Trunk => self.config.route(to_user, at),
            Caller::User(user) => self
                .config
                .route_from_user(user, to_user, caller_id_request, at),
        };
        self.calls.insert(call, entry);
        self.notice(Notice::CallStarted {
            call: call.0,
            from: shown.to_owned(),
            to: to_user.to_owned(),
        });
        if let Caller::User(user) = caller {
            self.join_talk(call, user);
        }
        self.open_cdr(now, call, call_id, caller, from_user, to_user, &route);
        // Staff phones show which public number the citizen called (a queue or hunt group on the
        // way names itself later).
        if let (Caller::Trunk, Some((label, number))) = (caller, self.config.public_number(to_user))
        {
            let (name, number) = (label.to_string(), number.to_string());
            self.sip(CallCommand::ShowVia { call, name, number });
        }
        match route {
            Route::Trunk { .. } if matches!(caller, Caller::User(user) if !self.toll_admitted(now, user, call, to_user)) =>
            {
                tracing::info!(%call_id, "toll call refused: the caller is blocked by the toll limits");
                self.sip(CallCommand::Reject { call, status: 403 });
            }
            Route::Trunk { number, trunks } => {
                if let Some(first) = trunks.first() {
                    tracing::info!(%call_id, %number, trunk = %first.label, "call out through the trunk");
                }
                self.ring_trunks(call, trunks.into());
            }
            Route::User(user) => {
                tracing::info!(%call_id, %user, "call to a user");
                self.sip(CallCommand::RingMember {
                    call,
                    user,
                    ring_timeout: Some(USER_RING_TIMEOUT),
                });
            }
            Route::Group(group) => {
                tracing::info!(%call_id, group = %group.name, "call to a hunt group");
                self.start_hunt(now, call, &group);
            }
            Route::Queue(q, p) => self.answer_locally(call, Start::Queue(q, p)),
            Route::Menu(m, p) => self.answer_locally(call, Start::Menu(m, p)),
            Route::Message(p) => self.answer_locally(call, Start::Message(p)),
            Route::Reject(status) => {
                tracing::info!(%call_id, status, "call not routed");
                self.sip(CallCommand::Reject { call, status });
            }
        }
    }

    /// Staff rung for `call` from now on see `name` (a queue or hunt group) beside the number the
    /// caller dialled.
    pub(crate) fn show_via(&mut self, call: CallRef, name: &str) {
        let Some(dialled) = self
            .calls
            .get(&call)
            .and_then(|c| c.view.as_ref())
            .map(|e| e.view.to.clone())
        else {
            return;
        };
        let number = self
            .config
            .public_number(&dialled)
            .map_or(dialled.clone(), |(_, n)| n.to_string());
        self.sip(CallCommand::ShowVia {
            call,
            name: name.to_string(),
            number,
        });
    }

    /// Rings the trunks in `trunks` in turn: the SIP core takes the first that is up and under its
    /// caps; the rest stay for failover.
    pub(crate) fn ring_trunks(&mut self, call: CallRef, trunks: VecDeque<RingTarget>) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.failover = Some(trunks.clone());
        }
        self.sip(CallCommand::RingTrunk {
            call,
            targets: trunks.into(),
        });
    }

    fn branch_failed(
        &mut self,
        now: Instant,
        call: CallRef,
        label: &BranchLabel,
        status: u16,
        last: bool,
    ) {
        if !self.calls.contains_key(&call) {
            return; // A late report for a call that has ended.
        }
        let trunk_trouble = status == 408 || (500..600).contains(&status);
        let failover = self.calls.get_mut(&call).and_then(|c| c.failover.as_mut());
        if let Some(queue) = failover {
            if trunk_trouble {
                // The trunks up to the one that failed are done with.
                while let Some(t) = queue.pop_front() {
                    if t.label == *label {
                        break;
                    }
                }
                if let Some(next) = queue.front() {
                    tracing::info!(failed = %label, status, next = %next.label, "trunk failover");
                    let rest = queue.clone();
                    self.sip(CallCommand::RingTrunk {
                        call,
                        targets: rest.into(),
                    });
                    return;
                }
                if last {
                    return self.trunks_exhausted(call);
                }
            }
        }
        let in_hunt = self.calls.get(&call).is_some_and(|c| c.hunt.is_some());
        if in_hunt {
            if let Some(h) = self.calls.get_mut(&call).and_then(|c| c.hunt.as_mut()) {
                h.hunt
                    .handle_failed(&label.name, hunt_leg(label), fail_reason(status), now);
            }
            self.carry_out_hunt(now, call);
        } else if self.queue_leg_failed(call, label) {
            // The member's other leg (app or mobile) still rings for this offer.
        } else if self.ring_failed(now, call, &label.name) {
        } else if last && self.is_click(call) {
            // The far end of a click-to-call is busy or does not answer: end the staff member's call.
            self.sip(CallCommand::HangUp {
                call,
                cause: format!("the number answered {status}"),
            });
        } else if last {
            // Busy everywhere is busy; anything else (no answer, declined) is unavailable.
            let status = if status == 486 || status == 600 {
                486
            } else {
                480
            };
            self.sip(CallCommand::Reject { call, status });
        }
    }

    /// No trunk took a call out, or every one failed: the caller hears 503; a callback we placed
    /// hangs up the agent.
    fn trunks_exhausted(&mut self, call: CallRef) {
        if self.is_callback(call) || self.is_click(call) {
            self.sip(CallCommand::HangUp {
                call,
                cause: "no trunk for the callback".to_string(),
            });
        } else {
            tracing::info!(call = call.0, "no trunk can take the call");
            self.sip(CallCommand::Reject { call, status: 503 });
        }
    }

    fn answered(&mut self, now: Instant, call: CallRef, by: &BranchLabel) {
        tracing::info!(%by, "call answered");
        self.view_answered(now, call, &by.to_string());
        let member = by.name.clone();
        let queued = self.queue_of(call);
        self.join_talk(call, &member);
        if let Some(c) = self.calls.get_mut(&call) {
            c.offer_legs.clear();
            c.delayed.clear();
        }
        if self.is_callback(call) {
            tracing::info!(
                call = call.0,
                "callback connected: agent and citizen bridged"
            );
        } else if self.is_local(call) {
            self.answered_by(now, call, &member);
        } else {
            self.acd.handle_agent_busy(now, &member, true);
        }
        let answer = CdrAnswer {
            answered_at_ms: self.unix_ms(now),
            answered_by: by.to_string(),
            ring_time_ms: 0,
            queue_id: queued.map(|(q, _)| q as i64),
            queue_wait_ms: queued
                .map(|(_, at)| now.saturating_duration_since(at).as_millis() as i64),
        };
        self.record(Record::Answered { call, answer });
        let in_hunt = self.calls.get(&call).is_some_and(|c| c.hunt.is_some());
        if in_hunt {
            if let Some(h) = self.calls.get_mut(&call).and_then(|c| c.hunt.as_mut()) {
                h.hunt.handle_answered(&by.name, hunt_leg(by), now);
            }
            self.carry_out_hunt(now, call);
        }
    }

    fn ended(&mut self, now: Instant, call: CallRef, report: sip_core::b2bua::CallReport) {
        self.sip(CallCommand::TrunkRelease { call });
        self.toll.ended(now, call);
        let answered_by = report.answered_by.as_ref().map(|l| l.name.clone());
        let mut queue = None;
        if self.is_local(call) || self.is_callback(call) {
            queue = self.citizen_ended(now, call, answered_by.as_deref());
        } else if let Some(c) = self.calls.get(&call) {
            for member in c.talking.clone() {
                self.acd.handle_agent_busy(now, &member, false);
            }
        }
        let Some(c) = self.calls.remove(&call) else {
            return;
        };
        if let Some(entry) = &c.view {
            self.notice(Notice::CallEnded {
                call: call.0,
                from: entry.view.from.clone(),
                to: entry.view.to.clone(),
                answered_by: entry.view.answered_by.clone(),
            });
        }
        for member in &c.talking {
            self.live.set_in_call(member, call, false);
        }
        for leg in c.confirmations.keys() {
            self.by_leg.remove(leg);
        }
        if let Some(leg) = c.local.as_ref().and_then(|l| l.leg) {
            self.by_leg.remove(&leg);
        }
        // A recording still running ends with its legs (the media thread finishes the file when
        // they are released); it is told to stop in case they were not.
        if let Some(Recording::On { id, leg }) = c.view.as_ref().map(|e| e.recording) {
            self.media(MediaCommand::StopRecording {
                id: switchboard_media::relay::RecordingId(id as u64),
                leg,
            });
        }
        let ended_at_ms = self.unix_ms(now);
        self.record(Record::Closed {
            call,
            report: report.clone(),
            queue,
            ended_at_ms,
        });
        if let Some(h) = c.hunt {
            if let (Some(by), Some(state)) = (
                report.answered_by.as_ref(),
                Some(self.live.group_memory(h.group_id)),
            ) {
                state.record_call_end(&by.name, now);
            }
        }
        tracing::info!(
            call_id = %report.call_id,
            from = %report.from,
            to = %report.to,
            answered_by = %report
                .answered_by
                .as_ref()
                .map_or_else(|| "-".to_owned(), ToString::to_string),
            cause = %report.cause,
            side = ?report.side,
            "call ended"
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn open_cdr(
        &mut self,
        now: Instant,
        call: CallRef,
        call_id: &str,
        caller: &Caller,
        from: &str,
        to: &str,
        route: &Route,
    ) {
        let direction = match (caller, route) {
            (Caller::Trunk, _) => CallDirection::Inbound,
            (Caller::User(_), Route::Trunk { .. }) => CallDirection::Outbound,
            (Caller::User(_), _) => CallDirection::Internal,
        };
        let (target_kind, target_ref) = match route {
            Route::User(u) => (Some(TargetKind::User), Some(u.clone())),
            Route::Group(g) => (Some(TargetKind::HuntGroup), Some(g.id.to_string())),
            Route::Queue(q, _) => (Some(TargetKind::Queue), Some(q.id.to_string())),
            Route::Menu(m, _) => (Some(TargetKind::Menu), Some(m.id.to_string())),
            Route::Message(p) => (Some(TargetKind::Message), Some(p.clone())),
            Route::Trunk { .. } | Route::Reject(_) => (None, None),
        };
        let from = match caller {
            Caller::User(u) => u.clone(),
            Caller::Trunk => from.to_string(),
        };
        let open = CdrOpen {
            call_id: call_id.to_string(),
            direction,
            from_number: from,
            to_number: to.to_string(),
            target_kind,
            target_ref,
            started_at_ms: self.unix_ms(now),
        };
        self.record(Record::Open { call, open });
    }

    /// Rings where a transferor sent its caller: an extension or a number, dialled as the
    /// transferor would (its permissions apply). A menu, queue or group: Switchboard takes the
    /// caller back and carries on as if the caller had dialled it.
    fn ring_transfer_target(
        &mut self,
        now: Instant,
        call: CallRef,
        transferor: &str,
        target: &str,
    ) {
        let at = self.wall(now);
        match self.config.route_from_user(transferor, target, None, at) {
            Route::User(user) => self.sip(CallCommand::RingMember {
                call,
                user,
                ring_timeout: Some(TRANSFER_RING_TIMEOUT),
            }),
            // A citizen handed abroad counts against the transferor's toll limits.
            Route::Trunk { .. } if !self.toll_admitted(now, transferor, call, target) => {
                self.sip(CallCommand::Reject { call, status: 403 })
            }
            // Only the transfer's trunks: a refusal fails the transfer, not the call.
            Route::Trunk { trunks, .. } => self.sip(CallCommand::RingTrunk {
                call,
                targets: trunks,
            }),
            Route::Group(group) => {
                self.take_back(now, call, Start::Handed, transferor);
                self.start_hunt(now, call, &group);
            }
            Route::Queue(q, p) => self.take_back(now, call, Start::Queue(q, p), transferor),
            Route::Menu(m, p) => self.take_back(now, call, Start::Menu(m, p), transferor),
            Route::Message(p) => self.take_back(now, call, Start::Message(p), transferor),
            Route::Reject(status) => self.sip(CallCommand::Reject { call, status }),
        }
    }
}
