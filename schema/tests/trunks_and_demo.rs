//! Trunks, the database's own constraints and the demo seed, on every backend.

#[macro_use]
mod common;

use common::fixtures::{count, field, group, trunk, users};
use switchboard_schema::{Db, HuntStrategy, SchemaError, TargetKind, TrunkTransport};

on_every_backend!(
    trunks,
    constraints_hold_in_the_database,
    demo_seed,
    demo_seed_needs_the_demo_users,
);

async fn trunks(db: Db) {
    let mut spec = trunk("carrier");
    spec.inbound_sources = vec!["127.0.0.1".into(), "2001:db8:0::/48".into()];
    spec.inbound_numbers = vec!["+4764".into()];
    let carrier = db.create_trunk(&spec).await.unwrap();
    assert_eq!(carrier.inbound_sources, ["127.0.0.1/32", "2001:db8::/48"]);
    assert_eq!(carrier.inbound_numbers, ["+4764"]);
    assert_eq!(
        (carrier.port, carrier.transport),
        (5060, TrunkTransport::Udp)
    );
    assert!(carrier.enabled && !carrier.register);
    assert_eq!(
        db.get_trunk(carrier.id).await.unwrap(),
        Some(carrier.clone())
    );

    let mut backup = trunk("backup");
    backup.priority = 10;
    backup.register = true;
    backup.username = Some("switchboard".into());
    backup.password_secret = Some("backup.password".into());
    backup.transport = TrunkTransport::Tls;
    let backup = db.create_trunk(&backup).await.unwrap();
    let order: Vec<String> = db
        .list_trunks()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(order, ["backup", "carrier"], "by priority");
    assert_eq!(backup.inbound_sources, Vec::<String>::new());

    let err = db.create_trunk(&trunk("carrier")).await.unwrap_err();
    assert!(matches!(err, SchemaError::Conflict(_)), "{err:?}");
    let mut bad = trunk("x");
    bad.password_secret = Some("../../etc/shadow".into());
    assert_eq!(
        field(&db.create_trunk(&bad).await.unwrap_err()),
        "password_secret"
    );
    let mut bad = trunk("x");
    bad.port = 70000;
    assert_eq!(field(&db.create_trunk(&bad).await.unwrap_err()), "port");
    let mut bad = trunk("x");
    bad.inbound_sources = vec!["10.0.0.0/33".into()];
    assert_eq!(
        field(&db.create_trunk(&bad).await.unwrap_err()),
        "inbound_sources[0]"
    );

    spec.enabled = false;
    spec.inbound_numbers.clear();
    let changed = db.update_trunk(carrier.id, &spec).await.unwrap();
    assert!(!changed.enabled);
    assert!(changed.inbound_numbers.is_empty());
    spec.name = "backup".into();
    let err = db.update_trunk(carrier.id, &spec).await.unwrap_err();
    assert!(matches!(err, SchemaError::Conflict(_)), "{err:?}");
    let err = db
        .update_trunk(backup.id + 100, &trunk("z"))
        .await
        .unwrap_err();
    assert!(matches!(err, SchemaError::NotFound(_)), "{err:?}");
    assert!(db.delete_trunk(carrier.id).await.unwrap());
    assert!(!db.delete_trunk(carrier.id).await.unwrap());
    assert_eq!(db.list_trunks().await.unwrap().len(), 1);
}

/// The CHECKs and keys hold for writers that bypass the Db methods (and are the same in
/// both dialects).
async fn constraints_hold_in_the_database(db: Db) {
    users(&db, &["1001", "1002"]).await;
    let g = db
        .create_hunt_group(&group("G", HuntStrategy::RingAll, &[]))
        .await
        .unwrap();
    let refused = [
        "INSERT INTO hunt_groups (name, strategy, created_at) VALUES ('x', 'random', 0)",
        "INSERT INTO hunt_groups (name, strategy, created_at) VALUES ('G', 'ring_all', 0)",
        "INSERT INTO hunt_groups (name, strategy, ring_time_secs, created_at) VALUES ('x', 'ring_all', 0, 0)",
        "INSERT INTO hunt_groups (name, strategy, no_answer_kind, created_at) VALUES ('x', 'ring_all', 'user', 0)",
        "INSERT INTO hunt_group_members (group_id, user_id, position) VALUES (999999, 1, 0)",
        "INSERT INTO hunt_group_members (group_id, user_id, position) SELECT h.id, 999999, 0 FROM hunt_groups h",
        "INSERT INTO user_call_settings (user_id, ring_cellular) SELECT id, 2 FROM users WHERE username = '1001'",
        "INSERT INTO user_call_settings (user_id, caller_id_default) SELECT id, 'direct' FROM users WHERE username = '1001'",
        "INSERT INTO user_call_settings (user_id) VALUES (999999)",
        "INSERT INTO public_numbers (number, target_kind, target_ref, created_at) VALUES ('+47', 'fax', '1', 0)",
        "INSERT INTO trunks (name, host, register, created_at) VALUES ('t', 'h', 1, 0)",
        "INSERT INTO trunks (name, host, port, created_at) VALUES ('t', 'h', 0, 0)",
        "INSERT INTO trunks (name, host, transport, created_at) VALUES ('t', 'h', 'sctp', 0)",
        "INSERT INTO cdrs (call_id, direction, from_number, to_number, started_at_ms, ended_at_ms) VALUES ('c', 'inbound', 'a', 'b', 10, 5)",
        "INSERT INTO cdrs (call_id, direction, from_number, to_number, started_at_ms) VALUES ('c', 'sideways', 'a', 'b', 10)",
        "INSERT INTO config_version (id, version) VALUES (2, 0)",
    ];
    for sql in refused {
        let result = sqlx::query(sql).execute(db.pool()).await;
        assert!(result.is_err(), "the database accepted: {sql}");
    }
    // Two users' direct numbers must differ.
    sqlx::query(
        "INSERT INTO user_call_settings (user_id, direct_number) SELECT id, '+4711' FROM users \
         WHERE username = '1001'",
    )
    .execute(db.pool())
    .await
    .unwrap();
    let dup = sqlx::query(
        "INSERT INTO user_call_settings (user_id, direct_number) SELECT id, '+4711' FROM users \
         WHERE username = '1002'",
    )
    .execute(db.pool())
    .await;
    assert!(dup.is_err());
    // The group is still as it was, and a duplicate member row is refused.
    sqlx::query(
        "INSERT INTO hunt_group_members (group_id, user_id, position) \
         SELECT $1, id, 0 FROM users WHERE username = '1001'",
    )
    .bind(g.id)
    .execute(db.pool())
    .await
    .unwrap();
    let dup = sqlx::query(
        "INSERT INTO hunt_group_members (group_id, user_id, position) \
         SELECT $1, id, 1 FROM users WHERE username = '1001'",
    )
    .bind(g.id)
    .execute(db.pool())
    .await;
    assert!(dup.is_err(), "same member twice");
    let same_position = sqlx::query(
        "INSERT INTO hunt_group_members (group_id, user_id, position) \
         SELECT $1, id, 0 FROM users WHERE username = '1002'",
    )
    .bind(g.id)
    .execute(db.pool())
    .await;
    assert!(same_position.is_err(), "two members at one position");
}

async fn demo_seed(db: Db) {
    users(&db, &["1001", "1002", "1003", "1004", "1005", "1006"]).await;
    let before = db.config_version().await.unwrap();
    assert!(db.seed_demo_calls().await.unwrap());
    assert_eq!(
        db.main_number().await.unwrap().as_deref(),
        Some("+4764000000")
    );

    let switchboard = db.hunt_group_by_name("Sentralbord").await.unwrap().unwrap();
    assert_eq!(switchboard.strategy, HuntStrategy::RingAll);
    let members: Vec<&str> = switchboard
        .members
        .iter()
        .map(|m| m.username.as_str())
        .collect();
    assert_eq!(members, ["1001", "1002"]);
    let health = db.hunt_group_by_name("Helse").await.unwrap().unwrap();
    assert_eq!(
        (health.strategy, health.ring_time_secs),
        (HuntStrategy::Sequential, 15)
    );
    let members: Vec<&str> = health.members.iter().map(|m| m.username.as_str()).collect();
    assert_eq!(members, ["1003", "1004", "1005"]);

    let numbers: Vec<(String, TargetKind, String)> = db
        .list_public_numbers()
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.number, n.target_kind, n.target_ref))
        .collect();
    assert_eq!(
        numbers,
        [
            (
                "+4764000000".to_owned(),
                TargetKind::HuntGroup,
                switchboard.id.to_string()
            ),
            (
                "+4764000100".to_owned(),
                TargetKind::HuntGroup,
                health.id.to_string()
            ),
        ]
    );
    let s1005 = db.user_call_settings("1005").await.unwrap().unwrap();
    assert!(s1005.ring_cellular && s1005.confirm_cellular);
    assert!(
        !db.user_call_settings("1004")
            .await
            .unwrap()
            .unwrap()
            .ring_cellular
    );

    let trunks = db.list_trunks().await.unwrap();
    assert_eq!(trunks.len(), 1);
    let carrier = &trunks[0];
    assert_eq!(
        (
            carrier.name.as_str(),
            carrier.host.as_str(),
            carrier.port,
            carrier.transport
        ),
        ("carrier", "127.0.0.1", 5090, TrunkTransport::Udp)
    );
    assert_eq!(carrier.inbound_sources, ["127.0.0.1/32"]);
    assert!(!carrier.register && carrier.enabled);
    assert_eq!(db.config_version().await.unwrap(), before + 1);

    // Idempotent: a second run changes nothing, nor does one after an admin's edit.
    assert!(!db.seed_demo_calls().await.unwrap());
    assert_eq!(db.list_hunt_groups().await.unwrap().len(), 2);
    assert_eq!(db.list_public_numbers().await.unwrap().len(), 2);
    db.delete_public_number("+4764000100").await.unwrap();
    assert!(!db.seed_demo_calls().await.unwrap());
    assert_eq!(db.list_public_numbers().await.unwrap().len(), 1);
}

async fn demo_seed_needs_the_demo_users(db: Db) {
    users(&db, &["1001", "1002", "1003"]).await;
    let err = db.seed_demo_calls().await.unwrap_err();
    assert!(
        matches!(err, SchemaError::NotFound(ref m) if m.contains("1004")),
        "{err:?}"
    );
    // Nothing was half-seeded.
    assert_eq!(db.main_number().await.unwrap(), None);
    assert_eq!(count(&db, "hunt_groups").await, 0);
}
