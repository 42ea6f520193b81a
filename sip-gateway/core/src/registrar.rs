//! The registrar (RFC 3261 §10.3) with digest authentication, as a sans-IO component: a REGISTER and the
//! current time in, a response and [`BindingChange`]s out.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use sip_message::{Contacts, HeaderName, Request, Response, SipHeaders};

use crate::auth::{
    challenge, DigestAlgorithm, DigestCredentials, NonceCheck, NonceFactory, UserSecrets,
};
use crate::guard::{AuthGuard, FailureVerdict, GuardConfig};
use crate::location::{Binding, BindingChange, LocationStore};
use crate::push::PushDevices;
use crate::transport::{Peer, TransportKind};

mod request_auth;
use request_auth::request_binding;
pub use request_auth::RequestAuth;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarConfig {
    /// Digest realm; also the SIP domain this node serves.
    pub realm: String,
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    pub max_contacts_per_aor: usize,
    pub nonce_ttl: Duration,
    /// Algorithms offered, one challenge each, in this order (RFC 8760 §2.4). The default is MD5 alone:
    /// measured here, SIPp 3.6 answers only the first challenge and fails when it is SHA-256, and
    /// baresip 1.0 (libre 1.x, Debian 12) fails the whole 401 when *any* challenge is SHA-256. Sites whose
    /// phones all handle RFC 8760 turn SHA-256 on in the node settings.
    pub algorithms: Vec<DigestAlgorithm>,
    pub guard: GuardConfig,
    /// Sources whose REGISTERs need no digest (an SBC or edge proxy that authenticated them already):
    /// (network, prefix length).
    pub trusted_sources: Vec<(std::net::IpAddr, u8)>,
}

impl RegistrarConfig {
    fn is_trusted(&self, ip: std::net::IpAddr) -> bool {
        self.trusted_sources
            .iter()
            .any(|(net, len)| in_network(ip, *net, *len))
    }
}

/// Whether `ip` lies in `net/len` (IPv4 and IPv6; a family mismatch never matches).
pub fn in_network(ip: std::net::IpAddr, net: std::net::IpAddr, len: u8) -> bool {
    use std::net::IpAddr::{V4, V6};
    match (ip, net) {
        (V4(a), V4(n)) => {
            let len = u32::from(len.min(32));
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (V6(a), V6(n)) => {
            let len = u32::from(len.min(128));
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            realm: "switchboard".to_string(),
            min_expires: 60,
            max_expires: 7200,
            default_expires: 3600,
            max_contacts_per_aor: 10,
            nonce_ttl: Duration::from_secs(300),
            algorithms: vec![DigestAlgorithm::Md5],
            guard: GuardConfig::default(),
            trusted_sources: Vec::new(),
        }
    }
}

/// What the endpoint should do with a REGISTER.
#[derive(Debug, Clone, PartialEq)]
pub enum RegisterOutcome {
    Respond(Response),
    /// The source is banned: send nothing.
    Ignore,
}

/// Counters for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistrarStats {
    pub challenges: u64,
    pub accepted: u64,
    pub auth_failures: u64,
    pub bans: u64,
    pub ignored: u64,
    /// 407 challenges to calls and other requests from phones.
    pub request_challenges: u64,
    /// Requests from phones let through on a connection they registered over (no challenge).
    pub trusted_connection_requests: u64,
    /// Credentials refused because their nonce and count had been used before.
    pub replays_refused: u64,
    /// Users whose credentials were set (added or changed: from the admin API, or picked up from
    /// the database after the CLI wrote it).
    pub credential_updates: u64,
    /// Users removed, with their bindings.
    pub users_removed: u64,
    /// Bindings ended because the WebSocket connection they were made over closed.
    pub flow_bindings_ended: u64,
}

pub struct Registrar<L: LocationStore> {
    cfg: RegistrarConfig,
    nonces: NonceFactory,
    /// Nonces of 407 challenges: bound to the request's Call-ID, and short-lived (a phone answers a
    /// challenge at once).
    request_nonces: NonceFactory,
    /// Numbers the request nonces, so no two are alike.
    request_nonce_serial: u32,
    /// Nonce counts already used with request nonces (see [`request_auth::NonceUses`]).
    nonce_uses: request_auth::NonceUses,
    /// Stream connections a user registered over, with digest: their requests need no challenge.
    connections: HashMap<crate::transport::ConnectionId, String>,
    /// Bindings made over each WebSocket connection, as (AOR, contact URI, source): a browser or app
    /// can only be reached down the connection it registered on, so they end when it closes.
    flow_bindings: HashMap<crate::transport::ConnectionId, Vec<(String, String, String)>>,
    users: HashMap<String, UserSecrets>,
    location: L,
    guard: AuthGuard,
    /// Expiry wake-ups: (unix second, AOR). One live entry per AOR, at its earliest binding's expiry
    /// (`scheduled` says which); a refresh that moves expiry later pushes nothing, so a REGISTER storm does
    /// not grow the heap. Entries that no longer match `scheduled` are skipped when popped.
    expiry: BinaryHeap<Reverse<(i64, String)>>,
    scheduled: HashMap<String, i64>,
    changes: Vec<BindingChange>,
    stats: RegistrarStats,
    /// Apps that registered with push parameters: remembered beyond their bindings.
    push: PushDevices,
}

/// The user part of the To URI: the address-of-record a REGISTER is about (§10.3 step 5).
fn aor_user(req: &Request) -> Option<String> {
    let to = req.to()?;
    let user = to.uri().ok()?.as_sip()?.user_unescaped()?;
    Some(String::from_utf8_lossy(&user).into_owned())
}

enum AuthResult {
    Ok(String),
    Respond(Response),
}

/// Which challenge a request gets: REGISTER 401 (`WWW-Authenticate`), anything else 407
/// (`Proxy-Authenticate`) with a nonce bound to its Call-ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Challenge {
    Register,
    Request,
}

impl<L: LocationStore> Registrar<L> {
    pub fn new(cfg: RegistrarConfig, nonce_secret: [u8; 32], location: L) -> Self {
        let nonces = NonceFactory::new(nonce_secret, cfg.nonce_ttl.as_secs());
        let request_nonces = NonceFactory::new(nonce_secret, request_auth::REQUEST_NONCE_TTL_SECS);
        let guard = AuthGuard::new(cfg.guard);
        Registrar {
            cfg,
            nonces,
            request_nonces,
            request_nonce_serial: 0,
            nonce_uses: request_auth::NonceUses::default(),
            connections: HashMap::new(),
            flow_bindings: HashMap::new(),
            users: HashMap::new(),
            location,
            guard,
            expiry: BinaryHeap::new(),
            scheduled: HashMap::new(),
            changes: Vec::new(),
            stats: RegistrarStats::default(),
            push: PushDevices::default(),
        }
    }

    pub fn config(&self) -> &RegistrarConfig {
        &self.cfg
    }

    pub fn stats(&self) -> RegistrarStats {
        self.stats
    }

    pub fn location(&self) -> &L {
        &self.location
    }

    /// The push-capable apps users registered (RFC 8599).
    pub fn push_devices(&self) -> &PushDevices {
        &self.push
    }

    pub fn push_devices_mut(&mut self) -> &mut PushDevices {
        &mut self.push
    }

    pub fn set_user(&mut self, username: &str, secrets: UserSecrets) {
        self.users.insert(username.to_string(), secrets);
        self.stats.credential_updates += 1;
    }

    /// Removes a user and every binding it had.
    pub fn remove_user(&mut self, username: &str) {
        if self.users.remove(username).is_some() {
            self.stats.users_removed += 1;
        }
        self.connections.retain(|_, user| user != username);
        self.push.forget_user(username);
        let old: Vec<Binding> = self.location.bindings(username).to_vec();
        self.location.replace(username, Vec::new());
        self.scheduled.remove(username);
        for b in old {
            self.changes.push(BindingChange::Remove {
                aor: b.aor,
                contact_uri: b.contact_uri,
            });
        }
    }

    /// Loads bindings persisted before a restart (already-expired ones are dropped by the next expiry pass).
    pub fn restore(&mut self, bindings: Vec<Binding>) {
        let mut by_aor: HashMap<String, Vec<Binding>> = HashMap::new();
        // An app's binding over a connection died with the process that held the connection: it
        // is woken by a push instead (its device is restored on its own).
        let connection_gone = |b: &Binding| {
            b.transport != "udp" && crate::push::push_params(&b.contact_uri).is_some()
        };
        for b in bindings.into_iter().filter(|b| !connection_gone(b)) {
            by_aor.entry(b.aor.clone()).or_default().push(b);
        }
        for (aor, list) in by_aor {
            self.location.replace(&aor, list);
            self.schedule(&aor);
        }
    }

    /// Makes sure the AOR's earliest expiry has a wake-up, pushing only when it moved earlier.
    fn schedule(&mut self, aor: &str) {
        let earliest = self
            .location
            .bindings(aor)
            .iter()
            .map(|b| b.expires_at_unix)
            .min();
        match earliest {
            None => {
                self.scheduled.remove(aor);
            }
            Some(t) if self.scheduled.get(aor).is_some_and(|&s| s <= t) => {}
            Some(t) => {
                self.scheduled.insert(aor.to_string(), t);
                self.expiry.push(Reverse((t, aor.to_string())));
            }
        }
    }

    pub fn drain_changes(&mut self) -> std::vec::Drain<'_, BindingChange> {
        self.changes.drain(..)
    }

    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }

    /// Wake-ups queued for binding expiry (at most about one per AOR, whatever the REGISTER rate).
    pub fn pending_expiries(&self) -> usize {
        self.expiry.len()
    }

    /// The bindings made over connection `id` that end with it (a WebSocket's, an app's with push
    /// parameters) and are still the ones from its source: removed (nothing else reaches them).
    fn end_flow_bindings(&mut self, id: crate::transport::ConnectionId) {
        for (aor, contact_uri, source) in self.flow_bindings.remove(&id).unwrap_or_default() {
            let current = self.location.bindings(&aor);
            let Some(i) = current
                .iter()
                .position(|b| b.contact_uri == contact_uri && b.source == source)
            else {
                continue;
            };
            let mut keep = current.to_vec();
            keep.remove(i);
            self.location.replace(&aor, keep);
            self.schedule(&aor);
            self.stats.flow_bindings_ended += 1;
            self.changes
                .push(BindingChange::Remove { aor, contact_uri });
        }
    }

    /// Removes bindings whose time is up, and forgets stale guard entries.
    pub fn expire(&mut self, now: Instant, now_unix: i64) {
        while let Some(Reverse((t, _))) = self.expiry.peek() {
            if *t > now_unix {
                break;
            }
            let Some(Reverse((t, aor))) = self.expiry.pop() else {
                break;
            };
            if self.scheduled.get(&aor) != Some(&t) {
                continue; // Superseded by an earlier wake-up, or the AOR is gone.
            }
            self.scheduled.remove(&aor);
            let current = self.location.bindings(&aor);
            if current.iter().all(|b| b.expires_at_unix > now_unix) {
                self.schedule(&aor);
                continue;
            }
            let (keep, gone): (Vec<Binding>, Vec<Binding>) = current
                .iter()
                .cloned()
                .partition(|b| b.expires_at_unix > now_unix);
            self.location.replace(&aor, keep);
            self.schedule(&aor);
            for b in gone {
                self.changes.push(BindingChange::Remove {
                    aor: b.aor,
                    contact_uri: b.contact_uri,
                });
            }
        }
        self.guard.sweep(now);
        self.nonce_uses.sweep(now);
    }

    /// Sources the brute-force guard bans now, with the time left.
    pub fn guard_bans(&self, now: Instant) -> Vec<(std::net::IpAddr, Duration)> {
        self.guard.bans(now)
    }

    /// Lifts the guard's ban on `ip`; whether there was one.
    pub fn lift_guard_ban(&mut self, now: Instant, ip: std::net::IpAddr) -> bool {
        self.guard.lift(now, ip)
    }

    pub fn is_banned(&self, now: Instant, peer: &Peer) -> bool {
        self.guard.is_banned(now, peer.addr.ip())
    }

    fn challenge_response(
        &mut self,
        req: &Request,
        now_unix_ms: u64,
        stale: bool,
        kind: Challenge,
    ) -> Response {
        let (status, header) = match kind {
            Challenge::Register => {
                self.stats.challenges += 1;
                (401, HeaderName::WwwAuthenticate)
            }
            Challenge::Request => {
                self.stats.request_challenges += 1;
                (407, HeaderName::ProxyAuthenticate)
            }
        };
        let nonce = match kind {
            Challenge::Register => self.nonces.issue(now_unix_ms, &self.cfg.realm),
            Challenge::Request => {
                self.request_nonce_serial = self.request_nonce_serial.wrapping_add(1);
                self.request_nonces.issue_bound(
                    now_unix_ms,
                    &self.cfg.realm,
                    request_binding(req),
                    self.request_nonce_serial,
                )
            }
        };
        let mut resp = Response::for_request(req, status, sip_message::default_reason(status));
        for alg in &self.cfg.algorithms {
            resp.headers.push(
                header.clone(),
                challenge(&self.cfg.realm, &nonce, *alg, stale),
            );
        }
        resp
    }

    fn fail(&mut self, now: Instant, req: &Request, peer: &Peer) -> AuthResult {
        self.stats.auth_failures += 1;
        if self.guard.record_failure(now, peer.addr.ip()) == FailureVerdict::Banned {
            self.stats.bans += 1;
            tracing::warn!(source = %peer.addr, "too many failed authentications: source banned");
        }
        AuthResult::Respond(Response::for_request(req, 403, "Forbidden"))
    }

    /// Checks the digest credentials of `req` (`Authorization` for REGISTER; for other requests
    /// `Proxy-Authorization`, or `Authorization` from phones that answer a 407 with it).
    fn authenticate(
        &mut self,
        now: Instant,
        now_unix_ms: u64,
        req: &Request,
        peer: &Peer,
        kind: Challenge,
    ) -> AuthResult {
        let mut offered = req.authorization(&HeaderName::Authorization);
        if kind == Challenge::Request {
            offered.extend(req.authorization(&HeaderName::ProxyAuthorization));
        }
        let creds = offered
            .iter()
            .filter_map(DigestCredentials::from_header)
            .find(|c| c.realm == self.cfg.realm && self.cfg.algorithms.contains(&c.algorithm));
        let Some(creds) = creds else {
            return AuthResult::Respond(self.challenge_response(req, now_unix_ms, false, kind));
        };
        let check = match kind {
            Challenge::Register => self
                .nonces
                .check(&creds.nonce, now_unix_ms, &self.cfg.realm),
            Challenge::Request => self.request_nonces.check_bound(
                &creds.nonce,
                now_unix_ms,
                &self.cfg.realm,
                request_binding(req),
            ),
        };
        if check == NonceCheck::Invalid {
            return AuthResult::Respond(self.challenge_response(req, now_unix_ms, false, kind));
        }
        let Some(secrets) = self.users.get(&creds.username) else {
            return self.fail(now, req, peer);
        };
        if !creds.verify(secrets, req.method.as_str()) {
            return self.fail(now, req, peer);
        }
        if check == NonceCheck::Stale {
            return AuthResult::Respond(self.challenge_response(req, now_unix_ms, true, kind));
        }
        if kind == Challenge::Request && !self.nonce_uses.first_use(now, &creds) {
            // The same nonce and count again: a replay, or a phone that reuses its nonce. Either
            // way a fresh challenge; the password was right, so it is no failure.
            self.stats.replays_refused += 1;
            return AuthResult::Respond(self.challenge_response(req, now_unix_ms, true, kind));
        }
        AuthResult::Ok(creds.username)
    }

    pub fn handle_register(
        &mut self,
        now: Instant,
        now_unix_ms: u64,
        req: &Request,
        peer: &Peer,
    ) -> RegisterOutcome {
        if self.is_banned(now, peer) {
            self.stats.ignored += 1;
            return RegisterOutcome::Ignore;
        }
        let username = if self.cfg.is_trusted(peer.addr.ip()) {
            let to_user = aor_user(req);
            match to_user {
                Some(u) if self.users.contains_key(&u) => u,
                _ => return RegisterOutcome::Respond(Response::for_request(req, 404, "Not Found")),
            }
        } else {
            match self.authenticate(now, now_unix_ms, req, peer, Challenge::Register) {
                AuthResult::Ok(u) => {
                    if let Some(id) = peer.connection {
                        // Authenticated on this stream: its requests are the user's until it closes.
                        self.connections.insert(id, u.clone());
                    }
                    u
                }
                AuthResult::Respond(r) => return RegisterOutcome::Respond(r),
            }
        };
        let now_unix = (now_unix_ms / 1000) as i64;
        RegisterOutcome::Respond(self.update_bindings(now_unix, req, peer, &username))
    }

    fn update_bindings(
        &mut self,
        now_unix: i64,
        req: &Request,
        peer: &Peer,
        username: &str,
    ) -> Response {
        let to_user = aor_user(req);
        if to_user.as_deref() != Some(username) {
            return Response::for_request(req, 403, "Forbidden (To does not match credentials)");
        }
        let aor = username.to_string();
        let Ok(contacts) = req.contacts() else {
            return Response::for_request(req, 400, "Bad Contact");
        };
        let call_id = req.call_id().unwrap_or("").to_string();
        let cseq = req.cseq().map_or(0, |c| c.seq);
        let header_expires = req.expires();
        let mut current: Vec<Binding> = self.location.bindings(&aor).to_vec();
        let before = current.clone();
        // Push devices change only once the whole REGISTER is accepted.
        let mut unregistered_push = Vec::new();
        let mut forget_all_push = false;
        match contacts {
            Contacts::Star => {
                if header_expires != Some(0) || req.headers.count(&HeaderName::Contact) != 1 {
                    return Response::for_request(req, 400, "Contact * requires Expires: 0");
                }
                if current
                    .iter()
                    .any(|b| b.call_id == call_id && b.cseq >= cseq)
                {
                    return Response::for_request(req, 500, "Out of order CSeq");
                }
                current.clear();
                forget_all_push = true;
            }
            Contacts::List(list) => {
                for c in list {
                    let expires = c
                        .params
                        .get_value("expires")
                        .and_then(|v| v.parse::<u64>().ok())
                        .map(|v| v.min(u32::MAX as u64) as u32)
                        .or(header_expires)
                        .unwrap_or(self.cfg.default_expires);
                    if expires != 0 && expires < self.cfg.min_expires {
                        let mut r = Response::for_request(req, 423, "Interval Too Brief");
                        r.headers
                            .push(HeaderName::MinExpires, self.cfg.min_expires.to_string());
                        return r;
                    }
                    let expires = expires.min(self.cfg.max_expires);
                    let contact_uri = c.uri.to_string();
                    let existing = current.iter().position(|b| b.contact_uri == contact_uri);
                    if let Some(i) = existing {
                        if current[i].call_id == call_id && current[i].cseq >= cseq {
                            return Response::for_request(req, 500, "Out of order CSeq");
                        }
                    }
                    if expires == 0 {
                        unregistered_push.push(contact_uri.clone());
                        if let Some(i) = existing {
                            current.remove(i);
                        }
                        continue;
                    }
                    let q_milli = c
                        .params
                        .get_value("q")
                        .and_then(|q| q.parse::<f64>().ok())
                        .filter(|q| (0.0..=1.0).contains(q))
                        .map_or(1000, |q| (q * 1000.0).round() as i64);
                    let binding = Binding {
                        aor: aor.clone(),
                        contact_uri,
                        contact_value: c.to_string(),
                        expires_at_unix: now_unix + i64::from(expires),
                        q_milli,
                        call_id: call_id.clone(),
                        cseq,
                        transport: peer.transport.as_str().to_ascii_lowercase(),
                        source: peer.addr.to_string(),
                        user_agent: req
                            .headers
                            .get(&HeaderName::UserAgent)
                            .and_then(|v| std::str::from_utf8(v).ok())
                            .map(str::to_string),
                    };
                    match existing {
                        Some(i) => current[i] = binding,
                        None => current.push(binding),
                    }
                }
                if current.len() > self.cfg.max_contacts_per_aor {
                    return Response::for_request(req, 403, "Too many contacts");
                }
            }
        }
        for b in &before {
            if !current.iter().any(|c| c.contact_uri == b.contact_uri) {
                self.changes.push(BindingChange::Remove {
                    aor: aor.clone(),
                    contact_uri: b.contact_uri.clone(),
                });
            }
        }
        for b in &current {
            if !before.contains(b) {
                self.changes.push(BindingChange::Upsert(b.clone()));
            }
        }
        if forget_all_push {
            self.push.forget_user(&aor);
        }
        for contact_uri in &unregistered_push {
            self.push.unregistered(&aor, contact_uri);
        }
        for b in current.iter().filter(|b| !before.contains(b)) {
            self.push.registered(&aor, &b.contact_uri, now_unix);
        }
        // A browser or app can only be reached down the connection it registered on; an app with
        // push parameters over TCP or TLS too (a suspended app's socket is gone: it is woken by a
        // push and registers again). Such bindings end with their connection.
        if let Some(id) = peer.connection.filter(|_| peer.transport.is_reliable()) {
            let websocket = matches!(peer.transport, TransportKind::Ws | TransportKind::Wss);
            let source = peer.addr.to_string();
            let flow = self.flow_bindings.entry(id).or_default();
            let flow_bound = current.iter().filter(|b| {
                b.source == source
                    && (websocket || crate::push::push_params(&b.contact_uri).is_some())
            });
            for b in flow_bound {
                let key = (aor.clone(), b.contact_uri.clone(), source.clone());
                if !flow.contains(&key) {
                    flow.push(key);
                }
            }
        }
        let mut resp = Response::for_request(req, 200, "OK");
        for b in &current {
            let remaining = (b.expires_at_unix - now_unix).max(0);
            resp.headers.push(
                HeaderName::Contact,
                format!("<{}>;expires={remaining}", b.contact_uri),
            );
        }
        self.location.replace(&aor, current);
        self.schedule(&aor);
        self.stats.accepted += 1;
        resp
    }
}
