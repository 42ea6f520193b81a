//! `switchboard-bench media`: N relayed G.711 calls, 50 packets/s per direction of 172-byte RTP, through
//! Switchboard's relay, rtpengine (ng protocol), or a bare relay (the same sockets and syscalls with no
//! RTP logic: the floor for this design). Reports loss, one-way latency through the relay (p50/p99),
//! the relay's CPU per packet and per call, and memory per call.
//!
//! `switchboard-bench moh`: N queued callers hearing looped music on hold from the media runtime (see
//! `moh.rs`).

mod bare;
mod generator;
mod moh;
mod ng;
mod webrtc;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use switchboard_media_rt::sys;

#[derive(Parser)]
#[command(name = "switchboard-bench", about = "Load tools for Switchboard")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Relayed RTP calls.
    Media(MediaArgs),
    /// Queued callers hearing music on hold.
    Moh(moh::MohArgs),
    /// Browser (WebRTC) ⇄ trunk (plain RTP) calls.
    Webrtc(webrtc::WebRtcArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    Switchboard,
    Rtpengine,
    Bare,
}

#[derive(clap::Args)]
struct MediaArgs {
    #[arg(long, value_enum, default_value = "switchboard")]
    target: Target,
    /// Concurrent calls (each: two directions at 50 packets/s).
    #[arg(long, default_value_t = 500)]
    calls: usize,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// CPU the relay runs on (Switchboard's media thread, the bare relay; pin rtpengine with taskset).
    #[arg(long, default_value_t = 1)]
    relay_cpu: usize,
    /// CPU the load generator runs on.
    #[arg(long, default_value_t = 0)]
    gen_cpu: usize,
    /// rtpengine's ng address.
    #[arg(long, default_value = "127.0.0.1:2223")]
    ng: SocketAddr,
    /// rtpengine's process id (for its CPU time and memory).
    #[arg(long)]
    rtpengine_pid: Option<u32>,
    /// Side B of each call speaks Opus and Switchboard transcodes Opus ⇄ PCMU (Switchboard only).
    #[arg(long)]
    transcode: bool,
    /// libopus encoder complexity for transcoded legs (0–10).
    #[arg(long, default_value_t = switchboard_media_rt::OpusSettings::default().complexity)]
    opus_complexity: i32,
    /// First port of Switchboard's RTP range in this run.
    #[arg(long, default_value_t = 20000)]
    port_min: u16,
}

/// Where the relay's CPU time and memory are read.
enum RelayProcess {
    /// Threads of this process.
    Threads(Vec<i32>),
    /// Another process (rtpengine).
    Pid(u32),
}

impl RelayProcess {
    fn cpu_ticks(&self) -> u64 {
        match self {
            RelayProcess::Threads(tids) => {
                tids.iter().filter_map(|&t| sys::thread_cpu_ticks(t)).sum()
            }
            RelayProcess::Pid(pid) => std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| sys::process_stat_ticks(&s))
                .unwrap_or(0),
        }
    }

    fn rss_kib(&self) -> u64 {
        let path = match self {
            RelayProcess::Threads(_) => "/proc/self/status".to_string(),
            RelayProcess::Pid(pid) => format!("/proc/{pid}/status"),
        };
        std::fs::read_to_string(path)
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next()?.parse().ok())
            })
            .unwrap_or(0)
    }
}

/// One 20 ms Opus frame of a voiced, speech-like signal (a 200 Hz buzz with harmonics), encoded
/// the way a softphone would (VoIP, 24 kb/s), so decoding costs what real speech costs.
fn opus_speech_frame() -> Result<Vec<u8>, String> {
    let mut enc = opus::Encoder::new(48000, opus::Channels::Mono, opus::Application::Voip)
        .map_err(|e| e.to_string())?;
    enc.set_bitrate(opus::Bitrate::Bits(24000))
        .map_err(|e| e.to_string())?;
    let mut out = vec![0u8; 400];
    let mut n = 0;
    // Encode a few frames so the encoder leaves its start-up; keep the last.
    for f in 0..5 {
        let pcm: Vec<i16> = (0..960)
            .map(|i| {
                let t = (f * 960 + i) as f32 / 48000.0;
                let v: f32 = (1..8)
                    .map(|h| (2.0 * std::f32::consts::PI * 200.0 * h as f32 * t).sin() / h as f32)
                    .sum();
                (v * 6000.0) as i16
            })
            .collect();
        n = enc.encode(&pcm, &mut out).map_err(|e| e.to_string())?;
    }
    out.truncate(n);
    Ok(out)
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Media(args) => run_media(&args),
        Command::Moh(args) => moh::run(&args),
        Command::Webrtc(args) => webrtc::run(&args),
    };
    if let Err(e) = result {
        eprintln!("switchboard-bench: {e}");
        std::process::exit(1);
    }
}

fn run_media(args: &MediaArgs) -> Result<(), String> {
    let gen =
        generator::Generator::bind(args.calls).map_err(|e| format!("generator socket: {e}"))?;
    let gen_addr = gen.local_addr();
    // Each call: where side A sends and where side B sends.
    let mut targets: Vec<(SocketAddr, SocketAddr)> = Vec::with_capacity(args.calls);
    let before_kib;
    let process;
    let mut _keep_switchboard = None;
    let mut _keep_bare = None;
    let mut legs_of_first_call = (None, None);
    let mut opus_pt = 111u8;
    let mut first_legs = None;
    match args.target {
        Target::Switchboard => {
            let config = switchboard_media_rt::MediaConfig {
                bind: "127.0.0.1".parse().map_err(|_| "ip")?,
                port_min: args.port_min,
                port_max: args.port_min.saturating_add(9999),
                threads: 1,
                cpus: vec![args.relay_cpu],
                opus: switchboard_media_rt::OpusSettings {
                    complexity: args.opus_complexity,
                    ..Default::default()
                },
                ..Default::default()
            };
            let (rt, events) = switchboard_media_rt::MediaRuntime::start(config)
                .map_err(|e| format!("media runtime: {e}"))?;
            before_kib = RelayProcess::Threads(vec![]).rss_kib();
            for i in 0..args.calls {
                let a = rt.allocate_leg().map_err(|e| e.to_string())?;
                let b = rt.allocate_leg_near(a.id).map_err(|e| e.to_string())?;
                for leg in [a.id, b.id] {
                    rt.set_remote(
                        leg,
                        switchboard_media_rt::RemoteMedia {
                            rtp: Some(gen_addr),
                            ..Default::default()
                        },
                    )
                    .map_err(|e| e.to_string())?;
                }
                if args.transcode {
                    use switchboard_media_rt::{Codec, CodecSpec};
                    let pcmu = CodecSpec {
                        codec: Codec::Pcmu,
                        payload_type: 0,
                    };
                    let opus = CodecSpec {
                        codec: Codec::Opus,
                        payload_type: 111,
                    };
                    rt.set_transcode(a.id, Some((pcmu, opus)))
                        .map_err(|e| e.to_string())?;
                    rt.set_transcode(b.id, Some((opus, pcmu)))
                        .map_err(|e| e.to_string())?;
                }
                rt.bridge_blocking(a.id, b.id).map_err(|e| e.to_string())?;
                targets.push((a.rtp, b.rtp));
                if i == 0 {
                    legs_of_first_call = (Some(a.id), Some(b.id));
                }
            }
            let tids = rt.load_blocking().iter().map(|l| l.tid).collect();
            process = RelayProcess::Threads(tids);
            first_legs = Some((legs_of_first_call.0, legs_of_first_call.1));
            _keep_switchboard = Some((rt, events));
        }
        Target::Bare => {
            before_kib = RelayProcess::Threads(vec![]).rss_kib();
            let relay = bare::BareRelay::start(args.calls, gen_addr, args.relay_cpu)
                .map_err(|e| format!("bare relay: {e}"))?;
            targets = relay.targets.clone();
            process = RelayProcess::Threads(vec![relay.tid]);
            _keep_bare = Some(relay);
        }
        Target::Rtpengine => {
            let pid = args
                .rtpengine_pid
                .ok_or("--rtpengine-pid is needed to read rtpengine's CPU time")?;
            let p = RelayProcess::Pid(pid);
            before_kib = p.rss_kib();
            let mut ng = ng::NgClient::new(args.ng).map_err(|e| e.to_string())?;
            let sdp_with = |media: &str| {
                format!(
                    "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {media}\r\na=sendrecv\r\n",
                    ip = gen_addr.ip(),
                    port = gen_addr.port()
                )
            };
            let sdp = sdp_with("0\r\na=rtpmap:0 PCMU/8000");
            // With --transcode, side B answers Opus only (under the payload type rtpengine's offer
            // gave it) and rtpengine must transcode: the `codec: {transcode: [opus]}` option makes
            // it add Opus to the offer it passes on.
            for i in 0..args.calls {
                let call_id = format!("bench-{i}-{}", std::process::id());
                let common = |cmd: &str| {
                    vec![
                        ("command", ng::Bencode::str(cmd)),
                        ("call-id", ng::Bencode::str(&call_id)),
                        ("from-tag", ng::Bencode::str("a")),
                        ("sdp", ng::Bencode::str(&sdp)),
                        (
                            "flags",
                            ng::Bencode::List(vec![ng::Bencode::str("trust-address")]),
                        ),
                    ]
                };
                let mut offer_cmd = common("offer");
                if args.transcode {
                    offer_cmd.push((
                        "codec",
                        ng::Bencode::Dict(
                            [(
                                b"transcode".to_vec(),
                                ng::Bencode::List(vec![ng::Bencode::str("opus")]),
                            )]
                            .into_iter()
                            .collect(),
                        ),
                    ));
                }
                let offer = ng.call(&offer_cmd)?;
                let answer_sdp = if args.transcode {
                    let pt = offer
                        .get("sdp")
                        .and_then(ng::Bencode::as_str)
                        .and_then(|s| ng::sdp_payload_type(s, "opus"))
                        .ok_or("rtpengine's offer has no Opus: is it built with transcoding?")?;
                    opus_pt = pt;
                    sdp_with(&format!("{pt}\r\na=rtpmap:{pt} opus/48000/2"))
                } else {
                    sdp.clone()
                };
                let mut answer_cmd = common("answer");
                answer_cmd.retain(|(k, _)| *k != "sdp");
                answer_cmd.push(("sdp", ng::Bencode::str(&answer_sdp)));
                answer_cmd.push(("to-tag", ng::Bencode::str("b")));
                let answer = ng.call(&answer_cmd)?;
                let port = |reply: &ng::Bencode| {
                    reply
                        .get("sdp")
                        .and_then(ng::Bencode::as_str)
                        .and_then(ng::sdp_audio_port)
                        .ok_or_else(|| "rtpengine reply without an audio port".to_string())
                };
                // The offer's SDP goes to the callee (B sends there); the answer's to the caller.
                let b_port = port(&offer)?;
                let a_port = port(&answer)?;
                targets.push((
                    SocketAddr::new(args.ng.ip(), a_port),
                    SocketAddr::new(args.ng.ip(), b_port),
                ));
            }
            process = p;
        }
    }
    let after_kib = process.rss_kib();
    sys::pin_to_cpu(args.gen_cpu).map_err(|e| format!("pin generator: {e}"))?;
    let opus_frame = if args.transcode {
        if args.target == Target::Bare {
            return Err("the bare relay does not transcode".into());
        }
        Some(opus_speech_frame()?)
    } else {
        None
    };
    let report = gen.run(
        &targets,
        opus_frame.as_deref().map(|f| (f, opus_pt)),
        Duration::from_secs(args.warmup),
        Duration::from_secs(args.seconds),
        || process.cpu_ticks(),
    );
    let ticks_per_s = sys::clock_ticks_per_second() as f64;
    let cpu_s = report.relay_ticks as f64 / ticks_per_s;
    let window_s = report.window.as_secs_f64();
    let relayed_pps = report.received_in_window as f64 / window_s;
    let cpu_share = cpu_s / window_s;
    let us_per_packet = if report.received_in_window > 0 {
        cpu_s * 1e6 / report.received_in_window as f64
    } else {
        f64::NAN
    };
    if let (Some((Some(a), Some(b))), Some((rt, _))) = (first_legs, &_keep_switchboard) {
        // The relay's own view of one call, to tell relay loss from generator loss.
        eprintln!("first call, leg A: {:?}", rt.counters_blocking(a));
        eprintln!("first call, leg B: {:?}", rt.counters_blocking(b));
    }
    if args.transcode {
        let expected = (args.calls * 2) as f64 * 50.0 * window_s;
        println!("| target | calls | packets/s out of the relay | expected | loss % | relay CPU % of a core | CPU µs per packet | calls per core (CPU per packet × 100 packets/s) | memory KiB/call |");
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        println!(
            "| {}, Opus⇄PCMU | {} | {:.0} | {:.0} | {:.3} | {:.1} | {:.2} | {:.0} | {:.1} |",
            if args.target == Target::Rtpengine {
                "rtpengine"
            } else {
                "switchboard"
            },
            args.calls,
            relayed_pps,
            expected / window_s,
            100.0 * (1.0 - report.received_in_window as f64 / expected).max(0.0),
            cpu_share * 100.0,
            us_per_packet,
            1e6 / (us_per_packet * 100.0),
            after_kib.saturating_sub(before_kib) as f64 / args.calls as f64,
        );
        return Ok(());
    }
    let name = match args.target {
        Target::Switchboard => "switchboard",
        Target::Rtpengine => "rtpengine",
        Target::Bare => "bare relay",
    };
    println!(
        "| target | calls | relayed pps | sent | received | loss % | latency p50 µs | p99 µs | max µs | relay CPU % of a core | CPU µs/packet | CPU % per call | memory KiB/call | generator CPU % |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {name} | {} | {:.0} | {} | {} | {:.4} | {} | {} | {} | {:.1} | {:.2} | {:.4} | {:.1} | {:.0} |",
        args.calls,
        relayed_pps,
        report.sent,
        report.received,
        report.loss_percent(),
        report.latency_percentile_us(0.50),
        report.latency_percentile_us(0.99),
        report.max_latency_us,
        cpu_share * 100.0,
        us_per_packet,
        cpu_share * 100.0 / args.calls as f64,
        after_kib.saturating_sub(before_kib) as f64 / args.calls as f64,
        100.0 * report.generator_ticks as f64 / ticks_per_s / window_s,
    );
    if let Target::Rtpengine = args.target {
        let mut ng = ng::NgClient::new(args.ng).map_err(|e| e.to_string())?;
        for i in 0..args.calls {
            let call_id = format!("bench-{i}-{}", std::process::id());
            let _ = ng.call(&[
                ("command", ng::Bencode::str("delete")),
                ("call-id", ng::Bencode::str(&call_id)),
            ]);
        }
    }
    Ok(())
}
