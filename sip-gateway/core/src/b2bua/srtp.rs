//! Which call legs speak SDES SRTP, and the keys we offer on them.
//!
//! RFC 4568 §8.3: SDES keys travel in the SDP, so they only protect anything when the signalling
//! is encrypted. A leg gets [`LocalCrypto`] only when its peer is reached over TLS (or WSS); the
//! user's [`SrtpPolicy`] then says whether SRTP is optional or required. A user whose policy
//! requires SRTP is never called or answered over plain signalling.

use rand::RngCore;
use switchboard_media::sdp::{LocalCrypto, SessionDescription, SrtpMode};
use switchboard_media::srtp::{MasterKey, SrtpPolicy};

use super::Calls;
use crate::TransportKind;

/// Whether a transport encrypts the signalling (and with it the SDES keys).
pub(crate) fn is_secure(transport: TransportKind) -> bool {
    matches!(transport, TransportKind::Tls | TransportKind::Wss)
}

/// What a leg may do, or `Err(())` when the policy rules the leg out (required over plain
/// signalling).
pub(crate) fn mode_for(
    policy: SrtpPolicy,
    transport: TransportKind,
) -> Result<Option<SrtpMode>, ()> {
    match (policy, is_secure(transport)) {
        (SrtpPolicy::Required, false) => Err(()),
        (SrtpPolicy::Required, true) => Ok(Some(SrtpMode::Required)),
        (SrtpPolicy::Preferred, true) => Ok(Some(SrtpMode::Optional)),
        (SrtpPolicy::Off, _) | (SrtpPolicy::Preferred, false) => Ok(None),
    }
}

/// Whether a policy lets a leg run over `transport` at all.
pub fn srtp_allows(policy: SrtpPolicy, transport: TransportKind) -> bool {
    mode_for(policy, transport).is_ok()
}

/// Whether a caller's offer can be answered at all with `crypto` (checked before the call is
/// routed, so a caller refused for its media hears 488 at once).
pub(crate) fn offer_acceptable(offer: &SessionDescription, crypto: Option<&LocalCrypto>) -> bool {
    offer
        .media_views()
        .filter(|m| m.media.media.eq_ignore_ascii_case("audio") && m.media.port != 0)
        .any(|m| {
            let savp = m
                .media
                .proto
                .eq_ignore_ascii_case(switchboard_media::sdp::SAVP);
            let has_crypto = m.media.attributes_named("crypto").next().is_some();
            match crypto.map(|c| c.mode) {
                None => !savp,
                Some(SrtpMode::Optional) => true,
                Some(SrtpMode::Required) => has_crypto,
            }
        })
}

impl Calls {
    /// The SRTP policy of a user (the default for one not configured).
    pub fn srtp_policy(&self, user: &str) -> SrtpPolicy {
        self.srtp_policies.get(user).copied().unwrap_or_default()
    }

    /// Replaces every user's SRTP policy (from the configuration).
    pub fn set_srtp_policies(&mut self, policies: std::collections::HashMap<String, SrtpPolicy>) {
        self.srtp_policies = policies;
    }

    /// A leg's crypto in `mode`, with a fresh key from the key generator.
    pub(crate) fn local_crypto(&mut self, mode: Option<SrtpMode>) -> Option<LocalCrypto> {
        let mode = mode?;
        let mut bytes = [0u8; 30];
        self.key_rng.fill_bytes(&mut bytes);
        Some(LocalCrypto {
            mode,
            key: MasterKey::from_bytes(bytes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_go_only_over_tls_and_required_refuses_plain_signalling() {
        use SrtpPolicy::*;
        let tls = TransportKind::Tls;
        let udp = TransportKind::Udp;
        assert_eq!(mode_for(Preferred, tls), Ok(Some(SrtpMode::Optional)));
        assert_eq!(mode_for(Preferred, udp), Ok(None));
        assert_eq!(mode_for(Required, tls), Ok(Some(SrtpMode::Required)));
        assert_eq!(mode_for(Required, udp), Err(()));
        assert_eq!(mode_for(Off, tls), Ok(None));
    }
}
