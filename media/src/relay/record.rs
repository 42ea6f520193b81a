//! Call recording in the relay: packets of both legs of a call are decoded as they pass and laid on
//! one timeline by a [`Recorder`]; the WAV bytes it makes are handed to the shell, which writes the
//! file (and, at the end, the header at offset 0).

use std::time::Instant;

use super::{LegId, LegIndex, Relay};
use crate::recording::{Direction, Layout, Recorder};
use crate::transcode::{CodecSpec, PacketDecoder};
use crate::wav::WavFinish;
use crate::MediaError;

/// Which recording; call control chooses it (for instance the CDR's call number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordingId(pub u64);

struct Side {
    leg: LegIndex,
    payload_type: u8,
    decoder: PacketDecoder,
}

pub(super) struct ActiveRecording {
    id: RecordingId,
    recorder: Recorder,
    sides: [Side; 2],
    /// WAV bytes made and not yet taken by the shell.
    pending: Vec<u8>,
    finished: Option<WavFinish>,
}

/// What [`Relay::poll_recording`] handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingOutput {
    pub id: RecordingId,
    /// Set on the recording's last output: write `header` over the file's first bytes.
    pub finished: Option<WavFinish>,
}

impl Relay {
    /// Records the call between `caller` and `callee` (each with the codec negotiated on its leg) at
    /// `rate` Hz (8000 or 16000), mixed to mono or as two channels (caller left, callee right).
    #[allow(clippy::too_many_arguments)]
    pub fn start_recording(
        &mut self,
        id: RecordingId,
        (caller, caller_codec): (LegId, CodecSpec),
        (callee, callee_codec): (LegId, CodecSpec),
        layout: Layout,
        rate: u32,
        now: Instant,
    ) -> Result<(), MediaError> {
        let a = self.index_of(caller).ok_or(MediaError::UnknownLeg)?;
        let b = self.index_of(callee).ok_or(MediaError::UnknownLeg)?;
        let mut recorder = Recorder::new(rate, layout)?;
        recorder.start(now);
        let side = |leg, spec: CodecSpec| -> Result<Side, MediaError> {
            Ok(Side {
                leg,
                payload_type: spec.payload_type,
                decoder: PacketDecoder::new(spec.codec, rate)?,
            })
        };
        let rec = ActiveRecording {
            id,
            recorder,
            sides: [side(a, caller_codec)?, side(b, callee_codec)?],
            pending: Vec::with_capacity(64 * 1024),
            finished: None,
        };
        let slot = match self.recordings.iter().position(Option::is_none) {
            Some(i) => {
                self.recordings[i] = Some(rec);
                i
            }
            None => {
                self.recordings.push(Some(rec));
                self.recordings.len() - 1
            }
        };
        for (index, dir) in [(a, Direction::Caller), (b, Direction::Callee)] {
            if let Some(leg) = self.leg_mut(index) {
                leg.recording = Some((slot, dir));
            }
        }
        Ok(())
    }

    /// Ends a recording; its last bytes and header come out of [`Relay::poll_recording`].
    pub fn stop_recording(&mut self, id: RecordingId, now: Instant) -> Result<(), MediaError> {
        let slot = self
            .recordings
            .iter()
            .position(|r| {
                r.as_ref()
                    .is_some_and(|r| r.id == id && r.finished.is_none())
            })
            .ok_or(MediaError::UnknownLeg)?;
        self.finish_recording(slot, now);
        Ok(())
    }

    pub(super) fn finish_recording(&mut self, slot: usize, now: Instant) {
        let Some(Some(rec)) = self.recordings.get_mut(slot) else {
            return;
        };
        if rec.finished.is_some() {
            return;
        }
        let legs = [rec.sides[0].leg, rec.sides[1].leg];
        rec.finished = rec.recorder.finish(now, &mut rec.pending);
        if rec.finished.is_none() {
            // Never started: nothing to write, but the shell still hears that it ended.
            rec.finished = Some(WavFinish {
                header: [0; crate::wav::HEADER_LEN],
                total_len: 0,
            });
        }
        for index in legs {
            if let Some(leg) = self.leg_mut(index) {
                if leg.recording.is_some_and(|(s, _)| s == slot) {
                    leg.recording = None;
                }
            }
        }
    }

    /// Feeds a packet of leg `index` (already accepted) to the recording it belongs to.
    pub(super) fn record_packet(&mut self, index: LegIndex, pt: u8, payload: &[u8], now: Instant) {
        let Some((slot, dir)) = self.leg_mut(index).and_then(|l| l.recording) else {
            return;
        };
        let Some(Some(rec)) = self.recordings.get_mut(slot) else {
            return;
        };
        let side = &mut rec.sides[usize::from(dir == Direction::Callee)];
        if side.payload_type != pt {
            return;
        }
        let rate = side.decoder.pcm_rate();
        let pcm = side.decoder.decode(payload);
        if rec.recorder.push(dir, rate, pcm, now).is_ok() {
            rec.recorder.poll_output(&mut rec.pending);
        }
    }

    /// Appends the WAV bytes of one recording that has some to `out`; call until `None`. A finished
    /// recording's last output carries its header, and the recording is then gone.
    pub fn poll_recording(&mut self, out: &mut Vec<u8>) -> Option<RecordingOutput> {
        for slot in 0..self.recordings.len() {
            let Some(Some(rec)) = self.recordings.get_mut(slot) else {
                continue;
            };
            if rec.pending.is_empty() && rec.finished.is_none() {
                continue;
            }
            out.extend_from_slice(&rec.pending);
            rec.pending.clear();
            let output = RecordingOutput {
                id: rec.id,
                finished: rec.finished,
            };
            if rec.finished.is_some() {
                self.recordings[slot] = None;
            }
            return Some(output);
        }
        None
    }
}
