//! The media runtime: dedicated media threads (one per core by default) that own the RTP/RTCP sockets
//! and drive the sans-IO relay core of `switchboard-media`. Call control talks to it through
//! [`MediaRuntime`]: allocate legs (ports come back at once), tell each leg what its far end signalled,
//! bridge legs, read counters, release. Events (latching, DTMF, media timeouts) arrive on a channel.
//!
//! Both legs of a call live on the same thread, so relaying a packet never crosses threads or takes a
//! lock: allocate the second leg with [`MediaRuntime::allocate_leg_near`].

mod ports;
mod recorder_io;
pub mod sys;
mod worker;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub use switchboard_media::playback::{PlayMode, Playlist, Prompt};
pub use switchboard_media::recording::Layout;
pub use switchboard_media::relay::webrtc::{DtlsIdentity, WebRtcParams};
pub use switchboard_media::relay::RecordingId;
pub use switchboard_media::relay::{
    Direction, InbandLaw, LegCounters, LegId, RelayConfig, RelayEvent, RemoteMedia,
};
pub use switchboard_media::transcode::{Codec, CodecSpec, OpusSettings};
use tokio::sync::{mpsc, oneshot};

use ports::PortPool;
use sys::EventFd;

/// Node settings of the media relay (the `[media]` section of the TOML file).
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// Address the RTP sockets bind to.
    pub bind: IpAddr,
    /// Address written into SDP `c=` lines: the public address when the node sits behind NAT.
    pub advertised: Option<IpAddr>,
    /// RTP ports are even numbers in `port_min..=port_max`; RTCP uses the odd port above.
    pub port_min: u16,
    pub port_max: u16,
    /// Media threads; 0 = one per core.
    pub threads: usize,
    /// Pin media thread i to CPU `cpus[i % len]` (benchmarks; empty = let the kernel place them).
    pub cpus: Vec<usize>,
    pub relay: RelayConfig,
    /// Encoder settings for legs that receive transcoded Opus.
    pub opus: OpusSettings,
}

impl Default for MediaConfig {
    fn default() -> Self {
        MediaConfig {
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            advertised: None,
            port_min: 20000,
            port_max: 29999,
            threads: 0,
            cpus: Vec::new(),
            relay: RelayConfig::default(),
            opus: OpusSettings::default(),
        }
    }
}

/// What went wrong with a media request.
#[derive(Debug, thiserror::Error)]
pub enum MediaRtError {
    #[error("no free RTP port pair in the configured range")]
    PortsExhausted,
    #[error("no such media leg")]
    UnknownLeg,
    #[error("the legs live on different media threads")]
    DifferentThreads,
    #[error("the media runtime has stopped")]
    Stopped,
    #[error(transparent)]
    Relay(#[from] switchboard_media::MediaError),
    #[error("media socket: {0}")]
    Io(#[from] io::Error),
}

/// Events from the media threads to call control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    Relay(RelayEvent),
    /// A recording's file is complete (`bytes` 0 when it could not be written).
    RecordingFinished {
        id: RecordingId,
        path: std::path::PathBuf,
        bytes: u64,
    },
}

/// A leg's local media address, for the SDP this node sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocatedLeg {
    pub id: LegId,
    /// Advertised address and RTP port (RTCP is the port above).
    pub rtp: SocketAddr,
}

/// A media thread's identity and size, for load tools and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerLoad {
    pub tid: i32,
    pub legs: usize,
    pub send_drops: u64,
}

pub(crate) enum Command {
    AddLeg {
        id: LegId,
        rtp: UdpSocket,
        rtcp: UdpSocket,
    },
    RemoveLeg {
        id: LegId,
        reply: Option<worker::CountersReply>,
    },
    SetRemote {
        id: LegId,
        remote: RemoteMedia,
    },
    SetWebRtc {
        id: LegId,
        params: Box<WebRtcParams>,
        local: SocketAddr,
    },
    SetPayloadMap {
        id: LegId,
        pairs: Vec<(u8, u8)>,
    },
    SetTranscode {
        id: LegId,
        spec: Option<(CodecSpec, CodecSpec)>,
        opus: OpusSettings,
    },
    Play {
        id: LegId,
        playlist: Playlist,
        mode: PlayMode,
        interruptible: bool,
        codec: CodecSpec,
    },
    StopPlayback {
        id: LegId,
    },
    StartRecording {
        id: RecordingId,
        caller: (LegId, CodecSpec),
        callee: (LegId, CodecSpec),
        layout: Layout,
        rate: u32,
    },
    StopRecording {
        id: RecordingId,
    },
    SetDtmf {
        id: LegId,
        forward: bool,
        inband: Option<InbandLaw>,
    },
    Bridge {
        a: LegId,
        b: LegId,
        reply: oneshot::Sender<Result<(), switchboard_media::MediaError>>,
    },
    Unbridge {
        id: LegId,
    },
    Counters {
        id: LegId,
        reply: worker::CountersReply,
    },
    Load {
        reply: oneshot::Sender<WorkerLoad>,
    },
    Stop,
}

struct WorkerHandle {
    commands: std_mpsc::Sender<Command>,
    writer: std_mpsc::Sender<recorder_io::WriterMsg>,
    wake: Arc<EventFd>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl WorkerHandle {
    fn send_writer(&self, msg: recorder_io::WriterMsg) -> Result<(), MediaRtError> {
        self.writer.send(msg).map_err(|_| MediaRtError::Stopped)
    }

    fn send(&self, cmd: Command) -> Result<(), MediaRtError> {
        self.commands.send(cmd).map_err(|_| MediaRtError::Stopped)?;
        self.wake.wake();
        Ok(())
    }
}

struct LegHome {
    worker: usize,
    rtp_port: u16,
}

/// The handle call control holds; cheap to share (`Arc`).
pub struct MediaRuntime {
    config: MediaConfig,
    workers: Vec<WorkerHandle>,
    ports: Mutex<PortPool>,
    legs: Mutex<HashMap<LegId, LegHome>>,
    /// Port pairs bound ahead of need and not yet on a media thread ([`MediaRuntime::reserve_leg`]).
    reserved: Mutex<HashMap<LegId, (u16, UdpSocket, UdpSocket)>>,
    next_leg: AtomicU64,
    next_worker: AtomicUsize,
    /// Port pairs tried by `bind_pair`, for `/metrics` and tests: a failure must cost one try, not
    /// one per port of the range.
    bind_attempts: AtomicU64,
    /// The DTLS certificate of every WebRTC leg (made once: it takes a while).
    dtls: Arc<DtlsIdentity>,
}

impl MediaRuntime {
    /// Starts the media threads.
    pub fn start(
        config: MediaConfig,
    ) -> io::Result<(Arc<MediaRuntime>, mpsc::UnboundedReceiver<MediaEvent>)> {
        let threads = if config.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            config.threads
        };
        let dtls = Arc::new(DtlsIdentity::generate().map_err(io::Error::other)?);
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (writer_tx, writer_rx) = std_mpsc::channel();
        let writer_events = events_tx.clone();
        std::thread::Builder::new()
            .name("media-recorder".into())
            .spawn(move || recorder_io::run(writer_rx, writer_events))?;
        let mut workers = Vec::with_capacity(threads);
        for i in 0..threads {
            let (tx, rx) = std_mpsc::channel();
            let wake = Arc::new(EventFd::new()?);
            let worker = worker::Worker::new(
                config.relay,
                config.opus,
                wake.clone(),
                rx,
                events_tx.clone(),
                writer_tx.clone(),
                dtls.clone(),
            )?;
            let cpu = (!config.cpus.is_empty()).then(|| config.cpus[i % config.cpus.len()]);
            let thread = std::thread::Builder::new()
                .name(format!("media-{i}"))
                .spawn(move || {
                    if let Some(cpu) = cpu {
                        if let Err(e) = sys::pin_to_cpu(cpu) {
                            tracing::warn!(cpu, error = %e, "media thread not pinned");
                        }
                    }
                    worker.run();
                })?;
            workers.push(WorkerHandle {
                commands: tx,
                writer: writer_tx.clone(),
                wake,
                thread: Mutex::new(Some(thread)),
            });
        }
        let ports = PortPool::new(config.port_min, config.port_max);
        Ok((
            Arc::new(MediaRuntime {
                config,
                workers,
                ports: Mutex::new(ports),
                legs: Mutex::new(HashMap::new()),
                reserved: Mutex::new(HashMap::new()),
                next_leg: AtomicU64::new(1),
                next_worker: AtomicUsize::new(0),
                bind_attempts: AtomicU64::new(0),
                dtls,
            }),
            events_rx,
        ))
    }

    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// The fingerprint of the DTLS certificate WebRTC legs present (`sha-256 AB:…`), for SDP.
    pub fn dtls_fingerprint(&self) -> &str {
        &self.dtls.fingerprint
    }

    /// Makes leg `id` a WebRTC leg (ICE-lite, DTLS-SRTP) with what the SDPs settled.
    pub fn set_webrtc(&self, id: LegId, params: WebRtcParams) -> Result<(), MediaRtError> {
        let (_, port) = self.home(id)?;
        let local = SocketAddr::new(self.advertised_ip(), port);
        self.send_to_home(
            id,
            Command::SetWebRtc {
                id,
                params: Box::new(params),
                local,
            },
        )
    }

    /// The address written into SDP for this node's media.
    pub fn advertised_ip(&self) -> IpAddr {
        match (self.config.advertised, self.config.bind) {
            (Some(ip), _) => ip,
            (None, ip) if !ip.is_unspecified() => ip,
            _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }

    /// Allocates a leg on the least recently chosen media thread (a new call).
    pub fn allocate_leg(&self) -> Result<AllocatedLeg, MediaRtError> {
        let leg = self.reserve_leg()?;
        self.activate_leg(leg.id, None)?;
        Ok(leg)
    }

    /// Allocates a leg on the same media thread as `near` (the other leg of the same call).
    pub fn allocate_leg_near(&self, near: LegId) -> Result<AllocatedLeg, MediaRtError> {
        self.home(near)?;
        let leg = self.reserve_leg()?;
        self.activate_leg(leg.id, Some(near))?;
        Ok(leg)
    }

    /// Binds a port pair for a leg that is not on a media thread yet: the SIP core keeps a pool of
    /// these, so it can name a leg in an SDP without waiting. [`MediaRuntime::activate_leg`] puts
    /// it to work.
    /// Port pairs tried so far (a bind that failed because the port was taken counts too).
    pub fn port_bind_attempts(&self) -> u64 {
        self.bind_attempts.load(Ordering::Relaxed)
    }

    pub fn reserve_leg(&self) -> Result<AllocatedLeg, MediaRtError> {
        let (port, rtp, rtcp) = self.bind_pair()?;
        let id = LegId(self.next_leg.fetch_add(1, Ordering::Relaxed));
        self.reserved
            .lock()
            .map_err(|_| MediaRtError::Stopped)?
            .insert(id, (port, rtp, rtcp));
        Ok(AllocatedLeg {
            id,
            rtp: SocketAddr::new(self.advertised_ip(), port),
        })
    }

    /// Puts a reserved leg on a media thread: `near`'s (the call's other leg, so a bridge stays on
    /// one thread) when it is still there, else the least recently chosen one.
    pub fn activate_leg(&self, id: LegId, near: Option<LegId>) -> Result<(), MediaRtError> {
        let (port, rtp, rtcp) = self
            .reserved
            .lock()
            .map_err(|_| MediaRtError::Stopped)?
            .remove(&id)
            .ok_or(MediaRtError::UnknownLeg)?;
        let worker = match near.map(|n| self.home(n)) {
            Some(Ok((worker, _))) => worker,
            _ => self.next_worker.fetch_add(1, Ordering::Relaxed) % self.workers.len().max(1),
        };
        let handle = self.workers.get(worker).ok_or(MediaRtError::Stopped)?;
        self.legs.lock().map_err(|_| MediaRtError::Stopped)?.insert(
            id,
            LegHome {
                worker,
                rtp_port: port,
            },
        );
        handle.send(Command::AddLeg { id, rtp, rtcp })
    }

    /// Binds an RTP/RTCP pair from the pool, skipping ports another process holds.
    fn bind_pair(&self) -> Result<(u16, UdpSocket, UdpSocket), MediaRtError> {
        let mut pool = self.ports.lock().map_err(|_| MediaRtError::Stopped)?;
        for _ in 0..pool.capacity() {
            let port = pool.take().ok_or(MediaRtError::PortsExhausted)?;
            let bound = UdpSocket::bind(SocketAddr::new(self.config.bind, port)).and_then(|rtp| {
                let rtcp = UdpSocket::bind(SocketAddr::new(self.config.bind, port + 1))?;
                rtp.set_nonblocking(true)?;
                rtcp.set_nonblocking(true)?;
                Ok((rtp, rtcp))
            });
            self.bind_attempts.fetch_add(1, Ordering::Relaxed);
            match bound {
                Ok((rtp, rtcp)) => return Ok((port, rtp, rtcp)),
                // In use elsewhere: put it at the back of the queue and try the next pair.
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => pool.give_back(port),
                // Out of file descriptors or buffers, or no such address: the next port would fail
                // the same way, and walking the whole range per call is what froze a node at its
                // open-file limit. Stop at once; the caller refuses the call (503).
                Err(e) => {
                    pool.give_back(port);
                    return Err(MediaRtError::Io(e));
                }
            }
        }
        Err(MediaRtError::PortsExhausted)
    }

    fn home(&self, id: LegId) -> Result<(usize, u16), MediaRtError> {
        let legs = self.legs.lock().map_err(|_| MediaRtError::Stopped)?;
        legs.get(&id)
            .map(|h| (h.worker, h.rtp_port))
            .ok_or(MediaRtError::UnknownLeg)
    }

    fn send_to_home(&self, id: LegId, cmd: Command) -> Result<(), MediaRtError> {
        let worker = self.home(id)?.0;
        self.workers
            .get(worker)
            .ok_or(MediaRtError::Stopped)?
            .send(cmd)
    }

    /// The far end's SDP (first answer/offer or a re-INVITE).
    pub fn set_remote(&self, id: LegId, remote: RemoteMedia) -> Result<(), MediaRtError> {
        self.send_to_home(id, Command::SetRemote { id, remote })
    }

    /// Payload types carried from this leg to its peer as (received, sent) pairs.
    pub fn set_payload_map(&self, id: LegId, pairs: Vec<(u8, u8)>) -> Result<(), MediaRtError> {
        self.send_to_home(id, Command::SetPayloadMap { id, pairs })
    }

    /// Transcodes what this leg's far end sends (`input`, this leg's codec) into the peer's codec
    /// (`output`) — for legs that share no codec; `None` relays packets as they are again.
    pub fn set_transcode(
        &self,
        id: LegId,
        spec: Option<(CodecSpec, CodecSpec)>,
    ) -> Result<(), MediaRtError> {
        let opus = self.config.opus;
        self.send_to_home(id, Command::SetTranscode { id, spec, opus })
    }

    /// Plays prompts (or music on hold with [`PlayMode::Loop`]) to leg `id`'s far end in `codec`, the
    /// codec negotiated on that leg; the bridged leg's audio is held back meanwhile. A digit from the
    /// leg stops an `interruptible` playlist. Ends with `RelayEvent::PlaybackFinished`.
    pub fn play(
        &self,
        id: LegId,
        playlist: Playlist,
        mode: PlayMode,
        interruptible: bool,
        codec: CodecSpec,
    ) -> Result<(), MediaRtError> {
        self.send_to_home(
            id,
            Command::Play {
                id,
                playlist,
                mode,
                interruptible,
                codec,
            },
        )
    }

    /// Records the call between two legs of one media thread into a WAV file at `path` (8000 or
    /// 16000 Hz, mixed or caller-left/callee-right). Ends with `MediaEvent::RecordingFinished`, on
    /// [`MediaRuntime::stop_recording`] or when either leg is released.
    pub fn start_recording(
        &self,
        id: RecordingId,
        caller: (LegId, CodecSpec),
        callee: (LegId, CodecSpec),
        layout: Layout,
        rate: u32,
        path: std::path::PathBuf,
    ) -> Result<(), MediaRtError> {
        let (wa, wb) = (self.home(caller.0)?.0, self.home(callee.0)?.0);
        if wa != wb {
            return Err(MediaRtError::DifferentThreads);
        }
        let worker = self.workers.get(wa).ok_or(MediaRtError::Stopped)?;
        worker.send_writer(recorder_io::WriterMsg::Open { id, path })?;
        worker.send(Command::StartRecording {
            id,
            caller,
            callee,
            layout,
            rate,
        })
    }

    /// Ends a recording started on the thread of leg `any_leg` (either of its legs).
    pub fn stop_recording(&self, id: RecordingId, any_leg: LegId) -> Result<(), MediaRtError> {
        self.send_to_home(any_leg, Command::StopRecording { id })
    }

    pub fn stop_playback(&self, id: LegId) -> Result<(), MediaRtError> {
        self.send_to_home(id, Command::StopPlayback { id })
    }

    pub fn set_dtmf(
        &self,
        id: LegId,
        forward: bool,
        inband: Option<InbandLaw>,
    ) -> Result<(), MediaRtError> {
        self.send_to_home(
            id,
            Command::SetDtmf {
                id,
                forward,
                inband,
            },
        )
    }

    /// Connects two legs of the same media thread.
    pub async fn bridge(&self, a: LegId, b: LegId) -> Result<(), MediaRtError> {
        let (wa, wb) = (self.home(a)?.0, self.home(b)?.0);
        if wa != wb {
            return Err(MediaRtError::DifferentThreads);
        }
        let (reply, rx) = oneshot::channel();
        self.send_to_home(a, Command::Bridge { a, b, reply })?;
        Ok(rx.await.map_err(|_| MediaRtError::Stopped)??)
    }

    /// The same as [`MediaRuntime::bridge`] for callers outside an async runtime.
    pub fn bridge_blocking(&self, a: LegId, b: LegId) -> Result<(), MediaRtError> {
        let (wa, wb) = (self.home(a)?.0, self.home(b)?.0);
        if wa != wb {
            return Err(MediaRtError::DifferentThreads);
        }
        let (reply, rx) = oneshot::channel();
        self.send_to_home(a, Command::Bridge { a, b, reply })?;
        Ok(rx.blocking_recv().map_err(|_| MediaRtError::Stopped)??)
    }

    /// Bridges without waiting for the media thread's answer (for a caller that must not block, such
    /// as the SIP loop); a failure is logged by the media thread.
    pub fn bridge_now(&self, a: LegId, b: LegId) -> Result<(), MediaRtError> {
        let (wa, wb) = (self.home(a)?.0, self.home(b)?.0);
        if wa != wb {
            return Err(MediaRtError::DifferentThreads);
        }
        let (reply, _) = oneshot::channel();
        self.send_to_home(a, Command::Bridge { a, b, reply })
    }

    pub fn unbridge(&self, id: LegId) -> Result<(), MediaRtError> {
        self.send_to_home(id, Command::Unbridge { id })
    }

    pub async fn counters(&self, id: LegId) -> Result<Option<LegCounters>, MediaRtError> {
        let (reply, rx) = oneshot::channel();
        self.send_to_home(id, Command::Counters { id, reply })?;
        rx.await.map_err(|_| MediaRtError::Stopped)
    }

    /// The same as [`MediaRuntime::counters`] outside an async runtime.
    pub fn counters_blocking(&self, id: LegId) -> Result<Option<LegCounters>, MediaRtError> {
        let (reply, rx) = oneshot::channel();
        self.send_to_home(id, Command::Counters { id, reply })?;
        rx.blocking_recv().map_err(|_| MediaRtError::Stopped)
    }

    /// Releases a leg: its sockets close and its ports return to the pool. The final counters come
    /// back through the returned receiver (for the CDR).
    pub fn release(
        &self,
        id: LegId,
    ) -> Result<oneshot::Receiver<Option<LegCounters>>, MediaRtError> {
        let home = self
            .legs
            .lock()
            .map_err(|_| MediaRtError::Stopped)?
            .remove(&id)
            .ok_or(MediaRtError::UnknownLeg)?;
        let (reply, rx) = oneshot::channel();
        self.workers
            .get(home.worker)
            .ok_or(MediaRtError::Stopped)?
            .send(Command::RemoveLeg {
                id,
                reply: Some(reply),
            })?;
        // Released ports go to the back of the queue, so a late packet of this call is unlikely to
        // reach the next call that gets them.
        if let Ok(mut pool) = self.ports.lock() {
            pool.give_back(home.rtp_port);
        }
        Ok(rx)
    }

    /// Identity and size of every media thread.
    pub fn load_blocking(&self) -> Vec<WorkerLoad> {
        self.workers
            .iter()
            .filter_map(|w| {
                let (reply, rx) = oneshot::channel();
                w.send(Command::Load { reply }).ok()?;
                rx.blocking_recv().ok()
            })
            .collect()
    }

    /// Stops the media threads and waits for them.
    pub fn shutdown(&self) {
        for w in &self.workers {
            let _ = w.send(Command::Stop);
        }
        for w in &self.workers {
            if let Some(t) = w.thread.lock().ok().and_then(|mut t| t.take()) {
                let _ = t.join();
            }
        }
    }
}

impl Drop for MediaRuntime {
    fn drop(&mut self) {
        self.shutdown();
    }
}
