//! `/numbers`: the public numbers and where they route.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Deserializer};
use switchboard_schema::{ConfigChanged, NumberHours, PublicNumber, PublicNumberSpec, TargetKind};

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
    /// The queue priority its callers get: 0 (normal, the default) to 9, higher served first.
    #[serde(default)]
    priority: i64,
    /// The schedule (opening hours) the number follows; left out or null: always open.
    #[serde(default)]
    schedule_id: Option<i64>,
    /// Where calls go outside the hours, with `closed_ref`; both null: the `closed` prompt, then hang up.
    #[serde(default)]
    closed_kind: Option<TargetKind>,
    #[serde(default)]
    closed_ref: Option<String>,
}

/// A public number's new routing. The opening-hours fields are optional as a group: when none of
/// `schedule_id`, `closed_kind` and `closed_ref` is in the body the number keeps its hours; when any is,
/// the three are set as given (left out = null).
///
/// Documented under its earlier name, `PublicNumberSpec`: the same fields plus the optional hours.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = PublicNumberSpec)]
#[serde(deny_unknown_fields)]
pub(crate) struct NumberUpdate {
    /// What people call it; left out: empty.
    #[serde(default)]
    label: String,
    target_kind: TargetKind,
    target_ref: String,
    /// Queue priority of its callers, 0–9; left out: 0.
    #[serde(default)]
    priority: i64,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    schedule_id: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<TargetKind>)]
    closed_kind: Option<Option<TargetKind>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    closed_ref: Option<Option<String>>,
}

/// Tells "null" (`Some(None)`) from "left out" (`None`, through `default`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
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
              (status = 400, description = "A field is wrong, or the target, schedule or closed target does not exist", body = ErrorBody),
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
        priority: body.priority,
    };
    let hours = NumberHours {
        schedule_id: body.schedule_id,
        closed_kind: body.closed_kind,
        closed_ref: body.closed_ref,
    };
    let created = state
        .db
        .create_public_number_with_hours(&body.number, &spec, &hours)
        .await?;
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

/// Changes where a public number routes, and its label; and its opening hours when any of
/// `schedule_id`, `closed_kind`, `closed_ref` is given.
#[utoipa::path(put, operation_id = "update_number", path = "/numbers/{number}", tag = "numbers",
    params(("number" = String, Path, description = "E.164")),
    request_body = NumberUpdate,
    responses((status = 200, description = "Changed", body = PublicNumber),
              (status = 400, description = "A field is wrong, or the target, schedule or closed target does not exist", body = ErrorBody),
              (status = 404, description = "No such number", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(number): Path<String>,
    ApiJson(body): ApiJson<NumberUpdate>,
) -> Result<Json<PublicNumber>, ApiError> {
    let hours =
        (body.schedule_id.is_some() || body.closed_kind.is_some() || body.closed_ref.is_some())
            .then(|| NumberHours {
                schedule_id: body.schedule_id.flatten(),
                closed_kind: body.closed_kind.flatten(),
                closed_ref: body.closed_ref.flatten(),
            });
    let spec = PublicNumberSpec {
        label: body.label,
        target_kind: body.target_kind,
        target_ref: body.target_ref,
        priority: body.priority,
    };
    let changed = state
        .db
        .update_public_number_with_hours(&number, &spec, hours.as_ref())
        .await?;
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
