//! The load generator: one UDP socket plays both ends of every call. Streams are spread evenly over the
//! 20 ms packet interval and sent in `sendmmsg` batches; what comes back is drained with `recvmmsg`.
//! Each packet carries its send time and stream number, so loss and one-way latency are exact.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use switchboard_media_rt::sys::{self, Batch};

const PACKET: usize = 172;
const INTERVAL: Duration = Duration::from_millis(20);
/// Latency histogram: 1 µs buckets up to 100 ms.
const BUCKETS: usize = 100_000;

pub struct Generator {
    socket: UdpSocket,
}

pub struct Report {
    /// The generator's own CPU time in the window: near a whole core, its pacing suffers.
    pub generator_ticks: u64,
    pub sent: u64,
    pub received: u64,
    pub received_in_window: u64,
    pub window: Duration,
    pub relay_ticks: u64,
    pub max_latency_us: u64,
    histogram: Vec<u64>,
}

impl Report {
    pub fn loss_percent(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        100.0 * (self.sent.saturating_sub(self.received)) as f64 / self.sent as f64
    }

    pub fn latency_percentile_us(&self, q: f64) -> u64 {
        let total: u64 = self.histogram.iter().sum();
        let want = (total as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (us, &n) in self.histogram.iter().enumerate() {
            seen += n;
            if seen >= want && n > 0 {
                return us as u64;
            }
        }
        self.max_latency_us
    }
}

/// Large socket buffers (32 MiB each way), so a burst is not lost in the kernel.
pub fn grow_buffers(socket: &UdpSocket) {
    set_buffer(socket, libc::SO_RCVBUFFORCE, 32 << 20);
    set_buffer(socket, libc::SO_SNDBUFFORCE, 32 << 20);
}

fn set_buffer(socket: &UdpSocket, opt: libc::c_int, bytes: libc::c_int) {
    // SAFETY: setsockopt reads one c_int from a live local. Failure leaves the default size.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&bytes as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

impl Generator {
    pub fn bind(_calls: usize) -> std::io::Result<Generator> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_nonblocking(true)?;
        // Room for a whole interval of traffic at thousands of calls (FORCE works as root).
        set_buffer(&socket, libc::SO_RCVBUFFORCE, 32 << 20);
        set_buffer(&socket, libc::SO_SNDBUFFORCE, 32 << 20);
        sys::enable_rx_timestamps(socket.as_raw_fd())?;
        Ok(Generator { socket })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.socket
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Sends for `warmup + window`, then drains for half a second. `relay_ticks` reads the relay's CPU
    /// time at the window's start and end.
    /// With `opus_b`, side B of every call sends this Opus payload (PT 111) instead of PCMU, for a
    /// relay that transcodes; its output carries no send times, so only counts are kept.
    pub fn run(
        &self,
        targets: &[(SocketAddr, SocketAddr)],
        opus_b: Option<(&[u8], u8)>,
        warmup: Duration,
        window: Duration,
        relay_ticks: impl Fn() -> u64,
    ) -> Report {
        let fd = self.socket.as_raw_fd();
        let streams = targets.len() * 2;
        let dest = |s: usize| {
            let (a, b) = targets[s / 2];
            if s.is_multiple_of(2) {
                a
            } else {
                b
            }
        };
        let mut seq = vec![0u16; streams];
        let mut send = Batch::new(64);
        let mut recv = Batch::with_rx_timestamps(64);
        let mut histogram = vec![0u64; BUCKETS];
        let mut max_latency_us = 0;
        let (mut sent, mut received, mut received_in_window) = (0u64, 0u64, 0u64);
        let start = Instant::now();
        let window_start = start + warmup;
        let send_end = window_start + window;
        let drain_end = send_end + Duration::from_millis(500);
        let mut ticks_start = None;
        let mut ticks_end = None;
        let my_tid = sys::gettid();
        let (mut gen_start, mut gen_end) = (None, None);
        let (mut next_stream, mut cycle) = (0usize, 0u32);
        // Stream s of cycle c is due at start + c·20 ms + s·20 ms / streams.
        let due =
            |s: usize, c: u32| start + INTERVAL * c + INTERVAL.mul_f64(s as f64 / streams as f64);
        loop {
            let now = Instant::now();
            if ticks_start.is_none() && now >= window_start {
                ticks_start = Some(relay_ticks());
                gen_start = sys::thread_cpu_ticks(my_tid);
            }
            if ticks_end.is_none() && now >= send_end {
                ticks_end = Some(relay_ticks());
                gen_end = sys::thread_cpu_ticks(my_tid);
            }
            if now >= drain_end {
                break;
            }
            // Send what is due, in batches.
            let mut n = 0;
            while streams > 0 && now < send_end && due(next_stream, cycle) <= now {
                let s = next_stream;
                let buf = &mut send.bufs[n];
                let len = match opus_b {
                    Some((opus, pt)) if s % 2 == 1 => write_opus(buf, s as u32, seq[s], opus, pt),
                    _ => {
                        write_packet(buf, s as u32, seq[s], wall_ns());
                        PACKET
                    }
                };
                seq[s] = seq[s].wrapping_add(1);
                send.prepare_send(n, len, dest(s));
                n += 1;
                next_stream += 1;
                if next_stream == streams {
                    next_stream = 0;
                    cycle += 1;
                }
                // One batch per turn, then drain what came back: sending everything that fell due
                // in one go would hand the relay bursts no real set of phones produces.
                if n == send.capacity() {
                    break;
                }
            }
            if n > 0 {
                sent += send.send(fd, 0, n) as u64;
            }
            // Drain what came back.
            loop {
                let got = recv.recv(fd).unwrap_or(0);
                let in_window = now >= window_start && now < send_end;
                for i in 0..got {
                    let len = recv.lens[i];
                    if opus_b.is_some() {
                        if len > 12 {
                            received += 1;
                            received_in_window += u64::from(in_window);
                        }
                        continue;
                    }
                    let Some(sent_ns) = read_send_time(&recv.bufs[i][..len]) else {
                        continue;
                    };
                    received += 1;
                    if in_window {
                        received_in_window += 1;
                        // The kernel's arrival stamp: the generator's own scheduling delays are not
                        // the relay's latency.
                        let us = recv.rx_time_ns[i].saturating_sub(sent_ns) / 1000;
                        max_latency_us = max_latency_us.max(us);
                        let bucket = (us as usize).min(BUCKETS - 1);
                        histogram[bucket] += 1;
                    }
                }
                if got < recv.capacity() {
                    break;
                }
            }
        }
        let relay_ticks = ticks_end
            .unwrap_or(0)
            .saturating_sub(ticks_start.unwrap_or(0));
        Report {
            generator_ticks: gen_end.unwrap_or(0).saturating_sub(gen_start.unwrap_or(0)),
            sent,
            received,
            received_in_window,
            window,
            relay_ticks,
            max_latency_us,
            histogram,
        }
    }
}

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A 172-byte PCMU packet whose payload starts with the send time (ns) and the stream number.
fn write_packet(buf: &mut [u8], stream: u32, seq: u16, sent_ns: u64) {
    buf[0] = 0x80;
    buf[1] = 0;
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    buf[8..12].copy_from_slice(&stream.to_be_bytes());
    buf[12..20].copy_from_slice(&sent_ns.to_be_bytes());
    buf[20..24].copy_from_slice(&stream.to_be_bytes());
    buf[24..PACKET].fill(0xff);
}

/// An Opus packet (48 kHz clock) with a fixed payload.
fn write_opus(buf: &mut [u8], stream: u32, seq: u16, payload: &[u8], pt: u8) -> usize {
    buf[0] = 0x80;
    buf[1] = pt & 0x7f;
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&(u32::from(seq) * 960).to_be_bytes());
    buf[8..12].copy_from_slice(&stream.to_be_bytes());
    let n = payload.len().min(buf.len() - 12);
    buf[12..12 + n].copy_from_slice(&payload[..n]);
    12 + n
}

fn read_send_time(packet: &[u8]) -> Option<u64> {
    if packet.len() != PACKET {
        return None;
    }
    let b: [u8; 8] = packet.get(12..20)?.try_into().ok()?;
    Some(u64::from_be_bytes(b))
}
