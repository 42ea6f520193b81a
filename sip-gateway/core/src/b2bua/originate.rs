//! Calls Switchboard places itself: a queue callback rings the agent first and, once the agent
//! answers, the citizen. The agent's leg takes the place of a caller's: we send the INVITE (with the
//! relay's offer, G.711 so the citizen's carrier leg needs no transcoding), and when it is answered
//! the call is like one answered by us ([`CallEvent::AnsweredLocally`]): [`Calls::ring`] rings the
//! other party from the agent's codec and joins whoever answers.

use std::cmp::Reverse;
use std::time::Instant;

use sip_message::{Method, Response, SipHeaders};
use switchboard_media::sdp::{self, LocalCapabilities, SessionDescription, SessionOrigin};

use super::answer::remote_media;
use super::provisional::ReliableProvisionals;
use super::{
    inbound_key, Call, CallAction, CallEvent, CallRef, CallState, Calls, HangupSide, Inbound,
    MediaControl, RingTarget, TimerKind,
};

/// The branch index under which an originated call's first leg is found by Call-ID.
pub(super) const ORIGIN: usize = usize::MAX;

impl Calls {
    /// Rings `first` from Switchboard itself, presenting `from` (a number or a name). Returns the new
    /// call; its fate comes as [`CallEvent::AnsweredLocally`] (answered) or [`CallEvent::Ended`].
    pub fn originate(
        &mut self,
        now: Instant,
        first: RingTarget,
        from: &str,
        media: &mut dyn MediaControl,
    ) -> Option<CallRef> {
        let srtp_mode = super::srtp::mode_for(first.srtp, first.peer.transport).ok()?;
        let crypto = self.local_crypto(srtp_mode);
        let (leg, leg_addr) = match media.allocate(None) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "no media port for a call we place");
                return None;
            }
        };
        let mut caps = LocalCapabilities::new(
            leg_addr.ip(),
            leg_addr.port(),
            vec![sdp::Codec::PCMA, sdp::Codec::PCMU],
        );
        caps.telephone_event = Some(101);
        caps.crypto = crypto;
        let mut origin = SessionOrigin::new(self.token_u32().into(), leg_addr.ip());
        let Ok(offer) = sdp::create_offer(&caps, &mut origin) else {
            media.release(leg);
            return None;
        };
        let ids = self.invite_ids(&first);
        let local = self.cfg.local;
        let from_uri = format!("<sip:{}@{local}>", super::outbound::display_user(from));
        let (invite, key, dialog) =
            super::outbound::initial_invite(ids, &first, from_uri, 70, false, &offer)?;
        let call_id = dialog.call_id.clone();
        let id = CallRef(self.next_id);
        self.next_id += 1;
        let ring_timeout = first.ring_timeout.unwrap_or(self.cfg.default_ring_timeout);
        self.calls.insert(
            id,
            Call {
                state: CallState::Originating,
                inbound: Inbound {
                    key,
                    invite: invite.clone(),
                    dialog,
                    offer,
                    origin,
                    leg,
                    leg_addr,
                    sent_180: true,
                    last_2xx: None,
                    retransmit_interval: self.cfg.t1,
                    retransmit_deadline: None,
                    reliable: ReliableProvisionals::default(),
                    crypto,
                    webrtc: None,
                },
                branches: Vec::new(),
                callee_leg: None,
                callee_addr: None,
                answered_branch: None,
                started: now,
                ringing: None,
                answered: None,
                from_user: from.to_string(),
                to_user: first.label.name.clone(),
                max_forwards: 70,
                codec: None,
                transfer: None,
                holding: [false; 2],
                retired_legs: Vec::new(),
                session_timer: None,
                caller_user: None,
                early_media: false,
                side_codecs: [None, None],
                via: None,
            },
        );
        self.by_branch_call_id.insert(call_id, (id, ORIGIN));
        self.timers.push(Reverse((
            now + ring_timeout,
            id,
            TimerKind::BranchTimeout(ORIGIN),
        )));
        self.actions.push_back(CallAction::Request {
            request: invite,
            peer: first.peer,
        });
        Some(id)
    }

    /// A response to the INVITE of a call we placed.
    pub(super) fn origin_response(
        &mut self,
        now: Instant,
        call: CallRef,
        resp: &Response,
        media: &mut dyn MediaControl,
    ) {
        if resp.cseq().map(|c| c.method) != Some(Method::Invite) {
            return; // Our BYE's answer.
        }
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        let transport = c.inbound.dialog.peer.transport;
        match resp.status {
            100..=199 => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.ringing.get_or_insert(now);
                }
            }
            200..=299 => {
                let via = self.via(transport.as_str());
                let contact = self.contact(transport);
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                c.inbound.dialog.confirm_as_uac(resp);
                let ack = c
                    .inbound
                    .dialog
                    .request(Method::Ack, &via, &contact, Some(1));
                let peer = c.inbound.dialog.peer;
                self.actions
                    .push_back(CallAction::Ack { request: ack, peer });
                if c.state != CallState::Originating {
                    return; // A retransmitted 2xx: ACKed again.
                }
                let answer = SessionDescription::parse(&resp.body).ok();
                let negotiated = answer
                    .as_ref()
                    .and_then(|a| sdp::negotiated(&c.inbound.offer, a).ok());
                let (Some(answer), Some(n)) = (answer, negotiated) else {
                    self.send_bye(call, super::DialogSide::Caller);
                    return self.end(now, call, "488".into(), HangupSide::System, media);
                };
                media.set_remote(c.inbound.leg, remote_media(&n));
                let codec = super::answer::codec_of(&n.send_codec);
                // The answer stands in for a caller's offer: the other party is offered its codec.
                c.inbound.offer = answer;
                c.codec = Some(codec.clone());
                c.state = CallState::Answered { acked: true };
                c.answered = Some(now);
                let leg = c.inbound.leg;
                let remote_tag = c.inbound.dialog.remote_tag.clone().unwrap_or_default();
                let key = inbound_key(&c.inbound.dialog.call_id, &remote_tag);
                self.by_inbound.insert(key, call);
                self.events.push_back(CallEvent::AnsweredLocally {
                    call,
                    leg,
                    codec: super::transfer::codec_ref(Some(&codec)),
                });
            }
            status => {
                if self
                    .calls
                    .get(&call)
                    .is_some_and(|c| c.state == CallState::Originating)
                {
                    self.end(now, call, status.to_string(), HangupSide::Callee, media);
                }
            }
        }
    }

    /// The first leg of a call we placed rang too long: CANCEL it (its 487 ends the call).
    pub(super) fn origin_timed_out(&mut self, call: CallRef) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if c.state != CallState::Originating {
            return;
        }
        let request = super::cancel_for(&c.inbound.invite);
        let peer = c.inbound.dialog.peer;
        self.actions
            .push_back(CallAction::Request { request, peer });
    }
}
