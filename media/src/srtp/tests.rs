//! RFC 3711 Appendix B vectors, libsrtp's reference packets, and what must be refused.

use super::*;

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn master(key: &str, salt: &str) -> MasterKey {
    MasterKey {
        key: unhex(key).try_into().expect("16 bytes"),
        salt: unhex(salt).try_into().expect("14 bytes"),
    }
}

/// The master key of RFC 3711 B.3 and libsrtp's driver test.
fn reference_master() -> MasterKey {
    master(
        "E1F97A0D3E018BE0D64FA32C06DE4139",
        "0EC675AD498AFEEBB6960B3AABE6",
    )
}

#[test]
fn aes_cm_keystream_matches_rfc3711_b2() {
    let cipher = Aes128::new(GenericArray::from_slice(&unhex(
        "2B7E151628AED2A6ABF7158809CF4F3C",
    )));
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(&unhex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"));
    let mut stream = [0u8; 48];
    keystream_xor(&cipher, &iv, &mut stream);
    assert_eq!(
        stream.to_vec(),
        unhex(
            "E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB
             41E95B3BB0A2E8DD477901E4FCA894C0"
        )
    );
}

#[test]
fn session_keys_match_rfc3711_b3() {
    let m = reference_master();
    let prf = Aes128::new(GenericArray::from_slice(&m.key));
    let mut cipher_key = [0u8; 16];
    let mut salt = [0u8; 14];
    let mut auth = [0u8; 20];
    derive_into(&prf, &m.salt, 0, &mut cipher_key);
    derive_into(&prf, &m.salt, 1, &mut auth);
    derive_into(&prf, &m.salt, 2, &mut salt);
    assert_eq!(
        cipher_key.to_vec(),
        unhex("C61E7A93744F39EE10734AFE3FF7A087")
    );
    assert_eq!(salt.to_vec(), unhex("30CBBC08863D8C85D49DB34A9AE1"));
    assert_eq!(
        auth.to_vec(),
        unhex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
    );
}

const PLAIN_RTP: &str = "800f1234decafbadcafebabe abababababababababababababababab";
const SRTP_80: &str =
    "800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb";
const PLAIN_RTCP: &str = "81c8000bcafebabe abababababababababababababababab";
const SRTCP: &str =
    "81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8 80000001 993e08cd54d6c1230798";

#[test]
fn protects_libsrtps_reference_rtp_packet() {
    let mut ctx = SrtpContext::new(SrtpSuite::AesCm128HmacSha1_80, reference_master());
    let plain = unhex(PLAIN_RTP);
    let mut buf = [0u8; 128];
    buf[..plain.len()].copy_from_slice(&plain);
    let n = ctx.protect_rtp(&mut buf, plain.len()).expect("protect");
    assert_eq!(buf[..n].to_vec(), unhex(SRTP_80));
}

#[test]
fn unprotects_libsrtps_reference_rtp_packet_once() {
    let mut ctx = SrtpContext::new(SrtpSuite::AesCm128HmacSha1_80, reference_master());
    let mut packet = unhex(SRTP_80);
    let n = ctx.unprotect_rtp(&mut packet).expect("unprotect");
    assert_eq!(packet[..n].to_vec(), unhex(PLAIN_RTP));
    let mut again = unhex(SRTP_80);
    assert_eq!(ctx.unprotect_rtp(&mut again), Err(MediaError::SrtpReplay));
}

#[test]
fn srtcp_reference_packet_both_ways() {
    // libsrtp's vector is its second SRTCP packet (index 1).
    let mut tx = SrtpContext::new(SrtpSuite::AesCm128HmacSha1_80, reference_master());
    tx.rtcp_index = 1;
    let plain = unhex(PLAIN_RTCP);
    let mut buf = [0u8; 128];
    buf[..plain.len()].copy_from_slice(&plain);
    let n = tx.protect_rtcp(&mut buf, plain.len()).expect("protect");
    assert_eq!(buf[..n].to_vec(), unhex(SRTCP));

    let mut rx = SrtpContext::new(SrtpSuite::AesCm128HmacSha1_80, reference_master());
    let mut packet = unhex(SRTCP);
    let n = rx.unprotect_rtcp(&mut packet).expect("unprotect");
    assert_eq!(packet[..n].to_vec(), plain);
    let mut again = unhex(SRTCP);
    assert_eq!(rx.unprotect_rtcp(&mut again), Err(MediaError::SrtpReplay));
}

#[test]
fn a_changed_bit_or_wrong_key_fails_authentication() {
    let mut ctx = SrtpContext::new(SrtpSuite::AesCm128HmacSha1_80, reference_master());
    let mut packet = unhex(SRTP_80);
    packet[14] ^= 1;
    assert_eq!(ctx.unprotect_rtp(&mut packet), Err(MediaError::SrtpAuth));
    let mut other = SrtpContext::new(
        SrtpSuite::AesCm128HmacSha1_80,
        MasterKey::from_bytes([7; 30]),
    );
    let mut packet = unhex(SRTP_80);
    assert_eq!(other.unprotect_rtp(&mut packet), Err(MediaError::SrtpAuth));
    // Nothing was learned from the forgeries: the genuine packet still goes through.
    let mut packet = unhex(SRTP_80);
    assert!(ctx.unprotect_rtp(&mut packet).is_ok());
}

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 160];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// Sender and receiver agree across a sequence-number wrap, with reordering, for both suites.
#[test]
fn round_trip_across_rollover_and_reordering() {
    for suite in SrtpSuite::ALL {
        let key = MasterKey::from_bytes(std::array::from_fn(|i| i as u8 * 3));
        let mut tx = SrtpContext::new(suite, key);
        let mut rx = SrtpContext::new(suite, key);
        let seqs: Vec<u16> = (65530u16..=65535).chain(0..6).collect();
        let mut protected = Vec::new();
        for &seq in &seqs {
            let plain = rtp(seq, 0x1234, &[seq as u8; 160]);
            let mut buf = [0u8; 256];
            buf[..plain.len()].copy_from_slice(&plain);
            let n = tx.protect_rtp(&mut buf, plain.len()).expect("protect");
            assert_eq!(n, plain.len() + suite.rtp_tag_len());
            assert_ne!(&buf[12..plain.len()], &plain[12..], "payload encrypted");
            protected.push((plain, buf[..n].to_vec()));
        }
        // Delivered with two neighbours swapped around the wrap.
        protected.swap(5, 6);
        for (plain, mut packet) in protected {
            let n = rx.unprotect_rtp(&mut packet).expect("unprotect");
            assert_eq!(packet[..n], plain[..]);
        }
    }
}

#[test]
fn packets_older_than_the_window_are_refused() {
    let key = MasterKey::from_bytes([9; 30]);
    let mut tx = SrtpContext::new(SrtpSuite::AesCm128HmacSha1_80, key);
    let mut rx = SrtpContext::new(SrtpSuite::AesCm128HmacSha1_80, key);
    let mut old = Vec::new();
    for seq in 0..100u16 {
        let plain = rtp(seq, 5, &[1; 20]);
        let mut buf = [0u8; 64];
        buf[..plain.len()].copy_from_slice(&plain);
        let n = tx.protect_rtp(&mut buf, plain.len()).expect("protect");
        if seq == 10 {
            old = buf[..n].to_vec();
            continue;
        }
        rx.unprotect_rtp(&mut buf[..n]).expect("unprotect");
    }
    assert_eq!(rx.unprotect_rtp(&mut old), Err(MediaError::SrtpReplay));
}

#[test]
fn malformed_input_is_an_error_never_a_panic() {
    let mut ctx = SrtpContext::new(SrtpSuite::AesCm128HmacSha1_32, reference_master());
    for len in 0..40 {
        let mut junk = vec![0x90u8; len];
        let _ = ctx.unprotect_rtp(&mut junk);
        let _ = ctx.unprotect_rtcp(&mut junk);
        let mut small = vec![0x80u8; len];
        let _ = ctx.protect_rtp(&mut small, len);
        let _ = ctx.protect_rtcp(&mut small, len);
    }
}

#[test]
fn sdes_key_params_round_trip_and_refuse_what_we_cannot_use() {
    let key = reference_master();
    let params = key.to_key_params();
    assert_eq!(params, "inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm");
    assert_eq!(MasterKey::from_key_params(&params), Ok(key));
    assert_eq!(
        MasterKey::from_key_params(&format!("{params}|2^31")),
        Ok(key)
    );
    assert!(MasterKey::from_key_params(&format!("{params}|2^20|1:4")).is_err());
    assert!(MasterKey::from_key_params("inline:AAAA").is_err());
    assert!(MasterKey::from_key_params("uri:http://x").is_err());
    assert_eq!(format!("{key:?}"), "MasterKey(..)");
}
