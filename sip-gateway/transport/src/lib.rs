//! The runtime shell around [`sip_core::Endpoint`]: it owns the sockets and the clock and nothing else.
//!
//! One driver task owns the endpoint. It drains every datagram that is ready on the UDP socket before it
//! flushes the answers (so a burst costs one wake-up, not one per datagram), takes framed messages from the
//! TCP connection tasks over a channel, and sleeps until the core's next deadline. Stream connections get a
//! writer task each; responses go back over the connection the request came on (RFC 3261 §18.2.2).
//! TLS connections (phones on the TLS port, trunks with transport tls) run the same stream code.

mod tls;
mod ws;
pub use tls::{
    client_config as tls_client_config, server_config as tls_server_config, ServerCertificate,
};

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use sip_core::b2bua::{CallEvent, CallRef, MediaOp, MediaRelay};
use sip_core::push::{DeviceChange, PushOutcome, PushRequest};
use sip_core::trunk::{TrunkConfig, TrunkStatus};
use sip_core::{BindingChange, ConnectionId, Endpoint, LocationStore, Peer, TransportKind};
use sip_message::framing::{header_end_after, next_frame, Frame};
use sip_message::Limits;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Errors of the transport shell.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("socket error: {0}")]
    Io(#[from] io::Error),
    #[error("TLS setup, {path}: {reason}")]
    Tls {
        path: std::path::PathBuf,
        reason: String,
    },
}

/// Requests from the rest of the node (call control, the binary's wiring, the admin API's requests
/// the binary passes on) to the driver.
pub enum Command {
    /// Install or replace a user's digest secrets.
    SetUser {
        username: String,
        secrets: sip_core::auth::UserSecrets,
    },
    /// Remove a user and its registrations.
    RemoveUser { username: String },
    /// Read counters and registration counts.
    Snapshot(oneshot::Sender<sip_core::NodeSnapshot>),
    /// List the live bindings of one AOR (or all when `None`).
    Bindings {
        aor: Option<String>,
        reply: oneshot::Sender<Vec<sip_core::Binding>>,
    },
    /// Call control's commands to the B2BUA, carried out as they are.
    Call(sip_core::b2bua::CallCommand),
    /// The networks trunks call from (CIDRs): INVITEs from there are accepted as citizens' calls.
    SetCallSources(Vec<(std::net::IpAddr, u8)>),
    /// Every user's SRTP policy (from the configuration; users not named have the default).
    SetSrtpPolicies(HashMap<String, sip_core::b2bua::SrtpPolicy>),
    /// The enabled trunks. Their hosts are resolved here (DNS off the driver task), then the core
    /// registers and probes them; `addr` in the configs is filled in and may be left `None`.
    SetTrunks(Vec<TrunkConfig>),
    /// Registration, probe and call-count state of every trunk.
    TrunkStatus(oneshot::Sender<Vec<TrunkStatus>>),
    /// Read the TLS certificate and key files again (SIGHUP): new handshakes on the TLS and WSS
    /// listeners present what they hold now. The answer says why it failed (the old one stays).
    ReloadCertificate(oneshot::Sender<Result<(), String>>),
    /// The relay legs and codec of an answered call (to record it); `None` for a call that is not
    /// answered or not known.
    CallMedia {
        call: CallRef,
        reply: oneshot::Sender<Option<sip_core::b2bua::CallMedia>>,
    },
    /// Sources banned now (scanners, floods, failed digests).
    Bans(oneshot::Sender<Vec<sip_core::shield::Ban>>),
    /// Lift every ban on an address; the answer says whether there was one.
    LiftBan {
        ip: std::net::IpAddr,
        reply: oneshot::Sender<bool>,
    },
    /// What became of a push (see [`NodeOutputs::pushes`]).
    PushOutcome {
        request: PushRequest,
        outcome: PushOutcome,
    },
}

enum Input {
    Message(Peer, Bytes),
    Ping(Peer),
    Connected(ConnectionId, StreamKey, mpsc::Sender<Bytes>),
    Closed(ConnectionId),
    /// An outgoing connection could not be opened; what waited for it is dropped (the transaction
    /// layer times out and call control moves on).
    ConnectFailed(StreamKey, String),
    /// Trunks whose hosts were resolved.
    Trunks(Vec<TrunkConfig>),
}

/// A stream connection's transport and far address: a TLS and a TCP connection to one address are
/// different connections.
type StreamKey = (TransportKind, SocketAddr);

/// Sockets the node listens on. UDP and TCP share the port number (RFC 3261 §18); TLS, when
/// configured, has its own (5061 by convention), and so do SIP over WebSocket and secure WebSocket.
pub struct Listeners {
    pub udp: UdpSocket,
    pub tcp: TcpListener,
    pub tls: Option<(TcpListener, TlsAcceptor)>,
    pub ws: Option<TcpListener>,
    pub wss: Option<(TcpListener, TlsAcceptor)>,
    /// The certificate the TLS and WSS listeners present, for reloads.
    pub certificate: Option<Arc<ServerCertificate>>,
    /// How trunks with transport tls are checked; without it the Mozilla roots only.
    pub tls_client: Option<Arc<rustls::ClientConfig>>,
    /// Stream connections (TCP, TLS, WS, WSS together) one source address may hold open; more are
    /// closed at once, so one address cannot take the node's whole connection budget.
    pub max_connections_per_source: usize,
}

impl Listeners {
    /// Binds UDP and TCP on one port. With port 0 the system picks the UDP port, and that number can
    /// be taken for TCP (another socket's ephemeral port): then another UDP port is tried.
    pub async fn bind(addr: SocketAddr) -> Result<Listeners, TransportError> {
        let mut attempts = 0;
        let (udp, tcp) = loop {
            let udp = UdpSocket::from_std(bind_udp(addr)?)?;
            let bound = udp.local_addr()?;
            match TcpListener::bind(bound).await {
                Ok(tcp) => break (udp, tcp),
                Err(e)
                    if addr.port() == 0
                        && e.kind() == io::ErrorKind::AddrInUse
                        && attempts < 20 =>
                {
                    attempts += 1;
                }
                Err(e) => return Err(e.into()),
            }
        };
        Ok(Listeners {
            udp,
            tcp,
            tls: None,
            ws: None,
            wss: None,
            certificate: None,
            tls_client: None,
            max_connections_per_source: DEFAULT_CONNECTIONS_PER_SOURCE,
        })
    }

    /// Adds a TLS listener for phones on `addr`, presenting `server`'s certificate.
    pub async fn bind_tls(
        &mut self,
        addr: SocketAddr,
        server: Arc<rustls::ServerConfig>,
    ) -> Result<SocketAddr, TransportError> {
        let listener = TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        self.tls = Some((listener, TlsAcceptor::from(server)));
        Ok(bound)
    }

    /// Adds a SIP over WebSocket listener (RFC 7118) on `addr`.
    pub async fn bind_ws(&mut self, addr: SocketAddr) -> Result<SocketAddr, TransportError> {
        let listener = TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        self.ws = Some(listener);
        Ok(bound)
    }

    /// Adds a SIP over secure WebSocket listener on `addr`, presenting `server`'s certificate.
    pub async fn bind_wss(
        &mut self,
        addr: SocketAddr,
        server: Arc<rustls::ServerConfig>,
    ) -> Result<SocketAddr, TransportError> {
        let listener = TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        self.wss = Some((listener, TlsAcceptor::from(server)));
        Ok(bound)
    }

    pub fn local_addr(&self) -> Result<SocketAddr, TransportError> {
        Ok(self.udp.local_addr()?)
    }
}

/// Socket buffers for the SIP UDP socket. One driver thread serves the socket, so the kernel buffer is
/// what absorbs a burst (a REGISTER storm after a network outage) while that thread is busy or descheduled;
/// the Linux default (~200 KB) overflows in a few milliseconds at 30,000 requests/s.
const UDP_BUFFER_BYTES: usize = 8 * 1024 * 1024;

fn bind_udp(addr: SocketAddr) -> io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // The kernel caps these at net.core.{r,w}mem_max unless we may force them (root); either is fine.
    if socket.set_recv_buffer_size(UDP_BUFFER_BYTES).is_err() {
        tracing::debug!("could not raise the UDP receive buffer");
    }
    let _ = socket.set_send_buffer_size(UDP_BUFFER_BYTES);
    #[cfg(target_os = "linux")]
    force_buffer_sizes(&socket);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// As root (or with CAP_NET_ADMIN) the buffers may exceed net.core.{r,w}mem_max, as Kamailio's
/// `maxbuffer` does; otherwise the capped sizes set above stay.
#[cfg(target_os = "linux")]
fn force_buffer_sizes(socket: &socket2::Socket) {
    use std::os::fd::AsRawFd;
    let size = UDP_BUFFER_BYTES as libc::c_int;
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_SNDBUFFORCE] {
        // SAFETY: the fd is a valid open socket for the duration of the call, and the option value points
        // to a live c_int whose size is passed alongside.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            tracing::debug!(option = opt, "could not force the UDP buffer size");
        }
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The wall-clock reading the endpoint needs at construction.
pub fn now_pair() -> (Instant, u64) {
    (Instant::now(), unix_ms())
}

/// Where the driver sends what the node produces besides packets.
pub struct NodeOutputs {
    /// Binding changes, for persistence.
    pub bindings: mpsc::UnboundedSender<Vec<BindingChange>>,
    /// Changes to the push-capable apps, for persistence.
    pub devices: mpsc::UnboundedSender<Vec<DeviceChange>>,
    /// Pushes to send; the sender answers each with [`Command::PushOutcome`].
    pub pushes: mpsc::UnboundedSender<PushRequest>,
    /// Call events (new calls to route, answers, CDR reports) for call control, whose decisions
    /// come back as [`Command`]s.
    pub call_events: mpsc::UnboundedSender<CallEvent>,
}

/// Runs the SIP node until `shutdown` completes.
pub async fn run<L: LocationStore + 'static>(
    mut endpoint: Endpoint<L>,
    listeners: Listeners,
    mut commands: mpsc::Receiver<Command>,
    outputs: NodeOutputs,
    media: Option<Box<dyn MediaRelay + Send>>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), TransportError> {
    let mut media = media.map(|relay| MediaShell {
        relay,
        ports_short: false,
    });
    if media.is_some() {
        endpoint.enable_media();
    }
    carry_out_media(&mut endpoint, media.as_mut());
    let Listeners {
        udp,
        tcp,
        tls,
        ws,
        wss,
        certificate,
        tls_client,
        max_connections_per_source,
    } = listeners;
    let per_source = Arc::new(SourceConnections::default());
    let mut reloads = (0u64, 0u64);
    let local = udp.local_addr()?;
    let tls_client = match tls_client {
        Some(c) => c,
        None => tls::client_config(None)?,
    };
    let (input_tx, mut input_rx) = mpsc::channel::<Input>(4096);
    let next_conn = Arc::new(AtomicU64::new(1));
    let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut listening = vec![(tcp, Listening::Tcp)];
    if let Some((listener, acceptor)) = tls {
        tracing::info!(addr = ?listener.local_addr().ok(), "SIP listening on TLS");
        listening.push((listener, Listening::Tls(acceptor)));
    }
    if let Some(listener) = ws {
        tracing::info!(addr = ?listener.local_addr().ok(), "SIP listening on WebSocket");
        listening.push((listener, Listening::Ws));
    }
    if let Some((listener, acceptor)) = wss {
        tracing::info!(addr = ?listener.local_addr().ok(), "SIP listening on secure WebSocket");
        listening.push((listener, Listening::Wss(acceptor)));
    }
    let acceptors: Vec<_> = listening
        .into_iter()
        .map(|(listener, kind)| {
            tokio::spawn(accept_loop(
                listener,
                kind,
                input_tx.clone(),
                next_conn.clone(),
                open.clone(),
                (per_source.clone(), max_connections_per_source),
            ))
        })
        .collect();
    let mut streams = Streams {
        writers: HashMap::new(),
        by_addr: HashMap::new(),
        pending: HashMap::new(),
        tls_names: HashMap::new(),
        tls_connector: TlsConnector::from(tls_client),
        next_conn,
        inputs: input_tx.clone(),
    };
    let mut buf = vec![0u8; 65_536];
    tokio::pin!(shutdown);
    tracing::info!(%local, "SIP listening on UDP and TCP");

    loop {
        let deadline = endpoint.poll_timeout();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut shutdown => break,
            ready = udp.readable() => {
                ready?;
                let now = Instant::now();
                // Drain what is queued, bounded so timers and streams get their turn.
                for _ in 0..256 {
                    match udp.try_recv_from(&mut buf) {
                        Ok((n, from)) => {
                            let peer = Peer { transport: TransportKind::Udp, addr: from, connection: None };
                            endpoint.handle_input(now, peer, Bytes::copy_from_slice(&buf[..n]));
                            // A burst of INVITEs takes legs faster than one top-up per batch.
                            carry_out_media(&mut endpoint, media.as_mut());
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // ICMP errors from earlier sends surface here on Linux; they concern no one now.
                        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Some(input) = input_rx.recv() => {
                let now = Instant::now();
                match input {
                    Input::Message(peer, data) => endpoint.handle_input(now, peer, data),
                    Input::Ping(peer) => endpoint.handle_ping(peer),
                    Input::Connected(id, key, w) => {
                        endpoint.handle_connected(key.0, key.1);
                        streams.connected(id, key, w);
                    }
                    Input::Closed(id) => {
                        streams.closed(id);
                        endpoint.handle_connection_closed(id);
                    }
                    Input::ConnectFailed(key, reason) => {
                        tracing::debug!(addr = %key.1, transport = %key.0, %reason, "connect failed");
                        endpoint.handle_connect_failed(key.0, key.1, &reason);
                        streams.pending.remove(&key);
                    }
                    Input::Trunks(trunks) => {
                        streams.learn_tls_names(&trunks);
                        endpoint.set_trunks(now, trunks)
                    }
                }
            }
            Some(cmd) = commands.recv() => match cmd {
                Command::SetTrunks(trunks) => {
                    tokio::spawn(resolve_trunks(trunks, input_tx.clone()));
                }
                Command::ReloadCertificate(reply) => {
                    let result = match &certificate {
                        Some(c) => c.reload().map_err(|e| e.to_string()),
                        None => Err("no TLS or WSS listener".to_owned()),
                    };
                    match &result {
                        Ok(()) => reloads.0 += 1,
                        Err(_) => reloads.1 += 1,
                    }
                    let _ = reply.send(result);
                }
                cmd => handle_command(
                    &mut endpoint,
                    cmd,
                    streams.writers.len(),
                    (reloads, per_source.refused.load(Ordering::Relaxed)),
                ),
            },
            _ = sleep => endpoint.handle_timeout(Instant::now()),
        }
        // Before anything is sent: a leg named in an SDP we send, or in an event call control
        // will play to, is on its media thread first.
        carry_out_media(&mut endpoint, media.as_mut());
        while let Some(ev) = endpoint.poll_call_event() {
            let _ = outputs.call_events.send(ev);
        }
        while let Some(push) = endpoint.poll_push() {
            let _ = outputs.pushes.send(push);
        }
        flush(&mut endpoint, &udp, &mut streams).await;
        let batch = endpoint.drain_binding_changes();
        if !batch.is_empty() {
            let _ = outputs.bindings.send(batch);
        }
        let devices = endpoint.drain_device_changes();
        if !devices.is_empty() {
            let _ = outputs.devices.send(devices);
        }
    }
    for a in acceptors {
        a.abort();
    }
    tracing::info!("SIP transport stopped");
    Ok(())
}

/// The relay as the SIP task drives it.
struct MediaShell {
    relay: Box<dyn MediaRelay + Send>,
    /// The last reservation failed (the port range is used up): no new attempt until a leg is
    /// released, since each failed attempt tries every port of the range.
    ports_short: bool,
}

/// Hands the relay what the endpoint asked of it, in order, and tops up the endpoint's pool of
/// reserved legs (a relay out of ports leaves it short: calls then get 503).
fn carry_out_media<L: LocationStore>(endpoint: &mut Endpoint<L>, media: Option<&mut MediaShell>) {
    let Some(media) = media else {
        return;
    };
    while let Some(op) = endpoint.poll_media_op() {
        if matches!(op, MediaOp::Release { .. }) {
            media.ports_short = false;
        }
        media.relay.apply(op);
    }
    if media.ports_short {
        return;
    }
    for _ in 0..endpoint.media_legs_wanted() {
        match media.relay.reserve() {
            Ok(leg) => endpoint.add_media_leg(leg),
            Err(_) => {
                media.ports_short = true;
                break;
            }
        }
    }
}

fn handle_command<L: LocationStore>(
    endpoint: &mut Endpoint<L>,
    cmd: Command,
    tcp_connections: usize,
    ((tls_reloads, tls_reload_failures), connections_refused): ((u64, u64), u64),
) {
    match cmd {
        Command::SetUser { username, secrets } => {
            endpoint.registrar_mut().set_user(&username, secrets)
        }
        Command::RemoveUser { username } => endpoint.registrar_mut().remove_user(&username),
        Command::Snapshot(reply) => {
            let _ = reply.send(sip_core::NodeSnapshot {
                endpoint: endpoint.stats(),
                registrar: endpoint.registrar().stats(),
                bindings: endpoint.registrar().location().binding_count(),
                server_transactions: endpoint.transactions().server_count(),
                tcp_connections,
                tls_reloads,
                tls_reload_failures,
                push: endpoint.push_stats(),
                shield: endpoint.shield_stats(),
                connections_refused_per_source: connections_refused,
                bans: endpoint.bans(Instant::now()).len(),
            });
        }
        Command::Call(command) => endpoint.handle_call_command(Instant::now(), command),
        Command::SetCallSources(sources) => endpoint.set_call_sources(sources),
        Command::SetSrtpPolicies(policies) => endpoint.set_srtp_policies(policies),
        // Carried out by the driver itself (see `run`).
        Command::SetTrunks(_) | Command::ReloadCertificate(_) => {}
        Command::TrunkStatus(reply) => {
            let _ = reply.send(endpoint.trunk_status());
        }
        Command::CallMedia { call, reply } => {
            let _ = reply.send(endpoint.call_media(call));
        }
        Command::Bans(reply) => {
            let _ = reply.send(endpoint.bans(Instant::now()));
        }
        Command::LiftBan { ip, reply } => {
            let _ = reply.send(endpoint.lift_ban(Instant::now(), ip));
        }
        Command::PushOutcome { request, outcome } => {
            endpoint.handle_push_outcome(Instant::now(), &request, outcome)
        }
        Command::Bindings { aor, reply } => {
            let loc = endpoint.registrar().location();
            let aors = match aor {
                Some(a) => vec![a],
                None => loc.aors(),
            };
            let list = aors.iter().flat_map(|a| loc.bindings(a).to_vec()).collect();
            let _ = reply.send(list);
        }
    }
}

/// Resolves each trunk's `host:port` (the first address) and hands the list to the driver. A name
/// that does not resolve leaves `addr` empty: the trunk is then neither registered nor probed
/// until the next list brings another try.
async fn resolve_trunks(mut trunks: Vec<TrunkConfig>, inputs: mpsc::Sender<Input>) {
    for t in &mut trunks {
        if let Ok(ip) = t.host.parse::<std::net::IpAddr>() {
            t.addr = Some(SocketAddr::new(ip, t.port));
            continue;
        }
        match tokio::net::lookup_host((t.host.as_str(), t.port)).await {
            Ok(mut addrs) => t.addr = addrs.next(),
            Err(e) => {
                tracing::warn!(trunk = %t.name, host = %t.host, error = %e, "trunk host does not resolve");
                t.addr = None;
            }
        }
    }
    let _ = inputs.send(Input::Trunks(trunks)).await;
}

/// Stream connections, accepted and opened by us. Requests to a stream peer without a connection
/// (a phone registered over TCP whose connection closed, a TCP or TLS trunk) use a live connection
/// to that address or open one; messages wait in `pending` while it connects.
struct Streams {
    writers: HashMap<ConnectionId, mpsc::Sender<Bytes>>,
    by_addr: HashMap<StreamKey, ConnectionId>,
    pending: HashMap<StreamKey, Vec<Bytes>>,
    /// The names TLS trunks' certificates must carry, by address. We open TLS connections only to
    /// these: a phone's TLS address is its side of a connection it opened, not a server.
    tls_names: HashMap<SocketAddr, rustls::pki_types::ServerName<'static>>,
    tls_connector: TlsConnector,
    next_conn: Arc<AtomicU64>,
    inputs: mpsc::Sender<Input>,
}

/// Messages kept for one address while its connection opens.
const MAX_PENDING_PER_ADDR: usize = 64;

impl Streams {
    fn connected(&mut self, id: ConnectionId, key: StreamKey, w: mpsc::Sender<Bytes>) {
        for payload in self.pending.remove(&key).unwrap_or_default() {
            let _ = w.try_send(payload);
        }
        self.by_addr.insert(key, id);
        self.writers.insert(id, w);
    }

    fn learn_tls_names(&mut self, trunks: &[TrunkConfig]) {
        self.tls_names = trunks
            .iter()
            .filter(|t| t.transport == TransportKind::Tls)
            .filter_map(|t| {
                let name = tls::server_name(&t.host);
                if name.is_none() {
                    tracing::warn!(trunk = %t.name, host = %t.host, "not a TLS server name");
                }
                Some((t.addr?, name?))
            })
            .collect();
    }

    fn closed(&mut self, id: ConnectionId) {
        self.writers.remove(&id);
        self.by_addr.retain(|_, c| *c != id);
    }

    fn send(&mut self, peer: Peer, payload: Bytes) {
        let conn = peer
            .connection
            .filter(|c| self.writers.contains_key(c))
            .or_else(|| self.by_addr.get(&(peer.transport, peer.addr)).copied());
        if let Some(w) = conn.and_then(|c| self.writers.get(&c)) {
            let _ = w.try_send(payload);
            return;
        }
        let tls = match peer.transport {
            TransportKind::Tcp => None,
            TransportKind::Tls => match self.tls_names.get(&peer.addr) {
                Some(name) => Some((self.tls_connector.clone(), name.clone())),
                None => {
                    tracing::debug!(dest = %peer.addr, "no TLS connection to send on");
                    return;
                }
            },
            _ => {
                tracing::debug!(dest = %peer.addr, "no connection to send on");
                return;
            }
        };
        let key = (peer.transport, peer.addr);
        let waiting = self.pending.entry(key).or_default();
        if waiting.len() < MAX_PENDING_PER_ADDR {
            waiting.push(payload);
        }
        if waiting.len() == 1 {
            let id = ConnectionId(self.next_conn.fetch_add(1, Ordering::Relaxed));
            tokio::spawn(connect_out(key, tls, id, self.inputs.clone()));
        }
    }
}

async fn connect_out(
    key: StreamKey,
    tls: Option<(TlsConnector, rustls::pki_types::ServerName<'static>)>,
    id: ConnectionId,
    inputs: mpsc::Sender<Input>,
) {
    let (transport, addr) = key;
    let connect = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await;
    let stream = match connect {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            let _ = inputs
                .send(Input::ConnectFailed(
                    key,
                    format!("TCP connect failed: {e}"),
                ))
                .await;
            return;
        }
        Err(_) => {
            let reason = "TCP connect timed out".to_owned();
            let _ = inputs.send(Input::ConnectFailed(key, reason)).await;
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let Some((connector, name)) = tls else {
        connection(stream, transport, addr, id, inputs).await;
        return;
    };
    let handshake = tokio::time::timeout(tls::HANDSHAKE_TIMEOUT, connector.connect(name, stream));
    match handshake.await {
        Ok(Ok(stream)) => connection(stream, transport, addr, id, inputs).await,
        Ok(Err(e)) => {
            // A carrier certificate that does not verify lands here: say so where admins look.
            tracing::warn!(%addr, error = %e, "TLS handshake with trunk failed");
            let reason = format!("TLS handshake failed: {e}");
            let _ = inputs.send(Input::ConnectFailed(key, reason)).await;
        }
        Err(_) => {
            tracing::warn!(%addr, "TLS handshake with trunk timed out");
            let reason = "TLS handshake timed out".to_owned();
            let _ = inputs.send(Input::ConnectFailed(key, reason)).await;
        }
    }
}

async fn flush<L: LocationStore>(
    endpoint: &mut Endpoint<L>,
    udp: &UdpSocket,
    streams: &mut Streams,
) {
    while let Some(t) = endpoint.poll_transmit() {
        match (t.peer.transport, t.peer.connection) {
            (TransportKind::Udp, _) => {
                if let Err(e) = udp.try_send_to(&t.payload, t.peer.addr) {
                    if e.kind() == io::ErrorKind::WouldBlock {
                        // The socket buffer is full: wait for room rather than drop an answer.
                        let _ = udp.send_to(&t.payload, t.peer.addr).await;
                    } else {
                        tracing::debug!(dest = %t.peer.addr, error = %e, "UDP send failed");
                    }
                }
            }
            _ => streams.send(t.peer, t.payload),
        }
    }
}

/// Open SIP stream connections this node accepts; more are closed at once (each costs two tasks and
/// buffers, and a municipality's phones need a few thousand).
const MAX_TCP_CONNECTIONS: usize = 20_000;
/// See [`Listeners::max_connections_per_source`]: an office NAT with many phones on TCP or TLS
/// stays well under it.
pub const DEFAULT_CONNECTIONS_PER_SOURCE: usize = 256;

/// Open stream connections by source address, and the ones refused for being over the cap.
#[derive(Default)]
struct SourceConnections {
    open: std::sync::Mutex<HashMap<std::net::IpAddr, usize>>,
    refused: AtomicU64,
}

impl SourceConnections {
    /// Counts a new connection from `ip`; `false` (and not counted) when it has `cap` already.
    fn admit(&self, ip: std::net::IpAddr, cap: usize) -> bool {
        let Ok(mut open) = self.open.lock() else {
            return true;
        };
        let n = open.entry(ip).or_insert(0);
        if *n >= cap {
            drop(open);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        *n += 1;
        true
    }

    fn closed(&self, ip: std::net::IpAddr) {
        if let Ok(mut open) = self.open.lock() {
            if let Some(n) = open.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    open.remove(&ip);
                }
            }
        }
    }
}
/// A connection that sends nothing (not even an RFC 5626 keep-alive) for this long is closed.
const TCP_IDLE: std::time::Duration = std::time::Duration::from_secs(900);

/// What a stream listener speaks.
#[derive(Clone)]
enum Listening {
    Tcp,
    Tls(TlsAcceptor),
    Ws,
    Wss(TlsAcceptor),
}

/// Accepts stream connections on one listener. The count of open connections is shared by all
/// listeners.
async fn accept_loop(
    tcp: TcpListener,
    kind: Listening,
    inputs: mpsc::Sender<Input>,
    next_conn: Arc<AtomicU64>,
    open: Arc<std::sync::atomic::AtomicUsize>,
    (per_source, cap): (Arc<SourceConnections>, usize),
) {
    loop {
        match tcp.accept().await {
            Ok((stream, from)) => {
                if open.load(Ordering::Relaxed) >= MAX_TCP_CONNECTIONS {
                    tracing::warn!(%from, "too many TCP connections: refusing one");
                    continue;
                }
                if !per_source.admit(from.ip(), cap) {
                    tracing::debug!(%from, "too many connections from one address: refusing one");
                    continue;
                }
                let id = ConnectionId(next_conn.fetch_add(1, Ordering::Relaxed));
                let _ = stream.set_nodelay(true);
                let open = open.clone();
                open.fetch_add(1, Ordering::Relaxed);
                let inputs = inputs.clone();
                let kind = kind.clone();
                let per_source = per_source.clone();
                tokio::spawn(async move {
                    match kind {
                        Listening::Tcp => {
                            connection(stream, TransportKind::Tcp, from, id, inputs).await
                        }
                        Listening::Ws => {
                            ws::connection(stream, TransportKind::Ws, from, id, inputs).await
                        }
                        Listening::Tls(acceptor) => {
                            secure_connection(stream, acceptor, false, from, id, inputs).await
                        }
                        Listening::Wss(acceptor) => {
                            secure_connection(stream, acceptor, true, from, id, inputs).await
                        }
                    }
                    open.fetch_sub(1, Ordering::Relaxed);
                    per_source.closed(from.ip());
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "TCP accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

/// A connection on the TLS or WSS listener: the TLS handshake, then SIP framed on the stream or
/// carried in WebSocket messages.
async fn secure_connection(
    stream: TcpStream,
    acceptor: TlsAcceptor,
    websocket: bool,
    from: SocketAddr,
    id: ConnectionId,
    inputs: mpsc::Sender<Input>,
) {
    let handshake = tokio::time::timeout(tls::HANDSHAKE_TIMEOUT, acceptor.accept(stream));
    match handshake.await {
        Ok(Ok(stream)) if websocket => {
            ws::connection(stream, TransportKind::Wss, from, id, inputs).await
        }
        Ok(Ok(stream)) => connection(stream, TransportKind::Tls, from, id, inputs).await,
        Ok(Err(e)) => tracing::debug!(%from, error = %e, "TLS handshake failed"),
        Err(_) => tracing::debug!(%from, "TLS handshake timed out"),
    }
}

/// One stream connection, TCP or TLS: framed messages in to the driver, queued bytes out.
async fn connection<S>(
    stream: S,
    transport: TransportKind,
    from: SocketAddr,
    id: ConnectionId,
    inputs: mpsc::Sender<Input>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (wtx, mut wrx) = mpsc::channel::<Bytes>(256);
    if inputs
        .send(Input::Connected(id, (transport, from), wtx))
        .await
        .is_err()
    {
        return;
    }
    let write_task = tokio::spawn(async move {
        while let Some(b) = wrx.recv().await {
            if writer.write_all(&b).await.is_err() {
                break;
            }
            // TLS buffers records; without a flush a message can sit there. Flushed once the queue
            // is drained, so a burst goes out in as few records as it fits.
            if wrx.is_empty() && writer.flush().await.is_err() {
                break;
            }
        }
    });
    let peer = Peer {
        transport,
        addr: from,
        connection: Some(id),
    };
    let limits = Limits::default();
    let mut buf = BytesMut::with_capacity(8192);
    // Bytes at the front known to hold no end of headers: a message trickling in byte by byte is then
    // scanned once, not once per read.
    let mut no_header_end_below = 0;
    'conn: loop {
        match tokio::time::timeout(TCP_IDLE, reader.read_buf(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(_)) => {}
        }
        loop {
            let starts_with_line_end = buf.first().is_some_and(|&b| b == b'\r' || b == b'\n');
            if !starts_with_line_end && !header_end_after(&buf, no_header_end_below) {
                if buf.len() > limits.max_message_bytes {
                    break 'conn;
                }
                no_header_end_below = buf.len();
                break;
            }
            no_header_end_below = 0;
            match next_frame(&buf, &limits) {
                Ok(Frame::NeedMore) => break,
                Ok(Frame::Skip(n)) => {
                    let _ = buf.split_to(n);
                }
                Ok(Frame::Ping(n)) => {
                    let _ = buf.split_to(n);
                    if inputs.send(Input::Ping(peer)).await.is_err() {
                        break 'conn;
                    }
                }
                Ok(Frame::Message(n)) => {
                    let msg = buf.split_to(n).freeze();
                    if inputs.send(Input::Message(peer, msg)).await.is_err() {
                        break 'conn;
                    }
                }
                Err(e) => {
                    // A stream that cannot be framed cannot be resynchronised: close it.
                    tracing::debug!(%from, error = %e, "closing unframeable stream");
                    break 'conn;
                }
            }
        }
    }
    let _ = inputs.send(Input::Closed(id)).await;
    write_task.abort();
}
