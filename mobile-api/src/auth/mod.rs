//! Who is calling and what they may do.
//!
//! Every `/api/v1` request is authenticated once ([`authenticate`]): the node's integration token
//! (`[secrets] admin_token_file`) makes it the admin; a session's access token makes it that person,
//! with the roles they hold now (a role taken away counts at once). Each group of routes then declares
//! the roles it admits ([`guard`]), which also writes them into the OpenAPI document (`x-roles`, and a
//! documented 403), so the document and the server cannot disagree.
//!
//! Sessions: an access token (15 minutes) and a refresh token (30 days), random and stored only as
//! SHA-256 hashes; a refresh swaps both. Logout, a password change and the user's removal delete the
//! session rows, so the tokens stop working on the next request, on every node.

pub mod handlers;
pub mod password;
pub mod throttle;
pub mod totp;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use rand::RngCore;
use sha2::{Digest, Sha256};
use switchboard_schema::SessionUser;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa_axum::router::OpenApiRouter;

use crate::{ApiError, AppState};

/// How long an access token lives.
pub const ACCESS_TOKEN_SECS: i64 = 15 * 60;
/// How long a refresh token lives (a staff member opening the app once a month stays logged in).
pub const REFRESH_TOKEN_SECS: i64 = 30 * 24 * 3600;
/// Session scope of a normal login.
pub const SCOPE_FULL: &str = "full";
/// Session scope of a login whose role requires two-factor that the user has not enrolled yet: it may
/// only enrol (`/me/totp`) and log out.
pub const SCOPE_TOTP_ENROLMENT: &str = "totp_enrolment";

/// A role a user may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Receptionist,
    Staff,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Receptionist => "receptionist",
            Role::Staff => "staff",
        }
    }
}

/// Routes only admins may use: configuration, users, secrets, recordings.
pub const ADMIN: &[Role] = &[Role::Admin];
/// Routes for the receptionist console (and admins): live queues and calls, call records.
pub const RECEPTION: &[Role] = &[Role::Admin, Role::Receptionist];
/// Routes every logged-in person may use (their own data, the directory).
pub const ANYONE: &[Role] = &[Role::Admin, Role::Receptionist, Role::Staff];

/// Who made a request.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The integration token, or no token configured at all (a node whose API listens on loopback
    /// only; `serve` refuses anything else).
    AdminToken,
    /// A person's session.
    User(SessionUser),
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        match self {
            Principal::AdminToken => role == Role::Admin,
            Principal::User(u) => u.roles.iter().any(|r| r == role.as_str()),
        }
    }

    /// The name the audit log gives the actor.
    pub fn actor(&self) -> &str {
        match self {
            Principal::AdminToken => "admin-token",
            Principal::User(u) => &u.username,
        }
    }

    /// The person behind a session; the integration token is nobody's.
    pub fn user(&self) -> Result<&SessionUser, ApiError> {
        match self {
            Principal::User(u) => Ok(u),
            Principal::AdminToken => Err(ApiError::Forbidden(
                "this route is about the person logged in; the admin token is nobody's".into(),
            )),
        }
    }

    fn full_scope(&self) -> bool {
        match self {
            Principal::AdminToken => true,
            Principal::User(u) => u.scope == SCOPE_FULL,
        }
    }
}

/// A new random token with a prefix saying what it is (`sbat_`: access, `sbrt_`: refresh).
pub(crate) fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// What is stored of a token.
pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub(crate) fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The client's address, when the server was started with connection info (tests call the router
/// without it).
pub(crate) fn source_ip(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

fn bearer(req: &Request) -> Option<&str> {
    req.headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// Finds the [`Principal`] of a request and stores it in the request's extensions; 401 without one.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let principal = match bearer(&req) {
        None if state.admin_token.is_none() => Principal::AdminToken,
        None => return Err(ApiError::Unauthorized),
        Some(given) => {
            let is_admin_token = state
                .admin_token
                .as_deref()
                .is_some_and(|real| crate::same_secret(given.as_bytes(), real.as_bytes()));
            if is_admin_token {
                Principal::AdminToken
            } else {
                match state
                    .db
                    .session_user(&token_hash(given), unix_now())
                    .await?
                {
                    Some(user) => Principal::User(user),
                    None => return Err(ApiError::Unauthorized),
                }
            }
        }
    };
    req.extensions_mut().insert(principal);
    Ok(next.run(req).await)
}

/// The principal [`authenticate`] stored; 401 if it did not run (a route outside the guarded API).
pub(crate) fn principal_of(req: &Request) -> Result<&Principal, ApiError> {
    req.extensions()
        .get::<Principal>()
        .ok_or(ApiError::Unauthorized)
}

async fn require(
    allowed: &'static [Role],
    enrolment_allowed: bool,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let principal = principal_of(&req)?;
    if !principal.full_scope() && !enrolment_allowed {
        return Err(ApiError::Forbidden(
            "your role requires two-factor: enrol an authenticator at /api/v1/me/totp first".into(),
        ));
    }
    if !allowed.iter().any(|r| principal.has(*r)) {
        let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
        return Err(ApiError::Forbidden(format!(
            "this needs the role {}",
            names.join(" or ")
        )));
    }
    Ok(next.run(req).await)
}

/// Admits only `allowed` roles to every route of `router`, and says so in its OpenAPI operations.
pub(crate) fn guard(
    router: OpenApiRouter<AppState>,
    allowed: &'static [Role],
) -> OpenApiRouter<AppState> {
    guard_inner(router, allowed, false)
}

/// Like [`guard`], also admitting a session that may only enrol its second factor.
pub(crate) fn guard_enrolment(
    router: OpenApiRouter<AppState>,
    allowed: &'static [Role],
) -> OpenApiRouter<AppState> {
    guard_inner(router, allowed, true)
}

fn guard_inner(
    router: OpenApiRouter<AppState>,
    allowed: &'static [Role],
    enrolment_allowed: bool,
) -> OpenApiRouter<AppState> {
    let mut router = router.route_layer(middleware::from_fn(move |req: Request, next: Next| {
        require(allowed, enrolment_allowed, req, next)
    }));
    declare_roles(router.get_openapi_mut(), allowed);
    router
}

/// Writes the admitted roles into every operation: `x-roles`, a sentence in the description, and the
/// 401 and 403 answers.
fn declare_roles(doc: &mut OpenApi, allowed: &[Role]) {
    let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            mark_operation(op, &names);
        }
    }
}

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build(),
    )
}

fn mark_operation(op: &mut Operation, roles: &[&str]) {
    let extensions = op.extensions.get_or_insert_with(Default::default);
    extensions.insert("x-roles".to_owned(), serde_json::json!(roles));
    let sentence = format!("Roles: {}.", roles.join(", "));
    op.description = Some(match op.description.take() {
        Some(d) if !d.is_empty() => format!("{d}\n\n{sentence}"),
        _ => sentence,
    });
    let responses = &mut op.responses.responses;
    responses
        .entry("401".to_owned())
        .or_insert_with(|| error_response("Missing, wrong or expired token (`unauthorized`)"));
    responses.entry("403".to_owned()).or_insert_with(|| {
        error_response(&format!(
            "The caller lacks the role ({}) (`forbidden`)",
            roles.join(" or ")
        ))
    });
}

/// The client's address as an extractor: `None` when the server runs without connection info.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}
