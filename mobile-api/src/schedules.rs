//! `/schedules`: opening hours and the receptionist's emergency override.
//!
//! Call control reads the override on every call to a number that follows the schedule, so setting or
//! clearing one takes effect on the next call.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use switchboard_routing::schedule::Override;
use switchboard_schema::{ConfigChanged, ScheduleEntry, ScheduleEntrySpec};

use crate::json::{path_id, ApiJson};
use crate::{ApiError, AppState, ErrorBody};

/// All schedules, ordered by name.
#[utoipa::path(get, operation_id = "list_schedules", path = "/schedules", tag = "schedules",
    responses((status = 200, description = "The schedules", body = Vec<ScheduleEntry>),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
) -> Result<Json<Vec<ScheduleEntry>>, ApiError> {
    Ok(Json(state.db.list_schedules().await?))
}

/// Creates a schedule.
#[utoipa::path(post, operation_id = "create_schedule", path = "/schedules", tag = "schedules", request_body = ScheduleEntrySpec,
    responses((status = 201, description = "Created", body = ScheduleEntry),
              (status = 400, description = "A bad name, or hours that do not parse (`field` is `schedule…`)", body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ScheduleEntrySpec>,
) -> Result<(StatusCode, Json<ScheduleEntry>), ApiError> {
    let entry = state.db.create_schedule(&body).await?;
    state.notify(ConfigChanged::Schedules);
    Ok((StatusCode::CREATED, Json(entry)))
}

/// One schedule.
#[utoipa::path(get, operation_id = "get_schedule", path = "/schedules/{id}", tag = "schedules",
    params(("id" = i64, Path, description = "The schedule's id")),
    responses((status = 200, description = "The schedule", body = ScheduleEntry),
              (status = 400, description = "The id is not a number", body = ErrorBody),
              (status = 404, description = "No such schedule", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ScheduleEntry>, ApiError> {
    let id = path_id(&id)?;
    state
        .db
        .get_schedule(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no schedule {id}")))
}

/// Replaces a schedule's name and hours; an active override stays.
#[utoipa::path(put, operation_id = "update_schedule", path = "/schedules/{id}", tag = "schedules",
    params(("id" = i64, Path, description = "The schedule's id")),
    request_body = ScheduleEntrySpec,
    responses((status = 200, description = "Changed", body = ScheduleEntry),
              (status = 400, description = "A bad name, or hours that do not parse", body = ErrorBody),
              (status = 404, description = "No such schedule", body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ScheduleEntrySpec>,
) -> Result<Json<ScheduleEntry>, ApiError> {
    let id = path_id(&id)?;
    let entry = state.db.update_schedule(id, &body).await?;
    state.notify(ConfigChanged::Schedules);
    Ok(Json(entry))
}

/// Deletes a schedule (refused while a public number follows it).
#[utoipa::path(delete, operation_id = "remove_schedule", path = "/schedules/{id}", tag = "schedules",
    params(("id" = i64, Path, description = "The schedule's id")),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such schedule", body = ErrorBody),
              (status = 409, description = "A public number still follows it (`in_use`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id)?;
    if !state.db.delete_schedule(id).await? {
        return Err(ApiError::NotFound(format!("no schedule {id}")));
    }
    state.notify(ConfigChanged::Schedules);
    Ok(StatusCode::NO_CONTENT)
}

/// Switches the emergency override on: `{"closed_with_message": "…"}` closes every number that follows
/// the schedule with that message; `{"route_to": "queue:7"}` sends their calls there. Takes effect on
/// the next call and beats hours, holidays and exceptions until cleared.
#[utoipa::path(put, operation_id = "set_schedule_override", path = "/schedules/{id}/override", tag = "schedules",
    params(("id" = i64, Path, description = "The schedule's id")),
    request_body(content = Object, description = "`{\"closed_with_message\": text}` or `{\"route_to\": \"kind:ref\"}`"),
    responses((status = 200, description = "The schedule with its override", body = ScheduleEntry),
              (status = 400, description = "Not an override, or a redirect target that is malformed or does not exist", body = ErrorBody),
              (status = 404, description = "No such schedule", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn set_override(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Override>,
) -> Result<Json<ScheduleEntry>, ApiError> {
    let id = path_id(&id)?;
    let entry = state.db.set_schedule_override(id, Some(&body)).await?;
    state.notify(ConfigChanged::Schedules);
    Ok(Json(entry))
}

/// Switches the emergency override off; the hours apply again from the next call.
#[utoipa::path(delete, operation_id = "clear_schedule_override", path = "/schedules/{id}/override", tag = "schedules",
    params(("id" = i64, Path, description = "The schedule's id")),
    responses((status = 200, description = "The schedule without an override", body = ScheduleEntry),
              (status = 404, description = "No such schedule", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn clear_override(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ScheduleEntry>, ApiError> {
    let id = path_id(&id)?;
    let entry = state.db.set_schedule_override(id, None).await?;
    state.notify(ConfigChanged::Schedules);
    Ok(Json(entry))
}
