//! What admins manage about people's logins: roles, login passwords, a lost authenticator, sessions,
//! which roles must use two-factor; and the audit log.

use std::fmt::Write as _;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use switchboard_schema::{AuditEntry, AuditFilter, ROLES};

use crate::auth::handlers::{totp_required_roles, TOTP_REQUIRED_ROLES};
use crate::auth::password;
use crate::json::{invalid, ApiJson};
use crate::{ApiError, AppState, ErrorBody};

/// A user's roles.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    /// Any of `admin`, `receptionist`, `staff`.
    roles: Vec<String>,
}

fn check_roles(roles: &[String]) -> Result<(), ApiError> {
    match roles.iter().position(|r| !ROLES.contains(&r.as_str())) {
        Some(i) => Err(invalid(
            &format!("roles[{i}]"),
            "must be admin, receptionist or staff",
        )),
        None => Ok(()),
    }
}

/// A user's roles.
#[utoipa::path(get, path = "/users/{username}/roles", tag = "logins",
    params(("username" = String, Path, description = "The user")),
    responses((status = 200, description = "The roles", body = Roles),
              (status = 404, description = "No such user", body = ErrorBody)))]
pub(crate) async fn get_roles(
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<Json<Roles>, ApiError> {
    let roles = state
        .db
        .roles(&username)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no user {username}")))?;
    Ok(Json(Roles { roles }))
}

/// Replaces a user's roles; takes effect on the user's next request.
#[utoipa::path(put, path = "/users/{username}/roles", tag = "logins",
    params(("username" = String, Path, description = "The user")),
    request_body = Roles,
    responses((status = 200, description = "The roles now", body = Roles),
              (status = 400, description = "An unknown role", body = ErrorBody),
              (status = 404, description = "No such user", body = ErrorBody),
              (status = 415, description = "Not JSON", body = ErrorBody)))]
pub(crate) async fn put_roles(
    State(state): State<AppState>,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<Roles>,
) -> Result<Json<Roles>, ApiError> {
    check_roles(&body.roles)?;
    if !state.db.set_roles(&username, &body.roles).await? {
        return Err(ApiError::NotFound(format!("no user {username}")));
    }
    get_roles(State(state), Path(username)).await
}

/// The body of `PUT /users/{username}/login`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginPassword {
    /// 10 to 256 characters. Separate from the SIP password.
    password: String,
}

/// Gives a user a local login, or a new password; all their sessions end.
#[utoipa::path(put, path = "/users/{username}/login", tag = "logins",
    params(("username" = String, Path, description = "The user")),
    request_body = LoginPassword,
    responses((status = 204, description = "Set"),
              (status = 400, description = "Too short or too long", body = ErrorBody),
              (status = 404, description = "No such user", body = ErrorBody),
              (status = 415, description = "Not JSON", body = ErrorBody)))]
pub(crate) async fn put_login(
    State(state): State<AppState>,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<LoginPassword>,
) -> Result<StatusCode, ApiError> {
    password::check_new("password", &body.password)?;
    if state.db.get_user(&username).await?.is_none() {
        return Err(ApiError::NotFound(format!("no user {username}")));
    }
    let hash = password::hash(body.password).await?;
    state.db.set_login_password(&username, &hash, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a user's authenticator (lost phone): their next login enrols a new one if their role
/// requires it. Their sessions end.
#[utoipa::path(delete, path = "/users/{username}/totp", tag = "logins",
    params(("username" = String, Path, description = "The user")),
    responses((status = 204, description = "Removed"),
              (status = 404, description = "No such user, or no local login", body = ErrorBody)))]
pub(crate) async fn reset_totp(
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    let login = state
        .db
        .login(&username)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("{username} has no local login")))?;
    state.db.set_totp_secret(login.user_id, None).await?;
    state.db.end_sessions_of(&username).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many sessions were ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EndedSessions {
    ended: u64,
}

/// Ends every session of a user at once (a lost phone, someone leaving).
#[utoipa::path(delete, path = "/users/{username}/sessions", tag = "logins",
    params(("username" = String, Path, description = "The user")),
    responses((status = 200, description = "Ended", body = EndedSessions),
              (status = 404, description = "No such user", body = ErrorBody)))]
pub(crate) async fn end_sessions(
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<Json<EndedSessions>, ApiError> {
    if state.db.get_user(&username).await?.is_none() {
        return Err(ApiError::NotFound(format!("no user {username}")));
    }
    let ended = state.db.end_sessions_of(&username).await?;
    Ok(Json(EndedSessions { ended }))
}

/// Login policy.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginSettings {
    /// Roles whose holders must log in with an authenticator code (TOTP, RFC 6238). A holder who has
    /// none enrolled gets a session that may only enrol one.
    totp_required_roles: Vec<String>,
}

/// The login policy.
#[utoipa::path(get, operation_id = "get_login_settings", path = "/settings/login", tag = "logins",
    responses((status = 200, description = "The policy", body = LoginSettings)))]
pub(crate) async fn get_settings(
    State(state): State<AppState>,
) -> Result<Json<LoginSettings>, ApiError> {
    Ok(Json(LoginSettings {
        totp_required_roles: totp_required_roles(&state).await?,
    }))
}

/// Sets the login policy; counts from each user's next login.
#[utoipa::path(put, operation_id = "put_login_settings", path = "/settings/login", tag = "logins",
    request_body = LoginSettings,
    responses((status = 200, description = "The policy now", body = LoginSettings),
              (status = 400, description = "An unknown role", body = ErrorBody),
              (status = 415, description = "Not JSON", body = ErrorBody)))]
pub(crate) async fn put_settings(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LoginSettings>,
) -> Result<Json<LoginSettings>, ApiError> {
    let roles = &body.totp_required_roles;
    match roles.iter().position(|r| !ROLES.contains(&r.as_str())) {
        Some(i) => {
            return Err(invalid(
                &format!("totp_required_roles[{i}]"),
                "must be admin, receptionist or staff",
            ))
        }
        None => {
            let mut sorted = roles.clone();
            sorted.sort();
            sorted.dedup();
            state
                .db
                .set_setting(TOTP_REQUIRED_ROLES, &sorted.join(","))
                .await?;
        }
    }
    get_settings(State(state)).await
}

/// Which audit lines to read.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// From this time on (unix milliseconds, inclusive).
    #[param(minimum = 0)]
    from: Option<i64>,
    /// Before this time (unix milliseconds).
    #[param(minimum = 0)]
    to: Option<i64>,
    /// Only this actor (a username, or `admin-token`).
    actor: Option<String>,
    /// At most this many lines (default 1,000, at most 10,000).
    #[param(minimum = 1, maximum = 10000)]
    limit: Option<i64>,
}

impl AuditQuery {
    fn filter(self) -> Result<AuditFilter, ApiError> {
        let limit = self.limit.unwrap_or(1000);
        if !(1..=10_000).contains(&limit) {
            return Err(invalid("limit", "must be 1 to 10000"));
        }
        if self.from.is_some_and(|f| f < 0) {
            return Err(invalid("from", "must be unix milliseconds, not negative"));
        }
        if self.to.is_some_and(|t| t < 0) {
            return Err(invalid("to", "must be unix milliseconds, not negative"));
        }
        Ok(AuditFilter {
            from_ms: self.from,
            to_ms: self.to,
            actor: self.actor,
            limit,
        })
    }
}

/// Audit lines.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditLog {
    entries: Vec<AuditEntry>,
}

/// The audit log: every change made by an admin or receptionist, every login and failed login.
#[utoipa::path(get, path = "/audit", tag = "logins",
    params(AuditQuery),
    responses((status = 200, description = "Oldest first", body = AuditLog),
              (status = 400, description = "A bad parameter", body = ErrorBody)))]
pub(crate) async fn list_audit(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditLog>, ApiError> {
    let Query(query) = query.map_err(|e| invalid("query", e.body_text()))?;
    let entries = state.db.audit(&query.filter()?).await?;
    Ok(Json(AuditLog { entries }))
}

/// A CSV field, quoted when it holds a separator, a quote or a line break, and defused when a
/// spreadsheet would take it for a formula.
fn csv_field(out: &mut String, value: &str) {
    let formula = value.starts_with(['=', '+', '-', '@']);
    let needs_quotes = formula || value.contains([',', '"', '\n', '\r']);
    if needs_quotes {
        out.push('"');
        if formula {
            out.push('\'');
        }
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// The audit log as CSV (`at_ms,actor,action,target,outcome,source`), for the municipality's records.
#[utoipa::path(get, path = "/audit/export", tag = "logins",
    params(AuditQuery),
    responses((status = 200, description = "CSV, oldest first", content_type = "text/csv", body = String),
              (status = 400, description = "A bad parameter", body = ErrorBody)))]
pub(crate) async fn export_audit(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| invalid("query", e.body_text()))?;
    let entries = state.db.audit(&query.filter()?).await?;
    let mut csv = String::from("at_ms,actor,action,target,outcome,source\n");
    for e in &entries {
        let _ = write!(csv, "{},", e.at_ms);
        csv_field(&mut csv, &e.actor);
        csv.push(',');
        csv_field(&mut csv, &e.action);
        csv.push(',');
        csv_field(&mut csv, &e.target);
        let _ = write!(csv, ",{},", e.outcome);
        csv_field(&mut csv, &e.source);
        csv.push('\n');
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"switchboard-audit.csv\"",
            ),
        ],
        csv,
    )
        .into_response())
}

/// Records every change (any method but GET and HEAD) made by an admin or a receptionist: who, which
/// request, the status answered, from where. Runs after authentication, around the handler.
pub(crate) async fn audit_changes(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use axum::http::Method;
    let principal = crate::auth::principal_of(&req).ok();
    let watched = principal
        .is_some_and(|p| p.has(crate::auth::Role::Admin) || p.has(crate::auth::Role::Receptionist));
    if !watched || matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let actor = principal.map(|p| p.actor().to_owned()).unwrap_or_default();
    let path = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| req.uri().path().to_owned(), |u| u.path().to_owned());
    let action = format!("{} {path}", req.method());
    let source = crate::auth::source_ip(&req);
    let response = next.run(req).await;
    crate::auth::handlers::audit(&state, &actor, &action, &path, response.status(), source).await;
    response
}
