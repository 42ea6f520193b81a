//! Call recording on a simulated clock: frames from both sides arrive at `t0` plus a duration, and
//! the WAV bytes that come out are read back with the crate's own reader.

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use switchboard_media::recording::{Direction, Layout, Recorder, HOLD};
use switchboard_media::wav::{self, ReadOptions, WavAudio};

/// Counts this thread's heap allocations, to show pushing and polling make none.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

const FRAME: Duration = Duration::from_millis(20);
const AMP: f64 = 8000.0;

/// Samples `first..first + n` of a continuous tone.
fn tone(freq: f64, rate: u32, first: usize, n: usize) -> Vec<i16> {
    (first..first + n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            (AMP * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
        })
        .collect()
}

fn amplitude(x: &[i16], freq: f64, rate: u32) -> f64 {
    switchboard_media::tone::tone_amplitude(x, freq, f64::from(rate))
}

fn db(a: f64) -> f64 {
    20.0 * (a / AMP).log10()
}

/// One side of a call: a tone at a leg rate, and which 20 ms frames it sends.
struct Talker {
    direction: Direction,
    rate: u32,
    freq: f64,
    sends: fn(u32) -> bool,
}

/// Records `ticks` frames of the talkers, frame k of each arriving at t0 + (k+1)·20 ms (when its last
/// sample has been spoken), polling after every push; returns the file with its header patched.
fn record(rate: u32, layout: Layout, talkers: &[Talker], ticks: u32) -> Vec<u8> {
    let t0 = Instant::now();
    let mut rec = Recorder::new(rate, layout).expect("recorder");
    rec.start(t0);
    let mut file = Vec::new();
    for k in 0..ticks {
        let now = t0 + FRAME * (k + 1);
        for t in talkers.iter().filter(|t| (t.sends)(k)) {
            let n = (t.rate / 50) as usize;
            let frame = tone(t.freq, t.rate, k as usize * n, n);
            rec.push(t.direction, t.rate, &frame, now).expect("push");
        }
        rec.poll_output(&mut file);
        // Output never trails the clock by much more than HOLD.
        let trail = (FRAME * (k + 1)).saturating_sub(rec.duration());
        assert!(
            trail <= HOLD + FRAME,
            "output trails by {trail:?} at frame {k}"
        );
    }
    let fin = rec.finish(t0 + FRAME * ticks, &mut file).expect("started");
    assert_eq!(fin.total_len, file.len() as u64);
    assert_eq!(rec.dropped_samples(), 0);
    file[..fin.header.len()].copy_from_slice(&fin.header);
    file
}

fn read(file: &[u8]) -> WavAudio {
    let options = ReadOptions {
        downmix: false,
        ..ReadOptions::default()
    };
    wav::read_with(file, &options).expect("the recorder's WAV reads back")
}

fn channel(a: &WavAudio, c: usize) -> Vec<i16> {
    a.samples.iter().skip(c).step_by(2).copied().collect()
}

fn always(_: u32) -> bool {
    true
}

const CALLER: Talker = Talker {
    direction: Direction::Caller,
    rate: 8000,
    freq: 600.0,
    sends: always,
};
const CALLEE: Talker = Talker {
    direction: Direction::Callee,
    rate: 48000,
    freq: 1400.0,
    sends: always,
};

#[test]
fn stereo_keeps_each_side_in_its_channel() {
    let file = record(16000, Layout::Stereo, &[CALLER, CALLEE], 50);
    let a = read(&file);
    assert_eq!((a.rate, a.channels, a.samples.len()), (16000, 2, 32000));
    let (left, right) = (channel(&a, 0), channel(&a, 1));
    assert!(db(amplitude(&left, 600.0, 16000)).abs() < 0.5);
    assert!(db(amplitude(&right, 1400.0, 16000)).abs() < 0.5);
    assert!(db(amplitude(&left, 1400.0, 16000)) < -60.0);
    assert!(db(amplitude(&right, 600.0, 16000)) < -60.0);
}

#[test]
fn mixed_mono_holds_both_sides() {
    let file = record(8000, Layout::Mixed, &[CALLER, CALLEE], 50);
    let a = read(&file);
    assert_eq!((a.rate, a.channels, a.samples.len()), (8000, 1, 8000));
    assert!(db(amplitude(&a.samples, 600.0, 8000)).abs() < 0.5);
    assert!(db(amplitude(&a.samples, 1400.0, 8000)).abs() < 0.5);
}

#[test]
fn a_gap_on_one_side_is_silence_and_shifts_nothing() {
    // The callee is silent from 1 s to 3 s (DTX, hold); the call lasts 4 s.
    let callee = Talker {
        sends: |k| !(50..150).contains(&k),
        ..CALLEE
    };
    let file = record(16000, Layout::Stereo, &[CALLER, callee], 200);
    let a = read(&file);
    assert_eq!(a.samples.len(), 2 * 64000, "4 s of stereo at 16 kHz");
    let (left, right) = (channel(&a, 0), channel(&a, 1));
    assert!(
        right[16000..48000].iter().all(|&s| s == 0),
        "gap not silent"
    );
    // Both sides sit exactly where their tones were spoken: compare with the ideal tones on the
    // recording's timeline (2 ms at either end of a stretch are the filters' ramps from and into the
    // silence around it).
    let close = |got: &[i16], ideal: &[i16]| {
        got.iter()
            .zip(ideal)
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
            .max()
            .unwrap_or(0)
    };
    let ideal_left = tone(600.0, 16000, 0, 64000);
    let ideal_right = tone(1400.0, 16000, 0, 64000);
    assert!(
        close(&left[32..63968], &ideal_left[32..63968]) < 40,
        "caller shifted"
    );
    assert!(
        close(&right[32..15968], &ideal_right[32..15968]) < 40,
        "callee before the gap"
    );
    assert!(
        close(&right[48032..63968], &ideal_right[48032..63968]) < 40,
        "callee shifted by the gap"
    );
}

#[test]
fn jitter_is_not_a_gap() {
    // The caller's frames arrive three at a time, every 60 ms: no silence may be inserted.
    let t0 = Instant::now();
    let mut rec = Recorder::new(8000, Layout::Stereo).expect("recorder");
    rec.start(t0);
    let mut file = Vec::new();
    for k in 0..150u32 {
        let arrival = t0 + FRAME * ((k / 3) * 3 + 3);
        rec.push(
            Direction::Caller,
            8000,
            &tone(600.0, 8000, k as usize * 160, 160),
            arrival,
        )
        .expect("push");
        rec.push(
            Direction::Callee,
            8000,
            &tone(1400.0, 8000, k as usize * 160, 160),
            t0 + FRAME * (k + 1),
        )
        .expect("push");
        rec.poll_output(&mut file);
    }
    let fin = rec.finish(t0 + FRAME * 150, &mut file).expect("started");
    file[..fin.header.len()].copy_from_slice(&fin.header);
    let a = read(&file);
    assert_eq!(channel(&a, 0), tone(600.0, 8000, 0, 24000));
    assert_eq!(channel(&a, 1), tone(1400.0, 8000, 0, 24000));
}

#[test]
fn one_silent_side_and_the_duration() {
    // Only the callee ever speaks; the caller's channel is silence and output still flows.
    let callee = Talker {
        rate: 8000,
        ..CALLEE
    };
    let file = record(8000, Layout::Stereo, &[callee], 100);
    let a = read(&file);
    assert_eq!(a.samples.len(), 2 * 16000);
    assert!(channel(&a, 0).iter().all(|&s| s == 0));
    assert_eq!(channel(&a, 1), tone(1400.0, 8000, 0, 16000));
}

#[test]
fn start_and_stop_on_command() {
    let t0 = Instant::now();
    let mut rec = Recorder::new(8000, Layout::Mixed).expect("recorder");
    let mut out = Vec::new();
    // Before start: nothing is taken, nothing comes out, there is nothing to finish.
    rec.push(Direction::Caller, 8000, &[1000; 160], t0)
        .expect("push");
    assert_eq!(rec.poll_output(&mut out), 0);
    assert!(!rec.is_recording());
    // Started at 1 s into the call, stopped at 1.5 s: half a second of file.
    let start = t0 + Duration::from_secs(1);
    rec.start(start);
    assert!(rec.is_recording());
    assert_eq!(rec.poll_output(&mut out), 44, "the header comes first");
    for k in 1..=25u32 {
        rec.push(Direction::Caller, 8000, &[1000; 160], start + FRAME * k)
            .expect("push");
        rec.push(Direction::Callee, 8000, &[-400; 160], start + FRAME * k)
            .expect("push");
        rec.poll_output(&mut out);
    }
    rec.stop(start + Duration::from_millis(500));
    rec.push(Direction::Caller, 8000, &[1000; 160], start + FRAME * 26)
        .expect("ignored");
    let fin = rec
        .finish(start + Duration::from_secs(9), &mut out)
        .expect("started");
    assert!(!rec.is_recording());
    out[..44].copy_from_slice(&fin.header);
    let a = wav::read(&out).expect("reads");
    assert_eq!(a.samples, vec![600; 4000]);
    assert_eq!(rec.duration(), Duration::from_millis(500));
    assert!(Recorder::new(8000, Layout::Mixed)
        .expect("recorder")
        .finish(t0, &mut out)
        .is_none());
}

#[test]
fn mixing_saturates() {
    let t0 = Instant::now();
    let mut rec = Recorder::new(8000, Layout::Mixed).expect("recorder");
    rec.start(t0);
    let mut out = Vec::new();
    rec.push(Direction::Caller, 8000, &[30000; 160], t0 + FRAME)
        .expect("push");
    rec.push(Direction::Callee, 8000, &[20000; 160], t0 + FRAME)
        .expect("push");
    let fin = rec.finish(t0 + FRAME, &mut out).expect("started");
    out[..44].copy_from_slice(&fin.header);
    assert_eq!(wav::read(&out).expect("reads").samples, vec![i16::MAX; 160]);
}

#[test]
fn memory_stays_bounded_when_a_side_floods() {
    // Two seconds of audio pushed in one go cannot be ahead of the clock: the excess is dropped, not
    // buffered, and what is kept still lines up.
    let t0 = Instant::now();
    let mut rec = Recorder::new(8000, Layout::Stereo).expect("recorder");
    rec.start(t0);
    let mut out = Vec::new();
    rec.push(
        Direction::Caller,
        8000,
        &tone(600.0, 8000, 0, 16000),
        t0 + FRAME,
    )
    .expect("push");
    assert!(
        rec.dropped_samples() >= 16000 - 4000,
        "dropped {}",
        rec.dropped_samples()
    );
    let fin = rec
        .finish(t0 + Duration::from_secs(1), &mut out)
        .expect("started");
    out[..44].copy_from_slice(&fin.header);
    assert_eq!(read(&out).samples.len(), 2 * 8000);
}

#[test]
fn pushing_and_polling_do_not_allocate() {
    let t0 = Instant::now();
    for layout in [Layout::Mixed, Layout::Stereo] {
        let mut rec = Recorder::new(16000, layout).expect("recorder");
        rec.start(t0);
        let caller: Vec<Vec<i16>> = (0..300).map(|k| tone(600.0, 8000, k * 160, 160)).collect();
        let callee: Vec<Vec<i16>> = (0..300)
            .map(|k| tone(1400.0, 48000, k * 960, 960))
            .collect();
        let mut out = Vec::with_capacity(1 << 16);
        let mut before = 0;
        let mut total = 0;
        for k in 0..300u32 {
            // The first frames create each side's converter: that is setup.
            if k == 5 {
                before = allocations();
            }
            let now = t0 + FRAME * (k + 1);
            // The callee goes quiet for a while, so gap filling and flushing are exercised too.
            if !(100..180).contains(&k) {
                rec.push(Direction::Callee, 48000, &callee[k as usize], now)
                    .expect("push");
            }
            rec.push(Direction::Caller, 8000, &caller[k as usize], now)
                .expect("push");
            out.clear();
            total += rec.poll_output(&mut out);
        }
        assert_eq!(allocations() - before, 0, "{layout:?} allocated");
        assert!(total > 0);
    }
}
