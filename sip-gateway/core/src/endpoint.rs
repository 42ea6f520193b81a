//! The SIP endpoint core: datagrams and stream messages in, transmissions out, with the registrar and the
//! UAS checks behind the transaction layer. It owns no socket and reads no clock: the shell passes `now`
//! (and the wall-clock time once, at construction) and drains [`Endpoint::poll_transmit`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::{rngs::StdRng, Rng, SeedableRng};
use sip_message::{
    HeaderName, HeaderValue, Limits, Message, Method, Request, Response, SipHeaders, Via,
};

use crate::location::{BindingChange, LocationStore};
use crate::registrar::{RegisterOutcome, Registrar, RegistrarConfig};
use crate::transaction::{RequestDisposition, TimerConfig, TransactionLayer, TxKey};
use crate::transport::{Peer, Transmit};
use crate::validate::{check_request, ACCEPT, ALLOW, SUPPORTED_EXTENSIONS};

#[derive(Debug, Clone)]
pub struct EndpointConfig {
    pub registrar: RegistrarConfig,
    pub timers: TimerConfig,
    pub limits: Limits,
    /// Value of the Server header.
    pub server_name: String,
    /// Seeds tags so tests replay exactly.
    pub seed: u64,
    pub nonce_secret: [u8; 32],
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            registrar: RegistrarConfig::default(),
            timers: TimerConfig::default(),
            limits: Limits::default(),
            server_name: concat!("Switchboard/", env!("CARGO_PKG_VERSION")).to_string(),
            seed: 0,
            nonce_secret: [0; 32],
        }
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    pub requests: u64,
    pub responses_received: u64,
    pub parse_errors: u64,
    pub retransmissions_absorbed: u64,
    pub keepalives: u64,
}

pub struct Endpoint<L: LocationStore> {
    cfg: EndpointConfig,
    transactions: TransactionLayer,
    registrar: Registrar<L>,
    rng: StdRng,
    base_instant: Instant,
    base_unix_ms: u64,
    transmits: VecDeque<Transmit>,
    stats: EndpointStats,
    next_housekeeping: Instant,
}

impl<L: LocationStore> Endpoint<L> {
    pub fn new(cfg: EndpointConfig, location: L, now: Instant, now_unix_ms: u64) -> Self {
        let registrar = Registrar::new(cfg.registrar.clone(), cfg.nonce_secret, location);
        Endpoint {
            transactions: TransactionLayer::new(cfg.timers),
            registrar,
            rng: StdRng::seed_from_u64(cfg.seed),
            base_instant: now,
            base_unix_ms: now_unix_ms,
            transmits: VecDeque::new(),
            stats: EndpointStats::default(),
            next_housekeeping: now + Duration::from_secs(1),
            cfg,
        }
    }

    pub fn registrar(&self) -> &Registrar<L> {
        &self.registrar
    }

    pub fn registrar_mut(&mut self) -> &mut Registrar<L> {
        &mut self.registrar
    }

    pub fn transactions(&self) -> &TransactionLayer {
        &self.transactions
    }

    pub fn stats(&self) -> EndpointStats {
        self.stats
    }

    fn unix_ms(&self, now: Instant) -> u64 {
        self.base_unix_ms + now.saturating_duration_since(self.base_instant).as_millis() as u64
    }

    /// Binding changes since the last call, for the persistence writer.
    pub fn drain_binding_changes(&mut self) -> Vec<BindingChange> {
        self.registrar.drain_changes().collect()
    }

    /// One datagram (UDP) or one framed message (stream transports) from `peer`.
    pub fn handle_input(&mut self, now: Instant, peer: Peer, data: Bytes) {
        match sip_message::parse(data.clone(), &self.cfg.limits) {
            Ok(Message::Request(req)) => {
                self.stats.requests += 1;
                self.handle_request(now, peer, req);
            }
            Ok(Message::Response(resp)) => {
                self.stats.responses_received += 1;
                // Responses belong to client transactions; strays are dropped (§18.1.2).
                self.transactions.handle_response(now, resp);
                self.drain_transactions();
            }
            Err(e) => {
                self.stats.parse_errors += 1;
                tracing::debug!(%peer, error = %e, "unparseable message");
                if self.registrar.is_banned(now, &peer) {
                    return;
                }
                let reason = format!("Bad Request ({e})");
                if let Some((payload, dest)) =
                    crate::salvage::bad_request_reply(&data, peer.addr, &reason)
                {
                    let dest_peer = if peer.transport.is_reliable() {
                        peer
                    } else {
                        Peer { addr: dest, ..peer }
                    };
                    self.transmits.push_back(Transmit {
                        peer: dest_peer,
                        payload,
                    });
                }
            }
        }
    }

    /// RFC 5626 keep-alive on a stream: answer a CRLFCRLF ping with a CRLF pong.
    pub fn handle_ping(&mut self, peer: Peer) {
        self.stats.keepalives += 1;
        self.transmits.push_back(Transmit {
            peer,
            payload: Bytes::from_static(b"\r\n"),
        });
    }

    fn handle_request(&mut self, now: Instant, peer: Peer, mut req: Request) {
        let Some(reply_peer) = stamp_via(&mut req, &peer) else {
            return; // No Via: nowhere to answer.
        };
        let Some(key) = TxKey::for_request(&req) else {
            return;
        };
        let _span = tracing::debug_span!("sip", call_id = req.call_id().unwrap_or("")).entered();
        match self.transactions.handle_request(now, &req, key, reply_peer) {
            RequestDisposition::New(key) => self.dispatch(now, &peer, key, &req),
            RequestDisposition::Retransmission => self.stats.retransmissions_absorbed += 1,
            RequestDisposition::AckAbsorbed | RequestDisposition::AckForTu => {}
        }
        self.drain_transactions();
    }

    fn dispatch(&mut self, now: Instant, peer: &Peer, key: TxKey, req: &Request) {
        if let Some(rej) = check_request(req) {
            let mut resp = Response::for_request(req, rej.status, rej.reason);
            for (n, v) in rej.headers {
                resp.headers.push(n, v);
            }
            return self.respond(now, &key, req, resp);
        }
        let resp = match &req.method {
            Method::Register => {
                match self
                    .registrar
                    .handle_register(now, self.unix_ms(now), req, peer)
                {
                    RegisterOutcome::Respond(r) => r,
                    RegisterOutcome::Ignore => return,
                }
            }
            Method::Options => {
                let mut r = Response::for_request(req, 200, "OK");
                r.headers.push(HeaderName::Allow, ALLOW);
                r.headers.push(HeaderName::Accept, ACCEPT);
                r.headers
                    .push(HeaderName::Supported, SUPPORTED_EXTENSIONS.join(", "));
                r
            }
            Method::Invite => {
                // Call control arrives with the B2BUA; until then a known user is unavailable.
                let user = req
                    .uri
                    .as_sip()
                    .and_then(|u| u.user_unescaped())
                    .map(|u| String::from_utf8_lossy(&u).into_owned());
                let known =
                    user.is_some_and(|u| !self.registrar.location().bindings(&u).is_empty());
                if known {
                    Response::for_request(req, 480, "Temporarily Unavailable")
                } else {
                    Response::for_request(req, 404, "Not Found")
                }
            }
            Method::Cancel => {
                // The INVITE (if any) was answered finally at once, so CANCEL has nothing left to stop.
                match TxKey::for_request_as(req, &Method::Invite)
                    .and_then(|k| self.transactions.server_state(&k))
                {
                    Some(_) => Response::for_request(req, 200, "OK"),
                    None => Response::for_request(req, 481, "Call/Transaction Does Not Exist"),
                }
            }
            Method::Bye => Response::for_request(req, 481, "Call/Transaction Does Not Exist"),
            Method::Info
            | Method::Update
            | Method::Prack
            | Method::Subscribe
            | Method::Notify
            | Method::Refer
            | Method::Message
            | Method::Publish => {
                let mut r = Response::for_request(req, 405, "Method Not Allowed");
                r.headers.push(HeaderName::Allow, ALLOW);
                r
            }
            Method::Ack => return,
            Method::Other(_) => {
                let mut r = Response::for_request(req, 501, "Not Implemented");
                r.headers.push(HeaderName::Allow, ALLOW);
                r
            }
        };
        self.respond(now, &key, req, resp);
    }

    fn respond(&mut self, now: Instant, key: &TxKey, req: &Request, mut resp: Response) {
        if resp.status > 100 {
            let to = resp.headers.get(&HeaderName::To).map(<[u8]>::to_vec);
            if let Some(to) = to {
                let has_tag = req.to().is_some_and(|t| t.tag().is_some());
                if !has_tag {
                    let tag: u64 = self.rng.gen();
                    let mut v = to;
                    v.extend_from_slice(format!(";tag={tag:016x}").as_bytes());
                    resp.headers
                        .set(HeaderName::To, HeaderValue::from_bytes(Bytes::from(v)));
                }
            }
        }
        resp.headers
            .push(HeaderName::Server, self.cfg.server_name.clone());
        resp.headers
            .push(HeaderName::ContentLength, resp.body.len().to_string());
        let mut buf = Vec::with_capacity(512);
        resp.write_to(&mut buf);
        self.transactions
            .respond(now, key, resp.status, Bytes::from(buf));
    }

    fn drain_transactions(&mut self) {
        while let Some(t) = self.transactions.poll_transmit() {
            self.transmits.push_back(t);
        }
        // Events for client transactions matter once the endpoint starts requests (B2BUA, trunks).
        while self.transactions.poll_event().is_some() {}
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.transactions.handle_timeout(now);
        self.drain_transactions();
        if now >= self.next_housekeeping {
            let unix = (self.unix_ms(now) / 1000) as i64;
            self.registrar.expire(now, unix);
            self.next_housekeeping = now + Duration::from_secs(1);
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let tx = self.transactions.poll_timeout();
        Some(tx.map_or(self.next_housekeeping, |t| t.min(self.next_housekeeping)))
    }

    /// The wall-clock time corresponding to `now`, in unix milliseconds.
    pub fn unix_time_ms(&self, now: Instant) -> u64 {
        self.unix_ms(now)
    }
}

/// RFC 3261 §18.2.1 and RFC 3581: record where the request really came from in the top Via, and work out
/// where responses go (§18.2.2): back over the connection for streams; for UDP to the source address, at
/// the source port when rport was asked for, else at the sent-by port. `None` without a Via.
fn stamp_via(req: &mut Request, peer: &Peer) -> Option<Peer> {
    let src_ip = peer.addr.ip();
    let (wants_rport, host_matches, via_port) = {
        let via = req.top_via()?;
        // An IP literal (IPv6 in brackets); a domain never matches, and costs no allocation here.
        let host_ip: Option<std::net::IpAddr> = via
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok();
        (via.rport().is_some(), host_ip == Some(src_ip), via.port)
    };
    if !host_matches || wants_rport {
        // Only now is the Via rebuilt; a client on its own address without rport costs nothing here.
        if let Some(first) = req.headers.get(&HeaderName::Via) {
            let mut entries = Via::parse_list(first).ok()?;
            let top = entries.first_mut()?;
            top.params.set("received", Some(src_ip.to_string()));
            if wants_rport {
                top.params.set("rport", Some(peer.addr.port().to_string()));
            }
            let value = entries
                .iter()
                .map(Via::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            req.headers
                .replace_first(&HeaderName::Via, HeaderValue::from(value));
        }
    }
    if peer.transport.is_reliable() {
        return Some(*peer);
    }
    // The answer goes over UDP whatever the Via claims, so the UDP default port applies.
    let port = if wants_rport {
        peer.addr.port()
    } else {
        via_port.unwrap_or(5060)
    };
    Some(Peer {
        addr: SocketAddr::new(src_ip, port),
        ..*peer
    })
}
