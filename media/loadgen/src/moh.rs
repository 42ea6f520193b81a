//! `switchboard-bench moh`: N queued callers hearing music on hold, on `switchboard-media-rt` in this
//! process. Each caller is one relay leg, as call control allocates for a caller Switchboard answered;
//! its far end is a UDP socket of this tool, and the built-in `moh` prompt loops into it
//! ([`PlayMode::Loop`], not interruptible, PCMA or PCMU at 8 kHz), as `src/calls/citizen.rs` does for a
//! queued caller. The callers send nothing: a queued caller listens.
//!
//! Callers start over a ramp (`--ramp-ms`) so their 20 ms frame phases spread as real arrivals would;
//! all starting in the same instant would make every frame of every caller due at once.
//!
//! A few receiver threads each own one socket (its own port) that a share of the callers send to; they
//! drain it with `recvmmsg` and keep per-SSRC statistics from the kernel's arrival stamps
//! (`SO_TIMESTAMPNS`), so their own scheduling does not count as jitter:
//! * loss: gaps in each stream's RTP sequence numbers inside the measured window;
//! * pacing: frames a stream's sequence numbers advanced versus 20 ms steps of its arrival span — a
//!   media thread that falls behind more than `MAX_CATCH_UP` frames slides its schedule and never sends
//!   the skipped frames, which no sequence gap shows;
//! * late: inter-arrival > 40 ms between consecutive frames (D > 20 ms); jitter: |D| of RFC 3550 (inter-arrival minus RTP timestamp step).
//!
//! CPU is the media threads' utime+stime from `/proc/self/task/<tid>/stat` over the window: on loopback
//! that includes the kernel's delivery of each packet to the receiving socket, which the sender's
//! system call performs. The receivers' CPU is reported apart.

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use switchboard_media::prompts::{PromptSet, MUSIC_ON_HOLD};
use switchboard_media_rt::sys::{self, Batch};
use switchboard_media_rt::{
    Codec, CodecSpec, LegId, MediaConfig, MediaEvent, MediaRuntime, PlayMode, Playlist, RelayEvent,
    RemoteMedia,
};

/// Frame interval of every stream.
const FRAME_NS: u64 = 20_000_000;
/// An inter-arrival above this is a late packet (two frames).
const LATE_NS: u64 = 40_000_000;
/// Jitter histogram: 10 µs buckets up to 1 s.
const JITTER_BUCKET_NS: u64 = 10_000;
const JITTER_BUCKETS: usize = 100_000;
/// Nanoseconds per RTP timestamp unit at 8 kHz.
const NS_PER_SAMPLE: i64 = 125_000;
/// File descriptors per caller in the media runtime (RTP and RTCP sockets).
const FDS_PER_CALLER: u64 = 2;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Law {
    Pcma,
    Pcmu,
}

#[derive(clap::Args)]
pub struct MohArgs {
    /// Queued callers; a comma list runs one step per value (e.g. 500,1000,2000,3000).
    #[arg(long, value_delimiter = ',', default_value = "500")]
    calls: Vec<usize>,
    /// Measured seconds per step (after the ramp and the warm-up).
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Seconds between the last caller's start and the measured window.
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Callers start evenly over this many milliseconds (spreads their frame phases).
    #[arg(long, default_value_t = 1000)]
    ramp_ms: u64,
    /// Media threads of the runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// CPUs the media threads are pinned to (thread i on cpus[i % len]; with --threads 2 give 0,1).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    media_cpus: Vec<usize>,
    /// Receiver threads (each with its own socket and port).
    #[arg(long, default_value_t = 2)]
    receivers: usize,
    /// CPU the receiver threads are pinned to.
    #[arg(long, default_value_t = 0)]
    recv_cpu: usize,
    /// The callers' codec.
    #[arg(long, value_enum, default_value = "pcma")]
    codec: Law,
    /// First port of the runtime's RTP range.
    #[arg(long, default_value_t = 20000)]
    port_min: u16,
}

/// One caller's stream as a receiver sees it (keyed by SSRC).
#[derive(Default)]
struct Stream {
    /// Packets over the whole run (for the end-to-end count against the runtime's counters).
    all: u64,
    /// Window statistics start with the first packet inside the window.
    started: bool,
    first_ext: i64,
    max_ext: i64,
    received: u64,
    duplicates: u64,
    reordered: u64,
    gap_events: u64,
    late: u64,
    first_rx: u64,
    last_rx: u64,
    last_ts: u32,
}

/// What a receiver thread hands back.
#[derive(Default)]
struct RecvReport {
    streams: HashMap<u32, Stream>,
    jitter: Vec<u64>,
    jitter_max_ns: u64,
    malformed: u64,
}

struct Receiver {
    addr: SocketAddr,
    tid: Arc<AtomicU64>,
    handle: JoinHandle<RecvReport>,
}

/// Window edges in wall-clock ns (the kernel's receive stamps are CLOCK_REALTIME); `u64::MAX` until set.
struct Window {
    start: AtomicU64,
    end: AtomicU64,
    stop: AtomicBool,
}

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn set_rcvbuf(socket: &UdpSocket, bytes: libc::c_int) {
    // SAFETY: setsockopt reads one c_int from a live local. Failure leaves the default size (the
    // loss columns will show it).
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Raises the soft open-file limit to the hard one when `need` is more than the soft limit allows,
/// and both to `need` when the hard limit is lower still (works as root).
fn ensure_fd_limit(need: u64) -> Result<u64, String> {
    // SAFETY: getrlimit/setrlimit read and write one rlimit struct on the stack.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err("getrlimit(RLIMIT_NOFILE) failed".into());
        }
        if lim.rlim_cur >= need {
            return Ok(lim.rlim_cur);
        }
        let target = lim.rlim_max.max(need);
        let raised = libc::rlimit {
            rlim_cur: target,
            rlim_max: target,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            return Ok(target);
        }
        Err(format!(
            "need {need} open files, the limit is {} (hard {}): raise it with ulimit -n",
            lim.rlim_cur, lim.rlim_max
        ))
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn process_ticks() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| sys::process_stat_ticks(&s))
        .unwrap_or(0)
}

impl Stream {
    /// One packet (sequence `seq`, RTP timestamp `ts`) that arrived at `rx` inside the window.
    fn on_window_packet(&mut self, seq: u16, ts: u32, rx: u64, report: &mut RecvJitter) {
        if !self.started {
            *self = Stream {
                all: self.all,
                started: true,
                first_ext: i64::from(seq),
                max_ext: i64::from(seq),
                received: 1,
                first_rx: rx,
                last_rx: rx,
                last_ts: ts,
                ..Stream::default()
            };
            return;
        }
        // Extended sequence numbers: a step is the signed 16-bit difference to the highest so far.
        let step = i64::from(seq.wrapping_sub(self.max_ext as u16) as i16);
        if step == 0 {
            self.duplicates += 1;
            return;
        }
        self.received += 1;
        if step < 0 {
            self.reordered += 1;
            return;
        }
        if step > 1 {
            self.gap_events += 1;
        }
        self.max_ext += step;
        let inter = rx.saturating_sub(self.last_rx) as i64;
        // RFC 3550's D: the arrival spacing minus the spacing the timestamps promise.
        let promised = i64::from(ts.wrapping_sub(self.last_ts) as i32) * NS_PER_SAMPLE;
        let d = inter - promised;
        // Late: more than 40 ms after its predecessor when the two are consecutive frames (a lost
        // packet in between is counted as loss, not again as lateness).
        if d > LATE_NS as i64 - FRAME_NS as i64 {
            self.late += 1;
        }
        report.record(d.unsigned_abs());
        self.last_rx = rx;
        self.last_ts = ts;
    }

    /// Sequence numbers missing between the first and the highest seen in the window.
    fn lost(&self) -> u64 {
        if !self.started {
            return 0;
        }
        let expected = (self.max_ext - self.first_ext + 1) as u64;
        expected.saturating_sub(self.received)
    }
}

struct RecvJitter<'a> {
    hist: &'a mut [u64],
    max: &'a mut u64,
}

impl RecvJitter<'_> {
    fn record(&mut self, d_ns: u64) {
        *self.max = (*self.max).max(d_ns);
        let b = ((d_ns / JITTER_BUCKET_NS) as usize).min(JITTER_BUCKETS - 1);
        self.hist[b] += 1;
    }
}

fn spawn_receiver(window: Arc<Window>, cpu: usize, i: usize) -> Result<Receiver, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| format!("receiver socket: {e}"))?;
    socket
        .set_nonblocking(true)
        .map_err(|e| format!("receiver socket: {e}"))?;
    // A whole stall's worth of every caller's packets (FORCE works as root).
    set_rcvbuf(&socket, 64 << 20);
    sys::enable_rx_timestamps(socket.as_raw_fd()).map_err(|e| format!("SO_TIMESTAMPNS: {e}"))?;
    let addr = socket
        .local_addr()
        .map_err(|e| format!("receiver socket: {e}"))?;
    let tid = Arc::new(AtomicU64::new(0));
    let tid_out = tid.clone();
    let handle = std::thread::Builder::new()
        .name(format!("moh-recv-{i}"))
        .spawn(move || {
            if let Err(e) = sys::pin_to_cpu(cpu) {
                eprintln!("receiver {i} not pinned: {e}");
            }
            tid_out.store(sys::gettid() as u64, Ordering::Release);
            receive(&socket, &window)
        })
        .map_err(|e| format!("receiver thread: {e}"))?;
    Ok(Receiver { addr, tid, handle })
}

fn receive(socket: &UdpSocket, window: &Window) -> RecvReport {
    let fd = socket.as_raw_fd();
    let mut batch = Batch::with_rx_timestamps(64);
    let mut report = RecvReport {
        jitter: vec![0; JITTER_BUCKETS],
        ..RecvReport::default()
    };
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        let stopping = window.stop.load(Ordering::Acquire);
        // SAFETY: poll reads and writes one pollfd on the stack.
        unsafe {
            libc::poll(&mut pfd, 1, 5);
        }
        let (start, end) = (
            window.start.load(Ordering::Acquire),
            window.end.load(Ordering::Acquire),
        );
        loop {
            let got = batch.recv(fd).unwrap_or(0);
            for i in 0..got {
                let len = batch.lens[i];
                let Some(p) = batch.bufs[i].get(..len) else {
                    continue;
                };
                if len < 12 || p[0] >> 6 != 2 {
                    report.malformed += 1;
                    continue;
                }
                let seq = u16::from_be_bytes([p[2], p[3]]);
                let ts = u32::from_be_bytes([p[4], p[5], p[6], p[7]]);
                let ssrc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
                let rx = match batch.rx_time_ns[i] {
                    0 => wall_ns(),
                    t => t,
                };
                let stream = report.streams.entry(ssrc).or_default();
                stream.all += 1;
                if rx >= start && rx < end {
                    let mut j = RecvJitter {
                        hist: &mut report.jitter,
                        max: &mut report.jitter_max_ns,
                    };
                    stream.on_window_packet(seq, ts, rx, &mut j);
                }
            }
            if got < batch.capacity() {
                break;
            }
        }
        // The socket was drained after the stop flag was seen: nothing sent before it is left.
        if stopping {
            return report;
        }
    }
}

/// One step's figures.
struct StepResult {
    callers: usize,
    secs: u64,
    expected: u64,
    received: u64,
    lost: u64,
    gap_events: u64,
    reordered: u64,
    duplicates: u64,
    silent: usize,
    /// Frames the arrival clock says were due but the sequence numbers never reached.
    not_sent: i64,
    frames_by_clock: u64,
    late: u64,
    jitter_p50_us: f64,
    jitter_p99_us: f64,
    jitter_max_us: f64,
    media_cpu: f64,
    recv_cpu: f64,
    process_cpu: f64,
    rss_mib: f64,
    kib_per_caller: f64,
    send_drops: u64,
    runtime_sent: u64,
    received_all: u64,
    timeouts: usize,
}

impl StepResult {
    fn loss_percent(&self) -> f64 {
        let heard = self.received + self.lost;
        if heard == 0 {
            return 100.0;
        }
        100.0 * self.lost as f64 / heard as f64
    }

    fn deficit_percent(&self) -> f64 {
        if self.frames_by_clock == 0 {
            return 0.0;
        }
        100.0 * self.not_sent as f64 / self.frames_by_clock as f64
    }

    fn passes(&self) -> bool {
        self.silent == 0 && self.loss_percent() < 0.01 && self.deficit_percent() < 0.01
    }
}

/// Runs every step in `args.calls` and prints one markdown table.
pub fn run(args: &MohArgs) -> Result<(), String> {
    if args.calls.is_empty()
        || args.calls.contains(&0)
        || args.threads == 0
        || args.receivers == 0
        || args.secs == 0
    {
        return Err("--calls, --threads, --receivers and --secs must be positive".into());
    }
    let max_calls = args.calls.iter().copied().max().unwrap_or(0) as u64;
    let limit = ensure_fd_limit(max_calls * FDS_PER_CALLER + 256)?;
    let prompt = PromptSet::builtin_nb()
        .decode(MUSIC_ON_HOLD)
        .ok_or("the built-in set has no music on hold")?
        .map_err(|e| format!("music on hold: {e}"))?;
    let codec = match args.codec {
        Law::Pcma => CodecSpec {
            codec: Codec::Pcma,
            payload_type: 8,
        },
        Law::Pcmu => CodecSpec {
            codec: Codec::Pcmu,
            payload_type: 0,
        },
    };
    eprintln!(
        "moh: open-file limit {limit}; music on hold {:.1} s at {} Hz; {} media thread(s) on CPUs {:?}, {} receiver(s) on CPU {}",
        prompt.duration().as_secs_f64(),
        prompt.rate(),
        args.threads,
        args.media_cpus,
        args.receivers,
        args.recv_cpu,
    );
    let mut results = Vec::with_capacity(args.calls.len());
    for &n in &args.calls {
        let r = run_step(args, n, &prompt, codec)?;
        eprintln!(
            "moh: {n} callers: runtime sent {} (send drops {}), tool received {} over the whole run; {} media timeouts",
            r.runtime_sent, r.send_drops, r.received_all, r.timeouts
        );
        results.push(r);
    }
    print_table(&results, args);
    Ok(())
}

fn run_step(
    args: &MohArgs,
    n: usize,
    prompt: &switchboard_media_rt::Prompt,
    codec: CodecSpec,
) -> Result<StepResult, String> {
    let window = Arc::new(Window {
        start: AtomicU64::new(u64::MAX),
        end: AtomicU64::new(u64::MAX),
        stop: AtomicBool::new(false),
    });
    let receivers = (0..args.receivers)
        .map(|i| spawn_receiver(window.clone(), args.recv_cpu, i))
        .collect::<Result<Vec<_>, _>>()?;
    let port_span = (n as u32 * 2 + 200).min(u32::from(u16::MAX - args.port_min));
    let config = MediaConfig {
        bind: "127.0.0.1".parse().map_err(|_| "ip")?,
        port_min: args.port_min,
        port_max: args.port_min.saturating_add(port_span as u16),
        threads: args.threads,
        cpus: args.media_cpus.clone(),
        ..Default::default()
    };
    let rss_before = rss_kib();
    let (rt, mut events) =
        MediaRuntime::start(config).map_err(|e| format!("media runtime: {e}"))?;
    let mut legs: Vec<LegId> = Vec::with_capacity(n);
    for i in 0..n {
        let leg = rt.allocate_leg().map_err(|e| format!("caller {i}: {e}"))?;
        rt.set_remote(
            leg.id,
            RemoteMedia {
                rtp: Some(receivers[i % receivers.len()].addr),
                clock_rate: 8000,
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())?;
        legs.push(leg.id);
    }
    // Start the music for caller i at i·ramp/n.
    let ramp = Duration::from_millis(args.ramp_ms);
    let t0 = Instant::now();
    for (i, &leg) in legs.iter().enumerate() {
        let due = t0 + ramp.mul_f64(i as f64 / n as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        rt.play(
            leg,
            Playlist::from(prompt.clone()),
            PlayMode::Loop,
            false,
            codec,
        )
        .map_err(|e| e.to_string())?;
    }
    let media_tids: Vec<i32> = rt.load_blocking().iter().map(|l| l.tid).collect();
    let recv_tids: Vec<i32> = receivers
        .iter()
        .map(|r| r.tid.load(Ordering::Acquire) as i32)
        .collect();
    let ticks =
        |tids: &[i32]| -> u64 { tids.iter().filter_map(|&t| sys::thread_cpu_ticks(t)).sum() };
    let start_wall = wall_ns() + args.warmup * 1_000_000_000;
    let end_wall = start_wall + args.secs * 1_000_000_000;
    window.start.store(start_wall, Ordering::Release);
    window.end.store(end_wall, Ordering::Release);
    let sleep_until = |t: u64| {
        let now = wall_ns();
        if t > now {
            std::thread::sleep(Duration::from_nanos(t - now));
        }
    };
    sleep_until(start_wall);
    let (m0, r0, p0) = (ticks(&media_tids), ticks(&recv_tids), process_ticks());
    let drops0: u64 = rt.load_blocking().iter().map(|l| l.send_drops).sum();
    sleep_until(end_wall);
    let (m1, r1, p1) = (ticks(&media_tids), ticks(&recv_tids), process_ticks());
    let drops1: u64 = rt.load_blocking().iter().map(|l| l.send_drops).sum();
    let rss_end = rss_kib();
    // Stop the music, let the last frames land, then read what the runtime says it sent.
    for &leg in &legs {
        let _ = rt.stop_playback(leg);
    }
    std::thread::sleep(Duration::from_millis(200));
    let mut runtime_sent = 0;
    for &leg in &legs {
        if let Ok(Some(c)) = rt.counters_blocking(leg) {
            runtime_sent += c.playback_out;
        }
    }
    window.stop.store(true, Ordering::Release);
    let mut timeouts = 0;
    while let Ok(ev) = events.try_recv() {
        if let MediaEvent::Relay(RelayEvent::MediaTimeout { .. }) = ev {
            timeouts += 1;
        }
    }
    rt.shutdown();
    drop(rt);

    let mut jitter = vec![0u64; JITTER_BUCKETS];
    let mut r = StepResult {
        callers: n,
        secs: args.secs,
        expected: n as u64 * 50 * args.secs,
        received: 0,
        lost: 0,
        gap_events: 0,
        reordered: 0,
        duplicates: 0,
        silent: n,
        not_sent: 0,
        frames_by_clock: 0,
        late: 0,
        jitter_p50_us: 0.0,
        jitter_p99_us: 0.0,
        jitter_max_us: 0.0,
        media_cpu: 0.0,
        recv_cpu: 0.0,
        process_cpu: 0.0,
        rss_mib: rss_end as f64 / 1024.0,
        kib_per_caller: rss_end.saturating_sub(rss_before) as f64 / n as f64,
        send_drops: drops1.saturating_sub(drops0),
        runtime_sent,
        received_all: 0,
        timeouts,
    };
    for rcv in receivers {
        let rep = rcv
            .handle
            .join()
            .map_err(|_| "a receiver thread panicked")?;
        for (h, v) in jitter.iter_mut().zip(&rep.jitter) {
            *h += v;
        }
        r.jitter_max_us = r.jitter_max_us.max(rep.jitter_max_ns as f64 / 1000.0);
        for s in rep.streams.values() {
            r.received_all += s.all;
            if !s.started {
                continue;
            }
            r.silent = r.silent.saturating_sub(1);
            r.received += s.received;
            r.lost += s.lost();
            r.gap_events += s.gap_events;
            r.reordered += s.reordered;
            r.duplicates += s.duplicates;
            r.late += s.late;
            // Rounded per stream: the arrival stamps at both ends jitter by well under half a frame.
            let by_clock = (s.last_rx - s.first_rx + FRAME_NS / 2) / FRAME_NS;
            r.frames_by_clock += by_clock;
            r.not_sent += by_clock as i64 - (s.max_ext - s.first_ext);
        }
    }
    r.jitter_p50_us = percentile(&jitter, 0.50) as f64 * JITTER_BUCKET_NS as f64 / 1000.0;
    r.jitter_p99_us = percentile(&jitter, 0.99) as f64 * JITTER_BUCKET_NS as f64 / 1000.0;
    let hz = sys::clock_ticks_per_second() as f64 * args.secs as f64;
    r.media_cpu = m1.saturating_sub(m0) as f64 / hz;
    r.recv_cpu = r1.saturating_sub(r0) as f64 / hz;
    r.process_cpu = p1.saturating_sub(p0) as f64 / hz;
    Ok(r)
}

/// The upper edge of the bucket holding quantile `q`.
fn percentile(hist: &[u64], q: f64) -> usize {
    let total: u64 = hist.iter().sum();
    let want = (total as f64 * q).ceil() as u64;
    let mut seen = 0;
    for (i, &n) in hist.iter().enumerate() {
        seen += n;
        if seen >= want && n > 0 {
            return i + 1;
        }
    }
    hist.len()
}

fn print_table(results: &[StepResult], args: &MohArgs) {
    println!(
        "| callers | secs | expected | received | lost (seq gaps) | loss % | frames not sent | not sent % | silent callers | late > 40 ms | jitter p50 µs | p99 µs | max µs | media CPU % of a core | CPU µs/packet | CPU % per caller | callers per core | receivers CPU % | RSS MiB | KiB/caller | send drops | < 0.01 % |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in results {
        let per_core = if r.media_cpu > 0.0 {
            format!("{:.0}", r.callers as f64 / r.media_cpu)
        } else {
            "-".into()
        };
        // Packets the media threads sent per second of the window, as the receivers counted them.
        let pps = r.received as f64 / r.secs as f64;
        let us_per_packet = if pps > 0.0 {
            r.media_cpu * 1e6 / pps
        } else {
            f64::NAN
        };
        println!(
            "| {} | {} | {} | {} | {} | {:.4} | {} | {:.4} | {} | {} | {:.0} | {:.0} | {:.0} | {:.1} | {:.2} | {:.4} | {} | {:.1} | {:.1} | {:.1} | {} | {} |",
            r.callers,
            r.secs,
            r.expected,
            r.received,
            r.lost,
            r.loss_percent(),
            r.not_sent,
            r.deficit_percent(),
            r.silent,
            r.late,
            r.jitter_p50_us,
            r.jitter_p99_us,
            r.jitter_max_us,
            r.media_cpu * 100.0,
            us_per_packet,
            r.media_cpu * 100.0 / r.callers as f64,
            per_core,
            r.recv_cpu * 100.0,
            r.rss_mib,
            r.kib_per_caller,
            r.send_drops,
            if r.passes() { "yes" } else { "**no**" },
        );
    }
    let extra: u64 = results
        .iter()
        .map(|r| r.gap_events + r.reordered + r.duplicates)
        .sum();
    println!();
    println!(
        "{} media thread(s), {} receiver(s), {}, {} s warm-up after a {} ms ramp; process CPU % of a core per step: {}; gap events/reordered/duplicates: {}",
        args.threads,
        args.receivers,
        match args.codec {
            Law::Pcma => "PCMA",
            Law::Pcmu => "PCMU",
        },
        args.warmup,
        args.ramp_ms,
        results
            .iter()
            .map(|r| format!("{:.1}", r.process_cpu * 100.0))
            .collect::<Vec<_>>()
            .join(", "),
        if extra == 0 {
            "none".to_string()
        } else {
            results
                .iter()
                .map(|r| format!("{}/{}/{}", r.gap_events, r.reordered, r.duplicates))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packets as (frame number, arrival ms); the RTP timestamp runs on across the sequence wrap.
    fn feed(s: &mut Stream, hist: &mut [u64], max: &mut u64, packets: &[(u32, u64)]) {
        for &(frame, rx_ms) in packets {
            let (seq, ts) = (frame as u16, frame.wrapping_mul(160));
            let mut j = RecvJitter {
                hist: &mut *hist,
                max: &mut *max,
            };
            s.on_window_packet(seq, ts, rx_ms * 1_000_000, &mut j);
        }
    }

    #[test]
    fn gaps_across_the_sequence_wrap_count_as_loss() {
        let (mut hist, mut max) = (vec![0; JITTER_BUCKETS], 0);
        let mut s = Stream::default();
        // 65534, 65535, (0 lost), 1, (2, 3 lost), 4.
        feed(
            &mut s,
            &mut hist,
            &mut max,
            &[(65534, 0), (65535, 20), (65537, 60), (65540, 120)],
        );
        assert_eq!(s.lost(), 3);
        assert_eq!(s.gap_events, 2);
        assert_eq!(s.max_ext - s.first_ext, 6);
        // 40 ms after a lost packet is on time by the timestamps: no jitter, not late.
        assert_eq!(s.late, 0);
        assert_eq!(max, 0);
    }

    #[test]
    fn duplicates_and_reordering_are_not_loss() {
        let (mut hist, mut max) = (vec![0; JITTER_BUCKETS], 0);
        let mut s = Stream::default();
        feed(
            &mut s,
            &mut hist,
            &mut max,
            &[(10, 0), (12, 40), (11, 41), (12, 42), (13, 60)],
        );
        assert_eq!(s.lost(), 0);
        assert_eq!(s.reordered, 1);
        assert_eq!(s.duplicates, 1);
    }

    #[test]
    fn a_stall_is_late_and_jitter() {
        let (mut hist, mut max) = (vec![0; JITTER_BUCKETS], 0);
        let mut s = Stream::default();
        // Frame 2 arrives 50 ms after frame 1, then frame 3 right behind it (catch-up).
        feed(&mut s, &mut hist, &mut max, &[(1, 0), (2, 50), (3, 51)]);
        assert_eq!(s.late, 1);
        assert_eq!(max, 30_000_000);
        assert_eq!(
            percentile(&hist, 0.5) as u64 * JITTER_BUCKET_NS,
            19_000_000 + 10_000
        );
    }
}
