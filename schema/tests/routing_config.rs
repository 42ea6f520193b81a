//! Call routing configuration (settings, call settings, public numbers, hunt groups,
//! references and cascades), on every backend.

#[macro_use]
mod common;

use common::fixtures::{count, field, group, to, users};
use switchboard_schema::{
    BusyPolicy, CallerIdDefault, Db, HuntStrategy, MemberSpec, SchemaError, SrtpPolicy, TargetKind,
    UserCallSettings,
};

on_every_backend!(
    settings_and_main_number,
    call_settings_defaults_and_round_trip,
    call_settings_conflicts_and_checks,
    public_numbers,
    hunt_groups,
    hunt_group_references_and_loops,
    cascades_and_in_use,
    concurrent_delete_and_reference,
);

async fn settings_and_main_number(db: Db) {
    let v0 = db.config_version().await.unwrap();
    assert_eq!(db.main_number().await.unwrap(), None);
    let err = db.set_main_number("64000000").await.unwrap_err();
    assert_eq!(field(&err), "main_number");
    // A refused write does not count as a change.
    assert_eq!(db.config_version().await.unwrap(), v0);

    db.set_main_number("+4764000000").await.unwrap();
    assert_eq!(
        db.main_number().await.unwrap().as_deref(),
        Some("+4764000000")
    );
    db.set_main_number("+4764000001").await.unwrap();
    assert_eq!(
        db.main_number().await.unwrap().as_deref(),
        Some("+4764000001")
    );
    assert_eq!(db.config_version().await.unwrap(), v0 + 2);

    db.set_setting("night_mode", "on").await.unwrap();
    assert_eq!(
        db.setting("night_mode").await.unwrap().as_deref(),
        Some("on")
    );
    assert_eq!(db.setting("missing").await.unwrap(), None);
    let err = db.set_setting("Bad Key", "x").await.unwrap_err();
    assert_eq!(field(&err), "key");
    let err = db.set_setting("big", &"x".repeat(5000)).await.unwrap_err();
    assert_eq!(field(&err), "big");
    assert_eq!(count(&db, "settings").await, 2);
}

async fn call_settings_defaults_and_round_trip(db: Db) {
    users(&db, &["1001", "1002", "1003"]).await;
    assert_eq!(db.user_call_settings("nobody").await.unwrap(), None);
    assert_eq!(
        db.user_call_settings("1001").await.unwrap(),
        Some(UserCallSettings::default())
    );

    // The table's column defaults are the Rust defaults: a row with only the user id reads
    // back as UserCallSettings::default().
    sqlx::query(
        "INSERT INTO user_call_settings (user_id) SELECT id FROM users WHERE username = '1002'",
    )
    .execute(db.pool())
    .await
    .unwrap();
    assert_eq!(
        db.user_call_settings("1002").await.unwrap(),
        Some(UserCallSettings::default())
    );

    let custom = UserCallSettings {
        direct_number: Some("+4764000123".to_owned()),
        caller_id_default: CallerIdDefault::Direct,
        ring_cellular: true,
        cellular_delay_secs: 10,
        confirm_cellular: false,
        allow_internal: true,
        allow_national: false,
        allow_mobile: false,
        allow_international: true,
        allow_premium: true,
        srtp: SrtpPolicy::Required,
    };
    db.set_user_call_settings("1003", &custom).await.unwrap();
    assert_eq!(
        db.user_call_settings("1003").await.unwrap(),
        Some(custom.clone())
    );
    // Replacing works too (the upsert path).
    let back = UserCallSettings {
        direct_number: None,
        ..UserCallSettings::default()
    };
    db.set_user_call_settings("1003", &back).await.unwrap();
    assert_eq!(db.user_call_settings("1003").await.unwrap(), Some(back));
    db.set_user_call_settings("1003", &custom).await.unwrap();

    let all = db.list_user_call_settings().await.unwrap();
    assert_eq!(
        all,
        vec![
            ("1001".to_owned(), UserCallSettings::default()),
            ("1002".to_owned(), UserCallSettings::default()),
            ("1003".to_owned(), custom),
        ]
    );
}

async fn call_settings_conflicts_and_checks(db: Db) {
    users(&db, &["1001", "1002", "9001"]).await;
    let err = db
        .set_user_call_settings("nobody", &UserCallSettings::default())
        .await
        .unwrap_err();
    assert!(matches!(err, SchemaError::NotFound(_)), "{err:?}");

    // Ringing the mobile of a user who has none.
    let cellular = UserCallSettings {
        ring_cellular: true,
        ..UserCallSettings::default()
    };
    let err = db
        .set_user_call_settings("9001", &cellular)
        .await
        .unwrap_err();
    assert_eq!(field(&err), "ring_cellular");

    let direct = |n: &str| UserCallSettings {
        direct_number: Some(n.to_owned()),
        ..UserCallSettings::default()
    };
    db.set_user_call_settings("1001", &direct("+4764000111"))
        .await
        .unwrap();
    let err = db
        .set_user_call_settings("1002", &direct("+4764000111"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SchemaError::Conflict(ref m) if m.contains("1001")),
        "{err:?}"
    );
    // The owner may store it again.
    db.set_user_call_settings("1001", &direct("+4764000111"))
        .await
        .unwrap();

    // A direct number cannot also be a public number, either way round.
    db.create_public_number("+4764000222", &to(TargetKind::User, "1001"))
        .await
        .unwrap();
    let err = db
        .set_user_call_settings("1002", &direct("+4764000222"))
        .await
        .unwrap_err();
    assert!(matches!(err, SchemaError::Conflict(_)), "{err:?}");
    let err = db
        .create_public_number("+4764000111", &to(TargetKind::User, "1002"))
        .await
        .unwrap_err();
    assert!(matches!(err, SchemaError::Conflict(_)), "{err:?}");

    let err = db
        .set_user_call_settings(
            "1002",
            &UserCallSettings {
                caller_id_default: CallerIdDefault::Direct,
                ..UserCallSettings::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(field(&err), "caller_id_default");
    assert_eq!(
        db.user_call_settings("1002").await.unwrap(),
        Some(UserCallSettings::default())
    );
}

async fn public_numbers(db: Db) {
    users(&db, &["1001"]).await;
    let g = db
        .create_hunt_group(&group("Sentralbord", HuntStrategy::RingAll, &["1001"]))
        .await
        .unwrap();

    let mut spec = to(TargetKind::HuntGroup, &g.id.to_string());
    spec.label = "Sentralbord".to_owned();
    let created = db.create_public_number("+4764000000", &spec).await.unwrap();
    assert_eq!(created.target_kind, TargetKind::HuntGroup);
    assert_eq!(
        db.get_public_number("+4764000000").await.unwrap(),
        Some(created.clone())
    );
    db.create_public_number("+4764000100", &to(TargetKind::Message, "closed"))
        .await
        .unwrap();
    db.create_public_number("+4764000050", &to(TargetKind::User, "1001"))
        .await
        .unwrap();
    let listed: Vec<String> = db
        .list_public_numbers()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.number)
        .collect();
    assert_eq!(listed, ["+4764000000", "+4764000050", "+4764000100"]);

    let err = db
        .create_public_number("+4764000000", &spec)
        .await
        .unwrap_err();
    assert!(matches!(err, SchemaError::Conflict(_)), "{err:?}");
    let err = db
        .create_public_number("4764000001", &spec)
        .await
        .unwrap_err();
    assert_eq!(field(&err), "number");
    for bad in [
        to(TargetKind::HuntGroup, "999"),
        to(TargetKind::HuntGroup, "Sentralbord"),
        to(TargetKind::User, "nobody"),
        to(TargetKind::Queue, "0"),
        to(TargetKind::Menu, "x"),
        to(TargetKind::Message, "../../etc/passwd"),
    ] {
        let err = db
            .create_public_number("+4764000001", &bad)
            .await
            .unwrap_err();
        assert_eq!(field(&err), "target_ref", "{bad:?}");
    }
    let mut long_label = to(TargetKind::Queue, "3");
    long_label.label = "x".repeat(201);
    let err = db
        .create_public_number("+4764000001", &long_label)
        .await
        .unwrap_err();
    assert_eq!(field(&err), "label");
    assert_eq!(count(&db, "public_numbers").await, 3);

    let changed = db
        .update_public_number("+4764000100", &to(TargetKind::Queue, "7"))
        .await
        .unwrap();
    assert_eq!(
        (changed.target_kind, changed.target_ref.as_str()),
        (TargetKind::Queue, "7")
    );
    let err = db
        .update_public_number("+4764000100", &to(TargetKind::User, "nobody"))
        .await
        .unwrap_err();
    assert_eq!(field(&err), "target_ref");
    // The refused update left the row as it was.
    assert_eq!(
        db.get_public_number("+4764000100")
            .await
            .unwrap()
            .unwrap()
            .target_ref,
        "7"
    );
    let err = db
        .update_public_number("+4799999999", &to(TargetKind::Queue, "7"))
        .await
        .unwrap_err();
    assert!(matches!(err, SchemaError::NotFound(_)), "{err:?}");

    assert!(db.delete_public_number("+4764000100").await.unwrap());
    assert!(!db.delete_public_number("+4764000100").await.unwrap());
    assert_eq!(db.get_public_number("+4764000100").await.unwrap(), None);
}

async fn hunt_groups(db: Db) {
    users(&db, &["1003", "1004", "1005"]).await;
    let mut spec = group("Helse", HuntStrategy::Sequential, &["1005", "1003"]);
    if let Some(members) = spec.members.as_mut() {
        members[1].ring_time_secs = Some(20);
    }
    let helse = db.create_hunt_group(&spec).await.unwrap();
    assert_eq!(helse.name, "Helse");
    assert_eq!(helse.strategy, HuntStrategy::Sequential);
    let members: Vec<(&str, i64, Option<i64>)> = helse
        .members
        .iter()
        .map(|m| (m.username.as_str(), m.position, m.ring_time_secs))
        .collect();
    assert_eq!(members, [("1005", 0, None), ("1003", 1, Some(20))]);
    assert_eq!(
        db.get_hunt_group(helse.id).await.unwrap(),
        Some(helse.clone())
    );
    assert_eq!(
        db.hunt_group_by_name("Helse").await.unwrap(),
        Some(helse.clone())
    );
    assert_eq!(db.get_hunt_group(helse.id + 100).await.unwrap(), None);

    let err = db.create_hunt_group(&spec).await.unwrap_err();
    assert!(matches!(err, SchemaError::Conflict(_)), "{err:?}");
    // A member who is not a user: refused, and nothing of the group is left.
    let err = db
        .create_hunt_group(&group(
            "Barnehage",
            HuntStrategy::RingAll,
            &["1003", "7777"],
        ))
        .await
        .unwrap_err();
    assert_eq!(field(&err), "members[1].username");
    assert_eq!(db.hunt_group_by_name("Barnehage").await.unwrap(), None);
    assert_eq!(count(&db, "hunt_group_members").await, 2);

    let a = db
        .create_hunt_group(&group("Alpha", HuntStrategy::RoundRobin, &[]))
        .await
        .unwrap();
    let names: Vec<String> = db
        .list_hunt_groups()
        .await
        .unwrap()
        .into_iter()
        .map(|g| format!("{}:{}", g.name, g.members.len()))
        .collect();
    assert_eq!(names, ["Alpha:0", "Helse:2"]);

    // Reorder through the members call.
    let reordered = db
        .set_hunt_group_members(
            helse.id,
            &[
                MemberSpec {
                    username: "1003".into(),
                    ring_time_secs: None,
                },
                MemberSpec {
                    username: "1004".into(),
                    ring_time_secs: Some(30),
                },
                MemberSpec {
                    username: "1005".into(),
                    ring_time_secs: None,
                },
            ],
        )
        .await
        .unwrap();
    let order: Vec<&str> = reordered
        .members
        .iter()
        .map(|m| m.username.as_str())
        .collect();
    assert_eq!(order, ["1003", "1004", "1005"]);
    let err = db
        .set_hunt_group_members(
            helse.id,
            &[
                MemberSpec {
                    username: "1003".into(),
                    ring_time_secs: None,
                },
                MemberSpec {
                    username: "1003".into(),
                    ring_time_secs: None,
                },
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(field(&err), "members[1].username");
    let err = db
        .set_hunt_group_members(a.id + 100, &[])
        .await
        .unwrap_err();
    assert!(matches!(err, SchemaError::NotFound(_)), "{err:?}");

    // Update without members keeps them; the name must stay unique.
    let mut update = group("Helse og omsorg", HuntStrategy::LongestIdle, &[]);
    update.members = None;
    update.busy_policy = BusyPolicy::CallWaiting;
    update.timeout_secs = 90;
    let updated = db.update_hunt_group(helse.id, &update).await.unwrap();
    assert_eq!(updated.members, reordered.members);
    assert_eq!(
        (updated.timeout_secs, updated.busy_policy),
        (90, BusyPolicy::CallWaiting)
    );
    update.name = "Alpha".into();
    let err = db.update_hunt_group(helse.id, &update).await.unwrap_err();
    assert!(matches!(err, SchemaError::Conflict(_)), "{err:?}");
    let err = db.update_hunt_group(a.id + 100, &update).await.unwrap_err();
    assert!(matches!(err, SchemaError::NotFound(_)), "{err:?}");

    assert!(db.delete_hunt_group(helse.id).await.unwrap());
    assert!(!db.delete_hunt_group(helse.id).await.unwrap());
    assert_eq!(count(&db, "hunt_group_members").await, 0, "members cascade");
}

async fn hunt_group_references_and_loops(db: Db) {
    users(&db, &["1001"]).await;
    let a = db
        .create_hunt_group(&group("A", HuntStrategy::RingAll, &[]))
        .await
        .unwrap();
    let mut spec_b = group("B", HuntStrategy::RingAll, &[]);
    spec_b.no_answer_kind = Some(TargetKind::HuntGroup);
    spec_b.no_answer_ref = Some(a.id.to_string());
    let b = db.create_hunt_group(&spec_b).await.unwrap();
    assert_eq!(b.no_answer_kind, Some(TargetKind::HuntGroup));

    // A → A and A → B → A are loops.
    let mut spec_a = group("A", HuntStrategy::RingAll, &[]);
    spec_a.no_answer_kind = Some(TargetKind::HuntGroup);
    spec_a.no_answer_ref = Some(a.id.to_string());
    let err = db.update_hunt_group(a.id, &spec_a).await.unwrap_err();
    assert_eq!(field(&err), "no_answer_ref");
    spec_a.no_answer_ref = Some(b.id.to_string());
    let err = db.update_hunt_group(a.id, &spec_a).await.unwrap_err();
    assert_eq!(field(&err), "no_answer_ref");
    assert!(err.to_string().contains("loop"), "{err}");
    assert_eq!(
        db.get_hunt_group(a.id)
            .await
            .unwrap()
            .unwrap()
            .no_answer_kind,
        None
    );
    // A → user is fine; a missing user is not.
    spec_a.no_answer_kind = Some(TargetKind::User);
    spec_a.no_answer_ref = Some("1001".into());
    db.update_hunt_group(a.id, &spec_a).await.unwrap();
    spec_a.no_answer_ref = Some("1002".into());
    let err = db.update_hunt_group(a.id, &spec_a).await.unwrap_err();
    assert_eq!(field(&err), "no_answer_ref");

    // A is B's no-answer target: it cannot go.
    let err = db.delete_hunt_group(a.id).await.unwrap_err();
    assert!(
        matches!(err, SchemaError::InUse(ref m) if m.contains("\"B\"")),
        "{err:?}"
    );
    assert!(db.get_hunt_group(a.id).await.unwrap().is_some());
    // Nor while a number points at B.
    db.create_public_number("+4764000000", &to(TargetKind::HuntGroup, &b.id.to_string()))
        .await
        .unwrap();
    let err = db.delete_hunt_group(b.id).await.unwrap_err();
    assert!(
        matches!(err, SchemaError::InUse(ref m) if m.contains("+4764000000")),
        "{err:?}"
    );
    db.delete_public_number("+4764000000").await.unwrap();
    assert!(db.delete_hunt_group(b.id).await.unwrap());
    assert!(db.delete_hunt_group(a.id).await.unwrap());
}

async fn cascades_and_in_use(db: Db) {
    users(&db, &["1001", "1002", "1003"]).await;
    let g = db
        .create_hunt_group(&group("G", HuntStrategy::RingAll, &["1001", "1002"]))
        .await
        .unwrap();
    db.set_user_call_settings(
        "1001",
        &UserCallSettings {
            ring_cellular: true,
            ..UserCallSettings::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(count(&db, "user_call_settings").await, 1);

    // Removing a user takes their memberships and call settings along.
    assert!(db.remove_user("1001").await.unwrap());
    let left: Vec<String> = db
        .get_hunt_group(g.id)
        .await
        .unwrap()
        .unwrap()
        .members
        .into_iter()
        .map(|m| m.username)
        .collect();
    assert_eq!(left, ["1002"]);
    assert_eq!(count(&db, "user_call_settings").await, 0);
    assert_eq!(count(&db, "hunt_group_members").await, 1);

    // A user a number routes to cannot be removed; nothing of theirs goes.
    db.create_public_number("+4764000003", &to(TargetKind::User, "1003"))
        .await
        .unwrap();
    let err = db.remove_user("1003").await.unwrap_err();
    assert!(
        matches!(err, SchemaError::InUse(ref m) if m.contains("+4764000003")),
        "{err:?}"
    );
    assert!(db.get_user("1003").await.unwrap().is_some());
    assert!(db.credentials("1003").await.unwrap().is_some());
    // Nor one that a no-answer rule routes to.
    let mut spec = group("H", HuntStrategy::RingAll, &[]);
    spec.no_answer_kind = Some(TargetKind::User);
    spec.no_answer_ref = Some("1002".into());
    db.create_hunt_group(&spec).await.unwrap();
    let err = db.remove_user("1002").await.unwrap_err();
    assert!(matches!(err, SchemaError::InUse(_)), "{err:?}");

    // Deleting a group takes its memberships along.
    assert!(db.delete_hunt_group(g.id).await.unwrap());
    assert_eq!(count(&db, "hunt_group_members").await, 0);
}

/// Deleting a group while another task points a number at it: whichever commits first,
/// no number is left pointing at a missing group (configuration writes are serialised).
async fn concurrent_delete_and_reference(db: Db) {
    for round in 0..15 {
        let g = db
            .create_hunt_group(&group(&format!("G{round}"), HuntStrategy::RingAll, &[]))
            .await
            .unwrap();
        let number = format!("+47640{round:05}");
        let spec = to(TargetKind::HuntGroup, &g.id.to_string());
        let adder = {
            let db = db.clone();
            let number = number.clone();
            tokio::spawn(async move { db.create_public_number(&number, &spec).await })
        };
        let deleter = {
            let db = db.clone();
            tokio::spawn(async move { db.delete_hunt_group(g.id).await })
        };
        let added = adder.await.unwrap();
        let deleted = deleter.await.unwrap();
        let group_exists = db.get_hunt_group(g.id).await.unwrap().is_some();
        let number_exists = db.get_public_number(&number).await.unwrap().is_some();
        match (added.is_ok(), deleted) {
            // Number first: the delete was refused.
            (true, Err(SchemaError::InUse(_))) => assert!(group_exists && number_exists),
            // Delete first: the number was refused.
            (false, Ok(true)) => {
                assert_eq!(field(&added.unwrap_err()), "target_ref");
                assert!(!group_exists && !number_exists);
            }
            (added, deleted) => panic!("round {round}: added {added}, deleted {deleted:?}"),
        }
        db.delete_public_number(&number).await.unwrap();
    }
}
