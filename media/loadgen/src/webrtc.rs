//! `switchboard-bench webrtc`: N browser⇄trunk calls through a relay, as Switchboard bridges a
//! staff member's browser to a citizen's G.711 trunk leg. Side A of each call is a WebRTC peer
//! built on str0m playing the browser (full ICE, controlling; DTLS client; SRTP), side B a plain
//! RTP/PCMU endpoint. The relay under test is Switchboard's media runtime (in this process, its
//! own thread and CPU) or rtpengine (ng protocol; ICE-lite towards the browser, DTLS passive).
//!
//! Reported: the relay's CPU for the ICE + DTLS handshakes of all N peers started at once (and so
//! handshakes per second per core), then, with media flowing both ways at 50 packets/s, the
//! relay's CPU per call, calls per core, loss, and memory (RSS growth of the relay's process; for
//! Switchboard, which shares this process with the load tool's peers, the load tool's own growth
//! is measured in the rtpengine run of the same N and must be subtracted).

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use str0m::media::{MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpWrite, Ssrc};
use str0m::{Candidate, Event, IceCreds, Input, Output, Rtc};
use switchboard_media::relay::webrtc::WebRtcParams;
use switchboard_media_rt::sys;

use crate::{ng, RelayProcess};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WebRtcTarget {
    Switchboard,
    Rtpengine,
}

#[derive(clap::Args)]
pub struct WebRtcArgs {
    #[arg(long, value_enum, default_value = "switchboard")]
    target: WebRtcTarget,
    /// Concurrent calls.
    #[arg(long, default_value_t = 200)]
    calls: usize,
    /// Measured seconds of media (after the warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// The browser talks Opus and the relay transcodes Opus ⇄ PCMU for the trunk side.
    #[arg(long)]
    opus: bool,
    /// CPU the relay runs on (Switchboard's media thread; pin rtpengine with taskset).
    #[arg(long, default_value_t = 1)]
    relay_cpu: usize,
    /// CPU the load tool runs on.
    #[arg(long, default_value_t = 0)]
    gen_cpu: usize,
    #[arg(long, default_value = "127.0.0.1:2223")]
    ng: SocketAddr,
    #[arg(long)]
    rtpengine_pid: Option<u32>,
    /// First port of Switchboard's RTP range in this run.
    #[arg(long, default_value_t = 20000)]
    port_min: u16,
}

const INTERVAL: Duration = Duration::from_millis(20);
const PCMU_PT: u8 = 0;
const OPUS_PT: u8 = 111;
const MID: &str = "0";

/// One simulated browser.
struct Browser {
    rtc: Rtc,
    /// The relay's WebRTC leg.
    relay: SocketAddr,
    ssrc: Ssrc,
    connected: bool,
    timeout: Instant,
    seq: u64,
    received: u64,
    opus_pt: u8,
}

impl Browser {
    /// A browser at `local` whose Opus is payload type `opus_pt` (str0m drops payload types it
    /// was not configured with, and rtpengine numbers the Opus it adds itself).
    fn new(local: SocketAddr, now: Instant, ssrc: u32, opus_pt: u8) -> Browser {
        let mut builder = Rtc::builder()
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_pcmu(true)
            .set_crypto_provider(std::sync::Arc::new(str0m::crypto::from_feature_flags()));
        builder.codec_config().add_config(
            opus_pt.into(),
            None,
            str0m::format::Codec::Opus,
            str0m::media::Frequency::FORTY_EIGHT_KHZ,
            Some(2),
            str0m::format::FormatParams::default(),
        );
        let rtc = builder.build(now);
        let mut b = Browser {
            rtc,
            relay: local,
            ssrc: ssrc.into(),
            connected: false,
            timeout: now,
            seq: 0,
            received: 0,
            opus_pt,
        };
        if let Ok(c) = Candidate::host(local, "udp") {
            b.rtc.add_local_candidate(c);
        }
        b
    }

    fn creds(&mut self) -> IceCreds {
        self.rtc.direct_api().local_ice_credentials()
    }

    fn fingerprint(&mut self) -> String {
        self.rtc.direct_api().local_dtls_fingerprint().to_string()
    }

    /// Points the browser at the relay's leg and starts ICE and DTLS (as the client).
    fn start(
        &mut self,
        relay: SocketAddr,
        creds: IceCreds,
        fingerprint: &str,
        expected_ssrc: u32,
    ) -> Result<(), String> {
        self.relay = relay;
        let candidate = Candidate::host(relay, "udp").map_err(|e| e.to_string())?;
        self.rtc.add_remote_candidate(candidate);
        let mut api = self.rtc.direct_api();
        api.set_remote_fingerprint(
            fingerprint
                .parse()
                .map_err(|_| format!("fingerprint {fingerprint}"))?,
        );
        api.set_remote_ice_credentials(creds);
        api.set_ice_controlling(true);
        let mid: Mid = MID.into();
        api.declare_media(mid, MediaKind::Audio);
        api.declare_stream_tx(self.ssrc, None, mid, None);
        // rtpengine passes the trunk's SSRC through without a MID header extension: say which
        // stream it is (Switchboard's packets carry the MID, so str0m maps them itself).
        api.expect_stream_rx(expected_ssrc.into(), None, mid, None);
        api.start_dtls(true).map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Sends what str0m has for the wire; notes connection, received RTP and the next deadline.
    fn drain(&mut self, socket: &UdpSocket) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.timeout = t;
                    return;
                }
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination);
                }
                Ok(Output::Event(Event::Connected)) => self.connected = true,
                Ok(Output::Event(_)) => {}
                Err(_) => {
                    self.timeout = Instant::now() + Duration::from_secs(3600);
                    return;
                }
            }
        }
    }

    fn send_frame(&mut self, socket: &UdpSocket, frame: &[u8], opus: bool, now: Instant) {
        self.seq += 1;
        let (pt, ts_step) = if opus {
            (self.opus_pt, 960)
        } else {
            (PCMU_PT, 160)
        };
        let mut api = self.rtc.direct_api();
        if let Some(stream) = api.stream_tx(&self.ssrc) {
            stream.write_rtp(RtpWrite::new(
                pt.into(),
                self.seq.into(),
                (self.seq as u32).wrapping_mul(ts_step),
                now,
                frame.to_vec(),
            ));
        }
        self.drain(socket);
    }
}

/// A call as the load tool sees it.
struct Call {
    browser: Browser,
    /// Where side B (the trunk) sends its plain RTP.
    trunk_target: SocketAddr,
    trunk_seq: u16,
    trunk_received: u64,
}

/// What the relay under test set up: per call, the WebRTC leg's address, ICE credentials and
/// fingerprint for the browser, and the plain leg's address.
struct RelayLeg {
    webrtc: SocketAddr,
    creds: IceCreds,
    fingerprint: String,
    plain: SocketAddr,
}

/// The SSRC side B of call `i` sends with.
fn trunk_ssrc(i: usize) -> u32 {
    20_000 + i as u32
}

fn pcmu_frame() -> Vec<u8> {
    // A 1 kHz tone, µ-law (its exact shape does not matter for the relay's cost).
    (0..160)
        .map(|i| {
            let v = (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 8000.0).sin() * 8000.0;
            switchboard_media::g711::ulaw_encode(v as i16)
        })
        .collect()
}

pub fn run(args: &WebRtcArgs) -> Result<(), String> {
    let browsers_socket =
        UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("browser socket: {e}"))?;
    let trunk_socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("trunk socket: {e}"))?;
    for s in [&browsers_socket, &trunk_socket] {
        s.set_nonblocking(true).map_err(|e| e.to_string())?;
        crate::generator::grow_buffers(s);
    }
    let browsers_addr = browsers_socket.local_addr().map_err(|e| e.to_string())?;
    let trunk_addr = trunk_socket.local_addr().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let own_before_kib = RelayProcess::Threads(vec![]).rss_kib();
    let mut browsers: Vec<Browser> = (0..args.calls)
        .map(|i| Browser::new(browsers_addr, start, 10_000 + i as u32, OPUS_PT))
        .collect();
    let own_with_browsers_kib = RelayProcess::Threads(vec![]).rss_kib();

    let (process, relay_before_kib, legs, _keep) = match args.target {
        WebRtcTarget::Switchboard => set_up_switchboard(args, &mut browsers, trunk_addr)?,
        WebRtcTarget::Rtpengine => set_up_rtpengine(args, &mut browsers, trunk_addr)?,
    };
    sys::pin_to_cpu(args.gen_cpu).map_err(|e| format!("pin load tool: {e}"))?;
    let mut calls: Vec<Call> = Vec::with_capacity(args.calls);
    let mut by_source: HashMap<SocketAddr, usize> = HashMap::new();
    let mut by_trunk_source: HashMap<SocketAddr, usize> = HashMap::new();
    for (i, (mut browser, leg)) in browsers.into_iter().zip(legs).enumerate() {
        browser.start(leg.webrtc, leg.creds, &leg.fingerprint, trunk_ssrc(i))?;
        by_source.insert(leg.webrtc, i);
        by_trunk_source.insert(leg.plain, i);
        calls.push(Call {
            browser,
            trunk_target: leg.plain,
            trunk_seq: 0,
            trunk_received: 0,
        });
    }

    // Phase 1: every browser connects at once.
    let ns_before = cpu_ns(&process);
    let handshake_start = Instant::now();
    let now = Instant::now();
    for c in &mut calls {
        c.browser.rtc.handle_input(Input::Timeout(now)).ok();
        c.browser.drain(&browsers_socket);
    }
    let deadline = handshake_start + Duration::from_secs(60);
    let mut buf = vec![0u8; 2048];
    while calls.iter().any(|c| !c.browser.connected) {
        if Instant::now() > deadline {
            let up = calls.iter().filter(|c| c.browser.connected).count();
            return Err(format!(
                "only {up} of {} browsers connected in 60 s",
                calls.len()
            ));
        }
        pump(&mut calls, &by_source, &browsers_socket, &mut buf, false);
        std::thread::sleep(Duration::from_micros(200));
    }
    let handshake_wall = handshake_start.elapsed();
    let handshake_ns = cpu_ns(&process).saturating_sub(ns_before);

    // Phase 2: media both ways, each call paced on its own offset in the 20 ms interval.
    let frame_pcmu = pcmu_frame();
    let frame_opus = if args.opus {
        Some(crate::opus_speech_frame()?)
    } else {
        None
    };
    let browser_frame = frame_opus.as_deref().unwrap_or(&frame_pcmu);
    let media_start = Instant::now();
    let window_start = media_start + Duration::from_secs(args.warmup);
    let window_end = window_start + Duration::from_secs(args.seconds);
    let mut next_send: Vec<Instant> = (0..calls.len())
        .map(|i| media_start + INTERVAL * i as u32 / calls.len().max(1) as u32)
        .collect();
    let mut trunk_packet = vec![0u8; 12 + 160];
    trunk_packet[0] = 0x80;
    trunk_packet[12..].copy_from_slice(&frame_pcmu);
    let mut window_ticks_start = None;
    let mut sent_in_window = 0u64;
    loop {
        let now = Instant::now();
        if now >= window_end {
            break;
        }
        let counting = now >= window_start;
        if counting && window_ticks_start.is_none() {
            window_ticks_start = Some(cpu_ns(&process));
            for c in &mut calls {
                c.browser.received = 0;
                c.trunk_received = 0;
            }
        }
        for (i, c) in calls.iter_mut().enumerate() {
            if next_send[i] > now {
                continue;
            }
            next_send[i] += INTERVAL;
            c.browser
                .send_frame(&browsers_socket, browser_frame, args.opus, now);
            c.trunk_seq = c.trunk_seq.wrapping_add(1);
            trunk_packet[1] = PCMU_PT;
            trunk_packet[2..4].copy_from_slice(&c.trunk_seq.to_be_bytes());
            let ts = u32::from(c.trunk_seq).wrapping_mul(160);
            trunk_packet[4..8].copy_from_slice(&ts.to_be_bytes());
            trunk_packet[8..12].copy_from_slice(&trunk_ssrc(i).to_be_bytes());
            let _ = trunk_socket.send_to(&trunk_packet, c.trunk_target);
            if counting {
                sent_in_window += 2;
            }
        }
        pump(&mut calls, &by_source, &browsers_socket, &mut buf, counting);
        while let Ok((n, src)) = trunk_socket.recv_from(&mut buf) {
            if let (true, Some(&i), true) = (counting, by_trunk_source.get(&src), n > 12) {
                if let Some(c) = calls.get_mut(i) {
                    c.trunk_received += 1;
                }
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let window_ns = cpu_ns(&process).saturating_sub(window_ticks_start.unwrap_or(0));
    let relay_after_kib = process.rss_kib();
    let own_after_kib = RelayProcess::Threads(vec![]).rss_kib();

    let received: u64 = calls
        .iter()
        .map(|c| c.browser.received + c.trunk_received)
        .sum();
    let window_s = args.seconds as f64;
    let cpu_share = window_ns as f64 / 1e9 / window_s;
    let handshake_cpu_ms = handshake_ns as f64 / 1e6 / calls.len() as f64;
    let name = match (args.target, args.opus) {
        (WebRtcTarget::Switchboard, false) => "switchboard, PCMU both legs",
        (WebRtcTarget::Switchboard, true) => "switchboard, Opus⇄PCMU",
        (WebRtcTarget::Rtpengine, false) => "rtpengine, PCMU both legs",
        (WebRtcTarget::Rtpengine, true) => "rtpengine, Opus⇄PCMU",
    };
    println!("| relay | calls | all connected in s | relay CPU ms per ICE+DTLS handshake | handshakes/s per core | packets sent | received | loss % | relay CPU % of a core | CPU % per call | calls per core | relay RSS growth KiB/call | load tool RSS growth after making its browsers KiB/call |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {name} | {} | {:.2} | {:.2} | {:.0} | {} | {} | {:.3} | {:.1} | {:.4} | {:.0} | {:.1} | {:.1} |",
        calls.len(),
        handshake_wall.as_secs_f64(),
        handshake_cpu_ms,
        if handshake_cpu_ms > 0.0 { 1000.0 / handshake_cpu_ms } else { f64::NAN },
        sent_in_window,
        received,
        100.0 * (1.0 - received as f64 / sent_in_window.max(1) as f64).max(0.0),
        cpu_share * 100.0,
        cpu_share * 100.0 / calls.len() as f64,
        if cpu_share > 0.0 { calls.len() as f64 / cpu_share } else { f64::NAN },
        relay_after_kib.saturating_sub(relay_before_kib) as f64 / calls.len() as f64,
        own_after_kib.saturating_sub(own_with_browsers_kib) as f64 / calls.len() as f64,
    );
    eprintln!(
        "received by the browsers {}, by the trunk side {}",
        calls.iter().map(|c| c.browser.received).sum::<u64>(),
        calls.iter().map(|c| c.trunk_received).sum::<u64>()
    );
    eprintln!(
        "load tool RSS: {own_before_kib} KiB before the browsers, {own_with_browsers_kib} with them, {own_after_kib} at the end"
    );
    Ok(())
}

/// An RTP (not RTCP) packet by its first two bytes: version 2, and a second byte outside RTCP's
/// packet types 192–223 (RFC 5761 §4).
fn is_srtp(data: &[u8]) -> bool {
    matches!(data, [b0, b1, ..] if b0 >> 6 == 2 && !(192..=223).contains(b1))
}

/// CPU time in nanoseconds (schedstat's first field), summed over the relay's threads: clock
/// ticks (10 ms) are too coarse for a handshake phase that lasts tens of milliseconds.
fn cpu_ns(process: &RelayProcess) -> u64 {
    let read = |path: String| -> u64 {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    match process {
        RelayProcess::Threads(tids) => tids
            .iter()
            .map(|t| read(format!("/proc/self/task/{t}/schedstat")))
            .sum(),
        RelayProcess::Pid(pid) => std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|dir| {
                dir.flatten()
                    .map(|e| read(format!("{}/schedstat", e.path().display())))
                    .sum()
            })
            .unwrap_or(0),
    }
}

/// Feeds what arrived on the browsers' socket to the browser it is for, and fires due timers.
fn pump(
    calls: &mut [Call],
    by_source: &HashMap<SocketAddr, usize>,
    socket: &UdpSocket,
    buf: &mut [u8],
    counting: bool,
) {
    let local = socket.local_addr().ok();
    while let Ok((n, src)) = socket.recv_from(buf) {
        let (Some(&i), Some(local), Some(data)) = (by_source.get(&src), local, buf.get(..n)) else {
            continue;
        };
        let Some(c) = calls.get_mut(i) else {
            continue;
        };
        // Media delivered to the browser: an SRTP packet (not SRTCP, RFC 5761 §4), counted on
        // arrival; whether str0m can decrypt it into a stream is not the relay's cost (rtpengine
        // sends transcoded audio under an SSRC the browser was not told).
        if counting && is_srtp(data) {
            c.browser.received += 1;
        }
        let Ok(receive) = Receive::new(Protocol::Udp, src, local, data) else {
            continue;
        };
        if c.browser
            .rtc
            .handle_input(Input::Receive(Instant::now(), receive))
            .is_ok()
        {
            c.browser.drain(socket);
        }
    }
    let now = Instant::now();
    for c in calls.iter_mut() {
        if c.browser.timeout <= now {
            c.browser.rtc.handle_input(Input::Timeout(now)).ok();
            c.browser.drain(socket);
        }
    }
}

type SetUp = (RelayProcess, u64, Vec<RelayLeg>, Box<dyn std::any::Any>);

fn set_up_switchboard(
    args: &WebRtcArgs,
    browsers: &mut [Browser],
    trunk: SocketAddr,
) -> Result<SetUp, String> {
    use switchboard_media_rt::{Codec, CodecSpec, MediaConfig, MediaRuntime, RemoteMedia};
    let config = MediaConfig {
        bind: "127.0.0.1".parse().map_err(|_| "ip")?,
        port_min: args.port_min,
        port_max: args.port_min.saturating_add(9999),
        threads: 1,
        cpus: vec![args.relay_cpu],
        ..Default::default()
    };
    let (rt, events) = MediaRuntime::start(config).map_err(|e| format!("media runtime: {e}"))?;
    let before_kib = RelayProcess::Threads(vec![]).rss_kib();
    let fingerprint = rt.dtls_fingerprint().to_string();
    let mut legs = Vec::with_capacity(browsers.len());
    for (i, b) in browsers.iter_mut().enumerate() {
        let web = rt.allocate_leg().map_err(|e| e.to_string())?;
        let plain = rt.allocate_leg_near(web.id).map_err(|e| e.to_string())?;
        let creds = IceCreds {
            ufrag: format!("sb{i:06}"),
            pass: format!("switchboard-bench-password-{i:06}"),
        };
        let browser_creds = b.creds();
        rt.set_webrtc(
            web.id,
            WebRtcParams {
                local_ufrag: creds.ufrag.clone(),
                local_pwd: creds.pass.clone(),
                remote_ufrag: browser_creds.ufrag,
                remote_pwd: browser_creds.pass,
                remote_fingerprint: b.fingerprint(),
                mid: MID.into(),
                remote_ssrc: Some(*b.ssrc),
                dtls_active: false,
            },
        )
        .map_err(|e| e.to_string())?;
        rt.set_remote(
            web.id,
            RemoteMedia {
                rtcp_mux: true,
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())?;
        rt.set_remote(
            plain.id,
            RemoteMedia {
                rtp: Some(trunk),
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())?;
        if args.opus {
            let pcmu = CodecSpec {
                codec: Codec::Pcmu,
                payload_type: PCMU_PT,
            };
            let opus = CodecSpec {
                codec: Codec::Opus,
                payload_type: OPUS_PT,
            };
            rt.set_transcode(web.id, Some((opus, pcmu)))
                .map_err(|e| e.to_string())?;
            rt.set_transcode(plain.id, Some((pcmu, opus)))
                .map_err(|e| e.to_string())?;
        }
        rt.bridge_blocking(web.id, plain.id)
            .map_err(|e| e.to_string())?;
        legs.push(RelayLeg {
            webrtc: web.rtp,
            creds,
            fingerprint: fingerprint.clone(),
            plain: plain.rtp,
        });
    }
    let tids = rt.load_blocking().iter().map(|l| l.tid).collect();
    Ok((
        RelayProcess::Threads(tids),
        before_kib,
        legs,
        Box::new((rt, events)),
    ))
}

/// The value of the first `a=<name>:` line of `sdp`.
fn attribute<'a>(sdp: &'a str, name: &str) -> Option<&'a str> {
    sdp.lines().find_map(|l| {
        l.trim_end()
            .strip_prefix("a=")?
            .strip_prefix(name)?
            .strip_prefix(':')
    })
}

fn set_up_rtpengine(
    args: &WebRtcArgs,
    browsers: &mut [Browser],
    trunk: SocketAddr,
) -> Result<SetUp, String> {
    let pid = args
        .rtpengine_pid
        .ok_or("--rtpengine-pid is needed to read rtpengine's CPU time")?;
    let process = RelayProcess::Pid(pid);
    let before_kib = process.rss_kib();
    let mut ng = ng::NgClient::new(args.ng).map_err(|e| e.to_string())?;
    let trunk_sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n",
        ip = trunk.ip(),
        port = trunk.port()
    );
    let mut legs = Vec::with_capacity(browsers.len());
    for (i, b) in browsers.iter_mut().enumerate() {
        let call_id = format!("webrtc-bench-{i}-{}", std::process::id());
        let list =
            |items: &[&str]| ng::Bencode::List(items.iter().map(|s| ng::Bencode::str(s)).collect());
        // The trunk offers plain PCMU; rtpengine offers the browser WebRTC (ICE-lite on its
        // side, as Switchboard does), with Opus added when transcoding.
        let mut offer_cmd = vec![
            ("command", ng::Bencode::str("offer")),
            ("call-id", ng::Bencode::str(&call_id)),
            ("from-tag", ng::Bencode::str("trunk")),
            ("sdp", ng::Bencode::str(&trunk_sdp)),
            ("flags", list(&["trust-address"])),
            ("transport-protocol", ng::Bencode::str("UDP/TLS/RTP/SAVPF")),
            ("ICE", ng::Bencode::str("force")),
            ("ICE-lite", ng::Bencode::str("forward")),
            ("DTLS", ng::Bencode::str("passive")),
            ("SDES", list(&["off"])),
            ("rtcp-mux", list(&["offer", "require"])),
        ];
        if args.opus {
            offer_cmd.push((
                "codec",
                ng::Bencode::Dict(
                    [(b"transcode".to_vec(), list(&["opus"]))]
                        .into_iter()
                        .collect(),
                ),
            ));
        }
        let offer = ng.call(&offer_cmd)?;
        let offer_sdp = offer
            .get("sdp")
            .and_then(ng::Bencode::as_str)
            .ok_or("rtpengine's offer has no SDP")?
            .to_string();
        let port = ng::sdp_audio_port(&offer_sdp).ok_or("no audio port in rtpengine's offer")?;
        let creds = IceCreds {
            ufrag: attribute(&offer_sdp, "ice-ufrag")
                .ok_or_else(|| format!("no ICE in rtpengine's offer:\n{offer_sdp}"))?
                .to_string(),
            pass: attribute(&offer_sdp, "ice-pwd")
                .ok_or("no ice-pwd")?
                .to_string(),
        };
        let fingerprint = attribute(&offer_sdp, "fingerprint")
            .ok_or("no fingerprint in rtpengine's offer")?
            .to_string();
        let (pt, rtpmap) = if args.opus {
            let pt =
                ng::sdp_payload_type(&offer_sdp, "opus").ok_or("no Opus in rtpengine's offer")?;
            // The browser takes rtpengine's number for Opus, as a real one would from the offer.
            *b = Browser::new(b.relay, Instant::now(), *b.ssrc, pt);
            (pt, format!("{pt} opus/48000/2"))
        } else {
            (PCMU_PT, "0 PCMU/8000".to_string())
        };
        let browser_creds = b.creds();
        let answer_sdp = format!(
            "v=0\r\no=- 2 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\na=group:BUNDLE {MID}\r\nm=audio {port} UDP/TLS/RTP/SAVPF {pt}\r\na=mid:{MID}\r\na=rtpmap:{rtpmap}\r\na=sendrecv\r\na=rtcp-mux\r\na=setup:active\r\na=fingerprint:{fp}\r\na=ice-ufrag:{u}\r\na=ice-pwd:{p}\r\na=candidate:1 1 udp 2130706431 {ip} {port} typ host\r\na=ssrc:{ssrc} cname:bench\r\n",
            ip = b.relay.ip(),
            port = b.relay.port(),
            fp = b.fingerprint(),
            u = browser_creds.ufrag,
            p = browser_creds.pass,
            ssrc = *b.ssrc,
        );
        let answer = ng.call(&[
            ("command", ng::Bencode::str("answer")),
            ("call-id", ng::Bencode::str(&call_id)),
            ("from-tag", ng::Bencode::str("trunk")),
            ("to-tag", ng::Bencode::str("browser")),
            ("sdp", ng::Bencode::str(&answer_sdp)),
            ("flags", list(&["trust-address"])),
            ("transport-protocol", ng::Bencode::str("RTP/AVP")),
            ("ICE", ng::Bencode::str("remove")),
        ])?;
        let plain_port = answer
            .get("sdp")
            .and_then(ng::Bencode::as_str)
            .and_then(ng::sdp_audio_port)
            .ok_or("no audio port in rtpengine's answer")?;
        legs.push(RelayLeg {
            webrtc: SocketAddr::new(args.ng.ip(), port),
            creds,
            fingerprint,
            plain: SocketAddr::new(args.ng.ip(), plain_port),
        });
    }
    Ok((process, before_kib, legs, Box::new(())))
}
