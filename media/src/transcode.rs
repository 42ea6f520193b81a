//! Transcoding of one direction of a call, when the two legs share no codec: packets of the input codec
//! go into a jitter buffer; every 20 ms a frame is decoded (or concealed when lost), resampled to the
//! output codec's rate and encoded into an RTP packet. Opus (48 kHz, mono, in-band FEC on) ⇄ PCMU/PCMA
//! (8 kHz). Time comes in as `Instant`s; nothing here reads a clock or touches a socket.

use std::time::Instant;

use crate::g711;
use crate::jitter::{JitterBuffer, JitterConfig, Playout};
use crate::resample::Resampler;
use crate::rtp::{RtpPacket, FIXED_HEADER};
use crate::MediaError;

/// The audio codecs the media core decodes and encodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Pcmu,
    Pcma,
    Opus,
}

impl Codec {
    /// RTP clock rate (RFC 3551; RFC 7587 fixes Opus at 48000 whatever the audio bandwidth).
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma => 8000,
            Codec::Opus => 48000,
        }
    }

    /// Samples in one 20 ms frame at the codec's PCM rate.
    pub fn frame_samples(self) -> usize {
        self.clock_rate() as usize / 50
    }

    /// The codec of an SDP encoding name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Codec> {
        if name.eq_ignore_ascii_case("PCMU") {
            Some(Codec::Pcmu)
        } else if name.eq_ignore_ascii_case("PCMA") {
            Some(Codec::Pcma)
        } else if name.eq_ignore_ascii_case("opus") {
            Some(Codec::Opus)
        } else {
            None
        }
    }
}

/// A codec as negotiated on one leg: which codec and under which payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecSpec {
    pub codec: Codec,
    pub payload_type: u8,
}

/// Encoder settings for Opus output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusSettings {
    /// 0–10; each step costs CPU. The default, 2, is what lets one core carry 250 Opus⇄G.711 calls
    /// (BENCHMARKS.md §3); the audio it codes comes from G.711 (narrowband), where higher settings
    /// buy little.
    pub complexity: i32,
    pub bitrate: i32,
    /// In-band FEC, so the far end can rebuild a lost packet from the next one.
    pub inband_fec: bool,
    /// Loss the encoder plans for (gates FEC).
    pub expected_loss_percent: i32,
    /// Stop sending during silence (only when the far end signalled `usedtx=1`).
    pub dtx: bool,
}

impl Default for OpusSettings {
    fn default() -> Self {
        OpusSettings {
            complexity: 2,
            bitrate: 24_000,
            inband_fec: true,
            expected_loss_percent: 5,
            dtx: false,
        }
    }
}

enum Decoder {
    Pcmu,
    Pcma,
    Opus(Box<opus::Decoder>),
}

enum Encoder {
    Pcmu,
    Pcma,
    Opus(Box<opus::Encoder>),
}

fn opus_error(_: opus::Error) -> MediaError {
    MediaError::Codec("libopus refused")
}

impl Decoder {
    /// `pcm_rate`: the rate decoded audio comes out at (libopus resamples inside its decoder).
    fn new(codec: Codec, pcm_rate: u32) -> Result<Decoder, MediaError> {
        Ok(match codec {
            Codec::Pcmu => Decoder::Pcmu,
            Codec::Pcma => Decoder::Pcma,
            Codec::Opus => Decoder::Opus(Box::new(
                opus::Decoder::new(pcm_rate, opus::Channels::Mono).map_err(opus_error)?,
            )),
        })
    }

    /// Decodes one frame into `pcm` (resized to the frame); a malformed payload is concealed instead.
    fn decode(&mut self, payload: &[u8], pcm: &mut Vec<i16>, frame: usize) {
        pcm.clear();
        match self {
            Decoder::Pcmu => pcm.extend(payload.iter().map(|&c| g711::ulaw_decode(c))),
            Decoder::Pcma => pcm.extend(payload.iter().map(|&c| g711::alaw_decode(c))),
            Decoder::Opus(d) => {
                pcm.resize(frame * 6, 0);
                match d.decode(payload, pcm, false) {
                    Ok(n) => pcm.truncate(n),
                    Err(_) => return self.conceal(pcm, frame),
                }
            }
        }
        pcm.resize(frame, 0);
    }

    /// Packet-loss concealment for one frame: libopus extrapolates; G.711 fades the last frame out.
    fn conceal(&mut self, pcm: &mut Vec<i16>, frame: usize) {
        match self {
            Decoder::Opus(d) => {
                pcm.clear();
                pcm.resize(frame, 0);
                if let Ok(n) = d.decode(&[], pcm, false) {
                    pcm.truncate(n);
                }
                pcm.resize(frame, 0);
            }
            Decoder::Pcmu | Decoder::Pcma => {
                // Repeat the previous frame at half level: a gap of one packet stays unobtrusive,
                // a longer loss fades to silence within a few frames.
                pcm.resize(frame, 0);
                for s in pcm.iter_mut() {
                    *s /= 2;
                }
            }
        }
    }
}

impl Encoder {
    /// `pcm_rate`: the rate of the audio handed in (libopus codes 8 kHz input as narrowband).
    fn new(
        codec: Codec,
        pcm_rate: u32,
        opus_settings: &OpusSettings,
    ) -> Result<Encoder, MediaError> {
        Ok(match codec {
            Codec::Pcmu => Encoder::Pcmu,
            Codec::Pcma => Encoder::Pcma,
            Codec::Opus => {
                let mut e =
                    opus::Encoder::new(pcm_rate, opus::Channels::Mono, opus::Application::Voip)
                        .map_err(opus_error)?;
                e.set_complexity(opus_settings.complexity)
                    .map_err(opus_error)?;
                e.set_bitrate(opus::Bitrate::Bits(opus_settings.bitrate))
                    .map_err(opus_error)?;
                e.set_inband_fec(opus_settings.inband_fec)
                    .map_err(opus_error)?;
                e.set_packet_loss_perc(opus_settings.expected_loss_percent)
                    .map_err(opus_error)?;
                e.set_dtx(opus_settings.dtx).map_err(opus_error)?;
                Encoder::Opus(Box::new(e))
            }
        })
    }

    /// Encodes one frame into `out`; returns the payload length.
    fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, MediaError> {
        match self {
            Encoder::Pcmu | Encoder::Pcma => {
                let out = out.get_mut(..pcm.len()).ok_or(MediaError::BufferTooSmall)?;
                let law_u = matches!(self, Encoder::Pcmu);
                for (o, &s) in out.iter_mut().zip(pcm) {
                    *o = if law_u {
                        g711::ulaw_encode(s)
                    } else {
                        g711::alaw_encode(s)
                    };
                }
                Ok(pcm.len())
            }
            Encoder::Opus(e) => e.encode(pcm, out).map_err(opus_error),
        }
    }
}

/// Counters of one transcoding direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TranscodeCounters {
    pub frames_decoded: u64,
    pub frames_concealed: u64,
    pub packets_out: u64,
}

/// One direction of a transcoded call.
pub struct Transcoder {
    input: CodecSpec,
    output: CodecSpec,
    jitter: JitterBuffer,
    decoder: Decoder,
    encoder: Encoder,
    resampler: Resampler,
    /// Samples per frame at the decoder's and the encoder's PCM rates.
    frame_in: usize,
    frame_out: usize,
    pcm: Vec<i16>,
    resampled: Vec<i16>,
    out_seq: u16,
    out_ts: u32,
    ssrc: Option<u32>,
    marker: bool,
    counters: TranscodeCounters,
}

impl Transcoder {
    /// `ssrc` of the output stream: `None` keeps the input's (a B2BUA that does not mix).
    pub fn new(
        input: CodecSpec,
        output: CodecSpec,
        opus_settings: &OpusSettings,
        ssrc: Option<u32>,
    ) -> Result<Transcoder, MediaError> {
        let jitter = JitterBuffer::new(JitterConfig {
            clock_rate: input.codec.clock_rate(),
            ..JitterConfig::default()
        });
        // Opus decodes and encodes at any of its rates, so audio stays at the G.711 side's 8 kHz
        // the whole way: no separate resampler, and the encoder codes narrowband (there is nothing
        // above 4 kHz in G.711 audio), which costs a fraction of 48 kHz fullband.
        let pcm_rate = |c: Codec, other: Codec| match (c, other) {
            (Codec::Opus, Codec::Pcmu | Codec::Pcma) => 8000,
            (c, _) => c.clock_rate(),
        };
        let in_rate = pcm_rate(input.codec, output.codec);
        let out_rate = pcm_rate(output.codec, input.codec);
        Ok(Transcoder {
            input,
            output,
            jitter,
            decoder: Decoder::new(input.codec, in_rate)?,
            encoder: Encoder::new(output.codec, out_rate, opus_settings)?,
            resampler: Resampler::new(in_rate, out_rate)?,
            frame_in: in_rate as usize / 50,
            frame_out: out_rate as usize / 50,
            pcm: Vec::with_capacity(input.codec.frame_samples() * 6),
            resampled: Vec::with_capacity(output.codec.frame_samples() * 2),
            out_seq: 0,
            out_ts: 0,
            ssrc,
            marker: true,
            counters: TranscodeCounters::default(),
        })
    }

    pub fn input(&self) -> CodecSpec {
        self.input
    }

    pub fn output(&self) -> CodecSpec {
        self.output
    }

    pub fn counters(&self) -> TranscodeCounters {
        self.counters
    }

    /// The decoding side's jitter buffer (late, lost, and delay changes).
    pub fn jitter_counters(&self) -> crate::jitter::JitterCounters {
        *self.jitter.counters()
    }

    /// Takes an RTP packet of the input codec (other payload types are the caller's business).
    pub fn push(&mut self, packet: &RtpPacket<'_>, now: Instant) {
        if self.ssrc.is_none() {
            self.ssrc = Some(packet.ssrc);
        }
        self.jitter
            .push(packet.sequence, packet.timestamp, now, packet.payload);
    }

    /// When [`Transcoder::poll_packet`] may next produce a packet.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.jitter.poll_timeout()
    }

    /// Produces the next output packet into `out` if one is due; returns its length.
    pub fn poll_packet(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        let frame_in = self.frame_in;
        match self.jitter.pop(now) {
            Playout::NotReady => return None,
            Playout::Frame { payload, .. } => {
                self.decoder.decode(payload, &mut self.pcm, frame_in);
                self.counters.frames_decoded += 1;
            }
            Playout::Missing => {
                self.decoder.conceal(&mut self.pcm, frame_in);
                self.counters.frames_concealed += 1;
            }
            Playout::Silence => {
                self.pcm.clear();
                self.pcm.resize(frame_in, 0);
            }
        }
        self.resampled.clear();
        self.resampler.process(&self.pcm, &mut self.resampled);
        // The resampler's output per frame is exact for these integer ratios; pad or cut so a
        // rounding slip can never drift the output clock.
        self.resampled.resize(self.frame_out, 0);
        let payload_buf = out.get_mut(FIXED_HEADER..)?;
        let len = self.encoder.encode(&self.resampled, payload_buf).ok()?;
        let header = RtpPacket {
            marker: std::mem::take(&mut self.marker),
            payload_type: self.output.payload_type,
            sequence: self.out_seq,
            timestamp: self.out_ts,
            ssrc: self.ssrc.unwrap_or(0),
            csrc: &[],
            extension: None,
            payload: &[],
            padding: 0,
        };
        header.write(out.get_mut(..FIXED_HEADER)?).ok()?;
        self.out_seq = self.out_seq.wrapping_add(1);
        self.out_ts = self
            .out_ts
            .wrapping_add(self.output.codec.frame_samples() as u32);
        self.counters.packets_out += 1;
        Some(FIXED_HEADER + len)
    }
}

/// Encodes 20 ms frames of audio the media core makes itself (prompts, music on hold) into one
/// leg's codec.
pub struct FrameEncoder {
    encoder: Encoder,
    pcm_rate: u32,
}

impl FrameEncoder {
    /// Opus legs get audio at 48 kHz (prompts may be wideband); G.711 legs at 8 kHz.
    pub fn new(codec: Codec, opus_settings: &OpusSettings) -> Result<FrameEncoder, MediaError> {
        let pcm_rate = codec.clock_rate();
        Ok(FrameEncoder {
            encoder: Encoder::new(codec, pcm_rate, opus_settings)?,
            pcm_rate,
        })
    }

    /// The sample rate frames must be in.
    pub fn pcm_rate(&self) -> u32 {
        self.pcm_rate
    }

    /// Encodes one frame into `out`; returns the payload length.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, MediaError> {
        self.encoder.encode(pcm, out)
    }
}

/// Decodes one leg's packets to PCM for a consumer other than an encoder (recording).
pub struct PacketDecoder {
    decoder: Decoder,
    frame: usize,
    pcm: Vec<i16>,
    pcm_rate: u32,
}

impl PacketDecoder {
    /// G.711 decodes at 8 kHz whatever `opus_rate` says; Opus at `opus_rate` (8000, 16000 or 48000).
    pub fn new(codec: Codec, opus_rate: u32) -> Result<PacketDecoder, MediaError> {
        let pcm_rate = match codec {
            Codec::Opus => opus_rate,
            Codec::Pcmu | Codec::Pcma => 8000,
        };
        Ok(PacketDecoder {
            decoder: Decoder::new(codec, pcm_rate)?,
            frame: pcm_rate as usize / 50,
            pcm: Vec::with_capacity(pcm_rate as usize * 6 / 50),
            pcm_rate,
        })
    }

    pub fn pcm_rate(&self) -> u32 {
        self.pcm_rate
    }

    /// One packet's audio (a malformed Opus payload comes out concealed). G.711 payloads of any length
    /// decode whole; Opus up to 120 ms.
    pub fn decode(&mut self, payload: &[u8]) -> &[i16] {
        match &mut self.decoder {
            Decoder::Opus(d) => {
                // Keep whatever duration the packet carries (20, 40, 60 ms…), not one frame.
                self.pcm.clear();
                self.pcm.resize(self.frame * 6, 0);
                match d.decode(payload, &mut self.pcm, false) {
                    Ok(n) => self.pcm.truncate(n),
                    Err(_) => self.decoder.conceal(&mut self.pcm, self.frame),
                }
            }
            Decoder::Pcmu | Decoder::Pcma => {
                self.decoder.decode(payload, &mut self.pcm, payload.len());
            }
        }
        &self.pcm
    }
}
