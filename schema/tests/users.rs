//! Users and credentials, on every backend.

#[macro_use]
mod common;

use switchboard_schema::{
    Db, HashedCredentials, NewUser, RegistrationChange, SchemaError, StoredRegistration,
};

fn new_user(username: &str) -> NewUser {
    NewUser {
        username: username.to_owned(),
        display_name: format!("User {username}"),
        mobile: None,
    }
}

fn creds(seed: char) -> HashedCredentials {
    HashedCredentials {
        realm: "switchboard".to_owned(),
        ha1_md5: seed.to_string().repeat(32),
        ha1_sha256: seed.to_string().repeat(64),
    }
}

fn registration(aor: &str, contact_uri: &str) -> StoredRegistration {
    StoredRegistration {
        aor: aor.to_owned(),
        contact_uri: contact_uri.to_owned(),
        contact_value: format!("<{contact_uri}>;expires=3600"),
        expires_at: i64::MAX / 2,
        q_milli: 1000,
        call_id: "call-1".to_owned(),
        cseq: 1,
        transport: "udp".to_owned(),
        source: "192.0.2.1:5060".to_owned(),
        user_agent: None,
    }
}

on_every_backend!(
    create_get_list_remove,
    duplicate_username_is_a_conflict,
    credentials_can_be_replaced,
    remove_user_cascades,
    invalid_input_is_rejected,
    concurrent_writers,
);

async fn create_get_list_remove(db: Db) {
    assert_eq!(db.user_count().await.unwrap(), 0);
    assert_eq!(db.list_users().await.unwrap(), vec![]);
    assert_eq!(db.get_user("201").await.unwrap(), None);

    let before = now();
    let mut reception = new_user("201");
    reception.mobile = Some("+31612345678".to_owned());
    let created = db.create_user(&reception, &creds('a')).await.unwrap();
    assert_eq!(created.username, "201");
    assert_eq!(created.display_name, "User 201");
    assert_eq!(created.mobile.as_deref(), Some("+31612345678"));
    assert!(created.created_at >= before && created.created_at <= now());

    // Created out of order: the list comes back ordered by username, bytewise
    // ('B' < 'a' < 'b'), the same on both backends.
    let b = db.create_user(&new_user("b"), &creds('b')).await.unwrap();
    let upper = db.create_user(&new_user("B"), &creds('c')).await.unwrap();
    let a = db.create_user(&new_user("a"), &creds('d')).await.unwrap();
    assert_ne!(created.id, b.id);

    assert_eq!(db.get_user("201").await.unwrap(), Some(created.clone()));
    assert_eq!(db.get_user("b").await.unwrap(), Some(b.clone()));
    assert_eq!(db.get_user("nobody").await.unwrap(), None);
    assert_eq!(db.user_count().await.unwrap(), 4);
    let names: Vec<String> = db
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["201", "B", "a", "b"]);
    assert_eq!(
        db.list_users().await.unwrap(),
        vec![created.clone(), upper, a, b.clone()]
    );

    // Serialize, as the provisioning API does.
    let json = serde_json::to_value(&created).unwrap();
    assert_eq!(json["username"], "201");
    assert_eq!(json["mobile"], "+31612345678");
    assert_eq!(json["id"], created.id);

    assert!(db.remove_user("201").await.unwrap());
    assert!(!db.remove_user("201").await.unwrap());
    assert_eq!(db.get_user("201").await.unwrap(), None);
    assert_eq!(db.user_count().await.unwrap(), 3);

    // The username is free again, under a new id.
    let again = db.create_user(&new_user("201"), &creds('e')).await.unwrap();
    assert_ne!(again.id, created.id);
    assert_eq!(again.mobile, None);
    assert_eq!(db.get_user("201").await.unwrap(), Some(again));
}

async fn duplicate_username_is_a_conflict(db: Db) {
    let first = db.create_user(&new_user("201"), &creds('a')).await.unwrap();
    let mut other = new_user("201");
    other.display_name = "Impostor".to_owned();
    let err = db.create_user(&other, &creds('b')).await.unwrap_err();
    assert!(matches!(err, SchemaError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains("201"), "{err}");

    // Nothing of the failed attempt is left, and the pool still works
    // (the failed transaction was rolled back).
    assert_eq!(db.user_count().await.unwrap(), 1);
    assert_eq!(db.get_user("201").await.unwrap(), Some(first));
    assert_eq!(db.credentials("201").await.unwrap(), Some(creds('a')));
    assert_eq!(db.all_credentials().await.unwrap().len(), 1);
    db.create_user(&new_user("202"), &creds('c')).await.unwrap();
    assert_eq!(db.user_count().await.unwrap(), 2);
}

async fn credentials_can_be_replaced(db: Db) {
    assert_eq!(db.credentials("201").await.unwrap(), None);
    db.create_user(&new_user("201"), &creds('a')).await.unwrap();
    db.create_user(&new_user("202"), &creds('b')).await.unwrap();
    assert_eq!(db.credentials("201").await.unwrap(), Some(creds('a')));

    let mut changed = creds('f');
    changed.realm = "pbx.example.org".to_owned();
    db.set_credentials("201", &changed).await.unwrap();
    assert_eq!(db.credentials("201").await.unwrap(), Some(changed.clone()));
    assert_eq!(db.credentials("202").await.unwrap(), Some(creds('b')));
    assert_eq!(
        db.all_credentials().await.unwrap(),
        vec![("201".to_owned(), changed), ("202".to_owned(), creds('b'))]
    );

    let err = db.set_credentials("999", &creds('c')).await.unwrap_err();
    assert!(matches!(err, SchemaError::NotFound(_)), "{err:?}");
    assert_eq!(db.credentials("999").await.unwrap(), None);
    assert_eq!(db.all_credentials().await.unwrap().len(), 2);
}

async fn remove_user_cascades(db: Db) {
    db.create_user(&new_user("201"), &creds('a')).await.unwrap();
    db.create_user(&new_user("202"), &creds('b')).await.unwrap();
    db.apply_registration_changes(&[
        RegistrationChange::Upsert(registration("201", "sip:201@192.0.2.1")),
        RegistrationChange::Upsert(registration("201", "sip:201@192.0.2.2")),
        RegistrationChange::Upsert(registration("202", "sip:202@192.0.2.3")),
    ])
    .await
    .unwrap();

    assert!(db.remove_user("201").await.unwrap());
    assert_eq!(db.credentials("201").await.unwrap(), None);
    assert_eq!(
        db.all_credentials().await.unwrap(),
        vec![("202".to_owned(), creds('b'))]
    );
    let left: Vec<String> = db
        .load_registrations(0)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.aor)
        .collect();
    assert_eq!(left, ["202"]);

    // The credentials row itself is gone (ON DELETE CASCADE), not just hidden
    // by the join.
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM credentials")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(rows, 1);
}

async fn invalid_input_is_rejected(db: Db) {
    let mut bad_mobile = new_user("201");
    bad_mobile.mobile = Some("0612345678".to_owned());
    let err = db.create_user(&bad_mobile, &creds('a')).await.unwrap_err();
    assert!(matches!(err, SchemaError::InvalidInput(_)), "{err:?}");

    let mut password = creds('a');
    password.ha1_md5 = "hunter2".to_owned();
    let err = db
        .create_user(&new_user("201"), &password)
        .await
        .unwrap_err();
    assert!(matches!(err, SchemaError::InvalidInput(_)), "{err:?}");
    assert!(!err.to_string().contains("hunter2"));

    let err = db
        .create_user(&new_user(""), &creds('a'))
        .await
        .unwrap_err();
    assert!(matches!(err, SchemaError::InvalidInput(_)), "{err:?}");
    assert_eq!(db.user_count().await.unwrap(), 0);

    db.create_user(&new_user("201"), &creds('a')).await.unwrap();
    let err = db.set_credentials("201", &password).await.unwrap_err();
    assert!(matches!(err, SchemaError::InvalidInput(_)), "{err:?}");
    assert_eq!(db.credentials("201").await.unwrap(), Some(creds('a')));
}

/// Writers on several tasks at once: on a SQLite file they share the lock
/// through the busy timeout, on PostgreSQL they run side by side.
async fn concurrent_writers(db: Db) {
    let mut tasks = Vec::new();
    for t in 0..6 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..15 {
                let name = format!("{t}{i:02}");
                db.create_user(&new_user(&name), &creds('a')).await.unwrap();
                let changes: Vec<RegistrationChange> = (0..20)
                    .map(|c| {
                        RegistrationChange::Upsert(registration(&name, &format!("sip:{name}@h{c}")))
                    })
                    .collect();
                db.apply_registration_changes(&changes).await.unwrap();
                db.set_credentials(&name, &creds('b')).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(db.user_count().await.unwrap(), 90);
    assert_eq!(db.load_registrations(0).await.unwrap().len(), 90 * 20);
    assert!(db
        .all_credentials()
        .await
        .unwrap()
        .iter()
        .all(|(_, c)| *c == creds('b')));
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
