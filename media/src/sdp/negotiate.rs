//! RFC 3264 offer/answer for one relay leg, as pure functions.
//!
//! The relay anchors one audio stream per leg, so an answer accepts the first offered audio stream it
//! can serve and rejects every other `m=` line with port 0; the m-line count and order are preserved as
//! RFC 3264 §6 requires.

use std::net::{IpAddr, SocketAddr};

use super::codec::{Codec, PayloadFormat, RtpMap, TELEPHONE_EVENT};
use super::crypto::{self, LocalCrypto};
use super::model::{
    addr_type_of, is_rtp_proto, Attribute, Connection, Direction, MediaDescription, MediaView,
    Origin, SessionDescription, Timing,
};
use super::parse::is_token_byte;
use super::webrtc::{self, is_webrtc, LocalWebRtc, RemoteWebRtc};
use super::SdpError;
use crate::srtp::SrtpKeys;

/// What our side of the relay can do on one leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCapabilities {
    /// The relay address the peer sends media to.
    pub address: IpAddr,
    /// The relay's RTP port for this leg (RTCP on the next port unless rtcp-mux is negotiated).
    pub port: u16,
    /// The transport profile we speak; offered streams with another profile are rejected, because a
    /// plain RTP relay cannot answer `RTP/SAVP` or `UDP/TLS/RTP/SAVPF`.
    pub proto: String,
    /// Our codecs, in our order of preference (used in offers; answers follow the offerer's order).
    pub codecs: Vec<Codec>,
    /// The payload type we offer `telephone-event/8000` under, or `None` without RFC 4733 support. In
    /// answers the offerer's number (and any clock rate) is accepted, since the relay re-times events.
    pub telephone_event: Option<u8>,
    /// Our `a=ptime`, in milliseconds.
    pub ptime: Option<u32>,
    /// Whether we can take RTCP on the RTP port (RFC 5761).
    pub rtcp_mux: bool,
    /// `SendRecv` normally; `SendOnly` (music on hold) or `Inactive` while we hold the leg. Answers use
    /// the offered direction narrowed by this.
    pub direction: Direction,
    /// Attributes appended to our audio section as they are, e.g. the ICE and DTLS lines of a future
    /// WebRTC leg.
    pub extra_media_attributes: Vec<Attribute>,
    /// SDES SRTP on this leg (see [`super::crypto`]); `None` speaks plain RTP and rejects `RTP/SAVP`.
    pub crypto: Option<LocalCrypto>,
    /// WebRTC on this leg (see [`super::webrtc`]): a browser's `UDP/TLS/RTP/SAVPF` offer is accepted.
    pub webrtc: Option<LocalWebRtc>,
}

/// Our `o=` line across a dialog. RFC 3264 §8 wants the version to grow by one exactly when the
/// description changes, so the last description sent is remembered and compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOrigin {
    pub username: String,
    pub session_id: u64,
    pub address: IpAddr,
    version: u64,
    last_sent: Option<SessionDescription>,
}

/// What the relay needs after an offer/answer exchange, for the first audio stream both accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Which `m=` line the stream is.
    pub media_index: usize,
    /// Where to send RTP. `0.0.0.0` while the peer holds RFC 2543 style: [`Negotiated::should_send`]
    /// is false then.
    pub remote_rtp: SocketAddr,
    /// Where to send RTCP: `a=rtcp`, the RTP address with rtcp-mux, otherwise the next port.
    pub remote_rtcp: SocketAddr,
    /// Both sides said `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// The codec to send with: the first one in the remote list that both sides have.
    pub send_codec: NegotiatedCodec,
    pub telephone_event: Option<NegotiatedEvent>,
    /// The remote `a=ptime`: how the peer wants its packets cut.
    pub ptime: Option<u32>,
    /// Our direction, as in our description.
    pub local_direction: Direction,
    /// The peer's direction, with `c=0.0.0.0` (without ICE) counted as not receiving.
    pub remote_direction: Direction,
    /// The SRTP keys both sides gave under one `a=crypto` tag; `None` for plain RTP.
    pub srtp: Option<SrtpKeys>,
    /// The peer's ICE and DTLS parameters on a WebRTC stream.
    pub webrtc: Option<RemoteWebRtc>,
}

/// A codec as both sides number it. Each side receives under the numbers of its own description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedCodec {
    /// The number in the peer's description, which the packets we send carry.
    pub payload_type: u8,
    /// The number in our description, which the packets we receive carry.
    pub local_payload_type: u8,
    pub name: String,
    pub clock_rate: u32,
    pub channels: u16,
    /// The peer's fmtp for it (its decoder's wishes, e.g. Opus `maxaveragebitrate`).
    pub fmtp: Option<String>,
}

/// RFC 4733 events as both sides number them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiatedEvent {
    pub payload_type: u8,
    pub local_payload_type: u8,
    pub clock_rate: u32,
}

impl LocalCapabilities {
    /// Plain RTP/AVP with telephone-event as PT 101 and 20 ms packets, as carriers expect.
    pub fn new(address: IpAddr, port: u16, codecs: Vec<Codec>) -> LocalCapabilities {
        LocalCapabilities {
            address,
            port,
            proto: "RTP/AVP".to_owned(),
            codecs,
            telephone_event: Some(101),
            ptime: Some(20),
            rtcp_mux: false,
            direction: Direction::SendRecv,
            extra_media_attributes: Vec::new(),
            crypto: None,
            webrtc: None,
        }
    }

    /// Everything we print must parse again, so nothing that would break a line or a token gets in.
    fn validate(&self) -> Result<(), SdpError> {
        let invalid = |reason| Err(SdpError::InvalidCapabilities { reason });
        if self.codecs.is_empty() {
            return invalid("no codecs");
        }
        if self.proto.is_empty()
            || self.proto.contains(char::is_whitespace)
            || !is_rtp_proto(&self.proto)
        {
            return invalid("proto must be an RTP profile such as RTP/AVP");
        }
        let mut numbers: Vec<u8> = self.codecs.iter().map(|c| c.payload_type).collect();
        numbers.extend(self.telephone_event);
        if numbers.iter().any(|pt| *pt > 127) {
            return invalid("payload types are 0-127");
        }
        numbers.sort_unstable();
        if numbers.windows(2).any(|pair| pair.first() == pair.last()) {
            return invalid("two formats share a payload type");
        }
        for codec in &self.codecs {
            let name_ok = !codec.name.is_empty()
                && !codec.name.contains(|c: char| c.is_whitespace() || c == '/');
            if !name_ok || codec.clock_rate == 0 || codec.channels == 0 {
                return invalid(
                    "codec needs a name without spaces or '/', a clock rate and channels",
                );
            }
            if codec.name.eq_ignore_ascii_case(TELEPHONE_EVENT) {
                return invalid("telephone-event is set by LocalCapabilities::telephone_event");
            }
            if codec.fmtp.as_deref().is_some_and(breaks_line) {
                return invalid("fmtp contains a line break or NUL");
            }
        }
        for attribute in &self.extra_media_attributes {
            let name_ok = !attribute.name.is_empty() && attribute.name.bytes().all(is_token_byte);
            if !name_ok || attribute.value.as_deref().is_some_and(breaks_line) {
                return invalid("extra attribute is not a valid a= line");
            }
        }
        Ok(())
    }
}

fn breaks_line(text: &str) -> bool {
    text.contains(['\r', '\n', '\0'])
}

impl SessionOrigin {
    /// Starts with the version equal to the session id, as Asterisk and FreeSWITCH do. The caller picks
    /// the id (RFC 8866 suggests an NTP timestamp), which keeps this module free of clocks.
    pub fn new(session_id: u64, address: IpAddr) -> SessionOrigin {
        SessionOrigin {
            username: "-".to_owned(),
            session_id,
            address,
            version: session_id,
            last_sent: None,
        }
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// The description we last stamped.
    pub fn last_sent(&self) -> Option<&SessionDescription> {
        self.last_sent.as_ref()
    }

    fn origin(&self) -> Origin {
        Origin {
            username: self.username.clone(),
            session_id: self.session_id,
            session_version: self.version,
            net_type: "IN".to_owned(),
            addr_type: addr_type_of(self.address).to_owned(),
            address: self.address.to_string(),
        }
    }

    /// Writes our `o=` into `description`, one version higher than last time if anything else differs
    /// from the last description stamped (a session refresh re-sends the same version).
    pub fn stamp(&mut self, mut description: SessionDescription) -> SessionDescription {
        description.origin = self.origin();
        if let Some(previous) = &self.last_sent {
            if *previous != description {
                // Wrapping rather than panicking; ids are chosen far below 2^64.
                self.version = self.version.wrapping_add(1);
                description.origin.session_version = self.version;
            }
        }
        self.last_sent = Some(description.clone());
        description
    }
}

impl Negotiated {
    /// Whether we should send RTP to the peer now.
    pub fn should_send(&self) -> bool {
        self.local_direction.sends() && self.remote_direction.receives()
    }

    /// Whether the peer will send RTP to us now.
    pub fn should_receive(&self) -> bool {
        self.local_direction.receives() && self.remote_direction.sends()
    }

    /// We stopped receiving: we hold the peer (our `sendonly`/`inactive`).
    pub fn held_by_local(&self) -> bool {
        self.local_direction.is_hold()
    }

    /// The peer stopped receiving: it holds us (`sendonly`, `inactive` or `c=0.0.0.0`).
    pub fn held_by_remote(&self) -> bool {
        self.remote_direction.is_hold()
    }

    pub fn is_on_hold(&self) -> bool {
        self.held_by_local() || self.held_by_remote()
    }
}

/// Builds our offer (or re-offer) for a leg; `origin` decides the `o=` version.
pub fn create_offer(
    caps: &LocalCapabilities,
    origin: &mut SessionOrigin,
) -> Result<SessionDescription, SdpError> {
    caps.validate()?;
    let mut formats = Vec::new();
    let mut attributes = Vec::new();
    for codec in &caps.codecs {
        formats.push(codec.payload_type.to_string());
        attributes.push(Attribute::new("rtpmap", codec.rtpmap_value()));
        if let Some(fmtp) = &codec.fmtp {
            attributes.push(Attribute::new(
                "fmtp",
                format!("{} {fmtp}", codec.payload_type),
            ));
        }
    }
    if let Some(pt) = caps.telephone_event {
        formats.push(pt.to_string());
        attributes.extend(telephone_event_attributes(pt, 8000));
    }
    if caps.webrtc.is_some() {
        // One BUNDLEd stream, named as the group names it.
        attributes.insert(0, Attribute::new("mid", webrtc::OFFER_MID));
    }
    push_stream_attributes(&mut attributes, caps, caps.rtcp_mux, caps.direction);
    if let Some(local) = &caps.crypto {
        attributes.extend(crypto::offer_attributes(local));
    }
    let (proto, session_attributes) = match &caps.webrtc {
        Some(local) => {
            attributes.extend(webrtc::stream_attributes(
                local,
                caps.address,
                caps.port,
                "actpass",
            ));
            (
                webrtc::WEBRTC_PROTO.to_owned(),
                webrtc::session_attributes(webrtc::OFFER_MID),
            )
        }
        None => (
            crypto::offer_proto(caps.crypto.as_ref(), &caps.proto),
            Vec::new(),
        ),
    };
    let media = audio_section(caps, &proto, formats, attributes);
    Ok(origin.stamp(session_shell(caps, vec![media], session_attributes)))
}

/// Answers an offer (initial or re-offer) for a leg: see the module documentation for what is
/// accepted. Fails with [`SdpError::NoAcceptableMedia`] (488) when no stream can be accepted.
pub fn answer(
    offer: &SessionDescription,
    caps: &LocalCapabilities,
    origin: &mut SessionOrigin,
) -> Result<(SessionDescription, Negotiated), SdpError> {
    caps.validate()?;
    let mut accepted = false;
    let mut media = Vec::with_capacity(offer.media.len());
    for offered in offer.media_views() {
        let accepted_section = if accepted {
            None
        } else {
            accept_audio(offered, caps)
        };
        match accepted_section {
            Some(section) => {
                accepted = true;
                media.push(section);
            }
            None => media.push(rejected(offered.media)),
        }
    }
    if !accepted {
        return Err(SdpError::NoAcceptableMedia);
    }
    let session_attributes = match media.iter().find(|m| m.port != 0 && is_webrtc(&m.proto)) {
        Some(m) => webrtc::session_attributes(m.mid().unwrap_or("0")),
        None => Vec::new(),
    };
    let description = origin.stamp(session_shell(caps, media, session_attributes));
    let summary = negotiated(&description, offer)?;
    Ok((description, summary))
}

/// Summarises a completed exchange from our side: `local` is what we sent (offer or answer),
/// `remote` what the peer sent. Works in both roles because our answers keep the offer's codec order.
pub fn negotiated(
    local: &SessionDescription,
    remote: &SessionDescription,
) -> Result<Negotiated, SdpError> {
    if local.media.len() != remote.media.len() {
        return Err(SdpError::MediaCountMismatch {
            local: local.media.len(),
            remote: remote.media.len(),
        });
    }
    local
        .media_views()
        .zip(remote.media_views())
        .enumerate()
        .find_map(|(index, (ours, theirs))| negotiate_stream(index, ours, theirs))
        .ok_or(SdpError::NoAcceptableMedia)
}

fn negotiate_stream(index: usize, local: MediaView, remote: MediaView) -> Option<Negotiated> {
    if !is_active_rtp_audio(local.media) || !is_active_rtp_audio(remote.media) {
        return None;
    }
    let local_formats = local.media.payload_formats();
    let remote_formats = remote.media.payload_formats();
    let (send, local_pt) = remote_formats.iter().find_map(|theirs| {
        let map = theirs.rtpmap.as_ref().filter(|m| is_media_codec(m))?;
        let ours = local_formats.iter().find(|f| same_codec(f, map))?;
        Some((theirs, ours.payload_type))
    })?;
    let send_map = send.rtpmap.as_ref()?;
    let rtcp_mux = local.media.rtcp_mux() && remote.media.rtcp_mux();
    let (remote_rtp, remote_rtcp) = remote_transport(remote, rtcp_mux)?;
    let srtp = crypto::settled_keys(local.media, remote.media).ok()?;
    let webrtc = if is_webrtc(&local.media.proto) || is_webrtc(&remote.media.proto) {
        Some(webrtc::remote_params(remote)?)
    } else {
        None
    };
    Some(Negotiated {
        media_index: index,
        remote_rtp,
        remote_rtcp,
        rtcp_mux,
        send_codec: NegotiatedCodec {
            payload_type: send.payload_type,
            local_payload_type: local_pt,
            name: send_map.encoding.clone(),
            clock_rate: send_map.clock_rate,
            channels: send_map.channels,
            fmtp: send.fmtp.clone(),
        },
        telephone_event: common_telephone_event(local.media, remote.media, send_map.clock_rate),
        ptime: remote.media.ptime(),
        local_direction: effective_direction(local),
        remote_direction: effective_direction(remote),
        srtp,
        webrtc,
    })
}

fn is_active_rtp_audio(media: &MediaDescription) -> bool {
    media.media.eq_ignore_ascii_case("audio") && media.port != 0 && media.is_rtp()
}

/// Formats that ride along with a codec rather than carry the voice themselves.
fn is_media_codec(map: &RtpMap) -> bool {
    !["telephone-event", "CN", "red", "ulpfec", "rtx"]
        .iter()
        .any(|helper| map.encoding.eq_ignore_ascii_case(helper))
}

fn same_codec(format: &PayloadFormat, map: &RtpMap) -> bool {
    format.rtpmap.as_ref().is_some_and(|ours| {
        ours.encoding.eq_ignore_ascii_case(&map.encoding)
            && ours.clock_rate == map.clock_rate
            && ours.channels == map.channels
    })
}

/// Prefers events at the voice codec's clock rate (RFC 4733 §2.1 times events with the audio), and
/// needs both sides to have events at the rate chosen.
fn common_telephone_event(
    local: &MediaDescription,
    remote: &MediaDescription,
    codec_clock: u32,
) -> Option<NegotiatedEvent> {
    let local_events = local.telephone_events();
    let remote_events = remote.telephone_events();
    let pair_at = |clock: u32| {
        let theirs = remote_events.iter().find(|e| e.clock_rate == clock)?;
        let ours = local_events.iter().find(|e| e.clock_rate == clock)?;
        Some(NegotiatedEvent {
            payload_type: theirs.payload_type,
            local_payload_type: ours.payload_type,
            clock_rate: clock,
        })
    };
    pair_at(codec_clock).or_else(|| {
        remote_events
            .iter()
            .find_map(|event| pair_at(event.clock_rate))
    })
}

fn remote_transport(remote: MediaView, rtcp_mux: bool) -> Option<(SocketAddr, SocketAddr)> {
    let ip = remote.connection()?.ip()?;
    let rtp = SocketAddr::new(ip, remote.port());
    let rtcp = if rtcp_mux {
        rtp
    } else if let Some(rtcp) = remote.media.rtcp() {
        let rtcp_ip = match &rtcp.connection {
            Some(connection) => connection.ip()?,
            None => ip,
        };
        SocketAddr::new(rtcp_ip, rtcp.port)
    } else {
        SocketAddr::new(ip, remote.port().checked_add(1)?)
    };
    Some((rtp, rtcp))
}

/// The direction a description means: `c=0.0.0.0` is RFC 2543 hold ("do not send to me") unless ICE
/// is in use, where it is only the placeholder before candidates (RFC 8839 §4.2.5).
fn effective_direction(view: MediaView) -> Direction {
    let stated = view.direction();
    let rfc2543_hold =
        !view.uses_ice() && view.connection().is_some_and(Connection::is_unspecified);
    if rfc2543_hold {
        stated.intersect(Direction::SendOnly)
    } else {
        stated
    }
}

fn accept_audio(offered: MediaView, caps: &LocalCapabilities) -> Option<MediaDescription> {
    let media = offered.media;
    let webrtc = caps.webrtc.as_ref().filter(|_| is_webrtc(&media.proto));
    let profile_ok = media.proto.eq_ignore_ascii_case(&caps.proto)
        || (caps.crypto.is_some() && crypto::is_savp(&media.proto))
        || webrtc.is_some();
    if !is_active_rtp_audio(media) || !profile_ok {
        return None;
    }
    // A WebRTC stream's keys come from DTLS, never from a=crypto.
    let crypto_line = match webrtc {
        Some(_) => None,
        None => crypto::answer_attribute(media, caps.crypto.as_ref()).ok()?,
    };
    let formats = media.payload_formats();
    let common: Vec<(&PayloadFormat, &RtpMap, &Codec)> = formats
        .iter()
        .filter_map(|format| {
            let map = format.rtpmap.as_ref()?;
            let codec = caps.codecs.iter().find(|c| c.matches(map))?;
            Some((format, map, codec))
        })
        .collect();
    let voice_clock = common
        .iter()
        .find(|(_, map, _)| is_media_codec(map))
        .map(|(_, map, _)| map.clock_rate)?;
    let rtcp_mux = caps.rtcp_mux && media.rtcp_mux();
    // A stream we could not send to is no better than a rejected one.
    remote_transport(offered, rtcp_mux)?;

    let mut answer_formats = Vec::new();
    let mut attributes = Vec::new();
    if let Some(mid) = media.mid() {
        attributes.push(Attribute::new("mid", mid));
    }
    for (format, map, codec) in &common {
        let pt = format.payload_type;
        answer_formats.push(pt.to_string());
        let value = super::codec::rtpmap_value(pt, &map.encoding, map.clock_rate, map.channels);
        attributes.push(Attribute::new("rtpmap", value));
        if let Some(fmtp) = &codec.fmtp {
            attributes.push(Attribute::new("fmtp", format!("{pt} {fmtp}")));
        }
    }
    if caps.telephone_event.is_some() {
        let events = media.telephone_events();
        let chosen = events
            .iter()
            .find(|e| e.clock_rate == voice_clock)
            .or(events.first());
        if let Some(event) = chosen {
            answer_formats.push(event.payload_type.to_string());
            attributes.extend(telephone_event_attributes(
                event.payload_type,
                event.clock_rate,
            ));
        }
    }
    let direction = effective_direction(offered)
        .reversed()
        .intersect(caps.direction);
    push_stream_attributes(&mut attributes, caps, rtcp_mux, direction);
    attributes.extend(crypto_line);
    if let Some(local) = webrtc {
        attributes.extend(webrtc::stream_attributes(
            local,
            caps.address,
            caps.port,
            "passive",
        ));
    }
    Some(audio_section(
        caps,
        &media.proto,
        answer_formats,
        attributes,
    ))
}

/// RFC 3264 §6: a rejected stream keeps its m-line with port 0; the format list stays as offered.
fn rejected(offered: &MediaDescription) -> MediaDescription {
    let attributes = offered
        .mid()
        .map(|mid| vec![Attribute::new("mid", mid)])
        .unwrap_or_default();
    MediaDescription {
        media: offered.media.clone(),
        port: 0,
        port_count: None,
        proto: offered.proto.clone(),
        formats: offered.formats.clone(),
        information: None,
        connection: None,
        bandwidths: Vec::new(),
        encryption_key: None,
        attributes,
    }
}

fn telephone_event_attributes(pt: u8, clock_rate: u32) -> [Attribute; 2] {
    [
        Attribute::new(
            "rtpmap",
            super::codec::rtpmap_value(pt, TELEPHONE_EVENT, clock_rate, 1),
        ),
        Attribute::new("fmtp", format!("{pt} {}", super::codec::SUPPORTED_EVENTS)),
    ]
}

fn push_stream_attributes(
    attributes: &mut Vec<Attribute>,
    caps: &LocalCapabilities,
    rtcp_mux: bool,
    direction: Direction,
) {
    if let Some(ptime) = caps.ptime {
        attributes.push(Attribute::new("ptime", ptime.to_string()));
    }
    if rtcp_mux {
        attributes.push(Attribute::flag("rtcp-mux"));
    }
    attributes.push(Attribute::flag(direction.attribute_name()));
    attributes.extend(caps.extra_media_attributes.iter().cloned());
}

fn audio_section(
    caps: &LocalCapabilities,
    proto: &str,
    formats: Vec<String>,
    attributes: Vec<Attribute>,
) -> MediaDescription {
    MediaDescription {
        media: "audio".to_owned(),
        port: caps.port,
        port_count: None,
        proto: proto.to_owned(),
        formats,
        information: None,
        connection: None,
        bandwidths: Vec::new(),
        encryption_key: None,
        attributes,
    }
}

/// Everything but `o=`, which [`SessionOrigin::stamp`] fills in.
fn session_shell(
    caps: &LocalCapabilities,
    media: Vec<MediaDescription>,
    attributes: Vec<Attribute>,
) -> SessionDescription {
    SessionDescription {
        origin: Origin {
            username: String::new(),
            session_id: 0,
            session_version: 0,
            net_type: String::new(),
            addr_type: String::new(),
            address: String::new(),
        },
        session_name: "-".to_owned(),
        information: None,
        uri: None,
        emails: Vec::new(),
        phones: Vec::new(),
        connection: Some(Connection::from_ip(caps.address)),
        bandwidths: Vec::new(),
        timings: vec![Timing {
            start: 0,
            stop: 0,
            repeats: Vec::new(),
        }],
        time_zones: None,
        encryption_key: None,
        attributes,
        media,
    }
}
