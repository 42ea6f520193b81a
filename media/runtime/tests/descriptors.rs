//! A process at its open-file limit: reserving a leg fails at once with the socket error, after one
//! try — not one per port of the range, which is what froze a node under load (each INVITE walked
//! 5,000 ports with a socket() and close() apiece) — and succeeds again once a leg is released.
//! Alone in its test binary: it lowers this process's RLIMIT_NOFILE.

use switchboard_media_rt::{MediaConfig, MediaRtError, MediaRuntime};

fn open_descriptors() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64)
}

#[test]
fn at_the_open_file_limit_a_reservation_fails_after_one_try_and_recovers_after_a_release() {
    let (media, _events) = MediaRuntime::start(MediaConfig {
        bind: "127.0.0.1".parse().expect("ip"),
        port_min: 41000,
        port_max: 42999,
        threads: 1,
        ..MediaConfig::default()
    })
    .expect("media runtime");
    // Room for three port pairs (two sockets each) above what is open now.
    let limit = open_descriptors() + 6;
    let rlimit = libc::rlimit {
        rlim_cur: limit,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads the struct we pass; lowering the soft limit affects only this process.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rlimit) };
    if rc != 0 {
        // Without permission to keep the hard limit, lower both (still only this process).
        let both = libc::rlimit {
            rlim_cur: limit,
            rlim_max: limit,
        };
        // SAFETY: as above.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &both) }, 0);
    }
    let mut legs = Vec::new();
    let failure = loop {
        match media.reserve_leg() {
            Ok(leg) => legs.push(leg),
            Err(e) => break e,
        }
        assert!(legs.len() < 10, "the limit did not bite");
    };
    // Three or four: the count of open descriptors included the directory handle reading them.
    assert!((3..=4).contains(&legs.len()), "{} pairs", legs.len());
    match &failure {
        MediaRtError::Io(e) => assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}"),
        other => panic!("the socket error, not {other:?}"),
    }
    let tries = media.port_bind_attempts();
    assert_eq!(
        tries,
        legs.len() as u64 + 1,
        "the pairs bound, one try failed: the range was not walked"
    );
    assert!(media.reserve_leg().is_err());
    assert_eq!(media.port_bind_attempts(), tries + 1);

    // A call ends: its sockets close, and the next reservation gets a pair again.
    let leg = legs.remove(0);
    media.activate_leg(leg.id, None).expect("activate");
    let closed = media.release(leg.id).expect("release");
    let _ = closed.blocking_recv();
    assert!(
        media.reserve_leg().is_ok(),
        "recovers once descriptors are free"
    );
    media.shutdown();
}
