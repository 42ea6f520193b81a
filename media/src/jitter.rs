//! An adaptive jitter buffer for the decoding side of transcoding: RTP audio frames of one fixed
//! duration go in as they arrive, and come out once per frame time in sender order, with gaps marked
//! for the decoder to conceal.
//!
//! Sans-IO: time is the [`Instant`] passed to [`JitterBuffer::push`] and [`JitterBuffer::pop`];
//! [`JitterBuffer::poll_timeout`] says when the next frame is due. All storage is allocated at
//! construction (`capacity` slots of `max_payload` octets), so pushing and popping never allocate.
//!
//! # How the delay adapts
//!
//! Each packet's relative transit (arrival minus media time) is compared with a floor, the smallest
//! transit seen lately; the excess is that packet's jitter. The target delay is the peak of those
//! excesses, decaying exponentially (half-life [`PEAK_HALF_LIFE`]) and clamped to the configured
//! minimum and maximum. A packet whose jitter exceeds the current delay would be late, so tracking
//! the peak keeps lateness rare while letting the delay fall back once the network calms.
//!
//! The playout schedule only ever moves by one frame at a time: in silence (DTX) a silent frame is
//! held or skipped; in speech one frame is concealed ([`Playout::Missing`]) to add delay, at most
//! one frame in three, or one frame is dropped to remove delay, at most one in [`SHRINK_SPACING`].
//! A band of a frame plus slack between growing and shrinking keeps the delay from see-sawing. A new talkspurt after the stream went quiet is scheduled afresh at the target delay.
//!
//! # Gaps, silence and restarts
//!
//! - A lost frame (a later packet is buffered but this one never came) is reported as
//!   [`Playout::Missing`] once per frame time.
//! - A timestamp gap with no sequence gap is the sender's silence (DTX): [`Playout::Silence`], for
//!   the decoder to play comfort noise.
//! - When nothing is buffered at all, loss and silence look alike: the buffer reports `Missing` up to
//!   `max_conceal` times (the decoder's concealment fades out), then stops its clock and answers
//!   [`Playout::NotReady`] until packets come back; the decoder plays comfort noise or silence
//!   meanwhile. The next packet starts a new schedule.
//! - A sequence number jump beyond the buffer, or a timestamp that disagrees with the arrival time by
//!   more than [`RESYNC_AFTER`], is a new stream (SSRC change, sender restart): what is buffered is
//!   dropped and playout restarts from that packet. Call [`JitterBuffer::reset`] on an SSRC change
//!   seen in the RTP header to do the same without waiting for the evidence.
//!
//! Feed it a single payload type: telephone-events share timestamps and would look inconsistent.

use std::time::{Duration, Instant};

/// How fast the target delay forgets a jitter peak.
pub const PEAK_HALF_LIFE: Duration = Duration::from_secs(5);
/// A timestamp that disagrees with the arrival time by this much starts a new stream.
pub const RESYNC_AFTER: Duration = Duration::from_secs(1);
/// Frames between two dropped speech frames when the delay shrinks.
pub const SHRINK_SPACING: u32 = 10;
/// Frames between two concealed frames inserted when the delay grows.
const GROW_SPACING: u32 = 2;
/// The floor (smallest recent transit) rises by 1 ms per second so it follows clock drift and a
/// path that got slower; a lower transit pulls it straight down.
const FLOOR_CREEP_PER_SEC_US: i64 = 1_000;

/// Settings fixed at construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitterConfig {
    /// RTP clock rate of the payload (8000 for G.711, 48000 for Opus).
    pub clock_rate: u32,
    /// Duration of one frame (one packet).
    pub frame: Duration,
    /// Frames the buffer holds; also the reordering window.
    pub capacity: usize,
    /// Largest payload accepted, octets.
    pub max_payload: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
    /// Frames reported `Missing` after the buffer ran dry, before it goes quiet.
    pub max_conceal: u32,
}

impl Default for JitterConfig {
    fn default() -> JitterConfig {
        JitterConfig {
            clock_rate: 8000,
            frame: Duration::from_millis(20),
            capacity: 50,
            max_payload: 1500,
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            max_conceal: 5,
        }
    }
}

/// What the decoder should do for the frame time at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Playout<'a> {
    /// Decode this frame.
    Frame {
        seq: u16,
        timestamp: u32,
        payload: &'a [u8],
    },
    /// A frame is missing: conceal it (PLC).
    Missing,
    /// The sender is silent (DTX): play comfort noise for one frame.
    Silence,
    /// Nothing is due: still buffering, not yet time, or the stream went quiet.
    NotReady,
}

/// What became of a pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Buffered,
    /// Buffered as the first packet of a new stream; the old stream's frames were dropped.
    Resynced,
    Duplicate,
    /// Its frame time has passed.
    Late,
    /// Larger than `max_payload`.
    Oversize,
}

/// Counters since construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JitterCounters {
    pub buffered: u64,
    pub played: u64,
    pub late: u64,
    pub duplicates: u64,
    /// Oversize packets, and frames flushed by a resync.
    pub dropped: u64,
    /// `Missing` for lost frames and after the buffer ran dry.
    pub concealed: u64,
    /// Frames added to grow the delay (`Missing` in speech, held `Silence` in silence).
    pub expanded: u64,
    /// Frames removed to shrink the delay (a dropped speech frame or a skipped silent one).
    pub compressed: u64,
    pub resyncs: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    used: bool,
    ext_seq: i64,
    ext_ts: i64,
    seq: u16,
    ts: u32,
    len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No stream yet (or after `reset`).
    Empty,
    /// A schedule runs: frames are due at `ts_us(play_ts) + offset_us`.
    Playing,
    /// The stream went quiet; the clock is stopped until the next packet.
    Idle,
}

/// The jitter buffer; see the module documentation.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    cfg: JitterConfig,
    /// Timestamp units per frame.
    tpf: i64,
    frame_us: i64,
    slots: Vec<Slot>,
    data: Vec<u8>,
    count: usize,
    state: State,
    /// Times are kept as µs since the first push.
    epoch: Option<Instant>,
    /// The highest packet pushed, to extend 16-bit sequence numbers and 32-bit timestamps.
    last_seq: u16,
    last_ts: u32,
    last_ext_seq: i64,
    last_ext_ts: i64,
    last_arrival_us: i64,
    /// Media time zero of the current stream.
    base_ts: i64,
    /// Timestamp of the frame to play next.
    play_ts: i64,
    /// One past the last frame played: a buffered packet with this number after a timestamp gap
    /// means silence, not loss.
    expected_seq: i64,
    /// Bit i set: `expected_seq - 1 - i` was played (tells a duplicate from a late packet).
    played_bits: u64,
    offset_us: i64,
    missing_run: u32,
    since_adjust: u32,
    floor_us: i64,
    peak_us: f64,
    estimated_at_us: i64,
    target_us: i64,
    counters: JitterCounters,
}

impl JitterBuffer {
    /// Allocates all storage. Nonsensical settings are clamped: clock rate and capacity at least 1,
    /// a frame at least one timestamp unit, `max_delay` at least `min_delay`.
    pub fn new(mut cfg: JitterConfig) -> JitterBuffer {
        cfg.clock_rate = cfg.clock_rate.max(1);
        cfg.capacity = cfg.capacity.max(1);
        cfg.max_delay = cfg.max_delay.max(cfg.min_delay);
        let rate = u128::from(cfg.clock_rate);
        let tpf = ((cfg.frame.as_nanos() * rate + 500_000_000) / 1_000_000_000).max(1);
        let tpf = i64::try_from(tpf).unwrap_or(i64::MAX / 4);
        let mut jb = JitterBuffer {
            cfg,
            tpf,
            frame_us: 0,
            slots: vec![Slot::default(); cfg.capacity],
            data: vec![0; cfg.capacity * cfg.max_payload],
            count: 0,
            state: State::Empty,
            epoch: None,
            last_seq: 0,
            last_ts: 0,
            last_ext_seq: 0,
            last_ext_ts: 0,
            last_arrival_us: 0,
            base_ts: 0,
            play_ts: 0,
            expected_seq: 0,
            played_bits: 0,
            offset_us: 0,
            missing_run: 0,
            since_adjust: 0,
            floor_us: 0,
            peak_us: 0.0,
            estimated_at_us: 0,
            target_us: duration_us(cfg.min_delay),
            counters: JitterCounters::default(),
        };
        // Derived from the timestamp step, so a frame of media and a frame of wall time agree exactly.
        jb.frame_us = jb.media_us(tpf);
        jb
    }

    pub fn config(&self) -> &JitterConfig {
        &self.cfg
    }

    pub fn counters(&self) -> &JitterCounters {
        &self.counters
    }

    /// The delay the buffer aims for, from the jitter observed.
    pub fn target_delay(&self) -> Duration {
        us_duration(self.target_us)
    }

    /// The delay the schedule currently gives a packet with the smallest recent transit.
    pub fn current_delay(&self) -> Duration {
        match self.state {
            State::Playing => us_duration(self.offset_us - self.floor_us),
            _ => Duration::ZERO,
        }
    }

    /// Frames held.
    pub fn buffered(&self) -> usize {
        self.count
    }

    /// When the next frame is due, if a schedule runs; `None` means wait for a packet.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let epoch = self.epoch?;
        (self.state == State::Playing).then(|| epoch + us_duration(self.due_us()))
    }

    /// Forgets the stream (call on an SSRC change); counters and the jitter estimate are kept.
    pub fn reset(&mut self) {
        self.flush();
        self.state = State::Empty;
    }

    /// Takes one packet. The payload is copied; nothing is allocated.
    pub fn push(&mut self, seq: u16, timestamp: u32, arrival: Instant, payload: &[u8]) -> Pushed {
        if payload.len() > self.cfg.max_payload {
            self.counters.dropped += 1;
            return Pushed::Oversize;
        }
        let arrival_us = self.elapsed_us(arrival);
        if self.state == State::Empty {
            self.start_stream(seq, timestamp, arrival_us);
            self.store(self.last_ext_seq, self.last_ext_ts, seq, timestamp, payload);
            self.anchor(self.last_ext_seq, self.last_ext_ts, arrival_us, 0);
            return Pushed::Buffered;
        }
        let ext_seq = self.last_ext_seq + i64::from(seq.wrapping_sub(self.last_seq) as i16);
        let dts = i64::from(timestamp.wrapping_sub(self.last_ts) as i32);
        let ext_ts = self.last_ext_ts + dts;
        let disagreement = (self.media_us(dts) - (arrival_us - self.last_arrival_us)).abs();
        let ahead = ext_seq - self.expected_seq >= self.cfg.capacity as i64;
        // A frame not yet due whose number was already passed: only a renumbered stream does that.
        let renumbered = ext_ts >= self.play_ts && ext_seq < self.expected_seq;
        if disagreement > duration_us(RESYNC_AFTER) || ahead || renumbered {
            self.counters.resyncs += 1;
            self.flush();
            self.start_stream(seq, timestamp, arrival_us);
            self.store(self.last_ext_seq, self.last_ext_ts, seq, timestamp, payload);
            self.anchor(self.last_ext_seq, self.last_ext_ts, arrival_us, 0);
            return Pushed::Resynced;
        }
        if ext_seq > self.last_ext_seq {
            (self.last_seq, self.last_ts) = (seq, timestamp);
            (self.last_ext_seq, self.last_ext_ts) = (ext_seq, ext_ts);
            self.last_arrival_us = arrival_us;
        }
        if ext_ts < self.play_ts {
            let back = self.expected_seq - 1 - ext_seq;
            let bit = u32::try_from(back).ok().and_then(|b| 1u64.checked_shl(b));
            if bit.is_some_and(|b| self.played_bits & b != 0) {
                self.counters.duplicates += 1;
                return Pushed::Duplicate;
            }
            // Late packets still teach the estimator: they are the evidence the delay is too short.
            self.observe(ext_ts, arrival_us);
            self.counters.late += 1;
            return Pushed::Late;
        }
        if self
            .slots
            .get(self.slot_index(ext_seq))
            .is_some_and(|s| s.used && s.ext_seq == ext_seq)
        {
            self.counters.duplicates += 1;
            return Pushed::Duplicate;
        }
        let jitter = self.observe(ext_ts, arrival_us);
        self.store(ext_seq, ext_ts, seq, timestamp, payload);
        if self.state == State::Idle {
            self.anchor(ext_seq, ext_ts, arrival_us, jitter);
        }
        Pushed::Buffered
    }

    /// What to play for the frame time due at or before `now`. Call it once per frame time (at
    /// [`poll_timeout`](Self::poll_timeout), or on the decoder's own frame clock); each call that
    /// does not answer `NotReady` consumes one frame time.
    pub fn pop(&mut self, now: Instant) -> Playout<'_> {
        if self.state != State::Playing || self.elapsed_us(now) < self.due_us() {
            return Playout::NotReady;
        }
        self.since_adjust = self.since_adjust.saturating_add(1);
        let current = self.offset_us - self.floor_us;
        let Some(mut i) = self.earliest() else {
            if self.missing_run < self.cfg.max_conceal {
                self.missing_run += 1;
                self.play_ts += self.tpf;
                self.counters.concealed += 1;
                return Playout::Missing;
            }
            self.state = State::Idle;
            return Playout::NotReady;
        };
        let Slot {
            ext_seq, ext_ts, ..
        } = self.slots[i];
        // The floor creeps up between low-transit packets, so `current` wobbles by a little:
        // without slack either way that wobble alone would add and remove frames.
        let slack = self.frame_us / 4;
        let too_short = current < self.target_us - slack;
        let too_long = current >= self.target_us + self.frame_us + slack;
        if ext_ts >= self.play_ts + self.tpf {
            if ext_seq != self.expected_seq {
                self.play_ts += self.tpf;
                self.counters.concealed += 1;
                return Playout::Missing;
            }
            // Silence: the cheapest place to adapt, one frame per frame time.
            self.missing_run = 0;
            if too_short {
                self.offset_us += self.frame_us;
                self.counters.expanded += 1;
            } else if too_long && self.play_ts + 2 * self.tpf <= ext_ts {
                self.play_ts += 2 * self.tpf;
                self.offset_us -= self.frame_us;
                self.counters.compressed += 1;
            } else {
                self.play_ts += self.tpf;
            }
            return Playout::Silence;
        }
        if too_short && self.since_adjust > GROW_SPACING {
            self.since_adjust = 0;
            self.offset_us += self.frame_us;
            self.counters.expanded += 1;
            return Playout::Missing;
        }
        if too_long && self.since_adjust > SHRINK_SPACING {
            let next = self.slot_index(ext_seq + 1);
            if self.slots.get(next).is_some_and(|s| {
                s.used && s.ext_seq == ext_seq + 1 && s.ext_ts < ext_ts + 2 * self.tpf
            }) {
                // Drop this frame and play the next in its place, keeping the wall-clock tick.
                let due = self.due_us();
                self.release(i);
                self.counters.compressed += 1;
                self.since_adjust = 0;
                i = next;
                let next_ts = self.slots[i].ext_ts;
                self.offset_us = due - self.media_us(next_ts - self.base_ts);
            }
        }
        let slot = self.slots[i];
        self.release(i);
        self.play_ts = slot.ext_ts + self.tpf;
        let shift = slot.ext_seq - (self.expected_seq - 1);
        let shifted = u32::try_from(shift)
            .ok()
            .and_then(|s| self.played_bits.checked_shl(s));
        self.played_bits = shifted.unwrap_or(0) | 1;
        self.expected_seq = slot.ext_seq + 1;
        self.missing_run = 0;
        self.counters.played += 1;
        let start = i * self.cfg.max_payload;
        Playout::Frame {
            seq: slot.seq,
            timestamp: slot.ts,
            payload: self.data.get(start..start + slot.len).unwrap_or_default(),
        }
    }

    /// Buffered slot with the lowest sequence number; every buffered one is at or after
    /// `expected_seq` and within `capacity` of it, so a forward scan finds it.
    fn earliest(&mut self) -> Option<usize> {
        for k in 0..self.cfg.capacity as i64 {
            let i = self.slot_index(self.expected_seq + k);
            let slot = self.slots.get(i)?;
            if !slot.used || slot.ext_seq != self.expected_seq + k {
                continue;
            }
            if slot.ext_ts < self.play_ts {
                // Reachable only with timestamps out of step with sequence numbers.
                self.release(i);
                self.counters.late += 1;
                continue;
            }
            return Some(i);
        }
        None
    }

    fn slot_index(&self, ext_seq: i64) -> usize {
        ext_seq.rem_euclid(self.cfg.capacity as i64) as usize
    }

    fn store(&mut self, ext_seq: i64, ext_ts: i64, seq: u16, ts: u32, payload: &[u8]) {
        let i = self.slot_index(ext_seq);
        let start = i * self.cfg.max_payload;
        let (Some(slot), Some(dst)) = (
            self.slots.get_mut(i),
            self.data.get_mut(start..start + payload.len()),
        ) else {
            return;
        };
        if !slot.used {
            self.count += 1;
        }
        dst.copy_from_slice(payload);
        *slot = Slot {
            used: true,
            ext_seq,
            ext_ts,
            seq,
            ts,
            len: payload.len(),
        };
        self.counters.buffered += 1;
    }

    fn release(&mut self, i: usize) {
        if let Some(slot) = self.slots.get_mut(i).filter(|s| s.used) {
            slot.used = false;
            self.count -= 1;
        }
    }

    fn flush(&mut self) {
        self.counters.dropped += self.count as u64;
        self.slots.iter_mut().for_each(|s| s.used = false);
        self.count = 0;
    }

    /// Takes this packet as the start of a stream: new extension bases and a fresh floor.
    fn start_stream(&mut self, seq: u16, ts: u32, arrival_us: i64) {
        (self.last_seq, self.last_ts) = (seq, ts);
        (self.last_ext_seq, self.last_ext_ts) = (i64::from(seq), i64::from(ts));
        self.last_arrival_us = arrival_us;
        self.base_ts = i64::from(ts);
        self.floor_us = arrival_us;
        self.estimated_at_us = arrival_us;
        self.played_bits = 0;
    }

    /// Schedules playout to start with this packet, due when a packet with the floor's transit
    /// would have waited the target delay.
    fn anchor(&mut self, ext_seq: i64, ext_ts: i64, arrival_us: i64, jitter_us: i64) {
        self.state = State::Playing;
        self.play_ts = ext_ts;
        self.expected_seq = ext_seq;
        self.played_bits = 0;
        let due = arrival_us + (self.target_us - jitter_us).max(0);
        self.offset_us = due - self.media_us(ext_ts - self.base_ts);
        self.missing_run = 0;
        self.since_adjust = 0;
    }

    /// Updates floor, peak and target from one packet; returns its jitter (transit above the floor).
    fn observe(&mut self, ext_ts: i64, arrival_us: i64) -> i64 {
        let transit = arrival_us - self.media_us(ext_ts - self.base_ts);
        let dt = (arrival_us - self.estimated_at_us).max(0);
        self.estimated_at_us = self.estimated_at_us.max(arrival_us);
        self.floor_us = (self.floor_us + dt * FLOOR_CREEP_PER_SEC_US / 1_000_000).min(transit);
        let jitter = transit - self.floor_us;
        let half_lives = dt as f64 / PEAK_HALF_LIFE.as_micros() as f64;
        self.peak_us =
            (self.peak_us * (-half_lives * std::f64::consts::LN_2).exp()).max(jitter as f64);
        let min = duration_us(self.cfg.min_delay);
        let max = duration_us(self.cfg.max_delay);
        self.target_us = (self.peak_us.ceil() as i64).clamp(min, max);
        jitter
    }

    fn due_us(&self) -> i64 {
        self.media_us(self.play_ts - self.base_ts) + self.offset_us
    }

    /// Timestamp units to µs.
    fn media_us(&self, units: i64) -> i64 {
        let us = i128::from(units) * 1_000_000 / i128::from(self.cfg.clock_rate);
        us.clamp(i128::from(i64::MIN / 4), i128::from(i64::MAX / 4)) as i64
    }

    fn elapsed_us(&mut self, t: Instant) -> i64 {
        let epoch = *self.epoch.get_or_insert(t);
        duration_us(t.saturating_duration_since(epoch))
    }
}

fn duration_us(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 4)
}

fn us_duration(us: i64) -> Duration {
    Duration::from_micros(us.max(0) as u64)
}
