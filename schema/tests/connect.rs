//! Connecting: URLs, file creation, reconnects, migrations run twice.

mod common;

use common::{run_with_url, with_database, Target};
use switchboard_schema::{
    Backend, Db, HashedCredentials, NewUser, RegistrationChange, SchemaError, StoredRegistration,
};

fn creds() -> HashedCredentials {
    HashedCredentials {
        realm: "switchboard".to_owned(),
        ha1_md5: "0123456789abcdef".repeat(2),
        ha1_sha256: "0123456789abcdef".repeat(4),
    }
}

fn user(name: &str) -> NewUser {
    NewUser {
        username: name.to_owned(),
        display_name: "Reception".to_owned(),
        mobile: Some("+31201234567".to_owned()),
    }
}

fn registration(aor: &str) -> StoredRegistration {
    StoredRegistration {
        aor: aor.to_owned(),
        contact_uri: format!("sip:{aor}@192.0.2.1:5060"),
        contact_value: format!("<sip:{aor}@192.0.2.1:5060>;expires=3600"),
        expires_at: i64::MAX / 2,
        q_milli: 1000,
        call_id: "abc@192.0.2.1".to_owned(),
        cseq: 7,
        transport: "udp".to_owned(),
        source: "192.0.2.1:5060".to_owned(),
        user_agent: Some("Yealink".to_owned()),
    }
}

/// Writes through one connection, closes it, reconnects (migrations run
/// again and must find nothing to do) and reads everything back.
async fn survives_reconnect(url: String, backend: Backend) {
    let db = Db::connect(&url).await.unwrap();
    assert_eq!(db.backend(), backend);
    let created = db.create_user(&user("201"), &creds()).await.unwrap();
    db.apply_registration_changes(&[RegistrationChange::Upsert(registration("201"))])
        .await
        .unwrap();
    db.close().await;
    drop(db);

    let db = Db::connect(&url).await.unwrap();
    assert_eq!(db.list_users().await.unwrap(), vec![created]);
    assert_eq!(db.credentials("201").await.unwrap(), Some(creds()));
    assert_eq!(
        db.load_registrations(0).await.unwrap(),
        vec![registration("201")]
    );
    // Two handles on the same database at once.
    let other = Db::connect(&url).await.unwrap();
    other.create_user(&user("202"), &creds()).await.unwrap();
    assert_eq!(db.user_count().await.unwrap(), 2);
    other.close().await;
    db.close().await;
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode_and_survives_reconnect() {
    run_with_url(Target::SqliteFile, |url| async move {
        let path = url.strip_prefix("sqlite://").unwrap().to_owned();
        assert!(!std::path::Path::new(&path).exists());
        let db = Db::connect(&url).await.unwrap();
        assert!(
            std::path::Path::new(&path).exists(),
            "{path} was not created"
        );
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(mode, "wal");
        let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(busy, 5000);
        let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert_eq!(fk, 1);
        db.close().await;

        survives_reconnect(url, Backend::Sqlite).await;
    })
    .await;
}

#[tokio::test]
async fn sqlite_plain_path_url_forms() {
    run_with_url(Target::SqliteFile, |url| async move {
        // sqlite:/abs/path (one slash) and an explicit ?mode=rwc both work.
        let path = url.strip_prefix("sqlite://").unwrap().to_owned();
        let db = Db::connect(&format!("sqlite:{path}")).await.unwrap();
        db.create_user(&user("201"), &creds()).await.unwrap();
        db.close().await;
        let db = Db::connect(&format!("sqlite:{path}?mode=rwc"))
            .await
            .unwrap();
        assert_eq!(db.user_count().await.unwrap(), 1);
        db.close().await;
    })
    .await;
}

#[tokio::test]
async fn sqlite_memory_databases_are_private() {
    let a = Db::connect("sqlite::memory:").await.unwrap();
    let b = Db::connect("sqlite::memory:").await.unwrap();
    assert_eq!(a.backend(), Backend::Sqlite);
    a.create_user(&user("201"), &creds()).await.unwrap();
    assert_eq!(a.user_count().await.unwrap(), 1);
    assert_eq!(b.user_count().await.unwrap(), 0);
    // Clones share the one database.
    assert_eq!(a.clone().user_count().await.unwrap(), 1);
}

#[tokio::test]
async fn postgres_survives_reconnect() {
    run_with_url(Target::Postgres, |url| {
        survives_reconnect(url, Backend::Postgres)
    })
    .await;
}

/// The form used when the tests run in a network namespace and reach
/// PostgreSQL through its unix socket: the socket directory, percent-encoded,
/// as host.
#[tokio::test]
async fn postgres_through_unix_socket() {
    let admin = common::pg_admin_url(Target::PostgresSocket);
    assert!(admin.contains("%2F"), "{admin} is not a socket URL");
    run_with_url(Target::PostgresSocket, |url| {
        survives_reconnect(url, Backend::Postgres)
    })
    .await;
}

#[tokio::test]
async fn unknown_schemes_are_rejected() {
    for url in ["mysql://root@127.0.0.1/test", "sqlite:", "", "/tmp/x.db"] {
        let err = Db::connect(url).await.unwrap_err();
        assert!(matches!(err, SchemaError::InvalidUrl(_)), "{url}: {err:?}");
    }
    let err = Db::connect("mysql://root:secret@127.0.0.1/test")
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("secret"), "{err}");
}

/// A server error (here: the database does not exist) comes back as
/// `SchemaError::Database`, at once.
#[tokio::test]
async fn missing_postgres_database_is_a_database_error() {
    let url = with_database(
        &common::pg_admin_url(Target::Postgres),
        "sb_test_no_such_database",
    );
    let err = Db::connect(&url).await.unwrap_err();
    assert!(matches!(err, SchemaError::Database(_)), "{err:?}");
}

#[test]
fn with_database_replaces_the_path() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://postgres@%2Fvar%2Frun%2Fpostgresql/test", "x"),
        "postgres://postgres@%2Fvar%2Frun%2Fpostgresql/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/test?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}
