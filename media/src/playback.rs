//! Prompt playback into a leg: announcements, queue positions ("Du er nummer" + "3" + "i køen") and
//! music on hold, as 20 ms frames of 16-bit samples at the leg's rate.
//!
//! The [`Player`] is a state machine without a clock: the shell asks [`Player::poll_timeout`] when the
//! next frame is due, and at that instant (or later) takes the frames due with [`Player::poll_frame`],
//! encodes them (see [`encode_g711`]) and sends them. Prompts are shared (`Arc<[i16]>`), so a hundred
//! callers on hold play the same music from one copy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::resample::Resampler;
use crate::{g711, wav, MediaError};

/// The packetisation time of every leg: 20 ms.
pub const FRAME: Duration = Duration::from_millis(20);

/// Frames a late shell may take back to back after a stall. More would burst into the peer's jitter
/// buffer and be dropped there; fewer would leave a permanent lag after every hiccup. Time lost beyond
/// this is a pause in the prompt, not a skip: no words are lost.
pub const MAX_CATCH_UP: u32 = 3;

/// Decoded prompt audio: mono 16-bit samples at their own rate, cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    samples: Arc<[i16]>,
    rate: u32,
}

impl Prompt {
    /// Mono samples at `rate`, which must convert to both 8 kHz and 48 kHz legs.
    pub fn new(samples: impl Into<Arc<[i16]>>, rate: u32) -> Result<Prompt, MediaError> {
        if !Resampler::supports(rate, 8000) || !Resampler::supports(rate, 48000) {
            return Err(MediaError::UnsupportedRate(rate));
        }
        Ok(Prompt {
            samples: samples.into(),
            rate,
        })
    }

    /// Decodes a WAV file (stereo is averaged to mono; at most [`wav::MAX_DECODED_BYTES`]).
    pub fn from_wav(bytes: &[u8]) -> Result<Prompt, MediaError> {
        let audio = wav::read(bytes)?;
        Prompt::new(audio.samples, audio.rate)
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    pub fn duration(&self) -> Duration {
        let nanos = self.samples.len() as u128 * 1_000_000_000 / u128::from(self.rate);
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// Prompts played back to back, with no gap or click between them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Playlist {
    items: Vec<Prompt>,
}

impl Playlist {
    pub fn new(items: impl IntoIterator<Item = Prompt>) -> Playlist {
        Playlist {
            items: items.into_iter().collect(),
        }
    }

    pub fn push(&mut self, prompt: Prompt) {
        self.items.push(prompt);
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl From<Prompt> for Playlist {
    fn from(prompt: Prompt) -> Playlist {
        Playlist {
            items: vec![prompt],
        }
    }
}

/// Whether the playlist ends or starts over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayMode {
    Once,
    /// Music on hold: wraps around seamlessly until stopped.
    Loop,
}

/// What the shell hears from a [`Player`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaybackEvent {
    /// Reported exactly once: when a `Once` playlist has played out (at the instant its last frame
    /// ends), on [`Player::stop`] (`None`), or on an interrupting DTMF digit (`Some(digit)`).
    Finished { interrupted_by: Option<char> },
}

/// Plays a [`Playlist`] into one leg at the leg's rate, one 20 ms frame at a time.
#[derive(Debug)]
pub struct Player {
    items: Vec<Prompt>,
    mode: PlayMode,
    interruptible: bool,
    /// One converter per distinct prompt rate, built up front so moving between items never
    /// allocates.
    resamplers: Vec<Resampler>,
    /// The converter the current run of same-rate audio streams through.
    active: Option<usize>,
    item: usize,
    offset: usize,
    /// Converted samples not yet handed out; capacity fixed at construction.
    pending: Vec<i16>,
    frame: Box<[i16]>,
    next_due: Instant,
    source_done: bool,
    finished: bool,
    event: Option<PlaybackEvent>,
    frames: u64,
}

impl Player {
    /// A player whose first frame is due at `start`. `target_rate` is the leg's rate (8000 for G.711,
    /// 16000 for G.722, 48000 for Opus) and must be a multiple of 50 so a frame is whole samples.
    pub fn new(
        playlist: impl Into<Playlist>,
        target_rate: u32,
        mode: PlayMode,
        interruptible_by_dtmf: bool,
        start: Instant,
    ) -> Result<Player, MediaError> {
        let items = playlist.into().items;
        let frame_len = (target_rate / 50) as usize;
        if frame_len * 50 != target_rate as usize || !(8000..=48000).contains(&target_rate) {
            return Err(MediaError::UnsupportedRate(target_rate));
        }
        let mut resamplers: Vec<Resampler> = Vec::new();
        for p in &items {
            if !resamplers.iter().any(|r| r.from_rate() == p.rate) {
                resamplers.push(Resampler::new(p.rate, target_rate)?);
            }
        }
        // Before a step `pending` holds less than a frame; one step adds at most one flush and one
        // 20 ms chunk.
        let step_max = resamplers
            .iter()
            .map(|r| r.max_output_len(0) + r.max_output_len((r.from_rate() / 50) as usize))
            .max()
            .unwrap_or(0);
        // A loop of nothing but empty prompts would spin for ever looking for audio.
        let mode = if items.iter().all(|p| p.samples.is_empty()) {
            PlayMode::Once
        } else {
            mode
        };
        Ok(Player {
            items,
            mode,
            interruptible: interruptible_by_dtmf,
            resamplers,
            active: None,
            item: 0,
            offset: 0,
            pending: Vec::with_capacity(frame_len + step_max),
            frame: vec![0; frame_len].into_boxed_slice(),
            next_due: start,
            source_done: false,
            finished: false,
            event: None,
            frames: 0,
        })
    }

    /// Music on hold: loops, and DTMF does not stop it.
    pub fn music_on_hold(
        prompt: impl Into<Playlist>,
        target_rate: u32,
        start: Instant,
    ) -> Result<Player, MediaError> {
        Player::new(prompt, target_rate, PlayMode::Loop, false, start)
    }

    /// Samples in every frame (160 at 8 kHz, 960 at 48 kHz).
    pub fn frame_len(&self) -> usize {
        self.frame.len()
    }

    /// The next frame if one is due at `now`; call until `None`, sending each frame before the next
    /// call. The last frame of a prompt is padded with silence.
    pub fn poll_frame(&mut self, now: Instant) -> Option<&[i16]> {
        if self.finished || now < self.next_due {
            return None;
        }
        let late = now.duration_since(self.next_due);
        if late >= FRAME * MAX_CATCH_UP {
            // Slide the schedule so that exactly MAX_CATCH_UP frames are due now.
            self.next_due = now.checked_sub(FRAME * (MAX_CATCH_UP - 1)).unwrap_or(now);
        }
        self.fill();
        if self.pending.is_empty() {
            self.finish(None);
            return None;
        }
        let n = self.pending.len().min(self.frame.len());
        let (audio, pad) = self.frame.split_at_mut(n);
        audio.copy_from_slice(&self.pending[..n]);
        pad.fill(0);
        self.pending.drain(..n);
        self.next_due += FRAME;
        self.frames += 1;
        Some(&self.frame)
    }

    /// When the next frame is due (or, after the last frame, when the playlist ends); `None` once
    /// finished.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.finished).then_some(self.next_due)
    }

    /// A DTMF digit from the leg. Stops an interruptible player (reporting the digit) and returns
    /// whether it did; otherwise the digit is left for whoever else listens.
    pub fn handle_dtmf(&mut self, digit: char) -> bool {
        if self.interruptible && !self.finished {
            self.finish(Some(digit));
            true
        } else {
            false
        }
    }

    /// Stops playback now (the leg is being bridged, or the caller hung up).
    pub fn stop(&mut self) {
        if !self.finished {
            self.finish(None);
        }
    }

    pub fn poll_event(&mut self) -> Option<PlaybackEvent> {
        self.event.take()
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Frames handed out so far.
    pub fn frames_played(&self) -> u64 {
        self.frames
    }

    fn finish(&mut self, interrupted_by: Option<char>) {
        self.finished = true;
        self.event = Some(PlaybackEvent::Finished { interrupted_by });
    }

    fn fill(&mut self) {
        while self.pending.len() < self.frame.len() && !self.source_done {
            self.step();
        }
    }

    /// Feeds the converter one 20 ms chunk of source, or moves to the next item.
    fn step(&mut self) {
        let Some(prompt) = self.items.get(self.item) else {
            if self.mode == PlayMode::Loop {
                self.item = 0;
                self.offset = 0;
            } else {
                if let Some(r) = self.active.and_then(|a| self.resamplers.get_mut(a)) {
                    r.flush(&mut self.pending);
                }
                self.source_done = true;
            }
            return;
        };
        let Some(ri) = self
            .resamplers
            .iter()
            .position(|r| r.from_rate() == prompt.rate)
        else {
            // Unreachable: `new` built a converter for every rate in the list.
            self.item += 1;
            return;
        };
        if self.active != Some(ri) {
            // A change of rate ends one converter's stream; items of the same rate (and a loop's wrap)
            // stream on through the same filter history, so their joins stay seamless.
            if let Some(r) = self.active.and_then(|a| self.resamplers.get_mut(a)) {
                r.flush(&mut self.pending);
            }
            self.active = Some(ri);
        }
        let chunk = (prompt.rate / 50) as usize;
        let rest = prompt.samples.get(self.offset..).unwrap_or_default();
        if rest.is_empty() {
            self.item += 1;
            self.offset = 0;
            return;
        }
        let take = rest.len().min(chunk);
        if let (Some(r), Some(input)) = (self.resamplers.get_mut(ri), rest.get(..take)) {
            r.process(input, &mut self.pending);
        }
        self.offset += take;
    }
}

/// The G.711 law of a leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum G711Law {
    /// PCMU, payload type 0.
    Mu,
    /// PCMA, payload type 8.
    A,
}

/// Encodes one frame as a G.711 payload into `out`, returning the payload length (one byte a sample).
pub fn encode_g711(frame: &[i16], law: G711Law, out: &mut [u8]) -> Result<usize, MediaError> {
    let out = out
        .get_mut(..frame.len())
        .ok_or(MediaError::BufferTooSmall)?;
    let encode = match law {
        G711Law::Mu => g711::ulaw_encode,
        G711Law::A => g711::alaw_encode,
    };
    for (o, &s) in out.iter_mut().zip(frame) {
        *o = encode(s);
    }
    Ok(frame.len())
}
