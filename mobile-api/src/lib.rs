//! The HTTP side of Switchboard: `/healthz`, Prometheus `/metrics`, and the admin API for users,
//! registrations, call routing (main number, call settings, public numbers, hunt groups, trunks), the
//! citizen's path (queues, voice menus, prompts, opening hours), call records, the calls in progress
//! and their recordings. [`app`] builds the router from shared state so tests can call it in-process; [`openapi`] is
//! the OpenAPI 3 document of all of it, also served at `/api/v1/openapi.json`.
//!
//! The database is the source of truth: the admin API writes there first, then tells the running SIP core
//! (over its command channel) so a new password or a removed user takes effect on the next REGISTER, and
//! announces call-routing changes on [`AppState::config_changes`] so call control can reload them.

mod api_docs;
mod assets;
pub mod auth;
mod bans;
mod call_control;
mod calls;
mod cdrs;
mod error;
mod events;
mod hunt_groups;
mod json;
mod logins_admin;
mod me;
mod menus;
mod metrics;
mod my_calls;
mod numbers;
pub mod oidc;
mod openapi;
mod openapi_complete;
mod phone;
mod prompts;
mod queue_history;
mod queues;
mod recordings;
mod schedules;
mod settings;
mod sip;
mod staff;
mod toll;
mod trunks;
pub mod users;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use switchboard_schema::Db;
use tokio::sync::{broadcast, mpsc};
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use calls::{CallRequest, LiveCall, LiveCallState, RecordingRefusal};
pub use error::{ApiError, ErrorBody};
pub use events::{EventHub, LiveEvent};

/// How many past events `/events` keeps for clients that reconnect.
pub fn events_history() -> usize {
    events::HISTORY
}
pub use queues::{AgentStateChange, QueueRequest};
pub use sip::SipRequest;
pub use switchboard_schema::ConfigChanged;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub sip: mpsc::Sender<SipRequest>,
    /// Digest realm: HA1 hashes are computed for it.
    pub realm: String,
    /// The integration token: when set, `/api/v1` requires `Authorization: Bearer` with it or with a
    /// session's access token. Unset (an API on loopback only), a request without a token is the admin.
    pub admin_token: Option<String>,
    /// Failed logins per username and address, shared by the login handlers.
    pub login_throttle: auth::throttle::LoginThrottle,
    /// The identity provider's client, when `[oidc]` is configured.
    pub oidc: Option<std::sync::Arc<oidc::OidcClient>>,
    /// Where the API announces every successful call-routing write (and user creation/removal), so
    /// running call control reloads that part. `None`: nobody listens. A broadcast channel because
    /// several parts (routing, the SIP side, a future web console feed) may want the same news, and a
    /// slow listener must never hold up an admin's request: it lags and is told so by the channel.
    pub config_changes: Option<broadcast::Sender<ConfigChanged>>,
    /// Call control's queue engine, asked for live queue state and agent state changes
    /// (`/queues/{id}/live`, `/queues/stats`, `/agents/{user}/state`). `None`, or a closed channel:
    /// those routes answer 503 `queues_unavailable`; the stored queues work regardless.
    pub queues: Option<mpsc::Sender<QueueRequest>>,
    /// Call control's news (`/events`), numbered and kept for reconnecting clients. `None`: that
    /// route answers 503.
    pub events: Option<EventHub>,
    /// Call control's calls in progress and their recording (`/calls`). `None`, or a closed channel:
    /// those routes answer 503 `calls_unavailable`.
    pub calls: Option<mpsc::Sender<CallRequest>>,
    /// The node's recordings directory, where `/recordings/{id}/audio` reads the files call control
    /// wrote. `None`: audio and deletion answer 503 `recordings_unavailable`.
    pub recordings_dir: Option<std::path::PathBuf>,
    /// The SIP-over-WebSocket URL the softphone page connects to (`{host}`: the page's host), or
    /// `None` without a WebSocket listener.
    pub phone_websocket: Option<String>,
}

impl AppState {
    /// Announces a change. The database already holds it, so a send nobody receives loses nothing
    /// that a reload from the database would not bring back.
    pub(crate) fn notify(&self, change: ConfigChanged) {
        if let Some(tx) = &self.config_changes {
            let _ = tx.send(change);
        }
    }
}

/// Routes only admins may use, relative to `/api/v1`: configuration, users and their logins,
/// secrets-adjacent state (bans, toll blocks), recordings.
fn admin_routes() -> OpenApiRouter<AppState> {
    let routes = OpenApiRouter::new()
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::remove))
        .routes(routes!(users::push_devices))
        .routes(routes!(logins_admin::get_roles, logins_admin::put_roles))
        .routes(routes!(logins_admin::put_login))
        .routes(routes!(logins_admin::reset_totp))
        .routes(routes!(logins_admin::end_sessions))
        .routes(routes!(
            logins_admin::get_settings,
            logins_admin::put_settings
        ))
        .routes(routes!(logins_admin::list_audit))
        .routes(routes!(logins_admin::export_audit))
        .routes(routes!(bans::list))
        .routes(routes!(bans::lift))
        .routes(routes!(toll::get_limits, toll::put_limits))
        .routes(routes!(toll::list_blocks))
        .routes(routes!(toll::lift_block))
        .routes(routes!(users::set_password))
        .routes(routes!(
            settings::get_call_settings,
            settings::put_call_settings
        ))
        .routes(routes!(users::registrations))
        .routes(routes!(
            settings::get_main_number,
            settings::put_main_number
        ))
        .routes(routes!(numbers::list, numbers::create))
        .routes(routes!(numbers::get, numbers::update, numbers::remove))
        .routes(routes!(hunt_groups::list, hunt_groups::create))
        .routes(routes!(
            hunt_groups::get,
            hunt_groups::update,
            hunt_groups::remove
        ))
        .routes(routes!(hunt_groups::set_members))
        .routes(routes!(trunks::list, trunks::create))
        .routes(routes!(trunks::get, trunks::update, trunks::remove))
        .routes(routes!(trunks::status))
        .routes(routes!(queues::create))
        .routes(routes!(queues::update, queues::remove))
        .routes(routes!(queues::set_members))
        .routes(routes!(menus::list, menus::create))
        .routes(routes!(menus::get, menus::update, menus::remove))
        .routes(routes!(prompts::list))
        .routes(routes!(prompts::get, prompts::put, prompts::remove))
        .routes(routes!(schedules::create))
        .routes(routes!(schedules::update, schedules::remove))
        .routes(routes!(calls::start_recording, calls::stop_recording))
        .routes(routes!(recordings::list))
        .routes(routes!(recordings::get, recordings::remove))
        .routes(routes!(recordings::audio));
    auth::guard(routes, auth::ADMIN)
}

/// Routes of the receptionist console (admins too): live queues, agents and calls, call records,
/// opening hours and the emergency override.
fn reception_routes() -> OpenApiRouter<AppState> {
    let routes = OpenApiRouter::new()
        .routes(routes!(cdrs::list))
        .routes(routes!(cdrs::get))
        .routes(routes!(queues::list))
        .routes(routes!(queues::stats))
        .routes(routes!(queues::get))
        .routes(routes!(queues::get_members))
        .routes(routes!(queues::live))
        .routes(routes!(queue_history::history))
        .routes(routes!(queues::set_agent_state))
        .routes(routes!(schedules::list))
        .routes(routes!(schedules::get))
        .routes(routes!(schedules::set_override, schedules::clear_override))
        .routes(routes!(calls::list))
        .routes(routes!(calls::get));
    auth::guard(routes, auth::RECEPTION)
}

/// Routes about the caller themself, for every role.
fn personal_routes() -> OpenApiRouter<AppState> {
    let everything = OpenApiRouter::new()
        .routes(routes!(me::get))
        .routes(routes!(me::change_password))
        .routes(routes!(staff::get_presence, staff::put_presence))
        .routes(routes!(staff::my_queues))
        .routes(routes!(staff::set_my_agent_state))
        .routes(routes!(staff::directory))
        .routes(routes!(events::events))
        .routes(routes!(my_calls::my_calls, my_calls::click_to_call))
        .routes(routes!(my_calls::missed_queue_calls))
        .routes(routes!(my_calls::get_settings, my_calls::put_settings));
    // What a session that must first enrol a second factor may do.
    let enrolment = OpenApiRouter::new()
        .routes(routes!(auth::handlers::logout))
        .routes(routes!(me::start_totp, me::remove_totp))
        .routes(routes!(me::confirm_totp));
    auth::guard(everything, auth::ANYONE).merge(auth::guard_enrolment(enrolment, auth::ANYONE))
}

/// Every route behind a login or the admin token, relative to `/api/v1`.
fn guarded_routes() -> OpenApiRouter<AppState> {
    admin_routes()
        .merge(reception_routes())
        .merge(personal_routes())
}

/// `/api/v1` routes that need no token: the API description is no secret (the project is open
/// source), and tools fetch it before they know a token; logging in and refreshing a session.
fn open_api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(auth::handlers::login))
        .routes(routes!(auth::handlers::refresh))
        .routes(routes!(oidc::login))
        .routes(routes!(oidc::callback))
}

/// Routes outside `/api/v1`.
fn node_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(metrics::metrics))
        .routes(routes!(assets::jssip))
        .routes(routes!(phone::page))
        .routes(routes!(phone::script))
        .routes(routes!(phone::style))
        .routes(routes!(phone::config))
        .routes(routes!(assets::licenses))
        .routes(routes!(api_docs::page))
        .routes(routes!(api_docs::bundle))
        .routes(routes!(api_docs::style))
        .routes(routes!(api_docs::init))
}

/// The OpenAPI 3 document of every route [`app`] serves, as JSON.
pub fn openapi() -> serde_json::Value {
    openapi_complete::complete(
        OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
            .merge(node_routes())
            .nest("/api/v1", guarded_routes().merge(open_api_routes()))
            .into_openapi(),
    )
}

pub fn app(state: AppState) -> Router {
    // Layers run outside in: authenticate finds the caller, the audit log sees the answer, each
    // group's guard checks the roles.
    let api = guarded_routes()
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            logins_admin::audit_changes,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .merge(open_api_routes());
    let (router, _) = node_routes().nest("/api/v1", api).split_for_parts();
    router.fallback(no_route).with_state(state)
}

/// Unknown paths answer in the API's JSON error format too.
async fn no_route(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route {}", uri.path()))
}

/// Compares a presented token with the real one in time that depends only on their lengths, so
/// response timing does not reveal how many leading characters were right.
pub(crate) fn same_secret(given: &[u8], real: &[u8]) -> bool {
    given.len() == real.len()
        && given
            .iter()
            .zip(real)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Health of the database and the SIP core.
#[utoipa::path(get, path = "/healthz", tag = "node", security(()),
    responses((status = 200, description = "All parts work", body = Object),
              (status = 503, description = "The database or the SIP core does not answer", body = Object)))]
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
