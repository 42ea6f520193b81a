//! Parse arbitrary bytes as SDP: never a panic, and whatever parses prints within the limits and parses
//! back to an equal description. Parsed descriptions are also answered as offers and summarised, since
//! the offer/answer code reads every typed accessor on attacker-chosen text, with and without SDES.

#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use switchboard_media::sdp::{
    answer, negotiated, Codec, LocalCapabilities, LocalCrypto, SessionDescription, SessionOrigin,
    SrtpMode, MAX_DESCRIPTION_LEN,
};
use switchboard_media::srtp::MasterKey;

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = SessionDescription::parse(data) else {
        return;
    };
    let printed = parsed.to_string();
    assert!(
        printed.len() <= MAX_DESCRIPTION_LEN,
        "printed past the limit"
    );
    let again = SessionDescription::parse(printed.as_bytes()).expect("printed description parses");
    assert_eq!(again, parsed, "printing changed the description");

    let relay = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    let mut caps =
        LocalCapabilities::new(relay, 40_000, vec![Codec::OPUS, Codec::PCMU, Codec::PCMA]);
    caps.rtcp_mux = true;
    let mut origin = SessionOrigin::new(1, relay);
    if let Ok((ours, summary)) = answer(&parsed, &caps, &mut origin) {
        let reparsed = SessionDescription::parse(ours.to_string().as_bytes());
        assert_eq!(
            reparsed.as_ref(),
            Ok(&ours),
            "our answer does not parse back"
        );
        assert_eq!(negotiated(&ours, &parsed), Ok(summary));
    }
    // The same with SDES: attacker-chosen a=crypto lines are read as suites and keys.
    caps.crypto = Some(LocalCrypto {
        mode: SrtpMode::Optional,
        key: MasterKey::from_bytes([7; 30]),
    });
    if let Ok((ours, summary)) = answer(&parsed, &caps, &mut origin) {
        let reparsed = SessionDescription::parse(ours.to_string().as_bytes());
        assert_eq!(reparsed.as_ref(), Ok(&ours), "our SDES answer does not parse back");
        assert_eq!(negotiated(&ours, &parsed), Ok(summary));
    }
    let _ = negotiated(&parsed, &parsed);
});
