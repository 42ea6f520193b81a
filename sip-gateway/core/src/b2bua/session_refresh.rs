//! Session refreshes we send (RFC 4028 §7.4, §10) when the caller made us the refresher: at half the
//! interval an UPDATE without a body if the caller allows UPDATE, else a re-INVITE offering the SDP
//! we last sent it (nothing changes). A 2xx starts the interval again; 408, 481 or no answer at
//! all means the caller's side is gone, and the call ends with a BYE to both parties.

use std::cmp::Reverse;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_message::{HeaderName, Method, Response, SipHeaders};
use switchboard_media::sdp::{self, SessionDescription};

use super::session_timer::MIN_SE;
use super::{inbound_key, CallAction, CallRef, Calls, MediaControl, TimerKind};
use crate::transaction::TxKey;

/// How soon a refresh the caller refused for now (491, 5xx…) is tried again; the session's end
/// still bounds it.
const RETRY: Duration = Duration::from_secs(4);

impl Calls {
    /// A fresh Via and our Contact for a request we send in the caller's dialog.
    fn towards_caller(&mut self, call: CallRef) -> Option<(String, String)> {
        let transport = self.calls.get(&call)?.inbound.dialog.peer.transport;
        Some((self.via(transport.as_str()), self.contact(transport)))
    }

    /// Sends our refresh to the caller; the session's end is watched until it is answered.
    pub(super) fn send_refresh(&mut self, now: Instant, call: CallRef) {
        let Some((via, contact)) = self.towards_caller(call) else {
            return;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(t) = c.session_timer.as_mut() else {
            return;
        };
        let sdp = c.inbound.origin.last_sent().map(ToString::to_string);
        let method = match sdp {
            Some(_) if !t.use_update => Method::Invite,
            _ => Method::Update,
        };
        let mut request = c
            .inbound
            .dialog
            .request(method.clone(), &via, &contact, None);
        request.headers.push(
            HeaderName::SessionExpires,
            format!("{};refresher=uac", t.interval),
        );
        request.headers.push(HeaderName::MinSe, MIN_SE.to_string());
        request.headers.push(HeaderName::Supported, "timer");
        match (&method, sdp) {
            (Method::Invite, Some(body)) => {
                request
                    .headers
                    .push(HeaderName::ContentType, "application/sdp");
                request.body = Bytes::from(body);
            }
            // UPDATE is a target refresh too: it carries our Contact.
            _ => request.headers.push(HeaderName::Contact, contact),
        }
        let seq = request.cseq().map_or(0, |c| c.seq);
        let Some(key) = request
            .top_via()
            .and_then(|v| v.branch().map(|b| TxKey::client_key(b, &method)))
        else {
            return;
        };
        t.pending = Some((seq, key));
        if method == Method::Invite {
            t.last_invite = Some(seq);
        }
        let end = t.session_end.unwrap_or(now);
        t.expires_at = Some(end);
        self.timers
            .push(Reverse((end, call, TimerKind::SessionExpiry)));
        tracing::debug!(call = call.0, ?method, "session refresh to the caller");
        let peer = c.inbound.dialog.peer;
        self.actions
            .push_back(CallAction::Request { request, peer });
    }

    /// A response in the caller's dialog to our refresh. Returns false when it is not one (another
    /// of the call's responses).
    pub(super) fn refresh_response(
        &mut self,
        now: Instant,
        resp: &Response,
        media: &mut dyn MediaControl,
    ) -> bool {
        let (Some(call_id), Some(tag), Some(cseq)) = (
            resp.call_id(),
            resp.to().and_then(|t| t.tag().map(str::to_string)),
            resp.cseq(),
        ) else {
            return false;
        };
        let Some(&call) = self.by_inbound.get(&inbound_key(call_id, &tag)) else {
            return false;
        };
        let Some(t) = self.calls.get(&call).and_then(|c| c.session_timer.as_ref()) else {
            return false;
        };
        let ours = t.pending.as_ref().is_some_and(|(s, _)| *s == cseq.seq);
        let invite = cseq.method == Method::Invite;
        let our_invite = invite && t.last_invite == Some(cseq.seq);
        if our_invite && (200..300).contains(&resp.status) {
            // Every 2xx to our re-INVITE is ACKed, retransmissions too (§13.2.2.4).
            self.ack_refresh(call, cseq.seq);
        }
        if !ours || resp.status < 200 {
            // A provisional, or an answer already dealt with.
            return our_invite || ours;
        }
        match resp.status {
            200..=299 => {
                if invite {
                    self.refresh_answer(call, resp, media);
                }
                self.restart_session_timer(now, call);
            }
            408 | 481 => {
                tracing::info!(
                    call = call.0,
                    status = resp.status,
                    "session refresh failed"
                );
                self.hang_up(now, call, "session refresh failed", media);
            }
            405 | 501 if !invite => {
                // The caller does not take UPDATE after all: refresh by re-INVITE from now on.
                if let Some(t) = self.session_timer_mut(call) {
                    t.use_update = false;
                    t.pending = None;
                }
                self.send_refresh(now, call);
            }
            422 => {
                let min_se = resp
                    .headers
                    .get(&HeaderName::MinSe)
                    .and_then(|v| String::from_utf8_lossy(v).trim().parse::<u64>().ok());
                if let Some(t) = self.session_timer_mut(call) {
                    t.interval = t.interval.max(min_se.unwrap_or(t.interval));
                    t.pending = None;
                }
                self.send_refresh(now, call);
            }
            _ => self.retry_refresh(now, call),
        }
        true
    }

    /// Our refresh's transaction timed out: the caller is gone.
    pub(super) fn refresh_timed_out(
        &mut self,
        now: Instant,
        key: &TxKey,
        media: &mut dyn MediaControl,
    ) -> bool {
        let call = self.calls.iter().find_map(|(id, c)| {
            let t = c.session_timer.as_ref()?;
            t.pending
                .as_ref()
                .is_some_and(|(_, k)| k == key)
                .then_some(*id)
        });
        let Some(call) = call else {
            return false;
        };
        tracing::info!(call = call.0, "session refresh unanswered");
        self.hang_up(now, call, "session refresh failed", media);
        true
    }

    fn session_timer_mut(&mut self, call: CallRef) -> Option<&mut super::SessionTimer> {
        self.calls
            .get_mut(&call)
            .and_then(|c| c.session_timer.as_mut())
    }

    /// The caller is there but refused this refresh: try again soon, within the session's end.
    fn retry_refresh(&mut self, now: Instant, call: CallRef) {
        let Some(t) = self.session_timer_mut(call) else {
            return;
        };
        t.pending = None;
        let at = t
            .session_end
            .map_or(now + RETRY, |end| end.min(now + RETRY));
        t.expires_at = Some(at);
        self.timers
            .push(Reverse((at, call, TimerKind::SessionExpiry)));
    }

    fn ack_refresh(&mut self, call: CallRef, seq: u32) {
        let Some((via, contact)) = self.towards_caller(call) else {
            return;
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let request = c
            .inbound
            .dialog
            .request(Method::Ack, &via, &contact, Some(seq));
        let peer = c.inbound.dialog.peer;
        self.actions.push_back(CallAction::Ack { request, peer });
    }

    /// The caller's answer to our re-INVITE: its media may have moved.
    fn refresh_answer(&mut self, call: CallRef, resp: &Response, media: &mut dyn MediaControl) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let negotiated = SessionDescription::parse(&resp.body)
            .ok()
            .filter(|_| !resp.body.is_empty())
            .and_then(|answer| {
                let offer = c.inbound.origin.last_sent()?;
                sdp::negotiated(offer, &answer).ok()
            });
        if let Some(n) = negotiated {
            media.set_remote(c.inbound.leg, super::remote_media(&n));
        }
    }
}
