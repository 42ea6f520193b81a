//! Click-to-call: a staff member asks (from the app) to call a number; Switchboard first rings the
//! staff member's own phone, showing the number, and once they answer dials the number — through
//! the trunks with the caller ID they chose, or a colleague's phones — and connects the two.
//!
//! The destination is routed as if the staff member had dialled it (their permissions, the number
//! plan, their caller ID choice; the toll-fraud limits when the far end is dialled), and refused at
//! once if they could not call it.

use std::time::Instant;

use sip_core::b2bua::{CallCommand, CallRef};
use switchboard_schema::{CallDirection, CdrOpen, TargetKind};

use crate::live::{CallViewState, Entry, Recording};
use crate::{Call, CallControl, CallView, Notice, Record, Route, USER_RING_TIMEOUT};

/// Tags of click-to-call originations live in the upper half of the tag space; callbacks use the
/// queue engine's call ids, far below.
const TAG_BASE: u64 = 1 << 62;

/// Why a click-to-call was not placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClickRefusal {
    UnknownUser,
    /// The staff member may not call this number (the SIP status a dialled call would get: 403
    /// not permitted, 404 no such number).
    NotPermitted(u16),
    /// Only numbers and colleagues: not a group, queue or menu.
    NotCallable,
}

/// A click-to-call in progress.
#[derive(Debug, Clone)]
pub(crate) struct ClickToCall {
    user: String,
    destination: String,
    route: Route,
    /// The far end has been dialled.
    dialled: bool,
}

impl CallControl {
    /// Starts a click-to-call for `user` to `destination`, showing `caller_id` (`main`, `direct`
    /// or a number, as the `X-Caller-ID` header takes it; the user's default without). Answers the
    /// tag the origination carries.
    pub fn click_to_call(
        &mut self,
        now: Instant,
        user: &str,
        destination: &str,
        caller_id: Option<&str>,
    ) -> Result<u64, ClickRefusal> {
        if self.config.user(user).is_none() {
            return Err(ClickRefusal::UnknownUser);
        }
        let at = self.wall(now);
        let route = self
            .config
            .route_from_user(user, destination, caller_id, at);
        match &route {
            Route::Reject(status) => return Err(ClickRefusal::NotPermitted(*status)),
            Route::Trunk { .. } | Route::User(_) => {}
            _ => return Err(ClickRefusal::NotCallable),
        }
        self.next_click += 1;
        let tag = TAG_BASE + self.next_click;
        tracing::info!(%user, %destination, tag, "click-to-call: ringing the staff member first");
        self.clicks.insert(
            tag,
            ClickToCall {
                user: user.to_owned(),
                destination: destination.to_owned(),
                route,
                dialled: false,
            },
        );
        self.sip(CallCommand::Originate {
            tag,
            user: user.to_owned(),
            from: destination.to_owned(),
            ring_timeout: Some(USER_RING_TIMEOUT),
        });
        self.run_todo(now);
        Ok(tag)
    }

    /// The B2BUA placed (or could not place) the call to the staff member; `false` when `tag` is
    /// not a click-to-call.
    pub(crate) fn click_originated(
        &mut self,
        now: Instant,
        tag: u64,
        call: Option<CallRef>,
    ) -> bool {
        let Some(click) = self.clicks.remove(&tag) else {
            return false;
        };
        let Some(call) = call else {
            tracing::info!(user = %click.user, "click-to-call: the staff member has no phone registered");
            self.notice(Notice::CallEnded {
                call: tag,
                from: click.user,
                to: click.destination,
                answered_by: None,
            });
            return true;
        };
        let started_at_ms = self.unix_ms(now);
        let (direction, target_kind, target_ref) = match &click.route {
            Route::User(u) => (
                CallDirection::Internal,
                Some(TargetKind::User),
                Some(u.clone()),
            ),
            _ => (CallDirection::Outbound, None, None),
        };
        self.record(Record::Open {
            call,
            open: CdrOpen {
                call_id: format!("click-to-call-{tag}"),
                direction,
                from_number: click.user.clone(),
                to_number: click.destination.clone(),
                target_kind,
                target_ref,
                started_at_ms,
            },
        });
        self.notice(Notice::CallStarted {
            call: call.0,
            from: click.user.clone(),
            to: click.destination.clone(),
        });
        let view = CallView {
            id: call.0,
            call_id: format!("click-to-call-{tag}"),
            from: click.user.clone(),
            to: click.destination.clone(),
            state: CallViewState::Ringing,
            answered_by: None,
            started_at_ms,
            answered_at_ms: None,
            recording: false,
            recording_id: None,
            on_hold: false,
        };
        let user = click.user.clone();
        self.calls.insert(
            call,
            Call {
                caller: user.clone(),
                view: Some(Entry {
                    view,
                    recording: Recording::Off,
                }),
                click: Some(click),
                ..Call::default()
            },
        );
        self.join_talk(call, &user);
        true
    }

    pub(crate) fn is_click(&self, call: CallRef) -> bool {
        self.calls.get(&call).is_some_and(|c| c.click.is_some())
    }

    /// The staff member answered their phone: dial the far end.
    pub(crate) fn click_answered(&mut self, now: Instant, call: CallRef) {
        let Some(click) = self.calls.get_mut(&call).and_then(|c| c.click.as_mut()) else {
            return;
        };
        if click.dialled {
            return;
        }
        click.dialled = true;
        let (user, destination, route) = (
            click.user.clone(),
            click.destination.clone(),
            click.route.clone(),
        );
        match route {
            Route::Trunk { .. } if !self.toll_admitted(now, &user, call, &destination) => {
                tracing::info!(%user, %destination, "click-to-call refused by the toll limits");
                self.sip(CallCommand::HangUp {
                    call,
                    cause: "toll limit".into(),
                });
            }
            Route::Trunk { number, trunks } => {
                tracing::info!(%user, %number, "click-to-call: the staff member answered, dialling out");
                self.ring_trunks(call, trunks.into());
            }
            Route::User(colleague) => {
                self.sip(CallCommand::RingMember {
                    call,
                    user: colleague,
                    ring_timeout: Some(USER_RING_TIMEOUT),
                });
            }
            _ => {}
        }
        self.run_todo(now);
    }
}
