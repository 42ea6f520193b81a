//! `/hunt-groups`: hunt groups and their ordered members.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use switchboard_schema::{ConfigChanged, HuntGroup, HuntGroupSpec, MemberSpec};

use crate::json::{path_id, ApiJson};
use crate::{ApiError, AppState, ErrorBody};

/// The new member list of a group, in ringing order.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Members {
    /// Members in ringing order; an empty list empties the group.
    members: Vec<MemberSpec>,
}

/// All hunt groups with their members, ordered by name.
#[utoipa::path(get, operation_id = "list_hunt_groups", path = "/hunt-groups", tag = "hunt-groups",
    responses((status = 200, description = "The groups", body = Vec<HuntGroup>),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Vec<HuntGroup>>, ApiError> {
    Ok(Json(state.db.list_hunt_groups().await?))
}

/// Creates a hunt group, with its members if `members` is given.
#[utoipa::path(post, operation_id = "create_hunt_group", path = "/hunt-groups", tag = "hunt-groups", request_body = HuntGroupSpec,
    responses((status = 201, description = "Created", body = HuntGroup),
              (status = 400, description = "A field is wrong, a member is not a user, or the no-answer target does not exist", body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<HuntGroupSpec>,
) -> Result<(StatusCode, Json<HuntGroup>), ApiError> {
    let group = state.db.create_hunt_group(&body).await?;
    state.notify(ConfigChanged::HuntGroups);
    Ok((StatusCode::CREATED, Json(group)))
}

/// One hunt group.
#[utoipa::path(get, operation_id = "get_hunt_group", path = "/hunt-groups/{id}", tag = "hunt-groups",
    params(("id" = i64, Path, description = "The group's id")),
    responses((status = 200, description = "The group", body = HuntGroup),
              (status = 400, description = "The id is not a number", body = ErrorBody),
              (status = 404, description = "No such group", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<HuntGroup>, ApiError> {
    let id = path_id(&id)?;
    state
        .db
        .get_hunt_group(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no hunt group {id}")))
}

/// Replaces a hunt group's settings; its members too if `members` is given, else they stay.
#[utoipa::path(put, operation_id = "update_hunt_group", path = "/hunt-groups/{id}", tag = "hunt-groups",
    params(("id" = i64, Path, description = "The group's id")),
    request_body = HuntGroupSpec,
    responses((status = 200, description = "Changed", body = HuntGroup),
              (status = 400, description = "A field is wrong, a member is not a user, or the no-answer target does not exist or loops back", body = ErrorBody),
              (status = 404, description = "No such group", body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<HuntGroupSpec>,
) -> Result<Json<HuntGroup>, ApiError> {
    let id = path_id(&id)?;
    let group = state.db.update_hunt_group(id, &body).await?;
    state.notify(ConfigChanged::HuntGroups);
    Ok(Json(group))
}

/// Deletes a hunt group (refused while a number or a no-answer rule routes to it).
#[utoipa::path(delete, operation_id = "remove_hunt_group", path = "/hunt-groups/{id}", tag = "hunt-groups",
    params(("id" = i64, Path, description = "The group's id")),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such group", body = ErrorBody),
              (status = 409, description = "Still the target of a number or a no-answer rule (`in_use`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id)?;
    if !state.db.delete_hunt_group(id).await? {
        return Err(ApiError::NotFound(format!("no hunt group {id}")));
    }
    state.notify(ConfigChanged::HuntGroups);
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the group's member list (in ringing order).
#[utoipa::path(put, path = "/hunt-groups/{id}/members", tag = "hunt-groups",
    params(("id" = i64, Path, description = "The group's id")),
    request_body = Members,
    responses((status = 200, description = "The group with its new members", body = HuntGroup),
              (status = 400, description = "A member is not a user, is listed twice or has a bad ring time", body = ErrorBody),
              (status = 404, description = "No such group", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn set_members(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Members>,
) -> Result<Json<HuntGroup>, ApiError> {
    let id = path_id(&id)?;
    let group = state.db.set_hunt_group_members(id, &body.members).await?;
    state.notify(ConfigChanged::HuntGroups);
    Ok(Json(group))
}
