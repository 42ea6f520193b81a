//! Provisional responses across the B2BUA: ringing and early media (183 with SDP) from the callee to
//! the caller, and reliable provisionals (RFC 3262, 100rel/PRACK) on both sides.
//!
//! - A callee (a carrier, calling out) that sends 18x with `Require: 100rel` gets a PRACK; we say
//!   `Supported: 100rel` in our INVITEs.
//! - A caller whose INVITE says `Require: 100rel` gets its 180/183 reliably: `RSeq`, retransmitted
//!   from T1 doubling until its PRACK, for at most 64·T1 (then the call is refused, §3).
//! - Early media: the first 18x with SDP from the only branch ringing (a call out through a trunk, whose
//!   network plays ringback or "the number is unavailable") is connected at once: the relay's answer
//!   goes to the caller in a 183 and the legs are bridged, so the caller hears the far network.

use std::cmp::Reverse;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_message::{HeaderName, Method, Request, Response, SipHeaders};
use switchboard_media::sdp::SessionDescription;

use super::answer::tag_to;
use super::contact_uri;
use super::{BranchState, CallAction, CallRef, CallState, Calls, MediaControl, TimerKind};

/// Reliable provisional responses towards the caller.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReliableProvisionals {
    /// The caller's INVITE said `Require: 100rel`.
    pub(crate) required: bool,
    rseq: u32,
    pending: Option<Pending>,
}

#[derive(Debug, Clone)]
struct Pending {
    response: Response,
    rseq: u32,
    interval: Duration,
    give_up_at: Instant,
}

impl ReliableProvisionals {
    pub(crate) fn for_invite(invite: &Request) -> ReliableProvisionals {
        ReliableProvisionals {
            required: has_option(invite, &HeaderName::Require, "100rel"),
            rseq: 0,
            pending: None,
        }
    }
}

fn has_option<M: SipHeaders>(m: &M, header: &HeaderName, token: &str) -> bool {
    m.headers().get_all(header).any(|v| {
        String::from_utf8_lossy(v)
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    })
}

impl Calls {
    /// A 1xx (not 100) from branch `index`.
    pub(super) fn callee_provisional(
        &mut self,
        now: Instant,
        call: CallRef,
        index: usize,
        resp: &Response,
        media: &mut dyn MediaControl,
    ) {
        self.prack_if_reliable(call, index, resp);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(b) = c.branches.get_mut(index) else {
            return;
        };
        if b.state == BranchState::Trying {
            b.state = BranchState::Ringing;
        }
        let confirm = b.confirm;
        if !matches!(c.state, CallState::Ringing) {
            return;
        }
        let only_branch = c
            .branches
            .iter()
            .enumerate()
            .all(|(i, o)| i == index || matches!(o.state, BranchState::Failed(_)));
        let early = SessionDescription::parse(&resp.body)
            .ok()
            .filter(|_| !resp.body.is_empty() && only_branch && !confirm && !c.early_media);
        if c.ringing.is_none() {
            c.ringing = Some(now);
        }
        if let Some(answer) = early {
            return self.connect_early(now, call, index, &answer, media);
        }
        if !c.inbound.sent_180 {
            c.inbound.sent_180 = true;
            self.send_provisional(now, call, 180, None);
        }
    }

    /// PRACK for a reliable 18x (once per RSeq).
    fn prack_if_reliable(&mut self, call: CallRef, index: usize, resp: &Response) {
        if !has_option(resp, &HeaderName::Require, "100rel") {
            return;
        }
        let Some(rseq) = resp
            .headers
            .get(&HeaderName::Rseq)
            .and_then(|v| sip_message::typed::parse_number(v, "RSeq", u32::MAX.into()).ok())
        else {
            return;
        };
        let Some(cseq) = resp.cseq().map(|c| c.seq) else {
            return;
        };
        let transport = match self.calls.get(&call).and_then(|c| c.branches.get(index)) {
            Some(b) if b.last_rseq.is_none_or(|last| u64::from(last) < rseq) => {
                b.dialog.peer.transport
            }
            _ => return, // A retransmission we already PRACKed.
        };
        let via = self.via(transport.as_str());
        let contact = self.contact(transport);
        let Some(b) = self
            .calls
            .get_mut(&call)
            .and_then(|c| c.branches.get_mut(index))
        else {
            return;
        };
        b.last_rseq = u32::try_from(rseq).ok();
        // The early dialog's remote tag, target and route set come from this response (§12.1.2).
        b.dialog.confirm_as_uac(resp);
        let mut request = b.dialog.request(Method::Prack, &via, &contact, None);
        request
            .headers
            .push(HeaderName::Rack, format!("{rseq} {cseq} INVITE"));
        let peer = b.dialog.peer;
        self.actions
            .push_back(CallAction::Request { request, peer });
    }

    /// Connects the caller to a callee's early media: the relay answers the caller in a 183.
    fn connect_early(
        &mut self,
        now: Instant,
        call: CallRef,
        index: usize,
        answer: &SessionDescription,
        media: &mut dyn MediaControl,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(our_answer) = c.join_caller(index, answer, media) else {
            return;
        };
        c.early_media = true;
        c.inbound.sent_180 = true;
        self.send_provisional(now, call, 183, Some(our_answer.to_string()));
    }

    /// A 180/183 to the caller: reliable if its INVITE required it (and none is awaiting PRACK).
    pub(super) fn send_provisional(
        &mut self,
        now: Instant,
        call: CallRef,
        status: u16,
        sdp_body: Option<String>,
    ) {
        let t1 = self.cfg.t1;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let mut r = Response::for_request(
            &c.inbound.invite,
            status,
            sip_message::default_reason(status),
        );
        tag_to(&mut r, &c.inbound.dialog.local_tag);
        r.headers.push(
            HeaderName::Contact,
            contact_uri(&self.cfg, c.inbound.dialog.peer.transport),
        );
        if let Some(body) = sdp_body {
            r.headers.push(HeaderName::ContentType, "application/sdp");
            r.body = Bytes::from(body);
        }
        let rel = &mut c.inbound.reliable;
        if rel.required {
            if rel.pending.is_some() {
                return; // §3: one unacknowledged reliable provisional at a time.
            }
            rel.rseq += 1;
            r.headers.push(HeaderName::Require, "100rel");
            r.headers.push(HeaderName::Rseq, rel.rseq.to_string());
            rel.pending = Some(Pending {
                response: r.clone(),
                rseq: rel.rseq,
                interval: t1,
                give_up_at: now + 64 * t1,
            });
            self.timers
                .push(Reverse((now + t1, call, TimerKind::RetransmitProvisional)));
        }
        let key = c.inbound.key.clone();
        self.actions
            .push_back(CallAction::Respond { key, response: r });
    }

    /// Timer: resend an unacknowledged reliable provisional, or give up on the caller.
    pub(super) fn retransmit_provisional(
        &mut self,
        now: Instant,
        call: CallRef,
        media: &mut dyn MediaControl,
    ) {
        let t2 = self.cfg.t2;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if !matches!(c.state, CallState::Routing | CallState::Ringing) {
            c.inbound.reliable.pending = None;
            return;
        }
        let Some(p) = c.inbound.reliable.pending.as_mut() else {
            return;
        };
        if now >= p.give_up_at {
            // §3: no PRACK within 64·T1 — reject the INVITE with a 5xx.
            c.inbound.reliable.pending = None;
            return self.reject(now, call, 504, media);
        }
        p.interval = (p.interval * 2).min(t2);
        let (response, next) = (p.response.clone(), (now + p.interval).min(p.give_up_at));
        let key = c.inbound.key.clone();
        self.timers
            .push(Reverse((next, call, TimerKind::RetransmitProvisional)));
        self.actions
            .push_back(CallAction::Respond { key, response });
    }

    /// A PRACK from the caller: the status to answer it with (200, or 481 when it acknowledges
    /// nothing we sent).
    pub fn handle_prack(&mut self, req: &Request) -> u16 {
        let Some(call) = self.find_inbound(req) else {
            return 481;
        };
        let rack = req
            .headers
            .get(&HeaderName::Rack)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .and_then(|v| {
                v.split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u32>().ok())
            });
        let Some(c) = self.calls.get_mut(&call) else {
            return 481;
        };
        match (&c.inbound.reliable.pending, rack) {
            (Some(p), Some(rseq)) if p.rseq == rseq => {
                c.inbound.reliable.pending = None;
                200
            }
            // A retransmitted PRACK for one already acknowledged.
            (None, Some(rseq)) if rseq <= c.inbound.reliable.rseq && rseq > 0 => 200,
            _ => 481,
        }
    }
}
