//! `/calls`: the calls in progress as call control sees them, so a receptionist or an admin can pick
//! one, and recording a call on command. Call control answers over [`AppState::calls`]; the
//! recordings it makes are stored rows (see [`crate::recordings`]).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use switchboard_schema::{Recording, RecordingLayout};
use tokio::sync::oneshot;

use crate::json::{parse, path_id};
use crate::{ApiError, AppState, ErrorBody};

/// A question or command for call control, sent over [`AppState::calls`]. Each carries the channel
/// for its answer; dropping it unanswered makes the API answer 503.
#[derive(Debug)]
pub enum CallRequest {
    /// Every call in progress.
    List {
        reply: oneshot::Sender<Vec<LiveCall>>,
    },
    /// Start recording the answered call `call` (call control's id) into a new file.
    StartRecording {
        call: u64,
        layout: RecordingLayout,
        reply: oneshot::Sender<Result<Recording, RecordingRefusal>>,
    },
    /// Users blocked by the toll-fraud limits.
    TollBlocks {
        reply: oneshot::Sender<Vec<call_control::TollBlock>>,
    },
    /// Lift a user's toll block; whether there was one.
    LiftTollBlock {
        user: String,
        reply: oneshot::Sender<bool>,
    },
    /// Stop the call's recording. The answer is the row as it stands: the file is complete once
    /// the media thread has written its last bytes, when `ended_at_ms` is set.
    StopRecording {
        call: u64,
        reply: oneshot::Sender<Result<Recording, RecordingRefusal>>,
    },
    /// Click-to-call: ring `user`'s phone, then `to`. The answer is the origination's tag, or why not.
    ClickToCall {
        user: String,
        to: String,
        caller_id: Option<String>,
        reply: oneshot::Sender<Result<u64, call_control::ClickRefusal>>,
    },
}

/// Why call control did not start or stop a recording (call control's own type).
pub use call_control::RecordingRefusal;

/// Where a call in progress stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LiveCallState {
    /// Being routed, or ringing staff.
    Ringing,
    /// Answered by Switchboard itself: the caller is in a menu or a queue, or hears a message.
    Local,
    /// Two parties talk.
    Answered,
}

/// A call in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LiveCall {
    /// Call control's id of the call (for `/calls/{id}`); valid while the call lasts.
    pub id: u64,
    /// SIP Call-ID of the inbound leg, as in the call's record.
    pub call_id: String,
    /// The caller: a number, or the user who placed the call.
    pub from: String,
    /// The number or extension dialled.
    pub to: String,
    pub state: LiveCallState,
    /// Who answered (username, or `username/cellular`), once answered.
    pub answered_by: Option<String>,
    /// Unix milliseconds.
    pub started_at_ms: i64,
    pub answered_at_ms: Option<i64>,
    /// Whether the call is being recorded.
    pub recording: bool,
    /// The recording in progress (`/recordings/{id}`).
    pub recording_id: Option<i64>,
    /// The caller hears music on hold: held by the staff member, or waiting while they transfer.
    pub on_hold: bool,
}

/// The body of `POST /calls/{id}/recording` (optional).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordingBody {
    /// `mixed` (one channel, the default) or `stereo` (the caller left, who answered right).
    #[serde(default = "mixed")]
    layout: RecordingLayout,
}

fn mixed() -> RecordingLayout {
    RecordingLayout::Mixed
}

/// Asks call control's calls in progress; 503 `calls_unavailable` without an answer.
pub(crate) async fn ask<T>(
    state: &AppState,
    make: impl FnOnce(oneshot::Sender<T>) -> CallRequest,
) -> Result<T, ApiError> {
    crate::call_control::ask(state.calls.as_ref(), make)
        .await
        .ok_or(ApiError::CallsUnavailable)
}

fn refused(call: u64, why: RecordingRefusal) -> ApiError {
    match why {
        RecordingRefusal::UnknownCall => ApiError::NotFound(format!("no call {call} in progress")),
        RecordingRefusal::NotAnswered => {
            ApiError::Conflict(format!("call {call} is not answered by staff (yet)"))
        }
        RecordingRefusal::AlreadyRecording => {
            ApiError::Conflict(format!("call {call} is already being recorded"))
        }
        RecordingRefusal::NotRecording => {
            ApiError::Conflict(format!("call {call} is not being recorded"))
        }
        RecordingRefusal::Failed(why) => ApiError::RecordingFailed(why),
    }
}

fn call_id(text: &str) -> Result<u64, ApiError> {
    path_id(text).map(|id| id.unsigned_abs())
}

/// The calls in progress, oldest first.
#[utoipa::path(get, operation_id = "list_calls", path = "/calls", tag = "calls",
    responses((status = 200, description = "The calls in progress", body = Vec<LiveCall>),
              (status = 503, description = "Call control does not answer (`calls_unavailable`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Vec<LiveCall>>, ApiError> {
    let mut calls = ask(&state, |reply| CallRequest::List { reply }).await?;
    calls.sort_by_key(|c| (c.started_at_ms, c.id));
    Ok(Json(calls))
}

/// One call in progress.
#[utoipa::path(get, operation_id = "get_call", path = "/calls/{id}", tag = "calls",
    params(("id" = u64, Path, description = "Call control's id of the call")),
    responses((status = 200, description = "The call", body = LiveCall),
              (status = 400, description = "The id is not a number", body = ErrorBody),
              (status = 404, description = "No such call in progress", body = ErrorBody),
              (status = 503, description = "Call control does not answer (`calls_unavailable`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<LiveCall>, ApiError> {
    let id = call_id(&id)?;
    ask(&state, |reply| CallRequest::List { reply })
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no call {id} in progress")))
}

/// Starts recording an answered call, both directions, to a WAV file in the node's recordings
/// directory. It stops on `DELETE` or when the call ends (or its parties change, as in a transfer).
#[utoipa::path(post, operation_id = "start_call_recording", path = "/calls/{id}/recording", tag = "calls",
    params(("id" = u64, Path, description = "Call control's id of the call")),
    request_body(content = Option<RecordingBody>, description = "Optional; the layout defaults to `mixed`"),
    responses((status = 201, description = "Recording", body = Recording),
              (status = 400, description = "The id is not a number, or a bad layout (`layout`)", body = ErrorBody),
              (status = 404, description = "No such call in progress", body = ErrorBody),
              (status = 409, description = "The call is not answered by staff, or is already being recorded", body = ErrorBody),
              (status = 415, description = "A body that is not JSON", body = ErrorBody),
              (status = 500, description = "The recording could not start (`recording_failed`)", body = ErrorBody),
              (status = 503, description = "Call control does not answer (`calls_unavailable`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn start_recording(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Recording>), ApiError> {
    let call = call_id(&id)?;
    let layout = if body.iter().all(u8::is_ascii_whitespace) {
        RecordingLayout::Mixed
    } else {
        if !is_json(&headers) {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse::<RecordingBody>(&body)?.layout
    };
    let rec = ask(&state, |reply| CallRequest::StartRecording {
        call,
        layout,
        reply,
    })
    .await?
    .map_err(|why| refused(call, why))?;
    tracing::info!(call, recording = rec.id, file = %rec.file_name, "recording started");
    Ok((StatusCode::CREATED, Json(rec)))
}

/// Stops a call's recording. The answer comes at once; the file is complete when the recording's
/// `ended_at_ms` is set (a moment later).
#[utoipa::path(delete, operation_id = "stop_call_recording", path = "/calls/{id}/recording", tag = "calls",
    params(("id" = u64, Path, description = "Call control's id of the call")),
    responses((status = 202, description = "Stopping; the recording as it stands", body = Recording),
              (status = 400, description = "The id is not a number", body = ErrorBody),
              (status = 404, description = "No such call in progress", body = ErrorBody),
              (status = 409, description = "The call is not being recorded", body = ErrorBody),
              (status = 503, description = "Call control does not answer (`calls_unavailable`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn stop_recording(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Recording>), ApiError> {
    let call = call_id(&id)?;
    let rec = ask(&state, |reply| CallRequest::StopRecording { call, reply })
        .await?
        .map_err(|why| refused(call, why))?;
    tracing::info!(call, recording = rec.id, "recording stopped");
    Ok((StatusCode::ACCEPTED, Json(rec)))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}
