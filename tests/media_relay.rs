//! The media relay over real sockets with SIPp as the RTP peer. (Call control that allocates relay legs
//! from SIP calls comes with the B2BUA; here the test plays call control through the runtime's API.)
//!
//! 1. Two SIPp instances set up a call whose SDPs name the relay's two legs; each streams a μ-law tone
//!    (SIPp `rtp_stream`), so both directions cross the relay, which latches to SIPp's real media ports.
//! 2. A tone sent into one leg comes back out of it after SIPp (`-rtp_echo`) has reflected it from the
//!    other leg, and a Goertzel detector finds it at the frequency it was sent (not merely "packets
//!    arrived").

mod common;

use common::audio::write_tone_wav;
use switchboard_media::tone::tone_share;

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchboard_media::g711;
use switchboard_media::relay::Channel;
use switchboard_media::rtp::RtpPacket;
use switchboard_media_rt::{MediaConfig, MediaEvent, MediaRuntime, RelayEvent, RemoteMedia};

fn runtime(
    port_min: u16,
) -> (
    std::sync::Arc<MediaRuntime>,
    tokio::sync::mpsc::UnboundedReceiver<MediaEvent>,
) {
    MediaRuntime::start(MediaConfig {
        bind: "127.0.0.1".parse().expect("ip"),
        port_min,
        port_max: port_min + 19,
        threads: 1,
        ..MediaConfig::default()
    })
    .expect("media runtime starts")
}

fn spawn_sipp(dir: &Path, name: &str, args: &[&str]) -> Child {
    Command::new("sipp")
        .args(args)
        .args(["-nostdin", "-trace_err", "-error_file"])
        .arg(dir.join(format!("{name}.err.log")))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp runs (apt-get install sip-tester)")
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn two_sipp_calls_exchange_rtp_through_the_relay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rt, mut events) = runtime(22000);
    let a = rt.allocate_leg().expect("leg A");
    let b = rt.allocate_leg_near(a.id).expect("leg B");
    // No SDP address is trusted: each leg learns its far end from SIPp's packets.
    rt.set_remote(a.id, RemoteMedia::default()).expect("A");
    rt.set_remote(b.id, RemoteMedia::default()).expect("B");
    rt.bridge_blocking(a.id, b.id).expect("bridge");

    let tone_uac = dir.path().join("uac.wav");
    let tone_uas = dir.path().join("uas.wav");
    write_tone_wav(&tone_uac, 1000.0, 2.0);
    write_tone_wav(&tone_uas, 600.0, 2.0);
    let (a_port, b_port) = (a.rtp.port().to_string(), b.rtp.port().to_string());
    // The relay port and the tone file are written into copies of the scenarios (SIPp expands no
    // variables in rtp_stream's file name).
    let scenario = |name: &str, port: &str, tone: &Path| {
        let text = std::fs::read_to_string(common::sipp_dir().join(name)).expect("scenario");
        let text = text
            .replace("[$relay_port]", port)
            .replace("[$tone]", &tone.to_string_lossy());
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.to_string_lossy().into_owned()
    };
    let uas_sf = scenario("relay_uas.xml", &a_port, &tone_uas);
    let uac_sf = scenario("relay_uac.xml", &b_port, &tone_uac);
    // The answerer's SDP names leg A (the caller sends there); the caller's names leg B.
    let mut uas = spawn_sipp(
        dir.path(),
        "uas",
        &[
            "-sf",
            &uas_sf,
            "-i",
            "127.0.0.1",
            "-p",
            "22100",
            "-mp",
            "22200",
            "-m",
            "1",
        ],
    );
    common::wait_udp_listening(22100, Duration::from_secs(10));
    let mut uac = spawn_sipp(
        dir.path(),
        "uac",
        &[
            "127.0.0.1:22100",
            "-sf",
            &uac_sf,
            "-i",
            "127.0.0.1",
            "-p",
            "22101",
            "-mp",
            "22300",
            "-m",
            "1",
        ],
    );
    let uac_status = wait_exit(&mut uac, Duration::from_secs(20));
    let uas_status = wait_exit(&mut uas, Duration::from_secs(5));
    let errors = std::fs::read_to_string(dir.path().join("uac.err.log")).unwrap_or_default();
    assert!(
        uac_status.is_some_and(|s| s.success()),
        "SIPp caller failed: {uac_status:?} {errors}"
    );
    assert!(
        uas_status.is_some_and(|s| s.success()),
        "SIPp answerer failed: {uas_status:?}"
    );

    let ca = rt
        .release(a.id)
        .expect("A")
        .blocking_recv()
        .expect("reply")
        .expect("A counters");
    let cb = rt
        .release(b.id)
        .expect("B")
        .blocking_recv()
        .expect("reply")
        .expect("B counters");
    // Two seconds of 20 ms packets each way (100), minus what left before the other side latched.
    assert!(ca.rtp_in >= 90, "caller's RTP into leg A: {ca:?}");
    assert!(cb.rtp_in >= 90, "answerer's RTP into leg B: {cb:?}");
    assert!(
        cb.rtp_out >= 80 && ca.rtp_out >= 80,
        "relayed out: A {ca:?} B {cb:?}"
    );
    assert_eq!(ca.dropped_malformed + cb.dropped_malformed, 0);
    let mut latched = Vec::new();
    while let Ok(MediaEvent::Relay(RelayEvent::Latched {
        leg,
        channel: Channel::Rtp,
        addr,
    })) = events.try_recv()
    {
        latched.push((leg, addr.ip()));
    }
    assert!(
        latched.contains(&(a.id, "127.0.0.1".parse().expect("ip"))),
        "{latched:?}"
    );
    assert!(
        latched.contains(&(b.id, "127.0.0.1".parse().expect("ip"))),
        "{latched:?}"
    );
}

#[test]
fn a_tone_reflected_by_sipp_comes_back_at_its_frequency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rt, _events) = runtime(22400);
    let echo_port = 22500u16;
    let mut echo = spawn_sipp(
        dir.path(),
        "echo",
        &[
            "-sn",
            "uas",
            "-i",
            "127.0.0.1",
            "-p",
            "22501",
            "-mp",
            &echo_port.to_string(),
            "-rtp_echo",
        ],
    );
    let phone = UdpSocket::bind("127.0.0.1:0").expect("phone");
    phone
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let a = rt.allocate_leg().expect("A");
    let b = rt.allocate_leg_near(a.id).expect("B");
    rt.set_remote(
        a.id,
        RemoteMedia {
            rtp: Some(phone.local_addr().expect("addr")),
            ..RemoteMedia::default()
        },
    )
    .expect("A");
    let echo_addr: SocketAddr = format!("127.0.0.1:{echo_port}").parse().expect("addr");
    rt.set_remote(
        b.id,
        RemoteMedia {
            rtp: Some(echo_addr),
            ..RemoteMedia::default()
        },
    )
    .expect("B");
    rt.bridge_blocking(a.id, b.id).expect("bridge");
    // SIPp's echo must be there to reflect the first packets.
    common::wait_udp_listening(echo_port, Duration::from_secs(10));

    // 1 s of an 1100 Hz tone, paced at 20 ms.
    let mut received = Vec::new();
    let mut n = 0usize;
    for seq in 0..50u16 {
        let payload: Vec<u8> = (0..160)
            .map(|_| {
                let v = 8000.0 * (2.0 * std::f32::consts::PI * 1100.0 * n as f32 / 8000.0).sin();
                n += 1;
                g711::ulaw_encode(v as i16)
            })
            .collect();
        let p = RtpPacket {
            marker: seq == 0,
            payload_type: 0,
            sequence: seq,
            timestamp: u32::from(seq) * 160,
            ssrc: 0x5eed,
            csrc: &[],
            extension: None,
            payload: &payload,
            padding: 0,
        };
        let mut out = vec![0u8; p.wire_len()];
        p.write(&mut out).expect("fits");
        phone.send_to(&out, a.rtp).expect("send");
        std::thread::sleep(Duration::from_millis(20));
        let mut buf = [0u8; 2048];
        while let Ok((len, from)) = phone.recv_from(&mut buf) {
            assert_eq!(from, a.rtp, "media comes back from leg A's port");
            if let Ok(p) = RtpPacket::parse(&buf[..len]) {
                received.extend(p.payload.iter().map(|&c| g711::ulaw_decode(c)));
            }
            if phone
                .set_read_timeout(Some(Duration::from_millis(1)))
                .is_err()
            {
                break;
            }
        }
        let _ = phone.set_read_timeout(Some(Duration::from_millis(100)));
    }
    let mut buf = [0u8; 2048];
    while let Ok((len, _)) = phone.recv_from(&mut buf) {
        if let Ok(p) = RtpPacket::parse(&buf[..len]) {
            received.extend(p.payload.iter().map(|&c| g711::ulaw_decode(c)));
        }
    }
    let _ = echo.kill();
    let _ = echo.wait();
    assert!(
        received.len() >= 40 * 160,
        "echoed samples: {}",
        received.len()
    );
    let at_tone = tone_share(&received[..4000], 1100.0, 8000.0);
    let off_tone = tone_share(&received[..4000], 700.0, 8000.0);
    assert!(at_tone > 0.8, "1100 Hz share {at_tone}");
    assert!(off_tone < 0.01, "700 Hz share {off_tone}");
}

#[test]
fn a_pcmu_tone_from_sipp_reaches_an_opus_leg_at_its_frequency() {
    use switchboard_media_rt::{Codec, CodecSpec};
    let dir = tempfile::tempdir().expect("tempdir");
    let (rt, _events) = runtime(22600);
    let a = rt.allocate_leg().expect("leg A (G.711, SIPp)");
    let b = rt.allocate_leg_near(a.id).expect("leg B (Opus)");
    let opus_phone = UdpSocket::bind("127.0.0.1:0").expect("opus phone");
    opus_phone
        .set_read_timeout(Some(Duration::from_secs(3)))
        .expect("timeout");
    rt.set_remote(a.id, RemoteMedia::default()).expect("A");
    rt.set_remote(
        b.id,
        RemoteMedia {
            rtp: opus_phone.local_addr().ok(),
            ..RemoteMedia::default()
        },
    )
    .expect("B");
    let pcmu = CodecSpec {
        codec: Codec::Pcmu,
        payload_type: 0,
    };
    let opus = CodecSpec {
        codec: Codec::Opus,
        payload_type: 111,
    };
    rt.set_transcode(a.id, Some((pcmu, opus))).expect("A→B");
    rt.set_transcode(b.id, Some((opus, pcmu))).expect("B→A");
    rt.bridge_blocking(a.id, b.id).expect("bridge");

    // SIPp plays a 1 kHz μ-law tone into leg A; its peer's own stream goes to a socket nobody reads.
    let sink = UdpSocket::bind("127.0.0.1:0").expect("sink");
    let tone = dir.path().join("tone.wav");
    write_tone_wav(&tone, 1000.0, 2.0);
    let scenario = |name: &str, port: u16| {
        let text = std::fs::read_to_string(common::sipp_dir().join(name)).expect("scenario");
        let text = text
            .replace("[$relay_port]", &port.to_string())
            .replace("[$tone]", &tone.to_string_lossy());
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.to_string_lossy().into_owned()
    };
    let uas_sf = scenario("relay_uas.xml", a.rtp.port());
    let uac_sf = scenario("relay_uac.xml", sink.local_addr().expect("sink").port());
    let mut uas = spawn_sipp(
        dir.path(),
        "uas",
        &[
            "-sf",
            &uas_sf,
            "-i",
            "127.0.0.1",
            "-p",
            "22700",
            "-mp",
            "22710",
            "-m",
            "1",
        ],
    );
    common::wait_udp_listening(22700, Duration::from_secs(10));
    let mut uac = spawn_sipp(
        dir.path(),
        "uac",
        &[
            "127.0.0.1:22700",
            "-sf",
            &uac_sf,
            "-i",
            "127.0.0.1",
            "-p",
            "22701",
            "-mp",
            "22720",
            "-m",
            "1",
        ],
    );
    let mut decoder = opus::Decoder::new(48000, opus::Channels::Mono).expect("decoder");
    let mut pcm = Vec::new();
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(8);
    while pcm.len() < 48000 * 3 / 2 && Instant::now() < deadline {
        let Ok((len, from)) = opus_phone.recv_from(&mut buf) else {
            break;
        };
        assert_eq!(from, b.rtp);
        let p = RtpPacket::parse(&buf[..len]).expect("rtp");
        assert_eq!(p.payload_type, 111, "Opus under the leg's payload type");
        let mut frame = [0i16; 960];
        let n = decoder
            .decode(p.payload, &mut frame, false)
            .expect("valid Opus");
        pcm.extend_from_slice(&frame[..n]);
    }
    let uac_status = wait_exit(&mut uac, Duration::from_secs(20));
    let _ = wait_exit(&mut uas, Duration::from_secs(5));
    let errors = std::fs::read_to_string(dir.path().join("uac.err.log")).unwrap_or_default();
    assert!(
        uac_status.is_some_and(|s| s.success()),
        "SIPp caller: {uac_status:?} {errors}"
    );
    assert!(pcm.len() >= 48000, "decoded Opus samples: {}", pcm.len());
    // Half a second in, well past jitter-buffer and codec start-up.
    let window = &pcm[24000..48000];
    let at_tone = tone_share(window, 1000.0, 48000.0);
    assert!(at_tone > 0.7, "1 kHz share {at_tone}");
    assert!(tone_share(window, 1400.0, 48000.0) < 0.02);
}
