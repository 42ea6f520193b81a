//! RTP packets (RFC 3550 §5.1) as borrowed views: parsing a packet on the relay's hot path costs no
//! allocation, and every length the packet announces is checked against what arrived.

use crate::MediaError;

/// The fixed part of an RTP header.
pub const FIXED_HEADER: usize = 12;

/// A parsed RTP packet, borrowing the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    pub marker: bool,
    pub payload_type: u8,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    /// Contributing sources, 4 bytes each, big-endian.
    pub csrc: &'a [u8],
    /// Header extension (RFC 3550 §5.3.1 / RFC 8285): profile id and the extension words.
    pub extension: Option<(u16, &'a [u8])>,
    pub payload: &'a [u8],
    /// Padding octets removed from the end (0 without padding).
    pub padding: u8,
}

impl<'a> RtpPacket<'a> {
    pub fn parse(buf: &'a [u8]) -> Result<RtpPacket<'a>, MediaError> {
        let fixed = buf.get(..FIXED_HEADER).ok_or(MediaError::Truncated)?;
        if fixed[0] >> 6 != 2 {
            return Err(MediaError::BadVersion);
        }
        let has_padding = fixed[0] & 0x20 != 0;
        let has_extension = fixed[0] & 0x10 != 0;
        let csrc_count = usize::from(fixed[0] & 0x0f);
        let marker = fixed[1] & 0x80 != 0;
        let payload_type = fixed[1] & 0x7f;
        let sequence = u16::from_be_bytes([fixed[2], fixed[3]]);
        let timestamp = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let ssrc = u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]);
        let mut pos = FIXED_HEADER;
        let csrc = buf
            .get(pos..pos + 4 * csrc_count)
            .ok_or(MediaError::Truncated)?;
        pos += 4 * csrc_count;
        let extension = if has_extension {
            let head = buf.get(pos..pos + 4).ok_or(MediaError::Truncated)?;
            let profile = u16::from_be_bytes([head[0], head[1]]);
            let words = usize::from(u16::from_be_bytes([head[2], head[3]]));
            let body = buf
                .get(pos + 4..pos + 4 + 4 * words)
                .ok_or(MediaError::Truncated)?;
            pos += 4 + 4 * words;
            Some((profile, body))
        } else {
            None
        };
        let mut end = buf.len();
        let mut padding = 0;
        if has_padding {
            let count = *buf.last().ok_or(MediaError::Truncated)?;
            if count == 0 || usize::from(count) > end - pos {
                return Err(MediaError::BadPadding);
            }
            padding = count;
            end -= usize::from(count);
        }
        let payload = buf.get(pos..end).ok_or(MediaError::Truncated)?;
        Ok(RtpPacket {
            marker,
            payload_type,
            sequence,
            timestamp,
            ssrc,
            csrc,
            extension,
            payload,
            padding,
        })
    }

    /// Bytes this packet takes when written by [`RtpPacket::write`].
    pub fn wire_len(&self) -> usize {
        FIXED_HEADER
            + self.csrc.len()
            + self.extension.map_or(0, |(_, e)| 4 + e.len())
            + self.payload.len()
            + usize::from(self.padding)
    }

    /// Writes the packet into `out` and returns the length written. The CSRC list and the extension
    /// must be whole 32-bit words (as parsing guarantees), at most 15 CSRCs.
    pub fn write(&self, out: &mut [u8]) -> Result<usize, MediaError> {
        let len = self.wire_len();
        let csrc_count = self.csrc.len() / 4;
        if csrc_count > 15 || !self.csrc.len().is_multiple_of(4) {
            return Err(MediaError::Truncated);
        }
        let out = out.get_mut(..len).ok_or(MediaError::BufferTooSmall)?;
        out[0] = 0x80
            | if self.padding > 0 { 0x20 } else { 0 }
            | if self.extension.is_some() { 0x10 } else { 0 }
            | csrc_count as u8;
        out[1] = (u8::from(self.marker) << 7) | (self.payload_type & 0x7f);
        out[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        let mut pos = FIXED_HEADER;
        out[pos..pos + self.csrc.len()].copy_from_slice(self.csrc);
        pos += self.csrc.len();
        if let Some((profile, body)) = self.extension {
            let words = u16::try_from(body.len() / 4).map_err(|_| MediaError::Truncated)?;
            if !body.len().is_multiple_of(4) {
                return Err(MediaError::Truncated);
            }
            out[pos..pos + 2].copy_from_slice(&profile.to_be_bytes());
            out[pos + 2..pos + 4].copy_from_slice(&words.to_be_bytes());
            out[pos + 4..pos + 4 + body.len()].copy_from_slice(body);
            pos += 4 + body.len();
        }
        out[pos..pos + self.payload.len()].copy_from_slice(self.payload);
        pos += self.payload.len();
        if self.padding > 0 {
            let pad = usize::from(self.padding);
            out[pos..pos + pad - 1].fill(0);
            out[pos + pad - 1] = self.padding;
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_g711_packet() {
        // PT 0 (PCMU), marker, seq 0x1234, ts 160, SSRC 0xdeadbeef, 160 bytes of payload.
        let mut pkt = vec![0x80, 0x80, 0x12, 0x34, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef];
        pkt.extend(std::iter::repeat_n(0xff, 160));
        let p = RtpPacket::parse(&pkt).expect("valid");
        assert!(p.marker);
        assert_eq!(
            (p.payload_type, p.sequence, p.timestamp, p.ssrc),
            (0, 0x1234, 160, 0xdead_beef)
        );
        assert_eq!(p.payload.len(), 160);
        let mut out = [0u8; 300];
        let n = p.write(&mut out).expect("fits");
        assert_eq!(&out[..n], &pkt[..]);
    }

    #[test]
    fn csrc_extension_and_padding() {
        let mut pkt = vec![0xb1, 8, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2];
        pkt.extend([1, 2, 3, 4]); // one CSRC
        pkt.extend([0xbe, 0xde, 0, 1, 9, 9, 9, 9]); // one-word RFC 8285 extension
        pkt.extend([7, 7, 7]); // payload
        pkt.extend([0, 0, 3]); // three padding octets
        let p = RtpPacket::parse(&pkt).expect("valid");
        assert_eq!(p.csrc, &[1, 2, 3, 4]);
        assert_eq!(p.extension, Some((0xbede, &[9u8, 9, 9, 9][..])));
        assert_eq!(p.payload, &[7, 7, 7]);
        assert_eq!(p.padding, 3);
        let mut out = [0u8; 64];
        let n = p.write(&mut out).expect("fits");
        assert_eq!(&out[..n], &pkt[..]);
    }

    #[test]
    fn rejects_what_is_not_rtp() {
        assert_eq!(RtpPacket::parse(&[0x80; 11]), Err(MediaError::Truncated));
        assert_eq!(RtpPacket::parse(&[0x40; 12]), Err(MediaError::BadVersion));
        // Announces 15 CSRCs that are not there.
        assert_eq!(
            RtpPacket::parse(&[0x8f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(MediaError::Truncated)
        );
        // Padding count larger than the payload.
        let mut pad = vec![0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 200];
        assert_eq!(RtpPacket::parse(&pad), Err(MediaError::BadPadding));
        pad[13] = 0;
        assert_eq!(RtpPacket::parse(&pad), Err(MediaError::BadPadding));
        // Extension longer than the packet.
        assert_eq!(
            RtpPacket::parse(&[0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]),
            Err(MediaError::Truncated)
        );
    }
}
