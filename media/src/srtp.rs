//! SRTP and SRTCP (RFC 3711) with the AES_CM_128_HMAC_SHA1_80 and _32 suites of SDES (RFC 4568), sans-IO:
//! packets are protected and unprotected in place in the caller's buffer.
//!
//! One [`SrtpContext`] serves one direction of one leg: the far end's master key unprotects what it
//! sends, ours protects what we send it. Each SSRC seen gets a rollover counter and a 64-packet replay
//! window (a relay passes the far ends' sequence numbers through, so the sending side estimates the
//! packet index exactly as a receiver does, which also copes with reordering). Only packets that
//! authenticate create receive state, and the number of SSRCs kept is bounded, so a stranger spraying
//! packets at the port allocates nothing.

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::MediaError;

/// The SDES crypto suites the relay speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpSuite {
    /// 80-bit authentication tag on RTP (the common default).
    AesCm128HmacSha1_80,
    /// 32-bit tag on RTP (SRTCP keeps 80 bits), for low-bandwidth links.
    AesCm128HmacSha1_32,
}

impl SrtpSuite {
    /// In the order we offer them.
    pub const ALL: [SrtpSuite; 2] = [
        SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_32,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    pub fn from_name(name: &str) -> Option<SrtpSuite> {
        SrtpSuite::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
    }

    /// Bytes of authentication tag appended to each SRTP packet.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => 10,
            SrtpSuite::AesCm128HmacSha1_32 => 4,
        }
    }
}

/// What an administrator chose for a user's media (SDES keys only ever travel over TLS or WSS:
/// over plain UDP/TCP they would protect nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum SrtpPolicy {
    /// Plain RTP only; an `RTP/SAVP` offer is refused.
    Off,
    /// SRTP when the phone offers it or takes our offer, plain RTP otherwise (the default).
    #[default]
    Preferred,
    /// SRTP only: a call that cannot have it is refused, and so is signalling without TLS.
    Required,
}

/// SRTCP appends its index word (E flag + 31 bits) and an 80-bit tag with both suites.
const SRTCP_TRAILER: usize = 4 + 10;

/// A master key and salt (128 + 112 bits), as an SDES `inline:` parameter carries them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MasterKey {
    pub key: [u8; 16],
    pub salt: [u8; 14],
}

impl std::fmt::Debug for MasterKey {
    /// Keys never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// 30 bytes of key then salt, e.g. from a CSPRNG.
    pub fn from_bytes(bytes: [u8; 30]) -> MasterKey {
        let mut key = [0u8; 16];
        let mut salt = [0u8; 14];
        key.copy_from_slice(&bytes[..16]);
        salt.copy_from_slice(&bytes[16..]);
        MasterKey { key, salt }
    }

    /// The key-params of an SDES line: `inline:<base64>` with an optional `|lifetime` (kept to the
    /// SRTP maximum anyway) and no MKI (which would put an identifier in every packet: refused).
    pub fn from_key_params(params: &str) -> Result<MasterKey, MediaError> {
        let rest = params
            .strip_prefix("inline:")
            .ok_or(MediaError::SrtpKey("key method is not inline"))?;
        let mut parts = rest.split('|');
        let encoded = parts.next().unwrap_or("");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| MediaError::SrtpKey("key is not base64"))?;
        let bytes: [u8; 30] = decoded
            .try_into()
            .map_err(|_| MediaError::SrtpKey("key and salt are not 30 bytes"))?;
        for part in parts {
            if part.contains(':') {
                return Err(MediaError::SrtpKey("MKI is not supported"));
            }
        }
        Ok(MasterKey::from_bytes(bytes))
    }

    /// `inline:<base64 of key || salt>`.
    pub fn to_key_params(&self) -> String {
        let mut bytes = [0u8; 30];
        bytes[..16].copy_from_slice(&self.key);
        bytes[16..].copy_from_slice(&self.salt);
        format!(
            "inline:{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    }
}

/// The keys of an SRTP leg: what the far end protects with (we unprotect) and what we protect with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpKeys {
    pub suite: SrtpSuite,
    pub inbound: MasterKey,
    pub outbound: MasterKey,
}

/// Session keys for one of SRTP or SRTCP, derived from a master key (RFC 3711 §4.3, KDR 0).
struct SessionKeys {
    cipher: Aes128,
    salt: [u8; 14],
    auth: Hmac<Sha1>,
}

impl SessionKeys {
    /// Labels: 0/1/2 for SRTP's cipher key, auth key, salt; 3/4/5 for SRTCP's.
    fn derive(master: &MasterKey, first_label: u8) -> SessionKeys {
        let prf = Aes128::new(GenericArray::from_slice(&master.key));
        let mut cipher_key = [0u8; 16];
        let mut auth_key = [0u8; 20];
        let mut salt = [0u8; 14];
        derive_into(&prf, &master.salt, first_label, &mut cipher_key);
        derive_into(&prf, &master.salt, first_label + 1, &mut auth_key);
        derive_into(&prf, &master.salt, first_label + 2, &mut salt);
        SessionKeys {
            cipher: Aes128::new(GenericArray::from_slice(&cipher_key)),
            salt,
            // HMAC takes a key of any length.
            auth: <Hmac<Sha1> as Mac>::new_from_slice(&auth_key)
                .unwrap_or_else(|_| unreachable!("HMAC accepts every key length")),
        }
    }

    /// XORs the AES-CM keystream for `iv` over `data` (RFC 3711 §4.1.1).
    fn apply_keystream(&self, iv: &[u8; 16], data: &mut [u8]) {
        keystream_xor(&self.cipher, iv, data);
    }

    fn tag(&self, parts: &[&[u8]]) -> [u8; 20] {
        let mut mac = self.auth.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }
}

/// x = (label at byte 7 of the 14-byte key id, r = 0) XOR salt, the IV is x·2^16, and the key is the
/// start of the AES-CM keystream under the master key.
fn derive_into(prf: &Aes128, master_salt: &[u8; 14], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(master_salt);
    iv[7] ^= label;
    out.fill(0);
    keystream_xor(prf, &iv, out);
}

fn keystream_xor(cipher: &Aes128, iv: &[u8; 16], data: &mut [u8]) {
    // Blocks are encrypted eight at a time so AES-NI can pipeline them.
    const BATCH: usize = 8;
    let mut counter: u16 = u16::from_be_bytes([iv[14], iv[15]]);
    for chunk in data.chunks_mut(16 * BATCH) {
        let mut blocks = [GenericArray::from([0u8; 16]); BATCH];
        let n = chunk.len().div_ceil(16);
        for block in blocks.iter_mut().take(n) {
            block[..14].copy_from_slice(&iv[..14]);
            block[14..].copy_from_slice(&counter.to_be_bytes());
            counter = counter.wrapping_add(1);
        }
        cipher.encrypt_blocks(&mut blocks[..n]);
        for (bytes, block) in chunk.chunks_mut(16).zip(blocks.iter()) {
            for (b, k) in bytes.iter_mut().zip(block.iter()) {
                *b ^= k;
            }
        }
    }
}

/// Rollover counter, highest sequence number and replay window of one SSRC.
#[derive(Debug, Clone, Copy)]
struct StreamState {
    ssrc: u32,
    roc: u32,
    highest_seq: u16,
    /// Bit i set: the packet `i` indices below the highest was seen.
    window: u64,
}

impl StreamState {
    /// The packet index a sequence number most likely belongs to (RFC 3711 Appendix A).
    fn estimate(&self, seq: u16) -> u64 {
        let s_l = i64::from(self.highest_seq);
        let seq_i = i64::from(seq);
        let roc = i64::from(self.roc);
        let v = if s_l < 32768 {
            if seq_i - s_l > 32768 {
                roc - 1
            } else {
                roc
            }
        } else if s_l - 32768 > seq_i {
            roc + 1
        } else {
            roc
        };
        let v = (v.max(0) as u64) & 0xffff_ffff;
        (v << 16) | u64::from(seq)
    }

    fn index(&self) -> u64 {
        (u64::from(self.roc) << 16) | u64::from(self.highest_seq)
    }

    fn is_replay(&self, index: u64) -> bool {
        let highest = self.index();
        if index > highest {
            return false;
        }
        let behind = highest - index;
        behind >= 64 || self.window & (1 << behind) != 0
    }

    fn accept(&mut self, index: u64) {
        let highest = self.index();
        if index > highest {
            let ahead = index - highest;
            self.window = if ahead >= 64 {
                1
            } else {
                (self.window << ahead) | 1
            };
            self.roc = (index >> 16) as u32;
            self.highest_seq = index as u16;
        } else {
            self.window |= 1 << (highest - index);
        }
    }
}

/// SSRCs tracked per context: a leg carries one stream, a few more after transfers or a re-INVITE.
const MAX_STREAMS: usize = 8;

/// Per-SSRC state with the least recently started stream evicted when full.
#[derive(Default)]
struct Streams {
    list: Vec<StreamState>,
}

impl Streams {
    fn find(&self, ssrc: u32) -> Option<StreamState> {
        self.list.iter().find(|s| s.ssrc == ssrc).copied()
    }

    fn store(&mut self, state: StreamState) {
        if let Some(s) = self.list.iter_mut().find(|s| s.ssrc == state.ssrc) {
            *s = state;
            return;
        }
        if self.list.len() >= MAX_STREAMS {
            self.list.remove(0);
        }
        self.list.push(state);
    }

    /// A stream's state, or a fresh one whose first packet is `seq` (so the first index is ROC 0).
    fn get_or_new(&self, ssrc: u32, seq: u16) -> (StreamState, bool) {
        match self.find(ssrc) {
            Some(s) => (s, false),
            None => (
                StreamState {
                    ssrc,
                    roc: 0,
                    highest_seq: seq,
                    window: 0,
                },
                true,
            ),
        }
    }
}

/// The RTP header's length, as the encryption boundary: fixed part, CSRCs and extension.
fn rtp_header_len(packet: &[u8]) -> Result<usize, MediaError> {
    let first = *packet.first().ok_or(MediaError::Truncated)?;
    if first >> 6 != 2 {
        return Err(MediaError::BadVersion);
    }
    let mut len = 12 + 4 * usize::from(first & 0x0f);
    if first & 0x10 != 0 {
        let ext = packet.get(len..len + 4).ok_or(MediaError::Truncated)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([ext[2], ext[3]]));
    }
    if len > packet.len() {
        return Err(MediaError::Truncated);
    }
    Ok(len)
}

fn be32(b: &[u8], at: usize) -> Result<u32, MediaError> {
    let w = b.get(at..at + 4).ok_or(MediaError::Truncated)?;
    Ok(u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
}

/// IV = salt·2^16 XOR SSRC·2^64 XOR index·2^16 (RFC 3711 §4.1.1; SRTCP's index is its 31 bits).
fn packet_iv(salt: &[u8; 14], ssrc: u32, index: u64) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(salt);
    for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
        *b ^= s;
    }
    for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
        *b ^= s;
    }
    iv
}

/// One direction of an SRTP leg: SRTP and SRTCP session keys from one master key, and the state of
/// each stream.
pub struct SrtpContext {
    suite: SrtpSuite,
    master: MasterKey,
    rtp: SessionKeys,
    rtcp: SessionKeys,
    rtp_streams: Streams,
    rtcp_streams: Streams,
    /// The next SRTCP index we send (31 bits).
    rtcp_index: u32,
}

impl SrtpContext {
    pub fn new(suite: SrtpSuite, master: MasterKey) -> SrtpContext {
        SrtpContext {
            suite,
            master,
            rtp: SessionKeys::derive(&master, 0),
            rtcp: SessionKeys::derive(&master, 3),
            rtp_streams: Streams::default(),
            rtcp_streams: Streams::default(),
            rtcp_index: 0,
        }
    }

    /// Whether this context was made from these parameters (a re-INVITE that keeps the keys keeps
    /// the rollover counters too).
    pub fn uses(&self, suite: SrtpSuite, master: &MasterKey) -> bool {
        self.suite == suite && self.master == *master
    }

    /// Encrypts and authenticates the RTP packet in `buf[..len]`; returns the new length. `buf` must
    /// have room for the tag.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, MediaError> {
        let tag_len = self.suite.rtp_tag_len();
        if len + tag_len > buf.len() {
            return Err(MediaError::BufferTooSmall);
        }
        let packet = buf.get_mut(..len).ok_or(MediaError::Truncated)?;
        let header = rtp_header_len(packet)?;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = be32(packet, 8)?;
        let (mut state, _) = self.rtp_streams.get_or_new(ssrc, seq);
        let index = state.estimate(seq);
        let iv = packet_iv(&self.rtp.salt, ssrc, index);
        self.rtp.apply_keystream(&iv, &mut packet[header..]);
        let roc = ((index >> 16) as u32).to_be_bytes();
        let tag = self.rtp.tag(&[packet, &roc]);
        buf[len..len + tag_len].copy_from_slice(&tag[..tag_len]);
        state.accept(index);
        self.rtp_streams.store(state);
        Ok(len + tag_len)
    }

    /// Authenticates, checks for replay and decrypts the SRTP packet in `buf`; returns the length of
    /// the plain RTP packet at its start. Nothing changes on failure.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, MediaError> {
        let tag_len = self.suite.rtp_tag_len();
        let len = buf
            .len()
            .checked_sub(tag_len)
            .ok_or(MediaError::Truncated)?;
        let (packet, tag) = buf.split_at_mut(len);
        let header = rtp_header_len(packet)?;
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ssrc = be32(packet, 8)?;
        let (mut state, _) = self.rtp_streams.get_or_new(ssrc, seq);
        let index = state.estimate(seq);
        if state.is_replay(index) {
            return Err(MediaError::SrtpReplay);
        }
        let roc = ((index >> 16) as u32).to_be_bytes();
        let expected = self.rtp.tag(&[packet, &roc]);
        if !constant_time_eq(&expected[..tag_len], tag) {
            return Err(MediaError::SrtpAuth);
        }
        let iv = packet_iv(&self.rtp.salt, ssrc, index);
        self.rtp.apply_keystream(&iv, &mut packet[header..]);
        state.accept(index);
        self.rtp_streams.store(state);
        Ok(len)
    }

    /// Encrypts and authenticates the compound RTCP packet in `buf[..len]` (RFC 3711 §3.4).
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, MediaError> {
        if len < 8 {
            return Err(MediaError::RtcpTruncated);
        }
        if len + SRTCP_TRAILER > buf.len() {
            return Err(MediaError::BufferTooSmall);
        }
        let ssrc = be32(buf, 4)?;
        let index = self.rtcp_index;
        self.rtcp_index = (self.rtcp_index + 1) & 0x7fff_ffff;
        let iv = packet_iv(&self.rtcp.salt, ssrc, u64::from(index));
        self.rtcp.apply_keystream(&iv, &mut buf[8..len]);
        buf[len..len + 4].copy_from_slice(&(index | 0x8000_0000).to_be_bytes());
        let tag = self.rtcp.tag(&[&buf[..len + 4]]);
        buf[len + 4..len + SRTCP_TRAILER].copy_from_slice(&tag[..10]);
        Ok(len + SRTCP_TRAILER)
    }

    /// Authenticates, checks for replay and decrypts the SRTCP packet in `buf`; returns the length of
    /// the plain RTCP at its start.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, MediaError> {
        let len = buf
            .len()
            .checked_sub(SRTCP_TRAILER)
            .filter(|&l| l >= 8)
            .ok_or(MediaError::RtcpTruncated)?;
        let (signed, tag) = buf.split_at_mut(len + 4);
        let e_index = be32(signed, len)?;
        let encrypted = e_index & 0x8000_0000 != 0;
        let index = u64::from(e_index & 0x7fff_ffff);
        let ssrc = be32(signed, 4)?;
        let expected = self.rtcp.tag(&[signed]);
        if !constant_time_eq(&expected[..10], tag) {
            return Err(MediaError::SrtpAuth);
        }
        // The SRTCP index is explicit; the window is kept as if it were a 48-bit RTP index.
        let state = self.rtcp_streams.find(ssrc);
        if let Some(s) = state {
            if s.is_replay(index) {
                return Err(MediaError::SrtpReplay);
            }
        }
        if encrypted {
            let iv = packet_iv(&self.rtcp.salt, ssrc, index);
            self.rtcp.apply_keystream(&iv, &mut signed[8..len]);
        }
        let mut s = state.unwrap_or(StreamState {
            ssrc,
            roc: (index >> 16) as u32,
            highest_seq: index as u16,
            window: 0,
        });
        s.accept(index);
        self.rtcp_streams.store(s);
        Ok(len)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Both directions of an SRTP leg.
pub struct SrtpLeg {
    pub inbound: SrtpContext,
    pub outbound: SrtpContext,
}

impl SrtpLeg {
    pub fn new(keys: &SrtpKeys) -> SrtpLeg {
        SrtpLeg {
            inbound: SrtpContext::new(keys.suite, keys.inbound),
            outbound: SrtpContext::new(keys.suite, keys.outbound),
        }
    }

    /// Whether these are the keys the leg runs with.
    pub fn uses(&self, keys: &SrtpKeys) -> bool {
        self.inbound.uses(keys.suite, &keys.inbound)
            && self.outbound.uses(keys.suite, &keys.outbound)
    }
}

#[cfg(test)]
mod tests;
