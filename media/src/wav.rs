//! WAV (RIFF/WAVE) files for prompts and recordings, without IO: the reader takes the file's bytes, the
//! writer hands out bytes for the caller to write and, at the end, the header to write back at offset 0.
//!
//! The reader decodes 16-bit PCM, A-law and μ-law (format tags 1, 6, 7, and WAVE_FORMAT_EXTENSIBLE with
//! one of those sub-formats), mono or stereo, 8000–48000 Hz. Unknown chunks (`LIST`, `fact`, `cue `, …)
//! are skipped, odd-sized chunks take their pad byte into account.

use std::ops::Range;

use crate::{g711, MediaError};

/// Default cap on decoded audio: 50 MiB of 16-bit samples is about 27 minutes at 16 kHz mono, far more
/// than any prompt or hold music, and small enough that a hostile upload cannot exhaust the node.
pub const MAX_DECODED_BYTES: usize = 50 << 20;

/// Length of the canonical header [`WavWriter`] produces.
pub const HEADER_LEN: usize = 44;

const FORMAT_PCM: u16 = 1;
const FORMAT_ALAW: u16 = 6;
const FORMAT_MULAW: u16 = 7;
const FORMAT_EXTENSIBLE: u16 = 0xfffe;
/// The tail shared by the KSDATAFORMAT_SUBTYPE GUIDs of the classic format tags
/// (`xxxxxxxx-0000-0010-8000-00aa00389b71`): only the first four bytes name the format.
const SUBTYPE_TAIL: [u8; 12] = [
    0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];

/// How the samples of the `data` chunk are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WavEncoding {
    /// Linear PCM, 16-bit little-endian.
    Pcm16,
    /// G.711 A-law, one byte a sample.
    Alaw,
    /// G.711 μ-law, one byte a sample.
    Mulaw,
}

impl WavEncoding {
    fn bytes_per_sample(self) -> usize {
        match self {
            WavEncoding::Pcm16 => 2,
            WavEncoding::Alaw | WavEncoding::Mulaw => 1,
        }
    }
}

/// What a WAV file's header says, checked against the bytes present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavInfo {
    pub encoding: WavEncoding,
    pub channels: u16,
    pub rate: u32,
    /// Where the sample bytes lie in the file, cut to whole sample frames.
    pub data: Range<usize>,
}

impl WavInfo {
    /// Sample frames (one sample per channel) in the file.
    pub fn frames(&self) -> usize {
        self.data.len() / self.frame_bytes()
    }

    fn frame_bytes(&self) -> usize {
        self.encoding.bytes_per_sample() * usize::from(self.channels)
    }
}

/// Decoded audio: interleaved when `channels` is 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavAudio {
    pub rate: u32,
    pub channels: u16,
    pub samples: Vec<i16>,
}

/// Reader settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadOptions {
    /// Average stereo down to mono (prompts are played to mono legs).
    pub downmix: bool,
    /// Refuse files whose decoded samples would take more bytes than this.
    pub max_decoded_bytes: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            downmix: true,
            max_decoded_bytes: MAX_DECODED_BYTES,
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

struct Format {
    encoding: WavEncoding,
    channels: u16,
    rate: u32,
}

fn parse_fmt(body: &[u8]) -> Result<Format, MediaError> {
    let field = |at| u16_at(body, at).ok_or(MediaError::WavTruncated);
    let mut tag = field(0)?;
    let channels = field(2)?;
    let rate = u32_at(body, 4).ok_or(MediaError::WavTruncated)?;
    let block_align = field(12)?;
    let bits = field(14)?;
    if tag == FORMAT_EXTENSIBLE {
        // cbSize (16), valid bits (18), channel mask (20), sub-format GUID (24..40).
        let guid = body.get(24..40).ok_or(MediaError::WavTruncated)?;
        if guid[4..] != SUBTYPE_TAIL || guid[2..4] != [0, 0] {
            return Err(MediaError::WavUnsupported("extensible sub-format"));
        }
        tag = u16::from_le_bytes([guid[0], guid[1]]);
    }
    let encoding = match tag {
        FORMAT_PCM => WavEncoding::Pcm16,
        FORMAT_ALAW => WavEncoding::Alaw,
        FORMAT_MULAW => WavEncoding::Mulaw,
        _ => {
            return Err(MediaError::WavUnsupported(
                "format tag (not PCM, A-law or μ-law)",
            ))
        }
    };
    if usize::from(bits) != 8 * encoding.bytes_per_sample() {
        return Err(MediaError::WavUnsupported(match encoding {
            WavEncoding::Pcm16 => "PCM sample width other than 16 bits",
            _ => "G.711 sample width other than 8 bits",
        }));
    }
    if !(1..=2).contains(&channels) {
        return Err(MediaError::WavUnsupported("more than two channels"));
    }
    // A block alignment that disagrees with width × channels means the file is not what it claims
    // (or packs samples some other way); guessing would play noise.
    if usize::from(block_align) != encoding.bytes_per_sample() * usize::from(channels) {
        return Err(MediaError::WavUnsupported("block alignment"));
    }
    if !(8000..=48000).contains(&rate) {
        return Err(MediaError::UnsupportedRate(rate));
    }
    Ok(Format {
        encoding,
        channels,
        rate,
    })
}

/// Reads the header and finds the sample bytes, without decoding anything.
pub fn inspect(bytes: &[u8]) -> Result<WavInfo, MediaError> {
    match bytes.get(..4) {
        Some(b"RIFF") => {}
        Some(b"RF64") | Some(b"RIFX") => return Err(MediaError::WavUnsupported("RF64/RIFX")),
        Some(_) => return Err(MediaError::WavNotWave),
        None => return Err(MediaError::WavTruncated),
    }
    match bytes.get(8..12) {
        Some(b"WAVE") => {}
        Some(_) => return Err(MediaError::WavNotWave),
        None => return Err(MediaError::WavTruncated),
    }
    // The RIFF size is ignored: writers that died before patching it leave 0 or 0xffffffff there, and
    // the chunk walk below is bounded by the bytes actually present anyway.
    let mut fmt = None;
    let mut data = None;
    let mut pos = 12usize;
    while let (Some(id), Some(size)) = (bytes.get(pos..pos + 4), u32_at(bytes, pos + 4)) {
        let body = pos + 8;
        // u64 so a size near 4 GiB cannot overflow on 32-bit targets.
        let end = body as u64 + u64::from(size);
        match id {
            b"fmt " => {
                let body_bytes = usize::try_from(end)
                    .ok()
                    .and_then(|end| bytes.get(body..end))
                    .ok_or(MediaError::WavTruncated)?;
                fmt = Some(parse_fmt(body_bytes)?);
            }
            b"data" if data.is_none() => {
                // A data chunk running past the end is taken as ending at the end: streaming writers
                // leave 0xffffffff there, and a cut-off file still holds playable audio.
                let stop = usize::try_from(end).map_or(bytes.len(), |e| e.min(bytes.len()));
                data = Some(body..stop);
            }
            _ => {}
        }
        if fmt.is_some() && data.is_some() {
            break;
        }
        // Chunks are padded to even length; the pad byte is not counted in the size.
        let next = end + (end & 1);
        match usize::try_from(next) {
            Ok(next) if next <= bytes.len() => pos = next,
            _ => break,
        }
    }
    let (Some(fmt), Some(data)) = (fmt, data) else {
        return Err(MediaError::WavTruncated);
    };
    let frame = fmt.encoding.bytes_per_sample() * usize::from(fmt.channels);
    let whole = data.start + (data.len() / frame) * frame;
    Ok(WavInfo {
        encoding: fmt.encoding,
        channels: fmt.channels,
        rate: fmt.rate,
        data: data.start..whole,
    })
}

/// Decodes a WAV file to mono 16-bit samples (stereo is averaged), refusing more than
/// [`MAX_DECODED_BYTES`].
pub fn read(bytes: &[u8]) -> Result<WavAudio, MediaError> {
    read_with(bytes, &ReadOptions::default())
}

/// Decodes a WAV file with explicit [`ReadOptions`].
pub fn read_with(bytes: &[u8], options: &ReadOptions) -> Result<WavAudio, MediaError> {
    let info = inspect(bytes)?;
    let out_channels = if options.downmix { 1 } else { info.channels };
    let count = info.frames() * usize::from(out_channels);
    // Checked before allocating: the allocation is then bounded by both the cap and the input length.
    if count.saturating_mul(2) > options.max_decoded_bytes {
        return Err(MediaError::WavTooLarge);
    }
    let data = bytes.get(info.data.clone()).unwrap_or_default();
    let width = info.encoding.bytes_per_sample();
    let decode = |b: &[u8]| -> i16 {
        match (info.encoding, b) {
            (WavEncoding::Pcm16, [lo, hi, ..]) => i16::from_le_bytes([*lo, *hi]),
            (WavEncoding::Alaw, [a, ..]) => g711::alaw_decode(*a),
            (WavEncoding::Mulaw, [u, ..]) => g711::ulaw_decode(*u),
            _ => 0,
        }
    };
    let mut samples = Vec::with_capacity(count);
    for frame in data.chunks_exact(info.frame_bytes()) {
        if info.channels == 2 && options.downmix {
            let (l, r) = frame.split_at(width);
            let sum = i32::from(decode(l)) + i32::from(decode(r));
            // The mean of two i16 always fits in an i16.
            samples.push((sum >> 1) as i16);
        } else {
            samples.extend(frame.chunks_exact(width).map(decode));
        }
    }
    Ok(WavAudio {
        rate: info.rate,
        channels: out_channels,
        samples,
    })
}

/// What the shell writes back once a recording is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavFinish {
    /// The header with the final sizes, to be written over the first [`HEADER_LEN`] bytes.
    pub header: [u8; HEADER_LEN],
    /// Length of the whole file: header plus every data byte handed out.
    pub total_len: u64,
}

/// A streaming 16-bit PCM WAV writer that never touches a file: the caller writes [`WavWriter::header`]
/// first, then the bytes of every [`WavWriter::write_samples`], and finally seeks back to offset 0 and
/// writes the header from [`WavWriter::finish`].
#[derive(Debug, Clone)]
pub struct WavWriter {
    rate: u32,
    channels: u16,
    data_len: u64,
}

impl WavWriter {
    /// Mono or stereo (interleaved) 16-bit PCM at `rate`.
    pub fn new(rate: u32, channels: u16) -> Result<WavWriter, MediaError> {
        if !(1..=2).contains(&channels) {
            return Err(MediaError::WavUnsupported("more than two channels"));
        }
        if !(8000..=48000).contains(&rate) {
            return Err(MediaError::UnsupportedRate(rate));
        }
        Ok(WavWriter {
            rate,
            channels,
            data_len: 0,
        })
    }

    /// The header to write first. Its sizes are 0xffffffff, which players read as "until the end of
    /// the file": a recording whose shell died before [`WavWriter::finish`] still plays.
    pub fn header(&self) -> [u8; HEADER_LEN] {
        self.header_with(u32::MAX, u32::MAX)
    }

    /// Appends the little-endian bytes of `samples` (interleaved for stereo) to `out`.
    pub fn write_samples(&mut self, samples: &[i16], out: &mut Vec<u8>) {
        out.reserve(samples.len() * 2);
        for s in samples {
            out.extend_from_slice(&s.to_le_bytes());
        }
        self.data_len += samples.len() as u64 * 2;
    }

    /// Data bytes handed out so far.
    pub fn data_len(&self) -> u64 {
        self.data_len
    }

    /// The final header. RIFF sizes are 32-bit: past 4 GiB (18 hours of 16 kHz stereo) they saturate,
    /// which readers treat like the streaming placeholder.
    pub fn finish(&self) -> WavFinish {
        let data = u32::try_from(self.data_len).unwrap_or(u32::MAX);
        let riff = u32::try_from(self.data_len + HEADER_LEN as u64 - 8).unwrap_or(u32::MAX);
        WavFinish {
            header: self.header_with(riff, data),
            total_len: HEADER_LEN as u64 + self.data_len,
        }
    }

    fn header_with(&self, riff_len: u32, data_len: u32) -> [u8; HEADER_LEN] {
        let block_align = self.channels * 2;
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(b"RIFF");
        h[4..8].copy_from_slice(&riff_len.to_le_bytes());
        h[8..12].copy_from_slice(b"WAVE");
        h[12..16].copy_from_slice(b"fmt ");
        h[16..20].copy_from_slice(&16u32.to_le_bytes());
        h[20..22].copy_from_slice(&FORMAT_PCM.to_le_bytes());
        h[22..24].copy_from_slice(&self.channels.to_le_bytes());
        h[24..28].copy_from_slice(&self.rate.to_le_bytes());
        let byte_rate = self.rate * u32::from(block_align);
        h[28..32].copy_from_slice(&byte_rate.to_le_bytes());
        h[32..34].copy_from_slice(&block_align.to_le_bytes());
        h[34..36].copy_from_slice(&16u16.to_le_bytes());
        h[36..40].copy_from_slice(b"data");
        h[40..44].copy_from_slice(&data_len.to_le_bytes());
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A file assembled from chunks, with the RIFF size filled in.
    fn riff(chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut b = b"RIFF\0\0\0\0WAVE".to_vec();
        for (id, body) in chunks {
            b.extend_from_slice(*id);
            b.extend_from_slice(&(body.len() as u32).to_le_bytes());
            b.extend_from_slice(body);
            if body.len() % 2 == 1 {
                b.push(0);
            }
        }
        let len = (b.len() - 8) as u32;
        b[4..8].copy_from_slice(&len.to_le_bytes());
        b
    }

    fn fmt(tag: u16, channels: u16, rate: u32, bits: u16) -> Vec<u8> {
        let align = channels * bits / 8;
        let mut f = Vec::new();
        f.extend_from_slice(&tag.to_le_bytes());
        f.extend_from_slice(&channels.to_le_bytes());
        f.extend_from_slice(&rate.to_le_bytes());
        f.extend_from_slice(&(rate * u32::from(align)).to_le_bytes());
        f.extend_from_slice(&align.to_le_bytes());
        f.extend_from_slice(&bits.to_le_bytes());
        f
    }

    fn pcm(samples: &[i16]) -> Vec<u8> {
        samples.iter().flat_map(|s| s.to_le_bytes()).collect()
    }

    #[test]
    fn pcm_mono_with_unknown_and_odd_chunks() {
        let f = riff(&[
            (b"LIST", b"INFOodd"),
            (b"fmt ", &fmt(1, 1, 16000, 16)),
            (b"fact", b"\x04\0\0\0"),
            (b"data", &pcm(&[1, -2, 300, i16::MIN])),
            (b"cue ", b"x"),
        ]);
        let a = read(&f).expect("valid file");
        assert_eq!(a.rate, 16000);
        assert_eq!(a.channels, 1);
        assert_eq!(a.samples, [1, -2, 300, i16::MIN]);
    }

    #[test]
    fn stereo_is_averaged_or_kept() {
        let f = riff(&[
            (b"fmt ", &fmt(1, 2, 48000, 16)),
            (b"data", &pcm(&[100, 300, i16::MAX, i16::MAX, -5, 6])),
        ]);
        assert_eq!(read(&f).expect("stereo").samples, [200, i16::MAX, 0]);
        let kept = read_with(
            &f,
            &ReadOptions {
                downmix: false,
                ..ReadOptions::default()
            },
        )
        .expect("stereo");
        assert_eq!(kept.channels, 2);
        assert_eq!(kept.samples, [100, 300, i16::MAX, i16::MAX, -5, 6]);
    }

    #[test]
    fn g711_files_decode_with_the_tables() {
        let codes = [0x00u8, 0x55, 0xd5, 0xff, 0x80];
        let a = read(&riff(&[(b"fmt ", &fmt(6, 1, 8000, 8)), (b"data", &codes)])).expect("A-law");
        let u = read(&riff(&[(b"fmt ", &fmt(7, 1, 8000, 8)), (b"data", &codes)])).expect("μ-law");
        let expect_a: Vec<i16> = codes.iter().map(|&c| g711::alaw_decode(c)).collect();
        let expect_u: Vec<i16> = codes.iter().map(|&c| g711::ulaw_decode(c)).collect();
        assert_eq!(a.samples, expect_a);
        assert_eq!(u.samples, expect_u);
    }

    #[test]
    fn extensible_pcm_is_read_and_other_subformats_refused() {
        let mut ext = fmt(FORMAT_EXTENSIBLE, 1, 8000, 16);
        ext.extend_from_slice(&22u16.to_le_bytes());
        ext.extend_from_slice(&16u16.to_le_bytes());
        ext.extend_from_slice(&4u32.to_le_bytes());
        ext.extend_from_slice(&[1, 0, 0, 0]);
        ext.extend_from_slice(&SUBTYPE_TAIL);
        let f = riff(&[(b"fmt ", &ext), (b"data", &pcm(&[7, 8]))]);
        assert_eq!(read(&f).expect("extensible PCM").samples, [7, 8]);
        // IEEE float sub-format (3).
        ext[24] = 3;
        let f = riff(&[(b"fmt ", &ext), (b"data", &pcm(&[7, 8]))]);
        assert!(matches!(read(&f), Err(MediaError::WavUnsupported(_))));
        // Cut before the GUID.
        let f = riff(&[(b"fmt ", &ext[..30]), (b"data", &pcm(&[7, 8]))]);
        assert_eq!(read(&f), Err(MediaError::WavTruncated));
    }

    #[test]
    fn refusals_are_specific() {
        let data = pcm(&[0; 4]);
        let with = |f: Vec<u8>| read(&riff(&[(b"fmt ", &f), (b"data", &data)]));
        assert!(matches!(
            with(fmt(3, 1, 8000, 32)),
            Err(MediaError::WavUnsupported(_))
        ));
        assert!(matches!(
            with(fmt(1, 1, 8000, 24)),
            Err(MediaError::WavUnsupported(_))
        ));
        assert!(matches!(
            with(fmt(1, 6, 8000, 16)),
            Err(MediaError::WavUnsupported(_))
        ));
        assert_eq!(
            with(fmt(1, 1, 96000, 16)),
            Err(MediaError::UnsupportedRate(96000))
        );
        assert_eq!(
            with(fmt(1, 1, 4000, 16)),
            Err(MediaError::UnsupportedRate(4000))
        );
        assert_eq!(read(b"RIFF"), Err(MediaError::WavTruncated));
        assert_eq!(
            read(b"RIFX\0\0\0\0WAVE").map(|_| ()),
            Err(MediaError::WavUnsupported("RF64/RIFX"))
        );
        assert_eq!(read(b"OggS\0\0\0\0\0\0\0\0"), Err(MediaError::WavNotWave));
        assert_eq!(read(b"RIFF\0\0\0\0AVI "), Err(MediaError::WavNotWave));
        assert_eq!(
            read(&riff(&[(b"data", &data)])),
            Err(MediaError::WavTruncated)
        );
        assert_eq!(
            read(&riff(&[(b"fmt ", &fmt(1, 1, 8000, 16))])),
            Err(MediaError::WavTruncated)
        );
    }

    #[test]
    fn lying_sizes_do_not_allocate_what_they_claim() {
        // A data chunk claiming 4 GiB holds three samples and a stray byte: the three are played.
        let mut f = riff(&[(b"fmt ", &fmt(1, 1, 8000, 16)), (b"data", &pcm(&[5, 6, 7]))]);
        f.push(9);
        let at = f.len() - 11;
        f[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(read(&f).expect("streamed file").samples, [5, 6, 7]);
        // More audio than the cap is refused before decoding.
        let big = riff(&[(b"fmt ", &fmt(1, 1, 8000, 16)), (b"data", &pcm(&[0; 1000]))]);
        let small_cap = ReadOptions {
            max_decoded_bytes: 1999,
            ..ReadOptions::default()
        };
        assert_eq!(read_with(&big, &small_cap), Err(MediaError::WavTooLarge));
        assert!(read_with(
            &big,
            &ReadOptions {
                max_decoded_bytes: 2000,
                ..small_cap
            }
        )
        .is_ok());
        // A fmt chunk claiming to run past the end is truncation, not a read out of bounds.
        let mut f = riff(&[(b"fmt ", &fmt(1, 1, 8000, 16))]);
        f[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(read(&f), Err(MediaError::WavTruncated));
    }

    #[test]
    fn writer_header_and_patch() {
        let mut w = WavWriter::new(16000, 2).expect("stereo 16 kHz");
        let mut file = w.header().to_vec();
        // The placeholder header already reads as a streamed file.
        w.write_samples(&[1, -1, 2, -2], &mut file);
        let streamed = read_with(
            &file,
            &ReadOptions {
                downmix: false,
                ..ReadOptions::default()
            },
        );
        assert_eq!(streamed.expect("streamed").samples, [1, -1, 2, -2]);
        w.write_samples(&[3, -3], &mut file);
        let fin = w.finish();
        assert_eq!(fin.total_len, file.len() as u64);
        file[..HEADER_LEN].copy_from_slice(&fin.header);
        assert_eq!(u32_at(&file, 4), Some(file.len() as u32 - 8));
        assert_eq!(u32_at(&file, 40), Some(12));
        assert_eq!(u32_at(&file, 28), Some(64000));
        let info = inspect(&file).expect("patched");
        assert_eq!((info.channels, info.rate, info.frames()), (2, 16000, 3));
        assert!(WavWriter::new(8000, 3).is_err());
        assert!(WavWriter::new(7999, 1).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = read(&data);
            let mut with_header = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
            with_header.extend_from_slice(&data);
            let _ = read_with(&with_header, &ReadOptions { downmix: false, max_decoded_bytes: 64 });
        }

        #[test]
        fn written_files_read_back(
            samples in proptest::collection::vec(any::<i16>(), 0..400),
            rate in 8000u32..=48000,
        ) {
            let mut w = WavWriter::new(rate, 1).expect("mono");
            let mut file = w.header().to_vec();
            let (a, b) = samples.split_at(samples.len() / 3);
            w.write_samples(a, &mut file);
            w.write_samples(b, &mut file);
            let fin = w.finish();
            file[..HEADER_LEN].copy_from_slice(&fin.header);
            let back = read(&file).expect("own output");
            prop_assert_eq!(back.rate, rate);
            prop_assert_eq!(back.samples, samples);
        }
    }
}
