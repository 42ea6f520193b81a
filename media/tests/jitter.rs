//! The jitter buffer against simulated streams: time is a base `Instant` plus offsets, and the
//! decoder pops exactly when `poll_timeout` says a frame is due.

use std::time::{Duration, Instant};

use switchboard_media::jitter::{JitterBuffer, JitterConfig, Playout, Pushed};

const MS: Duration = Duration::from_millis(1);

/// One packet: sequence number, timestamp, arrival offset from the simulation's start.
type Packet = (u16, u32, Duration);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    Frame(u16),
    Missing,
    Silence,
    NotReady,
}

struct Sim {
    jb: JitterBuffer,
    t0: Instant,
    /// What each pop answered, and when.
    log: Vec<(Duration, Out)>,
    pushed: Vec<Pushed>,
    /// Largest `current_delay` seen at a pop.
    max_delay: Duration,
}

impl Sim {
    fn new(cfg: JitterConfig) -> Sim {
        Sim {
            jb: JitterBuffer::new(cfg),
            t0: Instant::now(),
            log: Vec::new(),
            pushed: Vec::new(),
            max_delay: Duration::ZERO,
        }
    }

    /// Pushes `packets` (sorted by arrival) and pops at every due time up to `until`.
    fn run(&mut self, packets: &[Packet], until: Duration) {
        let mut next = packets.iter().peekable();
        loop {
            let due = self.jb.poll_timeout().map(|t| t - self.t0);
            match (next.peek(), due) {
                (Some(&&(seq, ts, at)), due) if due.is_none_or(|d| at <= d) => {
                    if at > until {
                        break;
                    }
                    let payload = seq.to_be_bytes();
                    self.pushed
                        .push(self.jb.push(seq, ts, self.t0 + at, &payload));
                    next.next();
                }
                (_, Some(d)) if d <= until => {
                    self.max_delay = self.max_delay.max(self.jb.current_delay());
                    let out = match self.jb.pop(self.t0 + d) {
                        Playout::Frame { seq, payload, .. } => {
                            assert_eq!(payload, seq.to_be_bytes(), "payload of {seq}");
                            Out::Frame(seq)
                        }
                        Playout::Missing => Out::Missing,
                        Playout::Silence => Out::Silence,
                        Playout::NotReady => Out::NotReady,
                    };
                    assert!(self.jb.buffered() <= self.jb.config().capacity);
                    self.log.push((d, out));
                }
                _ => break,
            }
        }
    }

    fn outs(&self) -> Vec<Out> {
        self.log.iter().map(|&(_, o)| o).collect()
    }

    fn frames(&self) -> Vec<u16> {
        self.log
            .iter()
            .filter_map(|&(_, o)| match o {
                Out::Frame(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    fn count(&self, what: Out) -> usize {
        self.log.iter().filter(|&&(_, o)| o == what).count()
    }
}

/// A 50 pps G.711 stream: packet k of `n` starting at `seq0`/`ts0`, sent at 20k ms, delayed by
/// `delay(k)`; sorted by arrival.
fn stream(seq0: u16, ts0: u32, n: u32, delay: impl Fn(u32) -> Duration) -> Vec<Packet> {
    let mut v: Vec<Packet> = (0..n)
        .map(|k| {
            let seq = seq0.wrapping_add(k as u16);
            let ts = ts0.wrapping_add(k * 160);
            (seq, ts, 20 * MS * k + delay(k))
        })
        .collect();
    v.sort_by_key(|p| p.2);
    v
}

/// Deterministic pseudo-random numbers (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn in_order_stream_plays_at_the_minimum_delay() {
    let mut sim = Sim::new(JitterConfig::default());
    let packets = stream(1000, 0, 100, |_| 7 * MS);
    sim.run(&packets, 5000 * MS);
    let frames = sim.frames();
    assert_eq!(frames, (1000..1100).collect::<Vec<u16>>());
    // Each frame is played 20 ms after it arrived.
    for (&(at, out), &(_, _, arrived)) in sim.log.iter().zip(&packets) {
        assert!(matches!(out, Out::Frame(_)));
        assert_eq!(at, arrived + 20 * MS);
    }
    assert_eq!(sim.jb.target_delay(), 20 * MS);
    // The stream ends: concealment fades out after max_conceal frames, then the clock stops.
    assert_eq!(
        sim.outs()[100..],
        [
            Out::Missing,
            Out::Missing,
            Out::Missing,
            Out::Missing,
            Out::Missing,
            Out::NotReady
        ]
    );
    assert_eq!(sim.jb.poll_timeout(), None);
    let c = sim.jb.counters();
    assert_eq!((c.played, c.late, c.expanded, c.compressed), (100, 0, 0, 0));
}

#[test]
fn reordering_is_undone() {
    let cfg = JitterConfig {
        min_delay: 60 * MS,
        ..JitterConfig::default()
    };
    let mut sim = Sim::new(cfg);
    // Every pair arrives swapped: each odd packet 25 ms after the even one that follows it.
    let packets = stream(
        0,
        0,
        200,
        |k| if k % 2 == 1 { 45 * MS } else { Duration::ZERO },
    );
    assert_eq!(packets[1].0, 2);
    sim.run(&packets, 10_000 * MS);
    assert_eq!(sim.frames(), (0..200).collect::<Vec<u16>>());
    assert!(
        sim.outs()[..200].iter().all(|o| matches!(o, Out::Frame(_))),
        "{:?} {:?}",
        sim.outs(),
        sim.jb.counters()
    );
    assert_eq!(sim.jb.counters().late, 0);
}

#[test]
fn each_lost_frame_is_missing_exactly_once() {
    let mut sim = Sim::new(JitterConfig::default());
    let lost = |k: u32| k % 10 == 7;
    let packets: Vec<Packet> = stream(500, 80_000, 300, |_| 3 * MS)
        .into_iter()
        .filter(|p| !lost(u32::from(p.0 - 500)))
        .collect();
    sim.run(&packets, 7000 * MS);
    let outs = sim.outs();
    for (k, out) in outs[..300].iter().enumerate() {
        let expect = if lost(k as u32) {
            Out::Missing
        } else {
            Out::Frame(500 + k as u16)
        };
        assert_eq!(*out, expect, "frame {k}");
    }
    // 30 lost frames, then the fade-out after the stream ends.
    assert_eq!(sim.count(Out::Missing), 30 + 5);
    let c = sim.jb.counters();
    assert_eq!((c.concealed, c.expanded, c.late), (30 + 5, 0, 0));
}

#[test]
fn late_packet_is_dropped_counted_and_grows_the_delay() {
    let mut sim = Sim::new(JitterConfig::default());
    // Packet 50 is held up 100 ms; everything else has a constant delay.
    let packets = stream(0, 0, 500, |k| if k == 50 { 100 * MS } else { MS });
    sim.run(&packets, 11_000 * MS);
    assert!(sim.pushed.contains(&Pushed::Late));
    let c = *sim.jb.counters();
    assert_eq!(c.late, 1);
    assert!(!sim.frames().contains(&50));
    // The delay grew by whole frames towards the 100 ms that packet needed, then decayed back.
    assert!(c.expanded >= 4, "{c:?}");
    assert!(sim.max_delay >= 100 * MS, "{:?}", sim.max_delay);
    assert!(
        sim.jb.target_delay() < 60 * MS,
        "{:?}",
        sim.jb.target_delay()
    );
    assert_eq!(
        sim.frames().len() as u64 + c.late + c.compressed,
        500,
        "{c:?}"
    );
}

#[test]
fn delay_grows_under_jitter_and_shrinks_back() {
    let mut rng = Rng(0x5eed);
    let jitter: Vec<Duration> = (0..3500u32)
        .map(|k| match k {
            500..1500 => MS * rng.below(80) as u32,
            _ => 5 * MS,
        })
        .collect();
    let packets = stream(7, 1234, 3500, |k| jitter[k as usize]);
    let phase = |from: u64, to: u64| -> Vec<Packet> {
        let range = MS * from as u32..MS * to as u32;
        packets
            .iter()
            .copied()
            .filter(|p| range.contains(&p.2))
            .collect()
    };
    let mut sim = Sim::new(JitterConfig::default());
    sim.run(&phase(0, 10_000), 10_000 * MS);
    let calm = sim.jb.current_delay();
    assert!(calm < 30 * MS, "{calm:?}");
    sim.run(&phase(10_000, 30_000), 30_000 * MS);
    let jittery = sim.jb.current_delay();
    assert!(jittery >= 60 * MS, "{jittery:?}");
    assert!(sim.jb.target_delay() >= 60 * MS);
    let late = sim.jb.counters().late;
    assert!(late < 30, "{late} late of 1000 jittered packets");
    sim.log.clear();
    sim.run(&phase(30_000, 70_000), 70_000 * MS);
    let after = sim.jb.current_delay();
    assert!(after < 50 * MS, "{after:?}");
    assert!(sim.jb.target_delay() < 25 * MS);
    assert!(sim.jb.counters().compressed >= 2);
    // Shrinking dropped single frames only: the frames kept coming in order.
    let f = sim.frames();
    assert!(f.windows(2).all(|w| w[1].wrapping_sub(w[0]) <= 2), "{f:?}");
}

#[test]
fn sequence_numbers_and_timestamps_wrap() {
    let mut sim = Sim::new(JitterConfig::default());
    let packets = stream(65_500, u32::MAX - 160 * 20, 200, |k| MS * (k % 3));
    sim.run(&packets, 5000 * MS);
    let want: Vec<u16> = (0..200u16).map(|k| 65_500u16.wrapping_add(k)).collect();
    assert_eq!(sim.frames(), want);
    assert_eq!(
        sim.jb.counters().concealed,
        5,
        "only the fade-out after the end"
    );
}

#[test]
fn new_ssrc_resynchronises() {
    let mut sim = Sim::new(JitterConfig::default());
    let mut packets = stream(100, 5000, 50, |_| MS);
    // A new source takes over at 1.1 s: unrelated sequence numbers and timestamps.
    let second: Vec<Packet> = stream(40_000, 3_000_000_000, 50, |_| MS)
        .into_iter()
        .map(|(s, t, at)| (s, t, at + 1100 * MS))
        .collect();
    packets.extend(&second);
    sim.run(&packets, 5000 * MS);
    let want: Vec<u16> = (100..150).chain(40_000..40_050).collect();
    assert_eq!(sim.frames(), want);
    assert_eq!(
        sim.pushed
            .iter()
            .filter(|&&p| p == Pushed::Resynced)
            .count(),
        1
    );
    assert_eq!(sim.jb.counters().resyncs, 1);
    // The new stream plays at the minimum delay from its first packet.
    let first_new = sim
        .log
        .iter()
        .find(|(_, o)| *o == Out::Frame(40_000))
        .expect("played");
    assert_eq!(first_new.0, 1121 * MS);
}

#[test]
fn explicit_reset_restarts_the_schedule() {
    let mut sim = Sim::new(JitterConfig::default());
    sim.run(&stream(1, 160, 10, |_| Duration::ZERO), 150 * MS);
    assert!(sim.jb.buffered() > 0);
    sim.jb.reset();
    assert_eq!((sim.jb.buffered(), sim.jb.poll_timeout()), (0, None));
    let again: Vec<Packet> = stream(1, 160, 10, |_| Duration::ZERO)
        .into_iter()
        .map(|(s, t, at)| (s, t, at + 1000 * MS))
        .collect();
    sim.log.clear();
    sim.run(&again, 2000 * MS);
    assert_eq!(sim.frames(), (1..11).collect::<Vec<u16>>());
}

#[test]
fn long_silence_conceals_briefly_then_waits() {
    let mut sim = Sim::new(JitterConfig::default());
    // 1 s of speech, 3 s of DTX (numbers continue, timestamps jump), 1 s of speech.
    let mut packets = stream(10, 0, 50, |_| 2 * MS);
    let resume = stream(60, 200 * 160, 50, |_| 2 * MS);
    packets.extend(resume.iter().map(|&(s, t, at)| (s, t, at + 4000 * MS)));
    sim.run(&packets, 6000 * MS);
    let outs = sim.outs();
    assert_eq!(
        outs[50..56],
        [
            Out::Missing,
            Out::Missing,
            Out::Missing,
            Out::Missing,
            Out::Missing,
            Out::NotReady
        ]
    );
    assert!(
        outs[56..]
            .iter()
            .take(50)
            .all(|o| matches!(o, Out::Frame(_))),
        "{:?}",
        &outs[56..]
    );
    assert_eq!(sim.frames(), (10..60).chain(60..110).collect::<Vec<u16>>());
    // Talk resumes on a fresh schedule at the target delay.
    let resumed = sim
        .log
        .iter()
        .find(|(_, o)| *o == Out::Frame(60))
        .expect("played");
    assert_eq!(resumed.0, 4000 * MS + 2 * MS + 20 * MS);
}

#[test]
fn short_silence_with_the_next_talkspurt_buffered_is_silence_not_loss() {
    let cfg = JitterConfig {
        min_delay: 100 * MS,
        ..JitterConfig::default()
    };
    let mut sim = Sim::new(cfg);
    // Ten frame times of silence between packets 49 and 50.
    let mut packets = stream(0, 0, 50, |_| Duration::ZERO);
    packets.extend(
        stream(50, 60 * 160, 20, |_| Duration::ZERO)
            .iter()
            .map(|&(s, t, at)| (s, t, at + 1200 * MS)),
    );
    sim.run(&packets, 3000 * MS);
    let outs = sim.outs();
    // Unknown at first (the buffer is empty), then known silence once packet 50 is in.
    assert_eq!(outs[50..55], [Out::Missing; 5]);
    assert_eq!(outs[55..60], [Out::Silence; 5]);
    assert_eq!(outs[60], Out::Frame(50));
    assert_eq!(sim.frames(), (0..70).collect::<Vec<u16>>());
}

#[test]
fn duplicates_and_oversize_packets_are_refused() {
    let mut jb = JitterBuffer::new(JitterConfig::default());
    let t0 = Instant::now();
    assert_eq!(jb.push(1, 160, t0, &[1; 160]), Pushed::Buffered);
    assert_eq!(jb.push(1, 160, t0, &[1; 160]), Pushed::Duplicate);
    assert_eq!(jb.push(2, 320, t0, &[0; 1501]), Pushed::Oversize);
    assert_eq!(jb.pop(t0 + 19 * MS), Playout::NotReady);
    assert!(matches!(
        jb.pop(t0 + 20 * MS),
        Playout::Frame {
            seq: 1,
            timestamp: 160,
            ..
        }
    ));
    // A copy of a frame already played is a duplicate, not a late packet.
    assert_eq!(jb.push(1, 160, t0 + 25 * MS, &[1; 160]), Pushed::Duplicate);
    let c = jb.counters();
    assert_eq!((c.duplicates, c.dropped, c.late), (2, 1, 0));
}

#[test]
fn ten_minutes_of_jittery_traffic_neither_stalls_nor_grows() {
    let mut rng = Rng(0x00c0_ffee);
    let n = 50 * 600;
    // Uniform 0–50 ms jitter, 1 % loss, and a 150 ms spike on 0.2 % of the packets.
    let delays: Vec<Option<Duration>> = (0..n)
        .map(|_| match rng.below(1000) {
            0..10 => None,
            10..12 => Some(150 * MS),
            _ => Some(MS * rng.below(50) as u32),
        })
        .collect();
    let packets: Vec<Packet> = stream(31_000, 99, n, |k| delays[k as usize].unwrap_or_default())
        .into_iter()
        .filter(|p| delays[usize::from(p.0.wrapping_sub(31_000))].is_some())
        .collect();
    let mut sim = Sim::new(JitterConfig::default());
    sim.run(&packets, 601_000 * MS);
    let c = *sim.jb.counters();
    let sent = packets.len() as u64;
    assert!(
        c.played * 100 >= sent * 97,
        "played {} of {sent}: {c:?}",
        c.played
    );
    assert!(c.late * 100 <= sent, "{c:?}");
    assert_eq!(c.resyncs, 0);
    // Never more than the maximum delay plus the one-frame adaptation band.
    assert!(sim.max_delay <= 200 * MS + 25 * MS, "{:?}", sim.max_delay);
    // No stall: outside the fade-out at the very end, never more than a few frame times in a row
    // without a frame.
    let outs = sim.outs();
    let end = outs.len() - 6;
    let longest_gap = outs[..end]
        .split(|o| matches!(o, Out::Frame(_)))
        .map(<[Out]>::len)
        .max()
        .unwrap_or(0);
    assert!(longest_gap <= 4, "{longest_gap}");
    assert!(!outs[..end].contains(&Out::NotReady));
    // Played in order.
    let f = sim.frames();
    assert!(f
        .windows(2)
        .all(|w| w[0] != w[1] && w[1].wrapping_sub(w[0]) < 100));
}
