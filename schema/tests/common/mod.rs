//! Test harness: runs a test body against every backend.
//!
//! * SQLite in memory (`sqlite::memory:`),
//! * SQLite in a fresh file under the system temp dir (removed afterwards),
//! * PostgreSQL in a fresh database `sb_test_<pid>_<n>_<nanos>` created
//!   through the admin URL in `SWITCHBOARD_TEST_PG` (default
//!   `postgres://postgres@127.0.0.1:5432/test`) and dropped afterwards, so
//!   tests running in parallel never share a database.
//!
//! PostgreSQL tests never skip: an unreachable server fails the test with a
//! message saying which URL was tried.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Connection, Executor};
use switchboard_schema::Db;

/// Users, groups, numbers and trunks for the call-routing tests.
pub mod fixtures;

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const DEFAULT_PG_SOCKET_URL: &str = "postgres://postgres@%2Fvar%2Frun%2Fpostgresql/test";

/// Where a test runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    SqliteMemory,
    SqliteFile,
    Postgres,
    /// PostgreSQL through its unix socket (`SWITCHBOARD_TEST_PG_SOCKET`).
    PostgresSocket,
}

/// The admin URL for PostgreSQL tests.
pub fn pg_admin_url(target: Target) -> String {
    let (var, default) = match target {
        Target::PostgresSocket => ("SWITCHBOARD_TEST_PG_SOCKET", DEFAULT_PG_SOCKET_URL),
        _ => ("SWITCHBOARD_TEST_PG", DEFAULT_PG_URL),
    };
    std::env::var(var)
        .ok()
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// A unique name for this process and call.
fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// `url` with its database name (the path) replaced by `database`; the query
/// string is kept. Works for `host:port` and for a percent-encoded socket
/// directory as host, whose slashes are encoded.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).expect("URL has a scheme");
    let path_start = base[authority_start..]
        .find('/')
        .map(|i| authority_start + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{database}", &base[..path_start]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// A database set up for one test, and how to remove it.
pub struct Scratch {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Nothing,
    Dir(PathBuf),
    PgDatabase { admin_url: String, name: String },
}

impl Scratch {
    pub async fn new(target: Target) -> Scratch {
        match target {
            Target::SqliteMemory => Scratch {
                url: "sqlite::memory:".to_owned(),
                cleanup: Cleanup::Nothing,
            },
            Target::SqliteFile => {
                let dir = std::env::temp_dir().join(unique_name("sb_schema_test"));
                std::fs::create_dir_all(&dir).expect("create temp dir");
                let path = dir.join("switchboard.db");
                Scratch {
                    url: format!("sqlite://{}", path.display()),
                    cleanup: Cleanup::Dir(dir),
                }
            }
            Target::Postgres | Target::PostgresSocket => {
                let admin_url = pg_admin_url(target);
                let name = unique_name("sb_test");
                let mut admin = admin_connect(&admin_url).await;
                admin
                    .execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .unwrap_or_else(|e| panic!("CREATE DATABASE {name} failed: {e}"));
                let _ = admin.close().await;
                Scratch {
                    url: with_database(&admin_url, &name),
                    cleanup: Cleanup::PgDatabase { admin_url, name },
                }
            }
        }
    }

    pub async fn remove(self) {
        match self.cleanup {
            Cleanup::Nothing => {}
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::PgDatabase { admin_url, name } => {
                let mut admin = admin_connect(&admin_url).await;
                admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await
                    .unwrap_or_else(|e| panic!("DROP DATABASE {name} failed: {e}"));
                let _ = admin.close().await;
            }
        }
    }
}

async fn admin_connect(admin_url: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(admin_url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {admin_url} ({e}). The schema tests need a \
             PostgreSQL server with a database the URL's user may CREATE DATABASE from; \
             set SWITCHBOARD_TEST_PG (and SWITCHBOARD_TEST_PG_SOCKET for the unix-socket \
             test) to its URL."
            )
        })
}

/// Runs `body` with the URL of a fresh database on `target`, then removes
/// the database, also when `body` panics (the panic is then re-raised).
pub async fn run_with_url<F, Fut>(target: Target, body: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let scratch = Scratch::new(target).await;
    let outcome = tokio::spawn(body(scratch.url.clone())).await;
    scratch.remove().await;
    if let Err(err) = outcome {
        match err.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(err) => panic!("test task failed: {err}"),
        }
    }
}

/// Runs `body` with a connected, migrated [`Db`] on a fresh database on
/// `target`, then closes it and removes the database.
pub async fn run<F, Fut>(target: Target, body: F)
where
    F: FnOnce(Db) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_with_url(target, move |url| async move {
        let db = Db::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("Db::connect({url}) failed on {target:?}: {e}"));
        body(db.clone()).await;
        db.close().await;
    })
    .await;
}

/// Generates, for each `async fn NAME(db: Db)` listed, a module `NAME` with
/// one `#[tokio::test]` per backend: `sqlite_memory`, `sqlite_file`,
/// `postgres`.
#[allow(unused_macros)] // not every test binary uses it
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::common::{run, Target};

            #[tokio::test]
            async fn sqlite_memory() {
                run(Target::SqliteMemory, super::$name).await;
            }

            #[tokio::test]
            async fn sqlite_file() {
                run(Target::SqliteFile, super::$name).await;
            }

            #[tokio::test]
            async fn postgres() {
                run(Target::Postgres, super::$name).await;
            }
        }
    )*};
}
