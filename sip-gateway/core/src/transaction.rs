//! RFC 3261 §17 transactions as sans-IO state machines.
//!
//! The layer is fed requests, responses and the current `Instant`; it queues [`Transmit`]s (including
//! retransmissions) and [`TxEvent`]s, and reports its next deadline through [`TransactionLayer::poll_timeout`].
//! Timer names follow the RFC (A–K, plus L from RFC 6026). On reliable transports the retransmission timers
//! never run and the lingering timers (D, I, J, K) are zero.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_message::{Method, Request, Response, SipHeaders};

use crate::transport::{Peer, Transmit};

/// RFC 3261 timer base values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerConfig {
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// Identifies a transaction: the branch, the method (ACK and CANCEL map as §17.2.3 says) and the sent-by of
/// the top Via. For RFC 2543 peers without a magic-cookie branch, Call-ID, From tag and CSeq stand in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxKey(pub Box<str>);

impl TxKey {
    /// The key of the server transaction a request belongs to (`ACK` maps to its INVITE).
    pub fn for_request(req: &Request) -> Option<TxKey> {
        let method = match &req.method {
            Method::Ack => &Method::Invite,
            m => m,
        };
        Self::for_request_as(req, method)
    }

    /// The key `req` would have if it carried `method`: a CANCEL finds its INVITE with it.
    pub fn for_request_as(req: &Request, method: &Method) -> Option<TxKey> {
        let via = req.top_via()?;
        let (host, port) = (via.host, via.port.unwrap_or(0));
        let seq = req.cseq().map(|c| c.seq).unwrap_or(0);
        let call_id = req.call_id().unwrap_or("");
        let key = match via.branch() {
            // Call-ID and CSeq number are not part of §17.2.3 matching, but a retransmission always
            // repeats them, and including them keeps clients that reuse a branch for new requests (the
            // RFC 4475 messages do) from being answered with another request's response.
            Some(b) if b.starts_with("z9hG4bK") && b.len() > 7 => {
                format!("{b}|{method}|{host}:{port}|{seq}|{call_id}")
            }
            _ => {
                let from = req.from();
                let from_tag = from.as_ref().and_then(|f| f.tag()).unwrap_or("");
                format!("2543|{call_id}|{from_tag}|{seq}|{method}|{host}:{port}")
            }
        };
        Some(TxKey(key.into()))
    }

    /// The key of the client transaction a response belongs to.
    pub fn for_response(resp: &Response) -> Option<TxKey> {
        let via = resp.top_via()?;
        let method = resp.cseq()?.method;
        Some(TxKey(format!("{}|{}", via.branch()?, method).into()))
    }

    fn client(branch: &str, method: &Method) -> TxKey {
        Self::client_key(branch, method)
    }

    /// The key of the client transaction for a request we send with Via branch `branch`.
    pub fn client_key(branch: &str, method: &Method) -> TxKey {
        TxKey(format!("{branch}|{method}").into())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    Trying,
    Proceeding,
    Completed,
    /// RFC 6026: a 2xx was sent to an INVITE; retransmitted INVITEs are absorbed, ACKs go to the TU.
    Accepted,
    Confirmed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    Calling,
    Trying,
    Proceeding,
    Completed,
}

#[derive(Debug)]
struct ServerTx {
    invite: bool,
    state: ServerState,
    peer: Peer,
    last_response: Option<Bytes>,
    retransmit_interval: Duration,
    generation: u64,
}

#[derive(Debug)]
struct ClientTx {
    invite: bool,
    state: ClientState,
    peer: Peer,
    request: Bytes,
    /// The ACK for a non-2xx final response to an INVITE, resent on response retransmissions.
    ack: Option<Bytes>,
    retransmit_interval: Duration,
    generation: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    /// A / E: client retransmission; G: server final-response retransmission.
    Retransmit,
    /// B / F: client transaction timeout; H: no ACK arrived.
    Timeout,
    /// D, I, J, K, L: linger in the final state, then forget the transaction.
    Linger,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct TimerEntry {
    at: Instant,
    seq: u64,
    server: bool,
    key: TxKey,
    kind: TimerKind,
    generation: u64,
}

/// What the transaction layer made of an incoming request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestDisposition {
    /// A new server transaction: the TU must answer it through [`TransactionLayer::respond`].
    New(TxKey),
    /// A retransmission, absorbed (the last response, if any, was sent again).
    Retransmission,
    /// An ACK for a non-2xx final response: it ends the INVITE transaction and concerns nobody else.
    AckAbsorbed,
    /// An ACK for a 2xx, or one matching no transaction: it belongs to a dialog (the TU decides).
    AckForTu,
}

/// Events for the transaction user.
#[derive(Debug, Clone, PartialEq)]
pub enum TxEvent {
    /// A response for a client transaction (retransmissions are filtered out).
    Response { key: TxKey, response: Response },
    /// Timer B or F fired: no final response arrived.
    ClientTimeout { key: TxKey },
    /// Timer H fired: the ACK for our non-2xx final response never came.
    AckTimeout { key: TxKey },
}

/// All client and server transactions of one endpoint.
#[derive(Debug)]
pub struct TransactionLayer {
    timers_cfg: TimerConfig,
    server: HashMap<TxKey, ServerTx>,
    client: HashMap<TxKey, ClientTx>,
    timers: BinaryHeap<Reverse<TimerEntry>>,
    timer_seq: u64,
    transmits: VecDeque<Transmit>,
    events: VecDeque<TxEvent>,
}

impl TransactionLayer {
    pub fn new(timers_cfg: TimerConfig) -> Self {
        TransactionLayer {
            timers_cfg,
            server: HashMap::new(),
            client: HashMap::new(),
            timers: BinaryHeap::new(),
            timer_seq: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    pub fn server_count(&self) -> usize {
        self.server.len()
    }

    pub fn client_count(&self) -> usize {
        self.client.len()
    }

    pub fn server_state(&self, key: &TxKey) -> Option<ServerState> {
        self.server.get(key).map(|t| t.state)
    }

    pub fn client_state(&self, key: &TxKey) -> Option<ClientState> {
        self.client.get(key).map(|t| t.state)
    }

    fn arm(&mut self, at: Instant, server: bool, key: &TxKey, kind: TimerKind, generation: u64) {
        self.timer_seq += 1;
        self.timers.push(Reverse(TimerEntry {
            at,
            seq: self.timer_seq,
            server,
            key: key.clone(),
            kind,
            generation,
        }));
    }

    /// Matches an incoming request against the server transactions (§17.2.3).
    pub fn handle_request(
        &mut self,
        now: Instant,
        req: &Request,
        key: TxKey,
        peer: Peer,
    ) -> RequestDisposition {
        let is_ack = req.method == Method::Ack;
        if let Some(tx) = self.server.get_mut(&key) {
            if is_ack {
                return match tx.state {
                    ServerState::Completed if tx.invite => {
                        tx.state = ServerState::Confirmed;
                        tx.generation += 1;
                        let generation = tx.generation;
                        let linger = if peer.transport.is_reliable() {
                            Duration::ZERO
                        } else {
                            self.timers_cfg.t4
                        };
                        self.arm(now + linger, true, &key, TimerKind::Linger, generation);
                        RequestDisposition::AckAbsorbed
                    }
                    ServerState::Confirmed => RequestDisposition::AckAbsorbed,
                    _ => RequestDisposition::AckForTu,
                };
            }
            if let (Some(resp), ServerState::Proceeding | ServerState::Completed) =
                (&tx.last_response, tx.state)
            {
                self.transmits.push_back(Transmit {
                    peer: tx.peer,
                    payload: resp.clone(),
                });
            }
            return RequestDisposition::Retransmission;
        }
        if is_ack {
            return RequestDisposition::AckForTu;
        }
        let invite = req.method == Method::Invite;
        self.server.insert(
            key.clone(),
            ServerTx {
                invite,
                state: if invite {
                    ServerState::Proceeding
                } else {
                    ServerState::Trying
                },
                peer,
                last_response: None,
                retransmit_interval: self.timers_cfg.t1,
                generation: 0,
            },
        );
        RequestDisposition::New(key)
    }

    /// Sends a response within a server transaction and moves it along its state machine.
    /// Returns false if the transaction no longer exists or takes no more responses (the response is not sent).
    pub fn respond(&mut self, now: Instant, key: &TxKey, status: u16, payload: Bytes) -> bool {
        let cfg = self.timers_cfg;
        let Some(tx) = self.server.get_mut(key) else {
            return false;
        };
        match tx.state {
            // RFC 6026 §8.5: in Accepted, the TU's 2xx retransmissions (§13.3.1.4) go to the transport.
            ServerState::Accepted if (200..300).contains(&status) => {
                self.transmits.push_back(Transmit {
                    peer: tx.peer,
                    payload,
                });
                return true;
            }
            ServerState::Completed | ServerState::Confirmed | ServerState::Accepted => {
                return false
            }
            ServerState::Trying | ServerState::Proceeding => {}
        }
        self.transmits.push_back(Transmit {
            peer: tx.peer,
            payload: payload.clone(),
        });
        tx.last_response = Some(payload);
        let reliable = tx.peer.transport.is_reliable();
        if status < 200 {
            tx.state = ServerState::Proceeding;
            return true;
        }
        tx.generation += 1;
        let generation = tx.generation;
        if tx.invite {
            if status < 300 {
                tx.state = ServerState::Accepted;
                self.arm(now + 64 * cfg.t1, true, key, TimerKind::Linger, generation);
            } else {
                tx.state = ServerState::Completed;
                if !reliable {
                    self.arm(now + cfg.t1, true, key, TimerKind::Retransmit, generation);
                }
                self.arm(now + 64 * cfg.t1, true, key, TimerKind::Timeout, generation);
            }
        } else {
            tx.state = ServerState::Completed;
            let linger = if reliable {
                Duration::ZERO
            } else {
                64 * cfg.t1
            };
            self.arm(now + linger, true, key, TimerKind::Linger, generation);
        }
        true
    }

    /// Starts a client transaction for `req` (already carrying its Via with a fresh branch) towards `peer`.
    pub fn send_request(&mut self, now: Instant, req: &Request, peer: Peer) -> Option<TxKey> {
        let branch = req.top_via()?.branch()?.to_string();
        let key = TxKey::client(&branch, &req.method);
        let mut buf = Vec::with_capacity(512);
        req.write_to(&mut buf);
        let payload = Bytes::from(buf);
        let invite = req.method == Method::Invite;
        let cfg = self.timers_cfg;
        self.transmits.push_back(Transmit {
            peer,
            payload: payload.clone(),
        });
        self.client.insert(
            key.clone(),
            ClientTx {
                invite,
                state: if invite {
                    ClientState::Calling
                } else {
                    ClientState::Trying
                },
                peer,
                request: payload,
                ack: None,
                retransmit_interval: cfg.t1,
                generation: 0,
            },
        );
        if !peer.transport.is_reliable() {
            self.arm(now + cfg.t1, false, &key, TimerKind::Retransmit, 0);
        }
        self.arm(now + 64 * cfg.t1, false, &key, TimerKind::Timeout, 0);
        Some(key)
    }

    /// Matches a response to a client transaction (§17.1.3). Returns false for a stray response.
    pub fn handle_response(&mut self, now: Instant, resp: Response) -> bool {
        let Some(key) = TxKey::for_response(&resp) else {
            return false;
        };
        let cfg = self.timers_cfg;
        let Some(tx) = self.client.get_mut(&key) else {
            return false;
        };
        let provisional = resp.status < 200;
        let reliable = tx.peer.transport.is_reliable();
        match tx.state {
            ClientState::Completed => {
                // A retransmitted final response: resend our ACK (INVITE), otherwise absorb.
                if let Some(ack) = &tx.ack {
                    self.transmits.push_back(Transmit {
                        peer: tx.peer,
                        payload: ack.clone(),
                    });
                }
                return true;
            }
            ClientState::Calling | ClientState::Trying | ClientState::Proceeding => {}
        }
        if provisional {
            if tx.invite && tx.state == ClientState::Calling {
                // Timers A and B stop once a provisional arrives (§17.1.1.2): Timer B guards only Calling,
                // and in Proceeding an INVITE may ring for as long as the callee lets it.
                tx.generation += 1;
            }
            tx.state = ClientState::Proceeding;
            self.events.push_back(TxEvent::Response {
                key,
                response: resp,
            });
            return true;
        }
        tx.generation += 1;
        let generation = tx.generation;
        if tx.invite {
            if resp.status < 300 {
                // The TU (dialog) sends the ACK for a 2xx; the transaction is done.
                self.client.remove(&key);
            } else {
                let ack = build_ack_for_failure(&tx.request, &resp);
                if let Some(ack) = &ack {
                    self.transmits.push_back(Transmit {
                        peer: tx.peer,
                        payload: ack.clone(),
                    });
                }
                tx.ack = ack;
                tx.state = ClientState::Completed;
                let linger = if reliable {
                    Duration::ZERO
                } else {
                    Duration::from_secs(32)
                };
                self.arm(now + linger, false, &key, TimerKind::Linger, generation);
            }
        } else {
            tx.state = ClientState::Completed;
            let linger = if reliable { Duration::ZERO } else { cfg.t4 };
            self.arm(now + linger, false, &key, TimerKind::Linger, generation);
        }
        self.events.push_back(TxEvent::Response {
            key,
            response: resp,
        });
        true
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse(entry)) = self.timers.peek() {
            if entry.at > now {
                break;
            }
            let Some(Reverse(entry)) = self.timers.pop() else {
                break;
            };
            if entry.server {
                self.fire_server(now, entry);
            } else {
                self.fire_client(now, entry);
            }
        }
    }

    fn fire_server(&mut self, now: Instant, e: TimerEntry) {
        let cfg = self.timers_cfg;
        let Some(tx) = self.server.get_mut(&e.key) else {
            return;
        };
        if tx.generation != e.generation {
            return;
        }
        match e.kind {
            TimerKind::Retransmit if tx.state == ServerState::Completed => {
                if let Some(resp) = &tx.last_response {
                    self.transmits.push_back(Transmit {
                        peer: tx.peer,
                        payload: resp.clone(),
                    });
                }
                tx.retransmit_interval = (tx.retransmit_interval * 2).min(cfg.t2);
                let at = now + tx.retransmit_interval;
                self.arm(at, true, &e.key, TimerKind::Retransmit, e.generation);
            }
            TimerKind::Timeout if tx.state == ServerState::Completed => {
                self.server.remove(&e.key);
                self.events.push_back(TxEvent::AckTimeout { key: e.key });
            }
            TimerKind::Linger => {
                self.server.remove(&e.key);
            }
            _ => {}
        }
    }

    fn fire_client(&mut self, now: Instant, e: TimerEntry) {
        let cfg = self.timers_cfg;
        let Some(tx) = self.client.get_mut(&e.key) else {
            return;
        };
        if tx.generation != e.generation {
            return;
        }
        match e.kind {
            TimerKind::Retransmit
                if matches!(
                    tx.state,
                    ClientState::Calling | ClientState::Trying | ClientState::Proceeding
                ) =>
            {
                self.transmits.push_back(Transmit {
                    peer: tx.peer,
                    payload: tx.request.clone(),
                });
                // Timer A doubles without bound; Timer E is capped at T2 (and is T2 once Proceeding).
                tx.retransmit_interval = if tx.invite {
                    tx.retransmit_interval * 2
                } else if tx.state == ClientState::Proceeding {
                    cfg.t2
                } else {
                    (tx.retransmit_interval * 2).min(cfg.t2)
                };
                let at = now + tx.retransmit_interval;
                self.arm(at, false, &e.key, TimerKind::Retransmit, e.generation);
            }
            TimerKind::Timeout if tx.state != ClientState::Completed => {
                self.client.remove(&e.key);
                self.events.push_back(TxEvent::ClientTimeout { key: e.key });
            }
            TimerKind::Linger => {
                self.client.remove(&e.key);
            }
            _ => {}
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse(e)| e.at)
    }
}

/// §17.1.1.3: the ACK for a non-2xx final response reuses the INVITE's Request-URI, top Via, From, Call-ID
/// and CSeq number, and takes the To of the response (with its tag).
fn build_ack_for_failure(invite_bytes: &Bytes, resp: &Response) -> Option<Bytes> {
    let Ok(sip_message::Message::Request(invite)) =
        sip_message::parse(invite_bytes.clone(), &Default::default())
    else {
        return None;
    };
    use sip_message::{CSeq, HeaderName, Headers};
    let mut headers = Headers::default();
    if let Some(v) = invite.headers.get(&HeaderName::Via) {
        let top = sip_message::Via::parse_list(v).ok()?.into_iter().next()?;
        headers.push(HeaderName::Via, top.to_string());
    }
    for name in [HeaderName::MaxForwards, HeaderName::From] {
        if let Some(v) = invite.headers.get(&name) {
            headers.push(name.clone(), v);
        }
    }
    headers.push(HeaderName::To, resp.headers.get_shared(&HeaderName::To)?);
    if let Some(v) = invite.headers.get(&HeaderName::CallId) {
        headers.push(HeaderName::CallId, v);
    }
    for v in invite.headers.get_all_shared(&HeaderName::Route) {
        headers.push(HeaderName::Route, v);
    }
    let seq = invite.cseq()?.seq;
    headers.push(
        HeaderName::CSeq,
        CSeq {
            seq,
            method: Method::Ack,
        }
        .to_string(),
    );
    headers.push(HeaderName::ContentLength, "0");
    let ack = Request {
        method: Method::Ack,
        uri: invite.uri.clone(),
        version: invite.version,
        headers,
        body: Bytes::new(),
    };
    let mut out = Vec::with_capacity(400);
    ack.write_to(&mut out);
    Some(Bytes::from(out))
}
