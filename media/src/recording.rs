//! Call recording: decoded audio from both directions of a call in, WAV bytes out, with no file in
//! sight. The shell writes what [`Recorder::poll_output`] hands it, and at the end the header from
//! [`Recorder::finish`] at offset 0.
//!
//! Both directions are laid on one timeline that starts at [`Recorder::start`]: a frame lands where
//! its arrival time says, so a side that goes quiet (silence suppression, hold, packet loss) leaves
//! silence in its own channel instead of pulling the rest of its audio earlier against the other side.
//! Jitter is not a gap: a frame within [`GAP_TOLERANCE`] of where its side left off is appended
//! directly.
//!
//! Memory is bounded by a ring of [`RING`] per side. Audio is written out once both sides have
//! reached a point, or once a side is [`HOLD`] behind the clock (its missing audio is then silence),
//! so output trails the call by at most `HOLD`.

use std::time::{Duration, Instant};

use crate::resample::Resampler;
use crate::wav::{WavFinish, WavWriter};
use crate::MediaError;

/// How long a silent side is waited for before its stretch of the timeline is written as silence.
/// Above any sane jitter buffer's depth, so a late side is not cut.
pub const HOLD: Duration = Duration::from_millis(200);
/// A frame starting further than this past where its side left off marks a gap, filled with silence.
pub const GAP_TOLERANCE: Duration = Duration::from_millis(60);
/// How far a side may run ahead of the clock (a burst after a stall) before its excess is dropped.
pub const AHEAD: Duration = Duration::from_millis(200);
/// Ring length per side: `HOLD` + `AHEAD` + room for the frames between two polls.
pub const RING: Duration = Duration::from_millis(500);

/// Which party a frame came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The party who placed the call (left channel).
    Caller,
    /// The party who was called (right channel).
    Callee,
}

/// The recording's channel layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Both sides summed (with saturation) into one channel.
    Mixed,
    /// Caller left, callee right.
    Stereo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Recording { start: Instant },
    Stopped,
}

#[derive(Debug)]
struct Side {
    ring: Box<[i16]>,
    /// Timeline position (samples since start) just past the last sample written.
    cursor: u64,
    /// Present while this side arrives at another rate than the recording's.
    resampler: Option<Resampler>,
}

impl Side {
    /// Writes `samples` (or, for `None`, silence up to `upto`) at the cursor, never past `limit`;
    /// returns the samples dropped for want of room.
    fn put(&mut self, samples: Option<&[i16]>, upto: u64, limit: u64) -> u64 {
        let cap = self.ring.len() as u64;
        let wanted = samples.map_or(upto.saturating_sub(self.cursor), |s| s.len() as u64);
        let room = limit.saturating_sub(self.cursor);
        let n = wanted.min(room);
        for i in 0..n {
            let v = samples
                .and_then(|s| s.get(i as usize))
                .copied()
                .unwrap_or(0);
            if let Some(slot) = self.ring.get_mut(((self.cursor + i) % cap) as usize) {
                *slot = v;
            }
        }
        self.cursor += n;
        wanted - n
    }

    /// The sample at `pos`; past the cursor (only read once stopped) the side is silent.
    fn at(&self, pos: u64) -> i16 {
        if pos >= self.cursor {
            return 0;
        }
        let cap = self.ring.len() as u64;
        self.ring.get((pos % cap) as usize).copied().unwrap_or(0)
    }
}

/// Records one call, mixed or two-channel, at 8000 or 16000 Hz (any rate 8000–48000 works).
#[derive(Debug)]
pub struct Recorder {
    rate: u32,
    layout: Layout,
    state: State,
    sides: [Side; 2],
    /// Timeline position up to which audio has been handed out.
    emitted: u64,
    /// Where the timeline ends, once stopped.
    end: Option<u64>,
    writer: WavWriter,
    header_sent: bool,
    scratch: Vec<i16>,
    dropped: u64,
}

impl Recorder {
    pub fn new(rate: u32, layout: Layout) -> Result<Recorder, MediaError> {
        let channels = match layout {
            Layout::Mixed => 1,
            Layout::Stereo => 2,
        };
        let writer = WavWriter::new(rate, channels)?;
        let ring = samples_in(RING, rate) as usize;
        let side = || Side {
            ring: vec![0; ring].into_boxed_slice(),
            cursor: 0,
            resampler: None,
        };
        Ok(Recorder {
            rate,
            layout,
            state: State::Idle,
            sides: [side(), side()],
            emitted: 0,
            end: None,
            writer,
            header_sent: false,
            // Room for 120 ms frames from a 48 kHz leg, the largest Opus frame.
            scratch: Vec::with_capacity(samples_in(Duration::from_millis(150), rate) as usize),
            dropped: 0,
        })
    }

    /// Starts the timeline at `now`. Frames pushed before are ignored; a stopped recorder stays
    /// stopped (a new recording is a new file, so a new `Recorder`).
    pub fn start(&mut self, now: Instant) {
        if self.state == State::Idle {
            self.state = State::Recording { start: now };
        }
    }

    pub fn is_recording(&self) -> bool {
        matches!(self.state, State::Recording { .. })
    }

    /// One decoded frame from `direction`, at `rate` Hz, that arrived at `now` (taken as the time of
    /// its last sample). Ignored unless recording. Allocates only when a side's rate changes.
    pub fn push(
        &mut self,
        direction: Direction,
        rate: u32,
        samples: &[i16],
        now: Instant,
    ) -> Result<(), MediaError> {
        let State::Recording { start } = self.state else {
            return Ok(());
        };
        let now_pos = self.position(start, now);
        let limit = self.limit(now_pos);
        let rec_rate = self.rate;
        let side = &mut self.sides[direction as usize];
        let scratch = &mut self.scratch;
        let mut dropped = 0;
        let wanted = (rate != rec_rate).then_some(rate);
        if side.resampler.as_ref().map(Resampler::from_rate) != wanted {
            let next = match wanted {
                Some(rate) => Some(Resampler::new(rate, rec_rate)?),
                None => None,
            };
            if let Some(mut old) = std::mem::replace(&mut side.resampler, next) {
                scratch.clear();
                old.flush(scratch);
                dropped += side.put(Some(scratch), 0, limit);
            }
        }
        let converted = samples.len() as u64 * u64::from(rec_rate) / u64::from(rate);
        let begins = now_pos.saturating_sub(converted);
        if begins > side.cursor + samples_in(GAP_TOLERANCE, rec_rate) {
            // The side was silent: end its converter's stream where it stopped, then pad to here.
            scratch.clear();
            if let Some(r) = side.resampler.as_mut() {
                r.flush(scratch);
            }
            dropped += side.put(Some(scratch), 0, limit);
            dropped += side.put(None, begins, limit);
        }
        scratch.clear();
        match side.resampler.as_mut() {
            Some(r) => r.process(samples, scratch),
            None => scratch.extend_from_slice(samples),
        }
        dropped += side.put(Some(scratch), 0, limit);
        // The other side (if quiet) is written as silence up to HOLD ago, so output can advance.
        let behind = now_pos.saturating_sub(samples_in(HOLD, rec_rate));
        for side in &mut self.sides {
            if side.cursor < behind {
                scratch.clear();
                if let Some(r) = side.resampler.as_mut() {
                    r.flush(scratch);
                }
                dropped += side.put(Some(scratch), 0, limit);
                dropped += side.put(None, behind, limit);
            }
        }
        self.dropped += dropped;
        Ok(())
    }

    /// Ends the timeline at `now` (or at the furthest audio already pushed, if later); the sides are
    /// silent from where each left off to that point. Nothing is accepted afterwards.
    pub fn stop(&mut self, now: Instant) {
        let State::Recording { start } = self.state else {
            return;
        };
        let now_pos = self.position(start, now);
        let limit = self.limit(now_pos);
        let mut dropped = 0;
        for side in &mut self.sides {
            if let Some(r) = side.resampler.as_mut() {
                self.scratch.clear();
                r.flush(&mut self.scratch);
                dropped += side.put(Some(&self.scratch), 0, limit);
            }
        }
        let furthest = self.sides.iter().map(|s| s.cursor).max().unwrap_or(0);
        self.dropped += dropped;
        // The silence up to the end is not stored: past its cursor a stopped side reads as zeros, so
        // a long stretch of it needs no ring room.
        self.end = Some(now_pos.max(furthest));
        self.state = State::Stopped;
    }

    /// Appends the WAV bytes ready so far to `out` (the header first) and returns how many. Call it
    /// after every push: audio not taken within [`RING`] is dropped rather than buffered without bound.
    pub fn poll_output(&mut self, out: &mut Vec<u8>) -> usize {
        if self.state == State::Idle {
            return 0;
        }
        let before = out.len();
        if !self.header_sent {
            out.extend_from_slice(&self.writer.header());
            self.header_sent = true;
        }
        let target = self
            .end
            .unwrap_or_else(|| self.sides[0].cursor.min(self.sides[1].cursor));
        let mut block = [0i16; 512];
        while self.emitted < target {
            let frames = match self.layout {
                Layout::Mixed => block.len(),
                Layout::Stereo => block.len() / 2,
            };
            let n = (target - self.emitted).min(frames as u64) as usize;
            for (i, pos) in (self.emitted..self.emitted + n as u64).enumerate() {
                let (l, r) = (self.sides[0].at(pos), self.sides[1].at(pos));
                match self.layout {
                    Layout::Mixed => block[i] = l.saturating_add(r),
                    Layout::Stereo => {
                        block[2 * i] = l;
                        block[2 * i + 1] = r;
                    }
                }
            }
            let used = match self.layout {
                Layout::Mixed => n,
                Layout::Stereo => 2 * n,
            };
            self.writer.write_samples(&block[..used], out);
            self.emitted += n as u64;
        }
        out.len() - before
    }

    /// Stops (at `now`) if still recording, appends the remaining bytes to `out`, and returns the
    /// final header to write at offset 0; `None` if the recording never started.
    pub fn finish(&mut self, now: Instant, out: &mut Vec<u8>) -> Option<WavFinish> {
        if self.state == State::Idle {
            return None;
        }
        self.stop(now);
        self.poll_output(out);
        Some(self.writer.finish())
    }

    /// Duration handed out so far.
    pub fn duration(&self) -> Duration {
        let nanos = u128::from(self.emitted) * 1_000_000_000 / u128::from(self.rate);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Samples dropped because the shell fell behind or a side ran too far ahead of the clock.
    pub fn dropped_samples(&self) -> u64 {
        self.dropped
    }

    fn position(&self, start: Instant, now: Instant) -> u64 {
        let nanos = now.saturating_duration_since(start).as_nanos();
        u64::try_from(nanos * u128::from(self.rate) / 1_000_000_000).unwrap_or(u64::MAX)
    }

    /// The furthest timeline position a side may be written to: inside the ring, and not further
    /// ahead of the clock than [`AHEAD`].
    fn limit(&self, now_pos: u64) -> u64 {
        let ring = self.emitted + self.sides[0].ring.len() as u64;
        ring.min(now_pos + samples_in(AHEAD, self.rate))
    }
}

fn samples_in(d: Duration, rate: u32) -> u64 {
    (d.as_nanos() * u128::from(rate) / 1_000_000_000) as u64
}
