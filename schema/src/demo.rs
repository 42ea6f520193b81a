//! The demo municipality's call routing, for `switchboard serve --demo`.

use sqlx::{Any, Transaction};

use crate::{unix_now, Db, SchemaError};

/// The demo's main number: the switchboard ("Sentralbord").
pub const DEMO_MAIN_NUMBER: &str = "+4764000000";
/// The demo's health service number.
pub const DEMO_HEALTH_NUMBER: &str = "+4764000100";

/// Users the demo routing needs; the binary's demo data creates 1001–1010.
const DEMO_MEMBERS: &[&str] = &["1001", "1002", "1003", "1004", "1005"];

impl Db {
    /// Seeds the demo call routing, once, in one transaction:
    ///
    /// * main number +4764000000;
    /// * hunt group "Sentralbord" (ring_all, members 1001 and 1002) behind +4764000000;
    /// * hunt group "Helse" (sequential, 15 s each, members 1003, 1004, 1005) behind
    ///   +4764000100; user 1005 also rings on their mobile and must confirm it;
    /// * trunk "carrier" at 127.0.0.1:5090 over UDP, authenticated by its address, not probed with
    ///   OPTIONS (there is no real carrier behind it: probes would mark it down)
    ///   127.0.0.1/32, not registering.
    ///
    /// Does nothing and returns `false` if any routing configuration exists already (a main
    /// number, a public number, a hunt group or a trunk), so an admin's changes survive a
    /// restart with `--demo`. Fails with [`SchemaError::NotFound`] if a demo user 1001–1005
    /// is missing (create the demo users first).
    pub async fn seed_demo_calls(&self) -> Result<bool, SchemaError> {
        let mut tx = self.begin_config_write().await?;
        // Checked under the configuration lock, so two nodes starting at once seed once.
        let existing: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM settings WHERE key = 'main_number') \
             + (SELECT COUNT(*) FROM public_numbers) + (SELECT COUNT(*) FROM hunt_groups) \
             + (SELECT COUNT(*) FROM trunks)",
        )
        .fetch_one(&mut *tx)
        .await?;
        if existing > 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        for username in DEMO_MEMBERS {
            let found = sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE username = $1")
                .bind(*username)
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(SchemaError::NotFound(format!(
                    "demo user {username:?} (create the demo users before the demo routing)"
                )));
            }
        }
        let now = unix_now();
        sqlx::query("INSERT INTO settings (key, value) VALUES ('main_number', $1)")
            .bind(DEMO_MAIN_NUMBER)
            .execute(&mut *tx)
            .await?;
        let switchboard =
            demo_group(&mut tx, "Sentralbord", "ring_all", &["1001", "1002"], now).await?;
        let health = demo_group(
            &mut tx,
            "Helse",
            "sequential",
            &["1003", "1004", "1005"],
            now,
        )
        .await?;
        sqlx::query(
            "INSERT INTO user_call_settings (user_id, ring_cellular, confirm_cellular) \
             SELECT id, 1, 1 FROM users WHERE username = '1005'",
        )
        .execute(&mut *tx)
        .await?;
        for (number, label, group) in [
            (DEMO_MAIN_NUMBER, "Sentralbord", switchboard),
            (DEMO_HEALTH_NUMBER, "Helse", health),
        ] {
            sqlx::query(
                "INSERT INTO public_numbers (number, label, target_kind, target_ref, created_at) \
                 VALUES ($1, $2, 'hunt_group', $3, $4)",
            )
            .bind(number)
            .bind(label)
            .bind(group.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO trunks (name, host, port, transport, priority, register, \
             inbound_sources, inbound_numbers, options_interval_secs, created_at) \
             VALUES ('carrier', '127.0.0.1', 5090, 'udp', 100, 0, '127.0.0.1/32', '', 0, $1)",
        )
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!("demo call routing seeded");
        Ok(true)
    }
}

/// Inserts a demo hunt group (15 s per member, 60 s overall) and its members in order.
async fn demo_group(
    tx: &mut Transaction<'static, Any>,
    name: &str,
    strategy: &str,
    members: &[&str],
    now: i64,
) -> Result<i64, SchemaError> {
    let id = sqlx::query_scalar::<_, i64>(
        "INSERT INTO hunt_groups (name, strategy, ring_time_secs, timeout_secs, busy_policy, \
         confirm_cellular, created_at) VALUES ($1, $2, 15, 60, 'skip', 1, $3) RETURNING id",
    )
    .bind(name)
    .bind(strategy)
    .bind(now)
    .fetch_one(&mut **tx)
    .await?;
    for (position, username) in (0_i64..).zip(members) {
        sqlx::query(
            "INSERT INTO hunt_group_members (group_id, user_id, position) \
             SELECT $1, id, $2 FROM users WHERE username = $3",
        )
        .bind(id)
        .bind(position)
        .bind(*username)
        .execute(&mut **tx)
        .await?;
    }
    Ok(id)
}
