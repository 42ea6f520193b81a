//! Session timers (RFC 4028) on the caller's dialog, and hanging up calls whose media died.
//!
//! A carrier that supports timers refreshes the session (re-INVITE or UPDATE) every so often; if the
//! refreshes stop — its side crashed, the network split — we end the call instead of holding a
//! trunk channel and a staff member's phone forever. Who refreshes is the caller's choice
//! (`refresher=uac` or `uas`); a caller that supports timers but leaves the choice to us refreshes
//! itself (`uac`), and a caller that does not support timers, whose INVITE a proxy gave a
//! Session-Expires, is refreshed by us (§9: it could not be asked to). When we refresh, see
//! [`super::session_refresh`]. Callee legs are covered by the relay's media timeout
//! ([`Calls::media_timeout`]).

use std::cmp::Reverse;
use std::time::{Duration, Instant};

use sip_message::{HeaderName, Request, Response};
use switchboard_media::relay::LegId;

use super::{CallState, Calls, DialogSide, HangupSide, MediaControl, TimerKind};
use crate::transaction::TxKey;

/// The smallest interval we accept (RFC 4028 §4 recommends 90 s, never less).
pub const MIN_SE: u64 = 90;
/// What we use when the caller supports timers but proposes no interval.
const DEFAULT_SE: u64 = 1800;
/// Larger intervals are clamped: a day is plenty, and it keeps Instant arithmetic in range.
const MAX_SE: u64 = 86_400;

/// A timed session: refreshed within `interval` — by the caller, or by us — or the call ends.
#[derive(Debug, Clone)]
pub(crate) struct SessionTimer {
    pub(crate) interval: u64,
    /// When the timer next needs attention: the session's end when the caller refreshes
    /// (RFC 4028 §10: interval minus min(32 s, interval/3)); our next refresh when we do, and
    /// while it is unanswered the session's end.
    pub(crate) expires_at: Option<Instant>,
    /// We are the refresher (`refresher=uas` in our answer).
    pub(crate) we_refresh: bool,
    /// The caller said `Supported: timer` (only then may our responses require it).
    pub(crate) caller_supports: bool,
    /// The caller allows UPDATE: our refreshes need no SDP.
    pub(crate) use_update: bool,
    /// When the session ends without a successful refresh (only while we refresh).
    pub(crate) session_end: Option<Instant>,
    /// Our refresh awaiting its answer: CSeq number and client transaction.
    pub(crate) pending: Option<(u32, TxKey)>,
    /// The CSeq of our last re-INVITE refresh, to ACK its retransmitted 2xx again.
    pub(crate) last_invite: Option<u32>,
}

impl SessionTimer {
    /// The response headers that tell the caller who refreshes.
    pub(crate) fn stamp(&self, r: &mut Response) {
        let refresher = if self.we_refresh { "uas" } else { "uac" };
        r.headers.push(
            HeaderName::SessionExpires,
            format!("{};refresher={refresher}", self.interval),
        );
        if self.caller_supports {
            r.headers.push(HeaderName::Require, "timer");
        }
    }

    fn deadline(&self, now: Instant) -> Instant {
        let margin = (self.interval / 3).min(32);
        now + Duration::from_secs(self.interval - margin)
    }

    /// Takes what a request (the INVITE or a refresh) says about interval and refresher.
    fn apply(&mut self, asked: Asked) {
        if let Some(interval) = asked.interval {
            self.interval = interval;
        }
        match asked.refresher.as_deref() {
            Some("uas") => self.we_refresh = true,
            Some("uac") => self.we_refresh = false,
            _ => {}
        }
    }
}

/// What a request's timer headers ask for.
struct Asked {
    supported: bool,
    /// Session-Expires, raised to the request's Min-SE and clamped to our range.
    interval: Option<u64>,
    /// Below our minimum as it came.
    too_small: bool,
    refresher: Option<String>,
}

fn asked(req: &Request) -> Asked {
    let supported = req
        .headers
        .get_all(&HeaderName::Supported)
        .any(|v| has_token(v, "timer"));
    let min_se = req
        .headers
        .get(&HeaderName::MinSe)
        .and_then(|v| String::from_utf8_lossy(v).trim().parse::<u64>().ok())
        .unwrap_or(MIN_SE);
    // An unreadable Session-Expires is treated as absent rather than refusing the call.
    let session_expires = req.headers.get(&HeaderName::SessionExpires).and_then(|v| {
        let text = String::from_utf8_lossy(v);
        let mut parts = text.split(';');
        let delta = parts.next()?.trim().parse::<u64>().ok()?;
        let refresher = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("refresher"))
            .map(|(_, v)| v.trim().to_ascii_lowercase());
        Some((delta, refresher))
    });
    Asked {
        supported,
        interval: session_expires
            .as_ref()
            .map(|(d, _)| (*d).max(min_se).clamp(MIN_SE, MAX_SE)),
        too_small: session_expires.as_ref().is_some_and(|(d, _)| *d < MIN_SE),
        refresher: session_expires.and_then(|(_, r)| r),
    }
}

/// What a new INVITE asks for: `Ok(None)` no timer, `Err(())` an interval below [`MIN_SE`] (422).
pub(crate) fn requested(invite: &Request) -> Result<Option<SessionTimer>, ()> {
    let asked = asked(invite);
    if asked.interval.is_none() && !asked.supported {
        return Ok(None);
    }
    // Only a caller that supports timers understands a 422; another one's Session-Expires came
    // from a proxy, and is raised to our minimum instead.
    if asked.too_small && asked.supported {
        return Err(());
    }
    let use_update = invite
        .headers
        .get_all(&HeaderName::Allow)
        .any(|v| has_token(v, "UPDATE"));
    let mut timer = SessionTimer {
        interval: DEFAULT_SE,
        expires_at: None,
        // §9: a caller without timer support cannot refresh; one that leaves the choice to us
        // refreshes itself.
        we_refresh: !asked.supported,
        caller_supports: asked.supported,
        use_update,
        session_end: None,
        pending: None,
        last_invite: None,
    };
    let supported = asked.supported;
    timer.apply(asked);
    if !supported {
        timer.we_refresh = true;
    }
    Ok(Some(timer))
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
        let at = if t.we_refresh {
            // §10: the refresher refreshes at half the interval.
            t.session_end = Some(t.deadline(now));
            now + Duration::from_secs(t.interval / 2)
        } else {
            t.session_end = None;
            t.deadline(now)
        };
        t.pending = None;
        t.expires_at = Some(at);
        self.timers
            .push(Reverse((at, call, TimerKind::SessionExpiry)));
    }

    /// The session timer fired: end the call if no refresh moved it, or refresh it ourselves.
    pub(super) fn session_expired(
        &mut self,
        now: Instant,
        call: super::CallRef,
        media: &mut dyn MediaControl,
    ) {
        let Some(t) = self.calls.get(&call).and_then(|c| c.session_timer.as_ref()) else {
            return;
        };
        if t.expires_at.is_none_or(|at| at > now) {
            return; // A refresh moved it since.
        }
        let ended = t.session_end.is_some_and(|end| end <= now) || t.pending.is_some();
        if t.we_refresh && !ended {
            return self.send_refresh(now, call);
        }
        tracing::info!(
            call = call.0,
            we_refresh = t.we_refresh,
            "session timer expired: no refresh"
        );
        self.hang_up(now, call, "session expired", media);
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
    /// UPDATE from the caller's side, which may also change the interval or who refreshes).
    pub(super) fn refreshed(
        &mut self,
        now: Instant,
        call: super::CallRef,
        side: DialogSide,
        req: &Request,
        response: &mut Response,
    ) {
        if side != DialogSide::Caller || !(200..300).contains(&response.status) {
            return;
        }
        let Some(t) = self
            .calls
            .get_mut(&call)
            .and_then(|c| c.session_timer.as_mut())
        else {
            return;
        };
        let asked = asked(req);
        if asked.supported {
            t.apply(asked);
        }
        t.stamp(response);
        self.restart_session_timer(now, call);
    }
}
