//! `/me`: the logged-in person's own profile, password and second factor. Every route here acts on
//! the caller's session user only; there is no way to name somebody else.

use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use switchboard_schema::LoginRow;

use crate::auth::handlers::{audit, totp_required_roles};
use crate::auth::{password, totp, unix_now, ClientIp, Principal, SCOPE_FULL};
use crate::json::ApiJson;
use crate::{ApiError, AppState, ErrorBody};

/// The issuer name authenticator apps show next to the code.
const TOTP_ISSUER: &str = "Switchboard";

/// The caller's profile.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    username: String,
    display_name: String,
    mobile: Option<String>,
    roles: Vec<String>,
    /// Whether logins need the authenticator's code.
    totp_enabled: bool,
    /// Whether the caller's role requires a second factor.
    totp_required: bool,
    /// The session's scope: `full`, or `totp_enrolment`.
    scope: String,
}

/// The caller's profile and roles.
#[utoipa::path(get, operation_id = "get_me", path = "/me", tag = "me",
    responses((status = 200, description = "The caller", body = Me)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Me>, ApiError> {
    let session = principal.user()?;
    let user = state
        .db
        .get_user(&session.username)
        .await?
        .ok_or_else(|| ApiError::NotFound("the user was removed".into()))?;
    let login = state.db.login(&session.username).await?;
    let required = totp_required_roles(&state).await?;
    Ok(Json(Me {
        username: user.username,
        display_name: user.display_name,
        mobile: user.mobile,
        totp_required: session.roles.iter().any(|r| required.contains(r)),
        roles: session.roles.clone(),
        totp_enabled: login.is_some_and(|l| l.totp_confirmed),
        scope: session.scope.clone(),
    }))
}

/// The body of `PUT /me/password`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    current_password: String,
    /// 10 to 256 characters.
    new_password: String,
}

/// Changes the caller's login password; every other session of theirs ends.
#[utoipa::path(put, path = "/me/password", tag = "me",
    request_body = ChangePassword,
    responses((status = 204, description = "Changed"),
              (status = 400, description = "The new password is too short or too long", body = ErrorBody),
              (status = 401, description = "The current password is wrong (`login_failed`)", body = ErrorBody),
              (status = 415, description = "Not JSON", body = ErrorBody)))]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ClientIp(source): ClientIp,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<StatusCode, ApiError> {
    let session = principal.user()?;
    password::check_new("new_password", &body.new_password)?;
    let stored = state.db.login(&session.username).await?;
    if !password::verify(body.current_password, stored.map(|l| l.password_hash)).await {
        return Err(ApiError::LoginFailed);
    }
    let hash = password::hash(body.new_password).await?;
    state
        .db
        .set_login_password(&session.username, &hash, Some(&session.access_hash))
        .await?;
    audit_own(&state, &session.username, "password_changed", source).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A new authenticator secret, to confirm with a code.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TotpEnrolment {
    /// The secret in base32, for typing into an authenticator app.
    secret: String,
    /// The same as an `otpauth://` URI, for a QR code.
    otpauth_uri: String,
}

/// Starts enrolling an authenticator (replacing one not yet confirmed). Logins do not ask for codes
/// until it is confirmed at `/me/totp/confirm`.
#[utoipa::path(post, path = "/me/totp", tag = "me",
    responses((status = 200, description = "The new secret", body = TotpEnrolment),
              (status = 404, description = "The caller has no local login (`not_found`)", body = ErrorBody),
              (status = 409, description = "An authenticator is already confirmed; remove it first", body = ErrorBody)))]
pub(crate) async fn start_totp(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<TotpEnrolment>, ApiError> {
    let session = principal.user()?;
    let login = state
        .db
        .login(&session.username)
        .await?
        .ok_or_else(|| ApiError::NotFound("you have no local login".into()))?;
    if login.totp_confirmed {
        return Err(ApiError::Conflict(
            "an authenticator is already confirmed; remove it first".into(),
        ));
    }
    let mut secret = [0u8; totp::SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret = totp::base32_encode(&secret);
    state
        .db
        .set_totp_secret(login.user_id, Some(&secret))
        .await?;
    Ok(Json(TotpEnrolment {
        otpauth_uri: totp::otpauth_uri(TOTP_ISSUER, &session.username, &secret),
        secret,
    }))
}

/// A code from the authenticator.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    /// Six digits.
    code: String,
}

/// Records a change the caller made to their own login.
async fn audit_own(state: &AppState, user: &str, action: &str, source: Option<std::net::IpAddr>) {
    audit(state, user, action, user, StatusCode::NO_CONTENT, source).await;
}

/// Checks a code against a login's secret and uses its time step; `LoginFailed` otherwise. Wrong
/// codes count against the username as failed logins do, so a stolen session cannot guess codes.
async fn check_code(state: &AppState, login: &LoginRow, code: &str) -> Result<(), ApiError> {
    let now = Instant::now();
    if let Some(wait) = state.login_throttle.check(&login.username, None, now) {
        return Err(ApiError::TooManyAttempts {
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    let secret = login
        .totp_secret
        .as_deref()
        .and_then(totp::base32_decode)
        .unwrap_or_default();
    match totp::matching_step(&secret, code, unix_now()) {
        Some(step) if !secret.is_empty() && state.db.use_totp_step(login.user_id, step).await? => {
            Ok(())
        }
        _ => {
            state.login_throttle.failed(&login.username, None, now);
            Err(ApiError::LoginFailed)
        }
    }
}

/// Confirms the authenticator with its current code: from now on logins need a code. A session that
/// could only enrol becomes a full one.
#[utoipa::path(post, path = "/me/totp/confirm", tag = "me",
    request_body = TotpCode,
    responses((status = 204, description = "Confirmed"),
              (status = 400, description = "Malformed body", body = ErrorBody),
              (status = 401, description = "Wrong or reused code (`login_failed`)", body = ErrorBody),
              (status = 429, description = "Too many wrong codes (`too_many_attempts`)", body = ErrorBody),
              (status = 409, description = "No enrolment started, or already confirmed", body = ErrorBody),
              (status = 415, description = "Not JSON", body = ErrorBody)))]
pub(crate) async fn confirm_totp(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ClientIp(source): ClientIp,
    ApiJson(body): ApiJson<TotpCode>,
) -> Result<StatusCode, ApiError> {
    let session = principal.user()?;
    let login = state.db.login(&session.username).await?;
    let Some(login) = login.filter(|l| l.totp_secret.is_some() && !l.totp_confirmed) else {
        return Err(ApiError::Conflict("start with POST /me/totp".into()));
    };
    check_code(&state, &login, &body.code).await?;
    state.db.confirm_totp(login.user_id).await?;
    state
        .db
        .set_session_scope(&session.access_hash, SCOPE_FULL)
        .await?;
    audit_own(&state, &session.username, "totp_enrolled", source).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes the caller's authenticator (with a current code), unless their role requires one.
#[utoipa::path(delete, path = "/me/totp", tag = "me",
    request_body = TotpCode,
    responses((status = 204, description = "Removed"),
              (status = 400, description = "Malformed body", body = ErrorBody),
              (status = 401, description = "Wrong or reused code (`login_failed`)", body = ErrorBody),
              (status = 429, description = "Too many wrong codes (`too_many_attempts`)", body = ErrorBody),
              (status = 409, description = "The caller's role requires two-factor, or none is confirmed", body = ErrorBody),
              (status = 415, description = "Not JSON", body = ErrorBody)))]
pub(crate) async fn remove_totp(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ClientIp(source): ClientIp,
    ApiJson(body): ApiJson<TotpCode>,
) -> Result<StatusCode, ApiError> {
    let session = principal.user()?;
    let required = totp_required_roles(&state).await?;
    if session.roles.iter().any(|r| required.contains(r)) {
        return Err(ApiError::Conflict("your role requires two-factor".into()));
    }
    let login = state.db.login(&session.username).await?;
    let Some(login) = login.filter(|l| l.totp_confirmed) else {
        return Err(ApiError::Conflict("no authenticator is confirmed".into()));
    };
    check_code(&state, &login, &body.code).await?;
    state.db.set_totp_secret(login.user_id, None).await?;
    audit_own(&state, &session.username, "totp_removed", source).await;
    Ok(StatusCode::NO_CONTENT)
}
