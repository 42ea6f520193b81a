//! The UAS checks of RFC 3261 §8.2 that come before any method-specific work, in the RFC's order.

use sip_message::{HeaderName, Method, Request, SipHeaders, Uri};

/// Extensions this node implements (for Require).
pub const SUPPORTED_EXTENSIONS: &[&str] = &["path", "timer", "100rel"];
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, REFER, UPDATE, PRACK, INFO";
pub const ACCEPT: &str = "application/sdp";

/// A rejection: status, reason, and headers to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub reason: &'static str,
    pub headers: Vec<(HeaderName, String)>,
}

fn reject(status: u16, reason: &'static str) -> Option<Rejection> {
    Some(Rejection {
        status,
        reason,
        headers: Vec::new(),
    })
}

/// Returns the first reason to refuse `req`, or `None` if method handling may proceed.
pub fn check_request(req: &Request) -> Option<Rejection> {
    if req.version != sip_message::Version::SIP_2_0 {
        return reject(505, "Version Not Supported");
    }
    for name in [
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ] {
        match req.headers.count(&name) {
            0 => return reject(400, "Missing Required Header"),
            1 => {}
            _ => return reject(400, "Duplicate Single-Valued Header"),
        }
    }
    for name in [
        HeaderName::MaxForwards,
        HeaderName::ContentLength,
        HeaderName::ContentType,
        HeaderName::Expires,
    ] {
        if req.headers.count(&name) > 1 {
            return reject(400, "Duplicate Single-Valued Header");
        }
    }
    let cseq = req.cseq()?;
    if cseq.method != req.method {
        return reject(400, "CSeq Method Does Not Match");
    }
    match &req.uri {
        Uri::Sip(_) => {}
        Uri::Other { scheme, .. } if scheme.eq_ignore_ascii_case("tel") => {}
        Uri::Other { .. } => return reject(416, "Unsupported URI Scheme"),
    }
    if matches!(req.method, Method::Ack | Method::Cancel) {
        return None;
    }
    if req.max_forwards() == Some(0) && !matches!(req.method, Method::Options | Method::Register) {
        return reject(483, "Too Many Hops");
    }
    let unsupported: Vec<String> = req
        .headers
        .get_all(&HeaderName::Require)
        .flat_map(|v| sip_message::typed::parse_token_list(v))
        .filter(|t| {
            !SUPPORTED_EXTENSIONS
                .iter()
                .any(|s| s.as_bytes().eq_ignore_ascii_case(t))
        })
        .map(|t| String::from_utf8_lossy(t).into_owned())
        .collect();
    if !unsupported.is_empty() {
        return Some(Rejection {
            status: 420,
            reason: "Bad Extension",
            headers: vec![(HeaderName::Unsupported, unsupported.join(", "))],
        });
    }
    if !req.body.is_empty() {
        let ctype = req.headers.get(&HeaderName::ContentType).unwrap_or(b"");
        let base = ctype.split(|&b| b == b';').next().unwrap_or(b"");
        let base = sip_message::typed::parse_token_list(base)
            .first()
            .copied()
            .unwrap_or(b"");
        // INFO's DTMF bodies are read by the B2BUA (which answers 415 itself to other INFO bodies).
        let understood = base.eq_ignore_ascii_case(b"application/sdp")
            || base.eq_ignore_ascii_case(b"multipart/mixed")
            || base.eq_ignore_ascii_case(b"multipart/alternative")
            || req.method == Method::Info;
        if !understood {
            return Some(Rejection {
                status: 415,
                reason: "Unsupported Media Type",
                headers: vec![(HeaderName::Accept, ACCEPT.to_string())],
            });
        }
    }
    None
}
