//! Carrier trunks, sans-IO: outbound registration (digest answered, refreshed, retried with
//! backoff, removed on the way out), OPTIONS health probes, and per-trunk call caps.
//!
//! [`TrunkCore`] is driven like the rest of this crate. [`TrunkCore::set_trunks`] installs the
//! list, diffed against the previous one so an unchanged trunk keeps its state; the requests to
//! send leave through [`TrunkCore::poll_request`] (the endpoint sends them in client transactions,
//! so retransmissions and Timer F are not repeated here); their responses and timeouts come back
//! through [`TrunkCore::handle_event`]; deadlines through [`TrunkCore::handle_timeout`] and
//! [`TrunkCore::poll_timeout`].
//!
//! Decisions, in one place:
//! - A probe succeeds on any final response below 500, and on 6xx (the carrier answered); a 5xx or
//!   no answer at all is a failure. Two failures in a row take a trunk Down; one success brings it
//!   Up. Trunks start Up, so a node that just started can place calls, and the first probe goes
//!   out one interval after the trunk is set.
//! - Registration refreshes at 80% of the granted expiry (earlier for short ones, so a refresh that
//!   times out still ends before the binding does). Failures retry after 30 s, 60 s, … up to
//!   10 min; a 403 waits an hour. A challenge is answered once: a second 401/407 after an answer
//!   that is not `stale=true` means wrong credentials, a failure.
//! - A call holds a slot on one trunk at a time: taking another trunk for the same call (failover)
//!   gives the first one back. Down trunks refuse calls; registration state does not gate calls.

mod caps;
pub mod digest;
mod probe;
mod register;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::{rngs::StdRng, Rng, SeedableRng};
use sip_message::{CSeq, HeaderName, Headers, Method, Request, Uri, Version};

use crate::transaction::{TxEvent, TxKey};
use crate::transport::{Peer, TransportKind};
use caps::Caps;
use probe::Probe;
use register::{Next, Registration};

/// A trunk's database id.
pub type TrunkId = i64;

/// Registration expiry asked for when the trunk names none.
pub const DEFAULT_REGISTER_EXPIRES: u32 = 600;

/// Outbound registration settings of one trunk.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistrationConfig {
    pub username: String,
    pub password: String,
    /// Realm used in the digest hash instead of the challenge's (see [`digest::Answer::realm`]).
    pub realm: Option<String>,
    /// Seconds asked for in Expires.
    pub expires: u32,
}

impl fmt::Debug for RegistrationConfig {
    // The password must never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistrationConfig")
            .field("username", &self.username)
            .field("password", &"***")
            .field("realm", &self.realm)
            .field("expires", &self.expires)
            .finish()
    }
}

/// One trunk as the core needs it. `addr` is `host:port` resolved by the shell; without it the
/// trunk is neither registered nor probed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkConfig {
    pub id: TrunkId,
    pub name: String,
    /// As configured (a DNS name or an IP address): it goes into the URIs.
    pub host: String,
    pub port: u16,
    pub transport: TransportKind,
    pub addr: Option<SocketAddr>,
    pub registration: Option<RegistrationConfig>,
    /// `None`: no OPTIONS probing.
    pub options_interval: Option<Duration>,
    /// New calls per second; 0: no limit.
    pub max_cps: u32,
    /// Simultaneous calls; 0: no limit.
    pub max_calls: u32,
}

impl TrunkConfig {
    fn peer(&self) -> Option<Peer> {
        Some(Peer {
            transport: self.transport,
            addr: self.addr?,
            connection: None,
        })
    }

    /// The host as a URI host (IPv6 in brackets).
    fn uri_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }

    /// `sip:host:port`, with `;transport=` for streams.
    fn server_uri(&self) -> String {
        format!(
            "sip:{}:{}{}",
            self.uri_host(),
            self.port,
            transport_param(self.transport)
        )
    }
}

fn transport_param(t: TransportKind) -> String {
    if t == TransportKind::Udp {
        String::new()
    } else {
        format!(";transport={}", t.as_str().to_ascii_lowercase())
    }
}

/// Where a trunk's registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    Unregistered,
    Registering,
    Registered {
        until: Instant,
    },
    /// The last attempt failed with `status` (408: no answer); the next one is at `retry_at`.
    Failed {
        status: u16,
        retry_at: Instant,
    },
}

/// Whether OPTIONS probes find the trunk alive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeState {
    Up,
    Down,
}

/// The probe side of a trunk's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeStatus {
    pub state: ProbeState,
    /// Status of the last answer; 408 when the last probe got none.
    pub last_status: Option<u16>,
    /// Failed probes in a row.
    pub failures: u32,
}

/// A snapshot of one trunk, for the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkStatus {
    pub id: TrunkId,
    pub name: String,
    pub addr: Option<SocketAddr>,
    /// `None`: the trunk does not register.
    pub registration: Option<RegistrationState>,
    /// `None`: the trunk is not probed.
    pub probe: Option<ProbeStatus>,
    pub calls: u32,
    pub max_calls: u32,
    pub max_cps: u32,
    /// Why the last attempt to open a TCP/TLS connection to the trunk failed (an untrusted
    /// certificate, a refused connection); cleared once a connection is up.
    pub connection_error: Option<String>,
}

/// Why a trunk will not take a call now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not in the list (not set yet, or removed).
    Unknown,
    /// OPTIONS probes failed.
    Down,
    /// `max_calls` calls are up.
    MaxCalls,
    /// No call-per-second token left.
    MaxCps,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::Unknown => "unknown trunk",
            Refusal::Down => "trunk down",
            Refusal::MaxCalls => "max_calls reached",
            Refusal::MaxCps => "max_cps reached",
        })
    }
}

/// Settings of the trunk core.
#[derive(Debug, Clone)]
pub struct TrunkCoreConfig {
    /// Our SIP address: Via, Contact.
    pub local: SocketAddr,
    /// Seeds Call-IDs, tags, branches and cnonces so tests replay.
    pub seed: u64,
    pub user_agent: String,
    /// First retry delay after a failed registration; doubles per failure.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Retry delay after 403 Forbidden.
    pub forbidden_retry: Duration,
    /// Failed probes in a row that take a trunk Down.
    pub failures_to_down: u32,
}

impl Default for TrunkCoreConfig {
    fn default() -> Self {
        TrunkCoreConfig {
            local: SocketAddr::from(([127, 0, 0, 1], 5060)),
            seed: 0,
            user_agent: concat!("Switchboard/", env!("CARGO_PKG_VERSION")).to_string(),
            retry_base: Duration::from_secs(30),
            retry_max: Duration::from_secs(600),
            forbidden_retry: Duration::from_secs(3600),
            failures_to_down: 2,
        }
    }
}

struct Trunk {
    cfg: TrunkConfig,
    reg: Option<Registration>,
    probe: Option<Probe>,
    caps: Caps,
    connection_error: Option<String>,
}

/// Who sent a request still waiting for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Register(TrunkId),
    /// A registration on its way out (trunk removed or changed).
    Unregister,
    Probe(TrunkId),
}

/// Registration, probing and caps of every trunk.
pub struct TrunkCore {
    cfg: TrunkCoreConfig,
    rng: StdRng,
    trunks: BTreeMap<TrunkId, Trunk>,
    retiring: Vec<Registration>,
    pending: HashMap<TxKey, Pending>,
    out: VecDeque<(Request, Peer)>,
}

impl TrunkCore {
    pub fn new(cfg: TrunkCoreConfig) -> Self {
        TrunkCore {
            rng: StdRng::seed_from_u64(cfg.seed),
            cfg,
            trunks: BTreeMap::new(),
            retiring: Vec::new(),
            pending: HashMap::new(),
            out: VecDeque::new(),
        }
    }

    /// Installs the trunk list. Unchanged trunks keep their state; a trunk whose address or
    /// credentials changed registers afresh; registrations of removed trunks are taken down
    /// (Expires: 0).
    pub fn set_trunks(&mut self, now: Instant, configs: Vec<TrunkConfig>) {
        let mut old = std::mem::take(&mut self.trunks);
        for c in configs {
            let trunk = match old.remove(&c.id) {
                Some(t) if t.cfg == c => t,
                Some(t) => self.reconfigure(now, t, c),
                None => self.new_trunk(now, c),
            };
            self.trunks.insert(trunk.cfg.id, trunk);
        }
        for (_, t) in old {
            if let Some(reg) = t.reg {
                self.retire(now, reg);
            }
        }
        self.handle_timeout(now);
    }

    fn new_trunk(&mut self, now: Instant, cfg: TrunkConfig) -> Trunk {
        let reg = self.registration_for(now, &cfg);
        let probe = Probe::for_trunk(now, &cfg);
        Trunk {
            caps: Caps::new(cfg.max_cps, cfg.max_calls),
            reg,
            probe,
            cfg,
            connection_error: None,
        }
    }

    fn registration_for(&mut self, now: Instant, cfg: &TrunkConfig) -> Option<Registration> {
        let reg = cfg.registration.as_ref()?;
        Registration::new(now, cfg, reg.clone(), &self.cfg, &mut self.rng)
    }

    fn reconfigure(&mut self, now: Instant, mut t: Trunk, cfg: TrunkConfig) -> Trunk {
        let target_changed = (&t.cfg.host, t.cfg.port, t.cfg.transport, t.cfg.addr)
            != (&cfg.host, cfg.port, cfg.transport, cfg.addr);
        if target_changed {
            t.connection_error = None;
        }
        if target_changed || t.cfg.registration != cfg.registration {
            if let Some(old) = t.reg.take() {
                self.retire(now, old);
            }
            t.reg = self.registration_for(now, &cfg);
        }
        if target_changed || t.cfg.options_interval != cfg.options_interval {
            let old_state = t.probe.as_ref().map(|p| p.status());
            if let Some(key) = t.probe.as_ref().and_then(|p| p.in_flight.clone()) {
                self.pending.remove(&key);
            }
            t.probe = Probe::for_trunk(now, &cfg);
            // Same carrier, new interval: what the probes learnt still holds.
            if let (false, Some(p), Some(s)) = (target_changed, t.probe.as_mut(), old_state) {
                p.restore(s);
            }
        }
        t.caps.set_limits(cfg.max_cps, cfg.max_calls);
        t.cfg = cfg;
        t
    }

    /// Takes a registration down: Expires: 0 if it may be bound at the carrier, else forgets it.
    fn retire(&mut self, now: Instant, mut reg: Registration) {
        let bound = reg.may_be_bound();
        if let Some(key) = reg.in_flight.take() {
            self.pending.remove(&key);
        }
        if !bound {
            return;
        }
        if let Some((req, key)) = reg.unregister(now, &self.cfg, &mut self.rng) {
            self.pending.insert(key, Pending::Unregister);
            self.out.push_back((req, reg.peer));
            self.retiring.push(reg);
        }
    }

    /// A transaction event. Returns false when it is not about a trunk request (someone else's).
    pub fn handle_event(&mut self, now: Instant, ev: &TxEvent) -> bool {
        let (key, response) = match ev {
            TxEvent::Response { key, response } => (key, Some(response)),
            TxEvent::ClientTimeout { key } => (key, None),
            TxEvent::AckTimeout { .. } => return false,
        };
        let Some(&owner) = self.pending.get(key) else {
            return false;
        };
        if response.is_some_and(|r| r.status < 200) {
            return true;
        }
        self.pending.remove(key);
        let status = response.map(|r| r.status);
        match owner {
            Pending::Probe(id) => {
                let failures_to_down = self.cfg.failures_to_down;
                if let Some(p) = self.trunks.get_mut(&id).and_then(|t| t.probe.as_mut()) {
                    if p.in_flight.as_ref() == Some(key) {
                        p.on_result(status, failures_to_down);
                    }
                }
            }
            Pending::Register(id) => {
                let Some(t) = self.trunks.get_mut(&id) else {
                    return true;
                };
                let Some(reg) = t.reg.as_mut().filter(|r| r.in_flight.as_ref() == Some(key)) else {
                    return true;
                };
                reg.in_flight = None;
                let next = match response {
                    Some(r) => reg.on_response(now, r, &self.cfg, &mut self.rng),
                    None => reg.on_timeout(now, &self.cfg),
                };
                if let Next::Send(req, key) = next {
                    reg.in_flight = Some(key.clone());
                    self.pending.insert(key, Pending::Register(id));
                    self.out.push_back((*req, reg.peer));
                }
            }
            Pending::Unregister => {
                let Some(i) = self
                    .retiring
                    .iter()
                    .position(|r| r.in_flight.as_ref() == Some(key))
                else {
                    return true;
                };
                let reg = &mut self.retiring[i];
                reg.in_flight = None;
                let next = match response {
                    Some(r) => reg.on_response(now, r, &self.cfg, &mut self.rng),
                    None => Next::Done,
                };
                match next {
                    Next::Send(req, key) => {
                        reg.in_flight = Some(key.clone());
                        self.pending.insert(key, Pending::Unregister);
                        self.out.push_back((*req, reg.peer));
                    }
                    Next::Wait | Next::Done => {
                        self.retiring.swap_remove(i);
                    }
                }
            }
        }
        true
    }

    /// Sends what is due: registrations, refreshes, retries, probes.
    pub fn handle_timeout(&mut self, now: Instant) {
        let TrunkCore {
            cfg,
            rng,
            trunks,
            pending,
            out,
            ..
        } = self;
        for (&id, t) in trunks.iter_mut() {
            if let Some(reg) = t.reg.as_mut().filter(|r| r.due(now)) {
                if let Some((req, key)) = reg.register(now, cfg, rng, None) {
                    reg.in_flight = Some(key.clone());
                    pending.insert(key, Pending::Register(id));
                    out.push_back((req, reg.peer));
                }
            }
            if let (Some(p), Some(peer)) = (t.probe.as_mut().filter(|p| p.due(now)), t.cfg.peer()) {
                if let Some((req, key)) = p.request(now, &t.cfg, cfg, rng) {
                    pending.insert(key, Pending::Probe(id));
                    out.push_back((req, peer));
                }
            }
        }
    }

    /// The next request to send, and where.
    pub fn poll_request(&mut self) -> Option<(Request, Peer)> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.trunks
            .values()
            .flat_map(|t| {
                [
                    t.reg.as_ref().and_then(Registration::deadline),
                    t.probe.as_ref().and_then(Probe::deadline),
                ]
            })
            .flatten()
            .min()
    }

    /// The id of the trunk named `name`.
    pub fn id_of(&self, name: &str) -> Option<TrunkId> {
        self.trunks
            .values()
            .find(|t| t.cfg.name == name)
            .map(|t| t.cfg.id)
    }

    /// Takes a call slot on `trunk` for `call` (any number unique per call): refused when the
    /// trunk is Down or at a cap. Taking it again for the same call succeeds without counting
    /// twice; taking another trunk gives this one back.
    pub fn try_acquire(&mut self, now: Instant, trunk: TrunkId, call: u64) -> Result<(), Refusal> {
        let t = self.trunks.get_mut(&trunk).ok_or(Refusal::Unknown)?;
        if t.caps.holds(call) {
            return Ok(());
        }
        if t.probe
            .as_ref()
            .is_some_and(|p| p.status().state == ProbeState::Down)
        {
            return Err(Refusal::Down);
        }
        t.caps.try_acquire(now, call)?;
        for (_, other) in self.trunks.iter_mut().filter(|(id, _)| **id != trunk) {
            other.caps.release(call);
        }
        Ok(())
    }

    /// Gives back the slot `call` holds, on whichever trunk.
    pub fn release(&mut self, call: u64) {
        for t in self.trunks.values_mut() {
            t.caps.release(call);
        }
    }

    /// Every trunk's state.
    pub fn status(&self) -> Vec<TrunkStatus> {
        self.trunks
            .values()
            .map(|t| TrunkStatus {
                id: t.cfg.id,
                name: t.cfg.name.clone(),
                addr: t.cfg.addr,
                registration: t.reg.as_ref().map(|r| r.state),
                probe: t.probe.as_ref().map(Probe::status),
                calls: t.caps.calls(),
                max_calls: t.cfg.max_calls,
                max_cps: t.cfg.max_cps,
                connection_error: t.connection_error.clone(),
            })
            .collect()
    }

    /// A connection to `addr` over `transport` could not be opened, for `reason`.
    pub fn connection_failed(&mut self, transport: TransportKind, addr: SocketAddr, reason: &str) {
        for t in self.trunks.values_mut() {
            if t.cfg.transport == transport && t.cfg.addr == Some(addr) {
                t.connection_error = Some(reason.to_owned());
            }
        }
    }

    /// A connection to `addr` over `transport` is up.
    pub fn connection_opened(&mut self, transport: TransportKind, addr: SocketAddr) {
        for t in self.trunks.values_mut() {
            if t.cfg.transport == transport && t.cfg.addr == Some(addr) {
                t.connection_error = None;
            }
        }
    }
}

/// A fresh random token (tags, Call-IDs, branches, cnonces).
fn token(rng: &mut StdRng) -> String {
    format!("{:016x}", rng.gen::<u64>())
}

/// What differs between the requests the trunk core sends.
struct Outgoing<'a> {
    method: Method,
    uri: &'a str,
    from: String,
    to: String,
    call_id: &'a str,
    cseq: u32,
    transport: TransportKind,
    extra: Vec<(HeaderName, String)>,
}

/// A request with a fresh Via branch, and the key of the client transaction it will start.
fn build_request(
    cfg: &TrunkCoreConfig,
    rng: &mut StdRng,
    o: Outgoing<'_>,
) -> Option<(Request, TxKey)> {
    let uri = Uri::parse(o.uri.as_bytes()).ok()?;
    let branch = format!("z9hG4bK{}", token(rng));
    let mut headers = Headers::default();
    headers.push(
        HeaderName::Via,
        format!(
            "SIP/2.0/{} {};branch={branch};rport",
            o.transport.as_str(),
            cfg.local
        ),
    );
    headers.push(HeaderName::MaxForwards, "70");
    headers.push(HeaderName::From, o.from);
    headers.push(HeaderName::To, o.to);
    headers.push(HeaderName::CallId, o.call_id.to_string());
    headers.push(
        HeaderName::CSeq,
        CSeq {
            seq: o.cseq,
            method: o.method.clone(),
        }
        .to_string(),
    );
    for (name, value) in o.extra {
        headers.push(name, value);
    }
    headers.push(HeaderName::UserAgent, cfg.user_agent.clone());
    headers.push(HeaderName::ContentLength, "0");
    let key = TxKey::client_key(&branch, &o.method);
    Some((
        Request {
            method: o.method,
            uri,
            version: Version::SIP_2_0,
            headers,
            body: Bytes::new(),
        },
        key,
    ))
}
