//! Session timers (RFC 4028) on the caller's dialog, and hanging up calls whose media died.
//!
//! A carrier that supports timers refreshes the session (re-INVITE or UPDATE) every so often; if the
//! refreshes stop — its side crashed, the network split — we end the call instead of holding a
//! trunk channel and a staff member's phone forever. The caller always refreshes (`refresher=uac`):
//! we answer timers only for callers that said `Supported: timer`, and leave the session untimed when
//! a caller asks us to be the refresher. Callee legs are covered by the relay's media timeout
//! ([`Calls::media_timeout`]).

use std::cmp::Reverse;
use std::time::{Duration, Instant};

use sip_message::{HeaderName, Request, Response};
use switchboard_media::relay::LegId;

use super::{CallState, Calls, DialogSide, HangupSide, MediaControl, TimerKind};

/// The smallest interval we accept (RFC 4028 §4 recommends 90 s, never less).
pub const MIN_SE: u64 = 90;
/// What we use when the caller supports timers but proposes no interval.
const DEFAULT_SE: u64 = 1800;
/// Larger intervals are clamped: a day is plenty, and it keeps Instant arithmetic in range.
const MAX_SE: u64 = 86_400;

/// A timed session: the caller refreshes within `interval`, or the call ends.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionTimer {
    pub(crate) interval: u64,
    /// When we give up on the caller (RFC 4028 §10: interval minus min(32 s, interval/3)).
    pub(crate) expires_at: Option<Instant>,
}

impl SessionTimer {
    /// The response headers that tell the caller it must refresh.
    pub(crate) fn stamp(&self, r: &mut Response) {
        r.headers.push(
            HeaderName::SessionExpires,
            format!("{};refresher=uac", self.interval),
        );
        r.headers.push(HeaderName::Require, "timer");
    }

    fn deadline(&self, now: Instant) -> Instant {
        let margin = (self.interval / 3).min(32);
        now + Duration::from_secs(self.interval - margin)
    }
}

/// What a new INVITE asks for: `Ok(None)` no timer, `Err(())` an interval below [`MIN_SE`] (422).
pub(crate) fn requested(invite: &Request) -> Result<Option<SessionTimer>, ()> {
    let supported = invite
        .headers
        .get_all(&HeaderName::Supported)
        .any(|v| has_token(v, "timer"));
    let (interval, refresher) = match invite.headers.get(&HeaderName::SessionExpires) {
        Some(v) => {
            let text = String::from_utf8_lossy(v);
            let mut parts = text.split(';');
            let Some(delta) = parts.next().and_then(|d| d.trim().parse::<u64>().ok()) else {
                return Ok(None); // Unreadable: treat as absent rather than refuse the call.
            };
            let refresher = parts
                .filter_map(|p| p.split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("refresher"))
                .map(|(_, v)| v.trim().to_ascii_lowercase());
            (delta, refresher)
        }
        None => (DEFAULT_SE, None),
    };
    if invite.headers.get(&HeaderName::SessionExpires).is_some() && interval < MIN_SE {
        return Err(());
    }
    if !supported || refresher.as_deref() == Some("uas") {
        return Ok(None);
    }
    let min_se = invite
        .headers
        .get(&HeaderName::MinSe)
        .and_then(|v| String::from_utf8_lossy(v).trim().parse::<u64>().ok())
        .unwrap_or(MIN_SE);
    Ok(Some(SessionTimer {
        interval: interval.max(min_se).clamp(MIN_SE, MAX_SE),
        expires_at: None,
    }))
}

fn has_token(value: &[u8], token: &str) -> bool {
    String::from_utf8_lossy(value)
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// 422 Session Interval Too Small, naming our minimum.
pub(crate) fn too_small(invite: &Request) -> Response {
    let mut r = Response::for_request(invite, 422, "Session Interval Too Small");
    r.headers.push(HeaderName::MinSe, MIN_SE.to_string());
    r
}

impl Calls {
    /// The caller's session is (re)started at `now`: on answer and on every refresh.
    pub(super) fn restart_session_timer(&mut self, now: Instant, call: super::CallRef) {
        let Some(t) = self
            .calls
            .get_mut(&call)
            .and_then(|c| c.session_timer.as_mut())
        else {
            return;
        };
        let at = t.deadline(now);
        t.expires_at = Some(at);
        self.timers
            .push(Reverse((at, call, TimerKind::SessionExpiry)));
    }

    /// The session-expiry timer fired: end the call if no refresh moved it.
    pub(super) fn session_expired(
        &mut self,
        now: Instant,
        call: super::CallRef,
        media: &mut dyn MediaControl,
    ) {
        let due = self
            .calls
            .get(&call)
            .and_then(|c| c.session_timer)
            .and_then(|t| t.expires_at)
            .is_some_and(|at| at <= now);
        if due {
            tracing::info!(
                call = call.0,
                "session timer expired: no refresh from the caller"
            );
            self.hang_up(now, call, "session expired", media);
        }
    }

    /// The relay heard nothing from `leg` for its media timeout: an answered call using it is dead.
    /// Calls still ringing are left alone (a caller may send no media before the answer).
    pub fn media_timeout(&mut self, now: Instant, leg: LegId, media: &mut dyn MediaControl) {
        // The callee side counts only once someone answered: a queue caller's callee leg waits in
        // silence while agents are rung, and that is no reason to drop the caller.
        let call = self.calls.iter().find_map(|(id, c)| {
            let uses =
                c.inbound.leg == leg || (c.callee_leg == Some(leg) && c.answered_branch.is_some());
            (uses && matches!(c.state, CallState::Answered { .. })).then_some(*id)
        });
        if let Some(call) = call {
            tracing::info!(call = call.0, leg = leg.0, "media timeout: hanging up");
            self.hang_up(now, call, "media timeout", media);
        }
    }

    /// Ends an answered call from our side: BYE to both parties.
    pub fn hang_up(
        &mut self,
        now: Instant,
        call: super::CallRef,
        cause: &str,
        media: &mut dyn MediaControl,
    ) {
        if !self
            .calls
            .get(&call)
            .is_some_and(|c| matches!(c.state, CallState::Answered { .. }))
        {
            return;
        }
        self.cancel_branches(call, None);
        self.send_bye(call, DialogSide::Caller);
        self.bye_answered_branch(call);
        self.end(now, call, cause.into(), HangupSide::System, media);
    }

    /// Adds the session-timer headers to a refresh's 2xx and restarts the timer (a re-INVITE or
    /// UPDATE from the caller's side).
    pub(super) fn refreshed(
        &mut self,
        now: Instant,
        call: super::CallRef,
        side: DialogSide,
        response: &mut Response,
    ) {
        if side != DialogSide::Caller || !(200..300).contains(&response.status) {
            return;
        }
        let Some(t) = self.calls.get(&call).and_then(|c| c.session_timer) else {
            return;
        };
        t.stamp(response);
        self.restart_session_timer(now, call);
    }
}
