//! Calls answered by Switchboard itself before anyone takes them: a voice menu, a queue. The caller's
//! INVITE gets our 200 with the relay's SDP (one codec the relay can play prompts in, plus
//! telephone-event so keys reach the menu as RFC 4733); prompts and music go to the caller's relay
//! leg; later [`Calls::ring`] rings staff from the answered call, and the first to answer is joined to
//! the caller on the relay. Offers to staff then carry only the codec the caller already talks, so
//! the join needs neither re-INVITE nor transcoding.

use std::cmp::Reverse;
use std::time::Instant;

use bytes::Bytes;
use sip_message::{HeaderName, Response};
use switchboard_media::sdp::{self, LocalCapabilities, SessionDescription};

use super::answer::{remote_media, tag_to};
use super::contact_uri;
use super::{
    BranchState, Call, CallAction, CallEvent, CallRef, CallState, Calls, MediaControl, TimerKind,
};

/// Codecs the relay can play prompts in, by preference (G.711 first: no encoder cost).
const PLAYABLE: [&sdp::Codec; 3] = [&sdp::Codec::PCMA, &sdp::Codec::PCMU, &sdp::Codec::OPUS];

impl Call {
    /// Answered by us and waiting for staff (not yet joined to anyone, no transfer going on).
    pub(super) fn waiting_locally(&self) -> bool {
        matches!(self.state, CallState::Answered { .. })
            && self.answered_branch.is_none()
            && self.transfer.is_none()
    }

    /// Branches may still answer this call: it rings, or waits answered by us.
    pub(super) fn wants_callee(&self) -> bool {
        matches!(self.state, CallState::Ringing) || self.waiting_locally()
    }
}

impl Calls {
    /// Answers the caller ourselves (menu, queue). Emits [`CallEvent::AnsweredLocally`]; refuses with
    /// 488 when the caller offers nothing the relay can play.
    pub fn answer_locally(&mut self, now: Instant, call: CallRef, media: &mut dyn MediaControl) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if !matches!(c.state, CallState::Routing | CallState::Ringing) {
            return;
        }
        let Some(codec) = playable_codec(&c.inbound.offer) else {
            return self.reject(now, call, 488, media);
        };
        let mut caps = LocalCapabilities::new(
            c.inbound.leg_addr.ip(),
            c.inbound.leg_addr.port(),
            vec![codec.clone()],
        );
        caps.telephone_event = Some(101).filter(|&pt| pt != codec.payload_type);
        caps.crypto = c.inbound.crypto;
        if c.inbound.webrtc.is_some() {
            caps.webrtc = c.inbound.webrtc.clone();
            caps.rtcp_mux = true;
        }
        let Ok((our_answer, caller)) = sdp::answer(&c.inbound.offer, &caps, &mut c.inbound.origin)
        else {
            return self.reject(now, call, 488, media);
        };
        if let (Some(local), Some(remote)) = (&c.inbound.webrtc, &caller.webrtc) {
            media.webrtc(c.inbound.leg, super::webrtc::relay_params(local, remote));
        }
        media.set_remote(c.inbound.leg, remote_media(&caller));
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
        // The codec as the caller numbers it (the answer follows the offer's numbering).
        let codec = sdp::Codec {
            payload_type: caller.send_codec.payload_type,
            ..codec
        };
        c.codec = Some(codec.clone());
        c.state = CallState::Answered { acked: false };
        c.answered = Some(now);
        c.inbound.last_2xx = Some(ok.clone());
        c.inbound.retransmit_interval = self.cfg.t1;
        c.inbound.retransmit_deadline = Some(now + 64 * self.cfg.t1);
        let key = c.inbound.key.clone();
        let leg = c.inbound.leg;
        self.timers
            .push(Reverse((now + self.cfg.t1, call, TimerKind::Retransmit2xx)));
        self.actions
            .push_back(CallAction::Respond { key, response: ok });
        self.restart_session_timer(now, call);
        self.events.push_back(CallEvent::AnsweredLocally {
            call,
            leg,
            codec: super::transfer::codec_ref(Some(&codec)),
        });
    }

    /// A branch answered a call we had answered ourselves: join it to the caller on the relay.
    pub(super) fn join_local(
        &mut self,
        call: CallRef,
        branch: usize,
        answer: &SessionDescription,
        media: &mut dyn MediaControl,
    ) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let Some(b) = c.branches.get_mut(branch) else {
            return;
        };
        let (Some(callee_leg), Ok(callee)) = (c.callee_leg, sdp::negotiated(&b.offer, answer))
        else {
            tracing::warn!("callee answer without a usable stream");
            return;
        };
        b.state = BranchState::Answered;
        let by = b.label.clone();
        if let (Some(local), Some(remote)) = (&b.webrtc, &callee.webrtc) {
            media.webrtc(callee_leg, super::webrtc::relay_params(local, remote));
        }
        // The callee may have chosen another codec than the caller's (see the offer): the relay
        // transcodes between the two.
        let callee_codec = super::answer::codec_of(&callee.send_codec);
        let differs = c
            .codec
            .as_ref()
            .is_some_and(|own| !own.name.eq_ignore_ascii_case(&callee_codec.name));
        if let (true, Some(own)) = (differs, c.codec.as_ref()) {
            let ok = super::answer::transcode_between(
                media,
                (c.inbound.leg, own),
                (callee_leg, &callee_codec),
            );
            if !ok {
                tracing::warn!(codec = %callee_codec.name, "the relay cannot transcode to the callee's codec");
            }
            c.side_codecs[1] = ok.then_some(callee_codec);
        }
        media.set_remote(callee_leg, remote_media(&callee));
        media.bridge(c.inbound.leg, callee_leg);
        c.answered_branch = Some(branch);
        self.events.push_back(CallEvent::Answered { call, by });
        let others: Vec<usize> = (0..self.calls.get(&call).map_or(0, |c| c.branches.len()))
            .filter(|&i| i != branch)
            .collect();
        for i in others {
            self.cancel_branches(call, Some(i));
        }
    }
}

/// The first codec of the caller's offer that the relay can play prompts in.
fn playable_codec(offer: &SessionDescription) -> Option<sdp::Codec> {
    let audio = offer.media_views().find(|m| m.media.media == "audio")?;
    audio.media.payload_types().into_iter().find_map(|pt| {
        let map = audio.media.rtpmap(pt)?;
        PLAYABLE
            .iter()
            .find(|k| k.matches(&map))
            .map(|k| sdp::Codec {
                payload_type: pt,
                ..(*k).clone()
            })
    })
}
