//! `/calls` and `/recordings`: the live calls and recording commands go to call control over
//! `AppState::calls` (503 without it, its answers mapped to statuses with a test call control);
//! recordings' rows, WAV files and deletion, confined to the recordings directory.

use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use mobile_api::{AppState, CallRequest, LiveCall, LiveCallState, RecordingRefusal};
use serde_json::{json, Value};
use switchboard_schema::{Db, NewRecording, RecordingLayout};
use tokio::sync::mpsc;
use tower::ServiceExt;

/// A scratch recordings directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let path = std::env::temp_dir().join(format!(
            "sb-recording-api-{name}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&path).expect("scratch dir");
        Dir(path)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Api {
    app: Router,
    db: Db,
}

async fn api(calls: Option<mpsc::Sender<CallRequest>>, dir: Option<&Path>, db: Db) -> Api {
    let (sip, _) = mpsc::channel(1);
    let app = mobile_api::app(AppState {
        db: db.clone(),
        sip,
        realm: "switchboard".to_owned(),
        admin_token: None,
        login_throttle: Default::default(),
        oidc: None,
        config_changes: None,
        queues: None,
        events: None,
        calls,
        recordings_dir: dir.map(Path::to_path_buf),
        phone_websocket: None,
    });
    Api { app, db }
}

impl Api {
    async fn send(
        &self,
        method: &str,
        uri: &str,
        body: Option<(&str, &str)>,
    ) -> (StatusCode, HeaderMap, Vec<u8>) {
        let req = Request::builder().method(method).uri(uri);
        let req = match body {
            Some((content_type, body)) => req
                .header(header::CONTENT_TYPE, content_type)
                .body(Body::from(body.to_owned())),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        (status, headers, bytes.to_vec())
    }

    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let text = body.map(|b| b.to_string());
        let (status, _, bytes) = self
            .send(
                method,
                uri,
                text.as_deref().map(|t| ("application/json", t)),
            )
            .await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }
}

#[track_caller]
fn assert_error(resp: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(resp.0, status, "{}", resp.1);
    assert_eq!(resp.1["error"], code, "{}", resp.1);
}

fn live(id: u64, state: LiveCallState) -> LiveCall {
    LiveCall {
        id,
        call_id: format!("call-{id}@192.0.2.1"),
        from: "+4791234567".to_owned(),
        to: "+4764000000".to_owned(),
        state,
        answered_by: (state == LiveCallState::Answered).then(|| "1001".to_owned()),
        started_at_ms: 1_700_000_000_000 + id as i64,
        answered_at_ms: (state == LiveCallState::Answered).then_some(1_700_000_001_000),
        recording: false,
        recording_id: None,
        on_hold: false,
    }
}

/// A stand-in for call control: call 7 is answered, 8 rings. Recording 7 writes a row; stopping it
/// writes a small WAV file into `dir` and completes the row, as call control does when the media
/// thread reports the file finished.
fn fake_call_control(db: Db, dir: PathBuf) -> mpsc::Sender<CallRequest> {
    let (tx, mut rx) = mpsc::channel(8);
    tokio::spawn(async move {
        let mut recording: Option<i64> = None;
        while let Some(req) = rx.recv().await {
            match req {
                CallRequest::List { reply } => {
                    let mut answered = live(7, LiveCallState::Answered);
                    answered.recording = recording.is_some();
                    answered.recording_id = recording;
                    let _ = reply.send(vec![live(8, LiveCallState::Ringing), answered]);
                }
                CallRequest::StartRecording {
                    call,
                    layout,
                    reply,
                } => {
                    let answer = match (call, recording) {
                        (7, Some(_)) => Err(RecordingRefusal::AlreadyRecording),
                        (7, None) => {
                            let rec = db
                                .recording_started(&NewRecording {
                                    call_id: "call-7@192.0.2.1".to_owned(),
                                    file_name: "call-7-192.0.2.1-1700000002000.wav".to_owned(),
                                    layout,
                                    started_at_ms: 1_700_000_002_000,
                                })
                                .await
                                .expect("row");
                            recording = Some(rec.id);
                            Ok(rec)
                        }
                        (8, _) => Err(RecordingRefusal::NotAnswered),
                        (9, _) => Err(RecordingRefusal::Failed("media stopped".to_owned())),
                        _ => Err(RecordingRefusal::UnknownCall),
                    };
                    let _ = reply.send(answer);
                }
                CallRequest::StopRecording { call, reply } => {
                    let answer = match (call, recording.take()) {
                        (7, Some(id)) => {
                            let rec = db.get_recording(id).await.expect("db").expect("row");
                            std::fs::write(dir.join(&rec.file_name), wav()).expect("file");
                            db.recording_finished(id, 1_700_000_004_000, wav().len() as i64)
                                .await
                                .expect("finished");
                            Ok(rec)
                        }
                        (7, None) | (8, _) => Err(RecordingRefusal::NotRecording),
                        _ => Err(RecordingRefusal::UnknownCall),
                    };
                    let _ = reply.send(answer);
                }
                // Not what these tests are about.
                CallRequest::TollBlocks { reply } => {
                    let _ = reply.send(Vec::new());
                }
                CallRequest::LiftTollBlock { reply, .. } => {
                    let _ = reply.send(false);
                }
                CallRequest::ClickToCall { reply, .. } => {
                    let _ = reply.send(Err(call_control::ClickRefusal::NotCallable));
                }
            }
        }
    });
    tx
}

/// A short 8 kHz mono WAV.
fn wav() -> Vec<u8> {
    let samples: [i16; 4] = [0, 1000, -1000, 0];
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&16000u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

async fn memory_db() -> Db {
    Db::connect("sqlite::memory:").await.expect("database")
}

#[tokio::test]
async fn without_call_control_or_directory() {
    let db = memory_db().await;
    let rec = db
        .recording_started(&NewRecording {
            call_id: "a@b".to_owned(),
            file_name: "a-b-1.wav".to_owned(),
            layout: RecordingLayout::Mixed,
            started_at_ms: 1_000,
        })
        .await
        .expect("row");
    db.recording_finished(rec.id, 2_000, 44).await.expect("end");
    let api = api(None, None, db).await;
    for (method, uri) in [
        ("GET", "/api/v1/calls"),
        ("GET", "/api/v1/calls/7"),
        ("POST", "/api/v1/calls/7/recording"),
        ("DELETE", "/api/v1/calls/7/recording"),
    ] {
        assert_error(
            &api.call(method, uri, None).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "calls_unavailable",
        );
    }
    // The stored rows answer regardless; the files need the directory.
    let (status, list) = api.call("GET", "/api/v1/recordings", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list[0]["file_name"], "a-b-1.wav", "{list}");
    let uri = format!("/api/v1/recordings/{}", rec.id);
    assert_eq!(api.call("GET", &uri, None).await.0, StatusCode::OK);
    for (method, uri) in [("GET", format!("{uri}/audio")), ("DELETE", uri.clone())] {
        assert_error(
            &api.call(method, &uri, None).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "recordings_unavailable",
        );
    }
}

#[tokio::test]
async fn live_calls_and_recording_commands() {
    let db = memory_db().await;
    let dir = Dir::new("commands");
    let control = fake_call_control(db.clone(), dir.0.clone());
    let api = api(Some(control), Some(&dir.0), db).await;

    let (status, calls) = api.call("GET", "/api/v1/calls", None).await;
    assert_eq!(status, StatusCode::OK, "{calls}");
    let ids: Vec<u64> = calls
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|c| c["id"].as_u64())
        .collect();
    assert_eq!(ids, [7, 8], "oldest first: {calls}");
    assert_eq!(calls[0]["state"], "answered");
    assert_eq!(calls[0]["answered_by"], "1001");
    assert_eq!(calls[0]["recording"], false);
    assert_eq!(calls[1]["state"], "ringing");
    assert_eq!(calls[1]["answered_by"], Value::Null);

    let (status, one) = api.call("GET", "/api/v1/calls/8", None).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["call_id"], "call-8@192.0.2.1");
    assert_error(
        &api.call("GET", "/api/v1/calls/99", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &api.call("GET", "/api/v1/calls/x", None).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );

    // Refusals.
    let start = |call: u64, body: Option<Value>| {
        let api = &api;
        async move {
            api.call("POST", &format!("/api/v1/calls/{call}/recording"), body)
                .await
        }
    };
    let bad = start(7, Some(json!({ "layout": "mono" }))).await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "invalid_input");
    assert_eq!(bad.1["field"], "layout", "{}", bad.1);
    let bad = start(7, Some(json!({ "layout": "mixed", "x": 1 }))).await;
    assert_eq!(bad.1["field"], "x", "{}", bad.1);
    let (status, _, _) = api
        .send(
            "POST",
            "/api/v1/calls/7/recording",
            Some(("text/plain", "stereo")),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_error(&start(8, None).await, StatusCode::CONFLICT, "conflict");
    assert_error(&start(99, None).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(
        &start(9, None).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "recording_failed",
    );
    assert_error(
        &api.call("DELETE", "/api/v1/calls/7/recording", None).await,
        StatusCode::CONFLICT,
        "conflict",
    );

    // Start (stereo), which shows in the call; a second start is refused.
    let (status, rec) = start(7, Some(json!({ "layout": "stereo" }))).await;
    assert_eq!(status, StatusCode::CREATED, "{rec}");
    assert_eq!(rec["layout"], "stereo");
    assert_eq!(rec["ended_at_ms"], Value::Null);
    let id = rec["id"].as_i64().expect("id");
    let (_, call) = api.call("GET", "/api/v1/calls/7", None).await;
    assert_eq!(
        (&call["recording"], &call["recording_id"]),
        (&json!(true), &json!(id))
    );
    assert_error(&start(7, None).await, StatusCode::CONFLICT, "conflict");

    // While it runs there is no file to hand out or delete.
    let rec_uri = format!("/api/v1/recordings/{id}");
    assert_error(
        &api.call("GET", &format!("{rec_uri}/audio"), None).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_error(
        &api.call("DELETE", &rec_uri, None).await,
        StatusCode::CONFLICT,
        "conflict",
    );

    // Stop.
    let (status, stopped) = api.call("DELETE", "/api/v1/calls/7/recording", None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{stopped}");
    assert_eq!(stopped["id"], id);

    // The finished recording: metadata, listing by call, and the WAV file.
    let (status, meta) = api.call("GET", &rec_uri, None).await;
    assert_eq!(status, StatusCode::OK, "{meta}");
    assert_eq!(meta["bytes"], wav().len());
    assert_eq!(meta["ended_at_ms"], 1_700_000_004_000_i64);
    let (_, list) = api
        .call("GET", "/api/v1/recordings?call_id=call-7@192.0.2.1", None)
        .await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    let (_, list) = api
        .call("GET", "/api/v1/recordings?call_id=other", None)
        .await;
    assert_eq!(list, json!([]));
    let bad = api.call("GET", "/api/v1/recordings?limit=0", None).await;
    assert_eq!(bad.1["field"], "limit", "{}", bad.1);
    let bad = api.call("GET", "/api/v1/recordings?colour=red", None).await;
    assert_eq!(bad.1["field"], "colour", "{}", bad.1);

    let (status, headers, bytes) = api.send("GET", &format!("{rec_uri}/audio"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "audio/wav");
    assert_eq!(bytes, wav());

    // Deleting removes the file and the row.
    let file = dir.0.join(meta["file_name"].as_str().expect("name"));
    assert!(file.exists());
    let (status, _) = api.call("DELETE", &rec_uri, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!file.exists());
    assert_error(
        &api.call("GET", &rec_uri, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert!(api.db.get_recording(id).await.expect("db").is_none());
}

#[tokio::test]
async fn files_outside_the_directory_are_never_touched() {
    let db = memory_db().await;
    let root = Dir::new("outside");
    let dir = root.0.join("recordings");
    std::fs::create_dir_all(&dir).expect("dir");
    let outside = root.0.join("secret.wav");
    std::fs::write(&outside, wav()).expect("outside file");
    // The database layer refuses such names; a row written behind its back must not work either.
    sqlx::query(
        "INSERT INTO recordings (call_id, file_name, layout, started_at_ms, ended_at_ms, bytes) \
         VALUES ('a@b', '../secret.wav', 'mixed', 1, 2, 44)",
    )
    .execute(db.pool())
    .await
    .expect("tampered row");
    let id: i64 = sqlx::query_scalar("SELECT id FROM recordings")
        .fetch_one(db.pool())
        .await
        .expect("id");
    let api = api(None, Some(&dir), db).await;
    let uri = format!("/api/v1/recordings/{id}");
    assert_error(
        &api.call("GET", &format!("{uri}/audio"), None).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "recording_failed",
    );
    assert_error(
        &api.call("DELETE", &uri, None).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "recording_failed",
    );
    assert!(outside.exists(), "the file outside is still there");
}
