//! Shared data of the call-routing tests.

use switchboard_schema::{
    BusyPolicy, Db, HashedCredentials, HuntGroupSpec, HuntStrategy, MemberSpec, NewUser,
    PublicNumberSpec, SchemaError, TargetKind, TrunkSpec,
};

pub fn creds() -> HashedCredentials {
    HashedCredentials {
        realm: "switchboard".to_owned(),
        ha1_md5: "a".repeat(32),
        ha1_sha256: "b".repeat(64),
    }
}

/// Users `names`, each with a mobile unless it starts with "9".
pub async fn users(db: &Db, names: &[&str]) {
    for name in names {
        let mobile = (!name.starts_with('9')).then(|| format!("+47900{name}"));
        db.create_user(
            &NewUser {
                username: (*name).to_owned(),
                display_name: format!("User {name}"),
                mobile,
            },
            &creds(),
        )
        .await
        .unwrap();
    }
}

pub fn field(err: &SchemaError) -> &str {
    match err {
        SchemaError::Invalid { field, .. } => field,
        other => panic!("expected SchemaError::Invalid, got {other:?}"),
    }
}

pub fn group(name: &str, strategy: HuntStrategy, members: &[&str]) -> HuntGroupSpec {
    HuntGroupSpec {
        name: name.to_owned(),
        strategy,
        ring_time_secs: 15,
        timeout_secs: 60,
        busy_policy: BusyPolicy::Skip,
        confirm_cellular: true,
        no_answer_kind: None,
        no_answer_ref: None,
        members: Some(
            members
                .iter()
                .map(|m| MemberSpec {
                    username: (*m).to_owned(),
                    ring_time_secs: None,
                })
                .collect(),
        ),
    }
}

pub fn to(kind: TargetKind, target_ref: &str) -> PublicNumberSpec {
    PublicNumberSpec {
        label: String::new(),
        target_kind: kind,
        target_ref: target_ref.to_owned(),
        priority: 0,
    }
}

pub fn trunk(name: &str) -> TrunkSpec {
    serde_json::from_value(serde_json::json!({ "name": name, "host": "127.0.0.1" })).unwrap()
}

pub async fn count(db: &Db, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(db.pool())
        .await
        .unwrap()
}
