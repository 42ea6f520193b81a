//! Call transfer by REFER (RFC 3515), from the callee who answered — the staff member, in a citizen's
//! call — or from a staff caller (see [`super::caller_transfer`], which turns that into this case). The B2BUA does not pass the REFER on: it carries the transfer out itself, because the citizen's
//! side (a carrier) rarely supports REFER and must not learn our internal addresses.
//!
//! - Blind: `Refer-To: <sip:1002@…>`. The REFER gets 202 and a NOTIFY "100 Trying"; the caller waits
//!   (call control plays music on hold) while call control rings the target through [`Calls::ring`] as
//!   new branches of the same call. The first to answer takes the transferor's place on the relay's
//!   callee leg; the transferor gets NOTIFY "200 OK" and a BYE. If nobody answers, the transferor
//!   hears the failure in a NOTIFY and keeps the call — or, if it already hung up, the caller is hung
//!   up too.
//! - Attended: `Refer-To: <sip:…?Replaces=…>` naming the transferor's other call, one it placed
//!   through us and that was answered (a consultation call to a colleague). The two calls are joined:
//!   the consulted colleague's dialog moves into the citizen's call, both of the transferor's dialogs
//!   end. The colleague is re-INVITEd to a fresh relay leg beside the citizen's (the two calls' legs
//!   may live on different media threads) with the citizen's codec, so the relay never transcodes
//!   between them.

use bytes::Bytes;
use sip_message::{HeaderName, Method, Request, Response, SipHeaders, Uri};
use std::time::Instant;
use switchboard_media::sdp::{self, SessionDescription};

use super::outbound::callee_capabilities;
use super::{
    inbound_key, user_of, BranchState, CallAction, CallEvent, CallRef, CallState, Calls,
    DialogSide, HangupSide, MediaControl,
};
use crate::transaction::TxKey;
use crate::TransportKind;

/// A blind transfer in progress.
#[derive(Debug, Clone)]
pub(crate) struct Transfer {
    /// The branch whose REFER started it; `None` once it hung up.
    pub(crate) transferor: Option<usize>,
    /// Branches from this index on ring the transfer target.
    pub(crate) first_branch: usize,
}

/// The dialog an attended transfer replaces (RFC 3891).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Replaces {
    pub(crate) call_id: String,
    pub(crate) to_tag: String,
    pub(crate) from_tag: String,
}

/// What a Refer-To names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReferTarget {
    /// The user part: an extension, a number, a username.
    pub(crate) user: String,
    pub(crate) replaces: Option<Replaces>,
}

/// Reads a Refer-To value: `<sip:user@host?Replaces=…>` (name-addr, maybe with a display name and
/// header parameters) or a bare URI without `?`.
pub(crate) fn parse_refer_to(value: &[u8]) -> Option<ReferTarget> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let inner = match (text.find('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => &text[open + 1..close],
        (None, None) => text.split(';').next().unwrap_or(text),
        _ => return None,
    };
    let (base, headers) = match inner.split_once('?') {
        Some((b, h)) => (b, Some(h)),
        None => (inner, None),
    };
    let uri = Uri::parse(base.as_bytes()).ok()?;
    let user = user_of(&uri);
    if user.is_empty() {
        return None;
    }
    let replaces = match headers {
        None => None,
        Some(h) => h
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| k.eq_ignore_ascii_case("replaces"))
            .and_then(|(_, v)| parse_replaces(&percent_decode(v)?)),
    };
    Some(ReferTarget { user, replaces })
}

/// `call-id;to-tag=…;from-tag=…` (RFC 3891 §6.1); both tags are required.
pub(crate) fn parse_replaces(text: &str) -> Option<Replaces> {
    let mut parts = text.split(';');
    let call_id = parts.next()?.trim().to_string();
    let (mut to_tag, mut from_tag) = (None, None);
    for p in parts {
        match p.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("to-tag") => to_tag = Some(v.trim()),
            Some((k, v)) if k.trim().eq_ignore_ascii_case("from-tag") => from_tag = Some(v.trim()),
            _ => {}
        }
    }
    if call_id.is_empty() {
        return None;
    }
    Some(Replaces {
        call_id,
        to_tag: to_tag?.to_string(),
        from_tag: from_tag?.to_string(),
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let v = u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl Calls {
    /// A REFER. Returns false when it belongs to no dialog we know (the endpoint answers 481).
    pub fn handle_refer(
        &mut self,
        now: Instant,
        key: TxKey,
        req: &Request,
        media: &mut dyn MediaControl,
    ) -> bool {
        let Some(call_id) = req.call_id() else {
            return false;
        };
        let from_tag = req
            .from()
            .and_then(|f| f.tag().map(str::to_string))
            .unwrap_or_default();
        // `None`: the REFER comes from the caller's side, whose far end is to be transferred.
        let (call, index) = if let Some(&(call, index)) = self.by_branch_call_id.get(call_id) {
            (call, Some(index))
        } else if let Some(&call) = self.by_inbound.get(&inbound_key(call_id, &from_tag)) {
            (call, None)
        } else {
            return false;
        };
        let Some(c) = self.calls.get(&call) else {
            return false;
        };
        let refused = match index {
            None => self.caller_may_transfer(call).err(),
            Some(i) if c.answered_branch != Some(i) => {
                Some((481, "Call/Transaction Does Not Exist"))
            }
            Some(_) if !matches!(c.state, CallState::Answered { .. }) => {
                Some((481, "Call/Transaction Does Not Exist"))
            }
            Some(_) if c.transfer.is_some() => Some((491, "Request Pending")),
            Some(_) => None,
        };
        if let Some((status, reason)) = refused {
            self.reply(key, req, status, reason);
            return true;
        }
        let target = req
            .headers
            .get(&HeaderName::ReferTo)
            .and_then(parse_refer_to);
        let Some(target) = target else {
            self.reply(key, req, 400, "Bad Refer-To");
            return true;
        };
        let index = match index {
            Some(i) => i,
            None => match self.caller_becomes_branch(call) {
                Some(i) => i,
                None => {
                    self.reply(key, req, 481, "Call/Transaction Does Not Exist");
                    return true;
                }
            },
        };
        let transport = self
            .dialog_mut(call, DialogSide::Branch(index))
            .map_or(TransportKind::Udp, |d| d.peer.transport);
        let mut accepted = Response::for_request(req, 202, "Accepted");
        accepted
            .headers
            .push(HeaderName::Contact, self.contact(transport));
        self.actions.push_back(CallAction::Respond {
            key,
            response: accepted,
        });
        let side = DialogSide::Branch(index);
        match target.replaces {
            Some(replaces) => self.attended(now, call, index, &replaces, media),
            None => {
                self.notify(call, side, 100, false);
                let Some(c) = self.calls.get_mut(&call) else {
                    return true;
                };
                c.transfer = Some(super::Transfer {
                    transferor: Some(index),
                    first_branch: c.branches.len(),
                });
                let by = c
                    .branches
                    .get(index)
                    .map(|b| b.label.clone())
                    .unwrap_or_default();
                let codec = codec_ref(c.codec_heard_by(0));
                self.events.push_back(CallEvent::TransferRequested {
                    call,
                    by,
                    target: target.user,
                    hold_leg: c.inbound.leg,
                    codec,
                });
            }
        }
        true
    }

    fn reply(&mut self, key: TxKey, req: &Request, status: u16, reason: &'static str) {
        let response = Response::for_request(req, status, reason);
        self.actions
            .push_back(CallAction::Respond { key, response });
    }

    /// A NOTIFY of the REFER's progress (RFC 3515 §2.4.4): the status line of the target's answer.
    fn notify(&mut self, call: CallRef, side: DialogSide, status: u16, terminated: bool) {
        let Some(transport) = self.dialog_mut(call, side).map(|d| d.peer.transport) else {
            return;
        };
        let via = self.via(transport.as_str());
        let contact = self.contact(transport);
        let Some(dialog) = self.dialog_mut(call, side) else {
            return;
        };
        let peer = dialog.peer;
        let mut request = dialog.request(Method::Notify, &via, &contact, None);
        request.headers.push(HeaderName::Contact, contact);
        request.headers.push(HeaderName::Event, "refer");
        request.headers.push(
            HeaderName::SubscriptionState,
            if terminated {
                "terminated;reason=noresource"
            } else {
                "active;expires=60"
            },
        );
        request
            .headers
            .push(HeaderName::ContentType, "message/sipfrag;version=2.0");
        request.body = Bytes::from(format!(
            "SIP/2.0 {status} {}\r\n",
            sip_message::default_reason(status)
        ));
        self.actions
            .push_back(CallAction::Request { request, peer });
    }

    /// A blind transfer to a menu, queue or hunt group: Switchboard takes the caller back. The
    /// transferor hears it worked (NOTIFY 200) and is released; the caller's call becomes one
    /// answered by us ([`CallEvent::AnsweredLocally`]), so call control plays to it and rings staff.
    pub fn transfer_to_us(&mut self, call: CallRef) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(t) = c.transfer.take() else {
            return;
        };
        c.answered_branch = None;
        c.holding = [false; 2];
        let leg = c.inbound.leg;
        let codec = codec_ref(c.codec_heard_by(0));
        if let Some(i) = t.transferor {
            self.notify(call, DialogSide::Branch(i), 200, true);
            self.send_bye(call, DialogSide::Branch(i));
        }
        self.events
            .push_back(CallEvent::AnsweredLocally { call, leg, codec });
    }

    /// A blind transfer is waiting for its target.
    pub fn transfer_open(&self, call: CallRef) -> bool {
        self.calls.get(&call).is_some_and(|c| c.transfer.is_some())
    }

    /// Whether branch `index` rings a transfer target.
    pub(super) fn is_transfer_branch(&self, call: CallRef, index: usize) -> bool {
        self.calls
            .get(&call)
            .and_then(|c| c.transfer.as_ref())
            .is_some_and(|t| index >= t.first_branch)
    }

    /// The transferor hung up while its transfer goes on (usual after a blind transfer's 202).
    /// Returns true if `branch` was that transferor.
    pub(super) fn transferor_left(
        &mut self,
        now: Instant,
        call: CallRef,
        branch: usize,
        media: &mut dyn MediaControl,
    ) -> bool {
        let Some(t) = self.calls.get_mut(&call).and_then(|c| c.transfer.as_mut()) else {
            return false;
        };
        if t.transferor != Some(branch) {
            return false;
        }
        t.transferor = None;
        let first = t.first_branch;
        // Rung nothing yet, or everything rung already failed: nobody is left for the caller.
        let live = self.calls.get(&call).is_some_and(|c| {
            c.branches
                .iter()
                .skip(first)
                .any(|b| matches!(b.state, BranchState::Trying | BranchState::Ringing))
        });
        let pending_routing = self
            .calls
            .get(&call)
            .is_some_and(|c| c.branches.len() == first);
        if !live && !pending_routing {
            self.transfer_failed(now, call, 480, media);
        }
        true
    }

    /// A transfer branch answered: it takes the transferor's place.
    pub(super) fn transfer_answered(
        &mut self,
        now: Instant,
        call: CallRef,
        index: usize,
        answer: Option<SessionDescription>,
        media: &mut dyn MediaControl,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let (Some(t), Some(leg)) = (c.transfer.take(), c.callee_leg) else {
            return;
        };
        let negotiated = match (answer, c.branches.get(index)) {
            (Some(a), Some(b)) => sdp::negotiated(&b.offer, &a).ok(),
            _ => None,
        };
        let Some(n) = negotiated else {
            // No usable answer: the target is let go and the transferor keeps the call.
            c.transfer = Some(t);
            self.send_bye(call, DialogSide::Branch(index));
            return self.transfer_branch_failed(now, call, index, 488, media);
        };
        media.set_remote(leg, super::remote_media(&n));
        let old = c.answered_branch.replace(index);
        if let Some(b) = c.branches.get_mut(index) {
            b.state = BranchState::Answered;
        }
        c.holding = [false; 2];
        let to = c
            .branches
            .get(index)
            .map(|b| b.label.clone())
            .unwrap_or_default();
        let from = old
            .and_then(|i| c.branches.get(i))
            .map(|b| b.label.clone())
            .unwrap_or_default();
        let hold_leg = c.inbound.leg;
        if let (Some(transferor), Some(_)) = (t.transferor, old) {
            self.notify(call, DialogSide::Branch(transferor), 200, true);
            self.send_bye(call, DialogSide::Branch(transferor));
        }
        let others: Vec<usize> = (t.first_branch
            ..self.calls.get(&call).map_or(0, |c| c.branches.len()))
            .filter(|&i| i != index)
            .collect();
        for i in others {
            self.cancel_branches(call, Some(i));
        }
        self.events.push_back(CallEvent::Transferred {
            call,
            from,
            to,
            hold_leg,
        });
    }

    /// A transfer branch failed; when none is left, the transfer has.
    pub(super) fn transfer_branch_failed(
        &mut self,
        now: Instant,
        call: CallRef,
        index: usize,
        status: u16,
        media: &mut dyn MediaControl,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if let Some(b) = c.branches.get_mut(index) {
            if !matches!(b.state, BranchState::Failed(_)) {
                b.state = BranchState::Failed(status);
            }
        }
        let first = c.transfer.as_ref().map_or(usize::MAX, |t| t.first_branch);
        let live = c
            .branches
            .iter()
            .skip(first)
            .any(|b| matches!(b.state, BranchState::Trying | BranchState::Ringing));
        if !live {
            self.transfer_failed(now, call, status, media);
        }
    }

    /// Ends a transfer that found nobody: the transferor hears why (and keeps the caller); a caller
    /// whose transferor already left is hung up.
    pub(super) fn transfer_failed(
        &mut self,
        now: Instant,
        call: CallRef,
        status: u16,
        media: &mut dyn MediaControl,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(t) = c.transfer.take() else {
            return;
        };
        let hold_leg = c.inbound.leg;
        self.cancel_branches(call, None);
        self.events.push_back(CallEvent::TransferFailed {
            call,
            status,
            hold_leg,
        });
        match t.transferor {
            Some(i) => self.notify(call, DialogSide::Branch(i), status.max(400), true),
            None => {
                self.send_bye(call, DialogSide::Caller);
                self.end(
                    now,
                    call,
                    "transfer failed".into(),
                    HangupSide::System,
                    media,
                );
            }
        }
    }

    /// Joins the caller of `call` with whoever the transferor (branch `index`) consulted in the
    /// call that `replaces` names, and ends both of the transferor's dialogs.
    fn attended(
        &mut self,
        now: Instant,
        call: CallRef,
        index: usize,
        replaces: &Replaces,
        media: &mut dyn MediaControl,
    ) {
        let side = DialogSide::Branch(index);
        // The consultation call: the transferor called through us, so its dialog is that call's
        // inbound one (the transferor's tag is its From tag; ours is the other).
        let other = [&replaces.from_tag, &replaces.to_tag]
            .into_iter()
            .find_map(|tag| {
                let found = *self.by_inbound.get(&inbound_key(&replaces.call_id, tag))?;
                let c = self.calls.get(&found)?;
                let ours = &c.inbound.dialog.local_tag;
                (ours == &replaces.from_tag || ours == &replaces.to_tag).then_some(found)
            })
            .filter(|&o| o != call);
        let consulted = other.and_then(|o| {
            let c = self.calls.get(&o)?;
            matches!(c.state, CallState::Answered { .. })
                .then_some(())
                .and(c.answered_branch.map(|b| (o, b)))
        });
        let Some((other, branch)) = consulted else {
            tracing::info!(call_id = %replaces.call_id, "attended transfer: no such answered call");
            return self.notify(call, side, 481, true);
        };
        // The colleague's relay leg may live on another media thread than the caller's: the
        // colleague gets a fresh leg beside the caller's, by re-INVITE, in the caller's codec.
        let Some(caller_leg) = self.calls.get(&call).map(|c| c.inbound.leg) else {
            return;
        };
        let (new_leg, new_addr) = match media.allocate(Some(caller_leg)) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "attended transfer: no media port");
                return self.notify(call, side, 503, true);
            }
        };
        let Some(mut c2) = self.calls.remove(&other) else {
            return;
        };
        let moved = c2.branches.remove(branch);
        let consulted_leg = c2.callee_leg.take();
        c2.callee_addr = None;
        c2.answered_branch = None;
        self.calls.insert(other, c2);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let new_index = c.branches.len();
        let to = moved.label.clone();
        let moved_call_id = moved.dialog.call_id.clone();
        c.branches.push(moved);
        let from = c
            .branches
            .get(index)
            .map(|b| b.label.clone())
            .unwrap_or_default();
        for old in [c.callee_leg.replace(new_leg), consulted_leg]
            .into_iter()
            .flatten()
        {
            media.release(old);
            c.retired_legs.push(old);
        }
        c.callee_addr = Some(new_addr);
        c.answered_branch = Some(new_index);
        c.holding = [false; 2];
        let hold_leg = c.inbound.leg;
        self.by_branch_call_id
            .insert(moved_call_id, (call, new_index));
        self.reoffer(call, new_index);
        // The transferor's two dialogs end; its consultation call is over, reported as transferred.
        self.notify(call, side, 200, true);
        self.send_bye(call, side);
        self.send_bye(other, DialogSide::Caller);
        self.end(now, other, "transferred".into(), HangupSide::Caller, media);
        self.events.push_back(CallEvent::Transferred {
            call,
            from,
            to,
            hold_leg,
        });
    }

    /// Re-INVITEs the answered branch `index` with the caller's codec, from the relay's callee leg.
    fn reoffer(&mut self, call: CallRef, index: usize) {
        let transport = match self.dialog_mut(call, DialogSide::Branch(index)) {
            Some(d) => d.peer.transport,
            None => return,
        };
        let via = self.via(transport.as_str());
        let contact = self.contact(transport);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let (Some(addr), Some(codec)) = (c.callee_addr, c.codec.clone()) else {
            return;
        };
        let Some(mut caps) = callee_capabilities(&c.inbound.offer, addr, Some(&codec)) else {
            return;
        };
        let Some(b) = c.branches.get_mut(index) else {
            return;
        };
        caps.crypto = b.crypto;
        if b.webrtc.is_some() {
            caps.webrtc = b.webrtc.clone();
            caps.rtcp_mux = true;
        }
        let Ok(offer) = sdp::create_offer(&caps, &mut b.origin) else {
            return;
        };
        let mut request = b.dialog.request(Method::Invite, &via, &contact, None);
        request
            .headers
            .push(HeaderName::ContentType, "application/sdp");
        request.body = Bytes::from(offer.to_string());
        b.offer = offer;
        b.reoffer_pending = true;
        let peer = b.dialog.peer;
        self.actions
            .push_back(CallAction::Request { request, peer });
    }

    /// A response to our re-INVITE of branch `index` (CSeq above the first INVITE's).
    pub(super) fn handle_reoffer_response(
        &mut self,
        now: Instant,
        call: CallRef,
        index: usize,
        resp: &Response,
        media: &mut dyn MediaControl,
    ) {
        if resp.status < 200 {
            return;
        }
        let seq = resp.cseq().map_or(0, |c| c.seq);
        let transport = match self.dialog_mut(call, DialogSide::Branch(index)) {
            Some(d) => d.peer.transport,
            None => return,
        };
        let via = self.via(transport.as_str());
        let contact = self.contact(transport);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let (caller_leg, callee_leg) = (c.inbound.leg, c.callee_leg);
        let Some(b) = c.branches.get_mut(index) else {
            return;
        };
        if resp.status >= 300 {
            // The consulted party refused the citizen's codec: nothing both can speak. End it.
            b.reoffer_pending = false;
            self.send_bye(call, DialogSide::Branch(index));
            self.send_bye(call, DialogSide::Caller);
            return self.end(
                now,
                call,
                format!("re-INVITE {}", resp.status),
                HangupSide::System,
                media,
            );
        }
        let ack = b.dialog.request(Method::Ack, &via, &contact, Some(seq));
        let peer = b.dialog.peer;
        self.actions
            .push_back(CallAction::Ack { request: ack, peer });
        if !std::mem::take(&mut b.reoffer_pending) {
            return; // A retransmitted 2xx: ACKed again above.
        }
        let negotiated = SessionDescription::parse(&resp.body)
            .ok()
            .and_then(|a| sdp::negotiated(&b.offer, &a).ok());
        if let (Some(n), Some(leg)) = (negotiated, callee_leg) {
            // The consulted party speaks the call's codec: whatever the relay transcoded for the
            // transferor (a browser's Opus) stops.
            if c.side_codecs[1].take().is_some() {
                media.transcode(caller_leg, None);
                media.transcode(leg, None);
            }
            media.set_remote(leg, super::remote_media(&n));
            media.bridge(caller_leg, leg);
        }
    }
}

/// The call's codec as call control's playback wants it (PCMU before one is settled).
pub(super) fn codec_ref(codec: Option<&sdp::Codec>) -> super::CodecRef {
    codec.map_or_else(
        || ("PCMU".to_string(), 0),
        |c| (c.name.to_string(), c.payload_type),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refer_to_forms() {
        let t = parse_refer_to(b"<sip:1002@10.0.0.1:5070>").unwrap();
        assert_eq!(t.user, "1002");
        assert_eq!(t.replaces, None);
        let t = parse_refer_to(b"\"Kari\" <sip:1003@h;transport=udp>;method=INVITE").unwrap();
        assert_eq!(t.user, "1003");
        let t = parse_refer_to(b"sip:91234567@h").unwrap();
        assert_eq!(t.user, "91234567");
        let t = parse_refer_to(
            b"<sip:1002@h?Replaces=abc%40host%3Bto-tag%3Dt1%3Bfrom-tag%3Df1&Require=replaces>",
        )
        .unwrap();
        assert_eq!(
            t.replaces,
            Some(Replaces {
                call_id: "abc@host".into(),
                to_tag: "t1".into(),
                from_tag: "f1".into()
            })
        );
    }

    #[test]
    fn bad_refer_to_is_refused_not_panicked() {
        for bad in [
            &b""[..],
            b"<>",
            b"<sip:@h>",
            b"<sip:1002@h",
            b"<sip:1002@h?Replaces=%G1>",
            b"\xff\xfe",
            b"<sip:1002@h?Replaces=%4",
        ] {
            let t = parse_refer_to(bad);
            assert!(
                t.as_ref().is_none_or(|t| t.replaces.is_none()),
                "{bad:?} -> {t:?}"
            );
        }
        assert_eq!(parse_replaces("abc;to-tag=1"), None);
        assert_eq!(parse_replaces(";to-tag=1;from-tag=2"), None);
    }
}
