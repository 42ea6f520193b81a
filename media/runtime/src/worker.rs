//! One media thread: it owns its legs' sockets and a [`Relay`], waits in `epoll_wait`, drains each
//! readable socket with `recvmmsg`, and sends what the relay forwards with one `sendmmsg` per batch.
//! Commands from call control arrive on a channel with an eventfd to wake the thread; events leave on
//! an unbounded channel, so neither side ever waits for the other.

use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::Instant;

use switchboard_media::playback::Player;
use switchboard_media::relay::webrtc::DtlsIdentity;
use switchboard_media::relay::{
    Channel, Forward, LegCounters, LegId, Relay, RelayConfig, RelayEvent,
};
use switchboard_media::transcode::OpusSettings;
use tokio::sync::{mpsc, oneshot};

use crate::recorder_io::WriterMsg;
use crate::sys::{Batch, Epoll, EventFd};
use crate::{Command, MediaEvent};

const WAKE_TOKEN: u64 = u64::MAX;
const BATCH: usize = 32;

struct LegSockets {
    rtp: UdpSocket,
    rtcp: UdpSocket,
}

pub(crate) struct Worker {
    relay: Relay,
    epoll: Epoll,
    wake: Arc<EventFd>,
    commands: Receiver<Command>,
    events: mpsc::UnboundedSender<MediaEvent>,
    sockets: Vec<Option<LegSockets>>,
    recv: Batch,
    send: Batch,
    /// Packets the socket buffers refused (the far end or the kernel could not keep up).
    send_drops: u64,
    /// Encoder settings for prompts played to Opus legs.
    opus: OpusSettings,
    writer: std::sync::mpsc::Sender<WriterMsg>,
    recording_chunk: Vec<u8>,
    dtls: Arc<DtlsIdentity>,
}

fn token(index: u32, channel: Channel) -> u64 {
    (u64::from(index) << 1) | u64::from(channel == Channel::Rtcp)
}

impl Worker {
    pub(crate) fn new(
        config: RelayConfig,
        opus: OpusSettings,
        wake: Arc<EventFd>,
        commands: Receiver<Command>,
        events: mpsc::UnboundedSender<MediaEvent>,
        writer: std::sync::mpsc::Sender<WriterMsg>,
        dtls: Arc<DtlsIdentity>,
    ) -> std::io::Result<Worker> {
        let epoll = Epoll::new()?;
        epoll.add(wake.raw(), WAKE_TOKEN)?;
        Ok(Worker {
            relay: Relay::new(config, Instant::now()),
            epoll,
            wake,
            commands,
            events,
            sockets: Vec::new(),
            recv: Batch::new(BATCH),
            send: Batch::new(BATCH),
            send_drops: 0,
            opus,
            writer,
            recording_chunk: Vec::new(),
            dtls,
        })
    }

    /// Runs until the control side says stop or goes away.
    pub(crate) fn run(mut self) {
        let mut ready = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
        loop {
            let now = Instant::now();
            // Rounded up: epoll counts whole milliseconds, and waking early only to find nothing
            // due would spin.
            let wait = self
                .relay
                .poll_timeout()
                .saturating_duration_since(now)
                .as_micros()
                .div_ceil(1000)
                .min(1000) as i32;
            let n = match self.epoll.wait(&mut ready, wait) {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "media thread: epoll_wait failed");
                    return;
                }
            };
            let now = Instant::now();
            for ev in ready.iter().take(n) {
                let tok = ev.u64;
                if tok == WAKE_TOKEN {
                    self.wake.drain();
                    if !self.run_commands(now) {
                        return;
                    }
                } else {
                    self.drain_socket(tok, now);
                }
            }
            self.relay.handle_timeout(now);
            self.send_generated(now);
            self.hand_over_recordings();
            while let Some(e) = self.relay.poll_event() {
                let _ = self.events.send(MediaEvent::Relay(e));
            }
        }
    }

    fn drain_socket(&mut self, tok: u64, now: Instant) {
        let index = (tok >> 1) as u32;
        let channel = if tok & 1 == 1 {
            Channel::Rtcp
        } else {
            Channel::Rtp
        };
        let Some(Some(socks)) = self.sockets.get(index as usize) else {
            return;
        };
        let fd = match channel {
            Channel::Rtp => socks.rtp.as_raw_fd(),
            Channel::Rtcp => socks.rtcp.as_raw_fd(),
        };
        loop {
            let got = match self.recv.recv(fd) {
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(error = %e, "media socket receive error");
                    return;
                }
            };
            // Forwarded packets are grouped by the socket they leave from; a batch from one leg
            // nearly always goes to one peer socket, so this is usually a single sendmmsg.
            let mut pending = 0usize;
            let mut out_fd = -1;
            for i in 0..got {
                let len = self.recv.lens[i];
                let Some(src) = crate::sys::from_sockaddr(&self.recv.addrs[i]) else {
                    continue;
                };
                // The whole slot goes in: an SRTP peer's tag is appended after the packet.
                let Some(buf) = self.recv.bufs.get_mut(i) else {
                    continue;
                };
                if len == 0 {
                    continue;
                }
                let Forward::To {
                    leg,
                    channel: out_channel,
                    dst,
                    len,
                } = self.relay.handle_packet(index, channel, src, buf, len, now)
                else {
                    continue;
                };
                let Some(Some(peer)) = self.sockets.get(leg as usize) else {
                    continue;
                };
                let fd = match out_channel {
                    Channel::Rtp => peer.rtp.as_raw_fd(),
                    Channel::Rtcp => peer.rtcp.as_raw_fd(),
                };
                if fd != out_fd && pending > 0 {
                    self.send_drops += (pending - self.send.send(out_fd, 0, pending)) as u64;
                    pending = 0;
                }
                out_fd = fd;
                if let Some(slot) = self.send.bufs.get_mut(pending) {
                    slot[..len].copy_from_slice(&buf[..len]);
                    self.send.prepare_send(pending, len, dst);
                    pending += 1;
                }
            }
            if pending > 0 {
                self.send_drops += (pending - self.send.send(out_fd, 0, pending)) as u64;
            }
            if got < self.recv.capacity() {
                return;
            }
        }
    }

    /// Sends what the relay produced itself (transcoded packets) that is due by `now`.
    fn send_generated(&mut self, now: Instant) {
        let mut buf = [0u8; crate::sys::MAX_PACKET];
        while let Some(t) = self.relay.poll_transmit(now, &mut buf) {
            let Some(Some(socks)) = self.sockets.get(t.leg as usize) else {
                continue;
            };
            let socket = match t.channel {
                Channel::Rtp => &socks.rtp,
                Channel::Rtcp => &socks.rtcp,
            };
            if socket.send_to(&buf[..t.len], t.dst).is_err() {
                self.send_drops += 1;
            }
        }
    }

    /// Passes recorded bytes to the writer thread (the media thread never touches the disk).
    fn hand_over_recordings(&mut self) {
        while let Some(out) = self.relay.poll_recording(&mut self.recording_chunk) {
            if !self.recording_chunk.is_empty() {
                let bytes = std::mem::take(&mut self.recording_chunk);
                let _ = self.writer.send(WriterMsg::Data { id: out.id, bytes });
            }
            if let Some(finish) = out.finished {
                let _ = self.writer.send(WriterMsg::Finish { id: out.id, finish });
            }
        }
    }

    /// Applies queued commands; false when the thread must stop.
    fn run_commands(&mut self, now: Instant) -> bool {
        loop {
            let cmd = match self.commands.try_recv() {
                Ok(c) => c,
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            };
            match cmd {
                Command::AddLeg { id, rtp, rtcp } => self.add_leg(id, rtp, rtcp, now),
                Command::RemoveLeg { id, reply } => {
                    let counters = self.remove_leg(id);
                    if let Some(reply) = reply {
                        let _ = reply.send(counters);
                    }
                }
                Command::SetRemote { id, remote } => {
                    let _ = self.relay.set_remote(id, remote);
                }
                Command::SetWebRtc { id, params, local } => {
                    if let Err(e) = self.relay.set_webrtc(id, &params, &self.dtls, local, now) {
                        tracing::warn!(leg = id.0, error = %e, "WebRTC leg not set up");
                    }
                }
                Command::SetPayloadMap { id, pairs } => {
                    let _ = self.relay.set_payload_map(id, &pairs);
                }
                Command::Play {
                    id,
                    playlist,
                    mode,
                    interruptible,
                    codec,
                } => {
                    let rate = codec.codec.clock_rate();
                    let played = Player::new(playlist, rate, mode, interruptible, now)
                        .and_then(|p| self.relay.play(id, p, codec, &self.opus, now));
                    if let Err(e) = played {
                        tracing::warn!(leg = id.0, error = %e, "cannot play to this leg");
                        // Call control waits for the end of the prompt: tell it there is none.
                        let _ = self
                            .events
                            .send(MediaEvent::Relay(RelayEvent::PlaybackFinished {
                                leg: id,
                                interrupted_by: None,
                            }));
                    }
                }
                Command::StartRecording {
                    id,
                    caller,
                    callee,
                    layout,
                    rate,
                } => {
                    if let Err(e) = self
                        .relay
                        .start_recording(id, caller, callee, layout, rate, now)
                    {
                        tracing::warn!(recording = id.0, error = %e, "cannot record this call");
                        let finish = switchboard_media::wav::WavFinish {
                            header: [0; switchboard_media::wav::HEADER_LEN],
                            total_len: 0,
                        };
                        let _ = self.writer.send(WriterMsg::Finish { id, finish });
                    }
                }
                Command::StopRecording { id } => {
                    let _ = self.relay.stop_recording(id, now);
                }
                Command::StopPlayback { id } => {
                    let _ = self.relay.stop_playback(id);
                }
                Command::SetTranscode { id, spec, opus } => {
                    if let Err(e) = self.relay.set_transcode(id, spec, &opus) {
                        tracing::warn!(leg = id.0, error = %e, "cannot transcode this leg");
                    }
                }
                Command::SetDtmf {
                    id,
                    forward,
                    inband,
                } => {
                    let _ = self.relay.set_dtmf(id, forward, inband);
                }
                Command::Bridge { a, b, reply } => {
                    let _ = reply.send(self.relay.bridge(a, b));
                }
                Command::Unbridge { id } => {
                    let _ = self.relay.unbridge(id);
                }
                Command::Counters { id, reply } => {
                    let _ = reply.send(self.relay.counters(id));
                }
                Command::Load { reply } => {
                    let _ = reply.send(crate::WorkerLoad {
                        tid: crate::sys::gettid(),
                        legs: self.relay.leg_count(),
                        send_drops: self.send_drops,
                    });
                }
                Command::Stop => return false,
            }
        }
    }

    fn add_leg(&mut self, id: LegId, rtp: UdpSocket, rtcp: UdpSocket, now: Instant) {
        let index = self.relay.add_leg(id, now);
        let ok = self
            .epoll
            .add(rtp.as_raw_fd(), token(index, Channel::Rtp))
            .is_ok()
            && self
                .epoll
                .add(rtcp.as_raw_fd(), token(index, Channel::Rtcp))
                .is_ok();
        if !ok {
            tracing::error!(leg = id.0, "media thread: cannot watch the leg's sockets");
        }
        let slot = index as usize;
        if self.sockets.len() <= slot {
            self.sockets.resize_with(slot + 1, || None);
        }
        self.sockets[slot] = Some(LegSockets { rtp, rtcp });
    }

    fn remove_leg(&mut self, id: LegId) -> Option<LegCounters> {
        let (index, counters) = self.relay.remove_leg(id)?;
        if let Some(socks) = self.sockets.get_mut(index as usize).and_then(Option::take) {
            self.epoll.delete(socks.rtp.as_raw_fd());
            self.epoll.delete(socks.rtcp.as_raw_fd());
        }
        Some(counters)
    }
}

pub(crate) type CountersReply = oneshot::Sender<Option<LegCounters>>;
