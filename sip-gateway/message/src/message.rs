use std::fmt::Write as _;

use bytes::Bytes;

use crate::error::ParseError;
use crate::header::{HeaderName, HeaderValue, Headers};
use crate::limits::Limits;
use crate::method::Method;
use crate::scan::{is_token, is_wsp, trim_wsp};
use crate::typed::{
    parse_number, validate_call_id, AuthHeader, CSeq, Check, Contacts, NameAddrRef, ViaRef,
};
use crate::uri::Uri;

/// The protocol version of a start line. Only 2.0 is served, but others parse so a server can answer 505.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub major: u8,
    pub minor: u8,
}

impl Version {
    pub const SIP_2_0: Version = Version { major: 2, minor: 0 };
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub uri: Uri,
    pub version: Version,
    pub headers: Headers,
    pub body: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub version: Version,
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

/// Accessors shared by requests and responses. They read the header again on each call, without
/// allocating. The message parser validated these headers, so the accessors check only the structure they
/// need: on a parsed message they fail only if the header is absent, and a header set by hand that breaks
/// the grammar may read oddly but never panics.
pub trait SipHeaders {
    fn headers(&self) -> &Headers;
    fn headers_mut(&mut self) -> &mut Headers;
    fn body(&self) -> &Bytes;

    fn call_id(&self) -> Option<&str> {
        self.headers()
            .get(&HeaderName::CallId)
            .and_then(|v| std::str::from_utf8(v).ok())
    }
    fn cseq(&self) -> Option<CSeq> {
        self.headers()
            .get(&HeaderName::CSeq)
            .and_then(|v| CSeq::parse(v).ok())
    }
    /// From, borrowed from the message (no allocation; `.to_owned()` for a changeable copy).
    fn from(&self) -> Option<NameAddrRef<'_>> {
        self.headers()
            .get(&HeaderName::From)
            .and_then(|v| NameAddrRef::parse_with(v, "From", Check::Structure).ok())
    }
    /// To, borrowed from the message.
    fn to(&self) -> Option<NameAddrRef<'_>> {
        self.headers()
            .get(&HeaderName::To)
            .and_then(|v| NameAddrRef::parse_with(v, "To", Check::Structure).ok())
    }
    /// The topmost Via entry, borrowed from the message.
    fn top_via(&self) -> Option<ViaRef<'_>> {
        self.headers()
            .get(&HeaderName::Via)
            .and_then(|v| ViaRef::parse_first(v).ok())
    }
    /// All Contact values across all Contact headers; `Star` if any is `*`.
    fn contacts(&self) -> Result<Contacts, ParseError> {
        let mut all = Vec::new();
        for v in self.headers().get_all(&HeaderName::Contact) {
            match Contacts::parse(v)? {
                Contacts::Star => return Ok(Contacts::Star),
                Contacts::List(l) => all.extend(l),
            }
        }
        Ok(Contacts::List(all))
    }
    fn expires(&self) -> Option<u32> {
        self.headers()
            .get(&HeaderName::Expires)
            .and_then(|v| parse_number(v, "Expires", u32::MAX as u64).ok())
            .map(|v| v as u32)
    }
    fn max_forwards(&self) -> Option<u8> {
        self.headers()
            .get(&HeaderName::MaxForwards)
            .and_then(|v| parse_number(v, "Max-Forwards", 255).ok())
            .map(|v| v as u8)
    }
    fn authorization(&self, name: &HeaderName) -> Vec<AuthHeader> {
        self.headers()
            .get_all(name)
            .filter_map(|v| AuthHeader::parse(v).ok())
            .collect()
    }
}

macro_rules! impl_sip_headers {
    ($t:ty) => {
        impl SipHeaders for $t {
            fn headers(&self) -> &Headers {
                &self.headers
            }
            fn headers_mut(&mut self) -> &mut Headers {
                &mut self.headers
            }
            fn body(&self) -> &Bytes {
                &self.body
            }
        }
    };
}
impl_sip_headers!(Request);
impl_sip_headers!(Response);

impl SipHeaders for Message {
    fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }
    fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Message::Request(r) => &mut r.headers,
            Message::Response(r) => &mut r.headers,
        }
    }
    fn body(&self) -> &Bytes {
        match self {
            Message::Request(r) => &r.body,
            Message::Response(r) => &r.body,
        }
    }
}

/// Where the header section ends: (offset of the first body byte).
pub(crate) fn find_header_end(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = memchr::memchr(b'\n', buf.get(from..)?) {
        let nl = from + p;
        match buf.get(nl + 1) {
            Some(b'\n') => return Some(nl + 2),
            Some(b'\r') if buf.get(nl + 2) == Some(&b'\n') => return Some(nl + 3),
            _ => from = nl + 1,
        }
    }
    None
}

fn parse_version(s: &[u8]) -> Result<Version, ParseError> {
    let v = s
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case(b"SIP/"))
        .and(s.get(4..))
        .ok_or(ParseError::StartLine("bad version"))?;
    let mut it = v.splitn(2, |&b| b == b'.');
    let major = crate::scan::parse_decimal(it.next().unwrap_or(&[]), 255);
    let minor = crate::scan::parse_decimal(it.next().unwrap_or(&[]), 255);
    match (major, minor) {
        (Some(major), Some(minor)) => Ok(Version {
            major: major as u8,
            minor: minor as u8,
        }),
        _ => Err(ParseError::StartLine("bad version")),
    }
}

/// Headers a core relies on are checked here, once, so a message that parses can be trusted by accessors.
fn validate_header(name: &HeaderName, value: &[u8]) -> Result<(), ParseError> {
    match name {
        HeaderName::Via => ViaRef::for_each(value, drop),
        HeaderName::From => NameAddrRef::parse(value, "From").map(drop),
        HeaderName::To => NameAddrRef::parse(value, "To").map(drop),
        HeaderName::Contact => Contacts::validate(value),
        HeaderName::CSeq => CSeq::parse(value).map(drop),
        HeaderName::CallId => validate_call_id(value),
        HeaderName::MaxForwards => parse_number(value, "Max-Forwards", 255).map(drop),
        HeaderName::Expires => parse_number(value, "Expires", u32::MAX as u64).map(drop),
        HeaderName::MinExpires => parse_number(value, "Min-Expires", u32::MAX as u64).map(drop),
        HeaderName::ContentLength => {
            parse_number(value, "Content-Length", u32::MAX as u64).map(drop)
        }
        HeaderName::RetryAfter => {
            let digits = value.iter().take_while(|b| b.is_ascii_digit()).count();
            parse_number(
                value.get(..digits).unwrap_or(&[]),
                "Retry-After",
                u32::MAX as u64,
            )
            .map(drop)
        }
        _ => Ok(()),
    }
}

/// Parses one message from a datagram or an already framed stream message, following RFC 3261 §18.3:
/// with Content-Length the body is exactly that long (extra trailing bytes are ignored, too few are an
/// error); without it the body is the rest of the input.
///
/// Header values that were not folded are zero-copy slices of `buf`.
pub fn parse(buf: Bytes, limits: &Limits) -> Result<Message, ParseError> {
    if buf.len() > limits.max_message_bytes {
        return Err(ParseError::TooLarge(limits.max_message_bytes));
    }
    // RFC 3261 §7.5: ignore CRLFs before the start line.
    let lead = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    // One pass finds the lines and the blank line that ends them; `head` runs to the end of the input
    // until that blank line is found.
    let head = buf.get(lead..).unwrap_or(&[]);
    let mut head_end = None;

    let first_nl = memchr::memchr(b'\n', head).ok_or(ParseError::Incomplete)?;
    let start_line = strip_cr(head.get(..first_nl).unwrap_or(&[]));
    if start_line.len() > limits.max_line_bytes {
        return Err(ParseError::LineTooLong(limits.max_line_bytes));
    }

    let mut headers = Headers::with_received(buf.clone(), 24);
    let mut pos = first_nl + 1;
    // Collect (name, value start, value end, folded?) line by line; a folded value is rebuilt once.
    while pos < head.len() {
        let nl = pos + memchr::memchr(b'\n', &head[pos..]).ok_or(ParseError::Incomplete)?;
        let line = strip_cr(&head[pos..nl]);
        if line.is_empty() {
            head_end = Some(lead + nl + 1);
            break;
        }
        let line_start = pos;
        pos = nl + 1;
        // Continuation lines belong to the header above.
        let mut end = nl;
        let mut folded = false;
        while pos < head.len() && head.get(pos).copied().is_some_and(is_wsp) {
            // A whitespace-only line is folding noise: only an empty line ends the headers.
            let nl2 = pos + memchr::memchr(b'\n', &head[pos..]).ok_or(ParseError::Incomplete)?;
            folded = true;
            end = nl2;
            pos = nl2 + 1;
        }
        if end - line_start > limits.max_line_bytes {
            return Err(ParseError::LineTooLong(limits.max_line_bytes));
        }
        // Header names are short: a plain loop beats memchr's setup here.
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(ParseError::HeaderName)?;
        let name = trim_wsp(&line[..colon]);
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return Err(ParseError::HeaderName);
        }
        let name = HeaderName::from_bytes(name);
        let value_start = line_start + colon + 1;
        if folded {
            let raw = &head[value_start..end];
            let mut unfolded = Vec::with_capacity(raw.len());
            for piece in raw.split(|&b| b == b'\n') {
                let piece = strip_cr(piece);
                if !unfolded.is_empty() {
                    unfolded.push(b' ');
                }
                unfolded.extend_from_slice(trim_wsp(piece));
            }
            let t = trim_wsp(&unfolded);
            validate_header(&name, t)?;
            headers.push(name, HeaderValue::from_bytes(Bytes::copy_from_slice(t)));
        } else {
            let raw = strip_cr(&head[value_start..nl]);
            let t = trim_wsp(raw);
            validate_header(&name, t)?;
            let off = lead + (t.as_ptr() as usize - head.as_ptr() as usize);
            headers.push_received(name, off, off + t.len());
        }
        if headers.len() > limits.max_headers {
            return Err(ParseError::TooManyHeaders(limits.max_headers));
        }
    }
    let head_end = head_end.ok_or(ParseError::Incomplete)?;

    let available = buf.len() - head_end;
    let body = match headers.get(&HeaderName::ContentLength) {
        Some(v) => {
            let declared = parse_number(v, "Content-Length", u32::MAX as u64)? as usize;
            if declared > available {
                return Err(ParseError::BodyTooShort {
                    declared,
                    available,
                });
            }
            buf.slice(head_end..head_end + declared)
        }
        None => buf.slice(head_end..),
    };

    parse_start_line(start_line, headers, body)
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn parse_start_line(line: &[u8], headers: Headers, body: Bytes) -> Result<Message, ParseError> {
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        let mut parts = line.splitn(3, |&b| b == b' ');
        let version = parse_version(parts.next().unwrap_or(&[]))?;
        let code = parts
            .next()
            .ok_or(ParseError::StartLine("no status code"))?;
        if code.len() != 3 {
            return Err(ParseError::StartLine("status code is not 3 digits"));
        }
        let status = crate::scan::parse_decimal(code, 699)
            .ok_or(ParseError::StartLine("bad status code"))? as u16;
        if status < 100 {
            return Err(ParseError::StartLine("bad status code"));
        }
        let reason = parts.next().unwrap_or(&[]);
        let reason = std::str::from_utf8(reason)
            .map_err(|_| ParseError::StartLine("reason phrase is not UTF-8"))?
            .to_string();
        return Ok(Message::Response(Response {
            version,
            status,
            reason,
            headers,
            body,
        }));
    }
    let mut parts = line.split(|&b| b == b' ');
    let method = parts.next().ok_or(ParseError::StartLine("empty"))?;
    let uri = parts
        .next()
        .ok_or(ParseError::StartLine("no Request-URI"))?;
    let version = parts.next().ok_or(ParseError::StartLine("no version"))?;
    if parts.next().is_some() {
        return Err(ParseError::StartLine("extra spaces in request line"));
    }
    let method = Method::from_bytes(method).ok_or(ParseError::StartLine("bad method"))?;
    let uri = Uri::parse(uri)?;
    let version = parse_version(version)?;
    Ok(Message::Request(Request {
        method,
        uri,
        version,
        headers,
        body,
    }))
}

fn write_headers(out: &mut Vec<u8>, headers: &Headers) {
    for (name, value) in headers.iter() {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

impl Request {
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut line = String::with_capacity(64);
        let _ = write!(
            line,
            "{} {} SIP/{}.{}\r\n",
            self.method, self.uri, self.version.major, self.version.minor
        );
        out.extend_from_slice(line.as_bytes());
        write_headers(out, &self.headers);
        out.extend_from_slice(&self.body);
    }
}

impl Response {
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut line = String::with_capacity(48);
        let _ = write!(
            line,
            "SIP/{}.{} {} {}\r\n",
            self.version.major, self.version.minor, self.status, self.reason
        );
        out.extend_from_slice(line.as_bytes());
        write_headers(out, &self.headers);
        out.extend_from_slice(&self.body);
    }

    /// A response to `req` per RFC 3261 §8.2.6: Via, From, To, Call-ID and CSeq copied, empty body.
    /// The caller adds a To tag where the response needs one.
    pub fn for_request(req: &Request, status: u16, reason: &str) -> Response {
        let mut headers = Headers::default();
        for (name, value) in req.headers.iter_shared() {
            if matches!(
                name,
                HeaderName::Via
                    | HeaderName::From
                    | HeaderName::To
                    | HeaderName::CallId
                    | HeaderName::CSeq
            ) {
                headers.push(name.clone(), value);
            }
        }
        Response {
            version: Version::SIP_2_0,
            status,
            reason: reason.to_string(),
            headers,
            body: Bytes::new(),
        }
    }
}

impl Message {
    pub fn write_to(&self, out: &mut Vec<u8>) {
        match self {
            Message::Request(r) => r.write_to(out),
            Message::Response(r) => r.write_to(out),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body().len());
        self.write_to(&mut out);
        out
    }
}

/// The reason phrase RFC 3261 suggests for a status code.
pub fn default_reason(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "Version Not Supported",
        _ => "Unknown",
    }
}
