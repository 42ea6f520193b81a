//! `/menus`: voice menus, sent and answered as routing's menu JSON.
//!
//! A menu is its configuration: `{"name": "Hovedmeny", "prompt": "main_menu", "options": {"1":
//! "queue:10", "9": "dial_extension", "*": "repeat"}, …}` (see `switchboard_routing::menu::MenuConfig`).
//! The server assigns `id`; what a GET answers can be PUT back unchanged.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::Value;
use switchboard_schema::{ConfigChanged, Menu};

use crate::json::{path_id, ApiJson};
use crate::{ApiError, AppState, ErrorBody};

/// The menu as the API shows it: its configuration JSON, with `id` and `name`.
fn view(menu: &Menu) -> Result<Value, ApiError> {
    serde_json::to_value(&menu.config).map_err(|e| {
        ApiError::Database(switchboard_schema::SchemaError::InvalidInput(format!(
            "menu {} cannot be shown: {e}",
            menu.id
        )))
    })
}

/// All menus, ordered by name.
#[utoipa::path(get, operation_id = "list_menus", path = "/menus", tag = "menus",
    responses((status = 200, description = "The menus' configurations", body = Vec<Object>),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Vec<Value>>, ApiError> {
    let menus = state.db.list_menus().await?;
    Ok(Json(menus.iter().map(view).collect::<Result<_, _>>()?))
}

/// Creates a menu. `name`, `prompt` and `options` are required; `id` is assigned (one in the body is
/// replaced).
#[utoipa::path(post, operation_id = "create_menu", path = "/menus", tag = "menus",
    request_body(content = Object, description = "The menu configuration JSON"),
    responses((status = 201, description = "Created", body = Object),
              (status = 400, description = "The configuration is refused; `message` says why, `field` names the JSON field when known (else `body`)", body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let menu = state.db.create_menu(&body).await?;
    state.notify(ConfigChanged::Menus);
    Ok((StatusCode::CREATED, Json(view(&menu)?)))
}

/// One menu's configuration.
#[utoipa::path(get, operation_id = "get_menu", path = "/menus/{id}", tag = "menus",
    params(("id" = i64, Path, description = "The menu's id")),
    responses((status = 200, description = "The menu configuration", body = Object),
              (status = 400, description = "The id is not a number", body = ErrorBody),
              (status = 404, description = "No such menu", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&id)?;
    let menu = state
        .db
        .get_menu(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no menu {id}")))?;
    Ok(Json(view(&menu)?))
}

/// Replaces a menu's configuration; an `id` in the body must be the menu's.
#[utoipa::path(put, operation_id = "update_menu", path = "/menus/{id}", tag = "menus",
    params(("id" = i64, Path, description = "The menu's id")),
    request_body(content = Object, description = "The menu configuration JSON"),
    responses((status = 200, description = "Changed", body = Object),
              (status = 400, description = "The configuration is refused (see `message` and `field`)", body = ErrorBody),
              (status = 404, description = "No such menu", body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id(&id)?;
    let menu = state.db.update_menu(id, &body).await?;
    state.notify(ConfigChanged::Menus);
    Ok(Json(view(&menu)?))
}

/// Deletes a menu (refused while a number, another menu, a closed target or an overflow routes to it).
#[utoipa::path(delete, operation_id = "remove_menu", path = "/menus/{id}", tag = "menus",
    params(("id" = i64, Path, description = "The menu's id")),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such menu", body = ErrorBody),
              (status = 409, description = "Still a target (`in_use`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id)?;
    if !state.db.delete_menu(id).await? {
        return Err(ApiError::NotFound(format!("no menu {id}")));
    }
    state.notify(ConfigChanged::Menus);
    Ok(StatusCode::NO_CONTENT)
}
