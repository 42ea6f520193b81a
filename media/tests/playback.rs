//! Prompt playback on a simulated clock: every `Instant` is `t0` plus a duration, so timing is exact.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use switchboard_media::g711;
use switchboard_media::playback::{
    encode_g711, G711Law, PlayMode, PlaybackEvent, Player, Playlist, Prompt, FRAME,
};
use switchboard_media::wav::WavWriter;
use switchboard_media::MediaError;

/// Counts this thread's heap allocations, to show the per-frame path makes none.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

fn tone(freq: f64, rate: u32, amplitude: f64, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            (amplitude * (2.0 * std::f64::consts::PI * freq * t).sin()).round() as i16
        })
        .collect()
}

fn amplitude(x: &[i16], freq: f64, rate: u32) -> f64 {
    switchboard_media::tone::tone_amplitude(x, freq, f64::from(rate))
}

fn db(ratio: f64) -> f64 {
    20.0 * ratio.log10()
}

fn tick(t0: Instant, n: u32) -> Instant {
    t0 + FRAME * n
}

/// Drives `player` at every 20 ms tick up to `ticks`, returning the frames and the events with the
/// tick they appeared at.
fn run(player: &mut Player, t0: Instant, ticks: u32) -> (Vec<Vec<i16>>, Vec<(u32, PlaybackEvent)>) {
    let mut frames = Vec::new();
    let mut events = Vec::new();
    for n in 0..ticks {
        while let Some(f) = player.poll_frame(tick(t0, n)) {
            frames.push(f.to_vec());
        }
        while let Some(e) = player.poll_event() {
            events.push((n, e));
        }
    }
    (frames, events)
}

const DONE: PlaybackEvent = PlaybackEvent::Finished {
    interrupted_by: None,
};

#[test]
fn one_second_16k_prompt_gives_fifty_8k_frames_then_finished() {
    let t0 = Instant::now();
    let prompt = Prompt::new(tone(1000.0, 16000, 8000.0, 16000), 16000).expect("16 kHz");
    assert_eq!(prompt.duration(), Duration::from_secs(1));
    let mut p = Player::new(prompt, 8000, PlayMode::Once, false, t0).expect("player");
    assert_eq!(p.frame_len(), 160);
    assert_eq!(p.poll_timeout(), Some(t0));
    let (frames, events) = run(&mut p, t0, 70);
    assert_eq!(frames.len(), 50);
    assert!(frames.iter().all(|f| f.len() == 160));
    // Finished when the last frame has played out: at 1.000 s, not before, and once.
    assert_eq!(events, [(50, DONE)]);
    assert_eq!(p.poll_timeout(), None);
    assert!(p.is_finished());
    let all: Vec<i16> = frames.concat();
    assert!(db(amplitude(&all, 1000.0, 8000) / 8000.0).abs() < 0.2);
    // Every frame holds a full-strength tone: no fade at frame edges or at the prompt's ends.
    for (i, f) in frames.iter().enumerate() {
        let a = db(amplitude(f, 1000.0, 8000) / 8000.0);
        assert!(a.abs() < 1.0, "frame {i}: {a:.2} dB");
    }
}

#[test]
fn loop_wraps_without_a_seam() {
    let t0 = Instant::now();
    // Same rate: the output is the prompt repeated, sample for sample.
    let quarter = tone(1000.0, 8000, 6000.0, 2000);
    let prompt = Prompt::new(quarter.clone(), 8000).expect("8 kHz");
    let mut p = Player::music_on_hold(prompt, 8000, t0).expect("moh");
    let (frames, events) = run(&mut p, t0, 150);
    assert!(events.is_empty());
    assert_eq!(frames.concat(), quarter.repeat(12));

    // Through the resampler: a looped 500 Hz prompt (125 whole periods) is one continuous tone at the
    // leg's rate, with no dip or click at any wrap. The first frame is skipped: before the first
    // sample the filter sees silence, not the end of the loop.
    for leg in [8000, 48000] {
        let prompt = Prompt::new(tone(500.0, 16000, 6000.0, 4000), 16000).expect("16 kHz");
        let mut p = Player::new(prompt, leg, PlayMode::Loop, true, t0).expect("player");
        let (frames, _) = run(&mut p, t0, 100);
        let out = frames.concat();
        let ideal = tone(500.0, leg, 6000.0, out.len());
        let skip = leg as usize / 50;
        let worst = out[skip..]
            .iter()
            .zip(&ideal[skip..])
            .map(|(a, b)| (i32::from(*a) - i32::from(*b)).abs())
            .max()
            .unwrap_or(0);
        assert!(worst < 30, "{leg} Hz leg: off by {worst}");
    }
}

#[test]
fn dtmf_interrupts_only_when_allowed() {
    let t0 = Instant::now();
    let prompt = Prompt::new(tone(440.0, 8000, 5000.0, 8000), 8000).expect("8 kHz");
    let mut p = Player::new(prompt.clone(), 8000, PlayMode::Once, true, t0).expect("player");
    let (frames, events) = run(&mut p, t0, 10);
    assert_eq!((frames.len(), events.len()), (10, 0));
    assert!(p.handle_dtmf('5'));
    assert_eq!(p.poll_frame(tick(t0, 10)), None);
    assert_eq!(p.poll_timeout(), None);
    assert_eq!(
        p.poll_event(),
        Some(PlaybackEvent::Finished {
            interrupted_by: Some('5')
        })
    );
    // Exactly once, whatever follows.
    assert!(!p.handle_dtmf('6'));
    p.stop();
    assert_eq!(p.poll_event(), None);

    let mut p = Player::new(prompt.clone(), 8000, PlayMode::Once, false, t0).expect("player");
    run(&mut p, t0, 10);
    assert!(!p.handle_dtmf('5'));
    let (frames, events) = run(&mut p, t0, 60);
    assert_eq!(frames.len(), 40);
    assert_eq!(events, [(50, DONE)]);

    // Music on hold ignores digits and ends only when stopped.
    let mut moh = Player::music_on_hold(prompt, 8000, t0).expect("moh");
    run(&mut moh, t0, 200);
    assert!(!moh.handle_dtmf('#'));
    assert_eq!(moh.frames_played(), 200);
    moh.stop();
    assert_eq!(moh.poll_event(), Some(DONE));
    assert_eq!(moh.poll_event(), None);
}

#[test]
fn frames_come_when_due_and_catch_up_boundedly() {
    let t0 = Instant::now();
    // A ramp, so each frame shows where in the prompt it is.
    let ramp: Vec<i16> = (0..8000).map(|i| i as i16).collect();
    let prompt = Prompt::new(ramp.clone(), 8000).expect("8 kHz");
    let mut p = Player::new(prompt, 8000, PlayMode::Once, false, t0 + FRAME).expect("player");
    // Not before its start; one frame at the start; none until the next is due.
    assert!(p.poll_frame(t0).is_none());
    assert!(p.poll_frame(t0 + FRAME).is_some());
    assert!(p.poll_frame(t0 + FRAME).is_none());
    assert!(p.poll_frame(t0 + Duration::from_millis(39)).is_none());
    assert_eq!(p.poll_timeout(), Some(t0 + FRAME * 2));
    // 50 ms late: the two frames due, no more.
    let late = t0 + Duration::from_millis(90);
    let mut got = Vec::new();
    while let Some(f) = p.poll_frame(late) {
        got.push(f.to_vec());
    }
    assert_eq!(got.len(), 3);
    // A one-second stall: 48 frames are due, three are taken, and the schedule restarts from there.
    let stall = t0 + Duration::from_millis(1090);
    let mut burst = 0;
    while let Some(f) = p.poll_frame(stall) {
        got.push(f.to_vec());
        burst += 1;
    }
    assert_eq!(burst, 3);
    assert_eq!(p.poll_timeout(), Some(stall + FRAME));
    // Nothing was skipped: the frames continue the prompt where it stopped.
    let played: Vec<i16> = got.concat();
    assert_eq!(played, ramp[160..160 + played.len()]);
    // The rest comes one frame a tick, and the prompt ends 43 frames after the stall.
    let mut rest = 0;
    let mut finished_at = None;
    for n in 1..100 {
        let now = stall + FRAME * n;
        while p.poll_frame(now).is_some() {
            rest += 1;
        }
        if p.poll_event().is_some() {
            finished_at = Some(n);
        }
    }
    assert_eq!(1 + got.len() + rest, 50);
    assert_eq!(finished_at, Some(44));
}

#[test]
fn playlist_plays_in_order_without_gaps() {
    let t0 = Instant::now();
    let level = |v: i16, n: usize| Prompt::new(vec![v; n], 8000).expect("8 kHz");
    let list = Playlist::new([level(1000, 2000), level(2000, 240), level(3000, 800)]);
    let mut p = Player::new(list, 8000, PlayMode::Once, false, t0).expect("player");
    let (frames, events) = run(&mut p, t0, 30);
    let mut expect = vec![1000; 2000];
    expect.extend([2000; 240]);
    expect.extend([3000; 800]);
    assert_eq!(frames.concat(), expect);
    assert_eq!(events, [(19, DONE)]);

    // "Du er nummer" (16 kHz) + "3" (48 kHz) + "i køen" (8 kHz) to a G.711 leg: each in its place.
    let list = Playlist::new([
        Prompt::new(tone(500.0, 16000, 6000.0, 8000), 16000).expect("16 kHz"),
        Prompt::new(tone(1500.0, 48000, 6000.0, 14400), 48000).expect("48 kHz"),
        Prompt::new(tone(2500.0, 8000, 6000.0, 3200), 8000).expect("8 kHz"),
    ]);
    let mut p = Player::new(list, 8000, PlayMode::Once, false, t0).expect("player");
    let (frames, events) = run(&mut p, t0, 80);
    assert_eq!(frames.len(), 60);
    assert_eq!(events, [(60, DONE)]);
    let out = frames.concat();
    for (from, to, freq) in [
        (400, 3600, 500.0),
        (4400, 6000, 1500.0),
        (6800, 9200, 2500.0),
    ] {
        let window = &out[from..to];
        let here = amplitude(window, freq, 8000);
        assert!(db(here / 6000.0).abs() < 0.5, "{freq} Hz: {here}");
        for other in [500.0, 1500.0, 2500.0].into_iter().filter(|f| *f != freq) {
            assert!(
                amplitude(window, other, 8000) < 60.0,
                "{other} Hz leaks into {freq} Hz"
            );
        }
    }
}

#[test]
fn resampled_prompts_keep_their_tone_and_lose_what_cannot_pass() {
    let t0 = Instant::now();
    // 48 kHz prompt with 1 kHz speech-band tone plus 6 kHz the 8 kHz leg cannot carry.
    let a = tone(1000.0, 48000, 6000.0, 48000);
    let b = tone(6000.0, 48000, 6000.0, 48000);
    let mixed: Vec<i16> = a
        .iter()
        .zip(&b)
        .map(|(x, y)| x.saturating_add(*y))
        .collect();
    let mut p = Player::new(
        Prompt::new(mixed, 48000).expect("48 kHz"),
        8000,
        PlayMode::Once,
        false,
        t0,
    )
    .expect("player");
    let out = run(&mut p, t0, 60).0.concat();
    assert_eq!(out.len(), 8000);
    assert!(db(amplitude(&out, 1000.0, 8000) / 6000.0).abs() < 1.0);
    // 6 kHz would fold onto 2 kHz.
    assert!(db(amplitude(&out, 2000.0, 8000) / 6000.0) < -40.0);

    // And up: 8 kHz prompt to an Opus leg.
    let prompt = Prompt::new(tone(1000.0, 8000, 6000.0, 8000), 8000).expect("8 kHz");
    let mut p = Player::new(prompt, 48000, PlayMode::Once, false, t0).expect("player");
    let frames = run(&mut p, t0, 60).0;
    assert!(frames.iter().all(|f| f.len() == 960));
    let out = frames.concat();
    assert_eq!(out.len(), 48000);
    assert!(db(amplitude(&out, 1000.0, 48000) / 6000.0).abs() < 1.0);
    assert!(
        db(amplitude(&out, 7000.0, 48000) / 6000.0) < -40.0,
        "image of 1 kHz at 7 kHz"
    );
}

#[test]
fn producing_frames_does_not_allocate() {
    let t0 = Instant::now();
    let list = Playlist::new([
        Prompt::new(tone(500.0, 16000, 6000.0, 3000), 16000).expect("16 kHz"),
        Prompt::new(tone(900.0, 44100, 6000.0, 5000), 44100).expect("44.1 kHz"),
        Prompt::new(tone(700.0, 16000, 6000.0, 3000), 16000).expect("16 kHz"),
    ]);
    for leg in [8000, 48000] {
        let mut p = Player::new(list.clone(), leg, PlayMode::Loop, false, t0).expect("player");
        let mut payload = [0u8; 960];
        let before = allocations();
        let mut sum = 0i64;
        for n in 0..500 {
            while let Some(f) = p.poll_frame(tick(t0, n)) {
                sum += f.iter().map(|&s| i64::from(s)).sum::<i64>();
                if leg == 8000 {
                    encode_g711(f, G711Law::A, &mut payload).expect("room");
                }
            }
        }
        assert_eq!(allocations() - before, 0, "{leg} Hz leg allocated");
        assert_eq!(p.frames_played(), 500);
        assert_ne!(sum, 0);
    }
}

#[test]
fn g711_payloads() {
    let frame = tone(1000.0, 8000, 9000.0, 160);
    let mut out = [0u8; 200];
    assert_eq!(encode_g711(&frame, G711Law::Mu, &mut out), Ok(160));
    assert!(frame
        .iter()
        .zip(&out)
        .all(|(&s, &c)| g711::ulaw_encode(s) == c));
    assert_eq!(encode_g711(&frame, G711Law::A, &mut out), Ok(160));
    assert!(frame
        .iter()
        .zip(&out)
        .all(|(&s, &c)| g711::alaw_encode(s) == c));
    assert_eq!(
        encode_g711(&frame, G711Law::A, &mut [0u8; 100]),
        Err(MediaError::BufferTooSmall)
    );
}

#[test]
fn empty_and_invalid_prompts() {
    let t0 = Instant::now();
    let empty = Prompt::new(Vec::new(), 8000).expect("empty is fine");
    for mode in [PlayMode::Once, PlayMode::Loop] {
        let mut p = Player::new(empty.clone(), 8000, mode, false, t0).expect("player");
        let (frames, events) = run(&mut p, t0, 5);
        assert!(frames.is_empty());
        assert_eq!(events, [(0, DONE)]);
    }
    let mut p = Player::new(Playlist::default(), 8000, PlayMode::Loop, false, t0).expect("player");
    assert_eq!(run(&mut p, t0, 2).1, [(0, DONE)]);
    assert_eq!(
        Prompt::new(vec![0; 10], 96000),
        Err(MediaError::UnsupportedRate(96000))
    );
    assert_eq!(
        Player::new(empty.clone(), 8010, PlayMode::Once, false, t0).map(|_| ()),
        Err(MediaError::UnsupportedRate(8010))
    );
    assert_eq!(
        Player::new(empty, 0, PlayMode::Once, false, t0).map(|_| ()),
        Err(MediaError::UnsupportedRate(0))
    );
}

#[test]
fn prompts_load_from_wav_files() {
    let samples = tone(440.0, 16000, 3000.0, 1600);
    let mut w = WavWriter::new(16000, 1).expect("writer");
    let mut file = w.header().to_vec();
    w.write_samples(&samples, &mut file);
    let fin = w.finish();
    file[..fin.header.len()].copy_from_slice(&fin.header);
    let prompt = Prompt::from_wav(&file).expect("own WAV");
    assert_eq!(prompt.rate(), 16000);
    assert_eq!(prompt.samples(), &samples[..]);
    assert_eq!(prompt.duration(), Duration::from_millis(100));
    assert_eq!(
        Prompt::from_wav(b"not a wav file"),
        Err(MediaError::WavNotWave)
    );
}
