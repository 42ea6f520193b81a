//! `/recordings`: the calls call control recorded (started with `POST /calls/{id}/recording`), their
//! WAV files, and removing them.
//!
//! The rows are in the database; the files in the node's recordings directory
//! ([`AppState::recordings_dir`]). A stored file name is checked to be a plain name before it is
//! joined to that directory, so not even a tampered row can make the API read or delete a file
//! elsewhere.

use std::path::PathBuf;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use switchboard_schema::{check_recording_file_name, Recording, RecordingFilter};
use tokio::io::AsyncReadExt;

use crate::json::{invalid, path_id};
use crate::{ApiError, AppState, ErrorBody};

/// Page size when `limit` is not given.
const DEFAULT_LIMIT: i64 = 100;
/// Bytes read from the file per chunk of the audio response.
const CHUNK: usize = 64 * 1024;

/// A WAV file: 16-bit PCM, 8 or 16 kHz, one channel (`mixed`) or two (`stereo`: the caller left).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub(crate) struct RecordingWav(#[allow(dead_code)] Vec<u8>);

fn parse_filter(params: &[(String, String)]) -> Result<RecordingFilter, ApiError> {
    let mut filter = RecordingFilter {
        limit: DEFAULT_LIMIT,
        ..RecordingFilter::default()
    };
    for (key, value) in params {
        let number = |field: &str| {
            value
                .parse::<i64>()
                .map_err(|_| invalid(field, format!("must be a whole number, got {value:?}")))
        };
        match key.as_str() {
            "call_id" => filter.call_id = Some(value.clone()),
            "cdr_id" => {
                let id = number("cdr_id")?;
                if id < 1 {
                    return Err(invalid("cdr_id", "must be a positive whole number"));
                }
                filter.cdr_id = Some(id);
            }
            "limit" => filter.limit = number("limit")?,
            "offset" => filter.offset = number("offset")?,
            other => return Err(invalid(other, "unknown query parameter")),
        }
    }
    Ok(filter)
}

/// Where a stored recording's file is.
fn file_path(state: &AppState, rec: &Recording) -> Result<PathBuf, ApiError> {
    let dir = state
        .recordings_dir
        .as_ref()
        .ok_or(ApiError::RecordingsUnavailable)?;
    check_recording_file_name(&rec.file_name).map_err(|_| {
        ApiError::RecordingFailed(format!(
            "recording {} names no plain file ({:?})",
            rec.id, rec.file_name
        ))
    })?;
    Ok(dir.join(&rec.file_name))
}

async fn stored(state: &AppState, id: &str) -> Result<Recording, ApiError> {
    let id = path_id(id)?;
    state
        .db
        .get_recording(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no recording {id}")))
}

/// Recordings, newest first.
#[utoipa::path(get, operation_id = "list_recordings", path = "/recordings", tag = "recordings",
    params(
        ("call_id" = Option<String>, Query, description = "Only the recordings of the call with this SIP Call-ID"),
        ("cdr_id" = Option<i64>, Query, description = "Only the recordings of this call record"),
        ("limit" = Option<i64>, Query, description = "Page size, 1 to 1000 (default 100)"),
        ("offset" = Option<i64>, Query, description = "Recordings to skip (default 0)"),
    ),
    responses((status = 200, description = "The recordings", body = Vec<Recording>),
              (status = 400, description = "A parameter is wrong or unknown (named in `field`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Vec<Recording>>, ApiError> {
    let Query(params) = query.map_err(|e| invalid("query", e.body_text()))?;
    let filter = parse_filter(&params)?;
    Ok(Json(state.db.list_recordings(&filter).await?))
}

/// One recording's metadata.
#[utoipa::path(get, operation_id = "get_recording", path = "/recordings/{id}", tag = "recordings",
    params(("id" = i64, Path, description = "The recording's id")),
    responses((status = 200, description = "The recording", body = Recording),
              (status = 400, description = "The id is not a number", body = ErrorBody),
              (status = 404, description = "No such recording", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Recording>, ApiError> {
    Ok(Json(stored(&state, &id).await?))
}

/// The recording's WAV file, once it is complete.
#[utoipa::path(get, operation_id = "get_recording_audio", path = "/recordings/{id}/audio", tag = "recordings",
    params(("id" = i64, Path, description = "The recording's id")),
    responses((status = 200, description = "The WAV file", content_type = "audio/wav", body = RecordingWav),
              (status = 400, description = "The id is not a number", body = ErrorBody),
              (status = 404, description = "No such recording, or its file is gone", body = ErrorBody),
              (status = 409, description = "Still recording", body = ErrorBody),
              (status = 503, description = "This node serves no recordings (`recordings_unavailable`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn audio(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let rec = stored(&state, &id).await?;
    if rec.ended_at_ms.is_none() {
        return Err(ApiError::Conflict(format!(
            "recording {} is still running",
            rec.id
        )));
    }
    let path = file_path(&state, &rec)?;
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::NotFound(format!(
                "the file of recording {} is gone",
                rec.id
            )))
        }
        Err(e) => return Err(ApiError::RecordingFailed(format!("cannot read it: {e}"))),
    };
    let len = file
        .metadata()
        .await
        .map_err(|e| ApiError::RecordingFailed(format!("cannot read it: {e}")))?
        .len();
    // Streamed: an hour of stereo is over 100 MB, more than a request should hold in memory.
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err::<Bytes, _>(e), None)),
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "audio/wav".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", rec.file_name),
            ),
        ],
        Body::from_stream(chunks),
    )
        .into_response())
}

/// Deletes a finished recording: its file and its row.
#[utoipa::path(delete, operation_id = "remove_recording", path = "/recordings/{id}", tag = "recordings",
    params(("id" = i64, Path, description = "The recording's id")),
    responses((status = 204, description = "Deleted"),
              (status = 400, description = "The id is not a number", body = ErrorBody),
              (status = 404, description = "No such recording", body = ErrorBody),
              (status = 409, description = "Still recording: stop it first", body = ErrorBody),
              (status = 500, description = "The file could not be removed (`recording_failed`); the row stays", body = ErrorBody),
              (status = 503, description = "This node serves no recordings (`recordings_unavailable`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let rec = stored(&state, &id).await?;
    if rec.ended_at_ms.is_none() {
        return Err(ApiError::Conflict(format!(
            "recording {} is still running: stop it first",
            rec.id
        )));
    }
    let path = file_path(&state, &rec)?;
    match tokio::fs::remove_file(&path).await {
        Ok(()) => {}
        // Already gone (removed by hand, or never written): the row goes all the same.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(ApiError::RecordingFailed(format!(
                "cannot remove the file of recording {}: {e}",
                rec.id
            )))
        }
    }
    state.db.delete_recording(rec.id).await?;
    tracing::info!(recording = rec.id, file = %rec.file_name, "recording deleted");
    Ok(StatusCode::NO_CONTENT)
}
