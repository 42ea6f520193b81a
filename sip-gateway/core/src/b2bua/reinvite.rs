//! Re-INVITEs within an answered call (hold, resume, session refresh, a new address). The relay
//! anchors the media, so each leg's re-offer is answered here, from the relay's side of that leg, and
//! only the relay is told: a phone putting the citizen on hold makes the relay stop sending to the
//! phone, the citizen's side needs no renegotiation.

use bytes::Bytes;
use sip_message::{HeaderName, Request, Response, SipHeaders};
use switchboard_media::sdp::{self, LocalCapabilities, SessionDescription};

use super::{inbound_key, CallAction, CallState, Calls, DialogSide, MediaControl};
use crate::transaction::TxKey;

impl Calls {
    /// An INVITE carrying a To tag. Returns false when it belongs to no call we know (the endpoint
    /// answers 481).
    pub fn handle_reinvite(
        &mut self,
        key: TxKey,
        req: &Request,
        media: &mut dyn MediaControl,
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
        let local = self.cfg.local;
        let Some(c) = self.calls.get_mut(&call) else {
            return false;
        };
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
        let (leg, addr, origin) = match side {
            DialogSide::Caller => (c.inbound.leg, c.inbound.leg_addr, &mut c.inbound.origin),
            DialogSide::Branch(i) => {
                let (Some(leg), Some(addr), Some(b)) =
                    (c.callee_leg, c.callee_addr, c.branches.get_mut(i))
                else {
                    return false;
                };
                (leg, addr, &mut b.origin)
            }
        };
        let body = if req.body.is_empty() {
            // No offer: offer what we last sent (the answer comes in the ACK; the stream is as before).
            origin.last_sent().map(ToString::to_string)
        } else {
            let codecs = c.codec.clone().into_iter().collect();
            let caps = LocalCapabilities::new(addr.ip(), addr.port(), codecs);
            match SessionDescription::parse(&req.body)
                .ok()
                .and_then(|offer| sdp::answer(&offer, &caps, origin).ok())
            {
                Some((answer, negotiated)) => {
                    media.set_remote(leg, super::remote_media(&negotiated));
                    Some(answer.to_string())
                }
                None => None,
            }
        };
        let response = match body {
            Some(body) => {
                let mut ok = Response::for_request(req, 200, "OK");
                ok.headers
                    .push(HeaderName::Contact, format!("<sip:switchboard@{local}>"));
                ok.headers.push(HeaderName::ContentType, "application/sdp");
                ok.body = Bytes::from(body);
                ok
            }
            // The new offer cannot be met (another codec, no audio): the old session stays (§14.2).
            None => Response::for_request(req, 488, "Not Acceptable Here"),
        };
        self.actions
            .push_back(CallAction::Respond { key, response });
        true
    }
}
