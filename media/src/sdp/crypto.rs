//! SDES (RFC 4568): `a=crypto` lines in offers and answers, and the SRTP keys an exchange settles on.
//!
//! A leg with [`LocalCrypto`] offers both AES-CM suites under one fresh key of ours, as `RTP/SAVP`
//! when SRTP is required or as `RTP/AVP` with `a=crypto` when it is only preferred (what Asterisk
//! and FreeSWITCH call optional SRTP: a phone without SRTP ignores the lines and talks plain RTP). An
//! answer takes the first offered line whose suite and key we can use and returns our key under the
//! same tag. Which legs get crypto at all (secure signalling, the user's policy) is the B2BUA's call.

use super::model::{Attribute, MediaDescription};
use crate::srtp::{MasterKey, SrtpKeys, SrtpSuite};

/// How much a leg insists on SRTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SrtpMode {
    /// SRTP when the peer agrees, plain RTP otherwise.
    Optional,
    /// SRTP or no call.
    Required,
}

/// Our SDES side of a leg: how much we insist, and the key we protect what we send with (kept for
/// the life of the leg, so a re-INVITE answer does not re-key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalCrypto {
    pub mode: SrtpMode,
    pub key: MasterKey,
}

/// The SDES transport profile.
pub const SAVP: &str = "RTP/SAVP";

/// One `a=crypto` line we can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CryptoLine {
    pub tag: u32,
    pub suite: SrtpSuite,
    pub key: MasterKey,
}

pub(crate) fn is_savp(proto: &str) -> bool {
    proto.eq_ignore_ascii_case(SAVP)
}

/// The section's `a=crypto` lines with a suite we speak and a key we can use, in their order (the
/// offerer's preference); session parameters (e.g. `UNENCRYPTED_SRTP`) make a line unusable.
pub(crate) fn crypto_lines(media: &MediaDescription) -> Vec<CryptoLine> {
    media
        .attributes_named("crypto")
        .filter_map(|value| {
            let mut fields = value.split_ascii_whitespace();
            let tag = fields.next()?.parse::<u32>().ok()?;
            let suite = SrtpSuite::from_name(fields.next()?)?;
            let key_params = fields.next()?;
            // One key only: several `;`-separated keys would need MKIs.
            if key_params.contains(';') || fields.next().is_some() {
                return None;
            }
            let key = MasterKey::from_key_params(key_params).ok()?;
            Some(CryptoLine { tag, suite, key })
        })
        .collect()
}

pub(crate) fn crypto_attribute(tag: u32, suite: SrtpSuite, key: &MasterKey) -> Attribute {
    Attribute::new(
        "crypto",
        format!("{tag} {} {}", suite.name(), key.to_key_params()),
    )
}

/// The lines of an offer: every suite, tags from 1, one key.
pub(crate) fn offer_attributes(local: &LocalCrypto) -> Vec<Attribute> {
    SrtpSuite::ALL
        .iter()
        .zip(1..)
        .map(|(suite, tag)| crypto_attribute(tag, *suite, &local.key))
        .collect()
}

/// The profile of our offer.
pub(crate) fn offer_proto(local: Option<&LocalCrypto>, plain: &str) -> String {
    match local.map(|l| l.mode) {
        Some(SrtpMode::Required) => SAVP.to_owned(),
        _ => plain.to_owned(),
    }
}

/// What our answer does about an offered section's SDES: `Err(())` rejects the stream, `Ok(None)`
/// answers plain RTP, `Ok(Some(attribute))` answers SRTP with that line.
pub(crate) fn answer_attribute(
    offered: &MediaDescription,
    local: Option<&LocalCrypto>,
) -> Result<Option<Attribute>, ()> {
    let savp = is_savp(&offered.proto);
    let Some(local) = local else {
        return if savp { Err(()) } else { Ok(None) };
    };
    match crypto_lines(offered).first() {
        Some(line) => Ok(Some(crypto_attribute(line.tag, line.suite, &local.key))),
        None if savp || local.mode == SrtpMode::Required => Err(()),
        None => Ok(None),
    }
}

/// The keys both sides settled on: our line and theirs under one tag with one suite (in an answer
/// there is one line; in an offer one per suite). `Err(())` when a side speaks `RTP/SAVP` but no pair
/// matches: such a stream cannot carry media.
pub(crate) fn settled_keys(
    local: &MediaDescription,
    remote: &MediaDescription,
) -> Result<Option<SrtpKeys>, ()> {
    let ours = crypto_lines(local);
    let theirs = crypto_lines(remote);
    let pair = ours.iter().find_map(|o| {
        let t = theirs
            .iter()
            .find(|t| t.tag == o.tag && t.suite == o.suite)?;
        Some(SrtpKeys {
            suite: o.suite,
            inbound: t.key,
            outbound: o.key,
        })
    });
    match pair {
        Some(keys) => Ok(Some(keys)),
        None if is_savp(&local.proto) || is_savp(&remote.proto) => Err(()),
        None => Ok(None),
    }
}
