//! The thread that writes recordings to disk, so a slow disk never stalls a media thread: media
//! threads send it byte chunks; it appends them, and at the end writes the final header at offset 0.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::mpsc::Receiver;

use switchboard_media::relay::RecordingId;
use switchboard_media::wav::WavFinish;
use tokio::sync::mpsc::UnboundedSender;

use crate::MediaEvent;

pub(crate) enum WriterMsg {
    Open { id: RecordingId, path: PathBuf },
    Data { id: RecordingId, bytes: Vec<u8> },
    Finish { id: RecordingId, finish: WavFinish },
}

pub(crate) fn run(messages: Receiver<WriterMsg>, events: UnboundedSender<MediaEvent>) {
    let mut files: HashMap<RecordingId, (PathBuf, Option<File>)> = HashMap::new();
    while let Ok(msg) = messages.recv() {
        match msg {
            WriterMsg::Open { id, path } => {
                let file = File::create(&path)
                    .map_err(|e| tracing::error!(path = %path.display(), error = %e, "cannot create recording"))
                    .ok();
                files.insert(id, (path, file));
            }
            WriterMsg::Data { id, bytes } => {
                if let Some((path, Some(file))) = files.get_mut(&id) {
                    if let Err(e) = file.write_all(&bytes) {
                        tracing::error!(path = %path.display(), error = %e, "recording write failed");
                    }
                }
            }
            WriterMsg::Finish { id, finish } => {
                let Some((path, file)) = files.remove(&id) else {
                    continue;
                };
                let ok = file.is_some_and(|mut f| {
                    finish.total_len == 0
                        || (f.seek(SeekFrom::Start(0)).is_ok()
                            && f.write_all(&finish.header).is_ok()
                            && f.sync_data().is_ok())
                });
                let _ = events.send(MediaEvent::RecordingFinished {
                    id,
                    path,
                    bytes: if ok { finish.total_len } else { 0 },
                });
            }
        }
    }
}
