//! `/numbers`: the public numbers and where they route.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use switchboard_schema::{ConfigChanged, PublicNumber, PublicNumberSpec, TargetKind};

use crate::json::ApiJson;
use crate::{ApiError, AppState, ErrorBody};

/// A public number to add.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewNumber {
    /// E.164, e.g. `+4764000100`.
    number: String,
    /// What people call it; may be left out.
    #[serde(default)]
    label: String,
    /// What the number routes to.
    target_kind: TargetKind,
    /// Which one: a username, a hunt group id, a queue id, a menu id or a prompt name.
    target_ref: String,
}

/// All public numbers, ordered by number.
#[utoipa::path(get, operation_id = "list_numbers", path = "/numbers", tag = "numbers",
    responses((status = 200, description = "The numbers", body = Vec<PublicNumber>),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
) -> Result<Json<Vec<PublicNumber>>, ApiError> {
    Ok(Json(state.db.list_public_numbers().await?))
}

/// Adds a public number.
#[utoipa::path(post, operation_id = "create_number", path = "/numbers", tag = "numbers", request_body = NewNumber,
    responses((status = 201, description = "Added", body = PublicNumber),
              (status = 400, description = "A field is wrong, or the target does not exist", body = ErrorBody),
              (status = 409, description = "The number exists (also as a user's direct number)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewNumber>,
) -> Result<(StatusCode, Json<PublicNumber>), ApiError> {
    let spec = PublicNumberSpec {
        label: body.label,
        target_kind: body.target_kind,
        target_ref: body.target_ref,
    };
    let created = state.db.create_public_number(&body.number, &spec).await?;
    state.notify(ConfigChanged::Numbers);
    Ok((StatusCode::CREATED, Json(created)))
}

/// One public number.
#[utoipa::path(get, operation_id = "get_number", path = "/numbers/{number}", tag = "numbers",
    params(("number" = String, Path, description = "E.164; `+` may be written as is or as %2B")),
    responses((status = 200, description = "The number", body = PublicNumber),
              (status = 404, description = "No such number", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> Result<Json<PublicNumber>, ApiError> {
    state
        .db
        .get_public_number(&number)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no public number {number}")))
}

/// Changes where a public number routes, and its label.
#[utoipa::path(put, operation_id = "update_number", path = "/numbers/{number}", tag = "numbers",
    params(("number" = String, Path, description = "E.164")),
    request_body = PublicNumberSpec,
    responses((status = 200, description = "Changed", body = PublicNumber),
              (status = 400, description = "A field is wrong, or the target does not exist", body = ErrorBody),
              (status = 404, description = "No such number", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<PublicNumberSpec>,
) -> Result<Json<PublicNumber>, ApiError> {
    let changed = state.db.update_public_number(&number, &body).await?;
    state.notify(ConfigChanged::Numbers);
    Ok(Json(changed))
}

/// Removes a public number.
#[utoipa::path(delete, operation_id = "remove_number", path = "/numbers/{number}", tag = "numbers",
    params(("number" = String, Path, description = "E.164")),
    responses((status = 204, description = "Removed"),
              (status = 404, description = "No such number", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(number): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.db.delete_public_number(&number).await? {
        return Err(ApiError::NotFound(format!("no public number {number}")));
    }
    state.notify(ConfigChanged::Numbers);
    Ok(StatusCode::NO_CONTENT)
}
