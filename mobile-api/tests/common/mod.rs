//! In-process harness: the router from `mobile_api::app` over an in-memory SQLite database, driven
//! with tower's `oneshot`, and the receiving end of the configuration-change channel.
//!
//! The database layer's behaviour on PostgreSQL is tested in the schema crate; here the HTTP mapping
//! is under test, which does not depend on the backend.

#![allow(dead_code)] // each test binary uses a different part of the harness

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use mobile_api::{AppState, ConfigChanged};
use serde_json::Value;
use switchboard_schema::{Db, NewUser};
use tokio::sync::{broadcast, mpsc};
use tower::ServiceExt;

pub const TOKEN: &str = "test-token";

pub struct Api {
    pub app: Router,
    pub db: Db,
    changes: broadcast::Receiver<ConfigChanged>,
}

/// A fresh API with users 1001–1005 (each with a mobile) and 9001 (without one).
pub async fn api() -> Api {
    let db = Db::connect("sqlite::memory:")
        .await
        .expect("in-memory database");
    for ext in ["1001", "1002", "1003", "1004", "1005", "9001"] {
        db.create_user(
            &NewUser {
                username: ext.to_owned(),
                display_name: format!("User {ext}"),
                mobile: (!ext.starts_with('9')).then(|| format!("+4790000{ext}")),
            },
            &mobile_api::users::hash_credentials(ext, "switchboard", "password-1"),
        )
        .await
        .expect("user");
    }
    // The SIP core is not running in these tests: its channel is closed, which the user
    // handlers tolerate (the database holds the change).
    let (sip, _) = mpsc::channel(16);
    let (tx, changes) = broadcast::channel(64);
    let app = mobile_api::app(AppState {
        db: db.clone(),
        sip,
        realm: "switchboard".to_owned(),
        admin_token: Some(TOKEN.to_owned()),
        login_throttle: Default::default(),
        oidc: None,
        config_changes: Some(tx),
        queues: None,
        events: None,
        calls: None,
        recordings_dir: None,
        phone_websocket: None,
    });
    Api { app, db, changes }
}

impl Api {
    /// A request with the admin token and, if given, a JSON body.
    pub async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.raw(
            method,
            uri,
            Some(TOKEN),
            body.map(|b| ("application/json", b.to_string())),
        )
        .await
    }

    /// Any request; answers the status and the body as JSON (`Value::Null` if empty, a string if
    /// not JSON).
    pub async fn raw(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<(&str, String)>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let req = match body {
            Some((content_type, body)) => req
                .header("content-type", content_type)
                .body(Body::from(body)),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, value)
    }

    /// The configuration changes announced since the last call.
    pub fn changes(&mut self) -> Vec<ConfigChanged> {
        let mut out = Vec::new();
        while let Ok(change) = self.changes.try_recv() {
            out.push(change);
        }
        out
    }
}

/// Asserts a 400 naming `field`, with the API's error shape.
#[track_caller]
pub fn assert_invalid(resp: &(StatusCode, Value), field: &str) {
    let (status, body) = resp;
    assert_eq!(*status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_input", "{body}");
    assert_eq!(body["field"], field, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// Asserts an error status with the API's error code.
#[track_caller]
pub fn assert_error(resp: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(resp.0, status, "{}", resp.1);
    assert_eq!(resp.1["error"], code, "{}", resp.1);
    assert!(resp.1["message"].is_string(), "{}", resp.1);
}

/// The login password [`session`] gives users.
pub const LOGIN_PASSWORD: &str = "a long enough password";

/// Gives `user` these roles and a login password, as an admin does.
pub async fn make_login(api: &Api, user: &str, roles: &[&str]) {
    let (status, body) = api
        .call(
            "PUT",
            &format!("/api/v1/users/{user}/roles"),
            Some(serde_json::json!({ "roles": roles })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = api
        .call(
            "PUT",
            &format!("/api/v1/users/{user}/login"),
            Some(serde_json::json!({ "password": LOGIN_PASSWORD })),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

/// Logs `user` in with [`LOGIN_PASSWORD`]; answers the access token.
pub async fn login_token(api: &Api, user: &str) -> String {
    let (status, body) = api
        .raw(
            "POST",
            "/api/v1/auth/login",
            None,
            Some((
                "application/json",
                serde_json::json!({ "username": user, "password": LOGIN_PASSWORD }).to_string(),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

/// A request with a session's access token and, if given, a JSON body.
pub async fn as_user(
    api: &Api,
    token: &str,
    method: &str,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    api.raw(
        method,
        uri,
        Some(token),
        body.map(|b| ("application/json", b.to_string())),
    )
    .await
}

/// [`make_login`] then [`login_token`].
pub async fn session(api: &Api, user: &str, roles: &[&str]) -> String {
    make_login(api, user, roles).await;
    login_token(api, user).await
}
