//! Sources the SIP node bans (scanners, floods, failed digests): listed, and lifted by an admin.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::sip::SipRequest;
use crate::{ApiError, AppState, ErrorBody};

/// One banned source address.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BanView {
    /// The source address.
    pub ip: String,
    /// `scanner` (named a SIP scanner in User-Agent), `flood` (kept sending past its rate) or
    /// `auth_failures` (too many wrong passwords).
    pub reason: String,
    /// Seconds until the ban ends by itself.
    pub remaining_secs: u64,
    /// Messages from it dropped unread since the ban began (not counted for `auth_failures`).
    pub dropped: u64,
}

/// Sources banned now.
#[utoipa::path(get, operation_id = "list_bans", path = "/bans", tag = "security",
    responses((status = 200, description = "The bans", body = Vec<BanView>),
              (status = 503, description = "The SIP core is not running", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Vec<BanView>>, ApiError> {
    let (tx, rx) = oneshot::channel();
    state
        .sip
        .send(SipRequest::Bans(tx))
        .await
        .map_err(|_| ApiError::SipUnavailable)?;
    let bans = rx.await.map_err(|_| ApiError::SipUnavailable)?;
    Ok(Json(
        bans.into_iter()
            .map(|b| BanView {
                ip: b.ip.to_string(),
                reason: b.reason.as_str().to_string(),
                remaining_secs: b.remaining.as_secs(),
                dropped: b.dropped,
            })
            .collect(),
    ))
}

/// Lifts the bans on one address at once.
#[utoipa::path(delete, operation_id = "lift_ban", path = "/bans/{ip}", tag = "security",
    params(("ip" = String, Path, description = "The banned address (IPv4 or IPv6)")),
    responses((status = 204, description = "Lifted"),
              (status = 400, description = "Not an IP address", body = ErrorBody),
              (status = 404, description = "That address is not banned", body = ErrorBody),
              (status = 503, description = "The SIP core is not running", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn lift(
    State(state): State<AppState>,
    Path(ip): Path<String>,
) -> Result<StatusCode, ApiError> {
    let ip: std::net::IpAddr = ip.parse().map_err(|_| ApiError::Validation {
        field: "ip".into(),
        message: format!("{ip:?} is not an IP address"),
    })?;
    let (tx, rx) = oneshot::channel();
    state
        .sip
        .send(SipRequest::LiftBan { ip, reply: tx })
        .await
        .map_err(|_| ApiError::SipUnavailable)?;
    match rx.await.map_err(|_| ApiError::SipUnavailable)? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::NotFound(format!("{ip} is not banned"))),
    }
}
