//! The HTTP side of Switchboard: `/healthz`, Prometheus `/metrics`, and the admin API for users and
//! registrations. [`app`] builds the router from shared state so tests can call it in-process.
//!
//! The database is the source of truth: the admin API writes there first, then tells the running SIP core
//! (over its command channel) so a new password or a removed user takes effect on the next REGISTER.

mod error;
mod metrics;
pub mod users;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use sip_transport::Command;
use switchboard_schema::Db;
use tokio::sync::mpsc;

pub use error::ApiError;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub sip: mpsc::Sender<Command>,
    /// Digest realm: HA1 hashes are computed for it.
    pub realm: String,
    /// When set, `/api/*` requires `Authorization: Bearer <token>`.
    pub admin_token: Option<String>,
}

pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route("/users", get(users::list).post(users::create))
        .route("/users/{username}", get(users::get).delete(users::remove))
        .route("/users/{username}/password", put(users::set_password))
        .route("/registrations", get(users::registrations))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::metrics))
        .nest("/api/v1", api)
        .with_state(state)
}

async fn require_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(token) = &state.admin_token {
        let given = req
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given != Some(token.as_str()) {
            return Err(ApiError::Unauthorized);
        }
    }
    Ok(next.run(req).await)
}

async fn healthz(State(state): State<AppState>) -> Response {
    let db_ok = state.db.user_count().await.is_ok();
    let sip_ok = !state.sip.is_closed();
    let status = if db_ok && sip_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "status": if status == StatusCode::OK { "ok" } else { "degraded" },
        "database": if db_ok { "ok" } else { "unreachable" },
        "sip": if sip_ok { "ok" } else { "stopped" },
    });
    (status, Json(body)).into_response()
}
