//! Re-INVITEs and UPDATEs within an answered call (hold, resume, session refresh, a new address). The relay
//! anchors the media, so each leg's re-offer is answered here, from the relay's side of that leg, and
//! only the relay is told: a phone putting the citizen on hold makes the relay stop sending to the
//! phone, the citizen's side needs no renegotiation.

use std::time::Instant;

use bytes::Bytes;
use sip_message::{HeaderName, Request, Response, SipHeaders};
use switchboard_media::sdp::{self, LocalCapabilities, SessionDescription};

use super::{inbound_key, CallAction, CallEvent, CallState, Calls, DialogSide, MediaControl};
use crate::transaction::TxKey;

/// Codecs the relay can transcode between, at their usual numbers (an answer takes the offerer's).
fn transcodable() -> Vec<sdp::Codec> {
    vec![sdp::Codec::PCMA, sdp::Codec::PCMU, sdp::Codec::OPUS]
}

impl Calls {
    /// An INVITE carrying a To tag. Returns false when it belongs to no call we know (the endpoint
    /// answers 481).
    pub fn handle_reinvite(
        &mut self,
        now: Instant,
        key: TxKey,
        req: &Request,
        media: &mut dyn MediaControl,
    ) -> bool {
        self.session_update(now, key, req, media, false)
    }

    /// An UPDATE (RFC 3311): a new offer (hold, resume) or, without a body, a session refresh.
    /// Returns false for no known dialog (481).
    pub fn handle_update(
        &mut self,
        now: Instant,
        key: TxKey,
        req: &Request,
        media: &mut dyn MediaControl,
    ) -> bool {
        self.session_update(now, key, req, media, true)
    }

    fn session_update(
        &mut self,
        now: Instant,
        key: TxKey,
        req: &Request,
        media: &mut dyn MediaControl,
        update: bool,
    ) -> bool {
        let Some(call_id) = req.call_id() else {
            return false;
        };
        let from_tag = req
            .from()
            .map(|f| f.tag().unwrap_or_default().to_string())
            .unwrap_or_default();
        let (call, side) =
            if let Some(&call) = self.by_inbound.get(&inbound_key(call_id, &from_tag)) {
                (call, DialogSide::Caller)
            } else if let Some(&(call, index)) = self.by_branch_call_id.get(call_id) {
                (call, DialogSide::Branch(index))
            } else {
                return false;
            };
        let transport = match self.dialog_mut(call, side) {
            Some(d) => d.peer.transport,
            None => return false,
        };
        let contact = self.contact(transport);
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
        if update && !matches!(c.state, CallState::Answered { .. }) {
            // An UPDATE in the early dialog: a refresh is fine; a new offer before the answer is not
            // something the relay can take (the callee side is not negotiated yet).
            let status = if req.body.is_empty() { 200 } else { 488 };
            let r = Response::for_request(req, status, sip_message::default_reason(status));
            self.actions
                .push_back(CallAction::Respond { key, response: r });
            return true;
        }
        if !matches!(c.state, CallState::Answered { .. }) {
            // §14.2: a re-INVITE before the first is done is refused with 491, the caller retries.
            let r = Response::for_request(req, 491, "Request Pending");
            self.actions
                .push_back(CallAction::Respond { key, response: r });
            return true;
        }
        if let DialogSide::Branch(i) = side {
            if c.answered_branch != Some(i) {
                return false;
            }
        }
        // The leg of the party who would be put on hold by this re-INVITE.
        let (other_leg, side_index) = match side {
            DialogSide::Caller => (c.callee_leg, 0),
            DialogSide::Branch(_) => (Some(c.inbound.leg), 1),
        };
        // A transcoded side keeps its codec if it still offers it (a browser putting the call on
        // hold stays on Opus); otherwise the call's codec, which ends its transcoding.
        let already_transcoded = c.side_codecs[side_index].is_some();
        let keep_transcoded = c.side_codecs[side_index].clone();
        let call_codec = c.codec.clone();
        let heard_by_other = c.side_codecs[1 - side_index]
            .clone()
            .or_else(|| c.codec.clone());
        let (leg, addr, origin, crypto, webrtc) = match side {
            DialogSide::Caller => (
                c.inbound.leg,
                c.inbound.leg_addr,
                &mut c.inbound.origin,
                c.inbound.crypto,
                c.inbound.webrtc.clone(),
            ),
            DialogSide::Branch(i) => {
                let (Some(leg), Some(addr), Some(b)) =
                    (c.callee_leg, c.callee_addr, c.branches.get_mut(i))
                else {
                    return false;
                };
                (leg, addr, &mut b.origin, b.crypto, b.webrtc.clone())
            }
        };
        let mut hold_change = None;
        let body = if req.body.is_empty() && update {
            // A refresh without an offer: nothing changes but the timer.
            Some(String::new())
        } else if req.body.is_empty() {
            // No offer: offer what we last sent (the answer comes in the ACK; the stream is as before).
            origin.last_sent().map(ToString::to_string)
        } else {
            // The side's codec if the new offer still has it; otherwise (a phone switching codec)
            // one the relay can transcode to what the other side hears.
            let with_codecs = |codecs: Vec<sdp::Codec>| {
                let mut caps = LocalCapabilities::new(addr.ip(), addr.port(), codecs);
                caps.crypto = crypto;
                if webrtc.is_some() {
                    caps.webrtc = webrtc.clone();
                    caps.rtcp_mux = true;
                }
                caps
            };
            let offer = SessionDescription::parse(&req.body).ok();
            let own = keep_transcoded
                .and_then(|own| sdp::answer(offer.as_ref()?, &with_codecs(vec![own]), origin).ok())
                .map(|a| (a, true));
            let kept = match own {
                Some(kept) => Some(kept),
                None => call_codec
                    .and_then(|cc| {
                        sdp::answer(offer.as_ref()?, &with_codecs(vec![cc]), origin).ok()
                    })
                    .map(|a| (a, false)),
            };
            let answered = kept.or_else(|| {
                let o = offer.as_ref()?;
                let (answer, n) = sdp::answer(o, &with_codecs(transcodable()), origin).ok()?;
                let from = (n.send_codec.name.clone(), n.send_codec.payload_type);
                let to = heard_by_other
                    .as_ref()
                    .map(|c| (c.name.to_string(), c.payload_type))?;
                let other = other_leg?;
                if media.transcode(leg, Some((from.clone(), to.clone())))
                    && media.transcode(other, Some((to, from)))
                {
                    Some(((answer, n), true))
                } else {
                    media.transcode(leg, None);
                    None
                }
            });
            match answered {
                Some(((answer, negotiated), transcoded)) => {
                    if already_transcoded && !transcoded {
                        // Back to the call's own codec: no more transcoding either way.
                        media.transcode(leg, None);
                        if let Some(other) = other_leg {
                            media.transcode(other, None);
                        }
                    }
                    c.side_codecs[side_index] =
                        transcoded.then(|| super::answer::codec_of(&negotiated.send_codec));
                    media.set_remote(leg, super::remote_media(&negotiated));
                    // sendonly, inactive or c=0.0.0.0: the offerer stopped listening, a hold.
                    let holds = !negotiated.remote_direction.receives()
                        || negotiated.remote_rtp.ip().is_unspecified();
                    if c.holding[side_index] != holds {
                        c.holding[side_index] = holds;
                        hold_change = Some(holds);
                    }
                    Some(answer.to_string())
                }
                None => None,
            }
        };
        let mut response = match body {
            Some(body) => {
                let mut ok = Response::for_request(req, 200, "OK");
                ok.headers.push(HeaderName::Contact, contact);
                if !body.is_empty() {
                    ok.headers.push(HeaderName::ContentType, "application/sdp");
                    ok.body = Bytes::from(body);
                }
                ok
            }
            // The new offer cannot be met (another codec, no audio): the old session stays (§14.2).
            None => Response::for_request(req, 488, "Not Acceptable Here"),
        };
        self.refreshed(now, call, side, req, &mut response);
        self.actions
            .push_back(CallAction::Respond { key, response });
        if let (Some(holds), Some(leg)) = (hold_change, other_leg) {
            self.events.push_back(if holds {
                // Music on hold plays to the other side, in the codec it hears.
                let codec = super::transfer::codec_ref(
                    self.calls
                        .get(&call)
                        .and_then(|c| c.codec_heard_by(1 - side_index)),
                );
                CallEvent::Held { call, leg, codec }
            } else {
                CallEvent::Resumed { call, leg }
            });
        }
        true
    }
}
