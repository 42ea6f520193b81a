//! ACD queues (`queues`) and their agents (`queue_members`).
//!
//! Settings are plain columns, not the routing crate's queue type: the ACD core is still moving, and
//! columns can be migrated one at a time. Call control builds its queue configuration from [`Queue`].

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::config::{
    check_name, check_prompt_name, check_range, flag, parse_id, text_enum, yes, TargetKind,
    MAX_NAME_CHARS,
};
use crate::numbers::NumberHours;
use crate::{unix_now, Db, SchemaError};

/// Most agents in one queue.
pub const MAX_QUEUE_MEMBERS: usize = 500;
/// Highest penalty (tier) a member may have.
pub const MAX_PENALTY: i64 = 1000;
/// Longest wait, ring time or interval a queue may be configured with: a day.
const MAX_QUEUE_SECS: i64 = 86_400;

text_enum! {
    /// Whom a waiting caller is offered to (the routing crate's queue strategies).
    #[derive(Default)]
    pub enum QueueStrategy {
        /// Every eligible agent at once.
        RingAll => "ring_all",
        /// The first eligible agent in member order.
        Linear => "linear",
        /// The eligible agent after the one offered last, in member order.
        RoundRobin => "round_robin",
        /// The agent idle longest.
        #[default]
        LongestIdle => "longest_idle",
        /// The agent who answered the fewest calls from this queue.
        FewestCalls => "fewest_calls",
        /// A random eligible agent.
        Random => "random",
    }
}

text_enum! {
    /// What a waiting caller hears between announcements.
    #[derive(Default)]
    pub enum HoldMusic {
        /// The music-on-hold prompt (`moh`).
        #[default]
        Moh => "moh",
        /// Ringing tone, as if the call were being put through.
        Ringback => "ringback",
    }
}

/// A member as an admin lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct QueueMemberSpec {
    /// The member's username (extension).
    pub user: String,
    /// Tier: lower penalties are offered calls first (0 to 1000, default 0).
    #[serde(default)]
    pub penalty: i64,
}

/// A member as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueMember {
    /// The member's username.
    pub user: String,
    /// Tier; lower first.
    pub penalty: i64,
    /// 0-based place in member order.
    pub position: i64,
}

/// A queue as an admin writes it. Fields with a default may be left out; optional limits left out or
/// null mean "none", except `announce_every_secs` and `greeting_prompt`, whose null switches them off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct QueueSpec {
    /// Unique name, e.g. "Helse".
    pub name: String,
    /// Default `longest_idle`.
    #[serde(default)]
    pub strategy: QueueStrategy,
    /// Seconds one offer rings an agent (1 to 600, default 20).
    #[serde(default = "default_ring_timeout")]
    pub ring_timeout_secs: i64,
    /// Seconds after a queue call before the agent gets the next (0 to 3600, default 10).
    #[serde(default = "default_wrap_up")]
    pub wrap_up_secs: i64,
    /// Most waiting callers; more are sent to the overflow target. Null: no limit.
    #[serde(default)]
    pub max_callers: Option<i64>,
    /// Longest wait before a caller goes to the overflow target. Null: no limit.
    #[serde(default)]
    pub max_wait_secs: Option<i64>,
    /// Where callers leave to; with `overflow_ref`. Both null: a message, then hang up.
    #[serde(default)]
    pub overflow_kind: Option<TargetKind>,
    /// Which target of `overflow_kind`.
    #[serde(default)]
    pub overflow_ref: Option<String>,
    /// Every this many seconds of waiting opens the next penalty tier. Null: tiers open only when
    /// the lower ones are busy.
    #[serde(default)]
    pub tier_wait_secs: Option<i64>,
    /// Missed offers in a row that pause an agent. Null: never.
    #[serde(default)]
    pub auto_pause_after: Option<i64>,
    /// Seconds between position announcements (default 60); null: no announcements.
    #[serde(default = "default_announce_every")]
    pub announce_every_secs: Option<i64>,
    /// Seconds before the first announcement (default 30).
    #[serde(default = "default_first_announce")]
    pub first_announce_after_secs: i64,
    /// Answered within this many seconds counts towards the service level (default 20).
    #[serde(default = "default_service_level")]
    pub service_level_secs: i64,
    /// Callers may join while no agent is logged in (default true).
    #[serde(default = "yes")]
    pub join_empty: bool,
    /// Waiting callers leave to the overflow target when the last agent logs out (default false).
    #[serde(default)]
    pub leave_empty: bool,
    /// Seconds of waiting after which a caller is offered a callback. Null: never.
    #[serde(default)]
    pub callback_after_secs: Option<i64>,
    /// Default `moh`.
    #[serde(default)]
    pub hold_music: HoldMusic,
    /// Prompt played on joining (default `queue_greeting`); null: none.
    #[serde(default = "default_greeting")]
    pub greeting_prompt: Option<String>,
    /// Members in order. When creating, left out means none; when updating, left out means "keep".
    #[serde(default)]
    pub members: Option<Vec<QueueMemberSpec>>,
    /// Opening hours (a schedule's id); null: always open.
    #[serde(default)]
    pub schedule_id: Option<i64>,
    /// Where callers go outside the hours, with `closed_ref`; both null: the `closed` prompt, then
    /// hang up.
    #[serde(default)]
    pub closed_kind: Option<TargetKind>,
    /// Which target of `closed_kind`.
    #[serde(default)]
    pub closed_ref: Option<String>,
}

fn default_ring_timeout() -> i64 {
    20
}
fn default_wrap_up() -> i64 {
    10
}
fn default_announce_every() -> Option<i64> {
    Some(60)
}
fn default_first_announce() -> i64 {
    30
}
fn default_service_level() -> i64 {
    20
}
fn default_greeting() -> Option<String> {
    Some("queue_greeting".to_owned())
}

/// A stored queue with its members in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Queue {
    /// Database id; numbers, menus and overflow rules refer to it as `queue:ID` / `target_ref`.
    pub id: i64,
    pub name: String,
    pub strategy: QueueStrategy,
    pub ring_timeout_secs: i64,
    pub wrap_up_secs: i64,
    pub max_callers: Option<i64>,
    pub max_wait_secs: Option<i64>,
    pub overflow_kind: Option<TargetKind>,
    pub overflow_ref: Option<String>,
    pub tier_wait_secs: Option<i64>,
    pub auto_pause_after: Option<i64>,
    pub announce_every_secs: Option<i64>,
    pub first_announce_after_secs: i64,
    pub service_level_secs: i64,
    pub join_empty: bool,
    pub leave_empty: bool,
    pub callback_after_secs: Option<i64>,
    pub hold_music: HoldMusic,
    pub greeting_prompt: Option<String>,
    pub schedule_id: Option<i64>,
    pub closed_kind: Option<TargetKind>,
    pub closed_ref: Option<String>,
    /// When it was created, unix seconds.
    pub created_at: i64,
    /// Members in order.
    pub members: Vec<QueueMember>,
}

fn check_opt(field: &str, value: Option<i64>, lo: i64, hi: i64) -> Result<(), SchemaError> {
    value.map_or(Ok(()), |v| check_range(field, v, lo, hi))
}

impl QueueSpec {
    fn validate(&self) -> Result<(), SchemaError> {
        check_name("name", &self.name, MAX_NAME_CHARS)?;
        check_range("ring_timeout_secs", self.ring_timeout_secs, 1, 600)?;
        check_range("wrap_up_secs", self.wrap_up_secs, 0, 3600)?;
        check_opt("max_callers", self.max_callers, 1, 10_000)?;
        check_opt("max_wait_secs", self.max_wait_secs, 1, MAX_QUEUE_SECS)?;
        check_opt("tier_wait_secs", self.tier_wait_secs, 1, MAX_QUEUE_SECS)?;
        check_opt("auto_pause_after", self.auto_pause_after, 1, 100)?;
        check_opt("announce_every_secs", self.announce_every_secs, 1, 3600)?;
        check_range(
            "first_announce_after_secs",
            self.first_announce_after_secs,
            0,
            3600,
        )?;
        check_range("service_level_secs", self.service_level_secs, 1, 3600)?;
        check_opt(
            "callback_after_secs",
            self.callback_after_secs,
            1,
            MAX_QUEUE_SECS,
        )?;
        if let Some(prompt) = &self.greeting_prompt {
            check_prompt_name("greeting_prompt", prompt)?;
        }
        check_pair(
            ("overflow_kind", self.overflow_kind),
            ("overflow_ref", self.overflow_ref.as_deref()),
        )?;
        if let Some(members) = &self.members {
            validate_members(members)?;
        }
        self.hours().validate()
    }

    fn hours(&self) -> NumberHours {
        NumberHours {
            schedule_id: self.schedule_id,
            closed_kind: self.closed_kind,
            closed_ref: self.closed_ref.clone(),
        }
    }
}

/// A target's kind and reference go together: both or neither.
pub(crate) fn check_pair(
    (kind_field, kind): (&str, Option<TargetKind>),
    (ref_field, reference): (&str, Option<&str>),
) -> Result<(), SchemaError> {
    match (kind, reference) {
        (Some(_), Some(_)) | (None, None) => Ok(()),
        (Some(_), None) => Err(SchemaError::invalid(
            ref_field,
            format!("is required with {kind_field}"),
        )),
        (None, Some(_)) => Err(SchemaError::invalid(
            kind_field,
            format!("is required with {ref_field}"),
        )),
    }
}

fn validate_members(members: &[QueueMemberSpec]) -> Result<(), SchemaError> {
    if members.len() > MAX_QUEUE_MEMBERS {
        return Err(SchemaError::invalid(
            "members",
            format!("at most {MAX_QUEUE_MEMBERS} members"),
        ));
    }
    let mut seen = HashSet::new();
    for (i, member) in members.iter().enumerate() {
        if !seen.insert(member.user.as_str()) {
            return Err(SchemaError::invalid(
                format!("members[{i}].user"),
                format!("user {:?} is listed twice", member.user),
            ));
        }
        check_range(
            &format!("members[{i}].penalty"),
            member.penalty,
            0,
            MAX_PENALTY,
        )?;
    }
    Ok(())
}

/// Checks that `(kind, reference)` names something that exists, for targets added with the citizen's
/// path. `own_queue` refuses a queue overflowing into itself.
pub(crate) async fn check_target_exists(
    tx: &mut Transaction<'static, Any>,
    ref_field: &str,
    kind: TargetKind,
    reference: &str,
    own_queue: Option<i64>,
) -> Result<(), SchemaError> {
    let (table, what) = match kind {
        TargetKind::User => {
            let found = sqlx::query_scalar::<_, i64>("SELECT id FROM users WHERE username = $1")
                .bind(reference)
                .fetch_optional(&mut **tx)
                .await?;
            return match found {
                Some(_) => Ok(()),
                None => Err(SchemaError::invalid(
                    ref_field,
                    format!("there is no user {reference:?}"),
                )),
            };
        }
        TargetKind::Message => return check_prompt_name(ref_field, reference),
        TargetKind::HuntGroup => ("hunt_groups", "hunt group"),
        TargetKind::Queue => ("queues", "queue"),
        TargetKind::Menu => ("menus", "menu"),
    };
    let id = parse_id(ref_field, reference, what)?;
    if kind == TargetKind::Queue && own_queue == Some(id) {
        return Err(SchemaError::invalid(
            ref_field,
            "a queue cannot overflow into itself",
        ));
    }
    // `table` is one of three literals above, never input.
    let found = sqlx::query_scalar::<_, i64>(&format!("SELECT id FROM {table} WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    if found.is_none() {
        return Err(SchemaError::invalid(
            ref_field,
            format!("there is no {what} {id}"),
        ));
    }
    Ok(())
}

/// What of the citizen's path still points at `(kind, target_ref)`: public numbers' closed targets,
/// queues' overflow, menu options and failure targets. Called by `config::referrers`.
pub(crate) async fn citizen_referrers(
    tx: &mut Transaction<'static, Any>,
    kind: TargetKind,
    target_ref: &str,
) -> Result<Vec<String>, SchemaError> {
    let closed = sqlx::query_scalar::<_, String>(
        "SELECT number FROM public_numbers WHERE closed_kind = $1 AND closed_ref = $2 \
         ORDER BY number",
    )
    .bind(kind.as_str())
    .bind(target_ref)
    .fetch_all(&mut **tx)
    .await?;
    let queues = sqlx::query_as::<_, (i64, String, Option<String>, Option<String>)>(
        "SELECT id, name, overflow_kind, overflow_ref FROM queues \
         WHERE (overflow_kind = $1 AND overflow_ref = $2) OR (closed_kind = $1 AND closed_ref = $2) \
         ORDER BY id",
    )
    .bind(kind.as_str())
    .bind(target_ref)
    .fetch_all(&mut **tx)
    .await?;
    let mut out: Vec<String> = closed
        .into_iter()
        .map(|n| format!("the closed target of public number {n}"))
        .collect();
    out.extend(queues.into_iter().map(|(id, name, ok, or)| {
        let overflow = ok.as_deref() == Some(kind.as_str()) && or.as_deref() == Some(target_ref);
        let what = if overflow {
            "overflow"
        } else {
            "closed target"
        };
        format!("the {what} of queue {id} ({name:?})")
    }));
    out.extend(crate::menus::menu_referrers(tx, kind, target_ref).await?);
    Ok(out)
}

const QUEUE_COLUMNS: &str = "id, name, strategy, ring_timeout_secs, wrap_up_secs, max_callers, \
     max_wait_secs, overflow_kind, overflow_ref, tier_wait_secs, auto_pause_after, \
     announce_every_secs, first_announce_after_secs, service_level_secs, join_empty, leave_empty, \
     callback_after_secs, hold_music, greeting_prompt, schedule_id, closed_kind, closed_ref, \
     created_at";

fn queue_from_row(row: &AnyRow) -> Result<Queue, sqlx::Error> {
    let overflow_kind: Option<String> = row.try_get("overflow_kind")?;
    Ok(Queue {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        strategy: QueueStrategy::from_db(row.try_get::<String, _>("strategy")?.as_str())?,
        ring_timeout_secs: row.try_get("ring_timeout_secs")?,
        wrap_up_secs: row.try_get("wrap_up_secs")?,
        max_callers: row.try_get("max_callers")?,
        max_wait_secs: row.try_get("max_wait_secs")?,
        overflow_kind: overflow_kind
            .as_deref()
            .map(TargetKind::from_db)
            .transpose()?,
        overflow_ref: row.try_get("overflow_ref")?,
        tier_wait_secs: row.try_get("tier_wait_secs")?,
        auto_pause_after: row.try_get("auto_pause_after")?,
        announce_every_secs: row.try_get("announce_every_secs")?,
        first_announce_after_secs: row.try_get("first_announce_after_secs")?,
        service_level_secs: row.try_get("service_level_secs")?,
        join_empty: flag(row, "join_empty")?,
        leave_empty: flag(row, "leave_empty")?,
        callback_after_secs: row.try_get("callback_after_secs")?,
        hold_music: HoldMusic::from_db(row.try_get::<String, _>("hold_music")?.as_str())?,
        greeting_prompt: row.try_get("greeting_prompt")?,
        schedule_id: row.try_get("schedule_id")?,
        closed_kind: row
            .try_get::<Option<String>, _>("closed_kind")?
            .as_deref()
            .map(TargetKind::from_db)
            .transpose()?,
        closed_ref: row.try_get("closed_ref")?,
        created_at: row.try_get("created_at")?,
        members: Vec::new(),
    })
}

fn member_from_row(row: &AnyRow) -> Result<QueueMember, sqlx::Error> {
    Ok(QueueMember {
        user: row.try_get("username")?,
        penalty: row.try_get("penalty")?,
        position: row.try_get("position")?,
    })
}

async fn load_members<'e, E>(executor: E, queue_id: i64) -> Result<Vec<QueueMember>, SchemaError>
where
    E: sqlx::Executor<'e, Database = Any>,
{
    let rows = sqlx::query(
        "SELECT u.username, m.penalty, m.position FROM queue_members m \
         JOIN users u ON u.id = m.user_id WHERE m.queue_id = $1 ORDER BY m.position",
    )
    .bind(queue_id)
    .fetch_all(executor)
    .await?;
    Ok(rows.iter().map(member_from_row).collect::<Result<_, _>>()?)
}

async fn replace_members(
    tx: &mut Transaction<'static, Any>,
    queue_id: i64,
    members: &[QueueMemberSpec],
) -> Result<(), SchemaError> {
    sqlx::query("DELETE FROM queue_members WHERE queue_id = $1")
        .bind(queue_id)
        .execute(&mut **tx)
        .await?;
    for (i, member) in members.iter().enumerate() {
        // Zero rows inserted means "no such user", in one round trip.
        let inserted = sqlx::query(
            "INSERT INTO queue_members (queue_id, user_id, penalty, position) \
             SELECT $1, id, $3, $4 FROM users WHERE username = $2",
        )
        .bind(queue_id)
        .bind(member.user.as_str())
        .bind(member.penalty)
        .bind(i64::try_from(i).unwrap_or(i64::MAX))
        .execute(&mut **tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            return Err(SchemaError::invalid(
                format!("members[{i}].user"),
                format!("there is no user {:?}", member.user),
            ));
        }
    }
    Ok(())
}

fn name_conflict(err: sqlx::Error, name: &str) -> SchemaError {
    if SchemaError::is_unique_violation(&err) {
        SchemaError::Conflict(format!("a queue named {name:?} already exists"))
    } else {
        err.into()
    }
}

impl Db {
    /// All queues with their members, ordered by name.
    pub async fn list_queues(&self) -> Result<Vec<Queue>, SchemaError> {
        let rows = sqlx::query(&format!("SELECT {QUEUE_COLUMNS} FROM queues ORDER BY name"))
            .fetch_all(&self.pool)
            .await?;
        let mut queues: Vec<Queue> = rows.iter().map(queue_from_row).collect::<Result<_, _>>()?;
        let rows = sqlx::query(
            "SELECT m.queue_id, u.username, m.penalty, m.position \
             FROM queue_members m JOIN users u ON u.id = m.user_id \
             ORDER BY m.queue_id, m.position",
        )
        .fetch_all(&self.pool)
        .await?;
        let index: HashMap<i64, usize> =
            queues.iter().enumerate().map(|(i, q)| (q.id, i)).collect();
        for row in &rows {
            let queue_id: i64 = row.try_get("queue_id")?;
            if let Some(queue) = index.get(&queue_id).and_then(|&i| queues.get_mut(i)) {
                queue.members.push(member_from_row(row)?);
            }
        }
        Ok(queues)
    }

    /// The queue with its members, if it exists.
    pub async fn get_queue(&self, id: i64) -> Result<Option<Queue>, SchemaError> {
        let row = sqlx::query(&format!("SELECT {QUEUE_COLUMNS} FROM queues WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut queue = queue_from_row(&row)?;
        queue.members = load_members(&self.pool, id).await?;
        Ok(Some(queue))
    }

    /// Creates a queue with its members (none if `spec.members` is `None`).
    ///
    /// Fails with [`SchemaError::Invalid`] for a bad field, a member that is not a user or an overflow
    /// target that does not exist, and [`SchemaError::Conflict`] if the name is taken.
    pub async fn create_queue(&self, spec: &QueueSpec) -> Result<Queue, SchemaError> {
        spec.validate()?;
        let mut tx = self.begin_config_write().await?;
        if let (Some(kind), Some(reference)) = (spec.overflow_kind, &spec.overflow_ref) {
            check_target_exists(&mut tx, "overflow_ref", kind, reference, None).await?;
        }
        spec.hours().check_refs(&mut tx).await?;
        let id = bind_settings(
            sqlx::query_scalar::<_, i64>(
                "INSERT INTO queues (name, strategy, ring_timeout_secs, wrap_up_secs, max_callers, \
                 max_wait_secs, overflow_kind, overflow_ref, tier_wait_secs, auto_pause_after, \
                 announce_every_secs, first_announce_after_secs, service_level_secs, join_empty, \
                 leave_empty, callback_after_secs, hold_music, greeting_prompt, schedule_id, \
                 closed_kind, closed_ref, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                 $17, $18, $19, $20, $21, $22) RETURNING id",
            ),
            spec,
        )
        .bind(unix_now())
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| name_conflict(err, &spec.name))?;
        if let Some(members) = &spec.members {
            replace_members(&mut tx, id, members).await?;
        }
        let queue = queue_in(&mut tx, id).await?;
        tx.commit().await?;
        tracing::info!(id, name = %spec.name, "queue created");
        Ok(queue)
    }

    /// Replaces a queue's settings, and its members if `spec.members` is `Some`.
    ///
    /// Fails with [`SchemaError::NotFound`] for an unknown id and otherwise as [`Db::create_queue`];
    /// overflowing into itself is [`SchemaError::Invalid`].
    pub async fn update_queue(&self, id: i64, spec: &QueueSpec) -> Result<Queue, SchemaError> {
        spec.validate()?;
        let mut tx = self.begin_config_write().await?;
        let updated = bind_settings(
            sqlx::query_scalar::<_, i64>(
                "UPDATE queues SET name = $1, strategy = $2, ring_timeout_secs = $3, \
                 wrap_up_secs = $4, max_callers = $5, max_wait_secs = $6, overflow_kind = $7, \
                 overflow_ref = $8, tier_wait_secs = $9, auto_pause_after = $10, \
                 announce_every_secs = $11, first_announce_after_secs = $12, \
                 service_level_secs = $13, join_empty = $14, leave_empty = $15, \
                 callback_after_secs = $16, hold_music = $17, greeting_prompt = $18, \
                 schedule_id = $19, closed_kind = $20, closed_ref = $21 \
                 WHERE id = $22 RETURNING id",
            ),
            spec,
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|err| name_conflict(err, &spec.name))?;
        if updated.is_none() {
            return Err(SchemaError::NotFound(format!("queue {id}")));
        }
        if let (Some(kind), Some(reference)) = (spec.overflow_kind, &spec.overflow_ref) {
            check_target_exists(&mut tx, "overflow_ref", kind, reference, Some(id)).await?;
        }
        spec.hours().check_refs(&mut tx).await?;
        if let Some(members) = &spec.members {
            replace_members(&mut tx, id, members).await?;
        }
        let queue = queue_in(&mut tx, id).await?;
        tx.commit().await?;
        tracing::info!(id, name = %spec.name, "queue changed");
        Ok(queue)
    }

    /// Replaces the queue's members with `members`, in this order.
    ///
    /// Fails with [`SchemaError::NotFound`] for an unknown queue and [`SchemaError::Invalid`] (field
    /// `members[i].user` or `members[i].penalty`) for a member that is not a user, is listed twice or
    /// has a penalty outside 0 to 1000.
    pub async fn set_queue_members(
        &self,
        id: i64,
        members: &[QueueMemberSpec],
    ) -> Result<Queue, SchemaError> {
        validate_members(members)?;
        let mut tx = self.begin_config_write().await?;
        let exists = sqlx::query_scalar::<_, i64>("SELECT id FROM queues WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(SchemaError::NotFound(format!("queue {id}")));
        }
        replace_members(&mut tx, id, members).await?;
        let queue = queue_in(&mut tx, id).await?;
        tx.commit().await?;
        tracing::info!(id, members = members.len(), "queue members replaced");
        Ok(queue)
    }

    /// Deletes a queue and its memberships. Returns whether it existed.
    ///
    /// Fails with [`SchemaError::InUse`] (and deletes nothing) while a number, a closed target, a
    /// no-answer rule, another queue's overflow or a menu still routes to it.
    pub async fn delete_queue(&self, id: i64) -> Result<bool, SchemaError> {
        self.delete_target("queues", TargetKind::Queue, id, "queue")
            .await
    }
}

/// Everything call control needs for the citizen's path, read at start and after a change notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitizenPath {
    /// Every queue with its members, by name.
    pub queues: Vec<Queue>,
    /// Every menu, parsed, by name.
    pub menus: Vec<crate::Menu>,
    /// Every schedule with its override, by name.
    pub schedules: Vec<crate::ScheduleEntry>,
    /// The names of the uploaded prompts (fetch each with [`Db::get_prompt`]).
    pub uploaded_prompts: Vec<String>,
}

impl Db {
    /// Reads the whole citizen's path configuration: queues, menus, schedules and the names of the
    /// uploaded prompts. Public numbers (with their schedule and closed target) come from
    /// [`Db::list_public_numbers`].
    pub async fn load_citizen_path(&self) -> Result<CitizenPath, SchemaError> {
        Ok(CitizenPath {
            queues: self.list_queues().await?,
            menus: self.list_menus().await?,
            schedules: self.list_schedules().await?,
            uploaded_prompts: self.prompt_names().await?,
        })
    }
}

/// Binds the 21 settings columns, in the order both statements list them.
fn bind_settings<'q>(
    query: sqlx::query::QueryScalar<'q, Any, i64, sqlx::any::AnyArguments<'q>>,
    spec: &'q QueueSpec,
) -> sqlx::query::QueryScalar<'q, Any, i64, sqlx::any::AnyArguments<'q>> {
    query
        .bind(spec.name.as_str())
        .bind(spec.strategy.as_str())
        .bind(spec.ring_timeout_secs)
        .bind(spec.wrap_up_secs)
        .bind(spec.max_callers)
        .bind(spec.max_wait_secs)
        .bind(spec.overflow_kind.map(TargetKind::as_str))
        .bind(spec.overflow_ref.as_deref())
        .bind(spec.tier_wait_secs)
        .bind(spec.auto_pause_after)
        .bind(spec.announce_every_secs)
        .bind(spec.first_announce_after_secs)
        .bind(spec.service_level_secs)
        .bind(i64::from(spec.join_empty))
        .bind(i64::from(spec.leave_empty))
        .bind(spec.callback_after_secs)
        .bind(spec.hold_music.as_str())
        .bind(spec.greeting_prompt.as_deref())
        .bind(spec.schedule_id)
        .bind(spec.closed_kind.map(TargetKind::as_str))
        .bind(spec.closed_ref.as_deref())
}

/// The queue as stored, read inside `tx` (so it includes the transaction's writes).
async fn queue_in(tx: &mut Transaction<'static, Any>, id: i64) -> Result<Queue, SchemaError> {
    let row = sqlx::query(&format!("SELECT {QUEUE_COLUMNS} FROM queues WHERE id = $1"))
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    let mut queue = queue_from_row(&row)?;
    queue.members = load_members(&mut **tx, id).await?;
    Ok(queue)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> QueueSpec {
        serde_json::from_str(r#"{"name": "Helse"}"#).expect("minimal")
    }

    fn field_of(err: SchemaError) -> String {
        match err {
            SchemaError::Invalid { field, .. } => field,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn json_defaults() {
        let s = spec();
        assert_eq!(s.strategy, QueueStrategy::LongestIdle);
        assert_eq!((s.ring_timeout_secs, s.wrap_up_secs), (20, 10));
        assert_eq!(s.announce_every_secs, Some(60));
        assert_eq!(s.first_announce_after_secs, 30);
        assert_eq!(s.service_level_secs, 20);
        assert!(s.join_empty && !s.leave_empty);
        assert_eq!(s.hold_music, HoldMusic::Moh);
        assert_eq!(s.greeting_prompt.as_deref(), Some("queue_greeting"));
        assert_eq!((s.max_callers, s.callback_after_secs), (None, None));
        assert!(s.validate().is_ok());
        // An explicit null switches the defaulted options off.
        let s: QueueSpec = serde_json::from_str(
            r#"{"name": "Helse", "announce_every_secs": null, "greeting_prompt": null}"#,
        )
        .expect("nulls");
        assert_eq!((s.announce_every_secs, s.greeting_prompt), (None, None));
    }

    #[test]
    fn enum_spelling_matches_serde() {
        for v in QueueStrategy::ALL {
            assert_eq!(serde_json::to_value(v).expect("ser"), v.as_str());
        }
        for v in HoldMusic::ALL {
            assert_eq!(serde_json::to_value(v).expect("ser"), v.as_str());
        }
    }

    #[test]
    fn validation_names_the_field() {
        type Change = fn(&mut QueueSpec);
        let cases: [(Change, &str); 7] = [
            (|s| s.ring_timeout_secs = 0, "ring_timeout_secs"),
            (|s| s.max_callers = Some(0), "max_callers"),
            (|s| s.announce_every_secs = Some(0), "announce_every_secs"),
            (
                |s| s.greeting_prompt = Some("../x".into()),
                "greeting_prompt",
            ),
            (
                |s| s.overflow_kind = Some(TargetKind::Message),
                "overflow_ref",
            ),
            (|s| s.overflow_ref = Some("closed".into()), "overflow_kind"),
            (
                |s| {
                    s.members = Some(vec![QueueMemberSpec {
                        user: "1001".into(),
                        penalty: -1,
                    }])
                },
                "members[0].penalty",
            ),
        ];
        for (change, field) in cases {
            let mut s = spec();
            change(&mut s);
            assert_eq!(field_of(s.validate().expect_err(field)), field);
        }
        let mut s = spec();
        let member = QueueMemberSpec {
            user: "1001".into(),
            penalty: 0,
        };
        s.members = Some(vec![member.clone(), member]);
        assert_eq!(
            field_of(s.validate().expect_err("twice")),
            "members[1].user"
        );
    }
}
