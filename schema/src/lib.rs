//! Switchboard's database layer: users, their digest credentials, and the
//! registrar's bindings, on SQLite (the embedded default) or PostgreSQL.
//!
//! # The model
//!
//! * **`users`** — one row per extension. `username` is the extension
//!   (`"201"`), unique, and doubles as the SIP user part and address of record.
//!   `display_name` is what callers see, `mobile` the staff member's mobile in
//!   E.164 (`"+31612345678"`) or `NULL`, `created_at` unix seconds.
//! * **`credentials`** — one row per user, deleted with it (`ON DELETE
//!   CASCADE`): the digest realm and the two HA1 hashes (MD5 and SHA-256,
//!   RFC 7616), lowercase hex. The password itself is never stored, and the
//!   hex checks in this crate refuse anything that is not shaped like a hash.
//! * **`registrations`** — the registrar's bindings, keyed by
//!   `(aor, contact_uri)`, with the whole Contact header value as received,
//!   the absolute expiry (unix seconds), `q` × 1000, Call-ID/CSeq, transport,
//!   source address and User-Agent.
//!
//! Call routing (migration `0002_calls`; everything an admin changes at runtime):
//!
//! * **`settings`** — key/value pairs; [`MAIN_NUMBER`] is the municipality's
//!   main number.
//! * **`user_call_settings`** — per user ([`UserCallSettings`]): direct number,
//!   default caller ID, cellular ringing and outbound permissions. A user
//!   without a row has the defaults. Deleted with the user.
//! * **`public_numbers`** — inbound numbers and their [`TargetKind`] target
//!   ([`PublicNumber`]).
//! * **`hunt_groups`** and **`hunt_group_members`** — [`HuntGroup`]s and their
//!   ordered members; memberships go with the group or the user.
//! * **`trunks`** — carriers ([`Trunk`]); the password stays in the node's
//!   secrets directory, the row only names the file.
//! * **`cdrs`** — call detail records ([`Cdr`]), opened at call start and
//!   updated on answer and end.
//! * **`config_version`** — one counter, bumped by every configuration write
//!   ([`Db::config_version`]).
//!
//! The citizen's path (migration `0003_citizen_path`):
//!
//! * **`queues`** and **`queue_members`** — ACD [`Queue`]s as plain setting columns, and their
//!   agents with a penalty (tier) and an order.
//! * **`menus`** — voice [`Menu`]s: routing's `MenuConfig` JSON, validated by parsing it.
//! * **`prompts`** — uploaded WAV prompts ([`PromptInfo`]) replacing built-in ones of the same name.
//! * **`schedules`** — opening hours ([`ScheduleEntry`]): routing's schedule JSON and the
//!   receptionist's emergency override. Public numbers gain a `schedule_id` and a closed target
//!   ([`NumberHours`]).
//!
//! Call control reads all of it with [`Db::load_citizen_path`].
//!
//! Call recordings (migration `0005_recordings`): **`recordings`** — one row per WAV file call
//! control recorded ([`Recording`]): the call's Call-ID (and record, if written yet), the file's
//! plain name in the node's recordings directory, the layout, and start, end and size.
//!
//! Targets are `(kind, TEXT reference)` pairs, so the database cannot hold
//! foreign keys for them. The `Db` methods check that a target exists when it
//! is written and refuse ([`SchemaError::InUse`]) to delete a user or hunt
//! group that a number or a no-answer rule still points at. Configuration
//! writes run one at a time (see `config_version`), so those checks cannot
//! race. Bad input is [`SchemaError::Invalid`], naming the field as the admin
//! API's JSON does.
//!
//! # Why it is shaped like this
//!
//! *One source of truth for users.* The provisioning API, the SIP
//! authenticator and the router all read users and credentials from here, so
//! an extension exists exactly when its row does. The authenticator loads
//! [`Db::all_credentials`] into memory at start and refreshes entries through
//! [`Db::credentials`]; nothing else keeps its own copy.
//!
//! *Registrations are persisted in batches.* The registrar keeps live bindings
//! in memory, because a REGISTER must be answered without waiting for a disk.
//! It queues each change as a [`RegistrationChange`] and periodically hands
//! the queue to [`Db::apply_registration_changes`], which applies the whole
//! batch in **one transaction**. A crash or restart therefore loses at most
//! the last unflushed batch (phones re-register within their expiry anyway),
//! and on start [`Db::load_registrations`] restores every binding that has
//! not expired yet. One transaction per batch is also what makes thousands of
//! changes cheap: one commit (one fsync) instead of one per change, and
//! multi-row statements instead of one round trip per row.
//!
//! # Backends
//!
//! [`Db::connect`] picks the backend from the URL at runtime and runs the
//! embedded migrations (`migrations/sqlite/` or `migrations/postgres/`; the two
//! folders describe the same schema in each dialect):
//!
//! * `sqlite:switchboard.db`, `sqlite:///var/lib/switchboard/sb.db` — a file,
//!   created if missing, in WAL mode with a 5 s busy timeout and foreign keys
//!   on.
//! * `sqlite::memory:` — a private in-memory database (tests). It lives in the
//!   pool's single connection and disappears with the [`Db`].
//! * `postgres://user:pass@host:5432/db`, or through the unix socket:
//!   `postgres://postgres@%2Fvar%2Frun%2Fpostgresql/db`.
//!
//! All queries go through [`sqlx::AnyPool`], with `$1, $2, …` placeholders
//! (SQLite accepts them too; the one exception is the generated multi-row
//! batch statements, which use `?` on SQLite for binding speed) and only
//! `TEXT` and 64-bit integer columns, which the Any driver decodes
//! identically on both backends.
//!
//! ```no_run
//! # async fn demo() -> Result<(), switchboard_schema::SchemaError> {
//! use switchboard_schema::{Db, HashedCredentials, NewUser};
//!
//! let db = Db::connect("sqlite::memory:").await?;
//! let user = db
//!     .create_user(
//!         &NewUser { username: "201".into(), display_name: "Reception".into(), mobile: None },
//!         &HashedCredentials {
//!             realm: "switchboard".into(),
//!             ha1_md5: "0123456789abcdef0123456789abcdef".into(),
//!             ha1_sha256: "0123456789abcdef".repeat(4),
//!         },
//!     )
//!     .await?;
//! assert_eq!(db.get_user("201").await?, Some(user));
//! # Ok(())
//! # }
//! ```

mod cdrs;
mod config;
mod demo;
mod error;
mod hunt_groups;
mod logins;
mod menus;
mod numbers;
mod prompts;
mod push_devices;
mod queue_history;
mod queues;
mod recordings;
mod registrations;
mod schedules;
mod settings;
mod trunks;
mod users;

use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};

pub use cdrs::{
    CallDirection, Cdr, CdrAnswer, CdrClose, CdrFilter, CdrOpen, CdrPage, HangupSide, Involving,
    QueueOutcome, MAX_CDR_PAGE,
};
pub use config::{ConfigChanged, TargetKind};
pub use demo::{DEMO_HEALTH_NUMBER, DEMO_MAIN_NUMBER};
pub use error::SchemaError;
pub use hunt_groups::{
    BusyPolicy, HuntGroup, HuntGroupMember, HuntGroupSpec, HuntStrategy, MemberSpec,
    MAX_GROUP_TIMEOUT_SECS, MAX_MEMBERS, MAX_RING_TIME_SECS,
};
pub use logins::{AuditEntry, AuditFilter, LoginRow, NewSession, SessionUser, ROLES};
pub use menus::Menu;
pub use numbers::{NumberHours, PublicNumber, PublicNumberSpec};
pub use prompts::{check_upload_name, PromptInfo, MAX_PROMPT_BYTES, MAX_PROMPT_NAME_CHARS};
pub use push_devices::{PushDeviceChange, PushDeviceRow};
pub use queue_history::{AgentHistory, QueueHistory, MAX_HISTORY_MS};
pub use queues::{
    CitizenPath, HoldMusic, Queue, QueueMember, QueueMemberSpec, QueueSpec, QueueStrategy,
    MAX_PENALTY, MAX_QUEUE_MEMBERS,
};
pub use recordings::{
    check_recording_file_name, NewRecording, Recording, RecordingFilter, RecordingLayout,
    MAX_RECORDING_FILE_NAME, MAX_RECORDING_PAGE,
};
pub use registrations::{RegistrationChange, StoredRegistration};
pub use schedules::{ScheduleEntry, ScheduleEntrySpec};
pub use settings::{
    CallerIdDefault, SrtpPolicy, TollLimitSettings, UserCallSettings, MAIN_NUMBER,
    MAX_CELLULAR_DELAY_SECS, TOLL_MAX_CONCURRENT, TOLL_MAX_MINUTES,
};
pub use trunks::{
    parse_cidr, Trunk, TrunkSpec, TrunkTransport, MAX_OPTIONS_INTERVAL_SECS, MAX_TRUNK_CALLS,
    MAX_TRUNK_CPS, MIN_OPTIONS_INTERVAL_SECS,
};
pub use users::{HashedCredentials, NewUser, User};

/// Migrations for SQLite, embedded at compile time.
static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
/// Migrations for PostgreSQL, embedded at compile time.
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a SQLite connection waits for another writer's lock before the
/// statement fails with "database is locked".
const SQLITE_BUSY_TIMEOUT_MS: u64 = 5_000;
/// Pool size for a SQLite file: WAL lets readers run beside the one writer.
const SQLITE_FILE_MAX_CONNECTIONS: u32 = 4;
/// Pool size for PostgreSQL.
const POSTGRES_MAX_CONNECTIONS: u32 = 8;
/// How long to wait for a free pooled connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

/// Which database a [`Db`] talks to, chosen by the URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// `sqlite:` URLs: a file or `sqlite::memory:`.
    Sqlite,
    /// `postgres://` or `postgresql://` URLs.
    Postgres,
}

/// A handle to the database: a connection pool with the schema migrated.
///
/// Cheap to clone; every clone shares the same pool.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

/// A database URL after [`parse_url`]: what to connect to and how.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ParsedUrl {
    backend: Backend,
    /// The URL handed to sqlx (for SQLite files with `mode=rwc` added).
    url: String,
    /// `sqlite::memory:` or `mode=memory`: one connection, kept open.
    in_memory: bool,
}

/// Works out the backend from the URL and adjusts SQLite URLs: a file is
/// created if missing (`mode=rwc`) unless the URL already sets a `mode`.
fn parse_url(url: &str) -> Result<ParsedUrl, SchemaError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(ParsedUrl {
            backend: Backend::Postgres,
            url: url.to_owned(),
            in_memory: false,
        });
    }
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return Err(SchemaError::InvalidUrl(format!(
            "expected sqlite:..., postgres://... or postgresql://..., got {:?}",
            redact(url)
        )));
    };
    // The same stripping sqlx does: `sqlite://path` and `sqlite:path`.
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, params) = match rest.split_once('?') {
        Some((path, params)) => (path, Some(params)),
        None => (rest, None),
    };
    let mode = params.and_then(|params| {
        params
            .split('&')
            .find_map(|pair| pair.strip_prefix("mode="))
    });
    let in_memory = path == ":memory:" || mode == Some("memory");
    if path.is_empty() && !in_memory {
        return Err(SchemaError::InvalidUrl(format!(
            "SQLite URL without a file name: {url:?} (use sqlite:FILE or sqlite::memory:)"
        )));
    }
    let url = match (in_memory, mode, params) {
        (false, None, None) => format!("{url}?mode=rwc"),
        (false, None, Some("")) => format!("{url}mode=rwc"),
        (false, None, Some(_)) => format!("{url}&mode=rwc"),
        _ => url.to_owned(),
    };
    Ok(ParsedUrl {
        backend: Backend::Sqlite,
        url,
        in_memory,
    })
}

/// The URL without a password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Db {
    /// Connects to `url` and brings the schema up to date.
    ///
    /// `sqlite:FILE` creates the file if it is missing and switches it to WAL
    /// mode; `sqlite::memory:` gives a private in-memory database held by a
    /// single pooled connection; `postgres://...` connects to an existing
    /// database (TCP or, with a percent-encoded socket directory as host, the
    /// unix socket). Fails with [`SchemaError::InvalidUrl`] for any other
    /// scheme and [`SchemaError::Migrate`] if the database's schema is from a
    /// newer or different build.
    pub async fn connect(url: &str) -> Result<Db, SchemaError> {
        sqlx::any::install_default_drivers();
        let parsed = parse_url(url)?;

        let options = AnyPoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
        let options = match parsed.backend {
            Backend::Postgres => options.max_connections(POSTGRES_MAX_CONNECTIONS),
            Backend::Sqlite if parsed.in_memory => {
                // Every new connection would open a new, empty database (the
                // Any driver re-parses the URL per connection), so keep
                // exactly one, and never let it be closed.
                options
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move { sqlite_pragmas(conn, false).await })
                    })
            }
            Backend::Sqlite => options
                .max_connections(SQLITE_FILE_MAX_CONNECTIONS)
                .after_connect(|conn, _meta| {
                    Box::pin(async move { sqlite_pragmas(conn, true).await })
                }),
        };
        let pool = options.connect(&parsed.url).await?;

        let migrator = match parsed.backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator.run(&pool).await?;
        tracing::info!(
            backend = ?parsed.backend,
            in_memory = parsed.in_memory,
            "database connected and migrated"
        );
        Ok(Db {
            pool,
            backend: parsed.backend,
        })
    }

    /// The backend this handle talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool: waits for checked-out connections to come back and
    /// closes them all. Later calls on any clone of this `Db` fail. Dropping
    /// the last clone also closes the pool, but without waiting.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The underlying pool, for the few callers that need SQL this crate
    /// does not wrap (diagnostics, tests). Keep queries portable: `$N`
    /// placeholders, TEXT and BIGINT only.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// Per-connection SQLite settings. `journal_mode` is stored in the file, the
/// others are per connection, so they run on every new connection.
async fn sqlite_pragmas(conn: &mut sqlx::AnyConnection, file: bool) -> Result<(), sqlx::Error> {
    conn.execute(format!("PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}").as_str())
        .await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    if file {
        conn.execute("PRAGMA journal_mode = WAL").await?;
    }
    Ok(())
}

/// The current time in unix seconds.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_pass_through() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgresql://u:p@h/db?sslmode=disable",
            "postgres://postgres@%2Fvar%2Frun%2Fpostgresql/test",
        ] {
            let parsed = parse_url(url).expect("valid");
            assert_eq!(parsed.backend, Backend::Postgres);
            assert_eq!(parsed.url, url);
            assert!(!parsed.in_memory);
        }
    }

    #[test]
    fn sqlite_memory_urls() {
        for url in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite:foo?mode=memory",
        ] {
            let parsed = parse_url(url).expect("valid");
            assert_eq!(parsed.backend, Backend::Sqlite);
            assert!(parsed.in_memory, "{url}");
            assert_eq!(parsed.url, url);
        }
    }

    #[test]
    fn sqlite_file_urls_get_mode_rwc() {
        let cases = [
            ("sqlite:sb.db", "sqlite:sb.db?mode=rwc"),
            ("sqlite:///tmp/sb.db", "sqlite:///tmp/sb.db?mode=rwc"),
            ("sqlite://sb.db?", "sqlite://sb.db?mode=rwc"),
            (
                "sqlite:sb.db?cache=shared",
                "sqlite:sb.db?cache=shared&mode=rwc",
            ),
            ("sqlite:sb.db?mode=ro", "sqlite:sb.db?mode=ro"),
        ];
        for (url, want) in cases {
            let parsed = parse_url(url).expect("valid");
            assert_eq!(parsed.backend, Backend::Sqlite);
            assert!(!parsed.in_memory);
            assert_eq!(parsed.url, want);
        }
    }

    #[test]
    fn bad_urls_are_rejected() {
        for url in ["mysql://root@localhost/db", "", "sqlite:", "sqlite://"] {
            assert!(
                matches!(parse_url(url), Err(SchemaError::InvalidUrl(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn redact_hides_password() {
        assert_eq!(
            redact("mysql://user:secret@host/db"),
            "mysql://user:***@host/db"
        );
        assert_eq!(redact("mysql://user@host/db"), "mysql://user@host/db");
    }
}
