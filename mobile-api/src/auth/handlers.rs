//! `/auth`: logging in with a username and password (and a TOTP code where required), refreshing a
//! session, logging out.

use std::net::IpAddr;
use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use switchboard_schema::{AuditEntry, NewSession};

use super::{
    new_token, password, token_hash, totp, unix_now, ClientIp, Principal, ACCESS_TOKEN_SECS,
    REFRESH_TOKEN_SECS, SCOPE_FULL, SCOPE_TOTP_ENROLMENT,
};
use crate::json::ApiJson;
use crate::{ApiError, AppState, ErrorBody};

/// The setting naming the roles whose holders must use a second factor (comma-separated).
pub const TOTP_REQUIRED_ROLES: &str = "login_totp_required_roles";

/// The body of `POST /auth/login`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: String,
    /// The six-digit code of the user's authenticator, when they enrolled one.
    #[serde(default)]
    code: Option<String>,
}

/// A session's tokens.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionTokens {
    /// Send as `Authorization: Bearer …`.
    pub(crate) access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds the access token lives.
    pub(crate) expires_in: i64,
    /// Swap it at `/auth/refresh` for new tokens before it expires.
    pub(crate) refresh_token: String,
    /// Seconds the refresh token lives.
    refresh_expires_in: i64,
    username: String,
    /// The user's roles now.
    roles: Vec<String>,
    /// `full`, or `totp_enrolment`: the user's role requires two-factor and they must enrol an
    /// authenticator (`/me/totp`) before anything else.
    scope: String,
}

/// The body of `POST /auth/refresh`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    refresh_token: String,
}

pub(crate) fn source_text(ip: Option<IpAddr>) -> String {
    ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

pub(crate) async fn audit(
    state: &AppState,
    actor: &str,
    action: &str,
    target: &str,
    outcome: StatusCode,
    source: Option<IpAddr>,
) {
    let entry = AuditEntry {
        at_ms: super::unix_ms(),
        actor: actor.chars().take(128).collect(),
        action: action.to_owned(),
        target: target.chars().take(256).collect(),
        outcome: i64::from(outcome.as_u16()),
        source: source_text(source),
    };
    if let Err(e) = state.db.record_audit(&entry).await {
        tracing::error!(error = %e, "audit log write failed");
    }
}

/// The roles whose holders must log in with a second factor.
pub(crate) async fn totp_required_roles(state: &AppState) -> Result<Vec<String>, ApiError> {
    Ok(state
        .db
        .setting(TOTP_REQUIRED_ROLES)
        .await?
        .map(|v| {
            v.split(',')
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default())
}

/// Creates a session and answers its tokens.
pub(crate) async fn open_session(
    state: &AppState,
    user_id: i64,
    username: &str,
    roles: Vec<String>,
    scope: &str,
    method: &str,
    source: Option<IpAddr>,
) -> Result<SessionTokens, ApiError> {
    let access = new_token("sbat_");
    let refresh = new_token("sbrt_");
    let now = unix_now();
    state
        .db
        .create_session(&NewSession {
            access_hash: token_hash(&access),
            refresh_hash: token_hash(&refresh),
            user_id,
            scope: scope.to_owned(),
            method: method.to_owned(),
            source: source_text(source),
            access_expires_at: now + ACCESS_TOKEN_SECS,
            refresh_expires_at: now + REFRESH_TOKEN_SECS,
        })
        .await?;
    Ok(SessionTokens {
        access_token: access,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_SECS,
        refresh_token: refresh,
        refresh_expires_in: REFRESH_TOKEN_SECS,
        username: username.to_owned(),
        roles,
        scope: scope.to_owned(),
    })
}

/// Logs in with a username and password (and the authenticator's code once enrolled).
#[utoipa::path(post, path = "/auth/login", tag = "auth", security(()),
    request_body = LoginBody,
    responses((status = 200, description = "Logged in", body = SessionTokens),
              (status = 400, description = "Malformed body", body = ErrorBody),
              (status = 401, description = "Wrong username, password or code (`login_failed`), or a code is needed (`totp_required`)", body = ErrorBody),
              (status = 415, description = "Not JSON", body = ErrorBody),
              (status = 429, description = "Too many failed attempts for this user or from this address (`too_many_attempts`; Retry-After says when to try again)", body = ErrorBody)))]
pub(crate) async fn login(
    State(state): State<AppState>,
    ClientIp(source): ClientIp,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<SessionTokens>, ApiError> {
    let username: String = body.username.chars().take(128).collect();
    if let Some(wait) = state
        .login_throttle
        .check(&username, source, Instant::now())
    {
        audit(
            &state,
            &username,
            "login_throttled",
            &username,
            StatusCode::TOO_MANY_REQUESTS,
            source,
        )
        .await;
        return Err(ApiError::TooManyAttempts {
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    let stored = state.db.login(&username).await?;
    let password_ok = body.password.len() <= 4 * password::MAX_CHARS
        && password::verify(
            body.password,
            stored.as_ref().map(|l| l.password_hash.clone()),
        )
        .await;
    let fail = |why: &'static str| {
        let state = state.clone();
        let username = username.clone();
        async move {
            state
                .login_throttle
                .failed(&username, source, Instant::now());
            audit(
                &state,
                &username,
                "login_failed",
                why,
                StatusCode::UNAUTHORIZED,
                source,
            )
            .await;
            ApiError::LoginFailed
        }
    };
    let Some(login) = stored.filter(|_| password_ok) else {
        return Err(fail("password").await);
    };
    if login.totp_confirmed {
        let Some(code) = body.code.as_deref().filter(|c| !c.is_empty()) else {
            // The password was right: say a code is needed, without counting a failure.
            return Err(ApiError::TotpRequired);
        };
        let secret = login
            .totp_secret
            .as_deref()
            .and_then(totp::base32_decode)
            .unwrap_or_default();
        let step = totp::matching_step(&secret, code, unix_now());
        let fresh = match step {
            Some(step) => state.db.use_totp_step(login.user_id, step).await?,
            None => false,
        };
        if !fresh {
            return Err(fail("totp").await);
        }
    }
    let roles = state.db.roles(&username).await?.unwrap_or_default();
    let required = totp_required_roles(&state).await?;
    let scope = if !login.totp_confirmed && roles.iter().any(|r| required.contains(r)) {
        SCOPE_TOTP_ENROLMENT
    } else {
        SCOPE_FULL
    };
    state.login_throttle.succeeded(&username);
    let tokens = open_session(
        &state,
        login.user_id,
        &username,
        roles,
        scope,
        "password",
        source,
    )
    .await?;
    audit(
        &state,
        &username,
        "login",
        &username,
        StatusCode::OK,
        source,
    )
    .await;
    tracing::info!(username = %username, scope, "logged in");
    Ok(Json(tokens))
}

/// Swaps a refresh token for new tokens; the old ones stop working.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", security(()),
    request_body = RefreshBody,
    responses((status = 200, description = "New tokens", body = SessionTokens),
              (status = 400, description = "Malformed body", body = ErrorBody),
              (status = 401, description = "Unknown, used or expired refresh token", body = ErrorBody),
              (status = 415, description = "Not JSON", body = ErrorBody)))]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<SessionTokens>, ApiError> {
    let access = new_token("sbat_");
    let refresh = new_token("sbrt_");
    let now = unix_now();
    let user_id = state
        .db
        .rotate_session(
            &token_hash(&body.refresh_token),
            &token_hash(&access),
            &token_hash(&refresh),
            now + ACCESS_TOKEN_SECS,
            now,
        )
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let session = state
        .db
        .session_user(&token_hash(&access), now)
        .await?
        .filter(|s| s.user_id == user_id)
        .ok_or(ApiError::Unauthorized)?;
    Ok(Json(SessionTokens {
        access_token: access,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_SECS,
        refresh_token: refresh,
        refresh_expires_in: REFRESH_TOKEN_SECS,
        username: session.username,
        roles: session.roles,
        scope: session.scope,
    }))
}

/// Ends the caller's session: its access and refresh tokens stop working at once.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 204, description = "Logged out (with the admin token: nothing to end)")))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ClientIp(source): ClientIp,
) -> Result<StatusCode, ApiError> {
    if let Principal::User(user) = &principal {
        state.db.end_session(&user.access_hash).await?;
        audit(
            &state,
            &user.username,
            "logout",
            &user.username,
            StatusCode::NO_CONTENT,
            source,
        )
        .await;
    }
    Ok(StatusCode::NO_CONTENT)
}
