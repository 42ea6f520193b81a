//! Browsers as callers: a `UDP/TLS/RTP/SAVPF` offer (JsSIP over WSS) gets a WebRTC leg. We choose
//! the leg's ICE credentials here, answer with the node's DTLS fingerprint, and hand the relay what
//! both descriptions settled ([`MediaControl::webrtc`]).

use rand::Rng;
use switchboard_media::relay::webrtc::WebRtcParams;
use switchboard_media::sdp::{LocalWebRtc, RemoteWebRtc, SessionDescription, WEBRTC_PROTO};

use super::Calls;

/// Whether a contact is a browser or app reached over a WebSocket (and so must be offered WebRTC).
pub(super) fn is_browser(transport: crate::TransportKind) -> bool {
    matches!(
        transport,
        crate::TransportKind::Ws | crate::TransportKind::Wss
    )
}

/// Whether the first active audio stream of `offer` is WebRTC.
pub(super) fn offers_webrtc(offer: &SessionDescription) -> bool {
    offer
        .media
        .iter()
        .find(|m| m.media.eq_ignore_ascii_case("audio") && m.port != 0)
        .is_some_and(|m| m.proto.eq_ignore_ascii_case(WEBRTC_PROTO))
}

/// ICE allows `ALPHA / DIGIT / "+" / "/"` in credentials (RFC 8839 §5.4).
const ICE_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl Calls {
    /// Fresh ICE credentials (ufrag 8, password 24 characters: RFC 8839 asks ≥ 4 and ≥ 22) with
    /// the node's fingerprint; `None` when this node has no DTLS certificate (no WebRTC).
    pub(super) fn local_webrtc(&mut self) -> Option<LocalWebRtc> {
        let fingerprint = self.cfg.dtls_fingerprint.clone()?;
        let mut token = |n: usize| -> String {
            (0..n)
                .map(|_| char::from(ICE_CHARS[self.key_rng.gen_range(0..ICE_CHARS.len())]))
                .collect()
        };
        let ufrag = token(8);
        let pwd = token(24);
        Some(LocalWebRtc {
            ufrag,
            pwd,
            fingerprint,
        })
    }
}

/// What the relay's WebRTC engine needs: our side and the browser's. We answer `setup:passive`
/// and offer `actpass`, so the browser opens DTLS unless its answer says `passive`.
pub(super) fn relay_params(local: &LocalWebRtc, remote: &RemoteWebRtc) -> WebRtcParams {
    WebRtcParams {
        local_ufrag: local.ufrag.clone(),
        local_pwd: local.pwd.clone(),
        remote_ufrag: remote.ufrag.clone(),
        remote_pwd: remote.pwd.clone(),
        remote_fingerprint: remote.fingerprint.clone(),
        mid: remote.mid.clone(),
        remote_ssrc: remote.ssrc,
        dtls_active: remote.we_open_dtls(),
    }
}
