//! Toll-fraud limits: the switch-wide limits on each user's calls abroad and to premium numbers,
//! and the users call control has blocked for passing them (lifted here by an admin).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use switchboard_schema::{ConfigChanged, TollLimitSettings};

use crate::calls::CallRequest;
use crate::json::ApiJson;
use crate::{ApiError, AppState, ErrorBody};

/// A user blocked from calls abroad and to premium numbers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TollBlockView {
    pub user: String,
    /// `concurrent_calls` or `minutes_per_hour`.
    pub reason: String,
    /// When it was blocked, unix milliseconds.
    pub since_ms: i64,
}

/// The toll-fraud limits.
#[utoipa::path(get, path = "/settings/toll-limits", tag = "settings",
    responses((status = 200, description = "The limits", body = TollLimitSettings),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn get_limits(
    State(state): State<AppState>,
) -> Result<Json<TollLimitSettings>, ApiError> {
    Ok(Json(state.db.toll_limits().await?))
}

/// Sets the toll-fraud limits (in force for the next call).
#[utoipa::path(put, path = "/settings/toll-limits", tag = "settings", request_body = TollLimitSettings,
    responses((status = 200, description = "Stored", body = TollLimitSettings),
              (status = 400, description = "A limit out of range, or a field missing", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn put_limits(
    State(state): State<AppState>,
    ApiJson(limits): ApiJson<TollLimitSettings>,
) -> Result<Json<TollLimitSettings>, ApiError> {
    state.db.set_toll_limits(&limits).await?;
    state.notify(ConfigChanged::Settings);
    Ok(Json(limits))
}

/// Users blocked by the toll-fraud limits.
#[utoipa::path(get, operation_id = "list_toll_blocks", path = "/toll-blocks", tag = "security",
    responses((status = 200, description = "The blocked users", body = Vec<TollBlockView>),
              (status = 503, description = "Call control does not answer (`calls_unavailable`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn list_blocks(
    State(state): State<AppState>,
) -> Result<Json<Vec<TollBlockView>>, ApiError> {
    let blocks = crate::call_control::ask(state.calls.as_ref(), |reply| CallRequest::TollBlocks {
        reply,
    })
    .await
    .ok_or(ApiError::CallsUnavailable)?;
    Ok(Json(
        blocks
            .into_iter()
            .map(|b| TollBlockView {
                user: b.user,
                reason: b.reason.as_str().to_owned(),
                since_ms: b.since_unix_ms,
            })
            .collect(),
    ))
}

/// Lifts a user's toll block: their calls abroad and to premium numbers go out again.
#[utoipa::path(delete, operation_id = "lift_toll_block", path = "/toll-blocks/{username}", tag = "security",
    params(("username" = String, Path, description = "The blocked user's extension")),
    responses((status = 204, description = "Lifted"),
              (status = 404, description = "The user is not blocked", body = ErrorBody),
              (status = 503, description = "Call control does not answer (`calls_unavailable`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn lift_block(
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = username.clone();
    let lifted = crate::call_control::ask(state.calls.as_ref(), |reply| {
        CallRequest::LiftTollBlock { user, reply }
    })
    .await
    .ok_or(ApiError::CallsUnavailable)?;
    match lifted {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::NotFound(format!("{username} is not blocked"))),
    }
}
