//! `/trunks`: SIP trunks to carriers.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use switchboard_schema::{ConfigChanged, Trunk, TrunkSpec};

use crate::json::{path_id, ApiJson};
use crate::{ApiError, AppState, ErrorBody};

/// All trunks, in the order outbound calls try them (priority, then name).
#[utoipa::path(get, operation_id = "list_trunks", path = "/trunks", tag = "trunks",
    responses((status = 200, description = "The trunks", body = Vec<Trunk>),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Vec<Trunk>>, ApiError> {
    Ok(Json(state.db.list_trunks().await?))
}

/// Adds a trunk. `password_secret` names a file in the node's secrets directory; the password itself
/// is never sent to or stored by the API.
#[utoipa::path(post, operation_id = "create_trunk", path = "/trunks", tag = "trunks", request_body = TrunkSpec,
    responses((status = 201, description = "Added", body = Trunk),
              (status = 400, description = "A field is wrong (named in `field`)", body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<TrunkSpec>,
) -> Result<(StatusCode, Json<Trunk>), ApiError> {
    let trunk = state.db.create_trunk(&body).await?;
    state.notify(ConfigChanged::Trunks);
    Ok((StatusCode::CREATED, Json(trunk)))
}

/// One trunk.
#[utoipa::path(get, operation_id = "get_trunk", path = "/trunks/{id}", tag = "trunks",
    params(("id" = i64, Path, description = "The trunk's id")),
    responses((status = 200, description = "The trunk", body = Trunk),
              (status = 400, description = "The id is not a number", body = ErrorBody),
              (status = 404, description = "No such trunk", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Trunk>, ApiError> {
    let id = path_id(&id)?;
    state
        .db
        .get_trunk(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no trunk {id}")))
}

/// Replaces a trunk's settings; left-out fields take their defaults.
#[utoipa::path(put, operation_id = "update_trunk", path = "/trunks/{id}", tag = "trunks",
    params(("id" = i64, Path, description = "The trunk's id")),
    request_body = TrunkSpec,
    responses((status = 200, description = "Changed", body = Trunk),
              (status = 400, description = "A field is wrong (named in `field`)", body = ErrorBody),
              (status = 404, description = "No such trunk", body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TrunkSpec>,
) -> Result<Json<Trunk>, ApiError> {
    let id = path_id(&id)?;
    let trunk = state.db.update_trunk(id, &body).await?;
    state.notify(ConfigChanged::Trunks);
    Ok(Json(trunk))
}

/// Deletes a trunk.
#[utoipa::path(delete, operation_id = "remove_trunk", path = "/trunks/{id}", tag = "trunks",
    params(("id" = i64, Path, description = "The trunk's id")),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such trunk", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id)?;
    if !state.db.delete_trunk(id).await? {
        return Err(ApiError::NotFound(format!("no trunk {id}")));
    }
    state.notify(ConfigChanged::Trunks);
    Ok(StatusCode::NO_CONTENT)
}
