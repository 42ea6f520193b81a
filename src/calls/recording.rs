//! The calls in progress as the admin API shows them (`/calls`), and recording them on command.
//!
//! Call control keeps a small view of every call from its events (who called whom, ringing or
//! answered, who answered). A recording is asked of the SIP core first — which relay legs carry
//! the call now, in which codec — and then of the media runtime, which writes the WAV file on its
//! own thread into the recordings directory and reports when the file is complete; only then does
//! the recording's row get its end and size. A recording ends on command, when the call ends, or
//! when one of its legs goes (a transfer replaces the answering party's leg).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use mobile_api::{CallRequest, LiveCall, LiveCallState, RecordingRefusal};
use sip_core::b2bua::{CallMedia, CallRef};
use sip_transport::Command;
use switchboard_media_rt::{Codec, Layout, LegId, MediaRuntime, RecordingId};
use switchboard_schema::{Db, NewRecording, Recording, RecordingLayout};
use tokio::sync::{mpsc, oneshot};

use super::{codec_spec, unix_ms};

/// How long call control waits for the SIP core to name a call's legs.
const SIP_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest part of a recording's file name taken from the Call-ID.
const MAX_NAME_FROM_CALL_ID: usize = 120;

struct Entry {
    view: LiveCall,
    /// The recording in progress and a leg of it (the media runtime finds its thread by a leg).
    recording: Option<(i64, LegId)>,
}

/// Calls in progress and their recordings.
pub(super) struct LiveCalls {
    calls: HashMap<CallRef, Entry>,
    dir: PathBuf,
}

impl LiveCalls {
    /// Starts with no calls. Recordings the database still shows as running were cut short when
    /// the node last stopped: they are closed now, so they can be fetched and deleted.
    pub(super) async fn new(db: &Db, dir: PathBuf) -> LiveCalls {
        match db.close_unfinished_recordings(unix_ms()).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(
                recordings = n,
                "recordings cut short by the last stop closed"
            ),
            Err(e) => tracing::warn!(error = %e, "unfinished recordings not closed"),
        }
        LiveCalls {
            calls: HashMap::new(),
            dir,
        }
    }

    pub(super) fn incoming(&mut self, call: CallRef, call_id: &str, from: &str, to: &str) {
        let view = LiveCall {
            id: call.0,
            call_id: call_id.to_owned(),
            from: from.to_owned(),
            to: to.to_owned(),
            state: LiveCallState::Ringing,
            answered_by: None,
            started_at_ms: unix_ms(),
            answered_at_ms: None,
            recording: false,
            recording_id: None,
        };
        self.calls.insert(
            call,
            Entry {
                view,
                recording: None,
            },
        );
    }

    /// We answered the caller ourselves (a menu, a queue, a message).
    pub(super) fn answered_locally(&mut self, call: CallRef) {
        if let Some(e) = self.calls.get_mut(&call) {
            if e.view.state == LiveCallState::Ringing {
                e.view.state = LiveCallState::Local;
            }
        }
    }

    /// Staff answered (`by` as the CDR names them), or a transfer brought someone new.
    pub(super) fn answered(&mut self, call: CallRef, by: &str) {
        if let Some(e) = self.calls.get_mut(&call) {
            e.view.state = LiveCallState::Answered;
            e.view.answered_by = Some(by.to_owned());
            e.view.answered_at_ms.get_or_insert_with(unix_ms);
        }
    }

    /// The call is over; a recording still running ends with its legs (the media thread finishes
    /// the file when they are released), and is told to stop in case they were not.
    pub(super) fn ended(&mut self, media: &MediaRuntime, call: CallRef) {
        if let Some((id, leg)) = self.calls.remove(&call).and_then(|e| e.recording) {
            let _ = media.stop_recording(RecordingId(id as u64), leg);
        }
    }

    /// The media runtime finished a recording's file (`bytes` 0: it could not be written).
    pub(super) async fn finished(&mut self, db: &Db, id: RecordingId, bytes: u64) {
        let id = id.0 as i64;
        for e in self.calls.values_mut() {
            if e.recording.is_some_and(|(r, _)| r == id) {
                e.recording = None;
                e.view.recording = false;
                e.view.recording_id = None;
            }
        }
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        match db.recording_finished(id, unix_ms(), bytes).await {
            Ok(rec) if bytes == 0 => {
                tracing::warn!(recording = id, file = %rec.file_name, "recording not written")
            }
            Ok(rec) => {
                tracing::info!(recording = id, file = %rec.file_name, bytes, "recording done")
            }
            Err(e) => tracing::warn!(recording = id, error = %e, "recording's end not stored"),
        }
    }

    /// Answers the admin API.
    pub(super) async fn handle(
        &mut self,
        db: &Db,
        sip: &mpsc::Sender<Command>,
        media: &MediaRuntime,
        request: CallRequest,
    ) {
        match request {
            CallRequest::List { reply } => {
                let _ = reply.send(self.calls.values().map(|e| e.view.clone()).collect());
            }
            CallRequest::StartRecording {
                call,
                layout,
                reply,
            } => {
                let answer = self.start(db, sip, media, CallRef(call), layout).await;
                if let Err(RecordingRefusal::Failed(why)) = &answer {
                    tracing::warn!(call, %why, "recording not started");
                }
                let _ = reply.send(answer);
            }
            CallRequest::StopRecording { call, reply } => {
                let _ = reply.send(self.stop(db, media, CallRef(call)).await);
            }
        }
    }

    async fn start(
        &mut self,
        db: &Db,
        sip: &mpsc::Sender<Command>,
        media: &MediaRuntime,
        call: CallRef,
        layout: RecordingLayout,
    ) -> Result<Recording, RecordingRefusal> {
        let entry = self.calls.get(&call).ok_or(RecordingRefusal::UnknownCall)?;
        if entry.view.state != LiveCallState::Answered {
            return Err(RecordingRefusal::NotAnswered);
        }
        if entry.recording.is_some() {
            return Err(RecordingRefusal::AlreadyRecording);
        }
        let call_id = entry.view.call_id.clone();
        let m = call_media(sip, call)
            .await
            .ok_or(RecordingRefusal::NotAnswered)?;
        let spec = codec_spec(&m.codec).ok_or_else(|| {
            RecordingRefusal::Failed(format!("the call's codec {} cannot be recorded", m.codec.0))
        })?;
        if m.transcoding.iter().any(|&t| t) {
            // The recorder decodes the call's codec; a side that switched codec stays silent.
            tracing::warn!(
                call = call.0,
                "a side of this call is transcoded: it is recorded silent"
            );
        }
        // Opus carries wideband speech: keep it; G.711 is narrowband anyway.
        let rate = if spec.codec == Codec::Opus {
            16_000
        } else {
            8_000
        };
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            RecordingRefusal::Failed(format!("recordings directory {}: {e}", self.dir.display()))
        })?;
        let started_at_ms = unix_ms();
        let rec = db
            .recording_started(&NewRecording {
                call_id: call_id.clone(),
                file_name: file_name(&call_id, started_at_ms),
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
        if let Err(e) = media.start_recording(
            RecordingId(rec.id as u64),
            (m.caller_leg, spec),
            (m.callee_leg, spec),
            layout,
            rate,
            path,
        ) {
            let _ = db.delete_recording(rec.id).await;
            return Err(RecordingRefusal::Failed(format!("media: {e}")));
        }
        if let Some(e) = self.calls.get_mut(&call) {
            e.recording = Some((rec.id, m.caller_leg));
            e.view.recording = true;
            e.view.recording_id = Some(rec.id);
        }
        tracing::info!(call = call.0, recording = rec.id, file = %rec.file_name, "recording");
        Ok(rec)
    }

    async fn stop(
        &mut self,
        db: &Db,
        media: &MediaRuntime,
        call: CallRef,
    ) -> Result<Recording, RecordingRefusal> {
        let entry = self
            .calls
            .get_mut(&call)
            .ok_or(RecordingRefusal::UnknownCall)?;
        let (id, leg) = entry
            .recording
            .take()
            .ok_or(RecordingRefusal::NotRecording)?;
        entry.view.recording = false;
        entry.view.recording_id = None;
        // Already finished by the media thread (a leg went) is fine: its report is on the way.
        let _ = media.stop_recording(RecordingId(id as u64), leg);
        match db.get_recording(id).await {
            Ok(Some(rec)) => Ok(rec),
            Ok(None) => Err(RecordingRefusal::Failed(format!(
                "recording {id} was deleted"
            ))),
            Err(e) => Err(RecordingRefusal::Failed(e.to_string())),
        }
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
