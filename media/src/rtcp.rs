//! RTCP (RFC 3550 §6) as borrowed views, and writers for the reports this node sends.
//!
//! A datagram is read with [`packets`], an iterator that yields one typed view per packet of a compound
//! (or of a reduced-size datagram, RFC 5506) and stops at the first malformed one. Every length a packet
//! announces is checked against what arrived, and each packet's body is validated once when it is
//! yielded, so the accessors on the views afterwards cannot fail. Feedback messages (RFC 4585 RTPFB and
//! PSFB) and types this module does not know are kept raw: the relay forwards them, it does not act on
//! them.
//!
//! Writers fill a caller-provided buffer and return the length, so sending a report allocates nothing.

use crate::MediaError;

/// Sender report (RFC 3550 §6.4.1).
pub const PT_SR: u8 = 200;
/// Receiver report (RFC 3550 §6.4.2).
pub const PT_RR: u8 = 201;
/// Source description (RFC 3550 §6.5).
pub const PT_SDES: u8 = 202;
/// Goodbye (RFC 3550 §6.6).
pub const PT_BYE: u8 = 203;
/// Application-defined (RFC 3550 §6.7).
pub const PT_APP: u8 = 204;
/// Transport-layer feedback (RFC 4585 §6.2), e.g. generic NACK.
pub const PT_RTPFB: u8 = 205;
/// Payload-specific feedback (RFC 4585 §6.3), e.g. PLI, FIR.
pub const PT_PSFB: u8 = 206;

/// SDES item type of the canonical name, the one item every compound must carry (RFC 3550 §6.5.1).
pub const SDES_CNAME: u8 = 1;
/// SDES item type of the application or tool name (RFC 3550 §6.5.6).
pub const SDES_TOOL: u8 = 6;

/// The 5-bit count field caps report blocks and BYE sources per packet.
pub const MAX_REPORT_BLOCKS: usize = 31;

const HEADER: usize = 4;
const SENDER_INFO: usize = 20;
/// Octets in one report block.
pub const REPORT_BLOCK_LEN: usize = 24;

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let word = b.get(at..)?.first_chunk::<4>()?;
    Some(u32::from_be_bytes(*word))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    let word = b.get(at..)?.first_chunk::<8>()?;
    Some(u64::from_be_bytes(*word))
}

/// The sender information of an SR: what the receiver needs for LSR/DLSR and to map RTP time to
/// wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// 64-bit NTP timestamp (seconds since 1900 in the high half, fraction in the low half).
    pub ntp: u64,
    pub rtp_timestamp: u32,
    pub packet_count: u32,
    pub octet_count: u32,
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: u32,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost; a signed 24-bit field on the wire (duplicates can make it negative),
    /// so writing clamps it to −2²³ … 2²³−1.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles in the high 16 bits).
    pub highest_seq: u32,
    /// Interarrival jitter in RTP timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received from the source, 0 if none.
    pub lsr: u32,
    /// Delay since that SR, in 1/65536 s.
    pub dlsr: u32,
}

impl ReportBlock {
    pub fn parse(b: &[u8; REPORT_BLOCK_LEN]) -> ReportBlock {
        let word = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let lost = word(4);
        ReportBlock {
            ssrc: word(0),
            fraction_lost: (lost >> 24) as u8,
            // Sign-extend the 24-bit field.
            cumulative_lost: ((lost << 8) as i32) >> 8,
            highest_seq: word(8),
            jitter: word(12),
            lsr: word(16),
            dlsr: word(20),
        }
    }

    pub fn write(&self, out: &mut [u8; REPORT_BLOCK_LEN]) {
        let lost = self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32 & 0x00ff_ffff;
        let words = [
            self.ssrc,
            (u32::from(self.fraction_lost) << 24) | lost,
            self.highest_seq,
            self.jitter,
            self.lsr,
            self.dlsr,
        ];
        for (dst, w) in out.chunks_exact_mut(4).zip(words) {
            dst.copy_from_slice(&w.to_be_bytes());
        }
    }
}

/// The report blocks of an SR or RR, borrowed; the parser guarantees whole 24-octet blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlocks<'a> {
    raw: &'a [u8],
}

impl<'a> ReportBlocks<'a> {
    pub fn len(&self) -> usize {
        self.raw.len() / REPORT_BLOCK_LEN
    }

    pub fn is_empty(&self) -> bool {
        self.raw.len() < REPORT_BLOCK_LEN
    }

    pub fn get(&self, i: usize) -> Option<ReportBlock> {
        let at = i.checked_mul(REPORT_BLOCK_LEN)?;
        Some(ReportBlock::parse(self.raw.get(at..)?.first_chunk()?))
    }

    pub fn iter(&self) -> impl Iterator<Item = ReportBlock> + 'a {
        self.raw
            .chunks_exact(REPORT_BLOCK_LEN)
            .filter_map(|c| c.first_chunk().map(ReportBlock::parse))
    }
}

/// A sender report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    pub ssrc: u32,
    pub info: SenderInfo,
    pub reports: ReportBlocks<'a>,
    /// Profile-specific extension after the report blocks (RFC 3550 §6.4.1), usually empty.
    pub extension: &'a [u8],
}

/// A receiver report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    pub ssrc: u32,
    pub reports: ReportBlocks<'a>,
    pub extension: &'a [u8],
}

/// A source description packet; its chunks were validated when it was parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sdes<'a> {
    count: u8,
    body: &'a [u8],
}

/// One SDES chunk: a source and its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    pub ssrc: u32,
    /// The items without the terminating null octet(s).
    items: &'a [u8],
}

/// One SDES item; for PRIV (8) the value still holds its prefix length and prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    pub kind: u8,
    pub value: &'a [u8],
}

/// A goodbye packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    ssrcs: &'a [u8],
    /// Reason for leaving (meant to be UTF-8, not checked).
    pub reason: Option<&'a [u8]>,
}

/// An application-defined packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct App<'a> {
    pub subtype: u8,
    pub ssrc: u32,
    pub name: [u8; 4],
    pub data: &'a [u8],
}

/// A packet kept raw: RTPFB/PSFB feedback (the count is then the FMT field), XR, or an unknown type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPacket<'a> {
    pub packet_type: u8,
    pub count: u8,
    /// Everything after the 4-octet header, padding removed.
    pub body: &'a [u8],
}

impl<'a> RawPacket<'a> {
    /// For RTPFB/PSFB (RFC 4585 §6.1): the packet sender's SSRC, the media source's SSRC and the
    /// feedback control information. `None` for other types or a body too short to hold them.
    pub fn feedback(&self) -> Option<(u32, u32, &'a [u8])> {
        if self.packet_type != PT_RTPFB && self.packet_type != PT_PSFB {
            return None;
        }
        Some((
            be32(self.body, 0)?,
            be32(self.body, 4)?,
            self.body.get(8..)?,
        ))
    }
}

/// One packet of a compound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RtcpPacket<'a> {
    SenderReport(SenderReport<'a>),
    ReceiverReport(ReceiverReport<'a>),
    Sdes(Sdes<'a>),
    Bye(Bye<'a>),
    App(App<'a>),
    Other(RawPacket<'a>),
}

impl<'a> RtcpPacket<'a> {
    pub fn packet_type(&self) -> u8 {
        match self {
            RtcpPacket::SenderReport(_) => PT_SR,
            RtcpPacket::ReceiverReport(_) => PT_RR,
            RtcpPacket::Sdes(_) => PT_SDES,
            RtcpPacket::Bye(_) => PT_BYE,
            RtcpPacket::App(_) => PT_APP,
            RtcpPacket::Other(raw) => raw.packet_type,
        }
    }

    /// Validates `body` (header and padding already removed) for the packet type.
    fn parse_body(pt: u8, count: u8, body: &'a [u8]) -> Result<RtcpPacket<'a>, MediaError> {
        let blocks = usize::from(count) * REPORT_BLOCK_LEN;
        let bad = MediaError::RtcpBadLength;
        Ok(match pt {
            PT_SR => {
                let end = 4 + SENDER_INFO + blocks;
                RtcpPacket::SenderReport(SenderReport {
                    ssrc: be32(body, 0).ok_or(bad)?,
                    info: SenderInfo {
                        ntp: be64(body, 4).ok_or(bad)?,
                        rtp_timestamp: be32(body, 12).ok_or(bad)?,
                        packet_count: be32(body, 16).ok_or(bad)?,
                        octet_count: be32(body, 20).ok_or(bad)?,
                    },
                    reports: ReportBlocks {
                        raw: body.get(4 + SENDER_INFO..end).ok_or(bad)?,
                    },
                    extension: body.get(end..).ok_or(bad)?,
                })
            }
            PT_RR => RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: be32(body, 0).ok_or(bad)?,
                reports: ReportBlocks {
                    raw: body.get(4..4 + blocks).ok_or(bad)?,
                },
                extension: body.get(4 + blocks..).ok_or(bad)?,
            }),
            PT_SDES => {
                let mut pos = 0;
                for _ in 0..count {
                    pos = sdes_chunk_end(body, pos).ok_or(bad)?;
                }
                if pos != body.len() {
                    return Err(bad);
                }
                RtcpPacket::Sdes(Sdes { count, body })
            }
            PT_BYE => {
                let n = usize::from(count) * 4;
                let ssrcs = body.get(..n).ok_or(bad)?;
                let rest = body.get(n..).ok_or(bad)?;
                let reason = match rest.split_first() {
                    None => None,
                    Some((&len, text)) => {
                        let reason = text.get(..usize::from(len)).ok_or(bad)?;
                        let pad = text.get(usize::from(len)..).ok_or(bad)?;
                        // Only the null octets that round the reason up to a 32-bit word may follow.
                        if pad.len() > 3 || pad.iter().any(|&b| b != 0) {
                            return Err(bad);
                        }
                        Some(reason)
                    }
                };
                RtcpPacket::Bye(Bye { ssrcs, reason })
            }
            PT_APP => {
                let name = body
                    .get(4..8)
                    .and_then(|n| n.first_chunk::<4>())
                    .ok_or(bad)?;
                RtcpPacket::App(App {
                    subtype: count,
                    ssrc: be32(body, 0).ok_or(bad)?,
                    name: *name,
                    data: body.get(8..).ok_or(bad)?,
                })
            }
            _ => RtcpPacket::Other(RawPacket {
                packet_type: pt,
                count,
                body,
            }),
        })
    }
}

/// Where the SDES chunk starting at `start` ends (after its null padding), or `None` if it overruns
/// `body` or is padded with anything but nulls. Chunks start on 32-bit boundaries, as does `body`.
fn sdes_chunk_end(body: &[u8], start: usize) -> Option<usize> {
    let mut pos = start.checked_add(4)?;
    be32(body, start)?;
    loop {
        match *body.get(pos)? {
            0 => break,
            _ => pos += 2 + usize::from(*body.get(pos + 1)?),
        }
    }
    let end = (pos + 1).next_multiple_of(4);
    body.get(pos..end)?.iter().all(|&b| b == 0).then_some(end)
}

/// End of the items of the chunk at `start` (the terminating null); the chunk is already validated.
fn sdes_items_end(body: &[u8], start: usize) -> usize {
    let mut pos = start + 4;
    while let Some(&kind) = body.get(pos) {
        if kind == 0 {
            break;
        }
        pos += 2 + body.get(pos + 1).map_or(0, |&l| usize::from(l));
    }
    pos.min(body.len())
}

impl<'a> Sdes<'a> {
    pub fn count(&self) -> usize {
        usize::from(self.count)
    }

    pub fn chunks(&self) -> SdesChunks<'a> {
        SdesChunks {
            body: self.body,
            pos: 0,
            left: self.count,
        }
    }

    /// The first CNAME of any chunk, with the chunk's source.
    pub fn cname(&self) -> Option<(u32, &'a [u8])> {
        self.chunks().find_map(|c| Some((c.ssrc, c.cname()?)))
    }
}

/// Iterator over the chunks of an [`Sdes`].
#[derive(Debug, Clone)]
pub struct SdesChunks<'a> {
    body: &'a [u8],
    pos: usize,
    left: u8,
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = SdesChunk<'a>;

    fn next(&mut self) -> Option<SdesChunk<'a>> {
        self.left = self.left.checked_sub(1)?;
        let start = self.pos;
        let ssrc = be32(self.body, start)?;
        let items = self.body.get(start + 4..sdes_items_end(self.body, start))?;
        self.pos = sdes_chunk_end(self.body, start)?;
        Some(SdesChunk { ssrc, items })
    }
}

impl<'a> SdesChunk<'a> {
    pub fn items(&self) -> SdesItems<'a> {
        SdesItems { rest: self.items }
    }

    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items().find(|i| i.kind == SDES_CNAME).map(|i| i.value)
    }
}

/// Iterator over the items of an [`SdesChunk`].
#[derive(Debug, Clone)]
pub struct SdesItems<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = SdesItem<'a>;

    fn next(&mut self) -> Option<SdesItem<'a>> {
        let (&kind, rest) = self.rest.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let value = rest.get(..usize::from(len))?;
        self.rest = rest.get(usize::from(len)..)?;
        Some(SdesItem { kind, value })
    }
}

impl<'a> Bye<'a> {
    pub fn ssrcs(&self) -> impl Iterator<Item = u32> + 'a {
        self.ssrcs
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }

    pub fn len(&self) -> usize {
        self.ssrcs.len() / 4
    }

    pub fn is_empty(&self) -> bool {
        self.ssrcs.is_empty()
    }
}

/// Reads a datagram as RTCP: one item per packet, then `None`. After an error the iterator ends, as
/// the rest of the datagram cannot be framed reliably.
pub fn packets(buf: &[u8]) -> RtcpIter<'_> {
    RtcpIter {
        buf,
        pos: 0,
        done: false,
    }
}

/// Iterator returned by [`packets`].
#[derive(Debug, Clone)]
pub struct RtcpIter<'a> {
    buf: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> RtcpIter<'a> {
    /// Octets of the datagram consumed so far: the packets yielded occupy `buf[..position()]`.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn read(&mut self) -> Result<RtcpPacket<'a>, MediaError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let head = rest.first_chunk::<4>().ok_or(MediaError::RtcpTruncated)?;
        if head[0] >> 6 != 2 {
            return Err(MediaError::BadVersion);
        }
        let padded = head[0] & 0x20 != 0;
        let count = head[0] & 0x1f;
        let len = (usize::from(u16::from_be_bytes([head[2], head[3]])) + 1) * 4;
        let packet = rest.get(..len).ok_or(MediaError::RtcpTruncated)?;
        let mut end = len;
        if padded {
            // Padding belongs only to the last packet: an inner packet's padding would make the
            // framing of everything after it ambiguous for a receiver that ignores the P bit.
            let count = packet.last().map_or(0, |&c| usize::from(c));
            if len != rest.len() || count == 0 || count > len - HEADER {
                return Err(MediaError::RtcpBadPadding);
            }
            end -= count;
        }
        let body = packet.get(HEADER..end).ok_or(MediaError::RtcpTruncated)?;
        self.pos += len;
        RtcpPacket::parse_body(head[1], count, body)
    }
}

impl<'a> Iterator for RtcpIter<'a> {
    type Item = Result<RtcpPacket<'a>, MediaError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= self.buf.len() {
            return None;
        }
        let item = self.read();
        self.done = item.is_err();
        Some(item)
    }
}

impl std::iter::FusedIterator for RtcpIter<'_> {}

/// The checks of RFC 3550 A.2 for a compound from a standard endpoint: every packet well-formed, the
/// first an SR or RR without padding, and the lengths adding up to the datagram. Reduced-size
/// datagrams (RFC 5506) fail this on purpose; read those with [`packets`] alone.
pub fn validate_compound(buf: &[u8]) -> Result<(), MediaError> {
    let first = buf.first_chunk::<2>().ok_or(MediaError::RtcpTruncated)?;
    if first[0] >> 6 == 2 && (first[0] & 0x20 != 0) {
        return Err(MediaError::RtcpBadPadding);
    }
    let mut it = packets(buf);
    match it.next() {
        Some(Ok(RtcpPacket::SenderReport(_) | RtcpPacket::ReceiverReport(_))) => {}
        Some(Err(e)) => return Err(e),
        _ => return Err(MediaError::RtcpNotCompound),
    }
    it.try_for_each(|p| p.map(drop))
}

/// What a datagram on an rtcp-mux port is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demux {
    Rtp,
    Rtcp,
    /// Not version 2 (STUN, DTLS, ...) or too short to tell.
    Other,
}

/// Tells RTP from RTCP on a port carrying both (RFC 5761 §4): the second octet is the RTCP packet
/// type, and RTCP types 192–223 are exactly the values an RTP marker+payload-type octet must avoid.
pub fn demux(datagram: &[u8]) -> Demux {
    match datagram {
        [b0, b1, ..] if b0 >> 6 == 2 => match b1 {
            192..=223 => Demux::Rtcp,
            _ => Demux::Rtp,
        },
        _ => Demux::Other,
    }
}

fn header(out: &mut [u8], count: usize, pt: u8, len: usize) -> Result<(), MediaError> {
    let count = u8::try_from(count)
        .ok()
        .filter(|&c| usize::from(c) <= MAX_REPORT_BLOCKS)
        .ok_or(MediaError::RtcpFieldTooLarge)?;
    let words = u16::try_from(len / 4 - 1).map_err(|_| MediaError::RtcpFieldTooLarge)?;
    let h = out.get_mut(..HEADER).ok_or(MediaError::BufferTooSmall)?;
    h[0] = 0x80 | count;
    h[1] = pt;
    h[2..4].copy_from_slice(&words.to_be_bytes());
    Ok(())
}

fn write_blocks(out: &mut [u8], blocks: &[ReportBlock]) {
    for (dst, b) in out.chunks_exact_mut(REPORT_BLOCK_LEN).zip(blocks) {
        if let Some(dst) = dst.first_chunk_mut() {
            b.write(dst);
        }
    }
}

/// Writes an SR with up to 31 report blocks; returns its length.
pub fn write_sender_report(
    out: &mut [u8],
    ssrc: u32,
    info: &SenderInfo,
    blocks: &[ReportBlock],
) -> Result<usize, MediaError> {
    let len = HEADER + 4 + SENDER_INFO + blocks.len() * REPORT_BLOCK_LEN;
    if blocks.len() > MAX_REPORT_BLOCKS {
        return Err(MediaError::RtcpFieldTooLarge);
    }
    let out = out.get_mut(..len).ok_or(MediaError::BufferTooSmall)?;
    header(out, blocks.len(), PT_SR, len)?;
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    out[8..16].copy_from_slice(&info.ntp.to_be_bytes());
    out[16..20].copy_from_slice(&info.rtp_timestamp.to_be_bytes());
    out[20..24].copy_from_slice(&info.packet_count.to_be_bytes());
    out[24..28].copy_from_slice(&info.octet_count.to_be_bytes());
    write_blocks(&mut out[28..], blocks);
    Ok(len)
}

/// Writes an RR with up to 31 report blocks (none is valid: a compound must start with SR or RR even
/// when nothing was received); returns its length.
pub fn write_receiver_report(
    out: &mut [u8],
    ssrc: u32,
    blocks: &[ReportBlock],
) -> Result<usize, MediaError> {
    let len = HEADER + 4 + blocks.len() * REPORT_BLOCK_LEN;
    if blocks.len() > MAX_REPORT_BLOCKS {
        return Err(MediaError::RtcpFieldTooLarge);
    }
    let out = out.get_mut(..len).ok_or(MediaError::BufferTooSmall)?;
    header(out, blocks.len(), PT_RR, len)?;
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    write_blocks(&mut out[8..], blocks);
    Ok(len)
}

/// Writes an SDES packet with one chunk holding only a CNAME (at most 255 octets); returns its length.
pub fn write_sdes_cname(out: &mut [u8], ssrc: u32, cname: &[u8]) -> Result<usize, MediaError> {
    let cname_len = u8::try_from(cname.len()).map_err(|_| MediaError::RtcpFieldTooLarge)?;
    // SSRC, type, length, value, then at least one null octet rounded up to a word.
    let len = HEADER + (4 + 2 + cname.len() + 1).next_multiple_of(4);
    let out = out.get_mut(..len).ok_or(MediaError::BufferTooSmall)?;
    header(out, 1, PT_SDES, len)?;
    out[4..8].copy_from_slice(&ssrc.to_be_bytes());
    out[8] = SDES_CNAME;
    out[9] = cname_len;
    out[10..10 + cname.len()].copy_from_slice(cname);
    out[10 + cname.len()..].fill(0);
    Ok(len)
}

/// Writes a BYE for up to 31 sources with an optional reason (at most 255 octets); returns its length.
pub fn write_bye(
    out: &mut [u8],
    ssrcs: &[u32],
    reason: Option<&[u8]>,
) -> Result<usize, MediaError> {
    let reason_len = reason
        .map(|r| u8::try_from(r.len()))
        .transpose()
        .map_err(|_| MediaError::RtcpFieldTooLarge)?;
    let tail = reason.map_or(0, |r| (1 + r.len()).next_multiple_of(4));
    let len = HEADER + 4 * ssrcs.len() + tail;
    if ssrcs.len() > MAX_REPORT_BLOCKS {
        return Err(MediaError::RtcpFieldTooLarge);
    }
    let out = out.get_mut(..len).ok_or(MediaError::BufferTooSmall)?;
    header(out, ssrcs.len(), PT_BYE, len)?;
    for (dst, s) in out[HEADER..].chunks_exact_mut(4).zip(ssrcs) {
        dst.copy_from_slice(&s.to_be_bytes());
    }
    if let (Some(r), Some(n)) = (reason, reason_len) {
        let at = HEADER + 4 * ssrcs.len();
        out[at] = n;
        out[at + 1..at + 1 + r.len()].copy_from_slice(r);
        out[at + 1 + r.len()..].fill(0);
    }
    Ok(len)
}

/// Writes the compound this node sends each report interval: an SR when `sender` is given (we sent
/// media since the last report, RFC 3550 §6.4), else an RR, followed by SDES CNAME. Returns its length.
pub fn write_report(
    out: &mut [u8],
    ssrc: u32,
    sender: Option<&SenderInfo>,
    blocks: &[ReportBlock],
    cname: &[u8],
) -> Result<usize, MediaError> {
    let first = match sender {
        Some(info) => write_sender_report(out, ssrc, info, blocks)?,
        None => write_receiver_report(out, ssrc, blocks)?,
    };
    let rest = out.get_mut(first..).ok_or(MediaError::BufferTooSmall)?;
    Ok(first + write_sdes_cname(rest, ssrc, cname)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(buf: &[u8]) -> Vec<Result<RtcpPacket<'_>, MediaError>> {
        packets(buf).collect()
    }

    /// SR with one report block, then SDES with CNAME and TOOL, as a desk phone sends every ~5 s.
    const PHONE_SR_SDES: &[u8] = &[
        0x81, 0xc8, 0x00, 0x0c, // V=2 RC=1 SR, 13 words
        0x5f, 0x6a, 0x2c, 0x11, // SSRC
        0xe8, 0x9b, 0x2a, 0x1c, 0x4e, 0x3f, 0x7c, 0xed, // NTP
        0x00, 0x0b, 0x1e, 0x40, // RTP timestamp
        0x00, 0x00, 0x01, 0xf4, // 500 packets
        0x00, 0x01, 0x38, 0x80, // 80000 octets
        0x1a, 0x2b, 0x3c, 0x4d, // report on SSRC 0x1a2b3c4d
        0x05, 0x00, 0x00, 0x0c, // fraction 5/256, 12 lost
        0x00, 0x01, 0x03, 0xe8, // one cycle, highest 1000
        0x00, 0x00, 0x00, 0x2a, // jitter 42
        0x2a, 0x1c, 0x4e, 0x3f, // LSR
        0x00, 0x01, 0x80, 0x00, // DLSR 1.5 s
        0x81, 0xca, 0x00, 0x08, // V=2 SC=1 SDES, 9 words
        0x5f, 0x6a, 0x2c, 0x11, // SSRC
        0x01, 0x10, b'1', b'0', b'0', b'1', b'@', b'1', b'9', b'2', b'.', b'1', b'6', b'8', b'.',
        b'1', b'.', b'5', // CNAME "1001@192.168.1.5"
        0x06, 0x07, b'Y', b'e', b'a', b'l', b'i', b'n', b'k', // TOOL "Yealink"
        0x00, // end of items, already on a word boundary
    ];

    #[test]
    fn phone_sr_and_sdes() {
        validate_compound(PHONE_SR_SDES).expect("valid compound");
        let got = collect(PHONE_SR_SDES);
        assert_eq!(got.len(), 2);
        let Ok(RtcpPacket::SenderReport(sr)) = got[0] else {
            panic!("first is SR: {:?}", got[0])
        };
        assert_eq!(sr.ssrc, 0x5f6a_2c11);
        assert_eq!(sr.info.ntp, 0xe89b_2a1c_4e3f_7ced);
        assert_eq!((sr.info.packet_count, sr.info.octet_count), (500, 80_000));
        assert_eq!(sr.reports.len(), 1);
        let block = sr.reports.get(0).expect("one block");
        assert_eq!(
            block,
            ReportBlock {
                ssrc: 0x1a2b_3c4d,
                fraction_lost: 5,
                cumulative_lost: 12,
                highest_seq: 0x1_03e8,
                jitter: 42,
                lsr: 0x2a1c_4e3f,
                dlsr: 0x1_8000,
            }
        );
        let Ok(RtcpPacket::Sdes(sdes)) = got[1] else {
            panic!("second is SDES")
        };
        assert_eq!(sdes.cname(), Some((0x5f6a_2c11, &b"1001@192.168.1.5"[..])));
        let kinds: Vec<u8> = sdes
            .chunks()
            .flat_map(|c| c.items())
            .map(|i| i.kind)
            .collect();
        assert_eq!(kinds, [SDES_CNAME, SDES_TOOL]);
    }

    #[test]
    fn malformed_packets_are_errors() {
        let rr = [0x80, 0xc9, 0, 1, 0, 0, 0, 1];
        // Version 1.
        let mut v1 = rr;
        v1[0] = 0x40;
        assert_eq!(collect(&v1), [Err(MediaError::BadVersion)]);
        // Length beyond the datagram, and a datagram ending inside a header.
        assert_eq!(collect(&rr[..6]), [Err(MediaError::RtcpTruncated)]);
        assert_eq!(collect(&[0x80, 0xc9]), [Err(MediaError::RtcpTruncated)]);
        // RC=1 but no room for the block.
        let mut rc = rr;
        rc[0] = 0x81;
        assert_eq!(collect(&rc), [Err(MediaError::RtcpBadLength)]);
        // SR too short for its sender info.
        assert_eq!(
            collect(&[0x80, 0xc8, 0, 1, 0, 0, 0, 1]),
            [Err(MediaError::RtcpBadLength)]
        );
        // Padding on the first of two packets.
        let mut two = [rr, rr].concat();
        two[0] |= 0x20;
        two[7] = 4;
        assert_eq!(collect(&two), [Err(MediaError::RtcpBadPadding)]);
        // Padding on the last packet is fine; a count of zero or larger than the packet is not.
        let padded = [
            0x80, 0xc9, 0, 1, 0, 0, 0, 1, 0xa0, 0xc9, 0, 2, 0, 0, 0, 2, 0, 0, 0, 4,
        ];
        let got = collect(&padded);
        assert!(got.iter().all(Result::is_ok), "{got:?}");
        validate_compound(&padded).expect("padding on the last packet");
        let mut zero = padded;
        zero[19] = 0;
        assert_eq!(collect(&zero)[1], Err(MediaError::RtcpBadPadding));
        let mut huge = padded;
        huge[19] = 13;
        assert_eq!(collect(&huge)[1], Err(MediaError::RtcpBadPadding));
        // SDES: item overrunning the chunk, missing null terminator, non-null pad, leftover word.
        let sdes = |body: &[u8]| {
            let mut p = vec![0x81, 0xca, 0, (body.len() / 4) as u8];
            p.extend_from_slice(body);
            p
        };
        for body in [
            &[0, 0, 0, 1, 1, 9, b'a', b'b'][..],
            &[0, 0, 0, 1, 1, 2, b'a', b'b'],
            &[0, 0, 0, 1, 1, 0, 0, 5],
            &[0, 0, 0, 1, 1, 1, b'a', 0, 0, 0, 0, 0],
        ] {
            assert_eq!(
                collect(&sdes(body)),
                [Err(MediaError::RtcpBadLength)],
                "{body:?}"
            );
        }
        // BYE whose reason overruns the packet.
        assert_eq!(
            collect(&[0x81, 0xcb, 0, 2, 0, 0, 0, 1, 9, b'a', b'b', b'c']),
            [Err(MediaError::RtcpBadLength)]
        );
        // A compound must start with SR or RR, and the iterator stops after an error.
        let sdes_first = [sdes(&[0, 0, 0, 1, 0, 0, 0, 0]), rr.to_vec()].concat();
        assert_eq!(
            validate_compound(&sdes_first),
            Err(MediaError::RtcpNotCompound)
        );
        let mut broken = [rr.to_vec(), vec![0x40, 0, 0, 0], rr.to_vec()].concat();
        assert_eq!(packets(&broken).count(), 2);
        broken.truncate(10);
        assert_eq!(validate_compound(&broken), Err(MediaError::RtcpTruncated));
        assert_eq!(validate_compound(&[]), Err(MediaError::RtcpTruncated));
    }
}
