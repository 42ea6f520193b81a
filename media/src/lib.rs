//! The media core of Switchboard (issue "Media core"), sans-IO: bytes and `Instant`s in, packets,
//! frames and events out. The media threads that own the sockets are in `switchboard-media-rt`.
//! - [`relay`]: per-thread relay state — legs, symmetric RTP latching, bridging, payload-type mapping,
//!   hold, RTCP routing, DTMF detection, media timeouts, counters, transcoded legs;
//! - [`sdp`]: SDP parsing/printing (RFC 8866) and offer/answer (RFC 3264);
//! - [`srtp`]: SRTP/SRTCP protection in place (RFC 3711) with the SDES suites of RFC 4568;
//! - [`rtp`], [`rtcp`]: packet views that never panic (RFC 3550, RFC 5761 demultiplexing);
//! - [`stats`]: receive statistics (loss, jitter, RTT) per RFC 3550 A.1–A.8;
//! - [`jitter`]: an adaptive jitter buffer for the decoding side of transcoding;
//! - [`transcode`]: Opus ⇄ PCMU/PCMA for one direction of a call, with concealment of lost frames;
//! - [`g711`]: μ-law and A-law (ITU-T G.711) sample conversion by table;
//! - [`dtmf`]: RFC 4733 telephone-event payloads and an in-band (Goertzel) digit detector;
//! - [`tone`]: Goertzel measures of how much of a signal is at one frequency;
//! - [`wav`]: WAV reading (PCM, A-law, μ-law) with a size cap, and a writer whose header is patched last;
//! - [`resample`]: a streaming polyphase (Kaiser-windowed sinc) sample-rate converter, 8–48 kHz;
//! - [`playback`]: prompts, playlists and music on hold into a leg, one 20 ms frame when due;
//! - [`recording`]: both sides of a call aligned on one timeline, out as mixed or stereo WAV bytes.

pub mod dtmf;
pub mod g711;
pub mod jitter;
pub mod playback;
pub mod prompts;
pub mod recording;
pub mod relay;
pub mod resample;
pub mod rtcp;
pub mod rtp;
pub mod sdp;
pub mod srtp;
pub mod stats;
pub mod tone;
pub mod transcode;
pub mod wav;

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
    /// An RTCP packet shorter than its 4-byte header or than the length field announces (the
    /// datagram ends inside a packet).
    #[error("RTCP packet truncated")]
    RtcpTruncated,
    /// An RTCP length field too short for what the packet declares: report blocks, SDES chunks or
    /// BYE sources beyond it, SDES items overrunning it, or bytes left over after the last chunk.
    #[error("RTCP length inconsistent with its content")]
    RtcpBadLength,
    /// RTCP padding on a packet that is not the last of the datagram, or a padding count of zero
    /// or larger than the packet (RFC 3550 §6.4.1, A.2).
    #[error("bad RTCP padding")]
    RtcpBadPadding,
    /// A compound RTCP packet whose first packet is not SR or RR (RFC 3550 §6.1, A.2).
    #[error("compound RTCP does not start with SR or RR")]
    RtcpNotCompound,
    /// More than 31 report blocks or BYE sources, or an SDES item or BYE reason over 255 octets:
    /// more than the RTCP field can carry.
    #[error("value too large for its RTCP field")]
    RtcpFieldTooLarge,
    /// Neither a RIFF/WAVE file nor anything else the WAV reader knows.
    #[error("not a RIFF/WAVE file")]
    WavNotWave,
    /// The WAV file ends inside its header, or has no complete `fmt ` or no `data` chunk.
    #[error("WAV file truncated or missing its fmt/data chunk")]
    WavTruncated,
    /// A well-formed WAV file in an encoding, width or layout the reader does not decode.
    #[error("unsupported WAV format: {0}")]
    WavUnsupported(&'static str),
    /// The decoded audio would exceed the reader's size cap (50 MiB by default).
    #[error("WAV audio larger than the prompt size cap")]
    WavTooLarge,
    /// A sample rate outside 8000–48000 Hz, or a pair of rates whose ratio is too irregular to resample.
    #[error("unsupported sample rate {0} Hz")]
    UnsupportedRate(u32),
    /// A relay command named a leg that does not exist (released, or never allocated).
    #[error("no such media leg")]
    UnknownLeg,
    /// A codec library refused a setting or a frame (libopus errors are not specific enough to keep).
    #[error("codec error: {0}")]
    Codec(&'static str),
    /// An SRTP or SRTCP packet whose authentication tag does not match (forged, corrupted, or
    /// protected with other keys).
    #[error("SRTP authentication failed")]
    SrtpAuth,
    /// An SRTP or SRTCP packet already received, or older than the replay window.
    #[error("SRTP packet replayed")]
    SrtpReplay,
    /// SDES key parameters we cannot use.
    #[error("SRTP key: {0}")]
    SrtpKey(&'static str),
    /// A WebRTC leg could not be set up (bad parameters from the SDP, no certificate).
    #[error("WebRTC: {0}")]
    WebRtc(&'static str),
}
