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

mod push_wake;

use crate::b2bua::{
    BranchLabel, CallAction, CallEvent, CallRef, Caller, Calls, CallsConfig, MediaOp, MediaPlan,
    ReservedLeg, RingTarget,
};
use crate::location::{BindingChange, LocationStore};
use crate::push::PushWaits;
use crate::registrar::{RegisterOutcome, Registrar, RegistrarConfig, RequestAuth};
use crate::shield::{Shield, ShieldConfig};
use crate::transaction::{RequestDisposition, TimerConfig, TransactionLayer, TxEvent, TxKey};
use crate::transport::{Peer, Transmit, TransportKind};
use crate::trunk::{Refusal, TrunkConfig, TrunkCore, TrunkCoreConfig, TrunkStatus};
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
    /// Call control (B2BUA) settings: our address for Via/Contact, ring timeouts.
    pub calls: CallsConfig,
    /// How long a branch waits for an app woken by a push to register (bounded by its ring time).
    pub push_wait: Duration,
    /// Per-source limits and scanner bans, applied before parsing.
    pub shield: ShieldConfig,
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
            calls: CallsConfig::default(),
            push_wait: Duration::from_secs(20),
            shield: ShieldConfig::default(),
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

/// A point-in-time view of a SIP node for metrics: the endpoint's and registrar's counters with the
/// live counts the shell adds.
#[derive(Debug, Clone, Copy, Default)]
pub struct NodeSnapshot {
    pub endpoint: EndpointStats,
    pub registrar: crate::registrar::RegistrarStats,
    pub bindings: usize,
    pub server_transactions: usize,
    pub tcp_connections: usize,
    /// TLS certificate reloads done, and tried but failed (the old certificate stayed).
    pub tls_reloads: u64,
    pub tls_reload_failures: u64,
    pub push: crate::push::PushStats,
    pub shield: crate::shield::ShieldStats,
    /// Stream connections closed at once because their address held its cap already.
    pub connections_refused_per_source: u64,
    /// Sources banned now (scanners, floods, failed digests).
    pub bans: usize,
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
    calls: Calls,
    /// Without media there are no calls: INVITEs are answered 480/404 as a registrar-only node.
    media: Option<MediaPlan>,
    /// Where trunks call from: INVITEs from there are citizens' calls.
    call_sources: Vec<(std::net::IpAddr, u8)>,
    /// Carrier trunks: registration, OPTIONS probes, call caps.
    trunks: TrunkCore,
    /// Branches waiting for an app a push is waking (RFC 8599).
    push: PushWaits,
    /// Per-source rate limits and bans, before anything is parsed.
    shield: Shield,
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
            // The node's seed reaches the B2BUA too: Call-IDs, tags and branches must differ
            // between restarts and between nodes (RFC 3261 §8.1.1.4, §19.3).
            calls: Calls::new(CallsConfig {
                seed: cfg.calls.seed ^ cfg.seed,
                ..cfg.calls.clone()
            }),
            media: None,
            push: PushWaits::default(),
            shield: {
                let mut shield = Shield::new(cfg.shield.clone());
                shield.set_exempt(cfg.registrar.trusted_sources.clone());
                shield
            },
            call_sources: Vec::new(),
            trunks: TrunkCore::new(TrunkCoreConfig {
                local: cfg.calls.local,
                seed: cfg.seed ^ 0x7472_756e_6b73,
                user_agent: cfg.server_name.clone(),
                ..TrunkCoreConfig::default()
            }),
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
        if !self.shield.admit(now, peer.addr.ip()) {
            return;
        }
        match sip_message::parse(data.clone(), &self.cfg.limits) {
            Ok(Message::Request(req)) => {
                self.stats.requests += 1;
                self.handle_request(now, peer, req);
            }
            Ok(Message::Response(resp)) => {
                self.stats.responses_received += 1;
                // Responses belong to client transactions; strays are dropped (§18.1.2) — except a
                // retransmitted 2xx to our INVITE, which its dialog must ACK again (§13.2.2.4).
                let is_2xx_invite = (200..300).contains(&resp.status)
                    && resp.cseq().is_some_and(|c| c.method == Method::Invite);
                let stray_2xx = is_2xx_invite.then(|| resp.clone());
                let matched = self.transactions.handle_response(now, resp);
                if let (false, Some(r), Some(media)) = (matched, stray_2xx, self.media.as_mut()) {
                    self.calls.handle_response(now, &r, media);
                }
                self.drain_transactions_at(Some(now));
                self.drain_calls(now);
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
        // A scanner names itself: its source is banned and gets no answer.
        if let Some(agent) = req.headers.get(&HeaderName::UserAgent) {
            if self.shield.check_user_agent(now, peer.addr.ip(), agent) {
                tracing::info!(source = %peer.addr.ip(), "SIP scanner banned");
                return;
            }
        }
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
            RequestDisposition::AckAbsorbed => {}
            RequestDisposition::AckForTu => self.calls.handle_ack(&req),
        }
        self.drain_transactions();
    }

    fn dispatch(&mut self, now: Instant, peer: &Peer, key: TxKey, req: &Request) {
        if let Some(rej) = check_request(req) {
            let mut resp = Response::for_request(req, rej.status, rej.reason);
            for (n, v) in rej.headers {
                resp.headers.push(n, v);
            }
            return self.respond_to(now, &key, resp);
        }
        let resp = match &req.method {
            Method::Register => {
                match self
                    .registrar
                    .handle_register(now, self.unix_ms(now), req, peer)
                {
                    RegisterOutcome::Respond(r) => {
                        let accepted = r.status == 200;
                        self.respond_to(now, &key, r);
                        // After the 200: an app woken by a push gets the call once it knows
                        // it is registered.
                        if accepted {
                            self.ring_woken_apps(now, req);
                        }
                        return;
                    }
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
            Method::Invite if self.media.is_some() => {
                let in_dialog = req.to().is_some_and(|t| t.tag().is_some());
                if in_dialog {
                    if !self.in_dialog_sender_ok(now, &key, peer, req) {
                        return;
                    }
                    let known = match self.media.as_mut() {
                        Some(media) => self.calls.handle_reinvite(now, key.clone(), req, media),
                        None => false,
                    };
                    if known {
                        return self.drain_calls(now);
                    }
                    Response::for_request(req, 481, "Call/Transaction Does Not Exist")
                } else {
                    match self.caller_of(now, peer, req) {
                        Ok(caller) => {
                            if let Some(media) = self.media.as_mut() {
                                self.calls
                                    .handle_invite(now, key, req, *peer, caller, media);
                            }
                            return self.drain_calls(now);
                        }
                        Err(Some(resp)) => resp,
                        Err(None) => return,
                    }
                }
            }
            Method::Invite => {
                // A node without media takes no calls: a known user is unavailable.
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
                match TxKey::for_request_as(req, &Method::Invite)
                    .and_then(|k| self.transactions.server_state(&k))
                {
                    Some(_) => {
                        let ok = Response::for_request(req, 200, "OK");
                        self.respond_to(now, &key, ok);
                        if let Some(media) = self.media.as_mut() {
                            self.calls.handle_cancel(now, req, media);
                        }
                        return self.drain_calls(now);
                    }
                    None => Response::for_request(req, 481, "Call/Transaction Does Not Exist"),
                }
            }
            Method::Bye => {
                if !self.in_dialog_sender_ok(now, &key, peer, req) {
                    return;
                }
                let status = match self.media.as_mut() {
                    Some(media) => self.calls.handle_bye(now, req, media),
                    None => 481,
                };
                let r = Response::for_request(req, status, sip_message::default_reason(status));
                self.respond_to(now, &key, r);
                return self.drain_calls(now);
            }
            Method::Refer => {
                // A transfer can send the call anywhere (a paid number too): a phone proves who
                // it is even from its dialog's own address.
                if !self.sender_proven(now, &key, peer, req) {
                    return;
                }
                let known = match self.media.as_mut() {
                    Some(media) => self.calls.handle_refer(now, key.clone(), req, media),
                    None => false,
                };
                if known {
                    return self.drain_calls(now);
                }
                Response::for_request(req, 481, "Call/Transaction Does Not Exist")
            }
            Method::Update => {
                if !self.in_dialog_sender_ok(now, &key, peer, req) {
                    return;
                }
                let known = match self.media.as_mut() {
                    Some(media) => self.calls.handle_update(now, key.clone(), req, media),
                    None => false,
                };
                if known {
                    return self.drain_calls(now);
                }
                Response::for_request(req, 481, "Call/Transaction Does Not Exist")
            }
            Method::Prack => {
                let status = if self.media.is_some() {
                    self.calls.handle_prack(req)
                } else {
                    481
                };
                Response::for_request(req, status, sip_message::default_reason(status))
            }
            Method::Info => {
                if !self.in_dialog_sender_ok(now, &key, peer, req) {
                    return;
                }
                let status = self
                    .media
                    .is_some()
                    .then(|| self.calls.handle_info(req))
                    .flatten()
                    .unwrap_or(481);
                let mut r = Response::for_request(req, status, sip_message::default_reason(status));
                if status == 415 {
                    r.headers.push(
                        HeaderName::Accept,
                        "application/dtmf-relay, application/dtmf",
                    );
                }
                self.respond_to(now, &key, r);
                return self.drain_calls(now);
            }
            Method::Subscribe | Method::Notify | Method::Message | Method::Publish => {
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
        self.respond_to(now, &key, resp);
    }

    /// Sends `resp` in server transaction `key`, adding a To tag to a non-100 response that has none,
    /// Server and Content-Length.
    fn respond_to(&mut self, now: Instant, key: &TxKey, mut resp: Response) {
        if resp.status > 100 {
            let to = resp.headers.get(&HeaderName::To).map(<[u8]>::to_vec);
            if let Some(to) = to {
                let has_tag = resp.to().is_some_and(|t| t.tag().is_some());
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
            .set(HeaderName::ContentLength, resp.body.len().to_string());
        let mut buf = Vec::with_capacity(512);
        resp.write_to(&mut buf);
        self.transactions
            .respond(now, key, resp.status, Bytes::from(buf));
    }

    fn drain_transactions(&mut self) {
        self.drain_transactions_at(None);
    }

    fn drain_transactions_at(&mut self, now: Option<Instant>) {
        while let Some(t) = self.transactions.poll_transmit() {
            self.transmits.push_back(t);
        }
        while let Some(ev) = self.transactions.poll_event() {
            // Trunk requests are answered whether or not this node has media.
            if now.is_some_and(|now| self.trunks.handle_event(now, &ev)) {
                continue;
            }
            let (Some(now), Some(media)) = (now, self.media.as_mut()) else {
                continue;
            };
            match ev {
                TxEvent::Response { response, .. } => {
                    self.calls.handle_response(now, &response, media)
                }
                TxEvent::ClientTimeout { key } => {
                    self.calls.handle_client_timeout(now, &key, media)
                }
                TxEvent::AckTimeout { .. } => {}
            }
        }
        if let Some(now) = now {
            self.send_trunk_requests(now);
        }
    }

    /// Carries out what call control asked for.
    fn drain_calls(&mut self, now: Instant) {
        while let Some(action) = self.calls.poll_action() {
            match action {
                CallAction::Respond { key, response } => self.respond_to(now, &key, response),
                CallAction::Request { mut request, peer } => {
                    request
                        .headers
                        .set(HeaderName::ContentLength, request.body.len().to_string());
                    self.transactions.send_request(now, &request, peer);
                }
                CallAction::Ack { request, peer } => {
                    let mut buf = Vec::with_capacity(512);
                    request.write_to(&mut buf);
                    self.transmits.push_back(Transmit {
                        peer,
                        payload: Bytes::from(buf),
                    });
                }
            }
        }
        self.drain_transactions_at(Some(now));
        // Responses handled just now may have queued more actions.
        if self.calls.has_actions() {
            self.drain_calls(now);
        }
    }

    /// Whether `peer` is a trunk's address (the carrier).
    fn is_trunk_source(&self, peer: &Peer) -> bool {
        let ip = peer.addr.ip();
        self.call_sources
            .iter()
            .any(|&(net, len)| crate::registrar::in_network(ip, net, len))
    }

    /// Who a new INVITE from `peer` comes from: a trunk (by address), or a user who proved it (see
    /// [`Registrar::authorize_request`]). `Err` holds the answer to send instead (a 407 challenge,
    /// 403 for wrong credentials), or `None` for a banned source, which gets nothing.
    fn caller_of(
        &mut self,
        now: Instant,
        peer: &Peer,
        req: &Request,
    ) -> Result<Caller, Option<Response>> {
        if self.is_trunk_source(peer) {
            return Ok(Caller::Trunk);
        }
        let unix_ms = self.unix_ms(now);
        match self.registrar.authorize_request(now, unix_ms, req, peer) {
            RequestAuth::User(user) => Ok(Caller::User(user)),
            RequestAuth::Respond(resp) => Err(Some(resp)),
            RequestAuth::Ignore => Err(None),
        }
    }

    /// An in-dialog request goes on when it comes from where the dialog's far end is (or from a
    /// trunk); from anywhere else the sender must prove who it is, as for a new call. `false` when
    /// the request was answered here (challenge, refusal) or dropped (banned source).
    fn in_dialog_sender_ok(
        &mut self,
        now: Instant,
        key: &TxKey,
        peer: &Peer,
        req: &Request,
    ) -> bool {
        match self.calls.dialog_peer(req) {
            // Unknown dialogs are answered 481 by the method's own handling.
            None => true,
            Some(far) if far.addr == peer.addr && far.transport == peer.transport => true,
            Some(_) => self.sender_proven(now, key, peer, req),
        }
    }

    /// Whether `req` comes from a trunk or from a phone that proved who it is (see
    /// [`Registrar::authorize_request`]); `false` when it was answered here (challenge, refusal)
    /// or dropped (banned source).
    fn sender_proven(&mut self, now: Instant, key: &TxKey, peer: &Peer, req: &Request) -> bool {
        if self.is_trunk_source(peer) {
            return true;
        }
        let unix_ms = self.unix_ms(now);
        match self.registrar.authorize_request(now, unix_ms, req, peer) {
            RequestAuth::User(_) => true,
            RequestAuth::Respond(resp) => {
                self.respond_to(now, key, resp);
                false
            }
            RequestAuth::Ignore => false,
        }
    }

    /// A stream connection closed: whatever was proved on it (a registration's digest) ends.
    pub fn handle_connection_closed(&mut self, id: crate::transport::ConnectionId) {
        self.registrar.connection_closed(id);
    }

    /// The runtime could not open a connection to `addr` (refused, timed out, a certificate that
    /// does not verify): a trunk there shows `reason` in its status until a connection is up.
    pub fn handle_connect_failed(
        &mut self,
        transport: TransportKind,
        addr: SocketAddr,
        reason: &str,
    ) {
        self.trunks.connection_failed(transport, addr, reason);
    }

    /// The runtime opened a connection to `addr`.
    pub fn handle_connected(&mut self, transport: TransportKind, addr: SocketAddr) {
        self.trunks.connection_opened(transport, addr);
    }

    /// The networks trunks call from (their `inbound_sources`).
    pub fn set_call_sources(&mut self, sources: Vec<(std::net::IpAddr, u8)>) {
        // Trunks and an SBC in front (the registrar's trusted sources) carry many people's traffic.
        let mut exempt = sources.clone();
        exempt.extend(self.cfg.registrar.trusted_sources.iter().copied());
        self.shield.set_exempt(exempt);
        self.call_sources = sources;
    }

    /// Every user's SRTP policy (users not named have the default), for calls from now on.
    pub fn set_srtp_policies(
        &mut self,
        policies: std::collections::HashMap<String, switchboard_media::srtp::SrtpPolicy>,
    ) {
        self.calls.set_srtp_policies(policies);
    }

    /// Calls in progress (ringing or answered).
    pub fn active_calls(&self) -> usize {
        self.calls.active()
    }

    /// Gives the node a media relay: from now on INVITEs become calls. Its legs come from a
    /// pool the shell fills ([`Endpoint::media_legs_wanted`], [`Endpoint::add_media_leg`]); what
    /// the relay must do leaves through [`Endpoint::poll_media_op`].
    pub fn enable_media(&mut self) {
        self.media.get_or_insert_with(MediaPlan::default);
    }

    /// How many reserved legs the shell should add to bring the pool back to its target.
    pub fn media_legs_wanted(&self) -> usize {
        self.media.as_ref().map_or(0, MediaPlan::wanted)
    }

    /// A leg the shell reserved (its port pair bound): the next calls take legs in this order.
    pub fn add_media_leg(&mut self, leg: ReservedLeg) {
        if let Some(media) = self.media.as_mut() {
            media.add(leg);
        }
    }

    /// The next thing the media relay must do, in order.
    pub fn poll_media_op(&mut self) -> Option<MediaOp> {
        self.media.as_mut().and_then(MediaPlan::poll_op)
    }

    /// Carries out one of call control's commands.
    pub fn handle_call_command(&mut self, now: Instant, command: crate::b2bua::CallCommand) {
        use crate::b2bua::CallCommand as C;
        match command {
            C::Ring { call, targets } => self.ring(now, call, targets),
            C::RingTrunk { call, targets } => self.ring_trunk(now, call, targets),
            C::RingMember {
                call,
                user,
                ring_timeout,
            } => self.ring_member(now, call, &user, ring_timeout),
            C::Reject { call, status } => self.reject(now, call, status),
            C::CancelBranch { call, label } => {
                self.push.cancel(call, &label);
                self.cancel_branch(now, call, &label)
            }
            C::ShowVia { call, name, number } => self.calls.show_via(call, name, number),
            C::Confirm { call, label } => self.confirm_branch(now, call, &label),
            C::Decline { call, label } => self.decline_branch(now, call, &label),
            C::Originate {
                tag,
                user,
                from,
                ring_timeout,
            } => {
                let at = self.calls.pending_events();
                let call = self.originate(now, &user, &from, ring_timeout);
                self.calls
                    .insert_event(at, CallEvent::Originated { tag, call });
            }
            C::TransferToUs { call } => self.transfer_to_us(now, call),
            C::AnswerLocally { call } => self.answer_locally(now, call),
            C::HangUp { call, cause } => self.hang_up(now, call, &cause),
            C::MediaTimeout { leg } => self.media_timeout(now, leg),
            C::TrunkRelease { call } => self.trunk_release(call),
        }
    }

    /// Rings the first target whose trunk takes the call (see [`CallCommand::RingTrunk`]).
    ///
    /// [`CallCommand::RingTrunk`]: crate::b2bua::CallCommand::RingTrunk
    fn ring_trunk(&mut self, now: Instant, call: CallRef, targets: Vec<RingTarget>) {
        let mut last_label = None;
        for target in targets {
            match self.trunk_try_acquire(now, &target.label.name, call) {
                Ok(()) | Err(Refusal::Unknown) => return self.ring(now, call, vec![target]),
                Err(why) => {
                    tracing::info!(trunk = %target.label, reason = %why, "trunk skipped");
                    last_label = Some(target.label);
                }
            }
        }
        if let (Some(label), Some(media)) = (last_label, self.media.as_mut()) {
            self.calls.report_unreachable(now, call, &label, 503, media);
        }
        self.drain_calls(now);
    }

    /// The next call event for the orchestrator (routing decisions, answers, CDRs).
    pub fn poll_call_event(&mut self) -> Option<CallEvent> {
        self.calls.poll_event()
    }

    /// Rings targets for a call (see [`Calls::ring`]).
    pub fn ring(&mut self, now: Instant, call: CallRef, targets: Vec<RingTarget>) {
        if let Some(media) = self.media.as_mut() {
            self.calls.ring(now, call, targets, media);
        }
        self.drain_calls(now);
    }

    /// The confirming branch `label` pressed 1: connect it (see [`Calls::confirm_branch`]).
    pub fn confirm_branch(&mut self, now: Instant, call: CallRef, label: &BranchLabel) {
        if let Some(media) = self.media.as_mut() {
            self.calls.confirm_branch(now, call, label, media);
        }
        self.drain_calls(now);
    }

    /// The confirming branch `label` did not confirm: release it.
    pub fn decline_branch(&mut self, now: Instant, call: CallRef, label: &BranchLabel) {
        if let Some(media) = self.media.as_mut() {
            self.calls.decline_branch(call, label, media);
        }
        self.drain_calls(now);
    }

    /// Stops ringing the branches of `call` labelled `label`.
    pub fn cancel_branch(&mut self, now: Instant, call: CallRef, label: &BranchLabel) {
        self.calls.cancel_label(call, label);
        self.drain_calls(now);
    }

    /// Rings every registered contact of `user` for `call`; a user without any is reported as a
    /// failed branch (480), so a hunt group moves on.
    pub fn ring_member(
        &mut self,
        now: Instant,
        call: CallRef,
        user: &str,
        ring_timeout: Option<Duration>,
    ) {
        let targets = self.targets_for_user(user, ring_timeout);
        let waking = self.wake_sleeping_apps(now, call, user, ring_timeout);
        if targets.is_empty() && waking {
            if let Some(media) = self.media.as_mut() {
                self.calls.hold_for_push(now, call, media);
            }
            self.drain_calls(now);
        } else if targets.is_empty() {
            if let Some(media) = self.media.as_mut() {
                self.calls
                    .report_unreachable(now, call, &BranchLabel::direct(user), 480, media);
            }
            self.drain_calls(now);
        } else {
            self.ring(now, call, targets);
        }
    }

    /// The relay legs and codec of an answered call (see [`Calls::media_of`]).
    pub fn call_media(&self, call: CallRef) -> Option<crate::b2bua::CallMedia> {
        self.calls.media_of(call)
    }

    /// Answers the caller ourselves (see [`Calls::answer_locally`]).
    pub fn answer_locally(&mut self, now: Instant, call: CallRef) {
        if let Some(media) = self.media.as_mut() {
            self.calls.answer_locally(now, call, media);
        }
        self.drain_calls(now);
    }

    /// Places a call from Switchboard to `user`'s first registration (see [`Calls::originate`]);
    /// `None` when the user has none.
    pub fn originate(
        &mut self,
        now: Instant,
        user: &str,
        from: &str,
        ring_timeout: Option<Duration>,
    ) -> Option<CallRef> {
        let target = self
            .targets_for_user(user, ring_timeout)
            .into_iter()
            .next()?;
        let media = self.media.as_mut()?;
        let call = self.calls.originate(now, target, from, media);
        self.drain_calls(now);
        call
    }

    /// Takes a transferred caller back (see [`Calls::transfer_to_us`]).
    pub fn transfer_to_us(&mut self, now: Instant, call: CallRef) {
        self.calls.transfer_to_us(call);
        self.drain_calls(now);
    }

    /// Ends an answered call from our side (see [`Calls::hang_up`]).
    pub fn hang_up(&mut self, now: Instant, call: CallRef, cause: &str) {
        if let Some(media) = self.media.as_mut() {
            self.calls.hang_up(now, call, cause, media);
        }
        self.drain_calls(now);
    }

    /// The relay heard nothing on `leg` for too long (see [`Calls::media_timeout`]).
    pub fn media_timeout(&mut self, now: Instant, leg: switchboard_media::relay::LegId) {
        if let Some(media) = self.media.as_mut() {
            self.calls.media_timeout(now, leg, media);
        }
        self.drain_calls(now);
    }

    /// Ends an unanswered call with `status` (see [`Calls::reject`]).
    pub fn reject(&mut self, now: Instant, call: CallRef, status: u16) {
        if let Some(media) = self.media.as_mut() {
            self.calls.reject(now, call, status, media);
        }
        self.drain_calls(now);
    }

    /// Every registered contact of `aor`, as ring targets (sent to where each registered from). A
    /// user whose SRTP policy is `required` is reached only on contacts registered over TLS.
    pub fn targets_for_user(&self, aor: &str, ring_timeout: Option<Duration>) -> Vec<RingTarget> {
        let srtp = self.calls.srtp_policy(aor);
        self.registrar
            .location()
            .bindings(aor)
            .iter()
            .filter_map(|b| {
                let uri = sip_message::Uri::parse(b.contact_uri.as_bytes()).ok()?;
                let transport = crate::transport::TransportKind::from_via(&b.transport)?;
                let addr = b.source.parse().ok()?;
                Some(RingTarget {
                    uri,
                    peer: Peer {
                        transport,
                        addr,
                        connection: None,
                    },
                    label: BranchLabel::direct(aor),
                    ring_timeout,
                    confirm: false,
                    caller_id: None,
                    srtp,
                })
            })
            .filter(|t| crate::b2bua::srtp_allows(t.srtp, t.peer.transport))
            .collect()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        for waiting in self.push.handle_timeout(now) {
            self.push_branch_failed(now, waiting.call, &waiting.label);
        }
        self.trunks.handle_timeout(now);
        self.transactions.handle_timeout(now);
        self.drain_transactions_at(Some(now));
        if let Some(media) = self.media.as_mut() {
            self.calls.handle_timeout(now, media);
        }
        self.drain_calls(now);
        if now >= self.next_housekeeping {
            let unix = (self.unix_ms(now) / 1000) as i64;
            self.registrar.expire(now, unix);
            self.shield.sweep(now);
            self.next_housekeeping = now + Duration::from_secs(1);
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let tx = self.transactions.poll_timeout();
        let next = tx.map_or(self.next_housekeeping, |t| t.min(self.next_housekeeping));
        let next = self.trunks.poll_timeout().map_or(next, |t| t.min(next));
        let next = self.push.poll_timeout().map_or(next, |t| t.min(next));
        Some(self.calls.poll_timeout().map_or(next, |c| c.min(next)))
    }

    /// Every source banned now: by the shield (scanners, floods) or the registrar's guard (failed
    /// digests).
    pub fn bans(&self, now: Instant) -> Vec<crate::shield::Ban> {
        let mut bans = self.shield.bans(now);
        for (ip, remaining) in self.registrar.guard_bans(now) {
            if !bans.iter().any(|b| b.ip == ip) {
                bans.push(crate::shield::Ban {
                    ip,
                    reason: crate::shield::BanReason::AuthFailures,
                    remaining,
                    dropped: 0,
                });
            }
        }
        bans
    }

    /// Lifts every ban on `ip`; whether there was one.
    pub fn lift_ban(&mut self, now: Instant, ip: std::net::IpAddr) -> bool {
        let shield = self.shield.lift(ip);
        let guard = self.registrar.lift_guard_ban(now, ip);
        shield || guard
    }

    pub fn shield_stats(&self) -> crate::shield::ShieldStats {
        self.shield.stats()
    }

    /// The wall-clock time corresponding to `now`, in unix milliseconds.
    pub fn unix_time_ms(&self, now: Instant) -> u64 {
        self.unix_ms(now)
    }
}

/// Carrier trunks (see [`crate::trunk`]).
impl<L: LocationStore> Endpoint<L> {
    /// Installs the trunk list: registrations start, change or are taken down, probes follow.
    pub fn set_trunks(&mut self, now: Instant, trunks: Vec<TrunkConfig>) {
        self.trunks.set_trunks(now, trunks);
        self.send_trunk_requests(now);
    }

    /// Registration, probe and call-count state of every trunk.
    pub fn trunk_status(&self) -> Vec<TrunkStatus> {
        self.trunks.status()
    }

    /// Takes a call slot for `call` on the trunk named `trunk` (see [`TrunkCore::try_acquire`]).
    pub fn trunk_try_acquire(
        &mut self,
        now: Instant,
        trunk: &str,
        call: CallRef,
    ) -> Result<(), Refusal> {
        let id = self.trunks.id_of(trunk).ok_or(Refusal::Unknown)?;
        self.trunks.try_acquire(now, id, call.0)
    }

    /// Gives back the trunk slot `call` holds, if any.
    pub fn trunk_release(&mut self, call: CallRef) {
        self.trunks.release(call.0);
    }

    fn send_trunk_requests(&mut self, now: Instant) {
        while let Some((request, peer)) = self.trunks.poll_request() {
            self.transactions.send_request(now, &request, peer);
        }
        while let Some(t) = self.transactions.poll_transmit() {
            self.transmits.push_back(t);
        }
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
