//! The outbound side of a call: ringing targets (forking), their responses, ACK for the 2xx that wins
//! and BYE for one that crossed a CANCEL.

use std::cmp::Reverse;
use std::time::Instant;

use bytes::Bytes;
use sip_message::{CSeq, HeaderName, Headers, Method, Request, Response, SipHeaders, Version};
use switchboard_media::sdp::{self, LocalCapabilities, SessionDescription, SessionOrigin};

use super::dialog::Dialog;
use super::{
    Branch, BranchLabel, BranchState, CallAction, CallEvent, CallRef, CallState, Calls, DialogSide,
    MediaControl, RingTarget, TimerKind,
};
use crate::transaction::TxKey;

impl Calls {
    /// Rings `targets` for `call` (all at once; call again to add more, e.g. the next hunt-group
    /// member). The callees are offered the caller's codecs from the relay's other leg.
    pub fn ring(
        &mut self,
        now: Instant,
        call: CallRef,
        targets: Vec<RingTarget>,
        media: &mut dyn MediaControl,
    ) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        // An answered call rings new branches for a transfer, or when we answered it (menu, queue).
        let transferring = c.transfer.is_some() || c.waiting_locally();
        if !matches!(c.state, CallState::Routing | CallState::Ringing) && !transferring {
            return;
        }
        let callee_leg = match c.callee_leg {
            Some(l) => Some(l),
            None => match media.allocate(Some(c.inbound.leg)) {
                Ok((leg, addr)) => {
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.callee_leg = Some(leg);
                        c.callee_addr = Some(addr);
                    }
                    Some(leg)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "no media port for the callee side");
                    None
                }
            },
        };
        if callee_leg.is_none() {
            return self.reject(now, call, 503, media);
        }
        for target in targets {
            self.start_branch(now, call, target, media);
        }
        if let Some(c) = self.calls.get_mut(&call).filter(|_| !transferring) {
            c.state = CallState::Ringing;
        }
    }

    fn start_branch(
        &mut self,
        now: Instant,
        call: CallRef,
        target: RingTarget,
        media: &mut dyn MediaControl,
    ) {
        // Contacts the user's SRTP policy rules out never get here (see `targets_for_user`).
        let Ok(srtp_mode) = super::srtp::mode_for(target.srtp, target.peer.transport) else {
            return;
        };
        // A browser is offered WebRTC (DTLS keys its media; SDES does not apply).
        let (crypto, webrtc) = match super::webrtc::is_browser(target.peer.transport) {
            true => match self.local_webrtc() {
                Some(w) => (None, Some(w)),
                None => return,
            },
            false => (self.local_crypto(srtp_mode), None),
        };
        let ids = self.invite_ids(&target);
        let local = self.cfg.local;
        let ring_timeout = target.ring_timeout.unwrap_or(self.cfg.default_ring_timeout);
        let session_id = self.rng_session();
        let Some(near) = self.calls.get(&call).map(|c| c.inbound.leg) else {
            return;
        };
        // A branch that must confirm gets a relay leg of its own: two mobiles answering at once
        // each hear the question and are heard apart; the one that confirms becomes the callee
        // leg. Without a free port it shares the callee leg (and waits its turn to confirm).
        let own_leg = if target.confirm {
            media
                .allocate(Some(near))
                .map_err(|e| tracing::warn!(error = %e, "no own media port for a confirming leg"))
                .ok()
        } else {
            None
        };
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(addr) = own_leg.map(|(_, a)| a).or(c.callee_addr) else {
            return;
        };
        // Once the caller is answered its codec is settled: offer only that one, so whoever answers
        // can be joined without renegotiating the caller.
        let settled = match c.state {
            CallState::Answered { .. } => c.codec.as_ref(),
            _ => None,
        };
        // A caller we answered ourselves (menu, queue) talks to nobody yet: a callee who cannot
        // speak its codec may answer in another the relay transcodes (a browser's Opus to a
        // G.711 phone or mobile, a carrier's G.711 to a browser's Opus).
        let transcodable_join = c.waiting_locally();
        let offer = callee_capabilities(&c.inbound.offer, addr, settled).and_then(|mut caps| {
            caps.crypto = crypto;
            if webrtc.is_some() {
                caps.webrtc = webrtc.clone();
                caps.rtcp_mux = true;
                if settled.is_none() || transcodable_join {
                    prefer_opus(&mut caps);
                }
            }
            if transcodable_join {
                add_transcodable(&mut caps);
            }
            let mut origin = SessionOrigin::new(session_id, addr.ip());
            let offer = sdp::create_offer(&caps, &mut origin).ok()?;
            Some((offer, origin))
        });
        let Some((offer, origin)) = offer else {
            if let Some((leg, _)) = own_leg {
                media.release(leg);
            }
            return;
        };
        let presented = target.caller_id.as_deref().unwrap_or(&c.from_user);
        let shown_name = c
            .via
            .as_ref()
            .map(|(name, _)| quoted_display_name(name))
            .filter(|name| !name.is_empty() && target.caller_id.is_none());
        let from_uri = match shown_name {
            Some(name) => format!("\"{name}\" <sip:{}@{local}>", display_user(presented)),
            None => format!("<sip:{}@{local}>", display_user(presented)),
        };
        let called = c
            .via
            .as_ref()
            .map(|(_, number)| format!("<sip:{}@{local}>", display_user(number)));
        let assert_identity = target.caller_id.is_some();
        let Some((mut invite, key, dialog)) = initial_invite(
            ids,
            &target,
            from_uri,
            c.max_forwards,
            assert_identity,
            &offer,
        ) else {
            if let Some((leg, _)) = own_leg {
                media.release(leg);
            }
            return;
        };
        if let Some(called) = called {
            invite.headers.push(HeaderName::PCalledPartyId, called);
        }
        let call_id = dialog.call_id.clone();
        let index = c.branches.len();
        c.branches.push(Branch {
            label: target.label,
            key,
            invite: invite.clone(),
            dialog,
            offer,
            origin,
            state: BranchState::Trying,
            ack: None,
            confirm: target.confirm,
            answer: None,
            reoffer_pending: false,
            last_rseq: None,
            own_leg,
            crypto,
            webrtc,
        });
        self.by_branch_call_id.insert(call_id, (call, index));
        self.timers.push(Reverse((
            now + ring_timeout,
            call,
            TimerKind::BranchTimeout(index),
        )));
        self.actions.push_back(CallAction::Request {
            request: invite,
            peer: target.peer,
        });
    }

    fn rng_session(&mut self) -> u64 {
        use rand::Rng;
        self.rng.gen::<u32>().into()
    }

    /// A response to one of our INVITEs: from the transaction layer, or a retransmitted 2xx it no
    /// longer matches (the dialog answers those with the same ACK).
    pub fn handle_response(&mut self, now: Instant, resp: &Response, media: &mut dyn MediaControl) {
        if self.refresh_response(now, resp, media) || self.lingering_response(resp) {
            return;
        }
        let Some(&(call, index)) = resp.call_id().and_then(|id| self.by_branch_call_id.get(id))
        else {
            return;
        };
        if index == super::originate::ORIGIN {
            return self.origin_response(now, call, resp, media);
        }
        match resp.cseq() {
            Some(c) if c.method == Method::Invite && c.seq > 1 => {
                return self.handle_reoffer_response(now, call, index, resp, media);
            }
            Some(c) if c.method == Method::Invite => {}
            _ => return, // BYE, CANCEL and NOTIFY responses need nothing more.
        }
        let status = resp.status;
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let answered_elsewhere = c.answered_branch.is_some_and(|a| a != index);
        let Some(b) = c.branches.get_mut(index) else {
            return;
        };
        match status {
            100 => {}
            101..=199 => self.callee_provisional(now, call, index, resp, media),
            200..=299 => {
                if let Some(ack) = &b.ack {
                    // A retransmitted 2xx: our ACK was lost.
                    let (request, peer) = (ack.clone(), b.dialog.peer);
                    self.actions.push_back(CallAction::Ack { request, peer });
                    return;
                }
                b.dialog.confirm_as_uac(resp);
                let transport = b.dialog.peer.transport;
                let via = self.via(transport.as_str());
                let contact = self.contact(transport);
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                let Some(b) = c.branches.get_mut(index) else {
                    return;
                };
                let ack = b.dialog.request(Method::Ack, &via, &contact, Some(1));
                b.ack = Some(ack.clone());
                let peer = b.dialog.peer;
                self.actions
                    .push_back(CallAction::Ack { request: ack, peer });
                if b.state != BranchState::Cancelling && self.is_transfer_branch(call, index) {
                    let answer = SessionDescription::parse(&resp.body)
                        .ok()
                        .filter(|_| !resp.body.is_empty());
                    return self.transfer_answered(now, call, index, answer, media);
                }
                let Some(c) = self.calls.get_mut(&call) else {
                    return;
                };
                let (wants_callee, local) = (c.wants_callee(), c.waiting_locally());
                let Some(b) = c.branches.get_mut(index) else {
                    return;
                };
                let lost_race =
                    answered_elsewhere || b.state == BranchState::Cancelling || !wants_callee;
                if lost_race {
                    // Answered after losing (a CANCEL crossed its 200): hang it up at once.
                    b.state = BranchState::Failed(487);
                    self.send_bye(call, DialogSide::Branch(index));
                    return self.release_own_leg(call, index, media);
                }
                // Only a branch without a leg of its own (no port was free) shares the callee
                // leg, so only such branches must take turns confirming.
                let shared_busy = b.own_leg.is_none()
                    && c.branches.iter().enumerate().any(|(i, o)| {
                        i != index && o.state == BranchState::Confirming && o.own_leg.is_none()
                    });
                let Some(b) = c.branches.get_mut(index) else {
                    return;
                };
                let parsed = SessionDescription::parse(&resp.body)
                    .ok()
                    .filter(|_| !resp.body.is_empty());
                if let (true, Some(answer)) = (b.confirm, parsed.as_ref()) {
                    if shared_busy {
                        b.state = BranchState::Failed(486);
                        let label = b.label.clone();
                        self.send_bye(call, DialogSide::Branch(index));
                        self.events.push_back(CallEvent::BranchFailed {
                            call,
                            label,
                            status: 486,
                            last: false,
                        });
                        return;
                    }
                    let leg = b.own_leg.map(|(l, _)| l).or(c.callee_leg);
                    let (Some(leg), Ok(n)) = (leg, sdp::negotiated(&b.offer, answer)) else {
                        self.send_bye(call, DialogSide::Branch(index));
                        self.release_own_leg(call, index, media);
                        return self.branch_failed(call, index, 488);
                    };
                    b.state = BranchState::Confirming;
                    b.answer = Some(answer.clone());
                    let label = b.label.clone();
                    media.set_remote(leg, super::remote_media(&n));
                    self.events.push_back(CallEvent::Confirming {
                        call,
                        label,
                        leg,
                        codec: (n.send_codec.name.clone(), n.send_codec.payload_type),
                    });
                    return;
                }
                let usable = parsed.filter(|a| sdp::negotiated(&b.offer, a).is_ok());
                let Some(answer) = usable else {
                    // An answer the relay cannot use (no SDP, no common codec, plain RTP to our
                    // RTP/SAVP offer): this callee is hung up and counted failed, so the call
                    // goes on to whoever else rings or call control's next step.
                    self.send_bye(call, DialogSide::Branch(index));
                    self.release_own_leg(call, index, media);
                    return self.branch_failed(call, index, 488);
                };
                b.state = BranchState::Answered;
                if local {
                    self.join_local(call, index, &answer, media);
                } else {
                    self.connect(now, call, index, &answer, media);
                }
            }
            _ => self.branch_ended(now, call, index, status, media),
        }
    }

    /// The confirming branch `label` confirmed (pressed 1): connect it to the caller.
    pub fn confirm_branch(
        &mut self,
        now: Instant,
        call: CallRef,
        label: &BranchLabel,
        media: &mut dyn MediaControl,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if !c.wants_callee() {
            return;
        }
        let local = c.waiting_locally();
        let Some((index, b)) = c
            .branches
            .iter_mut()
            .enumerate()
            .find(|(_, b)| b.label == *label && b.state == BranchState::Confirming)
        else {
            return;
        };
        let Some(answer) = b.answer.take() else {
            return;
        };
        b.state = BranchState::Answered;
        // Its own leg becomes the callee leg; the shared one (offered to the branches that
        // lost) is given up.
        if let Some((leg, addr)) = b.own_leg.take() {
            if let Some(old) = c.callee_leg.replace(leg) {
                media.release(old);
                c.retired_legs.push(old);
            }
            c.callee_addr = Some(addr);
        }
        if local {
            self.join_local(call, index, &answer, media);
        } else {
            self.connect(now, call, index, &answer, media);
        }
        // The others (another mobile still being asked) got their BYE or CANCEL above.
        let others = self.calls.get(&call).map_or(0, |c| c.branches.len());
        for i in (0..others).filter(|&i| i != index) {
            self.release_own_leg(call, i, media);
        }
    }

    /// Gives up the relay leg of branch `index`, if it has one of its own.
    pub(super) fn release_own_leg(
        &mut self,
        call: CallRef,
        index: usize,
        media: &mut dyn MediaControl,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if let Some((leg, _)) = c.branches.get_mut(index).and_then(|b| b.own_leg.take()) {
            media.release(leg);
            c.retired_legs.push(leg);
        }
    }

    /// The confirming branch `label` did not confirm (another key, silence, hung up): release it;
    /// the orchestrator hears a failed branch (603) and moves on.
    pub fn decline_branch(
        &mut self,
        call: CallRef,
        label: &BranchLabel,
        media: &mut dyn MediaControl,
    ) {
        let found = self.calls.get(&call).and_then(|c| {
            c.branches
                .iter()
                .position(|b| b.label == *label && b.state == BranchState::Confirming)
        });
        if let Some(index) = found {
            self.send_bye(call, DialogSide::Branch(index));
            self.release_own_leg(call, index, media);
            if let Some(b) = self
                .calls
                .get_mut(&call)
                .and_then(|c| c.branches.get_mut(index))
            {
                b.state = BranchState::Trying;
            }
            self.branch_failed(call, index, 603);
        }
    }

    /// Stops the ringing branches labelled `label` (a hunt group moving on from a member).
    pub fn cancel_label(&mut self, call: CallRef, label: &BranchLabel) {
        let indices: Vec<usize> = self
            .calls
            .get(&call)
            .map(|c| {
                c.branches
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| b.label == *label)
                    .map(|(i, _)| i)
                    .collect()
            })
            .unwrap_or_default();
        for i in indices {
            self.cancel_branches(call, Some(i));
        }
    }

    /// Reports that `label` could not be rung at all (no registration: 480; no trunk slot: 503):
    /// call control hears it as a failed branch, like any other. A transfer whose target cannot
    /// be rung fails at once (the transferor hears `status`).
    pub fn report_unreachable(
        &mut self,
        now: Instant,
        call: CallRef,
        label: &BranchLabel,
        status: u16,
        media: &mut dyn MediaControl,
    ) {
        if self.transfer_open(call) {
            return self.transfer_failed(now, call, status, media);
        }
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if !matches!(c.state, CallState::Routing | CallState::Ringing) && !c.waiting_locally() {
            return;
        }
        let last = !c
            .branches
            .iter()
            .any(|b| matches!(b.state, BranchState::Trying | BranchState::Ringing));
        self.events.push_back(CallEvent::BranchFailed {
            call,
            label: label.clone(),
            status,
            last,
        });
    }

    /// Timer B: an INVITE we sent got no final response — a branch's, or the first leg of a call we
    /// placed.
    pub fn handle_client_timeout(
        &mut self,
        now: Instant,
        key: &TxKey,
        media: &mut dyn MediaControl,
    ) {
        if self.refresh_timed_out(now, key, media) {
            return;
        }
        let found = self.calls.iter().find_map(|(id, c)| {
            if c.state == CallState::Originating && &c.inbound.key == key {
                return Some((*id, super::originate::ORIGIN));
            }
            c.branches
                .iter()
                .position(|b| &b.key == key)
                .map(|i| (*id, i))
        });
        match found {
            Some((call, super::originate::ORIGIN)) => {
                self.end(now, call, "408".into(), super::HangupSide::Callee, media)
            }
            Some((call, index)) => self.branch_ended(now, call, index, 408, media),
            None => {}
        }
    }

    /// A branch ended without answering (final failure, timeout): a transfer target's failure goes
    /// to the transfer, any other to call control.
    fn branch_ended(
        &mut self,
        now: Instant,
        call: CallRef,
        index: usize,
        status: u16,
        media: &mut dyn MediaControl,
    ) {
        self.release_own_leg(call, index, media);
        if self.is_transfer_branch(call, index) {
            self.transfer_branch_failed(now, call, index, status, media)
        } else {
            self.branch_failed(call, index, status)
        }
    }

    fn branch_failed(&mut self, call: CallRef, index: usize, status: u16) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(b) = c.branches.get_mut(index) else {
            return;
        };
        if matches!(b.state, BranchState::Answered | BranchState::Failed(_)) {
            return;
        }
        b.state = BranchState::Failed(status);
        let label = b.label.clone();
        let last = !c
            .branches
            .iter()
            .any(|b| matches!(b.state, BranchState::Trying | BranchState::Ringing));
        if matches!(c.state, CallState::Routing | CallState::Ringing) || c.waiting_locally() {
            self.events.push_back(CallEvent::BranchFailed {
                call,
                label,
                status,
                last,
            });
        }
    }
}

/// What identifies a new outgoing INVITE: its dialog's Call-ID and our tag, its Via and our Contact.
pub(super) struct InviteIds {
    call_id: String,
    from_tag: String,
    via: String,
    contact: String,
}

impl Calls {
    pub(super) fn invite_ids(&mut self, target: &RingTarget) -> InviteIds {
        InviteIds {
            call_id: format!("{}@switchboard", self.token()),
            from_tag: self.token(),
            via: self.via(target.peer.transport.as_str()),
            contact: self.contact(target.peer.transport),
        }
    }
}

/// A new INVITE to `target` with `offer`, from `from_uri` (also asserted, RFC 3325, when
/// `assert_identity`), its client-transaction key and the dialog it starts.
pub(super) fn initial_invite(
    ids: InviteIds,
    target: &RingTarget,
    from_uri: String,
    max_forwards: u8,
    assert_identity: bool,
    offer: &SessionDescription,
) -> Option<(Request, TxKey, Dialog)> {
    let to_uri = format!("<{}>", target.uri);
    let mut headers = Headers::default();
    headers.push(HeaderName::Via, ids.via);
    headers.push(HeaderName::MaxForwards, max_forwards.to_string());
    headers.push(HeaderName::From, format!("{from_uri};tag={}", ids.from_tag));
    if assert_identity {
        // Carriers take the network-asserted identity from here.
        headers.push(HeaderName::PAssertedIdentity, from_uri.clone());
    }
    headers.push(HeaderName::To, to_uri.clone());
    headers.push(HeaderName::CallId, ids.call_id.clone());
    headers.push(
        HeaderName::CSeq,
        CSeq {
            seq: 1,
            method: Method::Invite,
        }
        .to_string(),
    );
    headers.push(HeaderName::Contact, ids.contact);
    headers.push(HeaderName::Supported, "100rel");
    headers.push(HeaderName::ContentType, "application/sdp");
    let body = offer.to_string();
    headers.push(HeaderName::ContentLength, body.len().to_string());
    let invite = Request {
        method: Method::Invite,
        uri: target.uri.clone(),
        version: Version::SIP_2_0,
        headers,
        body: Bytes::from(body),
    };
    let key = invite
        .top_via()
        .and_then(|v| v.branch().map(|b| TxKey::client_key(b, &Method::Invite)))?;
    let dialog = Dialog {
        call_id: ids.call_id,
        local_tag: ids.from_tag,
        remote_tag: None,
        local_uri: from_uri,
        remote_uri: to_uri,
        remote_target: target.uri.clone(),
        route_set: Vec::new(),
        local_cseq: 1,
        peer: target.peer,
    };
    Some((invite, key, dialog))
}

/// What the relay's callee leg offers: the caller's known codecs (only `only`, if given: the codec
/// the caller already talks) under the caller's numbers, and telephone-event.
pub(super) fn callee_capabilities(
    caller_offer: &SessionDescription,
    addr: std::net::SocketAddr,
    only: Option<&sdp::Codec>,
) -> Option<LocalCapabilities> {
    let audio = caller_offer
        .media_views()
        .find(|m| m.media.media == "audio")?;
    let mut codecs = Vec::new();
    let mut telephone_event = None;
    for pt in audio.media.payload_types() {
        let Some(map) = audio.media.rtpmap(pt) else {
            continue;
        };
        if map
            .encoding
            .eq_ignore_ascii_case(sdp::codec::TELEPHONE_EVENT)
        {
            telephone_event.get_or_insert(pt);
            continue;
        }
        let known = [
            sdp::Codec::PCMU,
            sdp::Codec::PCMA,
            sdp::Codec::G722,
            sdp::Codec::OPUS,
        ];
        if only.is_some_and(|o| o.payload_type != pt) {
            continue;
        }
        if let Some(k) = known.iter().find(|k| k.matches(&map)) {
            let mut codec = k.clone();
            codec.payload_type = pt;
            codec.fmtp = audio.media.fmtp(pt).map(|f| f.to_string().into());
            codecs.push(codec);
        }
    }
    if codecs.is_empty() {
        return None;
    }
    let mut caps = LocalCapabilities::new(addr.ip(), addr.port(), codecs);
    // Always offer RFC 4733 events: a cellular leg confirms with a key press even when the caller's
    // side has no telephone-event (101 unless the caller already uses that number for a codec).
    let used: Vec<u8> = caps.codecs.iter().map(|c| c.payload_type).collect();
    let free = |pt: &u8| !used.contains(pt);
    caps.telephone_event = telephone_event
        .or_else(|| Some(101).filter(free))
        .or_else(|| (96..=127u8).find(free));
    Some(caps)
}

/// A browser or app callee is offered Opus first even when the caller (a G.711 trunk) has none:
/// the relay transcodes, and the staff member's mobile network carries a third of the bits with
/// loss concealment. Under 111 (browsers' own number) unless the caller took that number.
fn prefer_opus(caps: &mut LocalCapabilities) {
    if caps.codecs.iter().any(|c| sdp::Codec::OPUS.name == c.name) {
        return;
    }
    let used = |pt: u8| {
        caps.codecs.iter().any(|c| c.payload_type == pt) || caps.telephone_event == Some(pt)
    };
    let Some(pt) = std::iter::once(111).chain(96..=127).find(|&pt| !used(pt)) else {
        return;
    };
    let mut opus = sdp::Codec::OPUS;
    opus.payload_type = pt;
    caps.codecs.insert(0, opus);
}

/// Appends G.711 (PCMA, then PCMU, at their static numbers) and Opus where the offer lacks them,
/// after what it has: the callee takes the caller's codec when it can, another one when not.
fn add_transcodable(caps: &mut LocalCapabilities) {
    for extra in [sdp::Codec::PCMA, sdp::Codec::PCMU, sdp::Codec::OPUS] {
        if caps
            .codecs
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(&extra.name))
        {
            continue;
        }
        let taken = |pt: u8| {
            caps.codecs.iter().any(|c| c.payload_type == pt) || caps.telephone_event == Some(pt)
        };
        let pt = if taken(extra.payload_type) {
            match (96..=127).find(|&pt| !taken(pt)) {
                Some(pt) => pt,
                None => continue,
            }
        } else {
            extra.payload_type
        };
        let mut codec = extra;
        codec.payload_type = pt;
        caps.codecs.push(codec);
    }
}

/// A display name as a quoted-string's content (RFC 3261 §25.1): quotes and backslashes escaped,
/// control characters dropped, at most 64 characters.
fn quoted_display_name(name: &str) -> String {
    let mut out = String::new();
    for ch in name.chars().filter(|c| !c.is_control()).take(64) {
        if ch == '"' || ch == '\\' {
            out.push('\\');
        }
        out.push(ch);
    }
    out.trim().to_string()
}

/// A From user part the callee's phone can display: the caller's number or name as it came.
pub(super) fn display_user(user: &str) -> String {
    let safe: String = user
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "+-_.!~*'()".contains(*c))
        .collect();
    if safe.is_empty() {
        "anonymous".to_string()
    } else {
        safe
    }
}
