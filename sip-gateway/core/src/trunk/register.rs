//! One trunk's outbound registration (RFC 3261 §10.2): REGISTER, digest answer, refresh, backoff,
//! and Expires: 0 on the way out.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use sip_message::{Contacts, HeaderName, Method, Request, Response, SipHeaders, Uri};

use super::digest::{authorization, Answer, Challenge};
use super::{
    build_request, token, transport_param, Outgoing, RegistrationConfig, RegistrationState,
    TrunkConfig, TrunkCoreConfig,
};
use crate::transaction::TxKey;
use crate::transport::Peer;

/// Longest expiry taken from a 423's Min-Expires: more is a carrier's typo.
const MAX_EXPIRES: u32 = 86_400;

/// What a registration wants after an answer.
pub(super) enum Next {
    Send(Box<Request>, TxKey),
    /// Nothing now: a timer brings the next attempt.
    Wait,
    /// A retiring registration is finished.
    Done,
}

pub(super) struct Registration {
    cfg: RegistrationConfig,
    pub(super) peer: Peer,
    /// `sip:host:port` as sent, which the digest `uri` must repeat exactly.
    request_uri: String,
    aor: String,
    contact: String,
    call_id: String,
    from_tag: String,
    cseq: u32,
    pub(super) state: RegistrationState,
    expires: u32,
    next_at: Option<Instant>,
    pub(super) in_flight: Option<TxKey>,
    failures: u32,
    /// The request in flight answered a challenge: another challenge means wrong credentials.
    answered: bool,
    unregistering: bool,
}

impl Registration {
    /// `None` when the trunk's address is not resolved or its URI does not parse.
    pub(super) fn new(
        now: Instant,
        trunk: &TrunkConfig,
        cfg: RegistrationConfig,
        core: &TrunkCoreConfig,
        rng: &mut StdRng,
    ) -> Option<Registration> {
        let peer = trunk.peer()?;
        let request_uri = Uri::parse(trunk.server_uri().as_bytes()).ok()?.to_string();
        let aor = format!("sip:{}@{}", cfg.username, trunk.uri_host());
        let contact = format!(
            "<sip:{}@{}{}>",
            cfg.username,
            core.local,
            transport_param(trunk.transport)
        );
        Some(Registration {
            peer,
            request_uri,
            aor,
            contact,
            call_id: format!("{}@switchboard", token(rng)),
            from_tag: token(rng),
            cseq: 0,
            state: RegistrationState::Unregistered,
            expires: if cfg.expires == 0 {
                super::DEFAULT_REGISTER_EXPIRES
            } else {
                cfg.expires
            },
            next_at: Some(now),
            in_flight: None,
            failures: 0,
            answered: false,
            unregistering: false,
            cfg,
        })
    }

    pub(super) fn due(&self, now: Instant) -> bool {
        !self.unregistering && self.in_flight.is_none() && self.next_at.is_some_and(|t| t <= now)
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        if self.in_flight.is_some() || self.unregistering {
            None
        } else {
            self.next_at
        }
    }

    /// Whether the carrier may hold a binding of ours (so removal must send Expires: 0).
    pub(super) fn may_be_bound(&self) -> bool {
        matches!(self.state, RegistrationState::Registered { .. }) || self.in_flight.is_some()
    }

    /// A REGISTER (with credentials when `auth` is given); it is now in flight.
    pub(super) fn register(
        &mut self,
        _now: Instant,
        core: &TrunkCoreConfig,
        rng: &mut StdRng,
        auth: Option<(HeaderName, String)>,
    ) -> Option<(Request, TxKey)> {
        if !matches!(self.state, RegistrationState::Registered { .. }) {
            self.state = RegistrationState::Registering;
        }
        self.answered = auth.is_some();
        self.next_at = None;
        let expires = if self.unregistering { 0 } else { self.expires };
        self.cseq += 1;
        let mut extra = vec![
            (HeaderName::Contact, self.contact.clone()),
            (HeaderName::Expires, expires.to_string()),
        ];
        extra.extend(auth);
        let (req, key) = build_request(
            core,
            rng,
            Outgoing {
                method: Method::Register,
                uri: &self.request_uri,
                from: format!("<{}>;tag={}", self.aor, self.from_tag),
                to: format!("<{}>", self.aor),
                call_id: &self.call_id,
                cseq: self.cseq,
                transport: self.peer.transport,
                extra,
            },
        )?;
        self.in_flight = Some(key.clone());
        Some((req, key))
    }

    /// Starts taking the binding down (Expires: 0).
    pub(super) fn unregister(
        &mut self,
        now: Instant,
        core: &TrunkCoreConfig,
        rng: &mut StdRng,
    ) -> Option<(Request, TxKey)> {
        self.unregistering = true;
        self.register(now, core, rng, None)
    }

    pub(super) fn on_timeout(&mut self, now: Instant, core: &TrunkCoreConfig) -> Next {
        self.fail(now, 408, core)
    }

    /// A final response to the REGISTER in flight.
    pub(super) fn on_response(
        &mut self,
        now: Instant,
        resp: &Response,
        core: &TrunkCoreConfig,
        rng: &mut StdRng,
    ) -> Next {
        match resp.status {
            200..=299 => {
                if self.unregistering {
                    self.state = RegistrationState::Unregistered;
                    return Next::Done;
                }
                let granted = self.granted_expires(resp);
                self.state = RegistrationState::Registered {
                    until: now + Duration::from_secs(granted.into()),
                };
                self.failures = 0;
                self.next_at = Some(now + refresh_after(granted));
                Next::Wait
            }
            401 | 407 => {
                let (challenge_header, answer_header) = if resp.status == 401 {
                    (HeaderName::WwwAuthenticate, HeaderName::Authorization)
                } else {
                    (
                        HeaderName::ProxyAuthenticate,
                        HeaderName::ProxyAuthorization,
                    )
                };
                let challenge = Challenge::best(resp.headers.get_all(&challenge_header));
                let Some(ch) = challenge.filter(|c| !self.answered || c.stale) else {
                    return self.fail(now, resp.status, core);
                };
                let cnonce = token(rng);
                let value = authorization(
                    &ch,
                    &Answer {
                        username: &self.cfg.username,
                        password: &self.cfg.password,
                        realm: self.cfg.realm.as_deref(),
                        method: "REGISTER",
                        uri: &self.request_uri,
                        cnonce: &cnonce,
                        nc: 1,
                    },
                );
                match self.register(now, core, rng, Some((answer_header, value))) {
                    Some((req, key)) => Next::Send(Box::new(req), key),
                    None => self.fail(now, resp.status, core),
                }
            }
            423 => {
                let min = resp
                    .headers
                    .get(&HeaderName::MinExpires)
                    .and_then(|v| {
                        sip_message::typed::parse_number(v, "Min-Expires", MAX_EXPIRES.into()).ok()
                    })
                    .and_then(|v| u32::try_from(v).ok());
                match min.filter(|&m| m > self.expires && !self.unregistering) {
                    Some(m) => {
                        self.expires = m;
                        match self.register(now, core, rng, None) {
                            Some((req, key)) => Next::Send(Box::new(req), key),
                            None => self.fail(now, 423, core),
                        }
                    }
                    None => self.fail(now, 423, core),
                }
            }
            status => self.fail(now, status, core),
        }
    }

    fn fail(&mut self, now: Instant, status: u16, core: &TrunkCoreConfig) -> Next {
        self.answered = false;
        if self.unregistering {
            return Next::Done;
        }
        self.failures = self.failures.saturating_add(1);
        let delay = if status == 403 {
            core.forbidden_retry
        } else {
            backoff(core, self.failures)
        };
        let retry_at = now + delay;
        tracing::info!(status, retry_in = ?delay, aor = %self.aor, "trunk registration failed");
        self.state = RegistrationState::Failed { status, retry_at };
        self.next_at = Some(retry_at);
        Next::Wait
    }

    /// What the registrar granted: our Contact's `expires`, else the Expires header, else what we
    /// asked for.
    fn granted_expires(&self, resp: &Response) -> u32 {
        let ours = self.contact.trim_start_matches('<').trim_end_matches('>');
        let ours = Uri::parse(ours.as_bytes()).ok().map(|u| u.to_string());
        let from_contact = match resp.contacts() {
            Ok(Contacts::List(list)) => list
                .iter()
                .find(|c| Some(c.uri.to_string()) == ours)
                .and_then(|c| c.params.get_value("expires"))
                .and_then(|e| e.parse::<u32>().ok()),
            _ => None,
        };
        let from_header = || {
            resp.headers
                .get(&HeaderName::Expires)
                .and_then(|v| {
                    sip_message::typed::parse_number(v, "Expires", MAX_EXPIRES.into()).ok()
                })
                .and_then(|v| u32::try_from(v).ok())
        };
        from_contact
            .or_else(from_header)
            .filter(|&e| e > 0)
            .unwrap_or(self.expires)
            .min(MAX_EXPIRES)
    }
}

/// 30 s, 60 s, 120 s … up to the cap.
fn backoff(core: &TrunkCoreConfig, failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    core.retry_base.saturating_mul(factor).min(core.retry_max)
}

/// When to refresh a binding granted for `granted` seconds: at 80%, but at least 32 s (Timer F)
/// before it ends, and never before half of it.
pub(super) fn refresh_after(granted: u32) -> Duration {
    let g = u64::from(granted);
    let secs = (g * 4 / 5).min(g.saturating_sub(32)).max(g / 2).max(1);
    Duration::from_secs(secs)
}
