//! The browser softphone at `/phone`: a plain page (assets in the binary) where staff sign in with
//! their extension and SIP password, register over WSS with JsSIP, and place, answer, hold, mute,
//! key and transfer calls with WebRTC media.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;

use crate::AppState;

const INDEX: &str = include_str!("../assets/phone/index.html");
const SCRIPT: &str = include_str!("../assets/phone/phone.js");
const STYLE: &str = include_str!("../assets/phone/phone.css");

/// What the page needs to know to connect.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct PhoneConfig {
    /// The SIP-over-WebSocket URL, `{host}` standing for the page's own host name; `null` when
    /// the node has no WebSocket listener.
    websocket: Option<String>,
}

/// The softphone page.
#[utoipa::path(get, path = "/phone", tag = "node", security(()),
    responses((status = 200, description = "The browser softphone", content_type = "text/html")))]
pub(crate) async fn page() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], INDEX)
}

/// The softphone's script.
#[utoipa::path(get, path = "/phone/phone.js", tag = "node", security(()),
    responses((status = 200, description = "The softphone's script", content_type = "text/javascript")))]
pub(crate) async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
}

/// The softphone's style sheet.
#[utoipa::path(get, path = "/phone/phone.css", tag = "node", security(()),
    responses((status = 200, description = "The softphone's style sheet", content_type = "text/css")))]
pub(crate) async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE)
}

/// Where the softphone connects.
#[utoipa::path(get, path = "/phone/config.json", tag = "node", security(()),
    responses((status = 200, description = "The softphone's connection settings", body = PhoneConfig)))]
pub(crate) async fn config(State(state): State<AppState>) -> Json<PhoneConfig> {
    Json(PhoneConfig {
        websocket: state.phone_websocket.clone(),
    })
}
