//! WebRTC audio in our SDP (RFC 8829/8839/8842): a browser's `UDP/TLS/RTP/SAVPF` offer is answered as
//! an ICE-lite server with one host candidate (the leg's relay port), DTLS `setup:passive` (the
//! browser opens DTLS), our certificate's fingerprint, rtcp-mux and one BUNDLE group. The relay's
//! str0m engine is then given the browser's ICE credentials, fingerprint and SSRC
//! ([`RemoteWebRtc`]) with ours.

use super::model::{Attribute, MediaView};

/// The profile browsers offer audio with.
pub const WEBRTC_PROTO: &str = "UDP/TLS/RTP/SAVPF";

pub(crate) fn is_webrtc(proto: &str) -> bool {
    proto.eq_ignore_ascii_case(WEBRTC_PROTO)
}

/// Our ICE and DTLS identity on one leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalWebRtc {
    pub ufrag: String,
    pub pwd: String,
    /// `sha-256 AB:CD:…` of the node's DTLS certificate.
    pub fingerprint: String,
}

/// What the browser's description says about its ICE and DTLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteWebRtc {
    pub ufrag: String,
    pub pwd: String,
    pub fingerprint: String,
    /// Its audio SSRC (`a=ssrc`), when it names one.
    pub ssrc: Option<u32>,
    /// The section's `a=mid` (`0` when it has none).
    pub mid: String,
    /// Its `a=setup` (`actpass` in offers; `active` or `passive` in answers).
    pub setup: Option<String>,
}

impl RemoteWebRtc {
    /// Whether we open DTLS: only when the browser said it waits for us (`setup:passive`).
    pub fn we_open_dtls(&self) -> bool {
        self.setup
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("passive"))
    }
}

/// The mid of the one audio stream we offer to a browser.
pub(crate) const OFFER_MID: &str = "0";

/// The lines our answer (`setup:passive`) or offer (`setup:actpass`) adds to the audio section.
pub(crate) fn stream_attributes(
    local: &LocalWebRtc,
    address: std::net::IpAddr,
    port: u16,
    setup: &str,
) -> Vec<Attribute> {
    vec![
        Attribute::new("ice-ufrag", local.ufrag.clone()),
        Attribute::new("ice-pwd", local.pwd.clone()),
        Attribute::new("fingerprint", local.fingerprint.clone()),
        Attribute::new("setup", setup.to_owned()),
        Attribute::new(
            "candidate",
            format!("1 1 udp 2130706431 {address} {port} typ host"),
        ),
        Attribute::flag("end-of-candidates"),
    ]
}

/// Session-level lines of an answer with a WebRTC stream `mid`.
pub(crate) fn session_attributes(mid: &str) -> Vec<Attribute> {
    vec![
        Attribute::flag("ice-lite"),
        Attribute::new("group", format!("BUNDLE {mid}")),
    ]
}

/// The browser's parameters; `None` when it left out its ICE credentials or fingerprint.
pub(crate) fn remote_params(view: MediaView) -> Option<RemoteWebRtc> {
    let ssrc = view
        .media
        .attributes_named("ssrc")
        .find_map(|v| v.split_ascii_whitespace().next()?.parse::<u32>().ok());
    Some(RemoteWebRtc {
        ufrag: view.ice_ufrag()?.to_owned(),
        pwd: view.ice_pwd()?.to_owned(),
        fingerprint: view.fingerprint()?.to_owned(),
        ssrc,
        mid: view.media.mid().unwrap_or("0").to_owned(),
        setup: view.setup().map(str::to_owned),
    })
}
