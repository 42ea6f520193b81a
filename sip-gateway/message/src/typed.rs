//! Typed views of the headers a SIP core must understand.
//!
//! Each grammar is parsed once into a borrowed view (`ViaRef`, `NameAddrRef`) that points into the
//! message: validating a header at parse time and reading it later cost no allocation. The owned types
//! (`Via`, `NameAddr`, `Contacts`) are for building and changing messages.

use std::fmt;

use crate::error::ParseError;
use crate::method::Method;
use crate::params::{parse_header_params, Params, ParamsRef};
use crate::scan::{is_token, parse_decimal, Cursor};
use crate::uri::{split_host_port, Host, Uri, UriRef};

/// How much a parse checks: the full grammar (a message as it arrives), or only the structure needed to
/// find the parts (a header the message parser has already validated, read again by an accessor).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    Grammar,
    Structure,
}

fn bad(header: &'static str, reason: &'static str) -> ParseError {
    ParseError::Header { header, reason }
}

fn text<'a>(value: &'a [u8], header: &'static str) -> Result<&'a str, ParseError> {
    std::str::from_utf8(value).map_err(|_| bad(header, "not UTF-8"))
}

/// Parses a comma-separated list, handing each element to `each`.
fn for_each_in_list<'a, T>(
    value: &'a str,
    header: &'static str,
    mut parse_one: impl FnMut(&mut Cursor<'a>) -> Result<T, ParseError>,
    mut each: impl FnMut(T),
) -> Result<(), ParseError> {
    let mut c = Cursor::new(value);
    let mut n = 0;
    loop {
        c.skip_ws();
        each(parse_one(&mut c)?);
        n += 1;
        if n > 64 {
            return Err(bad(header, "too many entries"));
        }
        if !c.eat_sep(b',') {
            break;
        }
    }
    c.skip_ws();
    if !c.at_end() {
        return Err(bad(header, "junk after value"));
    }
    Ok(())
}

/// One Via entry, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViaRef<'a> {
    pub protocol_name: &'a str,
    pub protocol_version: &'a str,
    pub transport: &'a str,
    /// Host text as written.
    pub host: &'a str,
    pub port: Option<u16>,
    pub params: ParamsRef<'a>,
}

impl<'a> ViaRef<'a> {
    /// The first entry of a Via header value.
    pub fn parse_first(value: &'a [u8]) -> Result<ViaRef<'a>, ParseError> {
        let mut c = Cursor::new(text(value, "Via")?);
        c.skip_ws();
        Self::parse_one(&mut c)
    }

    /// Every entry of a Via header value.
    pub fn for_each(value: &'a [u8], each: impl FnMut(ViaRef<'a>)) -> Result<(), ParseError> {
        for_each_in_list(text(value, "Via")?, "Via", Self::parse_one, each)
    }

    fn parse_one(c: &mut Cursor<'a>) -> Result<ViaRef<'a>, ParseError> {
        let name = c.token().ok_or(bad("Via", "no protocol name"))?;
        if !c.eat_sep(b'/') {
            return Err(bad("Via", "no protocol version"));
        }
        let version = c.token().ok_or(bad("Via", "no protocol version"))?;
        if !c.eat_sep(b'/') {
            return Err(bad("Via", "no transport"));
        }
        let transport = c.token().ok_or(bad("Via", "no transport"))?;
        c.skip_ws();
        let start = c.pos();
        let host = if c.peek() == Some(b'[') {
            c.take_until(b']');
            c.eat(b']');
            let host = c.slice(start, c.pos());
            crate::uri::validate_host(host.as_bytes())
                .map_err(|_| bad("Via", "bad sent-by host"))?;
            host
        } else {
            let host = c.take_class(&crate::uri::HOST);
            if host.is_empty() || host.len() > 255 {
                return Err(bad("Via", "bad sent-by host"));
            }
            host
        };
        let port = if c.eat_sep(b':') {
            let p = c.take_while(|b| b.is_ascii_digit());
            Some(parse_decimal(p.as_bytes(), 65535).ok_or(bad("Via", "bad port"))? as u16)
        } else {
            None
        };
        let params = parse_header_params(c).ok_or(bad("Via", "bad parameter"))?;
        Ok(ViaRef {
            protocol_name: name,
            protocol_version: version,
            transport,
            host,
            port,
            params,
        })
    }

    pub fn branch(&self) -> Option<&'a str> {
        self.params.get_value("branch")
    }

    pub fn received(&self) -> Option<&'a str> {
        self.params.get_value("received")
    }

    /// `Some(None)` when the client asked for rport (RFC 3581) without a value.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|v| v.parse().ok()))
    }

    pub fn to_owned(&self) -> Via {
        Via {
            protocol: format!("{}/{}", self.protocol_name, self.protocol_version),
            transport: self.transport.to_ascii_uppercase(),
            // Validated while parsing, so this parse succeeds; a domain is the fallback either way.
            host: Host::parse(self.host.as_bytes())
                .unwrap_or_else(|_| Host::Domain(self.host.to_string())),
            port: self.port,
            params: self.params.to_owned(),
        }
    }
}

/// One Via entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// `SIP/2.0` as written (other versions are kept so a server can answer 505).
    pub protocol: String,
    /// UDP, TCP, TLS, WS, WSS, SCTP or anything else a peer wrote.
    pub transport: String,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Params,
}

impl Via {
    pub fn parse_list(value: &[u8]) -> Result<Vec<Via>, ParseError> {
        let mut out = Vec::new();
        ViaRef::for_each(value, |v| out.push(v.to_owned()))?;
        Ok(out)
    }

    pub fn branch(&self) -> Option<&str> {
        self.params.get_value("branch")
    }

    pub fn received(&self) -> Option<&str> {
        self.params.get_value("received")
    }

    /// `Some(None)` when the client asked for rport (RFC 3581) without a value.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|v| v.parse().ok()))
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} {}", self.protocol, self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

/// `name-addr` or `addr-spec` with header parameters, borrowed from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddrRef<'a> {
    /// Display name as written: a quoted string keeps its quotes.
    pub display_name: Option<&'a str>,
    /// The URI text between `<` and `>` (or the addr-spec); [`NameAddrRef::uri`] parses it. Reading a tag
    /// — what transaction and dialog matching do on every message — then never parses the URI.
    pub uri_text: &'a str,
    pub params: ParamsRef<'a>,
}

impl<'a> NameAddrRef<'a> {
    /// Parses and validates a single-valued header (From, To).
    pub fn parse(value: &'a [u8], header: &'static str) -> Result<NameAddrRef<'a>, ParseError> {
        Self::parse_with(value, header, Check::Grammar)
    }

    /// Reads a header the message parser has validated: the URI's character classes are not checked again.
    pub(crate) fn parse_with(
        value: &'a [u8],
        header: &'static str,
        check: Check,
    ) -> Result<NameAddrRef<'a>, ParseError> {
        let mut c = Cursor::new(text(value, header)?);
        c.skip_ws();
        let na = Self::parse_one(&mut c, header, check)?;
        c.skip_ws();
        if !c.at_end() {
            return Err(bad(header, "junk after value"));
        }
        Ok(na)
    }

    /// Every element of a comma-separated list (Contact, Route, Record-Route).
    pub fn for_each(
        value: &'a [u8],
        header: &'static str,
        each: impl FnMut(NameAddrRef<'a>),
    ) -> Result<(), ParseError> {
        for_each_in_list(
            text(value, header)?,
            header,
            |c| Self::parse_one(c, header, Check::Grammar),
            each,
        )
    }

    fn parse_one(
        c: &mut Cursor<'a>,
        header: &'static str,
        check: Check,
    ) -> Result<NameAddrRef<'a>, ParseError> {
        let mut display_name = None;
        if c.peek() == Some(b'"') {
            let q = c
                .quoted_string()
                .ok_or(bad(header, "unterminated quoted string"))?;
            display_name = Some(q);
            c.skip_ws();
        } else {
            // Either `token *(LWS token) <uri>` or an addr-spec: look ahead for '<' before a separator.
            let start = c.pos();
            let mut words_end = start;
            loop {
                c.skip_ws();
                if c.token().is_none() {
                    break;
                }
                words_end = c.pos();
            }
            c.skip_ws();
            if c.peek() == Some(b'<') {
                if words_end > start {
                    display_name = Some(c.slice(start, words_end));
                }
            } else {
                c.set_pos(start);
                let uri_text = c.take_while(|b| !matches!(b, b';' | b',' | b' ' | b'\t'));
                if check == Check::Grammar {
                    UriRef::parse(uri_text)?;
                }
                let params = parse_header_params(c).ok_or(bad(header, "bad parameter"))?;
                return Ok(NameAddrRef {
                    display_name: None,
                    uri_text,
                    params,
                });
            }
        }
        if !c.eat(b'<') {
            return Err(bad(header, "expected '<'"));
        }
        let uri_text = c.take_until(b'>');
        if !c.eat(b'>') {
            return Err(bad(header, "expected '>'"));
        }
        if check == Check::Grammar {
            UriRef::parse(uri_text)?;
        }
        let params = parse_header_params(c).ok_or(bad(header, "bad parameter"))?;
        Ok(NameAddrRef {
            display_name,
            uri_text,
            params,
        })
    }

    pub fn tag(&self) -> Option<&'a str> {
        self.params.get_value("tag")
    }

    /// The URI, parsed and validated.
    pub fn uri(&self) -> Result<UriRef<'a>, ParseError> {
        UriRef::parse(self.uri_text)
    }

    pub fn to_owned(&self) -> Result<NameAddr, ParseError> {
        Ok(NameAddr {
            display_name: self.display_name.map(str::to_string),
            uri: self.uri()?.to_owned()?,
            params: self.params.to_owned(),
        })
    }
}

/// `name-addr` or `addr-spec` with header parameters: the value of From, To, Contact, Route, Record-Route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// Display name as written: a quoted string keeps its quotes.
    pub display_name: Option<String>,
    pub uri: Uri,
    pub params: Params,
}

impl NameAddr {
    pub fn new(uri: Uri) -> Self {
        NameAddr {
            display_name: None,
            uri,
            params: Params::default(),
        }
    }

    /// Parses a single-valued header (From, To).
    pub fn parse(value: &[u8], header: &'static str) -> Result<NameAddr, ParseError> {
        NameAddrRef::parse(value, header)?.to_owned()
    }

    /// Parses a comma-separated list (Contact, Route, Record-Route).
    pub fn parse_list(value: &[u8], header: &'static str) -> Result<Vec<NameAddr>, ParseError> {
        let mut refs = Vec::new();
        NameAddrRef::for_each(value, header, |n| refs.push(n))?;
        refs.iter().map(NameAddrRef::to_owned).collect()
    }

    pub fn tag(&self) -> Option<&str> {
        self.params.get_value("tag")
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display_name {
            write!(f, "{d} ")?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// The value of Contact headers: `*` (only valid in REGISTER with Expires: 0) or a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Contacts {
    Star,
    List(Vec<NameAddr>),
}

impl Contacts {
    pub fn parse(value: &[u8]) -> Result<Contacts, ParseError> {
        if crate::scan::trim_wsp(value) == b"*" {
            Ok(Contacts::Star)
        } else {
            NameAddr::parse_list(value, "Contact").map(Contacts::List)
        }
    }

    /// Checks a Contact value without building anything.
    pub fn validate(value: &[u8]) -> Result<(), ParseError> {
        if crate::scan::trim_wsp(value) == b"*" {
            Ok(())
        } else {
            NameAddrRef::for_each(value, "Contact", drop)
        }
    }
}

/// `CSeq: <number> <method>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl CSeq {
    pub fn parse(value: &[u8]) -> Result<CSeq, ParseError> {
        let mut c = Cursor::new(text(value, "CSeq")?);
        c.skip_ws();
        let digits = c.take_while(|b| b.is_ascii_digit());
        // RFC 3261 §8.1.1.5: less than 2**31.
        let seq = parse_decimal(digits.as_bytes(), (1 << 31) - 1)
            .ok_or(bad("CSeq", "number out of range"))?;
        let before = c.pos();
        c.skip_ws();
        if c.pos() == before {
            return Err(bad("CSeq", "no space before method"));
        }
        let m = c.token().ok_or(bad("CSeq", "no method"))?;
        c.skip_ws();
        if !c.at_end() {
            return Err(bad("CSeq", "junk after method"));
        }
        let method = Method::from_bytes(m.as_bytes()).ok_or(bad("CSeq", "bad method"))?;
        Ok(CSeq {
            seq: seq as u32,
            method,
        })
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// Parses a bounded decimal header value (Max-Forwards, Expires, Min-Expires, Content-Length).
pub fn parse_number(value: &[u8], header: &'static str, max: u64) -> Result<u64, ParseError> {
    parse_decimal(crate::scan::trim_wsp(value), max).ok_or(bad(header, "not a number in range"))
}

/// Checks the Call-ID grammar: `word [ "@" word ]`, no whitespace.
pub fn validate_call_id(value: &[u8]) -> Result<(), ParseError> {
    let word = |b: u8| {
        is_token(b)
            || matches!(
                b,
                b'(' | b')'
                    | b'<'
                    | b'>'
                    | b':'
                    | b'\\'
                    | b'"'
                    | b'/'
                    | b'['
                    | b']'
                    | b'?'
                    | b'{'
                    | b'}'
            )
    };
    let mut parts = value.splitn(2, |&b| b == b'@');
    let first = parts.next().unwrap_or(&[]);
    let ok_part = |p: &[u8]| !p.is_empty() && p.iter().all(|&b| word(b));
    if !ok_part(first) || parts.next().is_some_and(|p| !ok_part(p)) {
        return Err(bad("Call-ID", "not word[@word]"));
    }
    Ok(())
}

/// A comma-separated list of tokens (Require, Supported, Allow…). Empty elements are skipped.
pub fn parse_token_list(value: &[u8]) -> Vec<&[u8]> {
    value
        .split(|&b| b == b',')
        .map(crate::scan::trim_wsp)
        .filter(|t| !t.is_empty())
        .collect()
}

/// Credentials or a challenge: `scheme param=value, param="value", …` (RFC 3261 §25.1, RFC 7616).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    pub scheme: String,
    /// Parameter names as written; values with quotes removed and `\` escapes resolved.
    pub params: Vec<(String, String)>,
}

impl AuthHeader {
    pub fn parse(value: &[u8]) -> Result<AuthHeader, ParseError> {
        let mut c = Cursor::new(text(value, "Authorization")?);
        c.skip_ws();
        let scheme = c.token().ok_or(bad("Authorization", "no scheme"))?;
        let mut params = Vec::new();
        c.skip_ws();
        while !c.at_end() {
            let name = c
                .token()
                .ok_or(bad("Authorization", "bad parameter name"))?;
            if !c.eat_sep(b'=') {
                return Err(bad("Authorization", "expected '='"));
            }
            let v = if c.peek() == Some(b'"') {
                let q = c
                    .quoted_string()
                    .ok_or(bad("Authorization", "bad quoted string"))?;
                let inner = q.get(1..q.len().saturating_sub(1)).unwrap_or("").as_bytes();
                let mut out = Vec::with_capacity(inner.len());
                let mut esc = false;
                for &b in inner {
                    if !esc && b == b'\\' {
                        esc = true;
                        continue;
                    }
                    esc = false;
                    out.push(b);
                }
                String::from_utf8_lossy(&out).into_owned()
            } else {
                let t = c.take_while(|b| is_token(b) || b == b'/' || b == b':');
                if t.is_empty() {
                    return Err(bad("Authorization", "empty value"));
                }
                t.to_string()
            };
            params.push((name.to_string(), v));
            if params.len() > 32 {
                return Err(bad("Authorization", "too many parameters"));
            }
            if !c.eat_sep(b',') {
                c.skip_ws();
                if !c.at_end() {
                    return Err(bad("Authorization", "expected ','"));
                }
            }
        }
        Ok(AuthHeader {
            scheme: scheme.to_string(),
            params,
        })
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `host[:port]` text such as a Via `received` value.
pub fn parse_host_port(s: &[u8]) -> Result<(Host, Option<u16>), ParseError> {
    let (h, p) = split_host_port(s)?;
    Ok((Host::parse(h)?, p))
}
