//! The session description as data. Fields hold what the wire said (numbers parsed, everything else
//! verbatim), so printing a parsed description reproduces it; typed readings are computed on demand by
//! the accessors and are lenient: an attribute they cannot read counts as absent rather than failing
//! the whole description, because a B2BUA should not drop a call over a line it does not use.

use std::net::IpAddr;

use super::codec::{self, PayloadFormat, RtpMap, TelephoneEventFormat};

/// A whole session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    pub origin: Origin,
    /// `s=`, verbatim.
    pub session_name: String,
    /// `i=`
    pub information: Option<String>,
    /// `u=`
    pub uri: Option<String>,
    /// `e=` lines, in order.
    pub emails: Vec<String>,
    /// `p=` lines, in order.
    pub phones: Vec<String>,
    /// Session-level `c=`, inherited by media sections without their own.
    pub connection: Option<Connection>,
    pub bandwidths: Vec<Bandwidth>,
    /// `t=` lines with their `r=` lines; at least one after parsing.
    pub timings: Vec<Timing>,
    /// `z=`, verbatim.
    pub time_zones: Option<String>,
    /// `k=`, verbatim (obsolete, kept so printing loses nothing).
    pub encryption_key: Option<String>,
    pub attributes: Vec<Attribute>,
    pub media: Vec<MediaDescription>,
}

/// `o=` (RFC 8866 §5.2). Session id and version are numbers so that version increments are arithmetic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    pub session_id: u64,
    pub session_version: u64,
    pub net_type: String,
    pub addr_type: String,
    pub address: String,
}

/// `c=` (RFC 8866 §5.7), fields verbatim. Multicast forms (`224.2.1.1/127/3`) are kept but are not
/// unicast addresses, so [`Connection::ip`] does not return them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub net_type: String,
    pub addr_type: String,
    pub address: String,
}

/// `b=<type>:<kilobits or bits per second>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bandwidth {
    pub kind: String,
    pub value: u64,
}

/// `t=` with the `r=` lines that follow it (kept verbatim).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub start: u64,
    pub stop: u64,
    pub repeats: Vec<String>,
}

/// `a=<name>` or `a=<name>:<value>`; the value is kept byte for byte, spaces included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: Option<String>,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// `audio`, `video`, `application`, `image`, …
    pub media: String,
    pub port: u16,
    /// The `/<count>` of `m=audio 49170/2 …`.
    pub port_count: Option<u16>,
    /// `RTP/AVP`, `RTP/SAVP`, `UDP/TLS/RTP/SAVPF`, `udptl`, …
    pub proto: String,
    /// The format list: payload type numbers for RTP profiles (checked to be 0–127), other tokens
    /// otherwise.
    pub formats: Vec<String>,
    pub information: Option<String>,
    pub connection: Option<Connection>,
    pub bandwidths: Vec<Bandwidth>,
    pub encryption_key: Option<String>,
    pub attributes: Vec<Attribute>,
}

/// Media direction (RFC 8866 §6.7, RFC 3264 §6.1), from the point of view of the description's author.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

/// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpAttribute {
    pub port: u16,
    pub connection: Option<Connection>,
}

/// A media section read together with its session, so that the session-level values a section
/// inherits (`c=`, direction, ICE credentials, fingerprint, setup) are found where they are.
#[derive(Debug, Clone, Copy)]
pub struct MediaView<'a> {
    pub session: &'a SessionDescription,
    pub media: &'a MediaDescription,
}

impl Attribute {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Attribute {
        Attribute {
            name: name.into(),
            value: Some(value.into()),
        }
    }

    /// A property attribute without a value (`a=rtcp-mux`, `a=sendrecv`).
    pub fn flag(name: impl Into<String>) -> Attribute {
        Attribute {
            name: name.into(),
            value: None,
        }
    }
}

impl Connection {
    /// An `IN IP4` / `IN IP6` connection for a unicast address.
    pub fn from_ip(ip: IpAddr) -> Connection {
        Connection {
            net_type: "IN".to_owned(),
            addr_type: addr_type_of(ip).to_owned(),
            address: ip.to_string(),
        }
    }

    /// The unicast IP literal, if this is `IN IP4`/`IN IP6` with one of the matching family. Host names
    /// are not resolved: that would be IO, and carriers and softphones send literals.
    pub fn ip(&self) -> Option<IpAddr> {
        if !self.net_type.eq_ignore_ascii_case("IN") {
            return None;
        }
        let ip: IpAddr = self.address.parse().ok()?;
        let family_matches = match ip {
            IpAddr::V4(_) => self.addr_type.eq_ignore_ascii_case("IP4"),
            IpAddr::V6(_) => self.addr_type.eq_ignore_ascii_case("IP6"),
        };
        family_matches.then_some(ip)
    }

    /// `0.0.0.0` (or `::`): RFC 2543 hold, or the placeholder of an ICE offer.
    pub fn is_unspecified(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_unspecified())
    }
}

pub(crate) fn addr_type_of(ip: IpAddr) -> &'static str {
    match ip {
        IpAddr::V4(_) => "IP4",
        IpAddr::V6(_) => "IP6",
    }
}

impl Direction {
    pub fn attribute_name(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    pub fn from_attribute_name(name: &str) -> Option<Direction> {
        [
            Direction::SendRecv,
            Direction::SendOnly,
            Direction::RecvOnly,
            Direction::Inactive,
        ]
        .into_iter()
        .find(|d| name.eq_ignore_ascii_case(d.attribute_name()))
    }

    fn from_parts(sends: bool, receives: bool) -> Direction {
        match (sends, receives) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The same stream seen from the other end: what one side sends, the other receives.
    pub fn reversed(self) -> Direction {
        Direction::from_parts(self.receives(), self.sends())
    }

    /// Only what both allow (RFC 3264 §6.1: an answer may narrow the offered direction, never widen it).
    pub fn intersect(self, other: Direction) -> Direction {
        Direction::from_parts(
            self.sends() && other.sends(),
            self.receives() && other.receives(),
        )
    }

    /// Whether the author has stopped receiving: the stream is held from its side.
    pub fn is_hold(self) -> bool {
        !self.receives()
    }
}

fn first_named<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attributes
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
}

fn value_of<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a str> {
    first_named(attributes, name).and_then(|a| a.value.as_deref())
}

fn values_of<'a>(attributes: &'a [Attribute], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    attributes
        .iter()
        .filter(move |a| a.name.eq_ignore_ascii_case(name))
        .filter_map(|a| a.value.as_deref())
}

fn direction_in(attributes: &[Attribute]) -> Option<Direction> {
    attributes
        .iter()
        .filter(|a| a.value.is_none())
        .find_map(|a| Direction::from_attribute_name(&a.name))
}

impl SessionDescription {
    /// The first session-level attribute value with this name (names compare case-insensitively).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        value_of(&self.attributes, name)
    }

    /// Session-level direction attribute, if any.
    pub fn direction(&self) -> Option<Direction> {
        direction_in(&self.attributes)
    }

    pub fn media_view(&self, index: usize) -> Option<MediaView<'_>> {
        self.media.get(index).map(|media| MediaView {
            session: self,
            media,
        })
    }

    pub fn media_views(&self) -> impl Iterator<Item = MediaView<'_>> {
        self.media.iter().map(move |media| MediaView {
            session: self,
            media,
        })
    }
}

impl MediaDescription {
    /// The first attribute value with this name in this section (names compare case-insensitively).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        value_of(&self.attributes, name)
    }

    /// All values of the attributes with this name, in order.
    pub fn attributes_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        values_of(&self.attributes, name)
    }

    /// Whether a value-less attribute with this name is present (`a=rtcp-mux`).
    pub fn has_flag(&self, name: &str) -> bool {
        self.attributes
            .iter()
            .any(|a| a.value.is_none() && a.name.eq_ignore_ascii_case(name))
    }

    /// Whether the format list holds RTP payload type numbers (RFC 8866 §5.14: the profiles built on
    /// RTP/AVP); the parser guarantees they are numbers 0–127 then.
    pub fn is_rtp(&self) -> bool {
        is_rtp_proto(&self.proto)
    }

    /// The payload types of the format list, in the offerer's order; empty for non-RTP profiles.
    pub fn payload_types(&self) -> Vec<u8> {
        if !self.is_rtp() {
            return Vec::new();
        }
        self.formats.iter().filter_map(|f| f.parse().ok()).collect()
    }

    /// The section's `a=rtpmap` for `pt`, or the RFC 3551 static assignment when there is none.
    pub fn rtpmap(&self, pt: u8) -> Option<RtpMap> {
        self.attributes_named("rtpmap")
            .filter_map(codec::parse_rtpmap)
            .find(|(mapped, _)| *mapped == pt)
            .map(|(_, map)| map)
            .or_else(|| codec::static_rtpmap(pt))
    }

    /// The format parameters of `a=fmtp:<pt> …`, trimmed.
    pub fn fmtp(&self, pt: u8) -> Option<&str> {
        self.attributes_named("fmtp")
            .filter_map(codec::parse_fmtp)
            .find(|(mapped, _)| *mapped == pt)
            .map(|(_, params)| params)
    }

    /// Every payload type of the format list with its rtpmap and fmtp, in format-list order.
    pub fn payload_formats(&self) -> Vec<PayloadFormat> {
        self.payload_types()
            .into_iter()
            .map(|pt| PayloadFormat {
                payload_type: pt,
                rtpmap: self.rtpmap(pt),
                fmtp: self.fmtp(pt).map(str::to_owned),
            })
            .collect()
    }

    /// The RFC 4733 telephone-event formats, in format-list order (Chromium offers one at 48000 Hz and
    /// one at 8000 Hz).
    pub fn telephone_events(&self) -> Vec<TelephoneEventFormat> {
        self.payload_formats()
            .iter()
            .filter_map(TelephoneEventFormat::from_payload_format)
            .collect()
    }

    /// The first telephone-event format.
    pub fn telephone_event(&self) -> Option<TelephoneEventFormat> {
        self.telephone_events().into_iter().next()
    }

    /// `a=ptime`, in milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        self.attribute("ptime").and_then(codec::parse_millis)
    }

    /// `a=maxptime`, in milliseconds.
    pub fn maxptime(&self) -> Option<u32> {
        self.attribute("maxptime").and_then(codec::parse_millis)
    }

    /// The section's own direction attribute, without the session-level fallback.
    pub fn direction(&self) -> Option<Direction> {
        direction_in(&self.attributes)
    }

    /// `a=rtcp` (RFC 3605), if present and readable.
    pub fn rtcp(&self) -> Option<RtcpAttribute> {
        let value = self.attribute("rtcp")?;
        let mut fields = value.split_ascii_whitespace();
        let port = codec::decimal(fields.next()?)?;
        let connection = match (fields.next(), fields.next(), fields.next(), fields.next()) {
            (None, ..) => None,
            (Some(net_type), Some(addr_type), Some(address), None) => Some(Connection {
                net_type: net_type.to_owned(),
                addr_type: addr_type.to_owned(),
                address: address.to_owned(),
            }),
            _ => return None,
        };
        Some(RtcpAttribute { port, connection })
    }

    /// `a=rtcp-mux` (RFC 5761).
    pub fn rtcp_mux(&self) -> bool {
        self.has_flag("rtcp-mux")
    }

    /// `a=mid` (RFC 5888).
    pub fn mid(&self) -> Option<&str> {
        self.attribute("mid")
    }

    /// `a=candidate` lines (RFC 8839), verbatim.
    pub fn candidates(&self) -> impl Iterator<Item = &str> + '_ {
        self.attributes_named("candidate")
    }
}

pub(crate) fn is_rtp_proto(proto: &str) -> bool {
    proto
        .split('/')
        .any(|part| part.eq_ignore_ascii_case("RTP"))
}

impl<'a> MediaView<'a> {
    /// The section's `c=`, or the session's.
    pub fn connection(&self) -> Option<&'a Connection> {
        self.media
            .connection
            .as_ref()
            .or(self.session.connection.as_ref())
    }

    pub fn port(&self) -> u16 {
        self.media.port
    }

    pub fn proto(&self) -> &'a str {
        &self.media.proto
    }

    /// The direction in force: the section's, else the session's, else `sendrecv` (RFC 8866 §6.7).
    pub fn direction(&self) -> Direction {
        self.media
            .direction()
            .or_else(|| self.session.direction())
            .unwrap_or(Direction::SendRecv)
    }

    /// A section attribute, else the session attribute of that name: ICE and DTLS attributes may be
    /// written at either level (RFC 8839 §5, RFC 8842 §5).
    fn inherited(&self, name: &str) -> Option<&'a str> {
        self.media
            .attribute(name)
            .or_else(|| self.session.attribute(name))
    }

    pub fn ice_ufrag(&self) -> Option<&'a str> {
        self.inherited("ice-ufrag")
    }

    pub fn ice_pwd(&self) -> Option<&'a str> {
        self.inherited("ice-pwd")
    }

    /// `a=fingerprint` (RFC 8122), e.g. `sha-256 7B:8B:…`.
    pub fn fingerprint(&self) -> Option<&'a str> {
        self.inherited("fingerprint")
    }

    /// `a=setup` (RFC 4145): `actpass`, `active`, `passive`.
    pub fn setup(&self) -> Option<&'a str> {
        self.inherited("setup")
    }

    /// Whether the peer uses ICE on this stream, in which case `c=0.0.0.0` is a placeholder, not hold.
    pub fn uses_ice(&self) -> bool {
        self.ice_ufrag().is_some()
    }
}
