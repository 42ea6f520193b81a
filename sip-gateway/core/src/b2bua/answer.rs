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
    /// What the caller sends (name, payload type as it arrives on `caller_leg`).
    pub caller_codec: super::CodecRef,
    /// What the callee sends on `callee_leg`. Differs from `caller_codec` when the relay
    /// transcodes (a browser's Opus bridged to a G.711 trunk).
    pub callee_codec: super::CodecRef,
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
            caller_codec: super::transfer::codec_ref(Some(c.codec_heard_by(0)?)),
            callee_codec: super::transfer::codec_ref(Some(c.codec_heard_by(1)?)),
        })
    }
}

/// Has the relay transcode between a caller speaking `caller_codec` on `caller_leg` and a callee
/// speaking `callee_codec` on `callee_leg`, both ways. False (and neither leg transcoding) when
/// the relay cannot.
pub(super) fn transcode_between(
    media: &mut dyn MediaControl,
    (caller_leg, caller_codec): (super::LegId, &sdp::Codec),
    (callee_leg, callee_codec): (super::LegId, &sdp::Codec),
) -> bool {
    let caller_ref = super::transfer::codec_ref(Some(caller_codec));
    let callee_ref = super::transfer::codec_ref(Some(callee_codec));
    let ok = media.transcode(caller_leg, Some((caller_ref.clone(), callee_ref.clone())))
        && media.transcode(callee_leg, Some((callee_ref, caller_ref)));
    if !ok {
        media.transcode(caller_leg, None);
        media.transcode(callee_leg, None);
    }
    ok
}

/// Codecs the relay can transcode between.
pub(super) const TRANSCODABLE: [&str; 3] = ["opus", "PCMU", "PCMA"];

fn transcodable(codec: &sdp::Codec) -> bool {
    TRANSCODABLE
        .iter()
        .any(|name| codec.name.eq_ignore_ascii_case(name))
}

fn same_codec(a: &sdp::Codec, b: &sdp::Codec) -> bool {
    a.payload_type == b.payload_type && a.name.eq_ignore_ascii_case(&b.name)
}

impl super::Call {
    /// The codec side `side` (0 the caller, 1 the callee) speaks and hears: the call's codec
    /// unless the relay transcodes that side.
    pub(super) fn codec_heard_by(&self, side: usize) -> Option<&sdp::Codec> {
        self.side_codecs
            .get(side)
            .and_then(Option::as_ref)
            .or(self.codec.as_ref())
    }

    /// Which codec the caller is answered in, given the callee's: `(caller's codec, transcoded)`.
    /// A browser keeps the first codec it offered that the relay can transcode (Opus, as browsers
    /// list it first: better on a mobile network than G.711, and the reason WebRTC legs exist);
    /// any other caller takes the callee's codec, which it offered. A callee that chose a codec
    /// the caller did not offer (Opus added for a browser callee) is transcoded to the caller's
    /// first transcodable one.
    fn caller_codec_for(&self, callee_codec: &sdp::Codec) -> Option<(sdp::Codec, bool)> {
        let offered =
            super::outbound::callee_capabilities(&self.inbound.offer, self.inbound.leg_addr, None)
                .map(|caps| caps.codecs)
                .unwrap_or_default();
        let in_caller_offer = offered.iter().find(|c| same_codec(c, callee_codec));
        let browser_choice = offered
            .iter()
            .filter(|_| self.inbound.webrtc.is_some())
            .find(|c| transcodable(c));
        match (browser_choice, in_caller_offer) {
            (Some(wanted), Some(_))
                if !wanted.name.eq_ignore_ascii_case(&callee_codec.name)
                    && transcodable(callee_codec) =>
            {
                Some((wanted.clone(), true))
            }
            (_, Some(same)) => Some((same.clone(), false)),
            (_, None) => offered
                .iter()
                .find(|c| transcodable(c))
                .filter(|_| transcodable(callee_codec))
                .map(|c| (c.clone(), true)),
        }
    }

    /// Joins the caller to branch `branch`, which answered with `answer`: both relay legs pointed at
    /// their far ends, transcoding set up where the two sides speak different codecs, and bridged;
    /// returns the relay's SDP answer for the caller. `None` when the answer has no usable stream
    /// or the two sides' codecs cannot be bridged.
    pub(super) fn join_caller(
        &mut self,
        branch: usize,
        answer: &SessionDescription,
        media: &mut dyn MediaControl,
    ) -> Option<SessionDescription> {
        let b = self.branches.get(branch)?;
        let callee_leg = self.callee_leg?;
        let callee = sdp::negotiated(&b.offer, answer).ok()?;
        let callee_codec = codec_of(&callee.send_codec);
        let (mut caller_codec, mut transcoded) = self.caller_codec_for(&callee_codec)?;
        if transcoded {
            let ok = transcode_between(
                media,
                (self.inbound.leg, &caller_codec),
                (callee_leg, &callee_codec),
            );
            if !ok {
                // The relay cannot: the caller takes the callee's codec if it offered it.
                if !self.caller_offered(&callee_codec) {
                    return None;
                }
                caller_codec = callee_codec.clone();
                transcoded = false;
            }
        } else if self.side_codecs.iter().any(Option::is_some) {
            // A new callee after a transcoded one: nothing to convert any more.
            media.transcode(self.inbound.leg, None);
            media.transcode(callee_leg, None);
        }
        let mut caps = LocalCapabilities::new(
            self.inbound.leg_addr.ip(),
            self.inbound.leg_addr.port(),
            vec![caller_codec.clone()],
        );
        caps.crypto = self.inbound.crypto;
        if self.inbound.webrtc.is_some() {
            caps.webrtc = self.inbound.webrtc.clone();
            caps.rtcp_mux = true;
        }
        let (our_answer, caller) =
            sdp::answer(&self.inbound.offer, &caps, &mut self.inbound.origin).ok()?;
        // The call's codec is one the caller offered (later callees are offered it); the side
        // that speaks another is the transcoded one.
        let callee_offered = self.caller_offered(&callee_codec);
        self.side_codecs = match (transcoded, callee_offered) {
            (false, _) => [None, None],
            (true, true) => [Some(caller_codec), None],
            (true, false) => [None, Some(callee_codec.clone())],
        };
        self.codec = Some(if transcoded && callee_offered {
            callee_codec
        } else {
            codec_of(&caller.send_codec)
        });
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

    /// Whether the caller's offer has `codec` under the same number.
    fn caller_offered(&self, codec: &sdp::Codec) -> bool {
        super::outbound::callee_capabilities(&self.inbound.offer, self.inbound.leg_addr, None)
            .is_some_and(|caps| caps.codecs.iter().any(|c| same_codec(c, codec)))
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
