//! A WebRTC leg against a str0m peer playing the browser (full ICE, controlling, DTLS client), in
//! simulated time: ICE, DTLS and SRTP come up, and RTP crosses both ways with its header intact.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use str0m::media::{MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, Ssrc};
use str0m::{Candidate, Event, IceCreds, Input, Output, Rtc};
use switchboard_media::relay::webrtc::{DtlsIdentity, WebRtcLeg, WebRtcParams};
use switchboard_media::rtp::RtpPacket;

const SERVER: &str = "10.0.0.1:20000";
const BROWSER: &str = "10.0.0.2:50000";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("addr")
}

struct Browser {
    rtc: Rtc,
    out: Vec<(SocketAddr, Vec<u8>)>,
    rtp: Vec<(u8, u16, u32, Vec<u8>)>,
    connected: bool,
    timeout: Option<Instant>,
}

impl Browser {
    fn drain(&mut self) {
        loop {
            match self.rtc.poll_output().expect("browser output") {
                Output::Timeout(t) => {
                    self.timeout = Some(t);
                    return;
                }
                Output::Transmit(t) => self.out.push((t.destination, t.contents.to_vec())),
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(Event::RtpPacket(p)) => self.rtp.push((
                    *p.header.payload_type,
                    *p.seq_no as u16,
                    p.header.timestamp,
                    p.payload.to_vec(),
                )),
                Output::Event(_) => {}
            }
        }
    }
}

/// A str0m peer set up as a browser calling the server at SERVER, and the server leg's parameters.
fn browser_and_params(identity: &DtlsIdentity, now: Instant) -> (Browser, WebRtcParams, Ssrc) {
    let mut browser_rtc = Rtc::builder()
        .set_rtp_mode(true)
        .clear_codecs()
        .enable_pcmu(true)
        .set_crypto_provider(std::sync::Arc::new(str0m::crypto::from_feature_flags()))
        .build(now);
    let browser_creds = browser_rtc.direct_api().local_ice_credentials();
    let browser_fingerprint = browser_rtc
        .direct_api()
        .local_dtls_fingerprint()
        .to_string();
    let mid: Mid = "0".into();
    let browser_ssrc: Ssrc = 4242.into();
    {
        browser_rtc.add_local_candidate(Candidate::host(addr(BROWSER), "udp").expect("cand"));
        browser_rtc.add_remote_candidate(Candidate::host(addr(SERVER), "udp").expect("cand"));
        let mut api = browser_rtc.direct_api();
        api.set_remote_fingerprint(identity.fingerprint.parse().expect("fingerprint"));
        api.set_remote_ice_credentials(IceCreds {
            ufrag: "srvU".into(),
            pass: "server-password-0123456789".into(),
        });
        api.set_ice_controlling(true);
        api.declare_media(mid, MediaKind::Audio);
        api.declare_stream_tx(browser_ssrc, None, mid, None);
        api.start_dtls(true).expect("dtls");
    }
    let mut browser = Browser {
        rtc: browser_rtc,
        out: Vec::new(),
        rtp: Vec::new(),
        connected: false,
        timeout: None,
    };
    browser.drain();
    let params = WebRtcParams {
        local_ufrag: "srvU".into(),
        local_pwd: "server-password-0123456789".into(),
        remote_ufrag: browser_creds.ufrag.clone(),
        remote_pwd: browser_creds.pass.clone(),
        remote_fingerprint: browser_fingerprint,
        mid: "0".into(),
        remote_ssrc: Some(4242),
        dtls_active: false,
    };
    (browser, params, browser_ssrc)
}

impl Browser {
    fn receive(&mut self, bytes: &[u8], now: Instant) {
        let r = Receive::new(Protocol::Udp, addr(SERVER), addr(BROWSER), bytes).expect("rx");
        self.rtc
            .handle_input(Input::Receive(now, r))
            .expect("browser input");
        self.drain();
    }

    fn tick(&mut self, now: Instant) {
        self.rtc.handle_input(Input::Timeout(now)).expect("timeout");
        self.drain();
    }

    fn send_pcmu(&mut self, ssrc: Ssrc, seq: u64, now: Instant) {
        let mut api = self.rtc.direct_api();
        let stream = api.stream_tx(&ssrc).expect("stream");
        stream.write_rtp(RtpWrite::new(
            0.into(),
            seq.into(),
            seq as u32 * 160,
            now,
            vec![0x55u8; 160],
        ));
        self.drain();
    }
}

#[test]
fn a_browser_peer_connects_and_rtp_crosses_both_ways() {
    let identity = DtlsIdentity::generate().expect("certificate");
    assert!(
        identity.fingerprint.starts_with("sha-256 "),
        "{}",
        identity.fingerprint
    );
    let mut now = Instant::now();
    let (mut browser, params, browser_ssrc) = browser_and_params(&identity, now);
    let mut leg = WebRtcLeg::new(&params, &identity, addr(SERVER), now).expect("leg");
    let mut from_server = Vec::new();

    // Up to 5 simulated seconds of exchange until both sides are connected.
    let deadline = now + Duration::from_secs(5);
    while !(browser.connected && leg.is_connected()) {
        assert!(now < deadline, "no connection");
        for (dst, bytes) in std::mem::take(&mut browser.out) {
            assert_eq!(dst, addr(SERVER));
            leg.handle_datagram(addr(BROWSER), &bytes, now);
        }
        while let Some(w) = leg.poll_wire() {
            assert_eq!(w.dst, addr(BROWSER));
            from_server.push(w.bytes);
        }
        for bytes in std::mem::take(&mut from_server) {
            let r = Receive::new(Protocol::Udp, addr(SERVER), addr(BROWSER), &bytes).expect("rx");
            browser
                .rtc
                .handle_input(Input::Receive(now, r))
                .expect("browser input");
            browser.drain();
        }
        now += Duration::from_millis(10);
        browser
            .rtc
            .handle_input(Input::Timeout(now))
            .expect("timeout");
        browser.drain();
        leg.handle_timeout(now);
    }

    // Browser → server: a PCMU packet arrives decrypted with its header.
    {
        let mut api = browser.rtc.direct_api();
        let stream = api.stream_tx(&browser_ssrc).expect("stream");
        stream.write_rtp(RtpWrite::new(
            0.into(),
            7u64.into(),
            1120,
            now,
            vec![0x55u8; 160],
        ));
    }
    browser.drain();
    let mut plain = Vec::new();
    for _ in 0..50 {
        for (_, bytes) in std::mem::take(&mut browser.out) {
            leg.handle_datagram(addr(BROWSER), &bytes, now);
        }
        while let Some(p) = leg.poll_rtp() {
            plain.push(p);
        }
        if !plain.is_empty() {
            break;
        }
        now += Duration::from_millis(10);
        browser
            .rtc
            .handle_input(Input::Timeout(now))
            .expect("timeout");
        browser.drain();
        leg.handle_timeout(now);
    }
    let p = plain.first().expect("the browser's RTP, decrypted");
    let rtp = RtpPacket::parse(p).expect("plain RTP");
    assert_eq!(
        (rtp.payload_type, rtp.sequence, rtp.timestamp, rtp.ssrc),
        (0, 7, 1120, 4242)
    );
    assert_eq!(rtp.payload, &[0x55u8; 160][..]);

    // Server → browser: plain RTP in, SRTP on the wire, the browser reads it.
    let mut packet = vec![0x80, 0, 0, 9, 0, 0, 0x0a, 0x00, 0, 0, 0, 1];
    packet.extend_from_slice(&[0x66; 160]);
    leg.send_rtp(&packet, now);
    for _ in 0..50 {
        while let Some(w) = leg.poll_wire() {
            let r = Receive::new(Protocol::Udp, addr(SERVER), addr(BROWSER), &w.bytes).expect("rx");
            browser
                .rtc
                .handle_input(Input::Receive(now, r))
                .expect("browser input");
            browser.drain();
        }
        if !browser.rtp.is_empty() {
            break;
        }
        now += Duration::from_millis(10);
        leg.handle_timeout(now);
        browser
            .rtc
            .handle_input(Input::Timeout(now))
            .expect("timeout");
        browser.drain();
    }
    let (pt, seq, ts, payload) = browser.rtp.first().expect("our RTP at the browser");
    assert_eq!((*pt, *seq, *ts), (0, 9, 0x0a00));
    assert_eq!(payload, &vec![0x66u8; 160]);
}

/// A relay with leg 1 a WebRTC leg for the browser `params` describe (rtcp-mux, as browsers do).
fn relay_with_webrtc_leg(
    params: &WebRtcParams,
    identity: &DtlsIdentity,
    now: Instant,
) -> (
    switchboard_media::relay::Relay,
    switchboard_media::relay::LegIndex,
) {
    use switchboard_media::relay::{LegId, Relay, RelayConfig, RemoteMedia};
    let mut relay = Relay::new(RelayConfig::default(), now);
    let web = relay.add_leg(LegId(1), now);
    relay
        .set_webrtc(LegId(1), params, identity, addr(SERVER), now)
        .expect("webrtc leg");
    relay
        .set_remote(
            LegId(1),
            RemoteMedia {
                rtcp_mux: true,
                ..RemoteMedia::default()
            },
        )
        .expect("remote");
    (relay, web)
}

/// Through the relay: the WebRTC leg bridged to a plain RTP leg (a trunk). The browser's SRTP leaves
/// for the trunk as plain RTP; the trunk's RTP reaches the browser over SRTP.
#[test]
fn the_relay_bridges_a_webrtc_leg_to_plain_rtp() {
    use switchboard_media::relay::{Channel, LegId, RemoteMedia, Transmit};
    const TRUNK: &str = "192.0.2.50:30000";
    let identity = DtlsIdentity::generate().expect("certificate");
    let mut now = Instant::now();
    let (mut browser, params, browser_ssrc) = browser_and_params(&identity, now);
    let (mut relay, web) = relay_with_webrtc_leg(&params, &identity, now);
    let trunk = relay.add_leg(LegId(2), now);
    relay
        .set_remote(
            LegId(2),
            RemoteMedia {
                rtp: Some(addr(TRUNK)),
                ..RemoteMedia::default()
            },
        )
        .expect("remote");
    relay.bridge(LegId(1), LegId(2)).expect("bridge");

    let mut at_trunk: Vec<Vec<u8>> = Vec::new();
    let mut buf = [0u8; 1536];
    let mut seq = 0u64;
    let deadline = now + Duration::from_secs(5);
    // The browser talks every 20 ms; the trunk answers every 20 ms once it has heard something.
    while browser.rtp.len() < 3 || at_trunk.len() < 3 {
        assert!(
            now < deadline,
            "trunk got {}, browser got {}",
            at_trunk.len(),
            browser.rtp.len()
        );
        if browser.connected {
            seq += 1;
            browser.send_pcmu(browser_ssrc, seq, now);
        }
        for (dst, bytes) in std::mem::take(&mut browser.out) {
            assert_eq!(dst, addr(SERVER));
            let mut b = [0u8; 1536];
            b[..bytes.len()].copy_from_slice(&bytes);
            let f = relay.handle_packet(web, Channel::Rtp, addr(BROWSER), &mut b, bytes.len(), now);
            assert!(matches!(f, switchboard_media::relay::Forward::Drop));
        }
        if !at_trunk.is_empty() {
            let mut p = vec![0x80, 0, 0, seq as u8, 0, 0, 1, 0, 0, 0, 0, 9];
            p.extend_from_slice(&[0x66; 160]);
            let len = p.len();
            let mut b = [0u8; 1536];
            b[..len].copy_from_slice(&p);
            relay.handle_packet(trunk, Channel::Rtp, addr(TRUNK), &mut b, len, now);
        }
        relay.handle_timeout(now);
        while let Some(Transmit { leg, dst, len, .. }) = relay.poll_transmit(now, &mut buf) {
            if leg == web {
                assert_eq!(dst, addr(BROWSER));
                browser.receive(&buf[..len], now);
            } else {
                assert_eq!((leg, dst), (trunk, addr(TRUNK)));
                at_trunk.push(buf[..len].to_vec());
            }
        }
        now += Duration::from_millis(20);
        browser.tick(now);
    }
    let first = RtpPacket::parse(&at_trunk[0]).expect("plain RTP at the trunk");
    assert_eq!((first.payload_type, first.ssrc), (0, 4242));
    assert_eq!(first.payload, &[0x55u8; 160][..]);
    assert!(browser
        .rtp
        .iter()
        .all(|(pt, _, _, payload)| *pt == 0 && payload == &vec![0x66u8; 160]));
    assert!(relay.webrtc_connected(LegId(1)));
}

/// How a simulated browser behaves towards the relay in [`first_timeout`].
#[derive(Clone, Copy, PartialEq, Eq)]
enum BrowserBehaviour {
    /// Connects and talks every 20 ms.
    Talks,
    /// Completes ICE and DTLS, then sends no media (its DTLS stuck on its side, say).
    ConnectsSilently,
    /// Nothing it sends reaches the relay.
    Unreachable,
}

/// Runs a WebRTC leg against a browser behaving as `behaviour` for up to `limit` of simulated time
/// and returns when the relay first reported the leg's media as timed out, counted from the start.
fn first_timeout(behaviour: BrowserBehaviour, limit: Duration) -> Option<Duration> {
    use switchboard_media::relay::{Channel, LegId, RelayEvent};
    let identity = DtlsIdentity::generate().expect("certificate");
    let start = Instant::now();
    let mut now = start;
    let (mut browser, params, browser_ssrc) = browser_and_params(&identity, now);
    let (mut relay, web) = relay_with_webrtc_leg(&params, &identity, now);
    let mut buf = [0u8; 1536];
    let mut seq = 0u64;
    while now - start < limit {
        if browser.connected && behaviour == BrowserBehaviour::Talks {
            seq += 1;
            browser.send_pcmu(browser_ssrc, seq, now);
        }
        for (_, bytes) in std::mem::take(&mut browser.out) {
            if behaviour == BrowserBehaviour::Unreachable {
                continue;
            }
            let mut b = [0u8; 1536];
            b[..bytes.len()].copy_from_slice(&bytes);
            relay.handle_packet(web, Channel::Rtp, addr(BROWSER), &mut b, bytes.len(), now);
        }
        relay.handle_timeout(now);
        while let Some(t) = relay.poll_transmit(now, &mut buf) {
            browser.receive(&buf[..t.len], now);
        }
        while let Some(event) = relay.poll_event() {
            if event == (RelayEvent::MediaTimeout { leg: LegId(1) }) {
                return Some(now - start);
            }
        }
        now += Duration::from_millis(20);
        browser.tick(now);
    }
    None
}

/// A WebRTC setup that never finishes, or finishes with no media following, ends the leg within
/// seconds (`RelayConfig::webrtc_setup_timeout` 10 s, `webrtc_first_media_timeout` 5 s), long
/// before the 30 s media timeout; a talking browser is left alone.
#[test]
fn a_webrtc_leg_that_never_brings_media_is_timed_out_within_seconds() {
    let stuck = first_timeout(BrowserBehaviour::ConnectsSilently, Duration::from_secs(40))
        .expect("a silent connected browser times out");
    assert!(
        stuck >= Duration::from_secs(5) && stuck <= Duration::from_secs(7),
        "{stuck:?}"
    );
    let unreachable = first_timeout(BrowserBehaviour::Unreachable, Duration::from_secs(40))
        .expect("an unreachable browser times out");
    assert!(
        unreachable >= Duration::from_secs(10) && unreachable <= Duration::from_secs(12),
        "{unreachable:?}"
    );
    assert_eq!(
        first_timeout(BrowserBehaviour::Talks, Duration::from_secs(20)),
        None
    );
}
