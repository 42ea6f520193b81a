//! The relay core of one media thread, sans-IO: legs, their latches, bridging, payload-type mapping,
//! DTMF detection, counters and media timeouts. The runtime shell owns the sockets; for every datagram it
//! asks [`Relay::handle_packet`] where it goes, and it feeds commands and time in. Nothing here allocates
//! per packet, locks, or reads a clock.
//!
//! Each call leg has an RTP and an RTCP socket (one with rtcp-mux). A leg is *bridged* to at most one
//! other leg; media from a leg's far end goes out of the bridged leg's socket to that leg's far end.

mod generated;
pub mod latch;
mod record;
pub mod webrtc;
mod webrtc_legs;

pub use record::{RecordingId, RecordingOutput};

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::dtmf::{detect_digit, TelephoneEvent};
use crate::g711;
use crate::rtp::RtpPacket;
use crate::srtp::{SrtpKeys, SrtpLeg};
use crate::stats::ReceiveStats;
use crate::transcode::{CodecSpec, OpusSettings, Transcoder};
use crate::MediaError;
use latch::Latch;

/// A leg's position in one relay; the runtime uses it to index its sockets.
pub type LegIndex = u32;

/// A leg's identity across the node (the runtime hands these out; call control holds them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Rtp,
    Rtcp,
}

/// The direction attribute of the far end's SDP, from the far end's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn far_end_sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    fn far_end_receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }
}

/// What the far end of a leg signalled in its SDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RemoteMedia {
    /// RTP address; `None` for `c=0.0.0.0` or before an SDP is known.
    pub rtp: Option<SocketAddr>,
    /// RTCP address (`a=rtcp` or RTP port + 1); ignored with rtcp-mux.
    pub rtcp: Option<SocketAddr>,
    pub rtcp_mux: bool,
    pub direction: Direction,
    /// The far end's telephone-event payload type, so its RFC 4733 digits are detected.
    pub telephone_event_pt: Option<u8>,
    /// Clock rate of that telephone-event (8000 on G.711 legs, 48000 on Opus legs).
    pub telephone_event_rate: u32,
    /// RTP clock rate of the leg's codec, for jitter in milliseconds (0 = 8000).
    pub clock_rate: u32,
    /// SDES keys when the leg speaks SRTP: what arrives is unprotected first, what leaves protected
    /// last, so everything in between (latching, DTMF, recording, transcoding) sees plain RTP.
    pub srtp: Option<SrtpKeys>,
}

impl RemoteMedia {
    /// Clock rates filled in where the SDP gave none (0): 8000, G.711's and telephone-event's usual
    /// rate, so the packet path never divides by zero or checks again.
    fn normalized(mut self) -> RemoteMedia {
        for rate in [&mut self.clock_rate, &mut self.telephone_event_rate] {
            if *rate < 1000 {
                *rate = 8000;
            }
        }
        self
    }
}

/// The G.711 law of a leg whose DTMF must be found in the audio (no telephone-event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InbandLaw {
    Pcmu,
    Pcma,
}

/// Timing settings of a relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayConfig {
    /// Packets in a row from one source (and SSRC) before a leg latches to it.
    pub probation_packets: u8,
    /// No media from a leg for this long → [`RelayEvent::MediaTimeout`].
    pub media_timeout: Duration,
    /// The same while the far end said it will not send (hold, inactive).
    pub hold_timeout: Duration,
    /// How often timeouts are checked.
    pub sweep_interval: Duration,
    /// A WebRTC leg whose ICE and DTLS are not up this long after it was set up has failed
    /// ([`RelayEvent::MediaTimeout`]).
    pub webrtc_setup_timeout: Duration,
    /// A WebRTC leg that connected but brought no media for this long has failed too: the server
    /// can see DTLS finished while the browser's last flight was lost, and the browser never
    /// sends (it keeps ICE alive with consent checks, so the plain media timeout would wait).
    pub webrtc_first_media_timeout: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            probation_packets: 2,
            media_timeout: Duration::from_secs(30),
            hold_timeout: Duration::from_secs(3600),
            sweep_interval: Duration::from_secs(1),
            webrtc_setup_timeout: Duration::from_secs(10),
            webrtc_first_media_timeout: Duration::from_secs(5),
        }
    }
}

/// Packet and byte counters of one leg, for the CDR and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LegCounters {
    pub rtp_in: u64,
    pub rtp_bytes_in: u64,
    pub rtp_out: u64,
    pub rtp_bytes_out: u64,
    pub rtcp_in: u64,
    pub rtcp_out: u64,
    /// From a source the latch does not trust.
    pub dropped_foreign: u64,
    /// Not RTP/RTCP at all, or a malformed header.
    pub dropped_malformed: u64,
    /// Valid, but nowhere to go: no bridged leg, direction forbids it, or the far end has no address.
    pub dropped_unrouted: u64,
    /// A payload type the leg's mapping does not carry.
    pub dropped_payload_type: u64,
    /// SRTP/SRTCP that failed authentication or was replayed (from the far end), or could not be
    /// protected (towards it).
    pub dropped_srtp: u64,
    /// RFC 4733 packets kept from the other side because call control consumes the digits.
    pub dtmf_consumed: u64,
    /// Packets taken by this leg's transcoder (what it sends on counts as `rtp_out` of the peer).
    pub transcoded_in: u64,
    /// Transcoder input that arrived after its frame had been played (counted by the jitter buffer).
    pub transcode_late: u64,
    /// Frames the transcoder concealed (lost, late, or to grow its delay).
    pub transcode_concealed: u64,
    /// Packets from the peer held back while a prompt played to this leg.
    pub held_for_playback: u64,
    /// Prompt frames sent to this leg.
    pub playback_out: u64,
    /// Packets the far end sent that never arrived (RFC 3550 A.3, from sequence numbers).
    pub lost: i64,
    /// Interarrival jitter of what the far end sends, in microseconds (RFC 3550 A.8).
    pub jitter_us: u64,
    /// What the far end last reported (RTCP) about the media it receives from us: fraction lost in
    /// 1/256 and jitter in microseconds. `None` until its first report.
    pub remote_fraction_lost: Option<u8>,
    pub remote_jitter_us: Option<u64>,
}

/// What happened in the relay that call control should know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelayEvent {
    Latched {
        leg: LegId,
        channel: Channel,
        addr: SocketAddr,
    },
    Dtmf {
        leg: LegId,
        digit: char,
        duration_ms: u32,
        inband: bool,
    },
    /// No media from the leg for the configured time (reported once until media resumes).
    MediaTimeout { leg: LegId },
    /// A prompt on this leg ended: played out (`None`), stopped, or cut short by a digit.
    PlaybackFinished {
        leg: LegId,
        interrupted_by: Option<char>,
    },
}

/// A packet the relay made itself (transcoded), ready to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// Send from this leg's `channel` socket…
    pub leg: LegIndex,
    pub channel: Channel,
    /// …to here, the first `len` bytes of the buffer given to [`Relay::poll_transmit`].
    pub dst: SocketAddr,
    pub len: usize,
}

/// Where a datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// Send the first `len` bytes of the (possibly rewritten) buffer from `leg`'s `channel` socket
    /// to `dst`.
    To {
        leg: LegIndex,
        channel: Channel,
        dst: SocketAddr,
        len: usize,
    },
    Drop,
}

/// RFC 5761 §4: on a multiplexed port, the second byte of RTCP is a packet type 192–223.
pub fn is_rtcp(packet: &[u8]) -> bool {
    packet.get(1).is_some_and(|b| (192..=223).contains(b))
}

const NO_PT: u8 = 0xff;

struct InbandDetector {
    law: InbandLaw,
    current: Option<char>,
    blocks: u32,
    reported: bool,
}

struct Leg {
    id: LegId,
    peer: Option<LegIndex>,
    remote: RemoteMedia,
    rtp: Latch,
    rtcp: Latch,
    /// Payload type written when forwarding a packet of each type from this leg; `NO_PT` drops it.
    pt_map: [u8; 128],
    forward_dtmf: bool,
    last_dtmf_end: Option<u32>,
    inband: Option<InbandDetector>,
    last_activity: Instant,
    timed_out: bool,
    counters: LegCounters,
    /// Transcodes what this leg's far end sends before it goes to the peer.
    transcoder: Option<Box<Transcoder>>,
    /// A prompt or music playing to this leg's far end (the peer's media is held back meanwhile).
    playback: Option<Box<generated::Playback>>,
    /// The deadline this leg has in the timer heap (entries that differ are stale).
    timer_at: Option<Instant>,
    /// The recording (slot in `Relay::recordings`) this leg's audio goes to, and as which side.
    recording: Option<(usize, crate::recording::Direction)>,
    /// Sequence and timing statistics of the far end's current stream (reset when its SSRC changes).
    rx_stats: Option<ReceiveStats>,
    /// SRTP contexts of an SDES leg.
    srtp: Option<Box<SrtpLeg>>,
    /// ICE, DTLS and SRTP of a WebRTC leg.
    webrtc: Option<Box<webrtc::WebRtcLeg>>,
}

/// One media thread's relay state.
pub struct Relay {
    config: RelayConfig,
    legs: Vec<Option<Leg>>,
    free: Vec<LegIndex>,
    by_id: HashMap<LegId, LegIndex>,
    events: VecDeque<RelayEvent>,
    next_sweep: Instant,
    timers: BinaryHeap<Reverse<(Instant, LegIndex)>>,
    recordings: Vec<Option<record::ActiveRecording>>,
    /// Packets made here for the wire (WebRTC legs' STUN, DTLS and SRTP, and what their decrypted
    /// RTP became on the way to a peer), sent by [`Relay::poll_transmit`].
    outbox: VecDeque<webrtc_legs::Outgoing>,
}

fn identity_map() -> [u8; 128] {
    std::array::from_fn(|i| i as u8)
}

impl Relay {
    pub fn new(config: RelayConfig, now: Instant) -> Self {
        Relay {
            config,
            legs: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            events: VecDeque::new(),
            next_sweep: now + config.sweep_interval,
            timers: BinaryHeap::new(),
            recordings: Vec::new(),
            outbox: VecDeque::new(),
        }
    }

    /// Adds a leg and returns its index (reused after [`Relay::remove_leg`]).
    pub fn add_leg(&mut self, id: LegId, now: Instant) -> LegIndex {
        if let Some(&index) = self.by_id.get(&id) {
            return index;
        }
        let probation = self.config.probation_packets;
        let leg = Leg {
            id,
            peer: None,
            remote: RemoteMedia::default().normalized(),
            rtp: Latch::new(None, probation),
            rtcp: Latch::new(None, probation),
            pt_map: identity_map(),
            forward_dtmf: true,
            last_dtmf_end: None,
            inband: None,
            last_activity: now,
            timed_out: false,
            counters: LegCounters::default(),
            transcoder: None,
            playback: None,
            timer_at: None,
            recording: None,
            rx_stats: None,
            srtp: None,
            webrtc: None,
        };
        let index = match self.free.pop() {
            Some(i) => {
                if let Some(slot) = self.legs.get_mut(i as usize) {
                    *slot = Some(leg);
                }
                i
            }
            None => {
                self.legs.push(Some(leg));
                (self.legs.len() - 1) as LegIndex
            }
        };
        self.by_id.insert(id, index);
        index
    }

    /// Removes a leg (unbridging its peer) and returns its final counters.
    pub fn remove_leg(&mut self, id: LegId) -> Option<(LegIndex, LegCounters)> {
        let index = self.by_id.remove(&id)?;
        // A recording ends with either leg: finish it so the file gets its header.
        if let Some((slot, at)) = self
            .legs
            .get(index as usize)
            .and_then(Option::as_ref)
            .and_then(|l| l.recording.map(|(slot, _)| (slot, l.last_activity)))
        {
            self.finish_recording(slot, at);
        }
        let leg = self.legs.get_mut(index as usize)?.take()?;
        if let Some(peer) = leg.peer.and_then(|p| self.leg_mut(p)) {
            peer.peer = None;
        }
        self.free.push(index);
        Some((index, leg.counters))
    }

    pub fn index_of(&self, id: LegId) -> Option<LegIndex> {
        self.by_id.get(&id).copied()
    }

    fn leg_mut(&mut self, index: LegIndex) -> Option<&mut Leg> {
        self.legs.get_mut(index as usize).and_then(Option::as_mut)
    }

    fn by_id_mut(&mut self, id: LegId) -> Result<&mut Leg, MediaError> {
        let index = self.index_of(id).ok_or(MediaError::UnknownLeg)?;
        self.leg_mut(index).ok_or(MediaError::UnknownLeg)
    }

    /// The far end's SDP (first or re-INVITE). The latch survives when the address is unchanged.
    pub fn set_remote(&mut self, id: LegId, remote: RemoteMedia) -> Result<(), MediaError> {
        let leg = self.by_id_mut(id)?;
        leg.rtp.resignal(remote.rtp);
        let rtcp = if remote.rtcp_mux {
            remote.rtp
        } else {
            remote.rtcp.or_else(|| {
                remote
                    .rtp
                    .map(|a| SocketAddr::new(a.ip(), a.port().wrapping_add(1)))
            })
        };
        leg.rtcp.resignal(rtcp);
        // The same keys keep their contexts: rollover counters and replay windows carry on across
        // a re-INVITE that only changes direction or codec.
        match &remote.srtp {
            None => leg.srtp = None,
            Some(keys) if leg.srtp.as_ref().is_some_and(|s| s.uses(keys)) => {}
            Some(keys) => leg.srtp = Some(Box::new(SrtpLeg::new(keys))),
        }
        leg.remote = remote.normalized();
        leg.timed_out = false;
        Ok(())
    }

    /// Payload types carried from this leg to its peer, as (received, sent) pairs; others are dropped.
    /// Without a call the leg carries every type unchanged.
    pub fn set_payload_map(&mut self, id: LegId, pairs: &[(u8, u8)]) -> Result<(), MediaError> {
        let leg = self.by_id_mut(id)?;
        leg.pt_map = [NO_PT; 128];
        for &(from, to) in pairs {
            if let Some(slot) = leg.pt_map.get_mut(usize::from(from)) {
                *slot = to & 0x7f;
            }
        }
        Ok(())
    }

    /// Whether RFC 4733 packets from this leg reach the peer (false while a menu or a "press 1"
    /// confirmation consumes them), and whether to look for in-band DTMF in its G.711 audio.
    pub fn set_dtmf(
        &mut self,
        id: LegId,
        forward: bool,
        inband: Option<InbandLaw>,
    ) -> Result<(), MediaError> {
        let leg = self.by_id_mut(id)?;
        leg.forward_dtmf = forward;
        leg.inband = inband.map(|law| InbandDetector {
            law,
            current: None,
            blocks: 0,
            reported: false,
        });
        Ok(())
    }

    /// Transcodes what this leg's far end sends (`input`, as negotiated on this leg) into the peer's
    /// codec (`output`), or stops transcoding with `None`. Telephone-events still pass by mapping.
    pub fn set_transcode(
        &mut self,
        id: LegId,
        spec: Option<(CodecSpec, CodecSpec)>,
        opus: &OpusSettings,
    ) -> Result<(), MediaError> {
        let transcoder = match spec {
            Some((input, output)) => Some(Box::new(Transcoder::new(input, output, opus, None)?)),
            None => None,
        };
        let leg = self.by_id_mut(id)?;
        leg.transcoder = transcoder;
        leg.timer_at = None;
        Ok(())
    }

    /// Connects two legs both ways (each leg's earlier peer is unbridged).
    pub fn bridge(&mut self, a: LegId, b: LegId) -> Result<(), MediaError> {
        let ia = self.index_of(a).ok_or(MediaError::UnknownLeg)?;
        let ib = self.index_of(b).ok_or(MediaError::UnknownLeg)?;
        self.unbridge(a)?;
        self.unbridge(b)?;
        if let Some(l) = self.leg_mut(ia) {
            l.peer = Some(ib);
        }
        if let Some(l) = self.leg_mut(ib) {
            l.peer = Some(ia);
        }
        Ok(())
    }

    pub fn unbridge(&mut self, id: LegId) -> Result<(), MediaError> {
        let leg = self.by_id_mut(id)?;
        if let Some(peer) = leg.peer.take() {
            if let Some(p) = self.leg_mut(peer) {
                p.peer = None;
            }
        }
        Ok(())
    }

    pub fn counters(&self, id: LegId) -> Option<LegCounters> {
        let index = self.index_of(id)?;
        let leg = self.legs.get(index as usize).and_then(Option::as_ref)?;
        let mut c = leg.counters;
        if let Some(s) = &leg.rx_stats {
            c.lost = s.lost();
            c.jitter_us = (s.jitter_ms() * 1000.0) as u64;
        }
        if let Some(t) = &leg.transcoder {
            let j = t.jitter_counters();
            c.transcode_late = j.late;
            c.transcode_concealed = t.counters().frames_concealed;
        }
        Some(c)
    }

    /// Decides where the datagram in `buf[..len]`, which arrived on leg `index`'s `channel` socket
    /// from `src`, goes. It is rewritten in place: unprotected when the leg speaks SRTP, its payload
    /// type mapped when the legs' numbers differ, protected for a peer that speaks SRTP (`buf` needs
    /// room for the tag beyond `len`).
    pub fn handle_packet(
        &mut self,
        index: LegIndex,
        channel: Channel,
        src: SocketAddr,
        buf: &mut [u8],
        len: usize,
        now: Instant,
    ) -> Forward {
        let Some(leg) = self.legs.get_mut(index as usize).and_then(Option::as_mut) else {
            return Forward::Drop;
        };
        let len = len.min(buf.len());
        if leg.webrtc.is_some() {
            return self.handle_webrtc_datagram(index, src, &buf[..len], now);
        }
        let rtcp = channel == Channel::Rtcp || (leg.remote.rtcp_mux && is_rtcp(&buf[..len]));
        let plain_len = match leg.srtp.as_mut() {
            None => len,
            Some(srtp) => {
                let packet = &mut buf[..len];
                let plain = if rtcp {
                    srtp.inbound.unprotect_rtcp(packet)
                } else {
                    srtp.inbound.unprotect_rtp(packet)
                };
                match plain {
                    Ok(n) => n,
                    Err(_) => {
                        leg.counters.dropped_srtp += 1;
                        return Forward::Drop;
                    }
                }
            }
        };
        let forward = if rtcp {
            self.handle_rtcp(index, src, &buf[..plain_len], now)
        } else {
            self.handle_rtp(index, src, &mut buf[..plain_len], now)
        };
        self.protect_for_peer(forward, buf, rtcp, now)
    }

    /// Protects a forwarded packet for a destination leg that speaks SRTP.
    fn protect_for_peer(
        &mut self,
        forward: Forward,
        buf: &mut [u8],
        rtcp: bool,
        now: Instant,
    ) -> Forward {
        let Forward::To {
            leg,
            channel,
            dst,
            len,
        } = forward
        else {
            return forward;
        };
        let Some(peer) = self.leg_mut(leg) else {
            return Forward::Drop;
        };
        if let Some(w) = peer.webrtc.as_mut() {
            // str0m protects and sends it (its own RTCP replaces the far end's).
            if !rtcp {
                w.send_rtp(&buf[..len.min(buf.len())], now);
                self.after_webrtc(leg, now);
            }
            return Forward::Drop;
        }
        let Some(srtp) = peer.srtp.as_mut() else {
            return forward;
        };
        let protected = if rtcp {
            srtp.outbound.protect_rtcp(buf, len)
        } else {
            srtp.outbound.protect_rtp(buf, len)
        };
        match protected {
            Ok(len) => Forward::To {
                leg,
                channel,
                dst,
                len,
            },
            Err(_) => {
                peer.counters.dropped_srtp += 1;
                Forward::Drop
            }
        }
    }

    /// The plain RTP side of [`Relay::handle_packet`].
    fn handle_rtp(
        &mut self,
        index: LegIndex,
        src: SocketAddr,
        packet: &mut [u8],
        now: Instant,
    ) -> Forward {
        let Some(leg) = self.legs.get_mut(index as usize).and_then(Option::as_mut) else {
            return Forward::Drop;
        };
        let Ok(rtp) = RtpPacket::parse(packet) else {
            leg.counters.dropped_malformed += 1;
            return Forward::Drop;
        };
        let (pt, ssrc, timestamp) = (rtp.payload_type, rtp.ssrc, rtp.timestamp);
        match leg.rtp.on_packet(src, ssrc) {
            latch::Verdict::Refuse => {
                leg.counters.dropped_foreign += 1;
                return Forward::Drop;
            }
            latch::Verdict::Latched(addr) => self.events.push_back(RelayEvent::Latched {
                leg: leg.id,
                channel: Channel::Rtp,
                addr,
            }),
            latch::Verdict::Accept => {}
        }
        leg.counters.rtp_in += 1;
        leg.counters.rtp_bytes_in += packet.len() as u64;
        leg.last_activity = now;
        leg.timed_out = false;
        let stats = match &mut leg.rx_stats {
            Some(s) if s.ssrc() == ssrc => s,
            slot => slot.insert(ReceiveStats::new(ssrc, leg.remote.clock_rate)),
        };
        if leg.remote.telephone_event_pt != Some(pt) {
            stats.on_rtp(rtp.sequence, timestamp, rtp.payload.len(), now);
        }
        if leg.recording.is_some() {
            self.record_packet(index, pt, rtp.payload, now);
        }
        let Some(leg) = self.legs.get_mut(index as usize).and_then(Option::as_mut) else {
            return Forward::Drop;
        };

        if leg.remote.telephone_event_pt == Some(pt) {
            if let Some(ev) = TelephoneEvent::parse(rtp.payload) {
                if ev.end && leg.last_dtmf_end != Some(timestamp) {
                    leg.last_dtmf_end = Some(timestamp);
                    if let Some(digit) = ev.digit() {
                        if let Some(p) = leg.playback.as_mut() {
                            p.handle_dtmf(digit);
                        }
                        let rate = leg.remote.telephone_event_rate / 1000;
                        self.events.push_back(RelayEvent::Dtmf {
                            leg: leg.id,
                            digit,
                            duration_ms: u32::from(ev.duration) / rate,
                            inband: false,
                        });
                    }
                }
            }
            if !leg.forward_dtmf {
                leg.counters.dtmf_consumed += 1;
                return Forward::Drop;
            }
        } else if let Some(det) = leg.inband.as_mut() {
            if let Some(event) = detect_inband(det, pt, rtp.payload) {
                if let Some(p) = leg.playback.as_mut() {
                    p.handle_dtmf(event.0);
                }
                self.events.push_back(RelayEvent::Dtmf {
                    leg: leg.id,
                    digit: event.0,
                    duration_ms: event.1,
                    inband: true,
                });
            }
        }

        let is_dtmf = leg.remote.telephone_event_pt == Some(pt);
        if let (false, Some(t)) = (is_dtmf, leg.transcoder.as_mut()) {
            if pt != t.input().payload_type {
                leg.counters.dropped_payload_type += 1;
                return Forward::Drop;
            }
            t.push(&rtp, now);
            leg.counters.transcoded_in += 1;
            if let Some(at) = t.poll_timeout() {
                self.schedule(index, at);
            }
            return Forward::Drop;
        }
        let out_pt = leg.pt_map.get(usize::from(pt)).copied().unwrap_or(NO_PT);
        if out_pt == NO_PT {
            leg.counters.dropped_payload_type += 1;
            return Forward::Drop;
        }
        let sends = leg.remote.direction.far_end_sends();
        let Some(peer_index) = leg.peer.filter(|_| sends) else {
            leg.counters.dropped_unrouted += 1;
            return Forward::Drop;
        };
        if out_pt != pt {
            if let Some(b) = packet.get_mut(1) {
                *b = (*b & 0x80) | out_pt;
            }
        }
        let len = packet.len();
        let dst = match self.leg_mut(peer_index) {
            Some(peer) if peer.playback.is_some() => {
                peer.counters.held_for_playback += 1;
                return Forward::Drop;
            }
            Some(peer) if peer.remote.direction.far_end_receives() => {
                peer.rtp.destination().inspect(|_| {
                    peer.counters.rtp_out += 1;
                    peer.counters.rtp_bytes_out += len as u64;
                })
            }
            _ => None,
        };
        match dst {
            Some(dst) => Forward::To {
                leg: peer_index,
                channel: Channel::Rtp,
                dst,
                len,
            },
            None => {
                if let Some(l) = self.leg_mut(index) {
                    l.counters.dropped_unrouted += 1;
                }
                Forward::Drop
            }
        }
    }

    fn handle_rtcp(
        &mut self,
        index: LegIndex,
        src: SocketAddr,
        packet: &[u8],
        now: Instant,
    ) -> Forward {
        let Some(leg) = self.legs.get_mut(index as usize).and_then(Option::as_mut) else {
            return Forward::Drop;
        };
        // Version 2, a packet type in the RTCP range, and the sender SSRC present.
        let valid = packet.len() >= 8 && packet[0] >> 6 == 2 && is_rtcp(packet);
        if !valid {
            leg.counters.dropped_malformed += 1;
            return Forward::Drop;
        }
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let latch = if leg.remote.rtcp_mux {
            &mut leg.rtp
        } else {
            &mut leg.rtcp
        };
        match latch.on_packet(src, ssrc) {
            latch::Verdict::Refuse => {
                leg.counters.dropped_foreign += 1;
                return Forward::Drop;
            }
            latch::Verdict::Latched(addr) => {
                let channel = if leg.remote.rtcp_mux {
                    Channel::Rtp
                } else {
                    Channel::Rtcp
                };
                self.events.push_back(RelayEvent::Latched {
                    leg: leg.id,
                    channel,
                    addr,
                });
            }
            latch::Verdict::Accept => {}
        }
        leg.counters.rtcp_in += 1;
        leg.last_activity = now;
        leg.timed_out = false;
        // The far end's reports about what it receives (from us): for the CDR's quality figures.
        for p in crate::rtcp::packets(packet).flatten() {
            let blocks = match &p {
                crate::rtcp::RtcpPacket::SenderReport(sr) => sr.reports,
                crate::rtcp::RtcpPacket::ReceiverReport(rr) => rr.reports,
                _ => continue,
            };
            if let Some(block) = blocks.iter().next() {
                let clock = u64::from(leg.remote.clock_rate);
                leg.counters.remote_fraction_lost = Some(block.fraction_lost);
                leg.counters.remote_jitter_us = Some(u64::from(block.jitter) * 1_000_000 / clock);
            }
        }
        let Some(peer_index) = leg.peer else {
            leg.counters.dropped_unrouted += 1;
            return Forward::Drop;
        };
        let route = self.leg_mut(peer_index).and_then(|peer| {
            let (channel, dst) = if peer.remote.rtcp_mux {
                (Channel::Rtp, peer.rtp.destination())
            } else {
                (Channel::Rtcp, peer.rtcp.destination())
            };
            let dst = dst?;
            peer.counters.rtcp_out += 1;
            Some((channel, dst))
        });
        match route {
            Some((channel, dst)) => Forward::To {
                leg: peer_index,
                channel,
                dst,
                len: packet.len(),
            },
            None => {
                if let Some(l) = self.leg_mut(index) {
                    l.counters.dropped_unrouted += 1;
                }
                Forward::Drop
            }
        }
    }

    /// Checks media timeouts when due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + self.config.sweep_interval;
        for leg in self.legs.iter_mut().flatten() {
            if leg.timed_out {
                continue;
            }
            let limit = if leg.remote.direction.far_end_sends() {
                self.config.media_timeout
            } else {
                self.config.hold_timeout
            };
            let webrtc_failed = leg.webrtc.as_ref().is_some_and(|w| {
                w.has_failed()
                    || match w.connected_at() {
                        None => {
                            now.saturating_duration_since(w.started_at())
                                >= self.config.webrtc_setup_timeout
                        }
                        Some(at) => {
                            leg.remote.direction.far_end_sends()
                                && leg.last_activity < at
                                && now.saturating_duration_since(at)
                                    >= self.config.webrtc_first_media_timeout
                        }
                    }
            });
            if webrtc_failed || now.saturating_duration_since(leg.last_activity) >= limit {
                leg.timed_out = true;
                self.events
                    .push_back(RelayEvent::MediaTimeout { leg: leg.id });
            }
        }
    }

    /// The next time [`Relay::handle_timeout`] or [`Relay::poll_transmit`] has work.
    pub fn poll_timeout(&self) -> Instant {
        match self.timers.peek() {
            Some(Reverse((at, _))) => (*at).min(self.next_sweep),
            None => self.next_sweep,
        }
    }

    pub fn poll_event(&mut self) -> Option<RelayEvent> {
        self.events.pop_front()
    }

    pub fn leg_count(&self) -> usize {
        self.by_id.len()
    }
}

/// Feeds one G.711 payload to a leg's in-band detector; returns (digit, duration in ms) once per key
/// press, when the tone has lasted two 20 ms blocks (Q.24 asks for ≥ 40 ms).
fn detect_inband(det: &mut InbandDetector, pt: u8, payload: &[u8]) -> Option<(char, u32)> {
    let law_matches = matches!((det.law, pt), (InbandLaw::Pcmu, 0) | (InbandLaw::Pcma, 8));
    if !law_matches || payload.is_empty() {
        return None;
    }
    let mut samples = [0i16; 480];
    let n = payload.len().min(samples.len());
    for (s, &code) in samples.iter_mut().zip(&payload[..n]) {
        *s = match det.law {
            InbandLaw::Pcmu => g711::ulaw_decode(code),
            InbandLaw::Pcma => g711::alaw_decode(code),
        };
    }
    let block_ms = (n as u32) / 8;
    let digit = detect_digit(&samples[..n], 8000);
    if digit.is_some() && digit == det.current {
        det.blocks += 1;
    } else {
        det.current = digit;
        det.blocks = u32::from(digit.is_some());
        det.reported = false;
    }
    match det.current {
        Some(d) if det.blocks >= 2 && !det.reported => {
            det.reported = true;
            Some((d, det.blocks * block_ms))
        }
        _ => None,
    }
}
