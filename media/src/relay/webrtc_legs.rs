//! The relay's side of WebRTC legs ([`super::webrtc`]): every datagram on such a leg goes to its
//! str0m engine; the RTP it decrypts is routed like any leg's RTP, and what it must send (ICE,
//! DTLS, SRTP) waits in the relay's outbox for [`Relay::poll_transmit`].

use std::net::SocketAddr;
use std::time::Instant;

use super::webrtc::{DtlsIdentity, WebRtcLeg, WebRtcParams};
use super::{Channel, Forward, LegId, LegIndex, Relay, Transmit};
use crate::MediaError;

/// A packet for the wire made outside the per-datagram path.
pub(super) struct Outgoing {
    leg: LegIndex,
    channel: Channel,
    dst: SocketAddr,
    bytes: Vec<u8>,
}

/// Room left after decrypted RTP for a tag, when it goes on to an SRTP leg.
const TAG_ROOM: usize = 16;

impl Relay {
    /// Makes leg `id` a WebRTC leg reached at `local` (its RTP socket's address, as our SDP's
    /// candidate names it). The same parameters again (a re-INVITE) keep the session.
    pub fn set_webrtc(
        &mut self,
        id: LegId,
        params: &WebRtcParams,
        identity: &DtlsIdentity,
        local: SocketAddr,
        now: Instant,
    ) -> Result<(), MediaError> {
        let index = self.index_of(id).ok_or(MediaError::UnknownLeg)?;
        let leg = self.leg_mut(index).ok_or(MediaError::UnknownLeg)?;
        if leg.webrtc.as_ref().is_some_and(|w| w.params() == params) {
            return Ok(());
        }
        leg.webrtc = Some(Box::new(WebRtcLeg::new(params, identity, local, now)?));
        self.after_webrtc(index, now);
        Ok(())
    }

    /// Whether leg `id` is a WebRTC leg whose DTLS is up.
    pub fn webrtc_connected(&self, id: LegId) -> bool {
        self.index_of(id)
            .and_then(|i| self.legs.get(i as usize))
            .and_then(Option::as_ref)
            .and_then(|l| l.webrtc.as_ref())
            .is_some_and(|w| w.is_connected())
    }

    pub(super) fn handle_webrtc_datagram(
        &mut self,
        index: LegIndex,
        src: SocketAddr,
        datagram: &[u8],
        now: Instant,
    ) -> Forward {
        let mut decrypted = Vec::new();
        {
            let Some(w) = self.leg_mut(index).and_then(|l| l.webrtc.as_mut()) else {
                return Forward::Drop;
            };
            w.handle_datagram(src, datagram, now);
            while let Some(p) = w.poll_rtp() {
                decrypted.push(p);
            }
        }
        for mut packet in decrypted {
            let len = packet.len();
            packet.resize(len + TAG_ROOM, 0);
            let forward = self.handle_rtp(index, src, &mut packet[..len], now);
            if let Forward::To {
                leg,
                channel,
                dst,
                len,
            } = self.protect_for_peer(forward, &mut packet, false, now)
            {
                packet.truncate(len);
                self.outbox.push_back(Outgoing {
                    leg,
                    channel,
                    dst,
                    bytes: packet,
                });
            }
        }
        self.after_webrtc(index, now);
        Forward::Drop
    }

    /// Moves what a WebRTC leg has to send into the outbox, and its next deadline into the timers.
    pub(super) fn after_webrtc(&mut self, index: LegIndex, now: Instant) {
        let mut wire = Vec::new();
        let mut due = None;
        if let Some(w) = self.leg_mut(index).and_then(|l| l.webrtc.as_mut()) {
            while let Some(out) = w.poll_wire() {
                wire.push(out);
            }
            due = w.poll_timeout();
        }
        for out in wire {
            self.outbox.push_back(Outgoing {
                leg: index,
                channel: Channel::Rtp,
                dst: out.dst,
                bytes: out.bytes,
            });
        }
        if let Some(at) = due {
            self.schedule(index, at.max(now));
        }
    }

    /// The next packet of the outbox, copied into `buf` (one too long for it is dropped).
    pub(super) fn pop_outgoing(&mut self, buf: &mut [u8]) -> Option<Transmit> {
        while let Some(o) = self.outbox.pop_front() {
            let Some(slot) = buf.get_mut(..o.bytes.len()) else {
                continue;
            };
            slot.copy_from_slice(&o.bytes);
            return Some(Transmit {
                leg: o.leg,
                channel: o.channel,
                dst: o.dst,
                len: o.bytes.len(),
            });
        }
        None
    }
}
