//! `/prompts`: the built-in Norwegian prompts and the admin's uploaded replacements.
//!
//! An upload replaces the built-in prompt of the same name wherever menus and queues name it; deleting
//! the upload brings the built-in one back. Uploads are checked with the media crate's WAV parser, the
//! same one playback uses, so a file the API accepts is one call control can play.

use std::sync::LazyLock;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use switchboard_media::prompts::PromptSet;
use switchboard_schema::{check_upload_name, ConfigChanged, PromptInfo, MAX_PROMPT_BYTES};

use crate::json::invalid;
use crate::{ApiError, AppState, ErrorBody};

/// The built-in prompts, borrowed from the binary.
static BUILTIN: LazyLock<PromptSet> = LazyLock::new(PromptSet::builtin_nb);

/// Where the prompt a call would hear comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PromptSource {
    Builtin,
    Uploaded,
}

/// One prompt name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PromptEntry {
    name: String,
    /// `uploaded` when an upload exists (it is what calls hear), else `builtin`.
    source: PromptSource,
    /// A built-in prompt of this name exists (deleting the upload restores it).
    builtin: bool,
    /// Size of the WAV file calls hear.
    size_bytes: i64,
    /// For uploads: when, unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    uploaded_at: Option<i64>,
}

/// A WAV file (PCM, A-law or μ-law; mono or stereo; 8–48 kHz).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub(crate) struct WavFile(#[allow(dead_code)] Vec<u8>);

/// Every prompt name, built-in and uploaded, sorted.
#[utoipa::path(get, operation_id = "list_prompts", path = "/prompts", tag = "prompts",
    responses((status = 200, description = "The prompts", body = Vec<PromptEntry>),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
) -> Result<Json<Vec<PromptEntry>>, ApiError> {
    let uploads = state.db.list_prompts().await?;
    let mut out: Vec<PromptEntry> = BUILTIN
        .names()
        .filter(|name| !uploads.iter().any(|u| u.name == *name))
        .map(|name| PromptEntry {
            name: name.to_owned(),
            source: PromptSource::Builtin,
            builtin: true,
            size_bytes: BUILTIN
                .get(name)
                .map_or(0, |wav| i64::try_from(wav.len()).unwrap_or(i64::MAX)),
            uploaded_at: None,
        })
        .collect();
    out.extend(uploads.into_iter().map(|u| PromptEntry {
        builtin: BUILTIN.contains(&u.name),
        name: u.name,
        source: PromptSource::Uploaded,
        size_bytes: u.size_bytes,
        uploaded_at: Some(u.uploaded_at),
    }));
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(out))
}

/// The prompt's audio: the upload if there is one, else the built-in prompt.
#[utoipa::path(get, operation_id = "get_prompt", path = "/prompts/{name}", tag = "prompts",
    params(("name" = String, Path, description = "The prompt's name")),
    responses((status = 200, description = "The WAV file", content_type = "audio/wav", body = WavFile),
              (status = 404, description = "No such prompt", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let wav = match state.db.get_prompt(&name).await? {
        Some(wav) => wav,
        None => BUILTIN
            .get(&name)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| ApiError::NotFound(format!("no prompt {name:?}")))?,
    };
    Ok(([(header::CONTENT_TYPE, "audio/wav")], wav).into_response())
}

/// Uploads a WAV file as the prompt `name`, replacing the built-in one of that name (or an earlier
/// upload). At most 5 MB.
#[utoipa::path(put, operation_id = "put_prompt", path = "/prompts/{name}", tag = "prompts",
    params(("name" = String, Path, description = "1 to 40 of a-z, 0-9 and _")),
    request_body(content = WavFile, content_type = "audio/wav"),
    responses((status = 200, description = "Stored", body = PromptInfo),
              (status = 400, description = "A bad name (`name`), or not a playable WAV file or over 5 MB (`body`)", body = ErrorBody),
              (status = 415, description = "The Content-Type is not audio/wav", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn put(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PromptInfo>, Response> {
    if !is_wav(&headers) {
        let body = ErrorBody {
            error: "unsupported_media_type".to_owned(),
            message: "expected Content-Type: audio/wav".to_owned(),
            field: None,
        };
        return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, Json(body)).into_response());
    }
    store(&state, name, body)
        .await
        .map(Json)
        .map_err(IntoResponse::into_response)
}

async fn store(state: &AppState, name: String, body: Body) -> Result<PromptInfo, ApiError> {
    check_upload_name(&name)?;
    let bytes = axum::body::to_bytes(body, MAX_PROMPT_BYTES)
        .await
        .map_err(|_| {
            invalid(
                "body",
                format!(
                    "could not be read, or is larger than {} MB",
                    MAX_PROMPT_BYTES >> 20
                ),
            )
        })?;
    // The parser playback uses; the set itself is thrown away.
    PromptSet::new()
        .insert(name.as_str(), bytes.to_vec())
        .map_err(|e| invalid("body", format!("not a playable WAV file: {e}")))?;
    let info = state.db.put_prompt(&name, &bytes).await?;
    state.notify(ConfigChanged::Prompt(name));
    Ok(info)
}

/// Deletes the upload `name`; the built-in prompt of that name, if any, applies again.
#[utoipa::path(delete, operation_id = "remove_prompt", path = "/prompts/{name}", tag = "prompts",
    params(("name" = String, Path, description = "The prompt's name")),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No upload of this name (built-in prompts cannot be deleted)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.db.delete_prompt(&name).await? {
        return Err(ApiError::NotFound(format!("no uploaded prompt {name:?}")));
    }
    state.notify(ConfigChanged::Prompt(name));
    Ok(StatusCode::NO_CONTENT)
}

/// A WAV content type: `audio/wav` and its historical spellings.
fn is_wav(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    matches!(
        mime.as_str(),
        "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave"
    )
}
