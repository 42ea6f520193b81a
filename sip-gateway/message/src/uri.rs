use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::ParseError;
use crate::params::{Params, ParamsRef};
use crate::scan::{alnum_and, unescape};

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
        validate_host(s)?;
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
        let text = std::str::from_utf8(s).map_err(|_| ParseError::Uri("not UTF-8"))?;
        UriRef::parse(text)?.to_owned()
    }
}

/// A validated SIP/SIPS URI borrowed from a message: no allocation until [`SipUriRef::to_owned`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUriRef<'a> {
    pub secure: bool,
    pub user: Option<&'a str>,
    pub password: Option<&'a str>,
    /// Host text as written (domain, IPv4, or `[IPv6]`).
    pub host: &'a str,
    pub port: Option<u16>,
    pub params: ParamsRef<'a>,
    pub headers: Option<&'a str>,
}

impl<'a> SipUriRef<'a> {
    pub fn user_unescaped(&self) -> Option<Vec<u8>> {
        self.user.map(unescape)
    }

    pub fn to_owned(&self) -> Result<SipUri, ParseError> {
        Ok(SipUri {
            secure: self.secure,
            user: self.user.map(str::to_string),
            password: self.password.map(str::to_string),
            host: Host::parse(self.host.as_bytes())?,
            port: self.port,
            params: self.params.to_owned(),
            headers: self.headers.map(str::to_string),
        })
    }
}

/// A validated URI borrowed from a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriRef<'a> {
    Sip(SipUriRef<'a>),
    Other { scheme: &'a str, opaque: &'a str },
}

impl<'a> UriRef<'a> {
    pub fn as_sip(&self) -> Option<&SipUriRef<'a>> {
        match self {
            UriRef::Sip(u) => Some(u),
            UriRef::Other { .. } => None,
        }
    }

    pub fn to_owned(&self) -> Result<Uri, ParseError> {
        Ok(match self {
            UriRef::Sip(u) => Uri::Sip(u.to_owned()?),
            UriRef::Other { scheme, opaque } => Uri::Other {
                scheme: scheme.to_string(),
                opaque: opaque.to_string(),
            },
        })
    }

    /// Parses and validates a URI.
    pub fn parse(s: &'a str) -> Result<UriRef<'a>, ParseError> {
        let colon = find(b':', s.as_bytes()).ok_or(ParseError::Uri("no scheme"))?;
        let (scheme, rest) = (
            s.get(..colon).unwrap_or(""),
            s.get(colon + 1..).unwrap_or(""),
        );
        let scheme_ok = scheme
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphabetic)
            && scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        if !scheme_ok {
            return Err(ParseError::Uri("bad scheme"));
        }
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            parse_sip(rest, scheme.len() == 4).map(UriRef::Sip)
        } else {
            if rest.is_empty()
                || rest
                    .bytes()
                    .any(|b| b <= b' ' || matches!(b, b'<' | b'>' | b'"') || b == 0x7f)
            {
                return Err(ParseError::Uri("bad opaque URI"));
            }
            Ok(UriRef::Other {
                scheme,
                opaque: rest,
            })
        }
    }
}

// URI character classes: unreserved (alphanum / mark), escapes, and each part's extra characters.
static USER: [bool; 256] = alnum_and(b"-_.!~*'()%&=+$,;?/");
static PASSWORD: [bool; 256] = alnum_and(b"-_.!~*'()%&=+$,");
static PARAM: [bool; 256] = alnum_and(b"-_.!~*'()%[]/:&+$");
static HEADER: [bool; 256] = alnum_and(b"-_.!~*'()%[]/?:+$=&");

/// Whether every byte of `s` is in `class` or starts a `%HH` escape: the class check and the escape
/// check in one pass.
fn all_escaped_in(s: &[u8], class: &[bool; 256]) -> bool {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            let hex = s.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !hex {
                return false;
            }
            i += 3;
        } else if class[b as usize] {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// The first `b` in `s`. URIs are short, where a plain loop beats memchr's setup.
fn find(b: u8, s: &[u8]) -> Option<usize> {
    s.iter().position(|&c| c == b)
}

pub(crate) static HOST: [bool; 256] = alnum_and(b"-._");

fn parse_sip(s: &str, secure: bool) -> Result<SipUriRef<'_>, ParseError> {
    let bytes = s.as_bytes();
    let (user, password, host_start) = match memchr::memchr(b'@', bytes) {
        None => (None, None, 0),
        Some(at) => {
            let userinfo = bytes.get(..at).unwrap_or(&[]);
            let (u, p) = match find(b':', userinfo) {
                Some(c) => (
                    userinfo.get(..c).unwrap_or(&[]),
                    Some(userinfo.get(c + 1..).unwrap_or(&[])),
                ),
                None => (userinfo, None),
            };
            if u.is_empty() || !all_escaped_in(u, &USER) {
                return Err(ParseError::Uri("bad user part"));
            }
            if p.is_some_and(|p| !all_escaped_in(p, &PASSWORD)) {
                return Err(ParseError::Uri("bad password"));
            }
            // Every cut is at an ASCII delimiter, so these are char boundaries.
            let user = s.get(..u.len());
            let password = p.and_then(|p| s.get(at - p.len()..at));
            (user, password, at + 1)
        }
    };
    // host: an IPv6 reference, or domain/IPv4 characters up to ':', ';', '?' or the end.
    let rest = bytes.get(host_start..).unwrap_or(&[]);
    let host_len = if rest.first() == Some(&b'[') {
        let close = find(b']', rest).ok_or(ParseError::Uri("unterminated IPv6 reference"))?;
        validate_host(rest.get(..=close).unwrap_or(&[]))?;
        close + 1
    } else {
        let n = rest.iter().take_while(|&&b| HOST[b as usize]).count();
        if n == 0 || n > 255 {
            return Err(ParseError::Uri("bad host length"));
        }
        n
    };
    let mut pos = host_start + host_len;
    let port = if bytes.get(pos) == Some(&b':') {
        let digits = bytes
            .get(pos + 1..)
            .unwrap_or(&[])
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let port =
            crate::scan::parse_decimal(bytes.get(pos + 1..pos + 1 + digits).unwrap_or(&[]), 65535)
                .ok_or(ParseError::Uri("bad port"))?;
        pos += 1 + digits;
        Some(port as u16)
    } else {
        None
    };
    let params_start = pos;
    let mut count = 0;
    while bytes.get(pos) == Some(&b';') {
        pos += 1;
        let name_len = param_run(bytes.get(pos..).unwrap_or(&[]))?;
        pos += name_len;
        if bytes.get(pos) == Some(&b'=') {
            pos += 1;
            pos += param_run(bytes.get(pos..).unwrap_or(&[]))?;
        }
        count += 1;
        if count > 64 {
            return Err(ParseError::Uri("too many URI parameters"));
        }
    }
    let params_end = pos;
    let headers = match bytes.get(pos) {
        None => None,
        Some(b'?') => {
            let h = bytes.get(pos + 1..).unwrap_or(&[]);
            if h.is_empty() || !all_escaped_in(h, &HEADER) {
                return Err(ParseError::Uri("bad URI headers"));
            }
            s.get(pos + 1..)
        }
        Some(_) => return Err(ParseError::Uri("bad character in host or parameters")),
    };
    Ok(SipUriRef {
        secure,
        user,
        password,
        host: s.get(host_start..host_start + host_len).unwrap_or(""),
        port,
        params: ParamsRef(s.get(params_start..params_end).unwrap_or("")),
        headers,
    })
}

/// Length of a non-empty run of URI parameter characters (escapes included) at the start of `s`.
fn param_run(s: &[u8]) -> Result<usize, ParseError> {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            let hex = s.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !hex {
                return Err(ParseError::Uri("bad escape in URI parameter"));
            }
            i += 3;
        } else if PARAM[b as usize] {
            i += 1;
        } else {
            break;
        }
    }
    if i == 0 {
        return Err(ParseError::Uri("bad URI parameter"));
    }
    Ok(i)
}

/// Checks host syntax without building a [`Host`]: an IPv6 reference, or domain/IPv4 characters.
pub(crate) fn validate_host(s: &[u8]) -> Result<(), ParseError> {
    if s.first() == Some(&b'[') {
        return Host::parse(s).map(drop);
    }
    if s.is_empty() || s.len() > 255 {
        return Err(ParseError::Uri("bad host length"));
    }
    if !s.iter().all(|&b| HOST[b as usize]) {
        return Err(ParseError::Uri("bad character in host"));
    }
    Ok(())
}

/// Splits `host[:port]` (host may be an IPv6 reference) and validates the port.
pub(crate) fn split_host_port(s: &[u8]) -> Result<(&[u8], Option<u16>), ParseError> {
    let colon = if s.first() == Some(&b'[') {
        let close = find(b']', s).ok_or(ParseError::Uri("unterminated IPv6 reference"))?;
        match s.get(close + 1) {
            None => None,
            Some(b':') => Some(close + 1),
            Some(_) => return Err(ParseError::Uri("junk after IPv6 reference")),
        }
    } else {
        find(b':', s)
    };
    match colon {
        None => Ok((s, None)),
        Some(c) => {
            let port = s.get(c + 1..).unwrap_or(&[]);
            let port =
                crate::scan::parse_decimal(port, 65535).ok_or(ParseError::Uri("bad port"))?;
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
