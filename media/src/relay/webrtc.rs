//! A WebRTC leg: ICE-lite, DTLS-SRTP and rtcp-mux on the leg's one UDP port, by str0m (sans-IO).
//! The relay gives it every datagram that arrives on the leg; what str0m decrypts comes back as
//! plain RTP packets, which the relay then routes like any leg's; plain RTP for the browser goes in
//! and leaves protected. The SDP is ours (see `sdp::webrtc`), so str0m is driven through its direct
//! API: our ICE credentials and the browser's, its DTLS fingerprint, one audio media (`mid`), the
//! browser's SSRC to expect and ours to send with.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use str0m::config::{CryptoProvider, DtlsCert, Fingerprint};
use str0m::media::{MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, Ssrc};
use str0m::{Candidate, Event, IceConnectionState, IceCreds, Input, Output, Rtc};

use crate::rtp::RtpPacket;
use crate::MediaError;

/// What the two SDPs of a WebRTC leg settled, for the media thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcParams {
    /// Our `a=ice-ufrag` / `a=ice-pwd`.
    pub local_ufrag: String,
    pub local_pwd: String,
    /// The browser's.
    pub remote_ufrag: String,
    pub remote_pwd: String,
    /// The browser's `a=fingerprint` (`sha-256 AB:CD:…`).
    pub remote_fingerprint: String,
    /// The `a=mid` of the audio section.
    pub mid: String,
    /// The browser's audio SSRC (`a=ssrc`), when it gave one.
    pub remote_ssrc: Option<u32>,
    /// We open DTLS (`a=setup:active` on our side); browsers take the active role when we say
    /// `passive`, as our answers do.
    pub dtls_active: bool,
}

/// The node's DTLS identity: one certificate for every WebRTC leg (making one per leg costs
/// milliseconds), and its fingerprint for our SDP.
#[derive(Clone)]
pub struct DtlsIdentity {
    pub cert: DtlsCert,
    pub fingerprint: String,
    provider: std::sync::Arc<CryptoProvider>,
}

impl std::fmt::Debug for DtlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsIdentity")
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl DtlsIdentity {
    /// Makes a self-signed certificate (off the media threads: it takes a while).
    pub fn generate() -> Result<DtlsIdentity, MediaError> {
        let provider = std::sync::Arc::new(str0m::crypto::from_feature_flags());
        let cert = provider
            .dtls_provider
            .generate_certificate()
            .ok_or(MediaError::WebRtc("no DTLS certificate"))?;
        // The fingerprint as str0m computes it for this certificate.
        let mut probe = Rtc::builder()
            .set_crypto_provider(provider.clone())
            .set_dtls_cert(cert.clone())
            .build(Instant::now());
        let fingerprint = probe.direct_api().local_dtls_fingerprint().to_string();
        Ok(DtlsIdentity {
            cert,
            fingerprint,
            provider,
        })
    }
}

/// The extended sequence number nearest `last` with the low 16 bits `seq` (RFC 3550 A.1's idea):
/// the far end's numbers wrap every 65,536 packets, str0m's do not.
fn extend_seq(last: Option<u64>, seq: u16) -> u64 {
    let Some(last) = last else {
        // The first cycle: the browser assumes a rollover counter of 0 (RFC 3711 §3.3.1).
        return u64::from(seq);
    };
    let base = last & !0xffff;
    let below = base.checked_sub(1 << 16);
    [below, Some(base), Some(base + (1 << 16))]
        .into_iter()
        .flatten()
        .map(|b| b | u64::from(seq))
        .min_by_key(|c| c.abs_diff(last))
        .unwrap_or(base | u64::from(seq))
}

/// A packet str0m produced for the wire.
#[derive(Debug)]
pub struct WireOut {
    pub dst: SocketAddr,
    pub bytes: Vec<u8>,
}

pub struct WebRtcLeg {
    rtc: Rtc,
    params: WebRtcParams,
    local: SocketAddr,
    mid: Mid,
    ssrc_tx: Ssrc,
    outbox: VecDeque<WireOut>,
    /// Plain RTP packets decrypted from the browser, waiting for the relay.
    inbox: VecDeque<Vec<u8>>,
    next_timeout: Option<Instant>,
    connected: bool,
    /// When the leg was set up, and when its DTLS first came up: the relay's watchdog for setups
    /// that never finish.
    started_at: Instant,
    connected_at: Option<Instant>,
    failed: bool,
    /// The last extended sequence number sent: the far end's 16-bit numbers are extended across
    /// their wrap, as str0m wants them.
    last_seq: Option<u64>,
}

impl WebRtcLeg {
    /// A leg answering on `local` (the address in our SDP's candidate).
    pub fn new(
        params: &WebRtcParams,
        identity: &DtlsIdentity,
        local: SocketAddr,
        now: Instant,
    ) -> Result<WebRtcLeg, MediaError> {
        let mut rtc = Rtc::builder()
            .set_crypto_provider(identity.provider.clone())
            .set_dtls_cert(identity.cert.clone())
            .set_ice_lite(true)
            .set_rtp_mode(true)
            // Our SDP negotiates no header extensions: only the MID (str0m maps streams by it)
            // is kept, which spares per-packet transport-wide sequence numbering and send times.
            .clear_extension_map()
            .set_extension(4, str0m::rtp::Extension::RtpMid)
            // Audio only, under the static numbers (and Opus as 111, as Chrome numbers it).
            .clear_codecs()
            .enable_opus(true)
            .enable_pcmu(true)
            .enable_pcma(true)
            .set_local_ice_credentials(IceCreds {
                ufrag: params.local_ufrag.clone(),
                pass: params.local_pwd.clone(),
            })
            .build(now);
        let fingerprint: Fingerprint = params
            .remote_fingerprint
            .parse()
            .map_err(|_| MediaError::WebRtc("bad remote fingerprint"))?;
        let candidate =
            Candidate::host(local, "udp").map_err(|_| MediaError::WebRtc("bad local candidate"))?;
        rtc.add_local_candidate(candidate);
        let mid: Mid = params.mid.as_str().into();
        let ssrc_tx: Ssrc;
        {
            let mut api = rtc.direct_api();
            api.set_remote_fingerprint(fingerprint);
            api.set_remote_ice_credentials(IceCreds {
                ufrag: params.remote_ufrag.clone(),
                pass: params.remote_pwd.clone(),
            });
            api.set_ice_controlling(false);
            api.declare_media(mid, MediaKind::Audio);
            ssrc_tx = api.new_ssrc();
            api.declare_stream_tx(ssrc_tx, None, mid, None);
            if let Some(ssrc) = params.remote_ssrc {
                api.expect_stream_rx(ssrc.into(), None, mid, None);
            }
            api.start_dtls(params.dtls_active)
                .map_err(|_| MediaError::WebRtc("DTLS did not start"))?;
        }
        let mut leg = WebRtcLeg {
            rtc,
            params: params.clone(),
            local,
            mid,
            ssrc_tx,
            outbox: VecDeque::new(),
            inbox: VecDeque::new(),
            next_timeout: None,
            connected: false,
            started_at: now,
            connected_at: None,
            failed: false,
            last_seq: None,
        };
        leg.drain();
        Ok(leg)
    }

    /// A datagram from `src` (STUN, DTLS or SRTP/SRTCP).
    pub fn handle_datagram(&mut self, src: SocketAddr, datagram: &[u8], now: Instant) {
        let Ok(receive) = Receive::new(Protocol::Udp, src, self.local, datagram) else {
            return;
        };
        if self.rtc.handle_input(Input::Receive(now, receive)).is_err() {
            self.failed = true;
        }
        self.drain();
        self.note_connected(now);
    }

    /// Plain RTP for the browser: protected and queued for the wire once DTLS is up (dropped before:
    /// there are no keys yet).
    pub fn send_rtp(&mut self, packet: &[u8], now: Instant) {
        if !self.connected {
            return;
        }
        let Ok(rtp) = RtpPacket::parse(packet) else {
            return;
        };
        let seq = extend_seq(self.last_seq, rtp.sequence);
        self.last_seq = Some(self.last_seq.map_or(seq, |last| last.max(seq)));
        let mut api = self.rtc.direct_api();
        let Some(stream) = api.stream_tx(&self.ssrc_tx) else {
            return;
        };
        let write = RtpWrite::new(
            rtp.payload_type.into(),
            seq.into(),
            rtp.timestamp,
            now,
            rtp.payload.to_vec(),
        )
        .marker(rtp.marker);
        stream.write_rtp(write);
        self.drain();
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        if self.rtc.handle_input(Input::Timeout(now)).is_err() {
            self.failed = true;
        }
        self.drain();
        self.note_connected(now);
    }

    /// Runs str0m's outputs: packets for the wire, decrypted RTP, state changes, the next timeout.
    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    self.next_timeout = Some(at);
                    return;
                }
                Ok(Output::Transmit(t)) => self.outbox.push_back(WireOut {
                    dst: t.destination,
                    bytes: t.contents.to_vec(),
                }),
                Ok(Output::Event(event)) => match event {
                    Event::Connected => self.connected = true,
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        self.connected = false
                    }
                    Event::RtpPacket(p) => {
                        let h = &p.header;
                        let mut bytes = Vec::with_capacity(12 + p.payload.len());
                        bytes.push(0x80);
                        bytes.push((u8::from(h.marker) << 7) | (*h.payload_type & 0x7f));
                        bytes.extend_from_slice(&(*p.seq_no as u16).to_be_bytes());
                        bytes.extend_from_slice(&h.timestamp.to_be_bytes());
                        bytes.extend_from_slice(&(*h.ssrc).to_be_bytes());
                        bytes.extend_from_slice(&p.payload);
                        self.inbox.push_back(bytes);
                    }
                    _ => {}
                },
                Err(_) => {
                    self.failed = true;
                    return;
                }
            }
        }
    }

    pub fn poll_wire(&mut self) -> Option<WireOut> {
        self.outbox.pop_front()
    }

    pub fn poll_rtp(&mut self) -> Option<Vec<u8>> {
        self.inbox.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_timeout
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    fn note_connected(&mut self, now: Instant) {
        if self.connected && self.connected_at.is_none() {
            self.connected_at = Some(now);
        }
    }

    /// When the leg was made.
    pub fn started_at(&self) -> Instant {
        self.started_at
    }

    /// When ICE and DTLS first came up.
    pub fn connected_at(&self) -> Option<Instant> {
        self.connected_at
    }

    pub fn has_failed(&self) -> bool {
        self.failed || !self.rtc.is_alive()
    }

    pub fn mid(&self) -> &str {
        &self.mid
    }

    /// What the leg was made from.
    pub fn params(&self) -> &WebRtcParams {
        &self.params
    }
}

#[cfg(test)]
mod tests {
    use super::extend_seq;

    #[test]
    fn sequence_numbers_extend_across_the_wrap_and_reordering() {
        let first = extend_seq(None, 65534);
        assert_eq!(first, 65534);
        assert_eq!(extend_seq(Some(first), 65535), first + 1);
        assert_eq!(extend_seq(Some(first + 1), 0), first + 2);
        assert_eq!(
            extend_seq(Some(first + 2), 65535),
            first + 1,
            "a late one from before"
        );
        assert_eq!(extend_seq(Some(first + 2), 1), first + 3);
        assert_eq!(
            extend_seq(Some(5), 65535),
            65535,
            "no cycle below the first"
        );
    }
}
