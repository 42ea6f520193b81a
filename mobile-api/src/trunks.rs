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

/// A trunk's registration to its carrier.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct TrunkRegistrationView {
    /// `unregistered`, `registering`, `registered` or `failed`.
    state: &'static str,
    /// Registered: seconds until the binding runs out (it is refreshed well before).
    expires_in_secs: Option<u64>,
    /// Failed: the carrier's status (408 when it did not answer, 403 when it refused us).
    last_status: Option<u16>,
    /// Failed: seconds until the next attempt.
    retry_in_secs: Option<u64>,
}

/// What OPTIONS probes found.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct TrunkProbeView {
    /// `up` or `down` (down after two failed probes in a row; calls then skip the trunk).
    state: &'static str,
    /// Status of the last answer; 408 when the last probe got none.
    last_status: Option<u16>,
    /// Failed probes in a row.
    failures: u32,
}

/// A trunk's live state in the SIP core.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct TrunkStatusView {
    id: i64,
    name: String,
    /// The SIP core has the trunk: it is enabled and was picked up (within 5 s of a change).
    active: bool,
    /// The carrier's resolved address; `null` when the host does not resolve.
    address: Option<String>,
    /// `null` when the trunk does not register.
    registration: Option<TrunkRegistrationView>,
    /// `null` when the trunk is not probed.
    probe: Option<TrunkProbeView>,
    /// Calls out through the trunk now.
    calls: u32,
    max_calls: u32,
    max_cps: u32,
    /// Why the last TCP/TLS connection to the carrier could not be opened (for example
    /// `TLS handshake failed: invalid peer certificate: UnknownIssuer`); `null` once one is up.
    connection_error: Option<String>,
}

/// Live state of one trunk: registration, OPTIONS probes and calls in progress, from the SIP core.
#[utoipa::path(get, operation_id = "get_trunk_status", path = "/trunks/{id}/status", tag = "trunks",
    params(("id" = i64, Path, description = "The trunk's id")),
    responses((status = 200, description = "The trunk's state", body = TrunkStatusView),
              (status = 400, description = "The id is not a number", body = ErrorBody),
              (status = 404, description = "No such trunk", body = ErrorBody),
              (status = 503, description = "The SIP core is not running", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TrunkStatusView>, ApiError> {
    use sip_core::trunk::{ProbeState, RegistrationState};
    let id = path_id(&id)?;
    let trunk = state
        .db
        .get_trunk(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no trunk {id}")))?;
    let (reply, answer) = tokio::sync::oneshot::channel();
    state
        .sip
        .send(crate::sip::SipRequest::TrunkStatus(reply))
        .await
        .map_err(|_| ApiError::SipUnavailable)?;
    let all = answer.await.map_err(|_| ApiError::SipUnavailable)?;
    let now = std::time::Instant::now();
    let secs = |at: std::time::Instant| at.saturating_duration_since(now).as_secs();
    let live = all.into_iter().find(|s| s.id == id);
    let view = TrunkStatusView {
        id,
        name: trunk.name,
        active: live.is_some(),
        address: live.as_ref().and_then(|s| s.addr).map(|a| a.to_string()),
        registration: live.as_ref().and_then(|s| s.registration).map(|r| match r {
            RegistrationState::Unregistered => TrunkRegistrationView {
                state: "unregistered",
                expires_in_secs: None,
                last_status: None,
                retry_in_secs: None,
            },
            RegistrationState::Registering => TrunkRegistrationView {
                state: "registering",
                expires_in_secs: None,
                last_status: None,
                retry_in_secs: None,
            },
            RegistrationState::Registered { until } => TrunkRegistrationView {
                state: "registered",
                expires_in_secs: Some(secs(until)),
                last_status: None,
                retry_in_secs: None,
            },
            RegistrationState::Failed { status, retry_at } => TrunkRegistrationView {
                state: "failed",
                expires_in_secs: None,
                last_status: Some(status),
                retry_in_secs: Some(secs(retry_at)),
            },
        }),
        probe: live.as_ref().and_then(|s| s.probe).map(|p| TrunkProbeView {
            state: match p.state {
                ProbeState::Up => "up",
                ProbeState::Down => "down",
            },
            last_status: p.last_status,
            failures: p.failures,
        }),
        calls: live.as_ref().map_or(0, |s| s.calls),
        max_calls: u32::try_from(trunk.max_calls).unwrap_or(0),
        max_cps: u32::try_from(trunk.max_cps).unwrap_or(0),
        connection_error: live.and_then(|s| s.connection_error),
    };
    Ok(Json(view))
}
