//! Packets the relay makes itself rather than forwards: prompt and music-on-hold frames played to a
//! leg, and transcoded packets. Both are paced by time, so each leg with either has one deadline in
//! the relay's timer heap; [`Relay::poll_transmit`] hands out whatever is due.

use std::cmp::Reverse;
use std::time::Instant;

use super::{Channel, LegId, LegIndex, Relay, RelayEvent, Transmit};
use crate::playback::{PlaybackEvent, Player};
use crate::rtp::{RtpPacket, FIXED_HEADER};
use crate::transcode::{CodecSpec, FrameEncoder, OpusSettings};
use crate::MediaError;

/// A player bound to a leg's codec and its own RTP numbering.
pub(super) struct Playback {
    player: Player,
    encoder: FrameEncoder,
    payload_type: u8,
    seq: u16,
    timestamp: u32,
    ssrc: u32,
    marker: bool,
}

impl Playback {
    pub(super) fn handle_dtmf(&mut self, digit: char) {
        self.player.handle_dtmf(digit);
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.player.poll_timeout()
    }
}

impl Relay {
    /// Plays `player` to leg `id`'s far end in the leg's codec. Whatever the bridged leg sends is held
    /// back until the prompt ends; a digit from the leg stops an interruptible prompt. Ends with
    /// [`RelayEvent::PlaybackFinished`]. `player` must produce frames at the codec's clock rate.
    pub fn play(
        &mut self,
        id: LegId,
        player: Player,
        codec: CodecSpec,
        opus: &OpusSettings,
        now: Instant,
    ) -> Result<(), MediaError> {
        let encoder = FrameEncoder::new(codec.codec, opus)?;
        if encoder.pcm_rate() as usize / 50 != player.frame_len() {
            return Err(MediaError::UnsupportedRate(encoder.pcm_rate()));
        }
        let index = self.index_of(id).ok_or(MediaError::UnknownLeg)?;
        let leg = self.leg_mut(index).ok_or(MediaError::UnknownLeg)?;
        if let Some(mut old) = leg.playback.take() {
            old.player.stop();
            self.events.push_back(RelayEvent::PlaybackFinished {
                leg: id,
                interrupted_by: None,
            });
        }
        // A stream of its own: the far end sees a new SSRC, as when a PBX switches a call.
        let ssrc = (id.0 as u32).wrapping_mul(0x9e37_79b9) ^ 0x5357_4244;
        let leg = self.leg_mut(index).ok_or(MediaError::UnknownLeg)?;
        leg.playback = Some(Box::new(Playback {
            player,
            encoder,
            payload_type: codec.payload_type,
            seq: 0,
            timestamp: 0,
            ssrc,
            marker: true,
        }));
        self.schedule(index, now);
        Ok(())
    }

    /// Stops a prompt on leg `id` (reported as finished, not interrupted).
    pub fn stop_playback(&mut self, id: LegId) -> Result<(), MediaError> {
        let leg = self.by_id_mut(id)?;
        if let Some(p) = leg.playback.as_mut() {
            p.player.stop();
            let index = self.index_of(id).ok_or(MediaError::UnknownLeg)?;
            self.finish_playback(index);
        }
        Ok(())
    }

    fn finish_playback(&mut self, index: LegIndex) {
        let Some(leg) = self.leg_mut(index) else {
            return;
        };
        let Some(mut p) = leg.playback.take() else {
            return;
        };
        let id = leg.id;
        let interrupted_by = match p.player.poll_event() {
            Some(PlaybackEvent::Finished { interrupted_by }) => interrupted_by,
            None => None,
        };
        self.events.push_back(RelayEvent::PlaybackFinished {
            leg: id,
            interrupted_by,
        });
    }

    /// Puts leg `index` in the timer heap at `at`, unless it is already due earlier.
    pub(super) fn schedule(&mut self, index: LegIndex, at: Instant) {
        let Some(leg) = self.leg_mut(index) else {
            return;
        };
        if leg.timer_at.is_none_or(|cur| at < cur) {
            leg.timer_at = Some(at);
            self.timers.push(Reverse((at, index)));
        }
    }

    /// The leg's next deadline from its player and its transcoder.
    fn reschedule(&mut self, index: LegIndex) {
        let Some(leg) = self.leg_mut(index) else {
            return;
        };
        let next = [
            leg.playback.as_ref().and_then(|p| p.next_deadline()),
            leg.transcoder.as_ref().and_then(|t| t.poll_timeout()),
            leg.webrtc.as_ref().and_then(|w| w.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min();
        if let Some(at) = next {
            self.schedule(index, at);
        }
    }

    /// Produces the next packet that is due by `now` into `buf`; call until `None`.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<Transmit> {
        loop {
            if let Some(t) = self.pop_outgoing(buf) {
                return Some(t);
            }
            let &Reverse((at, index)) = self.timers.peek()?;
            if at > now {
                return None;
            }
            self.timers.pop();
            let Some(leg) = self.leg_mut(index) else {
                continue;
            };
            if leg.timer_at != Some(at) {
                continue;
            }
            leg.timer_at = None;
            if let Some(w) = leg.webrtc.as_mut() {
                if w.poll_timeout().is_some_and(|due| due <= now) {
                    w.handle_timeout(now);
                    self.after_webrtc(index, now);
                }
            }
            let out = self
                .poll_playback(index, now, buf)
                .or_else(|| self.poll_transcoder(index, now, buf));
            match out {
                // More may be due at once: come back to this leg before anything later.
                Some(result) => {
                    self.schedule(index, now);
                    if let Some(t) = result.and_then(|t| self.protect_generated(t, buf, now)) {
                        return Some(t);
                    }
                }
                None => self.reschedule(index),
            }
        }
    }

    /// A packet we made for a leg that speaks SRTP leaves protected (`None`: it could not be, or a
    /// WebRTC leg took it to send itself).
    fn protect_generated(&mut self, t: Transmit, buf: &mut [u8], now: Instant) -> Option<Transmit> {
        let leg = self.leg_mut(t.leg)?;
        if let Some(w) = leg.webrtc.as_mut() {
            if t.channel == Channel::Rtp {
                w.send_rtp(&buf[..t.len.min(buf.len())], now);
                self.after_webrtc(t.leg, now);
            }
            return None;
        }
        let Some(srtp) = leg.srtp.as_mut() else {
            return Some(t);
        };
        let protected = match t.channel {
            Channel::Rtp => srtp.outbound.protect_rtp(buf, t.len),
            Channel::Rtcp => srtp.outbound.protect_rtcp(buf, t.len),
        };
        match protected {
            Ok(len) => Some(Transmit { len, ..t }),
            Err(_) => {
                leg.counters.dropped_srtp += 1;
                None
            }
        }
    }

    /// `Some(Some(_))`: a prompt frame to send; `Some(None)`: a frame was made but has nowhere to go;
    /// `None`: nothing due from the player.
    fn poll_playback(
        &mut self,
        index: LegIndex,
        now: Instant,
        buf: &mut [u8],
    ) -> Option<Option<Transmit>> {
        let leg = self.leg_mut(index)?;
        let p = leg.playback.as_mut()?;
        let Some(frame) = p.player.poll_frame(now) else {
            if p.player.is_finished() {
                self.finish_playback(index);
            }
            return None;
        };
        let payload = buf.get_mut(FIXED_HEADER..)?;
        let Ok(len) = p.encoder.encode(frame, payload) else {
            return Some(None);
        };
        let header = RtpPacket {
            marker: std::mem::take(&mut p.marker),
            payload_type: p.payload_type,
            sequence: p.seq,
            timestamp: p.timestamp,
            ssrc: p.ssrc,
            csrc: &[],
            extension: None,
            payload: &[],
            padding: 0,
        };
        header.write(buf.get_mut(..FIXED_HEADER)?).ok()?;
        p.seq = p.seq.wrapping_add(1);
        p.timestamp = p.timestamp.wrapping_add(p.encoder.pcm_rate() / 50);
        let dst = leg
            .remote
            .direction
            .far_end_receives()
            .then(|| leg.rtp.destination())
            .flatten();
        Some(dst.map(|dst| {
            leg.counters.playback_out += 1;
            leg.counters.rtp_out += 1;
            leg.counters.rtp_bytes_out += (FIXED_HEADER + len) as u64;
            Transmit {
                leg: index,
                channel: Channel::Rtp,
                dst,
                len: FIXED_HEADER + len,
            }
        }))
    }

    /// Like [`Relay::poll_playback`], for the transcoder of what leg `index`'s far end sends.
    fn poll_transcoder(
        &mut self,
        index: LegIndex,
        now: Instant,
        buf: &mut [u8],
    ) -> Option<Option<Transmit>> {
        let leg = self.leg_mut(index)?;
        let len = leg.transcoder.as_mut()?.poll_packet(now, buf)?;
        let sends = leg.remote.direction.far_end_sends();
        let Some(peer_index) = leg.peer.filter(|_| sends) else {
            leg.counters.dropped_unrouted += 1;
            return Some(None);
        };
        let peer = self.leg_mut(peer_index)?;
        if peer.playback.is_some() {
            peer.counters.held_for_playback += 1;
            return Some(None);
        }
        if !peer.remote.direction.far_end_receives() {
            return Some(None);
        }
        let dst = peer.rtp.destination()?;
        peer.counters.rtp_out += 1;
        peer.counters.rtp_bytes_out += len as u64;
        Some(Some(Transmit {
            leg: peer_index,
            channel: Channel::Rtp,
            dst,
            len,
        }))
    }
}
