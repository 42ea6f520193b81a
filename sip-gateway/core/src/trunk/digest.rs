//! The client side of HTTP Digest (RFC 3261 §22.2, RFC 7616, RFC 8760): reading a carrier's
//! challenge and answering it. The hashing is [`crate::auth`]'s, so both sides compute alike.

use sip_message::AuthHeader;

use crate::auth::{ha1, DigestAlgorithm};

/// A Digest challenge we know how to answer (MD5 or SHA-256; `qop=auth` or none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    pub algorithm: DigestAlgorithm,
    /// The server offered `qop=auth`: the answer carries cnonce and nc.
    pub qop_auth: bool,
    /// `stale=true`: our last credentials were right, only the nonce expired.
    pub stale: bool,
}

impl Challenge {
    /// `None` for other schemes, unknown algorithms (MD5-sess …) or a qop list without `auth`.
    pub fn parse(value: &[u8]) -> Option<Challenge> {
        let h = AuthHeader::parse(value).ok()?;
        if !h.scheme.eq_ignore_ascii_case("Digest") {
            return None;
        }
        let algorithm = match h.param("algorithm") {
            None => DigestAlgorithm::Md5,
            Some(a) => DigestAlgorithm::parse(a)?,
        };
        let qop_auth = match h.param("qop") {
            None => false,
            Some(list) => {
                if !list
                    .split(',')
                    .any(|q| q.trim().eq_ignore_ascii_case("auth"))
                {
                    return None;
                }
                true
            }
        };
        Some(Challenge {
            realm: h.param("realm")?.to_string(),
            nonce: h.param("nonce")?.to_string(),
            opaque: h.param("opaque").map(str::to_string),
            algorithm,
            qop_auth,
            stale: h
                .param("stale")
                .is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// The strongest answerable challenge among several header values (SHA-256 before MD5).
    pub fn best<'a>(values: impl Iterator<Item = &'a [u8]>) -> Option<Challenge> {
        let mut found: Vec<Challenge> = values.filter_map(Challenge::parse).collect();
        found.sort_by_key(|c| match c.algorithm {
            DigestAlgorithm::Sha256 => 0,
            DigestAlgorithm::Md5 => 1,
        });
        found.into_iter().next()
    }
}

/// What the answer to one challenge needs besides the challenge.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    pub username: &'a str,
    pub password: &'a str,
    /// Overrides the challenge's realm in the hash (carriers whose realm differs from what they
    /// announce); the header still names the challenge's realm.
    pub realm: Option<&'a str>,
    pub method: &'a str,
    /// The Request-URI exactly as sent.
    pub uri: &'a str,
    pub cnonce: &'a str,
    pub nc: u32,
}

/// The `response` value: `H(HA1:nonce:nc:cnonce:auth:HA2)`, or `H(HA1:nonce:HA2)` without qop.
pub fn response(ch: &Challenge, a: &Answer<'_>) -> String {
    let alg = ch.algorithm;
    let realm = a.realm.unwrap_or(&ch.realm);
    let ha1 = ha1(alg, a.username, realm, a.password);
    let ha2 = alg.hash_hex(format!("{}:{}", a.method, a.uri).as_bytes());
    if ch.qop_auth {
        let nc = format!("{:08x}", a.nc);
        alg.hash_hex(format!("{ha1}:{}:{nc}:{}:auth:{ha2}", ch.nonce, a.cnonce).as_bytes())
    } else {
        alg.hash_hex(format!("{ha1}:{}:{ha2}", ch.nonce).as_bytes())
    }
}

/// The value of the Authorization (or Proxy-Authorization) header answering `ch`.
pub fn authorization(ch: &Challenge, a: &Answer<'_>) -> String {
    let mut v = format!(
        "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\", response=\"{}\", algorithm={}",
        quote(a.username),
        quote(&ch.realm),
        quote(&ch.nonce),
        quote(a.uri),
        response(ch, a),
        ch.algorithm.name()
    );
    if ch.qop_auth {
        v.push_str(&format!(
            ", cnonce=\"{}\", qop=auth, nc={:08x}",
            quote(a.cnonce),
            a.nc
        ));
    }
    if let Some(opaque) = &ch.opaque {
        v.push_str(&format!(", opaque=\"{}\"", quote(opaque)));
    }
    v
}

/// Escapes a quoted-string's content (RFC 3261 §25.1).
fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
