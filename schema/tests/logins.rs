//! Roles, logins, sessions and the audit log, on every backend.

#[macro_use]
mod common;

use switchboard_schema::{AuditEntry, AuditFilter, Db, HashedCredentials, NewSession, NewUser};

async fn user(db: &Db, username: &str) -> i64 {
    db.create_user(
        &NewUser {
            username: username.to_owned(),
            display_name: format!("User {username}"),
            mobile: None,
        },
        &HashedCredentials {
            realm: "switchboard".into(),
            ha1_md5: "a".repeat(32),
            ha1_sha256: "b".repeat(64),
        },
    )
    .await
    .unwrap()
    .id
}

fn session(user_id: i64, tag: &str, access_expires_at: i64) -> NewSession {
    NewSession {
        access_hash: format!("access-{tag}"),
        refresh_hash: format!("refresh-{tag}"),
        user_id,
        scope: "full".into(),
        method: "password".into(),
        source: "192.0.2.1".into(),
        access_expires_at,
        refresh_expires_at: access_expires_at + 3600,
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

on_every_backend!(
    roles_logins_and_totp_steps,
    sessions_live_rotate_and_end,
    audit_log_filters
);

async fn roles_logins_and_totp_steps(db: Db) {
    let id = user(&db, "201").await;
    assert_eq!(db.roles("201").await.unwrap(), Some(vec![]));
    assert_eq!(db.roles("nobody").await.unwrap(), None);
    let roles = vec!["staff".to_owned(), "admin".to_owned(), "staff".to_owned()];
    assert!(db.set_roles("201", &roles).await.unwrap());
    assert_eq!(
        db.roles("201").await.unwrap(),
        Some(vec!["admin".to_owned(), "staff".to_owned()])
    );
    assert!(db.set_roles("201", &["root".to_owned()]).await.is_err());
    assert!(!db.set_roles("nobody", &[]).await.unwrap());

    assert!(db.login("201").await.unwrap().is_none());
    assert!(db
        .set_login_password("201", "$argon2id$x", None)
        .await
        .unwrap());
    let login = db.login("201").await.unwrap().unwrap();
    assert_eq!(
        (login.user_id, login.password_hash.as_str()),
        (id, "$argon2id$x")
    );
    assert!(!login.totp_confirmed);
    db.set_totp_secret(id, Some("SECRET")).await.unwrap();
    db.confirm_totp(id).await.unwrap();
    let login = db.login("201").await.unwrap().unwrap();
    assert_eq!(login.totp_secret.as_deref(), Some("SECRET"));
    assert!(login.totp_confirmed);
    // A step is good once; an older one never after a newer.
    assert!(db.use_totp_step(id, 100).await.unwrap());
    assert!(!db.use_totp_step(id, 100).await.unwrap());
    assert!(!db.use_totp_step(id, 99).await.unwrap());
    assert!(db.use_totp_step(id, 101).await.unwrap());
    db.set_totp_secret(id, None).await.unwrap();
    let login = db.login("201").await.unwrap().unwrap();
    assert_eq!((login.totp_secret, login.totp_confirmed), (None, false));
}

async fn sessions_live_rotate_and_end(db: Db) {
    let id = user(&db, "201").await;
    db.set_roles("201", &["receptionist".to_owned()])
        .await
        .unwrap();
    db.set_login_password("201", "$argon2id$x", None)
        .await
        .unwrap();
    let t = now();
    db.create_session(&session(id, "a", t + 900)).await.unwrap();
    db.create_session(&session(id, "b", t + 900)).await.unwrap();
    db.create_session(&session(id, "old", t - 10))
        .await
        .unwrap();
    let s = db.session_user("access-a", t).await.unwrap().unwrap();
    assert_eq!(
        (s.username.as_str(), s.roles.clone()),
        ("201", vec!["receptionist".to_owned()])
    );
    // Expired access tokens are not sessions, though the refresh token still works.
    assert!(db.session_user("access-old", t).await.unwrap().is_none());
    assert_eq!(
        db.rotate_session("refresh-old", "access-new", "refresh-new", t + 900, t)
            .await
            .unwrap(),
        Some(id)
    );
    assert!(db.session_user("access-new", t).await.unwrap().is_some());
    assert_eq!(
        db.rotate_session("refresh-old", "x", "y", t + 900, t)
            .await
            .unwrap(),
        None
    );
    // A password change keeps only the named session.
    db.set_login_password("201", "$argon2id$y", Some("access-a"))
        .await
        .unwrap();
    assert!(db.session_user("access-a", t).await.unwrap().is_some());
    assert!(db.session_user("access-b", t).await.unwrap().is_none());
    assert!(db.session_user("access-new", t).await.unwrap().is_none());
    db.end_session("access-a").await.unwrap();
    assert!(db.session_user("access-a", t).await.unwrap().is_none());
    db.create_session(&session(id, "c", t + 900)).await.unwrap();
    assert_eq!(db.end_sessions_of("201").await.unwrap(), 1);
    // Removing the user removes their sessions.
    db.create_session(&session(id, "d", t + 900)).await.unwrap();
    db.remove_user("201").await.unwrap();
    assert!(db.session_user("access-d", t).await.unwrap().is_none());
}

async fn audit_log_filters(db: Db) {
    for (i, actor) in ["admin-token", "201", "201", "202"].iter().enumerate() {
        db.record_audit(&AuditEntry {
            at_ms: 1_000 + i as i64,
            actor: (*actor).to_owned(),
            action: "PUT /api/v1/queues/1".into(),
            target: "/api/v1/queues/1".into(),
            outcome: 200,
            source: "192.0.2.1".into(),
        })
        .await
        .unwrap();
    }
    let all = db
        .audit(&AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    let of_201 = db
        .audit(&AuditFilter {
            actor: Some("201".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(of_201.len(), 2);
    let window = db
        .audit(&AuditFilter {
            from_ms: Some(1_001),
            to_ms: Some(1_003),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        window.iter().map(|e| e.at_ms).collect::<Vec<_>>(),
        vec![1_001, 1_002]
    );
    let limited = db
        .audit(&AuditFilter {
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(limited.len(), 1);
}
