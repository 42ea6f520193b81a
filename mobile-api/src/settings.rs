//! `/settings/main-number` and `/users/{username}/call-settings`.

use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use switchboard_schema::{ConfigChanged, UserCallSettings};

use crate::json::ApiJson;
use crate::{ApiError, AppState, ErrorBody};

/// The municipality's main number.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MainNumber {
    /// E.164, e.g. `+4764000000`; null while not set.
    main_number: Option<String>,
}

/// The main number.
#[utoipa::path(get, path = "/settings/main-number", tag = "settings",
    responses((status = 200, description = "The main number (null if not set)", body = MainNumber),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn get_main_number(
    State(state): State<AppState>,
) -> Result<Json<MainNumber>, ApiError> {
    Ok(Json(MainNumber {
        main_number: state.db.main_number().await?,
    }))
}

/// Sets the main number.
#[utoipa::path(put, path = "/settings/main-number", tag = "settings", request_body = MainNumber,
    responses((status = 200, description = "Stored", body = MainNumber),
              (status = 400, description = "Not E.164, or null", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn put_main_number(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<MainNumber>,
) -> Result<Json<MainNumber>, ApiError> {
    // Outbound calls need a caller ID: the main number can be changed, not removed.
    let Some(number) = body.main_number else {
        return Err(crate::json::invalid("main_number", "is required"));
    };
    state.db.set_main_number(&number).await?;
    state.notify(ConfigChanged::Settings);
    Ok(Json(MainNumber {
        main_number: Some(number),
    }))
}

/// A user's call settings (the defaults if never set).
#[utoipa::path(get, path = "/users/{username}/call-settings", tag = "users",
    params(("username" = String, Path, description = "The user's extension")),
    responses((status = 200, description = "The settings", body = UserCallSettings),
              (status = 404, description = "No such user", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn get_call_settings(
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<Json<UserCallSettings>, ApiError> {
    state
        .db
        .user_call_settings(&username)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no user {username}")))
}

/// Replaces a user's call settings; left-out fields take their defaults.
#[utoipa::path(put, path = "/users/{username}/call-settings", tag = "users",
    params(("username" = String, Path, description = "The user's extension")),
    request_body = UserCallSettings,
    responses((status = 200, description = "Stored", body = UserCallSettings),
              (status = 400, description = "A field is wrong (named in `field`)", body = ErrorBody),
              (status = 404, description = "No such user", body = ErrorBody),
              (status = 409, description = "The direct number is taken", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn put_call_settings(
    State(state): State<AppState>,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<UserCallSettings>,
) -> Result<Json<UserCallSettings>, ApiError> {
    state.db.set_user_call_settings(&username, &body).await?;
    state.notify(ConfigChanged::UserCallSettings(username));
    Ok(Json(body))
}
