//! Connecting a call once a branch has answered: the relay's SDP answer to the caller (in the codec
//! the callee chose, under the caller's numbering), both relay legs pointed at their far ends and
//! bridged, the 200 to the caller, and everyone else stopped. Also the small SDP and header helpers
//! the rest of the B2BUA shares.

use std::cmp::Reverse;
use std::time::Instant;

use bytes::Bytes;
use sip_message::{HeaderName, Request, Response, SipHeaders};
use switchboard_media::relay::{Direction as RelayDirection, RemoteMedia};
use switchboard_media::sdp::{self, LocalCapabilities, SessionDescription};

use super::contact_uri;
use super::{CallAction, CallEvent, CallRef, CallState, Calls, MediaControl, TimerKind};

impl Calls {
    /// The relay's answer to the caller and the media bridge, once a branch answered with `answer`.
    pub(super) fn connect(
        &mut self,
        now: Instant,
        call: CallRef,
        branch: usize,
        answer: &SessionDescription,
        media: &mut dyn MediaControl,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(our_answer) = c.join_caller(branch, answer, media) else {
            tracing::warn!("callee answer without a usable stream");
            return;
        };
        let Some(b) = c.branches.get(branch) else {
            return;
        };
        let mut ok = Response::for_request(&c.inbound.invite, 200, "OK");
        tag_to(&mut ok, &c.inbound.dialog.local_tag);
        ok.headers.push(
            HeaderName::Contact,
            contact_uri(&self.cfg, c.inbound.dialog.peer.transport),
        );
        ok.headers.push(HeaderName::ContentType, "application/sdp");
        ok.body = Bytes::from(our_answer.to_string());
        if let Some(t) = &c.session_timer {
            t.stamp(&mut ok);
        }
        c.state = CallState::Answered { acked: false };
        c.answered = Some(now);
        c.answered_branch = Some(branch);
        c.inbound.last_2xx = Some(ok.clone());
        c.inbound.retransmit_interval = self.cfg.t1;
        c.inbound.retransmit_deadline = Some(now + 64 * self.cfg.t1);
        let key = c.inbound.key.clone();
        let by = b.label.clone();
        self.timers
            .push(Reverse((now + self.cfg.t1, call, TimerKind::Retransmit2xx)));
        self.actions
            .push_back(CallAction::Respond { key, response: ok });
        self.restart_session_timer(now, call);
        self.events.push_back(CallEvent::Answered { call, by });
        // Everyone else stops ringing.
        let others: Vec<usize> = (0..self.calls.get(&call).map_or(0, |c| c.branches.len()))
            .filter(|&i| i != branch)
            .collect();
        for i in others {
            self.cancel_branches(call, Some(i));
        }
    }
}

/// The relay legs of an answered call and the codec each far end sends on them: what a recording
/// of the call needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallMedia {
    /// Faces the caller: what arrives on it is the caller's voice.
    pub caller_leg: super::LegId,
    /// Faces whoever answered.
    pub callee_leg: super::LegId,
    /// The call's codec, under the same payload number on both legs.
    pub codec: super::CodecRef,
    /// A side that switched codec by re-INVITE and is transcoded ([caller, callee]): it sends
    /// another codec than `codec`.
    pub transcoding: [bool; 2],
}

impl Calls {
    /// The media of an answered call with two relay legs (`None` otherwise: ringing, ended, or a
    /// caller we answered ourselves who talks to nobody yet).
    pub fn media_of(&self, call: CallRef) -> Option<CallMedia> {
        let c = self.calls.get(&call)?;
        if !matches!(c.state, CallState::Answered { .. }) {
            return None;
        }
        Some(CallMedia {
            caller_leg: c.inbound.leg,
            callee_leg: c.callee_leg?,
            codec: super::transfer::codec_ref(Some(c.codec.as_ref()?)),
            transcoding: c.transcoding,
        })
    }
}

impl super::Call {
    /// Joins the caller to branch `branch`, which answered with `answer`: both relay legs pointed at
    /// their far ends and bridged; returns the relay's SDP answer for the caller, in the codec the
    /// callee chose under the caller's numbers. `None` when the answer has no usable stream.
    pub(super) fn join_caller(
        &mut self,
        branch: usize,
        answer: &SessionDescription,
        media: &mut dyn MediaControl,
    ) -> Option<SessionDescription> {
        let b = self.branches.get(branch)?;
        let callee_leg = self.callee_leg?;
        let callee = sdp::negotiated(&b.offer, answer).ok()?;
        let codec = codec_of(&callee.send_codec);
        let mut caps = LocalCapabilities::new(
            self.inbound.leg_addr.ip(),
            self.inbound.leg_addr.port(),
            vec![codec.clone()],
        );
        caps.crypto = self.inbound.crypto;
        if self.inbound.webrtc.is_some() {
            caps.webrtc = self.inbound.webrtc.clone();
            caps.rtcp_mux = true;
        }
        let (our_answer, caller) =
            sdp::answer(&self.inbound.offer, &caps, &mut self.inbound.origin).ok()?;
        self.codec = Some(codec);
        if let (Some(local), Some(remote)) = (&b.webrtc, &callee.webrtc) {
            media.webrtc(callee_leg, super::webrtc::relay_params(local, remote));
        }
        media.set_remote(callee_leg, remote_media(&callee));
        if let (Some(local), Some(remote)) = (&self.inbound.webrtc, &caller.webrtc) {
            media.webrtc(self.inbound.leg, super::webrtc::relay_params(local, remote));
        }
        media.set_remote(self.inbound.leg, remote_media(&caller));
        media.bridge(self.inbound.leg, callee_leg);
        Some(our_answer)
    }
}

/// A negotiated codec as the relay's offers and answers name it (no fmtp: the peer's wishes stay
/// with the peer).
pub(super) fn codec_of(n: &sdp::NegotiatedCodec) -> sdp::Codec {
    sdp::Codec {
        payload_type: n.payload_type,
        name: n.name.clone().into(),
        clock_rate: n.clock_rate,
        channels: n.channels,
        fmtp: None,
    }
}

/// Whether the INVITE's Accept (if any) allows an SDP body in our responses.
pub(super) fn accepts_sdp(invite: &Request) -> bool {
    let mut any = false;
    for value in invite.headers.get_all(&HeaderName::Accept) {
        any = true;
        let text = String::from_utf8_lossy(value);
        for media in text.split(',') {
            let media = media.split(';').next().unwrap_or("").trim();
            if media.eq_ignore_ascii_case("application/sdp")
                || media.eq_ignore_ascii_case("application/*")
                || media == "*/*"
            {
                return true;
            }
        }
    }
    // No Accept header means application/sdp (RFC 3261 §20.1); an empty one accepts nothing.
    !any
}

pub(super) fn tag_to(r: &mut Response, tag: &str) {
    let Some(to) = r.headers.get(&HeaderName::To) else {
        return;
    };
    if r.to().and_then(|t| t.tag().map(str::to_string)).is_some() {
        return;
    }
    let mut v = to.to_vec();
    v.extend_from_slice(format!(";tag={tag}").as_bytes());
    r.headers.set(
        HeaderName::To,
        sip_message::HeaderValue::from_bytes(Bytes::from(v)),
    );
}

/// What the relay needs from a negotiated stream.
pub(super) fn remote_media(n: &sdp::Negotiated) -> RemoteMedia {
    let unspecified = n.remote_rtp.ip().is_unspecified();
    let direction = match (
        n.remote_direction.sends(),
        n.remote_direction.receives() && !unspecified,
    ) {
        (true, true) => RelayDirection::SendRecv,
        (true, false) => RelayDirection::SendOnly,
        (false, true) => RelayDirection::RecvOnly,
        (false, false) => RelayDirection::Inactive,
    };
    RemoteMedia {
        rtp: (!unspecified).then_some(n.remote_rtp),
        rtcp: (!unspecified).then_some(n.remote_rtcp),
        rtcp_mux: n.rtcp_mux,
        direction,
        telephone_event_pt: n.telephone_event.map(|e| e.payload_type),
        telephone_event_rate: n.telephone_event.map_or(8000, |e| e.clock_rate),
        clock_rate: n.send_codec.clock_rate,
        srtp: n.srtp,
    }
}
