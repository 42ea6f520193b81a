//! SDP (RFC 8866, formerly RFC 4566) and the offer/answer model (RFC 3264) for a B2BUA that anchors
//! media: every call leg faces one peer (a carrier, a SIP softphone, later a WebRTC browser), and the
//! relay needs to know where to send RTP, with which payload type, and whether the leg is on hold.
//!
//! Everything here is pure: bytes in, descriptions out; descriptions in, answers out. Session ids come
//! from the caller, so nothing reads a clock or a random source.
//!
//! - [`model`]: the description as data, with typed accessors ([`MediaView`] adds the session-level
//!   fallbacks a media section inherits);
//! - [`parse`](SessionDescription::parse): bounded, never panics, keeps unknown lines verbatim and in
//!   order; printing ([`std::fmt::Display`]) writes CRLF and parses back to an equal description;
//! - [`codec`]: rtpmap / fmtp / telephone-event readings, the RFC 3551 static payload types, and the
//!   [`Codec`] a leg is able to use;
//! - [`negotiate`]: [`create_offer`], [`answer`] and [`negotiated`], with [`SessionOrigin`] keeping the
//!   `o=` version honest across re-INVITEs;
//! - [`crypto`]: SDES `a=crypto` lines (RFC 4568) for SRTP legs.

pub mod codec;
pub mod crypto;
pub mod model;
pub mod negotiate;
mod parse;
mod print;
pub mod webrtc;

#[cfg(test)]
mod crypto_tests;
#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod negotiate_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod webrtc_tests;

pub use codec::{Codec, EventRange, PayloadFormat, RtpMap, TelephoneEventFormat};
pub use crypto::{LocalCrypto, SrtpMode, SAVP};
pub use model::{
    Attribute, Bandwidth, Connection, Direction, MediaDescription, MediaView, Origin,
    RtcpAttribute, SessionDescription, Timing,
};
pub use negotiate::{
    answer, create_offer, negotiated, LocalCapabilities, Negotiated, NegotiatedCodec,
    NegotiatedEvent, SessionOrigin,
};
pub use webrtc::{LocalWebRtc, RemoteWebRtc, WEBRTC_PROTO};

/// Largest description accepted, counted as it would be printed (each line plus CRLF, blank lines
/// dropped), so that anything that parses also prints within the limit and parses again.
pub const MAX_DESCRIPTION_LEN: usize = 16 * 1024;
/// Longest line accepted, without its line end.
pub const MAX_LINE_LEN: usize = 1024;
/// Most `m=` sections accepted; a B2BUA leg uses one audio stream, and the rest only get rejected.
pub const MAX_MEDIA_SECTIONS: usize = 16;
/// Most `a=` lines accepted at session level, and in each media section: a Chromium video section
/// carries rtpmap, rtcp-fb and fmtp lines for about 15 codecs, well over 100.
pub const MAX_ATTRIBUTES: usize = 256;

/// Why a description was not accepted, or why an offer/answer exchange could not produce a stream.
///
/// Line numbers count from 1 and include blank lines, as an editor shows them. The type is `Copy` so
/// the crate's [`crate::MediaError`] can wrap it later without changing its derives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// The description is longer than [`MAX_DESCRIPTION_LEN`].
    #[error("SDP longer than {MAX_DESCRIPTION_LEN} bytes")]
    TooLarge,
    /// A line is longer than [`MAX_LINE_LEN`].
    #[error("SDP line {line} longer than {MAX_LINE_LEN} bytes")]
    LineTooLong { line: usize },
    /// More than [`MAX_MEDIA_SECTIONS`] `m=` lines.
    #[error("SDP line {line}: more than {MAX_MEDIA_SECTIONS} media sections")]
    TooManyMediaSections { line: usize },
    /// More than [`MAX_ATTRIBUTES`] `a=` lines in the session part or in one media section.
    #[error("SDP line {line}: more than {MAX_ATTRIBUTES} attributes in one section")]
    TooManyAttributes { line: usize },
    /// The bytes are not UTF-8 (RFC 8866 §5: the default charset is UTF-8, and we accept no other).
    #[error("SDP line {line} is not UTF-8")]
    NotUtf8 { line: usize },
    /// A NUL, or a carriage return that does not end the line.
    #[error("SDP line {line} contains NUL or a stray carriage return")]
    ForbiddenCharacter { line: usize },
    /// The line does not have the shape its type requires; `reason` says which part is wrong.
    #[error("SDP line {line}: {reason}")]
    Malformed { line: usize, reason: &'static str },
    /// The port of an `m=` line (or its port count) is not a number from 0 to 65535.
    #[error("SDP line {line}: port is not a number from 0 to 65535")]
    InvalidPort { line: usize },
    /// A line type RFC 8866 does not define (RFC 8866 §5 lets a parser reject these).
    #[error("SDP line {line}: unknown line type {kind:?}")]
    UnknownLineType { line: usize, kind: char },
    /// A known line type in a place it may not appear (e.g. `t=` inside a media section).
    #[error("SDP line {line}: {kind:?} line not allowed here")]
    MisplacedLine { line: usize, kind: char },
    /// A line type that may appear only once in its section appears again.
    #[error("SDP line {line}: second {kind:?} line")]
    DuplicateLine { line: usize, kind: char },
    /// A mandatory line (`v=`, `o=`, `s=` or `t=`) is missing.
    #[error("SDP has no {kind:?} line")]
    MissingLine { kind: char },
    /// No offered stream is audio we can relay with a codec both sides support. Call control answers
    /// the INVITE with 488 Not Acceptable Here.
    #[error("no acceptable audio stream")]
    NoAcceptableMedia,
    /// Offer and answer have different numbers of `m=` lines, which RFC 3264 §6 forbids.
    #[error("offer and answer differ in media section count ({local} local, {remote} remote)")]
    MediaCountMismatch { local: usize, remote: usize },
    /// The local capabilities cannot be written as SDP; `reason` says which part.
    #[error("invalid local capabilities: {reason}")]
    InvalidCapabilities { reason: &'static str },
}
