use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::ParseError;
use crate::params::{Param, Params};
use crate::scan::{escapes_valid, unescape};

/// A host as it appears in a SIP URI or Via `sent-by`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Domain(String),
    Ipv4(Ipv4Addr),
    Ipv6(Ipv6Addr),
}

impl Host {
    pub fn parse(s: &[u8]) -> Result<Host, ParseError> {
        if s.first() == Some(&b'[') {
            let inner = s
                .strip_prefix(b"[")
                .and_then(|s| s.strip_suffix(b"]"))
                .ok_or(ParseError::Uri("unterminated IPv6 reference"))?;
            let text = std::str::from_utf8(inner).map_err(|_| ParseError::Uri("bad IPv6"))?;
            return text
                .parse()
                .map(Host::Ipv6)
                .map_err(|_| ParseError::Uri("bad IPv6 address"));
        }
        if s.is_empty() || s.len() > 255 {
            return Err(ParseError::Uri("bad host length"));
        }
        if !s
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
        {
            return Err(ParseError::Uri("bad character in host"));
        }
        // Only ASCII is left, so the conversion cannot fail.
        let text = String::from_utf8_lossy(s);
        if s.iter().all(|&b| b.is_ascii_digit() || b == b'.') {
            if let Ok(ip) = text.parse::<Ipv4Addr>() {
                return Ok(Host::Ipv4(ip));
            }
        }
        Ok(Host::Domain(text.into_owned()))
    }

    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Ipv4(a) => Some(IpAddr::V4(*a)),
            Host::Ipv6(a) => Some(IpAddr::V6(*a)),
            Host::Domain(_) => None,
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Host::Ipv4(a),
            IpAddr::V6(a) => Host::Ipv6(a),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

/// A `sip:` or `sips:` URI. User, password, parameters and headers are kept escaped, exactly as written, so
/// a printed URI matches what was received; [`SipUri::user_unescaped`] decodes when a comparison needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    pub secure: bool,
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
    /// The raw `hname=hvalue&…` part after `?`.
    pub headers: Option<String>,
}

impl SipUri {
    pub fn new(user: Option<&str>, host: Host, port: Option<u16>) -> Self {
        SipUri {
            secure: false,
            user: user.map(str::to_string),
            password: None,
            host,
            port,
            params: Params::default(),
            headers: None,
        }
    }

    pub fn user_unescaped(&self) -> Option<Vec<u8>> {
        self.user.as_deref().map(unescape)
    }
}

/// Any URI: SIP/SIPS parsed into parts, every other scheme (tel, http, urn…) kept as scheme + opaque text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    Sip(SipUri),
    Other { scheme: String, opaque: String },
}

impl Uri {
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            Uri::Other { .. } => None,
        }
    }

    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Other { scheme, .. } => scheme,
        }
    }

    /// Parses a complete URI (no surrounding `<>`, no trailing header parameters).
    pub fn parse(s: &[u8]) -> Result<Uri, ParseError> {
        let colon = memchr::memchr(b':', s).ok_or(ParseError::Uri("no scheme"))?;
        let scheme = s.get(..colon).unwrap_or(&[]);
        let rest = s.get(colon + 1..).unwrap_or(&[]);
        let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err(ParseError::Uri("bad scheme"));
        }
        if scheme.eq_ignore_ascii_case(b"sip") || scheme.eq_ignore_ascii_case(b"sips") {
            parse_sip(rest, scheme.len() == 4).map(Uri::Sip)
        } else {
            if rest.is_empty()
                || rest
                    .iter()
                    .any(|&b| b <= b' ' || matches!(b, b'<' | b'>' | b'"') || b == 0x7f)
            {
                return Err(ParseError::Uri("bad opaque URI"));
            }
            Ok(Uri::Other {
                scheme: String::from_utf8_lossy(scheme).into_owned(),
                opaque: String::from_utf8_lossy(rest).into_owned(),
            })
        }
    }
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')')
}

fn is_user_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/')
}

fn is_password_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'&' | b'=' | b'+' | b'$' | b',')
}

fn is_param_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

fn is_header_char(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$' | b'=' | b'&')
}

fn parse_sip(s: &[u8], secure: bool) -> Result<SipUri, ParseError> {
    let (userinfo, hostpart) = match memchr::memchr(b'@', s) {
        Some(at) => (s.get(..at), s.get(at + 1..).unwrap_or(&[])),
        None => (None, s),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(ui) => {
            let (u, p) = match memchr::memchr(b':', ui) {
                Some(c) => (ui.get(..c).unwrap_or(&[]), ui.get(c + 1..)),
                None => (ui, None),
            };
            if u.is_empty() || !u.iter().all(|&b| is_user_char(b)) || !escapes_valid(u) {
                return Err(ParseError::Uri("bad user part"));
            }
            if let Some(p) = p {
                if !p.iter().all(|&b| is_password_char(b)) || !escapes_valid(p) {
                    return Err(ParseError::Uri("bad password"));
                }
            }
            (
                Some(String::from_utf8_lossy(u).into_owned()),
                p.map(|p| String::from_utf8_lossy(p).into_owned()),
            )
        }
    };
    // hostport ends at the first ';' or '?' outside an IPv6 reference.
    let mut end = hostpart.len();
    let mut in_v6 = false;
    for (i, &b) in hostpart.iter().enumerate() {
        match b {
            b'[' => in_v6 = true,
            b']' => in_v6 = false,
            b';' | b'?' if !in_v6 => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let hostport = hostpart.get(..end).unwrap_or(&[]);
    let tail = hostpart.get(end..).unwrap_or(&[]);
    let (host_bytes, port) = split_host_port(hostport)?;
    let host = Host::parse(host_bytes)?;
    let (param_part, headers) = match memchr::memchr(b'?', tail) {
        Some(q) => (tail.get(..q).unwrap_or(&[]), tail.get(q + 1..)),
        None => (tail, None),
    };
    let mut params = Vec::new();
    for raw in param_part.split(|&b| b == b';').skip(1) {
        let (name, value) = match memchr::memchr(b'=', raw) {
            Some(eq) => (raw.get(..eq).unwrap_or(&[]), raw.get(eq + 1..)),
            None => (raw, None),
        };
        let valid = |v: &[u8]| !v.is_empty() && v.iter().all(|&b| is_param_char(b)) && escapes_valid(v);
        if !valid(name) || value.is_some_and(|v| !valid(v)) {
            return Err(ParseError::Uri("bad URI parameter"));
        }
        params.push(Param {
            name: String::from_utf8_lossy(name).into_owned(),
            value: value.map(|v| String::from_utf8_lossy(v).into_owned()),
        });
        if params.len() > 64 {
            return Err(ParseError::Uri("too many URI parameters"));
        }
    }
    if let Some(h) = headers {
        if h.is_empty() || !h.iter().all(|&b| is_header_char(b)) || !escapes_valid(h) {
            return Err(ParseError::Uri("bad URI headers"));
        }
    }
    Ok(SipUri {
        secure,
        user,
        password,
        host,
        port,
        params: Params(params),
        headers: headers.map(|h| String::from_utf8_lossy(h).into_owned()),
    })
}

/// Splits `host[:port]` (host may be an IPv6 reference) and validates the port.
pub(crate) fn split_host_port(s: &[u8]) -> Result<(&[u8], Option<u16>), ParseError> {
    let colon = if s.first() == Some(&b'[') {
        let close = memchr::memchr(b']', s).ok_or(ParseError::Uri("unterminated IPv6 reference"))?;
        match s.get(close + 1) {
            None => None,
            Some(b':') => Some(close + 1),
            Some(_) => return Err(ParseError::Uri("junk after IPv6 reference")),
        }
    } else {
        memchr::memchr(b':', s)
    };
    match colon {
        None => Ok((s, None)),
        Some(c) => {
            let port = s.get(c + 1..).unwrap_or(&[]);
            let port = crate::scan::parse_decimal(port, 65535).ok_or(ParseError::Uri("bad port"))?;
            Ok((s.get(..c).unwrap_or(&[]), Some(port as u16)))
        }
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        if let Some(h) = &self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Other { scheme, opaque } => write!(f, "{scheme}:{opaque}"),
        }
    }
}
