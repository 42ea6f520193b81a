//! The media core of Switchboard: RTP/RTCP relay, SRTP/WebRTC bridging, transcoding, prompts, DTMF and
//! recording (issue "Media core").
//!
//! What exists so far is the packet and codec groundwork the relay will stand on, pure and IO-free:
//! - [`rtp`]: RTP header parsing and writing (RFC 3550 §5.1) that never panics, never allocates for a
//!   packet it only inspects, and rejects what is not RTP;
//! - [`g711`]: μ-law and A-law (ITU-T G.711) sample conversion by table;
//! - [`dtmf`]: RFC 4733 telephone-event payloads and an in-band (Goertzel) digit detector.
//!
//! Nothing here opens a socket yet: calls cannot be anchored through this node until the relay lands.

pub mod dtmf;
pub mod g711;
pub mod rtp;

/// Why a media packet was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// Shorter than the fixed header, or than the CSRC list / extension / padding it announces.
    #[error("RTP packet truncated")]
    Truncated,
    /// Version bits other than 2.
    #[error("not RTP version 2")]
    BadVersion,
    /// Padding length of zero or longer than the payload.
    #[error("bad RTP padding")]
    BadPadding,
    /// The output buffer is too small for the packet being written.
    #[error("buffer too small")]
    BufferTooSmall,
}
