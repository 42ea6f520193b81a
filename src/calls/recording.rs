//! Recording calls on the admin API's command: the IO half. Call control decides whether a call
//! may be recorded and keeps its state; here the SIP core is asked which relay legs carry the call
//! now and in which codec, the recording's row is stored, and the media runtime is told to write
//! the WAV file on its own thread into the recordings directory (and nowhere else).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use call_control::codec_spec;
use mobile_api::RecordingRefusal;
use sip_core::b2bua::{CallMedia, CallRef, CodecRef};
use sip_transport::Command;
use switchboard_media_rt::{Codec, Layout, LegId, MediaRuntime, RecordingId};
use switchboard_schema::{Db, NewRecording, Recording, RecordingLayout};
use tokio::sync::{mpsc, oneshot};

/// How long the SIP core has to name a call's legs.
const SIP_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest part of a recording's file name taken from the Call-ID.
const MAX_NAME_FROM_CALL_ID: usize = 120;

/// What became of a recording call control allowed, for its loop to take in and answer.
pub(super) struct Started {
    pub(super) call: u64,
    pub(super) result: Result<(Recording, LegId), RecordingRefusal>,
    pub(super) reply: oneshot::Sender<Result<Recording, RecordingRefusal>>,
}

/// What starting a recording needs from the node.
#[derive(Clone)]
pub(super) struct Recorder {
    pub(super) db: Db,
    pub(super) sip: mpsc::Sender<Command>,
    pub(super) media: Arc<MediaRuntime>,
    pub(super) dir: PathBuf,
}

impl Recorder {
    /// Starts recording `call` (call control allowed it) and reports back on `done`.
    pub(super) async fn start(
        self,
        call: u64,
        call_id: String,
        layout: RecordingLayout,
        unix_ms: i64,
        reply: oneshot::Sender<Result<Recording, RecordingRefusal>>,
        done: mpsc::UnboundedSender<Started>,
    ) {
        let result = self
            .try_start(CallRef(call), &call_id, layout, unix_ms)
            .await;
        let _ = done.send(Started {
            call,
            result,
            reply,
        });
    }

    async fn try_start(
        &self,
        call: CallRef,
        call_id: &str,
        layout: RecordingLayout,
        started_at_ms: i64,
    ) -> Result<(Recording, LegId), RecordingRefusal> {
        let m = call_media(&self.sip, call)
            .await
            .ok_or(RecordingRefusal::NotAnswered)?;
        let cannot = |codec: &CodecRef| {
            RecordingRefusal::Failed(format!("the codec {} cannot be recorded", codec.0))
        };
        // Each side is decoded in the codec it sends (they differ where the relay transcodes).
        let caller_spec = codec_spec(&m.caller_codec).ok_or_else(|| cannot(&m.caller_codec))?;
        let callee_spec = codec_spec(&m.callee_codec).ok_or_else(|| cannot(&m.callee_codec))?;
        // Opus carries wideband speech: keep it; G.711 is narrowband anyway.
        let rate = if caller_spec.codec == Codec::Opus || callee_spec.codec == Codec::Opus {
            16_000
        } else {
            8_000
        };
        create_dir(&self.dir)?;
        let rec = self
            .db
            .recording_started(&NewRecording {
                call_id: call_id.to_string(),
                file_name: file_name(call_id, started_at_ms),
                layout,
                started_at_ms,
            })
            .await
            .map_err(|e| RecordingRefusal::Failed(e.to_string()))?;
        let layout = match layout {
            RecordingLayout::Mixed => Layout::Mixed,
            RecordingLayout::Stereo => Layout::Stereo,
        };
        // The name passed the database's check for a plain file name: the file lands in the
        // directory and nowhere else.
        let path = self.dir.join(&rec.file_name);
        if let Err(e) = self.media.start_recording(
            RecordingId(rec.id as u64),
            (m.caller_leg, caller_spec),
            (m.callee_leg, callee_spec),
            layout,
            rate,
            path,
        ) {
            let _ = self.db.delete_recording(rec.id).await;
            return Err(RecordingRefusal::Failed(format!("media: {e}")));
        }
        tracing::info!(call = call.0, recording = rec.id, file = %rec.file_name, "recording");
        Ok((rec, m.caller_leg))
    }
}

fn create_dir(dir: &Path) -> Result<(), RecordingRefusal> {
    std::fs::create_dir_all(dir).map_err(|e| {
        RecordingRefusal::Failed(format!("recordings directory {}: {e}", dir.display()))
    })
}

/// The stored row of a recording that was just stopped.
pub(super) async fn stopped(db: &Db, id: i64) -> Result<Recording, RecordingRefusal> {
    match db.get_recording(id).await {
        Ok(Some(rec)) => Ok(rec),
        Ok(None) => Err(RecordingRefusal::Failed(format!(
            "recording {id} was deleted"
        ))),
        Err(e) => Err(RecordingRefusal::Failed(e.to_string())),
    }
}

/// Asks the SIP core which relay legs carry the answered call `call`.
async fn call_media(sip: &mpsc::Sender<Command>, call: CallRef) -> Option<CallMedia> {
    let (reply, answer) = oneshot::channel();
    sip.send(Command::CallMedia { call, reply }).await.ok()?;
    tokio::time::timeout(SIP_TIMEOUT, answer)
        .await
        .ok()?
        .ok()
        .flatten()
}

/// A recording's file name: the Call-ID with everything but `A-Z a-z 0-9 . _ -` replaced, then the
/// start time, so names sort by call and never collide for one call.
fn file_name(call_id: &str, started_at_ms: i64) -> String {
    let safe: String = call_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(MAX_NAME_FROM_CALL_ID)
        .collect();
    let safe = safe.trim_start_matches(['.', '-']);
    let safe = if safe.is_empty() { "call" } else { safe };
    format!("{safe}-{started_at_ms}.wav")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_plain() {
        let cases = [
            ("abc@192.0.2.1", "abc-192.0.2.1-5.wav"),
            ("../../etc/passwd", "etc-passwd-5.wav"),
            ("a/b\\c d", "a-b-c-d-5.wav"),
            ("...", "call-5.wav"),
            ("", "call-5.wav"),
            ("æøå@x", "x-5.wav"),
        ];
        for (call_id, want) in cases {
            let name = file_name(call_id, 5);
            assert_eq!(name, want, "{call_id:?}");
            assert!(switchboard_schema::check_recording_file_name(&name).is_ok());
        }
        let long = file_name(&"x".repeat(1000), 1_700_000_000_000);
        assert!(switchboard_schema::check_recording_file_name(&long).is_ok());
    }
}
