use crate::sip::SipRequest;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use sip_core::auth::UserSecrets;
use switchboard_schema::{ConfigChanged, HashedCredentials, NewUser, PushDeviceRow, User};
use tokio::sync::oneshot;

use crate::json::ApiJson;
use crate::{ApiError, AppState, ErrorBody};

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct CreateUser {
    username: String,
    display_name: String,
    mobile: Option<String>,
    password: String,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct SetPassword {
    password: String,
}

/// Hashes a password for the realm; the password itself is never stored.
pub fn hash_credentials(username: &str, realm: &str, password: &str) -> HashedCredentials {
    let s = UserSecrets::from_password(username, realm, password);
    HashedCredentials {
        realm: realm.to_string(),
        ha1_md5: s.ha1_md5,
        ha1_sha256: s.ha1_sha256,
    }
}

fn check_password(p: &str) -> Result<(), ApiError> {
    if p.len() < 8 {
        return Err(ApiError::InvalidInput(
            "password must have at least 8 characters".into(),
        ));
    }
    Ok(())
}

async fn tell_sip(state: &AppState, cmd: SipRequest) {
    // If the SIP core is down the database still holds the change; the next start loads it.
    let _ = state.sip.send(cmd).await;
}

/// All users, ordered by username.
#[utoipa::path(get, operation_id = "list_users", path = "/users", tag = "users",
    responses((status = 200, description = "The users", body = Vec<User>),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(state.db.list_users().await?))
}

/// One user.
#[utoipa::path(get, operation_id = "get_user", path = "/users/{username}", tag = "users",
    params(("username" = String, Path, description = "The user's extension")),
    responses((status = 200, description = "The user", body = User),
              (status = 404, description = "No such user", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<Json<User>, ApiError> {
    state
        .db
        .get_user(&username)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no user {username}")))
}

/// The user's push-capable app installations (RFC 8599): learned from REGISTERs with push
/// parameters, kept after the app's registration ends, each with the last push sent and its outcome.
#[utoipa::path(get, operation_id = "list_push_devices", path = "/users/{username}/push-devices", tag = "users",
    params(("username" = String, Path, description = "The user's extension")),
    responses((status = 200, description = "The devices", body = Vec<PushDeviceRow>),
              (status = 404, description = "No such user", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn push_devices(
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<Json<Vec<PushDeviceRow>>, ApiError> {
    if state.db.get_user(&username).await?.is_none() {
        return Err(ApiError::NotFound(format!("no user {username}")));
    }
    Ok(Json(state.db.push_devices(Some(&username)).await?))
}

/// Creates a user with a SIP password (only its digest hashes are stored).
#[utoipa::path(post, operation_id = "create_user", path = "/users", tag = "users", request_body = CreateUser,
    responses((status = 201, description = "Created", body = User),
              (status = 409, description = "The username is taken", body = ErrorBody),
              (status = 422, description = "A field is wrong (short password, mobile not E.164, …)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    check_password(&body.password)?;
    let creds = hash_credentials(&body.username, &state.realm, &body.password);
    let user = state
        .db
        .create_user(
            &NewUser {
                username: body.username.clone(),
                display_name: body.display_name,
                mobile: body.mobile,
            },
            &creds,
        )
        .await?;
    state.notify(ConfigChanged::UserCallSettings(body.username.clone()));
    tell_sip(
        &state,
        SipRequest::SetUser {
            username: body.username,
            secrets: UserSecrets {
                ha1_md5: creds.ha1_md5,
                ha1_sha256: creds.ha1_sha256,
            },
        },
    )
    .await;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Sets a user's SIP password.
#[utoipa::path(put, path = "/users/{username}/password", tag = "users",
    params(("username" = String, Path, description = "The user's extension")),
    request_body = SetPassword,
    responses((status = 204, description = "Changed"),
              (status = 404, description = "No such user", body = ErrorBody),
              (status = 422, description = "Password too short", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn set_password(
    State(state): State<AppState>,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<SetPassword>,
) -> Result<StatusCode, ApiError> {
    check_password(&body.password)?;
    let creds = hash_credentials(&username, &state.realm, &body.password);
    state.db.set_credentials(&username, &creds).await?;
    tell_sip(
        &state,
        SipRequest::SetUser {
            username,
            secrets: UserSecrets {
                ha1_md5: creds.ha1_md5,
                ha1_sha256: creds.ha1_sha256,
            },
        },
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a user with their credentials, call settings, hunt group memberships and registrations.
#[utoipa::path(delete, operation_id = "remove_user", path = "/users/{username}", tag = "users",
    params(("username" = String, Path, description = "The user's extension")),
    responses((status = 204, description = "Removed"),
              (status = 404, description = "No such user", body = ErrorBody),
              (status = 409, description = "A public number or a no-answer rule still routes to the user (`in_use`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.db.remove_user(&username).await? {
        return Err(ApiError::NotFound(format!("no user {username}")));
    }
    // Memberships and call settings went with the user.
    state.notify(ConfigChanged::HuntGroups);
    state.notify(ConfigChanged::UserCallSettings(username.clone()));
    tell_sip(&state, SipRequest::RemoveUser { username }).await;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
pub(crate) struct RegistrationQuery {
    aor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct RegistrationView {
    aor: String,
    contact: String,
    expires_at: i64,
    q: f64,
    transport: String,
    source: String,
    user_agent: Option<String>,
}

/// Live registrations, from the SIP core's memory.
#[utoipa::path(get, path = "/registrations", tag = "registrations",
    params(("aor" = Option<String>, Query, description = "Only this user's")),
    responses((status = 200, description = "The bindings", body = Vec<RegistrationView>),
              (status = 503, description = "The SIP core is not running", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn registrations(
    State(state): State<AppState>,
    Query(q): Query<RegistrationQuery>,
) -> Result<Json<Vec<RegistrationView>>, ApiError> {
    let (tx, rx) = oneshot::channel();
    state
        .sip
        .send(SipRequest::Bindings {
            aor: q.aor,
            reply: tx,
        })
        .await
        .map_err(|_| ApiError::SipUnavailable)?;
    let list = rx.await.map_err(|_| ApiError::SipUnavailable)?;
    Ok(Json(
        list.into_iter()
            .map(|b| RegistrationView {
                aor: b.aor,
                contact: b.contact_value,
                expires_at: b.expires_at_unix,
                q: b.q_milli as f64 / 1000.0,
                transport: b.transport,
                source: b.source,
                user_agent: b.user_agent,
            })
            .collect(),
    ))
}
