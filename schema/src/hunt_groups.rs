//! Hunt groups (`hunt_groups`) and their ordered members (`hunt_group_members`).

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::config::{
    check_name, check_range, check_target, flag, text_enum, yes, TargetKind, MAX_NAME_CHARS,
};
use crate::{unix_now, Db, SchemaError};

/// Longest time one member may ring, and the longest overall group timeout.
pub const MAX_RING_TIME_SECS: i64 = 600;
pub const MAX_GROUP_TIMEOUT_SECS: i64 = 3600;
/// Most members in one group: ring_all forks a leg per member and registered contact.
pub const MAX_MEMBERS: usize = 200;

text_enum! {
    /// In which order a hunt group rings its members.
    pub enum HuntStrategy {
        /// All members at once; the first to answer takes the call.
        RingAll => "ring_all",
        /// One after the other in list order, each for its ring time.
        Sequential => "sequential",
        /// One after the other, starting after whoever answered last.
        RoundRobin => "round_robin",
        /// One after the other, whoever has been idle longest first.
        LongestIdle => "longest_idle",
    }
}

text_enum! {
    /// What a hunt group does with a member who is on a call.
    #[derive(Default)]
    pub enum BusyPolicy {
        /// Leave the member out this time.
        #[default]
        Skip => "skip",
        /// Ring the member's devices anyway.
        RingAnyway => "ring_anyway",
        /// Offer the call as a waiting call.
        CallWaiting => "call_waiting",
    }
}

/// A member as an admin lists it: the user and, optionally, their own ring time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MemberSpec {
    /// The member's username (extension).
    pub username: String,
    /// Seconds this member rings; left out or null: the group's `ring_time_secs`.
    #[serde(default)]
    pub ring_time_secs: Option<i64>,
}

/// A hunt group as an admin writes it. In JSON, fields with a default may be left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HuntGroupSpec {
    /// Unique name, e.g. "Sentralbord".
    pub name: String,
    /// Ringing order.
    pub strategy: HuntStrategy,
    /// Seconds each member rings unless the member says otherwise (1 to 600, default 15).
    #[serde(default = "default_ring_time")]
    pub ring_time_secs: i64,
    /// Seconds the whole group is tried before the no-answer target (1 to 3600, default 60).
    #[serde(default = "default_timeout")]
    pub timeout_secs: i64,
    /// Members already on a call.
    #[serde(default)]
    pub busy_policy: BusyPolicy,
    /// Members ringing on their mobile must press a key to take the call (default true).
    #[serde(default = "yes")]
    pub confirm_cellular: bool,
    /// Where unanswered calls go; with `no_answer_ref`. Both null: a message, then hang up.
    #[serde(default)]
    pub no_answer_kind: Option<TargetKind>,
    /// Which target of `no_answer_kind`.
    #[serde(default)]
    pub no_answer_ref: Option<String>,
    /// The members in ringing order. When creating, left out means none; when updating, left
    /// out means "keep the members".
    #[serde(default)]
    pub members: Option<Vec<MemberSpec>>,
}

fn default_ring_time() -> i64 {
    15
}

fn default_timeout() -> i64 {
    60
}

/// A member as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HuntGroupMember {
    /// The member's username.
    pub username: String,
    /// 0-based place in the ringing order.
    pub position: i64,
    /// The member's own ring time, or null for the group's.
    pub ring_time_secs: Option<i64>,
}

/// A stored hunt group with its members in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HuntGroup {
    /// Database id; public numbers refer to it as `target_ref`.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Ringing order.
    pub strategy: HuntStrategy,
    /// Default ring time per member, seconds.
    pub ring_time_secs: i64,
    /// Overall timeout, seconds.
    pub timeout_secs: i64,
    /// Members already on a call.
    pub busy_policy: BusyPolicy,
    /// Cellular answer confirmation.
    pub confirm_cellular: bool,
    /// No-answer target kind, or null.
    pub no_answer_kind: Option<TargetKind>,
    /// No-answer target, or null.
    pub no_answer_ref: Option<String>,
    /// When it was created, unix seconds.
    pub created_at: i64,
    /// Members in ringing order.
    pub members: Vec<HuntGroupMember>,
}

impl HuntGroupSpec {
    fn validate(&self) -> Result<(), SchemaError> {
        check_name("name", &self.name, MAX_NAME_CHARS)?;
        check_range("ring_time_secs", self.ring_time_secs, 1, MAX_RING_TIME_SECS)?;
        check_range("timeout_secs", self.timeout_secs, 1, MAX_GROUP_TIMEOUT_SECS)?;
        match (&self.no_answer_kind, &self.no_answer_ref) {
            (Some(_), Some(_)) | (None, None) => {}
            (Some(_), None) => {
                return Err(SchemaError::invalid(
                    "no_answer_ref",
                    "is required with no_answer_kind",
                ))
            }
            (None, Some(_)) => {
                return Err(SchemaError::invalid(
                    "no_answer_kind",
                    "is required with no_answer_ref",
                ))
            }
        }
        if let Some(members) = &self.members {
            validate_members(members)?;
        }
        Ok(())
    }
}

/// Field checks of a member list that need no database.
fn validate_members(members: &[MemberSpec]) -> Result<(), SchemaError> {
    if members.len() > MAX_MEMBERS {
        return Err(SchemaError::invalid(
            "members",
            format!("at most {MAX_MEMBERS} members"),
        ));
    }
    let mut seen = HashSet::new();
    for (i, member) in members.iter().enumerate() {
        if !seen.insert(member.username.as_str()) {
            return Err(SchemaError::invalid(
                format!("members[{i}].username"),
                format!("user {:?} is listed twice", member.username),
            ));
        }
        if let Some(secs) = member.ring_time_secs {
            check_range(
                &format!("members[{i}].ring_time_secs"),
                secs,
                1,
                MAX_RING_TIME_SECS,
            )?;
        }
    }
    Ok(())
}

const GROUP_COLUMNS: &str = "id, name, strategy, ring_time_secs, timeout_secs, busy_policy, \
     confirm_cellular, no_answer_kind, no_answer_ref, created_at";

fn group_from_row(row: &AnyRow) -> Result<HuntGroup, sqlx::Error> {
    let no_answer_kind: Option<String> = row.try_get("no_answer_kind")?;
    Ok(HuntGroup {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        strategy: HuntStrategy::from_db(row.try_get::<String, _>("strategy")?.as_str())?,
        ring_time_secs: row.try_get("ring_time_secs")?,
        timeout_secs: row.try_get("timeout_secs")?,
        busy_policy: BusyPolicy::from_db(row.try_get::<String, _>("busy_policy")?.as_str())?,
        confirm_cellular: flag(row, "confirm_cellular")?,
        no_answer_kind: no_answer_kind
            .as_deref()
            .map(TargetKind::from_db)
            .transpose()?,
        no_answer_ref: row.try_get("no_answer_ref")?,
        created_at: row.try_get("created_at")?,
        members: Vec::new(),
    })
}

/// Runs on a pool or inside a transaction alike.
async fn load_members<'e, E>(
    executor: E,
    group_id: i64,
) -> Result<Vec<HuntGroupMember>, SchemaError>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let rows = sqlx::query(
        "SELECT u.username, m.position, m.ring_time_secs FROM hunt_group_members m \
         JOIN users u ON u.id = m.user_id WHERE m.group_id = $1 ORDER BY m.position",
    )
    .bind(group_id)
    .fetch_all(executor)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(HuntGroupMember {
            username: row.try_get("username")?,
            position: row.try_get("position")?,
            ring_time_secs: row.try_get("ring_time_secs")?,
        });
    }
    Ok(out)
}

/// Replaces the group's members inside `tx`: every username must be a user.
async fn replace_members(
    tx: &mut Transaction<'static, Any>,
    group_id: i64,
    members: &[MemberSpec],
) -> Result<(), SchemaError> {
    sqlx::query("DELETE FROM hunt_group_members WHERE group_id = $1")
        .bind(group_id)
        .execute(&mut **tx)
        .await?;
    for (i, member) in members.iter().enumerate() {
        // INSERT ... SELECT: zero rows inserted means "no such user", in one round trip.
        let inserted = sqlx::query(
            "INSERT INTO hunt_group_members (group_id, user_id, position, ring_time_secs) \
             SELECT $1, id, $3, $4 FROM users WHERE username = $2",
        )
        .bind(group_id)
        .bind(member.username.as_str())
        .bind(i64::try_from(i).unwrap_or(i64::MAX))
        .bind(member.ring_time_secs)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(SchemaError::invalid(
                format!("members[{i}].username"),
                format!("there is no user {:?}", member.username),
            ));
        }
    }
    Ok(())
}

fn name_conflict(err: sqlx::Error, name: &str) -> SchemaError {
    if SchemaError::is_unique_violation(&err) {
        SchemaError::Conflict(format!("a hunt group named {name:?} already exists"))
    } else {
        err.into()
    }
}

impl Db {
    /// All hunt groups with their members, ordered by name.
    pub async fn list_hunt_groups(&self) -> Result<Vec<HuntGroup>, SchemaError> {
        let rows = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM hunt_groups ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut groups: Vec<HuntGroup> =
            rows.iter().map(group_from_row).collect::<Result<_, _>>()?;
        // One query for every member rather than one per group.
        let rows = sqlx::query(
            "SELECT m.group_id, u.username, m.position, m.ring_time_secs \
             FROM hunt_group_members m JOIN users u ON u.id = m.user_id \
             ORDER BY m.group_id, m.position",
        )
        .fetch_all(&self.pool)
        .await?;
        let index: HashMap<i64, usize> =
            groups.iter().enumerate().map(|(i, g)| (g.id, i)).collect();
        for row in &rows {
            let group_id: i64 = row.try_get("group_id")?;
            if let Some(group) = index.get(&group_id).and_then(|&i| groups.get_mut(i)) {
                group.members.push(HuntGroupMember {
                    username: row.try_get("username")?,
                    position: row.try_get("position")?,
                    ring_time_secs: row.try_get("ring_time_secs")?,
                });
            }
        }
        Ok(groups)
    }

    /// The hunt group with its members, if it exists.
    pub async fn get_hunt_group(&self, id: i64) -> Result<Option<HuntGroup>, SchemaError> {
        let row = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM hunt_groups WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut group = group_from_row(&row)?;
        group.members = load_members(&self.pool, id).await?;
        Ok(Some(group))
    }

    /// The hunt group with this name, if any.
    pub async fn hunt_group_by_name(&self, name: &str) -> Result<Option<HuntGroup>, SchemaError> {
        let id = sqlx::query_scalar::<_, i64>("SELECT id FROM hunt_groups WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        match id {
            Some(id) => self.get_hunt_group(id).await,
            None => Ok(None),
        }
    }

    /// Creates a hunt group with its members (none if `spec.members` is `None`).
    ///
    /// Fails with [`SchemaError::Invalid`] for a bad field, a member that is not a user or a
    /// no-answer target that does not exist, and [`SchemaError::Conflict`] if the name is
    /// taken.
    pub async fn create_hunt_group(&self, spec: &HuntGroupSpec) -> Result<HuntGroup, SchemaError> {
        spec.validate()?;
        let mut tx = self.begin_config_write().await?;
        if let (Some(kind), Some(reference)) = (spec.no_answer_kind, &spec.no_answer_ref) {
            check_target(&mut tx, "no_answer_ref", kind, reference, None).await?;
        }
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO hunt_groups (name, strategy, ring_time_secs, timeout_secs, busy_policy, \
             confirm_cellular, no_answer_kind, no_answer_ref, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(spec.name.as_str())
        .bind(spec.strategy.as_str())
        .bind(spec.ring_time_secs)
        .bind(spec.timeout_secs)
        .bind(spec.busy_policy.as_str())
        .bind(i64::from(spec.confirm_cellular))
        .bind(spec.no_answer_kind.map(TargetKind::as_str))
        .bind(spec.no_answer_ref.as_deref())
        .bind(unix_now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| name_conflict(err, &spec.name))?;
        if let Some(members) = &spec.members {
            replace_members(&mut tx, id, members).await?;
        }
        let group = self.group_in(&mut tx, id).await?;
        tx.commit().await?;
        tracing::info!(id, name = %spec.name, "hunt group created");
        Ok(group)
    }

    /// Replaces a hunt group's settings, and its members if `spec.members` is `Some`.
    ///
    /// Fails with [`SchemaError::NotFound`] for an unknown id and otherwise as
    /// [`Db::create_hunt_group`]; a no-answer target that leads back to this group (directly
    /// or through other groups' no-answer rules) is [`SchemaError::Invalid`].
    pub async fn update_hunt_group(
        &self,
        id: i64,
        spec: &HuntGroupSpec,
    ) -> Result<HuntGroup, SchemaError> {
        spec.validate()?;
        let mut tx = self.begin_config_write().await?;
        let updated = sqlx::query(
            "UPDATE hunt_groups SET name = $2, strategy = $3, ring_time_secs = $4, \
             timeout_secs = $5, busy_policy = $6, confirm_cellular = $7, no_answer_kind = $8, \
             no_answer_ref = $9 WHERE id = $1",
        )
        .bind(id)
        .bind(spec.name.as_str())
        .bind(spec.strategy.as_str())
        .bind(spec.ring_time_secs)
        .bind(spec.timeout_secs)
        .bind(spec.busy_policy.as_str())
        .bind(i64::from(spec.confirm_cellular))
        .bind(spec.no_answer_kind.map(TargetKind::as_str))
        .bind(spec.no_answer_ref.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(|err| name_conflict(err, &spec.name))?
        .rows_affected();
        if updated == 0 {
            return Err(SchemaError::NotFound(format!("hunt group {id}")));
        }
        // Checked after the update so that the loop check sees this group's new rule.
        if let (Some(kind), Some(reference)) = (spec.no_answer_kind, &spec.no_answer_ref) {
            check_target(&mut tx, "no_answer_ref", kind, reference, Some(id)).await?;
        }
        if let Some(members) = &spec.members {
            replace_members(&mut tx, id, members).await?;
        }
        let group = self.group_in(&mut tx, id).await?;
        tx.commit().await?;
        tracing::info!(id, name = %spec.name, "hunt group changed");
        Ok(group)
    }

    /// Replaces the group's members with `members`, in this order.
    ///
    /// Fails with [`SchemaError::NotFound`] for an unknown group and [`SchemaError::Invalid`]
    /// (field `members[i].username`) for a member that is not a user or is listed twice.
    pub async fn set_hunt_group_members(
        &self,
        id: i64,
        members: &[MemberSpec],
    ) -> Result<HuntGroup, SchemaError> {
        validate_members(members)?;
        let mut tx = self.begin_config_write().await?;
        let exists = sqlx::query_scalar::<_, i64>("SELECT id FROM hunt_groups WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(SchemaError::NotFound(format!("hunt group {id}")));
        }
        replace_members(&mut tx, id, members).await?;
        let group = self.group_in(&mut tx, id).await?;
        tx.commit().await?;
        tracing::info!(id, members = members.len(), "hunt group members replaced");
        Ok(group)
    }

    /// Deletes a hunt group and its memberships. Returns whether it existed.
    ///
    /// Fails with [`SchemaError::InUse`] (and deletes nothing) while a public number or
    /// another group's no-answer rule still routes to it.
    pub async fn delete_hunt_group(&self, id: i64) -> Result<bool, SchemaError> {
        self.delete_target("hunt_groups", TargetKind::HuntGroup, id, "hunt group")
            .await
    }

    /// The group as stored, read inside `tx` (so it includes the transaction's writes).
    async fn group_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        id: i64,
    ) -> Result<HuntGroup, SchemaError> {
        let row = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM hunt_groups WHERE id = $1"
        ))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
        let mut group = group_from_row(&row)?;
        group.members = load_members(&mut **tx, id).await?;
        Ok(group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> HuntGroupSpec {
        serde_json::from_str(r#"{"name": "Helse", "strategy": "sequential"}"#).expect("minimal")
    }

    #[test]
    fn json_defaults() {
        let s = spec();
        assert_eq!(s.ring_time_secs, 15);
        assert_eq!(s.timeout_secs, 60);
        assert_eq!(s.busy_policy, BusyPolicy::Skip);
        assert!(s.confirm_cellular);
        assert_eq!(s.members, None);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn enum_spelling_matches_serde() {
        for v in HuntStrategy::ALL {
            assert_eq!(serde_json::to_value(v).expect("ser"), v.as_str());
        }
        for v in BusyPolicy::ALL {
            assert_eq!(serde_json::to_value(v).expect("ser"), v.as_str());
        }
    }

    fn field_of(err: SchemaError) -> String {
        match err {
            SchemaError::Invalid { field, .. } => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn validation_names_the_field() {
        let mut s = spec();
        s.ring_time_secs = 0;
        assert_eq!(field_of(s.validate().expect_err("0")), "ring_time_secs");
        let mut s = spec();
        s.timeout_secs = 3601;
        assert_eq!(field_of(s.validate().expect_err("big")), "timeout_secs");
        let mut s = spec();
        s.no_answer_kind = Some(TargetKind::Message);
        assert_eq!(field_of(s.validate().expect_err("half")), "no_answer_ref");
        let mut s = spec();
        s.members = Some(vec![
            MemberSpec {
                username: "1003".into(),
                ring_time_secs: None,
            },
            MemberSpec {
                username: "1004".into(),
                ring_time_secs: Some(0),
            },
        ]);
        assert_eq!(
            field_of(s.validate().expect_err("0 s")),
            "members[1].ring_time_secs"
        );
        let mut s = spec();
        s.members = Some(vec![
            MemberSpec {
                username: "1003".into(),
                ring_time_secs: None,
            },
            MemberSpec {
                username: "1003".into(),
                ring_time_secs: None,
            },
        ]);
        assert_eq!(
            field_of(s.validate().expect_err("twice")),
            "members[1].username"
        );
    }
}
