//! Harness of the citizen's-path API tests: the router over a fresh database on SQLite (in memory) or
//! PostgreSQL (a scratch database per test, created through `SWITCHBOARD_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/test`, and dropped afterwards), with users 1001–1005, the
//! configuration-change receiver and, optionally, a queue-engine channel.

#![allow(dead_code)] // each test binary uses a different part

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use mobile_api::{AppState, ConfigChanged, QueueRequest};
use serde_json::{json, Value};
use sqlx::{Connection, Executor};
use switchboard_schema::{Db, NewUser};
use tokio::sync::{broadcast, mpsc};
use tower::ServiceExt;

pub const TOKEN: &str = "test-token";
const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct Api {
    pub app: Router,
    pub db: Db,
    // A mutex so that `changes` takes `&self` and tests can keep request closures borrowing the API.
    changes: std::sync::Mutex<broadcast::Receiver<ConfigChanged>>,
}

/// The router over `db` (users 1001–1005 created), with `queues` as the queue-engine channel.
pub async fn api_on(db: Db, queues: Option<mpsc::Sender<QueueRequest>>) -> Api {
    for ext in ["1001", "1002", "1003", "1004", "1005"] {
        db.create_user(
            &NewUser {
                username: ext.to_owned(),
                display_name: format!("User {ext}"),
                mobile: None,
            },
            &mobile_api::users::hash_credentials(ext, "switchboard", "password-1"),
        )
        .await
        .expect("user");
    }
    router(db, queues)
}

fn router(db: Db, queues: Option<mpsc::Sender<QueueRequest>>) -> Api {
    // The SIP core is not running in these tests.
    let (sip, _) = mpsc::channel(1);
    let (tx, changes) = broadcast::channel(64);
    let app = mobile_api::app(AppState {
        db: db.clone(),
        sip,
        realm: "switchboard".to_owned(),
        admin_token: Some(TOKEN.to_owned()),
        login_throttle: Default::default(),
        oidc: None,
        config_changes: Some(tx),
        queues,
        events: None,
        calls: None,
        recordings_dir: None,
        phone_websocket: None,
    });
    Api {
        app,
        db,
        changes: std::sync::Mutex::new(changes),
    }
}

impl Api {
    /// Another router over the same database, with `queues` as its queue engine.
    pub fn with_engine(&self, queues: Option<mpsc::Sender<QueueRequest>>) -> Api {
        router(self.db.clone(), queues)
    }

    /// A JSON request with the token.
    pub async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (status, _, bytes) = self
            .raw(
                method,
                uri,
                body.map(|b| ("application/json", b.to_string().into_bytes())),
            )
            .await;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, value)
    }

    /// Any request with the token; the answer's status, headers and bytes.
    pub async fn raw(
        &self,
        method: &str,
        uri: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> (StatusCode, HeaderMap, Bytes) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {TOKEN}"));
        let req = match body {
            Some((content_type, body)) => req
                .header("content-type", content_type)
                .body(Body::from(body)),
            None => req.body(Body::empty()),
        }
        .expect("request");
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        (status, headers, bytes)
    }

    /// The configuration changes announced since the last call.
    pub fn changes(&self) -> Vec<ConfigChanged> {
        let mut out = Vec::new();
        let mut changes = self.changes.lock().expect("not poisoned");
        while let Ok(change) = changes.try_recv() {
            out.push(change);
        }
        out
    }
}

/// Asserts a 400 naming `field`.
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

/// The `id` of a created resource.
pub fn id_of(resp: &(StatusCode, Value)) -> i64 {
    resp.1["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id in {}", resp.1))
}

/// A menu routing to `queue`.
pub fn main_menu(queue: i64) -> Value {
    json!({
        "name": "Hovedmeny", "prompt": "main_menu", "greeting": "welcome",
        "options": { "1": format!("queue:{queue}"), "0": "user:1001", "9": "dial_extension", "*": "repeat" },
        "timeout_ms": 4000, "on_failure": format!("queue:{queue}")
    })
}

/// Monday and Tuesday 08:00–15:30, closed on Christmas Eve.
pub fn office_hours() -> Value {
    json!({
        "weekly": {
            "mon": [{ "from": "08:00", "to": "15:30" }], "tue": [{ "from": "08:00", "to": "15:30" }]
        },
        "exceptions": [{ "date": "--12-24" }]
    })
}

/// A mono 16-bit PCM WAV file at 8 kHz.
pub fn wav(samples: &[i16]) -> Vec<u8> {
    let data_len = u32::try_from(samples.len() * 2).expect("small");
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&16000u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

fn pg_admin_url() -> String {
    std::env::var("SWITCHBOARD_TEST_PG")
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| DEFAULT_PG_URL.to_owned())
}

/// `url` with its database name replaced.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map(|i| i + 3).expect("URL has a scheme");
    let path = base[authority..]
        .find('/')
        .map(|i| authority + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{database}", &base[..path]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

async fn pg_admin(url: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is not reachable at {url} ({e}); set SWITCHBOARD_TEST_PG to a server \
             where the user may CREATE DATABASE"
        )
    })
}

/// Runs `body` with a fresh, migrated database on `backend`, then removes it, also when `body` panics
/// (the panic is re-raised).
pub async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Db) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let (url, scratch) = match backend {
        Backend::Sqlite => ("sqlite::memory:".to_owned(), None),
        Backend::Postgres => {
            let admin_url = pg_admin_url();
            let name = format!(
                "sb_api_test_{}_{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            );
            let mut admin = pg_admin(&admin_url).await;
            admin
                .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                .await
                .expect("drop stale database");
            admin
                .execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create database");
            let _ = admin.close().await;
            (with_database(&admin_url, &name), Some((admin_url, name)))
        }
    };
    let outcome = tokio::spawn(async move {
        let db = Db::connect(&url).await.expect("connect");
        body(db.clone()).await;
        db.close().await;
    })
    .await;
    if let Some((admin_url, name)) = scratch {
        let mut admin = pg_admin(&admin_url).await;
        admin
            .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
            .await
            .expect("drop database");
        let _ = admin.close().await;
    }
    if let Err(err) = outcome {
        match err.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(err) => panic!("test task failed: {err}"),
        }
    }
}

/// For each `async fn NAME(db: Db)`, a module `NAME` with one test per backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::harness::{run, Backend};

            #[tokio::test]
            async fn sqlite() {
                run(Backend::Sqlite, super::$name).await;
            }

            #[tokio::test]
            async fn postgres() {
                run(Backend::Postgres, super::$name).await;
            }
        }
    )*};
}
pub(crate) use on_both_backends;
