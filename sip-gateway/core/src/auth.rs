//! HTTP Digest for SIP (RFC 3261 §22, RFC 7616, RFC 8760): MD5 and SHA-256 with `qop=auth`.
//!
//! Nonces are stateless: `<issued unix ms, hex><HMAC-SHA256(secret, issued|realm), first 16 bytes hex>`.
//! A nonce proves it was issued by this node (or any node sharing the secret) and when, so expiry and
//! `stale=true` need no per-nonce memory — which keeps REGISTER floods from growing state.

use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use sip_message::AuthHeader;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    Md5,
    Sha256,
}

impl DigestAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }

    pub fn parse(s: &str) -> Option<DigestAlgorithm> {
        if s.eq_ignore_ascii_case("MD5") {
            Some(DigestAlgorithm::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Some(DigestAlgorithm::Sha256)
        } else {
            None
        }
    }

    pub fn hash_hex(self, data: &[u8]) -> String {
        match self {
            DigestAlgorithm::Md5 => hex::encode(Md5::digest(data)),
            DigestAlgorithm::Sha256 => hex::encode(Sha256::digest(data)),
        }
    }
}

/// `H(username:realm:password)` — what the database stores instead of a password.
pub fn ha1(alg: DigestAlgorithm, username: &str, realm: &str, password: &str) -> String {
    alg.hash_hex(format!("{username}:{realm}:{password}").as_bytes())
}

/// The stored secrets of one user: HA1 for each algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSecrets {
    pub ha1_md5: String,
    pub ha1_sha256: String,
}

impl UserSecrets {
    pub fn from_password(username: &str, realm: &str, password: &str) -> Self {
        UserSecrets {
            ha1_md5: ha1(DigestAlgorithm::Md5, username, realm, password),
            ha1_sha256: ha1(DigestAlgorithm::Sha256, username, realm, password),
        }
    }

    pub fn ha1(&self, alg: DigestAlgorithm) -> &str {
        match alg {
            DigestAlgorithm::Md5 => &self.ha1_md5,
            DigestAlgorithm::Sha256 => &self.ha1_sha256,
        }
    }
}

/// Issues and checks nonces.
#[derive(Debug, Clone)]
pub struct NonceFactory {
    secret: [u8; 32],
    /// How long a nonce is accepted, in milliseconds.
    ttl_ms: u64,
}

/// The outcome of checking a nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    Valid,
    /// Issued by us but expired: re-challenge with `stale=true` (the client's password was right).
    Stale,
    /// Not ours.
    Invalid,
}

impl NonceFactory {
    pub fn new(secret: [u8; 32], ttl_secs: u64) -> Self {
        NonceFactory {
            secret,
            ttl_ms: ttl_secs * 1000,
        }
    }

    fn mac(&self, issued_ms: u64, realm: &str, bound_to: &[u8]) -> String {
        // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
        let mut mac = match HmacSha256::new_from_slice(&self.secret) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(&issued_ms.to_be_bytes());
        mac.update(realm.as_bytes());
        if !bound_to.is_empty() {
            // The separator keeps a bound nonce from ever checking as an unbound one (and back).
            mac.update(b"\0bound\0");
            mac.update(bound_to);
        }
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    pub fn issue(&self, now_unix_ms: u64, realm: &str) -> String {
        format!("{now_unix_ms:012x}{}", self.mac(now_unix_ms, realm, b""))
    }

    /// A nonce that checks only together with `bound_to` (a call's Call-ID): credentials computed
    /// with it are worthless for any other call, without the node remembering the nonce. `serial`
    /// makes two nonces issued in the same millisecond for the same call differ, so their nonce
    /// counts are told apart.
    pub fn issue_bound(
        &self,
        now_unix_ms: u64,
        realm: &str,
        bound_to: &[u8],
        serial: u32,
    ) -> String {
        let stamp = format!("{now_unix_ms:012x}{serial:08x}");
        let mac = self.mac(now_unix_ms, realm, &bound(stamp.as_bytes(), bound_to));
        format!("{stamp}{mac}")
    }

    pub fn check(&self, nonce: &str, now_unix_ms: u64, realm: &str) -> NonceCheck {
        if nonce.len() != 44 || !nonce.is_ascii() {
            return NonceCheck::Invalid;
        }
        let (ts, mac) = nonce.split_at(12);
        self.check_parts(ts, mac, now_unix_ms, realm, b"")
    }

    /// Checks a nonce from [`NonceFactory::issue_bound`] against the same `bound_to`.
    pub fn check_bound(
        &self,
        nonce: &str,
        now_unix_ms: u64,
        realm: &str,
        bound_to: &[u8],
    ) -> NonceCheck {
        if nonce.len() != 52 || !nonce.is_ascii() {
            return NonceCheck::Invalid;
        }
        let (stamp, mac) = nonce.split_at(20);
        let binding = bound(stamp.as_bytes(), bound_to);
        self.check_parts(&stamp[..12], mac, now_unix_ms, realm, &binding)
    }

    fn check_parts(
        &self,
        ts: &str,
        mac: &str,
        now_unix_ms: u64,
        realm: &str,
        bound_to: &[u8],
    ) -> NonceCheck {
        let Ok(issued) = u64::from_str_radix(ts, 16) else {
            return NonceCheck::Invalid;
        };
        // Constant-time comparison is unnecessary for a MAC we recompute, but keep it cheap and exact.
        if self.mac(issued, realm, bound_to) != mac {
            return NonceCheck::Invalid;
        }
        if now_unix_ms.saturating_sub(issued) > self.ttl_ms || issued > now_unix_ms + 60_000 {
            NonceCheck::Stale
        } else {
            NonceCheck::Valid
        }
    }
}

/// What a bound nonce's MAC covers besides time and realm: its stamp (time and serial) and the
/// binding. Never empty, so a bound nonce never checks as an unbound one.
fn bound(stamp: &[u8], bound_to: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(stamp.len() + 1 + bound_to.len());
    v.extend_from_slice(stamp);
    v.push(b':');
    v.extend_from_slice(bound_to);
    v
}

/// A `WWW-Authenticate` value for `alg`.
pub fn challenge(realm: &str, nonce: &str, alg: DigestAlgorithm, stale: bool) -> String {
    let stale = if stale { ", stale=true" } else { "" };
    format!(
        "Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{stale}",
        alg.name()
    )
}

/// Digest credentials from an Authorization header, with the fields the check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCredentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: DigestAlgorithm,
    pub qop: Option<String>,
    pub nc: Option<String>,
    pub cnonce: Option<String>,
}

impl DigestCredentials {
    /// `None` if the header is not Digest, uses an unknown algorithm, or misses a required field.
    pub fn from_header(h: &AuthHeader) -> Option<DigestCredentials> {
        if !h.scheme.eq_ignore_ascii_case("Digest") {
            return None;
        }
        let algorithm = match h.param("algorithm") {
            None => DigestAlgorithm::Md5,
            Some(a) => DigestAlgorithm::parse(a)?,
        };
        Some(DigestCredentials {
            username: h.param("username")?.to_string(),
            realm: h.param("realm")?.to_string(),
            nonce: h.param("nonce")?.to_string(),
            uri: h.param("uri")?.to_string(),
            response: h.param("response")?.to_ascii_lowercase(),
            algorithm,
            qop: h.param("qop").map(str::to_string),
            nc: h.param("nc").map(str::to_string),
            cnonce: h.param("cnonce").map(str::to_string),
        })
    }

    /// The response value a client knowing `ha1` would compute for `method`.
    pub fn expected_response(&self, ha1: &str, method: &str) -> Option<String> {
        let alg = self.algorithm;
        let ha2 = alg.hash_hex(format!("{method}:{}", self.uri).as_bytes());
        match self.qop.as_deref() {
            Some(q) if q.eq_ignore_ascii_case("auth") => {
                let nc = self.nc.as_deref()?;
                let cnonce = self.cnonce.as_deref()?;
                Some(
                    alg.hash_hex(
                        format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce).as_bytes(),
                    ),
                )
            }
            // RFC 2069 compatibility: no qop.
            None => Some(alg.hash_hex(format!("{ha1}:{}:{ha2}", self.nonce).as_bytes())),
            Some(_) => None,
        }
    }

    pub fn verify(&self, secrets: &UserSecrets, method: &str) -> bool {
        self.expected_response(secrets.ha1(self.algorithm), method)
            .is_some_and(|r| r == self.response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_md5_example() {
        // RFC 2617 §3.5: Mufasa / Circle Of Life.
        let creds = DigestCredentials {
            username: "Mufasa".into(),
            realm: "testrealm@host.com".into(),
            nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093".into(),
            uri: "/dir/index.html".into(),
            response: "6629fae49393a05397450978507c4ef1".into(),
            algorithm: DigestAlgorithm::Md5,
            qop: Some("auth".into()),
            nc: Some("00000001".into()),
            cnonce: Some("0a4f113b".into()),
        };
        let secrets = UserSecrets::from_password("Mufasa", "testrealm@host.com", "Circle Of Life");
        assert!(creds.verify(&secrets, "GET"));
        let wrong = UserSecrets::from_password("Mufasa", "testrealm@host.com", "circle of life");
        assert!(!creds.verify(&wrong, "GET"));
    }

    #[test]
    fn rfc7616_sha256_example() {
        // RFC 7616 §3.9.1: the SHA-256 response for Mufasa.
        let creds = DigestCredentials {
            username: "Mufasa".into(),
            realm: "http-auth@example.org".into(),
            nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v".into(),
            uri: "/dir/index.html".into(),
            response: "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1".into(),
            algorithm: DigestAlgorithm::Sha256,
            qop: Some("auth".into()),
            nc: Some("00000001".into()),
            cnonce: Some("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ".into()),
        };
        let secrets =
            UserSecrets::from_password("Mufasa", "http-auth@example.org", "Circle of Life");
        assert!(creds.verify(&secrets, "GET"));
    }

    #[test]
    fn nonce_lifecycle() {
        let f = NonceFactory::new([7; 32], 300);
        let n = f.issue(1_000_000, "r");
        assert_eq!(f.check(&n, 1_000_000 + 299_000, "r"), NonceCheck::Valid);
        assert_eq!(f.check(&n, 1_000_000 + 301_000, "r"), NonceCheck::Stale);
        assert_eq!(f.check(&n, 1_000_000, "other"), NonceCheck::Invalid);
        let other = NonceFactory::new([8; 32], 300);
        assert_eq!(other.check(&n, 1_000_000, "r"), NonceCheck::Invalid);
        assert_eq!(f.check("garbage", 1_000_000, "r"), NonceCheck::Invalid);
    }

    #[test]
    fn a_bound_nonce_checks_only_with_what_it_was_bound_to() {
        let f = NonceFactory::new([7; 32], 30);
        let n = f.issue_bound(1_000_000, "r", b"call-1", 1);
        assert_ne!(
            n,
            f.issue_bound(1_000_000, "r", b"call-1", 2),
            "serials differ"
        );
        assert_eq!(
            f.check_bound(&n, 1_000_000, "r", b"call-1"),
            NonceCheck::Valid
        );
        assert_eq!(
            f.check_bound(&n, 1_000_000, "r", b"call-2"),
            NonceCheck::Invalid
        );
        assert_eq!(f.check(&n, 1_000_000, "r"), NonceCheck::Invalid);
        let unbound = f.issue(1_000_000, "r");
        assert_eq!(
            f.check_bound(&unbound, 1_000_000, "r", b"call-1"),
            NonceCheck::Invalid
        );
        assert_eq!(
            f.check_bound(&n, 1_031_000, "r", b"call-1"),
            NonceCheck::Stale
        );
    }
}
