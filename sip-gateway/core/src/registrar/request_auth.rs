//! Who sent a request that starts or changes a call (INVITE, REFER, in-dialog requests from an
//! unexpected source): a phone must prove it with digest credentials, answered to a 407 challenge.
//!
//! A UDP source address proves nothing (it is trivially forged, and behind a NAT it is shared), so
//! the address a user registered from is never believed by itself. What is:
//! - digest credentials whose nonce is bound to the request's Call-ID (so a captured
//!   `Proxy-Authorization` is worthless for another call) and whose nonce count was not used before
//!   (so it is worthless for this call too): one extra round trip per call, no state per challenge;
//! - a stream connection (TCP, TLS) over which the user registered with digest: requests on it are
//!   the user's until it closes — forging them would mean taking over the connection;
//! - a source in `trusted_sources`: an SBC or edge proxy that authenticated the phone itself; the
//!   From user names the caller.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sip_message::{Request, Response, SipHeaders};

use super::{AuthResult, Challenge, Registrar};
use crate::auth::DigestCredentials;
use crate::location::LocationStore;
use crate::transport::{ConnectionId, Peer};

/// How long a 407 nonce is accepted: phones answer a challenge at once, and every second of
/// lifetime is a second of remembered nonce counts.
pub(crate) const REQUEST_NONCE_TTL_SECS: u64 = 30;

/// Nonce counts remembered at most; past it (a flood of answered challenges) the oldest are not
/// evicted, new credentials are challenged again instead, so replay protection never lapses.
const MAX_TRACKED_NONCES: usize = 200_000;

/// What to do with a request that needs an authenticated user.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestAuth {
    /// Sent by this user.
    User(String),
    /// Answer with this (407 challenge, 403 wrong credentials, 404 unknown user).
    Respond(Response),
    /// A banned source: send nothing.
    Ignore,
}

/// What a request nonce is bound to: its Call-ID.
pub(crate) fn request_binding(req: &Request) -> &[u8] {
    req.call_id().unwrap_or("").as_bytes()
}

/// The highest nonce count seen per request nonce, until the nonce expires. Only credentials that
/// verified are recorded, so an attacker without a password cannot grow it.
#[derive(Debug, Default)]
pub(crate) struct NonceUses {
    seen: HashMap<String, (u32, Instant)>,
}

impl NonceUses {
    /// Records `creds`' nonce count; `false` when it is not above the highest seen with that nonce
    /// (a replay), or when the table is full. Credentials without `qop` carry no count: their nonce
    /// is good once.
    pub(crate) fn first_use(&mut self, now: Instant, creds: &DigestCredentials) -> bool {
        let nc = match creds.nc.as_deref() {
            Some(text) => match u32::from_str_radix(text, 16) {
                Ok(n) if n > 0 => n,
                _ => return false,
            },
            None => 1,
        };
        if let Some((highest, _)) = self.seen.get_mut(&creds.nonce) {
            if nc <= *highest {
                return false;
            }
            *highest = nc;
            return true;
        }
        if self.seen.len() >= MAX_TRACKED_NONCES {
            self.sweep(now);
            if self.seen.len() >= MAX_TRACKED_NONCES {
                return false;
            }
        }
        let forget_at = now + Duration::from_secs(REQUEST_NONCE_TTL_SECS + 60);
        self.seen.insert(creds.nonce.clone(), (nc, forget_at));
        true
    }

    /// Forgets nonces that can no longer be accepted anyway.
    pub(crate) fn sweep(&mut self, now: Instant) {
        self.seen.retain(|_, (_, forget_at)| *forget_at > now);
    }
}

impl<L: LocationStore> Registrar<L> {
    /// Decides who sent `req`, a request from a phone that starts or changes a call: a user, or the
    /// response that asks for (or refuses) credentials. Failures count towards the source's ban.
    pub fn authorize_request(
        &mut self,
        now: Instant,
        now_unix_ms: u64,
        req: &Request,
        peer: &Peer,
    ) -> RequestAuth {
        if self.is_banned(now, peer) {
            self.stats.ignored += 1;
            return RequestAuth::Ignore;
        }
        if self.cfg.is_trusted(peer.addr.ip()) {
            let from_user = req
                .from()
                .and_then(|f| f.uri().ok()?.as_sip()?.user_unescaped())
                .map(|u| String::from_utf8_lossy(&u).into_owned());
            return match from_user {
                Some(u) if self.users.contains_key(&u) => RequestAuth::User(u),
                _ => RequestAuth::Respond(Response::for_request(req, 404, "Not Found")),
            };
        }
        if let Some(user) = peer.connection.and_then(|id| self.connections.get(&id)) {
            self.stats.trusted_connection_requests += 1;
            return RequestAuth::User(user.clone());
        }
        match self.authenticate(now, now_unix_ms, req, peer, Challenge::Request) {
            AuthResult::Ok(user) => RequestAuth::User(user),
            AuthResult::Respond(r) => RequestAuth::Respond(r),
        }
    }

    /// The stream connection `id` closed: what a user proved on it ends with it, and so do the
    /// registrations made over it when it was a WebSocket or they carry push parameters.
    pub fn connection_closed(&mut self, id: ConnectionId) {
        self.connections.remove(&id);
        self.end_flow_bindings(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::DigestAlgorithm;

    fn creds(nonce: &str, nc: Option<&str>) -> DigestCredentials {
        DigestCredentials {
            username: "1002".into(),
            realm: "switchboard".into(),
            nonce: nonce.into(),
            uri: "sip:1003@h".into(),
            response: String::new(),
            algorithm: DigestAlgorithm::Md5,
            qop: nc.map(|_| "auth".into()),
            nc: nc.map(str::to_string),
            cnonce: nc.map(|_| "c".into()),
        }
    }

    #[test]
    fn a_nonce_count_is_good_once_and_must_rise() {
        let now = Instant::now();
        let mut uses = NonceUses::default();
        assert!(uses.first_use(now, &creds("n1", Some("00000001"))));
        assert!(
            !uses.first_use(now, &creds("n1", Some("00000001"))),
            "replayed"
        );
        assert!(
            uses.first_use(now, &creds("n1", Some("00000003"))),
            "a later request"
        );
        assert!(
            !uses.first_use(now, &creds("n1", Some("00000002"))),
            "older than seen"
        );
        assert!(
            uses.first_use(now, &creds("n2", Some("00000001"))),
            "another nonce"
        );
        for bad in ["0", "zz", "100000000"] {
            assert!(!uses.first_use(now, &creds("n3", Some(bad))), "{bad}");
        }
        // Without qop there is no count: the nonce itself is good once.
        assert!(uses.first_use(now, &creds("n4", None)));
        assert!(!uses.first_use(now, &creds("n4", None)));
    }

    #[test]
    fn counts_are_forgotten_once_their_nonce_has_expired() {
        let now = Instant::now();
        let mut uses = NonceUses::default();
        assert!(uses.first_use(now, &creds("n1", Some("00000001"))));
        uses.sweep(now + Duration::from_secs(REQUEST_NONCE_TTL_SECS));
        assert_eq!(
            uses.seen.len(),
            1,
            "kept while the nonce may still be accepted"
        );
        uses.sweep(now + Duration::from_secs(REQUEST_NONCE_TTL_SECS + 61));
        assert!(uses.seen.is_empty());
    }
}
