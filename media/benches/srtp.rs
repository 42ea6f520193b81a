//! SRTP in the relay's packet path: what protecting and unprotecting one 20 ms G.711 packet (12-byte
//! header, 160 bytes of payload) costs, per suite — the work an SDES leg adds to a relayed packet.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use switchboard_media::srtp::{MasterKey, SrtpContext, SrtpSuite};

fn packet(seq: u16) -> [u8; 172] {
    let mut p = [0x55u8; 172];
    p[..12].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 160, 0xca, 0xfe, 0xba, 0xbe]);
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p
}

fn bench(c: &mut Criterion) {
    let key = MasterKey::from_bytes(std::array::from_fn(|i| i as u8));
    for suite in SrtpSuite::ALL {
        let mut tx = SrtpContext::new(suite, key);
        let mut rx = SrtpContext::new(suite, key);
        let mut seq = 0u16;
        let mut buf = [0u8; 256];
        c.bench_function(
            &format!("{} protect+unprotect, 172-byte RTP", suite.name()),
            |b| {
                b.iter(|| {
                    seq = seq.wrapping_add(1);
                    buf[..172].copy_from_slice(&packet(seq));
                    let n = tx.protect_rtp(&mut buf, 172).expect("protect");
                    let m = rx
                        .unprotect_rtp(black_box(&mut buf[..n]))
                        .expect("unprotect");
                    black_box(m)
                })
            },
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
