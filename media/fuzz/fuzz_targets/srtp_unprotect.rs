//! Arbitrary datagrams as SRTP and SRTCP from a far end: never a panic, never accepted without the
//! key (the chance of a forged 32-bit tag matching is 2^-32 per try, far below what a run reaches),
//! and protecting an arbitrary packet then unprotecting it gives it back.

#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_media::srtp::{MasterKey, SrtpContext, SrtpSuite};

fuzz_target!(|data: &[u8]| {
    let key = MasterKey::from_bytes([0x5a; 30]);
    for suite in SrtpSuite::ALL {
        let mut rx = SrtpContext::new(suite, key);
        let mut buf = data.to_vec();
        assert!(rx.unprotect_rtp(&mut buf).is_err(), "forged SRTP accepted");
        let mut buf = data.to_vec();
        assert!(rx.unprotect_rtcp(&mut buf).is_err(), "forged SRTCP accepted");

        let mut tx = SrtpContext::new(suite, key);
        let mut rx = SrtpContext::new(suite, key);
        let mut buf = data.to_vec();
        buf.resize(data.len() + 16, 0);
        if let Ok(n) = tx.protect_rtp(&mut buf, data.len()) {
            let back = rx.unprotect_rtp(&mut buf[..n]).expect("our own SRTP");
            assert_eq!(&buf[..back], data);
        }
        let mut buf = data.to_vec();
        buf.resize(data.len() + 16, 0);
        if let Ok(n) = tx.protect_rtcp(&mut buf, data.len()) {
            let back = rx.unprotect_rtcp(&mut buf[..n]).expect("our own SRTCP");
            assert_eq!(&buf[..back], data);
        }
    }
});
