//! The OpenAPI 3 document of the whole HTTP API, served at `GET /api/v1/openapi.json`.
//!
//! The document is not maintained by hand: every route is registered through utoipa-axum's `routes!`,
//! which takes the path and method from the handler's `#[utoipa::path]` annotation, so the router and
//! the document come from the same source. A test still compares the document with the list of routes
//! and calls each one.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The parts of the document that no handler carries: title, tags, the bearer scheme.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard HTTP API",
        description = "Health, metrics and the admin API of Switchboard. Everything under /api/v1 except \
                       this document needs `Authorization: Bearer <token>` when the node has an admin token \
                       (without one it is open, on 127.0.0.1 only). Errors are JSON: \
                       `{\"error\": code, \"message\": text}`, with `field` naming the offending field in \
                       400 answers of the call-routing endpoints."
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "users", description = "Users (extensions), passwords and per-user call settings"),
        (name = "registrations", description = "Live SIP registrations"),
        (name = "security", description = "Sources the SIP node bans (scanners, floods, failed digests)"),
        (name = "settings", description = "Switch-wide settings"),
        (name = "numbers", description = "Public numbers and where they route"),
        (name = "hunt-groups", description = "Hunt groups and their members"),
        (name = "trunks", description = "SIP trunks to carriers"),
        (name = "cdrs", description = "Call detail records"),
        (name = "queues", description = "ACD queues and their agents; live queue and agent state from call control"),
        (name = "menus", description = "Voice menus (routing's menu JSON)"),
        (name = "prompts", description = "Built-in and uploaded voice prompts (WAV)"),
        (name = "schedules", description = "Opening hours and the emergency override"),
        (name = "calls", description = "Calls in progress, from call control, and recording them"),
        (name = "recordings", description = "Recorded calls: metadata, WAV files, deletion"),
        (name = "node", description = "Health, metrics and this document; no token needed"),
    )
)]
pub(crate) struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document, built once: it depends on the code only, never on state.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    serde_json::to_string_pretty(&crate::openapi()).unwrap_or_else(|e| {
        serde_json::json!({ "error": "openapi", "message": e.to_string() }).to_string()
    })
});

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "node", security(()),
    responses((status = 200, description = "The OpenAPI 3 document", content_type = "application/json")))]
pub(crate) async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}
