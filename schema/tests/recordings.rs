//! Call recordings' rows, on every backend.

#[macro_use]
mod common;

use switchboard_schema::{
    CallDirection, CdrOpen, Db, NewRecording, RecordingFilter, RecordingLayout, SchemaError,
};

const T0: i64 = 1_700_000_000_000;

fn new(call_id: &str, file: &str, layout: RecordingLayout, at: i64) -> NewRecording {
    NewRecording {
        call_id: call_id.to_owned(),
        file_name: file.to_owned(),
        layout,
        started_at_ms: at,
    }
}

fn field(err: &SchemaError) -> &str {
    match err {
        SchemaError::Invalid { field, .. } => field,
        other => panic!("expected SchemaError::Invalid, got {other:?}"),
    }
}

on_every_backend!(
    lifecycle,
    refused,
    listing_and_deleting,
    unfinished_at_start
);

async fn lifecycle(db: Db) {
    // The call's record exists: the recording points at the newest one with its Call-ID.
    let open = |at| CdrOpen {
        call_id: "abc@192.0.2.1".to_owned(),
        direction: CallDirection::Inbound,
        from_number: "+4791234567".to_owned(),
        to_number: "+4764000000".to_owned(),
        target_kind: None,
        target_ref: None,
        started_at_ms: at,
    };
    db.cdr_open(&open(T0 - 10_000)).await.unwrap();
    let cdr = db.cdr_open(&open(T0 - 5_000)).await.unwrap();
    let rec = db
        .recording_started(&new(
            "abc@192.0.2.1",
            "abc-192.0.2.1-1.wav",
            RecordingLayout::Stereo,
            T0,
        ))
        .await
        .unwrap();
    assert_eq!(rec.cdr_id, Some(cdr));
    assert_eq!(rec.layout, RecordingLayout::Stereo);
    assert_eq!((rec.ended_at_ms, rec.bytes), (None, None));
    assert_eq!(db.get_recording(rec.id).await.unwrap(), Some(rec.clone()));

    let done = db
        .recording_finished(rec.id, T0 + 2_000, 32_044)
        .await
        .unwrap();
    assert_eq!(
        (done.ended_at_ms, done.bytes),
        (Some(T0 + 2_000), Some(32_044))
    );
    assert_eq!(db.get_recording(rec.id).await.unwrap(), Some(done));

    // A call without a record yet.
    let orphan = db
        .recording_started(&new("x@y", "x-y-2.wav", RecordingLayout::Mixed, T0))
        .await
        .unwrap();
    assert_eq!(orphan.cdr_id, None);
}

async fn refused(db: Db) {
    for bad in ["../x.wav", "a/b.wav", ".hidden.wav", "x.mp3", ""] {
        let err = db
            .recording_started(&new("c@h", bad, RecordingLayout::Mixed, T0))
            .await
            .unwrap_err();
        assert_eq!(field(&err), "file_name", "{bad:?}");
    }
    let err = db
        .recording_started(&new("", "a.wav", RecordingLayout::Mixed, T0))
        .await
        .unwrap_err();
    assert_eq!(field(&err), "call_id");

    let rec = db
        .recording_started(&new("c@h", "a.wav", RecordingLayout::Mixed, T0))
        .await
        .unwrap();
    // The file name is the file: one row each.
    let err = db
        .recording_started(&new("d@h", "a.wav", RecordingLayout::Mixed, T0))
        .await
        .unwrap_err();
    assert!(matches!(err, SchemaError::Conflict(_)), "{err:?}");

    let err = db.recording_finished(rec.id, T0 - 1, 10).await.unwrap_err();
    assert_eq!(field(&err), "ended_at_ms");
    let err = db.recording_finished(rec.id, T0, -1).await.unwrap_err();
    assert_eq!(field(&err), "bytes");
    let err = db
        .recording_finished(rec.id + 100, T0, 10)
        .await
        .unwrap_err();
    assert!(matches!(err, SchemaError::NotFound(_)), "{err:?}");
    db.recording_finished(rec.id, T0 + 1, 10).await.unwrap();
    let err = db.recording_finished(rec.id, T0 + 2, 20).await.unwrap_err();
    assert!(matches!(err, SchemaError::Conflict(_)), "{err:?}");
}

async fn listing_and_deleting(db: Db) {
    let mut ids = Vec::new();
    for (i, call) in ["one@h", "two@h", "one@h"].iter().enumerate() {
        let at = T0 + i as i64 * 1000;
        let rec = db
            .recording_started(&new(call, &format!("r{i}.wav"), RecordingLayout::Mixed, at))
            .await
            .unwrap();
        ids.push(rec.id);
    }
    let all = db
        .list_recordings(&RecordingFilter::default())
        .await
        .unwrap();
    let listed: Vec<i64> = all.iter().map(|r| r.id).collect();
    assert_eq!(listed, [ids[2], ids[1], ids[0]], "newest first");

    let one = db
        .list_recordings(&RecordingFilter {
            call_id: Some("one@h".to_owned()),
            ..RecordingFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(
        one.iter().map(|r| r.id).collect::<Vec<_>>(),
        [ids[2], ids[0]]
    );

    let page = db
        .list_recordings(&RecordingFilter {
            limit: 1,
            offset: 1,
            ..RecordingFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[1]]);

    let none = db
        .list_recordings(&RecordingFilter {
            cdr_id: Some(12345),
            ..RecordingFilter::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());

    for (limit, offset, bad) in [(0, 0, "limit"), (1001, 0, "limit"), (10, -1, "offset")] {
        let err = db
            .list_recordings(&RecordingFilter {
                limit,
                offset,
                ..RecordingFilter::default()
            })
            .await
            .unwrap_err();
        assert_eq!(field(&err), bad);
    }

    let gone = db.delete_recording(ids[1]).await.unwrap().expect("removed");
    assert_eq!(gone.file_name, "r1.wav");
    assert_eq!(db.delete_recording(ids[1]).await.unwrap(), None);
    assert_eq!(db.get_recording(ids[1]).await.unwrap(), None);
}

async fn unfinished_at_start(db: Db) {
    let running = db
        .recording_started(&new("a@h", "a.wav", RecordingLayout::Mixed, T0))
        .await
        .unwrap();
    let later = db
        .recording_started(&new("b@h", "b.wav", RecordingLayout::Stereo, T0 + 9_000))
        .await
        .unwrap();
    let done = db
        .recording_started(&new("c@h", "c.wav", RecordingLayout::Mixed, T0))
        .await
        .unwrap();
    db.recording_finished(done.id, T0 + 100, 44).await.unwrap();

    assert_eq!(db.close_unfinished_recordings(T0 + 5_000).await.unwrap(), 2);
    let running = db.get_recording(running.id).await.unwrap().unwrap();
    assert_eq!(
        (running.ended_at_ms, running.bytes),
        (Some(T0 + 5_000), None)
    );
    // Never before its own start.
    let later = db.get_recording(later.id).await.unwrap().unwrap();
    assert_eq!(later.ended_at_ms, Some(T0 + 9_000));
    let done = db.get_recording(done.id).await.unwrap().unwrap();
    assert_eq!((done.ended_at_ms, done.bytes), (Some(T0 + 100), Some(44)));
    assert_eq!(db.close_unfinished_recordings(T0 + 6_000).await.unwrap(), 0);
}
